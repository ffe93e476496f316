//! `simpler`: command-line front end of libsimpler.
//!
//! - `simpler demo`: runs the bundled examples on the simulated device (the main job).
//! - `simpler bench [--quick]`: throughput and latency figures.
//! - `simpler config list [--markdown]`: the knob table.
//! - `simpler config explain [--set KNOB=VALUE ...]`: every knob and ring with
//!   its effective value and source, honouring the current environment.

use std::process::ExitCode;

use simpler::config::{self, docs, ProcessEnv, RuntimeConfig};

const USAGE: &str = "usage:
  simpler demo                                 run the bundled examples on the simulated device
  simpler bench [--quick] [--threads N]        benchmark figures (release build; N = aicpu_thread_num, default 3)
  simpler config list [--markdown]             print the knob table
  simpler config explain [--set KNOB=VALUE]... print effective values and their sources";

fn config_cmd(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("list") => {
            match args.get(1).map(String::as_str) {
                None => print!("{}", docs::knob_table_text()),
                Some("--markdown") => print!("{}", docs::knob_table_markdown()),
                Some(other) => return Err(format!("unknown option '{other}' for 'config list'\n{USAGE}")),
            }
            Ok(())
        }
        Some("explain") => {
            let mut cfg = RuntimeConfig::new();
            let mut it = args[1..].iter();
            while let Some(a) = it.next() {
                let kv = match a.as_str() {
                    "--set" => it.next().ok_or_else(|| format!("--set needs KNOB=VALUE\n{USAGE}"))?.clone(),
                    s if s.starts_with("--set=") => s["--set=".len()..].to_string(),
                    other => return Err(format!("unknown option '{other}' for 'config explain'\n{USAGE}")),
                };
                let (k, v) = kv.split_once('=').ok_or_else(|| format!("--set '{kv}' must be KNOB=VALUE"))?;
                cfg.set_str(k.trim(), v).map_err(|e| e.to_string())?;
            }
            let (resolved, warnings) = config::resolve(&cfg, &ProcessEnv).map_err(|e| e.to_string())?;
            warnings.iter().for_each(|w| w.emit());
            print!("{}", docs::explain(&resolved));
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("config") => config_cmd(&args[1..]),
        Some("demo") => simpler::demo::run_demo().map(|r| print!("{r}")).map_err(|e| e.to_string()),
        Some("bench") => {
            let quick = args.iter().any(|a| a == "--quick");
            let threads = match args.iter().position(|a| a == "--threads") {
                Some(i) => args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(0),
                None => 3,
            };
            if !(2..=4).contains(&threads) {
                Err(format!("--threads takes an aicpu_thread_num in [2, 4]\n{USAGE}"))
            } else {
                simpler::demo::bench::run_bench(quick, threads).map(|r| print!("{r}")).map_err(|e| e.to_string())
            }
        }
        Some("-h") | Some("--help") | Some("help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simpler: {e}");
            ExitCode::from(2)
        }
    }
}
