//! The one wait primitive of the runtimes: a [`Backoff`] ladder (spin, then
//! yield, then sleep) carrying a [`StallClock`] that says how long the wait
//! has made no progress, so the deadlock and watchdog checks of a wait loop
//! read the same clock the loop backs off on.
//!
//! A wait loop looks like
//!
//! ```text
//! let mut b = Backoff::new(Ladder::SPIN_THEN_YIELD);
//! loop {
//!     if condition() { break; }
//!     if progress() { b.reset(); }
//!     if b.check_due(CHECK) && b.stalled_for() > LIMIT { fail(); }
//!     b.snooze();
//! }
//! ```
//!
//! Neither type reads the clock until it is asked to: a wait whose condition
//! holds at once costs no system call.

use std::time::{Duration, Instant};

/// How long a wait has made no progress. The clock starts at the first
/// [`StallClock::elapsed`] (or [`StallClock::start`]) and restarts at the
/// first reading after a [`StallClock::reset`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StallClock {
    since: Option<Instant>,
}

impl StallClock {
    /// A clock that has not started yet.
    pub(crate) const fn new() -> StallClock {
        StallClock { since: None }
    }

    /// A clock started now.
    pub(crate) fn started() -> StallClock {
        StallClock { since: Some(Instant::now()) }
    }

    /// Starts the clock unless it runs already.
    pub(crate) fn start(&mut self) {
        self.since.get_or_insert_with(Instant::now);
    }

    /// Progress was made: the next reading starts a new stall.
    pub(crate) fn reset(&mut self) {
        self.since = None;
    }

    /// Progress was made: a new stall starts now.
    pub(crate) fn restart(&mut self) {
        self.since = Some(Instant::now());
    }

    /// How long the current stall lasts (starting the clock if needed, in
    /// which case this is zero).
    pub(crate) fn elapsed(&mut self) -> Duration {
        match self.since {
            Some(since) => since.elapsed(),
            None => {
                self.since = Some(Instant::now());
                Duration::ZERO
            }
        }
    }
}

/// The shape of a backoff: `spins` busy-wait steps, then `yields` steps that
/// yield the CPU, then every step sleeps `sleep` (a zero `sleep` keeps
/// yielding). With `cycle` set the ladder starts over after the yield steps
/// instead of sleeping (a spinning idle loop that yields now and then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ladder {
    /// Busy-wait steps (`std::hint::spin_loop`).
    pub(crate) spins: u32,
    /// Then this many `std::thread::yield_now` steps.
    pub(crate) yields: u32,
    /// Then sleep this long per step (zero: yield).
    pub(crate) sleep: Duration,
    /// Start over after the yields (never sleep).
    pub(crate) cycle: bool,
}

impl Ladder {
    /// Yield at every step: waits whose progress needs another thread to run
    /// (the orchestrator waiting for the schedulers).
    pub(crate) const YIELD: Ladder = Ladder { spins: 0, yields: u32::MAX, sleep: Duration::ZERO, cycle: false };

    /// 63 busy steps, then yield: short waits for another thread's release
    /// of a core or a ring slot.
    pub(crate) const SPIN_THEN_YIELD: Ladder =
        Ladder { spins: 63, yields: u32::MAX, sleep: Duration::ZERO, cycle: false };

    /// 63 busy steps then one yield, repeated: the idle spin of a scheduler
    /// thread before it parks.
    pub(crate) const IDLE_SPIN: Ladder = Ladder { spins: 63, yields: 1, sleep: Duration::ZERO, cycle: true };

    /// 7 busy steps then one yield, repeated: a thread polling for its next
    /// job or the caller polling for a run's end (`engine/linger.rs`). Such
    /// a poller usually shares the CPUs with the threads that do the work
    /// it waits for, so it yields often: medians of 8 invocations of 2000
    /// vector-example runs, 44.4 us per run with 7 spins per yield against
    /// 62.6 with 63 (the idle spin), 44.7 yielding at every step, 1054 never
    /// yielding.
    pub(crate) const LINGER: Ladder = Ladder { spins: 7, yields: 1, sleep: Duration::ZERO, cycle: true };

    /// 255 busy steps, 3840 yields, then 20 µs sleeps: a dispatching thread
    /// waiting for the gang helpers running the other lanes.
    pub(crate) const GANG: Ladder = Ladder { spins: 255, yields: 3840, sleep: Duration::from_micros(20), cycle: false };

    /// 31 busy steps, 992 yields, then 50 µs sleeps: the orchestration
    /// waiting for a producer task (`get_tensor_data` / `set_tensor_data`).
    pub(crate) const TENSOR_DATA: Ladder =
        Ladder { spins: 31, yields: 992, sleep: Duration::from_micros(50), cycle: false };
}

/// A wait in progress: where it stands on its [`Ladder`] and its
/// [`StallClock`] (started by the first [`Backoff::snooze`] or
/// [`Backoff::stalled_for`]).
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    ladder: Ladder,
    /// Snoozes since the start or the last reset.
    step: u64,
    /// Position on the ladder (differs from `step` for cycling ladders).
    rung: u64,
    /// The last snooze yielded or slept (see [`check_due`](Self::check_due)).
    blocking: bool,
    clock: StallClock,
}

impl Backoff {
    /// A wait that has not backed off yet.
    pub(crate) const fn new(ladder: Ladder) -> Backoff {
        Backoff { ladder, step: 0, rung: 0, blocking: false, clock: StallClock::new() }
    }

    /// Waits one step: spin, yield or sleep depending on the position.
    #[inline]
    pub(crate) fn snooze(&mut self) {
        if self.step == 0 {
            self.clock.start();
        }
        self.step += 1;
        self.rung += 1;
        let l = &self.ladder;
        let spins = u64::from(l.spins);
        self.blocking = self.rung > spins;
        if self.rung <= spins {
            std::hint::spin_loop();
        } else if self.rung <= spins + u64::from(l.yields) || l.sleep.is_zero() {
            if l.cycle && self.rung >= spins + u64::from(l.yields) {
                self.rung = 0;
            }
            std::thread::yield_now();
        } else {
            std::thread::sleep(l.sleep);
        }
    }

    /// Progress was made: back to the bottom of the ladder, and the stall
    /// clock starts again at the next snooze.
    pub(crate) fn reset(&mut self) {
        self.step = 0;
        self.rung = 0;
        self.blocking = false;
        self.clock.reset();
    }

    /// Progress was made but the wait goes on at its current rung: only the
    /// stall clock starts again (at the next snooze or reading).
    pub(crate) fn progressed(&mut self) {
        self.clock.reset();
    }

    /// Snoozes since the start or the last reset (for periodic checks).
    pub(crate) fn step(&self) -> u64 {
        self.step
    }

    /// Whether a wait loop's periodic check (its clock, its fatal and
    /// deadlock checks) is due: every `every` snoozes, and after every
    /// snooze that yielded or slept. A yield behind a CPU-bound thread can
    /// take a whole time slice (milliseconds), so counting snoozes alone
    /// stretched a 500 ms deadlock limit to seconds on a loaded 2-CPU machine
    /// (1024 yields: the window wait of `blocked_window_without_progress_times_out_code_3`
    /// outlasted the 800 ms task it waited on, in 10 of 20 test runs beside
    /// a busy loop), while a clock reading costs little beside the system call.
    pub(crate) fn check_due(&self, every: u64) -> bool {
        self.step % every == 0 || self.blocking
    }

    /// How long the wait has made no progress: since the first snooze or
    /// reading after the start or the last reset (a first reading starts the
    /// clock and is zero).
    pub(crate) fn stalled_for(&mut self) -> Duration {
        self.clock.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_starts_at_the_first_snooze() {
        let mut b = Backoff::new(Ladder::SPIN_THEN_YIELD);
        assert_eq!(b.step(), 0);
        std::thread::sleep(Duration::from_millis(2));
        b.snooze();
        assert_eq!(b.step(), 1);
        assert!(b.stalled_for() < Duration::from_millis(2_000));
        std::thread::sleep(Duration::from_millis(2));
        assert!(b.stalled_for() >= Duration::from_millis(2));
    }

    #[test]
    fn first_reading_starts_the_clock_at_zero() {
        let mut b = Backoff::new(Ladder::YIELD);
        assert_eq!(b.stalled_for(), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        assert!(b.stalled_for() >= Duration::from_millis(2));
    }

    #[test]
    fn reset_restarts_steps_and_clock() {
        let mut b = Backoff::new(Ladder::YIELD);
        for _ in 0..5 {
            b.snooze();
        }
        std::thread::sleep(Duration::from_millis(2));
        assert!(b.stalled_for() >= Duration::from_millis(2));
        b.reset();
        assert_eq!(b.step(), 0);
        assert_eq!(b.stalled_for(), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        b.snooze();
        assert!(b.stalled_for() >= Duration::from_millis(2));
    }

    #[test]
    fn checks_are_due_every_n_spins_and_after_every_yield() {
        // `check_due(NEVER)` past step 0 says only whether the last snooze
        // yielded or slept.
        const NEVER: u64 = u64::MAX;
        let mut b = Backoff::new(Ladder::SPIN_THEN_YIELD);
        assert!(b.check_due(1024), "step 0 is a multiple");
        for _ in 0..63 {
            b.snooze();
            assert!(!b.check_due(NEVER), "step {} spun", b.step());
            assert_eq!(b.check_due(8), b.step() % 8 == 0, "while spinning, every 8th step");
        }
        b.snooze();
        assert!(b.check_due(NEVER), "the 64th snooze yields");
        b.snooze();
        assert!(b.check_due(NEVER));
        b.reset();
        b.snooze();
        assert!(!b.check_due(NEVER), "a reset goes back to spinning");
        let mut y = Backoff::new(Ladder::YIELD);
        y.snooze();
        assert!(y.check_due(NEVER), "a yield-only ladder never spins");
        let l = Ladder { spins: 1, yields: 0, sleep: Duration::from_micros(1), cycle: false };
        let mut s = Backoff::new(l);
        s.snooze();
        assert!(!s.check_due(NEVER));
        s.snooze();
        assert!(s.check_due(NEVER), "a sleep counts");
    }

    #[test]
    fn sleeping_rung_sleeps() {
        let l = Ladder { spins: 1, yields: 1, sleep: Duration::from_millis(1), cycle: false };
        let mut b = Backoff::new(l);
        b.snooze(); // spin
        b.snooze(); // yield
        let t = Instant::now();
        b.snooze(); // sleep
        b.snooze(); // sleep
        assert!(t.elapsed() >= Duration::from_millis(2));
    }

    #[test]
    fn cycling_ladder_never_sleeps() {
        let l = Ladder { spins: 1, yields: 1, sleep: Duration::from_secs(10), cycle: true };
        let mut b = Backoff::new(l);
        let t = Instant::now();
        for _ in 0..100 {
            b.snooze();
        }
        assert_eq!(b.step(), 100);
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn stall_clock_starts_on_first_reading() {
        let mut c = StallClock::new();
        assert_eq!(c.elapsed(), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        assert!(c.elapsed() >= Duration::from_millis(2));
        c.restart();
        assert!(c.elapsed() < Duration::from_millis(2_000));
        let mut s = StallClock::started();
        std::thread::sleep(Duration::from_millis(1));
        assert!(s.elapsed() >= Duration::from_millis(1));
    }
}
