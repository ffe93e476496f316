//! Differential tests of the TensorMap fast paths: the overlap fast paths
//! against the general computation, and the whole map (deferred removal,
//! in-place rewrite, bounded cleanup walk) against the plain
//! implementation it replaced (kept here as `Reference`, verbatim apart
//! from its name).

use super::overlap::{overlap_exact, overlap_general, ELEM_SHIFT};
use super::*;
use crate::abi::tensor::MAX_TENSOR_DIMS;
use crate::abi::DataType;

/// Small deterministic generator (64-bit LCG, high bits).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random view of a buffer at `addr`: mostly well-formed row-major views
/// and sub-views of 1 to 3 dimensions, sometimes odd strides, dtypes,
/// versions, ranks or extents.
fn random_view(g: &mut Rng, addr: u64) -> Tensor {
    let nd = match g.below(10) {
        0..=4 => 1,
        5..=7 => 2,
        8 => 3,
        _ => g.below(7) as u32,
    };
    let dims: Vec<u32> = (0..nd.clamp(1, 5)).map(|_| 1 + g.below(6) as u32).collect();
    let mut t = Tensor::external(addr, &dims, DataType::Float32);
    t.ndims = nd;
    for i in 0..MAX_TENSOR_DIMS {
        if g.below(3) == 0 {
            t.shapes[i] = g.below(dims.get(i).copied().unwrap_or(3) as u64 + 1) as u32;
        }
        if g.below(12) == 0 {
            t.strides[i] = g.below(4) as u32;
        }
    }
    let total: u64 = dims.iter().map(|&d| d as u64).product();
    t.start_offset = g.below(total + 2);
    if g.below(4) == 0 {
        t.is_contiguous = 0;
        t.extent_elem_cache = g.below(total + 4);
    }
    if g.below(10) == 0 {
        t.dtype = g.below(14) as u8;
    }
    if g.below(8) == 0 {
        t.buffer_size = g.below(t.buffer_size + 64);
    }
    t.version = g.below(3) as i32;
    t
}

/// The entry `insert` would record for `t`.
fn entry_of(t: &Tensor, producer: u64) -> TmEntry {
    TmEntry {
        buffer_addr: t.buffer_addr,
        producer_task_id: producer,
        start_offset: t.start_offset,
        version: t.version,
        ndims: t.ndims,
        dtype: t.dtype,
        manual_dep: t.manual_dep,
        is_contiguous: t.is_contiguous,
        shapes: t.shapes,
        extent_elem_cache: t.extent_elem_cache,
        strides: t.strides,
        ..TmEntry::default()
    }
}

#[test]
fn elem_shift_table_matches_dtype_sizes() {
    for code in 0..=255u8 {
        let size = crate::abi::types::elem_size_of_raw(code);
        match ELEM_SHIFT.get(code as usize) {
            Some(&sh) => assert_eq!(size, 1 << sh, "dtype {code}"),
            None => assert_eq!(size, 0, "dtype {code}"),
        }
    }
}

#[test]
fn fast_paths_agree_with_general_overlap() {
    let mut g = Rng(0x5EED);
    let (mut fast_1d, mut exact, mut covered) = (0, 0, 0);
    for _ in 0..200_000 {
        let t = random_view(&mut g, 0x1000);
        // Half the producers record exactly the consumer's geometry.
        let p = if g.below(2) == 0 {
            let mut p = t;
            p.version = g.below(3) as i32;
            p
        } else {
            random_view(&mut g, 0x1000)
        };
        let e = entry_of(&p, 7);
        let want = overlap_general(&t, &e);
        assert_eq!(overlap(&t, &e), want, "consumer {t:?} producer {e:?}");
        if same_view(&t, &e) {
            exact += 1;
            if t.version <= e.version {
                assert_eq!(overlap_exact(&t), want, "exact view {t:?}");
            }
        }
        fast_1d += usize::from(t.ndims == 1 && e.ndims == 1);
        covered += usize::from(want == Overlap::Covered);
    }
    // The generator reaches every path.
    assert!(fast_1d > 50_000 && exact > 50_000 && covered > 10_000, "{fast_1d} {exact} {covered}");
}

#[test]
fn deferred_removal_is_invisible_and_rewritten_in_place() {
    let mut m = TensorMap::owned([8, 8, 8, 8]);
    let t = Tensor::external(0x1000, &[64], DataType::Float32);
    let u = Tensor::external(0x2000, &[64], DataType::Float32);
    m.insert(&t, 1);
    m.insert(&u, 1);
    let mut seen = Vec::new();
    m.lookup(&t, |p, o| {
        seen.push((p, o));
        o == Overlap::Covered
    });
    assert_eq!(seen, vec![(1, Overlap::Covered)]);
    assert_eq!((m.used(), m.free_capacity()), (1, m.capacity() - 1), "the removed entry is not counted");
    let mut again = Vec::new();
    m.lookup(&t, |p, o| {
        again.push((p, o));
        false
    });
    assert!(again.is_empty(), "a removed entry is invisible");
    // The insert of the same view takes the removed entry back.
    m.insert(&t, 2);
    assert_eq!((m.used(), m.next_entry_idx), (2, 2));
    m.lookup(&t, |p, o| {
        again.push((p, o));
        false
    });
    assert_eq!(again, vec![(2, Overlap::Covered)]);
    // Task 1's list now holds only `u`: retiring task 1 frees that one.
    m.reclaim_retired_all([2, 0, 0, 0]);
    assert_eq!(m.used(), 1);
    // A removal followed by an insert of another view frees the entry first.
    m.lookup(&t, |_, o| o == Overlap::Covered);
    m.insert(&u, 3);
    assert_eq!((m.used(), m.next_entry_idx), (1, 2));
}

/// The reference's "no entry" in its bucket and head tables (it stores raw
/// entry indices; the map under test stores index + 1 with 0 as empty).
const REF_NIL64: u64 = u64::MAX;

/// The TensorMap as it was before the fast paths (upstream §7.3–7.5 done
/// plainly): the oracle of `map_matches_reference_under_random_submits`.
struct Reference {
    buckets: Region<u64>,
    entries: Region<TmEntry>,
    free_list: Region<u64>,
    free_num: usize,
    next_entry_idx: usize,
    heads: [Region<u64>; MAX_RINGS],
    last_task_alives: [u64; MAX_RINGS],
    last_cleanup: [u64; MAX_RINGS],
}

impl Reference {
    fn new(windows: [usize; MAX_RINGS]) -> Reference {
        let mut buckets = Region::zeroed(super::super::layout::TENSORMAP_NUM_BUCKETS);
        buckets.as_mut_slice().fill(REF_NIL64);
        let mut heads = windows.map(Region::<u64>::zeroed);
        for h in heads.iter_mut() {
            h.as_mut_slice().fill(REF_NIL64);
        }
        Reference {
            buckets,
            entries: Region::zeroed(super::super::layout::TENSORMAP_POOL_SIZE),
            free_list: Region::zeroed(super::super::layout::TENSORMAP_POOL_SIZE),
            free_num: 0,
            next_entry_idx: 0,
            heads,
            last_task_alives: [0; MAX_RINGS],
            last_cleanup: [0; MAX_RINGS],
        }
    }

    fn used(&self) -> usize {
        self.next_entry_idx - self.free_num
    }

    fn is_valid(&self, e: &TmEntry) -> bool {
        let r = task_id::ring(e.producer_task_id).min(MAX_RINGS - 1);
        task_id::local(e.producer_task_id) >= self.last_task_alives[r]
    }

    fn sync(&mut self, ring: usize, new_local: u64, last_alive: u64) {
        self.last_task_alives[ring] = last_alive;
        let mask = self.heads[ring].len() as u64 - 1;
        let lc = self.last_cleanup[ring];
        if last_alive > lc && (last_alive - lc >= TENSORMAP_CLEANUP_INTERVAL || (new_local & mask) == (lc & mask)) {
            self.cleanup_retired(ring, lc, last_alive);
            self.last_cleanup[ring] = last_alive;
        }
    }

    /// Syncs and cleans every ring whose watermark passed its cleanup cursor.
    fn reclaim_retired_all(&mut self, alives: [u64; MAX_RINGS]) {
        for (r, &la) in alives.iter().enumerate() {
            self.last_task_alives[r] = la;
            if la > self.last_cleanup[r] {
                self.cleanup_retired(r, self.last_cleanup[r], la);
                self.last_cleanup[r] = la;
            }
        }
    }

    /// Frees every entry of tasks `[old, new)` of `ring`.
    fn cleanup_retired(&mut self, ring: usize, old: u64, new: u64) {
        let w = self.heads[ring].len() as u64;
        let mask = w - 1;
        // Only the last W ids can still own a head.
        let from = old.max(new.saturating_sub(w));
        for id in from..new {
            let slot = (id & mask) as usize;
            let mut cur = self.heads[ring].as_slice()[slot];
            while cur != REF_NIL64 {
                let idx = cur as usize;
                let e = self.entries.as_slice()[idx];
                // Only free entries that belong to this (retired) id.
                if task_id::local(e.producer_task_id) >= new {
                    break;
                }
                let next = e.next_in_task;
                self.unlink_bucket(idx);
                self.push_free(idx);
                cur = if next == NIL { REF_NIL64 } else { next as u64 };
            }
            self.heads[ring].as_mut_slice()[slot] = cur;
            if cur != REF_NIL64 {
                self.entries.as_mut_slice()[cur as usize].prev_in_task = NIL;
            }
        }
    }

    fn push_free(&mut self, idx: usize) {
        self.entries.as_mut_slice()[idx].bucket_index = -1;
        self.free_list.as_mut_slice()[self.free_num] = idx as u64;
        self.free_num += 1;
    }

    fn unlink_bucket(&mut self, idx: usize) {
        let e = self.entries.as_slice()[idx];
        let (prev, next) = (e.prev_in_bucket, e.next_in_bucket);
        if prev == NIL {
            self.buckets.as_mut_slice()[e.bucket_index as usize] = if next == NIL { REF_NIL64 } else { next as u64 };
        } else {
            self.entries.as_mut_slice()[prev as usize].next_in_bucket = next;
        }
        if next != NIL {
            self.entries.as_mut_slice()[next as usize].prev_in_bucket = prev;
        }
    }

    /// Removes one entry (COVERED-by-INOUT eviction).
    fn remove(&mut self, idx: usize) {
        let e = self.entries.as_slice()[idx];
        self.unlink_bucket(idx);
        let ring = task_id::ring(e.producer_task_id).min(MAX_RINGS - 1);
        let mask = self.heads[ring].len() as u64 - 1;
        let slot = (task_id::local(e.producer_task_id) & mask) as usize;
        if e.prev_in_task == NIL {
            self.heads[ring].as_mut_slice()[slot] =
                if e.next_in_task == NIL { REF_NIL64 } else { e.next_in_task as u64 };
        } else {
            self.entries.as_mut_slice()[e.prev_in_task as usize].next_in_task = e.next_in_task;
        }
        if e.next_in_task != NIL {
            self.entries.as_mut_slice()[e.next_in_task as usize].prev_in_task = e.prev_in_task;
        }
        self.push_free(idx);
    }

    /// Records `t` as written by `producer`. The caller reserved capacity.
    fn insert(&mut self, t: &Tensor, producer: u64) {
        let idx = if self.free_num > 0 {
            self.free_num -= 1;
            self.free_list.as_slice()[self.free_num] as usize
        } else {
            assert!(self.next_entry_idx < self.entries.len(), "TensorMap pool exhausted");
            self.next_entry_idx += 1;
            self.next_entry_idx - 1
        };
        let b = bucket_of(t.buffer_addr, self.buckets.len());
        let ring = task_id::ring(producer).min(MAX_RINGS - 1);
        let mask = self.heads[ring].len() as u64 - 1;
        let slot = (task_id::local(producer) & mask) as usize;
        let bhead = self.buckets.as_slice()[b];
        let thead = self.heads[ring].as_slice()[slot];
        let to32 = |v: u64| if v == REF_NIL64 { NIL } else { v as u32 };
        self.entries.as_mut_slice()[idx] = TmEntry {
            next_in_bucket: to32(bhead),
            bucket_index: b as i32,
            prev_in_bucket: NIL,
            next_in_task: to32(thead),
            prev_in_task: NIL,
            ..entry_of(t, producer)
        };
        if bhead != REF_NIL64 {
            self.entries.as_mut_slice()[bhead as usize].prev_in_bucket = idx as u32;
        }
        if thead != REF_NIL64 {
            self.entries.as_mut_slice()[thead as usize].prev_in_task = idx as u32;
        }
        self.buckets.as_mut_slice()[b] = idx as u64;
        self.heads[ring].as_mut_slice()[slot] = idx as u64;
    }

    /// Walks the bucket of `t`, calling `f(producer, overlap)` for every
    /// valid overlapping entry of the same buffer; `f` returning true
    /// removes that entry.
    fn lookup(&mut self, t: &Tensor, mut f: impl FnMut(u64, Overlap) -> bool) {
        let b = bucket_of(t.buffer_addr, self.buckets.len());
        let mut cur = self.buckets.as_slice()[b];
        while cur != REF_NIL64 {
            let idx = cur as usize;
            // Borrow the entry in place (no copy of its 128 bytes); the
            // borrow ends before `remove` may unlink it.
            let e = &self.entries.as_slice()[idx];
            cur = if e.next_in_bucket == NIL { REF_NIL64 } else { e.next_in_bucket as u64 };
            if e.buffer_addr != t.buffer_addr || !self.is_valid(e) {
                continue;
            }
            let (producer, ov) = (e.producer_task_id, overlap_general(t, e));
            if ov != Overlap::None && f(producer, ov) {
                self.remove(idx);
            }
        }
    }
}

/// Random submits on both maps: per submit a ring, a retirement watermark
/// (at most `W - 1` live tasks per ring), the `sync`, lookups of 0-3 views of
/// three buffers (INOUT ones evicting covered entries), then the inserts;
/// now and then a `reclaim_retired_all`. Every lookup must report the same
/// producers with the same overlap, in the same order, and the pools must
/// hold the same number of live entries.
#[test]
fn map_matches_reference_under_random_submits() {
    const W: u64 = 8;
    let mut m = TensorMap::owned([W as usize; MAX_RINGS]);
    let mut r = Reference::new([W as usize; MAX_RINGS]);
    let mut g = Rng(0xC0FFEE);
    let mut next = [0u64; MAX_RINGS];
    let mut alive = [0u64; MAX_RINGS];
    let addrs = [0x1000u64, 0x2000, 0x3000];
    for step in 0..60_000 {
        let ring = g.below(3) as usize;
        // Retire some tasks; keep at most W - 1 live after this allocation.
        alive[ring] += g.below(next[ring] - alive[ring] + 1);
        if next[ring] - alive[ring] + 1 >= W {
            alive[ring] = next[ring] + 2 - W;
        }
        let local = next[ring];
        next[ring] += 1;
        let raw = task_id::make(ring, local);
        m.sync(ring, local, alive[ring]);
        r.sync(ring, local, alive[ring]);
        let mut inserts = Vec::new();
        for _ in 0..g.below(4) {
            // One buffer most of the time: chains of INOUT views.
            let addr = addrs[if g.below(4) == 0 { g.below(3) as usize } else { 0 }];
            let mut t = random_view(&mut g, addr);
            if g.below(2) == 0 {
                t = Tensor::external(addr, &[16], DataType::Float32);
            }
            let inout = g.below(3) != 0;
            let (mut a, mut b) = (Vec::new(), Vec::new());
            m.lookup(&t, |p, o| {
                a.push((p, o));
                inout && o == Overlap::Covered
            });
            r.lookup(&t, |p, o| {
                b.push((p, o));
                inout && o == Overlap::Covered
            });
            assert_eq!(a, b, "step {step}: lookup of {t:?}");
            if inout || g.below(4) == 0 {
                inserts.push(t);
            }
        }
        assert_eq!(m.used(), r.used(), "step {step}: after lookups");
        for t in &inserts {
            m.insert(t, raw);
            r.insert(t, raw);
        }
        assert_eq!(m.used(), r.used(), "step {step}: after inserts");
        if g.below(50) == 0 {
            m.reclaim_retired_all(alive);
            r.reclaim_retired_all(alive);
            assert_eq!(m.used(), r.used(), "step {step}: after reclaim");
        }
    }
}
