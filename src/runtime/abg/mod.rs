//! aicpu_build_graph in its original form (upstream before a21caa1ba): the
//! graph is built on the device by a builder plugin `int f(Runtime *rt)`
//! (named by the callable's `func_name`, default `orchestration`) through
//! the device-side API table of `include/pto_aicpu_build_graph.h`, into the
//! fixed task array host_build_graph uses (131072 tasks, 16 raw argument
//! slots; fanout cap 512, 64 func ids), with explicit edges and a
//! `published` / `completed` state per task.
//!
//! Threads: `aicpu_thread_num` = 1 builder (owns no cores) + N >= 1
//! schedulers, cores dealt round-robin. `build_mode` 0 (sequential): the
//! schedulers wait until the builder returned; 1 (concurrent): they run
//! while it builds and only ever see published tasks.
//!
//! Arguments: the run's `ChipStorageTaskArgs` are staged by signature
//! before the builder starts (IN/INOUT tensors copied to device memory, OUT
//! zero-filled, child memory passed through) and reach the plugin as
//! `rt->orch_args[]` (device address of each tensor, then each scalar; at
//! most 64), `rt->orch_arg_sizes[]` and `rt->task_args`. OUT/INOUT tensors
//! are copied back only when the whole run succeeded. `device_malloc`
//! memory is run-scoped (freed after the run, also on failure).
//!
//! Decisions beyond upstream: every misuse of the API (an id that add_task
//! never returned, an edge to a task already dispatched, a full task array
//! or fanout, an unknown kernel) fails the run with its message; so do
//! published tasks that can never become ready (cycle, unpublished
//! predecessor) and tasks added but never published.

pub mod api;
pub mod exec;
pub mod graph;
pub mod host;
pub mod plugin;
pub mod ring;
mod state;

#[cfg(test)]
mod tests;
