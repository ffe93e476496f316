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

/// The text of a panic payload. The payload is dropped inside its own panic
/// boundary (a payload whose `Drop` panics is leaked instead of unwinding).
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = crate::diagnostics::panic_text(&*payload);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::ErrorCode;

    /// Exports that cannot fail and so need no boundary: a constant or a thread-local read
    /// that never panics. Their bodies are checked for anything that could panic.
    const INFALLIBLE: [&str; 8] = [
        "get_runtime_size",
        "get_platform",
        "get_incore_compiler",
        "get_orchestration_compiler",
        "pto_runtime_config_knob_count",
        "pto_last_error_message",
        "pto_last_error_code",
        "simpler_version",
    ];

    /// (name, body) of every `#[no_mangle]` export of the ffi sources.
    fn exports() -> Vec<(String, String)> {
        let sources = [include_str!("host_api.rs"), include_str!("comm.rs"), include_str!("config.rs")];
        let mut out = Vec::new();
        for src in sources {
            for chunk in src.split("#[no_mangle]").skip(1) {
                let after = chunk.split_once("pub extern \"C\" fn ").expect("#[no_mangle] on an extern \"C\" fn").1;
                let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let body = after.split_once("\n}\n").map_or(after, |(b, _)| b);
                out.push((name, body.to_string()));
            }
        }
        out
    }

    #[test]
    fn every_export_runs_inside_the_panic_boundary() {
        let all = exports();
        assert!(all.len() >= 45, "found only {} exports", all.len());
        for (name, body) in &all {
            if INFALLIBLE.contains(&name.as_str()) {
                for bad in ["unwrap", "expect(", "?", "panic!", "["] {
                    assert!(!body.contains(bad), "{name} has no panic boundary but contains {bad:?}");
                }
            } else {
                assert!(body.contains("guard"), "{name} does not run inside guard*/guard_lookup*");
            }
        }
        for name in INFALLIBLE {
            assert!(all.iter().any(|(n, _)| n == name), "{name} is no longer an export");
        }
    }

    #[test]
    fn a_panic_becomes_an_error_code_and_a_message() {
        let rc = guard_code(|| panic!("boom {}", 7));
        assert_eq!(rc, ErrorCode::PtoErrPanic as i32);
        assert!(last_error::message().contains("boom 7"), "{}", last_error::message());
        assert_eq!(guard_legacy(|| panic!("x")), -1);
        assert!(guard(std::ptr::null_mut::<u8>(), || panic!("y")).is_null());
    }

    #[test]
    fn a_payload_whose_drop_panics_does_not_unwind() {
        struct Nasty;
        impl Drop for Nasty {
            fn drop(&mut self) {
                panic!("drop of the payload");
            }
        }
        let rc = guard_code(|| std::panic::panic_any(Nasty));
        assert_eq!(rc, ErrorCode::PtoErrPanic as i32);
        assert!(last_error::message().contains("unknown panic payload"));
    }

    #[test]
    fn lookups_keep_the_last_error_and_failing_lookups_record_theirs() {
        last_error::set_raw(-1009, "kept");
        assert_eq!(guard_lookup(5, || Ok(6)), 6);
        assert_eq!(guard_lookup_code(|| Ok(())), 0);
        assert_eq!((last_error::code(), last_error::message().as_str()), (-1009, "kept"));
        let rc = guard_lookup_code(|| Err(Error::InvalidArgument("index 9 is out of range".into())));
        assert_eq!(rc, ErrorCode::PtoErrInvalidArgument as i32);
        assert!(last_error::message().contains("index 9"));
        assert_eq!(guard_code(|| Ok(())), 0);
        assert_eq!(last_error::code(), 0);
    }
}
