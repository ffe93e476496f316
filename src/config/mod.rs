//! Typed runtime configuration: one schema ([`schema::KNOBS`]), one parser
//! ([`parse`]), one resolver ([`resolve()`]), which also produces the
//! validated ring sizes ([`sizing::RingSizing`]). Everything else calls them.

pub mod docs;
pub mod env;
mod error;
pub mod model;
pub mod parse;
pub mod resolve;
pub mod schema;
pub mod sizing;

pub use env::{EnvSource, MapEnv, ProcessEnv};
pub use error::ConfigError;
pub use model::{RingValue, RuntimeConfig, RuntimeConfigBuilder};
pub use resolve::{
    resolve, resolve_device, resolve_run, EnvWarning, Resolved, ResolvedConfig, ResolvedDevice, ResolvedRun, Source,
};
pub use schema::{BuildMode, Knob, KnobSpec, RuntimeVariant, Shape, Tier, KNOBS, RING_COUNT};
pub use sizing::{DepPool, HeapBytes, RingSize, RingSizing, TaskWindow};

#[cfg(test)]
mod tests;
