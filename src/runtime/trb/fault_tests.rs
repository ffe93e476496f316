//! Faults at the engine level: orchestration API misuse, dep-pool
//! exhaustion, first-fatal-wins, failing and stuck user code. Each failure
//! is followed by a successful run on the same engine (or, once a stuck
//! thread was abandoned, the poisoned error and a fresh engine that works).

use super::api::*;
use super::arena::OwnedTrbMemory;
use super::engine::{CoreExecutor, EngineConfig, RunParams, RunReport, SimCore, TrbEngine};
use super::layout::{codes, TrbMemory};
use super::shared::FatalSource;
use crate::abi::tensor::Tensor;
use crate::abi::DataType;
use crate::config::RingSizing;
use crate::diagnostics::Error;
use std::time::{Duration, Instant};

/// Executor running `f`; an `Err` fails the subtask like a throwing kernel.
struct Exec<F: Fn(i32) -> Result<(), String> + Sync>(F);
impl<F: Fn(i32) -> Result<(), String> + Sync> CoreExecutor for Exec<F> {
    fn run_subtask(&self, func_id: i32, _args: *mut u64, _core: SimCore) -> Result<(), String> {
        (self.0)(func_id)
    }
}

fn ok_exec() -> Exec<impl Fn(i32) -> Result<(), String> + Sync> {
    Exec(|_| Ok(()))
}

fn params(windows: u32, heap: u64, deps: u32, timeout_ms: u64) -> RunParams {
    RunParams {
        block_dim: 3,
        sched_threads: 2,
        sizing: RingSizing::uniform(windows.into(), heap, deps.into()).unwrap(),
        scheduler_timeout_ms: timeout_ms,
        ..RunParams::default()
    }
}

struct Bench {
    engine: TrbEngine,
    mem: OwnedTrbMemory,
    p: RunParams,
}

impl Bench {
    fn new(p: RunParams) -> Bench {
        Bench { engine: TrbEngine::new(EngineConfig::default()).unwrap(), mem: TrbMemory::owned(&p.sizing), p }
    }

    fn run(&mut self, exec: &dyn CoreExecutor, mut f: impl FnMut(&mut dyn OrchestratorApi)) -> RunReport {
        let t = Instant::now();
        let r = self
            .engine
            .run(&self.mem, self.p, exec, &mut |o| {
                f(o);
                Ok(())
            })
            .unwrap();
        assert!(t.elapsed() < Duration::from_secs(20), "run took {:?}", t.elapsed());
        r
    }

    /// A run that must succeed: 20 chained tasks on one tensor.
    fn assert_usable(&mut self) {
        let buf = vec![0f32; 16];
        let x = ext(&buf, 16);
        let rep = self.run(&ok_exec(), |o| {
            for _ in 0..20 {
                assert_ne!(o.submit_task(aiv(0), &view(&[TensorArg::Inout(&x)], &[])).task_id, INVALID_TASK);
            }
        });
        assert_eq!(rep.status, 0, "{}", rep.message);
        assert!(!rep.fatal, "{}", rep.message);
        assert_eq!(rep.completed_tasks, 20);
    }
}

fn aiv(id: i32) -> MixedKernelIds {
    MixedKernelIds { aic: -1, aiv0: id, aiv1: -1 }
}

fn view<'a>(tensors: &'a [TensorArg<'a>], scalars: &'a [u64]) -> TaskArgsView<'a> {
    TaskArgsView { tensors, scalars, block_num: 1, require_sync_start: false, explicit_deps: &[] }
}

fn ext(buf: &[f32], n: u32) -> Tensor {
    let mut t = Tensor::external(buf.as_ptr() as u64, &[n], DataType::Float32);
    t.buffer_size = (buf.len() * 4) as u64;
    t
}

fn assert_invalid(rep: &RunReport, needles: &[&str]) {
    assert_eq!(rep.status, -codes::INVALID_ARGS, "{}", rep.message);
    for n in needles {
        assert!(rep.message.contains(n), "missing {n:?} in {}", rep.message);
    }
}

// ---------------------------------------------------------------------------
// Orchestration API checks.

#[test]
fn tensor_data_indices_are_checked() {
    let mut b = Bench::new(params(64, 1 << 20, 256, 3000));
    let buf = vec![1f32; 12];
    let mut x = ext(&buf, 12);
    x.ndims = 2;
    x.shapes[..2].copy_from_slice(&[3, 4]);
    x.set_row_major_strides();
    let rep = b.run(&ok_exec(), |o| {
        assert_eq!(o.get_tensor_data(&x, &[2, 3]), 1f32.to_bits() as u64, "in range");
        assert_eq!(o.get_tensor_data(&x, &[3, 0]), 0);
    });
    assert_invalid(&rep, &["get_tensor_data", "index 3 out of range for dimension 0 of size 3"]);
    b.assert_usable();
    let rep = b.run(&ok_exec(), |o| o.set_tensor_data(&x, &[1], 7));
    assert_invalid(&rep, &["set_tensor_data", "1 indices given for a tensor of ndims 2"]);
    assert!(buf.iter().all(|&v| v == 1.0), "nothing written");
    b.assert_usable();
    // A view whose element lies beyond buffer.size.
    let mut shifted = x;
    shifted.start_offset = 4;
    let rep = b.run(&ok_exec(), |o| o.set_tensor_data(&shifted, &[0, 0], 7));
    assert_invalid(&rep, &["set_tensor_data", "beyond the tensor's buffer.size 48"]);
    assert!(buf.iter().all(|&v| v == 1.0), "nothing written");
    b.assert_usable();
}

#[test]
fn task_tensor_views_must_lie_within_their_tensor() {
    let mut b = Bench::new(params(64, 1 << 20, 256, 3000));
    let buf = vec![0f32; 16];
    let x = ext(&buf, 16);
    let mut too_long = x;
    too_long.shapes[0] = 17;
    let mut shifted = x;
    shifted.start_offset = 8;
    let mut strided = x;
    strided.is_contiguous = 0;
    strided.shapes[0] = 9;
    strided.strides[0] = 2; // last element at 16
    for (t, needle) in [
        (too_long, "view of shape [17] at start_offset 0 ends at byte 68"),
        (shifted, "view of shape [16] at start_offset 8 ends at byte 96"),
        (strided, "ends at byte 68"),
    ] {
        let rep = b.run(&ok_exec(), |o| {
            let r = o.submit_task(aiv(0), &view(&[TensorArg::Input(&t)], &[]));
            assert_eq!(r.task_id, INVALID_TASK);
        });
        assert_invalid(&rep, &["submit_task: tensor arg 0", needle, "must lie within its tensor"]);
        assert_eq!(rep.completed_tasks, 0, "nothing ran");
        b.assert_usable();
    }
}

#[test]
fn ndims_must_be_1_to_5() {
    let mut b = Bench::new(params(64, 1 << 20, 256, 3000));
    let buf = vec![0f32; 16];
    for n in [0u32, 6] {
        let mut t = ext(&buf, 16);
        t.ndims = n;
        let rep = b.run(&ok_exec(), |o| {
            o.submit_dummy_task(&view(&[TensorArg::Inout(&t)], &[]));
        });
        assert_invalid(&rep, &["submit_dummy_task: tensor arg 0", &format!("ndims {n} out of range 1..=5")]);
        b.assert_usable();
        let c = TensorCreate {
            shapes: [4, 1, 1, 1, 1],
            ndims: n,
            dtype: DataType::Float32 as u8,
            manual_dep: false,
            initial_value: None,
        };
        let rep = b.run(&ok_exec(), |o| {
            o.alloc_tensors(&view(&[TensorArg::Output(&c)], &[]));
        });
        assert_invalid(&rep, &["alloc_tensors: tensor arg 0", "out of range 1..=5"]);
        b.assert_usable();
    }
}

#[test]
fn scope_balance_and_calls_after_done_are_checked() {
    let mut b = Bench::new(params(64, 1 << 20, 256, 3000));
    let rep = b.run(&ok_exec(), |o| {
        o.scope_begin(ScopeMode::Auto);
        o.scope_end();
        o.scope_end();
        assert!(o.is_fatal());
    });
    assert_invalid(&rep, &["scope_end without a matching scope_begin"]);
    b.assert_usable();
    let rep = b.run(&ok_exec(), |o| {
        o.submit_task(aiv(0), &view(&[], &[]));
        o.orchestration_done();
        assert_eq!(o.submit_task(aiv(0), &view(&[], &[])).task_id, INVALID_TASK);
    });
    assert_invalid(&rep, &["submit_task after rt_orchestration_done"]);
    b.assert_usable();
    let rep = b.run(&ok_exec(), |o| {
        o.orchestration_done();
        o.scope_end();
    });
    assert_invalid(&rep, &["scope_end after rt_orchestration_done"]);
    b.assert_usable();
}

// ---------------------------------------------------------------------------
// Dep-pool exhaustion.

#[test]
fn dep_pool_exhaustion_is_reported_promptly_whatever_the_timing() {
    // 1 producer + 100 readers of its output in one scope, dep pool 8: the
    // readers hold 100 entries until the scope retires. The watchdog budget
    // is far away, so the report must come from the allocator.
    let mut b = Bench::new(params(256, 1 << 20, 8, 20_000));
    let buf = vec![0f32; 16];
    let x = ext(&buf, 16);
    for sleep_ms in [0u64, 0, 20, 20] {
        let exec = Exec(|f| {
            if f == 1 {
                std::thread::sleep(Duration::from_millis(sleep_ms));
            }
            Ok(())
        });
        let t = Instant::now();
        let rep = b.run(&exec, |o| {
            o.submit_task(aiv(1), &view(&[TensorArg::OutputExisting(&x)], &[]));
            for _ in 0..100 {
                if o.submit_task(aiv(0), &view(&[TensorArg::Input(&x)], &[])).task_id == INVALID_TASK {
                    break;
                }
            }
        });
        assert_eq!(rep.status, -codes::DEP_POOL_OVERFLOW, "producer sleep {sleep_ms} ms: {}", rep.message);
        for n in ["ring=0", "used 8 of capacity 8", "ring_dep_pool", "PTO2_RING_DEP_POOL"] {
            assert!(rep.message.contains(n), "missing {n:?} in {}", rep.message);
        }
        assert!(t.elapsed() < Duration::from_secs(5), "reported after {:?}", t.elapsed());
        b.assert_usable();
    }
}

#[test]
fn a_consumer_queued_after_the_first_deadlock_check_is_still_found() {
    // Dep pool 8. P runs long; 8 readers of P's output take the whole
    // pool; 3 readers of Q's output wait for entries: no deadlock yet (they
    // do not hold P, the ring's oldest task), and the check says so. Then
    // (after Q ran) one more reader of P is queued behind them: P can no longer retire
    // before it is wired, which needs an entry only P's retirement frees.
    // The check, which looks only at tasks queued since its last look for
    // the same oldest task, must find it: the report comes from the wiring,
    // not from the watchdog 20 s later.
    let mut b = Bench::new(params(256, 1 << 20, 8, 20_000));
    let (bx, by) = (vec![0f32; 16], vec![0f32; 16]);
    let (x, y) = (ext(&bx, 16), ext(&by, 16));
    let exec = Exec(|f| {
        if f == 1 {
            std::thread::sleep(Duration::from_millis(300));
        }
        Ok(())
    });
    let t = Instant::now();
    let rep = b.run(&exec, |o| {
        o.submit_task(aiv(1), &view(&[TensorArg::OutputExisting(&x)], &[]));
        o.submit_task(aiv(0), &view(&[TensorArg::OutputExisting(&y)], &[]));
        for t in [&x; 8].into_iter().chain([&y; 3]) {
            o.submit_task(aiv(0), &view(&[TensorArg::Input(t)], &[]));
        }
        // Waiting for Q's output hands the staged tasks to a second
        // scheduler (the first one runs P), which wires the 8 readers of P
        // and checks at the first reader of Q, and runs Q.
        o.get_tensor_data(&y, &[0]);
        o.submit_task(aiv(0), &view(&[TensorArg::Input(&x)], &[]));
    });
    assert_eq!(rep.status, -codes::DEP_POOL_OVERFLOW, "{}", rep.message);
    assert!(rep.message.contains("has a consumer that is not wired yet"), "{}", rep.message);
    assert!(t.elapsed() < Duration::from_secs(5), "reported after {:?}", t.elapsed());
    b.assert_usable();
}

// ---------------------------------------------------------------------------
// First fatal wins.

#[test]
fn first_fatal_wins_over_a_later_orchestration_error() {
    let mut b = Bench::new(params(64, 1024, 16, 3000));
    let t = Instant::now();
    let r = b.engine.run(&b.mem, b.p, &ok_exec(), &mut |o| {
        let big = TensorCreate {
            shapes: [512, 1, 1, 1, 1],
            ndims: 1,
            dtype: DataType::Float32 as u8,
            manual_dep: false,
            initial_value: None,
        };
        let out = o.submit_task(aiv(0), &view(&[TensorArg::Output(&big)], &[]));
        if out.outputs.is_empty() {
            // What upstream's TaskOutputTensors::get_ref(0) does on an empty result.
            return Err(Error::UserCode("TaskOutputTensors::get_ref: index out of range".into()));
        }
        Ok(())
    });
    let rep = r.expect("the heap report wins over the user error");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(rep.status, -codes::HEAP_RING_DEADLOCK, "{}", rep.message);
    assert_eq!(rep.first_source, Some(FatalSource::Orchestrator));
    assert!(rep.message.contains("Heap Exhausted"), "{}", rep.message);
    assert!(rep.message.contains("[later errors: orchestration failed: "), "{}", rep.message);
    assert!(rep.message.contains("get_ref"), "{}", rep.message);
    b.assert_usable();
}

#[test]
fn failing_kernel_is_a_user_code_fatal_and_wins() {
    let mut b = Bench::new(params(64, 1 << 20, 256, 3000));
    let exec = Exec(|f| if f == 7 { Err("kernel func_id=7: the kernel threw: boom".into()) } else { Ok(()) });
    let rep = b.run(&exec, |o| {
        let a = o.submit_task(aiv(7), &view(&[], &[])).task_id;
        // Later, the orchestration reports its own fatal: secondary.
        while !o.is_fatal() {
            std::thread::yield_now();
        }
        o.report_fatal(codes::EXPLICIT_ORCH_FATAL, "user says stop");
        let _ = a;
    });
    assert_eq!(rep.status, 0, "no PTO2 code: {}", rep.message);
    assert!(rep.fatal);
    assert_eq!(rep.first_source, Some(FatalSource::UserCode));
    assert!(rep.message.starts_with("kernel failure in task 0x0: kernel func_id=7"), "{}", rep.message);
    assert!(rep.message.contains("boom") && rep.message.contains("user says stop"), "{}", rep.message);
    b.assert_usable();
}

// ---------------------------------------------------------------------------
// Watchdog over user code.

fn fired_after_ms(msg: &str) -> u64 {
    msg.split("no progress for ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

#[test]
fn kernel_that_does_not_return_is_abandoned_and_poisons_the_engine() {
    let mut p = params(64, 1 << 20, 256, 200);
    p.sched_threads = 2;
    let mut b = Bench::new(p);
    // The stuck thread keeps using the executor: it must outlive the test.
    let exec: &'static Exec<_> = Box::leak(Box::new(Exec(|f| {
        if f == 1 {
            std::thread::sleep(Duration::from_secs(5));
        }
        Ok(())
    })));
    let t = Instant::now();
    let rep = b.run(exec, |o| {
        o.submit_task(aiv(1), &view(&[], &[]));
    });
    let took = t.elapsed();
    assert_eq!(rep.status, -codes::SCHEDULER_TIMEOUT, "{}", rep.message);
    assert!(rep.abandoned.as_deref().is_some_and(|a| a.contains("1 kernel(s)")), "{:?}", rep.abandoned);
    // Fired one budget after the last progress (not two), returned long
    // before the kernel would (generous margins for a loaded machine).
    assert!(fired_after_ms(&rep.message) < 400, "{}", rep.message);
    assert!(took < Duration::from_millis(2500), "returned after {took:?}");
    let e = b.engine.run(&b.mem, b.p, &ok_exec(), &mut |_| Ok(())).unwrap_err();
    assert!(e.to_string().contains("context poisoned, finalize and re-create"), "{e}");
    // The stuck thread may still touch the run's memory: keep it forever.
    std::mem::forget(b.mem);
    std::mem::forget(b.engine);
    let mut fresh = Bench::new(p);
    fresh.assert_usable();
}

#[test]
fn orchestration_that_does_not_return_is_abandoned() {
    let mut b = Bench::new(params(64, 1 << 20, 256, 50));
    let t = Instant::now();
    // Boxed and leaked: the stuck orchestrator thread keeps running it.
    let f: &'static mut dyn FnMut(&mut dyn OrchestratorApi) -> crate::diagnostics::Result<()> =
        Box::leak(Box::new(|o: &mut dyn OrchestratorApi| {
            o.submit_task(aiv(0), &view(&[], &[]));
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        }));
    let rep = b.engine.run(&b.mem, b.p, &ok_exec(), f).unwrap();
    let took = t.elapsed();
    assert_eq!(rep.status, -codes::SCHEDULER_TIMEOUT, "{}", rep.message);
    assert!(rep.message.contains("stuck orchestration"), "{}", rep.message);
    assert!(rep.abandoned.as_deref().is_some_and(|a| a.contains("the orchestration")), "{:?}", rep.abandoned);
    assert!(took < Duration::from_millis(2500), "returned after {took:?}");
    std::mem::forget(b.mem);
    std::mem::forget(b.engine);
    Bench::new(b.p).assert_usable();
}

// ---------------------------------------------------------------------------
// Staged submissions (the orchestrator publishes tasks to the schedulers in
// batches): a task is never held back by a batch that does not fill.

/// Runs an orchestration that calls `prelude`, submits three tasks (fewer
/// than a batch) and then stays in user code, without another runtime
/// call, until they have run (2 s at most); checks they ran before it
/// returned and the run succeeded.
fn staged_tasks_run_in_user_code(sched_threads: usize, prelude: impl Fn(&mut dyn OrchestratorApi)) {
    use std::sync::atomic::{AtomicU32, Ordering::*};
    let mut b = Bench::new(RunParams { sched_threads, ..params(64, 1 << 20, 256, 3000) });
    let ran = AtomicU32::new(0);
    let exec = Exec(|_| {
        ran.fetch_add(1, SeqCst);
        Ok(())
    });
    let mut seen = 0;
    let rep = b.run(&exec, |o| {
        prelude(o);
        for _ in 0..3 {
            assert_ne!(o.submit_task(aiv(0), &view(&[], &[])).task_id, INVALID_TASK);
        }
        let t = Instant::now();
        while ran.load(SeqCst) < 3 && t.elapsed() < Duration::from_secs(2) {
            std::hint::spin_loop();
        }
        seen = ran.load(SeqCst);
    });
    assert_eq!(seen, 3, "tasks run before the orchestration returned ({sched_threads} schedulers)");
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rep.completed_tasks, 3);
    b.assert_usable();
}

/// The orchestration submits fewer tasks than a batch and then stays in
/// user code, without another runtime call, until the tasks have run: an
/// idle scheduler publishes them on the orchestrator's behalf. Without that
/// the run would hang until the watchdog (3 s here) fires.
#[test]
fn staged_tasks_run_while_the_orchestration_stays_in_user_code() {
    for sched_threads in [1, 2] {
        staged_tasks_run_in_user_code(sched_threads, |_| {});
    }
}

/// The run's scheduler threads start dormant and the first publication of
/// a task starts one; a flush with nothing staged (the end of an empty
/// scope) must not count as that first publication, or the next tasks
/// would stay staged with no thread to run or publish them.
#[test]
fn the_first_task_starts_a_scheduler_after_an_empty_scope() {
    for sched_threads in [1, 3] {
        staged_tasks_run_in_user_code(sched_threads, |o| {
            o.scope_begin(ScopeMode::Auto);
            o.scope_end();
        });
    }
}

/// A long chain and wide independent runs, with and without scopes, cross
/// many batch boundaries: every task runs once, in dependency order.
#[test]
fn batched_publication_keeps_every_task_and_the_chain_order() {
    use std::sync::atomic::{AtomicI64, AtomicU32, Ordering::*};
    let mut b = Bench::new(params(64, 1 << 20, 256, 3000));
    let last = AtomicI64::new(-1);
    let order_ok = AtomicU32::new(1);
    let exec = Exec(|f| {
        // func_id = hop index: each hop must follow the previous one.
        if last.swap(f as i64, SeqCst) != f as i64 - 1 {
            order_ok.store(0, SeqCst);
        }
        Ok(())
    });
    let buf = vec![0f32; 16];
    let x = ext(&buf, 16);
    for n in [1usize, 15, 16, 17, 33, 200] {
        last.store(-1, SeqCst);
        let rep = b.run(&exec, |o| {
            for i in 0..n {
                if i % 40 == 0 {
                    o.scope_begin(ScopeMode::Auto);
                }
                assert_ne!(o.submit_task(aiv(i as i32), &view(&[TensorArg::Inout(&x)], &[])).task_id, INVALID_TASK);
                if i % 40 == 39 || i == n - 1 {
                    o.scope_end();
                }
            }
        });
        assert_eq!(rep.status, 0, "{}", rep.message);
        assert_eq!(rep.completed_tasks, n as u64, "chain of {n}");
        assert_eq!(last.load(SeqCst), n as i64 - 1, "chain of {n}: last hop");
        assert_eq!(order_ok.load(SeqCst), 1, "chain of {n}: hops out of order");
    }
    b.assert_usable();
}
