//! What the demo reports while it runs: one event when the configuration is
//! resolved, one per finished example, and a failure naming the example.

use std::fmt;
use std::time::Duration;

use crate::diagnostics::Error;

/// One finished, checked example.
#[derive(Debug, Clone)]
pub struct ExampleReport {
    /// Short name (`vector`, `nested scopes`, `fan-out/fan-in`).
    pub name: &'static str,
    /// What the example computes.
    pub what: String,
    /// The values that were checked, e.g. `f[i] == ... for all 16384 elements (f[0] == 23)`.
    pub checked: String,
    /// Timings and counts.
    pub detail: String,
    /// The example's `scope_stats.jsonl` text (its first checked run).
    pub scope_stats: Option<String>,
}

/// A progress event of [`run_demo_with`](super::run_demo_with).
#[derive(Debug)]
pub enum DemoEvent<'a> {
    /// The effective configuration was resolved and the device initialised.
    Started {
        /// Runtime variant name.
        runtime: &'static str,
        /// `simpler config explain` listing of the effective configuration.
        config: &'a str,
        /// Set when `SIMPLER_RUNTIME` names another variant than the pinned one.
        note: Option<&'a str>,
    },
    /// An example finished and every checked value matched.
    Example(&'a ExampleReport),
}

/// All examples passed.
#[derive(Debug, Clone, Copy)]
pub struct DemoSummary {
    /// Examples run.
    pub examples: usize,
    /// Wall time of the whole demo.
    pub elapsed: Duration,
}

/// The demo stopped: which example failed (or `setup`) and why.
#[derive(Debug)]
pub struct DemoFailure {
    /// Name of the failing example, or `setup` before the first one.
    pub example: &'static str,
    /// The error.
    pub error: Error,
}

impl fmt::Display for DemoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "example '{}' failed: {}", self.example, self.error)
    }
}

impl std::error::Error for DemoFailure {}
