//! Progress of one host_build_graph orchestration call: the ops table ticks
//! it on every call, the watcher ([`super::watch`]) reads it and marks the
//! call abandoned when it stays silent too long.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Progress of one orchestration call, shared by its thread and the watcher.
#[derive(Debug, Default)]
pub struct Progress {
    /// Ops-table calls so far.
    calls: AtomicU64,
    /// Set when the watcher gave up on the call: every later op fails.
    abandoned: AtomicBool,
}

impl Progress {
    /// Records one ops-table call; false once the call was abandoned (the
    /// op must then do nothing and fail).
    pub fn tick(&self) -> bool {
        self.calls.fetch_add(1, Ordering::AcqRel);
        !self.abandoned.load(Ordering::Acquire)
    }

    /// Ops-table calls so far.
    pub(super) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Acquire)
    }

    /// Marks the call abandoned: every later op fails.
    pub(super) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
    }
}
