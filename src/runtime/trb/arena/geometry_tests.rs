//! The arena reserves exactly what the engine carves.

use super::*;
use crate::runtime::trb::arena::layout::ArenaLayout;
use crate::runtime::trb::arena::shared_memory::SmLayout;
use crate::runtime::trb::arena::ArenaCache;
use crate::runtime::trb::engine::{build_run, RunParams};
use crate::runtime::trb::host::memory_of;
use crate::runtime::trb::layout::task_state;

fn sizings() -> Vec<RingSizing> {
    vec![
        RingSizing::default(),
        RingSizing::uniform(4, 1024, 4).unwrap(),
        RingSizing::from_values([4, 64, 1024, 8], [1024, 4096, 1 << 20, 2048], [4, 5, 1000, 77]).unwrap(),
        RingSizing::from_values([1 << 12, 16, 4, 1 << 10], [1 << 16; 4], [1 << 12, 7, 64, 9]).unwrap(),
    ]
}

/// Offsets of every arena region, sorted, closed by the arena size.
fn arena_bounds(l: &ArenaLayout) -> Vec<u64> {
    let (o, q) = (&l.offsets.orch, &l.offsets.sched);
    let mut v = vec![l.offsets.off_sm_handle, o.scope_tasks, o.scope_begins, o.tensormap_buckets];
    v.extend([o.tensormap_entries, o.tensormap_free_list, q.dummy_ready_queue, q.early_dispatch_queue]);
    v.extend([q.wiring_queue, l.offsets.off_runtime, l.offsets.off_mailbox, l.offsets.arena_size]);
    v.extend(o.fanin_pool.iter().chain(&o.fanin_seen_epoch).chain(&o.task_entry_heads));
    v.extend(q.ready_queues.iter().chain(&q.dep_pools));
    v.sort_unstable();
    v
}

/// Asserts that `(addr, bytes)` starts a region of `bounds` (relative to
/// `base`) and fills it up to the region's alignment padding (< 64 bytes).
fn assert_fills(what: &str, base: u64, bounds: &[u64], (addr, bytes): (usize, usize)) {
    let off = addr as u64 - base;
    let i = bounds.iter().position(|&b| b == off).unwrap_or_else(|| panic!("{what}: offset {off} is no region"));
    // Regions of zero bytes share their offset with the next one.
    let end = bounds[i..].iter().copied().find(|&b| b > off).unwrap_or(off);
    let reserved = end - off;
    assert!(bytes as u64 <= reserved, "{what}: carves {bytes} bytes of a {reserved}-byte reservation");
    assert!(reserved - (bytes as u64) < 64, "{what}: carves {bytes} bytes, {reserved} reserved");
}

fn span<T>(r: &Region<T>) -> (usize, usize) {
    (r.as_ptr() as usize, std::mem::size_of_val(r.as_slice()))
}

#[test]
fn arena_reserves_exactly_what_the_engine_carves() {
    let mut cache = ArenaCache::new();
    for sizing in sizings() {
        let p = cache.get_or_build(&sizing).unwrap();
        let l = p.layout;
        assert_eq!(l.geometry, Geometry::of(&sizing));
        let mem = memory_of(p);
        let params = RunParams { sizing, ..RunParams::default() };
        let (sh, tables) = build_run(&mem, &params);
        let (arena, sm) = (p.arena.base_addr(), p.sm.base_addr());
        let bounds = arena_bounds(&l);
        for (r, ring) in sh.rings.iter().enumerate() {
            let w = sizing.ring(r).window.slots();
            assert_eq!((ring.slots.len(), ring.window), (w, sizing.ring(r).window));
            // Shared memory: descriptors, payloads, slot states back to back.
            let s = &l.sm.rings[r];
            let sm_bounds =
                [s.descriptors, s.payloads, s.slot_states, s.slot_states + l.geometry.rings[r].slot_states.bytes()];
            assert_fills("descriptors", sm, &sm_bounds, span(&ring.descriptors));
            assert_fills("payloads", sm, &sm_bounds, span(&ring.payloads));
            assert_fills("slot states", sm, &sm_bounds, span(&ring.slots));
            let pool = &tables.fanin_pools[r];
            let spill = (pool.base() as usize, pool.capacity() as usize * size_of::<FaninSpillEntry>());
            assert_eq!(pool.capacity(), u64::from(sizing.ring(r).dep_pool.get()));
            assert_fills("fanin spill", arena, &bounds, spill);
            assert_fills("seen epoch", arena, &bounds, span(&tables.seen[r]));
            assert_fills("dep list", arena, &bounds, sh.wiring_state.lock().unwrap().dep_pools[r].span());
        }
        assert_eq!(tables.scope_tasks.len(), sizing.total_window());
        assert_fills("scope_tasks", arena, &bounds, span(&tables.scope_tasks));
        for (i, t) in tables.tensormap.spans().into_iter().enumerate() {
            assert_fills(&format!("tensormap table {i}"), arena, &bounds, t);
        }
        // The SM ring arrays the SM layout sizes are the geometry's tables.
        assert_eq!(l.sm, SmLayout::compute(sizing.rings().map(|r| r.window.to_u64())).unwrap());
    }
}

#[test]
fn element_sizes_are_the_engine_types() {
    let g = Geometry::of(&RingSizing::default());
    let r = &g.rings[0];
    assert_eq!((r.descriptors.elem, r.payloads.elem, r.slot_states.elem), (40, 4800, 64));
    assert_eq!((r.fanin_spill.elem, r.fanin_seen_epoch.elem, r.task_entry_heads.elem, r.dep_list.elem), (8, 4, 8, 16));
    assert_eq!((g.tm_entries.elem, g.ready_queue.elem, g.wiring.elem), (128, 16, 8));
    assert_eq!(g.scope_tasks.count, 4 * 16384);
}

#[test]
fn owned_memory_is_zeroed_and_aligned() {
    let sizing = RingSizing::from_values([4, 8, 16, 32], [1024, 2048, 4096, 8192], [4, 4, 4, 4]).unwrap();
    let m = TrbMemory::owned(&sizing);
    for r in 0..4 {
        assert_eq!(m.rings[r].heap as usize % 1024, 0);
        assert_eq!(m.rings[r].payloads as usize % 64, 0);
        // SAFETY: the owned memory holds `window` zeroed slot states.
        let s = unsafe { &*m.rings[r].slot_states };
        assert_eq!(s.state(), task_state::PENDING);
    }
    assert_eq!(Geometry::of(&sizing).scope_tasks.count, 60);
}
