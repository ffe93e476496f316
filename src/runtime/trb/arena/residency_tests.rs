use super::*;
use crate::config::RingSizing;
use crate::device::region::page_size;
use crate::runtime::trb::arena::{ArenaCache, PreparedArena};

const W: usize = 4096;

/// Windows of 4096 slots (about 19 MiB of payloads per ring), 8 MiB heaps.
fn key() -> RingSizing {
    RingSizing::uniform(W as u64, 8 << 20, 4096).unwrap()
}

/// Writes `byte` into the first byte of every descriptor, payload and slot
/// state of slots `[0, n)` of ring `r`, as a run of `n` tasks does.
fn touch_ring(p: &PreparedArena, r: usize, n: usize, byte: u8) {
    let (s, t) = (&p.layout.sm.rings[r], &p.layout.geometry.rings[r]);
    for (base, elem) in
        [(s.descriptors, t.descriptors.elem), (s.payloads, t.payloads.elem), (s.slot_states, t.slot_states.elem)]
    {
        for i in 0..n {
            // SAFETY: slot i < W of this table lies inside the SM region; no
            // other view exists.
            unsafe { p.sm.slice_mut::<u8>(base as usize + i * elem, 1) }.unwrap()[0] = byte;
        }
    }
}

/// The first byte of payload `i` of ring `r`.
fn payload_byte(p: &PreparedArena, r: usize, i: usize) -> u8 {
    let (s, t) = (&p.layout.sm.rings[r], &p.layout.geometry.rings[r]);
    // SAFETY: in bounds; no mutable view is live.
    unsafe { p.sm.slice::<u8>(s.payloads as usize + i * t.payloads.elem, 1) }.unwrap()[0]
}

fn resident_mib(r: &Region) -> f64 {
    (r.resident_pages().unwrap() * page_size()) as f64 / 1048576.0
}

#[test]
fn repeated_run_keeps_its_pages_and_a_small_run_gives_them_back() {
    let mut cache = ArenaCache::new();
    let p = cache.get_or_build(&key()).unwrap();
    touch_ring(p, 0, W, 7);
    let full = resident_mib(&p.sm);
    assert!(full > 15.0, "{full} MiB resident after touching a whole ring");
    // The same big run again: nothing is released.
    for _ in 0..3 {
        p.after_run(W as u64);
        touch_ring(p, 0, W, 7);
    }
    assert_eq!(p.residency.ring_releases, 0);
    assert_eq!(resident_mib(&p.sm), full);
    // A run that used 1000 slots: the slots above 1000 go back.
    // (Each ring may have used 1000 slots after those runs: 4 releases.)
    p.after_run(1000);
    assert_eq!(p.residency.ring_releases, RING_COUNT as u64);
    assert_eq!(p.residency.ring_slots[0], 1000);
    let mid = resident_mib(&p.sm);
    assert!(mid < full * 0.3 && mid > full * 0.2, "{mid} of {full} MiB resident after 1000 of {W} slots");
    assert_eq!(payload_byte(p, 0, 999), 7, "a kept slot is untouched");
    assert_eq!(payload_byte(p, 0, 1001), 0, "a released slot reads as zero");
    // A small run: down to the warm slots, which keep their contents.
    p.after_run(5);
    assert_eq!(p.residency.ring_slots, [WARM_SLOTS; RING_COUNT]);
    assert_eq!(payload_byte(p, 0, WARM_SLOTS - 1), 7);
    assert_eq!(payload_byte(p, 0, WARM_SLOTS + 1), 0);
    // (Reading a released page maps the zero page, which counts as resident.)
    let warm = resident_mib(&p.sm);
    assert!(warm < 2.0, "{warm} MiB resident after a small run");
    // More small runs release nothing more (no system calls).
    for _ in 0..10 {
        touch_ring(p, 0, 5, 9);
        p.after_run(5);
    }
    assert_eq!(p.residency.ring_releases, 2 * RING_COUNT as u64);
    assert_eq!(resident_mib(&p.sm), warm);
}

#[test]
fn every_ring_is_bounded_by_the_total_task_count() {
    let mut cache = ArenaCache::new();
    let p = cache.get_or_build(&key()).unwrap();
    for r in 0..RING_COUNT {
        touch_ring(p, r, 2000, 1);
    }
    // 3000 tasks in all: any ring may have used 3000 slots, so none is cut
    // below 2000.
    p.after_run(3000);
    assert_eq!(p.residency.ring_releases, 0);
    for r in 0..RING_COUNT {
        assert_eq!(payload_byte(p, r, 1999), 1);
    }
    p.after_run(1500);
    assert_eq!(p.residency.ring_releases, RING_COUNT as u64);
    for r in 0..RING_COUNT {
        assert_eq!(payload_byte(p, r, 1499), 1);
        assert_eq!(payload_byte(p, r, 1501), 0);
    }
}

#[test]
fn a_run_without_a_report_is_assumed_to_have_used_every_slot() {
    let mut cache = ArenaCache::new();
    let p = cache.get_or_build(&key()).unwrap();
    touch_ring(p, 2, W, 3);
    p.after_unknown_run();
    assert_eq!(p.residency.ring_slots, [W; RING_COUNT]);
    p.after_run(1);
    assert!(resident_mib(&p.sm) < 2.0);
    assert_eq!(p.residency.spare_trims, 1, "the small run after it trims the spare tables");
}

/// Writes `bytes` bytes of `region` from `offset`.
fn fill(region: &Region, offset: u64, bytes: u64) {
    // SAFETY: in bounds (callers pass table ranges); no other view.
    unsafe { region.slice_mut::<u8>(offset as usize, bytes as usize) }.unwrap().fill(0xEE);
}

#[test]
fn spare_tables_are_trimmed_after_a_big_run_and_periodically() {
    let mut cache = ArenaCache::new();
    let p = cache.get_or_build(&key()).unwrap();
    let (o, g) = (p.layout.offsets, p.layout.geometry);
    let touch = |p: &PreparedArena| {
        fill(&p.heap, p.layout.heap_offset(1), 8 << 20);
        fill(&p.arena, o.orch.tensormap_entries, g.tm_entries.bytes());
        fill(&p.arena, o.sched.ready_queues[1], g.ready_queue.bytes());
        fill(&p.arena, o.orch.tensormap_buckets, g.tm_buckets.bytes());
    };
    touch(p);
    let (heap0, arena0) = (resident_mib(&p.heap), resident_mib(&p.arena));
    assert!(heap0 >= 8.0 && arena0 >= 9.0, "{heap0} / {arena0} MiB");
    // A big run keeps everything; the small run after it trims.
    p.after_run(W as u64);
    assert_eq!(p.residency.spare_trims, 0);
    assert_eq!(resident_mib(&p.heap), heap0);
    p.after_run(5);
    assert_eq!(p.residency.spare_trims, 1);
    let (heap1, arena1) = (resident_mib(&p.heap), resident_mib(&p.arena));
    assert!(heap1 <= 1.0, "{heap1} MiB of heap left");
    // Kept: the warm prefixes and the buckets every run rewrites.
    let buckets = g.tm_buckets.bytes() as f64 / 1048576.0;
    assert!(arena1 >= buckets && arena1 < 1.0, "{arena1} MiB of arena left");
    // SAFETY: in bounds, no other views.
    let heap = unsafe { p.heap.slice::<u8>(p.layout.heap_offset(1) as usize, 8 << 20) }.unwrap();
    assert_eq!(heap[WARM_HEAP_BYTES as usize - 1], 0xEE);
    assert_eq!(heap[WARM_HEAP_BYTES as usize], 0);
    // Small runs only: one trim every SPARE_TRIM_PERIOD runs.
    touch(p);
    for _ in 1..SPARE_TRIM_PERIOD {
        p.after_run(5);
    }
    assert_eq!(p.residency.spare_trims, 1);
    assert!(resident_mib(&p.heap) >= 8.0);
    p.after_run(5);
    assert_eq!(p.residency.spare_trims, 2);
    assert!(resident_mib(&p.heap) <= 1.0);
}

#[test]
fn tiny_windows_and_heaps_release_nothing_out_of_bounds() {
    let mut cache = ArenaCache::new();
    let key = RingSizing::uniform(16, 1024, 16).unwrap();
    let p = cache.get_or_build(&key).unwrap();
    for r in 0..RING_COUNT {
        touch_ring(p, r, 16, 4);
    }
    p.after_unknown_run();
    p.after_run(0);
    // The window is below WARM_SLOTS: everything is kept.
    assert_eq!(p.residency.ring_slots, [16; RING_COUNT]);
    for r in 0..RING_COUNT {
        assert_eq!(payload_byte(p, r, 15), 4);
    }
}
