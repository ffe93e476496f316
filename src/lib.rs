//! # simpler
//!
//! A Rust drop-in for the host runtime library of simpler (`libhost_runtime.so`),
//! shipped as `libsimpler.so`, with a simulated device as the default backend.
//!
//! Architecture: layers, top to bottom, each importing only downward.
//! - [`ffi`]: the C ABI (upstream's exact symbols plus the `pto_*` / `simpler_*`
//!   config-taking entries). Thin: pointer checks, panic boundary, error codes.
//!   [`demo`] sits beside it: the bundled workloads of the `simpler` binary.
//! - [`context`]: [`context::DeviceContext`], one simulated device (memory,
//!   callable registry, knobs latched at init), dispatching each run to the
//!   `runtime::RuntimeBackend` of the callable's variant.
//! - `runtime` (crate-private): the runtime variants, one self-contained
//!   folder each (host glue, orchestration ABI, device-side state):
//!   `runtime::trb` (tensormap_and_ringbuffer, with its arena geometry),
//!   `runtime::hbg` (host_build_graph) and `runtime::abg` (aicpu_build_graph,
//!   both forms; the ring form runs on the trb engine).
//! - `callable` (parsed images, kernel objects, classification, dlopen
//!   counters; no runtime objects) and `kernel` (kernel SOs, sim-context
//!   symbols), both crate-private.
//! - `device` (crate-private): the generic simulated device: tracked memory,
//!   lazily committed regions ([`resident_bytes`]), staging, communicator.
//! - [`abi`] (byte-exact layouts shared with C/C++, pinned by size and offset
//!   assertions), [`config`] (one schema, one parser, one resolver: explicit >
//!   environment > default) and [`loader`] (checks of user-supplied shared
//!   objects, `dlopen` from bytes).
//! - [`diagnostics`]: error codes, last-error slot, logging.

pub mod abi;
pub(crate) mod callable;
pub mod config;
pub mod context;
pub mod demo;
pub(crate) mod device;
pub mod diagnostics;
pub mod ffi;
pub(crate) mod kernel;
pub mod loader;
pub(crate) mod runtime;

pub use config::{ConfigError, RuntimeConfig};
pub use device::region::resident_bytes;

/// The scope-statistics file (`<output_prefix>/scope_stats/scope_stats.jsonl`):
/// its record type and the one reader (`simpler stats` and the demo use it).
pub mod scope_stats {
    pub use crate::runtime::trb::stats::{ScopePhase, ScopeStatRecord};
    pub use crate::runtime::trb::stats_read::{parse_scope_stats, ScopeStats};
}
pub use diagnostics::{Error, ErrorCode, Result};

/// Version of this library (`CARGO_PKG_VERSION`; the C header's `SIMPLER_VERSION_STRING`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Upstream simpler commit whose host-runtime C ABI this library reproduces.
pub const UPSTREAM_ABI_COMMIT: &str = "c68d9bbe6";
