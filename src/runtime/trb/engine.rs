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
//! * Completions make consumers ready; the first one is kept as the thread's
//!   local next task (chain hops stay on one thread), the rest go to the
//!   shared ready queues.
//! * Idle threads spin for `idle_spin_us`, then park (1 ms timeout, used for
//!   the watchdog); pushers wake one parked thread. Between runs the threads
//!   block on a channel and use no CPU.
//!
//! # Knobs
//! * `ready_queue_shards` (1..=4): each shape's ready queue is split into that
//!   many independent MPMC queues. Scheduler `t` pushes to and pops from shard
//!   `t % shards` first and steals from the others when its shard is empty;
//!   the orchestrator/wiring side pushes round robin. 1 = one shared queue.
//! * `orch_to_sched`: after orchestration finishes, the calling thread joins
//!   scheduling as an extra scheduler (it owns no cluster and uses any idle
//!   core) instead of just waiting for completion.

use super::api::OrchestratorApi;
use super::layout::{
    codes, status_from_codes, task_id, Region, TaskPayload, TrbMemory, DEFAULT_SCHEDULER_TIMEOUT_MS, MAX_RINGS,
    READY_QUEUE_SIZE, TENSORMAP_NUM_BUCKETS, TENSORMAP_POOL_SIZE, WIRING_QUEUE_SIZE,
};
use super::orchestrator::{OrchTables, Orchestrator};
use super::pools::{DepListPool, FaninPool};
use super::queue::{ReadyQueue, WiringQueue};
use super::ring::RingShared;
pub use super::shared::SimCore;
use super::shared::{
    shape, shape_of, stall, CoreSlot, FatalSource, FatalState, Parker, ReadyQueues, RunShared, StallInfo, WiringState,
    FLAG_SYNC_START, LANE_AIC, LANE_AIV0, LANE_AIV1,
};
use super::stats::ScopeStatRecord;
use crate::diagnostics::{Error, Result};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The orchestration a run executes (on the orchestrator thread).
pub type Orchestrate<'a> = dyn FnMut(&mut dyn OrchestratorApi) -> Result<()> + 'a;

/// Runs kernels on simulated cores.
pub trait CoreExecutor: Sync {
    /// Runs one subtask: `args` points at the 50-entry kernel argument array
    /// of a dispatch payload (§5.2); `core` is the simulated core. An error
    /// (e.g. the kernel threw) fails the run with that message.
    fn run_subtask(&self, func_id: i32, args: *mut u64, core: SimCore) -> std::result::Result<(), String>;
}

// The dispatch payload and its contexts are ABI types (orch_abi.md §5.2),
// defined once in the orchestration layout module.
pub use crate::runtime::trb::orchestration::layout::{
    AsyncCtx, GlobalContext, LocalContext, PTO2DispatchPayload as DispatchPayload,
};

/// `DeferredCompletionSlab` (1600 B).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CompletionSlab {
    /// Registered conditions.
    pub count: u32,
    /// Error code.
    pub error_code: i32,
    /// 64 × 24-byte entries.
    pub entries: [u8; 64 * 24],
    /// Padding to 1600 B.
    pub _pad: [u8; 56],
}
const _: () = assert!(std::mem::size_of::<CompletionSlab>() == 1600);

/// Boxed dispatch buffer (kept boxed so its address is stable).
type DispatchBox = Box<DispatchBuffer>;

/// A dispatch payload with its completion slab.
#[repr(C, align(64))]
struct DispatchBuffer {
    payload: DispatchPayload,
    slab: CompletionSlab,
}

impl DispatchBuffer {
    fn new() -> Box<DispatchBuffer> {
        Box::new(DispatchBuffer {
            payload: DispatchPayload {
                function_bin_addr: 0,
                args: [0; 50],
                local_context: LocalContext {
                    block_idx: 0,
                    block_num: 1,
                    async_ctx: AsyncCtx {
                        completion_count: std::ptr::null_mut(),
                        completion_error_code: std::ptr::null_mut(),
                        completion_entries: std::ptr::null_mut(),
                        completion_capacity: 64,
                        pad: 0,
                        task_token: 0,
                    },
                },
                global_context: GlobalContext { sub_block_id: 0 },
                not_ready: 0,
                reserved: 0,
            },
            slab: CompletionSlab { count: 0, error_code: 0, entries: [0; 64 * 24], _pad: [0; 56] },
        })
    }

    /// Fills the payload for one subtask of the task with payload `p`.
    fn prepare(&mut self, p: *const TaskPayload, raw: u64, block: i32, blocks: i32, core: SimCore) {
        // SAFETY: `p` is the payload of a published, not yet completed task;
        // it is immutable while the task runs.
        let pl = unsafe { &*p };
        let t = (pl.tensor_count.max(0) as usize).min(32);
        let s = (pl.scalar_count.max(0) as usize).min(16);
        for i in 0..t {
            self.payload.args[i] = &pl.tensors[i] as *const _ as u64;
        }
        self.payload.args[t..t + s].copy_from_slice(&pl.scalars[..s]);
        self.slab.count = 0;
        self.slab.error_code = 0;
        let lc = &mut self.payload.local_context;
        lc.block_idx = block;
        lc.block_num = blocks;
        lc.async_ctx.completion_count = &mut self.slab.count;
        lc.async_ctx.completion_error_code = &mut self.slab.error_code;
        lc.async_ctx.completion_entries = self.slab.entries.as_mut_ptr().cast();
        lc.async_ctx.task_token = raw;
        self.payload.global_context.sub_block_id = if core.is_aic { 0 } else { core.lane as i32 };
        self.payload.args[48] = &self.payload.local_context as *const _ as u64;
        self.payload.args[49] = &self.payload.global_context as *const _ as u64;
    }

    fn args(&mut self) -> *mut u64 {
        self.payload.args.as_mut_ptr()
    }
}

/// Engine construction options.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Scheduler threads created up front (more are created on demand).
    pub initial_sched_threads: usize,
    /// How long an idle thread spins before parking (µs).
    pub idle_spin_us: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { initial_sched_threads: 2, idle_spin_us: 50 }
    }
}

/// Per-run parameters.
#[derive(Debug, Clone, Copy)]
pub struct RunParams {
    /// Clusters (cores = 3 × block_dim).
    pub block_dim: u32,
    /// Scheduler threads (`aicpu_thread_num − 1`, ≥ 1).
    pub sched_threads: usize,
    /// Ready-queue shards per shape (1..=4).
    pub ready_queue_shards: u32,
    /// Whether the orchestrator thread joins scheduling when done.
    pub orch_to_sched: bool,
    /// Watchdog budget (0 = 10000 ms default).
    pub scheduler_timeout_ms: u64,
    /// Task windows per ring (power of two, ≥ 4).
    pub windows: [u32; 4],
    /// Heaps per ring (≥ 1024 bytes).
    pub heaps: [u64; 4],
    /// Dep pools per ring (≥ 4).
    pub dep_pools: [u32; 4],
    /// Record scope statistics.
    pub scope_stats: bool,
    /// Record the task trace (`RunReport::trace`).
    pub trace: bool,
}

impl Default for RunParams {
    fn default() -> Self {
        RunParams {
            block_dim: 3,
            sched_threads: 2,
            ready_queue_shards: 1,
            orch_to_sched: false,
            scheduler_timeout_ms: 0,
            windows: [super::layout::DEFAULT_TASK_WINDOW; 4],
            heaps: [super::layout::DEFAULT_HEAP_SIZE; 4],
            dep_pools: [super::layout::DEFAULT_DEP_POOL; 4],
            scope_stats: false,
            trace: false,
        }
    }
}

/// Outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// 0 or the negative PTO2 status.
    pub status: i32,
    /// First orchestrator code.
    pub orch_error_code: i32,
    /// First scheduler code.
    pub sched_error_code: i32,
    /// Stall sub-class (code 100 only).
    pub stall_detail: i32,
    /// Stall locator (code 100 only).
    pub stall: StallInfo,
    /// Whether a fatal was latched (also `report_fatal(0, …)`).
    pub fatal: bool,
    /// Failure description (ring, usage, knob and env var to raise); later
    /// errors follow the first as `[later errors: …]`.
    pub message: String,
    /// Source of the first fatal error, if any.
    pub first_source: Option<FatalSource>,
    /// Set when a thread stuck in user code was abandoned (the engine is
    /// then poisoned): what was abandoned.
    pub abandoned: Option<String>,
    /// Σ current_task_index.
    pub total_tasks: u64,
    /// Completed tasks.
    pub completed_tasks: u64,
    /// Scope statistics records.
    pub scope_stats: Vec<ScopeStatRecord>,
    /// (windows, heaps, dep pools) used.
    pub capacities: ([u64; 4], [u64; 4], [u64; 4]),
    /// The task trace (traced runs only).
    pub(crate) trace: Option<super::trace::TraceLog>,
}

#[derive(Clone, Copy)]
struct ExecRef(*const (dyn CoreExecutor + 'static));
// SAFETY: the executor is Sync; the pointer is only dereferenced while the
// `run` call that lent it is still waiting for every user to finish, or,
// after that run abandoned a stuck thread, while the caller keeps the
// executor alive forever (the `run` contract).
unsafe impl Send for ExecRef {}
// SAFETY: as above.
unsafe impl Sync for ExecRef {}

impl ExecRef {
    fn get(&self) -> &dyn CoreExecutor {
        // SAFETY: see the Send impl: `run` outlives every use.
        unsafe { &*self.0 }
    }
}

struct GangJob {
    exec: ExecRef,
    func: i32,
    args: usize,
    core: SimCore,
    done: Arc<AtomicUsize>,
    failure: Arc<Mutex<Option<String>>>,
}

/// Runs one subtask inside a panic boundary; the failure message, if any.
fn run_guarded(exec: ExecRef, func: i32, args: *mut u64, core: SimCore) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(|| exec.get().run_subtask(func, args, core))) {
        Ok(Ok(())) => None,
        Ok(Err(m)) => Some(m),
        Err(p) => Some(format!("kernel func_id={func} panicked on the simulated device: {}", panic_text(&*p))),
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

fn keep_first(slot: &Mutex<Option<String>>, msg: String) {
    let mut g = slot.lock().unwrap_or_else(|e| e.into_inner());
    if g.is_none() {
        *g = Some(msg);
    }
}

struct Helper {
    job: Mutex<Option<GangJob>>,
    cv: Condvar,
}

/// Parked helper threads that run the extra lanes of a gang dispatch.
struct Gang {
    idle: Mutex<Vec<Arc<Helper>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    shutdown: AtomicBool,
}

impl Gang {
    fn new() -> Arc<Gang> {
        Arc::new(Gang {
            idle: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
        })
    }

    fn helper(self: &Arc<Gang>) -> Arc<Helper> {
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

    fn helper_loop(self: Arc<Gang>, me: Arc<Helper>) {
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
    fn run_all(self: &Arc<Gang>, exec: ExecRef, jobs: &mut [(i32, Box<DispatchBuffer>, SimCore)]) -> Option<String> {
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
        let mut spins = 0u32;
        while done.load(Acquire) != 0 {
            spins += 1;
            if spins < 256 {
                std::hint::spin_loop();
            } else if spins < 4096 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
        let f = failure.lock().unwrap_or_else(|e| e.into_inner()).take();
        f
    }

    fn stop(&self) {
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

struct Job {
    sh: Arc<RunShared>,
    idx: usize,
    nsched: usize,
    exec: ExecRef,
    done: Arc<(Mutex<Completion>, Condvar)>,
}

struct Worker {
    tx: mpsc::Sender<Job>,
    handle: std::thread::JoinHandle<()>,
}

/// The engine: persistent scheduler threads plus the gang pool.
pub struct TrbEngine {
    config: EngineConfig,
    workers: Vec<Worker>,
    orch: Option<OrchWorker>,
    gang: Arc<Gang>,
    poisoned: Option<String>,
}

impl TrbEngine {
    /// Creates the engine and its initial threads.
    pub fn new(config: EngineConfig) -> Result<TrbEngine> {
        let mut e = TrbEngine { config, workers: Vec::new(), orch: None, gang: Gang::new(), poisoned: None };
        e.ensure_workers(config.initial_sched_threads)?;
        Ok(e)
    }

    fn ensure_workers(&mut self, n: usize) -> Result<()> {
        while self.workers.len() < n {
            let (tx, rx) = mpsc::channel::<Job>();
            let gang = self.gang.clone();
            let spin = self.config.idle_spin_us;
            let handle = std::thread::Builder::new()
                .name(format!("trb-sched{}", self.workers.len()))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        let Job { sh, idx, nsched, exec, done } = job;
                        let r = catch_unwind(AssertUnwindSafe(|| {
                            let mut s = Sched::new(&sh, idx, nsched, exec, &gang, spin);
                            s.run_loop();
                            s.flush_trace();
                        }));
                        if r.is_err() {
                            // A bug in the scheduler must not hang the run.
                            sh.latch_fatal(FatalSource::Scheduler, 0, "internal error: a scheduler thread panicked");
                        }
                        drop(sh);
                        let (m, cv) = &*done;
                        m.lock().unwrap_or_else(|e| e.into_inner()).sched_left -= 1;
                        cv.notify_all();
                    }
                })
                .map_err(|e| Error::State(format!("cannot spawn scheduler thread: {e}")))?;
            self.workers.push(Worker { tx, handle });
        }
        Ok(())
    }

    fn validate(memory: &TrbMemory, p: &RunParams) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if p.block_dim == 0 || p.block_dim > 36 {
            return bad(format!("block_dim must be in 1..=36 (got {})", p.block_dim));
        }
        if p.block_dim as usize > 21 * p.sched_threads.max(1) {
            return bad("too many clusters per scheduler thread (max 21)".into());
        }
        if p.sched_threads == 0 || p.sched_threads > 7 {
            return bad(format!("sched_threads must be in 1..=7 (got {})", p.sched_threads));
        }
        if !(1..=4).contains(&p.ready_queue_shards) {
            return bad(format!("ready_queue_shards must be in 1..=4 (got {})", p.ready_queue_shards));
        }
        for r in 0..MAX_RINGS {
            let m = &memory.rings[r];
            let w = p.windows[r];
            if w < 4 || !w.is_power_of_two() || w > m.window {
                return bad(format!(
                    "ring {r}: task window {w} must be a power of two in [4, {}] (PTO2_RING_TASK_WINDOW)",
                    m.window
                ));
            }
            if p.heaps[r] < 1024 || p.heaps[r] > m.heap_size {
                return bad(format!(
                    "ring {r}: heap {} must be in [1024, {}] (PTO2_RING_HEAP)",
                    p.heaps[r], m.heap_size
                ));
            }
            if p.dep_pools[r] < 4 || p.dep_pools[r] > m.dep_pool {
                return bad(format!(
                    "ring {r}: dep pool {} must be in [4, {}] (PTO2_RING_DEP_POOL)",
                    p.dep_pools[r], m.dep_pool
                ));
            }
            if m.descriptors.is_null() || m.payloads.is_null() || m.slot_states.is_null() || m.heap.is_null() {
                return bad(format!("ring {r}: memory not provided"));
            }
        }
        let sum: usize = p.windows.iter().map(|&w| w as usize).sum();
        if memory.scope_tasks_cap < sum {
            return bad("scope_tasks region smaller than the sum of task windows".into());
        }
        Ok(())
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
        Self::validate(memory, &params)?;
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
        let done = Arc::new((Mutex::new(Completion { sched_left: nsched, orch: None }), Condvar::new()));
        for idx in 0..nsched {
            let job = Job { sh: sh.clone(), idx, nsched, exec, done: done.clone() };
            if self.workers[idx].tx.send(job).is_err() {
                let (m, _) = &*done;
                m.lock().unwrap_or_else(|e| e.into_inner()).sched_left -= 1;
            }
        }
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
            done: done.clone(),
        };
        let orch_tx = &self.orch.as_ref().expect("ensured above").tx;
        if orch_tx.send(job).is_err() {
            return Err(Error::State("the orchestrator thread is gone".into()));
        }
        // Watchdog: wait for the end of the run, checking every 1/20 budget
        // (1..=20 ms): the fire lands at most that late after one budget.
        let tick = Duration::from_millis((sh.timeout_ms / 20).clamp(1, 20));
        while !sh.run_complete.load(Acquire) {
            if sh.all_done() {
                sh.end_run();
                break;
            }
            sh.completion.announce();
            std::sync::atomic::fence(SeqCst);
            if !sh.run_complete.load(SeqCst) {
                std::thread::park_timeout(tick);
            }
            sh.completion.retract();
            sh.watchdog(true);
        }
        let abandoned = self.wait_threads(&sh, &done);
        let (m, _) = &*done;
        let orch = m.lock().unwrap_or_else(|e| e.into_inner()).orch.take();
        let (outcome, stats, user_first, orch_marks) = match orch {
            Some(o) => (Some(o.outcome), o.stats, o.user_first, o.orch_marks),
            None => (None, Vec::new(), false, Vec::new()),
        };
        if let Some(what) = abandoned {
            let mut report = make_report(&sh, &params, stats);
            let msg = format!(
                "{what} did not return within the watchdog budget (scheduler_timeout_ms={} / PTO2_SCHEDULER_TIMEOUT_MS) and was abandoned",
                sh.timeout_ms
            );
            crate::diagnostics::log::error("trb_engine", &msg);
            report.message = format!("{}; {msg}", report.message);
            report.abandoned = Some(msg.clone());
            self.poisoned = Some(msg);
            return Ok(report);
        }
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
        let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if g.sched_left == 0 && g.orch.is_some() {
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

    fn ensure_orch_thread(&mut self) -> Result<()> {
        if self.orch.is_some() {
            return Ok(());
        }
        let (tx, rx) = mpsc::channel::<OrchJob>();
        let handle = std::thread::Builder::new()
            .name("trb-orch".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job.execute();
                }
            })
            .map_err(|e| Error::State(format!("cannot spawn the orchestrator thread: {e}")))?;
        self.orch = Some(OrchWorker { tx, handle });
        Ok(())
    }
}

/// Completion accounting of one run's threads.
struct Completion {
    /// Scheduler jobs still running.
    sched_left: usize,
    /// The orchestrator thread's result, once it finished.
    orch: Option<OrchOutcome>,
}

/// What the orchestrator thread hands back.
struct OrchOutcome {
    outcome: std::thread::Result<Result<()>>,
    stats: Vec<ScopeStatRecord>,
    /// Whether the orchestration's own failure was the run's first fatal.
    user_first: bool,
    /// Orchestrator-lane trace marks (empty unless the run traces).
    orch_marks: Vec<super::trace::OrchMark>,
}

struct SendTables(OrchTables);
// SAFETY: the tables are region views into this run's memory, used only by
// the orchestrator thread that receives them.
unsafe impl Send for SendTables {}

struct OrchFn(*mut Orchestrate<'static>);
// SAFETY: the closure is called only on the orchestrator thread, while the
// run that lent it waits (or keeps it alive forever after abandonment).
unsafe impl Send for OrchFn {}

/// The orchestrator side of one run, executed on the orchestrator thread.
struct OrchJob {
    sh: Arc<RunShared>,
    tables: SendTables,
    orchestrate: OrchFn,
    exec: ExecRef,
    gang: Arc<Gang>,
    spin_us: u64,
    nsched: usize,
    block_dim: u32,
    orch_to_sched: bool,
    /// Record the orchestrator lane of the task trace.
    trace: bool,
    done: Arc<(Mutex<Completion>, Condvar)>,
}

impl OrchJob {
    fn execute(self) {
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
            done,
        } = self;
        let sh = &*shared;
        let bd = block_dim;
        let mut orch = Orchestrator::new(sh, tables.0, bd, 2 * bd);
        orch.scope_begin(super::api::ScopeMode::Auto);
        let f = orchestrate.0;
        sh.orch_epoch.0.fetch_add(1, SeqCst); // now in user code
        let mut orch_marks = Vec::new();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: see OrchFn: the closure is alive and used by this thread only.
            let f = unsafe { &mut *f };
            let mut tracked = Tracked(&mut orch);
            if trace {
                let mut t = super::trace::TracingOrch::new(&mut tracked, sh.start, 0);
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
            let mut s = Sched::new(sh, nsched, nsched, exec, &gang, spin_us);
            s.run_loop();
            s.flush_trace();
        }
        // The run's thread must hold no reference to the run state once it
        // reports completion.
        drop(shared);
        let (m, cv) = &*done;
        m.lock().unwrap_or_else(|e| e.into_inner()).orch = Some(OrchOutcome { outcome, stats, user_first, orch_marks });
        cv.notify_all();
    }
}

/// The orchestrator as user code sees it: every call is bracketed by
/// `orch_epoch` increments (odd = inside the runtime, even = in user code),
/// which the watchdog reads to tell a stuck orchestration from a busy one.
struct Tracked<'a, 's>(&'a mut Orchestrator<'s>);

impl Tracked<'_, '_> {
    fn call<R>(&mut self, f: impl FnOnce(&mut Orchestrator<'_>) -> R) -> R {
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
        kernels: super::api::MixedKernelIds,
        args: &super::api::TaskArgsView<'_>,
    ) -> super::api::SubmitOutcome {
        self.call(|o| o.submit_task(kernels, args))
    }
    fn submit_dummy_task(&mut self, args: &super::api::TaskArgsView<'_>) -> super::api::SubmitOutcome {
        self.call(|o| o.submit_dummy_task(args))
    }
    fn alloc_tensors(&mut self, args: &super::api::TaskArgsView<'_>) -> super::api::SubmitOutcome {
        self.call(|o| o.alloc_tensors(args))
    }
    fn scope_begin(&mut self, mode: super::api::ScopeMode) {
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
}

struct OrchWorker {
    tx: mpsc::Sender<OrchJob>,
    handle: std::thread::JoinHandle<()>,
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

fn make_report(sh: &RunShared, p: &RunParams, scope_stats: Vec<ScopeStatRecord>) -> RunReport {
    let orch = sh.orch_error.load(Acquire);
    let sched = sh.sched_error.load(Acquire);
    let stall_info = if sched == codes::SCHEDULER_TIMEOUT {
        *sh.stall.lock().unwrap_or_else(|e| e.into_inner())
    } else {
        StallInfo::default()
    };
    let (first, mut message) = {
        let f = sh.fatal.lock().unwrap_or_else(|e| e.into_inner());
        let mut m = f.first.as_ref().map(|(_, _, m)| m.clone()).unwrap_or_default();
        if !f.secondary.is_empty() {
            m = format!("{m} [later errors: {}]", f.secondary.join("; "));
        }
        (f.first.as_ref().map(|(s, _, _)| *s), m)
    };
    if orch != 0 || sched != 0 {
        message = format!(
            "PTO2 runtime failed: orch_error_code={orch} ({}) sched_error_code={sched} ({}) runtime_status={}{}: {message}",
            codes::name(orch),
            codes::name(sched),
            status_from_codes(orch, sched),
            if sched == codes::SCHEDULER_TIMEOUT {
                format!(" sub_class={}", stall::label(stall_info.detail))
            } else {
                String::new()
            }
        );
    }
    RunReport {
        status: status_from_codes(orch, sched),
        orch_error_code: orch,
        sched_error_code: sched,
        stall_detail: stall_info.detail,
        stall: stall_info,
        fatal: orch != 0 || sched != 0 || sh.fatal_flag.load(Acquire),
        first_source: first,
        abandoned: None,
        message,
        total_tasks: sh.rings.iter().map(|r| r.current_task_index.load(Acquire)).sum(),
        completed_tasks: sh.completed.load(Acquire),
        scope_stats,
        capacities: (p.windows.map(|w| w as u64), p.heaps, p.dep_pools.map(|d| d as u64)),
        trace: None,
    }
}

/// Whether ring `r`'s oldest live task (`la`) is a fanin of a task still in
/// the wiring queue. Dep-pool entries of a ring are freed only as its oldest
/// task retires, which needs every consumer of that task to complete, and a
/// consumer cannot run before it is wired: while the queue head waits for
/// entries of this ring, such a consumer makes the wait permanent. Call only
/// while holding the wiring lock.
fn head_waits_on_unwired(sh: &RunShared, r: usize, la: u64) -> bool {
    let ring = &sh.rings[r];
    if la >= ring.current_task_index.load(Acquire) {
        return false;
    }
    let head = ring.slot(la) as *const super::layout::SlotState;
    let mut found = false;
    sh.wiring.for_each_pending(|v| {
        // SAFETY: queued values are slot-state pointers of published tasks;
        // their payload fanin fields are immutable until they are consumed,
        // which cannot happen before they are wired.
        let payload = unsafe { (*(v as *const super::layout::SlotState)).payload.load(Relaxed) };
        // SAFETY: as above.
        unsafe { sh.for_each_fanin(payload, |p| found |= std::ptr::eq(p, head)) };
        !found
    });
    // Still the head (not retired and reused meanwhile): the wait is permanent.
    found && ring.last_task_alive.load(Acquire) == la
}

/// Builds the shared run state and the orchestrator tables over `memory`.
pub(crate) fn build_run(memory: &TrbMemory, p: &RunParams) -> (RunShared, OrchTables) {
    let mut rings = Vec::new();
    let mut fanin_pools = Vec::new();
    let mut seen = Vec::new();
    let mut dep_pools = Vec::new();
    let mut heads: Vec<Region<u64>> = Vec::new();
    let mut spill_pools = [(0usize, 0u64); MAX_RINGS];
    for (r, m) in memory.rings.iter().enumerate() {
        let w = p.windows[r] as usize;
        let d = p.dep_pools[r] as usize;
        // SAFETY (all from_raw calls below): the TrbMemory contract gives each
        // pointer at least the capacity recorded in `memory`, validated to be
        // ≥ the sizes used here, exclusively for this run.
        unsafe {
            rings.push(RingShared::new(
                r,
                Region::from_raw(m.descriptors, w),
                Region::from_raw(m.payloads, w),
                Region::from_raw(m.slot_states, w),
                m.heap as u64,
                p.heaps[r],
            ));
            let pool = FaninPool::new(Region::from_raw(m.fanin_spill, d));
            spill_pools[r] = (pool.base() as usize, d as u64);
            fanin_pools.push(pool);
            let mut s = Region::from_raw(m.fanin_seen_epoch, w);
            s.as_mut_slice().fill(0);
            seen.push(s);
            dep_pools.push(DepListPool::new(Region::from_raw(m.dep_list, d), w));
            heads.push(Region::from_raw(m.task_entry_heads, w));
        }
    }
    let shards = p.ready_queue_shards as usize;
    let shard_cap = (READY_QUEUE_SIZE / shards).next_power_of_two()
        >> if (READY_QUEUE_SIZE / shards).is_power_of_two() { 0 } else { 1 };
    let mut ready_regions = Vec::new();
    for q in 0..3 {
        let mut v = Vec::new();
        for k in 0..shards {
            // SAFETY: shard k covers cells [k*cap, (k+1)*cap) of a 65536-cell region.
            v.push(unsafe { Region::from_raw(memory.ready_queues[q].wrapping_add(k * shard_cap), shard_cap) });
        }
        ready_regions.push(v);
    }
    let heads_arr: [Region<u64>; MAX_RINGS] = heads.try_into().unwrap_or_else(|_| unreachable!());
    let cores = (0..3 * p.block_dim).map(|_| CoreSlot::default()).collect();
    let timeout_ms = if p.scheduler_timeout_ms > 0 { p.scheduler_timeout_ms } else { DEFAULT_SCHEDULER_TIMEOUT_MS };
    // SAFETY: as above (TrbMemory contract).
    let (tensormap, scope_tasks, dummy, wiring) = unsafe {
        (
            super::tensormap::TensorMap::new(
                Region::from_raw(memory.tm_buckets, TENSORMAP_NUM_BUCKETS),
                Region::from_raw(memory.tm_entries, TENSORMAP_POOL_SIZE),
                Region::from_raw(memory.tm_free_list, TENSORMAP_POOL_SIZE),
                heads_arr,
            ),
            Region::from_raw(memory.scope_tasks, p.windows.iter().map(|&w| w as usize).sum()),
            ReadyQueue::new(Region::from_raw(memory.ready_queues[3], READY_QUEUE_SIZE)),
            WiringQueue::new(Region::from_raw(memory.wiring, WIRING_QUEUE_SIZE)),
        )
    };
    let sh = RunShared {
        rings,
        spill_pools,
        ready: ReadyQueues::new(ready_regions),
        dummy,
        wiring,
        wiring_state: Mutex::new(WiringState { dep_pools, reported: [false; MAX_RINGS] }),
        producer_blocked: AtomicBool::new(false),
        orch_error: Default::default(),
        sched_error: Default::default(),
        fatal_flag: AtomicBool::new(false),
        stall: Mutex::new(StallInfo::default()),
        fatal: Mutex::new(FatalState::default()),
        orch_epoch: super::shared::CachePadded(AtomicU64::new(1)),
        watchdog_seen_epoch: AtomicU64::new(1),
        orch_done: AtomicBool::new(false),
        total_tasks: AtomicU64::new(0),
        submitted: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        run_complete: AtomicBool::new(false),
        cores,
        block_dim: p.block_dim,
        last_progress_ms: AtomicU64::new(0),
        start: Instant::now(),
        timeout_ms,
        watchdog_seen_submitted: AtomicU64::new(0),
        scope_stats: p.scope_stats,
        trace: p.trace.then(super::trace::TraceSink::default),
        dep_snapshot: std::array::from_fn(|_| (AtomicI64::new(1), AtomicI64::new(1))),
        parker: Parker::default(),
        completion: Parker::default(),
        drain_owner: AtomicUsize::new(0),
    };
    let tables = OrchTables { fanin_pools, seen, tensormap, scope_tasks };
    (sh, tables)
}

/// One scheduler thread's state for a run.
struct Sched<'a> {
    sh: &'a RunShared,
    idx: usize,
    home: usize,
    exec: ExecRef,
    gang: &'a Arc<Gang>,
    own_aic: Vec<SimCore>,
    own_aiv: Vec<SimCore>,
    own_clusters: Vec<u32>,
    local: Option<u64>,
    buf: Box<DispatchBuffer>,
    mix_bufs: Vec<DispatchBox>,
    odd: bool,
    spin: Duration,
    rr: usize,
    /// Task trace on (run constant) and this thread's spans.
    trace_on: bool,
    spans: Vec<super::trace::TaskSpan>,
}

impl<'a> Sched<'a> {
    fn new(
        sh: &'a RunShared,
        idx: usize,
        nsched: usize,
        exec: ExecRef,
        gang: &'a Arc<Gang>,
        spin_us: u64,
    ) -> Sched<'a> {
        let bd = sh.block_dim;
        let own_clusters: Vec<u32> =
            if idx < nsched { (0..bd).filter(|c| *c as usize % nsched == idx).collect() } else { Vec::new() };
        let own_aic = own_clusters.iter().map(|&c| SimCore::aic(c)).collect();
        let own_aiv = own_clusters.iter().flat_map(|&c| [SimCore::aiv(c, 0, bd), SimCore::aiv(c, 1, bd)]).collect();
        Sched {
            sh,
            idx,
            home: idx % sh.ready.num_shards(),
            exec,
            gang,
            own_aic,
            own_aiv,
            own_clusters,
            local: None,
            buf: DispatchBuffer::new(),
            mix_bufs: (0..2).map(|_| DispatchBuffer::new()).collect(),
            odd: idx % 2 == 1,
            spin: Duration::from_micros(spin_us),
            rr: 0,
            trace_on: sh.trace.is_some(),
            spans: if sh.trace.is_some() { Vec::with_capacity(super::trace::SPANS_PER_THREAD) } else { Vec::new() },
        }
    }

    /// Clock of the task trace (0 when tracing is off).
    #[inline]
    fn trace_now(&self) -> u64 {
        if self.trace_on {
            super::trace::since(self.sh.start)
        } else {
            0
        }
    }

    /// Records one dispatch: a span per core, sharing `start`.
    #[inline]
    fn trace_dispatch(&mut self, task: u64, start_ns: u64, cores: impl Iterator<Item = (i32, u32)>) {
        if self.trace_on {
            let end_ns = super::trace::since(self.sh.start);
            let sched = self.idx as u32;
            for (k, (func, core)) in cores.enumerate() {
                self.spans.push(super::trace::TaskSpan { task, func, core, sched, lead: k == 0, start_ns, end_ns });
            }
        }
    }

    /// Hands this thread's spans to the run (once, at the end of its loop).
    fn flush_trace(&mut self) {
        if let Some(sink) = &self.sh.trace {
            sink.merge(&mut self.spans);
        }
    }

    fn run_loop(&mut self) {
        let sh = self.sh;
        let mut idle_since: Option<Instant> = None;
        let mut idle_iter = 0u64;
        loop {
            if sh.run_complete.load(Acquire) {
                break;
            }
            if sh.failed() {
                sh.end_run();
                break;
            }
            if sh.all_done() {
                sh.end_run();
                break;
            }
            let mut progress = false;
            if !sh.wiring.is_empty() {
                if let Ok(mut ws) = sh.wiring_state.try_lock() {
                    progress |= self.drain_wiring(&mut ws);
                }
            }
            for _ in 0..16 {
                let Some(v) = sh.dummy.pop() else { break };
                // SAFETY: queued values are slot-state pointers of live tasks.
                let s = unsafe { &*(v as *const super::layout::SlotState) };
                sh.finish_task(s, |c| self.make_ready(c));
                progress = true;
            }
            if let Some(v) = self.next_task() {
                progress |= self.execute(v);
            }
            if progress {
                idle_since = None;
                idle_iter = 0;
                continue;
            }
            idle_iter += 1;
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() < self.spin {
                if idle_iter % 64 == 0 {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
                continue;
            }
            sh.parker.announce();
            std::sync::atomic::fence(SeqCst);
            if !self.has_work() && !sh.run_complete.load(Acquire) {
                std::thread::park_timeout(Duration::from_millis(1));
            }
            sh.parker.retract();
            sh.watchdog(false);
        }
        // Hand a held local task back (only matters on emergency exit).
        if let Some(v) = self.local.take() {
            // SAFETY: as above.
            let s = unsafe { &*(v as *const super::layout::SlotState) };
            sh.ready.push(shape_of(s.active_mask.load(Relaxed)), v, Some(self.home));
        }
    }

    fn has_work(&self) -> bool {
        let sh = self.sh;
        self.local.is_some()
            || !sh.wiring.is_empty()
            || !sh.dummy.is_empty_hint()
            || (0..3).any(|k| sh.ready.has_work(k))
            || sh.all_done()
    }

    fn make_ready(&mut self, c: &super::layout::SlotState) {
        let v = c as *const _ as u64;
        let shp = shape_of(c.active_mask.load(Relaxed));
        if shp == shape::DUMMY {
            self.sh.dummy.push(v);
            self.sh.parker.wake_one();
        } else if self.local.is_none() {
            self.local = Some(v);
        } else {
            self.sh.ready.push(shp, v, Some(self.home));
            self.sh.parker.wake_one();
        }
    }

    fn next_task(&mut self) -> Option<u64> {
        if let Some(v) = self.local.take() {
            return Some(v);
        }
        let sh = self.sh;
        if let Some(v) = sh.ready.pop(shape::MIX, self.home) {
            return Some(v);
        }
        let order = if self.odd { [shape::AIV, shape::AIC] } else { [shape::AIC, shape::AIV] };
        order.iter().find_map(|&k| sh.ready.pop(k, self.home))
    }

    fn drain_active_elsewhere(&self) -> bool {
        let d = self.sh.drain_owner.load(Acquire);
        d != 0 && d != self.idx + 1
    }

    fn try_claim(&self, core: &SimCore, tag: u64) -> bool {
        self.sh.cores[core.core_id as usize].running.compare_exchange(0, tag, AcqRel, Relaxed).is_ok()
    }

    fn release(&self, core: &SimCore) {
        self.sh.cores[core.core_id as usize].running.store(0, Release);
    }

    fn claim_single(&mut self, aic: bool, tag: u64) -> Option<SimCore> {
        if self.drain_active_elsewhere() {
            return None;
        }
        let bd = self.sh.block_dim;
        let own = if aic { &self.own_aic } else { &self.own_aiv };
        let n = own.len();
        for k in 0..n {
            let c = own[(self.rr + k) % n];
            if self.try_claim(&c, tag) {
                self.rr = self.rr.wrapping_add(1);
                return Some(c);
            }
        }
        let all: Vec<SimCore> = if aic {
            (0..bd).map(SimCore::aic).collect()
        } else {
            (0..bd).flat_map(|c| [SimCore::aiv(c, 0, bd), SimCore::aiv(c, 1, bd)]).collect()
        };
        all.into_iter().find(|c| self.try_claim(c, tag))
    }

    fn cluster_lanes(&self, cluster: u32, mask: u8) -> Vec<(usize, SimCore)> {
        let bd = self.sh.block_dim;
        let mut v = Vec::with_capacity(3);
        if mask & LANE_AIC != 0 {
            v.push((0, SimCore::aic(cluster)));
        }
        if mask & LANE_AIV0 != 0 {
            v.push((1, SimCore::aiv(cluster, 0, bd)));
        }
        if mask & LANE_AIV1 != 0 {
            v.push((2, SimCore::aiv(cluster, 1, bd)));
        }
        v
    }

    fn claim_cluster(&mut self, mask: u8, tag: u64) -> Option<Vec<(usize, SimCore)>> {
        if self.drain_active_elsewhere() {
            return None;
        }
        let bd = self.sh.block_dim;
        let order: Vec<u32> =
            self.own_clusters.iter().copied().chain((0..bd).filter(|c| !self.own_clusters.contains(c))).collect();
        for c in order {
            let lanes = self.cluster_lanes(c, mask);
            let mut got = 0;
            for (_, core) in &lanes {
                if !self.try_claim(core, tag) {
                    break;
                }
                got += 1;
            }
            if got == lanes.len() {
                return Some(lanes);
            }
            for (_, core) in &lanes[..got] {
                self.release(core);
            }
        }
        None
    }

    fn requeue(&self, v: u64, shp: usize) {
        self.sh.ready.push(shp, v, Some(self.home));
    }

    /// A kernel of task `raw` failed (threw or panicked): a user-code fatal.
    fn kernel_failed(&self, raw: u64, msg: &str) {
        let msg = format!("kernel failure in task 0x{raw:x}: {msg}");
        crate::diagnostics::log::error("scheduler", &msg);
        self.sh.latch_fatal(FatalSource::UserCode, 0, &msg);
    }

    fn check_async(&self, buf: &DispatchBuffer) {
        if buf.slab.count > 0 {
            let msg = "kernel registered async completion conditions, which the simulated device does not support";
            self.sh.latch_sched(101, msg);
        }
    }

    fn subtasks_done(&mut self, s: &super::layout::SlotState, n: i16) {
        let prev = s.completed_subtasks.fetch_add(n, AcqRel);
        if prev + n >= s.total_required_subtasks.load(Relaxed) {
            let sh = self.sh;
            sh.finish_task(s, |c| self.make_ready(c));
            if sh.all_done() {
                sh.end_run();
            }
        }
    }

    /// Executes (part of) a ready task; false when it had to be re-queued.
    fn execute(&mut self, v: u64) -> bool {
        // SAFETY: queued values are slot-state pointers of published tasks
        // that cannot be reclaimed before they complete.
        let s = unsafe { &*(v as *const super::layout::SlotState) };
        let mask = s.active_mask.load(Relaxed);
        let shp = shape_of(mask);
        let blocks = s.logical_block_num.load(Relaxed).max(1);
        // SAFETY: the descriptor pointer was set at submit.
        let d = unsafe { &*s.task.load(Relaxed) };
        let raw = d.task_id.load(Relaxed);
        let tag = raw + 1;
        if mask & FLAG_SYNC_START != 0 && blocks > 1 {
            return self.execute_sync(s, v, shp, mask, blocks, raw);
        }
        let payload = s.payload.load(Relaxed) as *const TaskPayload;
        match shp {
            shape::AIC | shape::AIV => {
                let Some(core) = self.claim_single(shp == shape::AIC, tag) else {
                    self.requeue(v, shp);
                    return false;
                };
                let b = s.next_block_idx.fetch_add(1, AcqRel);
                if b >= blocks {
                    self.release(&core);
                    return false;
                }
                if b + 1 < blocks {
                    self.requeue(v, shp);
                    self.sh.parker.wake_one();
                }
                let func = d.kernel_id[if shp == shape::AIC { 0 } else { 1 }].load(Relaxed);
                self.buf.prepare(payload, raw, b as i32, blocks as i32, core);
                let args = self.buf.args();
                let t0 = self.trace_now();
                let r = run_guarded(self.exec, func, args, core);
                self.trace_dispatch(raw, t0, std::iter::once((func, core.core_id)));
                self.release(&core);
                if let Some(m) = r {
                    self.kernel_failed(raw, &m);
                    return true;
                }
                self.check_async(&self.buf);
                self.subtasks_done(s, 1);
                true
            }
            _ => {
                let Some(lanes) = self.claim_cluster(mask, tag) else {
                    self.requeue(v, shp);
                    return false;
                };
                let b = s.next_block_idx.fetch_add(1, AcqRel);
                if b >= blocks {
                    lanes.iter().for_each(|(_, c)| self.release(c));
                    return false;
                }
                if b + 1 < blocks {
                    self.requeue(v, shp);
                    self.sh.parker.wake_one();
                }
                let mut jobs: Vec<(i32, Box<DispatchBuffer>, SimCore)> = Vec::with_capacity(3);
                for (lane, core) in &lanes {
                    let mut buf = self.mix_bufs.pop().unwrap_or_else(DispatchBuffer::new);
                    buf.prepare(payload, raw, b as i32, blocks as i32, *core);
                    jobs.push((d.kernel_id[*lane].load(Relaxed), buf, *core));
                }
                let t0 = self.trace_now();
                let failure = self.gang.run_all(self.exec, &mut jobs);
                self.trace_dispatch(raw, t0, jobs.iter().map(|j| (j.0, j.2.core_id)));
                lanes.iter().for_each(|(_, c)| self.release(c));
                for (_, buf, _) in &jobs {
                    self.check_async(buf);
                }
                let n = jobs.len() as i16;
                self.mix_bufs.extend(jobs.into_iter().map(|j| j.1));
                if let Some(m) = failure {
                    self.kernel_failed(raw, &m);
                    return true;
                }
                self.subtasks_done(s, n);
                true
            }
        }
    }

    /// All blocks of a sync-start task start together on cores 0..B of its type.
    fn execute_sync(
        &mut self,
        s: &super::layout::SlotState,
        v: u64,
        shp: usize,
        mask: u8,
        blocks: i16,
        raw: u64,
    ) -> bool {
        let sh = self.sh;
        if sh.drain_owner.compare_exchange(0, self.idx + 1, AcqRel, Acquire).is_err() {
            self.requeue(v, shp);
            return false;
        }
        let bd = sh.block_dim;
        let mut cores: Vec<(usize, SimCore, i32)> = Vec::new();
        for b in 0..blocks as u32 {
            match shp {
                shape::AIC => cores.push((0, SimCore::aic(b), b as i32)),
                shape::AIV => cores.push((1, SimCore::aiv(b / 2, b % 2, bd), b as i32)),
                _ => {
                    for (lane, c) in self.cluster_lanes(b, mask) {
                        cores.push((lane, c, b as i32));
                    }
                }
            }
        }
        let tag = raw + 1;
        let mut held = vec![false; cores.len()];
        let mut spins = 0u32;
        loop {
            for (k, (_, c, _)) in cores.iter().enumerate() {
                if !held[k] {
                    held[k] = self.try_claim(c, tag);
                }
            }
            if held.iter().all(|&h| h) {
                break;
            }
            if sh.run_complete.load(Acquire) || sh.failed() {
                for (k, (_, c, _)) in cores.iter().enumerate() {
                    if held[k] {
                        self.release(c);
                    }
                }
                sh.drain_owner.store(0, Release);
                self.requeue(v, shp);
                return false;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        s.next_block_idx.store(blocks, Release);
        sh.drain_owner.store(0, Release);
        // SAFETY: descriptor pointer set at submit.
        let d = unsafe { &*s.task.load(Relaxed) };
        let payload = s.payload.load(Relaxed) as *const TaskPayload;
        let mut jobs: Vec<(i32, Box<DispatchBuffer>, SimCore)> = cores
            .iter()
            .map(|(lane, c, b)| {
                let mut buf = DispatchBuffer::new();
                buf.prepare(payload, raw, *b, blocks as i32, *c);
                (d.kernel_id[*lane].load(Relaxed), buf, *c)
            })
            .collect();
        let t0 = self.trace_now();
        let failure = self.gang.run_all(self.exec, &mut jobs);
        self.trace_dispatch(raw, t0, jobs.iter().map(|j| (j.0, j.2.core_id)));
        cores.iter().for_each(|(_, c, _)| self.release(c));
        for (_, buf, _) in &jobs {
            self.check_async(buf);
        }
        if let Some(m) = failure {
            self.kernel_failed(raw, &m);
            return true;
        }
        self.subtasks_done(s, jobs.len() as i16);
        true
    }

    fn drain_wiring(&mut self, ws: &mut WiringState) -> bool {
        let sh = self.sh;
        let mut wired = 0;
        while let Some(v) = sh.wiring.peek() {
            // SAFETY: the wiring queue carries slot-state pointers of published tasks.
            let s = unsafe { &*(v as *const super::layout::SlotState) };
            let r = s.ring_id.load(Relaxed) as usize % MAX_RINGS;
            let ring = &sh.rings[r];
            let payload = s.payload.load(Relaxed);
            // SAFETY: payload of a published task.
            let nf = unsafe { (*payload).fanin_actual_count }.max(0) as u64;
            let pool = &mut ws.dep_pools[r];
            let mut la = pool.reclaim(ring, false);
            if pool.available() < nf {
                la = pool.reclaim(ring, true);
            }
            // Every wired task holds `nf` entries until it retires, whether or
            // not its producers already completed (those entries stay
            // reserved): the pool's accounting, and so an exhaustion report,
            // does not depend on timing.
            let need = nf;
            if pool.available() < need {
                let cap = pool.capacity();
                // `la` is the watermark the pool was just reclaimed at; both
                // causes below also require it to be still current, so a
                // report means no entry of this ring can ever be freed.
                let gated = ring.head_scope_gated(la);
                let cause = if need > cap {
                    Some("the task alone needs more entries than the pool holds")
                } else if sh.producer_blocked.load(Acquire) && gated {
                    Some("the orchestrator is blocked on the full wiring queue and the ring's oldest task waits for its scope to end")
                } else if head_waits_on_unwired(sh, r, la) {
                    Some("the ring's oldest live task has a consumer that is not wired yet, so no entry of this ring can be freed")
                } else {
                    None
                };
                if let Some(cause) = cause {
                    if !ws.reported[r] {
                        ws.reported[r] = true;
                        let used = cap - pool.available();
                        let msg = format!(
                            "FATAL: Wiring-Queue Deadlock - Dep Pool Exhausted! ring={r}: task needs {need} dependency entries, dep pool used {used} of capacity {cap} ({} available); cause: {cause}. Solution: raise the ring's dep pool (ring_dep_pool / PTO2_RING_DEP_POOL) or split the scope",
                            pool.available()
                        );
                        crate::diagnostics::log::error("wiring", &msg);
                        sh.latch_orch(codes::DEP_POOL_OVERFLOW, &msg);
                    }
                }
                break;
            }
            s.fanin_count.store(nf as i32 + 1, Release);
            let mut early = 0;
            // SAFETY: payload of a published task (fanin fields immutable).
            unsafe {
                sh.for_each_fanin(payload, |p| {
                    p.lock();
                    if p.state() >= super::layout::task_state::COMPLETED {
                        early += 1;
                    } else {
                        let h = pool.prepend(p.fanout_head.load(Relaxed), s).expect("dep pool capacity checked");
                        p.fanout_head.store(h, Relaxed);
                    }
                    p.unlock();
                })
            };
            pool.reserve(early as u64);
            // SAFETY: the descriptor pointer was set at submit.
            let local = task_id::local(unsafe { (*s.task.load(Relaxed)).task_id.load(Relaxed) });
            debug_assert!(
                local.wrapping_sub(ring.last_task_alive.load(Acquire)) & 0xFFFF_FFFF < ring.window,
                "task {local} retired before it was wired"
            );
            // The slot's ABI mark mirrors the pool's record (for observers).
            s.dep_pool_mark.store(pool.mark_wired(local as usize) as i32, Relaxed);
            if sh.scope_stats {
                sh.dep_snapshot[r].0.store(pool.tail as i64, Relaxed);
                sh.dep_snapshot[r].1.store(pool.top as i64, Relaxed);
            }
            sh.wiring.advance();
            wired += 1;
            let rc = s.fanin_refcount.fetch_add(early + 1, AcqRel) + early + 1;
            if rc > nf as i32 {
                self.make_ready(s);
            }
        }
        if wired > 0 {
            sh.progress();
        }
        wired > 0
    }
}
