//! The one declared schema of every tuning knob. Validation, the C header's
//! documentation, the CLI listing and the README table all derive from
//! [`KNOBS`] (tests prove the header and README agree with it).

use std::fmt;

/// Number of scope-depth rings. Ring `r` serves scope depth `r`; depth ≥ 3 uses ring 3.
pub const RING_COUNT: usize = 4;

/// Identity of a knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Knob {
    /// Per-ring task window (slots).
    RingTaskWindow,
    /// Per-ring heap bytes.
    RingHeap,
    /// Per-ring dependency pool entries.
    RingDepPool,
    /// Ready-queue shards the schedulers pop from.
    ReadyQueueShards,
    /// Orchestrator thread joins scheduling after orchestration.
    OrchToSched,
    /// aicpu_build_graph: sequential or concurrent build and schedule.
    BuildMode,
    /// Scheduler no-progress watchdog.
    SchedulerTimeoutMs,
    /// Runtime variant override of a device context (unset: inferred per callable).
    Runtime,
}

/// The value shape of a knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One unsigned value per ring (a scalar broadcasts to all 4 rings).
    PerRing,
    /// One unsigned integer.
    Scalar,
    /// A boolean.
    Bool,
    /// One of a fixed set of names.
    Choice(&'static [&'static str]),
    /// A named mode, encoded as its index: explicit values are a name or
    /// its index; the environment also takes any integer (non-zero: 1).
    Mode(&'static [&'static str]),
}

/// When a knob is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Resolved at every run (explicit run config, then the environment at that moment).
    PerRun,
    /// Resolved once when the device context is initialised and latched for its life.
    PerDevice,
    /// Like `PerDevice`, but optional: unset, the value is inferred (the
    /// runtime variant, from each callable's orchestration binary); set, it
    /// is an override that must agree with what is inferred.
    Override,
}

impl Tier {
    /// Whether the knob is latched at device init (`PerDevice` or `Override`).
    pub fn per_device(self) -> bool {
        matches!(self, Tier::PerDevice | Tier::Override)
    }
}

/// The validity rule of a knob's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A power of two in `[min, max]`.
    PowerOfTwoIn {
        /// Inclusive lower bound.
        min: u64,
        /// Inclusive upper bound.
        max: u64,
    },
    /// An integer in `[min, max]`.
    Range {
        /// Inclusive lower bound.
        min: u64,
        /// Inclusive upper bound.
        max: u64,
    },
    /// `true` or `false`.
    Bool,
    /// One of the names of the shape.
    Choice,
}

impl Rule {
    /// Whether `v` satisfies the rule (numeric rules only; `Bool`/`Choice` accept any encoded value).
    pub fn check(self, v: u64) -> bool {
        match self {
            Rule::PowerOfTwoIn { min, max } => v.is_power_of_two() && v >= min && v <= max,
            Rule::Range { min, max } => v >= min && v <= max,
            Rule::Bool | Rule::Choice => true,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rule::PowerOfTwoIn { min, max } => write!(f, "a power of two in [{min}, {max}]"),
            Rule::Range { min, max: u64::MAX } => write!(f, "an integer >= {min}"),
            Rule::Range { min, max } => write!(f, "an integer in [{min}, {max}]"),
            Rule::Bool => write!(
                f,
                "a boolean: {}; in the environment {}",
                super::parse::strict_bool_text(),
                super::parse::LEGACY_BOOL_TEXT
            ),
            Rule::Choice => write!(f, "one of the listed names"),
        }
    }
}

/// Runtime variants one `libsimpler.so` can execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeVariant {
    /// tensormap_and_ringbuffer: automatic dependencies, four scope rings (default).
    TensormapAndRingbuffer = 1,
    /// host_build_graph: the graph is built on the host with explicit edges.
    HostBuildGraph = 2,
    /// aicpu_build_graph: the graph is built on the device with explicit edges.
    AicpuBuildGraph = 3,
}

/// Encoded default of the `runtime` knob: unset, the variant is inferred per callable.
pub const RUNTIME_INFERRED: u64 = 0;

/// How the unset `runtime` knob renders.
pub const RUNTIME_INFERRED_TEXT: &str = "inferred per callable";

/// Names of the runtime variants, in their numeric order (1, 2, 3).
pub const RUNTIME_NAMES: &[&str] = &["tensormap_and_ringbuffer", "host_build_graph", "aicpu_build_graph"];

impl RuntimeVariant {
    /// The upstream directory name of the variant.
    pub fn name(self) -> &'static str {
        RUNTIME_NAMES[self as usize - 1]
    }
    /// Parses a variant name (exact, case-sensitive; `trb`/`hbg`/`abg` abbreviations accepted).
    pub fn from_name(s: &str) -> Option<RuntimeVariant> {
        match s {
            "tensormap_and_ringbuffer" | "trb" => Some(RuntimeVariant::TensormapAndRingbuffer),
            "host_build_graph" | "hbg" => Some(RuntimeVariant::HostBuildGraph),
            "aicpu_build_graph" | "abg" => Some(RuntimeVariant::AicpuBuildGraph),
            _ => None,
        }
    }
    /// Decodes the C encoding (1..=3).
    pub fn from_code(v: u64) -> Option<RuntimeVariant> {
        match v {
            1 => Some(RuntimeVariant::TensormapAndRingbuffer),
            2 => Some(RuntimeVariant::HostBuildGraph),
            3 => Some(RuntimeVariant::AicpuBuildGraph),
            _ => None,
        }
    }
}

/// aicpu_build_graph's build mode (knob `build_mode`, encoded 0 / 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildMode {
    /// The schedulers wait until the builder is done (build, then schedule).
    Sequential = 0,
    /// The schedulers run while the builder builds, seeing published tasks only.
    Concurrent = 1,
}

/// Names of the build modes, in their numeric order (0, 1).
pub const BUILD_MODE_NAMES: &[&str] = &["sequential", "concurrent"];

impl BuildMode {
    /// The mode's name (`sequential`, `concurrent`).
    pub fn name(self) -> &'static str {
        BUILD_MODE_NAMES[self as usize]
    }
    /// Decodes the encoding (0, 1).
    pub fn from_code(v: u64) -> Option<BuildMode> {
        match v {
            0 => Some(BuildMode::Sequential),
            1 => Some(BuildMode::Concurrent),
            _ => None,
        }
    }
}

/// The declaration of one knob.
#[derive(Debug, Clone, Copy)]
pub struct KnobSpec {
    /// Identity.
    pub knob: Knob,
    /// Name used by the C setter, the CLI, Python and the docs.
    pub name: &'static str,
    /// Legacy (or new) environment variable.
    pub env: &'static str,
    /// Value shape.
    pub shape: Shape,
    /// Validity rule.
    pub rule: Rule,
    /// Compiled default (encoded: bools 0/1, runtime as its code).
    pub default: u64,
    /// When it is read.
    pub tier: Tier,
    /// Unit shown in docs ("" if none).
    pub unit: &'static str,
    /// One-line documentation.
    pub doc: &'static str,
}

const I32_MAX: u64 = i32::MAX as u64;

/// Every knob, in display order.
pub const KNOBS: &[KnobSpec] = &[
    KnobSpec {
        knob: Knob::RingTaskWindow,
        name: "ring_task_window",
        env: "PTO2_RING_TASK_WINDOW",
        shape: Shape::PerRing,
        rule: Rule::PowerOfTwoIn { min: 4, max: I32_MAX },
        default: 16384,
        tier: Tier::PerRun,
        unit: "tasks",
        doc: "Task slots of each scope-depth ring; at most window-1 tasks of a ring are alive at once. The four windows must sum to at most 2147483647.",
    },
    KnobSpec {
        knob: Knob::RingHeap,
        name: "ring_heap",
        env: "PTO2_RING_HEAP",
        shape: Shape::PerRing,
        rule: Rule::Range { min: 1024, max: u64::MAX },
        default: 268_435_456,
        tier: Tier::PerRun,
        unit: "bytes",
        doc: "Heap bytes of each ring for runtime-allocated task outputs (any size, no power of two needed).",
    },
    KnobSpec {
        knob: Knob::RingDepPool,
        name: "ring_dep_pool",
        env: "PTO2_RING_DEP_POOL",
        shape: Shape::PerRing,
        rule: Rule::Range { min: 4, max: I32_MAX },
        default: 16384,
        tier: Tier::PerRun,
        unit: "entries",
        doc: "Dependency-list and fanin-spill entries of each ring.",
    },
    KnobSpec {
        knob: Knob::ReadyQueueShards,
        name: "ready_queue_shards",
        env: "PTO2_READY_QUEUE_SHARDS",
        shape: Shape::Scalar,
        rule: Rule::Range { min: 1, max: 4 },
        default: 3,
        tier: Tier::PerRun,
        unit: "shards",
        doc: "Ready-queue shards per task shape; schedulers pop their home shard first and steal from the others.",
    },
    KnobSpec {
        knob: Knob::OrchToSched,
        name: "orch_to_sched",
        env: "PTO2_ORCH_TO_SCHED",
        shape: Shape::Bool,
        rule: Rule::Bool,
        default: 0,
        tier: Tier::PerRun,
        unit: "",
        doc: "When true, the orchestrator thread becomes a scheduler once orchestration is done.",
    },
    KnobSpec {
        knob: Knob::BuildMode,
        name: "build_mode",
        env: "PTO_AICPU_BUILD_GRAPH_BUILD_MODE",
        shape: Shape::Mode(BUILD_MODE_NAMES),
        rule: Rule::Choice,
        default: BuildMode::Concurrent as u64,
        tier: Tier::PerRun,
        unit: "",
        doc: "aicpu_build_graph: sequential (0) = the schedulers wait until the builder is done; concurrent (1) = they run while it builds, seeing published tasks only.",
    },
    KnobSpec {
        knob: Knob::SchedulerTimeoutMs,
        name: "scheduler_timeout_ms",
        env: "PTO2_SCHEDULER_TIMEOUT_MS",
        shape: Shape::Scalar,
        rule: Rule::Range { min: 1, max: I32_MAX },
        default: 10000,
        tier: Tier::PerDevice,
        unit: "ms",
        doc: "Scheduler watchdog: a run with no progress for this long fails with status -100.",
    },
    KnobSpec {
        knob: Knob::Runtime,
        name: "runtime",
        env: "SIMPLER_RUNTIME",
        shape: Shape::Choice(RUNTIME_NAMES),
        rule: Rule::Choice,
        default: RUNTIME_INFERRED,
        tier: Tier::Override,
        unit: "",
        doc: "Optional override, latched at init. Unset: each callable runs on the variant its orchestration binary implements (exports framework_bind_runtime: tensormap_and_ringbuffer; exports aicpu_orchestration_entry without framework_bind_runtime: aicpu_build_graph, ring form; exports simpler_aicpu_build_graph_abi and its func_name entry: aicpu_build_graph; exports its func_name entry only: host_build_graph). Set: a callable of another variant fails at prepare, except that aicpu_build_graph also takes a binary exporting only its func_name entry.",
    },
];

/// The spec of `knob`.
pub fn spec(knob: Knob) -> &'static KnobSpec {
    KNOBS.iter().find(|s| s.knob == knob).expect("every Knob is declared in KNOBS")
}

/// [`KnobSpec::hint`] of `knob`, for failure messages (cold: kept out of the
/// hot paths that report them).
#[cold]
#[inline(never)]
pub fn hint(knob: Knob) -> String {
    spec(knob).hint()
}

/// [`KnobSpec::hint_value`] of `knob` (cold, as [`hint`]).
#[cold]
#[inline(never)]
pub fn hint_value(knob: Knob, v: u64) -> String {
    spec(knob).hint_value(v)
}

/// Looks a knob up by its name or its environment variable.
pub fn find(name: &str) -> Option<&'static KnobSpec> {
    KNOBS.iter().find(|s| s.name == name || s.env == name)
}

/// Comma-separated list of knob names (for error messages).
pub fn known_names() -> String {
    KNOBS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

impl KnobSpec {
    /// The default rendered for people (`true`, `tensormap_and_ringbuffer`, `16384`).
    pub fn default_text(&self) -> String {
        render_value(self, self.default)
    }

    /// Shape in words.
    pub fn shape_text(&self) -> String {
        match self.shape {
            Shape::PerRing => "4 rings (one value broadcasts)".to_string(),
            Shape::Scalar => "scalar".to_string(),
            Shape::Bool => "bool".to_string(),
            Shape::Choice(names) => format!("one of {}", names.join(" | ")),
            Shape::Mode(names) => {
                format!(
                    "mode: {}",
                    names.iter().enumerate().map(|(i, n)| format!("{i}/{n}")).collect::<Vec<_>>().join(" | ")
                )
            }
        }
    }

    /// Rule in words, for messages and docs.
    pub fn rule_text(&self) -> String {
        match self.shape {
            Shape::Choice(names) => format!("one of {}", names.join(", ")),
            Shape::Mode(names) => format!(
                "{}; in the environment also any other integer (non-zero: {})",
                names.iter().enumerate().map(|(i, n)| format!("{i} or {n}")).collect::<Vec<_>>().join(", "),
                names.last().copied().unwrap_or_default()
            ),
            _ => self.rule.to_string(),
        }
    }

    /// How a message names the knob to change: `ring_task_window / PTO2_RING_TASK_WINDOW`
    /// (the knob, then its environment variable).
    pub fn hint(&self) -> String {
        format!("{} / {}", self.name, self.env)
    }

    /// [`KnobSpec::hint`] with the value in effect: `scheduler_timeout_ms=100 / PTO2_SCHEDULER_TIMEOUT_MS`.
    pub fn hint_value(&self, v: u64) -> String {
        format!("{}={} / {}", self.name, render_value(self, v), self.env)
    }

    /// Tier in words.
    pub fn tier_text(&self) -> &'static str {
        match self.tier {
            Tier::PerRun => "per run",
            Tier::PerDevice => "per device",
            Tier::Override => "per device, override",
        }
    }
}

/// Renders an encoded value of `spec` for people.
pub fn render_value(spec: &KnobSpec, v: u64) -> String {
    match spec.shape {
        Shape::Bool => (v != 0).to_string(),
        Shape::Mode(names) => names.get(v as usize).map_or_else(|| format!("<invalid {v}>"), |n| n.to_string()),
        Shape::Choice(_) if v == RUNTIME_INFERRED => RUNTIME_INFERRED_TEXT.to_string(),
        Shape::Choice(_) => {
            RuntimeVariant::from_code(v).map_or_else(|| format!("<invalid {v}>"), |r| r.name().to_string())
        }
        _ => v.to_string(),
    }
}
