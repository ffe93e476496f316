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
    /// When the last run ended (`None` before the first).
    last_end: Option<Instant>,
    /// The thread waits for a run end with no deadline (every run so far
    /// is trimmed): only then does `run_ended` wake it. While it waits for
    /// an idle deadline it re-reads `last_end` when the deadline passes, so
    /// a run end costs no wakeup of this thread.
    sleeping: bool,
    /// Stop for good (device dropped or poisoned).
    stop: bool,
    /// Idle trims done (tests).
    trims: u64,
    /// Times the thread was woken by `run_ended` (tests).
    woken: u64,
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
        st.last_end = Some(Instant::now());
        let wake = st.sleeping;
        drop(st);
        if self.thread.is_none() {
            let (shared, arenas) = (self.shared.clone(), arenas.clone());
            match std::thread::Builder::new().name("trb-idle-trim".into()).spawn(move || trim_loop(&shared, &arenas)) {
                Ok(h) => self.thread = Some(h),
                // Best effort: without the thread nothing is trimmed when idle.
                Err(e) => crate::diagnostics::log::warn("arena", &format!("cannot start the idle trimmer: {e}")),
            }
        }
        if wake {
            self.shared.state().woken += 1;
            self.shared.cv.notify_one();
        }
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
            st.sleeping = true;
            st = shared.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            st.sleeping = false;
            continue;
        }
        // Wait until IDLE_TRIM_AFTER passed since the last run end (a later
        // run end moves the deadline; it is re-read after each wait).
        let seen = st.runs;
        let deadline = st.last_end.unwrap_or_else(Instant::now) + IDLE_TRIM_AFTER;
        let now = Instant::now();
        if now < deadline {
            st = shared.cv.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
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
    fn run_ends_during_the_idle_wait_move_the_deadline_without_waking_the_thread() {
        let arenas: SharedArenas = Arc::new(Mutex::new(ArenaCache::new()));
        let mut idle = IdleTrimmer::default();
        idle.run_ended(&arenas);
        // Runs keep ending for twice the idle period: no trim, and the
        // thread (waiting for the deadline) is never woken for them.
        let start = Instant::now();
        while start.elapsed() < IDLE_TRIM_AFTER * 2 {
            idle.run_ended(&arenas);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(idle.trims(), 0, "runs ended within every idle period");
        assert_eq!(idle.shared.state().woken, 0, "no wakeup while the thread waits for a deadline");
        assert!(eventually(|| idle.trims() == 1), "one trim once the runs stop");
        // Now it sleeps without a deadline: the next run end wakes it.
        idle.run_ended(&arenas);
        assert_eq!(idle.shared.state().woken, 1);
        assert!(eventually(|| idle.trims() == 2));
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
