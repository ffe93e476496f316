//! Faulty user code through a device context: kernels that throw or never
//! return, and exhaustion reports that must win over later user errors.
//! Each failure is followed by a successful run (or, for a stuck kernel, the
//! documented "context poisoned" error and a fresh context that works).

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use simpler::abi::callable::ChipCallableBuilder;
use simpler::abi::ArgDirection::{In, Out};
use simpler::config::{MapEnv, RuntimeConfig, RuntimeVariant};
use simpler::context::DeviceContext;
use simpler::demo::{self, args_of, assets, exec, register, run_vector, vector_style_callable};
use simpler::Error;

fn context(cfg: &RuntimeConfig) -> DeviceContext {
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, cfg, &[], &[], &MapEnv::default()).expect("init");
    ctx
}

/// `csrc/tests/faulty_kernel.cpp` built with `-D<define>`.
fn faulty_kernel(define: &str) -> Vec<u8> {
    let out = common::scratch("trb_faults").join(format!("faulty_{define}.so"));
    let src = common::repo().join("csrc/tests/faulty_kernel.cpp");
    common::compile(true, &[src], &out, &["-shared", "-fPIC", &format!("-D{define}")]);
    std::fs::read(&out).expect("read kernel")
}

/// The vector example with its kernel 0 (the first task's) replaced by `kernel0`.
fn vector_with_kernel0(kernel0: &[u8]) -> Vec<u8> {
    ChipCallableBuilder::new(&[In, In, Out], "aicpu_orchestration_entry", assets::TRB_VECTOR_ORCH)
        .config_name("aicpu_orchestration_config")
        .child(0, &[In, In, Out], kernel0)
        .child(1, &[In, Out], assets::KERNEL_ADD_SCALAR)
        .child(2, &[In, In, Out], assets::KERNEL_MUL)
        .build()
        .expect("callable image")
}

fn run_id(ctx: &DeviceContext, id: i32, f: &mut Vec<f32>) -> simpler::Result<()> {
    let (mut a, mut b) = demo::vector_inputs(f.len());
    let args = args_of(&mut [&mut a, &mut b, f], &[]).unwrap();
    ctx.run(id, &args, &exec(None), &RuntimeConfig::new()).map(|_| ())
}

#[test]
fn kernel_exception_fails_the_run_with_its_message() {
    let ctx = context(&RuntimeConfig::new());
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    for (id, define, needle) in [(1, "THROW_STD", "kernel boom"), (2, "THROW_INT", "unknown C++ exception")] {
        register(&ctx, id, &vector_with_kernel0(&faulty_kernel(define))).unwrap();
        let mut f = vec![-1f32; 16384];
        let e = run_id(&ctx, id, &mut f).unwrap_err();
        assert!(matches!(&e, Error::UserCode(m) if m.contains(needle) && m.contains("func_id=0")), "{e}");
        assert!(f.iter().all(|&v| v == -1.0), "no copy-back after a failed run");
        run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).expect("context usable after a kernel exception");
    }
}

/// The host_build_graph example (`cmake/example/hbg`: out = a + 2b) with
/// `kernel` as its kernel 0, and the example's own kernel_add.
fn hbg_images(kernel: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let dir = common::scratch("trb_faults");
    let orch: PathBuf = dir.join("hbg_orch.so");
    let add: PathBuf = dir.join("hbg_add.so");
    let hbg = common::repo().join("cmake/example/hbg");
    common::shared_object(&[hbg.join("orch.c")], &orch, &[]);
    common::shared_object(&[hbg.join("kernel_add.c")], &add, &[]);
    let orch = std::fs::read(orch).unwrap();
    let image = |kernel: &[u8]| {
        ChipCallableBuilder::new(&[In, In, Out], "build_graph", &orch).child(0, &[In, In, Out], kernel).build().unwrap()
    };
    (image(kernel), image(&std::fs::read(add).unwrap()))
}

/// A host_build_graph callable whose orchestration is `csrc/tests/faulty_hbg_orch.c`
/// built with `-D<define>` (the example's arguments and kernel_add as func_id 0).
fn faulty_hbg_orch(define: &str) -> Vec<u8> {
    let dir = common::scratch("trb_faults");
    let orch = dir.join(format!("faulty_hbg_orch_{define}.so"));
    let add = dir.join(format!("hbg_add_for_{define}.so"));
    let hbg = common::repo().join("cmake/example/hbg");
    let include = format!("-I{}", hbg.display());
    let src = common::repo().join("csrc/tests/faulty_hbg_orch.c");
    common::shared_object(&[src], &orch, &[&include, &format!("-D{define}")]);
    common::shared_object(&[hbg.join("kernel_add.c")], &add, &[]);
    let orch = std::fs::read(orch).unwrap();
    let add = std::fs::read(add).unwrap();
    ChipCallableBuilder::new(&[In, In, Out], "build_graph", &orch).child(0, &[In, In, Out], &add).build().unwrap()
}

fn run_hbg(ctx: &DeviceContext, id: i32, out: &mut Vec<f32>) -> simpler::Result<()> {
    let (mut a, mut b) = (vec![1f32; 256], vec![2f32; 256]);
    let args = args_of(&mut [&mut a, &mut b, out], &[256]).unwrap();
    ctx.run(id, &args, &exec(None), &RuntimeConfig::new()).map(|_| ())
}

#[test]
fn host_build_graph_kernel_exception_fails_the_run() {
    let cfg = RuntimeConfig::builder().runtime(RuntimeVariant::HostBuildGraph).build().unwrap();
    let ctx = context(&cfg);
    let (faulty, good) = hbg_images(&faulty_kernel("THROW_STD"));
    register(&ctx, 0, &faulty).unwrap();
    register(&ctx, 1, &good).unwrap();
    let run = |id: i32, out: &mut Vec<f32>| run_hbg(&ctx, id, out);
    let mut out = vec![-1f32; 256];
    let e = run(0, &mut out).unwrap_err();
    assert!(matches!(&e, Error::UserCode(m) if m.contains("kernel boom")), "{e}");
    assert!(out.iter().all(|&v| v == -1.0));
    run(1, &mut out).expect("context usable after a kernel exception");
    assert!(out.iter().all(|&v| v == 5.0), "{:?}", &out[..4]);
}

#[test]
fn orchestration_api_misuse_is_a_fatal_invalid_args() {
    let ctx = context(&RuntimeConfig::new());
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    let src = common::repo().join("csrc/tests/misuse_orchestration.cpp");
    for (id, define, needle) in [
        (1, "BAD_INDEX", "get_tensor_data: index 16384 out of range for dimension 0 of size 16384"),
        (2, "BIG_VIEW", "submit_task: tensor arg 0: view of shape [32768]"),
        (3, "EXTRA_SCOPE_END", "scope_end without a matching scope_begin"),
        (4, "SUBMIT_AFTER_DONE", "submit_task after rt_orchestration_done"),
    ] {
        let so = common::scratch("trb_faults").join(format!("misuse_{define}.so"));
        common::compile(true, std::slice::from_ref(&src), &so, &["-shared", "-fPIC", &format!("-D{define}")]);
        let image = vector_style_callable(&std::fs::read(&so).unwrap(), &[In, In, Out]).unwrap();
        register(&ctx, id, &image).unwrap();
        let mut f = vec![-1f32; 16384];
        let e = run_id(&ctx, id, &mut f).unwrap_err();
        assert!(matches!(e, Error::Runtime { code: 5, .. }), "{define}: {e}");
        assert!(e.to_string().contains(needle), "{define}: {e}");
        assert!(f.iter().all(|&v| v == -1.0));
        run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).expect("context usable after API misuse");
    }
}

#[test]
fn an_arg_built_over_stale_memory_runs_like_a_fresh_one() {
    // A new Arg writes its counts and flags only (not its 720 bytes): the
    // runtime must read nothing past the counts.
    let ctx = context(&RuntimeConfig::new());
    let src = common::repo().join("csrc/tests/stale_arg_orchestration.cpp");
    let so = common::scratch("trb_faults").join("stale_arg.so");
    common::compile(true, std::slice::from_ref(&src), &so, &["-shared", "-fPIC"]);
    let image = vector_style_callable(&std::fs::read(&so).unwrap(), &[In, In, Out]).unwrap();
    register(&ctx, 1, &image).unwrap();
    let mut f = vec![-1f32; 16384];
    run_id(&ctx, 1, &mut f).expect("an Arg over stale bytes");
    let (a, b) = demo::vector_inputs(f.len());
    assert!(f.iter().zip(a.iter().zip(&b)).all(|(&v, (&x, &y))| v == x + y), "{:?}", &f[..4]);
}

#[test]
fn heap_exhaustion_wins_over_the_orchestrations_later_error() {
    let ctx = context(&RuntimeConfig::new());
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    let small = RuntimeConfig::builder().ring_heap(65536).build().unwrap();
    for _ in 0..3 {
        let e = run_vector(&ctx, 0, &exec(None), &small).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Runtime { code: 2, .. }), "{msg}");
        assert!(msg.contains("Heap Exhausted") && msg.contains("PTO2_RING_HEAP"), "{msg}");
    }
    run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).expect("context usable after heap exhaustion");
}

#[test]
fn dep_pool_exhaustion_is_reported_promptly_with_the_knob() {
    let ctx = context(&RuntimeConfig::new());
    register(&ctx, 2, &vector_style_callable(assets::TRB_FANOUT_ORCH, &[In, Out]).unwrap()).unwrap();
    let mut x = vec![1f32; 64];
    let mut y = vec![-7f32; 64];
    let small = RuntimeConfig::builder().ring_dep_pool(64).build().unwrap();
    for _ in 0..3 {
        let args = args_of(&mut [&mut x, &mut y], &[2000, 1024]).unwrap();
        let start = Instant::now();
        let e = ctx.run(2, &args, &exec(None), &small).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Runtime { code: 4, .. }), "{msg}");
        assert!(msg.contains("of capacity 64") && msg.contains("ring_dep_pool / PTO2_RING_DEP_POOL"), "{msg}");
        assert!(start.elapsed() < Duration::from_secs(5), "reported after {:?}", start.elapsed());
        assert!(y.iter().all(|&v| v == -7.0));
    }
    let args = args_of(&mut [&mut x, &mut y], &[2000, 1024]).unwrap();
    ctx.run(2, &args, &exec(None), &RuntimeConfig::new()).expect("context usable after dep-pool exhaustion");
}

const CHILD_ENV: &str = "SIMPLER_TRB_FAULTS_STUCK_CHILD";

/// Run in a child process by `stuck_kernel_is_abandoned_and_the_process_exits`;
/// does nothing otherwise.
#[test]
fn stuck_kernel_child() {
    let Some(which) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    if which == "hbg" {
        return stuck_hbg_kernel();
    }
    if which == "hbg_orch" {
        return stuck_hbg_orchestration();
    }
    let cfg = RuntimeConfig::builder().scheduler_timeout_ms(200).build().unwrap();
    let ctx = context(&cfg);
    register(&ctx, 0, &vector_with_kernel0(&faulty_kernel("HANG"))).unwrap();
    let mut f = vec![-1f32; 16384];
    let start = Instant::now();
    let e = run_id(&ctx, 0, &mut f).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(e, Error::Runtime { code: 100, .. }), "{e}");
    assert_eq!(e.legacy_code(), -100);
    assert!(e.to_string().contains("abandoned"), "{e}");
    assert!(f.iter().all(|&v| v == -1.0));
    println!("CHILD run returned -100 after {} ms", took.as_millis());
    let again = run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).unwrap_err();
    assert!(again.to_string().contains("context poisoned, finalize and re-create"), "{again}");
    ctx.finalize();
    let fresh = context(&RuntimeConfig::new());
    register(&fresh, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    run_vector(&fresh, 0, &exec(None), &RuntimeConfig::new()).expect("a re-created context works");
    println!("CHILD done");
}

/// The host_build_graph half of `stuck_kernel_child`.
fn stuck_hbg_kernel() {
    let cfg =
        RuntimeConfig::builder().runtime(RuntimeVariant::HostBuildGraph).scheduler_timeout_ms(200).build().unwrap();
    let ctx = context(&cfg);
    let (stuck, good) = hbg_images(&faulty_kernel("HANG"));
    register(&ctx, 0, &stuck).unwrap();
    let mut out = vec![-1f32; 256];
    let start = Instant::now();
    let e = run_hbg(&ctx, 0, &mut out).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(e, Error::Runtime { code: 100, .. }), "{e}");
    assert!(e.to_string().contains("abandoned"), "{e}");
    assert!(out.iter().all(|&v| v == -1.0));
    println!("CHILD run returned -100 after {} ms", took.as_millis());
    let again = run_hbg(&ctx, 0, &mut out).unwrap_err();
    assert!(again.to_string().contains("context poisoned, finalize and re-create"), "{again}");
    ctx.finalize();
    let fresh = context(&cfg);
    register(&fresh, 1, &good).unwrap();
    run_hbg(&fresh, 1, &mut out).expect("a re-created context works");
    assert!(out.iter().all(|&v| v == 5.0));
    println!("CHILD done");
}

/// The host_build_graph orchestration half of `stuck_kernel_child`: the
/// orchestration allocates, then sleeps forever without calling the ops table.
fn stuck_hbg_orchestration() {
    let cfg =
        RuntimeConfig::builder().runtime(RuntimeVariant::HostBuildGraph).scheduler_timeout_ms(200).build().unwrap();
    let ctx = context(&cfg);
    let (_, good) = hbg_images(&faulty_kernel("HANG"));
    register(&ctx, 0, &faulty_hbg_orch("HANG")).unwrap();
    register(&ctx, 1, &good).unwrap();
    let mut out = vec![-1f32; 256];
    let start = Instant::now();
    let e = run_hbg(&ctx, 0, &mut out).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(e, Error::Runtime { code: 100, .. }), "{e}");
    assert_eq!(e.legacy_code(), -100);
    let msg = e.to_string();
    for needle in
        ["host_build_graph orchestration", "abandoned", "scheduler_timeout_ms=200", "PTO2_SCHEDULER_TIMEOUT_MS"]
    {
        assert!(msg.contains(needle), "{needle:?} missing in: {msg}");
    }
    // 1.5 budgets of silence, measured from the last ops call (after the start).
    assert!(took >= Duration::from_millis(300), "fired early: {took:?}");
    assert!(out.iter().all(|&v| v == -1.0));
    println!("CHILD run returned -100 after {} ms", took.as_millis());
    for (what, r) in [
        ("run of the stuck callable", run_hbg(&ctx, 0, &mut out)),
        ("run of a good callable", run_hbg(&ctx, 1, &mut out)),
        ("prepare", register(&ctx, 2, &good)),
        ("unregister", ctx.unregister(1)),
        ("device_config", ctx.device_config().map(|_| ())),
    ] {
        let e = r.expect_err(what);
        assert!(e.to_string().contains("context poisoned, finalize and re-create"), "{what}: {e}");
    }
    assert!(out.iter().all(|&v| v == -1.0));
    ctx.finalize();
    let fresh = context(&cfg);
    register(&fresh, 1, &good).unwrap();
    run_hbg(&fresh, 1, &mut out).expect("a re-created context works");
    assert!(out.iter().all(|&v| v == 5.0));
    println!("CHILD done");
}

/// A builder slower than the budget in total but calling the ops table
/// every 20 ms (under a 100 ms budget) is never stopped.
#[test]
fn slow_but_active_host_build_graph_orchestration_succeeds() {
    let cfg =
        RuntimeConfig::builder().runtime(RuntimeVariant::HostBuildGraph).scheduler_timeout_ms(100).build().unwrap();
    let ctx = context(&cfg);
    register(&ctx, 0, &faulty_hbg_orch("SLOW")).unwrap();
    let mut out = vec![-1f32; 256];
    let start = Instant::now();
    run_hbg(&ctx, 0, &mut out).expect("an active builder is not stopped");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(600), "30 add_task calls 20 ms apart took only {took:?}");
    assert!(out.iter().all(|&v| v == 5.0), "{:?}", &out[..4]);
    assert_eq!(ctx.memory().live_allocations(), 0, "run-scoped device memory is freed");
    run_hbg(&ctx, 0, &mut out).expect("the context stays usable");
}

#[test]
fn stuck_kernel_is_abandoned_and_the_process_exits() {
    check_stuck_child("trb");
}

#[test]
fn stuck_host_build_graph_kernel_is_abandoned_and_the_process_exits() {
    check_stuck_child("hbg");
}

#[test]
fn stuck_host_build_graph_orchestration_is_abandoned_and_the_process_exits() {
    check_stuck_child("hbg_orch");
}

fn check_stuck_child(which: &str) {
    let exe = std::env::current_exe().unwrap();
    let start = Instant::now();
    let out = common::run_program(
        &exe,
        &["--exact", "stuck_kernel_child", "--nocapture", "--test-threads=1"],
        &[(CHILD_ENV, which)],
        Duration::from_secs(120),
        &format!("stuck_kernel_child_{which}"),
    );
    assert!(out.success, "child failed ({}):\n{}\n{}", out.status, out.stdout, out.stderr);
    assert!(out.stdout.contains("CHILD done"), "{}\n{}", out.stdout, out.stderr);
    let line = out.stdout.lines().find(|l| l.contains("CHILD run returned")).unwrap_or_default().to_string();
    let ms: u64 = line
        .split("after ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    // Budget 200 ms: the run must return long before a hang could be
    // mistaken for it (generous for a loaded machine).
    assert!(ms < 5_000, "{line}");
    eprintln!("{line}; child process lived {:?}", start.elapsed());
}
