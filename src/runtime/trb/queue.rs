//! Lock-free queues: the bounded MPMC ready queue (Vyukov, per-cell
//! sequence numbers) and the SPSC wiring queue.

use super::layout::{QueueCell, Region};
use std::sync::atomic::{AtomicU64, Ordering::*};

/// A cache-line padded counter.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct Padded(pub AtomicU64);

/// Bounded MPMC queue of non-zero `u64` values. Cell sequences are stored
/// relative to the cell index, so an all-zero region is an empty queue.
pub struct ReadyQueue {
    cells: Region<QueueCell>,
    mask: u64,
    enq: Padded,
    deq: Padded,
}

impl ReadyQueue {
    /// Queue over `cells` (length must be a power of two and zero-initialised).
    pub fn new(cells: Region<QueueCell>) -> ReadyQueue {
        assert!(cells.len().is_power_of_two());
        let mask = cells.len() as u64 - 1;
        ReadyQueue { cells, mask, enq: Padded::default(), deq: Padded::default() }
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.cells.len()
    }

    /// Pushes; false when full.
    pub fn push(&self, v: u64) -> bool {
        let cells = self.cells.as_slice();
        let mut pos = self.enq.0.load(Relaxed);
        loop {
            let i = pos & self.mask;
            let cell = &cells[i as usize];
            let seq = cell.seq.load(Acquire).wrapping_add(i);
            let dif = seq.wrapping_sub(pos) as i64;
            if dif == 0 {
                match self.enq.0.compare_exchange_weak(pos, pos + 1, Relaxed, Relaxed) {
                    Ok(_) => {
                        cell.value.store(v, Relaxed);
                        cell.seq.store((pos + 1).wrapping_sub(i), Release);
                        return true;
                    }
                    Err(p) => pos = p,
                }
            } else if dif < 0 {
                return false;
            } else {
                pos = self.enq.0.load(Relaxed);
            }
        }
    }

    /// Pops the oldest value.
    pub fn pop(&self) -> Option<u64> {
        let cells = self.cells.as_slice();
        let mut pos = self.deq.0.load(Relaxed);
        loop {
            let i = pos & self.mask;
            let cell = &cells[i as usize];
            let seq = cell.seq.load(Acquire).wrapping_add(i);
            let dif = seq.wrapping_sub(pos + 1) as i64;
            if dif == 0 {
                match self.deq.0.compare_exchange_weak(pos, pos + 1, Relaxed, Relaxed) {
                    Ok(_) => {
                        let v = cell.value.load(Relaxed);
                        cell.seq.store((pos + self.mask + 1).wrapping_sub(i), Release);
                        return Some(v);
                    }
                    Err(p) => pos = p,
                }
            } else if dif < 0 {
                return None;
            } else {
                pos = self.deq.0.load(Relaxed);
            }
        }
    }

    /// Whether the queue looks empty (racy hint).
    pub fn is_empty_hint(&self) -> bool {
        self.enq.0.load(Relaxed) == self.deq.0.load(Relaxed)
    }

    /// Approximate length.
    pub fn len_hint(&self) -> u64 {
        self.enq.0.load(Relaxed).saturating_sub(self.deq.0.load(Relaxed))
    }

    /// Restores the touched cells to zero (empty initial state) so the
    /// region can back a fresh queue next run. Requires exclusive use.
    pub fn reset_region(&mut self) {
        let touched = (self.enq.0.load(Relaxed)).min(self.cells.len() as u64) as usize;
        for c in &self.cells.as_slice()[..touched] {
            c.seq.store(0, Relaxed);
            c.value.store(0, Relaxed);
        }
        self.enq.0.store(0, Relaxed);
        self.deq.0.store(0, Relaxed);
    }
}

/// Single-producer single-consumer ring of `u64` (usable capacity `len−1`).
pub struct WiringQueue {
    buf: Region<u64>,
    mask: u64,
    head: Padded,
    tail: Padded,
}

impl WiringQueue {
    /// Queue over `buf` (power-of-two length).
    pub fn new(buf: Region<u64>) -> WiringQueue {
        assert!(buf.len().is_power_of_two());
        let mask = buf.len() as u64 - 1;
        WiringQueue { buf, mask, head: Padded::default(), tail: Padded::default() }
    }

    fn cell(&self, pos: u64) -> &AtomicU64 {
        let p = self.buf.as_ptr().wrapping_add((pos & self.mask) as usize);
        // SAFETY: index masked into the region; AtomicU64 has the layout of u64.
        unsafe { AtomicU64::from_ptr(p) }
    }

    /// Producer: pushes; false when full.
    pub fn push(&self, v: u64) -> bool {
        let t = self.tail.0.load(Relaxed);
        if t - self.head.0.load(Acquire) >= self.mask {
            return false;
        }
        self.cell(t).store(v, Relaxed);
        self.tail.0.store(t + 1, Release);
        true
    }

    /// Consumer: peeks the oldest value.
    pub fn peek(&self) -> Option<u64> {
        let h = self.head.0.load(Relaxed);
        if h == self.tail.0.load(Acquire) {
            None
        } else {
            Some(self.cell(h).load(Relaxed))
        }
    }

    /// Consumer: calls `f` on every queued value, oldest first, while it
    /// returns true. Only the consumer may call this (values are not removed).
    pub fn for_each_pending(&self, mut f: impl FnMut(u64) -> bool) {
        let h = self.head.0.load(Relaxed);
        let t = self.tail.0.load(Acquire);
        for pos in h..t {
            if !f(self.cell(pos).load(Relaxed)) {
                break;
            }
        }
    }

    /// Consumer: drops the oldest value.
    pub fn advance(&self) {
        self.head.0.fetch_add(1, Release);
    }

    /// Number of queued values.
    pub fn len(&self) -> u64 {
        // Head first: the head never passes the tail, so a tail read after it
        // is >= it even while the consumer advances concurrently.
        let h = self.head.0.load(Acquire);
        self.tail.0.load(Acquire).saturating_sub(h)
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let q = WiringQueue::new(Region::zeroed(4));
        assert!(q.push(1) && q.push(2) && q.push(3));
        assert!(!q.push(4));
        assert_eq!(q.peek(), Some(1));
        q.advance();
        assert!(q.push(4));
        assert_eq!(q.len(), 3);
    }
}
