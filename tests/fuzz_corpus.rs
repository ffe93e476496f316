//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/*`) through
//! the entry function of its fuzz target (`fuzz/fuzz_targets/<target>.rs`, the
//! same `run` that libFuzzer calls), on stable Rust, in every `cargo test`.
//! A file that panics (a crash, an overflow, a broken property) fails the test
//! and is named. The target list is checked against `fuzz/Cargo.toml` and the
//! corpus directories, and the builder-made ChipCallable seeds are checked to
//! match what the current `ChipCallableBuilder` produces.
//!
//! `SIMPLER_BLESS=1 cargo test --test fuzz_corpus` rewrites the generated
//! ChipCallable seeds (and the ones holding real compiled shared objects).
// `cfg(fuzzing)` is set only by cargo-fuzz (it gates `fuzz_target!` in the targets).
#![allow(unexpected_cfgs)]

mod common;

use std::path::{Path, PathBuf};

use simpler::abi::{ArgDirection, ChipCallableBuilder};

#[path = "../fuzz/fuzz_targets/chip_callable.rs"]
mod chip_callable;
#[path = "../fuzz/fuzz_targets/config_set.rs"]
mod config_set;
#[path = "../fuzz/fuzz_targets/elf_image.rs"]
mod elf_image;
#[path = "../fuzz/fuzz_targets/env_value.rs"]
mod env_value;
#[path = "../fuzz/fuzz_targets/task_args.rs"]
mod task_args;

/// A fuzz target's entry: one input, panics on a broken property.
type Entry = fn(&[u8]);

/// Every fuzz target: its name (= `[[bin]]` name = corpus directory) and entry.
const TARGETS: &[(&str, Entry)] = &[
    ("env_value", env_value::run),
    ("config_set", config_set::run),
    ("chip_callable", chip_callable::run),
    ("task_args", task_args::run),
    ("elf_image", elf_image::run),
];

/// Each target's committed corpus holds at least this many seeds.
const MIN_SEEDS: usize = 4;

fn fuzz_dir() -> PathBuf {
    common::repo().join("fuzz")
}

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} unreadable: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_corpus_file_replays_cleanly() {
    let mut failures = Vec::new();
    for &(target, run) in TARGETS {
        let files = corpus_files(target);
        assert!(files.len() >= MIN_SEEDS, "{target}: {} seeds, want at least {MIN_SEEDS}", files.len());
        for f in &files {
            let data = std::fs::read(f).expect("read corpus file");
            if let Err(p) = std::panic::catch_unwind(|| run(&data)) {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{target}: {}: {msg}", f.display()));
            }
        }
        eprintln!("{target}: replayed {} corpus files", files.len());
    }
    assert!(failures.is_empty(), "corpus files that fail their target:\n{}", failures.join("\n"));
}

/// `[[bin]]` names of fuzz/Cargo.toml.
fn cargo_bins() -> Vec<String> {
    let toml = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("read fuzz/Cargo.toml");
    let mut bins = Vec::new();
    let mut in_bin = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(v) = line.strip_prefix("name").map(str::trim).and_then(|v| v.strip_prefix('=')) {
            if in_bin {
                bins.push(v.trim().trim_matches('"').to_string());
            }
        }
    }
    bins
}

#[test]
fn targets_bins_and_corpus_directories_agree() {
    let mut registered: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    registered.sort();
    let mut bins = cargo_bins();
    bins.sort();
    assert_eq!(bins, registered, "fuzz/Cargo.toml [[bin]]s vs TARGETS in tests/fuzz_corpus.rs");
    let mut dirs: Vec<String> = std::fs::read_dir(fuzz_dir().join("corpus"))
        .expect("fuzz/corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, registered, "fuzz/corpus/* vs TARGETS in tests/fuzz_corpus.rs");
    for name in &registered {
        let src = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        assert!(
            text.contains("fuzz_target!(|data: &[u8]| run(data))"),
            "{} must hand libFuzzer its `run`",
            src.display()
        );
    }
}

/// ChipCallable seeds made by the builder: valid images and their boundaries.
fn builder_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use ArgDirection::*;
    let orch: Vec<u8> = b"\x7fELF\x02\x01\x01".iter().copied().chain((0..57u8).map(|i| i.wrapping_mul(37))).collect();
    let minimal = ChipCallableBuilder::new(&[], "f", &[]).build().expect("minimal image");
    let mut vector = ChipCallableBuilder::new(&[In, In, Out, Scalar], "build_example_graph", &orch);
    vector.config_name("aicpu_orchestration_config");
    vector.child(0, &[In, In, Out], &[0xAA; 10]).child(1, &[In, Scalar, Out], &[0xBB; 70]);
    vector.child(2, &[In, In, Out], &[0xCC; 1]);
    let vector = vector.build().expect("vector image");
    let name63 = "n".repeat(63);
    let mut limits = ChipCallableBuilder::new(&[Inout; 128], &name63, &[]);
    limits.config_name(&name63).child(1023, &[Inout; 32], &[]).child(0, &[], &[0x7f]);
    let limits = limits.build().expect("limits image");
    let mut trailing = vector.clone();
    trailing.extend_from_slice(&[0xEE; 100]);
    let cut_in_child = vector[..vector.len() - 1].to_vec();
    let cut_in_header = vector[..8860].to_vec();
    // child 1's offset moved back onto child 0's binary.
    let mut overlap = vector.clone();
    let off0 = u32::from_ne_bytes(overlap[4684..4688].try_into().expect("4 bytes"));
    overlap[4688..4692].copy_from_slice(&(off0 + 64).to_ne_bytes());
    vec![
        ("builder_minimal.bin", minimal),
        ("builder_vector.bin", vector),
        ("builder_limits.bin", limits),
        ("builder_trailing_bytes.bin", trailing),
        ("builder_cut_in_child.bin", cut_in_child),
        ("builder_cut_in_header.bin", cut_in_header),
        ("builder_child_overlap.bin", overlap),
    ]
}

fn bless() -> bool {
    std::env::var_os("SIMPLER_BLESS").is_some_and(|v| v == "1")
}

/// The hbg vector example as a real image: the fixture orchestration and
/// kernels compiled to stripped shared objects (only written when blessing:
/// compiler output differs between machines).
fn write_real_image_seed(dir: &Path) {
    let src = common::repo().join("c_tests/fixtures/hbg_vector");
    let out = common::scratch("fuzz_corpus");
    let include = format!("-I{}", common::repo().join("c_tests/include").display());
    let so = |name: &str| -> Vec<u8> {
        let path = out.join(format!("lib{name}.so"));
        common::shared_object(&[src.join(format!("{name}.c"))], &path, &[&include, "-s", "-Wl,-z,noseparate-code"]);
        std::fs::read(&path).expect("read shared object")
    };
    use ArgDirection::*;
    let mut b = ChipCallableBuilder::new(&[In, In, Out], "build_example_graph", &so("orchestration"));
    b.child(0, &[In, In, Out], &so("kernel_add")).child(1, &[In, Scalar, Out], &so("kernel_add_scalar"));
    b.child(2, &[In, In, Out], &so("kernel_mul"));
    std::fs::write(dir.join("real_hbg_vector.bin"), b.build().expect("real image")).expect("write seed");
}

#[test]
fn builder_made_chip_callable_seeds_are_committed_and_current() {
    let dir = fuzz_dir().join("corpus/chip_callable");
    if bless() {
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        for (name, bytes) in builder_seeds() {
            std::fs::write(dir.join(name), bytes).expect("write seed");
        }
        write_real_image_seed(&dir);
    }
    for (name, bytes) in builder_seeds() {
        let committed = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("seed {name} missing ({e}); SIMPLER_BLESS=1 cargo test --test fuzz_corpus"));
        assert!(committed == bytes, "seed {name} differs from the builder's image; SIMPLER_BLESS=1 refreshes it");
    }
    let real = std::fs::read(dir.join("real_hbg_vector.bin")).expect("real_hbg_vector.bin committed");
    let parsed = simpler::abi::parse_chip_callable(&real).expect("the real image parses");
    assert!(parsed.orch_so.starts_with(b"\x7fELF") && parsed.children.len() == 3);
    assert!(parsed.children.iter().all(|c| c.binary.starts_with(b"\x7fELF")));
}

/// The seeds named `valid_*` (task_args) and the real kernel (elf_image) are
/// accepted, every other seed of those targets is refused: the corpus covers
/// both verdicts, so the fuzzers start from each side of every rule.
#[test]
fn validator_seeds_cover_both_verdicts() {
    for (target, accepts, accepted) in [
        ("task_args", task_args::accepts as fn(&[u8]) -> bool, "valid_"),
        ("elf_image", elf_image::accepts as fn(&[u8]) -> bool, "kernel_noop.so"),
    ] {
        for f in corpus_files(target) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&f).unwrap();
            assert_eq!(accepts(&data), name.starts_with(accepted), "{target}/{name}");
        }
    }
}
