//! In-order reclamation of a ring's task window: the consumed check of a
//! slot, the watermark's advance over the CONSUMED prefix (by a retiring
//! scheduler, or in a batch by the orchestrator's scope release), and the
//! reset of the slots it passes.

use super::RingShared;
use crate::runtime::trb::layout::{task_state, SlotState, SCOPE_BIT};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

/// The in-order reclamation's lock and the two values its holder reads,
/// on one line that only the advancing threads write: the retiring
/// scheduler (or the orchestrator's scope release) that takes the lock
/// finds them in its cache with the lock.
///
/// Why: every consumed task runs an advance, and reading
/// `last_task_alive` and `current_task_index` themselves missed in the
/// cache each time (the orchestrator reads the first for its window
/// check and writes the second per task): in a `perf record` of the 1M
/// independent tasks bench, 49% of `check_consumed`'s samples (which
/// were 17% of the scheduler's) sat on those two loads.
///
/// # Orderings: no consumed head is left behind
/// The lock is a try-lock: a thread that consumed a slot and finds the
/// lock taken returns, and relies on the holder, which re-checks the head
/// after it unlocks. That is the store-buffer pattern: the loser writes the
/// slot's state (CONSUMED) and then reads the lock; the holder writes the
/// lock (free) and then reads the head's state. With a Release unlock and an
/// Acquire re-check both reads may miss the other's write (on x86-64 the
/// holder's re-check can run while its unlock still sits in its store
/// buffer): the head then stays CONSUMED below a watermark nobody moves,
/// and the ring stalls until the allocator reports a deadlock (seen once in
/// a CI run of `dep_pool_at_the_proven_bound_is_never_exhausted`; with the
/// old orderings `a_head_consumed_while_another_thread_advances_is_always_passed`
/// failed in 12 of 13 runs on the 2-vCPU VM, with these in none of 40). So
/// all four accesses are `SeqCst`: the COMPLETED ->
/// CONSUMED compare-exchanges, the try-lock's compare-exchange (its failure
/// read included), the unlock and the re-check's state load. In the single
/// total order of `SeqCst` operations either the loser's lock read comes
/// after the unlock (it sees the lock free, or taken by a later holder that
/// re-checks in turn), or its CONSUMED store comes before the re-check,
/// which then sees it. On x86-64 only the unlock costs more (`xchg` instead
/// of `mov`): the compare-exchanges are locked instructions either way.
#[derive(Debug, Default)]
pub(super) struct Advance {
    /// Held by the thread that moves the watermark.
    lock: AtomicBool,
    /// `last_task_alive`'s value: written with it, under the lock, by its
    /// only writers.
    la: AtomicU64,
    /// A value `current_task_index` had (it only grows, so every task
    /// below exists): the scan's bound until the scan reaches it. Slots at
    /// and above `current_task_index` are never read by an advance, so the
    /// line the orchestrator is about to write is not taken from it.
    current: AtomicU64,
}

impl RingShared {
    /// Consumed check: if every claimed consumer and the scope have
    /// released `slot` and it is COMPLETED, mark it CONSUMED and advance the
    /// ring's watermark.
    pub(crate) fn check_consumed(&self, slot: &SlotState) {
        if Self::consume_locked(slot) {
            self.advance();
        }
    }

    /// Scope release of `slot` (`fanout_refcount += SCOPE_BIT`, then the
    /// consumed check) without the slot lock and without the advance; true
    /// when this call moved the slot to CONSUMED, in which case the caller
    /// must run [`RingShared::advance`] on the slot's ring (once for a batch
    /// of releases, see `Orchestrator::release_scope`).
    ///
    /// Orchestrator thread only. The lock of [`RingShared::check_consumed`]
    /// orders the count against a concurrent claim, and claims are made by
    /// the orchestrator itself, so `fanout_count` is stable here. When the
    /// slot already reads COMPLETED, every contender is an atomic
    /// read-modify-write (the consumers' `fetch_add`s on `fanout_refcount`
    /// and the COMPLETED->CONSUMED compare-exchange): the last reference
    /// added in modification order sees the full count and exactly one
    /// compare-exchange wins. When every claimed consumer has already
    /// released (`refcount == count` without the scope bit) nobody else
    /// writes `fanout_refcount` any more, so a plain store of the final
    /// value replaces the `fetch_add`. A slot not yet COMPLETED takes the
    /// locked path: its completion (under the lock) and its own release
    /// check must be ordered against this release exactly as before.
    #[inline]
    pub(crate) fn release_scope_ref(slot: &SlotState) -> bool {
        let count = slot.fanout_count.load(Relaxed);
        if slot.task_state.load(Acquire) == task_state::COMPLETED as u32 {
            let refs = slot.fanout_refcount.load(Acquire);
            let full = if refs == count & !SCOPE_BIT {
                slot.fanout_refcount.store(count, Release);
                true
            } else {
                slot.fanout_refcount.fetch_add(SCOPE_BIT, AcqRel).wrapping_add(SCOPE_BIT) == count
            };
            return full
                && slot
                    .task_state
                    .compare_exchange(task_state::COMPLETED as u32, task_state::CONSUMED as u32, SeqCst, Relaxed)
                    .is_ok();
        }
        slot.fanout_refcount.fetch_add(SCOPE_BIT, AcqRel);
        Self::consume_locked(slot)
    }

    /// The consumed check under the slot lock; true when it moved the slot
    /// to CONSUMED.
    #[inline]
    pub(super) fn consume_locked(slot: &SlotState) -> bool {
        slot.lock();
        let done = slot.fanout_refcount.load(Acquire) == slot.fanout_count.load(Relaxed)
            && slot
                .task_state
                .compare_exchange(task_state::COMPLETED as u32, task_state::CONSUMED as u32, SeqCst, Relaxed)
                .is_ok();
        slot.unlock();
        done
    }

    /// In-order reclamation: moves `last_task_alive` over the contiguous
    /// prefix of CONSUMED slots and resets the passed slots.
    pub(crate) fn advance(&self) {
        let a = &*self.advance;
        loop {
            // SeqCst, the failure's read too (see `Advance`).
            if a.lock.compare_exchange(false, true, SeqCst, SeqCst).is_err() {
                return;
            }
            let start = a.la.load(Relaxed);
            let mut bound = a.current.load(Relaxed);
            let mut la = start;
            // One pass: each passed slot is reset as soon as it is seen
            // CONSUMED (nothing else touches a CONSUMED slot before the
            // new watermark is published). Up to the cached bound first;
            // `current_task_index` is read only when the scan reaches it.
            loop {
                while la < bound && self.slot(la).state() == task_state::CONSUMED {
                    reset_for_reuse(self.slot(la));
                    la += 1;
                }
                if la < bound {
                    break;
                }
                let current = self.current_task_index.load(Acquire);
                if current == bound {
                    break;
                }
                bound = current;
                a.current.store(current, Relaxed);
            }
            if la != start {
                self.publish_watermark(la);
            }
            a.lock.store(false, SeqCst);
            // A consumer that lost the try-lock relies on us: re-check the
            // head (below the bound the slot is a task's without reading
            // the orchestrator's counter; see `Advance`).
            if !self.head_consumed(la, bound) {
                return;
            }
        }
    }

    /// Publishes watermark `la` and its copy in [`Advance`] (the advance
    /// lock's holder only).
    #[inline]
    fn publish_watermark(&self, la: u64) {
        self.last_task_alive.store(la, Release);
        self.advance.la.store(la, Relaxed);
    }

    /// Whether the slot at watermark `la` holds a CONSUMED task, with
    /// `bound` a value `current_task_index` had (so tasks below it exist):
    /// `current_task_index` is read only when `la` reached `bound`.
    #[inline]
    fn head_consumed(&self, la: u64, bound: u64) -> bool {
        // SeqCst: the re-check after an unlock (see `Advance`).
        (la < bound || la < self.current_task_index.load(Acquire))
            && self.slot(la).task_state.load(SeqCst) == task_state::CONSUMED as u32
    }
}

/// A batch of in-order reclamation run by the orchestrator's scope release
/// ([`RingShared::begin_batch`]): the ring's advance lock is held and
/// `la` is the watermark the batch will publish.
pub(crate) struct HeadBatch {
    start: u64,
    la: u64,
}

impl RingShared {
    /// Takes the advance lock for a batch of releases (`None` when another
    /// thread holds it: that advance will re-check the head after it).
    #[inline]
    pub(crate) fn begin_batch(&self) -> Option<HeadBatch> {
        // SeqCst, the failure's read too (see `Advance`).
        if self.advance.lock.compare_exchange(false, true, SeqCst, SeqCst).is_err() {
            return None;
        }
        let la = self.advance.la.load(Relaxed);
        Some(HeadBatch { start: la, la })
    }

    /// `slot` was just made CONSUMED by the batch's owner: if it is the
    /// slot at the batch's watermark, pass it (reset it for reuse and move
    /// the watermark) and return true. A live slot at the watermark's slot index is the
    /// watermark's task itself (at most `W - 1` tasks are alive), so the
    /// address comparison identifies it; a slot of another ring never
    /// matches.
    #[inline]
    pub(crate) fn batch_pass(&self, b: &mut HeadBatch, slot: &SlotState) -> bool {
        if !std::ptr::eq(slot, self.slot(b.la)) {
            return false;
        }
        reset_for_reuse(slot);
        b.la += 1;
        true
    }

    /// Publishes the batch's watermark, releases the advance lock, and
    /// runs the full `advance` if the new head is CONSUMED (a slot the
    /// batch did not pass, or one consumed by a thread whose advance lost
    /// the try-lock to the batch).
    pub(crate) fn end_batch(&self, b: HeadBatch) {
        let a = &*self.advance;
        if b.la != b.start {
            self.publish_watermark(b.la);
        }
        // Read under the lock (a holder writes it).
        let bound = a.current.load(Relaxed);
        a.lock.store(false, SeqCst);
        if self.head_consumed(b.la, bound) {
            self.advance();
        }
    }
}

/// `reset_for_reuse`: clears the reference counting of a passed slot
/// (`task_state` stays CONSUMED).
fn reset_for_reuse(s: &SlotState) {
    s.fanout_count.store(SCOPE_BIT, Relaxed);
    s.fanout_head.store(std::ptr::null_mut(), Relaxed);
    s.fanout_refcount.store(0, Relaxed);
    s.fanin_refcount.store(0, Relaxed);
    s.completed_subtasks.store(0, Relaxed);
    s.next_block_idx.store(0, Relaxed);
    s.fanout_lock.store(0, Release);
}
