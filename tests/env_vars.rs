//! Every environment variable the project reads with a `PTO2_`, `PTO_` or
//! `SIMPLER_` prefix is known to the typo check (else setting it would be
//! reported as a misspelling), and the README lists the documented ones.

use std::path::{Path, PathBuf};

const READ_PATTERNS: [&str; 9] = [
    "var_os(\"",
    "env::var(\"",
    "getenv(\"",
    "environ.get(\"",
    "environ[\"",
    "$ENV{",
    "os.getenv(\"",
    "env!(\"",
    "cargo:rustc-env=",
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !matches!(name, "target" | "build" | ".git" | "__pycache__") && !name.starts_with("build-") {
                files(&p, out);
            }
        } else if [".rs", ".py", ".c", ".cpp", ".h", ".hpp", ".cmake", ".sh", ".txt", ".in"]
            .iter()
            .any(|x| name.ends_with(x))
            || name == "run"
        {
            out.push(p);
        }
    }
}

fn read_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for pat in READ_PATTERNS {
        for (at, _) in text.match_indices(pat) {
            let rest = &text[at + pat.len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if simpler::config::env::CHECKED_PREFIXES.iter().any(|p| name.starts_with(p)) {
                names.push(name);
            }
        }
    }
    names
}

#[test]
fn every_variable_the_project_reads_is_known() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for d in ["src", "tests", "python_shim", "cmake", "c_tests", "csrc", "examples", ".ci"] {
        files(&root.join(d), &mut all);
    }
    all.push(root.join("build.rs"));
    all.push(root.join("CMakeLists.txt"));
    let known = simpler::config::env::known_variables();
    let mut found = 0;
    let mut unknown = Vec::new();
    for f in all.iter().filter(|f| !f.ends_with("tests/env_vars.rs")) {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for name in read_names(&text) {
            found += 1;
            if !known.contains(&name.as_str()) {
                unknown.push(format!("{name} (read in {})", f.strip_prefix(root).unwrap_or(f).display()));
            }
        }
    }
    assert!(found >= 5, "the scan found only {found} reads: the patterns no longer match the sources");
    assert!(
        unknown.is_empty(),
        "add these to DOCUMENTED_VARIABLES in src/config/env.rs and to the README: {unknown:?}"
    );
}

#[test]
fn the_scanner_sees_reads_in_each_language() {
    let src =
        r#"std::env::var_os("SIMPLER_A"); os.environ.get("SIMPLER_B"); getenv("PTO2_C"); $ENV{PTO_D} env::var("HOME")"#;
    assert_eq!(read_names(src), ["SIMPLER_A", "PTO2_C", "SIMPLER_B", "PTO_D"]);
}

#[test]
fn readme_lists_every_documented_variable() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    for (name, _) in simpler::config::env::DOCUMENTED_VARIABLES {
        assert!(readme.contains(&format!("`{name}`")), "README.md does not document {name}");
    }
}
