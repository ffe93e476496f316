//! The prebuilt shared memory, GM heap and runtime arena for the most recent
//! sizing key.
//!
//! Upstream's sim keeps three pooled, 1024-aligned buffers per device and
//! regrows them on demand (upstream c68d9bbe6, sim platform). Here the three buffers
//! are lazily committed [`Region`]s built for one [`RingSizing`]: runs with
//! the same key reuse them, a different key replaces them, and at most one
//! set is alive at a time, so memory stays flat across runs.

use super::layout::ArenaLayout;
use super::residency::{ArenaRegions, Residency};
#[cfg(test)]
use super::shared_memory::SmHeader;
use crate::config::RingSizing;
use crate::device::region::Region;
use crate::diagnostics::{Error, Result};

/// The three device regions of one layout.
#[derive(Debug)]
pub struct PreparedArena {
    /// The layout the regions were sized for.
    pub layout: ArenaLayout,
    /// Shared memory (`layout.sm.total_size` bytes; header at offset 0).
    pub sm: Region,
    /// GM heap (`layout.total_heap` bytes; ring r at `heap_offset(r)`).
    pub heap: Region,
    /// Runtime arena (`layout.offsets.arena_size` bytes).
    pub arena: Region,
    /// Hot payloads (`layout.hot_size` bytes; ring r at `layout.hot_payloads[r]`).
    pub hot: Region,
    /// What may be resident (see [`super::residency`]).
    pub residency: Residency,
}

impl PreparedArena {
    /// Maps the three regions for `layout` (lazily committed, all-zero).
    pub fn build(layout: ArenaLayout) -> Result<PreparedArena> {
        let size = |v: u64, what: &str| -> Result<usize> {
            usize::try_from(v)
                .map_err(|_| Error::DeviceMemory(format!("{what} of {v} bytes exceeds the address space")))
        };
        let sm = Region::new(size(layout.sm.total_size, "shared memory")?)?;
        let heap = Region::new(size(layout.total_heap, "GM heap")?)?;
        let arena = Region::new(size(layout.offsets.arena_size, "runtime arena")?)?;
        let hot = Region::new(size(layout.hot_size, "hot payloads")?)?;
        Ok(PreparedArena { layout, sm, heap, arena, hot, residency: Residency::default() })
    }

    /// Gives back what the run that just finished does not need
    /// ([`Residency::after_run`]). Must be called only after a run, when no
    /// thread touches the regions.
    pub fn after_run(&mut self, total_tasks: u64) {
        let m =
            ArenaRegions { layout: &self.layout, sm: &self.sm, heap: &self.heap, arena: &self.arena, hot: &self.hot };
        self.residency.after_run(m, total_tasks);
    }

    /// Gives back what no run needs after an idle period
    /// ([`Residency::after_idle`]); same contract as `after_run`.
    pub fn after_idle(&mut self) {
        let m =
            ArenaRegions { layout: &self.layout, sm: &self.sm, heap: &self.heap, arena: &self.arena, hot: &self.hot };
        self.residency.after_idle(m);
    }

    /// Records a run that ended without a task count
    /// ([`Residency::after_unknown_run`]).
    pub fn after_unknown_run(&mut self) {
        self.residency.after_unknown_run(&self.layout);
    }

    /// The shared-memory header at the start of the SM region.
    ///
    /// The SM region is page aligned and at least `SM_HEADER_SIZE` bytes, and
    /// the header consists only of atomics and padding, so any bytes are a
    /// valid header; shared references to it may coexist.
    #[cfg(test)]
    pub fn sm_header(&self) -> &SmHeader {
        const { assert!(crate::device::region::REGION_BASE_ALIGN >= std::mem::align_of::<SmHeader>()) };
        assert!(self.sm.len() >= std::mem::size_of::<SmHeader>());
        // SAFETY: the region is at least one header long (asserted above; the
        // SM layout always includes the 896-byte header) and its base is
        // page-aligned (≥ 64). The header contains only atomics (interior
        // mutability) and padding, valid for any bit pattern. Mutable views
        // of these bytes via `Region::slice_mut` are excluded by that
        // function's contract. The reference borrows `self`, so it cannot
        // outlive the mapping.
        unsafe { &*self.sm.as_ptr().cast::<SmHeader>() }
    }
}

/// Cache of the [`PreparedArena`] for the most recent sizing key.
#[derive(Debug, Default)]
pub struct ArenaCache {
    current: Option<PreparedArena>,
    builds: u64,
}

impl ArenaCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the prepared arena for `key`, building it if the cached one
    /// was built for a different key (or none is cached). The previous arena
    /// is released before the new one is mapped, so at most one set of
    /// regions exists. On error the cache is left empty.
    pub fn get_or_build(&mut self, key: &RingSizing) -> Result<&mut PreparedArena> {
        let hit = matches!(&self.current, Some(p) if p.layout.sizing == *key);
        if !hit {
            // Lay out before dropping the cached arena: a layout that cannot
            // be computed must not cost the next run a rebuild.
            let layout = ArenaLayout::compute(key)?;
            self.current = None;
            self.current = Some(PreparedArena::build(layout)?);
            self.builds += 1;
        }
        self.current.as_mut().ok_or_else(|| Error::State("arena cache is empty after a build".to_string()))
    }

    /// Gives back what the run that just finished on the cached arena does
    /// not need ([`PreparedArena::after_run`]); nothing when none is cached.
    pub fn after_run(&mut self, total_tasks: u64) {
        if let Some(p) = self.current.as_mut() {
            p.after_run(total_tasks);
        }
    }

    /// [`PreparedArena::after_idle`] on the cached arena, if any.
    pub fn after_idle(&mut self) {
        if let Some(p) = self.current.as_mut() {
            p.after_idle();
        }
    }

    /// [`PreparedArena::after_unknown_run`] on the cached arena, if any.
    pub fn after_unknown_run(&mut self) {
        if let Some(p) = self.current.as_mut() {
            p.after_unknown_run();
        }
    }

    /// The cached arena, if any.
    #[cfg(test)]
    pub fn current(&self) -> Option<&PreparedArena> {
        self.current.as_ref()
    }

    /// How many arenas have been built (for tests and diagnostics).
    pub fn builds(&self) -> u64 {
        self.builds
    }

    /// Drops the cached arena (its regions are unmapped).
    #[cfg(test)]
    pub fn clear(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::region::{page_size, resident_bytes};
    use crate::runtime::trb::arena::shared_memory::SM_TASK_PAYLOAD_BYTES;
    use std::sync::atomic::Ordering;

    fn small_key(w: u64) -> RingSizing {
        RingSizing::uniform(w, 4096, 16).unwrap()
    }

    #[test]
    fn same_key_is_built_once() {
        let mut cache = ArenaCache::new();
        let key = small_key(16);
        let base = cache.get_or_build(&key).unwrap().arena.base_addr();
        for _ in 0..5 {
            let p = cache.get_or_build(&key).unwrap();
            assert_eq!(p.arena.base_addr(), base);
            assert_eq!(p.layout.sizing, key);
        }
        assert_eq!(cache.builds(), 1);
    }

    #[test]
    fn different_key_replaces_and_clear_empties() {
        let mut cache = ArenaCache::new();
        let a = small_key(16);
        let b = small_key(32);
        cache.get_or_build(&a).unwrap();
        let p = cache.get_or_build(&b).unwrap();
        assert_eq!(p.layout.sizing, b);
        assert_eq!(p.sm.len() as u64, p.layout.sm.total_size);
        assert_eq!(p.heap.len() as u64, 4 * 4096);
        assert_eq!(p.arena.len() as u64, p.layout.offsets.arena_size);
        assert_eq!(cache.builds(), 2);
        cache.get_or_build(&a).unwrap();
        assert_eq!(cache.builds(), 3);
        cache.clear();
        assert!(cache.current().is_none());
        cache.get_or_build(&a).unwrap();
        assert_eq!(cache.builds(), 4);
    }

    #[test]
    fn invalid_key_keeps_the_cached_arena() {
        let mut cache = ArenaCache::new();
        let good = small_key(16);
        cache.get_or_build(&good).unwrap();
        // An invalid sizing cannot be built at all, so it never reaches the cache.
        assert!(RingSizing::uniform(12, 4096, 16).is_err());
        assert_eq!(cache.current().unwrap().layout.sizing, good);
        cache.get_or_build(&good).unwrap();
        assert_eq!(cache.builds(), 1);
    }

    #[test]
    fn regions_are_aligned_and_header_is_usable() {
        let mut cache = ArenaCache::new();
        let p = cache.get_or_build(&small_key(64)).unwrap();
        for r in [&p.sm, &p.heap, &p.arena] {
            assert_eq!(r.base_addr() % 1024, 0);
        }
        let hdr = p.sm_header();
        hdr.reset(&p.layout.sm, p.layout.sizing.rings().map(|r| r.heap.get()), p.sm.len() as u64).unwrap();
        hdr.validate().unwrap();
        assert_eq!(
            hdr.rings[1].slot_states.load(Ordering::Relaxed),
            p.sm.base_addr() + p.layout.sm.rings[1].slot_states
        );
    }

    /// Builds the default arena, touches the SM header and the first payload
    /// of each ring plus the runtime state, and checks residency.
    fn build_default_and_touch(cache: &mut ArenaCache) -> &PreparedArena {
        let p = cache.get_or_build(&RingSizing::default()).unwrap();
        let hdr = p.sm_header();
        hdr.reset(&p.layout.sm, p.layout.sizing.rings().map(|r| r.heap.get()), p.sm.len() as u64).unwrap();
        for ring in p.layout.sm.rings {
            // SAFETY: the first payload of each ring is in bounds, 64-aligned
            // and has no other views.
            let payload =
                unsafe { p.sm.slice_mut::<u8>(ring.payloads as usize, SM_TASK_PAYLOAD_BYTES as usize) }.unwrap();
            payload.fill(0x5A);
        }
        let off = p.layout.offsets.off_runtime as usize;
        // SAFETY: the runtime state region is in bounds and has no other views.
        unsafe { p.arena.slice_mut::<u64>(off, 16) }.unwrap().fill(1);
        // SAFETY: first 4 KiB of the heap, no other views.
        unsafe { p.heap.slice_mut::<u8>(0, 4096) }.unwrap().fill(2);
        p
    }

    #[test]
    fn default_arena_commits_only_touched_pages() {
        let mut cache = ArenaCache::new();
        let p = build_default_and_touch(&mut cache);
        let total_len = p.sm.len() + p.heap.len() + p.arena.len();
        assert!(total_len > 1_300_000_000, "{total_len}");
        let resident =
            (p.sm.resident_pages().unwrap() + p.heap.resident_pages().unwrap() + p.arena.resident_pages().unwrap())
                * page_size();
        // Header + 4 payloads (≤ 2 pages each) + runtime + heap page.
        assert!(resident <= 16 * page_size().max(4096), "{resident} bytes resident");
    }

    const RSS_CHILD_ENV: &str = "SIMPLER_DEVICE_RSS_CHILD";

    /// Child half of `default_arena_keeps_rss_flat`: runs alone in a fresh
    /// process so other tests' allocations cannot disturb `/proc/self/statm`.
    #[test]
    #[ignore = "run by default_arena_keeps_rss_flat in a child process"]
    fn rss_child_default_arena() {
        let before = resident_bytes().unwrap();
        let mut cache = ArenaCache::new();
        build_default_and_touch(&mut cache);
        // A second run with the same key reuses the regions.
        build_default_and_touch(&mut cache);
        assert_eq!(cache.builds(), 1);
        let after = resident_bytes().unwrap();
        let growth = after.saturating_sub(before);
        assert!(growth < 64 << 20, "RSS grew by {growth} bytes");
        if std::env::var_os(RSS_CHILD_ENV).is_some() {
            println!("RSS_GROWTH={growth}");
        }
    }

    #[test]
    fn default_arena_keeps_rss_flat() {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "runtime::trb::arena::cache::tests::rss_child_default_arena",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(RSS_CHILD_ENV, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        // Make sure the child really ran the measurement (not 0 tests).
        assert!(stdout.contains("RSS_GROWTH="), "child output: {stdout}");
    }
}
