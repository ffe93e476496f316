//! Stable, numbered error codes returned by the C API.
//!
//! Ranges are chosen so they never collide with the negated PTO2 runtime
//! statuses that `run_prepared` passes through (-1..-11, -100..-103):
//! the library's own codes live in -1001..-1099. Legacy upstream entry points
//! keep upstream's `-1` for host-side failures; the detailed code of the last
//! failure is always available from `pto_last_error_code()`.

/// Error codes of the simpler C API. `PTO_OK` (0) is success; every other
/// value is negative.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Success.
    PtoOk = 0,
    /// Upstream's catch-all failure value, kept by the legacy entry points.
    PtoErrGeneric = -1,
    /// A required pointer argument was NULL.
    PtoErrNullPointer = -1001,
    /// A configuration value breaks its knob's rule.
    PtoErrInvalidValue = -1002,
    /// A knob name is not part of the schema.
    PtoErrUnknownKnob = -1003,
    /// A configuration string could not be parsed.
    PtoErrParse = -1004,
    /// A struct's `struct_size` is smaller than the fields the call needs.
    PtoErrStructSize = -1005,
    /// A panic was caught at the C boundary (a bug in simpler).
    PtoErrPanic = -1006,
    /// An argument is out of range or malformed.
    PtoErrInvalidArgument = -1007,
    /// A ChipCallable image is malformed.
    PtoErrInvalidCallable = -1008,
    /// A callable id is out of range, already registered or unknown.
    PtoErrCallableId = -1009,
    /// A device memory operation touched memory outside a live allocation.
    PtoErrDeviceMemory = -1010,
    /// The call is not valid in the object's current state (e.g. before init).
    PtoErrState = -1011,
    /// A shared object could not be loaded or lacks a required symbol.
    PtoErrLoad = -1012,
    /// The operation is not supported by the simulated device.
    PtoErrUnsupported = -1013,
    /// A caller buffer is too small for the result.
    PtoErrBufferTooSmall = -1014,
    /// User code (orchestration or kernel) failed: returned non-zero or threw.
    PtoErrUserCode = -1015,
    /// The run failed on the device; the runtime status is in the message.
    PtoErrRuntime = -1016,
    /// An I/O operation (e.g. writing diagnostics) failed.
    PtoErrIo = -1017,
    /// A run's entry arguments (tensor descriptors, counts) break a rule.
    PtoErrInvalidTaskArgs = -1018,
    /// A kernel or orchestration shared object is not a loadable ELF image.
    PtoErrInvalidBinary = -1019,
}

/// All codes, for `pto_error_name` and the documentation tests.
pub(crate) const ALL_CODES: [ErrorCode; 21] = [
    ErrorCode::PtoOk,
    ErrorCode::PtoErrGeneric,
    ErrorCode::PtoErrNullPointer,
    ErrorCode::PtoErrInvalidValue,
    ErrorCode::PtoErrUnknownKnob,
    ErrorCode::PtoErrParse,
    ErrorCode::PtoErrStructSize,
    ErrorCode::PtoErrPanic,
    ErrorCode::PtoErrInvalidArgument,
    ErrorCode::PtoErrInvalidCallable,
    ErrorCode::PtoErrCallableId,
    ErrorCode::PtoErrDeviceMemory,
    ErrorCode::PtoErrState,
    ErrorCode::PtoErrLoad,
    ErrorCode::PtoErrUnsupported,
    ErrorCode::PtoErrBufferTooSmall,
    ErrorCode::PtoErrUserCode,
    ErrorCode::PtoErrRuntime,
    ErrorCode::PtoErrIo,
    ErrorCode::PtoErrInvalidTaskArgs,
    ErrorCode::PtoErrInvalidBinary,
];

impl ErrorCode {
    /// Every code, in numeric order of declaration.
    pub fn all() -> &'static [ErrorCode] {
        &ALL_CODES
    }

    /// The C name of the code, e.g. `"PTO_ERR_NULL_POINTER"`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::PtoOk => "PTO_OK",
            ErrorCode::PtoErrGeneric => "PTO_ERR_GENERIC",
            ErrorCode::PtoErrNullPointer => "PTO_ERR_NULL_POINTER",
            ErrorCode::PtoErrInvalidValue => "PTO_ERR_INVALID_VALUE",
            ErrorCode::PtoErrUnknownKnob => "PTO_ERR_UNKNOWN_KNOB",
            ErrorCode::PtoErrParse => "PTO_ERR_PARSE",
            ErrorCode::PtoErrStructSize => "PTO_ERR_STRUCT_SIZE",
            ErrorCode::PtoErrPanic => "PTO_ERR_PANIC",
            ErrorCode::PtoErrInvalidArgument => "PTO_ERR_INVALID_ARGUMENT",
            ErrorCode::PtoErrInvalidCallable => "PTO_ERR_INVALID_CALLABLE",
            ErrorCode::PtoErrCallableId => "PTO_ERR_CALLABLE_ID",
            ErrorCode::PtoErrDeviceMemory => "PTO_ERR_DEVICE_MEMORY",
            ErrorCode::PtoErrState => "PTO_ERR_STATE",
            ErrorCode::PtoErrLoad => "PTO_ERR_LOAD",
            ErrorCode::PtoErrUnsupported => "PTO_ERR_UNSUPPORTED",
            ErrorCode::PtoErrBufferTooSmall => "PTO_ERR_BUFFER_TOO_SMALL",
            ErrorCode::PtoErrUserCode => "PTO_ERR_USER_CODE",
            ErrorCode::PtoErrRuntime => "PTO_ERR_RUNTIME",
            ErrorCode::PtoErrIo => "PTO_ERR_IO",
            ErrorCode::PtoErrInvalidTaskArgs => "PTO_ERR_INVALID_TASK_ARGS",
            ErrorCode::PtoErrInvalidBinary => "PTO_ERR_INVALID_BINARY",
        }
    }

    /// Looks a numeric code up.
    pub fn from_i32(code: i32) -> Option<ErrorCode> {
        ALL_CODES.iter().copied().find(|c| *c as i32 == code)
    }
}
