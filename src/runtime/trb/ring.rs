//! Per-ring shared state (task window, flow-control counters; the in-order
//! reclamation is in `ring/reclaim.rs`) and the orchestrator's task+heap allocator (upstream
//! `PTO2TaskAllocator` / `try_bump_heap` in `pto_ring_buffer.cpp`, c68d9bbe6).

use super::layout::{
    align_up, codes, task_state, Region, SlotState, TaskDescriptor, TaskPayload, ALIGN_SIZE, ALLOC_DEADLOCK_TIMEOUT_MS,
    HOT_PAYLOADS, SCOPE_BIT, SPIN_CHECK_INTERVAL,
};
use super::queue::Padded;
use crate::config::{schema, Knob, RingSize, TaskWindow};
use crate::runtime::prefetch::prefetch_write;
use crate::runtime::wait::{Backoff, Ladder};
use reclaim::Advance;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::time::Duration;

mod reclaim;

/// How many allocations ahead [`RingShared::prefetch_ahead`] fetches: far
/// enough that the line arrives before the orchestrator gets there (a few
/// hundred nanoseconds per submission), near enough to stay in L1.
pub(crate) const PREFETCH_AHEAD: u64 = 8;

/// A task slot named by its address: the form in which tasks travel through
/// the ready, dummy and wiring queues and the scope task list (`u64` cells of
/// arena memory). [`SlotRef::of`] is the only place a slot becomes a number,
/// `RunShared::slot_of` the only place a number becomes a slot again (one
/// SAFETY argument; debug builds check the name against the slot regions
/// with [`RingShared::resolve`]). Names must only come from `of` or from
/// cells written with [`SlotRef::bits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotRef(u64);

impl SlotRef {
    /// The name of `slot`.
    #[inline]
    pub(crate) fn of(slot: &SlotState) -> SlotRef {
        SlotRef(slot as *const SlotState as u64)
    }

    /// A name read back from a queue or list cell.
    #[inline]
    pub(crate) fn from_bits(bits: u64) -> SlotRef {
        SlotRef(bits)
    }

    /// The value stored in queue and list cells.
    #[inline]
    pub(crate) fn bits(self) -> u64 {
        self.0
    }
}

/// One ring's task window shared by the orchestrator and the schedulers.
pub(crate) struct RingShared {
    /// Ring index.
    pub(crate) ring: usize,
    /// Next local id to allocate (published by the allocator). Each of
    /// the three counters below is alone on its cache line: the
    /// orchestrator writes this one per task, the retiring scheduler the
    /// other two, and both threads read the table fields of this struct on
    /// every slot access (sharing a line with a counter would move it
    /// between cores at every write).
    pub(crate) current_task_index: Padded<AtomicU64>,
    /// Oldest not-yet-consumed local id.
    pub(crate) last_task_alive: Padded<AtomicU64>,
    /// The in-order reclamation's lock and what its holder reads (see
    /// [`Advance`]).
    advance: Padded<Advance>,
    /// Task descriptors (`W`).
    pub(crate) descriptors: Region<TaskDescriptor>,
    /// Task payloads (`W`).
    pub(crate) payloads: Region<TaskPayload>,
    /// Hot payloads (`min(W, HOT_PAYLOADS)`, see [`RingShared::payload_for`]).
    hot: Region<TaskPayload>,
    /// `hot.len() - 1` (a power of two: the window and `HOT_PAYLOADS` are).
    hot_mask: u64,
    /// Slot states (`W`).
    pub(crate) slots: Region<SlotState>,
    /// Window size.
    pub(crate) window: TaskWindow,
    /// `window - 1` (the window is a power of two): slot of a local id.
    mask: u64,
    /// Heap base address.
    pub(crate) heap_base: u64,
    /// Heap size in bytes.
    pub(crate) heap_size: u64,
}

impl RingShared {
    /// Builds ring `ring` of sizes `size` over its tables: the descriptor,
    /// payload and slot regions hold `size.window` elements, `hot`
    /// `min(size.window, HOT_PAYLOADS)`, the heap at `heap_base` `size.heap` bytes.
    pub(crate) fn new(
        ring: usize,
        size: &RingSize,
        descriptors: Region<TaskDescriptor>,
        payloads: Region<TaskPayload>,
        hot: Region<TaskPayload>,
        slots: Region<SlotState>,
        heap_base: u64,
    ) -> RingShared {
        let w = size.window.slots();
        assert!(w.is_power_of_two() && descriptors.len() == w && payloads.len() == w && slots.len() == w);
        assert_eq!(hot.len(), w.min(HOT_PAYLOADS), "ring {ring}: hot payloads");
        let hot_mask = hot.len() as u64 - 1;
        let (window, heap_size) = (size.window, size.heap.get());
        RingShared {
            ring,
            current_task_index: Padded(AtomicU64::new(0)),
            last_task_alive: Padded(AtomicU64::new(0)),
            advance: Padded(Advance::default()),
            descriptors,
            payloads,
            hot,
            hot_mask,
            slots,
            window,
            mask: window.to_u64() - 1,
            heap_base,
            heap_size,
        }
    }

    /// Slot index of a local id.
    #[inline]
    pub(crate) fn slot_index(&self, local: u64) -> usize {
        (local & self.mask) as usize
    }

    /// Slot state of a local id.
    #[inline]
    pub(crate) fn slot(&self, local: u64) -> &SlotState {
        // SAFETY: `slot_index` masks with `window - 1` and the region holds
        // `window` slots (asserted in `new`), so the index is in bounds.
        unsafe { self.slots.as_slice().get_unchecked(self.slot_index(local)) }
    }

    /// The slot `r` names, if it is one of this ring's slots.
    #[inline]
    pub(crate) fn resolve(&self, r: SlotRef) -> Option<&SlotState> {
        let slots = self.slots.as_slice();
        let size = std::mem::size_of::<SlotState>() as u64;
        let off = r.0.wrapping_sub(slots.as_ptr() as u64);
        if off % size != 0 {
            return None;
        }
        slots.get((off / size) as usize)
    }

    /// Descriptor of a local id.
    #[inline]
    pub(crate) fn descriptor(&self, local: u64) -> &TaskDescriptor {
        // SAFETY: as in `slot`: the masked index is below the region's `window` length.
        unsafe { self.descriptors.as_slice().get_unchecked(self.slot_index(local)) }
    }

    /// Prefetches, for writing, the lines the orchestrator writes for the
    /// task [`PREFETCH_AHEAD`] allocations after `local`: its slot and
    /// descriptor (reset at allocation; at a full window last written a
    /// window ago, mostly by a scheduler core) and the payload lines every
    /// submission writes (the counts and first fanins, the first tensor,
    /// the first scalars; last read by a scheduler) of the payload
    /// [`payload_for`](Self::payload_for) would give it with `reclaimed`
    /// (a hint only: the reclaim may move before that task is allocated;
    /// the addresses are masked into the regions, nothing is read).
    #[inline(always)]
    pub(crate) fn prefetch_ahead(&self, local: u64, reclaimed: u64) {
        let ahead = local.wrapping_add(PREFETCH_AHEAD);
        let i = self.slot_index(ahead);
        let slot = self.slots.as_ptr().wrapping_add(i).cast::<u8>();
        let d = self.descriptors.as_ptr().wrapping_add(i).cast::<u8>();
        let p = self.payload_for(ahead, reclaimed).cast::<u8>();
        let t0 = std::mem::offset_of!(TaskPayload, tensors);
        prefetch_write([
            slot,
            d,
            // A 40-byte descriptor may straddle two lines: its last byte's too.
            d.wrapping_add(std::mem::size_of::<TaskDescriptor>() - 1),
            p,
            p.wrapping_add(t0),
            p.wrapping_add(t0 + 64),
            p.wrapping_add(std::mem::offset_of!(TaskPayload, scalars)),
        ]);
    }

    /// The payload the task of local id `local` (being allocated) is to
    /// use, given that every task below `reclaimed` has retired and been
    /// passed by its ring's fanin spill reclaim (`FaninPool::reclaimed_below`).
    ///
    /// Hot entry `local % H` (`H = hot.len()`) when `local - H < reclaimed`,
    /// else the slot's own payload. The tasks that may have used that hot
    /// entry before are `local - H`, `local - 2H`, ...: all below
    /// `reclaimed`, so none is read any more (readers of a task's payload:
    /// the wiring and the schedulers until its producers are released, which
    /// `RunShared::finish_task` does before the task can complete, hence
    /// before it can retire; the orchestrator's spill reclaim, which has
    /// passed it; orchestration code through the output tensors a submit
    /// returned, valid only until the task's scope closes, orch_abi.md
    /// pitfall 7, and a task retires only after that). The slot's own
    /// payload is free by the same argument at distance `W`. Tasks use hot
    /// entries while fewer than `H` are in flight, which keeps the lines a
    /// run touches few and warm.
    #[inline]
    pub(crate) fn payload_for(&self, local: u64, reclaimed: u64) -> *mut TaskPayload {
        if local.wrapping_sub(reclaimed) <= self.hot_mask {
            // Masked into the hot region's range.
            self.hot.as_ptr().wrapping_add((local & self.hot_mask) as usize)
        } else {
            // Masked into the payload region's range.
            self.payloads.as_ptr().wrapping_add(self.slot_index(local))
        }
    }

    /// The payload task `local` was given at submission (`payload_for`,
    /// recorded in its slot): valid until the task retires and the slot is
    /// reallocated.
    #[inline]
    pub(crate) fn payload_of(&self, local: u64) -> *mut TaskPayload {
        self.slot(local).payload.load(Relaxed)
    }

    /// Structural deadlock test: the head task (`la`) is COMPLETED and every
    /// claimed consumer released it, but its scope has not ended. States are
    /// read before and after the counters so a concurrent reclaim (which
    /// resets the counters of CONSUMED slots) cannot produce a false positive.
    pub(crate) fn head_scope_gated(&self, la: u64) -> bool {
        let head = self.slot(la);
        if head.state() != task_state::COMPLETED {
            return false;
        }
        let refs = head.fanout_refcount.load(Acquire);
        let count = head.fanout_count.load(Acquire);
        head.state() == task_state::COMPLETED
            && self.last_task_alive.load(Acquire) == la
            && la < self.current_task_index.load(Acquire)
            && refs == count & !SCOPE_BIT
    }
}
/// A successful allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Allocation {
    /// Local task id.
    pub(crate) local: u64,
    /// Packed output block start (address).
    pub(crate) base: u64,
    /// Packed output block end (address).
    pub(crate) end: u64,
}

/// Why an allocation could not proceed right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// The window already holds `W−1` live tasks.
    Window,
    /// The heap has no room for the request.
    Heap,
}

/// Heap byte ring (an allocation never straddles the end): plain offsets compared explicitly.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeapRing {
    /// Allocation position.
    pub(crate) top: u64,
    /// Reclaim position.
    pub(crate) tail: u64,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Times `top` wrapped to 0.
    pub(crate) top_wraps: u64,
    /// Times `tail` moved backwards (wrapped).
    pub(crate) tail_wraps: u64,
}

impl HeapRing {
    /// Allocates `n` bytes (already 64-aligned); returns the offset.
    #[inline]
    pub(crate) fn try_bump(&mut self, n: u64) -> Option<u64> {
        if n == 0 {
            return Some(self.top);
        }
        if self.top >= self.tail {
            if self.size - self.top >= n {
                let p = self.top;
                self.top += n;
                Some(p)
            } else if self.tail > n {
                self.top = n;
                self.top_wraps += 1;
                Some(0)
            } else {
                None
            }
        } else if self.tail - self.top > n {
            let p = self.top;
            self.top += n;
            Some(p)
        } else {
            None
        }
    }

    /// Moves the tail (counting wraps).
    pub(crate) fn set_tail(&mut self, tail: u64) {
        if tail < self.tail {
            self.tail_wraps += 1;
        }
        self.tail = tail;
    }

    /// Bytes in use.
    pub(crate) fn used(&self) -> u64 {
        (self.top + self.size - self.tail) % self.size.max(1)
    }

    /// Top unrolled to cumulative bytes.
    pub(crate) fn top_unrolled(&self) -> u64 {
        self.top + self.top_wraps * self.size
    }

    /// Tail unrolled to cumulative bytes.
    pub(crate) fn tail_unrolled(&self) -> u64 {
        self.tail + self.tail_wraps * self.size
    }
}

/// The orchestrator's allocator for one ring: task slot + heap in one step.
pub(crate) struct TaskAllocator {
    /// Next local id.
    pub(crate) next_local: u64,
    /// Heap positions.
    pub(crate) heap: HeapRing,
    /// The ring's `last_task_alive` as this allocator last read it (the
    /// heap tail follows it). Reread every [`WATERMARK_REFRESH`] tasks and
    /// whenever the window or the heap looks full with it, not per task:
    /// the retiring scheduler writes that line as tasks retire, so a load
    /// per submit is a cache miss per submit.
    last_alive_seen: u64,
}

/// Allocations between two reads of a ring's `last_task_alive` by its
/// allocator (a power of two).
pub(crate) const WATERMARK_REFRESH: u64 = 16;

/// An allocation failure with its diagnostic.
#[derive(Debug, Clone)]
pub(crate) struct AllocFailure {
    /// Code stored into `orch_error_code` (0 when unwinding after another fatal).
    pub(crate) code: i32,
    /// Human-readable report.
    pub(crate) message: String,
}

impl TaskAllocator {
    /// Fresh allocator for a ring with `heap_size` bytes.
    pub(crate) fn new(heap_size: u64) -> TaskAllocator {
        TaskAllocator { next_local: 0, heap: HeapRing { size: heap_size, ..HeapRing::default() }, last_alive_seen: 0 }
    }

    /// Rereads the ring's watermark; when it moved, the heap tail follows
    /// it (derived from the newest consumed task).
    #[inline(always)]
    fn refresh(&mut self, ring: &RingShared) {
        let last_alive = ring.last_task_alive.load(Acquire);
        if last_alive > self.last_alive_seen {
            self.move_heap_tail(ring, last_alive);
        }
    }

    #[inline(never)]
    fn move_heap_tail(&mut self, ring: &RingShared, last_alive: u64) {
        let end = ring.descriptor(last_alive - 1).packed_buffer_end.load(Relaxed);
        self.heap.set_tail(end - ring.heap_base);
        self.last_alive_seen = last_alive;
    }

    /// The ring's retirement watermark as this allocator last read it: at
    /// most the current `last_task_alive`, and at least the one that
    /// admitted the latest allocation (every task below it has retired).
    #[inline(always)]
    pub(crate) fn last_alive(&self) -> u64 {
        self.last_alive_seen
    }

    /// Non-blocking attempt. The window and heap checks use the watermark
    /// last read ([`last_alive`](Self::last_alive)), reread when either
    /// looks full and every [`WATERMARK_REFRESH`] allocations: an older
    /// watermark only under-counts the free room, so it never admits an
    /// allocation a fresh one would refuse.
    #[inline(always)]
    pub(crate) fn try_alloc(&mut self, ring: &RingShared, size: u64) -> Result<Allocation, Blocked> {
        let aligned = if size > 0 { align_up(size, ALIGN_SIZE) } else { 0 };
        // `next - last_alive + 1 >= window`, with `window = mask + 1`.
        if self.next_local & (WATERMARK_REFRESH - 1) == 0 || self.next_local - self.last_alive_seen >= ring.mask {
            self.refresh(ring);
            if self.next_local - self.last_alive_seen >= ring.mask {
                return Err(Blocked::Window);
            }
        }
        let off = match self.heap.try_bump(aligned) {
            Some(off) => off,
            None => {
                self.refresh(ring);
                self.heap.try_bump(aligned).ok_or(Blocked::Heap)?
            }
        };
        let local = self.next_local;
        self.next_local += 1;
        // The reused slot still reads CONSUMED (its previous task's final
        // state). It must read PENDING before the new id is published:
        // otherwise a concurrent `advance` that reaches `local` walks over it
        // and retires the new task before it is even submitted (its slot and
        // dependency entries would then be recycled while it is live).
        ring.slot(local).task_state.store(task_state::PENDING as u32, Relaxed);
        ring.current_task_index.store(self.next_local, Release);
        let base = ring.heap_base + off;
        Ok(Allocation { local, base, end: base + aligned })
    }

    /// [`try_alloc`](Self::try_alloc), then [`alloc_blocking`](Self::alloc_blocking)
    /// when it is blocked (the orchestrator calls the two itself, with its
    /// wiring flush between them).
    #[cfg(test)]
    pub(crate) fn alloc(
        &mut self,
        ring: &RingShared,
        size: u64,
        fatal: &dyn Fn() -> bool,
    ) -> Result<Allocation, AllocFailure> {
        match self.try_alloc(ring, size) {
            Ok(a) => Ok(a),
            Err(_) => self.alloc_blocking(ring, size, fatal),
        }
    }

    /// Blocking allocation with progress detection, the structural
    /// scope-gated test and the 500 ms backstop (its first attempt is a
    /// `try_alloc`). `fatal` returns true when another fatal error was
    /// latched (the wait unwinds with code 0). Out of line: the common case
    /// (room in the window and the heap) is `try_alloc`, inline in the
    /// submit path.
    #[inline(never)]
    pub(crate) fn alloc_blocking(
        &mut self,
        ring: &RingShared,
        size: u64,
        fatal: &dyn Fn() -> bool,
    ) -> Result<Allocation, AllocFailure> {
        let mut last = ring.last_task_alive.load(Acquire);
        let mut backoff = Backoff::new(Ladder::SPIN_THEN_YIELD);
        loop {
            let blocked = match self.try_alloc(ring, size) {
                Ok(a) => return Ok(a),
                Err(b) => b,
            };
            let now_alive = ring.last_task_alive.load(Acquire);
            if now_alive != last {
                last = now_alive;
                backoff.reset();
                continue;
            }
            // The first attempts since the last progress, then as
            // `Backoff::check_due` says.
            if backoff.step() < 3 || backoff.check_due(SPIN_CHECK_INTERVAL) {
                if fatal() {
                    return Err(AllocFailure { code: 0, message: "unwinding after a fatal error".into() });
                }
                // A request larger than the whole heap can never be served.
                let structural = ring.head_scope_gated(last)
                    || (matches!(blocked, Blocked::Heap) && align_up(size, ALIGN_SIZE) > self.heap.size);
                // The first check starts the stall clock (reads zero).
                let timed_out = backoff.stalled_for() >= Duration::from_millis(ALLOC_DEADLOCK_TIMEOUT_MS);
                if structural || timed_out {
                    return Err(self.report_deadlock(ring, blocked, size, structural));
                }
            }
            backoff.snooze();
        }
    }

    #[cold]
    fn report_deadlock(&self, ring: &RingShared, blocked: Blocked, size: u64, structural: bool) -> AllocFailure {
        let la = ring.last_task_alive.load(Acquire);
        let head = ring.slot(la);
        let fc = head.fanout_count.load(Acquire);
        let fr = head.fanout_refcount.load(Acquire);
        let cause = if matches!(blocked, Blocked::Heap) && align_up(size, ALIGN_SIZE) > self.heap.size {
            "the request is larger than the ring's whole heap"
        } else if structural {
            "head task is completed and released by all consumers but its scope has not ended (scope-gated)"
        } else {
            "no progress for 500 ms"
        };
        let common = format!(
            "task ring current={} last_alive={} active={} window={}; heap top={} tail={} size={} used={} available={}; head task state={} consumers released {}/{} scope_released={}; cause: {}",
            self.next_local,
            la,
            self.next_local - la,
            ring.window.get(),
            self.heap.top,
            self.heap.tail,
            self.heap.size,
            self.heap.used(),
            self.heap.size - self.heap.used(),
            head.state(),
            fr & !SCOPE_BIT,
            fc & !SCOPE_BIT,
            fr & SCOPE_BIT != 0,
            cause
        );
        match blocked {
            Blocked::Window => AllocFailure {
                code: codes::FLOW_CONTROL_DEADLOCK,
                message: format!(
                    "FATAL: Task Allocator Deadlock - Task Ring Full! ring={}: {}. Solution: split the scope or raise the ring's task window ({})",
                    ring.ring,
                    common,
                    schema::hint(Knob::RingTaskWindow)
                ),
            },
            Blocked::Heap => AllocFailure {
                code: codes::HEAP_RING_DEADLOCK,
                message: format!(
                    "FATAL: Task Allocator Deadlock - Heap Exhausted! ring={}: requested {} bytes; {}. Solution: split the scope or raise the ring's heap ({})",
                    ring.ring,
                    align_up(size, ALIGN_SIZE),
                    common,
                    schema::hint(Knob::RingHeap)
                ),
            },
        }
    }
}

#[cfg(test)]
#[path = "ring_tests.rs"]
pub(crate) mod tests;
