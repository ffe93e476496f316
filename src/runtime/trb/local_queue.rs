//! A scheduler thread's queue of ready tasks it made ready itself, which
//! the other scheduler threads of the run may steal from.
//!
//! Tasks a thread made ready (completions, wiring) stay in its queue instead
//! of taking the shared ready queues' round trip: a chain hop or a drained
//! batch of independent tasks costs no shared-queue atomics and no wakeup.
//! An idle thread takes the oldest task of another thread's queue
//! ([`LocalQueue::steal`]), so tasks held here never wait behind a long task
//! of their owner while a thread is free (or is started later) to run them.
//!
//! # Layout
//! A bounded ring of [`LOCAL_CAP`] cells over two only-growing 32-bit
//! positions (cell `pos % LOCAL_CAP`):
//! * `tail`: the next position the owner writes; only the owner stores it.
//! * `head`: the oldest position not yet taken; the owner's `pop` and every
//!   `steal` advance it, each by one compare-exchange.
//!
//! `tail - head` tasks are queued (`head <= tail` always: a pop checks
//! against the owner's own `tail`, a steal against a `tail` it loaded after
//! `head`).
//!
//! # Why a taker gets the value of its position
//! A taker (pop or steal) loads `head` = h, reads cell h, then moves `head`
//! from h to h + 1. The owner writes cell h again only for position
//! h + LOCAL_CAP, which `push` allows only after it saw `head` > h; `head`
//! never goes back, so that taker's compare-exchange fails and it retries.
//! A successful taker therefore read the value pushed at position h: a
//! stealer sees it because its `Acquire` load of `tail` (> h) pairs with the
//! `Release` store of `tail` after the cell was written. The owner's
//! `Acquire` load of `head` in `push` pairs with the takers' `AcqRel`
//! exchange, so a taker's read of a cell happens before the owner reuses it.
//! The positions wrap at 2^32 (wrapping arithmetic); a taker would need
//! 2^32 takes between its load and its exchange to be fooled.
//!
//! This is the single-item form of the run queue of Tokio's scheduler
//! (`tokio/src/runtime/scheduler/multi_thread/queue.rs`), which steals half
//! a queue at a time through a second head index; one task per steal needs
//! only the one head.

use super::queue::Padded;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};

/// Tasks a scheduler thread keeps at most; more go to the shared queues.
pub(crate) const LOCAL_CAP: usize = 64;

/// Bounded FIFO of task names (`SlotRef` bits): one owner pushes and pops,
/// any thread steals. `push`, `pop`, `is_full` and `len` on the owner's
/// behalf are for the owner thread only (the scheduler holding it as its
/// own; see `Sched::local`).
pub(crate) struct LocalQueue {
    head: Padded<AtomicU32>,
    tail: AtomicU32,
    /// The owner is inside a kernel (see [`steal`](Self::steal)).
    owner_busy: AtomicBool,
    cells: [AtomicU64; LOCAL_CAP],
}

impl Default for LocalQueue {
    fn default() -> Self {
        LocalQueue {
            head: Padded(AtomicU32::new(0)),
            tail: AtomicU32::new(0),
            owner_busy: AtomicBool::new(false),
            cells: [const { AtomicU64::new(0) }; LOCAL_CAP],
        }
    }
}

impl LocalQueue {
    /// Tasks queued (exact for the owner; a snapshot for other threads).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        let h = self.head.0.load(Acquire);
        self.tail.load(Acquire).wrapping_sub(h) as usize
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `push` would refuse (owner only).
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.len() >= LOCAL_CAP
    }

    /// Appends `v`; false (and `v` not taken) when full. Owner only.
    #[inline]
    pub(crate) fn push(&self, v: u64) -> bool {
        let t = self.tail.load(Relaxed);
        // Acquire: a taker's read of the cell we may reuse happened before.
        if t.wrapping_sub(self.head.0.load(Acquire)) as usize >= LOCAL_CAP {
            return false;
        }
        self.cells[t as usize % LOCAL_CAP].store(v, Relaxed);
        // Release: a stealer that sees the new tail sees the cell.
        self.tail.store(t.wrapping_add(1), Release);
        true
    }

    /// The oldest task. Owner only.
    #[inline]
    pub(crate) fn pop(&self) -> Option<u64> {
        // Only the owner stores `tail`: its own value is current.
        let t = self.tail.load(Relaxed);
        self.take(|| t)
    }

    /// Marks the owner as inside a kernel (true) or back in the scheduler
    /// (false). Owner only; a hint for thieves (relaxed). Called as a pair
    /// around each kernel run: a closure or a drop guard around the run
    /// costs about 10 instructions more per task (callgrind, W1).
    #[inline]
    pub(crate) fn set_owner_busy(&self, busy: bool) {
        self.owner_busy.store(busy, Relaxed);
    }

    /// Whether [`steal`](Self::steal) may take a task now.
    #[inline]
    pub(crate) fn stealable(&self) -> bool {
        let n = self.len();
        n >= 2 || (n == 1 && self.owner_busy.load(Relaxed))
    }

    /// The oldest task, taken by another thread than the owner; only while
    /// the owner keeps another one, or runs a kernel. The owner's next task
    /// stays with it between two tasks (a successor it just made ready runs
    /// on its core, with its cache, instead of moving to a thief), but not
    /// behind a kernel that runs long.
    #[inline]
    pub(crate) fn steal(&self) -> Option<u64> {
        if !self.stealable() {
            return None;
        }
        // Acquire: pairs with `push`'s Release store (see the module doc).
        // Loaded after `head` inside `take`, so it is at least that head.
        self.take(|| self.tail.load(Acquire))
    }

    /// Moves `head` over one queued position and returns its value; `tail`
    /// gives the end of the queued positions (loaded after `head`).
    #[inline]
    fn take(&self, tail: impl Fn() -> u32) -> Option<u64> {
        let mut h = self.head.0.load(Acquire);
        loop {
            if h == tail() {
                return None;
            }
            let v = self.cells[h as usize % LOCAL_CAP].load(Relaxed);
            match self.head.0.compare_exchange_weak(h, h.wrapping_add(1), AcqRel, Acquire) {
                Ok(_) => return Some(v),
                Err(now) => h = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn fifo_bounded_and_wrapping() {
        let q = LocalQueue::default();
        assert_eq!(q.pop(), None);
        assert_eq!(q.steal(), None);
        for round in 0..3u64 {
            for i in 0..LOCAL_CAP as u64 {
                assert!(q.push(round * 1000 + i));
            }
            assert!(!q.push(7), "full at LOCAL_CAP");
            assert!(q.is_full());
            assert_eq!(q.len(), LOCAL_CAP);
            // The owner and a thief both take the oldest.
            assert_eq!(q.steal(), Some(round * 1000));
            for i in 1..LOCAL_CAP as u64 {
                assert_eq!(q.pop(), Some(round * 1000 + i));
            }
            assert!(q.is_empty());
            // Shift the positions so the next round wraps.
            assert!(q.push(1));
            assert_eq!(q.pop(), Some(1));
        }
    }

    #[test]
    fn the_owners_next_task_is_stolen_only_while_it_runs_a_kernel() {
        let q = LocalQueue::default();
        assert!(q.push(1));
        assert!(!q.stealable());
        assert_eq!(q.steal(), None, "the owner's next task stays between two tasks");
        q.set_owner_busy(true);
        assert!(q.stealable());
        assert_eq!(q.steal(), Some(1), "not behind a running kernel");
        q.set_owner_busy(false);
        assert!(q.push(2) && q.push(3));
        assert_eq!(q.steal(), Some(2), "the owner keeps another");
        assert_eq!(q.steal(), None);
        assert_eq!(q.pop(), Some(3));
    }

    #[test]
    fn owner_and_thieves_take_every_task_exactly_once() {
        // The owner pushes 0..N (refilling whenever there is room) and pops;
        // three thieves steal concurrently. Every value is taken once.
        const N: u64 = 200_000;
        let q = Arc::new(LocalQueue::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thieves: Vec<_> = (0..3)
            .map(|_| {
                let (q, stop) = (q.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while !stop.load(Acquire) {
                        if let Some(v) = q.steal() {
                            got.push(v);
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                    got
                })
            })
            .collect();
        let mut mine = Vec::new();
        let mut next = 0u64;
        while next < N {
            while next < N && q.push(next) {
                next += 1;
            }
            if next % 3 == 0 {
                if let Some(v) = q.pop() {
                    mine.push(v);
                }
            }
        }
        while let Some(v) = q.pop() {
            mine.push(v);
        }
        stop.store(true, Release);
        let mut all = mine;
        for t in thieves {
            all.extend(t.join().expect("thief"));
        }
        all.sort_unstable();
        assert_eq!(all.len() as u64, N, "every task taken exactly once");
        assert!(all.iter().enumerate().all(|(i, &v)| v == i as u64), "no task lost or taken twice");
    }
}
