//! `#[repr(C)]` mirrors of the structures an orchestration SO (TRB, upstream
//! c68d9bbe6 headers, `PTO2_PROFILING=1`) and a sim kernel SO exchange with
//! the runtime. Every size, alignment and field offset is pinned by a
//! compile-time assertion; the numbers are those of upstream c68d9bbe6 (a2a3, LP64).

use std::ffi::{c_char, c_void};

use crate::abi::tensor::{Tensor, MAX_TENSOR_DIMS};

/// Tensor slots of one task `Arg` (`MAX_TENSOR_ARGS`).
pub const MAX_TENSOR_ARGS: usize = 32;
/// Scalar slots of one task `Arg` (`MAX_SCALAR_ARGS`).
pub const MAX_SCALAR_ARGS: usize = 16;
/// Number of `u64` slots of a dispatch payload's `args`.
pub const PAYLOAD_ARG_SLOTS: usize = 50;
/// Byte offset of `tensor_count_` inside `ChipStorageTaskArgs`.
pub const CHIP_STORAGE_TENSOR_COUNT_OFFSET: usize = 17408;
/// Byte offset of `scalar_count_` inside `ChipStorageTaskArgs`.
pub const CHIP_STORAGE_SCALAR_COUNT_OFFSET: usize = 17412;
/// Required alignment of a `ChipStorageTaskArgs` image.
pub const CHIP_STORAGE_TASK_ARGS_ALIGN: usize = 64;

/// `TensorArgType` values stored in `Arg::tags`.
pub mod tag {
    /// Read-only input.
    pub const INPUT: i32 = 0;
    /// Runtime-allocated output; the slot points to a `TensorCreateInfo`.
    pub const OUTPUT: i32 = 1;
    /// Read and written.
    pub const INOUT: i32 = 2;
    /// Written into an existing tensor.
    pub const OUTPUT_EXISTING: i32 = 3;
    /// Creator retention only, no TensorMap tracking.
    pub const NO_DEP: i32 = 4;
}

/// Orchestrator error codes (`PTO2_ERROR_*`) the binary interface latches.
pub mod error_code {
    /// Malformed arguments (`PTO2_ERROR_INVALID_ARGS`).
    pub const INVALID_ARGS: i32 = 5;
    /// Orchestration aborted on purpose (`PTO2_ERROR_EXPLICIT_ORCH_FATAL`);
    /// also latched when runtime code panics inside an ops entry.
    pub const EXPLICIT_ORCH_FATAL: i32 = 9;
}

/// `PTO2LaunchSpec`: SPMD launch parameters (4 B, align 2).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchSpec {
    /// Number of SPMD blocks (≥ 1).
    pub block_num: i16,
    /// All blocks must start together (C++ `bool`).
    pub require_sync_start: u8,
    /// Padding.
    pub pad: u8,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<LaunchSpec>() == 4);
    assert!(align_of::<LaunchSpec>() == 2);
    assert!(offset_of!(LaunchSpec, block_num) == 0);
    assert!(offset_of!(LaunchSpec, require_sync_start) == 2);
};

/// `DumpArgSelection` (160 B): tensor-dump selection, only read when the
/// tensor dump is enabled.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DumpArgSelection {
    /// Bit i = argument i (tensors first, then scalars) is dumped.
    pub dump_arg_mask: u64,
    /// Bits whose index was ambiguous at selection time.
    pub dump_arg_index_ambiguous_mask: u64,
    /// Source addresses of the scalars (for naming).
    pub scalar_source_ptrs: [usize; MAX_SCALAR_ARGS],
    /// `DataType` code per scalar.
    pub scalar_dtypes: [u8; MAX_SCALAR_ARGS],
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<DumpArgSelection>() == 160);
    assert!(offset_of!(DumpArgSelection, dump_arg_mask) == 0);
    assert!(offset_of!(DumpArgSelection, dump_arg_index_ambiguous_mask) == 8);
    assert!(offset_of!(DumpArgSelection, scalar_source_ptrs) == 16);
    assert!(offset_of!(DumpArgSelection, scalar_dtypes) == 144);
};

/// Upstream's task-argument builder `Arg` (alias `L0TaskArgs`), 720 bytes.
/// Every pointer inside is owned by the caller and valid only during the
/// ops call that receives it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    /// `TensorArgType` per tensor slot (see [`tag`]).
    pub tags: [i32; MAX_TENSOR_ARGS],
    /// `const Tensor*` (tags 0, 2, 3, 4) or `const TensorCreateInfo*` (tag 1).
    pub refs: [*const c_void; MAX_TENSOR_ARGS],
    /// Scalar bit patterns.
    pub scalars: [u64; MAX_SCALAR_ARGS],
    /// Number of used tensor slots.
    pub tensor_count: i32,
    /// Number of used scalar slots.
    pub scalar_count: i32,
    /// The builder recorded an error (C++ `bool`).
    pub has_error: u8,
    /// Padding.
    pub pad0: [u8; 7],
    /// Static message of the first builder error.
    pub error_msg: *const c_char,
    /// SPMD launch parameters.
    pub launch_spec: LaunchSpec,
    /// Speculative-dispatch hint (C++ `bool`).
    pub allow_early_resolve: u8,
    /// Padding.
    pub pad1: [u8; 3],
    /// Tensor-dump selection.
    pub dump_arg_selection: DumpArgSelection,
    /// Caller-owned array of explicit dependencies (raw task ids).
    pub explicit_deps: *const u64,
    /// Number of explicit dependencies.
    pub explicit_dep_count: u32,
    /// Padding.
    pub pad2: u32,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<Arg>() == 720);
    assert!(align_of::<Arg>() == 8);
    assert!(offset_of!(Arg, tags) == 0);
    assert!(offset_of!(Arg, refs) == 128);
    assert!(offset_of!(Arg, scalars) == 384);
    assert!(offset_of!(Arg, tensor_count) == 512);
    assert!(offset_of!(Arg, scalar_count) == 516);
    assert!(offset_of!(Arg, has_error) == 520);
    assert!(offset_of!(Arg, error_msg) == 528);
    assert!(offset_of!(Arg, launch_spec) == 536);
    assert!(offset_of!(Arg, launch_spec) + offset_of!(LaunchSpec, require_sync_start) == 538);
    assert!(offset_of!(Arg, allow_early_resolve) == 540);
    assert!(offset_of!(Arg, dump_arg_selection) == 544);
    assert!(offset_of!(Arg, explicit_deps) == 704);
    assert!(offset_of!(Arg, explicit_dep_count) == 712);
};

impl Arg {
    /// An empty argument list (no tensors, no scalars, `block_num` 1).
    #[cfg(test)]
    pub fn empty() -> Arg {
        Arg {
            tags: [0; MAX_TENSOR_ARGS],
            refs: [std::ptr::null(); MAX_TENSOR_ARGS],
            scalars: [0; MAX_SCALAR_ARGS],
            tensor_count: 0,
            scalar_count: 0,
            has_error: 0,
            pad0: [0; 7],
            error_msg: std::ptr::null(),
            launch_spec: LaunchSpec { block_num: 1, require_sync_start: 0, pad: 0 },
            allow_early_resolve: 0,
            pad1: [0; 3],
            dump_arg_selection: DumpArgSelection {
                dump_arg_mask: 0,
                dump_arg_index_ambiguous_mask: 0,
                scalar_source_ptrs: [0; MAX_SCALAR_ARGS],
                scalar_dtypes: [0; MAX_SCALAR_ARGS],
            },
            explicit_deps: std::ptr::null(),
            explicit_dep_count: 0,
            pad2: 0,
        }
    }
}

/// Result of `submit_task` / `alloc_tensors` / `submit_dummy_task`
/// (272 B), returned through the hidden sret pointer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TaskOutputTensors {
    /// Raw task id (`u64::MAX` = invalid).
    pub task_id: u64,
    /// Number of valid entries of `tensors`.
    pub output_count: u32,
    /// Padding.
    pub pad: u32,
    /// One pointer per OUTPUT slot, in add order.
    pub tensors: [*const Tensor; MAX_TENSOR_ARGS],
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<TaskOutputTensors>() == 272);
    assert!(align_of::<TaskOutputTensors>() == 8);
    assert!(offset_of!(TaskOutputTensors, task_id) == 0);
    assert!(offset_of!(TaskOutputTensors, output_count) == 8);
    assert!(offset_of!(TaskOutputTensors, tensors) == 16);
};

impl TaskOutputTensors {
    /// The empty/failed result: invalid id, no outputs.
    pub fn empty() -> TaskOutputTensors {
        TaskOutputTensors { task_id: u64::MAX, output_count: 0, pad: 0, tensors: [std::ptr::null(); MAX_TENSOR_ARGS] }
    }
}

/// `TensorCreateInfo` (64 B, align 64): description of an OUTPUT the
/// runtime allocates. Bytes 24..63 coincide with `Tensor`'s.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorCreateInfo {
    /// Fill value bit pattern.
    pub initial_value: u64,
    /// `initial_value` is meaningful (C++ `bool`).
    pub has_initial_value: u8,
    /// Padding.
    pub pad1: [u8; 7],
    /// Occupies `Tensor::owner_task_id`'s slot.
    pub pad2: u64,
    /// Always 0.
    pub start_offset: u64,
    /// Always 0.
    pub version: i32,
    /// Rank, 1..=5.
    pub ndims: u32,
    /// `DataType` code.
    pub dtype: u8,
    /// Skip TensorMap tracking (C++ `bool`).
    pub manual_dep: u8,
    /// Always 1.
    pub is_contiguous: u8,
    /// Always 0.
    pub pad_flags: u8,
    /// Shape.
    pub shapes: [u32; MAX_TENSOR_DIMS],
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<TensorCreateInfo>() == 64);
    assert!(align_of::<TensorCreateInfo>() == 64);
    assert!(offset_of!(TensorCreateInfo, initial_value) == 0);
    assert!(offset_of!(TensorCreateInfo, has_initial_value) == 8);
    assert!(offset_of!(TensorCreateInfo, pad2) == 16);
    assert!(offset_of!(TensorCreateInfo, start_offset) == 24);
    assert!(offset_of!(TensorCreateInfo, version) == 32);
    assert!(offset_of!(TensorCreateInfo, ndims) == 36);
    assert!(offset_of!(TensorCreateInfo, dtype) == 40);
    assert!(offset_of!(TensorCreateInfo, manual_dep) == 41);
    assert!(offset_of!(TensorCreateInfo, is_contiguous) == 42);
    assert!(offset_of!(TensorCreateInfo, pad_flags) == 43);
    assert!(offset_of!(TensorCreateInfo, shapes) == 44);
};

/// `MixedKernels` (12 B): kernel func ids of the three lanes (−1 = unused).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixedKernels {
    /// AIC lane kernel.
    pub aic_kernel_id: i32,
    /// First AIV lane kernel.
    pub aiv0_kernel_id: i32,
    /// Second AIV lane kernel.
    pub aiv1_kernel_id: i32,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<MixedKernels>() == 12);
    assert!(align_of::<MixedKernels>() == 4);
    assert!(offset_of!(MixedKernels, aic_kernel_id) == 0);
    assert!(offset_of!(MixedKernels, aiv0_kernel_id) == 4);
    assert!(offset_of!(MixedKernels, aiv1_kernel_id) == 8);
};

/// The first 16 bytes of the runtime object every orchestration SO sees as
/// `PTO2Runtime`: the ops table pointer and the pending scope mode the SO
/// writes right before `scope_begin`.
#[repr(C)]
#[derive(Debug)]
pub struct PTO2RuntimeHead {
    /// Pointer to the 15-entry ops table.
    pub ops: *const PTO2RuntimeOps,
    /// `PTO2ScopeMode` (0 = AUTO, 1 = MANUAL) of the next `scope_begin`.
    pub pending_scope_mode: u8,
    /// Runtime-private bytes up to the next 8-byte boundary.
    pub pad: [u8; 7],
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<PTO2RuntimeHead>() == 16);
    assert!(align_of::<PTO2RuntimeHead>() == 8);
    assert!(offset_of!(PTO2RuntimeHead, ops) == 0);
    assert!(offset_of!(PTO2RuntimeHead, pending_scope_mode) == 8);
};

/// `submit_task` entry type (272-byte result via sret).
pub type SubmitTaskFn = unsafe extern "C" fn(
    rt: *mut PTO2RuntimeHead,
    mixed_kernels: *const MixedKernels,
    args: *const Arg,
) -> TaskOutputTensors;
/// `scope_begin` / `scope_end` / `orchestration_done` entry type.
pub type RuntimeFn = unsafe extern "C" fn(rt: *mut PTO2RuntimeHead);
/// `is_fatal` entry type (C++ `bool` result).
pub type IsFatalFn = unsafe extern "C" fn(rt: *mut PTO2RuntimeHead) -> bool;
/// `report_fatal(rt, code, func, fmt, ...)` (C-variadic).
pub type ReportFatalFn =
    unsafe extern "C" fn(rt: *mut PTO2RuntimeHead, error_code: i32, func: *const c_char, fmt: *const c_char, ...);
/// `log_error` / `log_warn` / `log_debug` (C-variadic).
pub type LogFn = unsafe extern "C" fn(func: *const c_char, fmt: *const c_char, ...);
/// `log_info_v(func, v, fmt, ...)` (C-variadic).
pub type LogInfoVFn = unsafe extern "C" fn(func: *const c_char, v: i32, fmt: *const c_char, ...);
/// `get_tensor_data` entry type.
pub type GetTensorDataFn =
    unsafe extern "C" fn(rt: *mut PTO2RuntimeHead, tensor: *const Tensor, ndims: u32, indices: *const u32) -> u64;
/// `set_tensor_data` entry type.
pub type SetTensorDataFn =
    unsafe extern "C" fn(rt: *mut PTO2RuntimeHead, tensor: *const Tensor, ndims: u32, indices: *const u32, value: u64);
/// `alloc_tensors` / `submit_dummy_task` entry type (sret result).
pub type ArgsOnlyFn = unsafe extern "C" fn(rt: *mut PTO2RuntimeHead, args: *const Arg) -> TaskOutputTensors;
/// `scope_set_site(file, line)` entry type.
pub type ScopeSetSiteFn = unsafe extern "C" fn(file: *const c_char, line: i32);

/// `PTO2RuntimeOps`: the 15-entry function table (120 B) in the exact
/// order of upstream's `PTO2RuntimeOps` (c68d9bbe6).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PTO2RuntimeOps {
    /// Offset 0.
    pub submit_task: Option<SubmitTaskFn>,
    /// Offset 8.
    pub scope_begin: Option<RuntimeFn>,
    /// Offset 16.
    pub scope_end: Option<RuntimeFn>,
    /// Offset 24.
    pub orchestration_done: Option<RuntimeFn>,
    /// Offset 32.
    pub is_fatal: Option<IsFatalFn>,
    /// Offset 40.
    pub report_fatal: Option<ReportFatalFn>,
    /// Offset 48.
    pub log_error: Option<LogFn>,
    /// Offset 56.
    pub log_warn: Option<LogFn>,
    /// Offset 64.
    pub log_debug: Option<LogFn>,
    /// Offset 72.
    pub log_info_v: Option<LogInfoVFn>,
    /// Offset 80.
    pub get_tensor_data: Option<GetTensorDataFn>,
    /// Offset 88.
    pub set_tensor_data: Option<SetTensorDataFn>,
    /// Offset 96.
    pub alloc_tensors: Option<ArgsOnlyFn>,
    /// Offset 104.
    pub submit_dummy_task: Option<ArgsOnlyFn>,
    /// Offset 112 (may be NULL; the SO null-checks it).
    pub scope_set_site: Option<ScopeSetSiteFn>,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<PTO2RuntimeOps>() == 120);
    assert!(align_of::<PTO2RuntimeOps>() == 8);
    assert!(offset_of!(PTO2RuntimeOps, submit_task) == 0);
    assert!(offset_of!(PTO2RuntimeOps, scope_begin) == 8);
    assert!(offset_of!(PTO2RuntimeOps, scope_end) == 16);
    assert!(offset_of!(PTO2RuntimeOps, orchestration_done) == 24);
    assert!(offset_of!(PTO2RuntimeOps, is_fatal) == 32);
    assert!(offset_of!(PTO2RuntimeOps, report_fatal) == 40);
    assert!(offset_of!(PTO2RuntimeOps, log_error) == 48);
    assert!(offset_of!(PTO2RuntimeOps, log_warn) == 56);
    assert!(offset_of!(PTO2RuntimeOps, log_debug) == 64);
    assert!(offset_of!(PTO2RuntimeOps, log_info_v) == 72);
    assert!(offset_of!(PTO2RuntimeOps, get_tensor_data) == 80);
    assert!(offset_of!(PTO2RuntimeOps, set_tensor_data) == 88);
    assert!(offset_of!(PTO2RuntimeOps, alloc_tensors) == 96);
    assert!(offset_of!(PTO2RuntimeOps, submit_dummy_task) == 104);
    assert!(offset_of!(PTO2RuntimeOps, scope_set_site) == 112);
};

/// `PTO2OrchestrationConfig`: the config function's result (4 B, in EAX).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PTO2OrchestrationConfig {
    /// Minimum `tensor_count + scalar_count` (checked when > 0).
    pub expected_arg_count: i32,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<PTO2OrchestrationConfig>() == 4);
    assert!(align_of::<PTO2OrchestrationConfig>() == 4);
    assert!(offset_of!(PTO2OrchestrationConfig, expected_arg_count) == 0);
};

/// `AsyncCtx` (40 B): where a kernel registers deferred completions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AsyncCtx {
    /// `&slab.count`.
    pub completion_count: *mut u32,
    /// `&slab.error_code`.
    pub completion_error_code: *mut i32,
    /// `&slab.entries[0]`.
    pub completion_entries: *mut c_void,
    /// Number of entries (64).
    pub completion_capacity: u32,
    /// Padding.
    pub pad: u32,
    /// Raw id of the dispatched task.
    pub task_token: u64,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<AsyncCtx>() == 40);
    assert!(align_of::<AsyncCtx>() == 8);
    assert!(offset_of!(AsyncCtx, completion_count) == 0);
    assert!(offset_of!(AsyncCtx, completion_error_code) == 8);
    assert!(offset_of!(AsyncCtx, completion_entries) == 16);
    assert!(offset_of!(AsyncCtx, completion_capacity) == 24);
    assert!(offset_of!(AsyncCtx, task_token) == 32);
};

/// `LocalContext` (48 B): per-dispatch SPMD identity, `args[48]` points here.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LocalContext {
    /// Block index, `0..block_num`.
    pub block_idx: i32,
    /// The task's `block_num`.
    pub block_num: i32,
    /// Deferred-completion context.
    pub async_ctx: AsyncCtx,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<LocalContext>() == 48);
    assert!(align_of::<LocalContext>() == 8);
    assert!(offset_of!(LocalContext, block_idx) == 0);
    assert!(offset_of!(LocalContext, block_num) == 4);
    assert!(offset_of!(LocalContext, async_ctx) == 8);
};

/// `GlobalContext` (4 B): per-core identity, `args[49]` points here.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalContext {
    /// AIV lane of the executing core (0 on AIC).
    pub sub_block_id: i32,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<GlobalContext>() == 4);
    assert!(offset_of!(GlobalContext, sub_block_id) == 0);
};

/// `PTO2DispatchPayload` (512 B, align 64): what one kernel call receives;
/// `kernel_entry(payload.args.as_mut_ptr())`.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy)]
pub struct PTO2DispatchPayload {
    /// The kernel's `kernel_entry` address (0 = skip).
    pub function_bin_addr: u64,
    /// Kernel arguments: tensor pointers, scalars, stale slots, then the
    /// context pointers at 48/49.
    pub args: [u64; PAYLOAD_ARG_SLOTS],
    /// Target of `args[48]`.
    pub local_context: LocalContext,
    /// Target of `args[49]`.
    pub global_context: GlobalContext,
    /// Speculative gate (0 = run on pickup).
    pub not_ready: u32,
    /// Reserved.
    pub reserved: u32,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<PTO2DispatchPayload>() == 512);
    assert!(align_of::<PTO2DispatchPayload>() == 64);
    assert!(offset_of!(PTO2DispatchPayload, function_bin_addr) == 0);
    assert!(offset_of!(PTO2DispatchPayload, args) == 8);
    assert!(offset_of!(PTO2DispatchPayload, local_context) == 408);
    assert!(offset_of!(PTO2DispatchPayload, global_context) == 456);
    assert!(offset_of!(PTO2DispatchPayload, not_ready) == 460);
    assert!(offset_of!(PTO2DispatchPayload, reserved) == 464);
};
