//! The body of the three submitting entries (`submit_task`, `alloc_tensors`,
//! `submit_dummy_task`). They return the 272-byte [`TaskOutputTensors`] by
//! value (the hidden result pointer upstream's C++ callers pass): they are
//! C++ entries in `csrc/orch_trampoline.cpp` that hand their result memory
//! to [`submit_fill`], which writes the result in place, through the api's
//! [`DirectFill`](crate::runtime::trb::api::DirectFill) ([`fill_for`]) when
//! it has one.

use std::ffi::c_void;
use std::mem::MaybeUninit;

use super::boundary::{call_guarded_on, checked_ref, fatal_invalid_on};
use super::decode::decode_and;
use super::layout::{Arg, MixedKernels, PTO2RuntimeHead, TaskOutputTensors, MAX_TENSOR_ARGS};
use super::object::{live_object, RuntimeObject, RUNTIME_MAGIC};
use crate::runtime::trb::api::{MixedKernelIds, OrchestratorApi, SubmitKind, INVALID_TASK};

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

/// `SubmitFill` of the C++ entries `simpler_op_submit_task` (kind 0),
/// `simpler_op_alloc_tensors` (1) and `simpler_op_submit_dummy_task` (2):
/// writes the whole result into `out`, which is the entry's caller's result
/// memory. A runtime object whose api has a [`DirectFill`](crate::runtime::trb::api::DirectFill) continues there
/// (a tail call: the whole submit then runs in that one specialised
/// function); otherwise through the dynamic api.
///
/// # Safety
/// `out` is valid for writing a `TaskOutputTensors`; `rt`, `mixed_kernels`
/// and `args` are the entry's arguments (see [`fill_on`]); `rt` is NULL or
/// obtained from [`RuntimeObject::as_runtime_ptr`] of a live object.
pub(super) unsafe extern "C" fn submit_fill(
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

/// The [`DirectFill`](crate::runtime::trb::api::DirectFill) of api type `A` (what `A::direct_fill` returns): the
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
