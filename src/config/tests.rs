//! Unit tests of the configuration rules, precedence and legacy env behaviour.

use super::schema::{render_value, spec};
use super::*;

const W: &str = "PTO2_RING_TASK_WINDOW";
const H: &str = "PTO2_RING_HEAP";
const D: &str = "PTO2_RING_DEP_POOL";

fn run(cfg: &RuntimeConfig, env: &[(&str, &str)]) -> (ResolvedRun, Vec<EnvWarning>) {
    resolve_run(cfg, &MapEnv::from_pairs(env)).expect("valid config")
}

fn values(r: &[Resolved; 4]) -> [u64; 4] {
    r.map(|x| x.value)
}

fn sources(r: &[Resolved; 4]) -> [Source; 4] {
    r.map(|x| x.source)
}

#[test]
fn defaults_when_nothing_is_set() {
    let (r, w) = run(&RuntimeConfig::new(), &[]);
    assert!(w.is_empty());
    assert_eq!(values(&r.ring_task_window), [16384; 4]);
    assert_eq!(values(&r.ring_heap), [268_435_456; 4]);
    assert_eq!(values(&r.ring_dep_pool), [16384; 4]);
    assert_eq!(sources(&r.ring_heap), [Source::Default; 4]);
    assert_eq!(r.shards(), 3);
    assert!(!r.orch_to_sched());
    let (d, _) = resolve_device(&RuntimeConfig::new(), &MapEnv::default()).unwrap();
    assert_eq!(d.timeout_ms(), 10000);
    assert_eq!((d.runtime_override(), d.runtime.source), (None, Source::Default));
    assert_eq!(render_value(spec(Knob::Runtime), d.runtime.value), "inferred per callable");
}

#[test]
fn every_precedence_tier_per_ring() {
    // ring 0: explicit per-ring; ring 1: explicit scalar; rings 2,3: fall to env list
    let cfg = RuntimeConfig::builder().ring_task_window(64).ring_task_window_at(0, 8).build().unwrap();
    let (r, w) = run(&cfg, &[(W, "16,32,128,256")]);
    assert!(w.is_empty());
    assert_eq!(values(&r.ring_task_window), [8, 64, 64, 64]);
    assert_eq!(
        sources(&r.ring_task_window),
        [Source::ExplicitPerRing, Source::Explicit, Source::Explicit, Source::Explicit]
    );

    // no explicit scalar: env per-ring list shows through for the unset rings
    let cfg = RuntimeConfig::builder().ring_task_window_at(2, 8).build().unwrap();
    let (r, _) = run(&cfg, &[(W, "16,32,128,256")]);
    assert_eq!(values(&r.ring_task_window), [16, 32, 8, 256]);
    assert_eq!(
        sources(&r.ring_task_window),
        [Source::EnvPerRing, Source::EnvPerRing, Source::ExplicitPerRing, Source::EnvPerRing]
    );

    // env scalar broadcasts
    let (r, _) = run(&RuntimeConfig::new(), &[(W, "512")]);
    assert_eq!(values(&r.ring_task_window), [512; 4]);
    assert_eq!(sources(&r.ring_task_window), [Source::Env; 4]);
}

#[test]
fn zero_explicit_slots_fall_through() {
    let mut cfg = RuntimeConfig::new();
    cfg.ring_heap = RingValue::from_raw(0, [0, 4096, 0, 0]);
    let (r, _) = run(&cfg, &[(H, "2048")]);
    assert_eq!(values(&r.ring_heap), [2048, 4096, 2048, 2048]);
    cfg.set_str("ring_heap", "0,0,0,8192").unwrap();
    let (r, _) = run(&cfg, &[]);
    assert_eq!(values(&r.ring_heap), [268_435_456, 268_435_456, 268_435_456, 8192]);
}

#[test]
fn window_rule_boundaries() {
    for ok in [4u64, 8, 1 << 28] {
        assert!(RuntimeConfig::builder().ring_task_window(ok).build().is_ok(), "{ok}");
    }
    // 2^30 is a valid window of one ring (the four-ring sum is bounded separately).
    assert!(RuntimeConfig::builder().ring_task_window_at(2, 1 << 30).build().is_ok());
    for bad in [1u64, 2, 3, 48, 1 << 31, u64::MAX] {
        let e = RuntimeConfig::builder().ring_task_window(bad).build().unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("ring_task_window")
                && msg.contains(&bad.to_string())
                && msg.contains("power of two in [4, 2147483647]"),
            "{msg}"
        );
        assert_eq!(e.code(), crate::ErrorCode::PtoErrInvalidValue);
    }
}

#[test]
fn heap_rule_boundaries_and_no_power_of_two() {
    assert!(RuntimeConfig::builder().ring_heap(1024).build().is_ok());
    assert!(RuntimeConfig::builder().ring_heap(1025).build().is_ok());
    assert!(RuntimeConfig::builder().ring_heap(u64::MAX).build().is_ok());
    let e = RuntimeConfig::builder().ring_heap_at(2, 1023).build().unwrap_err();
    assert!(e.to_string().contains("ring_heap[ring 2] = 1023"), "{e}");
    assert!(e.to_string().contains(">= 1024"), "{e}");
}

#[test]
fn dep_pool_rule_boundaries() {
    assert!(RuntimeConfig::builder().ring_dep_pool(4).build().is_ok());
    assert!(RuntimeConfig::builder().ring_dep_pool(5).build().is_ok());
    assert!(RuntimeConfig::builder().ring_dep_pool(i32::MAX as u64).build().is_ok());
    assert!(RuntimeConfig::builder().ring_dep_pool(3).build().is_err());
    assert!(RuntimeConfig::builder().ring_dep_pool(1 << 31).build().is_err());
}

#[test]
fn scalar_knob_rules() {
    for ok in 1..=4 {
        assert!(RuntimeConfig::builder().ready_queue_shards(ok).build().is_ok());
    }
    assert!(RuntimeConfig::builder().ready_queue_shards(5).build().is_err());
    assert!(RuntimeConfig::builder().scheduler_timeout_ms(1).build().is_ok());
    assert!(RuntimeConfig::builder().scheduler_timeout_ms(1 << 31).build().is_err());
}

#[test]
fn invalid_explicit_value_is_an_error_not_a_fallback() {
    let mut cfg = RuntimeConfig::new();
    cfg.ring_dep_pool.per_ring[3] = Some(2);
    let e = resolve_run(&cfg, &MapEnv::default()).unwrap_err();
    assert!(e.to_string().contains("ring_dep_pool[ring 3] = 2"), "{e}");
}

#[test]
fn invalid_env_ignored_whole_with_one_warning() {
    let cases: &[(&str, &str, &str)] = &[
        (W, "48", "breaks the rule"),
        (W, "16,32,48,64", "ring 2"),
        (W, "-16", "negative"),
        (W, "16,32,64,128,", "empty"),
        (W, "16,,64,128", "empty"),
        (W, "16,32", "found 2 values"),
        (W, "16,32,64", "found 3 values"),
        (W, "16,32,64,128,256", "found 5 values"),
        (H, "99999999999999999999", "64 bits"),
        (H, "1K", "not an unsigned decimal"),
        (H, "512", "breaks the rule"),
        (D, "3", "breaks the rule"),
        (D, "2147483648", "breaks the rule"),
    ];
    for (var, text, needle) in cases {
        let (r, w) = run(&RuntimeConfig::new(), &[(var, text)]);
        assert_eq!(w.len(), 1, "{var}={text}: {w:?}");
        let msg = w[0].to_string();
        assert!(msg.contains(var) && msg.contains(text) && msg.contains(needle), "{msg}");
        assert!(msg.contains("must be"), "the rule is named: {msg}");
        // The whole variable is ignored: all rings fall to the default.
        let all_default = [&r.ring_task_window, &r.ring_heap, &r.ring_dep_pool]
            .iter()
            .all(|a| a.iter().all(|x| x.source == Source::Default));
        assert!(all_default, "{var}={text}");
    }
}

#[test]
fn env_whitespace_and_plus_are_accepted() {
    let (r, w) = run(&RuntimeConfig::new(), &[(W, " 16 , 32,64 ,128 ")]);
    assert!(w.is_empty());
    assert_eq!(values(&r.ring_task_window), [16, 32, 64, 128]);
    let (r, w) = run(&RuntimeConfig::new(), &[(H, "+2048")]);
    assert!(w.is_empty());
    assert_eq!(values(&r.ring_heap), [2048; 4]);
}

#[test]
fn legacy_orch_to_sched_first_char() {
    for (text, expect) in [("1", true), ("t", true), ("True", true), ("0", false), ("yes", false), ("", false)] {
        let (r, w) = run(&RuntimeConfig::new(), &[("PTO2_ORCH_TO_SCHED", text)]);
        // "yes" reads as false with a warning (see orch_to_sched_lookalikes_warn_but_keep_upstreams_reading).
        assert_eq!(w.len(), usize::from(text == "yes"), "{text}");
        assert_eq!(r.orch_to_sched(), expect, "{text}");
        assert_eq!(r.orch_to_sched.source, Source::Env);
    }
    let cfg = RuntimeConfig::builder().orch_to_sched(false).build().unwrap();
    let (r, _) = run(&cfg, &[("PTO2_ORCH_TO_SCHED", "1")]);
    assert!(!r.orch_to_sched());
}

#[test]
fn scalar_env_knobs() {
    let (r, w) = run(&RuntimeConfig::new(), &[("PTO2_READY_QUEUE_SHARDS", "2")]);
    assert!(w.is_empty());
    assert_eq!((r.shards(), r.ready_queue_shards.source), (2, Source::Env));
    let (r, w) = run(&RuntimeConfig::new(), &[("PTO2_READY_QUEUE_SHARDS", "9")]);
    assert_eq!((r.shards(), w.len()), (3, 1));
    let (r, w) = run(&RuntimeConfig::new(), &[("PTO2_READY_QUEUE_SHARDS", "1,2,3,4")]);
    assert_eq!((r.shards(), w.len()), (3, 1));
    let env = MapEnv::from_pairs(&[("PTO2_SCHEDULER_TIMEOUT_MS", "250"), ("SIMPLER_RUNTIME", "host_build_graph")]);
    let (d, w) = resolve_device(&RuntimeConfig::new(), &env).unwrap();
    assert!(w.is_empty());
    assert_eq!(d.timeout_ms(), 250);
    assert_eq!(d.runtime_override(), Some(RuntimeVariant::HostBuildGraph));
    assert_eq!(d.runtime_override_origin(), "SIMPLER_RUNTIME");
    let env = MapEnv::from_pairs(&[("PTO2_SCHEDULER_TIMEOUT_MS", "0"), ("SIMPLER_RUNTIME", "bogus")]);
    let (d, w) = resolve_device(&RuntimeConfig::new(), &env).unwrap();
    assert_eq!(w.len(), 2);
    assert_eq!((d.timeout_ms(), d.scheduler_timeout_ms.source), (10000, Source::Default));
}

#[test]
fn set_str_shares_the_env_syntax() {
    let mut cfg = RuntimeConfig::new();
    cfg.set_str("ring_task_window", "8192,16384,131072,524288").unwrap();
    assert_eq!(cfg.ring_task_window.per_ring, [Some(8192), Some(16384), Some(131072), Some(524288)]);
    cfg.set_str("ring_task_window", "64").unwrap();
    assert_eq!(cfg.ring_task_window.all, Some(64));
    cfg.set_str("PTO2_RING_HEAP", "4096").unwrap(); // env name accepted as an alias
    assert_eq!(cfg.ring_heap.all, Some(4096));
    assert!(matches!(cfg.set_str("ring_task_window", "48"), Err(ConfigError::InvalidValue { .. })));
    assert!(matches!(cfg.set_str("ring_task_window", "1,2"), Err(ConfigError::Parse { .. })));
    assert!(matches!(cfg.set_str("ring_heap", "-5"), Err(ConfigError::Parse { .. })));
    assert!(matches!(cfg.set_str("nope", "1"), Err(ConfigError::UnknownKnob { .. })));
    cfg.set_str("orch_to_sched", "on").unwrap();
    assert_eq!(cfg.orch_to_sched, Some(true));
    assert!(cfg.set_str("orch_to_sched", "maybe").is_err());
    // 0 means unset in every explicit form (scalar knob, ring scalar, 4-list entry).
    cfg.set_str("scheduler_timeout_ms", "5000").unwrap();
    cfg.set_str("scheduler_timeout_ms", "0").unwrap();
    assert_eq!(cfg.scheduler_timeout_ms, None);
    cfg.set_str("ring_heap", "0,2048,0,0").unwrap();
    cfg.set_str("ring_heap", "0").unwrap();
    assert_eq!((cfg.ring_heap.all, cfg.ring_heap.per_ring), (None, [None, Some(2048), None, None]));
    assert!(matches!(cfg.set_str("ring_heap", "1"), Err(ConfigError::InvalidValue { .. })));
    cfg.set_str("runtime", "hbg").unwrap();
    assert_eq!(cfg.runtime, Some(RuntimeVariant::HostBuildGraph));
    cfg.set_str("runtime", "unset").unwrap();
    assert_eq!(cfg.runtime, None);
    // a failed set leaves the previous value untouched
    assert_eq!(cfg.ring_task_window.all, Some(64));
}

#[test]
fn legacy_run_prepared_args_map_to_the_same_tiers() {
    let cfg = RuntimeConfig::from_legacy_ring_args([64, 0, 0], [[0, 128, 0, 0], [0; 4], [0, 0, 0, 32]]);
    let (r, _) = run(&cfg, &[(D, "8")]);
    assert_eq!(values(&r.ring_task_window), [64, 128, 64, 64]);
    assert_eq!(values(&r.ring_dep_pool), [8, 8, 8, 32]);
}

#[test]
fn overlay_prefers_the_overlay() {
    let base = RuntimeConfig::from_legacy_ring_args([64, 0, 0], [[0, 128, 0, 0], [0; 4], [0; 4]]);
    let top = RuntimeConfig::builder().ring_task_window_at(3, 1024).build().unwrap();
    let m = base.overlay(&top);
    assert_eq!(m.ring_task_window.per_ring, [None, Some(128), None, Some(1024)]);
    assert_eq!(m.ring_task_window.all, Some(64));
    let top = RuntimeConfig::builder().ring_task_window(32).build().unwrap();
    let m = base.overlay(&top);
    assert_eq!((m.ring_task_window.all, m.ring_task_window.per_ring), (Some(32), [None; 4]));
}

#[test]
fn per_device_knob_given_to_a_run_must_match() {
    let (d, _) = resolve_device(&RuntimeConfig::new(), &MapEnv::default()).unwrap();
    let same = RuntimeConfig::builder().scheduler_timeout_ms(10000).build().unwrap();
    let trb = RuntimeVariant::TensormapAndRingbuffer;
    assert!(resolve::check_per_device_unchanged(&same, &d, trb).is_ok());
    let diff = RuntimeConfig::builder().scheduler_timeout_ms(5).build().unwrap();
    let e = resolve::check_per_device_unchanged(&diff, &d, trb).unwrap_err();
    assert!(e.to_string().contains("per-device"), "{e}");
    // A runtime given to a run must name the variant of the callable run.
    let hbg = RuntimeConfig::builder().runtime(RuntimeVariant::HostBuildGraph).build().unwrap();
    assert!(resolve::check_per_device_unchanged(&hbg, &d, RuntimeVariant::HostBuildGraph).is_ok());
    let e = resolve::check_per_device_unchanged(&hbg, &d, trb).unwrap_err();
    assert!(e.to_string().contains("tensormap_and_ringbuffer (the variant of the callable run)"), "{e}");
}

#[test]
fn schema_is_complete_and_consistent() {
    let names: Vec<_> = KNOBS.iter().map(|k| k.name).collect();
    for n in [
        "ring_task_window",
        "ring_heap",
        "ring_dep_pool",
        "ready_queue_shards",
        "orch_to_sched",
        "build_mode",
        "scheduler_timeout_ms",
        "runtime",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    for k in KNOBS {
        if matches!(k.shape, Shape::PerRing | Shape::Scalar) {
            assert!(k.rule.check(k.default), "default of {} satisfies its rule", k.name);
        }
        assert_eq!(schema::find(k.env).unwrap().name, k.name);
    }
}

#[test]
fn sum_of_task_windows_is_bounded_at_validate_and_resolve() {
    // 2^30 is a valid window, but four of them exceed INT32_MAX together.
    let e = RuntimeConfig::builder().ring_task_window(1 << 30).build().unwrap_err();
    let msg = e.to_string();
    assert_eq!(e.code(), crate::diagnostics::ErrorCode::PtoErrInvalidValue);
    for part in ["ring_task_window", "4294967296", "2147483647", "PTO2_RING_TASK_WINDOW"] {
        assert!(msg.contains(part), "'{part}' missing: {msg}");
    }
    // The string setter refuses it at once and leaves the config unchanged
    // (found by the config_set fuzz target: a successful set must validate).
    let mut cfg = RuntimeConfig::new();
    let e = cfg.set_str("ring_task_window", "1073741824").unwrap_err();
    assert!(e.to_string().contains("PTO2_RING_TASK_WINDOW"), "{e}");
    assert_eq!(cfg, RuntimeConfig::new());
    cfg.set_str("ring_task_window", "1073741824,4,4,4").unwrap();
    assert!(cfg.validate().is_ok());
    // One large ring with the others unset passes validate; the resolved
    // sum decides: defaults fit, an environment of 2^30 per ring does not.
    let cfg = RuntimeConfig::builder().ring_task_window_at(0, 1 << 30).build().unwrap();
    let (r, _) = run(&cfg, &[]);
    assert_eq!(values(&r.ring_task_window), [1 << 30, 16384, 16384, 16384]);
    let e = resolve_run(&cfg, &MapEnv::from_pairs(&[(W, "1073741824")])).unwrap_err();
    assert!(e.to_string().contains("resolved") && e.to_string().contains("sum"), "{e}");
    // The largest valid sum: 2^30 + 2^29 + 2^28 + 2^27 < 2^31 - 1.
    let cfg = RuntimeConfig::builder().ring_task_windows([1 << 30, 1 << 29, 1 << 28, 1 << 27]).build().unwrap();
    assert_eq!(values(&run(&cfg, &[]).0.ring_task_window).iter().sum::<u64>(), (1 << 31) - (1 << 27));
    assert!(RuntimeConfig::builder().ring_task_windows([1 << 30, 1 << 30, 4, 4]).build().is_err());
}

#[test]
fn zero_means_unset_explicitly_and_breaks_the_rule_in_the_environment() {
    // Explicit: 0 falls through to the environment (then the default).
    let mut cfg = RuntimeConfig::new();
    cfg.set_str("ring_heap", "0").unwrap();
    cfg.set_str("ready_queue_shards", "0").unwrap();
    let env = [("PTO2_RING_HEAP", "4096")];
    let (r, _) = resolve_run(&cfg, &MapEnv::from_pairs(&env)).unwrap();
    assert_eq!((r.ring_heap[2].value, r.ring_heap[2].source), (4096, Source::Env));
    assert_eq!(r.ready_queue_shards.source, Source::Default);
    // Environment: 0 breaks every numeric rule, so the variable is ignored with a warning.
    for (var, text) in
        [("PTO2_RING_HEAP", "0"), ("PTO2_RING_HEAP", "0,4096,4096,4096"), ("PTO2_READY_QUEUE_SHARDS", "0")]
    {
        let (r, w) = resolve_run(&RuntimeConfig::new(), &MapEnv::from_pairs(&[(var, text)])).unwrap();
        assert_eq!(w.len(), 1, "{var}={text}");
        assert!(w[0].ignored && w[0].to_string().contains("breaks the rule"), "{}", w[0]);
        assert_eq!(r.ring_heap[1].source, Source::Default);
    }
}

#[test]
fn orch_to_sched_lookalikes_warn_but_keep_upstreams_reading() {
    for (text, value, warns) in [
        ("yes", false, true),
        ("on", false, true),
        ("Enable", false, true),
        (" true", false, true),
        (" 1", false, true),
        ("y", false, true),
        ("true", true, false),
        ("1", true, false),
        ("T", true, false),
        ("0", false, false),
        ("no", false, false),
        ("off", false, false),
    ] {
        let (r, w) = resolve_run(&RuntimeConfig::new(), &MapEnv::from_pairs(&[("PTO2_ORCH_TO_SCHED", text)])).unwrap();
        assert_eq!((r.orch_to_sched(), r.orch_to_sched.source), (value, Source::Env), "{text:?}");
        assert_eq!(w.len(), usize::from(warns), "{text:?}: {w:?}");
        if warns {
            assert!(!w[0].ignored);
            let msg = w[0].to_string();
            assert!(msg.starts_with(&format!("PTO2_ORCH_TO_SCHED=\"{text}\" reads as false")), "{msg}");
            assert!(msg.contains("first character is 1, t or T"), "{msg}");
        }
    }
}

#[test]
fn run_summary_names_values_and_sources() {
    let cfg = RuntimeConfig::builder().ring_heap(4096).ring_task_window_at(1, 64).build().unwrap();
    let (r, _) = resolve_run(&cfg, &MapEnv::from_pairs(&[("PTO2_ORCH_TO_SCHED", "1")])).unwrap();
    let s = crate::config::resolve::run_summary(&r);
    assert!(s.contains("ring_heap=4096 (explicit)"), "{s}");
    assert!(
        s.contains("ring_task_window=[16384, 64, 16384, 16384] (default/explicit (per ring)/default/default)"),
        "{s}"
    );
    assert!(s.contains("orch_to_sched=true (env)"), "{s}");
    assert!(s.contains("ready_queue_shards=3 (default)"), "{s}");
}

#[test]
fn build_mode_env_reads_as_upstream_and_explicit_values_are_strict() {
    const B: &str = "PTO_AICPU_BUILD_GRAPH_BUILD_MODE";
    let (r, w) = run(&RuntimeConfig::new(), &[]);
    assert_eq!((r.build_mode(), r.build_mode.source, w.len()), (BuildMode::Concurrent, Source::Default, 0));
    for (text, mode) in [
        ("0", BuildMode::Sequential),
        ("sequential", BuildMode::Sequential),
        ("00", BuildMode::Sequential),
        ("1", BuildMode::Concurrent),
        ("concurrent", BuildMode::Concurrent),
        ("2", BuildMode::Concurrent),
        ("-3", BuildMode::Concurrent),
        (" 7 ", BuildMode::Concurrent),
    ] {
        let (r, w) = run(&RuntimeConfig::new(), &[(B, text)]);
        assert_eq!((r.build_mode(), r.build_mode.source), (mode, Source::Env), "{text:?}");
        assert!(w.is_empty(), "{text:?}: {w:?}");
    }
    for bad in ["fast", "", "1x", "Sequential", "-"] {
        let (r, w) = run(&RuntimeConfig::new(), &[(B, bad)]);
        assert_eq!((r.build_mode(), r.build_mode.source), (BuildMode::Concurrent, Source::Default), "{bad:?}");
        assert_eq!(w.len(), 1, "{bad:?}: exactly one warning");
        assert!(w[0].to_string().contains(B) && w[0].ignored, "{}", w[0]);
    }
    // Explicit values: a name or its index, anything else is an error; explicit beats the environment.
    let mut cfg = RuntimeConfig::new();
    for (text, mode) in
        [("sequential", BuildMode::Sequential), ("1", BuildMode::Concurrent), ("0", BuildMode::Sequential)]
    {
        cfg.set_str("build_mode", text).unwrap();
        assert_eq!(cfg.build_mode, Some(mode), "{text}");
    }
    for bad in ["2", "fast", "-1", ""] {
        let e = cfg.set_str("build_mode", bad).unwrap_err();
        assert!(e.to_string().contains("build_mode"), "{e}");
        assert_eq!(cfg.build_mode, Some(BuildMode::Sequential), "a refused set changes nothing");
    }
    let (r, _) = run(&cfg, &[(B, "1")]);
    assert_eq!((r.build_mode(), r.build_mode.source), (BuildMode::Sequential, Source::Explicit));
    cfg.set_str("build_mode", "unset").unwrap();
    assert_eq!(cfg.build_mode, None);
    let b = RuntimeConfig::builder().build_mode(BuildMode::Sequential).build().unwrap();
    assert_eq!(b.scalar(Knob::BuildMode), Some(0));
    assert_eq!(render_value(spec(Knob::BuildMode), 0), "sequential");
    assert!(resolve::run_summary(&run(&b, &[]).0).contains("build_mode=sequential (explicit)"));
}

#[test]
fn knob_hints_name_the_knob_and_its_variable() {
    assert_eq!(schema::spec(Knob::RingTaskWindow).hint(), "ring_task_window / PTO2_RING_TASK_WINDOW");
    assert_eq!(schema::spec(Knob::RingDepPool).hint(), "ring_dep_pool / PTO2_RING_DEP_POOL");
    assert_eq!(
        schema::spec(Knob::SchedulerTimeoutMs).hint_value(250),
        "scheduler_timeout_ms=250 / PTO2_SCHEDULER_TIMEOUT_MS"
    );
}
