//! The PTO2 ops table handed to orchestration SOs (the 15 entries of
//! upstream's `PTO2RuntimeOps`, c68d9bbe6) and its non-submitting entries;
//! each entry reaches the Rust [`OrchestratorApi`] through the
//! [`RuntimeObject`] the SO received as `PTO2Runtime*`.
//!
//! Seven non-variadic entries are Rust `extern "C"` functions. The three
//! submitting ones are C++ entries in `csrc/orch_trampoline.cpp` whose body
//! is [`submit_fill`] (in `fill.rs`, with the `Arg` decoding in
//! `decode.rs`). The five C-variadic entries live in `csrc/orch_ops_shims.c`:
//! they format with `vsnprintf` and call the non-variadic callbacks
//! registered here. Every Rust entry runs inside `catch_unwind`; a panic
//! latches a fatal error instead of unwinding into C/C++ frames.
//!
//! The entries add no `is_fatal` calls of their own: the orchestrator sees
//! exactly the calls the SO makes, and its `submit_*` / `alloc_tensors` /
//! `get/set_tensor_data` must themselves return empty/0 once fatal
//! (the per-submit contract of upstream's `pto_orchestrator.cpp`, c68d9bbe6). Malformed arguments (`has_error`, invalid tags,
//! bad counts, NULL/misaligned pointers) are reported as fatal code 5 and
//! yield the empty result without reaching the orchestrator's method.

use std::ffi::{c_char, c_void};
use std::mem::MaybeUninit;
use std::panic::catch_unwind;

use once_cell::sync::Lazy;

use super::fill::submit_fill;
use super::layout::{Arg, MixedKernels, PTO2RuntimeHead, PTO2RuntimeOps, TaskOutputTensors};
use super::object::{with_runtime, CURRENT, RUNTIME_MAGIC};
use crate::abi::tensor::{Tensor, MAX_TENSOR_DIMS};
use crate::diagnostics::log;
use crate::runtime::trb::api::{OrchestratorApi, ScopeMode};

// The entry plumbing other ops tables on the TRB engine share, and the
// submitting body, at their established paths.
pub(crate) use super::boundary::{c_text, call_guarded, checked_ref, fatal_invalid};
pub(crate) use super::decode::submit_common;
pub(crate) use super::fill::fill_for;
pub use super::object::RuntimeObject;

// ---------------------------------------------------------------------------
// The table.

type FatalCb = extern "C" fn(rt: *mut c_void, code: i32, func: *const c_char, msg: *const c_char);
type LogCb = extern "C" fn(level: i32, func: *const c_char, v: i32, msg: *const c_char);
type SubmitFillCb = unsafe extern "C" fn(
    kind: i32,
    out: *mut MaybeUninit<TaskOutputTensors>,
    rt: *mut PTO2RuntimeHead,
    mixed_kernels: *const MixedKernels,
    args: *const Arg,
);

extern "C" {
    fn simpler_orch_shims_register(fatal_cb: FatalCb, log_cb: LogCb);
    fn simpler_submit_shims_register(fill: SubmitFillCb);
    fn simpler_op_submit_task(
        rt: *mut PTO2RuntimeHead,
        mixed_kernels: *const MixedKernels,
        args: *const Arg,
    ) -> TaskOutputTensors;
    fn simpler_op_alloc_tensors(rt: *mut PTO2RuntimeHead, args: *const Arg) -> TaskOutputTensors;
    fn simpler_op_submit_dummy_task(rt: *mut PTO2RuntimeHead, args: *const Arg) -> TaskOutputTensors;
    fn simpler_orch_report_fatal(
        rt: *mut PTO2RuntimeHead,
        error_code: i32,
        func: *const c_char,
        fmt: *const c_char,
        ...
    );
    fn simpler_orch_log_error(func: *const c_char, fmt: *const c_char, ...);
    fn simpler_orch_log_warn(func: *const c_char, fmt: *const c_char, ...);
    fn simpler_orch_log_debug(func: *const c_char, fmt: *const c_char, ...);
    fn simpler_orch_log_info_v(func: *const c_char, v: i32, fmt: *const c_char, ...);
}

static OPS: Lazy<PTO2RuntimeOps> = Lazy::new(|| {
    // SAFETY: registers two `extern "C"` functions with exactly the
    // callback signatures the C shims declare; the C side stores them
    // atomically and calls them only with the documented arguments.
    unsafe { simpler_orch_shims_register(fatal_callback, log_callback) };
    // SAFETY: registers the body of the three C++ submitting entries, with
    // exactly the `SubmitFill` signature orch_trampoline.cpp declares; it
    // is stored atomically before the table below is first handed out.
    unsafe { simpler_submit_shims_register(submit_fill) };
    PTO2RuntimeOps {
        submit_task: Some(simpler_op_submit_task),
        scope_begin: Some(op_scope_begin),
        scope_end: Some(op_scope_end),
        orchestration_done: Some(op_orchestration_done),
        is_fatal: Some(op_is_fatal),
        report_fatal: Some(simpler_orch_report_fatal),
        log_error: Some(simpler_orch_log_error),
        log_warn: Some(simpler_orch_log_warn),
        log_debug: Some(simpler_orch_log_debug),
        log_info_v: Some(simpler_orch_log_info_v),
        get_tensor_data: Some(op_get_tensor_data),
        set_tensor_data: Some(op_set_tensor_data),
        alloc_tensors: Some(simpler_op_alloc_tensors),
        submit_dummy_task: Some(simpler_op_submit_dummy_task),
        scope_set_site: Some(op_scope_set_site),
    }
});

/// The process-wide ops table (the 15 entries of upstream's `PTO2RuntimeOps`, in its order, c68d9bbe6).
pub fn ops_table() -> &'static PTO2RuntimeOps {
    &OPS
}

impl<'a> RuntimeObject<'a> {
    /// A runtime object forwarding to `api`, with the ops table installed
    /// and `pending_scope_mode` = AUTO.
    pub fn new(api: &'a mut dyn OrchestratorApi) -> RuntimeObject<'a> {
        RuntimeObject::with_ops(api, ops_table())
    }
}

// ---------------------------------------------------------------------------
// Non-variadic entries.
unsafe extern "C" fn op_scope_begin(rt: *mut PTO2RuntimeHead) {
    const F: &str = "scope_begin";
    if rt.is_null() {
        log::error(F, "called with a NULL runtime pointer");
        return;
    }
    // SAFETY: `rt` points to a live runtime object (bind contract); the SO
    // wrote the pending mode byte before this call, and reading/resetting
    // it through the raw pointer creates no lasting reference.
    let mode = unsafe {
        let m = (*rt).pending_scope_mode;
        (*rt).pending_scope_mode = 0;
        m
    };
    // SAFETY: see submit_fill.
    unsafe {
        with_runtime(rt, F, (), |api| match mode {
            0 => api.scope_begin(ScopeMode::Auto),
            1 => api.scope_begin(ScopeMode::Manual),
            other => fatal_invalid(api, F, &format!("invalid pending scope mode {other}")),
        })
    }
}

unsafe extern "C" fn op_scope_end(rt: *mut PTO2RuntimeHead) {
    // SAFETY: see submit_fill.
    unsafe { with_runtime(rt, "scope_end", (), |api| api.scope_end()) }
}

unsafe extern "C" fn op_orchestration_done(rt: *mut PTO2RuntimeHead) {
    // SAFETY: see submit_fill.
    unsafe { with_runtime(rt, "orchestration_done", (), |api| api.orchestration_done()) }
}

unsafe extern "C" fn op_is_fatal(rt: *mut PTO2RuntimeHead) -> bool {
    // The header's wrappers ask this before every call: a live object with a
    // fatal probe answers from the run state's flags, without the panic
    // boundary or a method call (the probe equals `api.is_fatal()`).
    if !rt.is_null() && (rt as usize) % std::mem::align_of::<RuntimeObject<'static>>() == 0 {
        let obj = rt.cast::<RuntimeObject<'static>>();
        // SAFETY: `rt` points to a live RuntimeObject (bind contract, as in
        // with_runtime); the three reads stay inside the object and no
        // reference to it is in use (entries do not nest).
        let (magic, probe, panicked) = unsafe { ((*obj).magic, (*obj).probe, (*obj).panic_message.is_some()) };
        if let (RUNTIME_MAGIC, Some(p), false) = (magic, probe, panicked) {
            // SAFETY: the probe was taken from the object's api, which
            // outlives the object (`OrchestratorApi::fatal_probe`).
            return unsafe { (p.read)(p.ctx) };
        }
    }
    // SAFETY: see submit_fill.
    unsafe { is_fatal_slow(rt) }
}

/// `is_fatal` through the panic boundary and the api's method.
///
/// # Safety
/// As for [`with_runtime`].
#[cold]
#[inline(never)]
unsafe fn is_fatal_slow(rt: *mut PTO2RuntimeHead) -> bool {
    // A runtime that panicked (or an invalid pointer) reports fatal so the
    // SO stops issuing work.
    // SAFETY: forwarded contract.
    unsafe { with_runtime(rt, "is_fatal", true, |api| api.is_fatal()) }
}

/// Builds the index slice of a get/set call.
///
/// # Safety
/// `indices` is NULL or points to at least `ndims` live `u32`s.
unsafe fn index_slice<'x>(ndims: u32, indices: *const u32) -> Result<&'x [u32], String> {
    let n = (ndims as usize).min(MAX_TENSOR_DIMS);
    if n == 0 {
        return Ok(&[]);
    }
    if indices.is_null() {
        return Err(format!("indices is NULL with ndims {ndims}"));
    }
    if (indices as usize) % std::mem::align_of::<u32>() != 0 {
        return Err("indices array is misaligned".to_string());
    }
    // SAFETY: non-NULL, aligned, and at least `ndims >= n` elements are live.
    Ok(unsafe { std::slice::from_raw_parts(indices, n) })
}

unsafe extern "C" fn op_get_tensor_data(
    rt: *mut PTO2RuntimeHead,
    tensor: *const Tensor,
    ndims: u32,
    indices: *const u32,
) -> u64 {
    const F: &str = "get_tensor_data";
    // SAFETY: see submit_fill.
    unsafe {
        with_runtime(rt, F, 0, |api| {
            // SAFETY: `tensor`/`indices` are the caller's live arguments.
            let decoded =
                checked_ref(tensor, "tensor pointer").and_then(|t| index_slice(ndims, indices).map(|i| (t, i)));
            match decoded {
                Ok((t, idx)) => api.get_tensor_data(t, idx),
                Err(e) => {
                    fatal_invalid(api, F, &e);
                    0
                }
            }
        })
    }
}

unsafe extern "C" fn op_set_tensor_data(
    rt: *mut PTO2RuntimeHead,
    tensor: *const Tensor,
    ndims: u32,
    indices: *const u32,
    value: u64,
) {
    const F: &str = "set_tensor_data";
    // SAFETY: see submit_fill.
    unsafe {
        with_runtime(rt, F, (), |api| {
            // SAFETY: `tensor`/`indices` are the caller's live arguments.
            let decoded =
                checked_ref(tensor, "tensor pointer").and_then(|t| index_slice(ndims, indices).map(|i| (t, i)));
            match decoded {
                Ok((t, idx)) => api.set_tensor_data(t, idx, value),
                Err(e) => fatal_invalid(api, F, &e),
            }
        })
    }
}

unsafe extern "C" fn op_scope_set_site(file: *const c_char, line: i32) {
    let rt = CURRENT.try_with(|c| c.get()).unwrap_or(std::ptr::null_mut());
    if rt.is_null() {
        return;
    }
    // SAFETY: CURRENT is only non-NULL while a CurrentRuntimeGuard of a
    // live RuntimeObject exists on this thread; `file` is NULL or a
    // NUL-terminated string (`__builtin_FILE()`).
    unsafe {
        with_runtime(rt, "scope_set_site", (), |api| {
            let file = c_text(file);
            api.scope_set_site(&file, line)
        })
    }
}

// ---------------------------------------------------------------------------
// Callbacks of the C-variadic shims.

extern "C" fn fatal_callback(rt: *mut c_void, code: i32, func: *const c_char, msg: *const c_char) {
    // SAFETY: the shim passes the orchestration's runtime pointer through
    // unchanged (bind contract as for every entry); `func`/`msg` are NULL
    // or NUL-terminated strings live for the call.
    unsafe {
        with_runtime(rt.cast(), "report_fatal", (), |api| {
            let func = c_text(func);
            let msg = c_text(msg);
            log::error(&func, &format!("FATAL(code={code}): {msg}"));
            api.report_fatal(code, &msg)
        })
    }
}

#[cfg(test)]
thread_local! {
    /// Test-only capture of forwarded log lines: (level, func, v, message).
    pub(crate) static LOG_CAPTURE: std::cell::RefCell<Vec<(i32, String, i32, String)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

extern "C" fn log_callback(level: i32, func: *const c_char, v: i32, msg: *const c_char) {
    let _ = catch_unwind(|| {
        // SAFETY: the shim passes NULL or NUL-terminated strings live for the call.
        let (func, msg) = unsafe { (c_text(func), c_text(msg)) };
        #[cfg(test)]
        LOG_CAPTURE.with(|c| c.borrow_mut().push((level, func.to_string(), v, msg.to_string())));
        match level {
            0 => log::error(&func, &msg),
            1 => log::warn(&func, &msg),
            2 => log::debug(&func, &msg),
            4 => log::info(&func, &msg),
            _ => log::info(&func, &format!("[v{}] {msg}", v.clamp(0, 9))),
        }
    });
}
