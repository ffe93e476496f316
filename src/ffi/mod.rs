//! The thin C layer. Every `extern "C"` function of the library lives under
//! this module and does three things only: check pointers (`ffi_ref!`,
//! `ffi_mut!`, `ffi_str!`), run the safe core inside a panic boundary
//! ([`guard`] / [`guard_code`] / [`guard_legacy`]), and translate the result
//! into a C return value while recording the last error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::diagnostics::{last_error, Error, Result};

pub mod comm;
pub mod config;
pub(crate) mod handles;
pub mod host_api;

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

/// The text of a panic payload. The payload is dropped inside its own panic
/// boundary (a payload whose `Drop` panics is leaked instead of unwinding).
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    };
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
    text
}

/// Runs `f` inside a panic boundary: `Ok(value)`, or the error (a panic
/// becomes `Error::Panic`). Never unwinds.
fn contain<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(Error::Panic(panic_message(payload))),
    }
}

/// Records `e` as the last error inside a panic boundary (a panic while
/// formatting the message leaves the slot as it was).
fn record(e: &Error) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| last_error::set(e))) {
        std::mem::forget(payload);
    }
}

/// Runs `f` inside a panic boundary. On success clears the last error and
/// returns the value; on error or panic records the last error and returns
/// `on_error(&err)`. Never unwinds: usable from `atexit` handlers, static
/// destructors and thread-exit destructors.
pub fn guard_with<T>(f: impl FnOnce() -> Result<T>, on_error: impl FnOnce(&Error) -> T) -> T {
    match contain(f) {
        Ok(v) => {
            last_error::clear();
            v
        }
        Err(e) => {
            record(&e);
            on_error(&e)
        }
    }
}

/// Runs `f`; returns its value or `fallback` on error/panic.
pub fn guard<T>(fallback: T, f: impl FnOnce() -> Result<T>) -> T {
    guard_with(f, move |_| fallback)
}

/// For pure lookups (queries that change nothing): like [`guard`], but a
/// success leaves the calling thread's last error untouched; a failure still
/// records its error.
pub fn guard_lookup<T>(fallback: T, f: impl FnOnce() -> Result<T>) -> T {
    match contain(f) {
        Ok(v) => v,
        Err(e) => {
            record(&e);
            fallback
        }
    }
}

/// [`guard_lookup`] for lookups returning a code: 0 on success, else the
/// numbered code.
pub fn guard_lookup_code(f: impl FnOnce() -> Result<()>) -> i32 {
    match contain(f) {
        Ok(()) => 0,
        Err(e) => {
            record(&e);
            e.api_code()
        }
    }
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
