//! Runtime variants executed on the simulated device.

pub mod abg;
pub mod hbg;
pub mod trb;

use std::time::Duration;

/// The stuck-orchestration threshold shared by every runtime variant, as a
/// fraction `STUCK_ORCH_BUDGETS.0 / STUCK_ORCH_BUDGETS.1` of the watchdog
/// budget (`scheduler_timeout_ms`): an orchestration silent in user code (no
/// runtime call, no return) for longer than 1.5 budgets is stuck, which
/// bounds the failure well inside 2 budgets of the last progress (upstream's
/// S5 orchestrator-starvation stall).
pub const STUCK_ORCH_BUDGETS: (u32, u32) = (3, 2);

/// How long an orchestration may stay silent under a `timeout_ms` budget
/// before it counts as stuck (see [`STUCK_ORCH_BUDGETS`]).
pub fn stuck_orchestration_after(timeout_ms: u64) -> Duration {
    Duration::from_millis(timeout_ms) * STUCK_ORCH_BUDGETS.0 / STUCK_ORCH_BUDGETS.1
}
