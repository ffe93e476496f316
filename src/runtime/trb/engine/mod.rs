//! The TRB engine: persistent scheduler threads executing tasks on the host.
//!
//! # Execution model
//! * The orchestration closure runs on the engine's persistent orchestrator
//!   thread, with the root scope opened before and closed after; the thread
//!   calling [`TrbEngine::run`] is the watchdog (see `run`).
//! * `sched_threads` persistent scheduler threads wire submitted tasks
//!   (whoever holds the wiring lock drains the wiring queue and owns the
//!   dependency-list pools), pop ready tasks and run **single-lane subtasks
//!   inline**: the scheduler thread *is* the chosen simulated core for the
//!   duration of the call (the core is claimed exclusively and passed to the
//!   [`CoreExecutor`]). Cluster `c` belongs to scheduler `c % sched_threads`,
//!   which prefers its own cores.
//! * MIX tasks (several lanes) and `require_sync_start` SPMD tasks need their
//!   subtasks to run simultaneously: the dispatching thread runs one lane and
//!   hands the others to a *gang* of parked helper threads (grown on demand,
//!   reused across runs), then waits for all of them.
//! * SPMD tasks without sync start are claimed one block at a time
//!   (`next_block_idx`); a thread that claims a block re-queues the task while
//!   blocks remain, so several threads run blocks in parallel.
//! * Tasks a thread makes ready (its completions' consumers, the tasks it
//!   wires) go to its own FIFO of up to 64 tasks (`local_queue.rs`), not to
//!   the shared queues: a chain hop or a wired batch costs no shared-queue
//!   atomics and no wakeup, and the wiring drain stops when the FIFO is full.
//!   A thread out of work steals the oldest task of another thread's FIFO;
//!   an owner that keeps more than the task it takes wakes a sleeping (or
//!   startable dormant) thread to steal. Shared queues keep per-shape
//!   counts, so probing an empty shape is one load.
//! * A thread keeps the simulated core it used last while that core is free,
//!   and the executor is told when the core changed
//!   (`CoreExecutor::run_subtask_on`), so the kernel-facing core identity is
//!   published only on a change; executors that cannot unwind
//!   (`CoreExecutor::may_unwind`, the kernel executor: a C function behind the
//!   exception-catching C++ trampoline) run without a panic boundary.
//! * Idle threads spin for `idle_spin_us`, then park (1 ms timeout, used for
//!   the watchdog); pushers wake one parked thread unless a thread spins
//!   (it finds the work). When the run has more threads (schedulers plus the
//!   orchestrator) than the host has CPUs, only one thread spins at a time
//!   and only for a few microseconds, so the orchestrator keeps a CPU.
//!   Between runs a thread polls its job channel for a while (four times
//!   the last gap between its jobs, 50 us to 1 ms: `linger.rs`), then
//!   blocks on it and uses no CPU; the caller of a run polls for its end
//!   the same way (four times the last run's length) before it sleeps.
//!   Back-to-back small runs so hand over without waking a sleeping
//!   thread, which costs ~40 us on a VM whose idle vCPU halted.
//! * A run's scheduler threads start dormant in its `Parker` and are
//!   started by a wakeup that finds no idle thread (the orchestrator
//!   publishes a run's first task at once), so a run wakes only the threads
//!   its parallelism keeps busy, and a run that submits nothing none.
//!
//! # Knobs
//! * `ready_queue_shards` (1..=4): each shape's ready queue is split into that
//!   many independent MPMC queues. Scheduler `t` pushes to and pops from shard
//!   `t % shards` first and steals from the others when its shard is empty;
//!   the orchestrator/wiring side pushes round robin. 1 = one shared queue.
//! * `orch_to_sched`: after orchestration finishes, the calling thread joins
//!   scheduling as an extra scheduler (it owns no cluster and uses any idle
//!   core) instead of just waiting for completion.

mod claim;
mod dispatch;
mod execute;
mod gang;
mod linger;
mod orch_thread;
mod params;
mod report;
mod sched;
#[cfg(test)]
mod sched_tests;
mod tables;
mod threads;
mod wiring;

pub use super::shared::SimCore;
pub use params::{EngineConfig, RunParams};
pub use report::{scope_stats_jsonl, RunReport};
pub(crate) use tables::build_run;

use super::api::OrchestratorApi;
use super::layout::{codes, TrbMemory};
use super::parker::DormantStart;
use super::shared::RunShared;
use crate::diagnostics::{Error, Result};
use crate::kernel::KernelTable;
use crate::runtime::wait::{Backoff, Ladder};
use gang::{ExecRef, Gang};
use linger::Linger;
use orch_thread::{OrchFn, OrchJob, OrchOutcome, SendTables};
use params::validate;
use report::make_report;
use std::sync::atomic::Ordering::*;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use threads::{Job, OrchWorker, Worker};

/// The orchestration a run executes (on the orchestrator thread).
pub type Orchestrate<'a> = dyn FnMut(&mut dyn OrchestratorApi) -> Result<()> + 'a;

/// Runs kernels on simulated cores.
pub trait CoreExecutor: Sync {
    /// Runs one subtask: `args` points at the 50-entry kernel argument array
    /// of a dispatch payload; `core` is the simulated core. An error
    /// (e.g. the kernel threw) fails the run with that message.
    fn run_subtask(&self, func_id: i32, args: *mut u64, core: SimCore) -> std::result::Result<(), String>;

    /// [`run_subtask`](Self::run_subtask) on a scheduler thread whose
    /// previous subtask of this run ran on `core` too when `core_changed` is
    /// false: the thread already carries that core's identity, so an
    /// executor may skip publishing it again. The engine passes true for the
    /// first subtask of each thread in a run and after any other core.
    fn run_subtask_on(
        &self,
        func_id: i32,
        args: *mut u64,
        core: SimCore,
        core_changed: bool,
    ) -> std::result::Result<(), String> {
        let _ = core_changed;
        self.run_subtask(func_id, args, core)
    }

    /// Whether `run_subtask` may panic. An executor returning false is
    /// called without a panic boundary on the scheduler threads' inline
    /// path (a panic there still ends the run with an error: the thread's
    /// own boundary latches it); gang helpers always keep one.
    fn may_unwind(&self) -> bool {
        true
    }

    /// The kernel table, when every subtask is exactly a call of it
    /// ([`KernelTable::run`] with the subtask's func_id, args, core and
    /// `core_changed`, the same result as
    /// [`run_subtask_on`](Self::run_subtask_on)): the scheduler threads then
    /// call it directly on their inline path (no dynamic call per subtask,
    /// no panic boundary: the table cannot unwind). Read once per run.
    fn kernels(&self) -> Option<&KernelTable<'_>> {
        None
    }
}

/// The engine: persistent scheduler threads plus the gang pool.
pub struct TrbEngine {
    config: EngineConfig,
    workers: Vec<Worker>,
    orch: Option<OrchWorker>,
    gang: Arc<Gang>,
    poisoned: Option<String>,
    /// How the caller of `run` polls for the run's end before it sleeps.
    end_wait: Linger,
}

impl TrbEngine {
    /// Creates the engine and its initial threads.
    pub fn new(config: EngineConfig) -> Result<TrbEngine> {
        let end_wait = Linger::new(Duration::from_micros(config.idle_spin_us));
        let mut e = TrbEngine { config, workers: Vec::new(), orch: None, gang: Gang::new(), poisoned: None, end_wait };
        e.ensure_workers(config.initial_sched_threads)?;
        Ok(e)
    }

    /// Runs one orchestration to completion (or failure). See the module
    /// docs for the threading model.
    ///
    /// The orchestration runs on the engine's orchestrator thread while the
    /// calling thread acts as the watchdog. When the run failed and a thread
    /// is still inside user code (a kernel or the orchestration) after the
    /// grace period (half the watchdog budget after a watchdog fire, the full
    /// budget after any other fatal), that thread is abandoned: the run
    /// returns its report with [`RunReport::abandoned`] set and the engine is
    /// poisoned (every later `run` fails). The caller must then keep alive
    /// forever everything the stuck thread may still touch: `memory`, the
    /// executor and the orchestration closure.
    pub fn run(
        &mut self,
        memory: &TrbMemory,
        params: RunParams,
        executor: &dyn CoreExecutor,
        orchestrate: &mut dyn FnMut(&mut dyn OrchestratorApi) -> Result<()>,
    ) -> Result<RunReport> {
        if let Some(p) = &self.poisoned {
            return Err(Error::State(format!("context poisoned, finalize and re-create the device context: {p}")));
        }
        validate(memory, &params)?;
        let nsched = params.sched_threads;
        self.ensure_workers(nsched)?;
        self.ensure_orch_thread()?;
        let (sh, tables) = build_run(memory, &params);
        let sh = Arc::new(sh);
        // SAFETY: only the lifetime is erased; `run` waits below until every
        // scheduler thread and gang helper is done with the executor, or
        // (abandonment) the caller keeps the executor alive forever.
        let exec = ExecRef(unsafe {
            std::mem::transmute::<*const (dyn CoreExecutor + '_), *const (dyn CoreExecutor + 'static)>(
                executor as *const dyn CoreExecutor,
            )
        });
        let done = Arc::new((Mutex::new(Completion { sched_left: 0, orch: None }), Condvar::new()));
        // The end of the run wakes this thread at once, in parallel with the
        // parked schedulers it wakes, instead of through the last thread's
        // report after those woke (two wakeups in a row). The lock orders
        // the notification after this thread's check of `run_complete`
        // (made under it), so it cannot be lost.
        let _ = sh.on_end.set(Box::new({
            let done = done.clone();
            move || {
                drop(done.0.lock().unwrap_or_else(|e| e.into_inner()));
                done.1.notify_all();
            }
        }));
        let job = OrchJob {
            sh: sh.clone(),
            tables: SendTables(tables),
            // SAFETY: as for `exec`: the closure outlives every use (run waits
            // for the orchestrator thread or the caller leaks the closure).
            orchestrate: OrchFn(unsafe {
                std::mem::transmute::<*mut Orchestrate<'_>, *mut Orchestrate<'static>>(orchestrate as *mut _)
            }),
            exec,
            gang: self.gang.clone(),
            spin_us: self.config.idle_spin_us,
            nsched,
            block_dim: params.block_dim,
            orch_to_sched: params.orch_to_sched,
            trace: params.trace,
            explicit_deps: params.explicit_deps,
            done: done.clone(),
        };
        // Every scheduler thread starts dormant in the Parker, which starts
        // one whenever work is published and no started thread is idle (see
        // `Parker`; the orchestrator publishes a run's first task at once):
        // a run starts only the threads it keeps busy, and one that submits
        // nothing starts none. Scheduler 0 starts first.
        let starts: Vec<DormantStart> = (0..nsched)
            .rev()
            .map(|idx| {
                let (tx, job) =
                    (self.workers[idx].tx.clone(), Job { sh: sh.clone(), idx, nsched, exec, done: done.clone() });
                Box::new(move || start_scheduler(&tx, job)) as DormantStart
            })
            .collect();
        sh.parker.set_dormant(starts);
        if sched::oversubscribed(nsched) {
            // The orchestrator keeps a CPU while it runs (see `Parker`).
            sh.parker.cap_starts(sched::host_cpus().saturating_sub(1).max(1));
        }
        // Then the orchestrator: the Parker holds the dormant threads before
        // its first publication can ask for one.
        let orch_tx = &self.orch.as_ref().expect("ensured above").tx;
        if orch_tx.send(job).is_err() {
            // The dormant starts hold the run state.
            drop(sh.parker.take_dormant());
            return Err(Error::State("the orchestrator thread is gone".into()));
        }
        // Watchdog: wait for the end of the run, checking every 1/20 budget
        // (1..=20 ms): the fire lands at most that late after one budget.
        // The wait is on the threads' completion, whose last finisher is
        // the only one to wake this thread: a run that ends normally costs
        // one wakeup here (every thread leaves once the run is complete).
        let tick = Duration::from_millis((sh.timeout_ms / 20).clamp(1, 20));
        let started = Instant::now();
        // A short run ends while this thread polls (see `Linger`).
        self.end_wait.poll(|| sh.run_complete.load(Acquire));
        {
            let (m, cv) = &*done;
            let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
            while !g.all_finished() && !sh.run_complete.load(Acquire) {
                g = cv.wait_timeout(g, tick).unwrap_or_else(|e| e.into_inner()).0;
                if g.all_finished() {
                    break;
                }
                drop(g);
                if sh.all_done() {
                    sh.end_run();
                }
                sh.watchdog(true);
                g = m.lock().unwrap_or_else(|e| e.into_inner());
            }
        }
        self.end_wait.record(started.elapsed());
        let abandoned = self.wait_threads(&sh, &done);
        // Every thread that could start one is done (or abandoned): the
        // dormant starts hold the run state and are dropped unused.
        drop(sh.parker.take_dormant());
        let (m, _) = &*done;
        let orch = m.lock().unwrap_or_else(|e| e.into_inner()).orch.take();
        let (outcome, stats, user_first, orch_marks) = match orch {
            Some(o) => (Some(o.outcome), o.stats, o.user_first, o.orch_marks),
            None => (None, Vec::new(), false, Vec::new()),
        };
        if let Some(what) = abandoned {
            let mut report = make_report(&sh, &params, stats);
            let msg = format!(
                "{what} did not return within the watchdog budget ({}) and was abandoned",
                crate::config::schema::hint_value(crate::config::Knob::SchedulerTimeoutMs, sh.timeout_ms)
            );
            crate::diagnostics::log::error("trb_engine", &msg);
            report.message = format!("{}; {msg}", report.message);
            report.abandoned = Some(msg.clone());
            self.poisoned = Some(msg);
            return Ok(report);
        }
        tables::clear_seen(memory, &params, &sh);
        let mut sh = match Arc::try_unwrap(sh) {
            Ok(s) => s,
            Err(_) => return Err(Error::State("run state still shared after shutdown".into())),
        };
        sh.ready.reset_regions();
        sh.dummy.reset_region();
        let mut report = make_report(&sh, &params, stats);
        if let Some(sink) = &sh.trace {
            report.trace = Some(super::trace::TraceLog {
                spans: sink.take(),
                orch: orch_marks,
                block_dim: params.block_dim,
                sched_threads: nsched,
            });
        }
        match outcome {
            Some(Ok(Err(e))) if user_first => Err(e),
            Some(Err(p)) if user_first => std::panic::resume_unwind(p),
            _ => Ok(report),
        }
    }

    /// Whether an earlier run abandoned a stuck thread.
    pub fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }

    /// Waits for the scheduler threads and the orchestrator thread to finish
    /// the run. Returns a description of the threads abandoned in user code.
    fn wait_threads(&self, sh: &RunShared, done: &(Mutex<Completion>, Condvar)) -> Option<String> {
        let (m, cv) = done;
        let timeout = sh.timeout_ms;
        let fired = sh.sched_error.load(Acquire) == codes::SCHEDULER_TIMEOUT;
        let grace = Duration::from_millis(if fired { (timeout / 2).max(1) } else { timeout });
        let deadline = Instant::now() + grace;
        // The run is over: its threads are leaving their loops (a parked one
        // was woken with this thread), which takes microseconds. Yield
        // for them a while before sleeping: the sleep would add a wakeup
        // to the run's latency.
        let mut backoff = Backoff::new(Ladder::YIELD);
        for _ in 0..END_YIELDS {
            if m.lock().unwrap_or_else(|e| e.into_inner()).all_finished() {
                return None;
            }
            backoff.snooze();
        }
        let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if g.all_finished() {
                return None;
            }
            let now = Instant::now();
            if now >= deadline && sh.failed() {
                // Threads in runtime code always finish; only user code can be stuck.
                let kernels = sh.cores.iter().filter(|c| c.running.load(Acquire) != 0).count();
                let orch_in_user = g.orch.is_none() && sh.orch_in_user_code();
                if kernels > 0 || orch_in_user {
                    let mut what = Vec::new();
                    if kernels > 0 {
                        what.push(format!("{kernels} kernel(s)"));
                    }
                    if orch_in_user {
                        what.push("the orchestration".to_string());
                    }
                    return Some(what.join(" and "));
                }
            }
            let wait = if now >= deadline { Duration::from_millis(1) } else { deadline - now };
            g = cv.wait_timeout(g, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// Yields of the run's caller waiting for the threads to leave a finished
/// run before it sleeps (see `wait_threads`).
const END_YIELDS: u32 = 64;

/// Completion accounting of one run's threads.
struct Completion {
    /// Scheduler jobs started and still running.
    sched_left: usize,
    /// The orchestrator thread's result, once it finished.
    orch: Option<OrchOutcome>,
}

impl Completion {
    /// Every job of the run has finished.
    fn all_finished(&self) -> bool {
        self.sched_left == 0 && self.orch.is_some()
    }
}

/// Sends scheduler `job` to its thread, counted in the run's running
/// scheduler jobs first (a start comes from a thread of the run that has
/// not finished, the orchestrator or a started scheduler, so the count
/// cannot reach zero early). A thread that is gone leaves the count as it
/// was.
fn start_scheduler(tx: &std::sync::mpsc::Sender<Job>, job: Job) {
    let done = job.done.clone();
    report(&done, |g| g.sched_left += 1);
    if let Err(std::sync::mpsc::SendError(job)) = tx.send(job) {
        // It was counted as spinning by the wakeup that started it.
        job.sh.parker.stop_spinning();
        drop(job);
        report(&done, |g| g.sched_left -= 1);
    }
}

/// Records what a finishing job (or one never started) changes with
/// `update`; the update that finishes the last job wakes the thread waiting
/// in `run` (one wakeup per run, not one per thread).
fn report(done: &(Mutex<Completion>, Condvar), update: impl FnOnce(&mut Completion)) {
    let (m, cv) = done;
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    update(&mut g);
    let last = g.all_finished();
    drop(g);
    if last {
        cv.notify_all();
    }
}
