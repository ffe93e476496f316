//! The engine's two lock-free queues over arena memory:
//!
//! * [`ReadyQueue`]: the bounded multi-producer multi-consumer queue of
//!   Dmitry Vyukov ("Bounded MPMC queue", 1024cores.net), one per task shape
//!   and shard. Every scheduler thread pushes and pops.
//! * [`WiringQueue`]: a single-producer single-consumer ring (Lamport's
//!   bounded buffer with monotonic counters). The orchestrator thread pushes
//!   every submitted task through its [`WiringProducer`]; whoever holds the
//!   wiring lock pops through the one [`WiringConsumer`], which lives inside
//!   that lock. The roles are the handle types: nothing else can push or pop.
//!
//! Both carry `u64` values (task slot addresses in the engine).

use super::layout::{QueueCell, Region};
use std::sync::atomic::{AtomicU64, Ordering::*};

/// A value alone on its cache line (64 bytes on the x86-64 and AArch64
/// hosts this runs on), so a field one thread writes often does not share
/// a line with fields other threads use (false sharing): the producers' and
/// the consumers' counters of a queue, or a run's hot counters and flags.
#[repr(align(64))]
#[derive(Debug, Default)]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

const _: () = assert!(std::mem::size_of::<Padded<AtomicU64>>() == 64);

/// Bounded MPMC queue of `u64` values (Vyukov's algorithm).
///
/// # Layout
/// * `enq`: the next position a producer claims; `deq`: the next position a
///   consumer claims. Both only grow (a `u64` does not wrap in practice);
///   position `pos` lives in cell `pos & mask`.
/// * Each [`QueueCell`] holds `seq` and `value`. The algorithm's sequence
///   number of cell `i` is `seq + i` (wrapping): storing it relative to the
///   index makes an all-zero region the empty queue (cell `i` then reads
///   sequence `i`, free for the producer of position `i`), so arena memory
///   needs no initialisation pass.
/// * For the position `pos` mapping to a cell, its sequence says:
///   `pos` → free, a producer may claim `pos`; `pos + 1` → holds the value of
///   `pos`, a consumer may claim it; `pos + capacity` → consumed, free for the
///   producer of the next lap.
///
/// # Orderings
/// The counters only arbitrate which thread owns a position: their loads and
/// CASes are `Relaxed`. The value is handed over through the cell's
/// sequence: the owner writes `value`, then stores the sequence with
/// `Release`; the other side loads the sequence with `Acquire` before it
/// touches `value`, so `value` itself is `Relaxed`.
///
/// # Progress
/// A producer preempted between its CAS and its sequence store makes its
/// cell (and so the values behind it) invisible to consumers until it
/// resumes: `pop` then reports empty. The engine tolerates that (pushers
/// wake a parked thread after the store; idle threads re-check).
pub(crate) struct ReadyQueue {
    cells: Region<QueueCell>,
    mask: u64,
    enq: Padded<AtomicU64>,
    deq: Padded<AtomicU64>,
}

impl ReadyQueue {
    /// Queue over `cells` (length must be a power of two and zero-initialised).
    pub(crate) fn new(cells: Region<QueueCell>) -> ReadyQueue {
        assert!(cells.len().is_power_of_two());
        let mask = cells.len() as u64 - 1;
        ReadyQueue { cells, mask, enq: Padded::default(), deq: Padded::default() }
    }

    /// Pushes; false when full.
    pub(crate) fn push(&self, v: u64) -> bool {
        let cells = self.cells.as_slice();
        let mut pos = self.enq.0.load(Relaxed);
        loop {
            let i = pos & self.mask;
            let cell = &cells[i as usize];
            // Acquire: if the cell is free, the consumer of the previous lap
            // has finished reading its value before we overwrite it.
            let seq = cell.seq.load(Acquire).wrapping_add(i);
            let dif = seq.wrapping_sub(pos) as i64;
            if dif == 0 {
                // Free for `pos`: claim the position. A failed (or spurious)
                // CAS returns the current `enq`; retry there.
                match self.enq.0.compare_exchange_weak(pos, pos + 1, Relaxed, Relaxed) {
                    Ok(_) => {
                        cell.value.store(v, Relaxed);
                        // Release: publishes `value` to the consumer of `pos`.
                        cell.seq.store((pos + 1).wrapping_sub(i), Release);
                        return true;
                    }
                    Err(p) => pos = p,
                }
            } else if dif < 0 {
                // The cell still holds the value of `pos - capacity`, not yet
                // consumed: the queue is full.
                return false;
            } else {
                // Another producer claimed `pos` already: catch up.
                pos = self.enq.0.load(Relaxed);
            }
        }
    }

    /// Pops the oldest value.
    pub(crate) fn pop(&self) -> Option<u64> {
        let cells = self.cells.as_slice();
        let mut pos = self.deq.0.load(Relaxed);
        loop {
            let i = pos & self.mask;
            let cell = &cells[i as usize];
            // Acquire: pairs with the producer's Release, so `value` is the
            // one written for `pos`.
            let seq = cell.seq.load(Acquire).wrapping_add(i);
            let dif = seq.wrapping_sub(pos + 1) as i64;
            if dif == 0 {
                // Holds the value of `pos`: claim it (retry on CAS failure).
                match self.deq.0.compare_exchange_weak(pos, pos + 1, Relaxed, Relaxed) {
                    Ok(_) => {
                        let v = cell.value.load(Relaxed);
                        // Release: the producer of `pos + capacity` may now
                        // overwrite `value` (we have read it).
                        cell.seq.store((pos + self.mask + 1).wrapping_sub(i), Release);
                        return Some(v);
                    }
                    Err(p) => pos = p,
                }
            } else if dif < 0 {
                // Nothing published at `pos` yet: empty (see "Progress").
                return None;
            } else {
                // Another consumer took `pos` already: catch up.
                pos = self.deq.0.load(Relaxed);
            }
        }
    }

    /// Whether the queue looks empty (racy hint: the two counters are read
    /// at different times).
    pub(crate) fn is_empty_hint(&self) -> bool {
        self.enq.0.load(Relaxed) == self.deq.0.load(Relaxed)
    }

    /// Restores the touched cells to zero (empty initial state) so the
    /// region can back a fresh queue next run. `&mut`: no other user.
    pub(crate) fn reset_region(&mut self) {
        let touched = (self.enq.0.load(Relaxed)).min(self.cells.len() as u64) as usize;
        for c in &self.cells.as_slice()[..touched] {
            c.seq.store(0, Relaxed);
            c.value.store(0, Relaxed);
        }
        self.enq.0.store(0, Relaxed);
        self.deq.0.store(0, Relaxed);
    }
}

/// Single-producer single-consumer ring of `u64`; usable capacity `len − 1`.
///
/// # Layout
/// * `tail`: the end of the published values; `head`: the oldest
///   position whose cell the consumer has not handed back (it takes values
///   ahead of it and publishes its position once per batch, see
///   [`WiringConsumer`]); `staged`: the end of the values
///   the producer has written (`tail <= staged`; the ones in between are
///   staged, not yet visible to the consumer). All only grow; position `pos`
///   lives in cell `pos & mask`. `tail - head` values are queued; the queue is
///   full at `len − 1` queued and staged values.
/// * Only the [`WiringProducer`] writes `staged` and the cells at and after
///   `tail`; it and [`help_flush`](WiringQueue::help_flush) write `tail`;
///   only the [`WiringConsumer`] writes `head`. Anyone may read the length.
///
/// # Orderings
/// * `push`: `tail` is read `Relaxed` (its only writer is this thread);
///   `head` is read `Acquire`, pairing with the consumer's `Release` publish,
///   so the consumer's read of a recycled cell happens before it is
///   overwritten; the cell is written `Relaxed` and published by the
///   `Release` store of `tail`.
/// * `peek` / `for_each_pending`: the consumer's own position, `tail`
///   `Acquire`, pairing with `push`'s `Release`, so the cells below it hold
///   the producer's values.
/// * `len`: both `Acquire`, `head` first: `head` never passes `tail`, so the
///   later `tail` read is at least the `head` read.
pub(crate) struct WiringQueue {
    buf: Region<u64>,
    mask: u64,
    head: Padded<AtomicU64>,
    tail: Padded<AtomicU64>,
    staged: Padded<AtomicU64>,
}

/// The producer side of one [`WiringQueue`] (exactly one exists per queue).
///
/// Values are *staged* (written to their cells) and become visible to the
/// consumer only at [`flush`](Self::flush), which stores `tail` once for the
/// whole batch. The producer keeps its own copies of both counters:
/// * `staged_tail`: the next position it writes, mirrored in `q.staged` for
///   [`WiringQueue::help_flush`];
/// * `flushed_tail`: the last value it stored to `q.tail` (`<= staged_tail`);
/// * `head_seen`: a past value of `q.head`. `head` only grows, so a full
///   check against it is conservative; it is re-read only when the copy says
///   full. The consumer's counter line is then read once per lap of the
///   ring instead of once per push (the cached-index technique of
///   Lamport rings, e.g. Erik Rigtorp's `SPSCQueue`).
#[derive(Debug)]
pub(crate) struct WiringProducer {
    queue: usize,
    staged_tail: u64,
    flushed_tail: u64,
    head_seen: u64,
}

/// The consumer side of one [`WiringQueue`] (exactly one exists per queue).
///
/// `tail_seen` is a past value of `q.tail` (it only grows): values below it
/// are published, so `peek` reloads `tail` only when the consumer has caught
/// up with the copy.
///
/// `head` is the consumer's own position; [`advance`](Self::advance) moves
/// only it, and [`publish`](Self::publish) stores it to `q.head` once for a
/// batch. The producer reads `q.head` when its copy says the ring is full,
/// and a producer blocked on a full ring reads it at every retry: a store
/// per value then moved the line between the two cores at every value the
/// consumer took, which slowed the consumer enough to keep the ring full
/// (measured: 1 -> 64 -> 1 rounds ran at 200-250 ns per task, or at
/// 500-1100 whenever the ring had filled once; a store per batch ended the
/// slow runs).
#[derive(Debug)]
pub(crate) struct WiringConsumer {
    queue: usize,
    tail_seen: u64,
    head: u64,
    /// The last value stored to `q.head`.
    published: u64,
}

impl WiringQueue {
    /// Queue over `buf` (power-of-two length) and its only producer and
    /// consumer handles.
    pub(crate) fn new(buf: Region<u64>) -> (WiringQueue, WiringProducer, WiringConsumer) {
        assert!(buf.len().is_power_of_two());
        let mask = buf.len() as u64 - 1;
        let id = buf.as_ptr() as usize;
        (
            WiringQueue { buf, mask, head: Padded::default(), tail: Padded::default(), staged: Padded::default() },
            WiringProducer { queue: id, staged_tail: 0, flushed_tail: 0, head_seen: 0 },
            WiringConsumer { queue: id, tail_seen: 0, head: 0, published: 0 },
        )
    }

    fn id(&self) -> usize {
        self.buf.as_ptr() as usize
    }

    fn cell(&self, pos: u64) -> &AtomicU64 {
        let p = self.buf.as_ptr().wrapping_add((pos & self.mask) as usize);
        // SAFETY: index masked into the region; AtomicU64 has the layout of u64.
        unsafe { AtomicU64::from_ptr(p) }
    }

    /// Number of queued values (any thread).
    pub(crate) fn len(&self) -> u64 {
        let h = self.head.0.load(Acquire);
        self.tail.0.load(Acquire).saturating_sub(h)
    }

    /// Whether empty (any thread).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Publishes the values the producer staged and has not flushed yet, on
    /// its behalf (any thread; an idle consumer calls it before it sleeps,
    /// so values staged while the producer runs other code wait at most one
    /// idle round); true when it published any.
    ///
    /// `tail` then has two writers. The producer stores its own
    /// `staged_tail`, which is at least every value it ever stored to
    /// `staged`; a helper raises `tail` with `fetch_max` to a value it read
    /// from `staged`. So `tail` never decreases and never passes a cell the
    /// producer has not written. Orderings: the producer writes a cell, then
    /// stores `staged` (Release); the helper's Acquire load of `staged` and
    /// Release `fetch_max` of `tail` carry those writes to a consumer's
    /// Acquire load of `tail`.
    pub(crate) fn help_flush(&self) -> bool {
        let staged = self.staged.0.load(Acquire);
        if staged <= self.tail.0.load(Relaxed) {
            return false;
        }
        self.tail.0.fetch_max(staged, Release) < staged
    }
}

impl WiringProducer {
    /// Pushes `v` onto `q` and publishes it with everything staged before;
    /// false when full (nothing staged then).
    pub(crate) fn push(&mut self, q: &WiringQueue, v: u64) -> bool {
        let ok = self.stage(q, v);
        self.flush(q);
        ok
    }

    /// Writes `v` into the next cell of `q` without publishing it; false
    /// when the ring is full (staged values count as queued).
    #[inline(always)]
    pub(crate) fn stage(&mut self, q: &WiringQueue, v: u64) -> bool {
        debug_assert_eq!(self.queue, q.id(), "producer of another queue");
        let t = self.staged_tail;
        if t - self.head_seen >= q.mask {
            // Acquire: pairs with the consumer's Release advance, so its
            // reads of the cells below `head` happen before we reuse them.
            self.head_seen = q.head.0.load(Acquire);
            if t - self.head_seen >= q.mask {
                return false;
            }
        }
        q.cell(t).store(v, Relaxed);
        self.staged_tail = t + 1;
        // Release: a helper that loads this with Acquire sees the cells
        // below it (see `WiringQueue::help_flush`). A plain store on x86-64.
        q.staged.0.store(t + 1, Release);
        true
    }

    /// Values staged and not yet published.
    #[inline(always)]
    pub(crate) fn staged(&self) -> u64 {
        self.staged_tail - self.flushed_tail
    }

    /// Publishes every staged value (one Release store of `tail`, after
    /// which the consumer may read the cells below it); true when there
    /// were any.
    #[inline(always)]
    pub(crate) fn flush(&mut self, q: &WiringQueue) -> bool {
        debug_assert_eq!(self.queue, q.id(), "producer of another queue");
        if self.flushed_tail == self.staged_tail {
            return false;
        }
        self.flushed_tail = self.staged_tail;
        q.tail.0.store(self.staged_tail, Release);
        true
    }
}

impl WiringConsumer {
    /// The oldest value of `q` not yet taken, left queued.
    pub(crate) fn peek(&mut self, q: &WiringQueue) -> Option<u64> {
        debug_assert_eq!(self.queue, q.id(), "consumer of another queue");
        let h = self.head;
        if h == self.tail_seen {
            // Acquire: pairs with the producer's Release flush, so the cells
            // below the new `tail` hold its values.
            self.tail_seen = q.tail.0.load(Acquire);
            if h == self.tail_seen {
                return None;
            }
        }
        Some(q.cell(h).load(Relaxed))
    }

    /// Calls `f` on every value queued in `q` and not yet taken from queue
    /// position `from` on (the oldest first), while it returns true (values
    /// stay queued). Returns the position it stopped at: the first one not
    /// looked at.
    pub(crate) fn for_each_pending_from(&self, q: &WiringQueue, from: u64, mut f: impl FnMut(u64) -> bool) -> u64 {
        debug_assert_eq!(self.queue, q.id(), "consumer of another queue");
        let t = q.tail.0.load(Acquire);
        for pos in from.max(self.head)..t {
            if !f(q.cell(pos).load(Relaxed)) {
                return pos;
            }
        }
        t
    }

    /// The value `k` places after the one [`peek`](Self::peek) returns,
    /// if it is already known to be published (below the consumer's copy
    /// of `tail`; no load of `tail`): what the consumer takes soon, for a
    /// prefetch.
    #[inline]
    pub(crate) fn peek_ahead(&self, q: &WiringQueue, k: u64) -> Option<u64> {
        debug_assert_eq!(self.queue, q.id(), "consumer of another queue");
        let n = self.head + k;
        (n < self.tail_seen).then(|| q.cell(n).load(Relaxed))
    }

    /// Takes the oldest value (after a `peek` returned it). The producer
    /// may reuse its cell only after the next [`publish`](Self::publish).
    pub(crate) fn advance(&mut self, q: &WiringQueue) {
        debug_assert_eq!(self.queue, q.id(), "consumer of another queue");
        self.head += 1;
    }

    /// Hands the cells of the values taken so far back to the producer.
    /// Only this handle writes `head`, so a plain store suffices (no
    /// read-modify-write). Release: our reads of the cells happen before
    /// the producer reuses them.
    pub(crate) fn publish(&mut self, q: &WiringQueue) {
        debug_assert_eq!(self.queue, q.id(), "consumer of another queue");
        if self.published != self.head {
            self.published = self.head;
            q.head.0.store(self.head, Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn mpmc_fifo_and_full() {
        let q = ReadyQueue::new(Region::zeroed(4));
        for v in 1..=4 {
            assert!(q.push(v));
        }
        assert!(!q.push(5));
        assert_eq!(q.pop(), Some(1));
        assert!(q.push(5));
        let got: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(got, vec![2, 3, 4, 5]);
        assert_eq!(q.pop(), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "spinning producer/consumer threads with a 20 s deadline; too slow under Miri")]
    fn mpmc_concurrent_no_loss() {
        let q = Arc::new(ReadyQueue::new(Region::zeroed(1024)));
        let n = 20_000u64;
        let prod: Vec<_> = (0..2)
            .map(|k| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..n {
                        while !q.push(1 + k * n + i) {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let cons: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let mut sum = 0u64;
                    let mut cnt = 0u64;
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                    while cnt < n && std::time::Instant::now() < deadline {
                        if let Some(v) = q.pop() {
                            sum += v;
                            cnt += 1;
                        } else {
                            std::thread::yield_now();
                        }
                    }
                    (sum, cnt)
                })
            })
            .collect();
        prod.into_iter().for_each(|h| h.join().unwrap());
        let (s, c) = cons.into_iter().map(|h| h.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert_eq!(c, 2 * n);
        assert_eq!(s, (1..=2 * n).sum::<u64>());
    }

    #[test]
    fn reset_region_restores_empty_state() {
        let mut q = ReadyQueue::new(Region::zeroed(8));
        for v in 1..=5 {
            q.push(v);
        }
        q.pop();
        q.reset_region();
        assert_eq!(q.pop(), None);
        assert!(q.push(9));
        assert_eq!(q.pop(), Some(9));
    }

    #[test]
    fn spsc_usable_capacity_is_len_minus_one() {
        let (q, mut tx, mut rx) = WiringQueue::new(Region::zeroed(4));
        assert!(tx.push(&q, 1) && tx.push(&q, 2) && tx.push(&q, 3));
        assert!(!tx.push(&q, 4));
        assert_eq!(rx.peek(&q), Some(1));
        rx.advance(&q);
        assert!(!tx.push(&q, 4), "the cell is handed back only by a publish");
        assert_eq!(rx.peek(&q), Some(2), "taken values are not seen again");
        rx.publish(&q);
        assert!(tx.push(&q, 4));
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn staged_values_are_invisible_until_flushed_or_helped() {
        let (q, mut tx, mut rx) = WiringQueue::new(Region::zeroed(8));
        assert!(tx.stage(&q, 1) && tx.stage(&q, 2));
        assert_eq!(tx.staged(), 2);
        assert_eq!((rx.peek(&q), q.len()), (None, 0), "staged, not published");
        assert!(tx.flush(&q));
        assert!(!tx.flush(&q), "nothing new to flush");
        assert_eq!(q.len(), 2);
        assert!(tx.stage(&q, 3));
        assert!(q.help_flush(), "a helper publishes the staged value");
        assert!(!q.help_flush());
        assert_eq!(q.len(), 3);
        // The producer's own flush after a helper's stays correct.
        tx.flush(&q);
        assert_eq!(q.len(), 3);
        let mut got = Vec::new();
        while let Some(v) = rx.peek(&q) {
            got.push(v);
            rx.advance(&q);
        }
        assert_eq!(got, vec![1, 2, 3]);
    }

    #[test]
    fn staged_values_count_against_the_capacity() {
        let (q, mut tx, mut rx) = WiringQueue::new(Region::zeroed(4));
        assert!(tx.stage(&q, 1) && tx.stage(&q, 2) && tx.stage(&q, 3));
        assert!(!tx.stage(&q, 4), "3 staged fill a ring of 4");
        tx.flush(&q);
        assert_eq!(rx.peek(&q), Some(1));
        rx.advance(&q);
        rx.publish(&q);
        assert!(tx.stage(&q, 4), "room again once the consumer published its advance");
    }

    /// A producer staging with irregular flushes, a helper publishing on its
    /// behalf and a consumer: every value arrives once, in order.
    #[test]
    #[cfg_attr(miri, ignore = "spinning threads with a 20 s deadline; too slow under Miri")]
    fn spsc_staged_with_helper_no_loss_in_order() {
        use std::sync::atomic::AtomicBool;
        let (q, mut tx, mut rx) = WiringQueue::new(Region::zeroed(64));
        let n = 50_000u64;
        let done = AtomicBool::new(false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        std::thread::scope(|s| {
            s.spawn(|| {
                for v in 1..=n {
                    while !tx.stage(&q, v) {
                        tx.flush(&q);
                        assert!(std::time::Instant::now() < deadline, "producer stuck");
                        std::thread::yield_now();
                    }
                    if v % 7 == 0 || v % 13 == 0 {
                        tx.flush(&q);
                    }
                }
                // No final flush: the helper must publish the rest.
            });
            s.spawn(|| {
                while !done.load(Acquire) && std::time::Instant::now() < deadline {
                    q.help_flush();
                    std::thread::yield_now();
                }
            });
            let mut expect = 1;
            while expect <= n && std::time::Instant::now() < deadline {
                match rx.peek(&q) {
                    Some(v) => {
                        assert_eq!(v, expect);
                        rx.advance(&q);
                        if expect % 5 == 0 {
                            rx.publish(&q);
                        }
                        expect += 1;
                    }
                    None => {
                        rx.publish(&q);
                        std::thread::yield_now()
                    }
                }
            }
            done.store(true, Release);
            assert_eq!(expect, n + 1, "all values arrived");
        });
    }
}
