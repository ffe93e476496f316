//! Shared-memory geometry of the tensormap_and_ringbuffer runtime
//! (upstream's `pto_shared_memory.h/.cpp`, c68d9bbe6): the 896-byte header and the per-ring descriptor, payload and
//! slot-state arrays that follow it.
//!
//! The layout is byte-exact with upstream's `PTO2SharedMemoryHeader` (LP64),
//! so the header offsets are pinned by compile-time assertions.

#[cfg(test)]
use std::sync::atomic::Ordering;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64};

use super::{checked_align_up, RING_COUNT};
use crate::diagnostics::{Error, Result};
use crate::runtime::trb::layout::{SlotState, TaskDescriptor, TaskPayload};

/// Alignment unit of the shared-memory arrays (`PTO2_ALIGN_SIZE`).
pub const SM_ALIGN: u64 = 64;
/// `sizeof(PTO2SharedMemoryHeader)`.
pub const SM_HEADER_SIZE: u64 = 896;
/// `sizeof(PTO2SharedMemoryRingHeader)`, the stride of `rings[r]`.
pub const SM_RING_HEADER_SIZE: u64 = 192;
/// Bytes of one task descriptor (the engine's `TaskDescriptor`).
pub const SM_TASK_DESCRIPTOR_BYTES: u64 = std::mem::size_of::<TaskDescriptor>() as u64;
/// Bytes of one task payload (the engine's `TaskPayload`).
pub const SM_TASK_PAYLOAD_BYTES: u64 = std::mem::size_of::<TaskPayload>() as u64;
/// Bytes of one slot state (the engine's `SlotState`).
pub const SM_SLOT_STATE_BYTES: u64 = std::mem::size_of::<SlotState>() as u64;

/// Offset of `rings[0]` in the header.
pub const OFF_RINGS: usize = 0;
/// Ring header: `fc.current_task_index` (atomic i32, own 64-B line).
pub const RING_OFF_CURRENT_TASK_INDEX: usize = 0;
/// Ring header: `fc.last_task_alive` (atomic i32, own 64-B line).
pub const RING_OFF_LAST_TASK_ALIVE: usize = 64;
/// Ring header: `task_window_size` (u64).
pub const RING_OFF_TASK_WINDOW_SIZE: usize = 128;
/// Ring header: `task_window_mask` (i32, `W - 1`).
pub const RING_OFF_TASK_WINDOW_MASK: usize = 136;
/// Ring header: `heap_size` (u64).
pub const RING_OFF_HEAP_SIZE: usize = 144;
/// Ring header: `task_descriptors_offset` (u64, from the SM base).
pub const RING_OFF_TASK_DESCRIPTORS_OFFSET: usize = 152;
/// Ring header: `task_descriptors` pointer.
pub const RING_OFF_TASK_DESCRIPTORS: usize = 160;
/// Ring header: `task_payloads` pointer.
pub const RING_OFF_TASK_PAYLOADS: usize = 168;
/// Ring header: `slot_states` pointer.
pub const RING_OFF_SLOT_STATES: usize = 176;
/// `orchestrator_done` (atomic i32).
pub const OFF_ORCHESTRATOR_DONE: usize = 768;
/// `total_size` (u64).
pub const OFF_TOTAL_SIZE: usize = 776;
/// `graph_output_ptr` (atomic u64).
pub const OFF_GRAPH_OUTPUT_PTR: usize = 784;
/// `graph_output_size` (atomic u64).
pub const OFF_GRAPH_OUTPUT_SIZE: usize = 792;
/// `orch_error_code` (atomic i32).
pub const OFF_ORCH_ERROR_CODE: usize = 800;
/// `sched_error_bitmap` (atomic u32).
pub const OFF_SCHED_ERROR_BITMAP: usize = 804;
/// `sched_error_code` (atomic i32).
pub const OFF_SCHED_ERROR_CODE: usize = 808;
/// `sched_error_thread` (atomic i32, init −1).
pub const OFF_SCHED_ERROR_THREAD: usize = 812;
/// `sched_stall_detail` (atomic i32).
pub const OFF_SCHED_STALL_DETAIL: usize = 816;
/// `sched_stall_completed` (i32).
pub const OFF_SCHED_STALL_COMPLETED: usize = 820;
/// `sched_stall_total` (i32).
pub const OFF_SCHED_STALL_TOTAL: usize = 824;
/// `sched_stall_cnt_running` (i32).
pub const OFF_SCHED_STALL_CNT_RUNNING: usize = 828;
/// `sched_stall_cnt_ready` (i32).
pub const OFF_SCHED_STALL_CNT_READY: usize = 832;
/// `sched_stall_cnt_waiting` (i32).
pub const OFF_SCHED_STALL_CNT_WAITING: usize = 836;
/// `sched_stall_orch_done` (i32).
pub const OFF_SCHED_STALL_ORCH_DONE: usize = 840;
/// `sched_stall_task_id` (i64, init −1).
pub const OFF_SCHED_STALL_TASK_ID: usize = 848;
/// `sched_stall_core` (i32, init −1).
pub const OFF_SCHED_STALL_CORE: usize = 856;

/// Offsets (from the SM base) of one ring's arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SmRingLayout {
    /// Task descriptors (`W × 40` bytes), equal to the ring start.
    pub descriptors: u64,
    /// Task payloads (`W × 4800` bytes).
    pub payloads: u64,
    /// Slot states (`W × 64` bytes).
    pub slot_states: u64,
    /// Task window `W` of this ring.
    pub window: u64,
}

/// The per-ring shared-memory layout (`calculate_size_per_ring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SmLayout {
    /// Per-ring array offsets.
    pub rings: [SmRingLayout; RING_COUNT],
    /// Total SM size in bytes (`ring_start(4)`).
    pub total_size: u64,
}

impl SmLayout {
    /// Computes the layout for per-ring task windows `windows` (the size formulas of upstream's `pto_shared_memory.cpp`).
    ///
    /// Windows are not validated here beyond arithmetic (W = 0 yields empty
    /// rings); overflow is [`Error::InvalidArgument`].
    pub fn compute(windows: [u64; RING_COUNT]) -> Result<SmLayout> {
        let a = |x: Option<u64>, what: &str, r: usize| -> Result<u64> {
            x.and_then(|v| checked_align_up(v, SM_ALIGN)).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "shared-memory size overflows u64 at ring {r} {what} (windows {windows:?})"
                ))
            })
        };
        let add = |x: u64, y: u64, r: usize| -> Result<u64> {
            x.checked_add(y).ok_or_else(|| {
                Error::InvalidArgument(format!("shared-memory size overflows u64 at ring {r} (windows {windows:?})"))
            })
        };
        let mut start = a(Some(SM_HEADER_SIZE), "header", 0)?;
        let mut rings = [SmRingLayout::default(); RING_COUNT];
        for (r, (ring, &w)) in rings.iter_mut().zip(windows.iter()).enumerate() {
            let descriptors = start;
            let payloads = add(descriptors, a(w.checked_mul(SM_TASK_DESCRIPTOR_BYTES), "descriptors", r)?, r)?;
            let slot_states = add(payloads, a(w.checked_mul(SM_TASK_PAYLOAD_BYTES), "payloads", r)?, r)?;
            start = add(slot_states, a(w.checked_mul(SM_SLOT_STATE_BYTES), "slot states", r)?, r)?;
            *ring = SmRingLayout { descriptors, payloads, slot_states, window: w };
        }
        Ok(SmLayout { rings, total_size: start })
    }

    /// `calculate_size(W)`: one window broadcast to every ring.
    #[cfg(test)]
    pub fn compute_uniform(window: u64) -> Result<SmLayout> {
        Self::compute([window; RING_COUNT])
    }
}

/// One ring's header (`PTO2SharedMemoryRingHeader`, 192 B).
///
/// Fields that are plain integers in C are atomics here so the header can be
/// (re)initialized through a shared reference while device threads hold
/// references to it; atomics have the size and alignment of the integer.
#[repr(C, align(64))]
pub struct SmRingHeader {
    /// `fc.current_task_index`: next task id, written by the orchestrator.
    pub current_task_index: AtomicI32,
    _pad0: [u8; 60],
    /// `fc.last_task_alive`: oldest live task id, written by schedulers.
    pub last_task_alive: AtomicI32,
    _pad1: [u8; 60],
    /// `task_window_size` (W).
    pub task_window_size: AtomicU64,
    /// `task_window_mask` (W − 1).
    pub task_window_mask: AtomicI32,
    _pad2: [u8; 4],
    /// `heap_size` of this ring.
    pub heap_size: AtomicU64,
    /// `task_descriptors_offset` from the SM base.
    pub task_descriptors_offset: AtomicU64,
    /// `task_descriptors` device pointer.
    pub task_descriptors: AtomicU64,
    /// `task_payloads` device pointer.
    pub task_payloads: AtomicU64,
    /// `slot_states` device pointer.
    pub slot_states: AtomicU64,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<SmRingHeader>() == SM_RING_HEADER_SIZE as usize);
    assert!(align_of::<SmRingHeader>() == 64);
    assert!(offset_of!(SmRingHeader, current_task_index) == RING_OFF_CURRENT_TASK_INDEX);
    assert!(offset_of!(SmRingHeader, last_task_alive) == RING_OFF_LAST_TASK_ALIVE);
    assert!(offset_of!(SmRingHeader, task_window_size) == RING_OFF_TASK_WINDOW_SIZE);
    assert!(offset_of!(SmRingHeader, task_window_mask) == RING_OFF_TASK_WINDOW_MASK);
    assert!(offset_of!(SmRingHeader, heap_size) == RING_OFF_HEAP_SIZE);
    assert!(offset_of!(SmRingHeader, task_descriptors_offset) == RING_OFF_TASK_DESCRIPTORS_OFFSET);
    assert!(offset_of!(SmRingHeader, task_descriptors) == RING_OFF_TASK_DESCRIPTORS);
    assert!(offset_of!(SmRingHeader, task_payloads) == RING_OFF_TASK_PAYLOADS);
    assert!(offset_of!(SmRingHeader, slot_states) == RING_OFF_SLOT_STATES);
};

/// The shared-memory header (`PTO2SharedMemoryHeader`, 896 B, 64-aligned).
#[repr(C, align(64))]
pub struct SmHeader {
    /// Per-ring headers.
    pub rings: [SmRingHeader; RING_COUNT],
    /// `orchestrator_done`.
    pub orchestrator_done: AtomicI32,
    _pad0: [u8; 4],
    /// `total_size` (the SM size passed to init).
    pub total_size: AtomicU64,
    /// `graph_output_ptr` (always 0 in this runtime).
    pub graph_output_ptr: AtomicU64,
    /// `graph_output_size` (always 0 in this runtime).
    pub graph_output_size: AtomicU64,
    /// `orch_error_code` (first-writer CAS).
    pub orch_error_code: AtomicI32,
    /// `sched_error_bitmap` (bit per reporting thread).
    pub sched_error_bitmap: AtomicU32,
    /// `sched_error_code` (first-writer CAS).
    pub sched_error_code: AtomicI32,
    /// `sched_error_thread` (init −1).
    pub sched_error_thread: AtomicI32,
    /// `sched_stall_detail` (`PTO2_STALL_DETAIL_*`).
    pub sched_stall_detail: AtomicI32,
    /// `sched_stall_completed`.
    pub sched_stall_completed: AtomicI32,
    /// `sched_stall_total`.
    pub sched_stall_total: AtomicI32,
    /// `sched_stall_cnt_running`.
    pub sched_stall_cnt_running: AtomicI32,
    /// `sched_stall_cnt_ready`.
    pub sched_stall_cnt_ready: AtomicI32,
    /// `sched_stall_cnt_waiting`.
    pub sched_stall_cnt_waiting: AtomicI32,
    /// `sched_stall_orch_done`.
    pub sched_stall_orch_done: AtomicI32,
    _pad1: [u8; 4],
    /// `sched_stall_task_id` (init −1).
    pub sched_stall_task_id: AtomicI64,
    /// `sched_stall_core` (init −1).
    pub sched_stall_core: AtomicI32,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<SmHeader>() == SM_HEADER_SIZE as usize);
    assert!(align_of::<SmHeader>() == 64);
    assert!(offset_of!(SmHeader, rings) == OFF_RINGS);
    assert!(offset_of!(SmHeader, orchestrator_done) == OFF_ORCHESTRATOR_DONE);
    assert!(offset_of!(SmHeader, total_size) == OFF_TOTAL_SIZE);
    assert!(offset_of!(SmHeader, graph_output_ptr) == OFF_GRAPH_OUTPUT_PTR);
    assert!(offset_of!(SmHeader, graph_output_size) == OFF_GRAPH_OUTPUT_SIZE);
    assert!(offset_of!(SmHeader, orch_error_code) == OFF_ORCH_ERROR_CODE);
    assert!(offset_of!(SmHeader, sched_error_bitmap) == OFF_SCHED_ERROR_BITMAP);
    assert!(offset_of!(SmHeader, sched_error_code) == OFF_SCHED_ERROR_CODE);
    assert!(offset_of!(SmHeader, sched_error_thread) == OFF_SCHED_ERROR_THREAD);
    assert!(offset_of!(SmHeader, sched_stall_detail) == OFF_SCHED_STALL_DETAIL);
    assert!(offset_of!(SmHeader, sched_stall_completed) == OFF_SCHED_STALL_COMPLETED);
    assert!(offset_of!(SmHeader, sched_stall_total) == OFF_SCHED_STALL_TOTAL);
    assert!(offset_of!(SmHeader, sched_stall_cnt_running) == OFF_SCHED_STALL_CNT_RUNNING);
    assert!(offset_of!(SmHeader, sched_stall_cnt_ready) == OFF_SCHED_STALL_CNT_READY);
    assert!(offset_of!(SmHeader, sched_stall_cnt_waiting) == OFF_SCHED_STALL_CNT_WAITING);
    assert!(offset_of!(SmHeader, sched_stall_orch_done) == OFF_SCHED_STALL_ORCH_DONE);
    assert!(offset_of!(SmHeader, sched_stall_task_id) == OFF_SCHED_STALL_TASK_ID);
    assert!(offset_of!(SmHeader, sched_stall_core) == OFF_SCHED_STALL_CORE);
};

impl SmHeader {
    /// Initializes the header for a new run (upstream's `init_per_ring`).
    ///
    /// The header is assumed to sit at the SM base (as it does in the SM
    /// region), so the per-ring array pointers are `self`'s address plus the
    /// layout offsets. Sets: both flow-control counters 0,
    /// `orchestrator_done` 0, per-ring window / mask / heap size /
    /// descriptor offset and pointers, `total_size`, graph output 0, every
    /// error and stall field 0 except `sched_error_thread`,
    /// `sched_stall_task_id` and `sched_stall_core`, which are −1. Slots are
    /// not touched (they are reset at allocation).
    ///
    /// `total_size` smaller than `layout.total_size` is
    /// [`Error::InvalidArgument`] and leaves the header unchanged.
    #[cfg(test)]
    pub fn reset(&self, layout: &SmLayout, heaps: [u64; RING_COUNT], total_size: u64) -> Result<()> {
        if total_size < layout.total_size {
            return Err(Error::InvalidArgument(format!(
                "shared memory of {total_size} bytes is smaller than the {} bytes the layout needs",
                layout.total_size
            )));
        }
        let base = self as *const SmHeader as u64;
        let rel = Ordering::Relaxed;
        for ((ring, rl), &heap) in self.rings.iter().zip(layout.rings.iter()).zip(heaps.iter()) {
            ring.current_task_index.store(0, rel);
            ring.last_task_alive.store(0, rel);
            ring.task_window_size.store(rl.window, rel);
            // W ≤ 2^31 for every valid window, so W − 1 fits in i32.
            ring.task_window_mask.store(rl.window.wrapping_sub(1) as i32, rel);
            ring.heap_size.store(heap, rel);
            ring.task_descriptors_offset.store(rl.descriptors, rel);
            ring.task_descriptors.store(base.wrapping_add(rl.descriptors), rel);
            ring.task_payloads.store(base.wrapping_add(rl.payloads), rel);
            ring.slot_states.store(base.wrapping_add(rl.slot_states), rel);
        }
        self.orchestrator_done.store(0, rel);
        self.total_size.store(total_size, rel);
        self.graph_output_ptr.store(0, rel);
        self.graph_output_size.store(0, rel);
        self.orch_error_code.store(0, rel);
        self.sched_error_bitmap.store(0, rel);
        self.sched_error_code.store(0, rel);
        self.sched_error_thread.store(-1, rel);
        self.sched_stall_detail.store(0, rel);
        self.sched_stall_completed.store(0, rel);
        self.sched_stall_total.store(0, rel);
        self.sched_stall_cnt_running.store(0, rel);
        self.sched_stall_cnt_ready.store(0, rel);
        self.sched_stall_cnt_waiting.store(0, rel);
        self.sched_stall_orch_done.store(0, rel);
        self.sched_stall_task_id.store(-1, rel);
        // Publish the whole reset to threads that later acquire any field.
        self.sched_stall_core.store(-1, Ordering::Release);
        Ok(())
    }

    /// upstream's shared-memory `validate()`: per ring, the descriptor offset lies
    /// below `total_size`, the descriptor pointer is 64-aligned and both
    /// flow-control counters are non-negative.
    #[cfg(test)]
    pub fn validate(&self) -> Result<()> {
        let total = self.total_size.load(Ordering::Acquire);
        for (r, ring) in self.rings.iter().enumerate() {
            let off = ring.task_descriptors_offset.load(Ordering::Relaxed);
            let ptr = ring.task_descriptors.load(Ordering::Relaxed);
            let cur = ring.current_task_index.load(Ordering::Relaxed);
            let alive = ring.last_task_alive.load(Ordering::Relaxed);
            if off >= total {
                return Err(Error::State(format!(
                    "shared memory ring {r}: descriptor offset {off} >= total size {total}"
                )));
            }
            if ptr % SM_ALIGN != 0 {
                return Err(Error::State(format!(
                    "shared memory ring {r}: descriptor pointer {ptr:#x} is not 64-aligned"
                )));
            }
            if cur < 0 || alive < 0 {
                return Err(Error::State(format!(
                    "shared memory ring {r}: negative flow-control counter \
                     (current_task_index {cur}, last_task_alive {alive})"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::region::Region;

    #[test]
    fn default_size_matches_spec() {
        let l = SmLayout::compute_uniform(16384).unwrap();
        assert_eq!(l.total_size, 321_389_440);
        assert_eq!(l.rings[0].descriptors, 896);
        assert_eq!(l.rings[0].payloads, 896 + 16384 * 40);
        assert_eq!(l.rings[0].slot_states, 896 + 16384 * 40 + 16384 * 4800);
        assert_eq!(l.rings[1].descriptors, 896 + 16384 * (40 + 4800 + 64));
        assert_eq!(l.rings[3].window, 16384);
    }

    #[test]
    fn zero_windows_give_header_only() {
        let l = SmLayout::compute([0; 4]).unwrap();
        assert_eq!(l.total_size, 896);
        for r in l.rings {
            assert_eq!((r.descriptors, r.payloads, r.slot_states), (896, 896, 896));
        }
    }

    #[test]
    fn odd_windows_are_padded_to_64() {
        // W = 1: 40 → 64, 4800 → 4800 (already a multiple of 64), 64 → 64.
        let l = SmLayout::compute([1, 0, 3, 0]).unwrap();
        assert_eq!(l.rings[0].payloads, 896 + 64);
        assert_eq!(l.rings[0].slot_states, 896 + 64 + 4800);
        assert_eq!(l.rings[1].descriptors, 896 + 64 + 4800 + 64);
        let r2 = l.rings[2].descriptors;
        assert_eq!(l.rings[2].payloads, r2 + 128); // 120 → 128
        assert_eq!(l.rings[2].slot_states, r2 + 128 + 14400);
        assert_eq!(l.total_size, r2 + 128 + 14400 + 192);
        for r in l.rings {
            assert_eq!(r.descriptors % 64, 0);
            assert_eq!(r.payloads % 64, 0);
            assert_eq!(r.slot_states % 64, 0);
        }
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(matches!(SmLayout::compute([u64::MAX, 0, 0, 0]), Err(Error::InvalidArgument(_))));
        assert!(matches!(SmLayout::compute([0, 0, 0, u64::MAX / 4800]), Err(Error::InvalidArgument(_))));
        assert!(SmLayout::compute([u64::MAX / 8000; 4]).is_err());
    }

    #[test]
    fn reset_sets_init_values() {
        let layout = SmLayout::compute([16, 32, 64, 128]).unwrap();
        let region = Region::new(layout.total_size as usize).unwrap();
        // SAFETY: the header region is page-aligned, in bounds, all-zero
        // (valid for atomics) and has no other views.
        let hdr = unsafe { region.slice::<SmHeader>(0, 1) }.unwrap();
        let hdr = &hdr[0];
        // Dirty a few fields first.
        hdr.rings[2].current_task_index.store(99, Ordering::Relaxed);
        hdr.orch_error_code.store(7, Ordering::Relaxed);
        hdr.sched_stall_detail.store(3, Ordering::Relaxed);
        hdr.reset(&layout, [1024, 2048, 4096, 8192], layout.total_size).unwrap();
        let base = region.base_addr();
        for (r, ring) in hdr.rings.iter().enumerate() {
            let w = 16u64 << r;
            assert_eq!(ring.current_task_index.load(Ordering::Relaxed), 0);
            assert_eq!(ring.last_task_alive.load(Ordering::Relaxed), 0);
            assert_eq!(ring.task_window_size.load(Ordering::Relaxed), w);
            assert_eq!(ring.task_window_mask.load(Ordering::Relaxed), w as i32 - 1);
            assert_eq!(ring.heap_size.load(Ordering::Relaxed), 1024 << r);
            let rl = layout.rings[r];
            assert_eq!(ring.task_descriptors_offset.load(Ordering::Relaxed), rl.descriptors);
            assert_eq!(ring.task_descriptors.load(Ordering::Relaxed), base + rl.descriptors);
            assert_eq!(ring.task_payloads.load(Ordering::Relaxed), base + rl.payloads);
            assert_eq!(ring.slot_states.load(Ordering::Relaxed), base + rl.slot_states);
        }
        assert_eq!(hdr.total_size.load(Ordering::Relaxed), layout.total_size);
        assert_eq!(hdr.orch_error_code.load(Ordering::Relaxed), 0);
        assert_eq!(hdr.sched_stall_detail.load(Ordering::Relaxed), 0);
        assert_eq!(hdr.sched_error_thread.load(Ordering::Relaxed), -1);
        assert_eq!(hdr.sched_stall_task_id.load(Ordering::Relaxed), -1);
        assert_eq!(hdr.sched_stall_core.load(Ordering::Relaxed), -1);
        assert_eq!(hdr.graph_output_ptr.load(Ordering::Relaxed), 0);
        hdr.validate().unwrap();

        // The raw bytes agree with the pinned offsets.
        // SAFETY: reading integers that alias atomics through a shared view;
        // no writes happen while `raw` lives.
        let raw = unsafe { region.slice::<u8>(0, SM_HEADER_SIZE as usize) }.unwrap();
        let rd_i32 = |o: usize| i32::from_ne_bytes(raw[o..o + 4].try_into().unwrap());
        let rd_u64 = |o: usize| u64::from_ne_bytes(raw[o..o + 8].try_into().unwrap());
        assert_eq!(rd_i32(OFF_SCHED_ERROR_THREAD), -1);
        assert_eq!(rd_i32(OFF_SCHED_STALL_CORE), -1);
        assert_eq!(rd_u64(OFF_SCHED_STALL_TASK_ID), u64::MAX);
        assert_eq!(rd_u64(OFF_TOTAL_SIZE), layout.total_size);
        assert_eq!(rd_u64(3 * SM_RING_HEADER_SIZE as usize + RING_OFF_TASK_WINDOW_SIZE), 128);
        assert_eq!(rd_i32(SM_RING_HEADER_SIZE as usize + RING_OFF_TASK_WINDOW_MASK), 31);
    }

    #[test]
    fn reset_rejects_small_total_and_validate_catches_bad_state() {
        let layout = SmLayout::compute_uniform(16).unwrap();
        let region = Region::new(layout.total_size as usize).unwrap();
        // SAFETY: as in `reset_sets_init_values`.
        let hdr = &unsafe { region.slice::<SmHeader>(0, 1) }.unwrap()[0];
        assert!(matches!(hdr.reset(&layout, [0; 4], layout.total_size - 1), Err(Error::InvalidArgument(_))));
        // Untouched: total_size still 0, so validate fails.
        assert!(hdr.validate().is_err());
        hdr.reset(&layout, [0; 4], layout.total_size).unwrap();
        hdr.validate().unwrap();
        hdr.rings[1].last_task_alive.store(-5, Ordering::Relaxed);
        assert!(matches!(hdr.validate(), Err(Error::State(_))));
    }
}
