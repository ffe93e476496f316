//! Registered callables of a device context: parsed ChipCallable images,
//! their kernel shared objects (deduplicated by content, kept until
//! finalize), orchestration binaries (deduplicated by ELF build-id with a
//! reference count) and the dlopen counters of upstream's C API.

pub mod registry;

pub use registry::{Registered, Registry};
