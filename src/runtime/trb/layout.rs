//! Constants, shared-memory records (task descriptor, payload, slot state)
//! and the raw memory map [`TrbMemory`] every big table of the engine lives
//! in. All element sizes are fixed: the device arena reserves exactly these.

use crate::abi::tensor::{Tensor, MAX_TENSOR_DIMS};
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI16, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8};

/// Number of rings (`PTO2_MAX_RING_DEPTH`): the configuration's ring count.
pub use crate::config::RING_COUNT as MAX_RINGS;
/// Scope reference bit of `fanout_count` / `fanout_refcount`.
pub const SCOPE_BIT: u32 = 0x8000_0000;
/// TensorMap entry pool size (global).
pub const TENSORMAP_POOL_SIZE: usize = 65536;
/// TensorMap bucket count.
pub const TENSORMAP_NUM_BUCKETS: usize = 4096;
/// Retired tasks between TensorMap cleanups.
pub const TENSORMAP_CLEANUP_INTERVAL: u64 = 64;
/// Retired tasks between dep-pool reclaims.
pub const DEP_POOL_CLEANUP_INTERVAL: u64 = 64;
/// Ready-queue capacity per shape.
pub const READY_QUEUE_SIZE: usize = 65536;
/// Wiring queue capacity (usable: one less).
pub const WIRING_QUEUE_SIZE: usize = 1024;
/// Fanin producers stored inline in the payload.
pub const FANIN_INLINE_CAP: usize = 64;
/// Hot payloads per ring (capped at the ring's window): a task whose local
/// id is below `reclaimed + HOT_PAYLOADS` writes its payload into hot entry
/// `local % HOT_PAYLOADS` instead of its slot's own (see `RingShared::payload_for`).
/// The hot entries a run cycles through stay in the cores' L2 (each task
/// touches 3 to 6 of its payload's 75 lines: 4096 tasks ~1.6 MiB), where the
/// slot payloads of a 16384-task window (~6 MiB of touched lines) do not,
/// and only their pages become resident. 4096 rather than 2048: the bench's
/// independent tasks and chain often run more than 2048 tasks ahead of the
/// reclaim, and then touch slot payloads again (peak RSS of
/// `simpler bench --workload independent|chain`: 52-73 MiB at 2048, 25-30
/// at 4096; faster in 4-5 of 5 alternating pairs).
pub const HOT_PAYLOADS: usize = 4096;
/// Maximum scope nesting.
pub const MAX_SCOPE_DEPTH: usize = 64;
/// Heap allocation granularity.
pub const ALIGN_SIZE: u64 = 64;
/// Alignment of each packed OUTPUT buffer.
pub const PACKED_OUTPUT_ALIGN: u64 = 1024;
/// Tensor arguments per task.
pub const MAX_TENSOR_ARGS: usize = 32;
/// Scalar arguments per task.
pub const MAX_SCALAR_ARGS: usize = 16;
/// get/set_tensor_data wait budget.
pub const TENSOR_DATA_TIMEOUT_MS: u64 = 15_000;
/// Allocator / pool wall-clock deadlock backstop.
pub const ALLOC_DEADLOCK_TIMEOUT_MS: u64 = 500;
/// Default scheduler watchdog budget.
pub const DEFAULT_SCHEDULER_TIMEOUT_MS: u64 = 10_000;
/// Spins between checks in blocking loops.
pub const SPIN_CHECK_INTERVAL: u64 = 1024;
/// Kernel id of an inactive lane.
pub const INVALID_KERNEL_ID: i32 = -1;

/// PTO2 status codes (positive; the host status is the negation).
pub mod codes {
    /// Scope already holds `W−1` tasks.
    pub const SCOPE_DEADLOCK: i32 = 1;
    /// Allocator blocked on heap.
    pub const HEAP_RING_DEADLOCK: i32 = 2;
    /// Allocator blocked on the task window.
    pub const FLOW_CONTROL_DEADLOCK: i32 = 3;
    /// Fanin spill pool / dep list pool exhausted.
    pub const DEP_POOL_OVERFLOW: i32 = 4;
    /// Invalid arguments.
    pub const INVALID_ARGS: i32 = 5;
    /// `require_sync_start` block count exceeds the cores of that type.
    pub const REQUIRE_SYNC_START_INVALID: i32 = 7;
    /// get/set_tensor_data waited more than 15 s.
    pub const TENSOR_WAIT_TIMEOUT: i32 = 8;
    /// User-reported fatal (convention).
    #[cfg(test)]
    pub const EXPLICIT_ORCH_FATAL: i32 = 9;
    /// `scope_tasks` full.
    pub const SCOPE_TASKS_OVERFLOW: i32 = 10;
    /// TensorMap pool freed nothing for 500 ms.
    pub const TENSORMAP_OVERFLOW: i32 = 11;
    /// Scheduler watchdog.
    pub const SCHEDULER_TIMEOUT: i32 = 100;

    /// Symbolic name of a code.
    pub fn name(code: i32) -> &'static str {
        match code {
            0 => "PTO2_ERROR_NONE",
            1 => "PTO2_ERROR_SCOPE_DEADLOCK",
            2 => "PTO2_ERROR_HEAP_RING_DEADLOCK",
            3 => "PTO2_ERROR_FLOW_CONTROL_DEADLOCK",
            4 => "PTO2_ERROR_DEP_POOL_OVERFLOW",
            5 => "PTO2_ERROR_INVALID_ARGS",
            7 => "PTO2_ERROR_REQUIRE_SYNC_START_INVALID",
            8 => "PTO2_ERROR_TENSOR_WAIT_TIMEOUT",
            9 => "PTO2_ERROR_EXPLICIT_ORCH_FATAL",
            10 => "PTO2_ERROR_SCOPE_TASKS_OVERFLOW",
            11 => "PTO2_ERROR_TENSORMAP_OVERFLOW",
            100 => "PTO2_ERROR_SCHEDULER_TIMEOUT",
            101 => "PTO2_ERROR_ASYNC_COMPLETION_INVALID",
            102 => "PTO2_ERROR_ASYNC_WAIT_OVERFLOW",
            103 => "PTO2_ERROR_ASYNC_REGISTRATION_FAILED",
            _ => "PTO2_ERROR_UNKNOWN",
        }
    }
}

/// `runtime_status_from_error_codes`: `-|orch|` if non-zero, else `-|sched|`, else 0.
pub fn status_from_codes(orch: i32, sched: i32) -> i32 {
    if orch != 0 {
        -orch.abs()
    } else if sched != 0 {
        -sched.abs()
    } else {
        0
    }
}

/// Task id helpers: `(ring << 32) | local`.
pub mod task_id {
    /// Builds a raw id.
    pub fn make(ring: usize, local: u64) -> u64 {
        ((ring as u64) << 32) | (local & 0xFFFF_FFFF)
    }
    /// Ring of a raw id.
    pub fn ring(raw: u64) -> usize {
        (raw >> 32) as usize
    }
    /// Local id of a raw id.
    pub fn local(raw: u64) -> u64 {
        raw & 0xFFFF_FFFF
    }
}

/// Rounds `v` up to a multiple of the power of two `a`.
pub fn align_up(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

/// Task states.
pub mod task_state {
    /// Submitted, not completed (waiting, queued or running).
    pub const PENDING: u8 = 0;
    /// All subtasks finished.
    pub const COMPLETED: u8 = 1;
    /// Completed, released by all consumers and its scope; slot reclaimable.
    pub const CONSUMED: u8 = 2;
}

/// `PTO2TaskDescriptor` (40 B). Written by the orchestrator before the task
/// is published; read by schedulers and the allocator.
#[repr(C)]
#[derive(Debug, Default)]
pub struct TaskDescriptor {
    /// Raw task id.
    pub task_id: AtomicU64,
    /// Kernel ids of the AIC, AIV0, AIV1 lanes (-1 = inactive).
    pub kernel_id: [AtomicI32; 3],
    /// Padding.
    pub _pad: u32,
    /// Start of the task's packed output block in its ring heap.
    pub packed_buffer_base: AtomicU64,
    /// End of the packed output block (defines the heap tail once consumed).
    pub packed_buffer_end: AtomicU64,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<TaskDescriptor>() == 40);
    assert!(offset_of!(TaskDescriptor, kernel_id) == 8);
    assert!(offset_of!(TaskDescriptor, packed_buffer_base) == 24);
    assert!(offset_of!(TaskDescriptor, packed_buffer_end) == 32);
};

/// `PTO2TaskPayload` (4800 B): fanin list and the task's argument copies.
/// Written only by the orchestrator before the task is published.
#[repr(C, align(64))]
pub struct TaskPayload {
    /// Tensor argument count.
    pub tensor_count: i32,
    /// Scalar argument count.
    pub scalar_count: i32,
    /// Number of distinct producers.
    pub fanin_actual_count: i32,
    /// First spill-pool linear index (0 = nothing spilled).
    pub fanin_spill_start: i32,
    /// Spill pool the spilled producers live in (null = none).
    pub fanin_spill_pool: *mut FaninSpillEntry,
    /// The first 64 producers.
    pub fanin_inline: [*const SlotState; FANIN_INLINE_CAP],
    /// Reserved (speculative early dispatch fields upstream).
    pub _reserved: [u8; 40],
    /// Tensor argument copies (what kernels receive pointers to).
    pub tensors: [Tensor; MAX_TENSOR_ARGS],
    /// Scalar arguments.
    pub scalars: [u64; MAX_SCALAR_ARGS],
}

impl TaskPayload {
    /// Dependency-list entries wiring this task takes from its ring's pool
    /// and holds until it retires: one per fanin, whether or not the
    /// producer has already completed (`drain_wiring`; the scope statistics
    /// count queued tasks with the same rule).
    pub fn dep_entries(&self) -> u64 {
        self.fanin_actual_count.max(0) as u64
    }
}

// SAFETY: a payload is plain data; its pointer fields are addresses into
// the rings' tables whose use is governed by the task protocol (written by
// the orchestrator before publication, read-only afterwards). The engine
// only accesses payloads through raw pointers, never through shared slices.
unsafe impl Send for TaskPayload {}
// SAFETY: as above.
unsafe impl Sync for TaskPayload {}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<TaskPayload>() == 4800);
    assert!(offset_of!(TaskPayload, fanin_spill_pool) == 16);
    assert!(offset_of!(TaskPayload, fanin_inline) == 24);
    assert!(offset_of!(TaskPayload, tensors) == 576);
    assert!(offset_of!(TaskPayload, scalars) == 4672);
};

/// `PTO2TaskSlotState` (64 B, one cache line). Every field is atomic so the
/// record can be shared by reference between the orchestrator and schedulers.
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub struct SlotState {
    /// Spin lock guarding `fanout_count`, `fanout_head` and the state transitions.
    pub fanout_lock: AtomicU32,
    /// `SCOPE_BIT | claimed consumers`.
    pub fanout_count: AtomicU32,
    /// Head of the consumer list (dep-pool entries).
    pub fanout_head: AtomicPtr<DepEntry>,
    /// `task_state::*`.
    pub task_state: AtomicU32,
    /// Satisfied fanins (+1 once wired).
    pub fanin_refcount: AtomicI32,
    /// `producers + 1`, set by the orchestrator with the payload's fanins
    /// (before publication; the wiring reads it from here).
    pub fanin_count: AtomicI32,
    /// Releases received (+1 per consumer, +SCOPE_BIT at scope end).
    pub fanout_refcount: AtomicU32,
    /// The task's payload.
    pub payload: AtomicPtr<TaskPayload>,
    /// The task's descriptor.
    pub task: AtomicPtr<TaskDescriptor>,
    /// Dep-pool top after wiring this task.
    pub dep_pool_mark: AtomicI32,
    /// Finished subtasks.
    pub completed_subtasks: AtomicI16,
    /// `block_num × lanes`.
    pub total_required_subtasks: AtomicI16,
    /// `block_num`.
    pub logical_block_num: AtomicI16,
    /// Next SPMD block to claim.
    pub next_block_idx: AtomicI16,
    /// Lane bits (1 AIC, 2 AIV0, 4 AIV1) plus 8 = sync start.
    pub active_mask: AtomicU8,
    /// Ring of the task.
    pub ring_id: AtomicU8,
    /// Reserved.
    pub _reserved: [u8; 2],
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<SlotState>() == 64);
    assert!(offset_of!(SlotState, fanout_head) == 8);
    assert!(offset_of!(SlotState, payload) == 32);
    assert!(offset_of!(SlotState, dep_pool_mark) == 48);
    assert!(offset_of!(SlotState, active_mask) == 60);
};

impl SlotState {
    /// Acquires the fanout spin lock.
    pub fn lock(&self) {
        use std::sync::atomic::Ordering::*;
        loop {
            if self.fanout_lock.compare_exchange_weak(0, 1, Acquire, Relaxed).is_ok() {
                return;
            }
            while self.fanout_lock.load(Relaxed) != 0 {
                std::hint::spin_loop();
            }
        }
    }

    /// Releases the fanout spin lock.
    pub fn unlock(&self) {
        self.fanout_lock.store(0, std::sync::atomic::Ordering::Release);
    }

    /// Current state.
    pub fn state(&self) -> u8 {
        self.task_state.load(std::sync::atomic::Ordering::Acquire) as u8
    }
}

/// Fanin spill pool entry (8 B): a producer slot state.
#[repr(C)]
#[derive(Debug)]
pub struct FaninSpillEntry {
    /// Producer.
    pub slot: AtomicPtr<SlotState>,
}
const _: () = assert!(std::mem::size_of::<FaninSpillEntry>() == 8);

/// Dependency list entry (16 B): one consumer in a producer's fanout list.
#[repr(C)]
#[derive(Debug)]
pub struct DepEntry {
    /// Consumer slot.
    pub consumer: AtomicPtr<SlotState>,
    /// Next entry.
    pub next: AtomicPtr<DepEntry>,
}
const _: () = assert!(std::mem::size_of::<DepEntry>() == 16);

/// Ready-queue cell (16 B): sequence number and the queued slot pointer.
#[repr(C)]
#[derive(Debug)]
pub struct QueueCell {
    /// Vyukov sequence, stored relative to the cell index (zero = initial).
    pub seq: AtomicU64,
    /// Queued value.
    pub value: AtomicU64,
}
const _: () = assert!(std::mem::size_of::<QueueCell>() == 16);

/// A typed view of a raw memory region, or an owned zeroed allocation.
pub struct Region<T> {
    ptr: NonNull<T>,
    len: usize,
    owned: Option<Layout>,
}

// SAFETY: a Region is either an owned allocation (like Box<[T]>) or an
// exclusive view handed over by `from_raw`'s caller; T's own Send/Sync
// decide whether sharing is sound.
unsafe impl<T: Send> Send for Region<T> {}
// SAFETY: as above; shared access only yields `&[T]`.
unsafe impl<T: Sync> Sync for Region<T> {}

impl<T> Region<T> {
    /// Wraps `len` elements at `ptr`.
    ///
    /// # Safety
    /// `ptr` must be non-null, aligned for `T`, valid for reads and writes of
    /// `len` elements that hold valid `T` values (all-zero bytes count as
    /// valid for every type in this module), and not accessed through any
    /// other path while the region is alive.
    pub unsafe fn from_raw(ptr: *mut T, len: usize) -> Region<T> {
        Region {
            ptr: NonNull::new(ptr).unwrap_or(NonNull::dangling()),
            len: if ptr.is_null() { 0 } else { len },
            owned: None,
        }
    }

    /// Owned, zero-filled allocation of `len` elements (lazily committed by
    /// the OS for large sizes). `T` must be valid when all-zero: every
    /// element type of this module is (integers, atomics, null pointers).
    #[cfg(test)]
    pub fn zeroed(len: usize) -> Region<T> {
        let ptr = alloc_zeroed_bytes(len * std::mem::size_of::<T>(), std::mem::align_of::<T>().max(64));
        Region { ptr: ptr.0.cast(), len, owned: Some(ptr.1) }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Base pointer.
    pub fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// Shared view.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the constructor contract guarantees `len` valid elements.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Exclusive view.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as above, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for Region<T> {
    fn drop(&mut self) {
        if let Some(layout) = self.owned {
            if layout.size() > 0 {
                // SAFETY: allocated by `alloc_zeroed_bytes` with this layout.
                unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast(), layout) };
            }
        }
    }
}

#[cfg(test)]
fn alloc_zeroed_bytes(size: usize, align: usize) -> (NonNull<u8>, Layout) {
    let layout = Layout::from_size_align(size.max(1), align).expect("region layout");
    if size == 0 {
        return (
            NonNull::new(align as *mut u8).expect("non-zero align"),
            Layout::from_size_align(0, align).expect("layout"),
        );
    }
    // SAFETY: layout has non-zero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    match NonNull::new(p) {
        Some(p) => (p, layout),
        None => std::alloc::handle_alloc_error(layout),
    }
}

/// One TensorMap entry (128 B, two cache lines), the element of the
/// arena's TensorMap entry pool (the map itself is in `tensormap`).
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default)]
pub struct TmEntry {
    /// Base address of the buffer.
    pub buffer_addr: u64,
    /// Next entry in the bucket chain.
    pub next_in_bucket: u32,
    /// Bucket index, -1 = free.
    pub bucket_index: i32,
    /// Raw id of the producing task.
    pub producer_task_id: u64,
    /// View start (elements).
    pub start_offset: u64,
    /// Version of the written view.
    pub version: i32,
    /// Rank.
    pub ndims: u32,
    /// dtype code.
    pub dtype: u8,
    /// Manual-dep flag (copied; informational).
    pub manual_dep: u8,
    /// Contiguity flag.
    pub is_contiguous: u8,
    /// Padding.
    pub _pad0: u8,
    /// View shape.
    pub shapes: [u32; MAX_TENSOR_DIMS],
    /// Previous entry in the bucket chain.
    pub prev_in_bucket: u32,
    /// Next entry of the same task.
    pub next_in_task: u32,
    /// Previous entry of the same task.
    pub prev_in_task: u32,
    /// Padding.
    pub _pad1: u32,
    /// Extent in elements.
    pub extent_elem_cache: u64,
    /// View strides.
    pub strides: [u32; MAX_TENSOR_DIMS],
    /// Padding.
    pub _pad2: [u8; 20],
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<TmEntry>() == 128);
    assert!(offset_of!(TmEntry, producer_task_id) == 16);
    assert!(offset_of!(TmEntry, shapes) == 44);
    assert!(offset_of!(TmEntry, prev_in_bucket) == 64);
    assert!(offset_of!(TmEntry, extent_elem_cache) == 80);
    assert!(offset_of!(TmEntry, strides) == 88);
};

/// Raw memory of one ring.
#[derive(Debug, Clone, Copy)]
pub struct RingMemory {
    /// `W` task descriptors (40 B each).
    pub descriptors: *mut TaskDescriptor,
    /// `W` payloads (4800 B each, 64-aligned).
    pub payloads: *mut TaskPayload,
    /// `min(W, HOT_PAYLOADS)` hot payloads (4800 B each, 64-aligned; host
    /// memory beside the device layout, see [`HOT_PAYLOADS`]).
    pub hot_payloads: *mut TaskPayload,
    /// `W` slot states (64 B each, 64-aligned).
    pub slot_states: *mut SlotState,
    /// Heap of `heap_size` bytes (1024-aligned recommended).
    pub heap: *mut u8,
    /// Fanin spill pool, `D` entries of 8 B.
    pub fanin_spill: *mut FaninSpillEntry,
    /// Fanin seen-epoch, `W` × 4 B.
    pub fanin_seen_epoch: *mut u32,
    /// TensorMap per-slot entry-list heads, `W` × 8 B.
    pub task_entry_heads: *mut u64,
    /// Dependency list pool, `D` entries of 16 B.
    pub dep_list: *mut DepEntry,
}

/// Raw base pointers of every big table of the engine. The host backs them
/// with a lazily committed arena; `TrbMemory::owned` (`arena::geometry`)
/// allocates them.
///
/// Contract for `run`: every pointer is valid, aligned and holds the table
/// `arena::geometry::Geometry::of(&params.sizing)` gives it (the run's
/// `RunParams::sizing`), the regions do not overlap, nothing else touches them during a
/// run, and the zero-initialised tables (`ready_queues`) were zero at first
/// use (the engine restores them to zero at the end of each run).
#[derive(Debug, Clone, Copy)]
pub struct TrbMemory {
    /// Per-ring memory.
    pub rings: [RingMemory; MAX_RINGS],
    /// `Σ W` entries of 8 B.
    pub scope_tasks: *mut u64,
    /// 4096 × 8 B.
    pub tm_buckets: *mut u64,
    /// 65536 × 128 B.
    pub tm_entries: *mut TmEntry,
    /// 65536 × 8 B.
    pub tm_free_list: *mut u64,
    /// AIC, AIV, MIX, DUMMY queues: 65536 × 16 B each (zero-initialised).
    pub ready_queues: [*mut QueueCell; 4],
    /// 1024 × 8 B.
    pub wiring: *mut u64,
}

// SAFETY: TrbMemory is a plain bundle of addresses; whoever dereferences
// them upholds the contract documented on the type.
unsafe impl Send for TrbMemory {}
// SAFETY: as above.
unsafe impl Sync for TrbMemory {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_pack_ring_and_local() {
        let id = task_id::make(3, 7);
        assert_eq!(id, 0x0000_0003_0000_0007);
        assert_eq!(task_id::ring(id), 3);
        assert_eq!(task_id::local(id), 7);
        assert_eq!(task_id::make(1, 0), 0x0000_0001_0000_0000);
    }

    #[test]
    fn status_mapping_prefers_orchestrator_code() {
        assert_eq!(status_from_codes(0, 0), 0);
        assert_eq!(status_from_codes(3, 100), -3);
        assert_eq!(status_from_codes(0, 100), -100);
        assert_eq!(status_from_codes(-5, 0), -5);
    }

    #[test]
    fn region_views_cover_len() {
        let mut r = Region::<u64>::zeroed(10);
        r.as_mut_slice()[9] = 5;
        assert_eq!(r.as_slice().iter().sum::<u64>(), 5);
        assert_eq!(r.len(), 10);
    }
}
