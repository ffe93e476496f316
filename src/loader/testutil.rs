//! Test support for every layer above the loader: compiling C/C++ sources of
//! the repository into shared objects with the `cc` crate's compiler (the
//! example shared objects build.rs compiles are in `loader::example_sos`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use once_cell::sync::Lazy;

/// Repository root (for example sources).
pub(crate) fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

static BUILT: Lazy<Mutex<HashMap<String, Vec<u8>>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// Compiles `sources` (paths relative to the repository) into a shared
/// object and returns its bytes; cached per (sources, cpp, defines).
pub(crate) fn build_so(sources: &[&str], cpp: bool, defines: &[&str]) -> Vec<u8> {
    let key = format!("{sources:?}{cpp}{defines:?}");
    if let Some(b) = BUILT.lock().unwrap().get(&key) {
        return b.clone();
    }
    let target = option_env!("SIMPLER_BUILD_TARGET").unwrap_or("x86_64-unknown-linux-gnu");
    let compiler = cc::Build::new()
        .cpp(cpp)
        .target(target)
        .host(target)
        .opt_level(2)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .get_compiler();
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "simpler_orchabi_test_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.so");
    let mut cmd = compiler.to_command();
    cmd.args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror"]);
    if cpp {
        cmd.args(["-std=c++17", "-fno-gnu-unique"]);
    } else {
        cmd.arg("-std=c11");
    }
    cmd.arg(format!("-I{}", repo_path("include").display()));
    cmd.arg(format!("-I{}", repo_path("examples/kernels").display()));
    cmd.arg(format!("-I{}", repo_path("c_tests/include").display()));
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    for s in sources {
        cmd.arg(repo_path(s));
    }
    cmd.arg("-o").arg(&out);
    if !cpp {
        cmd.arg("-ldl");
    }
    let output = cmd.output().expect("run compiler");
    assert!(output.status.success(), "compiling {sources:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    BUILT.lock().unwrap().insert(key, bytes.clone());
    bytes
}
