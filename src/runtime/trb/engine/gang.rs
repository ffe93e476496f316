//! Kernel calls behind a panic boundary and the gang of helper threads
//! that run the extra lanes of a simultaneous dispatch.

use super::dispatch::DispatchBuffer;
use super::CoreExecutor;
use crate::diagnostics::panic_text;
use crate::kernel::KernelTable;
use crate::runtime::trb::shared::SimCore;
use crate::runtime::wait::{Backoff, Ladder};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex};

#[derive(Clone, Copy)]
pub(super) struct ExecRef(pub(super) *const (dyn CoreExecutor + 'static));
// SAFETY: the executor is Sync; the pointer is only dereferenced while the
// `run` call that lent it is still waiting for every user to finish, or,
// after that run abandoned a stuck thread, while the caller keeps the
// executor alive forever (the `run` contract).
unsafe impl Send for ExecRef {}
// SAFETY: as above.
unsafe impl Sync for ExecRef {}

impl ExecRef {
    pub(super) fn get(&self) -> &dyn CoreExecutor {
        // SAFETY: see the Send impl: `run` outlives every use.
        unsafe { &*self.0 }
    }

    /// The executor's kernel table ([`CoreExecutor::kernels`]), its
    /// lifetime erased as the executor's.
    pub(super) fn kernels(&self) -> Option<KernelsRef> {
        self.get().kernels().map(|k| KernelsRef(std::ptr::from_ref(k).cast::<KernelTable<'static>>()))
    }
}

/// The kernel table of a run's executor (see [`ExecRef::kernels`]).
#[derive(Clone, Copy)]
pub(super) struct KernelsRef(*const KernelTable<'static>);

impl KernelsRef {
    #[inline]
    pub(super) fn get(&self) -> &KernelTable<'static> {
        // SAFETY: the table belongs to the executor, which outlives every
        // use (as for `ExecRef`); its entries borrow the run's callable,
        // alive as long as the executor.
        unsafe { &*self.0 }
    }
}

/// One subtask of a simultaneous dispatch: func_id, its payload buffer, core.
pub(super) type GangDispatch = (i32, Box<DispatchBuffer>, SimCore);

pub(super) struct GangJob {
    pub(super) exec: ExecRef,
    pub(super) func: i32,
    pub(super) args: usize,
    pub(super) core: SimCore,
    pub(super) done: Arc<AtomicUsize>,
    pub(super) failure: Arc<Mutex<Option<String>>>,
}

/// Runs one subtask inside a panic boundary; the failure message, if any.
pub(super) fn run_guarded(exec: ExecRef, func: i32, args: *mut u64, core: SimCore) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(|| exec.get().run_subtask(func, args, core))) {
        Ok(Ok(())) => None,
        Ok(Err(m)) => Some(m),
        Err(p) => Some(format!("kernel func_id={func} panicked on the simulated device: {}", panic_text(&*p))),
    }
}

/// Runs one subtask on the calling scheduler thread: behind a panic
/// boundary when the executor may unwind (`unwinds`), else directly (the
/// kernel path: a C function behind the C++ trampoline, which catches every
/// exception and returns it as an error).
#[inline]
pub(super) fn run_inline(
    exec: ExecRef,
    unwinds: bool,
    func: i32,
    args: *mut u64,
    core: SimCore,
    core_changed: bool,
) -> Option<String> {
    if unwinds {
        return match catch_unwind(AssertUnwindSafe(|| exec.get().run_subtask_on(func, args, core, core_changed))) {
            Ok(Ok(())) => None,
            Ok(Err(m)) => Some(m),
            Err(p) => Some(format!("kernel func_id={func} panicked on the simulated device: {}", panic_text(&*p))),
        };
    }
    exec.get().run_subtask_on(func, args, core, core_changed).err()
}

pub(super) fn keep_first(slot: &Mutex<Option<String>>, msg: String) {
    let mut g = slot.lock().unwrap_or_else(|e| e.into_inner());
    if g.is_none() {
        *g = Some(msg);
    }
}

pub(super) struct Helper {
    pub(super) job: Mutex<Option<GangJob>>,
    pub(super) cv: Condvar,
}

/// Parked helper threads that run the extra lanes of a gang dispatch.
pub(super) struct Gang {
    pub(super) idle: Mutex<Vec<Arc<Helper>>>,
    pub(super) threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    pub(super) shutdown: AtomicBool,
}

impl Gang {
    pub(super) fn new() -> Arc<Gang> {
        Arc::new(Gang {
            idle: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
        })
    }

    pub(super) fn helper(self: &Arc<Gang>) -> Arc<Helper> {
        if let Some(h) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return h;
        }
        let h = Arc::new(Helper { job: Mutex::new(None), cv: Condvar::new() });
        let (gang, me) = (self.clone(), h.clone());
        let t = std::thread::Builder::new()
            .name("trb-gang".into())
            .spawn(move || gang.helper_loop(me))
            .expect("spawn gang helper");
        self.threads.lock().unwrap_or_else(|e| e.into_inner()).push(t);
        h
    }

    pub(super) fn helper_loop(self: Arc<Gang>, me: Arc<Helper>) {
        loop {
            let job = {
                let mut g = me.job.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(j) = g.take() {
                        break j;
                    }
                    if self.shutdown.load(Acquire) {
                        return;
                    }
                    g = me.cv.wait(g).unwrap_or_else(|e| e.into_inner());
                }
            };
            if let Some(m) = run_guarded(job.exec, job.func, job.args as *mut u64, job.core) {
                keep_first(&job.failure, m);
            }
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(me.clone());
            job.done.fetch_sub(1, Release);
        }
    }

    /// Runs every `(func, buffer, core)` simultaneously (the first inline)
    /// and returns once all finished; the first failure, if any.
    pub(super) fn run_all(self: &Arc<Gang>, exec: ExecRef, jobs: &mut [GangDispatch]) -> Option<String> {
        let done = Arc::new(AtomicUsize::new(jobs.len().saturating_sub(1)));
        let failure = Arc::new(Mutex::new(None));
        for (func, buf, core) in jobs.iter_mut().skip(1) {
            let h = self.helper();
            *h.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(GangJob {
                exec,
                func: *func,
                args: buf.args() as usize,
                core: *core,
                done: done.clone(),
                failure: failure.clone(),
            });
            h.cv.notify_one();
        }
        if let Some((func, buf, core)) = jobs.first_mut() {
            if let Some(m) = run_guarded(exec, *func, buf.args(), *core) {
                keep_first(&failure, m);
            }
        }
        let mut backoff = Backoff::new(Ladder::GANG);
        while done.load(Acquire) != 0 {
            backoff.snooze();
        }
        let f = failure.lock().unwrap_or_else(|e| e.into_inner()).take();
        f
    }

    pub(super) fn stop(&self) {
        self.shutdown.store(true, Release);
        for h in self.idle.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _g = h.job.lock().unwrap_or_else(|e| e.into_inner());
            h.cv.notify_all();
        }
        let threads: Vec<_> = self.threads.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}
