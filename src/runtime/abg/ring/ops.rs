//! The ops table of aicpu_build_graph's ring form and the runtime object
//! (`PTO2Runtime*` as its orchestration SOs see it), forwarding to the TRB
//! orchestrator running with explicit edges.
//!
//! Entries are Rust `extern "C"` functions inside a panic boundary (a panic
//! latches a fatal error and is reported after the entry returns), except
//! the five C-variadic log entries, which are the C shims of
//! `csrc/orch_ops_shims.c`. `Arg` decoding and its checks are the TRB ones.

use std::ffi::c_char;
use std::marker::PhantomData;

use once_cell::sync::Lazy;

use super::layout::{RingOps, RingRuntimeHead, SubmitResult};
use crate::diagnostics::log;
use crate::runtime::trb::api::{MixedKernelIds, OrchestratorApi, ScopeMode};
use crate::runtime::trb::orchestration::layout::{Arg, MixedKernels};
use crate::runtime::trb::orchestration::ops::{call_guarded, checked_ref, fatal_invalid, submit_common};

/// Marks a [`RingRuntimeObject`] ("SIMPLABG").
const RING_MAGIC: u64 = 0x5349_4d50_4c41_4247;

/// The object orchestration code receives as `PTO2Runtime*`: the ops
/// pointer, then runtime-private state. It must not move while user code
/// holds its address.
#[repr(C)]
pub struct RingRuntimeObject<'a> {
    head: RingRuntimeHead,
    magic: u64,
    api: *mut (dyn OrchestratorApi + 'a),
    panic_message: Option<String>,
    _borrow: PhantomData<&'a mut dyn OrchestratorApi>,
}

impl<'a> RingRuntimeObject<'a> {
    /// A runtime object forwarding to `api`.
    pub fn new(api: &'a mut dyn OrchestratorApi) -> RingRuntimeObject<'a> {
        RingRuntimeObject {
            head: RingRuntimeHead { ops: ring_ops_table() },
            magic: RING_MAGIC,
            api: api as *mut (dyn OrchestratorApi + 'a),
            panic_message: None,
            _borrow: PhantomData,
        }
    }

    /// The pointer to hand to user code as `PTO2Runtime*`.
    pub fn as_runtime_ptr(&mut self) -> *mut RingRuntimeHead {
        &mut self.head as *mut RingRuntimeHead
    }

    /// The message of the first panic caught inside an entry, if any.
    pub fn panic_message(&self) -> Option<&str> {
        self.panic_message.as_deref()
    }
}

extern "C" {
    fn simpler_orch_log_error(func: *const c_char, fmt: *const c_char, ...);
    fn simpler_orch_log_warn(func: *const c_char, fmt: *const c_char, ...);
    fn simpler_orch_log_info(func: *const c_char, fmt: *const c_char, ...);
    fn simpler_orch_log_debug(func: *const c_char, fmt: *const c_char, ...);
    fn simpler_orch_log_always(func: *const c_char, fmt: *const c_char, ...);
}

static RING_OPS: Lazy<RingOps> = Lazy::new(|| {
    // The TRB table registers the callbacks the variadic shims forward to.
    let _ = crate::runtime::trb::orchestration::ops_table();
    RingOps {
        submit_task: Some(op_submit_task),
        add_dependency: Some(op_add_dependency),
        scope_begin: Some(op_scope_begin),
        scope_end: Some(op_scope_end),
        orchestration_done: Some(op_orchestration_done),
        is_fatal: Some(op_is_fatal),
        log_error: Some(simpler_orch_log_error),
        log_warn: Some(simpler_orch_log_warn),
        log_info: Some(simpler_orch_log_info),
        log_debug: Some(simpler_orch_log_debug),
        log_always: Some(simpler_orch_log_always),
    }
});

/// The process-wide 11-entry ops table.
pub fn ring_ops_table() -> &'static RingOps {
    &RING_OPS
}

/// Runs `f` on the orchestrator behind `rt` inside a panic boundary;
/// `fallback` when `rt` is not a live runtime object, after an earlier
/// panic, or when `f` panics (then latched as fatal code 9).
///
/// # Safety
/// `rt` is NULL or was obtained from [`RingRuntimeObject::as_runtime_ptr`]
/// of a live object that nothing else borrows during the call.
unsafe fn with_runtime<R>(
    rt: *mut RingRuntimeHead,
    func: &str,
    fallback: R,
    f: impl FnOnce(&mut dyn OrchestratorApi) -> R,
) -> R {
    if rt.is_null() || (rt as usize) % std::mem::align_of::<RingRuntimeObject<'static>>() != 0 {
        log::error(func, "called with a NULL or misaligned runtime pointer");
        return fallback;
    }
    let obj = rt.cast::<RingRuntimeObject<'static>>();
    // SAFETY: the head is the object's first field, so a pointer from
    // as_runtime_ptr is the object's address; the magic read stays inside it.
    if unsafe { (*obj).magic } != RING_MAGIC {
        log::error(func, "called with a pointer that is not a simpler aicpu_build_graph runtime object");
        return fallback;
    }
    // SAFETY: as above; live and not otherwise borrowed per the contract.
    let obj = unsafe { &mut *obj };
    if obj.panic_message.is_some() {
        return fallback;
    }
    // SAFETY: `api` comes from a `&'a mut dyn OrchestratorApi` that outlives
    // the object, which is its only user.
    let api = unsafe { &mut *obj.api };
    call_guarded(api, &mut obj.panic_message, func, fallback, f)
}

unsafe extern "C" fn op_submit_task(
    rt: *mut RingRuntimeHead,
    mixed_kernels: *const MixedKernels,
    args: *const Arg,
) -> SubmitResult {
    const F: &str = "submit_task";
    // SAFETY: `rt` is the pointer the entry received (run contract).
    unsafe {
        with_runtime(rt, F, SubmitResult::empty(), |api| {
            // SAFETY: a non-NULL reference argument is live for the call.
            let mk = match checked_ref(mixed_kernels, "MixedKernels pointer") {
                Ok(mk) => *mk,
                Err(e) => {
                    fatal_invalid(api, F, &e);
                    return SubmitResult::empty();
                }
            };
            let ids = MixedKernelIds { aic: mk.aic_kernel_id, aiv0: mk.aiv0_kernel_id, aiv1: mk.aiv1_kernel_id };
            // SAFETY: `args` is the caller's live Arg reference.
            let outputs = submit_common(api, F, args, |api, view| api.submit_task(ids, view));
            SubmitResult { task_id: outputs.task_id, outputs }
        })
    }
}

unsafe extern "C" fn op_add_dependency(rt: *mut RingRuntimeHead, producer: u64, consumer: u64) {
    // SAFETY: see op_submit_task.
    unsafe { with_runtime(rt, "add_dependency", (), |api| api.add_dependency(producer, consumer)) }
}

unsafe extern "C" fn op_scope_begin(rt: *mut RingRuntimeHead) {
    // SAFETY: see op_submit_task.
    unsafe { with_runtime(rt, "scope_begin", (), |api| api.scope_begin(ScopeMode::Auto)) }
}

unsafe extern "C" fn op_scope_end(rt: *mut RingRuntimeHead) {
    // SAFETY: see op_submit_task.
    unsafe { with_runtime(rt, "scope_end", (), |api| api.scope_end()) }
}

unsafe extern "C" fn op_orchestration_done(rt: *mut RingRuntimeHead) {
    // SAFETY: see op_submit_task.
    unsafe { with_runtime(rt, "orchestration_done", (), |api| api.orchestration_done()) }
}

unsafe extern "C" fn op_is_fatal(rt: *mut RingRuntimeHead) -> bool {
    // SAFETY: see op_submit_task. An invalid pointer reads as fatal.
    unsafe { with_runtime(rt, "is_fatal", true, |api| api.is_fatal()) }
}
