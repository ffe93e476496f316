//! host_build_graph: the orchestration function runs on the host and builds a
//! static task graph with explicit edges through a 9-entry ops table
//! (`OrchestrationRuntime`); the tasks then run on the simulated cores in
//! dependency order, each through `kernel_entry(uint64_t *args)` with the raw
//! 16-slot argument array. Recorded tensor pairs are copied back (and freed)
//! only when the whole run succeeded.
//!
//! The orchestration runs on its own thread, watched ([`watch`]): one that
//! stops calling the ops table and does not return fails the run with -100.
//!
//! Decisions beyond upstream: device memory that the orchestration allocates
//! through the ops table is run-scoped (freed after the run, also on failure),
//! so a context can run forever with flat memory; a task whose `func_id` has
//! no kernel, or a dependency cycle, fails the run with a message instead of
//! silently skipping or hanging.

pub mod exec;
pub mod graph;
pub mod host;
pub mod ops;
pub mod progress;
pub mod watch;

pub use exec::execute;
pub use graph::{Task, MAX_ARGS, MAX_TASKS};
