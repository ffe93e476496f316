//! The panic boundary and the argument checks every ops entry on the TRB
//! engine shares (this variant's table and aicpu_build_graph's ring form).

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::layout::error_code;
use crate::diagnostics::{log, panic_text};
use crate::runtime::trb::api::OrchestratorApi;

/// Lossy `&str` view of a possibly-NULL C string.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for `'s`.
pub(crate) unsafe fn c_text<'s>(p: *const c_char) -> std::borrow::Cow<'s, str> {
    if p.is_null() {
        std::borrow::Cow::Borrowed("")
    } else {
        // SAFETY: non-NULL, NUL-terminated and live per this fn's contract.
        unsafe { CStr::from_ptr(p) }.to_string_lossy()
    }
}

/// The panic boundary of one ops entry, shared by every ops table on the
/// TRB engine: runs `f` on `api`; when it panics, logs the panic, latches it
/// as fatal code 9 on the orchestrator (best effort) and in `panic_message`
/// (later entries then return their fallback), and returns `fallback`.
pub(crate) fn call_guarded<R>(
    api: &mut dyn OrchestratorApi,
    panic_message: &mut Option<String>,
    func: &str,
    fallback: R,
    f: impl FnOnce(&mut dyn OrchestratorApi) -> R,
) -> R {
    call_guarded_on(api, panic_message, func, fallback, |a| f(a))
}

/// [`call_guarded`] for any api type (a concrete one keeps its calls static).
#[inline(always)]
pub(super) fn call_guarded_on<A: OrchestratorApi + ?Sized, R>(
    api: &mut A,
    panic_message: &mut Option<String>,
    func: &str,
    fallback: R,
    f: impl FnOnce(&mut A) -> R,
) -> R {
    match catch_unwind(AssertUnwindSafe(|| f(&mut *api))) {
        Ok(r) => r,
        Err(payload) => {
            let msg = format!("panic inside ops entry {func}: {}", panic_text(&*payload));
            log::error(func, &msg);
            let _ = catch_unwind(AssertUnwindSafe(|| api.report_fatal(error_code::EXPLICIT_ORCH_FATAL, &msg)));
            *panic_message = Some(msg);
            fallback
        }
    }
}

/// Checks that `p` is non-NULL and aligned for `T`, then borrows it.
///
/// # Safety
/// A non-NULL, aligned `p` must point to a live `T` for `'x`.
pub(crate) unsafe fn checked_ref<'x, T>(p: *const T, what: &str) -> Result<&'x T, String> {
    if p.is_null() {
        return Err(format!("{what} is NULL"));
    }
    if (p as usize) % std::mem::align_of::<T>() != 0 {
        return Err(format!("{what} at {p:p} is not {}-byte aligned", std::mem::align_of::<T>()));
    }
    // SAFETY: non-NULL and aligned (checked); liveness is the caller's contract.
    Ok(unsafe { &*p })
}

pub(crate) fn fatal_invalid(api: &mut dyn OrchestratorApi, func: &str, msg: &str) {
    fatal_invalid_on(api, func, msg)
}

/// [`fatal_invalid`] for any api type.
#[cold]
#[inline(never)]
pub(super) fn fatal_invalid_on<A: OrchestratorApi + ?Sized>(api: &mut A, func: &str, msg: &str) {
    log::error(func, &format!("FATAL(code={}): {msg}", error_code::INVALID_ARGS));
    api.report_fatal(error_code::INVALID_ARGS, msg);
}
