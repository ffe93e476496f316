//! Bundled example workloads: `simpler demo` (the main job) and `simpler
//! bench` run them on device contexts, and tests reuse them. Every result
//! is checked against a value computed here independently of the
//! orchestration. Each example is written for one runtime variant
//! (tensormap_and_ringbuffer, host_build_graph or aicpu_build_graph) and
//! runs on a context pinned to it ([`pinned_to`]): `SIMPLER_RUNTIME` is
//! overridden, with a note.

pub mod assets;
pub mod bench;
mod report;
mod run;
pub mod variants;

pub use report::{DemoEvent, DemoFailure, DemoSummary, ExampleReport};
pub use run::{run_demo, run_demo_with, DemoOptions, EXAMPLE_IDS};

use crate::abi::callable::{parse_chip_callable, ChipCallableBuilder};
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::abi::{ArgDirection, DataType, Tensor};
use crate::config::{EnvSource, RuntimeConfig, RuntimeVariant, RING_COUNT};
use crate::context::{DeviceContext, ExecParams};
use crate::diagnostics::{Error, Result};
use crate::runtime::trb::stats::ScopePhase;
use crate::runtime::trb::stats_read::parse_scope_stats;

use ArgDirection::{In, Inout, Out};

/// The variant of every bundled example.
pub const DEMO_VARIANT: RuntimeVariant = RuntimeVariant::TensormapAndRingbuffer;

/// The device configuration of the demo and the bench: the runtime pinned to
/// [`DEMO_VARIANT`] (an explicit value wins over `SIMPLER_RUNTIME`), the rest
/// unset.
pub fn pinned_config() -> RuntimeConfig {
    pinned(&RuntimeConfig::new())
}

/// `cfg` with the runtime pinned to [`DEMO_VARIANT`] unless `cfg` sets one
/// itself (then a callable of another variant fails at prepare, clearly).
pub fn pinned(cfg: &RuntimeConfig) -> RuntimeConfig {
    pinned_to(cfg, DEMO_VARIANT)
}

/// `cfg` with the runtime pinned to `variant` unless `cfg` sets one itself.
pub fn pinned_to(cfg: &RuntimeConfig, variant: RuntimeVariant) -> RuntimeConfig {
    let mut pinned = cfg.clone();
    pinned.runtime = pinned.runtime.or(Some(variant));
    pinned
}

/// A note when `env` sets `SIMPLER_RUNTIME` (the demo and the bench pin
/// each example's own variant rather than fail at prepare).
pub fn pin_note(env: &dyn EnvSource) -> Option<String> {
    let text = env.var("SIMPLER_RUNTIME")?;
    RuntimeVariant::from_name(text.trim()).map(|_| {
        format!(
            "note: SIMPLER_RUNTIME={text} is overridden: each bundled example runs on a context pinned to the \
             runtime it is written for (tensormap_and_ringbuffer, host_build_graph or aicpu_build_graph)"
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

pub(crate) fn check(name: &str, got: &[f32], want: impl Fn(usize) -> f32) -> Result<()> {
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

/// Per-ring summary of a scope-stats file: (ring, scopes, tasks allocated, peak live tasks),
/// for the rings that opened a scope; empty when the file does not parse
/// ([`parse_scope_stats`], the reader `simpler stats` uses too).
pub fn scope_stats_summary(jsonl: &str) -> Vec<(u64, u64, u64, u64)> {
    let Ok(stats) = parse_scope_stats(jsonl) else { return Vec::new() };
    let mut rings = [(0u64, 0u64, 0u64); RING_COUNT];
    let mut begins: Vec<u64> = Vec::new();
    for (_, rec) in &stats.records {
        let r = &mut rings[rec.ring as usize];
        match rec.phase {
            ScopePhase::Begin => {
                r.0 += 1;
                begins.push(rec.task_window_start);
            }
            ScopePhase::End => {
                r.1 = r.1.max(rec.task_window_end);
                let begin_tail = begins.pop().unwrap_or(rec.task_window_start);
                r.2 = r.2.max(rec.task_window_end.saturating_sub(begin_tail));
            }
        }
    }
    rings.iter().enumerate().filter(|(_, r)| r.0 > 0).map(|(i, r)| (i as u64, r.0, r.1, r.2)).collect()
}
