//! The runtime-arena layout of the tensormap_and_ringbuffer runtime
//! (upstream's `pto_runtime2.h` and `shared/pto_runtime2_init.cpp`, c68d9bbe6).
//!
//! The layout-defining input is the run's [`RingSizing`] (per-ring task
//! windows, heaps and dependency-pool capacities, validated by the
//! resolver); [`ArenaOffsets`] is the computed output (the byte offset of
//! every sub-region of the arena); [`ArenaLayout`] composes both with the
//! shared-memory layout and the total GM heap size (the sizing/offsets split
//! of upstream PR #1219). Table sizes come from [`Geometry`], the element
//! sizes of the engine's own types.
//!
//! The scheduler timeout is deliberately *not* part of the sizing key: it is a
//! per-device, run-invariant value delivered once per device, not a property
//! of the per-run layout (upstream issue on `PTO2_SCHEDULER_TIMEOUT_MS`).
//! Keeping it out also means that changing the timeout never forces an arena
//! rebuild.

use super::geometry::{Geometry, Table};
use super::shared_memory::SmLayout;
use super::{checked_align_up, RING_COUNT};
use crate::config::RingSizing;
use crate::diagnostics::{Error, Result};

/// Maximum number of regions a layout may reserve.
pub const ARENA_MAX_REGIONS: usize = 128;
/// Alignment of the 64-byte aligned sub-regions (`PTO2_ALIGN_SIZE`).
pub const ARENA_ALIGN: u64 = 64;

/// Bytes of the shared-memory handle wrapper.
pub const SM_HANDLE_BYTES: u64 = 32;
/// Alignment of the shared-memory handle wrapper.
pub const SM_HANDLE_ALIGN: u64 = 8;
/// Alignment of `scope_tasks`.
pub const SCOPE_TASKS_ALIGN: u64 = 8;
/// Alignment of `scope_begins`.
pub const SCOPE_BEGINS_ALIGN: u64 = 4;
/// Alignment of the TensorMap buckets.
pub const TENSORMAP_BUCKETS_ALIGN: u64 = 8;
/// Alignment of the TensorMap free list.
pub const TENSORMAP_FREE_LIST_ALIGN: u64 = 8;
/// Alignment of the task-entry heads.
pub const TASK_ENTRY_HEADS_ALIGN: u64 = 8;
/// Number of dispatchable shapes with a ready queue (AIC, AIV, MIX).
pub const READY_QUEUE_SHAPES: usize = 3;
/// Bytes of the runtime state region (our `PTO2Runtime` equivalent).
pub const RUNTIME_STATE_BYTES: u64 = 171_584;
/// Bytes of the AICore completion mailbox (4096-entry MPSC ring).
pub const MAILBOX_BYTES: u64 = 262_272;

/// Offsets of the orchestrator's sub-regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OrchOffsets {
    /// Fanin spill pool per ring (`D_r` × 8 bytes).
    pub fanin_pool: [u64; RING_COUNT],
    /// Fanin seen-epoch array per ring (`W_r` × 4 bytes).
    pub fanin_seen_epoch: [u64; RING_COUNT],
    /// `scope_tasks` (Σ W_r × 8 bytes).
    pub scope_tasks: u64,
    /// `scope_begins` (64 × 4 bytes).
    pub scope_begins: u64,
    /// TensorMap bucket heads.
    pub tensormap_buckets: u64,
    /// TensorMap entry pool.
    pub tensormap_entries: u64,
    /// TensorMap free list.
    pub tensormap_free_list: u64,
    /// Per-ring TensorMap task-entry heads (`W_r` × 8 bytes).
    pub task_entry_heads: [u64; RING_COUNT],
}

/// Offsets of the scheduler's sub-regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SchedOffsets {
    /// Ready-queue slots per dispatchable shape (AIC, AIV, MIX).
    pub ready_queues: [u64; READY_QUEUE_SHAPES],
    /// Dummy-task ready-queue slots.
    pub dummy_ready_queue: u64,
    /// Early-dispatch queue slots.
    pub early_dispatch_queue: u64,
    /// Dependency-list pool per ring (`D_r` × 16 bytes).
    pub dep_pools: [u64; RING_COUNT],
    /// Wiring SPSC buffer.
    pub wiring_queue: u64,
}

/// The computed sub-region offsets of the runtime arena (from its base).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ArenaOffsets {
    /// Shared-memory handle wrapper.
    pub off_sm_handle: u64,
    /// Orchestrator regions.
    pub orch: OrchOffsets,
    /// Scheduler regions.
    pub sched: SchedOffsets,
    /// Runtime state region ([`RUNTIME_STATE_BYTES`]).
    pub off_runtime: u64,
    /// AICore completion mailbox ([`MAILBOX_BYTES`]).
    pub off_mailbox: u64,
    /// Total arena size (the final cursor, excluding base slack).
    pub arena_size: u64,
}

/// The full per-run layout: sizing key, arena offsets, SM layout and heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArenaLayout {
    /// The sizing the layout was computed from (the cache key).
    pub sizing: RingSizing,
    /// The table sizes of that sizing.
    pub geometry: Geometry,
    /// Arena sub-region offsets.
    pub offsets: ArenaOffsets,
    /// Shared-memory layout for the key's task windows.
    pub sm: SmLayout,
    /// Total GM heap size `Σ H_r`.
    pub total_heap: u64,
    /// Offset of ring r's hot payloads in the hot-payload region (host
    /// memory beside the device layout; rings back to back, each table a
    /// whole number of 4800-byte, 64-aligned payloads).
    pub hot_payloads: [u64; RING_COUNT],
    /// Size of the hot-payload region (`Σ` of the rings' hot tables).
    pub hot_size: u64,
}

/// The `DeviceArena` reserve cursor (upstream's `DeviceArena::reserve`).
struct ArenaCursor {
    cursor: u64,
    regions: usize,
}

impl ArenaCursor {
    fn new() -> Self {
        Self { cursor: 0, regions: 0 }
    }

    /// `cursor = align_up(cursor, align); off = cursor; cursor += size`.
    fn reserve(&mut self, what: &str, size: u64, align: u64) -> Result<u64> {
        debug_assert!(align.is_power_of_two());
        if self.regions >= ARENA_MAX_REGIONS {
            return Err(Error::InvalidArgument(format!(
                "runtime arena: more than {ARENA_MAX_REGIONS} regions reserved"
            )));
        }
        let overflow = || {
            Error::InvalidArgument(format!("runtime arena size overflows u64 while reserving {what} ({size} bytes)"))
        };
        let off = checked_align_up(self.cursor, align).ok_or_else(overflow)?;
        self.cursor = off.checked_add(size).ok_or_else(overflow)?;
        self.regions += 1;
        Ok(off)
    }

    /// Exactly the bytes of `t`.
    fn reserve_table(&mut self, what: &str, t: Table, align: u64) -> Result<u64> {
        self.reserve(what, t.bytes(), align)
    }

    /// A 64-byte aligned region whose size is padded to 64 (`A(count × elem)`).
    fn reserve_padded(&mut self, what: &str, t: Table) -> Result<u64> {
        let size = checked_align_up(t.bytes(), ARENA_ALIGN).ok_or_else(|| {
            Error::InvalidArgument(format!("runtime arena: {what} of {} bytes overflows u64", t.bytes()))
        })?;
        self.reserve(what, size, ARENA_ALIGN)
    }
}

impl ArenaLayout {
    /// Computes the arena layout for `sizing` in the exact reserve order of
    /// upstream's `runtime_reserve_layout` (30 regions), the SM layout and the
    /// total heap. The sizing is valid by construction; only address-space
    /// arithmetic can fail.
    pub fn compute(sizing: &RingSizing) -> Result<ArenaLayout> {
        let total_heap = sizing.total_heap().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "sum of ring heaps overflows u64: {:?} (lower {})",
                sizing.rings().map(|r| r.heap.get()),
                crate::config::schema::spec(crate::config::Knob::RingHeap).hint()
            ))
        })?;
        let g = Geometry::of(sizing);
        let mut c = ArenaCursor::new();
        let mut o = ArenaOffsets {
            off_sm_handle: c.reserve("sm handle", SM_HANDLE_BYTES, SM_HANDLE_ALIGN)?,
            ..ArenaOffsets::default()
        };

        // Interleaved: fanin spill pool r, then seen-epoch r.
        for (r, t) in g.rings.iter().enumerate() {
            o.orch.fanin_pool[r] = c.reserve_padded("fanin spill pool", t.fanin_spill)?;
            o.orch.fanin_seen_epoch[r] = c.reserve_padded("fanin seen-epoch", t.fanin_seen_epoch)?;
        }
        o.orch.scope_tasks = c.reserve_table("scope_tasks", g.scope_tasks, SCOPE_TASKS_ALIGN)?;
        o.orch.scope_begins = c.reserve_table("scope_begins", g.scope_begins, SCOPE_BEGINS_ALIGN)?;
        o.orch.tensormap_buckets = c.reserve_table("tensormap buckets", g.tm_buckets, TENSORMAP_BUCKETS_ALIGN)?;
        o.orch.tensormap_entries = c.reserve_table("tensormap entry pool", g.tm_entries, ARENA_ALIGN)?;
        o.orch.tensormap_free_list =
            c.reserve_table("tensormap free list", g.tm_free_list, TENSORMAP_FREE_LIST_ALIGN)?;
        for (head, t) in o.orch.task_entry_heads.iter_mut().zip(g.rings.iter()) {
            *head = c.reserve_table("task entry heads", t.task_entry_heads, TASK_ENTRY_HEADS_ALIGN)?;
        }

        for q in o.sched.ready_queues.iter_mut() {
            *q = c.reserve_table("ready queue", g.ready_queue, ARENA_ALIGN)?;
        }
        o.sched.dummy_ready_queue = c.reserve_table("dummy ready queue", g.ready_queue, ARENA_ALIGN)?;
        o.sched.early_dispatch_queue = c.reserve_table("early dispatch queue", g.early_dispatch, ARENA_ALIGN)?;
        for (pool, t) in o.sched.dep_pools.iter_mut().zip(g.rings.iter()) {
            *pool = c.reserve_table("dep list pool", t.dep_list, ARENA_ALIGN)?;
        }
        o.sched.wiring_queue = c.reserve_table("wiring queue", g.wiring, ARENA_ALIGN)?;

        o.off_runtime = c.reserve("runtime state", RUNTIME_STATE_BYTES, ARENA_ALIGN)?;
        o.off_mailbox = c.reserve("completion mailbox", MAILBOX_BYTES, ARENA_ALIGN)?;
        o.arena_size = c.cursor;

        let sm = SmLayout::compute(sizing.rings().map(|r| r.window.to_u64()))?;
        let mut hot_payloads = [0; RING_COUNT];
        let mut hot_size = 0;
        for (off, t) in hot_payloads.iter_mut().zip(g.rings.iter()) {
            *off = hot_size;
            hot_size += t.hot_payloads.bytes();
        }
        Ok(ArenaLayout { sizing: *sizing, geometry: g, offsets: o, sm, total_heap, hot_payloads, hot_size })
    }

    /// Offset of ring `ring`'s heap from the GM heap base (`Σ_{i<ring} H_i`;
    /// no per-ring alignment). `ring == 4` gives the total heap.
    ///
    /// # Panics
    /// If `ring > 4`.
    pub fn heap_offset(&self, ring: usize) -> u64 {
        self.sizing.heap_offset(ring).expect("the total heap was checked by compute")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_matches_spec_example() {
        let l = ArenaLayout::compute(&RingSizing::default()).unwrap();
        let o = &l.offsets;
        assert_eq!(o.off_sm_handle, 0);
        assert_eq!(o.orch.fanin_pool[0], 64);
        assert_eq!(o.orch.fanin_seen_epoch[0], 131_136);
        assert_eq!(o.orch.scope_tasks, 786_496);
        assert_eq!(o.orch.tensormap_buckets, 1_311_040);
        assert_eq!(o.orch.tensormap_entries, 1_343_808);
        assert_eq!(o.sched.wiring_queue, 16_024_896);
        assert_eq!(o.off_runtime, 16_033_088);
        assert_eq!(o.off_mailbox, 16_204_672);
        assert_eq!(o.arena_size, 16_466_944);
        assert_eq!(l.sm.total_size, 321_389_440);
        assert_eq!(l.total_heap, 1 << 30);
    }

    #[test]
    fn default_layout_intermediate_offsets() {
        let l = ArenaLayout::compute(&RingSizing::default()).unwrap();
        let o = &l.offsets;
        // Interleave: pool r, then seen-epoch r.
        let stride = 131_072 + 65_536;
        for r in 0..4u64 {
            assert_eq!(o.orch.fanin_pool[r as usize], 64 + r * stride);
            assert_eq!(o.orch.fanin_seen_epoch[r as usize], 64 + r * stride + 131_072);
        }
        assert_eq!(o.orch.scope_begins, 786_496 + 65_536 * 8);
        assert_eq!(o.orch.tensormap_free_list, 1_343_808 + 65_536 * 128);
        assert_eq!(o.orch.task_entry_heads[0], 1_343_808 + 65_536 * 136);
        assert_eq!(o.orch.task_entry_heads[3], o.orch.task_entry_heads[0] + 3 * 131_072);
        let rq0 = o.orch.task_entry_heads[3] + 131_072;
        for q in 0..3u64 {
            assert_eq!(o.sched.ready_queues[q as usize], rq0 + q * 1_048_576);
        }
        assert_eq!(o.sched.dummy_ready_queue, rq0 + 3 * 1_048_576);
        assert_eq!(o.sched.early_dispatch_queue, rq0 + 4 * 1_048_576);
        assert_eq!(o.sched.dep_pools[0], rq0 + 4 * 1_048_576 + 1024);
        assert_eq!(o.sched.dep_pools[3] + 262_144, o.sched.wiring_queue);
    }

    #[test]
    fn regions_are_aligned_and_disjoint() {
        let (w, h, d) = ([4u64, 8, 16, 4], [1024u64, 2048, 1024, 4096], [4u64, 5, 6, 7]);
        let key = RingSizing::from_values(w, h, d).unwrap();
        let l = ArenaLayout::compute(&key).unwrap();
        let o = &l.offsets;
        let mut regions: Vec<(u64, u64, u64)> = vec![(o.off_sm_handle, SM_HANDLE_BYTES, 8)];
        for r in 0..4 {
            let (w, d) = (w[r], d[r]);
            regions.push((o.orch.fanin_pool[r], d * 8, 64));
            regions.push((o.orch.fanin_seen_epoch[r], w * 4, 64));
            regions.push((o.orch.task_entry_heads[r], w * 8, 8));
            regions.push((o.sched.dep_pools[r], d * 16, 64));
        }
        regions.push((o.orch.scope_tasks, 32 * 8, 8));
        regions.push((o.orch.scope_begins, 256, 4));
        regions.push((o.orch.tensormap_buckets, 4096 * 8, 8));
        regions.push((o.orch.tensormap_entries, 65536 * 128, 64));
        regions.push((o.orch.tensormap_free_list, 65536 * 8, 8));
        for q in o.sched.ready_queues {
            regions.push((q, 65536 * 16, 64));
        }
        regions.push((o.sched.dummy_ready_queue, 65536 * 16, 64));
        regions.push((o.sched.early_dispatch_queue, 64 * 16, 64));
        regions.push((o.sched.wiring_queue, 1024 * 8, 64));
        regions.push((o.off_runtime, RUNTIME_STATE_BYTES, 64));
        regions.push((o.off_mailbox, MAILBOX_BYTES, 64));
        assert_eq!(regions.len(), 30);
        for &(off, _, align) in &regions {
            assert_eq!(off % align, 0, "offset {off} not aligned to {align}");
        }
        regions.sort_unstable();
        for pair in regions.windows(2) {
            assert!(pair[0].0 + pair[0].1 <= pair[1].0, "{pair:?} overlap");
        }
        let last = regions.last().unwrap();
        assert_eq!(o.arena_size, last.0 + last.1);
        assert_eq!(l.total_heap, 8192);
        assert_eq!(l.heap_offset(0), 0);
        assert_eq!(l.heap_offset(2), 3072);
        assert_eq!(l.heap_offset(4), 8192);
        assert_eq!(l.sm, SmLayout::compute(w).unwrap());
    }

    #[test]
    fn largest_window_sum_lays_out() {
        // Largest legal: 2^30 + 2^29 + 2^28 + 2^27 < 2^31 (the resolver refuses more).
        let key = RingSizing::from_values([1 << 30, 1 << 29, 1 << 28, 1 << 27], [1024; 4], [4; 4]).unwrap();
        let l = ArenaLayout::compute(&key).unwrap();
        assert!(l.offsets.arena_size > (1u64 << 31) * 8);
    }

    #[test]
    fn heap_sum_overflow_is_rejected() {
        let key = RingSizing::from_values([16384; 4], [u64::MAX / 2, u64::MAX / 2, 1024, 1024], [16384; 4]).unwrap();
        let e = ArenaLayout::compute(&key).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        assert!(e.to_string().contains("sum of ring heaps overflows u64"), "{e}");
        assert!(e.to_string().contains("PTO2_RING_HEAP"), "{e}");
        let key = RingSizing::from_values([16384; 4], [u64::MAX / 2, u64::MAX / 2 - 2047, 1024, 1024], [16384; 4]);
        assert_eq!(ArenaLayout::compute(&key.unwrap()).unwrap().total_heap, u64::MAX);
    }

    #[test]
    fn key_is_a_hashable_value() {
        use std::collections::HashSet;
        let a = RingSizing::default();
        let b = RingSizing::from_values([16384; 4], [256 << 20, 256 << 20, 256 << 20, (256 << 20) + 1024], [16384; 4])
            .unwrap();
        let set: HashSet<RingSizing> = [a, a, b].into_iter().collect();
        assert_eq!(set.len(), 2);
        // Heap sizes do not move arena offsets, only the total heap.
        let (la, lb) = (ArenaLayout::compute(&a).unwrap(), ArenaLayout::compute(&b).unwrap());
        assert_eq!(la.offsets, lb.offsets);
        assert_eq!(lb.total_heap, la.total_heap + 1024);
    }

    #[test]
    fn cursor_checks_overflow_and_region_limit() {
        let mut c = ArenaCursor::new();
        c.reserve("a", u64::MAX - 10, 8).unwrap();
        assert!(c.reserve("b", 1, 64).is_err());
        let mut c = ArenaCursor::new();
        c.reserve("a", 1, 1).unwrap();
        assert!(c.reserve("b", u64::MAX, 1).is_err());
        let mut c = ArenaCursor::new();
        for _ in 0..ARENA_MAX_REGIONS {
            c.reserve("x", 1, 1).unwrap();
        }
        assert!(c.reserve("overflow", 1, 1).is_err());
    }
}
