//! # simpler
//!
//! A Rust drop-in for the host runtime library of simpler (`libhost_runtime.so`),
//! shipped as `libsimpler.so`, with a simulated device as the default backend.
//!
//! Architecture, top to bottom:
//! - [`ffi`]: the C ABI (upstream's exact symbols plus the `pto_*` / `simpler_*`
//!   config-taking entries). Thin: pointer checks, panic boundary, error codes.
//! - [`config`]: the typed runtime configuration: one schema, one parser, one
//!   resolver (explicit > environment > default).
//! - [`abi`]: byte-exact layouts shared with C/C++ (Tensor, ChipStorageTaskArgs,
//!   CallConfig, ChipCallable, ...), pinned by size and offset assertions.
//! - [`device`]: the simulated device: tracked memory, arena layout, contexts.
//! - [`runtime`]: the runtime variants (host_build_graph, tensormap_and_ringbuffer).
//! - [`loader`]: checks of user-supplied shared objects before `dlopen`.
//! - [`diagnostics`]: error codes, last-error slot, logging.

pub mod abi;
pub(crate) mod callable;
pub mod config;
pub mod context;
pub mod demo;
pub mod device;
pub mod diagnostics;
pub mod ffi;
pub(crate) mod kernel;
pub mod loader;
pub mod runtime;

pub use config::{ConfigError, RuntimeConfig};
pub use diagnostics::{Error, ErrorCode, Result};

/// Version of this library (`CARGO_PKG_VERSION`; the C header's `SIMPLER_VERSION_STRING`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Upstream simpler commit whose host-runtime C ABI this library reproduces.
pub const UPSTREAM_ABI_COMMIT: &str = "c68d9bbe6";
