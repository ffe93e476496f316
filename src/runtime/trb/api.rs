//! The Rust-level boundary between the orchestration binary interface
//! (`crate::runtime::trb::orchestration`, which decodes upstream's 720-byte `Arg` and the
//! ops table) and the TRB orchestrator. Everything here is plain Rust:
//! no raw layouts cross this line except [`Tensor`].

use super::layout::MAX_TENSOR_ARGS;
use crate::abi::tensor::{Tensor, MAX_TENSOR_DIMS};

/// Raw task id: `(ring << 32) | local`.
pub type TaskIdRaw = u64;
/// Invalid task id.
pub const INVALID_TASK: TaskIdRaw = u64::MAX;

/// Kernel ids of the three lanes of a cluster (`-1` = lane unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixedKernelIds {
    /// AIC lane kernel (func id) or -1.
    pub aic: i32,
    /// First AIV lane kernel or -1.
    pub aiv0: i32,
    /// Second AIV lane kernel or -1.
    pub aiv1: i32,
}

/// Description of a runtime-allocated output (upstream `TensorCreateInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorCreate {
    /// Shape (first `ndims` used).
    pub shapes: [u32; MAX_TENSOR_DIMS],
    /// Rank, 1..=5.
    pub ndims: u32,
    /// `DataType` code.
    pub dtype: u8,
    /// Skip TensorMap tracking.
    pub manual_dep: bool,
    /// Fill value (bit pattern; low `elem_size` bytes repeated), if any.
    pub initial_value: Option<u64>,
}

/// One tensor argument of a submit, tagged as upstream's `TensorArgType`.
#[derive(Debug, Clone, Copy)]
pub enum TensorArg<'a> {
    /// `INPUT` (0): read; creator retention + TensorMap lookup.
    Input(&'a Tensor),
    /// `OUTPUT` (1): new buffer carved from the ring heap.
    Output(&'a TensorCreate),
    /// `INOUT` (2): read+write; lookup (with covered-entry removal) + insert.
    Inout(&'a Tensor),
    /// `OUTPUT_EXISTING` (3): write into an existing tensor; creator retention + insert.
    OutputExisting(&'a Tensor),
    /// `NO_DEP` (4): creator retention only.
    NoDep(&'a Tensor),
}

/// Arguments of one submit, decoded from the caller's `Arg`. All references
/// are valid only for the duration of the call: the orchestrator copies what
/// it keeps.
#[derive(Debug, Clone, Copy)]
pub struct TaskArgsView<'a> {
    /// Tensor arguments in order (≤ 32).
    pub tensors: &'a [TensorArg<'a>],
    /// Scalar arguments in order (≤ 16), raw u64 bit patterns.
    pub scalars: &'a [u64],
    /// SPMD block count (≥ 1).
    pub block_num: i16,
    /// All blocks must start in one dispatch wave.
    pub require_sync_start: bool,
    /// Explicit dependencies (raw task ids).
    pub explicit_deps: &'a [TaskIdRaw],
}

/// Result of a submit: the task id and pointers to the materialized OUTPUT
/// tensors (in add order). The pointers stay valid and unchanged until the
/// scope that created the task ends. An empty result has `task_id ==
/// INVALID_TASK` and no outputs.
#[derive(Debug, Clone)]
pub struct SubmitOutcome {
    /// Raw id of the new task, or [`INVALID_TASK`].
    pub task_id: TaskIdRaw,
    /// Materialized outputs, 64-aligned, stable until scope end.
    pub outputs: Vec<*const Tensor>,
}

impl SubmitOutcome {
    /// The empty result returned after a fatal error.
    #[cfg(test)]
    pub fn empty() -> SubmitOutcome {
        SubmitOutcome { task_id: INVALID_TASK, outputs: Vec::new() }
    }
}

/// Which of the three submitting calls a [`OrchestratorApi::submit_into`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitKind {
    /// `submit_task` with these kernels.
    Task(MixedKernelIds),
    /// `submit_dummy_task`.
    Dummy,
    /// `alloc_tensors`.
    Alloc,
}

/// A way to read [`OrchestratorApi::is_fatal`] without a method call on the
/// api: `read(ctx)` equals `is_fatal()` at every moment, and `ctx` stays
/// valid as long as the api object that handed the probe out.
#[derive(Debug, Clone, Copy)]
pub struct FatalProbe {
    /// The state `read` inspects.
    pub ctx: *const (),
    /// Reads the fatal state behind `ctx`.
    pub read: unsafe fn(*const ()) -> bool,
}

/// The binary interface's submitting body specialised to one concrete api
/// type (see [`OrchestratorApi::direct_fill`]). Its arguments are those of
/// the ops table's submitting entries (kind, result memory, runtime
/// object, `MixedKernels`, `Arg`), type-erased at this boundary.
pub type DirectFill = unsafe extern "C" fn(
    i32,
    *mut std::ffi::c_void,
    *mut std::ffi::c_void,
    *const std::ffi::c_void,
    *const std::ffi::c_void,
);

/// Output pointers of one submit, written in place (no allocation).
pub type OutputSlots = [*const Tensor; MAX_TENSOR_ARGS];

/// Scope mode (upstream `PTO2ScopeMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeMode {
    /// Automatic dependency derivation.
    Auto = 0,
    /// Only explicit dependencies.
    Manual = 1,
}

/// What orchestration code can ask of the TRB runtime. Called only from the
/// single orchestrator thread, while tasks execute concurrently.
pub trait OrchestratorApi {
    /// Submits a kernel task.
    fn submit_task(&mut self, kernels: MixedKernelIds, args: &TaskArgsView<'_>) -> SubmitOutcome;
    /// Submits a dummy task (dependencies only, never runs on a core).
    fn submit_dummy_task(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome;
    /// Allocates OUTPUT tensors through a hidden, already-completed task.
    fn alloc_tensors(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome;
    /// Opens a scope (one level deeper).
    fn scope_begin(&mut self, mode: ScopeMode);
    /// Closes the innermost scope.
    fn scope_end(&mut self);
    /// Marks orchestration finished.
    fn orchestration_done(&mut self);
    /// Whether a fatal error has been latched.
    fn is_fatal(&self) -> bool;
    /// Latches `code` (first wins; 0 sets fatal without a code) with a message.
    fn report_fatal(&mut self, code: i32, message: &str);
    /// Reads one element after all writers of `tensor` completed.
    fn get_tensor_data(&mut self, tensor: &Tensor, indices: &[u32]) -> u64;
    /// Writes one element after writers and their consumers finished.
    fn set_tensor_data(&mut self, tensor: &Tensor, indices: &[u32], value: u64);
    /// Records the call site of the next scope (scope statistics).
    fn scope_set_site(&mut self, file: &str, line: i32);
    /// The allocation-free form of `submit_task` / `submit_dummy_task` /
    /// `alloc_tensors` (per `kind`): same checks, effects and errors; the
    /// output pointers go to `outputs[..count]` and the result is
    /// `(task_id, count)`, `(INVALID_TASK, 0)` after a failure (entries of
    /// `outputs` may then have been written and are to be ignored). The
    /// default forwards to the three methods.
    fn submit_into(
        &mut self,
        kind: SubmitKind,
        args: &TaskArgsView<'_>,
        outputs: &mut OutputSlots,
    ) -> (TaskIdRaw, u32) {
        let o = match kind {
            SubmitKind::Task(k) => self.submit_task(k, args),
            SubmitKind::Dummy => self.submit_dummy_task(args),
            SubmitKind::Alloc => self.alloc_tensors(args),
        };
        let n = o.outputs.len().min(MAX_TENSOR_ARGS);
        outputs[..n].copy_from_slice(&o.outputs[..n]);
        (o.task_id, n as u32)
    }
    /// A [`FatalProbe`] for this api, when it has one: the binary
    /// interface's `is_fatal` entry (asked before every call by the
    /// orchestration header) then reads it directly. The default (`None`)
    /// keeps every `is_fatal` a method call.
    fn fatal_probe(&self) -> Option<FatalProbe> {
        None
    }
    /// The submitting body of the binary interface specialised to this
    /// api's concrete type, when it has one: exactly
    /// `orchestration::ops::fill_for::<Self>` (which treats the runtime
    /// object's api as a `Self`; returning any other function is undefined
    /// behaviour). The submitting entries then reach this api's
    /// `submit_into` inlined, without a dynamic call. Same checks, effects
    /// and results as the dynamic path. The default (`None`) keeps the
    /// dynamic call.
    fn direct_fill(&self) -> Option<DirectFill> {
        None
    }
    /// Adds the edge `producer -> consumer` (aicpu_build_graph ring form:
    /// the orchestrator runs with explicit edges). Not part of the
    /// tensormap_and_ringbuffer API: the default latches INVALID_ARGS.
    fn add_dependency(&mut self, producer: TaskIdRaw, consumer: TaskIdRaw) {
        let _ = (producer, consumer);
        self.report_fatal(
            crate::runtime::trb::layout::codes::INVALID_ARGS,
            "add_dependency needs an orchestrator with explicit edges (aicpu_build_graph ring form)",
        );
    }
}
