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
