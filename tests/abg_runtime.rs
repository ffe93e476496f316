//! aicpu_build_graph (original form) end to end through libsimpler's C ABI in
//! ChipWorker's call sequence: `c_tests/abg_harness.c`, built as C11 and as
//! C++17 (`-Wall -Wextra -Werror`), against plugins built from
//! `examples/abg_vector` (with the plugin marker), the same plugin without
//! it, and the probe plugins of `c_tests/fixtures/abg_probe`; and the ring
//! form (harness mode `ring`) against `examples/abg_ring_vector`, the
//! kernels of `examples/kernels` and the cycle fixture
//! `c_tests/fixtures/abg_ring_cycle`. Every program run is bounded by a
//! timeout.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(180);

struct Built {
    /// marked vector plugin, unmarked plugin, add, add_scalar, mul, probe plugins.
    sos: [PathBuf; 6],
    /// ring vector orchestration, add, add_scalar, mul (examples/kernels), ring cycle fixture.
    ring_sos: [PathBuf; 5],
    harness_c: PathBuf,
    harness_cxx: PathBuf,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let repo = common::repo();
        let out = common::scratch("abg_runtime");
        let c_include = format!("-I{}", repo.join("c_tests/include").display());
        let so_lang = |cpp: bool, src: &str, name: &str| {
            let dst = out.join(name);
            common::compile(cpp, &[repo.join(src)], &dst, &["-shared", "-fPIC", "-Wl,--build-id=sha1"]);
            dst
        };
        let so = |src: &str, name: &str| so_lang(false, src, name);
        let sos = [
            so("examples/abg_vector/orchestration.c", "libabg_vector.so"),
            so("c_tests/fixtures/abg_vector_unmarked/orchestration.c", "libabg_unmarked.so"),
            so("examples/abg_vector/kernel_add.c", "libabg_add.so"),
            so("examples/abg_vector/kernel_add_scalar.c", "libabg_add_scalar.so"),
            so("examples/abg_vector/kernel_mul.c", "libabg_mul.so"),
            so("c_tests/fixtures/abg_probe/orchestration.c", "libabg_probe.so"),
        ];
        let ring_sos = [
            so_lang(true, "examples/abg_ring_vector/orchestration.cpp", "libabg_ring_vector.so"),
            so("examples/kernels/kernel_add.c", "libabg_ring_add.so"),
            so("examples/kernels/kernel_add_scalar.c", "libabg_ring_add_scalar.so"),
            so("examples/kernels/kernel_mul.c", "libabg_ring_mul.so"),
            so_lang(true, "c_tests/fixtures/abg_ring_cycle/orchestration.cpp", "libabg_ring_cycle.so"),
        ];
        let harness = |cpp: bool| {
            let dst = out.join(if cpp { "abg_harness_cpp" } else { "abg_harness_c" });
            common::compile(cpp, &[repo.join("c_tests/abg_harness.c")], &dst, &[&c_include, "-ldl", "-lm", "-pthread"]);
            dst
        };
        Built { sos, ring_sos, harness_c: harness(false), harness_cxx: harness(true) }
    })
}

/// Runs the harness with `SIMPLER_RUNTIME` removed, or set to `runtime`;
/// checks its summary line and returns its stdout.
fn run_harness(cpp: bool, runtime: Option<&str>, tag: &str, min_checks: u32) -> String {
    let b = built();
    let lib = common::libsimpler_so();
    let mut args: Vec<&Path> = vec![lib.as_path()];
    args.extend(b.sos.iter().map(PathBuf::as_path));
    run_with(cpp, &args, runtime, tag, min_checks)
}

/// Runs the harness in its ring-form mode (`SIMPLER_RUNTIME` removed).
fn run_ring_harness(cpp: bool, tag: &str, min_checks: u32) -> String {
    let b = built();
    let lib = common::libsimpler_so();
    let mut args: Vec<&Path> = vec![lib.as_path(), Path::new("ring")];
    args.extend(b.ring_sos.iter().map(PathBuf::as_path));
    run_with(cpp, &args, None, tag, min_checks)
}

fn run_with(cpp: bool, args: &[&Path], runtime: Option<&str>, tag: &str, min_checks: u32) -> String {
    let b = built();
    let exe = if cpp { &b.harness_cxx } else { &b.harness_c };
    let envs: Vec<(&str, &str)> = runtime.map(|r| ("SIMPLER_RUNTIME", r)).into_iter().collect();
    let run = common::run_program_without(
        exe,
        args,
        &envs,
        &["SIMPLER_RUNTIME", "PTO_AICPU_BUILD_GRAPH_BUILD_MODE"],
        TIMEOUT,
        tag,
    );
    let last = run.stdout.lines().last().unwrap_or("").to_string();
    let passed =
        last.strip_suffix(" passed, 0 failed").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n >= min_checks);
    assert!(
        run.success && passed,
        "{tag} failed (status {}, timed out {}, last line '{last}')\n--- stdout ---\n{}\n--- stderr ---\n{}",
        run.status,
        run.timed_out,
        run.stdout,
        run.stderr
    );
    run.stdout
}

#[test]
fn abg_through_the_c_abi_told_from_the_binary_c() {
    run_harness(false, None, "abg_inferred_c", 30);
}

#[test]
fn abg_through_the_c_abi_told_from_the_binary_cxx() {
    run_harness(true, None, "abg_inferred_cpp", 30);
}

#[test]
fn abg_ring_form_through_the_c_abi_c() {
    run_ring_harness(false, "abg_ring_c", 16);
}

#[test]
fn abg_ring_form_through_the_c_abi_cxx() {
    run_ring_harness(true, "abg_ring_cpp", 16);
}

#[test]
fn simpler_runtime_abg_routes_an_unmarked_plugin_c() {
    run_harness(false, Some("aicpu_build_graph"), "abg_env_c", 4);
}

#[test]
fn simpler_runtime_abg_routes_an_unmarked_plugin_cxx() {
    run_harness(true, Some("aicpu_build_graph"), "abg_env_cpp", 4);
}

/// A builder stuck in user code through the Rust API of a device context:
/// the watchdog fails the run with -100 within its bound, the thread is
/// abandoned, the context is poisoned (every later run says so) and
/// finalize still returns; the process keeps working with a new context.
#[test]
fn a_stuck_builder_fails_the_run_and_poisons_the_context() {
    use simpler::abi::callable::ChipCallableBuilder;
    use simpler::abi::ArgDirection::Out;
    use simpler::config::RuntimeConfig;
    use simpler::context::DeviceContext;
    use simpler::demo;

    let b = built();
    let read = |p: &PathBuf| std::fs::read(p).expect("fixture");
    let image = |entry: &str| {
        ChipCallableBuilder::new(&[Out], entry, &read(&b.sos[5])).child(0, &[], &read(&b.sos[2])).build().unwrap()
    };
    let cfg = RuntimeConfig::builder().scheduler_timeout_ms(200).build().unwrap();
    let ctx = DeviceContext::new();
    ctx.init(0, &cfg, &[], &[]).unwrap();
    demo::register(&ctx, 0, &image("stuck_builder")).unwrap();
    demo::register(&ctx, 1, &image("mode_probe")).unwrap();
    let mut out = vec![0f32; 2];
    let args = demo::args_of(&mut [&mut out], &[]).unwrap();
    let t = std::time::Instant::now();
    let e = ctx.run(0, &args, &demo::exec(None), &RuntimeConfig::new()).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(20), "bounded: {:?}", t.elapsed());
    let msg = e.to_string();
    assert!(msg.contains("builder made no progress") && msg.contains("abandoned"), "{msg}");
    let again = ctx.run(1, &args, &demo::exec(None), &RuntimeConfig::new()).unwrap_err().to_string();
    assert!(again.contains("context poisoned"), "{again}");
    ctx.finalize();
    let fresh = DeviceContext::new();
    fresh.init(0, &RuntimeConfig::new(), &[], &[]).unwrap();
    demo::register(&fresh, 1, &image("mode_probe")).unwrap();
    fresh.run(1, &args, &demo::exec(None), &RuntimeConfig::new()).expect("a new context runs");
    assert_eq!(out, [1.0, 1.0], "default build_mode 1 observed by the builder");
    fresh.finalize();
}
