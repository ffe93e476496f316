//! The `simpler` command line, run as a user would: help, version, usage
//! errors, non-UTF-8 input, JSON output, the demo's report and failure
//! path, and the `stats` advisor end to end (its recommendation re-run).

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{run_program, scratch, RunOutput};

const LIMIT: Duration = Duration::from_secs(120);

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_simpler"))
}

fn simpler(args: &[&str], tag: &str) -> RunOutput {
    simpler_env(args, &[], tag)
}

fn simpler_env(args: &[&str], envs: &[(&str, &str)], tag: &str) -> RunOutput {
    let out = run_program(&exe(), args, envs, LIMIT, &format!("cli-{tag}"));
    assert!(!out.timed_out, "simpler {args:?} timed out");
    assert!(!out.stderr.contains("panicked"), "simpler {args:?} panicked:\n{}", out.stderr);
    out
}

fn exit_code(o: &RunOutput) -> String {
    o.status.clone()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn version_names_the_library_and_the_upstream_abi() {
    let o = simpler(&["--version"], "version");
    assert!(o.success, "{}", o.stderr);
    assert_eq!(
        o.stdout.trim(),
        format!(
            "simpler {v} (libsimpler {v}, C ABI of upstream simpler {})",
            simpler::UPSTREAM_ABI_COMMIT,
            v = simpler::VERSION
        )
    );
    let o = simpler(&["config", "--version"], "version-sub");
    assert!(o.success && o.stdout.contains(simpler::VERSION), "{}", o.stderr);
}

#[test]
fn every_subcommand_has_help_that_runs_nothing() {
    for (args, usage) in [
        (&["--help"][..], "Usage: simpler <COMMAND>"),
        (&["help", "bench"], "Usage: simpler bench"),
        (&["demo", "--help"], "Usage: simpler demo"),
        (&["bench", "--help"], "Usage: simpler bench"),
        (&["config", "--help"], "Usage: simpler config"),
        (&["config", "list", "--help"], "Usage: simpler config list"),
        (&["config", "explain", "--help"], "Usage: simpler config explain"),
        (&["stats", "--help"], "Usage: simpler stats"),
    ] {
        let o = simpler(args, "help");
        assert!(o.success, "simpler {args:?}: {} {}", o.status, o.stderr);
        assert!(o.stdout.contains(usage), "simpler {args:?}:\n{}", o.stdout);
        assert!(!o.stdout.contains("ns/task") && !o.stdout.contains("[ok]"), "simpler {args:?} ran something");
    }
    let o = simpler(&["demo", "--help"], "help-demo");
    assert!(o.stdout.contains("--set <KNOB=VALUE>") && o.stdout.contains("--output-prefix"));
    let o = simpler(&["stats", "--help"], "help-stats");
    assert!(o.stdout.contains("--headroom") && o.stdout.contains("--svg") && o.stdout.contains("--json"));
}

#[test]
fn unknown_commands_and_arguments_are_usage_errors() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["demo", "--bogus"],
        &["bench", "--threads", "5"],
        &["bench", "--threads", "x"],
        &["config"],
        &["config", "list", "extra"],
        &["config", "list", "--markdown", "--json"],
        &["config", "explain", "--set"],
        &["config", "explain", "--set", "novalue"],
        &["stats"],
        &["stats", "a", "b"],
        &["stats", "x", "--headroom", "-1"],
        &["demo", "--example", "nope"],
    ] {
        let o = simpler(args, "usage");
        assert!(exit_code(&o).contains("exit status: 2"), "simpler {args:?}: {}\n{}", o.status, o.stderr);
        assert!(!o.stderr.is_empty(), "simpler {args:?}: no message");
    }
    let o = simpler(&["config", "explain", "--set", "ring_heaps=1024"], "bad-knob");
    assert!(exit_code(&o).contains("exit status: 2"), "{}", o.status);
    assert!(o.stderr.contains("ring_heaps"), "{}", o.stderr);
    let o = simpler(&["demo", "--set", "ring_task_window=100"], "bad-value");
    assert!(exit_code(&o).contains("exit status: 2"), "{}", o.status);
    assert!(o.stderr.contains("ring_task_window") && o.stderr.contains("power of two"), "{}", o.stderr);
}

#[test]
fn non_utf8_arguments_never_panic() {
    let bad = OsString::from_vec(vec![b'x', 0xff, 0xfe]);
    let dir = scratch("cli-nonutf8");
    for prefix in
        [&[][..], &["demo"], &["bench"], &["config", "explain", "--set"], &["stats"], &["demo", "--output-prefix"]]
    {
        let mut args: Vec<OsString> = prefix.iter().map(OsString::from).collect();
        args.push(bad.clone());
        let o = run_program(&exe(), &args, &[("TMPDIR", dir.to_str().unwrap())], LIMIT, "cli-nonutf8");
        assert!(!o.timed_out && !o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
        assert!(!o.success, "{args:?} succeeded");
        assert!(o.status.contains("exit status: 1") || o.status.contains("exit status: 2"), "{args:?}: {}", o.status);
    }
}

#[test]
fn config_list_and_explain_as_json() {
    let o = simpler(&["config", "list", "--json"], "list-json");
    assert!(o.success, "{}", o.stderr);
    let names: Vec<String> =
        json(&o.stdout).as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap().to_string()).collect();
    let want: Vec<String> = simpler::config::KNOBS.iter().map(|k| k.name.to_string()).collect();
    assert_eq!(names, want);

    let o = simpler(
        &["config", "explain", "--set", "ring_heap=1048576", "--set=ring_task_window=64,128,256,512", "--json"],
        "explain-json",
    );
    assert!(o.success, "{}", o.stderr);
    let rows = json(&o.stdout);
    let find = |knob: &str, ring: u64| {
        rows.as_array().unwrap().iter().find(|r| r["knob"] == knob && r["ring"] == ring).cloned().unwrap()
    };
    assert_eq!(find("ring_heap", 2)["value"], 1048576);
    assert_eq!(find("ring_heap", 2)["source"], "explicit");
    assert_eq!(find("ring_task_window", 3)["value"], 512);
    assert_eq!(find("ring_task_window", 3)["source"], "explicit_per_ring");
    assert_eq!(find("ring_dep_pool", 0)["source"], "default");
}

fn assert_dir_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind in {}: {left:?}", dir.display());
}

#[test]
fn demo_reports_each_example_with_checked_values_and_ring_table() {
    let tmp = scratch("cli-demo-tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let o = simpler_env(&["demo"], &[("TMPDIR", tmp.to_str().unwrap())], "demo");
    assert!(o.success, "{}\n{}", o.stdout, o.stderr);
    let at = |s: &str| o.stdout.find(s).unwrap_or_else(|| panic!("no '{s}' in:\n{}", o.stdout));
    assert!(at("[ok] vector") < at("[ok] nested scopes") && at("[ok] nested scopes") < at("[ok] fan-out/fan-in"));
    assert!(o.stdout.contains("for all 16384 elements (f[0] == 23.0"), "{}", o.stdout);
    assert!(o.stdout.contains("scopes on rings 0, 1, 2, 3"));
    assert!(o.stdout.contains("tasks peak / window") && o.stdout.contains("dep pool peak / capacity"));
    assert!(!o.stdout.contains("\"version\""), "raw JSON in the human report:\n{}", o.stdout);
    assert!(o.stdout.contains("all 6 examples passed"));
    assert_dir_empty(&tmp);
}

#[test]
fn demo_failure_names_the_example_and_leaves_no_temp_files() {
    let tmp = scratch("cli-demo-fail-tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    // A 4-slot window holds at most 3 tasks per scope: the vector example's scope needs 4.
    let o = simpler_env(&["demo", "--set", "ring_task_window=4"], &[("TMPDIR", tmp.to_str().unwrap())], "demo-fail");
    assert!(exit_code(&o).contains("exit status: 1"), "{}\n{}", o.status, o.stdout);
    assert!(o.stdout.contains("[FAILED] vector: "), "{}", o.stdout);
    assert!(
        o.stderr.contains("example 'vector' failed") && o.stderr.contains("PTO2_ERROR_SCOPE_DEADLOCK"),
        "{}",
        o.stderr
    );
    assert_dir_empty(&tmp);
}

/// Runs one demo example keeping its scope statistics; returns the stats directory.
/// `tag` keeps the directories of tests running in parallel apart.
fn example_stats(id: &str, envs: &[(&str, &str)], tag: &str) -> PathBuf {
    let root = scratch(&format!("cli-stats-{tag}-{id}"));
    let _ = std::fs::remove_dir_all(&root);
    let o = simpler_env(
        &["demo", "--example", id, "--output-prefix", root.to_str().unwrap()],
        envs,
        &format!("{tag}-{id}"),
    );
    assert!(o.success, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("1 example passed"), "{}", o.stdout);
    root.join(id)
}

#[test]
fn stats_recommendation_is_valid_and_runs_the_example_again() {
    for id in ["vector", "nested", "fanout"] {
        let dir = example_stats(id, &[], "rec");
        let o = simpler(&["stats", dir.to_str().unwrap(), "--json", "--headroom", "50"], "stats-json");
        assert!(o.success, "{}", o.stderr);
        let v = json(&o.stdout);
        assert_eq!(v["headroom_percent"], 50);
        assert_eq!(v["fatal"], false);
        let rings = v["rings"].as_array().unwrap();
        assert_eq!(rings.len(), 4);
        for r in rings {
            let w = &r["task_window"];
            assert_eq!(w["capacity"], 16384);
            let (peak, rec) = (w["peak"].as_u64().unwrap(), w["recommended"].as_u64().unwrap());
            assert!(rec.is_power_of_two() && rec >= 4 && rec > peak + peak / 2, "{r}");
            let h = &r["heap"];
            assert!(h["recommended"].as_u64().unwrap() >= h["peak"].as_u64().unwrap() * 3 / 2, "{r}");
        }
        match id {
            "nested" => {
                assert!(rings.iter().all(|r| r["scopes"].as_u64().unwrap() >= 1), "nested uses every ring: {v}")
            }
            "vector" => assert_eq!(rings[1]["task_window"]["peak"], 4, "vector: 4 tasks in its depth-1 scope: {v}"),
            _ => assert!(rings[1]["scopes"].as_u64().unwrap() > 900, "fanout: one ring-1 scope per chunk: {v}"),
        }
        // The env line is valid configuration and the example passes with it.
        let env_line = v["env"].as_str().unwrap();
        let envs: Vec<(&str, &str)> = env_line.split(' ').map(|kv| kv.split_once('=').unwrap()).collect();
        assert_eq!(
            envs.iter().map(|e| e.0).collect::<Vec<_>>(),
            ["PTO2_RING_TASK_WINDOW", "PTO2_RING_HEAP", "PTO2_RING_DEP_POOL"]
        );
        let o = simpler_env(&["config", "explain", "--json"], &envs, "stats-explain");
        let rows = json(&o.stdout);
        assert!(o.stderr.is_empty(), "the recommendation was refused: {}", o.stderr);
        assert!(rows.as_array().unwrap().iter().filter(|r| r["source"] == "env_per_ring").count() == 12, "{rows}");
        example_stats(id, &envs, "rerun");
    }
}

#[test]
fn stats_text_report_and_svg_chart() {
    let dir = example_stats("nested", &[], "svg");
    let svg = scratch("cli-svg").join("stats.svg");
    let o = simpler(
        &["stats", dir.join("scope_stats/scope_stats.jsonl").to_str().unwrap(), "--svg", svg.to_str().unwrap()],
        "stats-text",
    );
    assert!(o.success, "{}", o.stderr);
    for want in [
        "tasks peak / window",
        "PTO2_RING_TASK_WINDOW=4,4,4,4",
        "pto_runtime_config_init(&cfg);",
        "cfg.ring_dep_pools[r]",
        "RuntimeConfig(ring_task_window=[4, 4, 4, 4]",
    ] {
        assert!(o.stdout.contains(want), "no '{want}' in:\n{}", o.stdout);
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && chart.trim_end().ends_with("</svg>"));
    for ring in 0..4 {
        assert!(chart.contains(&format!(">ring {ring} (")), "{chart}");
    }
    assert_eq!(chart.matches("recommended").count(), 12 + 1, "one label per bar plus the subtitle");
}

#[test]
fn stats_refuses_malformed_files_with_a_line_number() {
    let d = scratch("cli-stats-bad");
    let meta = r#"{"version": 6, "fatal": false, "dropped": 0, "total": 1, "task_window_max": [16, 16, 16, 16], "heap_max": [4096, 4096, 4096, 4096], "dep_pool_max": [16, 16, 16, 16], "tensormap_max": 65536}"#;
    for (name, text, want) in [
        ("garbage.jsonl", format!("{meta}\n{{\"site\": \"a\", \"phase\": \"begin\"\n"), "line 2, column"),
        ("version.jsonl", meta.replace("\"version\": 6", "\"version\": 7"), "line 1: format version 7"),
        (
            "phase.jsonl",
            format!(
                "{meta}\n\n{}",
                r#"{"site": "a", "phase": "middle", "depth": 0, "ring": 0, "task_window_start": 0, "task_window_end": 0, "heap_start": 0, "heap_end": 0, "dep_pool_start": 1, "dep_pool_end": 1, "tensormap": 0}"#
            ),
            "line 3, column",
        ),
        ("empty.jsonl", String::new(), "empty file"),
    ] {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        let o = simpler(&["stats", p.to_str().unwrap()], "stats-bad");
        assert!(exit_code(&o).contains("exit status: 1"), "{name}: {}", o.status);
        assert!(o.stderr.contains(want), "{name}: {}", o.stderr);
    }
    let o = simpler(&["stats", d.to_str().unwrap()], "stats-nodir");
    assert!(o.stderr.contains("no scope_stats/scope_stats.jsonl"), "{}", o.stderr);
}

#[test]
fn bench_quick_json_has_every_figure() {
    let o = simpler(&["bench", "--quick", "--threads", "2", "--set", "ring_dep_pool=65536", "--json"], "bench");
    assert!(o.success, "{}", o.stderr);
    let v = json(&o.stdout);
    assert_eq!(v["aicpu_thread_num"], 2);
    let f = &v["figures"];
    for key in ["independent", "chain", "fan", "vector", "resident", "independent_shards3_orch_to_sched_true"] {
        assert!(f[key].is_object(), "no figure {key}: {v}");
    }
    let ns = f["independent"]["ns_per_task"].as_f64().unwrap();
    assert!(ns > 0.0 && ns.is_finite(), "{v}");
    assert!(f.get("soak").is_none(), "--quick runs no soak");
}

#[test]
fn bench_runs_only_the_selected_workloads_at_the_given_size() {
    let o = simpler(
        &[
            "bench",
            "--workload",
            "chain",
            "--workload",
            "fan",
            "--size",
            "20",
            "--reps",
            "1",
            "--warmup",
            "1",
            "--threads",
            "2",
            "--json",
        ],
        "bench-select",
    );
    assert!(o.success, "{}", o.stderr);
    let v = json(&o.stdout);
    let f = v["figures"].as_object().unwrap();
    let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["chain", "fan", "setup"], "{v}");
    assert_eq!(f["chain"]["hops"], 20.0);
    assert_eq!(f["fan"]["tasks"], 20.0 * 66.0);
    assert!(f["fan"]["ns_per_task"].as_f64().unwrap() > 0.0, "{v}");
    // An empty run (the instruction-count baseline) succeeds and reports 0 ns per task.
    let o = simpler(
        &["bench", "--workload", "independent", "--size", "0", "--reps", "1", "--threads", "2", "--json"],
        "bench-empty",
    );
    assert!(o.success, "{}", o.stderr);
    assert_eq!(json(&o.stdout)["figures"]["independent"]["ns_per_task"], 0.0);
    // --size needs a workload.
    let o = simpler(&["bench", "--size", "5"], "bench-size-alone");
    assert!(!o.success && o.stderr.contains("--workload"), "{}", o.stderr);
}

#[test]
fn bench_vector_workload_runs_the_vector_example_size_times() {
    let o = simpler(&["bench", "--workload", "vector", "--size", "3", "--warmup", "1", "--json"], "bench-vector");
    assert!(o.success, "{}", o.stderr);
    let v = json(&o.stdout);
    let f = v["figures"].as_object().unwrap();
    let mut keys: Vec<&str> = f.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["setup", "vector"], "{v}");
    assert_eq!(f["vector"]["runs"], 3.0);
    assert!(f["vector"]["median_us_per_run"].as_f64().unwrap() > 0.0, "{v}");
    // No runs: the instruction-count baseline, 0 us.
    let o = simpler(&["bench", "--workload", "vector", "--size", "0", "--json"], "bench-vector-empty");
    assert!(o.success, "{}", o.stderr);
    assert_eq!(json(&o.stdout)["figures"]["vector"]["median_us_per_run"], 0.0);
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::process::{Command, Stdio};
    for args in [&["config", "list"][..], &["--help"], &["config", "list", "--json"]] {
        let mut child = Command::new(exe())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start simpler");
        drop(child.stdout.take()); // the reader goes away (as `simpler ... | head -1` does)
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "simpler {args:?}: {err}");
    }
}

#[test]
fn completions_and_man_page_come_from_the_same_definition() {
    let o = simpler(&["completions", "bash"], "completions");
    assert!(o.success, "{}", o.stderr);
    assert!(o.stdout.contains("_simpler()") && o.stdout.contains("--headroom"), "{}", o.stdout);
    let o = simpler(&["completions", "tcsh"], "completions-bad");
    assert!(o.status.contains("exit status: 2"), "{}", o.status);
    let o = simpler(&["man"], "man");
    assert!(o.success, "{}", o.stderr);
    assert!(o.stdout.contains(".TH simpler") && o.stdout.contains("stats"), "{}", o.stdout);
}

/// The C snippet of `simpler stats` compiles against simpler.h (-Wall -Wextra -Werror) and the
/// configuration it builds passes `pto_runtime_config_validate` with the recommended values.
#[test]
fn stats_c_snippet_compiles_and_validates() {
    let dir = example_stats("vector", &[], "csnippet");
    let o = simpler(&["stats", dir.to_str().unwrap(), "--json"], "stats-c");
    assert!(o.success, "{}", o.stderr);
    let v = json(&o.stdout);
    let snippet = v["c"].as_str().unwrap();
    let work = scratch("cli-c-snippet");
    let src = work.join("main.c");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n#include \"simpler.h\"\nint main(void) {{\n{snippet}\
             if (pto_runtime_config_validate(&cfg) != PTO_OK) {{ fprintf(stderr, \"%s\\n\", pto_last_error_message()); return 1; }}\n\
             printf(\"%llu %llu\\n\", (unsigned long long)cfg.ring_task_windows[1], (unsigned long long)cfg.ring_heaps[1]);\n\
             return 0;\n}}\n"
        ),
    )
    .unwrap();
    let exe_path = work.join("app");
    let link = common::link_simpler();
    let link: Vec<&str> = link.iter().map(String::as_str).collect();
    common::compile(false, &[src], &exe_path, &link);
    let run = run_program(&exe_path, &[] as &[&str], &[], LIMIT, "cli-c-snippet-run");
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let want = format!("{} {}", v["rings"][1]["task_window"]["recommended"], v["rings"][1]["heap"]["recommended"]);
    assert_eq!(run.stdout.trim(), want);
}

/// The Python snippet of `simpler stats` runs with pysimpler (from the source tree, on this
/// build's libsimpler) and resolves to the recommended values.
#[test]
fn stats_python_snippet_resolves_to_the_recommendation() {
    let dir = example_stats("vector", &[], "pysnippet");
    let o = simpler(&["stats", dir.to_str().unwrap(), "--json"], "stats-py");
    assert!(o.success, "{}", o.stderr);
    let v = json(&o.stdout);
    let script = format!(
        "{}r = cfg.resolve()\nprint(r['ring_task_window'][1].value, r['ring_heap'][1].value, r['ring_dep_pool'][1].value)\n",
        v["python"].as_str().unwrap()
    );
    let py = std::env::var("SIMPLER_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into());
    let lib = common::libsimpler_so();
    let shim = common::repo().join("python_shim");
    let run = run_program(
        Path::new(&py),
        &["-c", &script],
        &[
            ("SIMPLER_LIBRARY", lib.to_str().unwrap()),
            ("PYTHONPATH", shim.to_str().unwrap()),
            ("PYTHONDONTWRITEBYTECODE", "1"),
        ],
        LIMIT,
        "cli-py-snippet",
    );
    assert!(run.success, "{py}: {}\n{}", run.stdout, run.stderr);
    let r1 = &v["rings"][1];
    let want =
        format!("{} {} {}", r1["task_window"]["recommended"], r1["heap"]["recommended"], r1["dep_pool"]["recommended"]);
    assert_eq!(run.stdout.trim(), want);
}

#[test]
fn demo_trace_then_trace_svg_draws_every_task() {
    let root = scratch("cli-trace");
    let _ = std::fs::remove_dir_all(&root);
    let o =
        simpler(&["demo", "--example", "fanout", "--trace", "--output-prefix", root.to_str().unwrap()], "trace-demo");
    assert!(o.success, "{}\n{}", o.stdout, o.stderr);
    let file = root.join("fanout/trace/trace.json");
    let doc = json(&std::fs::read_to_string(&file).expect("demo --trace writes trace.json"));
    let tasks = doc["traceEvents"].as_array().unwrap().iter().filter(|e| e["cat"] == "task").count();
    assert!(tasks > 0);
    let svg = root.join("t.svg");
    let o = simpler(&["trace", root.join("fanout").to_str().unwrap(), "--svg", svg.to_str().unwrap()], "trace-svg");
    assert!(o.success, "{}", o.stderr);
    assert!(o.stdout.contains(&format!("({tasks} task executions")), "{}", o.stdout);
    assert!(o.stdout.contains("orchestrator") && o.stdout.contains("scheduler 0"), "{}", o.stdout);
    let text = std::fs::read_to_string(&svg).unwrap();
    // One rect per task on its core row, one on its scheduler row, the scopes, the background.
    let rects = text.matches("<rect x=").count();
    assert!(rects > 2 * tasks, "{rects} rects for {tasks} tasks");
    assert!(text.contains("time since the first event (us)") && text.contains(">orchestrator<"));
    // --trace needs --output-prefix; a file that is not a trace is an error naming it.
    assert!(exit_code(&simpler(&["demo", "--trace"], "trace-usage")).contains("exit status: 2"));
    std::fs::write(root.join("bad.json"), "{}").unwrap();
    let o = simpler(&["trace", root.join("bad.json").to_str().unwrap()], "trace-bad");
    assert!(!o.success && o.stderr.contains("bad.json") && o.stderr.contains("traceEvents"), "{}", o.stderr);
}
