//! Byte-exact layouts of aicpu_build_graph's ring form as orchestration code
//! sees them (`include/pto_aicpu_build_graph_ring.h`). The argument types
//! (`Arg`, `MixedKernels`, `Tensor`, `TensorCreateInfo`, `TaskOutputTensors`,
//! `ChipStorageTaskArgs`) are the tensormap_and_ringbuffer ones; this form
//! adds its own runtime head, its 11-entry ops table (upstream's
//! aicpu_build_graph `PTO2RuntimeOps` order before acf39009b) and
//! `SubmitResult`.

use std::ffi::c_char;

use crate::runtime::trb::orchestration::layout::{Arg, MixedKernels, TaskOutputTensors};

/// `PTO2Runtime` of this form: only the ops pointer is visible to the SO.
#[repr(C)]
#[derive(Debug)]
pub struct RingRuntimeHead {
    /// Pointer to the 11-entry ops table.
    pub ops: *const RingOps,
}

/// `SubmitResult`: the new task's id and its materialized outputs
/// (280 B, returned through the hidden sret pointer).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SubmitResult {
    /// Raw task id (`u64::MAX` = invalid).
    pub task_id: u64,
    /// Output tensors of the task (OUTPUT slots, in add order).
    pub outputs: TaskOutputTensors,
}

impl SubmitResult {
    /// The empty result (invalid id, no outputs).
    pub fn empty() -> SubmitResult {
        SubmitResult { task_id: u64::MAX, outputs: TaskOutputTensors::empty() }
    }
}

/// `submit_task(rt, const MixedKernels&, const Arg&)`.
pub type RingSubmitFn = unsafe extern "C" fn(
    rt: *mut RingRuntimeHead,
    mixed_kernels: *const MixedKernels,
    args: *const Arg,
) -> SubmitResult;
/// `add_dependency(rt, PTO2TaskId producer, PTO2TaskId consumer)`: the
/// 8-byte `PTO2TaskId` travels in an integer register like a `uint64_t`.
pub type AddDependencyFn = unsafe extern "C" fn(rt: *mut RingRuntimeHead, producer: u64, consumer: u64);
/// `scope_begin` / `scope_end` / `orchestration_done`.
pub type RingRuntimeFn = unsafe extern "C" fn(rt: *mut RingRuntimeHead);
/// `is_fatal` (C++ `bool`).
pub type RingIsFatalFn = unsafe extern "C" fn(rt: *mut RingRuntimeHead) -> bool;
/// `log_*(func, fmt, ...)` (C-variadic).
pub type RingLogFn = unsafe extern "C" fn(func: *const c_char, fmt: *const c_char, ...);

/// The 11-entry ops table (88 B).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RingOps {
    /// Offset 0.
    pub submit_task: Option<RingSubmitFn>,
    /// Offset 8.
    pub add_dependency: Option<AddDependencyFn>,
    /// Offset 16.
    pub scope_begin: Option<RingRuntimeFn>,
    /// Offset 24.
    pub scope_end: Option<RingRuntimeFn>,
    /// Offset 32.
    pub orchestration_done: Option<RingRuntimeFn>,
    /// Offset 40.
    pub is_fatal: Option<RingIsFatalFn>,
    /// Offset 48.
    pub log_error: Option<RingLogFn>,
    /// Offset 56.
    pub log_warn: Option<RingLogFn>,
    /// Offset 64.
    pub log_info: Option<RingLogFn>,
    /// Offset 72.
    pub log_debug: Option<RingLogFn>,
    /// Offset 80.
    pub log_always: Option<RingLogFn>,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<RingRuntimeHead>() == 8);
    assert!(size_of::<SubmitResult>() == 280 && align_of::<SubmitResult>() == 8);
    assert!(offset_of!(SubmitResult, task_id) == 0);
    assert!(offset_of!(SubmitResult, outputs) == 8);
    assert!(size_of::<RingOps>() == 88 && align_of::<RingOps>() == 8);
    assert!(offset_of!(RingOps, submit_task) == 0);
    assert!(offset_of!(RingOps, add_dependency) == 8);
    assert!(offset_of!(RingOps, scope_begin) == 16);
    assert!(offset_of!(RingOps, scope_end) == 24);
    assert!(offset_of!(RingOps, orchestration_done) == 32);
    assert!(offset_of!(RingOps, is_fatal) == 40);
    assert!(offset_of!(RingOps, log_error) == 48);
    assert!(offset_of!(RingOps, log_warn) == 56);
    assert!(offset_of!(RingOps, log_info) == 64);
    assert!(offset_of!(RingOps, log_debug) == 72);
    assert!(offset_of!(RingOps, log_always) == 80);
};
