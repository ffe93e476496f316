//! The thin C layer. Every `extern "C"` function of the library lives under
//! this module and does three things only: check pointers (`ffi_ref!`,
//! `ffi_mut!`, `ffi_str!`), run the safe core inside a panic boundary
//! ([`guard`] / [`guard_code`] / [`guard_legacy`]), and translate the result
//! into a C return value while recording the last error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::diagnostics::{last_error, Error, Result};

pub mod comm;
pub mod config;
pub mod host_api;
pub mod log;

/// Turns a possibly-NULL `*const T` into `&T` or returns
/// `Err(Error::NullPointer)` from the enclosing function.
///
/// The caller guarantees (as the C contract of the export states) that a
/// non-NULL pointer references a live, properly aligned `T`.
#[macro_export]
#[doc(hidden)]
macro_rules! ffi_ref {
    ($ptr:expr, $name:expr) => {{
        let p = $ptr;
        if p.is_null() {
            return Err($crate::diagnostics::Error::NullPointer { what: $name });
        }
        // SAFETY: non-NULL checked above; validity and alignment are the
        // C caller's contract for this argument.
        unsafe { &*p }
    }};
}

/// Like [`ffi_ref!`] for `*mut T` → `&mut T`.
#[macro_export]
#[doc(hidden)]
macro_rules! ffi_mut {
    ($ptr:expr, $name:expr) => {{
        let p = $ptr;
        if p.is_null() {
            return Err($crate::diagnostics::Error::NullPointer { what: $name });
        }
        // SAFETY: non-NULL checked above; validity, alignment and exclusive
        // access are the C caller's contract for this argument.
        unsafe { &mut *p }
    }};
}

/// Turns a possibly-NULL C string into `&str`, erroring on NULL or bad UTF-8.
#[macro_export]
#[doc(hidden)]
macro_rules! ffi_str {
    ($ptr:expr, $name:expr) => {{
        let p = $ptr;
        if p.is_null() {
            return Err($crate::diagnostics::Error::NullPointer { what: $name });
        }
        // SAFETY: non-NULL checked above; the C contract requires a
        // NUL-terminated string that outlives the call.
        let c = unsafe { std::ffi::CStr::from_ptr(p) };
        c.to_str().map_err(|_| $crate::diagnostics::Error::InvalidArgument(format!("{} must be valid UTF-8", $name)))?
    }};
}

/// `Err(Error::NullPointer)` naming `what` when `p` is NULL.
pub fn non_null<T>(p: *const T, what: &'static str) -> Result<()> {
    if p.is_null() {
        Err(Error::NullPointer { what })
    } else {
        Ok(())
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs `f` inside a panic boundary. On success clears the last error and
/// returns the value; on error or panic records the last error and returns
/// `on_error(&err)`.
pub fn guard_with<T>(f: impl FnOnce() -> Result<T>, on_error: impl FnOnce(&Error) -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => {
            last_error::clear();
            v
        }
        Ok(Err(e)) => {
            last_error::set(&e);
            on_error(&e)
        }
        Err(payload) => {
            let e = Error::Panic(panic_message(payload));
            last_error::set(&e);
            on_error(&e)
        }
    }
}

/// Runs `f`; returns its value or `fallback` on error/panic.
pub fn guard<T>(fallback: T, f: impl FnOnce() -> Result<T>) -> T {
    guard_with(f, move |_| fallback)
}

/// For new (simpler) entry points: 0 on success, else the numbered code
/// (or the negated runtime status for device failures).
pub fn guard_code(f: impl FnOnce() -> Result<()>) -> i32 {
    guard_with(move || f().map(|_| 0), |e| e.api_code())
}

/// For legacy upstream entry points: 0 on success, `-1` on host-side
/// failures, the negated PTO2 status for device failures (upstream's
/// contract). The detailed code stays available via `pto_last_error_code`.
pub fn guard_legacy(f: impl FnOnce() -> Result<()>) -> i32 {
    guard_with(move || f().map(|_| 0), |e| e.legacy_code())
}
