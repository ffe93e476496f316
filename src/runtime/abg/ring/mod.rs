//! aicpu_build_graph in its last upstream form (a21caa1ba .. acf39009b^):
//! ring-based, explicit dependencies, no TensorMap. The orchestration SO
//! exports `aicpu_orchestration_entry(PTO2Runtime *rt, const
//! ChipStorageTaskArgs &)` and optionally `aicpu_orchestration_config`, and
//! builds the graph through an 11-entry ops table (`submit_task` returning
//! the task id plus outputs, `add_dependency(producer, consumer)`,
//! `scope_begin`, `scope_end`, `orchestration_done`, `is_fatal`, five log
//! entries; header `include/pto_aicpu_build_graph_ring.h`).
//!
//! It runs on the tensormap_and_ringbuffer engine: the same four rings,
//! heaps, dependency pools, ready queues and schedulers, with the
//! orchestrator in explicit-edge mode (`trb::orchestrator` `explicit.rs`):
//! no TensorMap and no creator edges; a task's scope publishes it at scope
//! end. Misuse (an edge naming an unknown task, an edge into a task whose
//! scope ended, an edge closing a cycle) latches INVALID_ARGS (5) with a
//! message; ring overflows report as in TRB.

pub mod host;
pub mod layout;
pub mod ops;
pub mod so;

pub use host::AbgRingBackend;

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod tests;
