//! One aicpu_build_graph run: one builder thread (owning no cores) runs the
//! plugin while `aicpu_thread_num - 1` schedulers, with the cores dealt to
//! them round-robin, pop published ready tasks and run each inline as one
//! of their cores; the calling thread is the watchdog. This is the narrow
//! entry a device context calls ([`run`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::{AbgRuntime, API, MAX_ORCH_ARGS};
use super::graph::{Graph, MAX_FUNC_ID};
use super::plugin::{call_entry, AbgPlugin};
use super::state::State;
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::abi::{ArgDirection, CoreType};
use crate::config::BuildMode;
use crate::device::memory::DeviceMemory;
use crate::device::staging::{self, Staged};
use crate::diagnostics::{Error, Result};
use crate::runtime::hbg::exec::{Binder, CoreIdentity, KernelFn};

/// Everything one run needs (see [`run`]).
pub struct AbgRun<'a> {
    /// The callable's builder plugin.
    pub plugin: &'a Arc<AbgPlugin>,
    /// Entry arguments (host pointers), already validated against `signature`.
    pub args: &'a ChipStorageTaskArgs,
    /// Direction of each tensor argument (beyond it: INOUT).
    pub signature: &'a [ArgDirection],
    /// Kernel entry by func_id (entries at and beyond 64 are unreachable).
    pub kernels: &'a [Option<KernelFn>],
    /// The context's device memory.
    pub memory: &'a Arc<DeviceMemory>,
    /// Publishes the executing core's identity before each kernel call.
    pub bind: Binder,
    /// `aicpu_thread_num`: 1 builder + the schedulers (>= 2).
    pub threads: usize,
    /// Clusters (1 AIC + 2 AIV each).
    pub block_dim: u32,
    /// Sequential or concurrent build.
    pub build_mode: BuildMode,
    /// Watchdog budget (`scheduler_timeout_ms`).
    pub timeout_ms: u64,
}

/// Counts of a successful run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbgStats {
    /// Tasks added (all published and completed).
    pub tasks: usize,
}

/// The outcome of [`run`].
#[derive(Debug)]
pub struct AbgOutcome {
    /// Success, or the first failure.
    pub result: Result<AbgStats>,
    /// A thread stuck in the plugin or in a kernel was abandoned: it may
    /// still use the device memory, the kernel SOs and the plugin, so the
    /// caller must leak them and poison the context.
    pub abandoned: bool,
}

/// The cores each scheduler owns: AIC core `i` and AIV core `i` go to
/// scheduler `i % schedulers`. Every scheduler must own at least one core.
pub fn deal_cores(schedulers: usize, block_dim: u32) -> Result<Vec<Vec<CoreIdentity>>> {
    let bd = block_dim.max(1);
    let mut owned = vec![Vec::new(); schedulers];
    for c in 0..bd {
        owned[c as usize % schedulers].push(CoreIdentity { core_id: c, cluster: c, lane: 0, core_type: CoreType::Aic });
    }
    for k in 0..2 * bd {
        owned[k as usize % schedulers].push(CoreIdentity {
            core_id: bd + k,
            cluster: k / 2,
            lane: k % 2,
            core_type: CoreType::Aiv,
        });
    }
    if let Some(s) = owned.iter().position(Vec::is_empty) {
        return Err(Error::InvalidArgument(format!(
            "aicpu_build_graph: scheduler {s} of {schedulers} would own no core with block_dim {bd} ({bd} AIC + {} AIV \
             cores dealt round-robin); lower aicpu_thread_num or raise block_dim",
            2 * bd
        )));
    }
    Ok(owned)
}

/// The flattened entry arguments: device address of each tensor, then each
/// scalar (upstream's `orch_args[]`, at most 64).
fn flatten(args: &ChipStorageTaskArgs, rt: &mut AbgRuntime) -> Result<()> {
    let (t, s) = (args.tensors(), args.scalars());
    if t.len() + s.len() > MAX_ORCH_ARGS {
        return Err(Error::InvalidTaskArgs(format!(
            "aicpu_build_graph: {} tensor + {} scalar arguments exceed the {MAX_ORCH_ARGS} entries of orch_args",
            t.len(),
            s.len()
        )));
    }
    for (i, x) in t.iter().enumerate() {
        rt.orch_args[i] = x.buffer_addr;
        rt.orch_arg_sizes[i] = x.nbytes();
    }
    for (i, v) in s.iter().enumerate() {
        rt.orch_args[t.len() + i] = *v;
    }
    rt.tensor_count = t.len() as i32;
    rt.scalar_count = s.len() as i32;
    rt.orch_arg_count = (t.len() + s.len()) as i32;
    Ok(())
}

/// The runtime object, owned by the builder thread.
struct RuntimeBox(Box<AbgRuntime>);
// SAFETY: the raw pointers inside point to the run state (kept alive by the
// builder's own `Arc`) and to the staged arguments (leaked if the builder is
// abandoned); only the builder thread uses the object.
unsafe impl Send for RuntimeBox {}

fn timeout_error(message: String) -> Error {
    Error::Runtime { code: 100, name: "PTO2_ERROR_SCHEDULER_TIMEOUT", message }
}

fn builder(st: Arc<State>, plugin: Arc<AbgPlugin>, mut rt: RuntimeBox) {
    let ptr: *mut AbgRuntime = &mut *rt.0;
    let r = super::api::with_current(Arc::as_ptr(&st), || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: `ptr` is this thread's runtime object; its state is `st`.
            unsafe { call_entry(plugin.entry, ptr) }
        }))
        .unwrap_or_else(|_| Err(Error::Panic("internal panic around the aicpu_build_graph builder".into())))
    });
    let mut sh = st.lock();
    sh.g.build_done = true;
    sh.builder_exited = true;
    match r {
        Ok(0) => {}
        Ok(rc) => sh.fail(
            Error::UserCode(format!(
                "aicpu_build_graph builder '{}' returned {rc} (non-zero aborts the run)",
                plugin.name
            )),
            &st.cv,
        ),
        Err(e) => sh.fail(e, &st.cv),
    }
    st.cv.notify_all();
}

fn scheduler(st: &State, cores: &[CoreIdentity], mode: BuildMode, bind: &Binder) {
    let owns = [CoreType::Aic, CoreType::Aiv].map(|t| cores.iter().any(|c| c.core_type == t));
    let mut next = [0usize; 2];
    let mut sh = st.lock();
    loop {
        if sh.failed.is_some() || sh.g.finished() {
            break;
        }
        if mode == BuildMode::Concurrent || sh.g.build_done {
            if let Some(id) = sh.g.pop(owns) {
                let node = &sh.g.nodes[id as usize];
                let (mut args, entry, ty, func_id) =
                    (node.task.args, node.entry, node.task.core_type, node.task.func_id);
                drop(sh);
                let mine: Vec<&CoreIdentity> = cores.iter().filter(|c| c.core_type == ty).collect();
                bind(*mine[next[ty as usize] % mine.len()]);
                next[ty as usize] += 1;
                // SAFETY: `entry` is a kernel of the callable, loaded for the
                // whole run (or leaked when this thread is abandoned); `args`
                // is this call's own copy of the task's 16 slots, as the
                // raw-argument kernel ABI expects. The trampoline turns a C++
                // exception into an error.
                let r = unsafe { crate::kernel::so::call_kernel(entry, args.as_mut_ptr().cast()) };
                sh = st.lock();
                match r {
                    Ok(()) => sh.g.complete(id),
                    Err(e) => {
                        sh.g.running -= 1;
                        sh.fail(
                            Error::UserCode(format!("aicpu_build_graph task {id} (func_id {func_id}): {e}")),
                            &st.cv,
                        );
                    }
                }
                st.cv.notify_all();
                continue;
            }
            if let Some(msg) = sh.g.stuck() {
                sh.fail(Error::UserCode(msg), &st.cv);
                break;
            }
        }
        sh = st.cv.wait_timeout(sh, Duration::from_millis(10)).unwrap_or_else(|p| p.into_inner()).0;
    }
    sh.sched_exited += 1;
    st.cv.notify_all();
}

/// Runs one aicpu_build_graph callable: stages the entry tensors by
/// `signature` (IN/INOUT copied to the device, OUT zero-filled; see the
/// header), runs the builder and the schedulers, and on success copies
/// OUT/INOUT tensors back. Device memory the plugin allocated is freed
/// after the run, also on failure. Failures: a numbered error with a
/// message, never a hang (status -100 after `timeout_ms` without a task
/// completing while a kernel runs, or 1.5 budgets without a builder call
/// or completion while the builder runs).
pub fn run(r: AbgRun<'_>) -> AbgOutcome {
    let fail = |e| AbgOutcome { result: Err(e), abandoned: false };
    if r.threads < 2 {
        return fail(Error::InvalidArgument(format!(
            "aicpu_build_graph needs aicpu_thread_num >= 2 (1 builder + at least 1 scheduler), got {}",
            r.threads
        )));
    }
    let schedulers = r.threads - 1;
    let owned = match deal_cores(schedulers, r.block_dim) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let staged = match staging::stage(r.memory, r.args, r.signature) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut kernels = [None; MAX_FUNC_ID];
    for (slot, k) in kernels.iter_mut().zip(r.kernels) {
        *slot = *k;
    }
    let wake = r.build_mode == BuildMode::Concurrent;
    let state = Arc::new(State::new(Graph::new(kernels), r.memory.clone(), wake));
    let mut rt = Box::new(AbgRuntime {
        aicpu_build_api: API,
        build_mode: r.build_mode as i32,
        orch_arg_count: 0,
        tensor_count: 0,
        scalar_count: 0,
        orch_args: [0; MAX_ORCH_ARGS],
        orch_arg_sizes: [0; MAX_ORCH_ARGS],
        kernel_addrs: kernels.map(|k| k.map_or(0, |f| f as usize as u64)),
        task_args: &*staged.args,
        scheduler_thread_num: schedulers as i32,
        block_dim: r.block_dim.max(1) as i32,
        state: Arc::as_ptr(&state).cast(),
    });
    if let Err(e) = flatten(&staged.args, &mut rt) {
        staged.release(r.memory);
        return fail(e);
    }
    let spawn_failed = |st: &State, what: &str, e: std::io::Error| {
        let mut sh = st.lock();
        sh.g.build_done = true;
        sh.fail(Error::State(format!("cannot spawn the aicpu_build_graph {what} thread: {e}")), &st.cv);
    };
    let mut handles = Vec::with_capacity(owned.len() + 1);
    {
        let (st, plugin, rt) = (state.clone(), r.plugin.clone(), RuntimeBox(rt));
        let spawned = std::thread::Builder::new()
            .name("abg-builder".into())
            .stack_size(8 << 20)
            .spawn(move || builder(st, plugin, rt));
        if let Err(e) = spawned.map(|h| handles.push(h)) {
            spawn_failed(&state, "builder", e);
            state.lock().builder_exited = true;
        }
    }
    for cores in owned {
        let (st, bind, mode) = (state.clone(), r.bind.clone(), r.build_mode);
        let spawned =
            std::thread::Builder::new().name("abg-sched".into()).spawn(move || scheduler(&st, &cores, mode, &bind));
        if let Err(e) = spawned.map(|h| handles.push(h)) {
            spawn_failed(&state, "scheduler", e);
            state.lock().sched_exited += 1;
        }
    }
    let abandoned = watch(&state, schedulers, r.timeout_ms);
    if !abandoned {
        // Every thread has counted itself out: join them, so none is still
        // tearing down when the run returns (a process may exit right after).
        for h in handles {
            let _ = h.join();
        }
    }
    if abandoned {
        // The abandoned thread may still read the staged arguments and use
        // the plugin's allocations: leave them to the caller's leak.
        std::mem::forget(staged);
        let e = state
            .lock()
            .failed
            .take()
            .unwrap_or_else(|| Error::State("an aicpu_build_graph thread was abandoned".into()));
        return AbgOutcome { result: Err(e), abandoned: true };
    }
    let result = {
        let mut sh = state.lock();
        match sh.failed.take() {
            Some(e) => Err(e),
            None if sh.g.unpublished() > 0 => Err(Error::UserCode(format!(
                "aicpu_build_graph builder '{}' added {} tasks but never published {} of them (publish_task every task)",
                r.plugin.name,
                sh.g.nodes.len(),
                sh.g.unpublished()
            ))),
            None => Ok(AbgStats { tasks: sh.g.nodes.len() }),
        }
    };
    finish(&state, staged, r.memory, result)
}

/// Copies back (success only) and frees the run's device memory.
fn finish(state: &State, staged: Staged, memory: &DeviceMemory, result: Result<AbgStats>) -> AbgOutcome {
    let result = match result {
        Ok(stats) => staged.commit(memory).map(|()| stats),
        Err(e) => {
            staged.release(memory);
            Err(e)
        }
    };
    for p in std::mem::take(&mut *state.allocations.lock().unwrap_or_else(|e| e.into_inner())) {
        let _ = memory.free(p as *mut u8);
    }
    AbgOutcome { result, abandoned: false }
}

/// Waits for every thread of the run; returns true when a thread stuck in
/// the plugin or a kernel was abandoned (the run has then failed).
fn watch(state: &State, schedulers: usize, timeout_ms: u64) -> bool {
    let budget = Duration::from_millis(timeout_ms.max(1));
    let builder_budget = crate::runtime::stuck_orchestration_after(timeout_ms.max(1));
    let tick = Duration::from_millis((timeout_ms / 20).clamp(1, 20));
    let mut sh = state.lock();
    let mut last = (state.calls.load(Ordering::Acquire), sh.g.completed);
    let mut last_progress = Instant::now();
    let mut failed_at: Option<Instant> = None;
    loop {
        if sh.sched_exited >= schedulers && sh.builder_exited {
            return false;
        }
        sh = state.cv.wait_timeout(sh, tick).unwrap_or_else(|p| p.into_inner()).0;
        let now = (state.calls.load(Ordering::Acquire), sh.g.completed);
        if now != last {
            last = now;
            last_progress = Instant::now();
        }
        let silent = last_progress.elapsed();
        if sh.failed.is_none() && !sh.g.build_done && silent > builder_budget {
            state.abandoned.store(true, Ordering::Release);
            let msg = format!(
                "TIMEOUT_EXIT: the aicpu_build_graph builder made no progress (no API call, no task completed, no \
                 return) for {} ms, over its budget of {}/{} x scheduler_timeout_ms={timeout_ms} \
                 (PTO2_SCHEDULER_TIMEOUT_MS), after {} API calls",
                silent.as_millis(),
                crate::runtime::STUCK_ORCH_BUDGETS.0,
                crate::runtime::STUCK_ORCH_BUDGETS.1,
                now.0
            );
            sh.fail(timeout_error(msg), &state.cv);
        } else if sh.failed.is_none() && sh.g.running > 0 && silent > budget {
            let msg = format!(
                "TIMEOUT_EXIT: aicpu_build_graph made no progress for {} ms (budget scheduler_timeout_ms={timeout_ms} / \
                 PTO2_SCHEDULER_TIMEOUT_MS): {} kernel(s) running, {} of {} published tasks done",
                silent.as_millis(),
                sh.g.running,
                sh.g.completed,
                sh.g.published
            );
            sh.fail(timeout_error(msg), &state.cv);
        }
        if sh.failed.is_some() {
            let since = *failed_at.get_or_insert_with(Instant::now);
            let waiting = sh.g.running > 0 || !sh.builder_exited;
            if waiting && since.elapsed() > budget / 2 {
                state.abandoned.store(true, Ordering::Release);
                let what = if sh.builder_exited { "a scheduler stuck in a kernel" } else { "the builder thread" };
                if let Some(Error::Runtime { message, .. } | Error::UserCode(message)) = sh.failed.as_mut() {
                    message.push_str(&format!("; {what} was abandoned"));
                }
                return true;
            }
        }
    }
}
