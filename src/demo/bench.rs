//! `simpler bench`: throughput and latency figures of the TRB runtime on
//! no-op kernels, measured through the whole path (submit, dependency
//! lookup, dispatch, run, completion, reclaim) of a real device context.

use std::time::Instant;

use super::variants::{graph_bench_callable, run_graph_bench, with_build_mode};
use super::{args_of, bench_callable, exec, register, run_vector, vector_style_callable};
use crate::abi::ArgDirection::{In, Out};
use crate::config::{BuildMode, RuntimeConfig, RuntimeVariant};
use crate::context::{DeviceContext, ExecParams};
use crate::device::region::resident_bytes;
use crate::diagnostics::Result;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A benchmark workload: orchestration mode, its size parameter, and the tasks it submits.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// 0 independent, 1 chain, 2 fan rounds.
    pub mode: u64,
    /// Tasks (modes 0, 1) or rounds (mode 2).
    pub n: u64,
    /// Tasks submitted in total.
    pub tasks: u64,
}

/// Runs `w` `reps` times on callable `id`; returns the median ns per task
/// (0 for a workload of no tasks).
pub fn ns_per_task(
    ctx: &DeviceContext,
    id: i32,
    w: Workload,
    reps: usize,
    ex: &ExecParams,
    cfg: &RuntimeConfig,
) -> Result<f64> {
    let mut t = vec![0f32; 16];
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let args = args_of(&mut [&mut t], &[w.mode, w.n, 4096])?;
        let start = Instant::now();
        ctx.run(id, &args, ex, cfg)?;
        let ns = start.elapsed().as_nanos() as f64;
        samples.push(if w.tasks == 0 { 0.0 } else { ns / w.tasks as f64 });
    }
    Ok(median(samples))
}

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Smaller workloads and fewer repetitions, no soak.
    pub quick: bool,
    /// `aicpu_thread_num` (schedulers + 1 orchestrator), in [2, 4].
    pub threads: i32,
    /// Configuration of every run (the shard/orch_to_sched sweep overrides those two knobs).
    pub config: RuntimeConfig,
    /// Run only these workloads (empty: the whole bench). A selection runs no
    /// sweep, vector example or soak.
    pub only: Vec<WorkloadKind>,
    /// Size of each selected workload: tasks (independent), hops (chain), rounds (fan);
    /// `None` the default sizes. 0 is an empty run (the instruction-count baseline).
    pub size: Option<u64>,
    /// Timed repetitions per workload (median reported); `None`: 7, or 3 with `quick`.
    pub reps: Option<usize>,
    /// Untimed runs of each selected workload before the timed ones.
    pub warmup: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            quick: false,
            threads: 3,
            config: RuntimeConfig::new(),
            only: Vec::new(),
            size: None,
            reps: None,
            warmup: 0,
        }
    }
}

/// The three task-graph workloads of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// W1: independent no-op tasks (default 1,000,000).
    Independent,
    /// W2: a chain of tasks INOUT on one tensor (default 100,000 hops).
    Chain,
    /// W3: rounds of 1 -> 64 -> 1 (default 1000 rounds, 66 tasks each).
    Fan,
    /// The vector example (5 tasks over 3 tensors of 16384 fp32, upstream's
    /// launch shape): size = runs (default 500); only when selected.
    Vector,
}

impl WorkloadKind {
    /// Every workload, in bench order.
    pub const ALL: [WorkloadKind; 3] = [WorkloadKind::Independent, WorkloadKind::Chain, WorkloadKind::Fan];
    /// Every workload `--workload` can select (the task graphs and the vector example).
    pub const SELECTABLE: [WorkloadKind; 4] =
        [WorkloadKind::Independent, WorkloadKind::Chain, WorkloadKind::Fan, WorkloadKind::Vector];

    /// The figure key and command-line name.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Independent => "independent",
            WorkloadKind::Chain => "chain",
            WorkloadKind::Fan => "fan",
            WorkloadKind::Vector => "vector",
        }
    }

    /// The workload with size `n` (tasks, hops or rounds).
    pub fn workload(self, n: u64) -> Workload {
        match self {
            WorkloadKind::Independent => Workload { mode: 0, n, tasks: n },
            WorkloadKind::Chain => Workload { mode: 1, n, tasks: n },
            WorkloadKind::Fan => Workload { mode: 2, n, tasks: n * 66 },
            WorkloadKind::Vector => Workload { mode: 3, n, tasks: n * 5 },
        }
    }

    /// The default size (tasks, hops or rounds).
    pub fn default_size(self) -> u64 {
        match self {
            WorkloadKind::Independent => 1_000_000,
            WorkloadKind::Chain => 100_000,
            WorkloadKind::Fan => 1000,
            WorkloadKind::Vector => 500,
        }
    }
}

/// Measures workload `kind` of size `n` and reports its figure.
#[allow(clippy::too_many_arguments)]
fn measure(
    ctx: &DeviceContext,
    kind: WorkloadKind,
    n: u64,
    warmup: usize,
    reps: usize,
    ex: &ExecParams,
    cfg: &RuntimeConfig,
    on_figure: &mut dyn FnMut(&Figure),
) -> Result<()> {
    if kind == WorkloadKind::Vector {
        return measure_vector(ctx, n, warmup, cfg, on_figure);
    }
    let w = kind.workload(n);
    for _ in 0..warmup {
        ns_per_task(ctx, 0, w, 1, ex, cfg)?;
    }
    let ns = ns_per_task(ctx, 0, w, reps, ex, cfg)?;
    let tasks = w.tasks as f64;
    on_figure(&match kind {
        WorkloadKind::Independent => fig(
            "independent",
            vec![("tasks", tasks), ("ns_per_task", ns)],
            format!("independent tasks : {n:>8} tasks  {ns:>8.1} ns/task  ({:.2} M tasks/s)", 1e3 / ns.max(1e-9)),
        ),
        WorkloadKind::Chain => fig(
            "chain",
            vec![("hops", tasks), ("ns_per_hop", ns)],
            format!("chain on 1 tensor : {n:>8} hops   {ns:>8.1} ns/hop"),
        ),
        WorkloadKind::Fan => fig(
            "fan",
            vec![("rounds", n as f64), ("tasks", tasks), ("ns_per_task", ns)],
            format!("1 -> 64 -> 1      : {n:>8} rounds {ns:>8.1} ns/task"),
        ),
        WorkloadKind::Vector => unreachable!("measured by measure_vector"),
    });
    Ok(())
}

/// `runs` vector-example runs (callable 1, upstream's launch shape) after
/// `warmup` untimed ones; reports the median us per run (0 for no runs).
/// With `runs` 0 it is the instruction-count baseline of the vector workload.
fn measure_vector(
    ctx: &DeviceContext,
    runs: u64,
    warmup: usize,
    cfg: &RuntimeConfig,
    on_figure: &mut dyn FnMut(&Figure),
) -> Result<()> {
    let vex = exec(None);
    for _ in 0..warmup {
        run_vector(ctx, 1, &vex, cfg)?;
    }
    let samples = (0..runs).map(|_| run_vector(ctx, 1, &vex, cfg).map(|ns| ns as f64)).collect::<Result<Vec<_>>>()?;
    let us = if samples.is_empty() { 0.0 } else { median(samples) / 1e3 };
    on_figure(&fig(
        "vector",
        vec![("runs", runs as f64), ("median_us_per_run", us)],
        format!("vector example    : median {us:.1} us per run_prepared over {runs} runs"),
    ));
    Ok(())
}

/// One measured figure: a stable key, named values, and a line for people.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Stable identifier (`independent`, `chain`, `fan`, `shards_1_o2s_false`, ...).
    pub key: String,
    /// Named values (`ns_per_task`, `tasks`, ...).
    pub values: Vec<(&'static str, f64)>,
    /// The figure as one line of text.
    pub text: String,
}

fn fig(key: impl Into<String>, values: Vec<(&'static str, f64)>, text: String) -> Figure {
    Figure { key: key.into(), values, text }
}

/// Runs every benchmark workload, calling `on_figure` as each figure is measured.
pub fn run_bench_with(opts: &BenchOptions, on_figure: &mut dyn FnMut(&Figure)) -> Result<()> {
    // The bench's orchestrations are TRB: pin the variant (see `pinned_config`).
    let pinned = super::pinned(&opts.config);
    let (quick, threads, cfg) = (opts.quick, opts.threads, &pinned);
    if !(2..=4).contains(&threads) {
        return Err(crate::diagnostics::Error::UserCode(format!(
            "aicpu_thread_num {threads} is out of range: must be in [2, 4]"
        )));
    }
    let ctx = DeviceContext::new();
    ctx.init(0, cfg, &[], &[])?;
    struct Finalize<'a>(&'a DeviceContext);
    impl Drop for Finalize<'_> {
        fn drop(&mut self) {
            self.0.finalize();
        }
    }
    let _finalize = Finalize(&ctx);
    if let Some(note) = super::pin_note(&crate::config::ProcessEnv) {
        on_figure(&fig("note", vec![], note));
    }
    register(&ctx, 0, &bench_callable()?)?;
    register(&ctx, 1, &vector_style_callable(super::assets::TRB_VECTOR_ORCH, &[In, In, Out])?)?;
    // A scheduler thread tracks at most 21 clusters (upstream's 63-core bitmap).
    let block_dim = (21 * (threads - 1)).min(24);
    let ex = ExecParams { block_dim, aicpu_thread_num: threads, ..ExecParams::default() };
    let reps = opts.reps.unwrap_or(if quick { 3 } else { 7 }).max(1);
    let scale = if quick { 10 } else { 1 };
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    on_figure(&fig(
        "setup",
        vec![("cpus", cpus as f64), ("reps", reps as f64), ("block_dim", block_dim as f64), ("aicpu_thread_num", threads as f64)],
        format!(
            "machine: {cpus} logical CPUs; release build expected; medians of {reps} runs\nexecution: block_dim {block_dim}, aicpu_thread_num {threads} ({} schedulers + 1 orchestrator)",
            threads - 1
        ),
    ));

    let kinds: &[WorkloadKind] = if opts.only.is_empty() { &WorkloadKind::ALL } else { &opts.only };
    for &kind in kinds {
        let n = opts.size.unwrap_or(kind.default_size() / scale);
        measure(&ctx, kind, n, opts.warmup, reps, &ex, cfg, on_figure)?;
    }
    if !opts.only.is_empty() {
        return Ok(());
    }

    for shards in [1u64, 3] {
        for o2s in [false, true] {
            let mut c = cfg.clone();
            c.set_str("ready_queue_shards", &shards.to_string())?;
            c.set_str("orch_to_sched", if o2s { "true" } else { "false" })?;
            let n = 200_000 / scale;
            let ns = ns_per_task(&ctx, 0, Workload { mode: 0, n, tasks: n }, reps, &ex, &c)?;
            on_figure(&fig(
                format!("independent_shards{shards}_orch_to_sched_{o2s}"),
                vec![("tasks", n as f64), ("ns_per_task", ns)],
                format!("independent, ready_queue_shards={shards} orch_to_sched={o2s:<5}: {ns:>8.1} ns/task"),
            ));
        }
    }

    let vex = exec(None);
    run_vector(&ctx, 1, &vex, cfg)?;
    let rss0 = resident_bytes().unwrap_or(0);
    let runs = if quick { 50 } else { 500 };
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(run_vector(&ctx, 1, &vex, cfg)? as f64);
    }
    let rss1 = resident_bytes().unwrap_or(0);
    let us = median(samples) / 1e3;
    on_figure(&fig(
        "vector",
        vec![("runs", runs as f64), ("median_us_per_run", us)],
        format!("vector example    : median {us:.1} us per run_prepared over {runs} runs (after the first)"),
    ));
    let (mib, delta) = (rss1 as f64 / 1048576.0, (rss1 as f64 - rss0 as f64) / 1048576.0);
    compare_runtimes(&ctx, &opts.config, &ex, reps, scale, on_figure)?;
    // After the comparison's host_build_graph and aicpu_build_graph contexts
    // were finalized: what the whole bench leaves resident.
    let rss_end = resident_bytes().unwrap_or(0) as f64 / 1048576.0;
    // Idle for twice the idle-trim delay: the TRB device gives back what its
    // last (big) run left resident.
    std::thread::sleep(2 * crate::runtime::trb::idle_trim::IDLE_TRIM_AFTER);
    let rss_idle = resident_bytes().unwrap_or(0) as f64 / 1048576.0;
    on_figure(&fig(
        "resident",
        vec![("resident_mib", mib), ("delta_mib", delta), ("resident_end_mib", rss_end), ("resident_idle_mib", rss_idle)],
        format!("resident memory   : {mib:.1} MiB after the vector runs ({delta:+.1} MiB over them), {rss_end:.1} MiB after the runtime comparison, {rss_idle:.1} MiB after {} ms idle", 2 * crate::runtime::trb::idle_trim::IDLE_TRIM_AFTER.as_millis()),
    ));
    if !quick {
        let soak = 100_000;
        let start = Instant::now();
        for _ in 0..soak {
            run_vector(&ctx, 1, &vex, cfg)?;
        }
        let rss2 = resident_bytes().unwrap_or(0);
        let secs = start.elapsed().as_secs_f64();
        let (mib, delta) = (rss2 as f64 / 1048576.0, (rss2 as f64 - rss1 as f64) / 1048576.0);
        on_figure(&fig(
            "soak",
            vec![("runs", soak as f64), ("seconds", secs), ("resident_mib", mib), ("delta_mib", delta)],
            format!("soak              : {soak} vector runs on one context in {secs:.1} s, all correct; resident {mib:.1} MiB ({delta:+.1} MiB)"),
        ));
    }
    Ok(())
}

/// The same no-op task graphs (independent tasks, a chain, rounds of
/// 1 -> 64 -> 1) on each runtime: host_build_graph (built on the host, then
/// run), aicpu_build_graph with build_mode 0 and 1 (built on the device by a
/// plugin), tensormap_and_ringbuffer (`trb`: submitted by the orchestrator,
/// dependencies from the TensorMap, explicit for the fan's joiner). Each
/// graph runtime gets its own context pinned to it; same threads and
/// block_dim as the rest of the bench.
fn compare_runtimes(
    trb: &DeviceContext,
    cfg: &RuntimeConfig,
    ex: &ExecParams,
    reps: usize,
    scale: u64,
    on_figure: &mut dyn FnMut(&Figure),
) -> Result<()> {
    struct Ctx(DeviceContext);
    impl Drop for Ctx {
        fn drop(&mut self) {
            self.0.finalize();
        }
    }
    let pinned = |v: RuntimeVariant| -> Result<Ctx> {
        let ctx = Ctx(DeviceContext::new());
        ctx.0.init(0, &super::pinned_to(cfg, v), &[], &[])?;
        register(&ctx.0, 0, &graph_bench_callable(v)?)?;
        Ok(ctx)
    };
    let (hbg, abg) = (pinned(RuntimeVariant::HostBuildGraph)?, pinned(RuntimeVariant::AicpuBuildGraph)?);
    let trb_cfg = super::pinned(cfg);
    let (seq, conc) = (with_build_mode(cfg, BuildMode::Sequential), with_build_mode(cfg, BuildMode::Concurrent));
    for (kind, n) in [
        (WorkloadKind::Independent, 50_000 / scale),
        (WorkloadKind::Chain, 50_000 / scale),
        (WorkloadKind::Fan, 500 / scale),
    ] {
        let w = kind.workload(n);
        let graph = |ctx: &DeviceContext, c: &RuntimeConfig| -> Result<f64> {
            run_graph_bench(ctx, 0, w.mode, n, ex, c)?;
            let v = (0..reps)
                .map(|_| run_graph_bench(ctx, 0, w.mode, n, ex, c).map(|ns| ns as f64))
                .collect::<Result<_>>()?;
            Ok(median(v) / w.tasks.max(1) as f64)
        };
        let h = graph(&hbg.0, cfg)?;
        let a0 = graph(&abg.0, &seq)?;
        let a1 = graph(&abg.0, &conc)?;
        ns_per_task(trb, 0, w, 1, ex, &trb_cfg)?;
        let t = ns_per_task(trb, 0, w, reps, ex, &trb_cfg)?;
        on_figure(&fig(
            format!("runtimes_{}", kind.name()),
            vec![("tasks", w.tasks as f64), ("hbg", h), ("abg_build_mode_0", a0), ("abg_build_mode_1", a1), ("trb", t)],
            format!(
                "runtimes, {:<11} ({:>6} tasks): hbg {h:>7.1} | abg build_mode 0 {a0:>7.1} | abg build_mode 1 {a1:>7.1} | trb {t:>7.1} ns/task",
                kind.name(),
                w.tasks
            ),
        ));
    }
    Ok(())
}
