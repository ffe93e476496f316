//! Registered callables of a device context: parsed ChipCallable images,
//! their kernel shared objects (deduplicated by content, released when the
//! last callable using one is unregistered), orchestration binaries
//! (deduplicated by ELF build-id with a reference count), the runtime variant
//! of each (inferred from its orchestration binary, [`classify`]) and the
//! dlopen counters of upstream's C API. No runtime objects: what a runtime
//! variant loads for a callable belongs to that variant's backend.

pub mod classify;
pub mod registry;

pub use classify::RuntimeOverride;
pub use registry::Registry;
