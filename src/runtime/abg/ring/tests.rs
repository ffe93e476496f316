//! aicpu_build_graph ring form on the TRB engine: the compiled vector example
//! end to end (Rust kernels), explicit-order graphs and the failure cases.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::so::RingSo;
use crate::abi::tensor::Tensor;
use crate::abi::DataType;
use crate::config::RingSizing;
use crate::runtime::trb::api::{MixedKernelIds, OrchestratorApi, ScopeMode, TaskArgsView, TensorArg};
use crate::runtime::trb::arena::OwnedTrbMemory;
use crate::runtime::trb::engine::{CoreExecutor, EngineConfig, RunParams, RunReport, SimCore, TrbEngine};
use crate::runtime::trb::layout::codes;
use crate::runtime::trb::layout::TrbMemory;
use crate::runtime::trb::orchestration::testutil::{build_so, ChipArgsImage};

const N: u32 = 1024;

struct FnExec<F: Fn(i32, *mut u64) + Sync>(F);
impl<F: Fn(i32, *mut u64) + Sync> CoreExecutor for FnExec<F> {
    fn run_subtask(&self, func_id: i32, args: *mut u64, _core: SimCore) -> Result<(), String> {
        (self.0)(func_id, args);
        Ok(())
    }
}

/// The three vector kernels of `examples/kernels`, in Rust.
fn vector_kernels(func: i32, args: *mut u64) {
    // SAFETY: the engine's dispatch layout: args[i] points at the task's
    // Tensor copies (live buffers), scalars follow the tensors.
    unsafe {
        let t = |i: usize| &*(*args.add(i) as *const Tensor);
        let p = |t: &Tensor| (t.buffer_addr as *mut f32).add(t.start_offset as usize);
        match func {
            0 | 2 => {
                let (x, y, z) = (t(0), t(1), t(2));
                for i in 0..z.numel() as usize {
                    let (a, b) = (*p(x).add(i), *p(y).add(i));
                    *p(z).add(i) = if func == 0 { a + b } else { a * b };
                }
            }
            1 => {
                let (x, z) = (t(0), t(1));
                let s = f32::from_bits(*args.add(2) as u32);
                for i in 0..z.numel() as usize {
                    *p(z).add(i) = *p(x).add(i) + s;
                }
            }
            _ => {}
        }
    }
}

fn params(sched: usize, orch_to_sched: bool) -> RunParams {
    RunParams {
        block_dim: 3,
        sched_threads: sched,
        orch_to_sched,
        sizing: RingSizing::uniform(64, 1 << 20, 256).unwrap(),
        scheduler_timeout_ms: 3000,
        explicit_deps: true,
        ..RunParams::default()
    }
}

struct Bench {
    engine: TrbEngine,
    mem: OwnedTrbMemory,
}

impl Bench {
    fn new() -> Bench {
        let p = params(1, false);
        Bench { engine: TrbEngine::new(EngineConfig::default()).unwrap(), mem: TrbMemory::owned(&p.sizing) }
    }

    fn run(
        &mut self,
        p: RunParams,
        exec: &dyn CoreExecutor,
        mut f: impl FnMut(&mut dyn OrchestratorApi) -> crate::diagnostics::Result<()>,
    ) -> crate::diagnostics::Result<RunReport> {
        let t = Instant::now();
        let r = self.engine.run(&self.mem, p, exec, &mut |o| f(o));
        assert!(t.elapsed() < Duration::from_secs(10), "run took {:?}", t.elapsed());
        if let Ok(rep) = &r {
            assert!(rep.abandoned.is_none(), "{}", rep.message);
        }
        r
    }
}

fn aiv(id: i32) -> MixedKernelIds {
    MixedKernelIds { aic: -1, aiv0: id, aiv1: -1 }
}

fn view<'a>(tensors: &'a [TensorArg<'a>], scalars: &'a [u64]) -> TaskArgsView<'a> {
    TaskArgsView { tensors, scalars, block_num: 1, require_sync_start: false, explicit_deps: &[] }
}

/// Submits a no-tensor task running kernel `func` (`scalar` is its tag).
fn tag_task(o: &mut dyn OrchestratorApi, func: i32, scalar: u64) -> u64 {
    o.submit_task(aiv(func), &view(&[], &[scalar])).task_id
}

/// Executor recording the scalar tag of every task it runs, in order.
struct Recorder {
    order: Mutex<Vec<u64>>,
    ran: AtomicU32,
    flag: AtomicBool,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder { order: Mutex::new(Vec::new()), ran: AtomicU32::new(0), flag: AtomicBool::new(false) }
    }
    fn order(&self) -> Vec<u64> {
        self.order.lock().unwrap().clone()
    }
}

impl CoreExecutor for Recorder {
    fn run_subtask(&self, _func_id: i32, args: *mut u64, _core: SimCore) -> Result<(), String> {
        // SAFETY: tag tasks have no tensors and one scalar at args[0].
        let tag = unsafe { *args };
        std::thread::sleep(Duration::from_millis(2));
        self.order.lock().unwrap().push(tag);
        self.ran.fetch_add(1, SeqCst);
        self.flag.store(true, SeqCst);
        Ok(())
    }
}

fn pos(order: &[u64], tag: u64) -> usize {
    order.iter().position(|&t| t == tag).unwrap_or_else(|| panic!("task {tag} did not run: {order:?}"))
}

// ---------------------------------------------------------------------------
// The compiled example.

fn vector_so() -> RingSo {
    let bytes = build_so(&["examples/abg_ring_vector/orchestration.cpp"], true, &[]);
    RingSo::load(&bytes, 7, "", "").expect("load ring vector orchestration")
}

fn run_vector(bench: &mut Bench, so: &RingSo, p: RunParams) {
    let a = vec![2.0f32; N as usize];
    let b = vec![3.0f32; N as usize];
    let mut f = vec![0.0f32; N as usize];
    let ta = Tensor::external(a.as_ptr() as u64, &[N], DataType::Float32);
    let tb = Tensor::external(b.as_ptr() as u64, &[N], DataType::Float32);
    let tf = Tensor::external(f.as_mut_ptr() as u64, &[N], DataType::Float32);
    let img = ChipArgsImage::new(&[ta, tb, tf], &[]);
    let exec = FnExec(vector_kernels);
    // SAFETY: `img` is a live 64-aligned image whose tensors point at the
    // live vectors above.
    let rep = bench.run(p, &exec, |o| unsafe { so.run(o, img.as_ptr()) }).expect("run");
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rep.total_tasks, 4);
    assert_eq!(rep.completed_tasks, 4);
    assert!(f.iter().all(|&v| v == 42.0), "f[0] = {}", f[0]);
}

#[test]
fn vector_example_end_to_end_with_1_and_3_schedulers_and_orch_to_sched() {
    let so = vector_so();
    assert!(so.has_config());
    let mut bench = Bench::new();
    for (sched, o2s) in [(1, false), (3, false), (1, true), (3, true)] {
        run_vector(&mut bench, &so, params(sched, o2s));
    }
}

#[test]
fn vector_example_config_rejects_too_few_arguments() {
    let so = vector_so();
    let img = ChipArgsImage::new(&[Tensor::external(0x1000, &[N], DataType::Float32)], &[]);
    let mut bench = Bench::new();
    // SAFETY: live 64-aligned image; the entry never runs (config refuses).
    let r = bench.run(params(1, false), &FnExec(vector_kernels), |o| unsafe { so.run(o, img.as_ptr()) });
    let e = r.expect_err("too few arguments");
    assert!(e.to_string().contains("expects at least 3 arguments"), "{e}");
}

// ---------------------------------------------------------------------------
// Explicit order.

#[test]
fn consumer_submitted_before_its_producer_runs_after_it() {
    let rec = Recorder::new();
    let mut bench = Bench::new();
    for sched in [1, 3] {
        rec.order.lock().unwrap().clear();
        let rep = bench
            .run(params(sched, false), &rec, |o| {
                o.scope_begin(ScopeMode::Auto);
                let first = tag_task(o, 0, 1);
                let second = tag_task(o, 0, 2);
                let third = tag_task(o, 0, 3);
                // Reverse of the submit order: 3 -> 2 -> 1.
                o.add_dependency(third, second);
                o.add_dependency(second, first);
                o.scope_end();
                Ok(())
            })
            .unwrap();
        assert_eq!(rep.status, 0, "{}", rep.message);
        assert_eq!(rec.order(), vec![3, 2, 1]);
    }
}

#[test]
fn tasks_reach_the_schedulers_only_at_scope_end() {
    let rec = Recorder::new();
    let mut bench = Bench::new();
    let rep = bench
        .run(params(1, false), &rec, |o| {
            o.scope_begin(ScopeMode::Auto);
            tag_task(o, 0, 1);
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(rec.ran.load(SeqCst), 0, "a task ran before its scope ended");
            o.scope_end();
            Ok(())
        })
        .unwrap();
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rec.order(), vec![1]);
}

#[test]
fn edge_from_an_already_completed_producer() {
    let rec = Recorder::new();
    let mut bench = Bench::new();
    let rep = bench
        .run(params(1, false), &rec, |o| {
            o.scope_begin(ScopeMode::Auto);
            let t0 = tag_task(o, 0, 10);
            o.scope_end();
            let t = Instant::now();
            while !rec.flag.load(SeqCst) && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(rec.flag.load(SeqCst), "producer never ran");
            o.scope_begin(ScopeMode::Auto);
            let t1 = tag_task(o, 0, 11);
            o.add_dependency(t0, t1);
            o.scope_end();
            Ok(())
        })
        .unwrap();
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rec.order(), vec![10, 11]);
}

#[test]
fn explicit_arg_deps_and_deep_scopes_share_ring_3_in_order() {
    let rec = Recorder::new();
    let mut bench = Bench::new();
    let rep = bench
        .run(params(3, true), &rec, |o| {
            // Depths 1..=5: depths 3, 4 and 5 all allocate on ring 3.
            for _ in 0..5 {
                o.scope_begin(ScopeMode::Auto);
            }
            let deep = tag_task(o, 0, 5);
            o.scope_end(); // depth 5 ends: its ring-3 task waits for depth 3
            let d4 = tag_task(o, 0, 4);
            o.add_dependency(deep, d4);
            o.scope_end();
            let deps = [d4];
            let args = TaskArgsView { explicit_deps: &deps, ..view(&[], &[3]) };
            o.submit_task(aiv(0), &args);
            o.scope_end(); // depth 3: publishes 5, 4, 3 in submit order
            o.scope_end();
            o.scope_end();
            Ok(())
        })
        .unwrap();
    assert_eq!(rep.status, 0, "{}", rep.message);
    let order = rec.order();
    assert!(pos(&order, 5) < pos(&order, 4) && pos(&order, 4) < pos(&order, 3), "{order:?}");
}

#[test]
fn orchestration_that_never_submits_completes_empty() {
    let rec = Recorder::new();
    let mut bench = Bench::new();
    let rep = bench.run(params(1, false), &rec, |_| Ok(())).unwrap();
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rep.total_tasks, 0);
}

// ---------------------------------------------------------------------------
// Failures: a numbered code and a message, never a hang, engine usable after.

fn expect_invalid(
    bench: &mut Bench,
    needle: &str,
    f: impl FnMut(&mut dyn OrchestratorApi) -> crate::diagnostics::Result<()>,
) {
    let rec = Recorder::new();
    let rep = bench.run(params(1, false), &rec, f).unwrap();
    assert_eq!(rep.status, -codes::INVALID_ARGS, "{}", rep.message);
    assert!(rep.message.contains(needle), "{}", rep.message);
    // The engine stays usable.
    let ok = bench.run(params(1, false), &rec, |o| {
        o.scope_begin(ScopeMode::Auto);
        tag_task(o, 0, 1);
        o.scope_end();
        Ok(())
    });
    assert_eq!(ok.unwrap().status, 0);
}

#[test]
fn edge_naming_an_unknown_task_fails_with_invalid_args() {
    let mut bench = Bench::new();
    expect_invalid(&mut bench, "producer 0x100000007 is not a task id", |o| {
        o.scope_begin(ScopeMode::Auto);
        let t = tag_task(o, 0, 1);
        o.add_dependency((1 << 32) | 7, t);
        Ok(())
    });
    expect_invalid(&mut bench, "consumer 0xffffffffffffffff is not a task id", |o| {
        let t = tag_task(o, 0, 1);
        o.add_dependency(t, u64::MAX);
        Ok(())
    });
}

#[test]
fn edge_into_a_published_task_fails_with_invalid_args() {
    let mut bench = Bench::new();
    expect_invalid(&mut bench, "already published", |o| {
        o.scope_begin(ScopeMode::Auto);
        let t0 = tag_task(o, 0, 1);
        o.scope_end();
        o.scope_begin(ScopeMode::Auto);
        let t1 = tag_task(o, 0, 2);
        o.add_dependency(t1, t0);
        o.scope_end();
        Ok(())
    });
    // A closed depth-5 scope whose ring-3 task is not yet published.
    expect_invalid(&mut bench, "scope already ended", |o| {
        for _ in 0..5 {
            o.scope_begin(ScopeMode::Auto);
        }
        let deep = tag_task(o, 0, 1);
        o.scope_end();
        let t = tag_task(o, 0, 2);
        o.add_dependency(t, deep);
        Ok(())
    });
}

#[test]
fn cycles_fail_with_invalid_args_instead_of_hanging() {
    let mut bench = Bench::new();
    expect_invalid(&mut bench, "cycle", |o| {
        o.scope_begin(ScopeMode::Auto);
        let t = tag_task(o, 0, 1);
        o.add_dependency(t, t);
        o.scope_end();
        Ok(())
    });
    expect_invalid(&mut bench, "cycle", |o| {
        o.scope_begin(ScopeMode::Auto);
        let a = tag_task(o, 0, 1);
        let b = tag_task(o, 0, 2);
        let c = tag_task(o, 0, 3);
        o.add_dependency(a, b);
        o.add_dependency(b, c);
        o.add_dependency(c, a);
        o.scope_end();
        Ok(())
    });
    // Across scopes: the inner task is published, the outer one still open.
    expect_invalid(&mut bench, "cycle", |o| {
        o.scope_begin(ScopeMode::Auto);
        let outer = tag_task(o, 0, 1);
        o.scope_begin(ScopeMode::Auto);
        let inner = tag_task(o, 0, 2);
        o.add_dependency(outer, inner);
        o.scope_end();
        o.add_dependency(inner, outer);
        o.scope_end();
        Ok(())
    });
}

#[test]
fn duplicate_edges_collapse() {
    let rec = Recorder::new();
    let mut bench = Bench::new();
    let rep = bench
        .run(params(1, false), &rec, |o| {
            o.scope_begin(ScopeMode::Auto);
            let a = tag_task(o, 0, 1);
            let b = tag_task(o, 0, 2);
            o.add_dependency(a, b);
            o.add_dependency(a, b);
            o.scope_end();
            Ok(())
        })
        .unwrap();
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rec.order(), vec![1, 2]);
}

#[test]
fn scope_larger_than_the_task_window_reports_trb_scope_deadlock() {
    let rec = Recorder::new();
    let mut bench = Bench::new();
    let mut p = params(1, false);
    p.sizing = RingSizing::uniform(8, 1 << 20, 256).unwrap();
    let rep = bench
        .run(p, &rec, |o| {
            o.scope_begin(ScopeMode::Auto);
            for i in 0..20 {
                tag_task(o, 0, i);
            }
            o.scope_end();
            Ok(())
        })
        .unwrap();
    assert_eq!(rep.status, -codes::SCOPE_DEADLOCK, "{}", rep.message);
    assert!(rep.message.contains("ring_task_window"), "{}", rep.message);
}

#[test]
fn failing_builder_fails_the_run_and_the_engine_stays_usable() {
    let rec = Recorder::new();
    let mut bench = Bench::new();
    let r = bench.run(params(1, false), &rec, |o| {
        o.scope_begin(ScopeMode::Auto);
        tag_task(o, 0, 1);
        Err(crate::diagnostics::Error::UserCode("builder gave up".into()))
    });
    let e = r.expect_err("builder failure");
    assert!(e.to_string().contains("builder gave up"), "{e}");
    let ok = bench.run(params(1, false), &rec, |o| {
        tag_task(o, 0, 2);
        Ok(())
    });
    assert_eq!(ok.unwrap().status, 0);
}

#[test]
fn tensormap_mode_refuses_add_dependency() {
    let rec = Recorder::new();
    let mut bench = Bench::new();
    let mut p = params(1, false);
    p.explicit_deps = false;
    let rep = bench
        .run(p, &rec, |o| {
            let a = tag_task(o, 0, 1);
            let b = tag_task(o, 0, 2);
            o.add_dependency(a, b);
            Ok(())
        })
        .unwrap();
    assert_eq!(rep.status, -codes::INVALID_ARGS, "{}", rep.message);
    assert!(rep.message.contains("explicit-edge mode"), "{}", rep.message);
}

// ---------------------------------------------------------------------------
// Through the real ops table of a compiled orchestration.

fn test_so() -> RingSo {
    let bytes = build_so(&["src/runtime/abg/ring/test_orch.cpp"], true, &[]);
    RingSo::load(&bytes, 8, "", "").expect("load ring test orchestration")
}

fn run_case(bench: &mut Bench, so: &RingSo, case: u64) -> crate::diagnostics::Result<RunReport> {
    let img = ChipArgsImage::new(&[], &[case]);
    let rec = Recorder::new();
    // SAFETY: live 64-aligned image.
    bench.run(params(1, false), &rec, |o| unsafe { so.run(o, img.as_ptr()) })
}

#[test]
fn log_entries_format_and_forward_every_level() {
    use crate::runtime::trb::orchestration::ops::LOG_CAPTURE;
    use crate::runtime::trb::orchestration::testutil::MockApi;
    let so = test_so();
    assert!(!so.has_config());
    let img = ChipArgsImage::new(&[], &[0]);
    let mut api = MockApi::new();
    LOG_CAPTURE.with(|c| c.borrow_mut().clear());
    // SAFETY: live 64-aligned image; case 0 only logs.
    unsafe { so.run(&mut api, img.as_ptr()) }.expect("run");
    let logs: Vec<(i32, String, String)> =
        LOG_CAPTURE.with(|c| c.borrow().iter().map(|(l, f, _, m)| (*l, f.clone(), m.clone())).collect());
    let f = "aicpu_orchestration_entry".to_string();
    assert_eq!(
        logs,
        vec![
            (0, f.clone(), "e1".into()),
            (1, f.clone(), "w2".into()),
            (4, f.clone(), "i3".into()),
            (2, f.clone(), "d4".into()),
            (4, f, "a5".into()),
        ]
    );
}

#[test]
fn compiled_orchestration_failures_end_with_codes_and_messages() {
    let so = test_so();
    let mut bench = Bench::new();
    let rep = run_case(&mut bench, &so, 1).unwrap();
    assert_eq!(rep.status, -codes::INVALID_ARGS, "{}", rep.message);
    assert!(rep.message.contains("cycle"), "{}", rep.message);

    let e = run_case(&mut bench, &so, 2).expect_err("C++ exception");
    assert!(e.to_string().contains("get_ref: index out of range"), "{e}");

    let rep = run_case(&mut bench, &so, 3).unwrap();
    assert_eq!(rep.status, -codes::INVALID_ARGS, "{}", rep.message);
    assert!(rep.message.contains("producer 0xdead is not a task id"), "{}", rep.message);

    // A cross-ring edge (root scope ring 0 -> scope ring 1) after the failures.
    let rep = run_case(&mut bench, &so, 4).unwrap();
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rep.completed_tasks, 2);
}

#[test]
fn a_missing_named_config_is_a_load_error() {
    // The ring form's policy (MissingConfig::RequireNamed): a config name
    // the callable gave must resolve; the default one may be absent.
    let bytes = build_so(&["examples/abg_ring_vector/orchestration.cpp"], true, &[]);
    let err = RingSo::load(&bytes, 7, "", "no_such_config").unwrap_err();
    assert!(
        matches!(&err, crate::diagnostics::Error::Load(m) if m.ends_with("of callable 7: config symbol 'no_such_config' not found")),
        "{err:?}"
    );
}
