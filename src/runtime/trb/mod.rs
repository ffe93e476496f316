//! tensormap_and_ringbuffer ("PTO2"): four scope-depth rings, TensorMap
//! dependency derivation, concurrent orchestration and scheduling.

pub mod api;
pub mod arena;
pub mod engine;
pub mod host;
pub(crate) mod idle_trim;
pub mod layout;
pub(crate) mod local_queue;
pub mod orchestration;
pub mod orchestrator;
pub(crate) mod parker;
pub mod pools;
pub(crate) mod queue;
pub mod ring;
pub mod shared;
pub mod stats;
pub mod stats_read;
pub mod tensormap;
pub(crate) mod trace;
pub(crate) mod watchdog;

pub use engine::scope_stats_jsonl;

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod tests;
