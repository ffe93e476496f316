//! The one resolver: effective value and source of every knob and ring.
//!
//! Precedence, per knob and per ring: explicit per-ring value > explicit
//! scalar (broadcast) > environment per-ring list > environment scalar >
//! compiled default. An invalid environment variable is ignored as a whole
//! with exactly one warning; an invalid explicit value is an error.

use std::fmt;

use super::env::EnvSource;
use super::error::ConfigError;
use super::model::{syntax_hint, RuntimeConfig};
use super::parse;
use super::schema::{self, BuildMode, Knob, KnobSpec, RuntimeVariant, Shape, RING_COUNT};
use super::sizing::RingSizing;

/// Where an effective value came from.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The compiled default.
    Default = 0,
    /// The environment variable holding one value for all rings (or a scalar knob).
    Env = 1,
    /// The environment variable's per-ring list.
    EnvPerRing = 2,
    /// An explicit value (scalar, broadcast to all rings).
    Explicit = 3,
    /// An explicit per-ring value.
    ExplicitPerRing = 4,
}

impl Source {
    /// Short name for listings.
    pub fn name(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::Env => "env",
            Source::EnvPerRing => "env (per-ring list)",
            Source::Explicit => "explicit",
            Source::ExplicitPerRing => "explicit (per ring)",
        }
    }
}

/// One effective value (encoded as in the schema) and its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The value (bools 0/1, runtime as its code).
    pub value: u64,
    /// Where it came from.
    pub source: Source,
}

/// An environment variable that was ignored, or read in a way its text
/// suggests was not meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvWarning {
    /// The variable.
    pub var: &'static str,
    /// Its text.
    pub text: String,
    /// What was wrong and the rule.
    pub reason: String,
    /// True: the variable was ignored; false: it was used as `reason` says.
    pub ignored: bool,
}

impl fmt::Display for EnvWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ignored {
            write!(f, "ignoring {}=\"{}\": {} (falling back to the next source)", self.var, self.text, self.reason)
        } else {
            write!(f, "{}=\"{}\" {}", self.var, self.text, self.reason)
        }
    }
}

impl EnvWarning {
    /// Logs the warning (component `env`; once per resolution that saw it).
    pub fn emit(&self) {
        crate::diagnostics::log::warn("env", &self.to_string());
    }
}

/// Texts that read as "yes" to a person but are false under upstream's
/// boolean rule (true iff the first character is `1`, `t` or `T`).
fn looks_true(text: &str) -> bool {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace()).to_ascii_lowercase();
    ["1", "t", "true", "y", "yes", "on", "enable", "enabled"].contains(&t.as_str()) && !parse::legacy_env_bool(text)
}

/// Effective per-run knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedRun {
    /// Per-ring task windows.
    pub ring_task_window: [Resolved; RING_COUNT],
    /// Per-ring heap bytes.
    pub ring_heap: [Resolved; RING_COUNT],
    /// Per-ring dep pool entries.
    pub ring_dep_pool: [Resolved; RING_COUNT],
    /// Ready-queue shards.
    pub ready_queue_shards: Resolved,
    /// Orchestrator joins scheduling.
    pub orch_to_sched: Resolved,
    /// aicpu_build_graph build mode (0 sequential, 1 concurrent).
    pub build_mode: Resolved,
    /// The validated ring sizes (the values of the three ring knobs above).
    pub sizing: RingSizing,
}

impl ResolvedRun {
    /// Shard count.
    pub fn shards(&self) -> u32 {
        self.ready_queue_shards.value as u32
    }
    /// Whether the orchestrator joins scheduling.
    pub fn orch_to_sched(&self) -> bool {
        self.orch_to_sched.value != 0
    }
    /// The aicpu_build_graph build mode.
    pub fn build_mode(&self) -> BuildMode {
        BuildMode::from_code(self.build_mode.value).unwrap_or(BuildMode::Concurrent)
    }
}

/// Effective per-device knobs (latched at device init).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedDevice {
    /// Watchdog budget.
    pub scheduler_timeout_ms: Resolved,
    /// Runtime variant override (value 0 = unset: inferred per callable).
    pub runtime: Resolved,
}

impl ResolvedDevice {
    /// The runtime variant every callable must have, when the `runtime` knob
    /// or `SIMPLER_RUNTIME` sets one; `None` = each callable's binary decides.
    pub fn runtime_override(&self) -> Option<RuntimeVariant> {
        RuntimeVariant::from_code(self.runtime.value)
    }
    /// Where the override came from, for messages.
    pub fn runtime_override_origin(&self) -> &'static str {
        match self.runtime.source {
            Source::Env | Source::EnvPerRing => "SIMPLER_RUNTIME",
            _ => "the runtime knob",
        }
    }
    /// Watchdog budget in ms.
    pub fn timeout_ms(&self) -> u64 {
        self.scheduler_timeout_ms.value
    }
}

/// Everything resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedConfig {
    /// Per-run knobs.
    pub run: ResolvedRun,
    /// Per-device knobs.
    pub device: ResolvedDevice,
}

impl ResolvedConfig {
    /// The resolved value of `knob` at `ring` (ring ignored for non-ring knobs).
    pub fn get(&self, knob: Knob, ring: usize) -> Resolved {
        let r = ring.min(RING_COUNT - 1);
        match knob {
            Knob::RingTaskWindow => self.run.ring_task_window[r],
            Knob::RingHeap => self.run.ring_heap[r],
            Knob::RingDepPool => self.run.ring_dep_pool[r],
            Knob::ReadyQueueShards => self.run.ready_queue_shards,
            Knob::OrchToSched => self.run.orch_to_sched,
            Knob::BuildMode => self.run.build_mode,
            Knob::SchedulerTimeoutMs => self.device.scheduler_timeout_ms,
            Knob::Runtime => self.device.runtime,
        }
    }
}

/// Reads and checks one environment variable. `Ok(None)` = unset,
/// `Ok(Some(values))` = usable (1 value, or 4 for ring knobs), `Err` = ignored.
fn read_env(spec: &KnobSpec, env: &dyn EnvSource) -> Result<Option<Vec<u64>>, EnvWarning> {
    read_env_noting(spec, env, &mut Vec::new())
}

/// [`read_env`], pushing warnings about values that are used but look unintended.
fn read_env_noting(
    spec: &KnobSpec,
    env: &dyn EnvSource,
    notes: &mut Vec<EnvWarning>,
) -> Result<Option<Vec<u64>>, EnvWarning> {
    let Some(text) = env.var(spec.env) else { return Ok(None) };
    let warn = |reason: String| EnvWarning { var: spec.env, text: text.clone(), reason, ignored: true };
    let must = || format!("{} must be {} and each value {}", spec.env, syntax_hint(spec), spec.rule_text());
    match spec.shape {
        Shape::PerRing | Shape::Scalar => {
            let parsed = if spec.shape == Shape::PerRing {
                parse::parse_ring_list(&text)
            } else {
                parse::parse_scalar(&text).map(|v| vec![v])
            };
            let values = parsed.map_err(|e| warn(format!("{e}; {}", must())))?;
            if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !spec.rule.check(**v)) {
                let which = if values.len() == 1 { String::new() } else { format!(" (ring {i})") };
                return Err(warn(format!("value {v}{which} breaks the rule; {}", must())));
            }
            Ok(Some(values))
        }
        Shape::Bool => {
            if looks_true(&text) {
                notes.push(EnvWarning {
                    var: spec.env,
                    text: text.clone(),
                    reason: format!(
                        "reads as false: {} is true iff its first character is 1, t or T (upstream's rule); \
                         set it to 1 or true",
                        spec.env
                    ),
                    ignored: false,
                });
            }
            Ok(Some(vec![u64::from(parse::legacy_env_bool(&text))]))
        }
        Shape::Mode(names) => match parse_env_mode(names, &text) {
            Some(v) => Ok(Some(vec![v])),
            None => Err(warn(format!("{} must be {}", spec.env, spec.rule_text()))),
        },
        Shape::Choice(_) => match RuntimeVariant::from_name(parse::trim_blanks(&text)) {
            Some(v) => Ok(Some(vec![v as u64])),
            None => Err(warn(format!("{} must be {}", spec.env, spec.rule_text()))),
        },
    }
}

/// Upstream's reading of a mode variable: a mode name or `0`/`1`, and any
/// other integer (optional sign, decimal digits) counts as 1 unless it is zero.
fn parse_env_mode(names: &[&str], text: &str) -> Option<u64> {
    let t = parse::trim_blanks(text);
    if let Some(i) = names.iter().position(|n| *n == t) {
        return Some(i as u64);
    }
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(u64::from(digits.bytes().any(|b| b != b'0')))
}

fn resolve_ring(
    spec: &KnobSpec,
    cfg: &RuntimeConfig,
    env: &dyn EnvSource,
    warnings: &mut Vec<EnvWarning>,
) -> [Resolved; RING_COUNT] {
    let explicit = cfg.ring(spec.knob).copied().unwrap_or_default();
    let env_values = read_env(spec, env).unwrap_or_else(|w| {
        warnings.push(w);
        None
    });
    std::array::from_fn(|r| {
        if let Some(v) = explicit.per_ring[r] {
            Resolved { value: v, source: Source::ExplicitPerRing }
        } else if let Some(v) = explicit.all {
            Resolved { value: v, source: Source::Explicit }
        } else {
            match env_values.as_deref() {
                Some([v]) => Resolved { value: *v, source: Source::Env },
                Some(list) => Resolved { value: list[r], source: Source::EnvPerRing },
                None => Resolved { value: spec.default, source: Source::Default },
            }
        }
    })
}

fn resolve_scalar(
    spec: &KnobSpec,
    cfg: &RuntimeConfig,
    env: &dyn EnvSource,
    warnings: &mut Vec<EnvWarning>,
) -> Resolved {
    if let Some(v) = cfg.scalar(spec.knob) {
        return Resolved { value: v, source: Source::Explicit };
    }
    match read_env_noting(spec, env, warnings) {
        Ok(Some(values)) => Resolved { value: values[0], source: Source::Env },
        Ok(None) => Resolved { value: spec.default, source: Source::Default },
        Err(w) => {
            warnings.push(w);
            Resolved { value: spec.default, source: Source::Default }
        }
    }
}

/// Resolves the per-run knobs of `cfg` against `env`. Validates `cfg` first.
pub fn resolve_run(cfg: &RuntimeConfig, env: &dyn EnvSource) -> Result<(ResolvedRun, Vec<EnvWarning>), ConfigError> {
    cfg.validate()?;
    let mut w = Vec::new();
    let ring_task_window = resolve_ring(schema::spec(Knob::RingTaskWindow), cfg, env, &mut w);
    let ring_heap = resolve_ring(schema::spec(Knob::RingHeap), cfg, env, &mut w);
    let ring_dep_pool = resolve_ring(schema::spec(Knob::RingDepPool), cfg, env, &mut w);
    // The one place the ring sizes are checked as a whole (window sum, heap sum).
    let sizing = RingSizing::from_values(
        ring_task_window.map(|r| r.value),
        ring_heap.map(|r| r.value),
        ring_dep_pool.map(|r| r.value),
    )?;
    let run = ResolvedRun {
        ring_task_window,
        ring_heap,
        ring_dep_pool,
        ready_queue_shards: resolve_scalar(schema::spec(Knob::ReadyQueueShards), cfg, env, &mut w),
        orch_to_sched: resolve_scalar(schema::spec(Knob::OrchToSched), cfg, env, &mut w),
        build_mode: resolve_scalar(schema::spec(Knob::BuildMode), cfg, env, &mut w),
        sizing,
    };
    Ok((run, w))
}

/// Resolves the per-device knobs of `cfg` against `env`. Validates `cfg` first.
pub fn resolve_device(
    cfg: &RuntimeConfig,
    env: &dyn EnvSource,
) -> Result<(ResolvedDevice, Vec<EnvWarning>), ConfigError> {
    cfg.validate()?;
    let mut w = Vec::new();
    let device = ResolvedDevice {
        scheduler_timeout_ms: resolve_scalar(schema::spec(Knob::SchedulerTimeoutMs), cfg, env, &mut w),
        runtime: resolve_scalar(schema::spec(Knob::Runtime), cfg, env, &mut w),
    };
    Ok((device, w))
}

/// Resolves every knob. Also logs, once per process per name, every set
/// `PTO2_*`/`PTO_*`/`SIMPLER_*` variable that is not known (a likely typo).
pub fn resolve(cfg: &RuntimeConfig, env: &dyn EnvSource) -> Result<(ResolvedConfig, Vec<EnvWarning>), ConfigError> {
    super::env::warn_unknown_variables(env);
    let (run, mut w) = resolve_run(cfg, env)?;
    let (device, w2) = resolve_device(cfg, env)?;
    w.extend(w2);
    Ok((ResolvedConfig { run, device }, w))
}

/// Checks that per-device knobs given to a run agree with the latched values;
/// a `runtime` given to a run must name `callable_variant`, the variant of
/// the callable being run.
pub fn check_per_device_unchanged(
    cfg: &RuntimeConfig,
    latched: &ResolvedDevice,
    callable_variant: RuntimeVariant,
) -> Result<(), ConfigError> {
    for spec in schema::KNOBS.iter().filter(|s| s.tier.per_device()) {
        if let Some(v) = cfg.scalar(spec.knob) {
            let l = match spec.knob {
                Knob::SchedulerTimeoutMs => latched.scheduler_timeout_ms.value,
                _ => callable_variant as u64,
            };
            if v != l {
                return Err(ConfigError::PerDeviceKnob {
                    knob: spec.name,
                    value: schema::render_value(spec, v),
                    latched: match spec.knob {
                        Knob::Runtime => format!("{} (the variant of the callable run)", schema::render_value(spec, l)),
                        _ => schema::render_value(spec, l),
                    },
                });
            }
        }
    }
    Ok(())
}

fn ring_text(spec: &KnobSpec, rings: &[Resolved; RING_COUNT]) -> String {
    let values = rings.map(|r| r.value);
    let sources = rings.map(|r| r.source.name());
    let v = if values.iter().all(|&x| x == values[0]) { values[0].to_string() } else { format!("{values:?}") };
    let s = if sources.iter().all(|&x| x == sources[0]) { sources[0].to_string() } else { sources.join("/") };
    format!("{}={v} ({s})", spec.name)
}

/// One line naming every effective per-run value and its source (the
/// debug-level log of each run).
pub fn run_summary(r: &ResolvedRun) -> String {
    let scalar = |knob: Knob, v: Resolved| {
        let spec = schema::spec(knob);
        format!("{}={} ({})", spec.name, schema::render_value(spec, v.value), v.source.name())
    };
    [
        ring_text(schema::spec(Knob::RingTaskWindow), &r.ring_task_window),
        ring_text(schema::spec(Knob::RingHeap), &r.ring_heap),
        ring_text(schema::spec(Knob::RingDepPool), &r.ring_dep_pool),
        scalar(Knob::ReadyQueueShards, r.ready_queue_shards),
        scalar(Knob::OrchToSched, r.orch_to_sched),
        scalar(Knob::BuildMode, r.build_mode),
    ]
    .join(", ")
}
