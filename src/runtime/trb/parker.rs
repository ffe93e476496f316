//! The sleep/wake protocol of a run's scheduler threads, and the threads
//! of the run that have not been started yet.

use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Mutex;

/// Sleep/wake protocol for idle threads (a Dekker-style handshake over
/// `std::thread::park`).
///
/// # Fields
/// * `sleeping`: the threads announced as (about to be) parked; the mutex
///   guards the list only.
/// * `count`: `sleeping.len()`, mirrored after every change under the mutex,
///   so a waker can skip the mutex when nobody sleeps (the common case).
/// * `dormant`: the run's scheduler threads not started yet, each as the
///   call that starts it; `dormant_count` mirrors its length like `count`.
///
/// # Protocol
/// Sleeper: `announce_as` (push itself, store `count`), `fence(SeqCst)`,
/// re-check for work, `park_timeout` only if there is none, `retract_as`.
/// Waker: publish the work (queue push), then `wake_one`: `fence(SeqCst)`,
/// load `count`; if non-zero, pop one sleeper under the mutex and unpark it.
///
/// # Why no wakeup is lost
/// The two sides are the store-buffer pattern: the sleeper stores `count`
/// then loads the work, the waker stores the work then loads `count`, each
/// with a `SeqCst` fence between. The fences are totally ordered, so at least
/// one side sees the other's store: either the sleeper finds the work and
/// does not park, or the waker finds `count > 0` and unparks a sleeper. An
/// `unpark` that lands before the `park` leaves the thread's token set and
/// the `park` returns at once. `wake_one` may pick a thread other than the
/// one that announced last; any awake thread finds the work. The park
/// timeout (1 ms in the scheduler loop) bounds any remaining gap and drives
/// the watchdog checks.
///
/// # Spinning threads
/// `spinning` counts the idle threads that are looking for work without
/// being parked. While one spins, `wake_one` wakes nobody: the spinner finds
/// the work (no futex call on the pusher's path). A spinner stops spinning
/// either because it found work (`stop_spinning`; if more work is left it
/// then wakes another thread itself) or to park, in which case it
/// `announce_as`s first, then `stop_spinning`, then fences and re-checks for
/// work. All of it is `SeqCst`, so a waker that reads `spinning > 0` counted
/// a spinner whose decrement it did not see; that spinner's fence comes after
/// the waker's, so its re-check sees the work. A waker that reads 0 after a
/// spinner's decrement also sees the `count` that spinner stored before.
///
/// # Dormant threads
/// A run's scheduler threads are handed to the Parker as dormant
/// ([`Parker::set_dormant`]). `wake_one` starts one when no parked thread is
/// left to wake, so a run only starts the threads its parallelism needs (a
/// small run on a busy host saves a thread wakeup and its context switches
/// each). Starting one is a wakeup like an unpark: the new thread looks for
/// work first, and it was started after the work was published (the start
/// call orders the two), so it finds it. It begins counted as a spinner, so
/// it looks for tasks to steal from the start instead of going to sleep.
/// The engine takes back the ones never started when the run is over
/// ([`Parker::take_dormant`]).
///
/// # Start budget
/// `starts_left` bounds how many dormant threads `wake_one` may start
/// ([`Parker::cap_starts`]): when the run has more threads than the host
/// has CPUs, the engine caps it at CPUs - 1 while the orchestrator runs,
/// so that the started schedulers and the orchestrator fit on the CPUs
/// (a thread started beyond that can only run by taking the orchestrator's
/// CPU, and its wakeups and spins are paid on the submit path). A thread
/// started once the cap is lifted steals the tasks the running threads
/// hold, so none waits behind a long task. The orchestrator lifts the cap
/// ([`Parker::lift_start_cap`]) once it stops using its CPU: at the end of
/// the orchestration and when it waits for tasks to finish (on a full
/// wiring queue only once the wait has lasted a grace, see
/// `Orchestrator::publish_full`). The budget is read and spent under the
/// `dormant` mutex.
pub(crate) struct Parker {
    sleeping: Mutex<Vec<std::thread::Thread>>,
    count: AtomicUsize,
    spinning: AtomicUsize,
    dormant: Mutex<Vec<DormantStart>>,
    dormant_count: AtomicUsize,
    starts_left: AtomicUsize,
}

/// Starts one dormant scheduler thread of the run.
pub(crate) type DormantStart = Box<dyn FnOnce() + Send>;

impl Default for Parker {
    fn default() -> Self {
        Parker {
            sleeping: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            spinning: AtomicUsize::new(0),
            dormant: Mutex::new(Vec::new()),
            dormant_count: AtomicUsize::new(0),
            starts_left: AtomicUsize::new(usize::MAX),
        }
    }
}

impl Parker {
    /// Registers the current thread as sleeping (tests; the scheduler loop
    /// keeps its handle and calls `announce_as`).
    #[cfg(test)]
    pub(crate) fn announce(&self) {
        self.announce_as(&std::thread::current());
    }

    /// Registers `me`, the calling thread's handle (kept by a thread that
    /// parks often, saving the handle lookup), as sleeping.
    pub(crate) fn announce_as(&self, me: &std::thread::Thread) {
        let mut v = self.sleeping.lock().unwrap_or_else(|e| e.into_inner());
        v.push(me.clone());
        self.count.store(v.len(), SeqCst);
    }

    /// Deregisters the current thread (tests).
    #[cfg(test)]
    pub(crate) fn retract(&self) {
        self.retract_as(&std::thread::current());
    }

    /// Deregisters `me`, the calling thread's handle.
    pub(crate) fn retract_as(&self, me: &std::thread::Thread) {
        let id = me.id();
        let mut v = self.sleeping.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = v.iter().position(|t| t.id() == id) {
            v.swap_remove(i);
        }
        self.count.store(v.len(), SeqCst);
    }

    /// Counts the current thread as spinning unless `limit` threads spin
    /// already; true when it was counted (it must `stop_spinning` later).
    pub(crate) fn start_spinning(&self, limit: usize) -> bool {
        if self.spinning.load(SeqCst) >= limit {
            return false;
        }
        self.spinning.fetch_add(1, SeqCst);
        true
    }

    /// Ends the current thread's spin (after `start_spinning` returned true).
    pub(crate) fn stop_spinning(&self) {
        self.spinning.fetch_sub(1, SeqCst);
    }

    /// Whether [`wake_one`](Self::wake_one) would wake or start a thread:
    /// nobody spins, and a thread sleeps or a dormant one may start (a
    /// relaxed hint, for a thread holding tasks others could steal; a
    /// sleeper it misses finds them at its park timeout).
    #[inline]
    pub(crate) fn wakeable(&self) -> bool {
        self.spinning.load(Relaxed) == 0 && self.could_wake()
    }

    /// Whether a thread sleeps or a dormant one may start (a relaxed hint
    /// that, unlike [`wakeable`](Self::wakeable), ignores spinners: for a
    /// caller that then lets [`wake_one`](Self::wake_one) decide with its
    /// fence whether a spinner will find the work).
    #[inline]
    pub(crate) fn could_wake(&self) -> bool {
        self.count.load(Relaxed) > 0 || (self.dormant_count.load(Relaxed) > 0 && self.starts_left.load(Relaxed) > 0)
    }

    /// Wakes one sleeper, if any and nobody spins; with no sleeper, starts
    /// a dormant thread, if any.
    pub(crate) fn wake_one(&self) {
        std::sync::atomic::fence(SeqCst);
        if self.spinning.load(SeqCst) > 0 {
            return;
        }
        if self.count.load(SeqCst) > 0 {
            let mut v = self.sleeping.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(t) = v.pop() {
                self.count.store(v.len(), SeqCst);
                t.unpark();
                return;
            }
        }
        // A spent start budget skips the mutex (it is only raised by
        // `lift_start_cap`, whose caller wakes a thread after it).
        if self.dormant_count.load(SeqCst) > 0 && self.starts_left.load(SeqCst) > 0 {
            let start = {
                let mut d = self.dormant.lock().unwrap_or_else(|e| e.into_inner());
                let left = self.starts_left.load(SeqCst);
                let start = if left > 0 { d.pop() } else { None };
                if start.is_some() && left != usize::MAX {
                    self.starts_left.store(left - 1, SeqCst);
                }
                self.dormant_count.store(d.len(), SeqCst);
                start
            };
            if let Some(start) = start {
                // The new thread begins as a counted spinner (see
                // `set_dormant`).
                self.spinning.fetch_add(1, SeqCst);
                start();
            }
        }
    }

    /// Caps the dormant threads `wake_one` may start at `n` (see the start
    /// budget above); [`lift_start_cap`](Self::lift_start_cap) removes it.
    pub(crate) fn cap_starts(&self, n: usize) {
        let _d = self.dormant.lock().unwrap_or_else(|e| e.into_inner());
        self.starts_left.store(n, SeqCst);
    }

    /// Whether the start cap holds: the started threads and the
    /// orchestrator fit on the host's CPUs.
    #[inline]
    pub(crate) fn capped(&self) -> bool {
        self.starts_left.load(Relaxed) != usize::MAX
    }

    /// Removes the start cap; true when there was one (the caller then
    /// wakes a thread for the work that found the budget spent).
    pub(crate) fn lift_start_cap(&self) -> bool {
        if self.starts_left.load(Relaxed) == usize::MAX {
            return false;
        }
        let _d = self.dormant.lock().unwrap_or_else(|e| e.into_inner());
        self.starts_left.swap(usize::MAX, SeqCst) != usize::MAX
    }

    /// Hands the run's not yet started threads to the Parker (started last
    /// first: give them in reverse order of preference). `wake_one` counts
    /// a thread it starts as spinning before the start call: the thread
    /// must begin its loop as a spinner (it `stop_spinning`s when it finds
    /// work or before it parks, or when its start failed), so from its start
    /// on it is idle to every other thread, which then shares its work.
    pub(crate) fn set_dormant(&self, starts: Vec<DormantStart>) {
        let mut d = self.dormant.lock().unwrap_or_else(|e| e.into_inner());
        *d = starts;
        self.dormant_count.store(d.len(), SeqCst);
    }

    /// Takes back the threads never started (the run is over: nobody calls
    /// `wake_one` any more).
    pub(crate) fn take_dormant(&self) -> Vec<DormantStart> {
        let mut d = self.dormant.lock().unwrap_or_else(|e| e.into_inner());
        self.dormant_count.store(0, SeqCst);
        std::mem::take(&mut *d)
    }

    /// Wakes every sleeper.
    pub(crate) fn wake_all(&self) {
        let mut v = self.sleeping.lock().unwrap_or_else(|e| e.into_inner());
        for t in v.drain(..) {
            t.unpark();
        }
        self.count.store(0, SeqCst);
    }
}

#[cfg(test)]
#[path = "parker_tests.rs"]
mod parker_tests;
