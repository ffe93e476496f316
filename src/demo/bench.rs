//! `simpler bench`: throughput and latency figures of the TRB runtime on
//! no-op kernels, measured through the whole path (submit, dependency
//! lookup, dispatch, run, completion, reclaim) of a real device context.

use std::fmt::Write as _;
use std::time::Instant;

use super::{args_of, bench_callable, exec, register, run_vector, vector_style_callable};
use crate::abi::ArgDirection::{In, Out};
use crate::config::RuntimeConfig;
use crate::device::context::{DeviceContext, ExecParams};
use crate::device::region::resident_bytes;
use crate::diagnostics::Result;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs one bench mode `reps` times; returns the median ns per task.
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

/// Runs `w` `reps` times on callable `id`; returns the median ns per task.
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
    for _ in 0..reps {
        let args = args_of(&mut [&mut t], &[w.mode, w.n, 4096])?;
        let start = Instant::now();
        ctx.run(id, &args, ex, cfg)?;
        samples.push(start.elapsed().as_nanos() as f64 / w.tasks as f64);
    }
    Ok(median(samples))
}

/// All benchmark figures as a report.
pub fn run_bench(quick: bool, threads: i32) -> Result<String> {
    let mut out = String::new();
    // The bench's orchestrations are TRB: pin the variant (see `pinned_config`).
    let cfg = super::pinned_config();
    let ctx = DeviceContext::new();
    ctx.init(0, &cfg, &[], &[])?;
    if let Some(note) = super::pin_note(&crate::config::ProcessEnv) {
        let _ = writeln!(out, "{note}");
    }
    register(&ctx, 0, &bench_callable()?)?;
    register(&ctx, 1, &vector_style_callable(super::assets::TRB_VECTOR_ORCH, &[In, In, Out])?)?;
    // A scheduler thread tracks at most 21 clusters (upstream's 63-core bitmap).
    let block_dim = (21 * (threads - 1)).min(24);
    let ex = ExecParams { block_dim, aicpu_thread_num: threads, ..ExecParams::default() };
    let reps = if quick { 3 } else { 7 };
    let scale = if quick { 10 } else { 1 };
    let _ = writeln!(
        out,
        "machine: {} logical CPUs; release build expected; medians of {reps} runs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(
        out,
        "execution: block_dim 24, aicpu_thread_num 3 (2 schedulers + 1 orchestrator), default ring sizing"
    );

    let n = 1_000_000 / scale;
    let ns = ns_per_task(&ctx, 0, Workload { mode: 0, n, tasks: n }, reps, &ex, &cfg)?;
    let _ = writeln!(out, "independent tasks : {n:>8} tasks  {ns:>8.1} ns/task  ({:.2} M tasks/s)", 1e3 / ns);
    let n = 100_000 / scale;
    let ns = ns_per_task(&ctx, 0, Workload { mode: 1, n, tasks: n }, reps, &ex, &cfg)?;
    let _ = writeln!(out, "chain on 1 tensor : {n:>8} hops   {ns:>8.1} ns/hop");
    let rounds = 1000 / scale;
    let ns = ns_per_task(&ctx, 0, Workload { mode: 2, n: rounds, tasks: rounds * 66 }, reps, &ex, &cfg)?;
    let _ = writeln!(out, "1 -> 64 -> 1      : {rounds:>8} rounds {ns:>8.1} ns/task");

    for shards in [1u64, 3] {
        for o2s in [false, true] {
            let c = RuntimeConfig::builder().ready_queue_shards(shards).orch_to_sched(o2s).build()?;
            let n = 200_000 / scale;
            let ns = ns_per_task(&ctx, 0, Workload { mode: 0, n, tasks: n }, reps, &ex, &c)?;
            let _ = writeln!(out, "independent, ready_queue_shards={shards} orch_to_sched={o2s:<5}: {ns:>8.1} ns/task");
        }
    }

    let vex = exec(None);
    run_vector(&ctx, 1, &vex, &cfg)?;
    let rss0 = resident_bytes().unwrap_or(0);
    let runs = if quick { 50 } else { 500 };
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(run_vector(&ctx, 1, &vex, &cfg)? as f64);
    }
    let rss1 = resident_bytes().unwrap_or(0);
    let _ = writeln!(
        out,
        "vector example    : median {:.1} us per run_prepared over {runs} runs (after the first)",
        median(samples) / 1e3
    );
    let _ = writeln!(
        out,
        "resident memory   : {:.1} MiB now, {:+.1} MiB over those runs",
        rss1 as f64 / 1048576.0,
        (rss1 as f64 - rss0 as f64) / 1048576.0
    );
    if !quick {
        let soak = 100_000;
        let start = Instant::now();
        for _ in 0..soak {
            run_vector(&ctx, 1, &vex, &cfg)?;
        }
        let rss2 = resident_bytes().unwrap_or(0);
        let _ = writeln!(
            out,
            "soak              : {soak} vector runs on one context in {:.1} s, all correct; resident {:.1} MiB ({:+.1} MiB)",
            start.elapsed().as_secs_f64(),
            rss2 as f64 / 1048576.0,
            (rss2 as f64 - rss1 as f64) / 1048576.0
        );
    }
    ctx.finalize();
    Ok(out)
}
