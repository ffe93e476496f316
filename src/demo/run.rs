//! The main job (`simpler demo`): runs the bundled examples on one device
//! context, checks every result and reports each example as it completes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use super::report::{DemoEvent, DemoFailure, DemoSummary, ExampleReport};
use super::variants::{graph_vector_callable, graph_vector_expected, median_us, run_graph_vector, with_build_mode};
use super::{args_of, assets, check, exec, register, run_vector, scope_stats_summary, vector_inputs};
use super::{vector_expected, vector_style_callable};
use crate::abi::ArgDirection::{In, Out};
use crate::config::{self, docs, BuildMode, ProcessEnv, RuntimeConfig, RuntimeVariant};
use crate::context::DeviceContext;
use crate::diagnostics::{Error, Result};

/// How to run the demo.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Configuration of every run (and of the device context).
    pub config: RuntimeConfig,
    /// Keep each example's scope statistics under `<dir>/<example>/`
    /// (`vector`, `nested`, `fanout`); `None` = a temporary directory removed
    /// when the demo ends, whether it passed or not.
    pub output_prefix: Option<PathBuf>,
    /// Run only these examples (ids of [`EXAMPLE_IDS`]); empty = all.
    pub only: Vec<String>,
    /// Also write each example's task trace (`<dir>/<example>/trace/trace.json`).
    pub trace: bool,
}

/// Ids of the examples, in the order they run (also their output subdirectories).
pub const EXAMPLE_IDS: [&str; 6] = ["vector", "nested", "fanout", "hbg_vector", "abg_vector", "abg_ring_vector"];

/// Removes its directory when dropped (on success, error or unwinding).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("simpler-demo-{}-{seq}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read_stats(dir: &Path) -> Result<String> {
    let path = dir.join("scope_stats/scope_stats.jsonl");
    std::fs::read_to_string(&path).map_err(|e| Error::UserCode(format!("cannot read {}: {e}", path.display())))
}

fn fmt_f32(v: f32) -> String {
    format!("{v:?}")
}

fn vector_example(ctx: &DeviceContext, cfg: &RuntimeConfig, dir: &str, trace: bool) -> Result<ExampleReport> {
    register(ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out])?)?;
    let t = Instant::now();
    run_vector(ctx, 0, &traced(exec(Some(dir)), trace), cfg)?;
    let first = t.elapsed();
    let stats = read_stats(Path::new(dir))?;
    let mut times: Vec<u64> = (0..20).map(|_| run_vector(ctx, 0, &exec(None), cfg)).collect::<Result<_>>()?;
    times.sort_unstable();
    let (a, b) = vector_inputs(16384);
    Ok(ExampleReport {
        name: "vector",
        what: "f = (a+b+1)*(a+b+2)+(a+b) in 5 tasks, one nested scope".into(),
        checked: format!(
            "f[i] == (a[i]+b[i]+1)*(a[i]+b[i]+2)+(a[i]+b[i]) for all 16384 elements (f[0] == {}, f[16383] == {})",
            fmt_f32(vector_expected(a[0], b[0])),
            fmt_f32(vector_expected(a[16383], b[16383]))
        ),
        detail: format!(
            "first run {:.1} ms, median of 20 later runs {:.1} us",
            first.as_secs_f64() * 1e3,
            times[times.len() / 2] as f64 / 1e3
        ),
        scope_stats: Some(stats),
    })
}

fn nested_example(ctx: &DeviceContext, cfg: &RuntimeConfig, dir: &str, trace: bool) -> Result<ExampleReport> {
    register(ctx, 1, &vector_style_callable(assets::TRB_NESTED_ORCH, &[In, In, Out])?)?;
    let (mut a, mut b) = vector_inputs(4096);
    let mut f = vec![0f32; 4096];
    a[0] = 2.0;
    b[0] = 3.0;
    let args = args_of(&mut [&mut a, &mut b, &mut f], &[])?;
    ctx.run(1, &args, &traced(exec(Some(dir)), trace), cfg)?;
    let want = |i: usize| {
        let c = a[i] + b[i];
        ((c + 1.0) + 2.0) * c + c
    };
    check("nested f", &f, want)?;
    let stats = read_stats(Path::new(dir))?;
    let rings: Vec<u64> = scope_stats_summary(&stats).iter().map(|r| r.0).collect();
    if rings != [0, 1, 2, 3] {
        return Err(Error::UserCode(format!(
            "expected scopes on rings 0, 1, 2, 3; the scope statistics show {rings:?}"
        )));
    }
    Ok(ExampleReport {
        name: "nested scopes",
        what: "5 tasks + 1 dummy in scopes of depth 0..4 (depth 4 uses ring 3), a MANUAL scope with explicit deps".into(),
        checked: format!(
            "f[i] == (a[i]+b[i]+3)*(a[i]+b[i])+(a[i]+b[i]) for all 4096 elements (f[0] == {}); scopes on rings 0, 1, 2, 3",
            fmt_f32(want(0))
        ),
        detail: String::new(),
        scope_stats: Some(stats),
    })
}

fn fanout_example(ctx: &DeviceContext, cfg: &RuntimeConfig, dir: &str, trace: bool) -> Result<ExampleReport> {
    register(ctx, 2, &vector_style_callable(assets::TRB_FANOUT_ORCH, &[In, Out])?)?;
    let n: u64 = 60_000;
    let mut x: Vec<f32> = (0..256).map(|i| (i % 13) as f32).collect();
    let mut y = vec![0f32; 256];
    let args = args_of(&mut [&mut x, &mut y], &[n, 64])?;
    let t = Instant::now();
    ctx.run(2, &args, &traced(exec(Some(dir)), trace), cfg)?;
    let el = t.elapsed();
    let offsets: u64 = (0..n).map(|i| i % 64).sum();
    let want = |i: usize| (n as f64 * x[i] as f64 + offsets as f64) as f32;
    check("fan-out y", &y, want)?;
    let stats = read_stats(Path::new(dir))?;
    let summary = scope_stats_summary(&stats);
    let total: u64 = summary.iter().map(|r| r.2).sum();
    let sizing =
        config::resolve_run(cfg, &ProcessEnv).map_or_else(|_| config::RingSizing::default(), |(r, _)| r.sizing);
    let window1 = sizing.ring(1).window.get();
    let reuse = summary.iter().find(|r| r.0 == 1).map_or(0.0, |r| r.2 as f64 / window1 as f64);
    Ok(ExampleReport {
        name: "fan-out/fan-in",
        what: format!("N = {n} tasks in chunks of 64, reduced pairwise into 256 outputs"),
        checked: format!(
            "y[i] == N*x[i] + sum(k % 64 for k < N) for all 256 elements (y[0] == {}, y[1] == {})",
            fmt_f32(want(0)),
            fmt_f32(want(1))
        ),
        detail: format!(
            "{total} tasks in {:.1} ms ({:.0} ns/task), each ring-1 slot reused {reuse:.1} times",
            el.as_secs_f64() * 1e3,
            el.as_nanos() as f64 / total.max(1) as f64
        ),
        scope_stats: Some(stats),
    })
}

fn graph_vector_report(name: &'static str, what: String, detail: String) -> ExampleReport {
    let (a, b) = vector_inputs(16384);
    ExampleReport {
        name,
        what,
        checked: format!(
            "f[i] == (a[i]+b[i]+1)*(a[i]+b[i]+2) for all 16384 elements (f[0] == {}, f[16383] == {})",
            fmt_f32(graph_vector_expected(a[0], b[0])),
            fmt_f32(graph_vector_expected(a[16383], b[16383]))
        ),
        detail,
        scope_stats: None,
    }
}

fn hbg_vector_example(ctx: &DeviceContext, cfg: &RuntimeConfig, _dir: &str, _trace: bool) -> Result<ExampleReport> {
    register(ctx, 3, &graph_vector_callable(RuntimeVariant::HostBuildGraph)?)?;
    let us = median_us(20, || run_graph_vector(ctx, 3, &exec(None), cfg))?;
    Ok(graph_vector_report(
        "host_build_graph vector",
        "f = (a+b+1)*(a+b+2) in 4 tasks with explicit edges, graph built on the host".into(),
        format!("median of 20 runs {us:.1} us"),
    ))
}

fn abg_vector_example(ctx: &DeviceContext, cfg: &RuntimeConfig, _dir: &str, _trace: bool) -> Result<ExampleReport> {
    register(ctx, 4, &graph_vector_callable(RuntimeVariant::AicpuBuildGraph)?)?;
    let mut detail = Vec::new();
    for mode in [BuildMode::Sequential, BuildMode::Concurrent] {
        let c = with_build_mode(cfg, mode);
        let us = median_us(20, || run_graph_vector(ctx, 4, &exec(None), &c))?;
        detail.push(format!("build_mode {} ({}): median of 20 runs {us:.1} us", mode as u8, mode.name()));
    }
    Ok(graph_vector_report(
        "aicpu_build_graph vector",
        "the same 4-task graph built on the device by a builder plugin (1 builder + 3 schedulers)".into(),
        detail.join("; "),
    ))
}

fn abg_ring_vector_example(
    ctx: &DeviceContext,
    cfg: &RuntimeConfig,
    _dir: &str,
    _trace: bool,
) -> Result<ExampleReport> {
    register(ctx, 5, &super::variants::abg_ring_vector_callable()?)?;
    let us = median_us(20, || run_graph_vector(ctx, 5, &exec(None), cfg))?;
    Ok(graph_vector_report(
        "aicpu_build_graph ring vector",
        "the 4-task graph in the ring form: submit_task + add_dependency on the tensormap_and_ringbuffer rings, published at scope end".into(),
        format!("median of 20 runs {us:.1} us"),
    ))
}

type Example = fn(&DeviceContext, &RuntimeConfig, &str, bool) -> Result<ExampleReport>;

/// `exec` with the task trace (`enable_l2_swimlane`) on when `trace`.
fn traced(mut exec: crate::context::ExecParams, trace: bool) -> crate::context::ExecParams {
    exec.enable_l2_swimlane = i32::from(trace);
    exec
}

/// The examples in order: (name, id = output subdirectory, the runtime it is
/// written for, runner).
const EXAMPLES: [(&str, &str, RuntimeVariant, Example); 6] = [
    ("vector", EXAMPLE_IDS[0], RuntimeVariant::TensormapAndRingbuffer, vector_example),
    ("nested scopes", EXAMPLE_IDS[1], RuntimeVariant::TensormapAndRingbuffer, nested_example),
    ("fan-out/fan-in", EXAMPLE_IDS[2], RuntimeVariant::TensormapAndRingbuffer, fanout_example),
    ("host_build_graph vector", EXAMPLE_IDS[3], RuntimeVariant::HostBuildGraph, hbg_vector_example),
    ("aicpu_build_graph vector", EXAMPLE_IDS[4], RuntimeVariant::AicpuBuildGraph, abg_vector_example),
    ("aicpu_build_graph ring vector", EXAMPLE_IDS[5], RuntimeVariant::AicpuBuildGraph, abg_ring_vector_example),
];

/// One device context per runtime variant, each pinned to it (created at
/// the first example of the variant, finalized when dropped).
#[derive(Default)]
struct Contexts(Vec<(RuntimeVariant, DeviceContext)>);

impl Contexts {
    fn get(&mut self, variant: RuntimeVariant, cfg: &RuntimeConfig) -> Result<&DeviceContext> {
        if let Some(i) = self.0.iter().position(|(v, _)| *v == variant) {
            return Ok(&self.0[i].1);
        }
        let ctx = DeviceContext::new();
        ctx.init(0, &super::pinned_to(cfg, variant), &[], &[])?;
        self.0.push((variant, ctx));
        Ok(&self.0.last().expect("just pushed").1)
    }
}

impl Drop for Contexts {
    fn drop(&mut self) {
        self.0.iter().for_each(|(_, c)| c.finalize());
    }
}

/// The main job: runs the bundled examples with `opts.config`, checks every
/// result, and calls `on_event` as soon as the configuration is resolved and
/// as each example completes. Temporary files are removed on every path.
pub fn run_demo_with(
    opts: &DemoOptions,
    on_event: &mut dyn FnMut(DemoEvent<'_>),
) -> std::result::Result<DemoSummary, DemoFailure> {
    let setup = |error: Error| DemoFailure { example: "setup", error };
    let t_all = Instant::now();
    // Each example runs on a context pinned to the variant it is written for.
    let cfg = &opts.config;
    let note = super::pin_note(&ProcessEnv);
    let (resolved, warnings) = config::resolve(&super::pinned(cfg), &ProcessEnv).map_err(|e| setup(e.into()))?;
    warnings.iter().for_each(|w| w.emit());
    let mut contexts = Contexts::default();
    contexts.get(super::DEMO_VARIANT, cfg).map_err(setup)?;
    on_event(DemoEvent::Started {
        runtime: match cfg.runtime {
            Some(v) => v.name(),
            None => "tensormap_and_ringbuffer, host_build_graph and aicpu_build_graph",
        },
        config: &docs::explain(&resolved),
        note: note.as_deref(),
    });

    let temp = match &opts.output_prefix {
        Some(_) => None,
        None => Some(
            TempDir::new().map_err(|e| setup(Error::UserCode(format!("cannot create a temporary directory: {e}"))))?,
        ),
    };
    let root = opts.output_prefix.clone().unwrap_or_else(|| temp.as_ref().map(|t| t.0.clone()).unwrap_or_default());
    if let Some(bad) = opts.only.iter().find(|id| !EXAMPLE_IDS.contains(&id.as_str())) {
        return Err(setup(Error::UserCode(format!(
            "unknown example '{bad}': the examples are {}",
            EXAMPLE_IDS.join(", ")
        ))));
    }
    let mut ran = 0;
    for (name, sub, variant, example) in EXAMPLES {
        if !opts.only.is_empty() && !opts.only.iter().any(|id| id == sub) {
            continue;
        }
        ran += 1;
        let dir = root.join(sub).to_string_lossy().into_owned();
        let failed = |error| DemoFailure { example: name, error };
        let ctx = contexts.get(variant, cfg).map_err(failed)?;
        let report = example(ctx, cfg, &dir, opts.trace).map_err(failed)?;
        on_event(DemoEvent::Example(&report));
    }
    Ok(DemoSummary { examples: ran, elapsed: t_all.elapsed() })
}

/// Runs the demo with the default configuration and returns the report as
/// text (each example's line, checked values and a per-ring task summary).
pub fn run_demo() -> Result<String> {
    let mut out = String::new();
    let summary = run_demo_with(&DemoOptions::default(), &mut |ev| match ev {
        DemoEvent::Started { runtime, config, note } => {
            let _ = writeln!(out, "simpler demo: runtime {runtime} (pinned) on the simulated device");
            if let Some(note) = note {
                let _ = writeln!(out, "{note}");
            }
            let _ = writeln!(out, "\n{config}");
        }
        DemoEvent::Example(r) => {
            let _ = writeln!(out, "[ok] {}: {}\n     checked: {}\n     {}", r.name, r.what, r.checked, r.detail);
            for (ring, scopes, tasks, peak) in scope_stats_summary(r.scope_stats.as_deref().unwrap_or("")) {
                let _ = writeln!(out, "     ring {ring}: {scopes} scopes, {tasks} tasks allocated, peak {peak} live");
            }
        }
    })
    .map_err(|f| Error::UserCode(f.to_string()))?;
    let _ = writeln!(out, "all {} examples passed in {:.2} s", summary.examples, summary.elapsed.as_secs_f64());
    Ok(out)
}
