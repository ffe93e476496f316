//! A scheduler thread's private FIFO of ready tasks.
//!
//! Tasks this thread made ready (completions, wiring) stay here instead of
//! taking the shared ready queues' round trip: a chain hop or a drained batch
//! of independent tasks costs no queue atomics and no wakeup. When another
//! scheduler thread is idle (parked or spinning), the owner moves all but its
//! next task to the shared queues (`Sched::next_task`), so holding tasks
//! privately never starves the other threads for longer than one task.

/// Tasks a scheduler thread keeps privately at most; more go to the shared
/// queues at once.
pub(super) const LOCAL_CAP: usize = 64;

/// Bounded FIFO of task names (`SlotRef` bits); single-threaded.
pub(super) struct LocalQueue {
    buf: [u64; LOCAL_CAP],
    head: usize,
    len: usize,
}

impl LocalQueue {
    pub(super) fn new() -> LocalQueue {
        LocalQueue { buf: [0; LOCAL_CAP], head: 0, len: 0 }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn is_full(&self) -> bool {
        self.len == LOCAL_CAP
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `v`; false (and `v` not taken) when full.
    #[inline]
    pub(super) fn push(&mut self, v: u64) -> bool {
        if self.len == LOCAL_CAP {
            return false;
        }
        self.buf[(self.head + self.len) % LOCAL_CAP] = v;
        self.len += 1;
        true
    }

    /// The oldest task.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        // `head` is always below LOCAL_CAP; the modulo lets the compiler see it.
        let v = self.buf[self.head % LOCAL_CAP];
        self.head = (self.head + 1) % LOCAL_CAP;
        self.len -= 1;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_bounded_and_wrapping() {
        let mut q = LocalQueue::new();
        assert_eq!(q.pop(), None);
        for round in 0..3u64 {
            for i in 0..LOCAL_CAP as u64 {
                assert!(q.push(round * 1000 + i));
            }
            assert!(!q.push(7), "full at LOCAL_CAP");
            assert_eq!(q.len(), LOCAL_CAP);
            for i in 0..LOCAL_CAP as u64 {
                assert_eq!(q.pop(), Some(round * 1000 + i));
            }
            assert!(q.is_empty());
            // Shift the head so the next round wraps.
            assert!(q.push(1));
            assert_eq!(q.pop(), Some(1));
        }
    }
}
