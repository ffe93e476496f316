//! The runtime-arena layout of the tensormap_and_ringbuffer runtime
//! (upstream's `pto_runtime2.h` and `shared/pto_runtime2_init.cpp`, c68d9bbe6).
//!
//! [`ArenaSizingKey`] is the layout-defining input (per-ring task windows,
//! heaps and dependency-pool capacities); [`ArenaOffsets`] is the computed
//! output (the byte offset of every sub-region of the arena);
//! [`ArenaLayout`] composes both with the shared-memory layout and the total
//! GM heap size (the sizing/offsets split of upstream PR #1219).
//!
//! The scheduler timeout is deliberately *not* part of the sizing key: it is a
//! per-device, run-invariant value delivered once per device, not a property
//! of the per-run layout (upstream issue on `PTO2_SCHEDULER_TIMEOUT_MS`).
//! Keeping it out also means that changing the timeout never forces an arena
//! rebuild.

use super::shared_memory::SmLayout;
use super::{checked_align_up, RING_COUNT};
use crate::diagnostics::{Error, Result};

/// Default task window per ring (`PTO2_TASK_WINDOW_SIZE`).
pub const DEFAULT_TASK_WINDOW_SIZE: u64 = 16384;
/// Default GM heap per ring (`PTO2_HEAP_SIZE`, 256 MiB).
pub const DEFAULT_HEAP_SIZE: u64 = 256 << 20;
/// Default dependency-pool capacity per ring (`PTO2_DEP_LIST_POOL_SIZE`).
pub const DEFAULT_DEP_POOL_CAPACITY: u32 = 16384;

/// Base alignment of the committed arena (`kDefaultBaseAlign`).
pub const ARENA_BASE_ALIGN: u64 = 1024;
/// Maximum number of regions a layout may reserve.
pub const ARENA_MAX_REGIONS: usize = 128;
/// Alignment of the 64-byte aligned sub-regions (`PTO2_ALIGN_SIZE`).
pub const ARENA_ALIGN: u64 = 64;

/// Bytes of the shared-memory handle wrapper.
pub const SM_HANDLE_BYTES: u64 = 32;
/// Alignment of the shared-memory handle wrapper.
pub const SM_HANDLE_ALIGN: u64 = 8;
/// Bytes of one fanin spill-pool entry (a slot-state pointer).
pub const FANIN_SPILL_ENTRY_BYTES: u64 = 8;
/// Bytes of one fanin seen-epoch entry (per task slot).
pub const FANIN_SEEN_EPOCH_BYTES: u64 = 4;
/// Bytes of one `scope_tasks` entry (one per task slot over all rings).
pub const SCOPE_TASK_ENTRY_BYTES: u64 = 8;
/// Alignment of `scope_tasks`.
pub const SCOPE_TASKS_ALIGN: u64 = 8;
/// Maximum scope nesting (`PTO2_MAX_SCOPE_DEPTH`).
pub const MAX_SCOPE_DEPTH: u64 = 64;
/// Bytes of one `scope_begins` entry.
pub const SCOPE_BEGIN_ENTRY_BYTES: u64 = 4;
/// Alignment of `scope_begins`.
pub const SCOPE_BEGINS_ALIGN: u64 = 4;
/// TensorMap bucket count (`PTO2_TENSORMAP_NUM_BUCKETS`, a power of two).
pub const TENSORMAP_NUM_BUCKETS: u64 = 4096;
/// Bytes of one TensorMap bucket head.
pub const TENSORMAP_BUCKET_BYTES: u64 = 8;
/// Alignment of the TensorMap buckets.
pub const TENSORMAP_BUCKETS_ALIGN: u64 = 8;
/// TensorMap entry-pool capacity (`PTO2_TENSORMAP_POOL_SIZE`).
pub const TENSORMAP_POOL_SIZE: u64 = 65536;
/// Bytes of one TensorMap entry.
pub const TENSORMAP_ENTRY_BYTES: u64 = 128;
/// Bytes of one TensorMap free-list entry.
pub const TENSORMAP_FREE_LIST_ENTRY_BYTES: u64 = 8;
/// Alignment of the TensorMap free list.
pub const TENSORMAP_FREE_LIST_ALIGN: u64 = 8;
/// Bytes of one per-slot TensorMap task-entry head.
pub const TASK_ENTRY_HEAD_BYTES: u64 = 8;
/// Alignment of the task-entry heads.
pub const TASK_ENTRY_HEADS_ALIGN: u64 = 8;
/// Ready-queue capacity per shape (`PTO2_READY_QUEUE_SIZE`).
pub const READY_QUEUE_SIZE: u64 = 65536;
/// Bytes of one ready-queue slot (sequence + payload).
pub const READY_QUEUE_SLOT_BYTES: u64 = 16;
/// Number of dispatchable shapes with a ready queue (AIC, AIV, MIX).
pub const READY_QUEUE_SHAPES: usize = 3;
/// Early-dispatch queue capacity (`PTO2_EARLY_DISPATCH_QUEUE_SIZE`).
pub const EARLY_DISPATCH_QUEUE_SIZE: u64 = 64;
/// Bytes of one dependency-list entry (`{consumer, next}`).
pub const DEP_LIST_ENTRY_BYTES: u64 = 16;
/// Wiring SPSC queue capacity (`PTO2_WRIRING_QUEUE_SIZE`).
pub const WIRING_QUEUE_SIZE: u64 = 1024;
/// Bytes of one wiring-queue entry.
pub const WIRING_ENTRY_BYTES: u64 = 8;
/// Bytes of the runtime state region (our `PTO2Runtime` equivalent).
pub const RUNTIME_STATE_BYTES: u64 = 171_584;
/// Bytes of the AICore completion mailbox (4096-entry MPSC ring).
pub const MAILBOX_BYTES: u64 = 262_272;

/// The layout-defining input of the runtime arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArenaSizingKey {
    /// Task window `W_r` per ring (power of two).
    pub task_window_sizes: [u64; RING_COUNT],
    /// GM heap size `H_r` per ring, in bytes.
    pub heap_sizes: [u64; RING_COUNT],
    /// Capacity `D_r` of the fanin spill pool and the dep list pool per ring.
    pub dep_pool_capacities: [u32; RING_COUNT],
}

impl Default for ArenaSizingKey {
    /// The compile-time defaults: W = 16384, H = 256 MiB, D = 16384 per ring.
    fn default() -> Self {
        Self::uniform(DEFAULT_TASK_WINDOW_SIZE, DEFAULT_HEAP_SIZE, DEFAULT_DEP_POOL_CAPACITY)
    }
}

impl ArenaSizingKey {
    /// The same window, heap and dep-pool capacity for every ring.
    pub fn uniform(task_window: u64, heap: u64, dep_pool: u32) -> Self {
        Self {
            task_window_sizes: [task_window; RING_COUNT],
            heap_sizes: [heap; RING_COUNT],
            dep_pool_capacities: [dep_pool; RING_COUNT],
        }
    }

    /// Validates the key: every `W_r > 0` and a power of two, `Σ W_r ≤
    /// i32::MAX`, every `D_r` in `[1, i32::MAX]`, and `Σ H_r` fits in u64.
    /// Returns the total heap size.
    pub fn validate(&self) -> Result<u64> {
        for (r, &w) in self.task_window_sizes.iter().enumerate() {
            if w == 0 || !w.is_power_of_two() {
                return Err(Error::InvalidArgument(format!(
                    "task window of ring {r} must be a power of two > 0, got {w}"
                )));
            }
        }
        // Each W_r ≤ 2^63, so the sum of four cannot overflow u128.
        let sum_w: u128 = self.task_window_sizes.iter().map(|&w| w as u128).sum();
        if sum_w > i32::MAX as u128 {
            return Err(Error::InvalidArgument(format!(
                "sum of task windows {sum_w} exceeds INT32_MAX ({}): {:?}",
                i32::MAX,
                self.task_window_sizes
            )));
        }
        for (r, &d) in self.dep_pool_capacities.iter().enumerate() {
            if d == 0 || d > i32::MAX as u32 {
                return Err(Error::InvalidArgument(format!(
                    "dep pool capacity of ring {r} must be in [1, INT32_MAX], got {d}"
                )));
            }
        }
        self.heap_sizes
            .iter()
            .try_fold(0u64, |acc, &h| acc.checked_add(h))
            .ok_or_else(|| Error::InvalidArgument(format!("sum of ring heaps overflows u64: {:?}", self.heap_sizes)))
    }

    /// Σ W_r (validated keys only; saturates otherwise).
    pub fn total_task_window(&self) -> u64 {
        self.task_window_sizes.iter().fold(0u64, |acc, &w| acc.saturating_add(w))
    }
}

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
    /// The input the layout was computed from.
    pub sizing: ArenaSizingKey,
    /// Arena sub-region offsets.
    pub offsets: ArenaOffsets,
    /// Shared-memory layout for the key's task windows.
    pub sm: SmLayout,
    /// Total GM heap size `Σ H_r`.
    pub total_heap: u64,
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

    fn reserve_array(&mut self, what: &str, count: u64, elem: u64, align: u64) -> Result<u64> {
        let size = count.checked_mul(elem).ok_or_else(|| {
            Error::InvalidArgument(format!("runtime arena: {what} of {count} x {elem} bytes overflows u64"))
        })?;
        self.reserve(what, size, align)
    }

    /// A 64-byte aligned region whose size is padded to 64 (`A(count × elem)`).
    fn reserve_padded(&mut self, what: &str, count: u64, elem: u64) -> Result<u64> {
        let size = count.checked_mul(elem).and_then(|s| checked_align_up(s, ARENA_ALIGN)).ok_or_else(|| {
            Error::InvalidArgument(format!("runtime arena: {what} of {count} x {elem} bytes overflows u64"))
        })?;
        self.reserve(what, size, ARENA_ALIGN)
    }
}

impl ArenaLayout {
    /// Validates `key` and computes the arena layout in the exact reserve
    /// order of upstream's `runtime_reserve_layout` (30 regions), the SM layout and the total heap.
    pub fn compute(key: &ArenaSizingKey) -> Result<ArenaLayout> {
        let total_heap = key.validate()?;
        let w = key.task_window_sizes;
        let d = key.dep_pool_capacities.map(u64::from);
        let mut c = ArenaCursor::new();
        let mut o = ArenaOffsets {
            off_sm_handle: c.reserve("sm handle", SM_HANDLE_BYTES, SM_HANDLE_ALIGN)?,
            ..ArenaOffsets::default()
        };

        // Interleaved: fanin spill pool r, then seen-epoch r.
        for (r, (&wr, &dr)) in w.iter().zip(d.iter()).enumerate() {
            o.orch.fanin_pool[r] = c.reserve_padded("fanin spill pool", dr, FANIN_SPILL_ENTRY_BYTES)?;
            o.orch.fanin_seen_epoch[r] = c.reserve_padded("fanin seen-epoch", wr, FANIN_SEEN_EPOCH_BYTES)?;
        }
        o.orch.scope_tasks =
            c.reserve_array("scope_tasks", key.total_task_window(), SCOPE_TASK_ENTRY_BYTES, SCOPE_TASKS_ALIGN)?;
        o.orch.scope_begins =
            c.reserve_array("scope_begins", MAX_SCOPE_DEPTH, SCOPE_BEGIN_ENTRY_BYTES, SCOPE_BEGINS_ALIGN)?;
        o.orch.tensormap_buckets = c.reserve_array(
            "tensormap buckets",
            TENSORMAP_NUM_BUCKETS,
            TENSORMAP_BUCKET_BYTES,
            TENSORMAP_BUCKETS_ALIGN,
        )?;
        o.orch.tensormap_entries =
            c.reserve_array("tensormap entry pool", TENSORMAP_POOL_SIZE, TENSORMAP_ENTRY_BYTES, ARENA_ALIGN)?;
        o.orch.tensormap_free_list = c.reserve_array(
            "tensormap free list",
            TENSORMAP_POOL_SIZE,
            TENSORMAP_FREE_LIST_ENTRY_BYTES,
            TENSORMAP_FREE_LIST_ALIGN,
        )?;
        for (head, &wr) in o.orch.task_entry_heads.iter_mut().zip(w.iter()) {
            *head = c.reserve_array("task entry heads", wr, TASK_ENTRY_HEAD_BYTES, TASK_ENTRY_HEADS_ALIGN)?;
        }

        for q in o.sched.ready_queues.iter_mut() {
            *q = c.reserve_array("ready queue", READY_QUEUE_SIZE, READY_QUEUE_SLOT_BYTES, ARENA_ALIGN)?;
        }
        o.sched.dummy_ready_queue =
            c.reserve_array("dummy ready queue", READY_QUEUE_SIZE, READY_QUEUE_SLOT_BYTES, ARENA_ALIGN)?;
        o.sched.early_dispatch_queue =
            c.reserve_array("early dispatch queue", EARLY_DISPATCH_QUEUE_SIZE, READY_QUEUE_SLOT_BYTES, ARENA_ALIGN)?;
        for (pool, &dr) in o.sched.dep_pools.iter_mut().zip(d.iter()) {
            *pool = c.reserve_array("dep list pool", dr, DEP_LIST_ENTRY_BYTES, ARENA_ALIGN)?;
        }
        o.sched.wiring_queue = c.reserve_array("wiring queue", WIRING_QUEUE_SIZE, WIRING_ENTRY_BYTES, ARENA_ALIGN)?;

        o.off_runtime = c.reserve("runtime state", RUNTIME_STATE_BYTES, ARENA_ALIGN)?;
        o.off_mailbox = c.reserve("completion mailbox", MAILBOX_BYTES, ARENA_ALIGN)?;
        o.arena_size = c.cursor;

        let sm = SmLayout::compute(w)?;
        Ok(ArenaLayout { sizing: *key, offsets: o, sm, total_heap })
    }

    /// Offset of ring `ring`'s heap from the GM heap base (`Σ_{i<ring} H_i`;
    /// no per-ring alignment). `ring == 4` gives the total heap.
    ///
    /// # Panics
    /// If `ring > 4`.
    pub fn heap_offset(&self, ring: usize) -> u64 {
        // Cannot overflow: the full sum was checked by `compute`.
        self.sizing.heap_sizes[..ring].iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_matches_spec_example() {
        let l = ArenaLayout::compute(&ArenaSizingKey::default()).unwrap();
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
        let l = ArenaLayout::compute(&ArenaSizingKey::default()).unwrap();
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
        let key = ArenaSizingKey {
            task_window_sizes: [4, 8, 1, 2],
            heap_sizes: [1024, 3, 0, 5],
            dep_pool_capacities: [1, 3, 5, 7],
        };
        let l = ArenaLayout::compute(&key).unwrap();
        let o = &l.offsets;
        let mut regions: Vec<(u64, u64, u64)> = vec![(o.off_sm_handle, SM_HANDLE_BYTES, 8)];
        for r in 0..4 {
            let (w, d) = (key.task_window_sizes[r], key.dep_pool_capacities[r] as u64);
            regions.push((o.orch.fanin_pool[r], d * 8, 64));
            regions.push((o.orch.fanin_seen_epoch[r], w * 4, 64));
            regions.push((o.orch.task_entry_heads[r], w * 8, 8));
            regions.push((o.sched.dep_pools[r], d * 16, 64));
        }
        regions.push((o.orch.scope_tasks, 15 * 8, 8));
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
        assert_eq!(l.total_heap, 1032);
        assert_eq!(l.heap_offset(0), 0);
        assert_eq!(l.heap_offset(2), 1027);
        assert_eq!(l.heap_offset(4), 1032);
        assert_eq!(l.sm, SmLayout::compute([4, 8, 1, 2]).unwrap());
    }

    #[test]
    fn window_must_be_nonzero_power_of_two() {
        for bad in [0u64, 3, 12, 16385, u64::MAX] {
            let mut key = ArenaSizingKey::default();
            key.task_window_sizes[2] = bad;
            let e = ArenaLayout::compute(&key).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad}: {e}");
            assert!(e.to_string().contains("ring 2"), "{e}");
        }
    }

    #[test]
    fn window_sum_must_fit_i32() {
        let key = ArenaSizingKey::uniform(1 << 30, 1024, 4);
        let e = ArenaLayout::compute(&key).unwrap_err();
        assert!(e.to_string().contains("INT32_MAX"), "{e}");
        let key = ArenaSizingKey::uniform(1 << 63, 1024, 4);
        assert!(ArenaLayout::compute(&key).is_err());
        // Largest legal: 2^30 + 2^29 + 2^28 + 2^27 < 2^31.
        let key = ArenaSizingKey {
            task_window_sizes: [1 << 30, 1 << 29, 1 << 28, 1 << 27],
            heap_sizes: [1024; 4],
            dep_pool_capacities: [4; 4],
        };
        let l = ArenaLayout::compute(&key).unwrap();
        assert!(l.offsets.arena_size > (1u64 << 31) * 8);
    }

    #[test]
    fn dep_pool_must_be_in_range() {
        let mut key = ArenaSizingKey::default();
        key.dep_pool_capacities[1] = 0;
        assert!(matches!(ArenaLayout::compute(&key), Err(Error::InvalidArgument(_))));
        key.dep_pool_capacities[1] = u32::MAX;
        assert!(ArenaLayout::compute(&key).is_err());
        key.dep_pool_capacities[1] = 1;
        assert!(ArenaLayout::compute(&key).is_ok());
    }

    #[test]
    fn heap_sum_overflow_is_rejected() {
        let mut key = ArenaSizingKey { heap_sizes: [u64::MAX / 2, u64::MAX / 2, 2, 0], ..ArenaSizingKey::default() };
        let e = ArenaLayout::compute(&key).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        assert!(e.to_string().contains("sum of ring heaps overflows u64"), "{e}");
        key.heap_sizes = [u64::MAX / 2, u64::MAX / 2, 1, 0];
        assert_eq!(ArenaLayout::compute(&key).unwrap().total_heap, u64::MAX);
    }

    #[test]
    fn key_is_a_hashable_value() {
        use std::collections::HashSet;
        let a = ArenaSizingKey::default();
        let mut b = a;
        b.heap_sizes[3] += 1024;
        let set: HashSet<ArenaSizingKey> = [a, a, b].into_iter().collect();
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
        assert!(c.reserve_array("y", u64::MAX, 2, 1).is_err());
    }
}
