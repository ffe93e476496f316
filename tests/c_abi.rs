//! Builds and runs the C test programs of `c_tests/` against `libsimpler.so`.
//!
//! * The hbg vector fixtures (orchestration + three kernels) are built as shared
//!   objects (`-shared -fPIC -O2`), as C and, separately, as C++.
//! * `chipworker_harness`, `misuse`, `fixtures_selftest`, `teardown`, `stale_handle` and
//!   `error_slot` are built twice: as C11 and as C++17, both with `-Wall -Wextra -Werror`.
//! * Every program runs with a 60 s timeout; on failure its full output is printed.
//!
//! The compiler is the one `cc` selects for the host (`cc::Build::get_compiler`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Kill a test program that runs longer than this.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);

/// The source language a program or fixture is compiled as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    C,
    Cxx,
}

impl Lang {
    fn flags(self) -> &'static [&'static str] {
        match self {
            Lang::C => &["-std=c11"],
            Lang::Cxx => &["-x", "c++", "-std=c++17"],
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Lang::C => "c",
            Lang::Cxx => "cpp",
        }
    }
}

/// Paths of everything `build_all` produced.
struct Built {
    /// Fixture SOs per language: orchestration, kernel_add, kernel_add_scalar, kernel_mul.
    fixtures_c: [PathBuf; 4],
    fixtures_cxx: [PathBuf; 4],
    /// (program name, language) → executable.
    programs: Vec<((&'static str, Lang), PathBuf)>,
}

impl Built {
    fn fixtures(&self, lang: Lang) -> &[PathBuf; 4] {
        match lang {
            Lang::C => &self.fixtures_c,
            Lang::Cxx => &self.fixtures_cxx,
        }
    }

    fn program(&self, name: &str, lang: Lang) -> &Path {
        self.programs
            .iter()
            .find(|((n, l), _)| *n == name && *l == lang)
            .map(|(_, p)| p.as_path())
            .unwrap_or_else(|| panic!("program {name} ({lang:?}) was not built"))
    }
}

const FIXTURES: [&str; 4] = ["orchestration", "kernel_add", "kernel_add_scalar", "kernel_mul"];
const PROGRAMS: [&str; 6] =
    ["chipworker_harness", "misuse", "fixtures_selftest", "teardown", "stale_handle", "error_slot"];

fn c_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c_tests")
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_abi");
    std::fs::create_dir_all(&dir).expect("create CARGO_TARGET_TMPDIR/c_abi");
    dir
}

/// The host C compiler chosen by `cc` (only its path is used, so `cc`'s default flags
/// do not leak into the strict warning set).
fn compiler() -> PathBuf {
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let tool = cc::Build::new()
        .cargo_metadata(false)
        .cargo_warnings(false)
        .target(&target)
        .host(&target)
        .opt_level(2)
        .get_compiler();
    tool.path().to_path_buf()
}

/// Runs one compiler invocation; panics with the compiler output on failure.
fn compile(cc: &Path, lang: Lang, src: &Path, out: &Path, shared: bool) {
    let include = c_tests_dir().join("include");
    let mut cmd = Command::new(cc);
    cmd.args(lang.flags()).args(["-Wall", "-Wextra", "-Werror", "-O2"]).arg("-I").arg(&include);
    if shared {
        cmd.args(["-shared", "-fPIC", "-Wl,--build-id=sha1"]);
    }
    cmd.arg(src).arg("-o").arg(out);
    if !shared {
        cmd.args(["-pthread", "-ldl", "-lm"]);
        if lang == Lang::Cxx {
            // The C++ build of teardown.c has a static object (its destructor needs the
            // C++ runtime's personality routine); the driver is the C compiler.
            cmd.arg("-lstdc++");
        }
    }
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", cc.display()));
    assert!(
        output.status.success(),
        "compiling {} as {:?} failed:\n{:?}\n{}{}",
        src.display(),
        lang,
        cmd,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds all fixtures and programs once per test binary (tests share the result).
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cc = compiler();
        let out = out_dir();
        let src = c_tests_dir();
        let fixture_set = |lang: Lang| -> [PathBuf; 4] {
            FIXTURES.map(|name| {
                let so = out.join(format!("lib{name}_{}.so", lang.suffix()));
                compile(&cc, lang, &src.join("fixtures/hbg_vector").join(format!("{name}.c")), &so, true);
                so
            })
        };
        let fixtures_c = fixture_set(Lang::C);
        let fixtures_cxx = fixture_set(Lang::Cxx);
        let mut programs = Vec::new();
        for name in PROGRAMS {
            for lang in [Lang::C, Lang::Cxx] {
                let exe = out.join(format!("{name}_{}", lang.suffix()));
                compile(&cc, lang, &src.join(format!("{name}.c")), &exe, false);
                programs.push(((name, lang), exe));
            }
        }
        Built { fixtures_c, fixtures_cxx, programs }
    })
}

/// Asserts success and that the last line is the `N passed, 0 failed` summary.
fn assert_passed(run: &common::RunOutput, what: &str) {
    let last = run.stdout.lines().last().unwrap_or("").trim().to_string();
    let summary_ok = last.strip_suffix(" passed, 0 failed").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n > 0);
    assert!(
        run.success && summary_ok,
        "{what} failed (status {}, timed out: {}, last line '{last}')\n--- stdout ---\n{}\n--- stderr ---\n{}",
        run.status,
        run.timed_out,
        run.stdout,
        run.stderr
    );
}

fn fixture_args(b: &Built, lang: Lang) -> Vec<&Path> {
    b.fixtures(lang).iter().map(|p| p.as_path()).collect()
}

fn run_with_lib(program: &str, lang: Lang) {
    run_with_lib_args(program, lang, &[]);
}

/// The exit-time run of `teardown` logged its warning about the invalid ring variable
/// (the log sink works at exit too).
fn assert_exit_warning(run: &common::RunOutput) {
    assert!(run.stderr.contains("ignoring PTO2_RING_TASK_WINDOW"), "no exit-time warning:\n{}", run.stderr);
}

/// Runs `program <libsimpler.so> <the four C fixtures> extra…`.
fn run_with_lib_args(program: &str, lang: Lang, extra: &[&str]) -> common::RunOutput {
    let b = built();
    let lib = common::libsimpler_so();
    let mut args: Vec<&Path> = vec![lib.as_path()];
    args.extend(fixture_args(b, Lang::C));
    args.extend(extra.iter().map(Path::new));
    let tag = format!("{program}_{}{}", lang.suffix(), extra.iter().map(|e| format!("_{e}")).collect::<String>());
    // teardown checks the exit-time warning, whatever the caller's log level.
    let envs: &[(&str, &str)] = if program == "teardown" { &[("SIMPLER_LOG_LEVEL", "warn")] } else { &[] };
    let run = common::run_program(b.program(program, lang), &args, envs, PROGRAM_TIMEOUT, &tag);
    assert_passed(&run, &tag);
    run
}

#[test]
fn c_programs_and_fixtures_compile_warning_free_as_c_and_cxx() {
    let b = built();
    for p in b.fixtures_c.iter().chain(b.fixtures_cxx.iter()) {
        assert!(p.is_file(), "{} missing", p.display());
    }
    for name in PROGRAMS {
        for lang in [Lang::C, Lang::Cxx] {
            assert!(b.program(name, lang).is_file());
        }
    }
}

#[test]
fn builder_header_compiles_as_c99() {
    let cc = compiler();
    let out = out_dir();
    let src = out.join("c99_headers.c");
    std::fs::write(
        &src,
        "#include \"chip_callable_builder.h\"\n#include \"simpler_api.h\"\n\
         #include \"hbg_vector_example.h\"\nint main(void) { return 0; }\n",
    )
    .expect("write c99 probe");
    let include = c_tests_dir().join("include");
    let output = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
        .arg(&include)
        .arg(&src)
        .output()
        .expect("run compiler");
    assert!(output.status.success(), "headers do not compile as C99:\n{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn fixtures_selftest_c() {
    let b = built();
    let run = common::run_program(
        b.program("fixtures_selftest", Lang::C),
        &fixture_args(b, Lang::C),
        &[],
        PROGRAM_TIMEOUT,
        "fixtures_selftest_c",
    );
    assert_passed(&run, "fixtures_selftest (C, C fixtures)");
}

#[test]
fn fixtures_selftest_cxx() {
    let b = built();
    let run = common::run_program(
        b.program("fixtures_selftest", Lang::Cxx),
        &fixture_args(b, Lang::Cxx),
        &[],
        PROGRAM_TIMEOUT,
        "fixtures_selftest_cpp",
    );
    assert_passed(&run, "fixtures_selftest (C++, C++ fixtures)");
}

#[test]
fn chipworker_harness_c() {
    run_with_lib("chipworker_harness", Lang::C);
}

#[test]
fn chipworker_harness_cxx() {
    run_with_lib("chipworker_harness", Lang::Cxx);
}

#[test]
fn misuse_c() {
    run_with_lib("misuse", Lang::C);
}

#[test]
fn misuse_cxx() {
    run_with_lib("misuse", Lang::Cxx);
}

// Exit-time teardown: the atexit handler (after main's thread-locals are destroyed)
// runs the example, calls finalize_device twice and destroy_device_context; a
// destructor function then checks the stale handle. "thread": the context was used
// by a thread that has exited, and a pthread key destructor on that thread calls in.

#[test]
fn teardown_from_atexit_c() {
    assert_exit_warning(&run_with_lib_args("teardown", Lang::C, &["atexit"]));
}

#[test]
fn teardown_from_atexit_cxx() {
    assert_exit_warning(&run_with_lib_args("teardown", Lang::Cxx, &["atexit"]));
}

#[test]
fn teardown_after_worker_thread_exit_c() {
    assert_exit_warning(&run_with_lib_args("teardown", Lang::C, &["thread"]));
}

#[test]
fn teardown_after_worker_thread_exit_cxx() {
    assert_exit_warning(&run_with_lib_args("teardown", Lang::Cxx, &["thread"]));
}

#[test]
fn stale_handles_are_refused_by_every_export_c() {
    run_with_lib("stale_handle", Lang::C);
}

#[test]
fn stale_handles_are_refused_by_every_export_cxx() {
    run_with_lib("stale_handle", Lang::Cxx);
}

#[test]
fn lookups_keep_the_last_error_c() {
    run_with_lib("error_slot", Lang::C);
}

#[test]
fn lookups_keep_the_last_error_cxx() {
    run_with_lib("error_slot", Lang::Cxx);
}

/// The tensormap_and_ringbuffer vector example as the teardown program's fixtures:
/// `examples/trb_vector` (C++) and the three `examples/kernels` (C), as shared objects.
fn trb_fixtures() -> &'static [PathBuf; 4] {
    static TRB: OnceLock<[PathBuf; 4]> = OnceLock::new();
    TRB.get_or_init(|| {
        let repo = common::repo();
        let out = out_dir();
        let kernels_dir = repo.join("examples/kernels");
        let inc = format!("-I{}", kernels_dir.display());
        let so_args = ["-shared", "-fPIC", "-Wl,--build-id=sha1", inc.as_str()];
        let orch = out.join("libtrb_vector_orch.so");
        common::compile(true, &[repo.join("examples/trb_vector/orchestration.cpp")], &orch, &so_args);
        let kernel = |name: &str| {
            let so = out.join(format!("libtrb_{name}.so"));
            common::compile(false, &[kernels_dir.join(format!("{name}.c"))], &so, &so_args);
            so
        };
        [orch, kernel("kernel_add"), kernel("kernel_add_scalar"), kernel("kernel_mul")]
    })
}

fn run_teardown_trb(lang: Lang) {
    let b = built();
    let lib = common::libsimpler_so();
    let mut args: Vec<&Path> = vec![lib.as_path()];
    args.extend(trb_fixtures().iter().map(PathBuf::as_path));
    args.push(Path::new("atexit_trb"));
    let tag = format!("teardown_{}_atexit_trb", lang.suffix());
    let run = common::run_program(
        b.program("teardown", lang),
        &args,
        &[("SIMPLER_LOG_LEVEL", "warn")],
        PROGRAM_TIMEOUT,
        &tag,
    );
    assert_passed(&run, &tag);
    assert_exit_warning(&run);
}

#[test]
fn teardown_trb_from_atexit_c() {
    run_teardown_trb(Lang::C);
}

#[test]
fn teardown_trb_from_atexit_cxx() {
    run_teardown_trb(Lang::Cxx);
}
