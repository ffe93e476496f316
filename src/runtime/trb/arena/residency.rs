//! Giving back the arena memory a finished run does not need.
//!
//! The three regions of a `PreparedArena` are lazily committed: a page
//! becomes resident when a run first touches it and stays resident until it
//! is released (`madvise(MADV_DONTNEED)`, after which it reads as zero again,
//! the state of a fresh arena). A first touch costs a page fault (a few µs on
//! a virtual machine, more than a whole small run), so pages a run is likely
//! to touch again are kept and only pages no recent run needs are released:
//!
//! - **Task rings** (descriptors, payloads and slot states in the shared
//!   memory; ring `r` uses slots `[0, min(tasks_r, W_r))` of each table, every
//!   run starting at task 0). After a run with `n` tasks in all, each ring
//!   keeps `max(WARM_SLOTS, min(n, W))` slots and releases the slots above
//!   that which earlier runs left resident. A repeated run therefore never
//!   faults again, and the first small run after a big one gives the big
//!   run's pages back. `n` bounds each ring's count from above, so no page
//!   the run used is released.
//! - **Spare tables** (GM heaps, TensorMap entries and free list, ready
//!   queues, dependency and fanin pools, scope tasks): their use is not
//!   bounded by the task count, so they are trimmed to a warm prefix
//!   (`WARM_HEAP_BYTES` per ring heap, `WARM_TABLE_BYTES` per table) after
//!   a small run (at most `WARM_SLOTS` tasks) that follows a bigger run, and
//!   after every `SPARE_TRIM_PERIOD`-th small run otherwise. Tables every
//!   run rewrites whole (TensorMap buckets and task-entry heads, fanin
//!   seen-epochs) are never released: that would fault them in again on
//!   every run.
//!
//! Every table is valid when all-zero (a fresh arena is), and each run
//! initializes what it reads, so releasing pages between runs never changes
//! a result. Releasing is best effort: a failed `madvise` is logged and the
//! pages stay resident.

use super::layout::ArenaLayout;
use super::RING_COUNT;
use crate::device::region::Region;

/// Task slots per ring kept resident below any run's need.
pub const WARM_SLOTS: usize = 256;
/// Bytes of each ring heap kept resident by a spare trim.
pub const WARM_HEAP_BYTES: u64 = 1 << 20;
/// Bytes of each spare arena table kept resident by a spare trim.
pub const WARM_TABLE_BYTES: u64 = 64 << 10;
/// Small runs between two spare trims when no bigger run came between (a
/// trim of the default sizing costs ~20 µs of system calls, ~0.1 µs a run).
pub const SPARE_TRIM_PERIOD: u32 = 256;

/// What of a `PreparedArena` may be resident, and the trim schedule.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Residency {
    /// Per ring: slots `[0, n)` of the ring tables may be resident.
    pub ring_slots: [usize; RING_COUNT],
    /// A run of more than [`WARM_SLOTS`] tasks ran since the last spare trim.
    pub big_since_trim: bool,
    /// Small runs since the last spare trim.
    pub small_since_trim: u32,
    /// Ring-table releases done (tests and diagnostics).
    pub ring_releases: u64,
    /// Spare trims done (tests and diagnostics).
    pub spare_trims: u64,
}

/// Releases bytes `[start, end)` of `region` (whole pages inside only).
fn release(region: &Region, what: &str, start: u64, end: u64) {
    if start >= end {
        return;
    }
    // Both bounds lie inside the region, whose length fits in usize.
    let (start, len) = (start as usize, (end - start) as usize);
    // SAFETY: called only between runs (`Residency::after_run`), when no
    // thread holds a view of or accesses the arena's memory; every table is
    // valid all-zero, which is what the released pages read as.
    if let Err(e) = unsafe { region.release_pages(start, len) } {
        crate::diagnostics::log::warn("arena", &format!("cannot release {what} pages: {e}"));
    }
}

/// The regions of one arena and their layout.
#[derive(Clone, Copy)]
pub struct ArenaRegions<'a> {
    /// The layout the regions were built for.
    pub layout: &'a ArenaLayout,
    /// Shared memory.
    pub sm: &'a Region,
    /// GM heap.
    pub heap: &'a Region,
    /// Runtime arena.
    pub arena: &'a Region,
    /// Hot payloads.
    pub hot: &'a Region,
}

impl Residency {
    /// Gives back what the run that just finished on `m` does not need,
    /// given its task count (`Σ current_task_index` over the rings); see the
    /// module docs for the policy.
    ///
    /// Must be called only after a run, when no thread touches the regions
    /// (a run that abandoned a thread must not call it).
    pub fn after_run(&mut self, m: ArenaRegions<'_>, total_tasks: u64) {
        let n = usize::try_from(total_tasks).unwrap_or(usize::MAX);
        self.release_rings(m, n);
        if n > WARM_SLOTS {
            self.big_since_trim = true;
            return;
        }
        self.small_since_trim += 1;
        if self.big_since_trim || self.small_since_trim >= SPARE_TRIM_PERIOD {
            self.trim_spare(m);
        }
    }

    /// Gives back what no run needs once the arena has been idle for a
    /// while: ring slots above [`WARM_SLOTS`] and, when a big run left them,
    /// the spare tables beyond their warm prefixes. The next big run faults
    /// its pages in again.
    ///
    /// Same contract as [`after_run`](Self::after_run): no thread touches
    /// the regions.
    pub fn after_idle(&mut self, m: ArenaRegions<'_>) {
        self.release_rings(m, 0);
        if self.big_since_trim {
            self.trim_spare(m);
        }
    }

    /// Releases ring slots above `max(WARM_SLOTS, min(n, W))` of each ring.
    fn release_rings(&mut self, m: ArenaRegions<'_>, n: usize) {
        let l = m.layout;
        for r in 0..RING_COUNT {
            let t = &l.geometry.rings[r];
            let window = t.slot_states.count;
            let used = n.min(window);
            let keep = used.max(WARM_SLOTS.min(window));
            let resident = self.ring_slots[r].max(used);
            if resident > keep {
                let s = &l.sm.rings[r];
                for (base, elem, what) in [
                    (s.descriptors, t.descriptors.elem, "task descriptor"),
                    (s.payloads, t.payloads.elem, "task payload"),
                    (s.slot_states, t.slot_states.elem, "slot state"),
                ] {
                    let elem = elem as u64;
                    release(m.sm, what, base + keep as u64 * elem, base + resident as u64 * elem);
                }
                // A run's locals below `n` use hot entries below `min(n, hot)`.
                let (hot, elem) = (t.hot_payloads.count, t.hot_payloads.elem as u64);
                let base = l.hot_payloads[r];
                let (keep, resident) = (keep.min(hot) as u64, resident.min(hot) as u64);
                release(m.hot, "hot payload", base + keep * elem, base + resident * elem);
                self.ring_releases += 1;
            }
            self.ring_slots[r] = resident.min(keep);
        }
    }

    /// Records that a run on an arena of `layout` ended without a task
    /// count (it failed before a report): every ring slot may be resident,
    /// so the next [`after_run`](Self::after_run) releases everything above
    /// what it needs, and the next small run trims the spare tables.
    pub fn after_unknown_run(&mut self, layout: &ArenaLayout) {
        let g = &layout.geometry;
        self.ring_slots = std::array::from_fn(|r| g.rings[r].slot_states.count);
        self.big_since_trim = true;
    }

    /// Trims the heaps and the spare arena tables to their warm prefixes.
    fn trim_spare(&mut self, m: ArenaRegions<'_>) {
        let l = m.layout;
        for r in 0..RING_COUNT {
            let (start, end) = (l.heap_offset(r), l.heap_offset(r + 1));
            release(m.heap, "GM heap", start + WARM_HEAP_BYTES.min(end - start), end);
        }
        let (g, o) = (&l.geometry, &l.offsets);
        let mut tables = vec![
            (o.orch.scope_tasks, g.scope_tasks.bytes()),
            (o.orch.tensormap_entries, g.tm_entries.bytes()),
            (o.orch.tensormap_free_list, g.tm_free_list.bytes()),
            (o.sched.dummy_ready_queue, g.ready_queue.bytes()),
        ];
        tables.extend(o.sched.ready_queues.iter().map(|&q| (q, g.ready_queue.bytes())));
        for r in 0..RING_COUNT {
            tables.push((o.orch.fanin_pool[r], g.rings[r].fanin_spill.bytes()));
            tables.push((o.sched.dep_pools[r], g.rings[r].dep_list.bytes()));
        }
        for (off, bytes) in tables {
            release(m.arena, "arena table", off + WARM_TABLE_BYTES.min(bytes), off + bytes);
        }
        self.big_since_trim = false;
        self.small_since_trim = 0;
        self.spare_trims += 1;
    }
}

#[cfg(test)]
#[path = "residency_tests.rs"]
mod tests;
