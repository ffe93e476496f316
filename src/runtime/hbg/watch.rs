//! The watched call of a host_build_graph orchestration: the orchestration
//! runs on the context's orchestration thread ([`OrchThread`], started at
//! the first run) while the calling thread waits, bounded by
//! 1.5 watchdog budgets (`scheduler_timeout_ms`, [`crate::runtime::stuck_orchestration_after`]) since
//! the last progress. Every ops-table call counts as progress, so a long but
//! active builder is never stopped. A builder that stays silent for longer
//! fails the run with -100 (`PTO2_ERROR_SCHEDULER_TIMEOUT`) and its thread is
//! abandoned (never joined): it owns its builder, graph and copy of the
//! arguments, and shares the device memory through an `Arc`, so nothing it
//! can still touch is freed under it; the caller must leak the device
//! allocations and the callable's SOs and poison the context.

use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::ops::{call_hbg_entry, run_orchestration, HbgOrchFn, Orchestrated};
use super::progress::Progress;
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::device::memory::DeviceMemory;
use crate::diagnostics::{Error, Result};

/// The outcome of [`run_watched`].
pub enum Watched {
    /// The orchestration returned: what it built, and whether it succeeded.
    Done(Orchestrated, Result<()>),
    /// The orchestration stopped making progress; its thread was abandoned.
    Abandoned(Error),
}

type Job = Box<dyn FnOnce() + Send>;

/// A device context's persistent orchestration thread (8 MiB stack, the size
/// a process's main thread gets: the orchestration ran on the caller before).
/// It is never joined: it ends when this handle is dropped (or replaced) and
/// its current call returns; process exit does not wait for it.
#[derive(Debug, Default)]
pub struct OrchThread {
    tx: Option<mpsc::Sender<Job>>,
}

impl OrchThread {
    fn submit(&mut self, job: Job) -> Result<()> {
        let tx = match &self.tx {
            Some(tx) => tx,
            None => {
                let (tx, rx) = mpsc::channel::<Job>();
                std::thread::Builder::new()
                    .name("hbg-orch".into())
                    .stack_size(8 << 20)
                    .spawn(move || {
                        while let Ok(job) = rx.recv() {
                            job();
                        }
                    })
                    .map_err(|e| {
                        Error::State(format!("cannot spawn the host_build_graph orchestration thread: {e}"))
                    })?;
                self.tx.insert(tx)
            }
        };
        tx.send(job).map_err(|_| {
            self.tx = None;
            Error::State("the host_build_graph orchestration thread is gone".into())
        })
    }
}

/// What the orchestration thread hands back.
struct Finished(Orchestrated, Result<()>);
// SAFETY: the raw pointers inside `Orchestrated` are addresses of device
// allocations and of host buffers recorded for copy-back; they are only
// dereferenced (through the checked DeviceMemory copies) by the one thread
// that receives this value, after the orchestration thread is done with them.
unsafe impl Send for Finished {}

struct Shared {
    progress: Progress,
    done: Mutex<Option<Finished>>,
    cv: Condvar,
}

/// Calls host_build_graph orchestration `f` with `args` (host pointers) on
/// `thread` and waits for it, failing with -100 after
/// `stuck_orchestration_after(timeout_ms)` without progress (see the module
/// docs); `thread` is then replaced by a fresh one at the next use.
pub fn run_watched(
    thread: &mut OrchThread,
    f: HbgOrchFn,
    args: &ChipStorageTaskArgs,
    memory: Arc<DeviceMemory>,
    timeout_ms: u64,
) -> Watched {
    let shared = Arc::new(Shared { progress: Progress::default(), done: Mutex::new(None), cv: Condvar::new() });
    // The thread owns a copy of the arguments: an abandoned thread may read
    // them after the caller's buffer is gone.
    let owned = Box::new(*args);
    let sh = shared.clone();
    let body = move || {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_orchestration(f, &owned, &memory, &sh.progress, |f, rt, a| {
                // SAFETY: run_orchestration passes its own live runtime object
                // and `a` (the thread's own copy of the arguments).
                unsafe { call_hbg_entry(f, rt, a) }
            })
        }));
        let (orch, result) = run.unwrap_or_else(|_| {
            (
                Orchestrated::default(),
                Err(Error::Panic("internal panic around the host_build_graph orchestration".into())),
            )
        });
        *sh.done.lock().unwrap_or_else(|p| p.into_inner()) = Some(Finished(orch, result));
        sh.cv.notify_all();
    };
    if let Err(e) = thread.submit(Box::new(body)) {
        return Watched::Done(Orchestrated::default(), Err(e));
    }
    let budget = crate::runtime::stuck_orchestration_after(timeout_ms.max(1));
    let tick = Duration::from_millis((timeout_ms / 20).clamp(1, 20));
    let mut last_calls = shared.progress.calls();
    let mut last_progress = Instant::now();
    let mut done = shared.done.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(Finished(orch, result)) = done.take() {
            return Watched::Done(orch, result);
        }
        let calls = shared.progress.calls();
        if calls != last_calls {
            last_calls = calls;
            last_progress = Instant::now();
        }
        let silent = last_progress.elapsed();
        if silent > budget {
            shared.progress.abandon();
            // Detach the stuck thread: it ends if its call ever returns.
            thread.tx = None;
            let msg = format!(
                "TIMEOUT_EXIT: the host_build_graph orchestration function made no progress (no ops-table call, \
                 no return) for {} ms, over its budget of {}/{} x scheduler_timeout_ms={timeout_ms} \
                 (PTO2_SCHEDULER_TIMEOUT_MS), after {calls} ops-table calls; its thread was abandoned",
                silent.as_millis(),
                crate::runtime::STUCK_ORCH_BUDGETS.0,
                crate::runtime::STUCK_ORCH_BUDGETS.1
            );
            crate::diagnostics::log::error("host_build_graph", &msg);
            return Watched::Abandoned(Error::Runtime {
                code: 100,
                name: "PTO2_ERROR_SCHEDULER_TIMEOUT",
                message: msg,
            });
        }
        done = shared.cv.wait_timeout(done, tick).unwrap_or_else(|p| p.into_inner()).0;
    }
}
