//! The orchestrator side of a run, executed on the persistent orchestrator thread.

use super::gang::{ExecRef, Gang};
use super::sched::{Sched, SchedScratch};
use super::{Completion, Orchestrate};
use crate::diagnostics::panic_text;
use crate::diagnostics::Result;
use crate::runtime::trb::api::OrchestratorApi;
use crate::runtime::trb::orchestrator::{OrchTables, Orchestrator};
use crate::runtime::trb::shared::{FatalSource, RunShared};
use crate::runtime::trb::stats::ScopeStatRecord;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::*;
use std::sync::{Arc, Condvar, Mutex};

/// What the orchestrator thread hands back.
pub(super) struct OrchOutcome {
    pub(super) outcome: std::thread::Result<Result<()>>,
    pub(super) stats: Vec<ScopeStatRecord>,
    /// Whether the orchestration's own failure was the run's first fatal.
    pub(super) user_first: bool,
    /// Orchestrator-lane trace marks (empty unless the run traces).
    pub(super) orch_marks: Vec<crate::runtime::trb::trace::OrchMark>,
}

pub(super) struct SendTables(pub(super) OrchTables);
// SAFETY: the tables are region views into this run's memory, used only by
// the orchestrator thread that receives them.
unsafe impl Send for SendTables {}

pub(super) struct OrchFn(pub(super) *mut Orchestrate<'static>);
// SAFETY: the closure is called only on the orchestrator thread, while the
// run that lent it waits (or keeps it alive forever after abandonment).
unsafe impl Send for OrchFn {}

/// The orchestrator side of one run, executed on the orchestrator thread.
pub(super) struct OrchJob {
    pub(super) sh: Arc<RunShared>,
    pub(super) tables: SendTables,
    pub(super) orchestrate: OrchFn,
    pub(super) exec: ExecRef,
    pub(super) gang: Arc<Gang>,
    pub(super) spin_us: u64,
    pub(super) nsched: usize,
    pub(super) block_dim: u32,
    pub(super) orch_to_sched: bool,
    /// Record the orchestrator lane of the task trace.
    pub(super) trace: bool,
    /// Run the orchestrator with explicit edges (`RunParams::explicit_deps`).
    pub(super) explicit_deps: bool,
    pub(super) done: Arc<(Mutex<Completion>, Condvar)>,
}

impl OrchJob {
    /// Runs the job; `scratch` holds the scheduler buffers this thread keeps
    /// across runs for `orch_to_sched`.
    pub(super) fn execute(self, scratch: &mut SchedScratch) {
        let OrchJob {
            sh: shared,
            tables,
            orchestrate,
            exec,
            gang,
            spin_us,
            nsched,
            block_dim,
            orch_to_sched,
            trace,
            explicit_deps,
            done,
        } = self;
        let sh = &*shared;
        let bd = block_dim;
        let mut orch = Orchestrator::new(sh, tables.0, bd, 2 * bd);
        if explicit_deps {
            orch.enable_explicit_edges();
        }
        orch.scope_begin(crate::runtime::trb::api::ScopeMode::Auto);
        let f = orchestrate.0;
        sh.orch_epoch.0.fetch_add(1, SeqCst); // now in user code
        let mut orch_marks = Vec::new();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: see OrchFn: the closure is alive and used by this thread only.
            let f = unsafe { &mut *f };
            let mut tracked = Tracked(&mut orch);
            if trace {
                let mut t = crate::runtime::trb::trace::TracingOrch::new(&mut tracked, sh.start, 0);
                let r = f(&mut t);
                orch_marks = t.finish();
                r
            } else {
                f(&mut tracked)
            }
        }));
        sh.orch_epoch.0.fetch_add(1, SeqCst); // back in the runtime
        let user_err = match &outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(p) => Some(format!("orchestration panicked: {}", panic_text(&**p))),
        };
        let user_first =
            user_err.is_some_and(|e| sh.latch_fatal(FatalSource::UserCode, 0, &format!("orchestration failed: {e}")));
        while orch.depth() >= 0 && !orch.is_fatal() {
            orch.scope_end();
        }
        orch.finish();
        let stats = std::mem::take(&mut orch.stats);
        drop(orch);
        if orch_to_sched && !sh.run_complete.load(Acquire) {
            let mut s = Sched::new_in(sh, nsched, nsched, exec, &gang, spin_us, std::mem::take(scratch));
            s.run_loop(false);
            s.flush_trace();
            *scratch = s.into_scratch();
        }
        // The run's thread must hold no reference to the run state once it
        // reports completion.
        drop(shared);
        super::report(&done, |g| g.orch = Some(OrchOutcome { outcome, stats, user_first, orch_marks }));
    }
}

/// The orchestrator as user code sees it: every call is bracketed by
/// `orch_epoch` increments (odd = inside the runtime, even = in user code),
/// which the watchdog reads to tell a stuck orchestration from a busy one.
pub(super) struct Tracked<'a, 's>(&'a mut Orchestrator<'s>);

impl Tracked<'_, '_> {
    #[inline(always)]
    pub(super) fn call<R>(&mut self, f: impl FnOnce(&mut Orchestrator<'_>) -> R) -> R {
        let e = &self.0.shared().orch_epoch.0;
        e.store(e.load(Relaxed) + 1, Release);
        let r = f(self.0);
        let e = &self.0.shared().orch_epoch.0;
        e.store(e.load(Relaxed) + 1, Release);
        r
    }
}

impl OrchestratorApi for Tracked<'_, '_> {
    fn submit_task(
        &mut self,
        kernels: crate::runtime::trb::api::MixedKernelIds,
        args: &crate::runtime::trb::api::TaskArgsView<'_>,
    ) -> crate::runtime::trb::api::SubmitOutcome {
        self.call(|o| o.submit_task(kernels, args))
    }
    #[inline(always)]
    fn submit_into(
        &mut self,
        kind: crate::runtime::trb::api::SubmitKind,
        args: &crate::runtime::trb::api::TaskArgsView<'_>,
        outputs: &mut crate::runtime::trb::api::OutputSlots,
    ) -> (u64, u32) {
        self.call(|o| o.submit_into(kind, args, outputs))
    }
    fn direct_fill(&self) -> Option<crate::runtime::trb::api::DirectFill> {
        Some(crate::runtime::trb::orchestration::ops::fill_for::<Self>)
    }
    fn fatal_probe(&self) -> Option<crate::runtime::trb::api::FatalProbe> {
        self.0.fatal_probe()
    }
    fn submit_dummy_task(
        &mut self,
        args: &crate::runtime::trb::api::TaskArgsView<'_>,
    ) -> crate::runtime::trb::api::SubmitOutcome {
        self.call(|o| o.submit_dummy_task(args))
    }
    fn alloc_tensors(
        &mut self,
        args: &crate::runtime::trb::api::TaskArgsView<'_>,
    ) -> crate::runtime::trb::api::SubmitOutcome {
        self.call(|o| o.alloc_tensors(args))
    }
    fn scope_begin(&mut self, mode: crate::runtime::trb::api::ScopeMode) {
        self.call(|o| o.scope_begin(mode))
    }
    fn scope_end(&mut self) {
        self.call(|o| o.user_scope_end())
    }
    fn orchestration_done(&mut self) {
        self.call(|o| o.orchestration_done())
    }
    fn is_fatal(&self) -> bool {
        self.0.is_fatal()
    }
    fn report_fatal(&mut self, code: i32, message: &str) {
        self.call(|o| o.report_fatal(code, message))
    }
    fn get_tensor_data(&mut self, tensor: &crate::abi::tensor::Tensor, indices: &[u32]) -> u64 {
        self.call(|o| o.get_tensor_data(tensor, indices))
    }
    fn set_tensor_data(&mut self, tensor: &crate::abi::tensor::Tensor, indices: &[u32], value: u64) {
        self.call(|o| o.set_tensor_data(tensor, indices, value))
    }
    fn scope_set_site(&mut self, file: &str, line: i32) {
        self.call(|o| o.scope_set_site(file, line))
    }
    fn add_dependency(&mut self, producer: u64, consumer: u64) {
        self.call(|o| o.add_dependency(producer, consumer))
    }
}
