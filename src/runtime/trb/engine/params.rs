//! Engine and per-run parameters and their validation.

use crate::diagnostics::{Error, Result};
use crate::runtime::trb::layout::{TrbMemory, MAX_RINGS};

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
    /// Task windows per ring (power of two, ≥ 4).
    pub windows: [u32; 4],
    /// Heaps per ring (≥ 1024 bytes).
    pub heaps: [u64; 4],
    /// Dep pools per ring (≥ 4).
    pub dep_pools: [u32; 4],
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
            windows: [crate::runtime::trb::layout::DEFAULT_TASK_WINDOW; 4],
            heaps: [crate::runtime::trb::layout::DEFAULT_HEAP_SIZE; 4],
            dep_pools: [crate::runtime::trb::layout::DEFAULT_DEP_POOL; 4],
            scope_stats: false,
            trace: false,
            explicit_deps: false,
        }
    }
}

/// Checks `p` against the limits of the engine and the capacities of `memory`.
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
    for r in 0..MAX_RINGS {
        let m = &memory.rings[r];
        let w = p.windows[r];
        if w < 4 || !w.is_power_of_two() || w > m.window {
            return bad(format!(
                "ring {r}: task window {w} must be a power of two in [4, {}] (PTO2_RING_TASK_WINDOW)",
                m.window
            ));
        }
        if p.heaps[r] < 1024 || p.heaps[r] > m.heap_size {
            return bad(format!("ring {r}: heap {} must be in [1024, {}] (PTO2_RING_HEAP)", p.heaps[r], m.heap_size));
        }
        if p.dep_pools[r] < 4 || p.dep_pools[r] > m.dep_pool {
            return bad(format!(
                "ring {r}: dep pool {} must be in [4, {}] (PTO2_RING_DEP_POOL)",
                p.dep_pools[r], m.dep_pool
            ));
        }
        if m.descriptors.is_null() || m.payloads.is_null() || m.slot_states.is_null() || m.heap.is_null() {
            return bad(format!("ring {r}: memory not provided"));
        }
    }
    let sum: usize = p.windows.iter().map(|&w| w as usize).sum();
    if memory.scope_tasks_cap < sum {
        return bad("scope_tasks region smaller than the sum of task windows".into());
    }
    Ok(())
}
