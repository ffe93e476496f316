//! End-to-end tests of aicpu_build_graph through its narrow entry: real
//! plugin and kernel SOs built from `examples/abg_vector` and the test
//! sources next to this file, run on the simulated device's threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::MAX_ORCH_ARGS;
use super::exec::{deal_cores, run, AbgOutcome, AbgRun};
use super::graph::{MAX_FANOUT, MAX_FUNC_ID};
use super::plugin::AbgPlugin;
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::abi::{ArgDirection, DataType, Tensor};
use crate::config::BuildMode;
use crate::device::memory::DeviceMemory;
use crate::diagnostics::Error;
use crate::kernel::so::KernelEntry;
use crate::kernel::KernelSo;
use crate::runtime::trb::orchestration::testutil::build_so;

const LOG_CAP: usize = 64;

fn kernels(sources: &[(&str, bool)]) -> (Vec<KernelSo>, Vec<Option<KernelEntry>>) {
    let sos: Vec<KernelSo> = sources
        .iter()
        .enumerate()
        .map(|(i, (src, cpp))| KernelSo::load(&build_so(&[src], *cpp, &[]), i as i32).unwrap())
        .collect();
    let table = sos.iter().map(|k| Some(k.entry())).collect();
    (sos, table)
}

fn plugin(src: &str, name: &str) -> Arc<AbgPlugin> {
    Arc::new(AbgPlugin::load(&build_so(&[src], false, &[]), name).unwrap())
}

struct Setup {
    memory: Arc<DeviceMemory>,
    _sos: Vec<KernelSo>,
    table: Vec<Option<KernelEntry>>,
}

fn run_with(
    s: &Setup,
    p: &Arc<AbgPlugin>,
    args: &ChipStorageTaskArgs,
    sig: &[ArgDirection],
    mode: BuildMode,
    threads: usize,
    timeout_ms: u64,
) -> AbgOutcome {
    let t0 = Instant::now();
    let out = run(AbgRun {
        plugin: p,
        args,
        signature: sig,
        kernels: &s.table,
        memory: &s.memory,
        bind: Arc::new(|_| {}),
        threads,
        block_dim: 2,
        build_mode: mode,
        timeout_ms,
    });
    assert!(t0.elapsed() < Duration::from_secs(60), "a run must be bounded in time");
    out
}

fn vector_setup() -> (Setup, Arc<AbgPlugin>) {
    let (sos, table) = kernels(&[
        ("examples/abg_vector/kernel_add.c", false),
        ("examples/abg_vector/kernel_add_scalar.c", false),
        ("examples/abg_vector/kernel_mul.c", false),
    ]);
    let p = plugin("examples/abg_vector/orchestration.c", "");
    (Setup { memory: Arc::new(DeviceMemory::new()), _sos: sos, table }, p)
}

fn run_vector(s: &Setup, p: &Arc<AbgPlugin>, mode: BuildMode, threads: usize) -> (AbgOutcome, Vec<f32>) {
    let n = 4096;
    let (a, b) = (vec![2.0f32; n], vec![3.0f32; n]);
    let mut f = vec![-1.0f32; n];
    let mut args = ChipStorageTaskArgs::new();
    for v in [a.as_ptr(), b.as_ptr(), f.as_mut_ptr()] {
        args.push_tensor(Tensor::external(v as u64, &[n as u32], DataType::Float32)).unwrap();
    }
    let sig = [ArgDirection::In, ArgDirection::In, ArgDirection::Out];
    let out = run_with(s, p, &args, &sig, mode, threads, 10_000);
    (out, f)
}

#[test]
fn vector_example_in_both_build_modes() {
    let (s, p) = vector_setup();
    for mode in [BuildMode::Sequential, BuildMode::Concurrent] {
        for threads in [2, 3, 4] {
            let (out, f) = run_vector(&s, &p, mode, threads);
            assert_eq!(out.result.unwrap().tasks, 4, "{mode:?} {threads}");
            assert!(f.iter().all(|&v| v == 42.0), "{mode:?} {threads}: f[0] = {}", f[0]);
            assert_eq!(s.memory.live_allocations(), 0, "staging and device_malloc memory is released");
        }
    }
}

#[test]
fn runs_with_different_build_modes_at_the_same_time() {
    let handles: Vec<_> = [BuildMode::Sequential, BuildMode::Concurrent]
        .into_iter()
        .map(|mode| {
            std::thread::spawn(move || {
                let (s, p) = vector_setup();
                for _ in 0..5 {
                    let (out, f) = run_vector(&s, &p, mode, 3);
                    out.result.unwrap();
                    assert!(f.iter().all(|&v| v == 42.0), "{mode:?}");
                }
                assert_eq!(s.memory.live_allocations(), 0);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn case_setup() -> Setup {
    let (sos, table) = kernels(&[
        ("src/runtime/abg/test_kernels.c", false),
        ("src/runtime/abg/test_kernel_throw.cpp", true),
        ("examples/kernels/kernel_noop.c", false),
    ]);
    Setup { memory: Arc::new(DeviceMemory::new()), _sos: sos, table }
}

/// Runs test plugin `name` with a log tensor; returns the outcome and the log (copied back on success).
fn run_case(s: &Setup, name: &str, mode: BuildMode, timeout_ms: u64) -> (AbgOutcome, Vec<u64>) {
    let p = plugin("src/runtime/abg/test_plugins.c", name);
    let mut log = vec![0u64; LOG_CAP];
    let mut args = ChipStorageTaskArgs::new();
    args.push_tensor(Tensor::external(log.as_mut_ptr() as u64, &[LOG_CAP as u32], DataType::Uint64)).unwrap();
    let out = run_with(s, &p, &args, &[ArgDirection::Inout], mode, 3, timeout_ms);
    (out, log)
}

fn logged(log: &[u64]) -> Vec<u64> {
    log[1..1 + log[0] as usize].to_vec()
}

#[test]
fn successors_published_before_their_producers_run_in_order() {
    let s = case_setup();
    for mode in [BuildMode::Sequential, BuildMode::Concurrent] {
        let (out, log) = run_case(&s, "chain_reverse", mode, 10_000);
        assert_eq!(out.result.unwrap().tasks, 4);
        assert_eq!(logged(&log), vec![0, 1, 2, 3], "{mode:?}");
    }
}

#[test]
fn concurrent_mode_runs_tasks_while_building_and_edges_from_completed_tasks_add_no_wait() {
    let s = case_setup();
    let (out, log) = run_case(&s, "late_publish", BuildMode::Concurrent, 10_000);
    out.result.unwrap();
    assert_eq!(logged(&log), vec![0, 1]);
    // Sequential: nothing runs while the builder builds.
    let (out, log) = run_case(&s, "mode_probe", BuildMode::Sequential, 10_000);
    out.result.unwrap();
    assert_eq!((log[0], log[LOG_CAP - 1]), (1, 100), "the task ran only after the builder returned");
    assert_eq!(s.memory.live_allocations(), 0);
    // Sequential mode cannot serve a builder that waits for a task: the watchdog ends it.
    let (out, log) = run_case(&case_setup(), "late_publish", BuildMode::Sequential, 200);
    let e = out.result.unwrap_err();
    assert!(matches!(e, Error::Runtime { code: 100, .. }) && out.abandoned, "{e}");
    assert_eq!(log[0], 0, "a failed run copies nothing back");
}

fn expect_failure(s: &Setup, name: &str, mode: BuildMode, code: i32, needle: &str) {
    let (out, log) = run_case(s, name, mode, 10_000);
    assert!(!out.abandoned, "{name}");
    let e = out.result.unwrap_err();
    assert_eq!(e.code() as i32, code, "{name}: {e}");
    assert!(e.to_string().contains(needle), "{name}: {e}");
    assert!(log.iter().all(|&v| v == 0), "{name}: host buffers are written only on success");
    assert_eq!(s.memory.live_allocations(), 0, "{name}");
}

#[test]
fn failures_end_in_a_numbered_error_and_the_next_run_works() {
    let s = case_setup();
    let user = crate::diagnostics::ErrorCode::PtoErrUserCode as i32;
    for mode in [BuildMode::Sequential, BuildMode::Concurrent] {
        expect_failure(&s, "cycle", mode, user, "2 of 2 published tasks can never become ready");
        expect_failure(&s, "unpublished_pred", mode, user, "1 tasks added but never published");
        expect_failure(&s, "bad_edge", mode, user, "add_successor_conditional(0, 5)");
        expect_failure(&s, "neg_edge", mode, user, "add_successor_conditional(-1, 0)");
        expect_failure(&s, "fanout", mode, user, "already has 512 successors");
        expect_failure(&s, "fail_rc", mode, user, "returned 3");
        expect_failure(&s, "unpublished", mode, user, "added 3 tasks but never published 2");
        expect_failure(&s, "throw_task", mode, user, "kernel fault on purpose");
        let (out, log) = run_case(&s, "chain_reverse", mode, 10_000);
        out.result.unwrap();
        assert_eq!(logged(&log), vec![0, 1, 2, 3], "a run after failures works");
    }
    expect_failure(&s, "overflow", BuildMode::Concurrent, user, "the task array is full (131072 tasks)");
}

#[test]
fn many_independent_tasks_in_both_modes() {
    let s = case_setup();
    let p = plugin("src/runtime/abg/test_plugins.c", "independent");
    let mut log = vec![0u64; LOG_CAP];
    let mut args = ChipStorageTaskArgs::new();
    args.push_tensor(Tensor::external(log.as_mut_ptr() as u64, &[LOG_CAP as u32], DataType::Uint64)).unwrap();
    for mode in [BuildMode::Sequential, BuildMode::Concurrent] {
        let t0 = Instant::now();
        let out = run_with(&s, &p, &args, &[ArgDirection::Inout], mode, 3, 10_000);
        let ns = t0.elapsed().as_nanos() as f64 / 20_000.0;
        assert_eq!(out.result.unwrap().tasks, 20_000, "{mode:?}");
        eprintln!("aicpu_build_graph {mode:?}, 3 threads: 20000 independent no-op tasks, {ns:.0} ns/task");
    }
}

#[test]
fn a_stuck_builder_is_stopped_by_the_watchdog() {
    let s = case_setup();
    let t0 = Instant::now();
    let (out, log) = run_case(&s, "stuck", BuildMode::Concurrent, 200);
    let e = out.result.unwrap_err();
    assert!(out.abandoned, "the stuck builder thread is abandoned");
    assert!(matches!(e, Error::Runtime { code: 100, .. }), "{e}");
    assert!(e.to_string().contains("builder made no progress"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert_eq!(log[0], 0);
}

#[test]
fn a_kernel_without_progress_is_stopped_by_the_watchdog() {
    let s = case_setup();
    let t0 = Instant::now();
    let (out, _) = run_case(&s, "slow_task", BuildMode::Concurrent, 200);
    let e = out.result.unwrap_err();
    assert!(matches!(e, Error::Runtime { code: 100, .. }), "{e}");
    assert!(out.abandoned && e.to_string().contains("1 kernel(s) running"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(7), "stopped before the kernel returns: {:?}", t0.elapsed());
    // The abandoned scheduler still runs the kernel: its SO stays loaded.
    std::mem::forget(s);
}

#[test]
fn thread_and_core_rules() {
    let (s, p) = vector_setup();
    let (out, _) = run_vector(&s, &p, BuildMode::Concurrent, 1);
    let e = out.result.unwrap_err();
    assert!(e.to_string().contains("aicpu_thread_num >= 2"), "{e}");
    assert!(deal_cores(3, 1).unwrap_err().to_string().contains("scheduler 2 of 3 would own no core"));
    let dealt = deal_cores(2, 1).unwrap();
    assert_eq!(dealt[0].len(), 2, "AIC 0 and AIV 0");
    assert_eq!(dealt[1].len(), 1, "AIV 1");
    assert_eq!(s.memory.live_allocations(), 0);
}

#[test]
fn header_constants_match() {
    let h = std::fs::read_to_string(crate::runtime::trb::orchestration::testutil::repo_path(
        "include/pto_aicpu_build_graph.h",
    ))
    .unwrap();
    let def = |name: &str| -> usize {
        let line = h.lines().find(|l| l.starts_with(&format!("#define {name} "))).unwrap();
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    assert_eq!(def("ABG_MAX_TASKS"), crate::runtime::hbg::MAX_TASKS);
    assert_eq!(def("ABG_MAX_ARGS"), crate::runtime::hbg::MAX_ARGS);
    assert_eq!(def("ABG_MAX_FANOUT"), MAX_FANOUT);
    assert_eq!(def("ABG_MAX_FUNC_ID"), MAX_FUNC_ID);
    assert_eq!(def("ABG_MAX_ORCH_ARGS"), MAX_ORCH_ARGS);
    assert_eq!(def("ABG_BUILD_CONCURRENT"), BuildMode::Concurrent as usize);
    assert_eq!(def("ABG_CORE_AIV"), crate::abi::CoreType::Aiv as usize);
    // The header compiles warning-free as C++ too (its static assertions hold).
    let p = Arc::new(AbgPlugin::load(&build_so(&["src/runtime/abg/test_header.cpp"], true, &[]), "").unwrap());
    let (s, _) = vector_setup();
    let out = run_with(&s, &p, &ChipStorageTaskArgs::default(), &[], BuildMode::Sequential, 2, 10_000);
    assert_eq!(out.result.unwrap().tasks, 1);
}
