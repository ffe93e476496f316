//! The engine's persistent threads: scheduler workers fed one job per run
//! over a channel, the orchestrator thread, and their shutdown. Between
//! jobs each waits through its [`Linger`] (polls, then blocks).

use super::gang::ExecRef;
use super::linger::Linger;
use super::orch_thread::OrchJob;
use super::sched::{Sched, SchedScratch};
use super::{report, Completion, TrbEngine};
use crate::diagnostics::{Error, Result};
use crate::runtime::trb::shared::{FatalSource, RunShared};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

pub(super) struct Job {
    pub(super) sh: Arc<RunShared>,
    pub(super) idx: usize,
    pub(super) nsched: usize,
    pub(super) exec: ExecRef,
    pub(super) done: Arc<(Mutex<Completion>, Condvar)>,
}

pub(super) struct Worker {
    pub(super) tx: mpsc::Sender<Job>,
    pub(super) handle: std::thread::JoinHandle<()>,
}

pub(super) struct OrchWorker {
    pub(super) tx: mpsc::Sender<OrchJob>,
    pub(super) handle: std::thread::JoinHandle<()>,
}

impl TrbEngine {
    pub(super) fn ensure_workers(&mut self, n: usize) -> Result<()> {
        while self.workers.len() < n {
            let (tx, rx) = mpsc::channel::<Job>();
            let gang = self.gang.clone();
            let spin = self.config.idle_spin_us;
            let handle = std::thread::Builder::new()
                .name(format!("trb-sched{}", self.workers.len()))
                .spawn(move || {
                    // Kept across runs: a run allocates no dispatch buffers.
                    let mut scratch = SchedScratch::default();
                    let mut linger = Linger::new(Duration::from_micros(spin));
                    while let Some(job) = linger.next(&rx) {
                        let Job { sh, idx, nsched, exec, done } = job;
                        let r = catch_unwind(AssertUnwindSafe(|| {
                            let mut s =
                                Sched::new_in(&sh, idx, nsched, exec, &gang, spin, std::mem::take(&mut scratch));
                            // Started by a wakeup (see `Parker`), which
                            // counted it as spinning.
                            s.run_loop(true);
                            s.flush_trace();
                            scratch = s.into_scratch();
                        }));
                        if r.is_err() {
                            // A bug in the scheduler must not hang the run.
                            sh.latch_fatal(FatalSource::Scheduler, 0, "internal error: a scheduler thread panicked");
                        }
                        drop(sh);
                        report(&done, |g| g.sched_left -= 1);
                    }
                })
                .map_err(|e| Error::State(format!("cannot spawn scheduler thread: {e}")))?;
            self.workers.push(Worker { tx, handle });
        }
        Ok(())
    }

    pub(super) fn ensure_orch_thread(&mut self) -> Result<()> {
        if self.orch.is_some() {
            return Ok(());
        }
        let (tx, rx) = mpsc::channel::<OrchJob>();
        let spin = self.config.idle_spin_us;
        let handle = std::thread::Builder::new()
            .name("trb-orch".into())
            .spawn(move || {
                // Kept across runs (used by `orch_to_sched` runs only).
                let mut scratch = SchedScratch::default();
                let mut linger = Linger::new(Duration::from_micros(spin));
                while let Some(job) = linger.next(&rx) {
                    job.execute(&mut scratch);
                }
            })
            .map_err(|e| Error::State(format!("cannot spawn the orchestrator thread: {e}")))?;
        self.orch = Some(OrchWorker { tx, handle });
        Ok(())
    }
}

impl Drop for TrbEngine {
    fn drop(&mut self) {
        if self.poisoned.is_some() {
            // A stuck thread may never return: detach every thread (dropping
            // the senders lets the idle ones exit) instead of joining.
            return;
        }
        if let Some(o) = self.orch.take() {
            drop(o.tx);
            let _ = o.handle.join();
        }
        for w in self.workers.drain(..) {
            drop(w.tx);
            let _ = w.handle.join();
        }
        self.gang.stop();
    }
}
