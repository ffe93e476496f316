//! Helpers shared by the integration tests that build and run C/C++ programs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Directory holding `libsimpler.so` / `libsimpler.a` of the current profile.
/// `cargo test` leaves it in `target/<profile>/deps/` (next to the test
/// binary); `cargo build` also copies it to `target/<profile>/`.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .skip(1)
        .take(2)
        .find(|d| d.join("libsimpler.so").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("libsimpler.so not found next to {} or its parent", exe.display()))
}

/// Path of the built shared library.
pub fn libsimpler_so() -> PathBuf {
    lib_dir().join("libsimpler.so")
}

/// Repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Scratch directory for build products of a test.
pub fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

/// Path of the C compiler (`cc` crate's choice), and whether it is a C++ run.
fn compiler(cpp: bool) -> PathBuf {
    let mut b = cc::Build::new();
    b.cargo_metadata(false).opt_level(2).host(env!("SIMPLER_TEST_TARGET")).target(env!("SIMPLER_TEST_TARGET"));
    b.cpp(cpp);
    b.get_compiler().path().to_path_buf()
}

/// Compiles `sources` into `out` with `args`, panicking with the compiler's output on failure.
///
/// The compiler writes a file of its own next to `out`, renamed onto `out`
/// once complete: tests running in parallel may build the same `out`, and
/// one must never read the file while another compiler is rewriting it.
pub fn compile(cpp: bool, sources: &[PathBuf], out: &Path, args: &[&str]) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut partial = out.as_os_str().to_owned();
    partial.push(format!(".{}-{n}.partial", std::process::id()));
    let partial = PathBuf::from(partial);
    let mut cmd = Command::new(compiler(cpp));
    if cpp {
        cmd.args(["-x", "c++", "-std=c++17"]);
    } else {
        cmd.arg("-std=c11");
    }
    cmd.args(["-Wall", "-Wextra", "-Werror", "-O2", "-g"]);
    cmd.arg("-I").arg(repo().join("include"));
    cmd.args(sources).arg("-o").arg(&partial).args(args);
    let output = cmd.output().expect("run compiler");
    assert!(
        output.status.success(),
        "compile failed: {:?}\n{}{}",
        cmd,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&partial, out).expect("move the compiled file into place");
}

/// Builds a shared object from C sources.
pub fn shared_object(sources: &[PathBuf], out: &Path, extra: &[&str]) {
    let mut args = vec!["-shared", "-fPIC"];
    args.extend_from_slice(extra);
    compile(false, sources, out, &args);
}

/// Result of one program run.
pub struct RunOutput {
    /// Exited with status 0 before the timeout.
    pub success: bool,
    /// Killed at the timeout.
    pub timed_out: bool,
    /// The exit status, rendered.
    pub status: String,
    /// Captured standard output.
    pub stdout: String,
    /// Captured standard error.
    pub stderr: String,
}

/// Runs `exe args…` with `envs`, stdout/stderr redirected to files under the
/// scratch directory `tag` (no pipe can fill up and stall the child), killing
/// it after `timeout`.
pub fn run_program<A: AsRef<std::ffi::OsStr>>(
    exe: &Path,
    args: &[A],
    envs: &[(&str, &str)],
    timeout: Duration,
    tag: &str,
) -> RunOutput {
    run_program_without(exe, args, envs, &[], timeout, tag)
}

/// [`run_program`] with the variables `remove` taken out of the child's environment.
pub fn run_program_without<A: AsRef<std::ffi::OsStr>>(
    exe: &Path,
    args: &[A],
    envs: &[(&str, &str)],
    remove: &[&str],
    timeout: Duration,
    tag: &str,
) -> RunOutput {
    let out = scratch("runs");
    let stdout_path = out.join(format!("{tag}.stdout"));
    let stderr_path = out.join(format!("{tag}.stderr"));
    let stdout_file = std::fs::File::create(&stdout_path).expect("create stdout file");
    let stderr_file = std::fs::File::create(&stderr_path).expect("create stderr file");
    let mut cmd = Command::new(exe);
    for var in remove {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout_file)
        .stderr(stderr_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let start = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break (status, false);
        }
        if start.elapsed() > timeout {
            // Kill only our own child, by its handle.
            let _ = child.kill();
            break (child.wait().expect("wait after kill"), true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    RunOutput {
        success: status.success() && !timed_out,
        timed_out,
        status: format!("{status}"),
        stdout: read(&stdout_path),
        stderr: read(&stderr_path),
    }
}

/// Link arguments for a program using libsimpler (shared, with rpath).
/// The library's soname is `libsimpler.so.<major>`, which cargo does not
/// create in the build tree; a symlink next to it lets such programs start.
pub fn link_simpler() -> Vec<String> {
    let d = lib_dir();
    let soname = d.join(concat!("libsimpler.so.", env!("CARGO_PKG_VERSION_MAJOR")));
    if std::fs::symlink_metadata(&soname).is_err() {
        let _ = std::os::unix::fs::symlink("libsimpler.so", &soname);
    }
    vec![format!("-L{}", d.display()), "-lsimpler".into(), format!("-Wl,-rpath,{}", d.display())]
}
