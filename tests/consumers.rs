//! Consumers of an installed libsimpler, exercised exactly as `README.md`
//! documents them:
//!
//! 1. install into a temporary prefix with `cmake -S . -B build -DCMAKE_INSTALL_PREFIX=$PREFIX &&
//!    cmake --build build && cmake --install build` (reusing cargo's artifacts through
//!    `-DSIMPLER_PREBUILT_DIR`, so no second cargo build runs);
//! 2. the C++ example through CMake (`find_package(simpler)`), through pkg-config, and statically
//!    linked (`simpler::static`); the pure C example (`cmake/example/main.c`) statically linked
//!    with `cc` through `simpler::static` (a C-only project) and through `pkg-config --static`;
//!    the installed headers as C and C++;
//! 3. dlopen by path, as upstream's ChipWorker does;
//! 4. the Python shim: `pip install --target` + `python3 -m pytest python_shim/tests` with
//!    `SIMPLER_PREFIX` pointing at the prefix.
//!
//! When the library exports the host entries (`create_device_context`, `run_prepared_with_config`,
//! ...), every consumer must also run the host_build_graph example; before they exist only the
//! configuration API is required (the example and the pytest `host_api` tests need them).
//!
//! Needs cmake, pkg-config, a C/C++ compiler, and a Python with pytest, numpy and setuptools
//! (`$SIMPLER_PYTHON`, default `python3`). `./scripts/test` installs all of them (Python packages
//! into a virtual environment under `target/`) and sets `SIMPLER_PYTHON`; without them each test
//! fails with a message naming the install command.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Generous bound for one external command (a CMake configure/build, a pytest run).
const STEP_TIMEOUT: Duration = Duration::from_secs(600);

/// How to get the prerequisites, for the messages of tests that lack one.
const INSTALL_HINT: &str = "run `./scripts/test` (installs what is missing, then runs every test), \
     or install it yourself: `apt-get install cmake pkg-config g++` and \
     `python3 -m pip install -r python_shim/requirements-test.txt` (or set SIMPLER_PYTHON to a Python that has them)";

/// The Python that runs pip and pytest: `$SIMPLER_PYTHON` (set by `./scripts/test` to its
/// virtual environment), else `python3`.
fn python() -> String {
    std::env::var("SIMPLER_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into())
}

/// Fails the test with [`INSTALL_HINT`] unless `program args...` runs and succeeds.
fn require(program: &str, args: &[&str], what: &str) {
    let ok = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "this test needs {what} (`{program} {}` failed): {INSTALL_HINT}", args.join(" "));
}

/// Runs `cmd` to completion (killed after [`STEP_TIMEOUT`]); output goes to files so a chatty
/// child can never block on a full pipe. Panics with the output unless it succeeded.
fn run(cmd: &mut Command, what: &str) -> String {
    let (ok, out) = try_run(cmd, what);
    assert!(ok, "{what} failed: {cmd:?}\n{out}");
    out
}

fn try_run(cmd: &mut Command, what: &str) -> (bool, String) {
    let logs = common::scratch("consumers/logs");
    let stem: String = what.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let out_path = logs.join(format!("{stem}.out"));
    let err_path = logs.join(format!("{stem}.err"));
    let stdout = std::fs::File::create(&out_path).expect("create log");
    let stderr = std::fs::File::create(&err_path).expect("create log");
    let mut child = cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr).spawn().unwrap_or_else(|e| {
        // A bare program name not found on PATH is a missing prerequisite.
        let missing_tool =
            e.kind() == std::io::ErrorKind::NotFound && !cmd.get_program().to_string_lossy().contains('/');
        panic!(
            "{what}: cannot start {cmd:?}: {e}{}",
            if missing_tool { format!("; {INSTALL_HINT}") } else { String::new() }
        )
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > STEP_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = format!(
        "{}{}",
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    match status {
        Some(s) => (s.success(), text),
        None => (false, format!("TIMEOUT after {STEP_TIMEOUT:?}\n{text}")),
    }
}

/// Heavy steps (builds, pytest) run one at a time: the machine has two cores.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The install prefix, populated once with the documented commands.
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let root = common::scratch("consumers");
        let prefix = root.join("prefix");
        let build = root.join("build");
        let _ = std::fs::remove_dir_all(&prefix);
        let _ = std::fs::remove_dir_all(&build);
        let repo = common::repo();
        require("cmake", &["--version"], "cmake");
        run(
            Command::new("cmake")
                .arg("-S")
                .arg(&repo)
                .arg("-B")
                .arg(&build)
                .arg(format!("-DCMAKE_INSTALL_PREFIX={}", prefix.display()))
                .arg(format!("-DSIMPLER_PREBUILT_DIR={}", common::lib_dir().display()))
                .arg(format!("-DSIMPLER_PREBUILT_CLI={}", option_env!("CARGO_BIN_EXE_simpler").unwrap_or(""))),
            "cmake configure",
        );
        run(Command::new("cmake").arg("--build").arg(&build), "cmake build");
        run(Command::new("cmake").arg("--install").arg(&build), "cmake install");
        prefix
    })
}

/// Copies `from` into `to` recursively, skipping entries named in `skip` and `*.egg-info`.
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if skip.contains(&name_str.as_ref()) || name_str.ends_with(".egg-info") || name_str.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name), skip);
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copy file");
        }
    }
}

fn lib(prefix: &Path) -> PathBuf {
    prefix.join("lib")
}

/// The installed library exports the host entries the examples run (a hard
/// requirement: every consumer test runs the full path).
fn has_host_api() -> bool {
    let path = lib(prefix()).join("libsimpler.so");
    // SAFETY: loading libsimpler runs no initialisers with preconditions (Rust statics are lazy);
    // symbols are only looked up, never called.
    let lib = unsafe { libloading::Library::new(&path) }.expect("load installed libsimpler");
    let all = ["create_device_context", "simpler_init_with_config", "run_prepared_with_config", "run_prepared"]
        .iter()
        .all(|s| {
            // SAFETY: the symbol is only checked for presence; its type is never used.
            unsafe { lib.get::<*const u8>(s.as_bytes()) }.is_ok()
        });
    assert!(all, "the installed libsimpler lacks the host API entries");
    all
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[test]
fn install_layout() {
    let p = prefix();
    let l = lib(p);
    let real = format!("libsimpler.so.{}", version());
    let major = format!("libsimpler.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
    assert!(l.join(&real).is_file(), "{real} installed");
    assert_eq!(std::fs::read_link(l.join(&major)).expect("soname link"), PathBuf::from(&real));
    assert_eq!(std::fs::read_link(l.join("libsimpler.so")).expect("dev link"), PathBuf::from(&major));
    assert!(l.join("libsimpler.a").is_file());
    // The command-line tool (cargo feature `cli`, on by default), runnable from the prefix.
    if cfg!(feature = "cli") {
        let cli = run(Command::new(p.join("bin/simpler")).arg("--version"), "installed simpler --version");
        assert!(cli.starts_with(&format!("simpler {} (libsimpler {}", version(), version())), "{cli}");
    }
    assert!(p.join("include/simpler.h").is_file());
    for h in std::fs::read_dir(common::repo().join("include")).expect("include dir") {
        let name = h.expect("entry").file_name();
        if name.to_string_lossy().ends_with(".h") {
            assert!(p.join("include").join(&name).is_file(), "{name:?} installed");
        }
    }
    let dynamic = run(Command::new("readelf").arg("-d").arg(l.join(&real)), "readelf");
    assert!(dynamic.contains(&format!("Library soname: [{major}]")), "{dynamic}");
    let cfg = p.join("lib/cmake/simpler");
    assert!(cfg.join("simpler-config.cmake").is_file() && cfg.join("simpler-config-version.cmake").is_file());
    let version_file = std::fs::read_to_string(cfg.join("simpler-config-version.cmake")).expect("version file");
    assert!(version_file.contains(version()), "{version_file}");
}

#[test]
fn pkg_config_metadata() {
    let pc_dir = lib(prefix()).join("pkgconfig");
    let pkg = |args: &[&str]| {
        run(Command::new("pkg-config").env("PKG_CONFIG_PATH", &pc_dir).args(args).arg("simpler"), "pkg-config")
    };
    assert_eq!(pkg(&["--modversion"]).trim(), version());
    let libs = pkg(&["--libs"]);
    assert!(libs.contains("-lsimpler") && !libs.contains("-ldl"), "{libs}");
    let static_libs = pkg(&["--static", "--libs"]);
    for l in ["-lsimpler", "-lstdc++", "-lgcc_s", "-lpthread", "-ldl", "-lm", "-lrt"] {
        assert!(static_libs.contains(l), "{l} in {static_libs}");
    }
    let libdir = PathBuf::from(pkg(&["--variable=libdir"]).trim());
    assert!(libdir.join("libsimpler.so").exists(), "libdir {} resolves to the prefix", libdir.display());
}

#[test]
fn installed_headers_compile_as_c_and_cpp() {
    let include = prefix().join("include");
    let dir = common::scratch("consumers/headers");
    for h in std::fs::read_dir(&include).expect("include dir") {
        let h = h.expect("entry").path();
        let name = h.file_name().expect("name").to_string_lossy().into_owned();
        let tu = dir.join(format!("{name}.c"));
        std::fs::write(&tu, format!("#include \"{name}\"\nint simpler_header_check_dummy;\n")).expect("write tu");
        for (compiler, lang) in [("cc", "c"), ("c++", "c++")] {
            let std = if lang == "c" { "-std=c11" } else { "-std=c++17" };
            run(
                Command::new(compiler)
                    .args(["-x", lang, std, "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
                    .arg(&include)
                    .arg(&tu),
                &format!("{name} as {lang}"),
            );
        }
    }
}

fn example_args(host: bool) -> Vec<&'static str> {
    if host {
        vec!["--require-host-api"]
    } else {
        vec![]
    }
}

fn check_example_output(out: &str, host: bool) {
    assert!(out.contains(" passed, 0 failed"), "{out}");
    if host {
        assert!(out.contains("host API: ran host_build_graph"), "{out}");
    }
}

#[test]
fn cmake_example() {
    let p = prefix();
    let host = has_host_api();
    let _guard = serial();
    let build = common::scratch("consumers/example-cmake");
    let src = common::repo().join("cmake/example");
    cmake_project(p, &src, &build, "example");
    let out = run(Command::new(build.join("app")).args(example_args(host)).env("SIMPLER_LOG_LEVEL", "error"), "app");
    check_example_output(&out, host);
}

#[test]
fn pkg_config_example() {
    let p = prefix();
    let host = has_host_api();
    let _guard = serial();
    require("pkg-config", &["--version"], "pkg-config");
    let out_dir = common::scratch("consumers/example-pkgconfig");
    let script = common::repo().join("cmake/example/build-pkgconfig.sh");
    run(
        Command::new("sh").arg(&script).arg(&out_dir).env("PKG_CONFIG_PATH", lib(p).join("pkgconfig")),
        "build-pkgconfig.sh",
    );
    let mut app = Command::new(out_dir.join("app"));
    app.args(example_args(host)).arg(out_dir.join("liborch.so")).arg(out_dir.join("libkernel_add.so"));
    let out = run(app.env("SIMPLER_LOG_LEVEL", "error"), "pkg-config app");
    check_example_output(&out, host);
}

#[test]
fn static_cmake_consumer() {
    let p = prefix();
    let _guard = serial();
    let proj = common::scratch("consumers/static-src");
    let build = common::scratch("consumers/static-build");
    let main = common::repo().join("cmake/example/main.cpp");
    std::fs::write(
        proj.join("CMakeLists.txt"),
        format!(
            "cmake_minimum_required(VERSION 3.16)\nproject(static_app LANGUAGES CXX)\n\
             set(CMAKE_CXX_STANDARD 17)\nadd_compile_options(-Wall -Wextra -Werror)\n\
             find_package(simpler CONFIG REQUIRED)\nadd_executable(app_static \"{}\")\n\
             target_include_directories(app_static PRIVATE \"{}\")\n\
             target_link_libraries(app_static PRIVATE simpler::static)\n",
            main.display(),
            common::repo().join("cmake/example").display()
        ),
    )
    .expect("write CMakeLists.txt");
    cmake_project(p, &proj, &build, "static");
    let ldd = run(Command::new("ldd").arg(build.join("app_static")), "ldd");
    assert!(!ldd.contains("libsimpler"), "statically linked: {ldd}");
    // Only the configuration API is linked in (the host entries are looked up dynamically).
    let out = run(Command::new(build.join("app_static")).env("SIMPLER_LOG_LEVEL", "error"), "app_static");
    assert!(out.contains(" passed, 0 failed"), "{out}");
}

/// Configures the CMake project `src` in `build` against the installed prefix `p`
/// (`find_package(simpler)` through `CMAKE_PREFIX_PATH`) and builds it.
fn cmake_project(p: &Path, src: &Path, build: &Path, what: &str) {
    run(
        Command::new("cmake")
            .arg("-S")
            .arg(src)
            .arg("-B")
            .arg(build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", p.display())),
        &format!("{what} configure"),
    );
    run(Command::new("cmake").arg("--build").arg(build), &format!("{what} build"));
}

/// The two host_build_graph shared objects of the example, built with `cc` into `dir`.
fn example_hbg_sos(dir: &Path) -> (PathBuf, PathBuf) {
    let hbg = common::repo().join("cmake/example/hbg");
    let orch = dir.join("liborch.so");
    let kernel = dir.join("libkernel_add.so");
    for (src, out) in [("orch.c", &orch), ("kernel_add.c", &kernel)] {
        run(
            Command::new("cc")
                .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"])
                .arg(hbg.join(src))
                .arg("-o")
                .arg(out),
            &format!("cc {src}"),
        );
    }
    (orch, kernel)
}

/// Runs the statically linked pure C example and checks it ran the config API and the
/// host_build_graph example, and that libsimpler is not a runtime dependency.
fn run_static_c_app(exe: &Path, orch: &Path, kernel: &Path, what: &str) {
    let ldd = run(Command::new("ldd").arg(exe), "ldd");
    assert!(!ldd.contains("libsimpler"), "{what}: statically linked: {ldd}");
    let out = run(Command::new(exe).arg(orch).arg(kernel).env("SIMPLER_LOG_LEVEL", "error"), what);
    assert!(out.contains("host API: ran host_build_graph"), "{what}:\n{out}");
    assert!(out.contains(" passed, 0 failed"), "{what}:\n{out}");
}

#[test]
fn static_cmake_c_consumer() {
    let p = prefix();
    let _guard = serial();
    let proj = common::scratch("consumers/static-c-src");
    let build = common::scratch("consumers/static-c-build");
    let example = common::repo().join("cmake/example");
    // LANGUAGES C only: no C++ toolchain is enabled, so the link runs with the C compiler.
    std::fs::write(
        proj.join("CMakeLists.txt"),
        format!(
            "cmake_minimum_required(VERSION 3.16)\nproject(static_c LANGUAGES C)\n\
             set(CMAKE_C_STANDARD 11)\nadd_compile_options(-Wall -Wextra -Werror)\n\
             find_package(simpler CONFIG REQUIRED)\n\
             add_library(orch MODULE \"{ex}/hbg/orch.c\")\nadd_library(kernel_add MODULE \"{ex}/hbg/kernel_add.c\")\n\
             add_executable(app_c \"{ex}/main.c\")\n\
             target_link_libraries(app_c PRIVATE simpler::static)\n",
            ex = example.display()
        ),
    )
    .expect("write CMakeLists.txt");
    cmake_project(p, &proj, &build, "static C");
    run_static_c_app(&build.join("app_c"), &build.join("liborch.so"), &build.join("libkernel_add.so"), "app_c (cmake)");
}

#[test]
fn static_pkg_config_c_consumer() {
    let p = prefix();
    let _guard = serial();
    let dir = common::scratch("consumers/static-c-pkgconfig");
    let (orch, kernel) = example_hbg_sos(&dir);
    let exe = dir.join("app_c");
    // The README's command: name the archive, then the static link's system libraries.
    let script = format!(
        "cc -std=c11 -Wall -Wextra -Werror {main} $(pkg-config --cflags simpler) {lib}/libsimpler.a \
         $(pkg-config --static --libs-only-l simpler | sed 's/-lsimpler//') -o {exe}",
        main = common::repo().join("cmake/example/main.c").display(),
        lib = lib(p).display(),
        exe = exe.display()
    );
    run(Command::new("sh").arg("-c").arg(&script).env("PKG_CONFIG_PATH", lib(p).join("pkgconfig")), "cc static");
    run_static_c_app(&exe, &orch, &kernel, "app_c (pkg-config --static)");
}

#[test]
fn dlopen_by_path() {
    let p = prefix();
    let host = has_host_api();
    let dir = common::scratch("consumers/dlopen");
    let exe = dir.join("dlopen_check");
    run(
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
            .arg(common::repo().join("cmake/example/dlopen_check.c"))
            .arg("-o")
            .arg(&exe)
            .arg("-ldl"),
        "dlopen_check build",
    );
    let mut cmd = Command::new(&exe);
    cmd.arg(lib(p).join("libsimpler.so"));
    if !host {
        cmd.arg("--config-only");
    }
    let out = run(&mut cmd, "dlopen_check");
    assert!(out.contains(&format!("libsimpler {}", version())), "{out}");
}

#[test]
fn python_shim() {
    let p = prefix();
    let host = has_host_api();
    let _guard = serial();
    let repo = common::repo();
    let py = python();
    require(&py, &["-c", "import pytest, numpy, setuptools"], "a Python with pytest, numpy and setuptools");
    let site = common::scratch("consumers/python-site");
    let _ = std::fs::remove_dir_all(&site);
    // Install from a copy so setuptools' build/ and egg-info never land in the source tree.
    let src = common::scratch("consumers/python-src");
    let _ = std::fs::remove_dir_all(&src);
    copy_tree(&repo.join("python_shim"), &src, &["tests", "build", "__pycache__"]);
    run(
        Command::new(&py)
            .args(["-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps", "--target"])
            .arg(&site)
            .arg(&src)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        "pip install python_shim",
    );
    assert!(site.join("pysimpler/__init__.py").is_file(), "pysimpler installed into {}", site.display());
    let mut cmd = Command::new(&py);
    cmd.args(["-m", "pytest", "-p", "no:cacheprovider"])
        .arg(repo.join("python_shim/tests"))
        .current_dir(common::scratch("consumers"))
        .env("SIMPLER_PREFIX", p)
        .env("PYTHONPATH", &site)
        .env("SIMPLER_LOG_LEVEL", "error")
        .env_remove("SIMPLER_LIBRARY")
        .env_remove("SIMPLER_INCLUDE_DIR");
    if !host {
        cmd.args(["-m", "not host_api"]);
    }
    let out = run(&mut cmd, "pytest python_shim/tests");
    assert!(out.contains(&format!("pysimpler: {}", site.join("pysimpler").display())), "installed shim used:\n{out}");
    assert!(out.contains(&format!("libsimpler: {}", lib(p).join("libsimpler.so").display())), "prefix used:\n{out}");
    assert!(out.contains(" passed") && !out.contains(" failed") && !out.contains(" error"), "{out}");
}

/// The README's commands are the ones the tests above run (with `$PREFIX` and the build
/// directories substituted, and `-DSIMPLER_PREBUILT_DIR` added to reuse cargo's artifacts).
#[test]
fn readme_documents_the_commands_run_here() {
    let repo = common::repo();
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("README.md");
    for line in [
        "cmake -S . -B build -DCMAKE_INSTALL_PREFIX=$PREFIX",
        "cmake --build build",
        "cmake --install build",
        "find_package(simpler CONFIG REQUIRED)",
        "target_link_libraries(app PRIVATE simpler::simpler)",
        "cmake -S cmake/example -B build-example -DCMAKE_PREFIX_PATH=$PREFIX",
        "export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig",
        "pip install ./python_shim",
        "SIMPLER_PREFIX=$PREFIX python3 -m pytest python_shim/tests",
        "dlopen(\"/opt/simpler/lib/libsimpler.so\", RTLD_NOW | RTLD_LOCAL)",
        "$(pkg-config --cflags simpler) $PREFIX/lib/libsimpler.a $(pkg-config --static --libs-only-l simpler | sed 's/-lsimpler//')",
        "`stdc++ gcc_s util rt",
    ] {
        assert!(readme.contains(line), "README.md lost {line:?}");
    }
    let example = std::fs::read_to_string(repo.join("cmake/example/CMakeLists.txt")).expect("example CMakeLists");
    assert!(example.contains("find_package(simpler CONFIG REQUIRED)"));
    assert!(example.contains("target_link_libraries(app PRIVATE simpler::simpler"));
    let script = std::fs::read_to_string(repo.join("cmake/example/build-pkgconfig.sh")).expect("script");
    assert!(script.contains("$(pkg-config --cflags --libs simpler)"));
    let dlopen = std::fs::read_to_string(repo.join("cmake/example/dlopen_check.c")).expect("dlopen_check.c");
    assert!(dlopen.contains("dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)"));
}
