//! Building a run's shared state and orchestrator tables over its memory.

use super::params::RunParams;
use crate::runtime::trb::layout::{
    Region, TrbMemory, DEFAULT_SCHEDULER_TIMEOUT_MS, MAX_RINGS, READY_QUEUE_SIZE, TENSORMAP_NUM_BUCKETS,
    TENSORMAP_POOL_SIZE, WIRING_QUEUE_SIZE,
};
use crate::runtime::trb::orchestrator::OrchTables;
use crate::runtime::trb::pools::{DepListPool, FaninPool};
use crate::runtime::trb::queue::{ReadyQueue, WiringQueue};
use crate::runtime::trb::ring::RingShared;
use crate::runtime::trb::shared::{CoreSlot, FatalState, Parker, ReadyQueues, RunShared, StallInfo, WiringState};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize};
use std::sync::Mutex;
use std::time::Instant;

/// Builds the shared run state and the orchestrator tables over `memory`.
pub(crate) fn build_run(memory: &TrbMemory, p: &RunParams) -> (RunShared, OrchTables) {
    let mut rings = Vec::new();
    let mut fanin_pools = Vec::new();
    let mut seen = Vec::new();
    let mut dep_pools = Vec::new();
    let mut heads: Vec<Region<u64>> = Vec::new();
    let mut spill_pools = [(0usize, 0u64); MAX_RINGS];
    for (r, m) in memory.rings.iter().enumerate() {
        let w = p.windows[r] as usize;
        let d = p.dep_pools[r] as usize;
        // SAFETY (all from_raw calls below): the TrbMemory contract gives each
        // pointer at least the capacity recorded in `memory`, validated to be
        // ≥ the sizes used here, exclusively for this run.
        unsafe {
            rings.push(RingShared::new(
                r,
                Region::from_raw(m.descriptors, w),
                Region::from_raw(m.payloads, w),
                Region::from_raw(m.slot_states, w),
                m.heap as u64,
                p.heaps[r],
            ));
            let pool = FaninPool::new(Region::from_raw(m.fanin_spill, d));
            spill_pools[r] = (pool.base() as usize, d as u64);
            fanin_pools.push(pool);
            let mut s = Region::from_raw(m.fanin_seen_epoch, w);
            s.as_mut_slice().fill(0);
            seen.push(s);
            dep_pools.push(DepListPool::new(Region::from_raw(m.dep_list, d), w));
            heads.push(Region::from_raw(m.task_entry_heads, w));
        }
    }
    let shards = p.ready_queue_shards as usize;
    let shard_cap = (READY_QUEUE_SIZE / shards).next_power_of_two()
        >> if (READY_QUEUE_SIZE / shards).is_power_of_two() { 0 } else { 1 };
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
                Region::from_raw(memory.tm_buckets, TENSORMAP_NUM_BUCKETS),
                Region::from_raw(memory.tm_entries, TENSORMAP_POOL_SIZE),
                Region::from_raw(memory.tm_free_list, TENSORMAP_POOL_SIZE),
                heads_arr,
            ),
            Region::from_raw(memory.scope_tasks, p.windows.iter().map(|&w| w as usize).sum()),
            ReadyQueue::new(Region::from_raw(memory.ready_queues[3], READY_QUEUE_SIZE)),
            WiringQueue::new(Region::from_raw(memory.wiring, WIRING_QUEUE_SIZE)),
        )
    };
    let sh = RunShared {
        rings,
        spill_pools,
        ready: ReadyQueues::new(ready_regions),
        dummy,
        wiring,
        wiring_state: Mutex::new(WiringState { dep_pools, reported: [false; MAX_RINGS], wiring: wiring_rx }),
        producer_blocked: AtomicBool::new(false),
        orch_error: Default::default(),
        sched_error: Default::default(),
        fatal_flag: AtomicBool::new(false),
        stall: Mutex::new(StallInfo::default()),
        fatal: Mutex::new(FatalState::default()),
        orch_epoch: crate::runtime::trb::shared::CachePadded(AtomicU64::new(1)),
        watchdog_seen_epoch: AtomicU64::new(1),
        orch_done: AtomicBool::new(false),
        total_tasks: AtomicU64::new(0),
        submitted: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        run_complete: AtomicBool::new(false),
        cores,
        block_dim: p.block_dim,
        last_progress_ms: AtomicU64::new(0),
        start: Instant::now(),
        timeout_ms,
        watchdog_seen_submitted: AtomicU64::new(0),
        scope_stats: p.scope_stats,
        trace: p.trace.then(crate::runtime::trb::trace::TraceSink::default),
        dep_snapshot: std::array::from_fn(|_| (AtomicI64::new(1), AtomicI64::new(1))),
        parker: Parker::default(),
        completion: Parker::default(),
        drain_owner: AtomicUsize::new(0),
    };
    let tables = OrchTables { fanin_pools, seen, tensormap, scope_tasks, wiring: wiring_tx };
    (sh, tables)
}
