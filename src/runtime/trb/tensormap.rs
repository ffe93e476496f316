//! TensorMap (§7.3–7.5): which live task last wrote which region of a
//! buffer. 4096 buckets hashed on the base address, a fixed pool of 65536
//! entries shared by all rings with a free list, per-task entry lists for
//! cleanup, and validity by per-ring watermark (stale entries are skipped).
//! Orchestrator-private: single-threaded.

mod overlap;

use super::layout::{task_id, Region, TmEntry, MAX_RINGS, TENSORMAP_CLEANUP_INTERVAL};
use crate::abi::tensor::Tensor;
use overlap::same_view;
pub use overlap::{overlap, Overlap};

const NIL: u32 = u32::MAX;
/// "No entry" in the bucket and task-head tables, which hold entry
/// index plus one: all-zero memory (a fresh or released arena page) is an empty table,
/// so a run never fills them; the map zeroes what it set when it is dropped.
const NIL64: u64 = 0;

/// Bucket of a base address.
pub fn bucket_of(addr: u64, num_buckets: usize) -> usize {
    let bits = num_buckets.trailing_zeros();
    (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

/// The TensorMap.
pub struct TensorMap {
    buckets: Region<u64>,
    entries: Region<TmEntry>,
    free_list: Region<u64>,
    free_num: usize,
    next_entry_idx: usize,
    heads: [Region<u64>; MAX_RINGS],
    /// `heads[r].len() - 1` (task windows are powers of two).
    masks: [u64; MAX_RINGS],
    /// Live entries per producer ring.
    live: [usize; MAX_RINGS],
    /// No live entry of ring `r` has a local id below `low[r]` (`u64::MAX`
    /// while the ring has none): the cleanup walk starts there.
    low: [u64; MAX_RINGS],
    /// The last hashed base address and its bucket: an insert after the
    /// lookup of the same buffer costs no second hash.
    probe: (u64, usize),
    /// An entry a lookup removed (COVERED by an INOUT) whose unlinking is
    /// deferred ([`NIL`]: none): it stays linked but is invisible (lookups
    /// skip it, [`TensorMap::used`] does not count it), and the submit's
    /// insert of the same view rewrites it in place instead of unlinking
    /// it and linking a new entry. Every other operation finishes the
    /// removal first ([`TensorMap::settle`]).
    pending: u32,
    /// Cached per-ring watermarks (validity).
    pub last_task_alives: [u64; MAX_RINGS],
    last_cleanup: [u64; MAX_RINGS],
}

/// A bucket/head table value as an entry link.
#[inline]
fn to32(v: u64) -> u32 {
    if v == NIL64 {
        NIL
    } else {
        (v - 1) as u32
    }
}

/// An entry link as a bucket/head table value.
#[inline]
fn to64(v: u32) -> u64 {
    if v == NIL {
        NIL64
    } else {
        v as u64 + 1
    }
}

impl TensorMap {
    /// Builds an empty map over the given tables. Buckets and heads must be
    /// all-zero (empty): a fresh or released arena is, and every map leaves
    /// them so when dropped. Entries are initialised on allocation.
    pub fn new(
        buckets: Region<u64>,
        entries: Region<TmEntry>,
        free_list: Region<u64>,
        heads: [Region<u64>; MAX_RINGS],
    ) -> TensorMap {
        assert!(buckets.len().is_power_of_two());
        assert!(free_list.len() >= entries.len());
        assert!(heads.iter().all(|h| h.len().is_power_of_two()));
        debug_assert!(buckets.as_slice().iter().all(|&v| v == NIL64), "TensorMap buckets not empty");
        debug_assert!(heads.iter().all(|h| h.as_slice().iter().all(|&v| v == NIL64)), "TensorMap heads not empty");
        let probe = (0, bucket_of(0, buckets.len()));
        TensorMap {
            buckets,
            entries,
            free_list,
            free_num: 0,
            next_entry_idx: 0,
            masks: std::array::from_fn(|r| heads[r].len() as u64 - 1),
            heads,
            live: [0; MAX_RINGS],
            low: [u64::MAX; MAX_RINGS],
            probe,
            pending: NIL,
            last_task_alives: [0; MAX_RINGS],
            last_cleanup: [0; MAX_RINGS],
        }
    }

    /// Owned map with the default sizes (tests).
    #[cfg(test)]
    pub fn owned(windows: [usize; MAX_RINGS]) -> TensorMap {
        TensorMap::new(
            Region::zeroed(super::layout::TENSORMAP_NUM_BUCKETS),
            Region::zeroed(super::layout::TENSORMAP_POOL_SIZE),
            Region::zeroed(super::layout::TENSORMAP_POOL_SIZE),
            windows.map(Region::zeroed),
        )
    }

    /// The address ranges `(start, bytes)` of the buckets, entries, free
    /// list and per-ring heads (tests).
    #[cfg(test)]
    pub(crate) fn spans(&self) -> Vec<(usize, usize)> {
        fn span<T>(r: &Region<T>) -> (usize, usize) {
            (r.as_ptr() as usize, std::mem::size_of_val(r.as_slice()))
        }
        let mut v = vec![span(&self.buckets), span(&self.entries), span(&self.free_list)];
        v.extend(self.heads.iter().map(span));
        v
    }

    /// Pool capacity.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Live entries (`next_entry_idx − free_num`, less a removed entry
    /// whose unlinking is deferred).
    #[inline]
    pub fn used(&self) -> usize {
        self.next_entry_idx - self.free_num - usize::from(self.pending != NIL)
    }

    /// Finishes a deferred removal.
    #[inline]
    fn settle(&mut self) {
        if self.pending != NIL {
            let idx = self.pending as usize;
            self.pending = NIL;
            self.remove(idx);
        }
    }

    /// The task-head position `(ring, slot)` of `producer`'s entry list.
    #[inline(always)]
    fn head_of(&self, producer: u64) -> (usize, usize) {
        let ring = task_id::ring(producer).min(MAX_RINGS - 1);
        (ring, (task_id::local(producer) & self.masks[ring]) as usize)
    }

    /// Unlinks the entry whose task-list neighbours are `prev`/`next` from
    /// the task list of `producer`; returns the producer's ring.
    #[inline(always)]
    fn unlink_task(&mut self, producer: u64, prev: u32, next: u32) -> usize {
        let (ring, slot) = self.head_of(producer);
        if prev == NIL {
            self.heads[ring].as_mut_slice()[slot] = to64(next);
        } else {
            self.entries.as_mut_slice()[prev as usize].next_in_task = next;
        }
        if next != NIL {
            self.entries.as_mut_slice()[next as usize].prev_in_task = prev;
        }
        ring
    }

    #[inline]
    fn is_valid(&self, e: &TmEntry) -> bool {
        let r = task_id::ring(e.producer_task_id).min(MAX_RINGS - 1);
        task_id::local(e.producer_task_id) >= self.last_task_alives[r]
    }

    /// Bucket of `addr`, remembered for the next call.
    #[inline]
    fn bucket(&mut self, addr: u64) -> usize {
        if addr == self.probe.0 {
            return self.probe.1;
        }
        let b = bucket_of(addr, self.buckets.len());
        self.probe = (addr, b);
        b
    }

    /// `sync_tensormap`: refresh ring validity and clean up retired tasks'
    /// entries every 64 retirements or when `new_local` reuses the cleanup
    /// cursor's slot.
    /// Inlined into every submit: the common call (nothing pending, no
    /// cleanup due) is a few loads and one store; the rest is out of line.
    #[inline(always)]
    pub fn sync(&mut self, ring: usize, new_local: u64, last_alive: u64) {
        if self.pending != NIL {
            self.settle_slow();
        }
        self.last_task_alives[ring] = last_alive;
        let lc = self.last_cleanup[ring];
        if last_alive > lc {
            let mask = self.masks[ring];
            if last_alive - lc >= TENSORMAP_CLEANUP_INTERVAL || (new_local & mask) == (lc & mask) {
                self.cleanup_due(ring, lc, last_alive);
            }
        }
    }

    /// The deferred removal of [`sync`](Self::sync), out of line.
    #[cold]
    #[inline(never)]
    fn settle_slow(&mut self) {
        self.settle();
    }

    /// The cleanup of [`sync`](Self::sync), out of line.
    #[inline(never)]
    fn cleanup_due(&mut self, ring: usize, lc: u64, last_alive: u64) {
        self.cleanup_retired(ring, lc, last_alive);
        self.last_cleanup[ring] = last_alive;
    }

    /// Syncs and cleans every ring whose watermark passed its cleanup cursor.
    pub fn reclaim_retired_all(&mut self, alives: [u64; MAX_RINGS]) {
        self.settle();
        for (r, &la) in alives.iter().enumerate() {
            self.last_task_alives[r] = la;
            if la > self.last_cleanup[r] {
                self.cleanup_retired(r, self.last_cleanup[r], la);
                self.last_cleanup[r] = la;
            }
        }
    }

    /// Frees every entry of tasks `[old, new)` of `ring`.
    pub fn cleanup_retired(&mut self, ring: usize, old: u64, new: u64) {
        self.settle();
        if self.live[ring] == 0 {
            return;
        }
        let w = self.heads[ring].len() as u64;
        let mask = w - 1;
        // Only the last W ids can still own a head, and no live entry is
        // older than `low` (a skipped id's slot can hold only entries of
        // ids >= low, which the walk reaches under their own ids).
        let from = old.max(new.saturating_sub(w)).max(self.low[ring]);
        for id in from..new {
            let slot = (id & mask) as usize;
            let head = self.heads[ring].as_slice()[slot];
            let mut cur = head;
            while cur != NIL64 {
                let idx = to32(cur) as usize;
                let e = &self.entries.as_slice()[idx];
                // Only free entries that belong to this (retired) id.
                if task_id::local(e.producer_task_id) >= new {
                    break;
                }
                let next = to64(e.next_in_task);
                self.unlink_bucket(idx);
                self.push_free(idx);
                self.drop_live(ring);
                cur = next;
            }
            if cur != head {
                self.heads[ring].as_mut_slice()[slot] = cur;
                if cur != NIL64 {
                    self.entries.as_mut_slice()[to32(cur) as usize].prev_in_task = NIL;
                }
            }
            if self.live[ring] == 0 {
                break;
            }
        }
    }

    #[inline]
    fn drop_live(&mut self, ring: usize) {
        self.live[ring] -= 1;
        if self.live[ring] == 0 {
            self.low[ring] = u64::MAX;
        }
    }

    #[inline]
    fn push_free(&mut self, idx: usize) {
        self.entries.as_mut_slice()[idx].bucket_index = -1;
        self.free_list.as_mut_slice()[self.free_num] = idx as u64;
        self.free_num += 1;
    }

    #[inline]
    fn unlink_bucket(&mut self, idx: usize) {
        let e = &self.entries.as_slice()[idx];
        let (prev, next, bucket) = (e.prev_in_bucket, e.next_in_bucket, e.bucket_index);
        if prev == NIL {
            self.buckets.as_mut_slice()[bucket as usize] = to64(next);
        } else {
            self.entries.as_mut_slice()[prev as usize].next_in_bucket = next;
        }
        if next != NIL {
            self.entries.as_mut_slice()[next as usize].prev_in_bucket = prev;
        }
    }

    /// Removes one entry (COVERED-by-INOUT eviction).
    pub fn remove(&mut self, idx: usize) {
        if self.pending == idx as u32 {
            self.pending = NIL;
        }
        self.unlink_bucket(idx);
        let e = &self.entries.as_slice()[idx];
        let (producer, prev, next) = (e.producer_task_id, e.prev_in_task, e.next_in_task);
        let ring = self.unlink_task(producer, prev, next);
        self.push_free(idx);
        self.drop_live(ring);
    }

    /// Free capacity.
    #[inline]
    pub fn free_capacity(&self) -> usize {
        self.capacity() - self.used()
    }

    /// Records `t` as written by `producer`. The caller reserved capacity.
    #[inline]
    pub fn insert(&mut self, t: &Tensor, producer: u64) {
        if self.pending != NIL {
            let idx = self.pending as usize;
            let e = &self.entries.as_slice()[idx];
            if e.buffer_addr == t.buffer_addr && same_view(t, e) {
                self.pending = NIL;
                self.rewrite(idx, t, producer);
                return;
            }
            self.settle();
        }
        self.insert_new(t, producer);
    }

    /// `insert` into a fresh entry (from the free list, else the pool).
    #[inline(never)]
    fn insert_new(&mut self, t: &Tensor, producer: u64) {
        let idx = if self.free_num > 0 {
            self.free_num -= 1;
            self.free_list.as_slice()[self.free_num] as usize
        } else {
            assert!(self.next_entry_idx < self.capacity(), "TensorMap pool exhausted");
            self.next_entry_idx += 1;
            self.next_entry_idx - 1
        };
        let b = self.bucket(t.buffer_addr);
        let local = task_id::local(producer);
        let (ring, slot) = self.head_of(producer);
        let bhead = self.buckets.as_slice()[b];
        let thead = self.heads[ring].as_slice()[slot];
        // Field by field in place (the padding is never read).
        let e = &mut self.entries.as_mut_slice()[idx];
        e.buffer_addr = t.buffer_addr;
        e.next_in_bucket = to32(bhead);
        e.bucket_index = b as i32;
        e.producer_task_id = producer;
        e.start_offset = t.start_offset;
        e.version = t.version;
        e.ndims = t.ndims;
        e.dtype = t.dtype;
        e.manual_dep = t.manual_dep;
        e.is_contiguous = t.is_contiguous;
        e.shapes = t.shapes;
        e.prev_in_bucket = NIL;
        e.next_in_task = to32(thead);
        e.prev_in_task = NIL;
        e.extent_elem_cache = t.extent_elem_cache;
        e.strides = t.strides;
        if bhead != NIL64 {
            self.entries.as_mut_slice()[to32(bhead) as usize].prev_in_bucket = idx as u32;
        }
        if thead != NIL64 {
            self.entries.as_mut_slice()[to32(thead) as usize].prev_in_task = idx as u32;
        }
        self.buckets.as_mut_slice()[b] = to64(idx as u32);
        self.heads[ring].as_mut_slice()[slot] = to64(idx as u32);
        self.live[ring] += 1;
        self.low[ring] = self.low[ring].min(local);
    }

    /// `insert` of `t` into the (removed, still linked) entry `idx` that
    /// records the same buffer and geometry: the same field values and
    /// list positions as unlinking it, freeing it and inserting `t` into
    /// the entry the free list then hands back (this one): the head of
    /// its bucket and of the producer's task list.
    #[inline(always)]
    fn rewrite(&mut self, idx: usize, t: &Tensor, producer: u64) {
        let e = &self.entries.as_slice()[idx];
        let (old, prev_b, next_b, bucket) = (e.producer_task_id, e.prev_in_bucket, e.next_in_bucket, e.bucket_index);
        let (prev_t, next_t) = (e.prev_in_task, e.next_in_task);
        // Out of the old producer's task list.
        let old_ring = self.unlink_task(old, prev_t, next_t);
        self.drop_live(old_ring);
        if prev_b != NIL {
            self.move_to_bucket_head(idx, prev_b, next_b, bucket as usize);
        }
        // To the head of the new producer's task list.
        let local = task_id::local(producer);
        let (ring, slot) = self.head_of(producer);
        let thead = self.heads[ring].as_slice()[slot];
        if thead != NIL64 {
            self.entries.as_mut_slice()[to32(thead) as usize].prev_in_task = idx as u32;
        }
        let e = &mut self.entries.as_mut_slice()[idx];
        e.producer_task_id = producer;
        e.version = t.version;
        e.manual_dep = t.manual_dep;
        e.next_in_task = to32(thead);
        e.prev_in_task = NIL;
        self.heads[ring].as_mut_slice()[slot] = to64(idx as u32);
        self.live[ring] += 1;
        self.low[ring] = self.low[ring].min(local);
    }

    /// Moves entry `idx` (not the head: its predecessor is `prev`) to the
    /// head of bucket `b`.
    #[cold]
    fn move_to_bucket_head(&mut self, idx: usize, prev: u32, next: u32, b: usize) {
        self.entries.as_mut_slice()[prev as usize].next_in_bucket = next;
        if next != NIL {
            self.entries.as_mut_slice()[next as usize].prev_in_bucket = prev;
        }
        let bhead = self.buckets.as_slice()[b];
        self.entries.as_mut_slice()[to32(bhead) as usize].prev_in_bucket = idx as u32;
        let e = &mut self.entries.as_mut_slice()[idx];
        e.next_in_bucket = to32(bhead);
        e.prev_in_bucket = NIL;
        self.buckets.as_mut_slice()[b] = to64(idx as u32);
    }

    /// Walks the bucket of `t`, calling `f(producer, overlap)` for every
    /// valid overlapping entry of the same buffer; `f` returning true
    /// removes that entry.
    #[inline]
    pub fn lookup(&mut self, t: &Tensor, mut f: impl FnMut(u64, Overlap) -> bool) {
        let b = self.bucket(t.buffer_addr);
        let mut cur = self.buckets.as_slice()[b];
        while cur != NIL64 {
            let idx = to32(cur) as usize;
            // Borrow the entry in place (no copy of its 128 bytes); the
            // borrow ends before `remove` may unlink it.
            let e = &self.entries.as_slice()[idx];
            cur = to64(e.next_in_bucket);
            if e.buffer_addr != t.buffer_addr || !self.is_valid(e) || idx as u32 == self.pending {
                continue;
            }
            let (producer, ov) = (e.producer_task_id, overlap(t, e));
            if ov != Overlap::None && f(producer, ov) {
                // The first removal is deferred (the submit's insert of the
                // same view usually rewrites it); further ones unlink now.
                if self.pending == NIL {
                    self.pending = idx as u32;
                } else {
                    self.remove(idx);
                }
            }
        }
    }
}

impl Drop for TensorMap {
    /// Leaves the bucket and task-head tables all-zero (empty) for the next
    /// run, touching only what this map set: every non-empty position is the
    /// head of a chain of entries allocated in `[0, next_entry_idx)`, and
    /// each entry records its bucket and its producer (whose ring slot names
    /// the head). Entries on the free list clear stale positions, which is
    /// harmless. O(entries used) instead of a fill of all buckets and heads
    /// at every run start.
    fn drop(&mut self) {
        let (nb, n) = (self.buckets.len(), self.next_entry_idx.min(self.entries.len()));
        for idx in 0..n {
            let e = &self.entries.as_slice()[idx];
            let b = e.bucket_index as usize;
            let (ring, slot) = self.head_of(e.producer_task_id);
            if b < nb {
                self.buckets.as_mut_slice()[b] = NIL64;
            }
            self.heads[ring].as_mut_slice()[slot] = NIL64;
        }
    }
}

#[cfg(test)]
#[path = "tensormap_tests.rs"]
mod diff_tests;

#[cfg(test)]
mod tests;
