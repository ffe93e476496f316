//! The task trace (`enable_l2_swimlane`): the vector example's
//! `<output_prefix>/trace/trace.json` parsed as Chrome Trace Event Format and
//! checked against the example's known graph, on tensormap_and_ringbuffer
//! and on host_build_graph (upstream's HBG vector example, built from
//! `c_tests/fixtures/hbg_vector`), and rendered by `simpler trace`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use simpler::abi::ArgDirection::{In, Out};
use simpler::config::{MapEnv, RuntimeConfig};
use simpler::context::DeviceContext;
use simpler::demo::{assets, exec, register, run_vector, vector_style_callable};

/// Raw task ids: `(ring << 32) | local`.
const fn tid(ring: u64, local: u64) -> u64 {
    (ring << 32) | local
}

/// The vector example: c = a+b (f0, scope depth 0); inside a nested scope
/// d = c+1 (f1), e = c+2 (f1), g = d*e (f2), f = g+c (f0).
const TASKS: [(u64, i64, i64); 5] =
    [(tid(0, 0), 0, 0), (tid(1, 0), 1, 1), (tid(1, 1), 1, 1), (tid(1, 2), 2, 1), (tid(1, 3), 0, 1)];
const EDGES: [(u64, u64); 6] = [
    (tid(0, 0), tid(1, 0)),
    (tid(0, 0), tid(1, 1)),
    (tid(1, 0), tid(1, 2)),
    (tid(1, 1), tid(1, 2)),
    (tid(1, 2), tid(1, 3)),
    (tid(0, 0), tid(1, 3)),
];

fn run_traced(dir: &std::path::Path, swimlane: i32) {
    let _ = std::fs::remove_dir_all(dir);
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, &RuntimeConfig::default(), &[], &[], &MapEnv::default()).expect("init");
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    let mut ex = exec(None);
    ex.enable_l2_swimlane = swimlane;
    ex.output_prefix = dir.to_string_lossy().into_owned();
    run_vector(&ctx, 0, &ex, &RuntimeConfig::default()).expect("vector example runs and checks");
    ctx.finalize();
}

fn u(v: &Value, k: &str) -> u64 {
    v["args"][k].as_u64().unwrap_or_else(|| panic!("args.{k} in {v}"))
}

#[test]
fn vector_trace_has_lanes_tasks_scopes_and_dependency_order() {
    let dir = common::scratch("trace_vector");
    run_traced(&dir, 1);
    let text = std::fs::read_to_string(dir.join("trace/trace.json")).expect("trace.json written");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents array");

    // Lanes: the orchestrator, 3 schedulers (aicpu_thread_num 4), and every core a task ran on.
    let lanes: BTreeMap<i64, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| (e["tid"].as_i64().unwrap(), e["args"]["name"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(lanes.get(&0).map(String::as_str), Some("orchestrator"), "{lanes:?}");
    for k in 0..3 {
        assert_eq!(lanes.get(&(1 + k)), Some(&format!("scheduler {k}")), "{lanes:?}");
    }
    assert!(events.iter().any(|e| e["ph"] == "M" && e["name"] == "process_name"));

    // One "X" task event per task (each is single-block AIV), on an AIV core lane.
    let tasks: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X" && e["cat"] == "task").collect();
    assert_eq!(tasks.len(), 5, "{text}");
    let mut span: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for t in &tasks {
        let id = u(t, "task");
        let &(_, func, depth) = TASKS.iter().find(|x| x.0 == id).unwrap_or_else(|| panic!("unknown task {id}"));
        assert_eq!(t["args"]["func"].as_i64(), Some(func), "{t}");
        assert_eq!(t["args"]["scope_depth"].as_i64(), Some(depth), "{t}");
        assert_eq!(u(t, "ring"), id >> 32, "{t}");
        let lane = &lanes[&t["tid"].as_i64().unwrap()];
        assert!(lane.starts_with("AIV "), "task on lane {lane}");
        let (ts, dur) = (t["ts"].as_f64().unwrap(), t["dur"].as_f64().unwrap());
        assert!(dur > 0.0 && ts >= 0.0, "{t}");
        // The same execution is shown on its scheduler's lane.
        let sched = u(t, "scheduler") as i64;
        assert!(
            events.iter().any(|e| e["cat"] == "dispatch"
                && e["tid"].as_i64() == Some(1 + sched)
                && e["args"]["task"] == t["args"]["task"]),
            "dispatch of {id} on scheduler {sched}"
        );
        span.insert(id, (ts, ts + dur));
    }
    // Dependency order: a consumer starts after its producer ends (µs with ns digits).
    for (p, c) in EDGES {
        assert!(
            span[&c].0 >= span[&p].1 - 0.0005,
            "task {c} started at {} before its producer {p} ended at {}",
            span[&c].0,
            span[&p].1
        );
    }
    // Flow arrows are exactly the graph's edges.
    let flows: BTreeSet<(u64, u64)> =
        events.iter().filter(|e| e["ph"] == "s").map(|e| (u(e, "producer"), u(e, "consumer"))).collect();
    assert_eq!(flows, EDGES.into_iter().collect::<BTreeSet<_>>());
    assert_eq!(events.iter().filter(|e| e["ph"] == "f").count(), 6);

    // Scopes on the orchestrator lane: the run's outer scope and the example's nested one, balanced.
    let orch = |ph: &str| events.iter().filter(|e| e["ph"] == ph && e["tid"] == 0).count();
    assert_eq!((orch("B"), orch("E")), (2, 2), "{text}");
    let submits = events.iter().filter(|e| e["ph"] == "i" && e["cat"] == "submit").count();
    assert_eq!(submits, 5);
}

#[test]
fn no_trace_without_the_flag() {
    let dir = common::scratch("trace_off");
    run_traced(&dir, 0);
    assert!(!dir.join("trace").exists(), "trace written although enable_l2_swimlane = 0");
}

/// Upstream's host_build_graph vector example: c = a+b (t0, f0); d = c+1
/// (t1, f1); e = c+2 (t2, f1); f = d*e (t3, f2); all AIV.
const HBG_FUNCS: [i64; 4] = [0, 1, 1, 2];
const HBG_EDGES: [(u64, u64); 4] = [(0, 1), (0, 2), (1, 3), (2, 3)];

/// The HBG vector callable built from the C fixtures.
fn hbg_image() -> Vec<u8> {
    use simpler::abi::callable::ChipCallableBuilder;
    let repo = common::repo();
    let out = common::scratch("trace_hbg_build");
    let include = format!("-I{}", repo.join("c_tests/include").display());
    let [orch, add, add_scalar, mul] = ["orchestration", "kernel_add", "kernel_add_scalar", "kernel_mul"].map(|name| {
        let dst = out.join(format!("lib{name}.so"));
        let src = repo.join(format!("c_tests/fixtures/hbg_vector/{name}.c"));
        common::compile(false, &[src], &dst, &["-shared", "-fPIC", "-Wl,--build-id=sha1", &include]);
        std::fs::read(&dst).expect("fixture")
    });
    ChipCallableBuilder::new(&[In, In, Out], "build_example_graph", &orch)
        .child(0, &[In, In, Out], &add)
        .child(1, &[In, Out], &add_scalar)
        .child(2, &[In, In, Out], &mul)
        .build()
        .expect("hbg image")
}

/// One HBG vector run (4096 elements, 4 executor threads) with `swimlane`, results checked.
fn run_hbg(ctx: &DeviceContext, dir: &std::path::Path, swimlane: i32) {
    let (mut a, mut b) = simpler::demo::vector_inputs(4096);
    let mut f = vec![f32::NAN; 4096];
    let args = simpler::demo::args_of(&mut [&mut a, &mut b, &mut f], &[]).unwrap();
    let mut ex = exec(None);
    ex.enable_l2_swimlane = swimlane;
    ex.output_prefix = dir.to_string_lossy().into_owned();
    ctx.run(0, &args, &ex, &RuntimeConfig::default()).expect("hbg vector run");
    for i in 0..f.len() {
        let s = a[i] + b[i];
        assert_eq!(f[i], (s + 1.0) * (s + 2.0), "element {i}");
    }
}

#[test]
fn hbg_trace_has_lanes_tasks_build_and_dependency_order() {
    let warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let w = warnings.clone();
    simpler::diagnostics::log::set_callback(Some(std::sync::Arc::new(move |_, _: &str, msg: &str| {
        w.lock().unwrap().push(msg.to_string())
    })));
    let dir = common::scratch("trace_hbg");
    let off = common::scratch("trace_hbg_off");
    for d in [&dir, &off] {
        let _ = std::fs::remove_dir_all(d.join("trace"));
    }
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, &RuntimeConfig::default(), &[], &[], &MapEnv::default()).expect("init");
    register(&ctx, 0, &hbg_image()).unwrap();
    run_hbg(&ctx, &off, 0);
    // An unwritable trace fails the run before any copy-back; the context stays usable.
    let blocker = off.join("not_a_dir");
    std::fs::write(&blocker, b"file").unwrap();
    let (mut a, mut b) = simpler::demo::vector_inputs(4096);
    let mut f = vec![f32::NAN; 4096];
    let args = simpler::demo::args_of(&mut [&mut a, &mut b, &mut f], &[]).unwrap();
    let mut ex = exec(None);
    ex.enable_l2_swimlane = 1;
    ex.output_prefix = blocker.to_string_lossy().into_owned();
    let e = ctx.run(0, &args, &ex, &RuntimeConfig::default()).expect_err("trace cannot be written");
    assert!(e.to_string().contains("cannot write task trace"), "{e}");
    assert!(f.iter().all(|v| v.is_nan()), "host buffer written by a failed run");
    run_hbg(&ctx, &dir, 1);
    ctx.finalize();
    simpler::diagnostics::log::set_callback(None);
    assert!(!off.join("trace").exists(), "trace written although enable_l2_swimlane = 0");
    let swimlane_warnings: Vec<String> =
        warnings.lock().unwrap().iter().filter(|m| m.contains("enable_l2_swimlane")).cloned().collect();
    assert!(swimlane_warnings.is_empty(), "{swimlane_warnings:?}");

    let text = std::fs::read_to_string(dir.join("trace/trace.json")).expect("trace.json written");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents array");
    let process = events.iter().find(|e| e["ph"] == "M" && e["name"] == "process_name").expect("process name");
    assert_eq!(process["args"]["name"], "simpler device 0 (host_build_graph)");

    // Lanes: the orchestrator, one scheduler per executor thread (4 threads, 4 tasks), the cores used.
    let lanes: BTreeMap<i64, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| (e["tid"].as_i64().unwrap(), e["args"]["name"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(lanes.get(&0).map(String::as_str), Some("orchestrator"), "{lanes:?}");
    for k in 0..4 {
        assert_eq!(lanes.get(&(1 + k)), Some(&format!("scheduler {k}")), "{lanes:?}");
    }
    assert!(!lanes.contains_key(&5), "only 4 executor threads: {lanes:?}");

    // One task event per task, on the AIV core its executor thread acts as
    // (block_dim 3: thread k runs AIV tasks on core 3 + k, lane "AIV k/2.k%2").
    let tasks: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X" && e["cat"] == "task").collect();
    assert_eq!(tasks.len(), 4, "{text}");
    let mut span: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for t in &tasks {
        let id = u(t, "task");
        assert_eq!(t["args"]["func"].as_i64(), Some(HBG_FUNCS[id as usize]), "{t}");
        assert!(t["args"].get("ring").is_none() && t["args"].get("scope_depth").is_none(), "{t}");
        assert_eq!(t["name"], format!("task {id} f{}", HBG_FUNCS[id as usize]));
        let sched = u(t, "scheduler");
        assert!(sched < 4, "{t}");
        assert_eq!(u(t, "core"), 3 + sched, "{t}");
        assert_eq!(t["tid"].as_u64(), Some(103 + sched), "{t}");
        assert_eq!(lanes[&(103 + sched as i64)], format!("AIV {}.{}", sched / 2, sched % 2));
        let (ts, dur) = (t["ts"].as_f64().unwrap(), t["dur"].as_f64().unwrap());
        assert!(dur >= 0.0 && ts >= 0.0, "{t}");
        assert!(
            events.iter().any(|e| e["cat"] == "dispatch"
                && e["tid"].as_u64() == Some(1 + sched)
                && e["args"]["task"] == t["args"]["task"]),
            "dispatch of {id} on scheduler {sched}"
        );
        assert!(span.insert(id, (ts, ts + dur)).is_none(), "task {id} twice");
    }
    assert_eq!(span.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    for (p, c) in HBG_EDGES {
        assert!(
            span[&c].0 >= span[&p].1 - 0.0005,
            "task {c} started at {} before its producer {p} ended at {}",
            span[&c].0,
            span[&p].1
        );
    }
    // The graph build on the orchestrator lane, before any task.
    let builds: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X" && e["tid"] == 0).collect();
    assert_eq!(builds.len(), 1, "{text}");
    let b = builds[0];
    assert_eq!((b["name"].as_str(), u(b, "tasks"), u(b, "edges")), (Some("build graph"), 4, 4), "{b}");
    let build_end = b["ts"].as_f64().unwrap() + b["dur"].as_f64().unwrap();
    assert!(span.values().all(|&(start, _)| start >= build_end - 0.0005), "a task started before the build ended");
    // Flow arrows are exactly the graph's edges; no scopes.
    let flows: BTreeSet<(u64, u64)> =
        events.iter().filter(|e| e["ph"] == "s").map(|e| (u(e, "producer"), u(e, "consumer"))).collect();
    assert_eq!(flows, HBG_EDGES.into_iter().collect::<BTreeSet<_>>());
    assert_eq!(events.iter().filter(|e| e["ph"] == "f").count(), 4);
    assert!(!events.iter().any(|e| e["ph"] == "B" || e["ph"] == "E"), "{text}");

    #[cfg(feature = "cli")]
    {
        // `simpler trace` reads the HBG trace and draws every task.
        let svg = dir.join("hbg.svg");
        let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_simpler"));
        let args = [std::ffi::OsStr::new("trace"), dir.as_os_str(), "--svg".as_ref(), svg.as_os_str()];
        let out = common::run_program(&exe, &args, &[], std::time::Duration::from_secs(60), "trace_hbg_svg");
        assert!(out.success, "simpler trace failed: {}\n{}", out.status, out.stderr);
        assert!(out.stdout.contains("host_build_graph") && out.stdout.contains("4 task executions"), "{}", out.stdout);
        let drawn = std::fs::read_to_string(&svg).expect("svg written");
        assert!(drawn.starts_with("<svg") && drawn.trim_end().ends_with("</svg>"), "{drawn}");
        for (k, func) in HBG_FUNCS.iter().enumerate() {
            assert!(drawn.contains(&format!("task {k} f{func}")), "task {k} not drawn");
        }
        assert!(drawn.contains(">orchestrator<") && drawn.contains(">scheduler 3<"), "lanes not drawn");
    }
}
