//! One scheduler thread's loop: wiring, dummy completion, picking and
//! finishing ready tasks, idling.

use super::dispatch::{DispatchBox, DispatchBuffer};
use super::gang::{ExecRef, Gang, GangDispatch, KernelsRef};
use crate::runtime::trb::local_queue::{LocalQueue, LOCAL_CAP};
use crate::runtime::trb::ring::SlotRef;
use crate::runtime::trb::shared::{shape, shape_of, FatalSource, RunShared, SimCore};
use crate::runtime::wait::{Backoff, Ladder};
use std::sync::atomic::Ordering::*;
use std::sync::Arc;
use std::time::Duration;

/// Idle snoozes of a spinning thread before it parks when the run has more
/// threads than the host has CPUs: two rounds of 63 busy steps and a yield
/// (a few microseconds), so an idle scheduler hands its CPU back to the
/// orchestrator quickly.
pub(super) const OVERSUBSCRIBED_SPIN_STEPS: u64 = 128;

/// Logical CPUs of the host (read once).
pub(super) fn host_cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether a run of `nsched` scheduler threads plus the orchestrator thread
/// has more busy threads than the host has CPUs.
pub(super) fn oversubscribed(nsched: usize) -> bool {
    nsched + 1 > host_cpus()
}

/// One scheduler thread's state for a run.
pub(super) struct Sched<'a> {
    pub(super) sh: &'a RunShared,
    pub(super) idx: usize,
    pub(super) home: usize,
    pub(super) exec: ExecRef,
    pub(super) gang: &'a Arc<Gang>,
    pub(super) own_aic: Vec<SimCore>,
    pub(super) own_aiv: Vec<SimCore>,
    pub(super) own_clusters: Vec<u32>,
    /// Ready tasks this thread made ready and keeps: its entry of the run's
    /// `locals`, which only this thread pushes to and pops from (others
    /// steal; see `local_queue.rs`).
    pub(super) local: &'a LocalQueue,
    /// Core id of the last subtask this thread ran inline (the simulated
    /// core identity it published), `u32::MAX` before the first.
    pub(super) last_core: u32,
    /// The executor's `may_unwind` (read once per run).
    pub(super) unwinds: bool,
    /// The executor's kernel table, called directly when it has one (read
    /// once per run).
    pub(super) kernels: Option<KernelsRef>,
    pub(super) buf: Box<DispatchBuffer>,
    pub(super) mix_bufs: Vec<DispatchBox>,
    /// The jobs of a gang dispatch (empty between dispatches; kept for its
    /// storage).
    pub(super) jobs: Vec<GangDispatch>,
    pub(super) odd: bool,
    pub(super) spin: Duration,
    /// Idle snoozes before parking (bounded when the run oversubscribes
    /// the host CPUs, else unbounded: `spin` decides).
    pub(super) spin_steps: u64,
    /// At most this many threads of the run spin at once.
    pub(super) max_spinners: usize,
    pub(super) rr: usize,
    /// Task trace on (run constant) and this thread's spans.
    pub(super) trace_on: bool,
    pub(super) spans: Vec<crate::runtime::trb::trace::TaskSpan>,
    /// Tasks this thread finished and has not yet counted in the run's
    /// `completed` (see [`count_finished`](Self::count_finished)).
    pub(super) uncounted: u64,
}

/// Finished tasks a scheduler adds to the run's `completed` in one add
/// while the orchestration runs (see `Sched::count_finished`).
pub(super) const COMPLETED_BATCH: u64 = 32;

/// What a scheduler thread keeps from one run to the next: its dispatch
/// buffers and the storage of its core lists, so a run allocates nothing
/// on the heap for them after the thread's first run.
#[derive(Default)]
pub(super) struct SchedScratch {
    buf: Option<Box<DispatchBuffer>>,
    mix_bufs: Vec<DispatchBox>,
    jobs: Vec<GangDispatch>,
    own_aic: Vec<SimCore>,
    own_aiv: Vec<SimCore>,
    own_clusters: Vec<u32>,
}

impl<'a> Sched<'a> {
    /// Thread `idx`'s state for the run `sh` (`idx == nsched`: the
    /// orchestrator thread joining under `orch_to_sched`), reusing the
    /// buffers and storage of `scratch` (a default one, or what
    /// [`into_scratch`](Self::into_scratch) returned after this thread's
    /// last run: a run then allocates nothing here).
    pub(super) fn new_in(
        sh: &'a RunShared,
        idx: usize,
        nsched: usize,
        exec: ExecRef,
        gang: &'a Arc<Gang>,
        spin_us: u64,
        scratch: SchedScratch,
    ) -> Sched<'a> {
        let SchedScratch { buf, mut mix_bufs, jobs, mut own_aic, mut own_aiv, mut own_clusters } = scratch;
        let bd = sh.block_dim;
        own_clusters.clear();
        own_aic.clear();
        own_aiv.clear();
        if idx < nsched {
            own_clusters.extend((0..bd).filter(|c| *c as usize % nsched == idx));
        }
        own_aic.extend(own_clusters.iter().map(|&c| SimCore::aic(c)));
        own_aiv.extend(own_clusters.iter().flat_map(|&c| [SimCore::aiv(c, 0, bd), SimCore::aiv(c, 1, bd)]));
        while mix_bufs.len() < 2 {
            mix_bufs.push(DispatchBuffer::new());
        }
        Sched {
            sh,
            idx,
            home: idx % sh.ready.num_shards(),
            exec,
            gang,
            own_aic,
            own_aiv,
            own_clusters,
            local: &sh.locals[idx],
            last_core: u32::MAX,
            unwinds: exec.get().may_unwind(),
            kernels: exec.kernels(),
            buf: buf.unwrap_or_else(DispatchBuffer::new),
            mix_bufs,
            jobs,
            odd: idx % 2 == 1,
            spin: Duration::from_micros(spin_us),
            spin_steps: if oversubscribed(nsched) { OVERSUBSCRIBED_SPIN_STEPS } else { u64::MAX },
            max_spinners: if oversubscribed(nsched) { 1 } else { nsched + 1 },
            rr: 0,
            uncounted: 0,
            trace_on: sh.trace.is_some(),
            spans: if sh.trace.is_some() {
                Vec::with_capacity(crate::runtime::trb::trace::SPANS_PER_THREAD)
            } else {
                Vec::new()
            },
        }
    }

    /// The buffers and storage this run used, for the thread's next run.
    pub(super) fn into_scratch(self) -> SchedScratch {
        SchedScratch {
            buf: Some(self.buf),
            mix_bufs: self.mix_bufs,
            jobs: self.jobs,
            own_aic: self.own_aic,
            own_aiv: self.own_aiv,
            own_clusters: self.own_clusters,
        }
    }

    /// Clock of the task trace (0 when tracing is off).
    #[inline]
    pub(super) fn trace_now(&self) -> u64 {
        if self.trace_on {
            crate::runtime::trb::trace::since(self.sh.start)
        } else {
            0
        }
    }

    /// Records one dispatch: a span per core, sharing `start`.
    #[inline]
    pub(super) fn trace_dispatch(&mut self, task: u64, start_ns: u64, cores: impl Iterator<Item = (i32, u32)>) {
        if self.trace_on {
            let end_ns = crate::runtime::trb::trace::since(self.sh.start);
            let sched = self.idx as u32;
            for (k, (func, core)) in cores.enumerate() {
                self.spans.push(crate::runtime::trb::trace::TaskSpan {
                    task,
                    func,
                    core,
                    sched,
                    lead: k == 0,
                    start_ns,
                    end_ns,
                });
            }
        }
    }

    /// Hands this thread's spans to the run (once, at the end of its loop).
    pub(super) fn flush_trace(&mut self) {
        if let Some(sink) = &self.sh.trace {
            sink.merge(&mut self.spans);
        }
    }

    /// The scheduling loop of one run. `woken`: the thread was started by
    /// a wakeup (a dormant thread, see `Parker`), which counted it as
    /// spinning: it begins as a spinner.
    pub(super) fn run_loop(&mut self, woken: bool) {
        let sh = self.sh;
        let mut idle = Backoff::new(Ladder::IDLE_SPIN);
        // Progress since `idle` was last used: reset it before its next use.
        let mut idle_stale = false;
        // Counted in `sh.parker`'s spinning threads (see `Parker`).
        let mut spinning = woken;
        // Parked since the last progress (then it does not spin again).
        let mut parked = false;
        let me = std::thread::current();
        loop {
            // Every fatal and the normal end set `run_complete` (`end_run`);
            // completions check `all_done` themselves, so one load suffices
            // on the busy path (the idle path below checks everything).
            if sh.run_complete.load(Acquire) {
                break;
            }
            let mut progress = false;
            // Wire in batches, while this thread has room to keep what it
            // makes ready (`drain_wiring` stops when its local queue fills).
            if self.local.len() <= LOCAL_CAP / 2 && !sh.wiring.is_empty() {
                if let Ok(mut ws) = sh.wiring_state.try_lock() {
                    progress |= self.drain_wiring(&mut ws);
                }
            }
            if !sh.dummy.is_empty_hint() {
                for _ in 0..16 {
                    let Some(v) = sh.dummy.pop() else { break };
                    let s = sh.slot_of(SlotRef::from_bits(v));
                    sh.finish_task(s, |c| self.make_ready(c));
                    self.count_finished();
                    progress = true;
                }
                self.flush_finished();
                if sh.all_done() {
                    sh.end_run();
                }
            }
            if let Some(v) = self.next_task() {
                // Found work: stop spinning first, so that pushes made while
                // running it wake a parked thread. A thread woken from a park
                // passes the wakeup on when more work waits (the pushes it
                // was woken for may have skipped further wakeups).
                if parked && !spinning && self.queued_work() {
                    sh.parker.wake_one();
                }
                self.stop_spinning(&mut spinning);
                progress |= self.execute(v);
            }
            if progress {
                self.stop_spinning(&mut spinning);
                // The idle wait starts over; reset when it is next used, so
                // the busy path leaves its state alone.
                idle_stale = true;
                parked = false;
                continue;
            }
            // Out of work: every finished task counted before the end check
            // (and before this thread may park).
            self.flush_finished();
            if sh.failed() || sh.all_done() {
                sh.end_run();
                break;
            }
            if idle_stale {
                idle_stale = false;
                idle.reset();
            }
            if !spinning && !parked {
                spinning = sh.parker.start_spinning(self.max_spinners);
            }
            if spinning && !self.spin_exhausted(&mut idle) {
                // Poll only the cheap emptiness hints until work shows up,
                // the run ends or the ladder's yield (every 64th snooze)
                // passed; then the full round above runs again.
                loop {
                    idle.snooze();
                    if idle.step() & 63 == 0 || self.queued_work() || sh.run_complete.load(Relaxed) {
                        break;
                    }
                }
                continue;
            }
            // Out of work: first publish what the orchestrator has staged
            // (it may be running user code for a while).
            if sh.wiring.help_flush() {
                continue;
            }
            sh.parker.announce_as(&me);
            if spinning {
                spinning = false;
                sh.parker.stop_spinning();
            }
            std::sync::atomic::fence(SeqCst);
            if !self.has_work() && !sh.wiring.help_flush() && !sh.run_complete.load(Acquire) {
                std::thread::park_timeout(Duration::from_millis(1));
                // No new spin after a park until some progress.
                parked = true;
            }
            sh.parker.retract_as(&me);
            sh.watchdog(false);
        }
        if spinning {
            sh.parker.stop_spinning();
        }
        self.flush_finished();
        // Hand held local tasks back (only matters on emergency exit).
        while let Some(v) = self.local.pop() {
            self.push_shared(v);
        }
    }

    /// Ends this thread's spin, if it spins; wakes another thread when work
    /// is left in the queues or in its own local queue (pushes skipped the
    /// wakeup while it spun, and `next_task`, called while it still counted
    /// as a spinner, woke nobody for the local tasks it keeps).
    fn stop_spinning(&self, spinning: &mut bool) {
        if *spinning {
            *spinning = false;
            self.sh.parker.stop_spinning();
            if !self.local.is_empty() || self.queued_work() {
                self.sh.parker.wake_one();
            }
        }
    }

    /// Marks this thread as running a kernel, which makes its last local
    /// task stealable (`LocalQueue::stealable`), and wakes a thread for
    /// its local tasks if one may be woken or started. A thief that looked
    /// just before the mark saw nothing to steal and woke nobody; the
    /// thread woken here finds the task (the store-buffer pattern of
    /// `Parker`: the mark, then the fence in `wake_one`, then its SeqCst
    /// reads of the spinners). Without it the task waited for the kernel to
    /// return, or for ever if the kernel waits for it (found by
    /// `dormant_scheduler_threads_start_when_the_work_needs_them`, which
    /// failed about 1 run in 15 on a 2-CPU host). The relaxed `could_wake`
    /// only skips the fence when no thread sleeps and none may start.
    #[inline]
    pub(super) fn mark_busy(&self) {
        self.local.set_owner_busy(true);
        if !self.local.is_empty() && self.sh.parker.could_wake() {
            self.sh.parker.wake_one();
        }
    }

    /// Whether the idle spin is over: after `spin_steps` snoozes, or once it
    /// lasted `spin` (the clock is read every 64 snoozes only).
    /// While the Parker's start cap holds, the started threads fit on the
    /// CPUs beside the orchestrator, so the short oversubscribed spin does
    /// not apply.
    fn spin_exhausted(&self, idle: &mut Backoff) -> bool {
        let n = idle.step();
        (n >= self.spin_steps && !self.sh.parker.capped()) || (n & 63 == 0 && n > 0 && idle.stalled_for() >= self.spin)
    }

    /// Work for this thread outside its own local tasks: the shared queues
    /// and the tasks it could steal.
    fn queued_work(&self) -> bool {
        let sh = self.sh;
        !sh.wiring.is_empty() || !sh.dummy.is_empty_hint() || sh.ready.any_work() || self.stealable()
    }

    /// Whether another thread's local queue holds a task.
    fn stealable(&self) -> bool {
        self.sh.locals.iter().enumerate().any(|(i, q)| i != self.idx && q.stealable())
    }

    /// The oldest task of another thread's local queue, trying the threads
    /// after this one first.
    fn steal(&self) -> Option<u64> {
        let n = self.sh.locals.len();
        (1..n).find_map(|k| self.sh.locals[(self.idx + k) % n].steal())
    }

    pub(super) fn has_work(&self) -> bool {
        !self.local.is_empty() || self.queued_work() || self.sh.all_done()
    }

    /// A task became ready on this thread: dependency-only tasks go to the
    /// dummy queue, the others stay local while there is room (the shared
    /// queues and a wakeup otherwise).
    #[inline]
    pub(super) fn make_ready(&mut self, c: &crate::runtime::trb::layout::SlotState) {
        let v = SlotRef::of(c).bits();
        let shp = shape_of(c.active_mask.load(Relaxed));
        if shp == shape::DUMMY {
            self.sh.dummy.push(v);
            self.sh.parker.wake_one();
        } else if !self.local.push(v) {
            self.sh.ready.push(shp, v, Some(self.home));
            self.sh.parker.wake_one();
        }
    }

    /// Pushes `v` to the shared ready queue of its shape (home shard first).
    fn push_shared(&self, v: u64) {
        let s = self.sh.slot_of(SlotRef::from_bits(v));
        self.sh.ready.push(shape_of(s.active_mask.load(Relaxed)), v, Some(self.home));
    }

    /// The next task: this thread's oldest local one, else one of the
    /// shared queues, else one stolen from another thread. Keeping more
    /// local tasks than the one it takes, it wakes a thread that sleeps (or
    /// a dormant one it may start) to steal them; spinning threads find
    /// them by themselves (`queued_work`).
    #[inline]
    pub(super) fn next_task(&mut self) -> Option<u64> {
        if let Some(v) = self.local.pop() {
            if !self.local.is_empty() && self.sh.parker.wakeable() {
                self.sh.parker.wake_one();
            }
            return Some(v);
        }
        let sh = self.sh;
        if let Some(v) = sh.ready.pop(shape::MIX, self.home) {
            return Some(v);
        }
        let order = if self.odd { [shape::AIV, shape::AIC] } else { [shape::AIC, shape::AIV] };
        order.iter().find_map(|&k| sh.ready.pop(k, self.home)).or_else(|| self.steal())
    }

    pub(super) fn requeue(&self, v: u64, shp: usize) {
        self.sh.ready.push(shp, v, Some(self.home));
    }

    /// A kernel of task `raw` failed (threw or panicked): a user-code fatal.
    pub(super) fn kernel_failed(&self, raw: u64, msg: &str) {
        let msg = format!("kernel failure in task 0x{raw:x}: {msg}");
        crate::diagnostics::log::error("scheduler", &msg);
        self.sh.latch_fatal(FatalSource::UserCode, 0, &msg);
    }

    pub(super) fn check_async(&self, buf: &DispatchBuffer) {
        if buf.slab.count > 0 {
            let msg = "kernel registered async completion conditions, which the simulated device does not support";
            self.sh.latch_sched(101, msg);
        }
    }

    #[inline]
    pub(super) fn subtasks_done(&mut self, s: &crate::runtime::trb::layout::SlotState, n: i16) {
        let total = s.total_required_subtasks.load(Relaxed);
        // A task whose subtasks all ran in this call (one block, as most)
        // needs no shared count: no other thread completes any of them.
        let prev = if n >= total { 0 } else { s.completed_subtasks.fetch_add(n, AcqRel) };
        if prev + n >= total {
            let sh = self.sh;
            sh.finish_task(s, |c| self.make_ready(c));
            if self.count_finished() && sh.all_done() {
                sh.end_run();
            }
        }
    }

    /// Counts a task this thread finished in the run's `completed`: at
    /// once when the orchestration is done (the count may be the run's
    /// last; true then), else once [`COMPLETED_BATCH`] are pending. Every
    /// pending count is added before this thread checks for the end of the
    /// run idle, parks or leaves the run ([`flush_finished`](Self::flush_finished)),
    /// so the run still ends when its last task is counted: either this
    /// thread sees `orch_done` here, or it is idle later, or the
    /// orchestrator's own end check (after it sets `orch_done`, both
    /// `SeqCst`) sees the count.
    ///
    /// Why: the count was a locked add per task, which waits for the
    /// thread's pending stores (the slot resets of the task) to drain; in a
    /// `perf record` of the 1M independent tasks bench it and the load
    /// after it held 39% of `subtasks_done`'s samples. The watchdog reads
    /// `completed` as progress only over its whole budget, so a batch's
    /// delay does not change what it sees.
    #[inline]
    fn count_finished(&mut self) -> bool {
        self.uncounted += 1;
        if self.uncounted >= COMPLETED_BATCH || self.sh.orch_done.load(Relaxed) {
            self.flush_finished();
            return true;
        }
        false
    }

    /// Adds the pending counts of [`count_finished`](Self::count_finished).
    #[inline]
    pub(super) fn flush_finished(&mut self) {
        if self.uncounted > 0 {
            self.sh.completed.fetch_add(self.uncounted, SeqCst);
            self.uncounted = 0;
        }
    }
}
