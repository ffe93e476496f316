//! Table geometry: how many elements of which type every table of a run
//! holds, for one [`RingSizing`]. The element sizes are `size_of` of the
//! types the engine stores, so the arena's reservation ([`super::layout`]),
//! the owned test memory ([`TrbMemory::owned`]) and the engine's carving
//! (`engine::tables`) all read the same numbers.

use std::mem::size_of;

use crate::config::{RingSizing, RING_COUNT};
#[cfg(test)]
use crate::runtime::trb::layout::{align_up, Region, RingMemory, TrbMemory};
use crate::runtime::trb::layout::{
    DepEntry, FaninSpillEntry, QueueCell, SlotState, TaskDescriptor, TaskPayload, TmEntry, HOT_PAYLOADS,
    MAX_SCOPE_DEPTH, READY_QUEUE_SIZE, TENSORMAP_NUM_BUCKETS, TENSORMAP_POOL_SIZE, WIRING_QUEUE_SIZE,
};

/// Early-dispatch queue capacity (`PTO2_EARLY_DISPATCH_QUEUE_SIZE`; reserved, not used by the engine).
pub const EARLY_DISPATCH_QUEUE_SIZE: usize = 64;

/// `count` elements of `elem` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Table {
    /// Elements.
    pub count: usize,
    /// Bytes of one element (`size_of` of its type).
    pub elem: usize,
}

impl Table {
    fn of<T>(count: usize) -> Table {
        Table { count, elem: size_of::<T>() }
    }
    /// Bytes of the table (cannot overflow: counts are bounded by INT32_MAX
    /// entries per ring, elements by a few KiB).
    pub fn bytes(self) -> u64 {
        self.count as u64 * self.elem as u64
    }
}

/// The tables of one ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RingTables {
    /// `W` task descriptors (shared memory).
    pub descriptors: Table,
    /// `W` payloads (shared memory).
    pub payloads: Table,
    /// `min(W, HOT_PAYLOADS)` hot payloads (the hot-payload region beside
    /// the device layout, not part of the shared memory).
    pub hot_payloads: Table,
    /// `W` slot states (shared memory).
    pub slot_states: Table,
    /// `D` fanin spill entries.
    pub fanin_spill: Table,
    /// `W` fanin seen-epoch words.
    pub fanin_seen_epoch: Table,
    /// `W` TensorMap task-entry heads.
    pub task_entry_heads: Table,
    /// `D` dependency-list entries.
    pub dep_list: Table,
}

/// Every table of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// Per-ring tables.
    pub rings: [RingTables; RING_COUNT],
    /// `Σ W` scope-task entries.
    pub scope_tasks: Table,
    /// Scope begin marks (`int32_t` upstream; reserved, the orchestrator keeps its own).
    pub scope_begins: Table,
    /// TensorMap bucket heads.
    pub tm_buckets: Table,
    /// TensorMap entry pool.
    pub tm_entries: Table,
    /// TensorMap free list.
    pub tm_free_list: Table,
    /// One ready queue (one per shape: AIC, AIV, MIX; and the dummy-task queue).
    pub ready_queue: Table,
    /// Early-dispatch queue (reserved).
    pub early_dispatch: Table,
    /// Wiring SPSC queue.
    pub wiring: Table,
}

impl Geometry {
    /// The tables for `s`.
    pub fn of(s: &RingSizing) -> Geometry {
        Geometry {
            rings: s.rings().map(|r| {
                let (w, d) = (r.window.slots(), r.dep_pool.entries());
                RingTables {
                    descriptors: Table::of::<TaskDescriptor>(w),
                    payloads: Table::of::<TaskPayload>(w),
                    hot_payloads: Table::of::<TaskPayload>(w.min(HOT_PAYLOADS)),
                    slot_states: Table::of::<SlotState>(w),
                    fanin_spill: Table::of::<FaninSpillEntry>(d),
                    fanin_seen_epoch: Table::of::<u32>(w),
                    task_entry_heads: Table::of::<u64>(w),
                    dep_list: Table::of::<DepEntry>(d),
                }
            }),
            scope_tasks: Table::of::<u64>(s.total_window()),
            scope_begins: Table::of::<i32>(MAX_SCOPE_DEPTH),
            tm_buckets: Table::of::<u64>(TENSORMAP_NUM_BUCKETS),
            tm_entries: Table::of::<TmEntry>(TENSORMAP_POOL_SIZE),
            tm_free_list: Table::of::<u64>(TENSORMAP_POOL_SIZE),
            ready_queue: Table::of::<QueueCell>(READY_QUEUE_SIZE),
            early_dispatch: Table::of::<QueueCell>(EARLY_DISPATCH_QUEUE_SIZE),
            wiring: Table::of::<u64>(WIRING_QUEUE_SIZE),
        }
    }
}

/// Owning backing of a [`TrbMemory`] (for tests and arena-less use).
#[cfg(test)]
pub struct OwnedTrbMemory {
    memory: TrbMemory,
    _allocs: Vec<Region<u8>>,
}

#[cfg(test)]
impl std::ops::Deref for OwnedTrbMemory {
    type Target = TrbMemory;
    fn deref(&self) -> &TrbMemory {
        &self.memory
    }
}

#[cfg(test)]
impl TrbMemory {
    /// Allocates zeroed memory for `sizing` (lazily committed), table sizes from [`Geometry`].
    pub fn owned(sizing: &RingSizing) -> OwnedTrbMemory {
        let g = Geometry::of(sizing);
        let mut allocs: Vec<Region<u8>> = Vec::new();
        let mut get = |t: Table| -> *mut u8 {
            // Region::zeroed aligns to 64, enough for every element type.
            let r = Region::<u8>::zeroed(t.count.max(1) * t.elem);
            let p = r.as_ptr();
            allocs.push(r);
            p
        };
        let rings = std::array::from_fn(|r| {
            let t = &g.rings[r];
            // The heap is aligned to 1024 inside its allocation.
            let heap = get(Table::of::<u8>(sizing.ring(r).heap.get() as usize + 1024));
            RingMemory {
                descriptors: get(t.descriptors).cast(),
                payloads: get(t.payloads).cast(),
                hot_payloads: get(t.hot_payloads).cast(),
                slot_states: get(t.slot_states).cast(),
                heap: heap.wrapping_add(align_up(heap as u64, 1024) as usize - heap as usize),
                fanin_spill: get(t.fanin_spill).cast(),
                fanin_seen_epoch: get(t.fanin_seen_epoch).cast(),
                task_entry_heads: get(t.task_entry_heads).cast(),
                dep_list: get(t.dep_list).cast(),
            }
        });
        let memory = TrbMemory {
            rings,
            scope_tasks: get(g.scope_tasks).cast(),
            tm_buckets: get(g.tm_buckets).cast(),
            tm_entries: get(g.tm_entries).cast(),
            tm_free_list: get(g.tm_free_list).cast(),
            ready_queues: std::array::from_fn(|_| get(g.ready_queue).cast()),
            wiring: get(g.wiring).cast(),
        };
        OwnedTrbMemory { memory, _allocs: allocs }
    }
}

#[cfg(test)]
#[path = "geometry_tests.rs"]
mod tests;
