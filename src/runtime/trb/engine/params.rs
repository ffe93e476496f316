//! Engine and per-run parameters and their validation.

use crate::config::RingSizing;
use crate::diagnostics::{Error, Result};
use crate::runtime::trb::layout::TrbMemory;

/// Engine construction options.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Scheduler threads created up front (more are created on demand).
    pub initial_sched_threads: usize,
    /// How long an idle thread spins before parking (µs).
    pub idle_spin_us: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { initial_sched_threads: 2, idle_spin_us: 50 }
    }
}

/// Per-run parameters.
#[derive(Debug, Clone, Copy)]
pub struct RunParams {
    /// Clusters (cores = 3 × block_dim).
    pub block_dim: u32,
    /// Scheduler threads (`aicpu_thread_num − 1`, ≥ 1).
    pub sched_threads: usize,
    /// Ready-queue shards per shape (1..=4).
    pub ready_queue_shards: u32,
    /// Whether the orchestrator thread joins scheduling when done.
    pub orch_to_sched: bool,
    /// Watchdog budget (0 = 10000 ms default).
    pub scheduler_timeout_ms: u64,
    /// The rings' sizes (validated by the resolver; `TrbMemory` holds
    /// tables of exactly `arena::Geometry::of(&sizing)`).
    pub sizing: RingSizing,
    /// Record scope statistics.
    pub scope_stats: bool,
    /// Record the task trace (`RunReport::trace`).
    pub trace: bool,
    /// Explicit edges instead of TensorMap derivation (aicpu_build_graph
    /// ring form): no TensorMap lookup/insert, no creator edges; edges come
    /// from `add_dependency` and `Arg` explicit deps, and a scope's tasks
    /// reach the schedulers at its end.
    pub explicit_deps: bool,
}

impl Default for RunParams {
    fn default() -> Self {
        RunParams {
            block_dim: 3,
            sched_threads: 2,
            ready_queue_shards: 1,
            orch_to_sched: false,
            scheduler_timeout_ms: 0,
            sizing: RingSizing::default(),
            scope_stats: false,
            trace: false,
            explicit_deps: false,
        }
    }
}

/// Checks `p` against the limits of the engine (its sizing is valid by construction).
pub(super) fn validate(memory: &TrbMemory, p: &RunParams) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidArgument(m));
    if p.block_dim == 0 || p.block_dim > 36 {
        return bad(format!("block_dim must be in 1..=36 (got {})", p.block_dim));
    }
    if p.block_dim as usize > 21 * p.sched_threads.max(1) {
        return bad("too many clusters per scheduler thread (max 21)".into());
    }
    if p.sched_threads == 0 || p.sched_threads > 7 {
        return bad(format!("sched_threads must be in 1..=7 (got {})", p.sched_threads));
    }
    if !(1..=4).contains(&p.ready_queue_shards) {
        return bad(format!("ready_queue_shards must be in 1..=4 (got {})", p.ready_queue_shards));
    }
    for (r, m) in memory.rings.iter().enumerate() {
        if m.descriptors.is_null() || m.payloads.is_null() || m.slot_states.is_null() || m.heap.is_null() {
            return bad(format!("ring {r}: memory not provided"));
        }
    }
    Ok(())
}
