//! Building a run's shared state and orchestrator tables over its memory.

use super::params::RunParams;
use crate::runtime::trb::arena::Geometry;
use crate::runtime::trb::layout::{Region, TrbMemory, DEFAULT_SCHEDULER_TIMEOUT_MS, MAX_RINGS};
use crate::runtime::trb::local_queue::LocalQueue;
use crate::runtime::trb::orchestrator::OrchTables;
use crate::runtime::trb::parker::Parker;
use crate::runtime::trb::pools::{DepListPool, FaninPool};
use crate::runtime::trb::queue::{Padded, ReadyQueue, WiringQueue};
use crate::runtime::trb::ring::RingShared;
use crate::runtime::trb::shared::{CoreSlot, FatalState, ReadyQueues, RunShared, StallInfo, WiringState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Mutex;
use std::time::Instant;

/// Builds the shared run state and the orchestrator tables over `memory`,
/// carving each table with the element count [`Geometry`] gives for
/// `p.sizing` (the counts the arena reserved).
pub(crate) fn build_run(memory: &TrbMemory, p: &RunParams) -> (RunShared, OrchTables) {
    let g = Geometry::of(&p.sizing);
    let mut rings = Vec::new();
    let mut fanin_pools = Vec::new();
    let mut seen = Vec::new();
    let mut dep_pools = Vec::new();
    let mut heads: Vec<Region<u64>> = Vec::new();
    let mut spill_pools = [(0usize, 0u64); MAX_RINGS];
    for (r, m) in memory.rings.iter().enumerate() {
        let (t, size) = (&g.rings[r], p.sizing.ring(r));
        // SAFETY (all from_raw calls below): the TrbMemory contract gives each
        // pointer the table `Geometry::of(&p.sizing)` describes, exclusively
        // for this run.
        unsafe {
            rings.push(RingShared::new(
                r,
                size,
                Region::from_raw(m.descriptors, t.descriptors.count),
                Region::from_raw(m.payloads, t.payloads.count),
                Region::from_raw(m.hot_payloads, t.hot_payloads.count),
                Region::from_raw(m.slot_states, t.slot_states.count),
                m.heap as u64,
            ));
            let pool = FaninPool::new(Region::from_raw(m.fanin_spill, t.fanin_spill.count));
            spill_pools[r] = (pool.base() as usize, u64::from(size.dep_pool.get()));
            fanin_pools.push(pool);
            // Zero at the start of every run without a pass over the whole
            // window: fresh arena memory is zero and every run zeroes what it
            // touched (`clear_seen`, when it ends).
            let s = Region::from_raw(m.fanin_seen_epoch, t.fanin_seen_epoch.count);
            debug_assert!(s.as_slice().iter().take(64).all(|&e| e == 0), "ring {r}: seen epochs not cleared");
            seen.push(s);
            dep_pools.push(DepListPool::new(Region::from_raw(m.dep_list, t.dep_list.count), size.window.slots()));
            heads.push(Region::from_raw(m.task_entry_heads, t.task_entry_heads.count));
        }
    }
    let shards = p.ready_queue_shards as usize;
    let queue = g.ready_queue.count;
    let shard_cap = (queue / shards).next_power_of_two() >> if (queue / shards).is_power_of_two() { 0 } else { 1 };
    let mut ready_regions = Vec::new();
    for q in 0..3 {
        let mut v = Vec::new();
        for k in 0..shards {
            // SAFETY: shard k covers cells [k*cap, (k+1)*cap) of a 65536-cell region.
            v.push(unsafe { Region::from_raw(memory.ready_queues[q].wrapping_add(k * shard_cap), shard_cap) });
        }
        ready_regions.push(v);
    }
    let heads_arr: [Region<u64>; MAX_RINGS] = heads.try_into().unwrap_or_else(|_| unreachable!());
    let cores = (0..3 * p.block_dim).map(|_| CoreSlot::default()).collect();
    let timeout_ms = if p.scheduler_timeout_ms > 0 { p.scheduler_timeout_ms } else { DEFAULT_SCHEDULER_TIMEOUT_MS };
    // SAFETY: as above (TrbMemory contract).
    let (tensormap, scope_tasks, dummy, (wiring, wiring_tx, wiring_rx)) = unsafe {
        (
            crate::runtime::trb::tensormap::TensorMap::new(
                Region::from_raw(memory.tm_buckets, g.tm_buckets.count),
                Region::from_raw(memory.tm_entries, g.tm_entries.count),
                Region::from_raw(memory.tm_free_list, g.tm_free_list.count),
                heads_arr,
            ),
            Region::from_raw(memory.scope_tasks, g.scope_tasks.count),
            ReadyQueue::new(Region::from_raw(memory.ready_queues[3], queue)),
            WiringQueue::new(Region::from_raw(memory.wiring, g.wiring.count)),
        )
    };
    let sh = RunShared {
        rings,
        spill_pools,
        ready: ReadyQueues::new(ready_regions),
        dummy,
        wiring,
        wiring_state: Mutex::new(WiringState {
            dep_pools,
            reported: [false; MAX_RINGS],
            unwired_scans: Default::default(),
            wiring: wiring_rx,
        }),
        producer_blocked: AtomicBool::new(false),
        orch_error: Default::default(),
        sched_error: Default::default(),
        fatal_flag: AtomicBool::new(false),
        any_fatal: AtomicBool::new(false),
        stall: Mutex::new(StallInfo::default()),
        fatal: Mutex::new(FatalState::default()),
        orch_epoch: Padded(AtomicU64::new(1)),
        watchdog_seen_epoch: AtomicU64::new(1),
        orch_done: AtomicBool::new(false),
        total_tasks: AtomicU64::new(0),
        submitted: Padded(AtomicU64::new(0)),
        completed: Padded(AtomicU64::new(0)),
        wired: AtomicU64::new(0),
        run_complete: Padded(AtomicBool::new(false)),
        on_end: std::sync::OnceLock::new(),
        locals: (0..=p.sched_threads).map(|_| LocalQueue::default()).collect(),
        cores,
        block_dim: p.block_dim,
        last_progress_ms: AtomicU64::new(0),
        start: Instant::now(),
        timeout_ms,
        watchdog_seen_submitted: AtomicU64::new(0),
        scope_stats: p.scope_stats,
        trace: p.trace.then(crate::runtime::trb::trace::TraceSink::default),
        parker: Parker::default(),
        drain_owner: AtomicUsize::new(0),
    };
    let tables = OrchTables { fanin_pools, seen, tensormap, scope_tasks, wiring: wiring_tx };
    (sh, tables)
}

/// Restores the orchestrator's seen-epoch arrays of `memory` to zero after a
/// run over it ended (every thread done with the run): the orchestrator marks
/// only slots of tasks it allocated, so the first `current_task_index` slots
/// of each ring (all of them once the run wrapped its window) cover every
/// mark. The next run then starts from zeroed arrays without clearing the
/// whole window (four windows of 16384 entries at the default sizing).
pub(crate) fn clear_seen(memory: &TrbMemory, p: &RunParams, sh: &RunShared) {
    let g = Geometry::of(&p.sizing);
    for (r, m) in memory.rings.iter().enumerate() {
        let w = g.rings[r].fanin_seen_epoch.count;
        let used = sh.rings[r].current_task_index.load(std::sync::atomic::Ordering::Acquire);
        let n = usize::try_from(used).map_or(w, |u| u.min(w));
        // SAFETY: the TrbMemory contract (see `build_run`); the run is over,
        // so nothing else uses the array.
        let mut s = unsafe { Region::from_raw(m.fanin_seen_epoch, w) };
        s.as_mut_slice()[..n].fill(0);
    }
}
