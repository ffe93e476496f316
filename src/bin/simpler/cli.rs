//! The command line, declared once with clap's derive API: `--help` of every
//! subcommand, `--version` and the usage errors all come from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `<cli version> (libsimpler <library version>, C ABI of upstream simpler <commit>)`; the
/// binary links the library it reports, so both come from the same build.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (libsimpler ",
    env!("CARGO_PKG_VERSION"),
    ", C ABI of upstream simpler c68d9bbe6)"
);

/// Command-line front end of libsimpler, a drop-in host runtime for simpler with a
/// simulated device.
#[derive(Debug, Parser)]
#[command(name = "simpler", version = VERSION, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bundled examples on the simulated device and check every result
    Demo(DemoArgs),
    /// Measure task throughput and run latency (use a release build)
    Bench(BenchArgs),
    /// List the configuration knobs or explain their effective values
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Right-size the rings from a run's scope statistics (scope_stats.jsonl)
    Stats(StatsArgs),
    /// Summarize a task trace (trace.json of a run with enable_l2_swimlane) and draw its timeline
    Trace(TraceArgs),
    /// Print a shell completion script, e.g. `simpler completions bash > /etc/bash_completion.d/simpler`
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `simpler man | man -l -`
    Man,
}

/// `--set KNOB=VALUE`, repeatable; the value uses the environment variable's syntax.
#[derive(Debug, Args, Default)]
pub struct SetArgs {
    /// Set a knob for this command, e.g. --set ring_heap=1048576 or --set ring_task_window=64,128,256,512
    /// (repeatable; `simpler config list` shows the knobs)
    #[arg(long = "set", value_name = "KNOB=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, String)>,
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("'{s}' must be KNOB=VALUE (e.g. ring_heap=1048576)")),
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub set: SetArgs,
    /// Keep each example's scope statistics under DIR/<example>/scope_stats/ (vector, nested, fanout)
    /// instead of a temporary directory
    #[arg(long, value_name = "DIR")]
    pub output_prefix: Option<PathBuf>,
    /// Run only this example (repeatable)
    #[arg(long = "example", value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(simpler::demo::EXAMPLE_IDS))]
    pub only: Vec<String>,
    /// Also write each example's task trace to DIR/<example>/trace/trace.json (Chrome Trace Event
    /// Format; open in Perfetto or chrome://tracing, or render with `simpler trace FILE --svg OUT`)
    #[arg(long, requires = "output_prefix")]
    pub trace: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Smaller workloads, 3 repetitions, no soak (a few seconds)
    #[arg(long)]
    pub quick: bool,
    /// aicpu_thread_num: schedulers + 1 orchestrator
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(2..=4))]
    pub threads: i32,
    #[command(flatten)]
    pub set: SetArgs,
    /// Print the figures as one JSON object
    #[arg(long)]
    pub json: bool,
    /// Run only this workload (repeatable): no sweep, runtime comparison or soak; `vector` is the
    /// vector example (size = runs)
    #[arg(long = "workload", value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(["independent", "chain", "fan", "vector"]))]
    pub workloads: Vec<String>,
    /// Size of each selected workload: tasks (independent), hops (chain), rounds of 66 tasks (fan),
    /// runs (vector); 0 is an empty run
    #[arg(long, value_name = "N", requires = "workloads", value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    pub size: Option<u64>,
    /// Timed repetitions per workload, median reported (default 7, --quick 3)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub reps: Option<u64>,
    /// Untimed runs of each selected workload before the timed ones
    #[arg(long, value_name = "N", default_value_t = 0, requires = "workloads", value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub warmup: u64,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the knob table (name, env var, rule, default, tier)
    List {
        /// As the Markdown table the README embeds
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// As a JSON array of knobs
        #[arg(long)]
        json: bool,
    },
    /// Print every knob and ring with its effective value and source (honours the environment)
    Explain {
        #[command(flatten)]
        set: SetArgs,
        /// As a JSON array of {knob, ring, value, source}
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// scope_stats.jsonl, or the run's output_prefix directory (reads <PATH>/scope_stats/scope_stats.jsonl)
    pub path: PathBuf,
    /// Headroom over the observed peak, in percent
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub headroom: u32,
    /// Also write an SVG chart of peak usage against capacity per ring
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print the analysis as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// trace.json, or the run's output_prefix directory (reads <PATH>/trace/trace.json)
    pub path: PathBuf,
    /// Write an SVG timeline: one row per lane (orchestrator, schedulers, cores), one rect per task
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}
