//! How a persistent engine thread waits for its next job, and the caller
//! of a run for its end: they poll for a bounded, adaptive time before they
//! block.
//!
//! Why: on a virtual machine an idle vCPU halts, and waking a thread that
//! sleeps on a halted vCPU goes through the hypervisor. Measured on the
//! 2-vCPU machine of the README (a futex ping-pong between two threads,
//! `bench/peers/wake_latency.c`): 85 us per round trip (two wakeups) with
//! both vCPUs otherwise idle, 3.7 us with both kept busy. A run hands off
//! three times (caller -> orchestrator thread -> first scheduler -> caller),
//! so back-to-back small runs (the vector example, ChipWorker's loop) paid
//! ~40 us per handoff. A thread still polling when its job arrives takes it
//! without any wakeup, and keeps its vCPU from halting meanwhile.
//!
//! The budget adapts to the last gap this waiter saw (between a thread's
//! jobs; for the caller, the length of its last run): [`GAP_FACTOR`] times
//! that gap (so a steady stream of runs is caught every time), at
//! least a minimum (the engine's `idle_spin_us`) and at most
//! [`MAX_LINGER`]; a gap longer than the maximum (a process that runs
//! occasionally) drops the budget back to the minimum. So the polling costs
//! CPU only while runs arrive faster than every [`MAX_LINGER`], and at most
//! one budget after the last of them. Threads a run never started stay
//! blocked on their channels and poll nothing; a long run costs its caller
//! at most [`MAX_LINGER`] of polling (yielding every 8 polls), after which
//! it sleeps as before.

use crate::runtime::wait::{Backoff, Ladder};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

/// The longest a thread polls for its next job.
pub(super) const MAX_LINGER: Duration = Duration::from_micros(1000);

/// The budget is this many times the last gap: runs come at a steady pace
/// only roughly. Measured on the README's machine, vector example, medians
/// of 6 invocations of 2000 runs: twice the gap 62.8 us per run, four
/// times 60.8 us (the spreads were alike, about 1.3x).
const GAP_FACTOR: u32 = 4;

/// Polls between clock readings (a reading costs more than a poll).
const POLLS_PER_CLOCK: u64 = 64;

/// One thread's waiting state across jobs.
#[derive(Debug)]
pub(super) struct Linger {
    min: Duration,
    /// The gap between the last job's end and the arrival of the job after
    /// it (`None` before the second job, or after a gap past the maximum).
    last_gap: Option<Duration>,
}

impl Linger {
    /// A thread that polls at least `min` (at most [`MAX_LINGER`]).
    pub(super) fn new(min: Duration) -> Linger {
        Linger { min: min.min(MAX_LINGER), last_gap: None }
    }

    /// How long the next wait polls before it blocks.
    pub(super) fn budget(&self) -> Duration {
        match self.last_gap {
            Some(g) => (g * GAP_FACTOR).clamp(self.min, MAX_LINGER),
            None => self.min,
        }
    }

    /// Records the gap a wait measured (from the end of the previous job to
    /// the arrival of the next one).
    pub(super) fn record(&mut self, gap: Duration) {
        self.last_gap = (gap <= MAX_LINGER).then_some(gap);
    }

    /// Polls `ready` until it holds (true) or the budget is spent (false).
    pub(super) fn poll(&self, ready: impl FnMut() -> bool) -> bool {
        self.poll_with(&mut Backoff::new(Ladder::LINGER), ready)
    }

    /// [`poll`](Self::poll) on the caller's `backoff`, whose stall clock
    /// then tells how long the poll lasted (it starts at the first snooze:
    /// a `ready` that holds at once reads no clock).
    fn poll_with(&self, backoff: &mut Backoff, mut ready: impl FnMut() -> bool) -> bool {
        let budget = self.budget();
        loop {
            if ready() {
                return true;
            }
            if backoff.step() % POLLS_PER_CLOCK == POLLS_PER_CLOCK - 1 && backoff.stalled_for() >= budget {
                return false;
            }
            backoff.snooze();
        }
    }

    /// The next job from `rx`, polled for [`budget`](Self::budget) and then
    /// waited for; `None` once every sender is gone. Call it when the
    /// previous job is done: the gap is measured from the call (from the
    /// first failed poll, which follows it at once; a job already queued
    /// is a zero gap).
    pub(super) fn next<T>(&mut self, rx: &Receiver<T>) -> Option<T> {
        let mut backoff = Backoff::new(Ladder::LINGER);
        let mut polled = None;
        self.poll_with(&mut backoff, || match rx.try_recv() {
            Err(TryRecvError::Empty) => false,
            r => {
                polled = Some(r.ok());
                true
            }
        });
        let job = match polled {
            Some(job) => job?,
            None => rx.recv().ok()?,
        };
        let gap = if backoff.step() == 0 { Duration::ZERO } else { backoff.stalled_for() };
        self.record(gap);
        Some(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    const MIN: Duration = Duration::from_micros(50);

    #[test]
    fn the_budget_is_a_multiple_of_the_last_gap_within_its_bounds() {
        let mut l = Linger::new(MIN);
        assert_eq!(l.budget(), MIN, "no history: the minimum");
        l.record(Duration::from_micros(10));
        assert_eq!(l.budget(), MIN, "a short gap: still the minimum");
        l.record(Duration::from_micros(120));
        assert_eq!(l.budget(), Duration::from_micros(120) * GAP_FACTOR);
        l.record(Duration::from_micros(900));
        assert_eq!(l.budget(), MAX_LINGER, "capped");
        l.record(Duration::from_millis(5));
        assert_eq!(l.budget(), MIN, "a long gap forgets the stream");
        assert_eq!(Linger::new(Duration::from_secs(1)).budget(), MAX_LINGER, "the minimum is capped too");
    }

    #[test]
    fn a_queued_job_is_taken_and_a_closed_channel_ends_the_wait() {
        let (tx, rx) = mpsc::channel();
        let mut l = Linger::new(MIN);
        tx.send(7u32).unwrap();
        assert_eq!(l.next(&rx), Some(7));
        drop(tx);
        assert_eq!(l.next(&rx), None);
    }

    #[test]
    fn a_job_sent_after_the_budget_is_still_received() {
        // The poll gives up after its budget and blocks: the job that comes
        // later is received, and the long gap is recorded.
        let (tx, rx) = mpsc::channel();
        let mut l = Linger::new(Duration::from_micros(1));
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(1u8).unwrap();
            tx
        });
        assert_eq!(l.next(&rx), Some(1));
        assert_eq!(l.budget(), l.min, "a 20 ms gap is past the maximum");
        let tx = sender.join().unwrap();
        drop(tx);
        assert_eq!(l.next(&rx), None);
    }

    #[test]
    fn a_job_sent_while_polling_is_received_and_sets_the_budget() {
        let (tx, rx) = mpsc::channel();
        let mut l = Linger::new(MAX_LINGER);
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_micros(200));
            tx.send(2u8).unwrap();
        });
        assert_eq!(l.next(&rx), Some(2));
        sender.join().unwrap();
        // Polled or waited for (a loaded machine may run the sender late),
        // the recorded gap is the time to its arrival: at least the sleep
        // (none is recorded past the maximum).
        if let Some(g) = l.last_gap {
            assert!(g >= Duration::from_micros(200), "gap {g:?}");
        }
    }
}
