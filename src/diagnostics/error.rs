//! The crate-wide error type. Every variant maps to one numbered
//! [`ErrorCode`]; the message names what was wrong and the rule it broke.

use super::codes::ErrorCode;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of a lower-level component that carries its own numbered code
/// (the configuration layer's `ConfigError`); it converts into
/// [`Error::Config`] where it is defined, so this bottom layer names no
/// layer above it.
pub trait CodedError: std::error::Error + Send + Sync + 'static {
    /// The numbered code of this error.
    fn code(&self) -> ErrorCode;
}

/// Everything that can go wrong in simpler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration knob was invalid (explicit values are never dropped).
    /// Holds a `config::ConfigError` (which converts into this variant).
    #[error("{0}")]
    Config(Box<dyn CodedError>),
    /// A required pointer argument was NULL.
    #[error("{what} must not be NULL")]
    NullPointer {
        /// The argument's name.
        what: &'static str,
    },
    /// An argument was out of range or malformed.
    #[error("{0}")]
    InvalidArgument(String),
    /// A ChipCallable image failed validation.
    #[error("invalid ChipCallable: {0}")]
    InvalidCallable(String),
    /// A callable id was out of range, taken, or unknown.
    #[error("{0}")]
    CallableId(String),
    /// Device memory misuse (unknown pointer, double free, out of bounds).
    #[error("device memory: {0}")]
    DeviceMemory(String),
    /// The object is not in a state that allows the call.
    #[error("{0}")]
    State(String),
    /// A shared object failed to load or lacks a symbol.
    #[error("load: {0}")]
    Load(String),
    /// Not supported on the simulated device.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A caller buffer is too small.
    #[error("{0}")]
    BufferTooSmall(String),
    /// User code (orchestration function, kernel) failed.
    #[error("{0}")]
    UserCode(String),
    /// The run failed on the device with a PTO2 status (positive code).
    #[error("runtime failed with status {code} ({name}): {message}")]
    Runtime {
        /// PTO2 status code (1..=11 orchestrator, 100..=103 scheduler).
        code: i32,
        /// Symbolic name of the code.
        name: &'static str,
        /// What happened, naming the ring, usage and the knob to raise.
        message: String,
    },
    /// A run's entry arguments break a rule (argument, field and rule named).
    #[error("invalid task arguments: {0}")]
    InvalidTaskArgs(String),
    /// A shared object image is not a loadable ELF (binary and defect named).
    #[error("invalid binary: {0}")]
    InvalidBinary(String),
    /// An I/O failure.
    #[error("io: {0}")]
    Io(String),
    /// A panic was caught at the C boundary.
    #[error("internal panic (bug in simpler): {0}")]
    Panic(String),
}

impl Error {
    /// The numbered code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Config(e) => e.code(),
            Error::NullPointer { .. } => ErrorCode::PtoErrNullPointer,
            Error::InvalidArgument(_) => ErrorCode::PtoErrInvalidArgument,
            Error::InvalidCallable(_) => ErrorCode::PtoErrInvalidCallable,
            Error::CallableId(_) => ErrorCode::PtoErrCallableId,
            Error::DeviceMemory(_) => ErrorCode::PtoErrDeviceMemory,
            Error::State(_) => ErrorCode::PtoErrState,
            Error::Load(_) => ErrorCode::PtoErrLoad,
            Error::Unsupported(_) => ErrorCode::PtoErrUnsupported,
            Error::BufferTooSmall(_) => ErrorCode::PtoErrBufferTooSmall,
            Error::UserCode(_) => ErrorCode::PtoErrUserCode,
            Error::Runtime { .. } => ErrorCode::PtoErrRuntime,
            Error::Io(_) => ErrorCode::PtoErrIo,
            Error::InvalidTaskArgs(_) => ErrorCode::PtoErrInvalidTaskArgs,
            Error::InvalidBinary(_) => ErrorCode::PtoErrInvalidBinary,
            Error::Panic(_) => ErrorCode::PtoErrPanic,
        }
    }

    /// The value a legacy upstream entry point returns for this error:
    /// the negated PTO2 status for device failures, `-1` otherwise.
    pub fn legacy_code(&self) -> i32 {
        match self {
            Error::Runtime { code, .. } => -code.abs(),
            _ => -1,
        }
    }

    /// The value a config-taking entry point returns: the negated PTO2
    /// status for device failures, the numbered code otherwise.
    pub fn api_code(&self) -> i32 {
        match self {
            Error::Runtime { code, .. } => -code.abs(),
            other => other.code() as i32,
        }
    }
}
