//! The bundled examples of the two graph-building runtimes: the vector
//! example on host_build_graph (built on the host) and on aicpu_build_graph
//! (built on the device by a plugin, in both build modes), and the no-op
//! task graphs the bench compares all three runtimes on.

use std::time::Instant;

use super::{args_of, assets, check, vector_inputs};
use crate::abi::callable::ChipCallableBuilder;
use crate::abi::ArgDirection::{In, Inout, Out};
use crate::config::{BuildMode, RuntimeConfig, RuntimeVariant};
use crate::context::{DeviceContext, ExecParams};
use crate::diagnostics::Result;

/// The vector example's callable on host_build_graph (`build_example_graph`)
/// or aicpu_build_graph (plugin entry `orchestration`): kernels 0 add,
/// 1 add_scalar, 2 mul over raw arguments.
pub fn graph_vector_callable(variant: RuntimeVariant) -> Result<Vec<u8>> {
    let (func, orch) = match variant {
        RuntimeVariant::HostBuildGraph => ("build_example_graph", assets::HBG_VECTOR_ORCH),
        _ => ("orchestration", assets::ABG_VECTOR_ORCH),
    };
    ChipCallableBuilder::new(&[In, In, Out], func, orch)
        .child(0, &[In, In, Out], assets::ABG_KERNEL_ADD)
        .child(1, &[In, Out], assets::ABG_KERNEL_ADD_SCALAR)
        .child(2, &[In, In, Out], assets::ABG_KERNEL_MUL)
        .build()
}

/// The aicpu_build_graph ring-form vector example: entry
/// `aicpu_orchestration_entry` (the form's fixed name), f written in place,
/// the tensormap_and_ringbuffer kernels.
pub fn abg_ring_vector_callable() -> Result<Vec<u8>> {
    ChipCallableBuilder::new(&[In, In, Inout], "aicpu_orchestration_entry", assets::ABG_RING_VECTOR_ORCH)
        .config_name("aicpu_orchestration_config")
        .child(0, &[In, In, Out], assets::KERNEL_ADD)
        .child(1, &[In, Out], assets::KERNEL_ADD_SCALAR)
        .child(2, &[In, In, Out], assets::KERNEL_MUL)
        .build()
}

/// The bench's no-op task graphs on host_build_graph or aicpu_build_graph
/// (scalars: shape, size; kernel 0 no-op).
pub fn graph_bench_callable(variant: RuntimeVariant) -> Result<Vec<u8>> {
    let (func, orch) = match variant {
        RuntimeVariant::HostBuildGraph => ("hbg_bench", assets::HBG_BENCH_ORCH),
        _ => ("abg_bench", assets::ABG_BENCH_ORCH),
    };
    ChipCallableBuilder::new(&[], func, orch).child(0, &[], assets::KERNEL_NOOP).build()
}

/// `cfg` with `build_mode` set.
pub fn with_build_mode(cfg: &RuntimeConfig, mode: BuildMode) -> RuntimeConfig {
    let mut c = cfg.clone();
    c.build_mode = Some(mode);
    c
}

/// f = (a+b+1)*(a+b+2), the graph runtimes' vector example, in the kernels' order.
pub fn graph_vector_expected(a: f32, b: f32) -> f32 {
    let c = a + b;
    (c + 1.0) * (c + 2.0)
}

/// Runs the graph runtimes' vector example once on `ctx` (callable `id`
/// registered) and checks f; returns the host wall time in ns.
pub fn run_graph_vector(ctx: &DeviceContext, id: i32, exec: &ExecParams, cfg: &RuntimeConfig) -> Result<u64> {
    let (mut a, mut b) = vector_inputs(16384);
    let mut f = vec![f32::NAN; 16384];
    let args = args_of(&mut [&mut a, &mut b, &mut f], &[])?;
    let t = ctx.run(id, &args, exec, cfg)?;
    check("vector f", &f, |i| graph_vector_expected(a[i], b[i]))?;
    Ok(t.host_wall_ns)
}

/// Median host wall time in us of `runs` checked runs (after one untimed).
pub fn median_us(runs: usize, mut once: impl FnMut() -> Result<u64>) -> Result<f64> {
    once()?;
    let mut v: Vec<u64> = (0..runs).map(|_| once()).collect::<Result<_>>()?;
    v.sort_unstable();
    Ok(v[v.len() / 2] as f64 / 1e3)
}

/// Runs the bench graph `(shape, size)` once on `ctx`; returns the wall ns.
pub fn run_graph_bench(
    ctx: &DeviceContext,
    id: i32,
    shape: u64,
    size: u64,
    exec: &ExecParams,
    cfg: &RuntimeConfig,
) -> Result<u64> {
    let args = args_of(&mut [], &[shape, size])?;
    let t = Instant::now();
    ctx.run(id, &args, exec, cfg)?;
    Ok(t.elapsed().as_nanos() as u64)
}
