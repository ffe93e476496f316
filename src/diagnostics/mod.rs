//! Diagnostics: numbered error codes, the crate error type, the thread-local
//! "last error" slot read by `pto_last_error_message`, and the log sink.

pub mod codes;
pub mod error;
pub mod last_error;
pub mod log;

pub use codes::ErrorCode;
pub use error::{CodedError, Error, Result};

/// The text of a caught panic's payload (`&str` or `String`, the payloads
/// `panic!` makes), for the error that reports it.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}
