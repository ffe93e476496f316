//! The per-ring fanin spill pool (orchestrator side) and dependency list
//! pool (wiring side), upstream `PTO2FaninPool` / `PTO2DepListPool` in
//! `pto_ring_buffer.h` (c68d9bbe6). Both are rings of linear counters starting at 1
//! (index 0 is the null sentinel), physical index = `linear % capacity`.

use super::layout::{DepEntry, FaninSpillEntry, Region, SlotState, DEP_POOL_CLEANUP_INTERVAL, FANIN_INLINE_CAP};
use super::ring::RingShared;
use std::sync::atomic::Ordering::*;

/// Overflow spill list of fanin producers beyond the 64 inline ones.
pub(crate) struct FaninPool {
    entries: Region<FaninSpillEntry>,
    /// Next linear index to allocate.
    pub(crate) top: u64,
    /// Oldest linear index still in use.
    pub(crate) tail: u64,
    /// Highest `used` seen.
    pub(crate) high_water: u64,
    reclaim_cursor: u64,
}

impl FaninPool {
    /// Pool over `entries` (capacity = length).
    pub(crate) fn new(entries: Region<FaninSpillEntry>) -> FaninPool {
        FaninPool { entries, top: 1, tail: 1, high_water: 0, reclaim_cursor: 0 }
    }

    /// Capacity in entries.
    pub(crate) fn capacity(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Entries in use.
    pub(crate) fn used(&self) -> u64 {
        self.top - self.tail
    }

    /// Base pointer (identifies the pool in payloads).
    pub(crate) fn base(&self) -> *mut FaninSpillEntry {
        self.entries.as_ptr()
    }

    /// Appends one producer; `None` when full.
    pub(crate) fn push(&mut self, slot: *const SlotState) -> Option<u64> {
        if self.used() >= self.capacity() {
            return None;
        }
        let lin = self.top;
        let idx = (lin % self.capacity()) as usize;
        self.entries.as_slice()[idx].slot.store(slot as *mut SlotState, Relaxed);
        self.top += 1;
        self.high_water = self.high_water.max(self.used());
        Some(lin)
    }

    /// Reads the entry at linear index `lin`.
    ///
    /// # Safety
    /// `entries`/`capacity` must describe a live pool (capacity > 0).
    pub(crate) unsafe fn get(entries: *const FaninSpillEntry, capacity: u64, lin: u64) -> *const SlotState {
        let idx = (lin % capacity) as usize;
        // SAFETY: callers pass the base and capacity of a live pool; the
        // index is reduced modulo the capacity.
        unsafe { (*entries.add(idx)).slot.load(Relaxed) }
    }

    /// Releases the spill entries of tasks retired since the last call, up
    /// to the ring's current `last_task_alive` (a fresh load: for waits).
    #[inline]
    pub(crate) fn reclaim(&mut self, ring: &RingShared) {
        self.reclaim_to(ring, ring.last_task_alive.load(Acquire));
    }

    /// Releases the spill entries of the retired tasks below `last_alive`,
    /// a watermark the caller read from `ring.last_task_alive` (any earlier
    /// one; the cursor never moves back). A slot must be walked before it
    /// is given to its next task (the walk reads the payload its slot
    /// names): the submit calls this after each allocation, before it
    /// writes the new slot, with the allocator's watermark, which admitted
    /// that allocation, so it covers the slot's previous task.
    ///
    /// Why not a fresh load per submit: the retiring scheduler writes that
    /// line as tasks retire, and the load was 19% of the orchestrator's
    /// submission samples in the chain bench (`perf record -e cpu-clock`).
    #[inline(always)]
    pub(crate) fn reclaim_to(&mut self, ring: &RingShared, last_alive: u64) {
        if self.top == self.tail {
            self.reclaim_cursor = self.reclaim_cursor.max(last_alive);
            return;
        }
        self.reclaim_walk(ring, last_alive);
    }

    /// Every task below this local id has retired and been passed by the
    /// reclaim (the argument of `RingShared::payload_for`).
    #[inline]
    pub(crate) fn reclaimed_below(&self) -> u64 {
        self.reclaim_cursor
    }

    /// The walk of [`reclaim`](Self::reclaim) while spill entries are live.
    #[inline(never)]
    fn reclaim_walk(&mut self, ring: &RingShared, last_alive: u64) {
        while self.reclaim_cursor < last_alive {
            let p = ring.payload_of(self.reclaim_cursor);
            // SAFETY: the slot of a retired task still names the payload the
            // orchestrator (this thread) gave it: the slot is reallocated only
            // after this reclaim, and the payload is handed to another task
            // only once the cursor has passed its owner (`payload_for`).
            let (pool, start, n) = unsafe { ((*p).fanin_spill_pool, (*p).fanin_spill_start, (*p).fanin_actual_count) };
            if pool == self.base() && start > 0 && n as usize > FANIN_INLINE_CAP {
                let end = start as u64 + (n as u64 - FANIN_INLINE_CAP as u64);
                self.tail = self.tail.max(end);
            }
            self.reclaim_cursor += 1;
        }
    }
}

/// Consumer lists of producers (entries live in the consumer's ring pool).
pub(crate) struct DepListPool {
    entries: Region<DepEntry>,
    /// Next linear index.
    pub(crate) top: u64,
    /// Oldest live linear index.
    pub(crate) tail: u64,
    /// Highest usage.
    pub(crate) high_water: u64,
    last_reclaimed: u64,
    /// `top` right after wiring the task of each ring slot (index = local id
    /// mod window). Private to the wiring side: unlike the slot's
    /// `dep_pool_mark`, which the orchestrator zeroes as soon as it reuses a
    /// slot, an entry changes only when the slot's next task is wired, and
    /// that task can be allocated only after `last_task_alive` passed the
    /// slot's previous task, so `marks[(la - 1) % W]` read under the wiring
    /// lock is always task `la - 1`'s mark.
    marks: Vec<u64>,
    /// `window - 1`: the index of a local id in `marks` (windows are
    /// powers of two, so a mask instead of a division per wired task).
    marks_mask: usize,
    /// `top % capacity`, kept in step with `top` (the pool capacity is any
    /// integer: a wrap test instead of a division per dependency entry).
    top_idx: usize,
}

impl DepListPool {
    /// Pool over `entries` for a ring of `window` slots (a power of two).
    pub(crate) fn new(entries: Region<DepEntry>, window: usize) -> DepListPool {
        assert!(window.is_power_of_two(), "ring windows are powers of two");
        let marks = spare_marks(window);
        let top_idx = usize::from(entries.len() > 1);
        DepListPool {
            entries,
            top: 1,
            tail: 1,
            high_water: 0,
            last_reclaimed: 0,
            marks,
            marks_mask: window - 1,
            top_idx,
        }
    }

    /// Capacity.
    pub(crate) fn capacity(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The entries' address range `(start, bytes)` (tests).
    #[cfg(test)]
    pub(crate) fn span(&self) -> (usize, usize) {
        (self.entries.as_ptr() as usize, std::mem::size_of_val(self.entries.as_slice()))
    }

    /// Free entries.
    pub(crate) fn available(&self) -> u64 {
        self.capacity() - (self.top - self.tail)
    }

    /// Prepends `consumer` to the list starting at `head`; returns the new head.
    pub(crate) fn prepend(&mut self, head: *mut DepEntry, consumer: &SlotState) -> Option<*mut DepEntry> {
        if self.available() == 0 {
            return None;
        }
        debug_assert_eq!(self.top_idx as u64, self.top % self.capacity());
        let e = &self.entries.as_slice()[self.top_idx];
        e.consumer.store(consumer as *const SlotState as *mut SlotState, Relaxed);
        e.next.store(head, Relaxed);
        let e = e as *const DepEntry as *mut DepEntry;
        self.top += 1;
        self.advance_top_idx(1);
        self.high_water = self.high_water.max(self.top - self.tail);
        Some(e)
    }

    /// Reserves `n` entries without linking them (the share of a wired
    /// task whose producers had already completed). The caller checked
    /// `available() >= n`.
    pub(crate) fn reserve(&mut self, n: u64) {
        let n = n.min(self.available());
        self.top += n;
        self.advance_top_idx(n as usize);
        self.high_water = self.high_water.max(self.top - self.tail);
    }

    /// `top_idx` after `top` grew by `n` (at most the capacity).
    #[inline(always)]
    fn advance_top_idx(&mut self, n: usize) {
        self.top_idx += n;
        if self.top_idx >= self.entries.len() {
            self.top_idx -= self.entries.len();
        }
    }

    /// Records that the task in ring slot `slot` was just wired: its entries
    /// (and those of every earlier task of the ring) lie below the returned
    /// mark (the current `top`).
    pub(crate) fn mark_wired(&mut self, slot: usize) -> u64 {
        self.marks[slot & self.marks_mask] = self.top;
        self.top
    }

    /// Frees the entries of consumed consumers: the tail moves to the
    /// mark of task `la - 1` (`la` = the ring's `last_task_alive`). Every
    /// task below `la` is consumed, so each of its producers has completed
    /// and walked past its entries (the walk reads an entry before notifying
    /// its consumer and never returns to it), and no producer that is still
    /// pending has such an entry in its list. Returns the `la` the pool now
    /// reflects when `force` is set (or when the interval elapsed); a caller
    /// that sees `last_task_alive` still equal to it knows nothing more can be
    /// freed. Call only while holding the wiring lock.
    pub(crate) fn reclaim(&mut self, ring: &RingShared, force: bool) -> u64 {
        let la = ring.last_task_alive.load(Acquire);
        if la == 0 || la == self.last_reclaimed || (!force && la < self.last_reclaimed + DEP_POOL_CLEANUP_INTERVAL) {
            return la;
        }
        let mark = self.marks[(la - 1) as usize & self.marks_mask];
        debug_assert!(mark <= self.top, "dep pool mark {mark} above top {}", self.top);
        if mark > self.tail && mark <= self.top {
            self.tail = mark;
        }
        self.last_reclaimed = la;
        la
    }
}

/// Mark tables of finished runs, reused by the next runs' pools: a fresh
/// `vec![0; window]` (128 KiB at the default window) is a new mapping that
/// page-faults in on every run. A reused table needs no zeroing: a pool
/// reads only the marks of tasks it wired itself (see `marks`).
static SPARE_MARKS: std::sync::Mutex<Vec<Vec<u64>>> = std::sync::Mutex::new(Vec::new());
/// Tables kept at most (four rings of two devices).
const SPARE_MARKS_MAX: usize = 8;

fn spare_marks(window: usize) -> Vec<u64> {
    let reused = SPARE_MARKS.lock().unwrap_or_else(|e| e.into_inner()).pop();
    match reused {
        Some(mut v) => {
            v.resize(window, 0);
            v
        }
        None => vec![0; window],
    }
}

impl Drop for DepListPool {
    fn drop(&mut self) {
        let marks = std::mem::take(&mut self.marks);
        let mut spare = SPARE_MARKS.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARE_MARKS_MAX {
            spare.push(marks);
        }
    }
}

/// Walks a producer's consumer list.
///
/// # Safety
/// `head` must be null or the head of a list built by [`DepListPool::prepend`]
/// whose entries and consumer slots are still alive.
pub(crate) unsafe fn for_each_consumer(mut head: *mut DepEntry, mut f: impl FnMut(&SlotState)) {
    while !head.is_null() {
        // SAFETY: list entries live in dep pools that are not reclaimed
        // while the producer's completion walk is running (an entry
        // is freed only after its consumer was consumed, which requires
        // this producer's walk to have released it). `next` is read before
        // the consumer is notified.
        let (c, next) = unsafe { ((*head).consumer.load(Relaxed), (*head).next.load(Relaxed)) };
        // SAFETY: consumer pointers point into a ring's slot-state region.
        f(unsafe { &*c });
        head = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::trb::ring::tests::test_ring;

    #[test]
    fn fanin_pool_overflows_at_capacity() {
        let mut p = FaninPool::new(Region::zeroed(4));
        let s = SlotState::default();
        for i in 0..4 {
            assert_eq!(p.push(&s), Some(1 + i));
        }
        assert_eq!(p.push(&s), None);
        assert_eq!(p.high_water, 4);
        // SAFETY: base/capacity of the live pool above.
        assert_eq!(unsafe { FaninPool::get(p.base(), 4, 2) }, &s as *const _);
    }

    #[test]
    fn fanin_pool_reclaims_retired_spills() {
        let heap = Region::<u8>::zeroed(1024);
        let ring = test_ring(0, 8, &heap);
        let mut p = FaninPool::new(Region::zeroed(8));
        let s = SlotState::default();
        for _ in 0..3 {
            p.push(&s);
        }
        // Task 0 spilled 3 entries starting at linear 1.
        let pl = ring.payload_for(0, 0);
        ring.slot(0).payload.store(pl, Relaxed);
        // SAFETY: pl points to a zeroed payload of the test ring.
        unsafe {
            (*pl).fanin_spill_pool = p.base();
            (*pl).fanin_spill_start = 1;
            (*pl).fanin_actual_count = FANIN_INLINE_CAP as i32 + 3;
        }
        p.reclaim(&ring);
        assert_eq!(p.used(), 3, "task 0 still alive");
        ring.current_task_index.store(1, Relaxed);
        ring.last_task_alive.store(1, Relaxed);
        p.reclaim(&ring);
        assert_eq!(p.used(), 0);
    }

    #[test]
    fn dep_pool_prepends_and_reclaims_by_mark() {
        let heap = Region::<u8>::zeroed(1024);
        let ring = test_ring(0, 128, &heap);
        let mut d = DepListPool::new(Region::zeroed(4), 128);
        let c1 = SlotState::default();
        let c2 = SlotState::default();
        let h1 = d.prepend(std::ptr::null_mut(), &c1).unwrap();
        let h2 = d.prepend(h1, &c2).unwrap();
        // Task 63 (the two entries' consumer) is wired at top 3.
        assert_eq!(d.mark_wired(63), 3);
        // The orchestrator zeroing the slot's ABI mark (slot reuse) does not
        // affect the pool's own record.
        ring.slot(63).dep_pool_mark.store(0, Relaxed);
        let mut seen = Vec::new();
        // SAFETY: h2 heads a list of the live pool; consumers are alive.
        unsafe { for_each_consumer(h2, |c| seen.push(c as *const SlotState)) };
        assert_eq!(seen, vec![&c2 as *const _, &c1 as *const _]);
        d.prepend(h2, &c1).unwrap();
        d.prepend(h2, &c1).unwrap();
        assert!(d.prepend(h2, &c1).is_none(), "capacity 4");
        ring.last_task_alive.store(64, Relaxed);
        d.reclaim(&ring, false);
        assert_eq!(d.available(), 2);
    }
}
