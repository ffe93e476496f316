//! Typed runtime configuration.

mod error;
pub use error::ConfigError;

/// Placeholder until the schema lands.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig;
