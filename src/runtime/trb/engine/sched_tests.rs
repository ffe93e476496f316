//! Tests of the scheduler's fast paths: a completing thread running the
//! successor it made ready, idle threads parking and waking, and runs with
//! one and with four scheduler threads.

use super::{CoreExecutor, EngineConfig, RunParams, RunReport, SimCore, TrbEngine};
use crate::abi::tensor::Tensor;
use crate::abi::DataType;
use crate::runtime::trb::api::{MixedKernelIds, OrchestratorApi, ScopeMode, TaskArgsView, TensorArg};
use crate::runtime::trb::layout::TrbMemory;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

struct FnExec<F: Fn(*mut u64) + Sync>(F);
impl<F: Fn(*mut u64) + Sync> CoreExecutor for FnExec<F> {
    fn run_subtask(&self, _func_id: i32, args: *mut u64, _core: SimCore) -> Result<(), String> {
        (self.0)(args);
        Ok(())
    }
}

fn params(sched_threads: usize, window: u32) -> RunParams {
    RunParams {
        block_dim: 3,
        sched_threads,
        sizing: crate::config::RingSizing::uniform(u64::from(window), 1 << 20, u64::from(window)).unwrap(),
        scheduler_timeout_ms: 5000,
        ..RunParams::default()
    }
}

const AIV0: MixedKernelIds = MixedKernelIds { aic: -1, aiv0: 0, aiv1: -1 };

fn view<'a>(tensors: &'a [TensorArg<'a>], scalars: &'a [u64]) -> TaskArgsView<'a> {
    TaskArgsView { tensors, scalars, block_num: 1, require_sync_start: false, explicit_deps: &[] }
}

fn ext(buf: &[u64]) -> Tensor {
    let mut t = Tensor::external(buf.as_ptr() as u64, &[buf.len() as u32 * 2], DataType::Float32);
    t.buffer_size = (buf.len() * 8) as u64;
    t
}

/// Runs `f` on a fresh engine; fails the test past `limit`.
fn run_within(
    p: RunParams,
    limit: Duration,
    exec: &dyn CoreExecutor,
    f: &mut dyn FnMut(&mut dyn OrchestratorApi),
) -> RunReport {
    let mem = TrbMemory::owned(&p.sizing);
    let mut engine = TrbEngine::new(EngineConfig::default()).unwrap();
    let t = Instant::now();
    let r = engine
        .run(&mem, p, exec, &mut |o| {
            f(o);
            Ok(())
        })
        .unwrap();
    assert!(t.elapsed() < limit, "run took {:?} (limit {limit:?})", t.elapsed());
    r
}

/// A chain on one INOUT tensor: hop `i` checks the cell holds `i` and
/// stores `i + 1`; returns the report and the number of out-of-order hops.
/// With `gate`, hop 0 waits until every hop is submitted, so each later hop
/// is made ready by its predecessor's completion (the inline path).
fn chain(sched_threads: usize, hops: u64, gate: bool) -> (RunReport, u64, u64) {
    let cell = vec![0u64; 1];
    let bad = AtomicU64::new(0);
    let submitted = AtomicBool::new(false);
    let exec = FnExec(|args| {
        // SAFETY: args[0] points at the task's tensor (the cell), args[1] is
        // the hop number; hops run one at a time (the chain orders them).
        unsafe {
            let t = &*(*args as *const Tensor);
            let i = *args.add(1);
            if i == 0 && gate {
                let t0 = Instant::now();
                while !submitted.load(Acquire) && t0.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            let p = t.buffer_addr as *mut u64;
            if p.read_volatile() != i {
                bad.fetch_add(1, Relaxed);
            }
            p.write_volatile(i + 1);
        }
    });
    let x = ext(&cell);
    let rep = run_within(params(sched_threads, 1024), Duration::from_secs(60), &exec, &mut |o| {
        let per_scope = 512;
        for s in 0..hops.div_ceil(per_scope) {
            o.scope_begin(ScopeMode::Auto);
            for i in s * per_scope..((s + 1) * per_scope).min(hops) {
                o.submit_task(AIV0, &view(&[TensorArg::Inout(&x)], &[i]));
            }
            o.scope_end();
        }
        submitted.store(true, Release);
    });
    (rep, bad.load(Relaxed), cell[0])
}

#[test]
fn inline_successor_keeps_dependency_order() {
    for threads in [1, 2, 4] {
        let (rep, bad, last) = chain(threads, 500, true);
        assert_eq!(rep.status, 0, "{}", rep.message);
        assert_eq!((bad, last), (0, 500), "{threads} scheduler thread(s)");
    }
}

#[test]
fn chain_of_100k_runs_correctly() {
    let (rep, bad, last) = chain(2, 100_000, false);
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rep.total_tasks, 100_000);
    assert_eq!((bad, last), (0, 100_000));
}

/// `rounds` × (1 → 64 → 1) on tensors a (root → fan) and 64 cells (fan → sink);
/// every task counts itself.
fn fan_rounds(sched_threads: usize, rounds: u64) -> (RunReport, u64) {
    let a = vec![0u64; 1];
    let cells = vec![0u64; 64];
    let ran = AtomicU64::new(0);
    let exec = FnExec(|_| {
        ran.fetch_add(1, Relaxed);
    });
    let ta = ext(&a);
    let tc: Vec<Tensor> = (0..64).map(|k| ext(&cells[k..k + 1])).collect();
    let rep = run_within(params(sched_threads, 1024), Duration::from_secs(30), &exec, &mut |o| {
        for _ in 0..rounds {
            o.scope_begin(ScopeMode::Auto);
            o.submit_task(AIV0, &view(&[TensorArg::Inout(&ta)], &[]));
            for t in &tc {
                o.submit_task(AIV0, &view(&[TensorArg::Input(&ta), TensorArg::Inout(t)], &[]));
            }
            let ins: Vec<TensorArg<'_>> = tc.iter().take(16).map(TensorArg::Input).collect();
            o.submit_task(AIV0, &view(&ins, &[]));
            o.scope_end();
        }
    });
    (rep, ran.load(Relaxed))
}

#[test]
fn one_and_four_scheduler_threads_complete() {
    for threads in [1, 4] {
        let (rep, ran) = fan_rounds(threads, 50);
        assert_eq!(rep.status, 0, "{threads} thread(s): {}", rep.message);
        assert_eq!(ran, 50 * 66, "{threads} thread(s)");
        let (rep, bad, last) = chain(threads, 2000, false);
        assert_eq!(rep.status, 0, "{threads} thread(s): {}", rep.message);
        assert_eq!((bad, last), (0, 2000), "{threads} thread(s)");
    }
}

#[test]
fn parking_and_waking_never_lose_a_task() {
    // Bursts of independent tasks with pauses in between, so the scheduler
    // threads park (the pause outlasts any spin) and must be woken by the
    // next burst; every task must run, in every run.
    for threads in [1, 2, 3] {
        let ran = AtomicU64::new(0);
        let exec = FnExec(|_| {
            ran.fetch_add(1, Relaxed);
        });
        let rep = run_within(params(threads, 256), Duration::from_secs(30), &exec, &mut |o| {
            for burst in 0..60u64 {
                o.scope_begin(ScopeMode::Auto);
                for _ in 0..(1 + burst % 7) {
                    o.submit_task(AIV0, &view(&[], &[]));
                }
                o.scope_end();
                if burst % 3 == 0 {
                    std::thread::sleep(Duration::from_micros(300));
                } else {
                    std::thread::yield_now();
                }
            }
        });
        assert_eq!(rep.status, 0, "{}", rep.message);
        let want: u64 = (0..60u64).map(|b| 1 + b % 7).sum();
        assert_eq!(ran.load(Relaxed), want, "{threads} thread(s)");
    }
}

/// Kernel ids 0, 1, 2 on AIV lane 0: the task kinds of the tests below.
const fn kind(k: i32) -> MixedKernelIds {
    MixedKernelIds { aic: -1, aiv0: k, aiv1: -1 }
}

/// An executor that sees the kernel id (the task kind).
struct KindExec<F: Fn(i32) + Sync>(F);
impl<F: Fn(i32) + Sync> CoreExecutor for KindExec<F> {
    fn run_subtask(&self, func_id: i32, _args: *mut u64, _core: SimCore) -> Result<(), String> {
        (self.0)(func_id);
        Ok(())
    }
}

/// Counts per task kind, checked by the kinds that depend on them.
struct Stages {
    done: [AtomicU64; 3],
    bad: AtomicU64,
}

impl Stages {
    fn new() -> Stages {
        Stages { done: Default::default(), bad: AtomicU64::new(0) }
    }
    /// Kind `k` ran: kinds after 0 require `need` completions of kind `k - 1`.
    fn ran(&self, k: i32, need: u64) {
        let k = k as usize;
        if k > 0 && self.done[k - 1].load(Acquire) < need {
            self.bad.fetch_add(1, Relaxed);
        }
        self.done[k].fetch_add(1, AcqRel);
    }
    fn reset(&self) {
        self.done.iter().for_each(|d| d.store(0, Relaxed));
    }
}

#[test]
fn held_tasks_are_shared_with_idle_threads() {
    // A root's completion makes 60 consumers ready on the thread that ran
    // it; they fit its local FIFO, and while the other threads idle it must
    // hand them over, so more than one thread runs consumers. The root waits
    // until every consumer is submitted (and then a little, for the wiring),
    // and each consumer sleeps (yielding the CPU), so even on a loaded
    // machine the woken threads get to run.
    for threads in [2, 4] {
        let seen = std::sync::Mutex::new(std::collections::HashSet::new());
        let ran = AtomicU64::new(0);
        let submitted = AtomicBool::new(false);
        let exec = KindExec(|k| {
            if k == 0 {
                let t0 = Instant::now();
                while !submitted.load(Acquire) && t0.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(20));
                return;
            }
            seen.lock().unwrap().insert(std::thread::current().id());
            ran.fetch_add(1, Relaxed);
            std::thread::sleep(Duration::from_millis(1));
        });
        let root = vec![0u64; 1];
        let cells = vec![0u64; 60];
        let ta = ext(&root);
        let tc: Vec<Tensor> = (0..60).map(|k| ext(&cells[k..k + 1])).collect();
        let rep = run_within(params(threads, 1024), Duration::from_secs(30), &exec, &mut |o| {
            o.scope_begin(ScopeMode::Auto);
            o.submit_task(kind(0), &view(&[TensorArg::Inout(&ta)], &[]));
            for t in &tc {
                o.submit_task(kind(1), &view(&[TensorArg::Input(&ta), TensorArg::Inout(t)], &[]));
            }
            o.scope_end();
            submitted.store(true, Release);
        });
        assert_eq!(rep.status, 0, "{}", rep.message);
        assert_eq!(ran.load(Relaxed), 60);
        let n = seen.lock().unwrap().len();
        assert!(n >= 2, "{threads} scheduler threads: only {n} ran the consumers");
    }
}

#[test]
fn fan_wider_than_the_local_fifo_completes_in_order() {
    // 1 -> 300 -> 1: the root's completion makes more consumers ready than
    // a thread keeps locally (the rest go to the shared queues); every
    // consumer must run after the root, the sink after every consumer.
    const FAN: u64 = 300;
    for threads in [1, 3] {
        let st = Stages::new();
        let sinks = FAN.div_ceil(15);
        let exec = KindExec(|k| st.ran(k, if k == 2 { FAN + sinks - 1 } else { 1 }));
        let root = vec![0u64; 1];
        let cells = vec![0u64; FAN as usize];
        let ta = ext(&root);
        let tc: Vec<Tensor> = (0..FAN as usize).map(|k| ext(&cells[k..k + 1])).collect();
        let rep = run_within(params(threads, 1024), Duration::from_secs(30), &exec, &mut |o| {
            o.scope_begin(ScopeMode::Auto);
            o.submit_task(kind(0), &view(&[TensorArg::Inout(&ta)], &[]));
            for t in &tc {
                o.submit_task(kind(1), &view(&[TensorArg::Input(&ta), TensorArg::Inout(t)], &[]));
            }
            o.scope_end();
            // The sink reads every cell (in chunks: at most 16 tensors per
            // task, so a chain of sinks where only the last one counts).
            o.scope_begin(ScopeMode::Auto);
            let ins: Vec<TensorArg<'_>> = tc.iter().map(TensorArg::Input).collect();
            let chunks: Vec<&[TensorArg<'_>]> = ins.chunks(15).collect();
            let acc = vec![0u64; 1];
            let tacc = ext(&acc);
            for (n, chunk) in chunks.iter().enumerate() {
                let mut args: Vec<TensorArg<'_>> = chunk.to_vec();
                args.push(TensorArg::Inout(&tacc));
                let k = if n + 1 == chunks.len() { 2 } else { 1 };
                if k == 1 {
                    // Intermediate sinks count as fan tasks for the check;
                    // they run after the root like the others.
                    o.submit_task(kind(1), &view(&args, &[]));
                } else {
                    o.submit_task(kind(2), &view(&args, &[]));
                }
            }
            o.scope_end();
        });
        assert_eq!(rep.status, 0, "{threads} thread(s): {}", rep.message);
        assert_eq!(rep.total_tasks, 1 + FAN + sinks);
        assert_eq!(st.done[1].load(Relaxed), FAN + sinks - 1);
        assert_eq!(st.done[2].load(Relaxed), 1);
        assert_eq!(st.bad.load(Relaxed), 0, "{threads} thread(s): a task ran before its producers");
    }
}

#[test]
fn many_short_runs_with_parked_threads_lose_nothing() {
    // One engine, many tiny runs (a diamond a -> b, c -> d), with pauses so
    // the threads park between runs and inside them; every run must finish
    // promptly with every task run after its producers.
    let p = params(3, 64);
    let mem = TrbMemory::owned(&p.sizing);
    let mut engine = TrbEngine::new(EngineConfig::default()).unwrap();
    let st = Stages::new();
    let exec = KindExec(|k| st.ran(k, if k == 2 { 2 } else { 1 }));
    let (x, y, z) = (vec![0u64; 1], vec![0u64; 1], vec![0u64; 1]);
    let (tx, ty, tz) = (ext(&x), ext(&y), ext(&z));
    let t0 = Instant::now();
    for run in 0..200u64 {
        st.reset();
        let t = Instant::now();
        let rep = engine
            .run(&mem, p, &exec, &mut |o| {
                o.submit_task(kind(0), &view(&[TensorArg::Inout(&tx)], &[]));
                if run % 5 == 0 {
                    std::thread::sleep(Duration::from_micros(300));
                }
                o.submit_task(kind(1), &view(&[TensorArg::Input(&tx), TensorArg::Inout(&ty)], &[]));
                o.submit_task(kind(1), &view(&[TensorArg::Input(&tx), TensorArg::Inout(&tz)], &[]));
                o.submit_task(kind(2), &view(&[TensorArg::Input(&ty), TensorArg::Input(&tz)], &[]));
                Ok(())
            })
            .unwrap();
        assert_eq!(rep.status, 0, "run {run}: {}", rep.message);
        assert_eq!(rep.completed_tasks, 4, "run {run}");
        assert_eq!(st.done.iter().map(|d| d.load(Relaxed)).sum::<u64>(), 4, "run {run}");
        assert!(t.elapsed() < Duration::from_secs(5), "run {run} took {:?}", t.elapsed());
        if run % 7 == 0 {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    assert_eq!(st.bad.load(Relaxed), 0, "a task ran before its producers");
    assert!(t0.elapsed() < Duration::from_secs(60));
}

/// A task body that waits until `threads` tasks run at once (counted in
/// `inside`), giving up after 5 s; counts in `met` the tasks that saw them all.
fn meet_all(inside: &AtomicU64, met: &AtomicU64, threads: usize) {
    inside.fetch_add(1, AcqRel);
    let t0 = Instant::now();
    while inside.load(Acquire) < threads as u64 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_micros(200));
    }
    if inside.load(Acquire) >= threads as u64 {
        met.fetch_add(1, Relaxed);
    }
}

#[test]
fn dormant_scheduler_threads_start_when_the_work_needs_them() {
    // A run starts one scheduler thread and the rest lazily. Four
    // independent tasks that each wait until four threads run them at once
    // can only finish together if every dormant thread gets started; a
    // task gives up after 5 s (then the count stays short). Repeated: the
    // start once lost to a race (a thief looking at the local queue of a
    // thread just before it marked itself busy, `Sched::mark_busy`) in
    // about 1 run of 20 on a 2-CPU host.
    for threads in std::iter::once(2usize).chain(std::iter::repeat_n(4, 20)) {
        let inside = AtomicU64::new(0);
        let met = AtomicU64::new(0);
        let exec = KindExec(|_| meet_all(&inside, &met, threads));
        let cells = vec![0u64; threads];
        let tc: Vec<Tensor> = (0..threads).map(|k| ext(&cells[k..k + 1])).collect();
        let rep = run_within(params(threads, 64), Duration::from_secs(30), &exec, &mut |o| {
            for t in &tc {
                o.submit_task(kind(0), &view(&[TensorArg::Inout(t)], &[]));
            }
        });
        assert_eq!(rep.status, 0, "{}", rep.message);
        assert_eq!(met.load(Relaxed), threads as u64, "{threads} scheduler threads did not all run at once");
    }
}

#[test]
fn capped_starts_leave_a_cpu_to_the_orchestrator_until_it_waits() {
    // As many scheduler threads as CPUs: with the orchestrator that is one
    // thread more than the host has, so while the orchestration runs only
    // CPUs - 1 schedulers may start. The tasks each wait until all of them
    // run at once (giving up after 5 s), so they can only finish once the
    // orchestrator's wait (here: reading a task's output) lifts the cap
    // and every thread starts; a thread that kept the other tasks behind
    // its own would leave them short.
    let cpus = super::sched::host_cpus().max(2);
    let threads = cpus;
    let inside = AtomicU64::new(0);
    let met = AtomicU64::new(0);
    let exec = KindExec(|_| meet_all(&inside, &met, threads));
    let cells = vec![0u64; threads];
    let tc: Vec<Tensor> = (0..threads).map(|k| ext(&cells[k..k + 1])).collect();
    let mut before_wait = u64::MAX;
    let rep = run_within(params(threads, 64), Duration::from_secs(30), &exec, &mut |o| {
        for t in &tc {
            o.submit_task(kind(0), &view(&[TensorArg::Inout(t)], &[]));
        }
        // Time for every thread the cap allows to start and enter a task.
        std::thread::sleep(Duration::from_millis(100));
        before_wait = inside.load(Acquire);
        o.get_tensor_data(&tc[0], &[0]);
    });
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(before_wait, cpus as u64 - 1, "schedulers started while the orchestrator ran");
    assert_eq!(met.load(Relaxed), threads as u64, "{threads} scheduler threads did not all run at once");
}

#[test]
fn a_full_wiring_queue_lifts_the_start_cap_after_its_grace() {
    // As above, CPUs - 1 schedulers may start while the orchestration runs,
    // and the first `threads` tasks each wait until all of them run at once.
    // Here the orchestrator never waits for a task: it goes on submitting
    // no-op tasks, and as the started threads are all held nothing is
    // wired, so the wiring queue fills. That wait keeps the cap for its
    // grace and then lifts it: the last thread starts, wires, and the
    // held tasks meet. A wait that kept the cap would leave them short.
    let cpus = super::sched::host_cpus().max(2);
    let threads = cpus;
    let inside = AtomicU64::new(0);
    let met = AtomicU64::new(0);
    let exec = KindExec(|k| {
        if k == 0 {
            meet_all(&inside, &met, threads)
        }
    });
    let cells = vec![0u64; threads];
    let tc: Vec<Tensor> = (0..threads).map(|k| ext(&cells[k..k + 1])).collect();
    let fillers = 2 * crate::runtime::trb::layout::WIRING_QUEUE_SIZE;
    let rep = run_within(params(threads, 4096), Duration::from_secs(30), &exec, &mut |o| {
        for t in &tc {
            o.submit_task(kind(0), &view(&[TensorArg::Inout(t)], &[]));
        }
        for _ in 0..fillers {
            o.submit_task(kind(1), &view(&[], &[]));
        }
    });
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rep.completed_tasks, (threads + fillers) as u64);
    assert_eq!(met.load(Relaxed), threads as u64, "{threads} scheduler threads did not all run at once");
}

#[test]
fn runs_that_submit_nothing_or_one_task_complete_with_dormant_threads() {
    let ran = AtomicU64::new(0);
    let exec = KindExec(|_| {
        ran.fetch_add(1, Relaxed);
    });
    let cell = vec![0u64; 1];
    let t = ext(&cell);
    let mem = TrbMemory::owned(&params(4, 64).sizing);
    let mut engine = TrbEngine::new(EngineConfig::default()).unwrap();
    for i in 0..200u64 {
        let rep = engine
            .run(&mem, params(4, 64), &exec, &mut |o| {
                if i % 2 == 1 {
                    o.submit_task(kind(0), &view(&[TensorArg::Inout(&t)], &[]));
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(rep.status, 0, "run {i}: {}", rep.message);
    }
    assert_eq!(ran.load(Relaxed), 100);
}
