//! The build script names only files that exist: every repository path in
//! `build.rs` (its compile inputs and its `rerun-if-changed` list) is checked,
//! so a renamed or deleted source cannot make every no-op `cargo build` rerun
//! the script (a missing `rerun-if-changed` path always counts as changed).

#[test]
fn every_path_the_build_script_names_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(root.join("build.rs")).expect("build.rs");
    let roots = ["src/", "csrc/", "include/", "examples", "cbindgen.toml"];
    let paths: Vec<&str> = script
        .split('"')
        .skip(1)
        .step_by(2)
        .map(|s| s.strip_prefix("cargo:rerun-if-changed=").unwrap_or(s))
        .filter(|s| roots.iter().any(|r| s.starts_with(r)) && !s.contains(' ') && !s.contains('{'))
        .collect();
    assert!(paths.len() >= 15, "found only {} paths in build.rs: {paths:?}", paths.len());
    assert!(paths.contains(&"examples") && paths.contains(&"include/pto_kernel_abi.h"), "{paths:?}");
    for p in &paths {
        assert!(root.join(p).exists(), "build.rs names {p}, which does not exist");
    }
}
