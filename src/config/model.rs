//! `RuntimeConfig`: explicit configuration values (unset = fall through to
//! the environment, then the compiled default).

use super::error::ConfigError;
use super::parse::{self, SyntaxError};
use super::schema::{self, BuildMode, Knob, KnobSpec, RuntimeVariant, Shape, RING_COUNT};

/// An explicit per-ring knob: a scalar broadcast to all rings and/or
/// individual ring values. A per-ring value beats the scalar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingValue {
    /// Broadcast value (`None` = unset).
    pub all: Option<u64>,
    /// Per-ring values (`None` = unset).
    pub per_ring: [Option<u64>; RING_COUNT],
}

impl RingValue {
    /// Builds from the C encoding (0 = unset).
    pub fn from_raw(all: u64, per_ring: [u64; RING_COUNT]) -> RingValue {
        let nz = |v: u64| (v != 0).then_some(v);
        RingValue { all: nz(all), per_ring: per_ring.map(nz) }
    }
    /// The C encoding (0 = unset).
    pub fn to_raw(&self) -> (u64, [u64; RING_COUNT]) {
        (self.all.unwrap_or(0), self.per_ring.map(|v| v.unwrap_or(0)))
    }
    /// Whether any slot is set.
    pub fn is_set(&self) -> bool {
        self.all.is_some() || self.per_ring.iter().any(Option::is_some)
    }
    /// Overlays `other` on `self`: every slot `other` sets wins.
    pub fn overlay(&self, other: &RingValue) -> RingValue {
        let mut out = *self;
        if other.all.is_some() {
            // An explicit scalar in the overlay replaces both tiers below it.
            out.all = other.all;
            out.per_ring = [None; RING_COUNT];
        }
        for r in 0..RING_COUNT {
            if other.per_ring[r].is_some() {
                out.per_ring[r] = other.per_ring[r];
            }
        }
        out
    }
}

/// Explicit runtime configuration. Every field is optional; unset values
/// fall through to the environment variable, then the compiled default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// `ring_task_window` (tasks; power of two in [4, 2^31-1]).
    pub ring_task_window: RingValue,
    /// `ring_heap` (bytes per ring; >= 1024).
    pub ring_heap: RingValue,
    /// `ring_dep_pool` (entries; [4, 2^31-1]).
    pub ring_dep_pool: RingValue,
    /// `ready_queue_shards` ([1, 4]).
    pub ready_queue_shards: Option<u64>,
    /// `orch_to_sched`.
    pub orch_to_sched: Option<bool>,
    /// `build_mode` (aicpu_build_graph).
    pub build_mode: Option<BuildMode>,
    /// `scheduler_timeout_ms` ([1, 2^31-1]; per device).
    pub scheduler_timeout_ms: Option<u64>,
    /// `runtime` variant (per device).
    pub runtime: Option<RuntimeVariant>,
}

impl RuntimeConfig {
    /// A config with everything unset.
    pub fn new() -> RuntimeConfig {
        RuntimeConfig::default()
    }

    /// Starts a builder.
    pub fn builder() -> RuntimeConfigBuilder {
        RuntimeConfigBuilder { cfg: RuntimeConfig::default() }
    }

    /// The ring value of a per-ring knob.
    pub fn ring(&self, knob: Knob) -> Option<&RingValue> {
        match knob {
            Knob::RingTaskWindow => Some(&self.ring_task_window),
            Knob::RingHeap => Some(&self.ring_heap),
            Knob::RingDepPool => Some(&self.ring_dep_pool),
            _ => None,
        }
    }

    fn ring_mut(&mut self, knob: Knob) -> Option<&mut RingValue> {
        match knob {
            Knob::RingTaskWindow => Some(&mut self.ring_task_window),
            Knob::RingHeap => Some(&mut self.ring_heap),
            Knob::RingDepPool => Some(&mut self.ring_dep_pool),
            _ => None,
        }
    }

    /// The encoded explicit scalar value of a non-ring knob.
    pub fn scalar(&self, knob: Knob) -> Option<u64> {
        match knob {
            Knob::ReadyQueueShards => self.ready_queue_shards,
            Knob::OrchToSched => self.orch_to_sched.map(u64::from),
            Knob::BuildMode => self.build_mode.map(|m| m as u64),
            Knob::SchedulerTimeoutMs => self.scheduler_timeout_ms,
            Knob::Runtime => self.runtime.map(|r| r as u64),
            _ => None,
        }
    }

    /// Checks every set value against its knob's rule. An invalid explicit
    /// value is an error naming the knob, the ring, the value and the rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for spec in schema::KNOBS {
            match spec.shape {
                Shape::PerRing => {
                    let rv = self.ring(spec.knob).expect("per-ring knob");
                    if let Some(v) = rv.all {
                        check(spec, None, v)?;
                    }
                    for (r, v) in rv.per_ring.iter().enumerate() {
                        if let Some(v) = *v {
                            check(spec, Some(r), v)?;
                        }
                    }
                }
                Shape::Scalar => {
                    if let Some(v) = self.scalar(spec.knob) {
                        check(spec, None, v)?;
                    }
                }
                Shape::Bool | Shape::Choice(_) | Shape::Mode(_) => {}
            }
        }
        // The windows of the four rings share one task-id space: their sum
        // is bounded. A ring left unset counts at the smallest window (4),
        // so only a set of values that can never be valid is refused here;
        // the resolved sum is checked again at resolve time.
        let w = &self.ring_task_window;
        let given: [Option<u64>; RING_COUNT] = std::array::from_fn(|r| w.per_ring[r].or(w.all));
        let how = if given.iter().all(Option::is_some) { "given" } else { "given, an unset ring counted as 4" };
        check_window_sum(&given.map(|v| v.unwrap_or(MIN_WINDOW)), how)
    }

    /// Sets a knob from text, with the same syntax as its environment
    /// variable (ring knobs: one value or exactly four). `unset` clears it.
    /// For numeric knobs `0` means unset in every form, as in the C fields:
    /// a single `0` clears the scalar (ring knobs: the all-rings value), a
    /// `0` inside a 4-list leaves that ring unset. Every other value must
    /// satisfy the rule.
    pub fn set_str(&mut self, name: &str, text: &str) -> Result<(), ConfigError> {
        let spec = schema::find(name)
            .ok_or_else(|| ConfigError::UnknownKnob { name: name.to_string(), known: schema::known_names() })?;
        let syntax = |e: SyntaxError| ConfigError::Parse {
            knob: spec.name,
            text: text.to_string(),
            reason: format!("{e}; expected {}", syntax_hint(spec)),
        };
        let unset = parse::trim_blanks(text) == "unset";
        match spec.shape {
            Shape::PerRing => {
                let slot = self.ring_mut(spec.knob).expect("per-ring knob");
                if unset {
                    *slot = RingValue::default();
                    return Ok(());
                }
                let values = parse::parse_ring_list(text).map_err(syntax)?;
                let new = if values.len() == 1 {
                    RingValue { all: (values[0] != 0).then_some(values[0]), per_ring: slot.per_ring }
                } else {
                    let mut per_ring = [None; RING_COUNT];
                    for (r, &v) in values.iter().enumerate() {
                        per_ring[r] = (v != 0).then_some(v);
                    }
                    RingValue { all: slot.all, per_ring }
                };
                if let Some(v) = new.all {
                    check(spec, None, v)?;
                }
                for (r, v) in new.per_ring.iter().enumerate() {
                    if let Some(v) = *v {
                        check(spec, Some(r), v)?;
                    }
                }
                if spec.knob == Knob::RingTaskWindow {
                    // A set never leaves a config that validation refuses
                    // (the sum rule of `validate`), and a refused set changes nothing.
                    let given: [u64; RING_COUNT] =
                        std::array::from_fn(|r| new.per_ring[r].or(new.all).unwrap_or(MIN_WINDOW));
                    check_window_sum(&given, "after this set, an unset ring counted as 4")?;
                }
                *slot = new;
            }
            Shape::Scalar => {
                let value = if unset {
                    None
                } else {
                    let v = parse::parse_scalar(text).map_err(syntax)?;
                    if v != 0 {
                        check(spec, None, v)?;
                    }
                    (v != 0).then_some(v)
                };
                match spec.knob {
                    Knob::ReadyQueueShards => self.ready_queue_shards = value,
                    Knob::SchedulerTimeoutMs => self.scheduler_timeout_ms = value,
                    _ => unreachable!("scalar knobs are listed above"),
                }
            }
            Shape::Bool => {
                self.orch_to_sched = if unset {
                    None
                } else {
                    Some(parse::strict_bool(text).ok_or_else(|| ConfigError::InvalidValue {
                        knob: spec.name,
                        ring: None,
                        value: text.to_string(),
                        rule: parse::strict_bool_text(),
                    })?)
                };
            }
            Shape::Mode(names) => {
                self.build_mode = if unset {
                    None
                } else {
                    let t = parse::trim_blanks(text);
                    let code = names.iter().position(|n| *n == t).or_else(|| t.parse::<usize>().ok());
                    Some(code.and_then(|c| BuildMode::from_code(c as u64)).ok_or_else(|| {
                        ConfigError::InvalidValue {
                            knob: spec.name,
                            ring: None,
                            value: text.to_string(),
                            rule: "0 or sequential, 1 or concurrent".into(),
                        }
                    })?)
                };
            }
            Shape::Choice(_) => {
                self.runtime = if unset {
                    None
                } else {
                    Some(RuntimeVariant::from_name(parse::trim_blanks(text)).ok_or_else(|| {
                        ConfigError::InvalidValue {
                            knob: spec.name,
                            ring: None,
                            value: text.to_string(),
                            rule: spec.rule_text(),
                        }
                    })?)
                };
            }
        }
        Ok(())
    }

    /// Overlays `other`: every value `other` sets wins.
    pub fn overlay(&self, other: &RuntimeConfig) -> RuntimeConfig {
        RuntimeConfig {
            ring_task_window: self.ring_task_window.overlay(&other.ring_task_window),
            ring_heap: self.ring_heap.overlay(&other.ring_heap),
            ring_dep_pool: self.ring_dep_pool.overlay(&other.ring_dep_pool),
            ready_queue_shards: other.ready_queue_shards.or(self.ready_queue_shards),
            orch_to_sched: other.orch_to_sched.or(self.orch_to_sched),
            build_mode: other.build_mode.or(self.build_mode),
            scheduler_timeout_ms: other.scheduler_timeout_ms.or(self.scheduler_timeout_ms),
            runtime: other.runtime.or(self.runtime),
        }
    }

    /// Builds the ring part from upstream's legacy `run_prepared` arguments
    /// (scalars: 0 = unset; arrays: NULL/0 entries = unset).
    pub fn from_legacy_ring_args(scalars: [u64; 3], arrays: [[u64; RING_COUNT]; 3]) -> RuntimeConfig {
        RuntimeConfig {
            ring_task_window: RingValue::from_raw(scalars[0], arrays[0]),
            ring_heap: RingValue::from_raw(scalars[1], arrays[1]),
            ring_dep_pool: RingValue::from_raw(scalars[2], arrays[2]),
            ..RuntimeConfig::default()
        }
    }
}

/// Syntax reminder for parse errors.
pub(crate) fn syntax_hint(spec: &KnobSpec) -> String {
    match spec.shape {
        Shape::PerRing => {
            "one unsigned decimal integer (all rings) or exactly 4 comma-separated ones (ring 0..3)".into()
        }
        Shape::Scalar => "one unsigned decimal integer".into(),
        Shape::Bool => "a boolean".into(),
        Shape::Choice(names) => format!("one of {}", names.join(", ")),
        Shape::Mode(names) => format!("a mode name ({}) or its index", names.join(", ")),
    }
}

/// Smallest valid task window (the `ring_task_window` rule's minimum).
const MIN_WINDOW: u64 = match schema::KNOBS[0] {
    KnobSpec { knob: Knob::RingTaskWindow, rule: schema::Rule::PowerOfTwoIn { min, .. }, .. } => min,
    _ => panic!("KNOBS[0] is ring_task_window, a power-of-two rule"),
};
/// Upper bound of the sum of the four rings' task windows (INT32_MAX):
/// task slots of all rings are numbered in one 32-bit signed space.
pub const MAX_WINDOW_SUM: u64 = i32::MAX as u64;

/// Refuses task windows whose sum exceeds [`MAX_WINDOW_SUM`]; `how` says
/// where the values come from.
pub(crate) fn check_window_sum(windows: &[u64; RING_COUNT], how: &str) -> Result<(), ConfigError> {
    let sum = windows.iter().map(|&w| w as u128).sum::<u128>();
    if sum <= MAX_WINDOW_SUM as u128 {
        return Ok(());
    }
    let spec = schema::spec(Knob::RingTaskWindow);
    Err(ConfigError::InvalidValue {
        knob: spec.name,
        ring: None,
        value: format!("{windows:?} ({how}, sum {sum})"),
        rule: format!("four windows summing to at most {MAX_WINDOW_SUM} (INT32_MAX): lower {}", spec.hint()),
    })
}

fn check(spec: &KnobSpec, ring: Option<usize>, v: u64) -> Result<(), ConfigError> {
    if spec.rule.check(v) {
        Ok(())
    } else {
        Err(ConfigError::InvalidValue { knob: spec.name, ring, value: v.to_string(), rule: spec.rule_text() })
    }
}

/// Builder for [`RuntimeConfig`]; `build()` validates.
#[derive(Debug, Clone)]
pub struct RuntimeConfigBuilder {
    cfg: RuntimeConfig,
}

macro_rules! ring_setters {
    ($($all:ident, $each:ident, $one:ident, $field:ident;)*) => {$(
        /// Sets this knob for all rings.
        pub fn $all(mut self, v: u64) -> Self { self.cfg.$field.all = Some(v); self }
        /// Sets this knob for each ring (ring 0..3).
        pub fn $each(mut self, v: [u64; RING_COUNT]) -> Self { self.cfg.$field.per_ring = v.map(Some); self }
        /// Sets this knob for one ring.
        pub fn $one(mut self, ring: usize, v: u64) -> Self { self.cfg.$field.per_ring[ring.min(RING_COUNT - 1)] = Some(v); self }
    )*};
}

impl RuntimeConfigBuilder {
    ring_setters! {
        ring_task_window, ring_task_windows, ring_task_window_at, ring_task_window;
        ring_heap, ring_heaps, ring_heap_at, ring_heap;
        ring_dep_pool, ring_dep_pools, ring_dep_pool_at, ring_dep_pool;
    }
    /// Sets `ready_queue_shards`.
    pub fn ready_queue_shards(mut self, v: u64) -> Self {
        self.cfg.ready_queue_shards = Some(v);
        self
    }
    /// Sets `orch_to_sched`.
    pub fn orch_to_sched(mut self, v: bool) -> Self {
        self.cfg.orch_to_sched = Some(v);
        self
    }
    /// Sets `build_mode` (aicpu_build_graph).
    pub fn build_mode(mut self, v: BuildMode) -> Self {
        self.cfg.build_mode = Some(v);
        self
    }
    /// Sets `scheduler_timeout_ms`.
    pub fn scheduler_timeout_ms(mut self, v: u64) -> Self {
        self.cfg.scheduler_timeout_ms = Some(v);
        self
    }
    /// Sets the runtime variant.
    pub fn runtime(mut self, v: RuntimeVariant) -> Self {
        self.cfg.runtime = Some(v);
        self
    }
    /// Validates and returns the config.
    pub fn build(self) -> Result<RuntimeConfig, ConfigError> {
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}
