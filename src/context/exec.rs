//! The execution knobs of one run as the C API passes them, their range
//! checks, and the timing a successful run reports.

use crate::diagnostics::{Error, Result};

/// Upstream's `PLATFORM_MAX_BLOCKDIM` (a2a3): clusters of 1 AIC + 2 AIV.
pub const MAX_BLOCK_DIM: i32 = 24;
/// Upstream's `PLATFORM_MAX_AICPU_THREADS` (a2a3).
pub const MAX_AICPU_THREADS: i32 = 4;

/// Execution knobs of one run (upstream `CallConfig` minus ring sizing).
#[derive(Debug, Clone, Default)]
pub struct ExecParams {
    /// Clusters (0 = the maximum, 24).
    pub block_dim: i32,
    /// AICPU threads: schedulers + 1 orchestrator (trb), schedulers (hbg).
    pub aicpu_thread_num: i32,
    /// Swimlane level: any non-zero level writes the task trace
    /// `<output_prefix>/trace/trace.json` on tensormap_and_ringbuffer and
    /// host_build_graph.
    pub enable_l2_swimlane: i32,
    /// Tensor dump level (unsupported: ignored with a warning).
    pub enable_dump_tensor: i32,
    /// PMU (unsupported: ignored with a warning).
    pub enable_pmu: i32,
    /// Dependency graph dump (unsupported: ignored with a warning).
    pub enable_dep_gen: i32,
    /// Scope statistics (tensormap_and_ringbuffer; host_build_graph has no
    /// rings: warned once per context, nothing written).
    pub enable_scope_stats: i32,
    /// Directory for diagnostics output.
    pub output_prefix: String,
}

/// Validated execution parameters.
#[derive(Debug, Clone, Copy)]
pub struct ExecShape {
    /// Clusters.
    pub block_dim: u32,
    /// AICPU threads.
    pub threads: u32,
}

impl ExecParams {
    /// Checks ranges as upstream's sim runner does; returns the effective shape.
    pub fn shape(&self) -> Result<ExecShape> {
        let block_dim = if self.block_dim == 0 { MAX_BLOCK_DIM } else { self.block_dim };
        if !(1..=MAX_BLOCK_DIM).contains(&block_dim) {
            return Err(Error::InvalidArgument(format!(
                "block_dim = {} is invalid: must be 0 (auto) or in [1, {MAX_BLOCK_DIM}]",
                self.block_dim
            )));
        }
        if !(1..=MAX_AICPU_THREADS).contains(&self.aicpu_thread_num) {
            return Err(Error::InvalidArgument(format!(
                "aicpu_thread_num = {} is invalid: must be in [1, {MAX_AICPU_THREADS}]",
                self.aicpu_thread_num
            )));
        }
        let any_diag = [
            self.enable_l2_swimlane,
            self.enable_dump_tensor,
            self.enable_pmu,
            self.enable_dep_gen,
            self.enable_scope_stats,
        ]
        .iter()
        .any(|&f| f != 0);
        crate::abi::call_config::check_diagnostics(any_diag, self.output_prefix.is_empty())?;
        Ok(ExecShape { block_dim: block_dim as u32, threads: self.aicpu_thread_num as u32 })
    }
}

/// Timing of a successful run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunTiming {
    /// Wall time of the whole call.
    pub host_wall_ns: u64,
    /// Wall time of the device phase.
    pub device_wall_ns: u64,
}
