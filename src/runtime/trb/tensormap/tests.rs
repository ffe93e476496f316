//! Unit tests of the TensorMap: lookups, the overlap outcomes a lookup
//! reports, cleanup and the tables a dropped map leaves.

use super::*;
use crate::abi::DataType;

fn map() -> TensorMap {
    TensorMap::owned([8, 8, 8, 8])
}

fn view(addr: u64, total: u32, start: u64, len: u32) -> Tensor {
    let mut t = Tensor::external(addr, &[total], DataType::Float32);
    t.shapes[0] = len;
    t.start_offset = start;
    t
}

#[test]
fn a_dropped_map_leaves_its_tables_empty_for_the_next_run() {
    use crate::runtime::trb::layout::{TENSORMAP_NUM_BUCKETS, TENSORMAP_POOL_SIZE};
    let windows = [16usize, 16, 16, 16];
    let mut buckets = Region::<u64>::zeroed(TENSORMAP_NUM_BUCKETS);
    let mut entries = Region::<TmEntry>::zeroed(TENSORMAP_POOL_SIZE);
    let mut free = Region::<u64>::zeroed(TENSORMAP_POOL_SIZE);
    let mut heads = windows.map(Region::<u64>::zeroed);
    // SAFETY: views of the owned regions above, which outlive every map
    // built over them; one map at a time uses them.
    let run = |buckets: &mut Region<u64>,
               entries: &mut Region<TmEntry>,
               free: &mut Region<u64>,
               heads: &mut [Region<u64>; MAX_RINGS]| unsafe {
        TensorMap::new(
            Region::from_raw(buckets.as_mut_slice().as_mut_ptr(), buckets.len()),
            Region::from_raw(entries.as_mut_slice().as_mut_ptr(), entries.len()),
            Region::from_raw(free.as_mut_slice().as_mut_ptr(), free.len()),
            std::array::from_fn(|r| Region::from_raw(heads[r].as_mut_slice().as_mut_ptr(), heads[r].len())),
        )
    };
    for round in 0..3u64 {
        let mut m = run(&mut buckets, &mut entries, &mut free, &mut heads);
        for k in 0..40u64 {
            let t = view(0x1000 + 0x100 * (k % 7), 64, 0, 64);
            assert_eq!(producers(&mut m, &t).len(), usize::from(k >= 7), "round {round}, tensor {k}: a fresh map");
            m.lookup(&t, |_, o| o == Overlap::Covered);
            m.insert(&t, task_id::make((k % 4) as usize, k));
        }
        assert!(m.used() > 0);
        drop(m);
        assert!(buckets.as_slice().iter().all(|&v| v == NIL64), "round {round}: buckets left set");
        assert!(heads.iter().all(|h| h.as_slice().iter().all(|&v| v == NIL64)), "round {round}: heads left set");
    }
}

fn producers(m: &mut TensorMap, t: &Tensor) -> Vec<(u64, Overlap)> {
    let mut v = Vec::new();
    m.lookup(t, |p, o| {
        v.push((p, o));
        false
    });
    v
}

#[test]
fn hash_uses_top_bits() {
    assert_eq!(bucket_of(0, 4096), 0);
    assert!(bucket_of(0x1000, 4096) < 4096);
    assert_eq!(bucket_of(1, 4096), (0x9E37_79B9_7F4A_7C15u64 >> 52) as usize);
}

#[test]
fn disjoint_ranges_do_not_overlap() {
    let mut m = map();
    m.insert(&view(0x1000, 100, 0, 50), 0);
    assert!(producers(&mut m, &view(0x1000, 100, 50, 50)).is_empty());
    assert_eq!(producers(&mut m, &view(0x1000, 100, 40, 20)), vec![(0, Overlap::Other)]);
    assert!(producers(&mut m, &view(0x2000, 100, 0, 50)).is_empty());
}

#[test]
fn covering_view_is_covered_and_higher_version_is_other() {
    let mut m = map();
    m.insert(&view(0x1000, 100, 10, 20), 1);
    assert_eq!(producers(&mut m, &view(0x1000, 100, 0, 100)), vec![(1, Overlap::Covered)]);
    let mut v = view(0x1000, 100, 90, 10);
    v.version = 1;
    assert_eq!(producers(&mut m, &v), vec![(1, Overlap::Other)]);
}

#[test]
fn one_dim_partial_inside_and_out_of_bounds() {
    let mut m = map();
    m.insert(&view(0x2000, 100, 10, 20), 3);
    // Consumer 0..15 overlaps 10..30 partly; 12..20 lies inside it (the
    // producer is not covered); 40..50 is disjoint.
    assert_eq!(producers(&mut m, &view(0x2000, 100, 0, 15)), vec![(3, Overlap::Other)]);
    assert_eq!(producers(&mut m, &view(0x2000, 100, 12, 8)), vec![(3, Overlap::Other)]);
    assert!(producers(&mut m, &view(0x2000, 100, 40, 10)).is_empty());
    // A view reaching past its buffer is never provably covered.
    assert_eq!(producers(&mut m, &view(0x2000, 100, 0, 120)), vec![(3, Overlap::Other)]);
    assert_eq!(producers(&mut m, &view(0x2000, 100, 10, 20)), vec![(3, Overlap::Covered)]);
}

#[test]
fn two_dim_tiles() {
    let mut full = Tensor::external(0x4000, &[8, 8], DataType::Float32);
    let mut tile = full;
    tile.shapes = [4, 4, 0, 0, 0];
    tile.is_contiguous = 0;
    tile.extent_elem_cache = 3 * 8 + 4;
    let mut other = tile;
    other.start_offset = 4; // columns 4..8 of rows 0..4
    let mut m = map();
    m.insert(&tile, 2);
    assert!(producers(&mut m, &other).is_empty(), "disjoint columns");
    full.version = 0;
    assert_eq!(producers(&mut m, &full), vec![(2, Overlap::Covered)]);
}

#[test]
fn stale_entries_are_skipped_and_cleanup_frees() {
    let mut m = map();
    let t = view(0x1000, 64, 0, 64);
    m.insert(&t, task_id::make(1, 0));
    m.insert(&t, task_id::make(0, 0));
    assert_eq!(m.used(), 2);
    m.sync(1, 1, 1); // ring 1 task 0 retired; slot reuse triggers cleanup? 1&7 != 0
    assert_eq!(producers(&mut m, &t), vec![(0, Overlap::Covered)]);
    m.reclaim_retired_all([0, 1, 0, 0]);
    assert_eq!(m.used(), 1);
    // Freed entries are reused.
    m.insert(&t, task_id::make(2, 0));
    assert_eq!(m.used(), 2);
    assert_eq!(m.next_entry_idx, 2);
}

#[test]
fn cleanup_every_64_retired_tasks() {
    let mut m = TensorMap::owned([128, 8, 8, 8]);
    for i in 0..70u64 {
        m.insert(&view(0x1000 + i * 0x100, 16, 0, 16), i);
    }
    m.sync(0, 70, 63);
    assert_eq!(m.used(), 70, "63 retired: no cleanup yet");
    m.sync(0, 71, 64);
    assert_eq!(m.used(), 6);
}

#[test]
fn remove_unlinks_covered_entry() {
    let mut m = map();
    let t = view(0x1000, 64, 0, 64);
    m.insert(&t, 0);
    m.insert(&t, 1);
    let mut seen = Vec::new();
    m.lookup(&t, |p, o| {
        seen.push(p);
        o == Overlap::Covered && p == 1
    });
    assert_eq!(seen, vec![1, 0]);
    assert_eq!(producers(&mut m, &t), vec![(0, Overlap::Covered)]);
    assert_eq!(m.used(), 1);
}
