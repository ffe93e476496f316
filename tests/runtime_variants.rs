//! The runtime variant follows the callable: one `libsimpler.so` runs a
//! host_build_graph and a tensormap_and_ringbuffer callable built the way
//! upstream builds them (the TRB orchestration exports
//! `framework_bind_runtime`, the HBG one only its builder), told apart from
//! their orchestration binaries with nothing in the environment;
//! `SIMPLER_RUNTIME` is an override that must agree. Also: the bundled demo
//! pins its variant.
//!
//! `c_tests/variants_harness.c` is built as C11 and as C++17 (`-Wall -Wextra
//! -Werror`); every program run is bounded by a timeout.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);
const HBG_SCOPE_STATS_WARNING: &str = "host_build_graph has no scope rings";

struct Built {
    /// hbg orchestration, add, add_scalar, mul.
    hbg: [PathBuf; 4],
    /// trb orchestration, add, add_scalar, mul.
    trb: [PathBuf; 4],
    harness_c: PathBuf,
    harness_cxx: PathBuf,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let repo = common::repo();
        let out = common::scratch("runtime_variants");
        let c_include = format!("-I{}", repo.join("c_tests/include").display());
        let k_include = format!("-I{}", repo.join("examples/kernels").display());
        let so = ["-shared", "-fPIC", "-Wl,--build-id=sha1"];
        // host_build_graph: C, exporting only the builder function (and kernel_entry in the kernels).
        let hbg = ["orchestration", "kernel_add", "kernel_add_scalar", "kernel_mul"].map(|name| {
            let dst = out.join(format!("libhbg_{name}.so"));
            let src = repo.join(format!("c_tests/fixtures/hbg_vector/{name}.c"));
            let mut args = so.to_vec();
            args.push(&c_include);
            common::compile(false, &[src], &dst, &args);
            dst
        });
        // tensormap_and_ringbuffer: C++ orchestration with upstream's flags, C kernels.
        let trb_orch = out.join("libtrb_orchestration.so");
        let mut args = so.to_vec();
        args.extend(["-fno-gnu-unique", k_include.as_str()]);
        common::compile(true, &[repo.join("examples/trb_vector/orchestration.cpp")], &trb_orch, &args);
        let kernels = ["kernel_add", "kernel_add_scalar", "kernel_mul"].map(|name| {
            let dst = out.join(format!("libtrb_{name}.so"));
            let mut args = so.to_vec();
            args.push(&k_include);
            common::compile(false, &[repo.join(format!("examples/kernels/{name}.c"))], &dst, &args);
            dst
        });
        let [k0, k1, k2] = kernels;
        let harness = |cpp: bool| {
            let dst = out.join(if cpp { "variants_harness_cpp" } else { "variants_harness_c" });
            common::compile(cpp, &[repo.join("c_tests/variants_harness.c")], &dst, &[&c_include, "-ldl", "-lm"]);
            dst
        };
        Built { hbg, trb: [trb_orch, k0, k1, k2], harness_c: harness(false), harness_cxx: harness(true) }
    })
}

/// Runs the harness (`cpp` selects the C++ build) with `SIMPLER_RUNTIME`
/// removed, or set to `runtime`; returns stdout and stderr after checking the summary.
fn run_harness(cpp: bool, runtime: Option<&str>, tag: &str) -> (String, String) {
    let b = built();
    let lib = common::libsimpler_so();
    let stats = common::scratch(&format!("runtime_variants/stats_{tag}"));
    let _ = std::fs::remove_dir_all(stats.join("scope_stats"));
    let mut args: Vec<&Path> = vec![lib.as_path()];
    args.extend(b.hbg.iter().map(PathBuf::as_path));
    args.extend(b.trb.iter().map(PathBuf::as_path));
    args.push(stats.as_path());
    let exe = if cpp { &b.harness_cxx } else { &b.harness_c };
    // The scope-stats warning is counted below: pin the level whatever the caller's environment says.
    let mut envs: Vec<(&str, &str)> = vec![("SIMPLER_LOG_LEVEL", "warn")];
    envs.extend(runtime.map(|r| ("SIMPLER_RUNTIME", r)));
    let run = common::run_program_without(exe, &args, &envs, &["SIMPLER_RUNTIME"], TIMEOUT, tag);
    let last = run.stdout.lines().last().unwrap_or("").to_string();
    let passed = last.strip_suffix(" passed, 0 failed").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n > 10);
    assert!(
        run.success && passed,
        "{tag} failed (status {}, timed out {}, last line '{last}')\n--- stdout ---\n{}\n--- stderr ---\n{}",
        run.status,
        run.timed_out,
        run.stdout,
        run.stderr
    );
    (run.stdout, run.stderr)
}

fn inferred(cpp: bool, tag: &str) {
    let (_, stderr) = run_harness(cpp, None, tag);
    // Two contexts ran HBG with enable_scope_stats (four runs): one warning per context.
    let warnings = stderr.lines().filter(|l| l.contains(HBG_SCOPE_STATS_WARNING)).count();
    assert_eq!(warnings, 2, "expected one scope-stats warning per HBG context:\n{stderr}");
}

#[test]
fn both_variants_inferred_with_nothing_in_the_environment_c() {
    inferred(false, "variants_inferred_c");
}

#[test]
fn both_variants_inferred_with_nothing_in_the_environment_cxx() {
    inferred(true, "variants_inferred_cpp");
}

#[test]
fn simpler_runtime_trb_rejects_the_hbg_callable_at_prepare_c() {
    run_harness(false, Some("tensormap_and_ringbuffer"), "variants_env_trb_c");
}

#[test]
fn simpler_runtime_hbg_rejects_the_trb_callable_at_prepare_cxx() {
    run_harness(true, Some("host_build_graph"), "variants_env_hbg_cpp");
}

#[test]
fn simpler_runtime_hbg_rejects_the_trb_callable_at_prepare_c() {
    run_harness(false, Some("host_build_graph"), "variants_env_hbg_c");
}

/// `simpler demo` under `SIMPLER_RUNTIME=host_build_graph` used to call the TRB
/// entry with the HBG convention (SIGSEGV); the demo now pins its variant and says so.
#[test]
fn demo_pins_its_variant_under_simpler_runtime_host_build_graph() {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_simpler"));
    let run = common::run_program(&exe, &["demo"], &[("SIMPLER_RUNTIME", "host_build_graph")], TIMEOUT, "demo_hbg_env");
    assert!(run.success, "status {} timed out {}\n{}\n{}", run.status, run.timed_out, run.stdout, run.stderr);
    assert!(run.stdout.contains("note: SIMPLER_RUNTIME=host_build_graph is overridden"), "{}", run.stdout);
    assert!(run.stdout.contains("all 6 examples passed"), "{}", run.stdout);
    for line in [
        "[ok] vector",
        "[ok] host_build_graph vector",
        "[ok] aicpu_build_graph vector",
        "[ok] aicpu_build_graph ring vector",
        "build_mode 0 (sequential)",
    ] {
        assert!(run.stdout.contains(line), "no '{line}' in:\n{}", run.stdout);
    }
}

/// `simpler bench --quick` under `SIMPLER_RUNTIME=host_build_graph` pins its variant too.
#[test]
fn bench_pins_its_variant_under_simpler_runtime_host_build_graph() {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_simpler"));
    let run = common::run_program(
        &exe,
        &["bench", "--quick"],
        &[("SIMPLER_RUNTIME", "host_build_graph")],
        TIMEOUT,
        "bench_hbg_env",
    );
    assert!(run.success, "status {} timed out {}\n{}\n{}", run.status, run.timed_out, run.stdout, run.stderr);
    assert!(run.stdout.contains("note: SIMPLER_RUNTIME=host_build_graph is overridden"), "{}", run.stdout);
    assert!(run.stdout.contains("vector example    : median"), "{}", run.stdout);
}

/// In-process, through the Rust API: an HBG context and a TRB context
/// running at the same time on two threads, and one context holding both,
/// with the TRB engine and arena created only at the first TRB run.
#[test]
fn contexts_of_both_variants_run_concurrently_and_share_one_context() {
    use simpler::abi::callable::ChipCallableBuilder;
    use simpler::abi::ArgDirection::{In, Out};
    use simpler::config::{RuntimeConfig, RuntimeVariant};
    use simpler::context::DeviceContext;
    use simpler::demo::{self, assets};

    let b = built();
    let read = |p: &PathBuf| std::fs::read(p).expect("fixture");
    let hbg_image = ChipCallableBuilder::new(&[In, In, Out], "build_example_graph", &read(&b.hbg[0]))
        .child(0, &[In, In, Out], &read(&b.hbg[1]))
        .child(1, &[In, Out], &read(&b.hbg[2]))
        .child(2, &[In, In, Out], &read(&b.hbg[3]))
        .build()
        .expect("hbg image");
    let trb_image = demo::vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).expect("trb image");
    let cfg = RuntimeConfig::new();
    let run_hbg = |ctx: &DeviceContext, id: i32, round: usize| {
        let (mut a, mut bb) = demo::vector_inputs(4096);
        a.iter_mut().for_each(|v| *v += round as f32);
        let mut f = vec![f32::NAN; 4096];
        let args = demo::args_of(&mut [&mut a, &mut bb, &mut f], &[]).unwrap();
        ctx.run(id, &args, &demo::exec(None), &cfg).unwrap_or_else(|e| panic!("hbg run {round}: {e}"));
        for i in 0..f.len() {
            let s = a[i] + bb[i];
            assert_eq!(f[i], (s + 1.0) * (s + 2.0), "hbg run {round}: element {i}");
        }
    };
    let fresh = || {
        let ctx = DeviceContext::new();
        ctx.init(0, &cfg, &[], &[]).expect("init");
        ctx
    };

    let hbg_ctx = fresh();
    let trb_ctx = fresh();
    demo::register(&hbg_ctx, 0, &hbg_image).unwrap();
    demo::register(&trb_ctx, 0, &trb_image).unwrap();
    assert_eq!(hbg_ctx.callable_variant(0).unwrap(), RuntimeVariant::HostBuildGraph);
    assert_eq!(trb_ctx.callable_variant(0).unwrap(), RuntimeVariant::TensormapAndRingbuffer);
    std::thread::scope(|s| {
        s.spawn(|| (0..20).for_each(|r| run_hbg(&hbg_ctx, 0, r)));
        s.spawn(|| {
            for _ in 0..20 {
                demo::run_vector(&trb_ctx, 0, &demo::exec(None), &cfg).expect("trb run");
            }
        });
    });
    assert_eq!(hbg_ctx.arena_builds(), 0, "an HBG-only context never builds a TRB arena");
    assert_eq!(trb_ctx.arena_builds(), 1);

    let mixed = fresh();
    demo::register(&mixed, 1, &hbg_image).unwrap();
    demo::register(&mixed, 2, &trb_image).unwrap();
    for r in 0..5 {
        run_hbg(&mixed, 1, r);
    }
    assert_eq!(mixed.arena_builds(), 0, "TRB state is created lazily, at the first TRB run");
    for r in 0..10 {
        if r % 3 == 0 {
            demo::run_vector(&mixed, 2, &demo::exec(None), &cfg).expect("trb run");
        } else {
            run_hbg(&mixed, 1, r);
        }
    }
    assert_eq!(mixed.arena_builds(), 1);
    // A run config naming the runtime must name the callable's own variant.
    let trb_cfg = RuntimeConfig::builder().runtime(RuntimeVariant::TensormapAndRingbuffer).build().unwrap();
    demo::run_vector(&mixed, 2, &demo::exec(None), &trb_cfg).expect("matching per-run runtime");
    let (mut a, mut bb) = demo::vector_inputs(4096);
    let mut f = vec![f32::NAN; 4096];
    let args = demo::args_of(&mut [&mut a, &mut bb, &mut f], &[]).unwrap();
    let e = mixed.run(1, &args, &demo::exec(None), &trb_cfg).unwrap_err();
    assert!(e.to_string().contains("host_build_graph (the variant of the callable run)"), "{e}");
    assert!(f.iter().all(|v| v.is_nan()), "nothing ran");
    run_hbg(&mixed, 1, 99);
    for ctx in [hbg_ctx, trb_ctx, mixed] {
        ctx.finalize();
    }
}
