//! Where environment values come from, and which variables are known.
//! Resolution takes an [`EnvSource`] so tests never race on the process
//! environment.
//!
//! A set variable named `PTO2_*`, `PTO_*` or `SIMPLER_*` that is neither a
//! knob's variable (the schema) nor in [`DOCUMENTED_VARIABLES`] is most
//! likely a typo: [`warn_unknown_variables`] (run at device init and by
//! [`resolve`](super::resolve::resolve)) warns once per process per name,
//! naming the closest known variable.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::schema::KNOBS;

/// A source of environment variables.
pub trait EnvSource {
    /// The value of `name`, `None` if unset. Non-UTF-8 values are returned lossily.
    fn var(&self, name: &str) -> Option<String>;
    /// Names of every set variable (for typo detection; default: none).
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The real process environment, read at each call (never cached).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
    fn names(&self) -> Vec<String> {
        std::env::vars_os().map(|(k, _)| k.to_string_lossy().into_owned()).collect()
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
    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

/// Prefixes whose unknown variables are reported as likely typos.
pub const CHECKED_PREFIXES: [&str; 3] = ["PTO2_", "PTO_", "SIMPLER_"];

/// Variables with a checked prefix that are not knobs, and who reads them.
/// Upstream's own variables are listed so that setting them for an upstream
/// stack is not reported; they have no effect on libsimpler.
pub const DOCUMENTED_VARIABLES: &[(&str, &str)] = &[
    ("SIMPLER_LOG_LEVEL", "libsimpler: log threshold (off, error, warn, info, debug, trace; any case)"),
    ("SIMPLER_LIBRARY", "pysimpler: path of libsimpler.so"),
    ("SIMPLER_PREFIX", "pysimpler: install prefix holding lib/libsimpler.so"),
    ("SIMPLER_INCLUDE_DIR", "pysimpler tests: directory of the simpler.h to check the ctypes prototypes against"),
    ("SIMPLER_BLESS", "tests/header_drift.rs: rewrite include/simpler.h instead of checking it"),
    ("SIMPLER_PYTHON", "tests: the Python interpreter of the consumer tests (scripts/test sets its venv's)"),
    ("SIMPLER_DEVICE_RSS_CHILD", "internal: marks the child process of a resident-memory test"),
    ("SIMPLER_TEST_TARGET", "build.rs: target triple of the test builds (cargo also sets it when running tests)"),
    ("SIMPLER_BUILD_CC", "build.rs: C compiler of the build (cargo also sets it when running tests)"),
    ("SIMPLER_BUILD_CXX", "build.rs: C++ compiler of the build (cargo also sets it when running tests)"),
    ("SIMPLER_BUILD_TARGET", "build.rs: target triple of the build (cargo also sets it when running tests)"),
    ("SIMPLER_PMU_EVENT_TYPE", "upstream: PMU event type (no effect: the simulated device has no PMU)"),
    ("SIMPLER_DEVICE_PROFILING", "upstream (later versions): device-phase markers (no effect)"),
    ("PTO2_SERIAL_ORCH_SCHED", "upstream (later versions): serial orchestrator/scheduler start (no effect)"),
    ("PTO2_OP_EXECUTE_TIMEOUT_US", "upstream onboard operation timeout (no effect on the simulated device)"),
    ("PTO2_STREAM_SYNC_TIMEOUT_MS", "upstream onboard stream-sync timeout (no effect on the simulated device)"),
];

/// Every known variable with a checked prefix: the knobs' variables, then
/// [`DOCUMENTED_VARIABLES`].
pub fn known_variables() -> Vec<&'static str> {
    KNOBS.iter().map(|k| k.env).chain(DOCUMENTED_VARIABLES.iter().map(|d| d.0)).collect()
}

/// A set variable that looks like a misspelling of a known one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable {
    /// The variable as set.
    pub name: String,
    /// The closest known variable.
    pub closest: &'static str,
}

impl std::fmt::Display for UnknownVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not a known variable; did you mean {}?", self.name, self.closest)
    }
}

/// Levenshtein distance over bytes.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The known variable closest to `name` (first in list order on ties).
pub fn closest_known(name: &str) -> &'static str {
    let known = known_variables();
    known.iter().copied().min_by_key(|k| distance(name, k)).unwrap_or("SIMPLER_LOG_LEVEL")
}

/// Set variables with a checked prefix that are not known, sorted by name.
pub fn unknown_variables(env: &dyn EnvSource) -> Vec<UnknownVariable> {
    let known = known_variables();
    let mut out: Vec<UnknownVariable> = env
        .names()
        .into_iter()
        .filter(|n| CHECKED_PREFIXES.iter().any(|p| n.starts_with(p)) && !known.contains(&n.as_str()))
        .map(|name| UnknownVariable { closest: closest_known(&name), name })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Logs one warning per unknown variable, once per process per name.
/// Returns the warnings logged by this call.
pub fn warn_unknown_variables(env: &dyn EnvSource) -> Vec<UnknownVariable> {
    let fresh: Vec<UnknownVariable> = {
        let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
        let set = warned.get_or_insert_with(HashSet::new);
        unknown_variables(env).into_iter().filter(|u| set.insert(u.name.clone())).collect()
    };
    for u in &fresh {
        crate::diagnostics::log::warn("env", &u.to_string());
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_levenshtein() {
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("PTO2_RING_HEAPS", "PTO2_RING_HEAP"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("same", "same"), 0);
    }

    #[test]
    fn typos_name_the_closest_known_variable() {
        let env = MapEnv::from_pairs(&[
            ("PTO2_RING_HEAPS", "1024"),
            ("PTO2_RING_TASK_WINDOWS", "64"),
            ("SIMPLER_LOGLEVEL", "debug"),
            ("PTO_ORCH_TO_SCHED", "1"),
            ("SIMPLER_RUNTIME", "host_build_graph"),
            ("PTO2_RING_HEAP", "2048"),
            ("SIMPLER_PREFIX", "/opt"),
            ("PTO_AICPU_BUILD_GRAPH_BUILD_MODE", "1"),
            ("PATH", "/bin"),
            ("PTOX", "1"),
        ]);
        let got: Vec<String> = unknown_variables(&env).iter().map(|u| u.to_string()).collect();
        assert_eq!(
            got,
            [
                "PTO2_RING_HEAPS is not a known variable; did you mean PTO2_RING_HEAP?",
                "PTO2_RING_TASK_WINDOWS is not a known variable; did you mean PTO2_RING_TASK_WINDOW?",
                "PTO_ORCH_TO_SCHED is not a known variable; did you mean PTO2_ORCH_TO_SCHED?",
                "SIMPLER_LOGLEVEL is not a known variable; did you mean SIMPLER_LOG_LEVEL?",
            ]
        );
    }

    #[test]
    fn each_name_is_warned_once_per_process() {
        let env = MapEnv::from_pairs(&[("SIMPLER_ONCE_ONLY_TEST_VAR", "1")]);
        assert_eq!(warn_unknown_variables(&env).len(), 1);
        assert!(warn_unknown_variables(&env).is_empty());
        let env2 = MapEnv::from_pairs(&[("SIMPLER_ONCE_ONLY_TEST_VAR", "2"), ("PTO2_ONCE_ONLY_TEST_VAR", "1")]);
        let again = warn_unknown_variables(&env2);
        assert_eq!(again.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["PTO2_ONCE_ONLY_TEST_VAR"]);
    }

    #[test]
    fn known_variables_are_unique_and_prefixed() {
        let known = known_variables();
        for (i, k) in known.iter().enumerate() {
            assert!(CHECKED_PREFIXES.iter().any(|p| k.starts_with(p)), "{k}");
            assert!(!known[..i].contains(k), "{k} listed twice");
        }
    }
}
