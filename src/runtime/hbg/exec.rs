//! Executes a host_build_graph task graph on the simulated cores: up to
//! `threads` host threads each act as a scheduler that pops ready tasks and
//! runs them inline as one of its cores; successors whose fanin reaches zero
//! become ready. A dependency cycle is detected (nothing ready, nothing
//! running, tasks left) and reported instead of hanging.
//!
//! Task trace: given a [`Recorder`], each thread records one span per task
//! (two clock reads) into its own buffer and merges it once, when it exits;
//! without one, the cost is one branch on a run-constant `Option` per task.

use crate::runtime::wait::StallClock;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::graph::{Graph, Task, MAX_ARGS};
use crate::abi::CoreType;
use crate::device::paged_vec::PagedVec;
use crate::diagnostics::{Error, Result};
use crate::runtime::trace::{Recorder, TaskSpan, SPANS_PER_THREAD};

/// A kernel entry point: `void kernel_entry(int64_t *args)`.
pub type KernelFn = crate::kernel::so::KernelEntry;

/// Identity of the simulated core a subtask runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreIdentity {
    /// Physical core id (AIC 0..block_dim, AIV block_dim..3*block_dim).
    pub core_id: u32,
    /// Cluster index.
    pub cluster: u32,
    /// Lane within the cluster (AIV 0/1; AIC 0).
    pub lane: u32,
    /// Core type.
    pub core_type: CoreType,
}

/// The core scheduler thread `thread` acts as for a task of `core_type`.
pub fn core_for(thread: usize, core_type: CoreType, block_dim: u32) -> CoreIdentity {
    let bd = block_dim.max(1);
    match core_type {
        CoreType::Aic => {
            let c = thread as u32 % bd;
            CoreIdentity { core_id: c, cluster: c, lane: 0, core_type }
        }
        CoreType::Aiv => {
            let k = thread as u32 % (2 * bd);
            CoreIdentity { core_id: bd + k, cluster: k / 2, lane: k % 2, core_type }
        }
    }
}

struct Shared {
    ready: VecDeque<u32>,
    running: usize,
    done: usize,
    exited: usize,
    failed: Option<String>,
}

/// One task's argument slots (each touched by the one thread running it).
struct ArgSlots(std::cell::UnsafeCell<[u64; MAX_ARGS]>);
// SAFETY: a task's slots are accessed only by the thread that popped the
// task from the ready queue, which happens exactly once per run.
unsafe impl Sync for ArgSlots {}

/// Everything the executor threads use, owned by them (an abandoned stuck
/// thread keeps it alive).
struct State {
    tasks: PagedVec<Task>,
    entries: Vec<KernelFn>,
    /// Like `tasks`, in its own mapping (see [`PagedVec`]).
    args: PagedVec<ArgSlots>,
    fanin: Vec<AtomicU32>,
    shared: Mutex<Shared>,
    cv: Condvar,
    bind: Binder,
    block_dim: u32,
    trace: Option<Arc<Recorder>>,
}

/// Publishes the executing core's identity before each kernel call.
pub type Binder = Arc<dyn Fn(CoreIdentity) + Send + Sync>;

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn worker(&self, thread: usize) {
        let total = self.tasks.len();
        let mut spans = match &self.trace {
            Some(_) => Vec::with_capacity(total.min(SPANS_PER_THREAD)),
            None => Vec::new(),
        };
        loop {
            let id = {
                let mut s = self.lock();
                loop {
                    if s.failed.is_some() || s.done == total {
                        if let Some(rec) = &self.trace {
                            rec.merge(&mut spans);
                        }
                        s.exited += 1;
                        self.cv.notify_all();
                        return;
                    }
                    if let Some(id) = s.ready.pop_front() {
                        s.running += 1;
                        break id;
                    }
                    if s.running == 0 {
                        let stuck = total - s.done;
                        s.failed = Some(format!(
                            "host_build_graph: dependency cycle: {stuck} of {total} tasks can never become ready"
                        ));
                        continue;
                    }
                    s = self.cv.wait(s).unwrap_or_else(|p| p.into_inner());
                }
            };
            let t = &self.tasks[id as usize];
            let core = core_for(thread, t.core_type, self.block_dim);
            (self.bind)(core);
            let start_ns = self.trace.as_ref().map_or(0, |rec| rec.now());
            let args = self.args[id as usize].0.get().cast::<i64>();
            // SAFETY: the entry was resolved from a loaded kernel SO that
            // outlives the run (or, when this thread is abandoned, is never
            // unloaded); the argument slots are this task's, touched only by
            // this thread, 16 slots as the kernel ABI requires. The trampoline
            // turns a C++ exception into an error.
            let r = unsafe { crate::kernel::so::call_kernel(self.entries[id as usize], args) };
            if let Some(rec) = &self.trace {
                spans.push(TaskSpan {
                    task: u64::from(id),
                    func: t.func_id,
                    core: core.core_id,
                    sched: thread as u32,
                    lead: true,
                    start_ns,
                    end_ns: rec.now(),
                });
            }
            let mut newly = Vec::new();
            if r.is_ok() {
                for &succ in &t.fanout {
                    if self.fanin[succ as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                        newly.push(succ);
                    }
                }
            }
            let mut s = self.lock();
            s.running -= 1;
            if let Err(e) = r {
                if s.failed.is_none() {
                    s.failed = Some(format!("host_build_graph task {id} (func_id {}): {e}", t.func_id));
                }
                self.cv.notify_all();
                continue;
            }
            s.done += 1;
            s.ready.extend(newly);
            self.cv.notify_all();
        }
    }
}

/// Result of [`execute`]: the run's outcome and whether a thread stuck in a
/// kernel was abandoned (it then still owns the graph's tasks; the caller
/// must keep the device memory and kernel SOs alive forever).
#[derive(Debug)]
pub struct ExecOutcome {
    /// Success, or the first failure.
    pub result: Result<()>,
    /// A thread was abandoned inside a kernel.
    pub abandoned: bool,
    /// Executor threads started (the scheduler lanes of a task trace).
    pub threads: usize,
}

/// Runs every task of `graph` in dependency order on `threads` executor
/// threads while the calling thread acts as the watchdog. `kernel(func_id)`
/// returns the entry point; `bind(core)` is called on the executing thread
/// before each kernel call (to publish lane/cluster identity to kernels).
/// When no task completes for more than `timeout_ms` while a kernel runs,
/// the run fails with status -100 (`PTO2_ERROR_SCHEDULER_TIMEOUT`); a
/// thread still inside a kernel half a budget later is abandoned (detached).
/// With `trace`, every executed task's span is merged into it by the time
/// this returns (unless a thread was abandoned).
pub fn execute(
    graph: &mut Graph,
    threads: usize,
    block_dim: u32,
    kernel: &(dyn Fn(i32) -> Option<KernelFn> + Sync),
    bind: Binder,
    timeout_ms: u64,
    trace: Option<Arc<Recorder>>,
) -> ExecOutcome {
    let fail = |e| ExecOutcome { result: Err(e), abandoned: false, threads: 0 };
    let total = graph.tasks.len();
    if total == 0 {
        return ExecOutcome { result: Ok(()), abandoned: false, threads: 0 };
    }
    // Resolve every kernel up front: an unknown func_id fails before anything runs.
    let mut entries = Vec::with_capacity(total);
    for (id, t) in graph.tasks.iter().enumerate() {
        match kernel(t.func_id) {
            Some(f) => entries.push(f),
            None => {
                return fail(Error::UserCode(format!(
                    "host_build_graph task {id} uses func_id {}, which the callable does not provide",
                    t.func_id
                )))
            }
        }
    }
    let tasks = std::mem::take(&mut graph.tasks);
    let state = Arc::new(State {
        fanin: tasks.iter().map(|t| AtomicU32::new(t.fanin)).collect(),
        args: {
            let mut args = PagedVec::new(total);
            for t in tasks.iter() {
                if args.push(ArgSlots(std::cell::UnsafeCell::new(t.args))).is_err() {
                    return fail(Error::DeviceMemory(format!(
                        "host_build_graph: cannot map the argument table of {total} tasks"
                    )));
                }
            }
            args
        },
        shared: Mutex::new(Shared {
            ready: (0..total as u32).filter(|&i| tasks[i as usize].fanin == 0).collect(),
            running: 0,
            done: 0,
            exited: 0,
            failed: None,
        }),
        tasks,
        entries,
        cv: Condvar::new(),
        bind,
        block_dim,
        trace,
    });
    let n = threads.clamp(1, total);
    let mut handles = Vec::with_capacity(n);
    for t in 0..n {
        let st = state.clone();
        let spawned = std::thread::Builder::new().name("hbg-exec".into()).spawn(move || st.worker(t));
        if let Err(e) = spawned.map(|h| handles.push(h)) {
            let mut s = state.lock();
            s.exited += 1;
            if s.failed.is_none() {
                s.failed = Some(format!("cannot spawn a host_build_graph executor thread: {e}"));
            }
            state.cv.notify_all();
        }
    }
    // Watchdog: wait for every thread to exit.
    let budget = Duration::from_millis(timeout_ms.max(1));
    let mut s = state.lock();
    let mut last_done = s.done;
    let mut stalled = StallClock::started();
    let mut failed_for = StallClock::new();
    let mut abandoned = false;
    while s.exited < n {
        s = state.cv.wait_timeout(s, Duration::from_millis(1)).unwrap_or_else(|p| p.into_inner()).0;
        if s.done != last_done {
            last_done = s.done;
            stalled.restart();
        }
        if s.failed.is_none() && s.running > 0 && stalled.elapsed() > budget {
            s.failed = Some(format!(
                "TIMEOUT_EXIT: host_build_graph made no progress for {} ms (budget scheduler_timeout_ms={timeout_ms} / PTO2_SCHEDULER_TIMEOUT_MS): {} kernel(s) running, {} of {total} tasks done",
                stalled.elapsed().as_millis(),
                s.running,
                s.done
            ));
            state.cv.notify_all();
        }
        if s.failed.is_some() {
            // The first reading starts the clock at the failure.
            let since_failure = failed_for.elapsed();
            if s.running > 0 && since_failure > budget / 2 {
                abandoned = true;
                break;
            }
        }
    }
    let failed = s.failed.take();
    drop(s);
    let timeout = failed.as_deref().is_some_and(|m| m.starts_with("TIMEOUT_EXIT"));
    let result = match failed {
        None => Ok(()),
        Some(msg) if timeout => {
            let msg = if abandoned { format!("{msg}; the stuck kernel thread was abandoned") } else { msg };
            Err(Error::Runtime { code: 100, name: "PTO2_ERROR_SCHEDULER_TIMEOUT", message: msg })
        }
        Some(msg) => Err(Error::UserCode(msg)),
    };
    if !abandoned {
        // Every thread has counted itself out; join them, so none is still
        // dropping its share of the state (or tearing down) when the run
        // returns: the state then unwraps, and a process that exits right
        // after the run has no thread of it left.
        for h in handles {
            let _ = h.join();
        }
        if let Ok(st) = Arc::try_unwrap(state) {
            graph.tasks = st.tasks;
        }
    }
    ExecOutcome { result, abandoned, threads: n }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static ORDER: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn record(args: *mut i64) {
        CALLS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the executor passes a 16-slot array.
        let id = unsafe { *args } as u64;
        ORDER.lock().unwrap().push(id);
    }

    #[test]
    fn runs_in_dependency_order_and_detects_cycles() {
        let mut g = Graph::default();
        for i in 0..6u64 {
            g.add_task(&[i], 0, CoreType::Aiv);
        }
        // diamond 0 → {1,2} → 3, then 3 → 4 → 5
        for (a, b) in [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (4, 5)] {
            g.add_successor(a, b);
        }
        let k = |_: i32| Some(record as KernelFn);
        execute(&mut g, 3, 3, &k, Arc::new(|_| {}), 10_000, None).result.unwrap();
        let order = ORDER.lock().unwrap().clone();
        let pos = |x: u64| order.iter().position(|&v| v == x).unwrap();
        assert_eq!(order.len(), 6);
        assert!(
            pos(0) < pos(1)
                && pos(0) < pos(2)
                && pos(1) < pos(3)
                && pos(2) < pos(3)
                && pos(3) < pos(4)
                && pos(4) < pos(5)
        );

        let mut cyc = Graph::default();
        for i in 0..3u64 {
            cyc.add_task(&[100 + i], 0, CoreType::Aiv);
        }
        cyc.add_successor(1, 2);
        cyc.add_successor(2, 1);
        let e = execute(&mut cyc, 2, 3, &k, Arc::new(|_| {}), 10_000, None).result.unwrap_err();
        assert!(e.to_string().contains("cycle"), "{e}");

        let mut missing = Graph::default();
        missing.add_task(&[], 7, CoreType::Aic);
        let none = |_: i32| None;
        assert!(execute(&mut missing, 1, 3, &none, Arc::new(|_| {}), 10_000, None)
            .result
            .unwrap_err()
            .to_string()
            .contains("func_id 7"));
    }

    unsafe extern "C" fn spin(_args: *mut i64) {
        std::hint::black_box((0..1000u64).sum::<u64>());
    }

    #[test]
    fn a_recorder_gets_one_span_per_task_in_dependency_order() {
        let mut g = Graph::default();
        for f in 0..5 {
            g.add_task(&[], f, if f == 2 { CoreType::Aic } else { CoreType::Aiv });
        }
        let edges = [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)];
        for (a, b) in edges {
            g.add_successor(a, b);
        }
        let k = |_: i32| Some(spin as KernelFn);
        let rec = Arc::new(Recorder::new(std::time::Instant::now()));
        let out = execute(&mut g, 3, 2, &k, Arc::new(|_| {}), 10_000, Some(rec.clone()));
        out.result.unwrap();
        assert_eq!(out.threads, 3);
        let mut spans = rec.take();
        spans.sort_by_key(|p| p.task);
        assert_eq!(spans.iter().map(|p| p.task).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        for p in &spans {
            assert_eq!(p.func, p.task as i32);
            assert!(p.start_ns <= p.end_ns && p.lead && p.sched < 3, "{p:?}");
            let ty = if p.func == 2 { CoreType::Aic } else { CoreType::Aiv };
            assert_eq!(p.core, core_for(p.sched as usize, ty, 2).core_id, "{p:?}");
        }
        for (a, b) in edges {
            assert!(spans[b as usize].start_ns >= spans[a as usize].end_ns, "{b} started before {a} ended");
        }
    }

    #[test]
    fn core_identities() {
        assert_eq!(
            core_for(0, CoreType::Aic, 3),
            CoreIdentity { core_id: 0, cluster: 0, lane: 0, core_type: CoreType::Aic }
        );
        assert_eq!(
            core_for(1, CoreType::Aiv, 3),
            CoreIdentity { core_id: 4, cluster: 0, lane: 1, core_type: CoreType::Aiv }
        );
        assert_eq!(core_for(2, CoreType::Aiv, 3).cluster, 1);
    }
}
