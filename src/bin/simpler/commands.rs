//! What each subcommand does once the command line is parsed.

use std::io::Write as _;

use clap::CommandFactory;
use serde_json::{json, Value};
use simpler::config::{self, docs, ProcessEnv, RuntimeConfig, KNOBS, RING_COUNT};
use simpler::demo::bench::{run_bench_with, BenchOptions, WorkloadKind};
use simpler::demo::{run_demo_with, DemoEvent, DemoOptions};

use crate::cli::{BenchArgs, Cli, Command, ConfigCommand, DemoArgs, SetArgs, StatsArgs, TraceArgs};
use crate::stats;

/// A failed command: the message for stderr and the exit status.
pub struct CliError {
    pub message: String,
    pub exit: u8,
}

impl CliError {
    /// A usage error (exit 2): a value on the command line is wrong.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError { message: message.into(), exit: 2 }
    }
    /// A failed run or check (exit 1).
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError { message: message.into(), exit: 1 }
    }
}

type CmdResult = Result<(), CliError>;

pub fn run(cli: Cli) -> CmdResult {
    match cli.command {
        Command::Demo(a) => demo(a),
        Command::Bench(a) => bench(a),
        Command::Config(ConfigCommand::List { markdown, json }) => config_list(markdown, json),
        Command::Config(ConfigCommand::Explain { set, json }) => config_explain(&set, json),
        Command::Stats(a) => stats_cmd(a),
        Command::Trace(a) => trace_cmd(a),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "simpler", &mut buf);
            out!("{}", String::from_utf8_lossy(&buf));
            Ok(())
        }
        Command::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut buf)
                .map_err(|e| CliError::failed(format!("cannot render the man page: {e}")))?;
            out!("{}", String::from_utf8_lossy(&buf));
            Ok(())
        }
    }
}

/// The configuration of `--set KNOB=VALUE ...` (a bad knob or value is a usage error).
fn config_of(set: &SetArgs) -> Result<RuntimeConfig, CliError> {
    let mut cfg = RuntimeConfig::new();
    for (k, v) in &set.set {
        cfg.set_str(k, v).map_err(|e| CliError::usage(format!("--set {k}={v}: {e}")))?;
    }
    Ok(cfg)
}

fn print_json(v: &Value) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn config_list(markdown: bool, as_json: bool) -> CmdResult {
    if as_json {
        let knobs: Vec<Value> = KNOBS
            .iter()
            .map(|k| {
                json!({
                    "name": k.name, "env": k.env, "shape": k.shape_text(), "rule": k.rule_text(),
                    "default": k.default_text(), "unit": k.unit, "tier": k.tier_text(), "doc": k.doc,
                })
            })
            .collect();
        print_json(&Value::Array(knobs));
    } else if markdown {
        out!("{}", docs::knob_table_markdown());
    } else {
        out!("{}", docs::knob_table_text());
    }
    Ok(())
}

/// Machine-readable source names (pysimpler's, and `pto_config_source_t`'s order).
fn source_id(s: config::Source) -> &'static str {
    match s {
        config::Source::Default => "default",
        config::Source::Env => "env",
        config::Source::EnvPerRing => "env_per_ring",
        config::Source::Explicit => "explicit",
        config::Source::ExplicitPerRing => "explicit_per_ring",
    }
}

fn config_explain(set: &SetArgs, as_json: bool) -> CmdResult {
    let cfg = config_of(set)?;
    let (resolved, warnings) = config::resolve(&cfg, &ProcessEnv).map_err(|e| CliError::usage(e.to_string()))?;
    warnings.iter().for_each(|w| w.emit());
    if !as_json {
        out!("{}", docs::explain(&resolved));
        return Ok(());
    }
    let mut rows = Vec::new();
    for k in KNOBS {
        let rings = if k.shape == config::Shape::PerRing { RING_COUNT } else { 1 };
        for ring in 0..rings {
            let r = resolved.get(k.knob, ring);
            rows.push(json!({
                "knob": k.name,
                "ring": if rings > 1 { json!(ring) } else { Value::Null },
                "value": r.value,
                "text": config::schema::render_value(k, r.value),
                "source": source_id(r.source),
            }));
        }
    }
    print_json(&Value::Array(rows));
    Ok(())
}

fn demo(a: DemoArgs) -> CmdResult {
    if let Some(p) = &a.output_prefix {
        if p.to_str().is_none() {
            return Err(CliError::usage(format!(
                "--output-prefix {}: must be valid UTF-8 (the runtime takes output_prefix as text)",
                p.display()
            )));
        }
    }
    let opts = DemoOptions { config: config_of(&a.set)?, output_prefix: a.output_prefix, only: a.only, trace: a.trace };
    let mut out = std::io::stdout();
    let result = run_demo_with(&opts, &mut |ev| {
        match ev {
            DemoEvent::Started { runtime, config, note } => {
                let _ = writeln!(out, "simpler demo: runtime {runtime} (pinned) on the simulated device");
                if let Some(note) = note {
                    let _ = writeln!(out, "{note}");
                }
                let _ = writeln!(out);
                let _ = writeln!(out, "effective configuration:\n{config}");
            }
            DemoEvent::Example(r) => {
                let _ = writeln!(out, "[ok] {}: {}", r.name, r.what);
                let _ = writeln!(out, "     checked: {}", r.checked);
                if !r.detail.is_empty() {
                    let _ = writeln!(out, "     {}", r.detail);
                }
                if let Some(text) = &r.scope_stats {
                    match stats::parse(text) {
                        Ok(s) => {
                            let _ = write!(out, "{}", stats::usage_table(&stats::analyse(&s), "     "));
                        }
                        Err(e) => {
                            let _ = writeln!(out, "     (scope statistics unreadable: {e})");
                        }
                    }
                }
                let _ = writeln!(out);
            }
        }
        let _ = out.flush();
    });
    match result {
        Ok(s) => {
            let what = if s.examples == 1 { "1 example".to_string() } else { format!("all {} examples", s.examples) };
            outln!("{what} passed in {:.2} s", s.elapsed.as_secs_f64());
            Ok(())
        }
        Err(f) => {
            outln!("[FAILED] {}: {}", f.example, f.error);
            Err(CliError::failed(f.to_string()))
        }
    }
}

fn bench(a: BenchArgs) -> CmdResult {
    let only =
        a.workloads.iter().filter_map(|name| WorkloadKind::SELECTABLE.into_iter().find(|k| k.name() == name)).collect();
    let opts = BenchOptions {
        quick: a.quick,
        threads: a.threads,
        config: config_of(&a.set)?,
        only,
        size: a.size,
        reps: a.reps.map(|r| r as usize),
        warmup: a.warmup as usize,
    };
    let mut figures = serde_json::Map::new();
    let as_json = a.json;
    run_bench_with(&opts, &mut |f| {
        if as_json {
            let values: serde_json::Map<String, Value> =
                f.values.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            figures.insert(f.key.clone(), Value::Object(values));
        } else {
            outln!("{}", f.text);
        }
    })
    .map_err(|e| CliError::failed(format!("bench failed: {e}")))?;
    if as_json {
        print_json(&json!({ "quick": a.quick, "aicpu_thread_num": a.threads, "figures": figures }));
    }
    Ok(())
}

fn stats_cmd(a: StatsArgs) -> CmdResult {
    let file = stats::locate(&a.path).map_err(CliError::failed)?;
    let text = std::fs::read(&file).map_err(|e| CliError::failed(format!("cannot read {}: {e}", file.display())))?;
    let text =
        String::from_utf8(text).map_err(|e| CliError::failed(format!("{}: not UTF-8 text ({e})", file.display())))?;
    let parsed = stats::parse(&text).map_err(|e| CliError::failed(format!("{}: {e}", file.display())))?;
    let analysis = stats::analyse(&parsed);
    let rec = stats::recommend(&analysis, a.headroom);
    if let Some(svg_path) = &a.svg {
        let title = format!("scope statistics: {}", a.path.display());
        std::fs::write(svg_path, crate::svg::chart(&analysis, &rec, &title))
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", svg_path.display())))?;
    }
    if a.json {
        print_json(&stats::to_json(&file, &analysis, &rec));
    } else {
        out!("{}", stats::report(&file, &analysis, &rec));
        if let Some(svg_path) = &a.svg {
            outln!("chart written to {}", svg_path.display());
        }
    }
    Ok(())
}

fn trace_cmd(a: TraceArgs) -> CmdResult {
    let file = crate::trace::locate(&a.path);
    let text =
        std::fs::read_to_string(&file).map_err(|e| CliError::failed(format!("cannot read {}: {e}", file.display())))?;
    let t = crate::trace::parse(&text).map_err(|e| CliError::failed(format!("{}: {e}", file.display())))?;
    out!("{}", t.report(&file));
    if let Some(svg_path) = &a.svg {
        let title = format!("task trace: {}", if t.process.is_empty() { "run" } else { &t.process });
        std::fs::write(svg_path, crate::trace::svg(&t, &title))
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", svg_path.display())))?;
        outln!("timeline written to {}", svg_path.display());
    }
    Ok(())
}
