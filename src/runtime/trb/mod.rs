//! tensormap_and_ringbuffer ("PTO2"): four scope-depth rings, TensorMap
//! dependency derivation, concurrent orchestration and scheduling.

pub mod api;
pub mod layout;
pub mod pools;
pub mod queue;
pub mod ring;
pub mod tensormap;
