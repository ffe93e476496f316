//! Bundled example workloads: `simpler demo` (the main job) and `simpler
//! bench` run them on a device context, and tests reuse them. Every result
//! is checked against a value computed here independently of the
//! orchestration. The examples are tensormap_and_ringbuffer orchestrations,
//! so the demo and the bench pin that variant explicitly ([`pinned_config`]):
//! `SIMPLER_RUNTIME` naming another variant is overridden, with a note.

pub mod assets;
pub mod bench;

use std::fmt::Write as _;
use std::time::Instant;

use crate::abi::callable::{parse_chip_callable, ChipCallableBuilder};
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::abi::{ArgDirection, DataType, Tensor};
use crate::config::{self, docs, EnvSource, ProcessEnv, RuntimeConfig, RuntimeVariant};
use crate::device::context::{DeviceContext, ExecParams};
use crate::diagnostics::{Error, Result};

use ArgDirection::{In, Inout, Out};

/// The variant of every bundled example.
pub const DEMO_VARIANT: RuntimeVariant = RuntimeVariant::TensormapAndRingbuffer;

/// The device configuration of the demo and the bench: the runtime pinned to
/// [`DEMO_VARIANT`] (an explicit value wins over `SIMPLER_RUNTIME`), the rest
/// unset.
pub fn pinned_config() -> RuntimeConfig {
    RuntimeConfig { runtime: Some(DEMO_VARIANT), ..RuntimeConfig::new() }
}

/// A note when `env` sets `SIMPLER_RUNTIME` to something other than the
/// pinned variant (the demo overrides it rather than fail at prepare).
pub fn pin_note(env: &dyn EnvSource) -> Option<String> {
    let text = env.var("SIMPLER_RUNTIME")?;
    (RuntimeVariant::from_name(text.trim()) != Some(DEMO_VARIANT)).then(|| {
        format!(
            "note: SIMPLER_RUNTIME={text} is overridden: the bundled examples are {} orchestrations and the demo pins that variant",
            DEMO_VARIANT.name()
        )
    })
}

/// Builds the ChipCallable image of the vector-style examples (kernels 0 add, 1 add_scalar, 2 mul).
pub fn vector_style_callable(orch: &[u8], signature: &[ArgDirection]) -> Result<Vec<u8>> {
    ChipCallableBuilder::new(signature, "aicpu_orchestration_entry", orch)
        .config_name("aicpu_orchestration_config")
        .child(0, &[In, In, Out], assets::KERNEL_ADD)
        .child(1, &[In, Out], assets::KERNEL_ADD_SCALAR)
        .child(2, &[In, In, Out], assets::KERNEL_MUL)
        .build()
}

/// The benchmark callable (kernel 0 = no-op).
pub fn bench_callable() -> Result<Vec<u8>> {
    ChipCallableBuilder::new(&[Inout], "aicpu_orchestration_entry", assets::BENCH_ORCH)
        .child(0, &[], assets::KERNEL_NOOP)
        .build()
}

/// Registers `image` under `id` on `ctx`.
pub fn register(ctx: &DeviceContext, id: i32, image: &[u8]) -> Result<()> {
    ctx.prepare(id, parse_chip_callable(image)?)
}

/// Entry arguments over host vectors (fp32, 1-D) plus scalars.
pub fn args_of(tensors: &mut [&mut Vec<f32>], scalars: &[u64]) -> Result<Box<ChipStorageTaskArgs>> {
    let mut a = ChipStorageTaskArgs::new();
    for t in tensors.iter_mut() {
        a.push_tensor(Tensor::external(t.as_mut_ptr() as u64, &[t.len() as u32], DataType::Float32))?;
    }
    for &s in scalars {
        a.push_scalar(s)?;
    }
    Ok(a)
}

/// Upstream's vector-example launch shape.
pub fn exec(scope_stats_dir: Option<&str>) -> ExecParams {
    ExecParams {
        block_dim: 3,
        aicpu_thread_num: 4,
        enable_scope_stats: i32::from(scope_stats_dir.is_some()),
        output_prefix: scope_stats_dir.unwrap_or("").to_string(),
        ..ExecParams::default()
    }
}

fn check(name: &str, got: &[f32], want: impl Fn(usize) -> f32) -> Result<()> {
    for (i, &g) in got.iter().enumerate() {
        let w = want(i);
        if g != w {
            return Err(Error::UserCode(format!("{name}: element {i} is {g}, expected {w}")));
        }
    }
    Ok(())
}

/// Inputs of the vector examples: varied values so an element check means something.
pub fn vector_inputs(n: usize) -> (Vec<f32>, Vec<f32>) {
    ((0..n).map(|i| (i % 7) as f32 * 0.5).collect(), (0..n).map(|i| 3.0 - (i % 5) as f32).collect())
}

/// f = (a+b+1)*(a+b+2)+(a+b), evaluated in the kernels' order.
pub fn vector_expected(a: f32, b: f32) -> f32 {
    let c = a + b;
    (c + 1.0) * (c + 2.0) + c
}

/// Runs the vector example once on `ctx` (callable `id` registered) and checks f.
pub fn run_vector(ctx: &DeviceContext, id: i32, exec: &ExecParams, cfg: &RuntimeConfig) -> Result<u64> {
    let (mut a, mut b) = vector_inputs(16384);
    let mut f = vec![0f32; 16384];
    let args = args_of(&mut [&mut a, &mut b, &mut f], &[])?;
    let t = ctx.run(id, &args, exec, cfg)?;
    check("vector f", &f, |i| vector_expected(a[i], b[i]))?;
    Ok(t.host_wall_ns)
}

/// Per-ring summary of a scope-stats file: (ring, scopes, tasks allocated, peak live tasks).
pub fn scope_stats_summary(jsonl: &str) -> Vec<(u64, u64, u64, u64)> {
    fn field(line: &str, key: &str) -> Option<u64> {
        let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = line[at..].trim_start();
        let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        rest[..end].parse().ok()
    }
    let mut rings = [(0u64, 0u64, 0u64); 4];
    let mut begins: Vec<u64> = Vec::new();
    for line in jsonl.lines().skip(1) {
        let (Some(ring), Some(start), Some(end)) =
            (field(line, "ring"), field(line, "task_window_start"), field(line, "task_window_end"))
        else {
            continue;
        };
        let r = &mut rings[(ring as usize).min(3)];
        if line.contains("\"begin\"") {
            r.0 += 1;
            begins.push(start);
        } else {
            r.1 = r.1.max(end);
            let begin_tail = begins.pop().unwrap_or(start);
            r.2 = r.2.max(end.saturating_sub(begin_tail));
        }
    }
    rings.iter().enumerate().filter(|(_, r)| r.0 > 0).map(|(i, r)| (i as u64, r.0, r.1, r.2)).collect()
}

/// The main job: runs the bundled examples with the default runtime and
/// configuration, checks every result, and reports configuration, per-ring
/// scope statistics and timings. Returns the report text.
pub fn run_demo() -> Result<String> {
    let mut out = String::new();
    let t_all = Instant::now();
    let cfg = pinned_config();
    let (resolved, warnings) = config::resolve(&cfg, &ProcessEnv)?;
    warnings.iter().for_each(|w| w.emit());
    let _ = writeln!(out, "simpler demo: runtime {} (pinned) on the simulated device", DEMO_VARIANT.name());
    if let Some(note) = pin_note(&ProcessEnv) {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "effective configuration:\n{}", docs::explain(&resolved));

    let ctx = DeviceContext::new();
    ctx.init(0, &cfg, &[], &[])?;
    let stats_dir = std::env::temp_dir().join(format!("simpler-demo-{}", std::process::id()));
    let stats = stats_dir.to_string_lossy().into_owned();
    let read_stats = || std::fs::read_to_string(stats_dir.join("scope_stats/scope_stats.jsonl")).unwrap_or_default();
    let summarize = |out: &mut String, jsonl: &str| {
        if let Some(first) = jsonl.lines().next() {
            let _ = writeln!(out, "    capacities: {first}");
        }
        for (ring, scopes, tasks, peak) in scope_stats_summary(jsonl) {
            let _ = writeln!(out, "    ring {ring}: {scopes:>6} scopes, {tasks:>7} tasks allocated, peak {peak:>6} tasks live in one scope");
        }
    };

    // 1. The vector example: 5 tasks, one nested scope.
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out])?)?;
    let t = Instant::now();
    run_vector(&ctx, 0, &exec(Some(&stats)), &cfg)?;
    let first = t.elapsed();
    let mut times: Vec<u64> = (0..20).map(|_| run_vector(&ctx, 0, &exec(None), &cfg)).collect::<Result<_>>()?;
    times.sort_unstable();
    let _ = writeln!(
        out,
        "[ok] vector example: f = (a+b+1)*(a+b+2)+(a+b) over 16384 floats, 5 tasks; first run {:.1} ms, median of 20 later runs {:.1} us",
        first.as_secs_f64() * 1e3,
        times[times.len() / 2] as f64 / 1e3
    );
    summarize(&mut out, &read_stats());

    // 2. Nested scopes: one task on each of the four rings.
    register(&ctx, 1, &vector_style_callable(assets::TRB_NESTED_ORCH, &[In, In, Out])?)?;
    let (mut a, mut b) = vector_inputs(4096);
    let mut f = vec![0f32; 4096];
    a[0] = 2.0;
    b[0] = 3.0;
    let args = args_of(&mut [&mut a, &mut b, &mut f], &[])?;
    ctx.run(1, &args, &exec(Some(&stats)), &cfg)?;
    check("nested f", &f, |i| {
        let c = a[i] + b[i];
        let e = (c + 1.0) + 2.0;
        e * c + c
    })?;
    let jsonl = read_stats();
    let rings: Vec<u64> = scope_stats_summary(&jsonl).iter().map(|r| r.0).collect();
    if rings != [0, 1, 2, 3] {
        return Err(Error::UserCode(format!("nested example: expected scopes on rings 0..3, saw {rings:?}")));
    }
    let _ = writeln!(out, "[ok] nested scopes: 5 tasks + 1 dummy on rings 0, 1, 2, 3 (depth 4 clamps to ring 3), MANUAL scope with explicit deps");
    summarize(&mut out, &jsonl);

    // 3. Fan-out / fan-in large enough to wrap the default 16384-slot rings several times.
    register(&ctx, 2, &vector_style_callable(assets::TRB_FANOUT_ORCH, &[In, Out])?)?;
    let n: u64 = 60_000;
    let mut x: Vec<f32> = (0..256).map(|i| (i % 13) as f32).collect();
    let mut y = vec![0f32; 256];
    let args = args_of(&mut [&mut x, &mut y], &[n, 64])?;
    let t = Instant::now();
    ctx.run(2, &args, &exec(Some(&stats)), &cfg)?;
    let el = t.elapsed();
    let offsets: u64 = (0..n).map(|i| i % 64).sum();
    check("fan-out out", &y, |i| (n as f64 * x[i] as f64 + offsets as f64) as f32)?;
    let jsonl = read_stats();
    let total: u64 = scope_stats_summary(&jsonl).iter().map(|r| r.2).sum();
    let _ = writeln!(
        out,
        "[ok] fan-out/fan-in: N = {n} (chunks of 64), {total} tasks in {:.1} ms ({:.0} ns/task), every ring-1 slot reused {:.1} times",
        el.as_secs_f64() * 1e3,
        el.as_nanos() as f64 / total.max(1) as f64,
        scope_stats_summary(&jsonl).iter().find(|r| r.0 == 1).map_or(0.0, |r| r.2 as f64 / 16384.0)
    );
    summarize(&mut out, &jsonl);
    let _ = std::fs::remove_dir_all(&stats_dir);
    ctx.finalize();
    let _ = writeln!(out, "\nall examples passed in {:.2} s", t_all.elapsed().as_secs_f64());
    Ok(out)
}
