// The error codes of the C API, each declared once: doc (its description),
// Rust variant, value, C name. Included by `codes.rs` (the `ErrorCode` enum,
// `ErrorCode::all`, `name`, `description`) and by `build.rs` (the plain enum
// cbindgen reads for `pto_error_code_t` in include/simpler.h). The C name is
// the variant in SCREAMING_SNAKE_CASE (cbindgen's rename); build.rs checks it.
error_codes! {
    /// Error codes of the simpler C API. `PTO_OK` (0) is success; every other
    /// value is negative.
    enum ErrorCode {
        /// Success.
        PtoOk = 0 => "PTO_OK",
        /// Upstream's catch-all failure value, kept by the legacy entry points.
        PtoErrGeneric = -1 => "PTO_ERR_GENERIC",
        /// A required pointer argument was NULL.
        PtoErrNullPointer = -1001 => "PTO_ERR_NULL_POINTER",
        /// A configuration value breaks its knob's rule.
        PtoErrInvalidValue = -1002 => "PTO_ERR_INVALID_VALUE",
        /// A knob name is not part of the schema.
        PtoErrUnknownKnob = -1003 => "PTO_ERR_UNKNOWN_KNOB",
        /// A configuration string could not be parsed.
        PtoErrParse = -1004 => "PTO_ERR_PARSE",
        /// A struct's `struct_size` is smaller than the fields the call needs.
        PtoErrStructSize = -1005 => "PTO_ERR_STRUCT_SIZE",
        /// A panic was caught at the C boundary (a bug in simpler).
        PtoErrPanic = -1006 => "PTO_ERR_PANIC",
        /// An argument is out of range or malformed.
        PtoErrInvalidArgument = -1007 => "PTO_ERR_INVALID_ARGUMENT",
        /// A ChipCallable image is malformed.
        PtoErrInvalidCallable = -1008 => "PTO_ERR_INVALID_CALLABLE",
        /// A callable id is out of range, already registered or unknown.
        PtoErrCallableId = -1009 => "PTO_ERR_CALLABLE_ID",
        /// A device memory operation touched memory outside a live allocation.
        PtoErrDeviceMemory = -1010 => "PTO_ERR_DEVICE_MEMORY",
        /// The call is not valid in the object's current state (e.g. before init).
        PtoErrState = -1011 => "PTO_ERR_STATE",
        /// A shared object could not be loaded or lacks a required symbol.
        PtoErrLoad = -1012 => "PTO_ERR_LOAD",
        /// The operation is not supported by the simulated device.
        PtoErrUnsupported = -1013 => "PTO_ERR_UNSUPPORTED",
        /// A caller buffer is too small for the result.
        PtoErrBufferTooSmall = -1014 => "PTO_ERR_BUFFER_TOO_SMALL",
        /// User code (orchestration or kernel) failed: returned non-zero or threw.
        PtoErrUserCode = -1015 => "PTO_ERR_USER_CODE",
        /// The run failed on the device; the runtime status is in the message.
        PtoErrRuntime = -1016 => "PTO_ERR_RUNTIME",
        /// An I/O operation (e.g. writing diagnostics) failed.
        PtoErrIo = -1017 => "PTO_ERR_IO",
        /// A run's entry arguments (tensor descriptors, counts) break a rule.
        PtoErrInvalidTaskArgs = -1018 => "PTO_ERR_INVALID_TASK_ARGS",
        /// A kernel or orchestration shared object is not a loadable ELF image.
        PtoErrInvalidBinary = -1019 => "PTO_ERR_INVALID_BINARY",
    }
}
