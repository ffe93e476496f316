//! The crate's module structure, checked from its sources: no import cycles
//! between production modules, every import points down the layers of the
//! README's architecture section, and the runtime variants stay
//! self-contained. Test code (the `tests` / `*_tests` / `testutil` modules
//! and everything from a file's first `#[cfg(test)]` on) must point down the
//! layers too, with no exceptions. The reader is deliberately simple: it
//! looks at `crate::` and `super::` paths outside comments.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Layers, top to bottom; modules in one layer may import each other (no cycles).
const LAYERS: &[&[&str]] = &[
    &["ffi", "demo"],
    &["context"],
    &["runtime"],
    &["callable", "kernel"],
    &["device"],
    &["abi", "config", "loader"],
    &["diagnostics"],
];

/// Imports allowed against the layer order, each with its reason.
const ALLOWED_UPWARD: &[(&str, &str, &str)] = &[];

/// Runtime variants and the other variants each may build on.
const VARIANT_DEPS: &[(&str, &[&str])] = &[("trb", &[]), ("hbg", &[]), ("abg", &["trb", "hbg"])];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/runtime/trb/engine/mod.rs` -> `runtime::trb::engine`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

fn is_test_module(m: &str) -> bool {
    let last = m.rsplit("::").next().unwrap_or(m);
    last == "tests" || last.ends_with("_tests") || last == "testutil"
}

/// A file split into its production text and its test text, comments
/// removed: everything from the first `#[cfg(test)]` item on is test text
/// (test modules sit at the end of a file).
fn split_text(text: &str) -> (String, String) {
    let (mut production, mut test) = (String::new(), String::new());
    let mut in_test = false;
    for line in text.lines() {
        in_test |= line.trim_start().starts_with("#[cfg(test)]");
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let out = if in_test { &mut test } else { &mut production };
        out.push_str(code);
        out.push('\n');
    }
    (production, test)
}

fn ident_end(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(s.len())
}

/// Every module path named after `crate::` (expanding one level of `{a, b}` groups).
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = ident_end(rest);
        let base = rest[..end].trim_end_matches(':').to_string();
        if rest[end..].starts_with('{') && rest[..end].ends_with("::") {
            let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
            for item in rest[end + 1..close].split(',') {
                let item = item.trim();
                let item = &item[..ident_end(item)];
                if !item.is_empty() {
                    out.push(format!("{base}::{}", item.trim_end_matches(':')));
                }
            }
        } else {
            out.push(base);
        }
    }
    out
}

/// Every module path named after `super::`: the parent of `module` (for a
/// file module and for a `mod.rs` alike) joined with the next segment.
fn super_paths(text: &str, module: &str) -> Vec<String> {
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("super::") {
        rest = &rest[i + "super::".len()..];
        let end = ident_end(rest);
        let name = rest[..end].split("::").next().unwrap_or("");
        if name.is_empty() || name == "super" {
            continue;
        }
        out.push(if parent.is_empty() { name.to_string() } else { format!("{parent}::{name}") });
    }
    out
}

struct Crate {
    /// Imports of production code, module -> modules (test modules excluded).
    edges: BTreeMap<String, BTreeSet<String>>,
    /// Imports of test code, by the module holding it -> modules (test modules included).
    test_edges: BTreeMap<String, BTreeSet<String>>,
}

fn read_crate() -> Crate {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files.iter().map(|f| (module_of(&src, f), f.clone())).collect();
    let resolve = |path: &str| -> Option<String> {
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        (1..=segs.len()).rev().map(|n| segs[..n].join("::")).find(|m| modules.contains_key(m))
    };
    // A module importing its own ancestors' items (`crate::a` from `a::b`) is not an edge.
    let targets = |m: &str, paths: Vec<String>, tests_too: bool| -> BTreeSet<String> {
        paths
            .iter()
            .filter_map(|p| resolve(p))
            .filter(|t| t != m && !m.starts_with(&format!("{t}::")) && (tests_too || !is_test_module(t)))
            .collect()
    };
    let mut edges = BTreeMap::new();
    let mut test_edges = BTreeMap::new();
    for (m, f) in &modules {
        if m.is_empty() {
            continue;
        }
        let (production, test) = split_text(&fs::read_to_string(f).expect("read source"));
        if is_test_module(m) {
            let text = production + &test;
            let paths = crate_paths(&text).into_iter().chain(super_paths(&text, m)).collect();
            test_edges.insert(m.clone(), targets(m, paths, true));
            continue;
        }
        let paths = crate_paths(&production).into_iter().chain(super_paths(&production, m)).collect();
        edges.insert(m.clone(), targets(m, paths, false));
        // The test text is mostly inline `mod tests { .. }`, where `super::` is `m` itself.
        let inline = format!("{m}::tests");
        let paths =
            crate_paths(&test).into_iter().chain(super_paths(&test, m)).chain(super_paths(&test, &inline)).collect();
        test_edges.insert(m.clone(), targets(m, paths, true));
    }
    Crate { edges, test_edges }
}

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next()?;
    LAYERS.iter().position(|l| l.contains(&top))
}

fn variant_of(module: &str) -> Option<&str> {
    let mut it = module.split("::");
    (it.next() == Some("runtime")).then(|| it.next()).flatten()
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn the_reader_sees_imports() {
    let c = read_crate();
    assert!(c.edges.len() > 40, "expected the crate's modules, found {}", c.edges.len());
    assert!(c.edges.values().map(BTreeSet::len).sum::<usize>() > 80, "expected imports between modules");
    // Test code is read too, test files and `#[cfg(test)]` tails alike, with test modules as targets.
    assert!(c.test_edges.len() > 40, "expected the crate's test code, found {}", c.test_edges.len());
    let kernel_tests = c.test_edges.get("kernel::tests").expect("kernel/tests.rs is read");
    assert!(kernel_tests.contains("loader::testutil"), "{kernel_tests:?}");
    assert!(!c.edges.contains_key("kernel::tests"), "test files are not production code");
    assert_eq!(crate_paths("use crate::a::{b, c::D};"), vec!["a::b", "a::c::D"]);
    assert_eq!(crate_paths("x = crate::abi::Tensor::new();"), vec!["abi::Tensor::new"]);
}

#[test]
fn no_import_cycles_between_modules() {
    let c = read_crate();
    let found = cycles(&c.edges);
    assert!(found.is_empty(), "import cycles (each line is one strongly connected set):\n{found:#?}");
}

/// The top-level modules missing from [`LAYERS`] and the imports pointing up
/// the layers (minus `allowed`).
fn upward(
    edges: &BTreeMap<String, BTreeSet<String>>,
    allowed: &[(&str, &str, &str)],
) -> (BTreeSet<String>, Vec<String>) {
    let mut unknown = BTreeSet::new();
    let mut upward = Vec::new();
    for (from, tos) in edges {
        let Some(lf) = layer_of(from) else {
            unknown.insert(from.split("::").next().unwrap_or(from).to_string());
            continue;
        };
        for to in tos {
            let Some(lt) = layer_of(to) else { continue };
            let allowed = allowed.iter().any(|(f, t, _)| from.starts_with(f) && to.starts_with(t));
            if lt < lf && !allowed {
                upward.push(format!("{from} -> {to}"));
            }
        }
    }
    (unknown, upward)
}

#[test]
fn imports_point_down_the_layers() {
    let c = read_crate();
    let (unknown, upward) = upward(&c.edges, ALLOWED_UPWARD);
    assert!(unknown.is_empty(), "top-level modules missing from LAYERS: {unknown:?}");
    assert!(upward.is_empty(), "imports pointing up the layers:\n{}", upward.join("\n"));
    assert!(ALLOWED_UPWARD.len() <= 1, "at most one upward import may be allowed");
}

#[test]
fn test_code_imports_point_down_the_layers() {
    let c = read_crate();
    let (unknown, upward) = upward(&c.test_edges, &[]);
    assert!(unknown.is_empty(), "top-level modules missing from LAYERS: {unknown:?}");
    assert!(upward.is_empty(), "test code importing up the layers:\n{}", upward.join("\n"));
}

#[test]
fn runtime_variants_are_self_contained() {
    let c = read_crate();
    let mut crossing = Vec::new();
    for (from, tos) in c.edges.iter().chain(&c.test_edges) {
        let Some(vf) = variant_of(from) else { continue };
        let Some((_, may)) = VARIANT_DEPS.iter().find(|(v, _)| *v == vf) else { continue };
        for to in tos {
            if let Some(vt) = variant_of(to) {
                let is_variant = VARIANT_DEPS.iter().any(|(v, _)| *v == vt);
                if vt != vf && is_variant && !may.contains(&vt) {
                    crossing.push(format!("{from} -> {to}"));
                }
            }
        }
    }
    assert!(crossing.is_empty(), "imports between runtime variants:\n{}", crossing.join("\n"));
}
