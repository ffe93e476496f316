//! Diagnostics: numbered error codes, the crate error type, the thread-local
//! "last error" slot read by `pto_last_error_message`, and the log sink.

pub mod codes;
pub mod error;
pub mod last_error;
pub mod log;

pub use codes::ErrorCode;
pub use error::{CodedError, Error, Result};
