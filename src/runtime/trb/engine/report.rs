//! The outcome of a run.

use super::params::RunParams;
use crate::runtime::trb::layout::{codes, status_from_codes};
use crate::runtime::trb::shared::{stall, FatalSource, RunShared, StallInfo};
use crate::runtime::trb::stats::{render_jsonl, ScopeStatRecord};
use std::sync::atomic::Ordering::*;

/// Outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// 0 or the negative PTO2 status.
    pub status: i32,
    /// First orchestrator code.
    pub orch_error_code: i32,
    /// First scheduler code.
    pub sched_error_code: i32,
    /// Stall sub-class (code 100 only).
    pub stall_detail: i32,
    /// Stall locator (code 100 only).
    pub stall: StallInfo,
    /// Whether a fatal was latched (also `report_fatal(0, …)`).
    pub fatal: bool,
    /// Failure description (ring, usage, knob and env var to raise); later
    /// errors follow the first as `[later errors: …]`.
    pub message: String,
    /// Source of the first fatal error, if any.
    pub first_source: Option<FatalSource>,
    /// Set when a thread stuck in user code was abandoned (the engine is
    /// then poisoned): what was abandoned.
    pub abandoned: Option<String>,
    /// Σ current_task_index.
    pub total_tasks: u64,
    /// Completed tasks.
    pub completed_tasks: u64,
    /// Scope statistics records.
    pub scope_stats: Vec<ScopeStatRecord>,
    /// (windows, heaps, dep pools) used.
    pub capacities: ([u64; 4], [u64; 4], [u64; 4]),
    /// The task trace (traced runs only).
    pub(crate) trace: Option<crate::runtime::trb::trace::TraceLog>,
}

pub(super) fn make_report(sh: &RunShared, p: &RunParams, scope_stats: Vec<ScopeStatRecord>) -> RunReport {
    let orch = sh.orch_error.load(Acquire);
    let sched = sh.sched_error.load(Acquire);
    let stall_info = if sched == codes::SCHEDULER_TIMEOUT {
        *sh.stall.lock().unwrap_or_else(|e| e.into_inner())
    } else {
        StallInfo::default()
    };
    let (first, mut message) = {
        let f = sh.fatal.lock().unwrap_or_else(|e| e.into_inner());
        let mut m = f.first.as_ref().map(|(_, _, m)| m.clone()).unwrap_or_default();
        if !f.secondary.is_empty() {
            m = format!("{m} [later errors: {}]", f.secondary.join("; "));
        }
        (f.first.as_ref().map(|(s, _, _)| *s), m)
    };
    if orch != 0 || sched != 0 {
        message = format!(
            "PTO2 runtime failed: orch_error_code={orch} ({}) sched_error_code={sched} ({}) runtime_status={}{}: {message}",
            codes::name(orch),
            codes::name(sched),
            status_from_codes(orch, sched),
            if sched == codes::SCHEDULER_TIMEOUT {
                format!(" sub_class={}", stall::label(stall_info.detail))
            } else {
                String::new()
            }
        );
    }
    RunReport {
        status: status_from_codes(orch, sched),
        orch_error_code: orch,
        sched_error_code: sched,
        stall_detail: stall_info.detail,
        stall: stall_info,
        fatal: orch != 0 || sched != 0 || sh.fatal_flag.load(Acquire),
        first_source: first,
        abandoned: None,
        message,
        total_tasks: sh.rings.iter().map(|r| r.current_task_index.load(Acquire)).sum(),
        completed_tasks: sh.completed.load(Acquire),
        scope_stats,
        capacities: {
            let s = p.sizing.rings();
            (s.map(|r| r.window.to_u64()), s.map(|r| r.heap.get()), s.map(|r| u64::from(r.dep_pool.get())))
        },
        trace: None,
    }
}

/// Renders `scope_stats.jsonl` of `report` (metadata line then one line per
/// record, upstream's JSONL version 6).
pub fn scope_stats_jsonl(report: &RunReport) -> String {
    render_jsonl(report.fatal, &report.capacities, &report.scope_stats)
}
