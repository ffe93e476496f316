//! tensormap_and_ringbuffer through a device context, with the bundled
//! example orchestration and kernel shared objects.

use std::time::{Duration, Instant};

use simpler::abi::callable::ChipCallableBuilder;
use simpler::abi::ArgDirection::{In, Out};
use simpler::config::{MapEnv, RuntimeConfig, RuntimeVariant};
use simpler::context::DeviceContext;
use simpler::demo::{self, args_of, assets, exec, register, run_vector, vector_style_callable};
use simpler::Error;

fn trb_context(cfg: &RuntimeConfig) -> DeviceContext {
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, cfg, &[], &[], &MapEnv::default()).expect("init");
    ctx
}

fn vector_ctx(cfg: &RuntimeConfig) -> DeviceContext {
    let ctx = trb_context(cfg);
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    ctx
}

fn capacities_line(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("scope_stats/scope_stats.jsonl")).expect("scope stats written");
    text.lines().next().unwrap_or_default().to_string()
}

#[test]
fn two_contexts_with_different_configurations_run_concurrently() {
    let base = std::env::temp_dir().join(format!("simpler-two-ctx-{}", std::process::id()));
    let small = RuntimeConfig::builder().ring_task_windows([64, 128, 256, 512]).ring_heap(1 << 20).build().unwrap();
    let big = RuntimeConfig::new();
    std::thread::scope(|s| {
        for (name, cfg) in [("small", &small), ("big", &big)] {
            let dir = base.join(name);
            s.spawn(move || {
                let ctx = vector_ctx(&RuntimeConfig::new());
                let dirs = dir.to_string_lossy().into_owned();
                for i in 0..40 {
                    let ex = exec(if i == 0 { Some(dirs.as_str()) } else { None });
                    run_vector(&ctx, 0, &ex, cfg).unwrap_or_else(|e| panic!("{name} run {i}: {e}"));
                }
                ctx.finalize();
            });
        }
    });
    let small_line = capacities_line(&base.join("small"));
    let big_line = capacities_line(&base.join("big"));
    assert!(small_line.contains("\"task_window_max\": [64, 128, 256, 512]"), "{small_line}");
    assert!(small_line.contains("\"heap_max\": [1048576, 1048576, 1048576, 1048576]"), "{small_line}");
    assert!(big_line.contains("\"task_window_max\": [16384, 16384, 16384, 16384]"), "{big_line}");
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn arena_is_built_once_per_sizing_key() {
    let ctx = vector_ctx(&RuntimeConfig::new());
    let cfg = RuntimeConfig::new();
    for _ in 0..5 {
        run_vector(&ctx, 0, &exec(None), &cfg).unwrap();
    }
    assert_eq!(ctx.arena_builds(), 1);
    let other = RuntimeConfig::builder().ring_task_window(1024).build().unwrap();
    run_vector(&ctx, 0, &exec(None), &other).unwrap();
    run_vector(&ctx, 0, &exec(None), &other).unwrap();
    assert_eq!(ctx.arena_builds(), 2);
}

#[test]
fn per_device_knobs_are_latched_at_init() {
    let cfg = RuntimeConfig::builder().scheduler_timeout_ms(2500).build().unwrap();
    let ctx = DeviceContext::new();
    let env = MapEnv::from_pairs(&[("PTO2_SCHEDULER_TIMEOUT_MS", "99")]);
    ctx.init_with_env(0, &cfg, &[], &[], &env).unwrap();
    let d = ctx.device_config().unwrap();
    assert_eq!(d.timeout_ms(), 2500, "explicit beats env");
    assert_eq!(d.runtime_override(), None, "no override: each callable's binary decides");
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    assert_eq!(ctx.callable_variant(0).unwrap(), RuntimeVariant::TensormapAndRingbuffer);
    let same = RuntimeConfig::builder().scheduler_timeout_ms(2500).build().unwrap();
    run_vector(&ctx, 0, &exec(None), &same).unwrap();
    let different = RuntimeConfig::builder().scheduler_timeout_ms(10).build().unwrap();
    let e = run_vector(&ctx, 0, &exec(None), &different).unwrap_err();
    assert!(e.to_string().contains("per-device"), "{e}");
    run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).expect("context stays usable");
}

#[test]
fn invalid_explicit_run_value_fails_before_anything_runs() {
    let ctx = vector_ctx(&RuntimeConfig::new());
    let mut bad = RuntimeConfig::new();
    bad.ring_task_window.per_ring[1] = Some(48);
    let (mut a, mut b) = demo::vector_inputs(16384);
    let mut f = vec![-1f32; 16384];
    let args = args_of(&mut [&mut a, &mut b, &mut f], &[]).unwrap();
    let e = ctx.run(0, &args, &exec(None), &bad).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    assert!(e.to_string().contains("ring_task_window[ring 1] = 48"), "{e}");
    assert!(f.iter().all(|&v| v == -1.0), "nothing ran, f untouched");
    run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).unwrap();
}

#[test]
fn failed_run_leaves_host_buffers_untouched_and_returns_the_status() {
    let ctx = trb_context(&RuntimeConfig::new());
    register(&ctx, 2, &vector_style_callable(assets::TRB_FANOUT_ORCH, &[In, Out]).unwrap()).unwrap();
    let mut x = vec![1f32; 64];
    let mut y = vec![-7f32; 64];
    // chunk 5000 > 1024: the orchestration reports PTO2_ERROR_INVALID_ARGS (5).
    let args = args_of(&mut [&mut x, &mut y], &[100, 5000]).unwrap();
    let e = ctx.run(2, &args, &exec(None), &RuntimeConfig::new()).unwrap_err();
    match &e {
        Error::Runtime { code, .. } => assert_eq!(*code, 5, "{e}"),
        other => panic!("expected a runtime status, got {other}"),
    }
    assert_eq!(e.legacy_code(), -5);
    assert!(y.iter().all(|&v| v == -7.0), "no copy-back after a failed run");
    let args = args_of(&mut [&mut x, &mut y], &[100, 10]).unwrap();
    ctx.run(2, &args, &exec(None), &RuntimeConfig::new()).expect("context usable after a failure");
    let offs: u64 = (0..100u64).map(|i| i % 64).sum();
    assert!(y.iter().all(|&v| v == 100.0 + offs as f32), "{:?}", &y[..4]);
}

#[test]
fn scope_deadlock_is_reported_with_ring_usage_and_knob() {
    // 40 independent tasks in one scope with a 32-slot ring-1 window: the
    // 32nd submit hits the W-1 bound and fails immediately with code 1.
    let ctx = trb_context(&RuntimeConfig::new());
    register(&ctx, 0, &demo::bench_callable().unwrap()).unwrap();
    let mut t = vec![0f32; 16];
    let args = args_of(&mut [&mut t], &[0, 40, 40]).unwrap();
    let cfg = RuntimeConfig::builder().ring_task_window_at(1, 32).build().unwrap();
    let start = Instant::now();
    let e = ctx.run(0, &args, &exec(None), &cfg).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5), "reported promptly");
    let msg = e.to_string();
    assert!(matches!(e, Error::Runtime { code: 1, .. }), "{msg}");
    assert!(msg.contains("ring") && msg.contains("PTO2_RING_TASK_WINDOW"), "{msg}");
}

#[test]
fn orchestration_that_submits_nothing_finishes_at_once() {
    let ctx = trb_context(&RuntimeConfig::new());
    register(&ctx, 0, &demo::bench_callable().unwrap()).unwrap();
    let mut t = vec![0f32; 16];
    let args = args_of(&mut [&mut t], &[0, 0, 16]).unwrap();
    let start = Instant::now();
    ctx.run(0, &args, &exec(None), &RuntimeConfig::new()).unwrap();
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
}

#[test]
fn chain_and_fan_workloads_complete() {
    let ctx = trb_context(&RuntimeConfig::new());
    register(&ctx, 0, &demo::bench_callable().unwrap()).unwrap();
    let mut t = vec![0f32; 16];
    for (mode, n) in [(0u64, 20_000u64), (1, 20_000), (2, 200)] {
        let args = args_of(&mut [&mut t], &[mode, n, 1000]).unwrap();
        ctx.run(0, &args, &exec(None), &RuntimeConfig::new()).unwrap_or_else(|e| panic!("mode {mode}: {e}"));
    }
}

#[test]
fn demo_main_job_passes() {
    let report = demo::run_demo().unwrap();
    assert!(report.contains("all 6 examples passed"), "{report}");
    assert!(report.contains("ring 3:"), "{report}");
}

/// A task whose kernel the callable lacks runs nothing; the run fails
/// naming the first such func_id, writes no output, and the context
/// stays usable.
#[test]
fn a_missing_kernel_fails_the_run_naming_its_func_id() {
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, &RuntimeConfig::new(), &[], &[], &MapEnv::default()).unwrap();
    // The vector example without its func_id 2 (kernel_mul).
    let image = ChipCallableBuilder::new(&[In, In, Out], "aicpu_orchestration_entry", assets::TRB_VECTOR_ORCH)
        .config_name("aicpu_orchestration_config")
        .child(0, &[In, In, Out], assets::KERNEL_ADD)
        .child(1, &[In, Out], assets::KERNEL_ADD_SCALAR)
        .build()
        .unwrap();
    register(&ctx, 5, &image).unwrap();
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    for _ in 0..2 {
        let (mut a, mut b) = demo::vector_inputs(16384);
        let mut f = vec![-1f32; 16384];
        let args = args_of(&mut [&mut a, &mut b, &mut f], &[]).unwrap();
        let e = ctx.run(5, &args, &exec(None), &RuntimeConfig::new()).unwrap_err();
        assert!(
            matches!(&e, Error::UserCode(m) if m == "a task used kernel func_id 2, which callable 5 does not provide"),
            "{e:?}"
        );
        assert!(f.iter().all(|&v| v == -1.0), "no copy-back after a failed run");
        run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).expect("the context stays usable");
    }
}
