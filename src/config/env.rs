//! Where environment values come from. Resolution takes an [`EnvSource`] so
//! tests never race on the process environment.

use std::collections::HashMap;

/// A source of environment variables.
pub trait EnvSource {
    /// The value of `name`, `None` if unset. Non-UTF-8 values are returned lossily.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment, read at each call (never cached).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

/// A fixed map of variables (tests, embedding).
#[derive(Debug, Clone, Default)]
pub struct MapEnv(pub HashMap<String, String>);

impl MapEnv {
    /// Builds from `(name, value)` pairs.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }
}

impl EnvSource for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}
