//! Decoding of the `Arg` a submitting entry receives: counts, tags and
//! pointers checked, OUTPUT create infos decoded, and the result a
//! [`TaskArgsView`] over the caller's memory (no tensor copied). Malformed
//! arguments are reported as fatal code 5.

use std::mem::MaybeUninit;

use super::boundary::{c_text, checked_ref, fatal_invalid_on};
use super::layout::{tag, Arg, TaskOutputTensors, TensorCreateInfo, MAX_SCALAR_ARGS, MAX_TENSOR_ARGS};
use crate::abi::tensor::{Tensor, MAX_TENSOR_DIMS};
use crate::abi::DataType;
use crate::runtime::trb::api::{OrchestratorApi, SubmitOutcome, TaskArgsView, TensorArg, TensorCreate};

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
pub(super) unsafe fn decode_and<A: OrchestratorApi + ?Sized, R>(
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
