//! The state one aicpu_build_graph run shares between its builder thread,
//! its schedulers, the device-side API table and the watchdog.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::graph::Graph;
use crate::device::memory::DeviceMemory;
use crate::diagnostics::Error;

/// What the graph mutex guards.
pub(crate) struct Shared {
    /// The task array and scheduling state.
    pub g: Graph,
    /// The first failure of the run.
    pub failed: Option<Error>,
    /// Scheduler threads that exited.
    pub sched_exited: usize,
    /// The builder thread finished its call.
    pub builder_exited: bool,
}

/// One run's shared state (owned through an `Arc` by every thread of the
/// run, so an abandoned thread keeps it alive).
pub(crate) struct State {
    /// The graph mutex.
    pub shared: Mutex<Shared>,
    /// Signalled on every change of `shared`.
    pub cv: Condvar,
    /// Device memory of the context (`device_malloc` allocates from it).
    pub memory: Arc<DeviceMemory>,
    /// Live `device_malloc` allocations of the run (freed after it).
    pub allocations: Mutex<Vec<usize>>,
    /// Device-side API calls so far (builder progress for the watchdog).
    pub calls: AtomicU64,
    /// The watchdog gave up on the builder: every later API call fails.
    pub abandoned: AtomicBool,
    /// Whether schedulers pop while the builder builds (concurrent mode):
    /// only then does a graph change need to wake them.
    pub wake_on_build: bool,
}

impl State {
    pub(crate) fn new(g: Graph, memory: Arc<DeviceMemory>, wake_on_build: bool) -> State {
        State {
            shared: Mutex::new(Shared { g, failed: None, sched_exited: 0, builder_exited: false }),
            cv: Condvar::new(),
            memory,
            allocations: Mutex::new(Vec::new()),
            calls: AtomicU64::new(0),
            abandoned: AtomicBool::new(false),
            wake_on_build,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one API call; false once the builder was abandoned.
    pub(crate) fn tick(&self) -> bool {
        self.calls.fetch_add(1, Ordering::AcqRel);
        !self.abandoned.load(Ordering::Acquire)
    }
}

impl Shared {
    /// Records `e` unless the run already failed, and wakes every thread.
    pub(crate) fn fail(&mut self, e: Error, cv: &Condvar) {
        if self.failed.is_none() {
            crate::diagnostics::log::error("aicpu_build_graph", &e.to_string());
            self.failed = Some(e);
        }
        cv.notify_all();
    }
}
