//! The PTO2 ops table handed to orchestration SOs, and the runtime object
//! (`PTO2Runtime` as the SO sees it) through which each entry reaches the
//! Rust [`OrchestratorApi`].
//!
//! Seven non-variadic entries are Rust `extern "C"` functions. The three
//! submitting ones return the 272-byte [`TaskOutputTensors`] by value (the
//! hidden result pointer upstream's C++ callers pass): they are C++ entries
//! in `csrc/orch_trampoline.cpp` that hand their result memory to
//! [`submit_fill`], which writes the result in place. The five C-variadic
//! entries live in `csrc/orch_ops_shims.c`:
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

use std::cell::Cell;
use std::ffi::{c_char, c_void, CStr};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};

use once_cell::sync::Lazy;

use super::layout::{
    error_code, tag, Arg, MixedKernels, PTO2RuntimeHead, PTO2RuntimeOps, TaskOutputTensors, TensorCreateInfo,
    MAX_SCALAR_ARGS, MAX_TENSOR_ARGS,
};
use crate::abi::tensor::{Tensor, MAX_TENSOR_DIMS};
use crate::abi::DataType;
use crate::diagnostics::log;
use crate::runtime::trb::api::{
    DirectFill, FatalProbe, MixedKernelIds, OrchestratorApi, ScopeMode, SubmitKind, SubmitOutcome, TaskArgsView,
    TensorArg, TensorCreate, INVALID_TASK,
};

/// Marks a [`RuntimeObject`] (checked by every entry before use).
const RUNTIME_MAGIC: u64 = 0x5349_4d50_4c45_5254; // "SIMPLERT"

/// The object orchestration code receives as `PTO2Runtime*`: the two-field
/// head upstream SOs read and write, followed by runtime-private state.
///
/// It borrows the orchestrator for `'a`. The object must not move while
/// its address is bound in an SO (take the address with
/// [`RuntimeObject::as_runtime_ptr`] after it reached its final place).
#[repr(C)]
pub struct RuntimeObject<'a> {
    head: PTO2RuntimeHead,
    magic: u64,
    api: *mut (dyn OrchestratorApi + 'a),
    /// `api.fatal_probe()` taken at creation; it stays valid as long as
    /// `api`, so for the object's whole life.
    probe: Option<FatalProbe>,
    /// `api.direct_fill()` taken at creation: the submitting body
    /// specialised to the api's concrete type, if it has one.
    direct: Option<DirectFill>,
    panic_message: Option<String>,
    _borrow: PhantomData<&'a mut dyn OrchestratorApi>,
}

impl<'a> RuntimeObject<'a> {
    /// A runtime object forwarding to `api`, with the ops table installed
    /// and `pending_scope_mode` = AUTO.
    pub fn new(api: &'a mut dyn OrchestratorApi) -> RuntimeObject<'a> {
        let probe = api.fatal_probe();
        let direct = api.direct_fill();
        RuntimeObject {
            probe,
            direct,
            head: PTO2RuntimeHead { ops: ops_table(), pending_scope_mode: 0, pad: [0; 7] },
            magic: RUNTIME_MAGIC,
            api: api as *mut (dyn OrchestratorApi + 'a),
            panic_message: None,
            _borrow: PhantomData,
        }
    }

    /// The pointer to hand to C/C++ code as `PTO2Runtime*`.
    pub fn as_runtime_ptr(&mut self) -> *mut PTO2RuntimeHead {
        &mut self.head as *mut PTO2RuntimeHead
    }

    /// The message of the first panic caught inside an ops entry, if any.
    pub fn panic_message(&self) -> Option<&str> {
        self.panic_message.as_deref()
    }

    /// Makes this object the calling thread's current runtime (used by the
    /// `scope_set_site` entry, which receives no runtime pointer) until the
    /// returned guard drops.
    pub fn enter(&mut self) -> CurrentRuntimeGuard<'_> {
        let ptr = self.as_runtime_ptr();
        let previous = CURRENT.try_with(|c| c.replace(ptr)).unwrap_or(std::ptr::null_mut());
        CurrentRuntimeGuard { previous, _obj: PhantomData }
    }
}

thread_local! {
    // `const` and without `Drop`: no destructor is registered, so it stays
    // usable at thread and process exit; accessed with `try_with` (never panics).
    static CURRENT: Cell<*mut PTO2RuntimeHead> = const { Cell::new(std::ptr::null_mut()) };
}

/// Restores the previous current runtime of the thread on drop.
pub struct CurrentRuntimeGuard<'o> {
    previous: *mut PTO2RuntimeHead,
    _obj: PhantomData<&'o mut ()>,
}

impl Drop for CurrentRuntimeGuard<'_> {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.previous));
    }
}

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

// ---------------------------------------------------------------------------
// Shared entry plumbing.

pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

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

/// Runs `f` on the runtime object behind `rt` inside a panic boundary.
/// Returns `fallback` when `rt` is not a live [`RuntimeObject`], when an
/// earlier entry panicked, or when `f` panics (the panic is then latched as
/// a fatal error).
///
/// # Safety
/// `rt` is NULL or was obtained from [`RuntimeObject::as_runtime_ptr`] of an
/// object that is still alive, and no other reference to that object is in
/// use during the call.
unsafe fn with_runtime<R>(
    rt: *mut PTO2RuntimeHead,
    func: &str,
    fallback: R,
    f: impl FnOnce(&mut dyn OrchestratorApi) -> R,
) -> R {
    // SAFETY: forwarded contract.
    let Some(obj) = (unsafe { live_object(rt, func) }) else {
        return fallback;
    };
    // SAFETY: `live_object` checked the pointer; the object is alive and not
    // otherwise borrowed (this fn's contract).
    let obj = unsafe { &mut *obj };
    if obj.panic_message.is_some() {
        return fallback;
    }
    // SAFETY: `api` was created from a `&'a mut dyn OrchestratorApi` that
    // outlives the object; the object is the only user of that borrow.
    let api = unsafe { &mut *obj.api };
    call_guarded(api, &mut obj.panic_message, func, fallback, f)
}

/// The runtime object behind `rt`, or `None` (logged) when `rt` is NULL,
/// misaligned or not a [`RuntimeObject`].
///
/// # Safety
/// As for [`with_runtime`].
#[inline(always)]
unsafe fn live_object(rt: *mut PTO2RuntimeHead, func: &str) -> Option<*mut RuntimeObject<'static>> {
    if rt.is_null() || (rt as usize) % std::mem::align_of::<RuntimeObject<'static>>() != 0 {
        log::error(func, "called with a NULL or misaligned runtime pointer");
        return None;
    }
    let obj = rt.cast::<RuntimeObject<'static>>();
    // SAFETY: `rt` points to a live RuntimeObject (the head is its first
    // field, so the addresses coincide) per this fn's contract; the magic
    // read stays inside the object.
    if unsafe { (*obj).magic } != RUNTIME_MAGIC {
        log::error(func, "called with a pointer that is not a simpler runtime object");
        return None;
    }
    Some(obj)
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
fn call_guarded_on<A: OrchestratorApi + ?Sized, R>(
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
fn fatal_invalid_on<A: OrchestratorApi + ?Sized>(api: &mut A, func: &str, msg: &str) {
    log::error(func, &format!("FATAL(code={}): {msg}", error_code::INVALID_ARGS));
    api.report_fatal(error_code::INVALID_ARGS, msg);
}

const PLACEHOLDER_CREATE: TensorCreate =
    TensorCreate { shapes: [0; MAX_TENSOR_DIMS], ndims: 0, dtype: 0, manual_dep: false, initial_value: None };

/// Decodes a `TensorCreateInfo` into the plain Rust description.
fn decode_create_info(ci: &TensorCreateInfo, slot: usize) -> Result<TensorCreate, String> {
    if ci.ndims == 0 || ci.ndims as usize > MAX_TENSOR_DIMS {
        return Err(format!("output tensor {slot}: ndims {} out of range 1..={MAX_TENSOR_DIMS}", ci.ndims));
    }
    if DataType::from_u8(ci.dtype).is_none() {
        return Err(format!("output tensor {slot}: unknown dtype {}", ci.dtype));
    }
    Ok(TensorCreate {
        shapes: ci.shapes,
        ndims: ci.ndims,
        dtype: ci.dtype,
        manual_dep: ci.manual_dep != 0,
        initial_value: (ci.has_initial_value != 0).then_some(ci.initial_value),
    })
}

/// Decodes the create info of every OUTPUT slot of `arg` into `creates`.
fn fill_creates(arg: &Arg, tc: usize, creates: &mut [TensorCreate; MAX_TENSOR_ARGS]) -> Result<(), String> {
    for (i, create) in creates.iter_mut().enumerate().take(tc) {
        if arg.tags[i] == tag::OUTPUT {
            let p = arg.refs[i].cast::<TensorCreateInfo>();
            if p.is_null() {
                return Err(format!("output tensor {i}: TensorCreateInfo pointer is NULL"));
            }
            // SAFETY: non-NULL; the caller's Arg contract makes slot i point
            // to a live TensorCreateInfo for the duration of the call. An
            // unaligned read tolerates any alignment.
            let ci = unsafe { std::ptr::read_unaligned(p) };
            *create = decode_create_info(&ci, i)?;
        }
    }
    Ok(())
}

/// Decodes `arg` (whose `has_error` is already known to be clear) into a
/// [`TaskArgsView`] without copying tensors, and passes it to `f`. Only the
/// `tensor_count` used entries of the view's tensor array are written.
#[inline(always)]
fn with_view<R>(arg: &Arg, f: impl FnOnce(&TaskArgsView<'_>) -> R) -> Result<R, String> {
    let tc = arg.tensor_count;
    let sc = arg.scalar_count;
    if tc < 0 || tc as usize > MAX_TENSOR_ARGS {
        return Err(format!("tensor count {tc} out of range 0..={MAX_TENSOR_ARGS}"));
    }
    if sc < 0 || sc as usize > MAX_SCALAR_ARGS {
        return Err(format!("scalar count {sc} out of range 0..={MAX_SCALAR_ARGS}"));
    }
    let (tc, sc) = (tc as usize, sc as usize);

    // Decoded OUTPUT create infos; the 32-entry array is built only when the
    // task has an output (filling it costs more than the rest of the
    // decoding for the common input/inout-only task).
    let mut creates_store;
    let creates: &[TensorCreate] = if arg.tags[..tc].contains(&tag::OUTPUT) {
        creates_store = [PLACEHOLDER_CREATE; MAX_TENSOR_ARGS];
        fill_creates(arg, tc, &mut creates_store)?;
        &creates_store
    } else {
        &[]
    };

    let mut store = [const { MaybeUninit::<TensorArg<'_>>::uninit() }; MAX_TENSOR_ARGS];
    for (i, slot) in store.iter_mut().enumerate().take(tc) {
        slot.write(decode_tensor(arg, i, creates)?);
    }
    // SAFETY: entries 0..tc were written by the loop above (an early return
    // leaves the function before the slice exists); `TensorArg` is `Copy`,
    // so nothing needs dropping.
    let tensors: &[TensorArg<'_>] = unsafe { std::slice::from_raw_parts(store.as_ptr().cast(), tc) };

    let deps: &[u64] = if arg.explicit_dep_count == 0 {
        &[]
    } else {
        let p = arg.explicit_deps;
        if p.is_null() {
            return Err(format!("explicit dependency array is NULL with count {}", arg.explicit_dep_count));
        }
        if (p as usize) % std::mem::align_of::<u64>() != 0 {
            return Err("explicit dependency array is misaligned".to_string());
        }
        // SAFETY: non-NULL, aligned, and by the Arg contract `count`
        // consecutive task ids live for the duration of the call.
        unsafe { std::slice::from_raw_parts(p, arg.explicit_dep_count as usize) }
    };

    let view = TaskArgsView {
        tensors,
        scalars: &arg.scalars[..sc],
        block_num: arg.launch_spec.block_num,
        require_sync_start: arg.launch_spec.require_sync_start != 0,
        explicit_deps: deps,
    };
    Ok(f(&view))
}

/// Tensor slot `i` of `arg` (`creates` holds the decoded OUTPUT infos).
#[inline(always)]
fn decode_tensor<'x>(arg: &Arg, i: usize, creates: &'x [TensorCreate]) -> Result<TensorArg<'x>, String> {
    let t = arg.tags[i];
    if t == tag::OUTPUT {
        return Ok(TensorArg::Output(&creates[i]));
    }
    let p = arg.refs[i].cast::<Tensor>();
    if !(tag::INPUT..=tag::NO_DEP).contains(&t) || p.is_null() || (p as usize) % std::mem::align_of::<Tensor>() != 0 {
        return Err(bad_tensor_slot(t, p, i));
    }
    // SAFETY: non-NULL and aligned (checked); the caller's Arg contract
    // makes slot i point to a live Tensor for the duration of the call.
    let tensor = unsafe { &*p };
    Ok(match t {
        tag::INPUT => TensorArg::Input(tensor),
        tag::INOUT => TensorArg::Inout(tensor),
        tag::OUTPUT_EXISTING => TensorArg::OutputExisting(tensor),
        _ => TensorArg::NoDep(tensor),
    })
}

/// The message for a tensor slot with an invalid tag or pointer.
#[cold]
#[inline(never)]
fn bad_tensor_slot(t: i32, p: *const Tensor, i: usize) -> String {
    if !(tag::INPUT..=tag::NO_DEP).contains(&t) {
        return format!("tensor {i}: invalid tensor arg tag {t}");
    }
    // SAFETY: never dereferenced: checked_ref refuses a NULL or misaligned
    // pointer before any use, which is the only case reaching here.
    match unsafe { checked_ref(p, "tensor pointer") } {
        Err(e) => format!("tensor {i}: {e}"),
        Ok(_) => format!("tensor {i}: invalid tensor pointer"),
    }
}

fn encode(outcome: SubmitOutcome) -> TaskOutputTensors {
    let mut out = TaskOutputTensors::empty();
    out.task_id = outcome.task_id;
    let n = outcome.outputs.len().min(MAX_TENSOR_ARGS);
    out.tensors[..n].copy_from_slice(&outcome.outputs[..n]);
    out.output_count = n as u32;
    out
}

/// Checks the `Arg` pointer and its builder error, then decodes it and runs
/// `call` on the view; `Err(())` after a malformed `Arg` (reported as fatal
/// code 5).
///
/// # Safety
/// `args` is NULL or points to a live `Arg` for the duration of the call.
#[inline(always)]
unsafe fn decode_and<A: OrchestratorApi + ?Sized, R>(
    api: &mut A,
    func: &str,
    args: *const Arg,
    call: impl FnOnce(&mut A, &TaskArgsView<'_>) -> R,
) -> Result<R, ()> {
    // SAFETY: liveness of a non-NULL `args` is this fn's contract.
    let arg = match unsafe { checked_ref(args, "Arg pointer") } {
        Ok(a) => a,
        Err(e) => {
            fatal_invalid_on(api, func, &e);
            return Err(());
        }
    };
    if arg.has_error != 0 {
        builder_error(api, func, arg);
        return Err(());
    }
    match with_view(arg, |view| call(&mut *api, view)) {
        Ok(r) => Ok(r),
        Err(e) => {
            fatal_invalid_on(api, func, &e);
            Err(())
        }
    }
}

#[cold]
fn builder_error<A: OrchestratorApi + ?Sized>(api: &mut A, func: &str, arg: &Arg) {
    // SAFETY: error_msg is NULL or a static NUL-terminated string.
    let msg = unsafe { c_text(arg.error_msg) };
    let msg = if msg.is_empty() { "invalid task arguments".into() } else { msg };
    fatal_invalid_on(api, func, &msg);
}

/// Common body of the Arg-taking entries of aicpu_build_graph's ring form,
/// which shares the `Arg` layout.
///
/// # Safety
/// `args` is NULL or points to a live `Arg` for the duration of the call.
pub(crate) unsafe fn submit_common(
    api: &mut dyn OrchestratorApi,
    func: &str,
    args: *const Arg,
    call: impl FnOnce(&mut dyn OrchestratorApi, &TaskArgsView<'_>) -> SubmitOutcome,
) -> TaskOutputTensors {
    // SAFETY: forwarded contract.
    match unsafe { decode_and(api, func, args, |a, v| call(a, v)) } {
        Ok(outcome) => encode(outcome),
        Err(()) => TaskOutputTensors::empty(),
    }
}

/// Runs one submitting entry into `slot` on `api`: decodes `args` and
/// submits through [`OrchestratorApi::submit_into`], the output pointers
/// going straight into the result. Every byte of the result is written: the
/// pointer array is zeroed first (256 bytes, stored inline), then the id,
/// count and padding are written last; after any failure (including a
/// caught panic, which may have left pointers behind) the result is
/// [`TaskOutputTensors::empty`]. Writing through `slot` (instead of
/// returning the 272 bytes) lets the entry hand down its caller's result
/// memory: no copy of the result. `kind` is the entry's kind code (0
/// submit_task with `mixed_kernels`, 1 alloc_tensors, else
/// submit_dummy_task). Generic so that a concrete api (see [`fill_for`])
/// gets its `submit_into` inlined here.
///
/// # Safety
/// `panic_message` is the runtime object's, whose api is `api`;
/// `mixed_kernels` is NULL or live; `args` is NULL or points to a live `Arg`
/// for the duration of the call.
#[inline(always)]
unsafe fn fill_on<A: OrchestratorApi + ?Sized>(
    api: &mut A,
    panic_message: &mut Option<String>,
    slot: &mut MaybeUninit<TaskOutputTensors>,
    kind: i32,
    mixed_kernels: *const MixedKernels,
    args: *const Arg,
) {
    if panic_message.is_some() {
        reset_empty(slot);
        return;
    }
    let func = entry_name(kind);
    let kind = match kind {
        // SAFETY: a non-NULL MixedKernels reference from the caller is live
        // for the call.
        0 => unsafe { checked_ref(mixed_kernels, "MixedKernels pointer") }.map(|mk| {
            SubmitKind::Task(MixedKernelIds { aic: mk.aic_kernel_id, aiv0: mk.aiv0_kernel_id, aiv1: mk.aiv1_kernel_id })
        }),
        1 => Ok(SubmitKind::Alloc),
        _ => Ok(SubmitKind::Dummy),
    };
    let p = slot.as_mut_ptr();
    // SAFETY: `p` is valid for writes (it comes from `slot`); the array
    // field is written whole, so the reference below sees initialized memory.
    let tensors = unsafe {
        std::ptr::addr_of_mut!((*p).tensors).write([std::ptr::null(); MAX_TENSOR_ARGS]);
        &mut *std::ptr::addr_of_mut!((*p).tensors)
    };
    let mut result = (INVALID_TASK, 0u32);
    call_guarded_on(api, panic_message, func, (), |api| match kind {
        Ok(kind) => {
            // SAFETY: forwarded contract.
            if let Ok(r) = unsafe { decode_and(api, func, args, |api, view| api.submit_into(kind, view, tensors)) } {
                result = r;
            }
        }
        Err(e) => fatal_invalid_on(api, func, &e),
    });
    if result.0 == INVALID_TASK {
        reset_empty(slot);
        return;
    }
    // SAFETY: the remaining three fields are written through the valid `p`.
    unsafe {
        std::ptr::addr_of_mut!((*p).task_id).write(result.0);
        std::ptr::addr_of_mut!((*p).output_count).write(result.1.min(MAX_TENSOR_ARGS as u32));
        std::ptr::addr_of_mut!((*p).pad).write(0);
    }
}

/// The name of a submitting entry by kind code (for messages).
#[inline(always)]
fn entry_name(kind: i32) -> &'static str {
    match kind {
        0 => "submit_task",
        1 => "alloc_tensors",
        _ => "submit_dummy_task",
    }
}

#[cold]
#[inline(never)]
fn reset_empty(slot: &mut MaybeUninit<TaskOutputTensors>) {
    slot.write(TaskOutputTensors::empty());
}

// ---------------------------------------------------------------------------
// Non-variadic entries.

/// `SubmitFill` of the C++ entries `simpler_op_submit_task` (kind 0),
/// `simpler_op_alloc_tensors` (1) and `simpler_op_submit_dummy_task` (2):
/// writes the whole result into `out`, which is the entry's caller's result
/// memory. A runtime object whose api has a [`DirectFill`] continues there
/// (a tail call: the whole submit then runs in that one specialised
/// function); otherwise through the dynamic api.
///
/// # Safety
/// `out` is valid for writing a `TaskOutputTensors`; `rt`, `mixed_kernels`
/// and `args` are the entry's arguments (see [`fill_on`]); `rt` is NULL or
/// obtained from [`RuntimeObject::as_runtime_ptr`] of a live object.
unsafe extern "C" fn submit_fill(
    kind: i32,
    out: *mut MaybeUninit<TaskOutputTensors>,
    rt: *mut PTO2RuntimeHead,
    mixed_kernels: *const MixedKernels,
    args: *const Arg,
) {
    // The fast path only reads the object after the same pointer checks as
    // `live_object` (whose messages the slow path gives); both calls below
    // are tail calls, so this function keeps no frame.
    if !rt.is_null() && (rt as usize) % std::mem::align_of::<RuntimeObject<'static>>() == 0 {
        let obj = rt.cast::<RuntimeObject<'static>>();
        // SAFETY: `rt` comes from the SO, which received it from
        // RuntimeObject::as_runtime_ptr of a live object (bind contract);
        // the two reads stay inside the object.
        if let (RUNTIME_MAGIC, Some(direct)) = unsafe { ((*obj).magic, (*obj).direct) } {
            // SAFETY: `direct` is `fill_for::<A>` for the object's api type
            // A (the `direct_fill` contract); the arguments are forwarded.
            return unsafe { direct(kind, out.cast(), rt.cast(), mixed_kernels.cast(), args.cast()) };
        }
    }
    // SAFETY: forwarded contract.
    unsafe { submit_fill_dyn(kind, out, rt, mixed_kernels, args) }
}

/// [`submit_fill`] through the dynamic api (or the empty result after an
/// invalid runtime pointer, logged).
///
/// # Safety
/// As for [`submit_fill`].
#[inline(never)]
unsafe fn submit_fill_dyn(
    kind: i32,
    out: *mut MaybeUninit<TaskOutputTensors>,
    rt: *mut PTO2RuntimeHead,
    mixed_kernels: *const MixedKernels,
    args: *const Arg,
) {
    // SAFETY: `rt` comes from the SO, which received it from
    // RuntimeObject::as_runtime_ptr of a live object (bind contract).
    let Some(obj) = (unsafe { live_object(rt, entry_name(kind)) }) else {
        // SAFETY: the C++ entry passes its own result object, valid and
        // unaliased for the call.
        reset_empty(unsafe { &mut *out });
        return;
    };
    // SAFETY: `obj` is live (checked above) and not otherwise borrowed
    // (entries do not nest); `api` was created from a `&'a mut dyn
    // OrchestratorApi` outliving the object, whose only user it is; `out`
    // is the C++ entry's result object; the rest is forwarded.
    unsafe {
        let obj = &mut *obj;
        fill_on(&mut *obj.api, &mut obj.panic_message, &mut *out, kind, mixed_kernels, args)
    }
}

/// The [`DirectFill`] of api type `A` (what `A::direct_fill` returns): the
/// body of [`submit_fill`] with `A::submit_into` called statically.
///
/// # Safety
/// Reached only from [`submit_fill`], after it checked `rt`: a live
/// [`RuntimeObject`] whose api is an `A` (the object took this function
/// from that api's `direct_fill`); the other arguments as for `submit_fill`.
pub(crate) unsafe extern "C" fn fill_for<A: OrchestratorApi>(
    kind: i32,
    out: *mut c_void,
    rt: *mut c_void,
    mixed_kernels: *const c_void,
    args: *const c_void,
) {
    // SAFETY: per this fn's contract the object is live and unborrowed and
    // its api (a `&mut` borrow outliving the object) is an `A`; dropping
    // the trait-object metadata leaves the pointer to that `A`. `out` is
    // the C++ entry's own result object.
    unsafe {
        let obj = &mut *rt.cast::<RuntimeObject<'static>>();
        let api = &mut *obj.api.cast::<A>();
        fill_on(api, &mut obj.panic_message, &mut *out.cast(), kind, mixed_kernels.cast(), args.cast())
    }
}

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
