//! Build script: generates the C header from the Rust sources with cbindgen.
//! The header is written to `$OUT_DIR/simpler.h`; the committed copy in
//! `include/simpler.h` is checked against it by `tests/header_drift.rs`.

use std::path::PathBuf;

fn generate_header() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("simpler.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    // Only the FFI layer (and the error codes it returns) makes the header:
    // internal constants must never leak into a C namespace.
    let mut builder = cbindgen::Builder::new().with_config(config).with_src(crate_dir.join("src/diagnostics/codes.rs"));
    let mut ffi_files: Vec<PathBuf> = std::fs::read_dir(crate_dir.join("src/ffi"))
        .expect("src/ffi exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    ffi_files.sort();
    for f in ffi_files {
        builder = builder.with_src(f);
    }
    match builder.generate() {
        Ok(bindings) => {
            bindings.write_to_file(&out);
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
}

/// Gives the shared library a versioned soname (`libsimpler.so.<major>`) so
/// installed consumers bind to the major version, not the unversioned link.
/// Programs linked against the build tree's `libsimpler.so` then need
/// `libsimpler.so.<major>` at run time, so the same link is placed next to it
/// (`target/<profile>/`, three levels above `OUT_DIR`), as an install would.
fn soname() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsimpler.so.{major}");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Some(profile_dir) = out.ancestors().nth(3) {
        let link = profile_dir.join(format!("libsimpler.so.{major}"));
        if std::fs::symlink_metadata(&link).is_err() {
            // Best effort: a failure only affects running build-tree programs.
            let _ = std::os::unix::fs::symlink("libsimpler.so", &link);
        }
    }
}

fn main() {
    // Tests compile C code for the same target as the crate.
    println!("cargo:rustc-env=SIMPLER_TEST_TARGET={}", std::env::var("TARGET").expect("cargo sets TARGET"));
    generate_header();
    soname();
}
