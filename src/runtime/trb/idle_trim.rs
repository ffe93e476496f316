//! Giving back arena memory once a device has been idle for a while.
//!
//! After each run the arena keeps the ring pages that run touched, so a
//! repeated run of the same size never page-faults (see
//! `arena::residency`). A big run can leave tens of MiB resident that way
//! (16384 task payloads of 4800 B at the default window). When no run
//! follows within [`IDLE_TRIM_AFTER`], a helper thread releases everything
//! above the warm minimum ([`ArenaCache::after_idle`]).
//!
//! Exclusion: a run holds the cache's mutex from the arena lookup until its
//! `after_run`; the trimmer only `try_lock`s it, so it never touches memory
//! a run uses. A run that abandons a stuck thread stops the trimmer while it
//! still holds the mutex (the stuck thread may go on using the arena).

use super::arena::ArenaCache;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Idle time after the last run's end before its extra pages are released.
pub const IDLE_TRIM_AFTER: Duration = Duration::from_millis(200);

/// The arena cache as shared with the trimmer thread.
pub type SharedArenas = Arc<Mutex<ArenaCache>>;

/// Locks `arenas`, ignoring poisoning (the cache holds no invariant a
/// panicking holder could break halfway: every method leaves it valid).
pub fn lock(arenas: &SharedArenas) -> MutexGuard<'_, ArenaCache> {
    arenas.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct State {
    /// Runs ended so far.
    runs: u64,
    /// The `runs` value the last idle trim was done for.
    trimmed: u64,
    /// Stop for good (device dropped or poisoned).
    stop: bool,
    /// Idle trims done (tests).
    trims: u64,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The idle trimmer of one device: a thread started at the first run end.
#[derive(Default)]
pub struct IdleTrimmer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl IdleTrimmer {
    /// Records the end of a run on `arenas` (call after `after_run`, with or
    /// without the cache lock held); starts the thread on first use.
    pub fn run_ended(&mut self, arenas: &SharedArenas) {
        let mut st = self.shared.state();
        if st.stop {
            return;
        }
        st.runs += 1;
        drop(st);
        if self.thread.is_none() {
            let (shared, arenas) = (self.shared.clone(), arenas.clone());
            match std::thread::Builder::new().name("trb-idle-trim".into()).spawn(move || trim_loop(&shared, &arenas)) {
                Ok(h) => self.thread = Some(h),
                // Best effort: without the thread nothing is trimmed when idle.
                Err(e) => crate::diagnostics::log::warn("arena", &format!("cannot start the idle trimmer: {e}")),
            }
        }
        self.shared.cv.notify_one();
    }

    /// Stops the thread for good and waits for it (it never blocks on the
    /// cache: it only `try_lock`s it).
    pub fn stop(&mut self) {
        self.shared.state().stop = true;
        self.shared.cv.notify_one();
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }

    /// Idle trims done so far.
    #[cfg(test)]
    pub fn trims(&self) -> u64 {
        self.shared.state().trims
    }
}

impl Drop for IdleTrimmer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn trim_loop(shared: &Shared, arenas: &SharedArenas) {
    let mut st = shared.state();
    loop {
        if st.stop {
            return;
        }
        if st.runs == st.trimmed {
            st = shared.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        // Wait until IDLE_TRIM_AFTER passed with no new run end.
        let seen = st.runs;
        let deadline = Instant::now() + IDLE_TRIM_AFTER;
        while !st.stop && st.runs == seen {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = shared.cv.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        if st.stop || st.runs != seen {
            continue;
        }
        drop(st);
        // A run in progress holds the lock: skip, its end starts a new wait.
        let trimmed = match arenas.try_lock() {
            Ok(mut cache) => {
                cache.after_idle();
                true
            }
            Err(std::sync::TryLockError::Poisoned(e)) => {
                e.into_inner().after_idle();
                true
            }
            Err(std::sync::TryLockError::WouldBlock) => false,
        };
        st = shared.state();
        if st.runs == seen {
            st.trimmed = seen;
        }
        if trimmed {
            st.trims += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `f` every 10 ms for up to 5 s.
    fn eventually(f: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        f()
    }

    #[test]
    fn trims_once_per_idle_period_never_while_a_run_holds_the_cache() {
        let arenas: SharedArenas = Arc::new(Mutex::new(ArenaCache::new()));
        let mut idle = IdleTrimmer::default();
        idle.run_ended(&arenas);
        assert_eq!(idle.trims(), 0, "not before the idle period");
        assert!(eventually(|| idle.trims() == 1), "one trim after an idle period");
        std::thread::sleep(IDLE_TRIM_AFTER * 2);
        assert_eq!(idle.trims(), 1, "no further trim without a new run");

        // A "run" holding the cache: the trimmer skips.
        let held = lock(&arenas);
        idle.run_ended(&arenas);
        std::thread::sleep(IDLE_TRIM_AFTER * 3);
        assert_eq!(idle.trims(), 1, "no trim while the cache is held");
        drop(held);
        idle.run_ended(&arenas);
        assert!(eventually(|| idle.trims() == 2));

        idle.stop();
        idle.run_ended(&arenas);
        std::thread::sleep(IDLE_TRIM_AFTER * 2);
        assert_eq!(idle.trims(), 2, "a stopped trimmer never trims again");
    }
}
