//! Thread-local record of the last failure on the calling thread.

use std::cell::RefCell;
use std::ffi::CString;

use super::codes::ErrorCode;
use super::error::Error;

struct LastError {
    code: i32,
    message: CString,
}

thread_local! {
    static LAST: RefCell<LastError> = RefCell::new(LastError { code: 0, message: CString::default() });
}

/// Records `err` as the calling thread's last error.
pub fn set(err: &Error) {
    set_raw(err.api_code(), &err.to_string());
}

/// Records a code and message directly.
pub fn set_raw(code: i32, message: &str) {
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST.with(|l| *l.borrow_mut() = LastError { code, message });
}

/// Clears the calling thread's last error.
pub fn clear() {
    set_raw(ErrorCode::PtoOk as i32, "");
}

/// The last error code on this thread (0 if the last call succeeded).
pub fn code() -> i32 {
    LAST.with(|l| l.borrow().code)
}

/// The last error message on this thread ("" if none).
pub fn message() -> String {
    LAST.with(|l| l.borrow().message.to_string_lossy().into_owned())
}

/// Pointer to the thread-local message; valid until the next call into the
/// library on this thread.
pub fn message_ptr() -> *const std::os::raw::c_char {
    LAST.with(|l| l.borrow().message.as_ptr())
}
