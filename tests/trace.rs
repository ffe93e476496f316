//! The task trace (`enable_l2_swimlane`): the vector example's
//! `<output_prefix>/trace/trace.json` parsed as Chrome Trace Event Format and
//! checked against the example's known graph.

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
