//! Runtime variants executed on the simulated device. Each variant is a
//! self-contained folder (host glue, orchestration ABI, device-side state)
//! implementing [`RuntimeBackend`], the interface the device context drives.

pub mod abg;
pub mod hbg;
pub(crate) mod prefetch;
pub mod trace;
pub mod trb;
pub(crate) mod wait;

use std::sync::Arc;
use std::time::Duration;

use crate::abi::task_args::ChipStorageTaskArgs;
use crate::callable::Registry;
use crate::config::{ResolvedRun, RuntimeVariant};
use crate::device::memory::DeviceMemory;
use crate::diagnostics::Result;

/// The stuck-orchestration threshold shared by every runtime variant, as a
/// fraction `STUCK_ORCH_BUDGETS.0 / STUCK_ORCH_BUDGETS.1` of the watchdog
/// budget (`scheduler_timeout_ms`): an orchestration silent in user code (no
/// runtime call, no return) for longer than 1.5 budgets is stuck, which
/// bounds the failure well inside 2 budgets of the last progress (upstream's
/// S5 orchestrator-starvation stall).
pub const STUCK_ORCH_BUDGETS: (u32, u32) = (3, 2);

/// How long an orchestration may stay silent under a `timeout_ms` budget
/// before it counts as stuck (see [`STUCK_ORCH_BUDGETS`]).
pub fn stuck_orchestration_after(timeout_ms: u64) -> Duration {
    Duration::from_millis(timeout_ms) * STUCK_ORCH_BUDGETS.0 / STUCK_ORCH_BUDGETS.1
}

/// One run as a backend receives it: the callable, its host arguments and the
/// validated execution shape, all resolved by the device context.
pub struct RunRequest<'a> {
    /// Callable id (registered in the context's registry on this variant).
    pub id: i32,
    /// Entry arguments (host pointers), already validated against the signature.
    pub args: &'a ChipStorageTaskArgs,
    /// Device the context is attached to.
    pub device_id: i32,
    /// Clusters (1..=24).
    pub block_dim: u32,
    /// AICPU threads (1..=4).
    pub threads: u32,
    /// The latched per-device watchdog budget (`scheduler_timeout_ms`).
    pub timeout_ms: u64,
    /// The per-run knobs resolved for this run.
    pub run_cfg: &'a ResolvedRun,
    /// Write the task trace (`enable_l2_swimlane` non-zero).
    pub trace: bool,
    /// Write scope statistics (`enable_scope_stats` non-zero).
    pub scope_stats: bool,
    /// Directory for diagnostics output.
    pub output_prefix: &'a str,
}

/// A runtime variant as the device context drives it. The context owns at
/// most one backend per variant, created by [`new_backend`] when a callable of
/// that variant is first prepared, and dispatches every call for a callable
/// to the backend of the callable's variant. The callable registry holds only
/// what all variants share (parsed images, kernel objects, the dlopen
/// counters); whatever a variant loads for a callable (its orchestration) is
/// the backend's, kept per callable id until [`unregister`](Self::unregister).
///
/// Dropping a backend is its finalize: it releases what it loaded, except
/// when poisoned, where everything a stuck thread may still use is leaked.
pub trait RuntimeBackend: Send {
    /// The variant this backend runs.
    fn variant(&self) -> RuntimeVariant;

    /// Called once callable `id` (of this variant) is in `registry`: loads
    /// what the variant needs at registration, bumping the registry's dlopen
    /// counters for what it loads. On error the context unregisters `id`.
    fn prepare(&mut self, id: i32, registry: &mut Registry) -> Result<()>;

    /// Runs `req` on `memory`, staging and copying back the entry tensors;
    /// returns the device wall time in ns. A run that abandons a thread stuck
    /// in user code poisons the backend, and leaks `registry`'s contents and
    /// `memory`'s allocations (the stuck thread may still use them).
    fn run(&mut self, req: &RunRequest<'_>, registry: &mut Registry, memory: &Arc<DeviceMemory>) -> Result<u64>;

    /// Drops what the backend loaded for callable `id` (no-op if nothing).
    fn unregister(&mut self, id: i32);

    /// Why the backend is poisoned (a run abandoned a stuck thread), if it is.
    fn poisoned(&self) -> Option<&str>;

    /// How many device arenas the backend has built (0 for a variant without
    /// a prebuilt arena, and before the first run).
    fn arena_builds(&self) -> u64 {
        0
    }
}

/// A fresh backend for `variant` (cheap: device-side state is created at its
/// first run).
pub fn new_backend(variant: RuntimeVariant) -> Result<Box<dyn RuntimeBackend>> {
    match variant {
        RuntimeVariant::HostBuildGraph => Ok(Box::new(hbg::host::HbgBackend::default())),
        RuntimeVariant::TensormapAndRingbuffer => Ok(Box::new(trb::host::TrbBackend::default())),
        RuntimeVariant::AicpuBuildGraph => Ok(Box::new(abg::host::AbgBackend::default())),
    }
}
