//! Builds `c_tests/log_api.c` as C and as C++ against include/simpler.h,
//! links libsimpler and runs it (logging API, typo and look-alike warnings,
//! a re-entrant callback, `SIMPLER_LOG_LEVEL` in mixed case).

mod common;

use std::time::Duration;

fn build_and_run(cpp: bool) {
    let tag = if cpp { "log_api_cpp" } else { "log_api_c" };
    let dir = common::scratch("c_log");
    let exe = dir.join(tag);
    let link = common::link_simpler();
    let link: Vec<&str> = link.iter().map(String::as_str).collect();
    common::compile(cpp, &[common::repo().join("c_tests/log_api.c")], &exe, &link);
    let run =
        common::run_program(&exe, &[] as &[&str], &[("SIMPLER_LOG_LEVEL", " DeBuG ")], Duration::from_secs(60), tag);
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(run.success, "log_api ({tag}) failed ({}):\n{out}", run.status);
    assert!(run.stdout.contains(" passed, 0 failed"), "{out}");
    // After the callback is cleared, the same warning goes to stderr in upstream's format.
    assert!(run.stderr.contains("][WARN] env: PTO2_ORCH_TO_SCHED=\"yes\" reads as false"), "{out}");
}

#[test]
fn log_api_as_c() {
    build_and_run(false);
}

#[test]
fn log_api_as_cpp() {
    build_and_run(true);
}

/// The README's C logging snippet compiles warning-free and prints a typo warning through
/// the callback it installs.
#[test]
fn readme_c_logging_snippet_works() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).expect("README.md");
    let block = readme
        .split("```c\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("simpler_log_set_callback(on_log"))
        .expect("a C block with simpler_log_set_callback(on_log, ...)");
    let split = block.find("simpler_log_set_level").expect("statements start at simpler_log_set_level");
    let (file_scope, statements) = block.split_at(split);
    let source = format!(
        "#include <stdio.h>\n#include \"simpler.h\"\n{file_scope}\nint main(void) {{\n    pto_runtime_config_t cfg;\n    \
         pto_resolved_config_t res;\n{statements}\n    pto_runtime_config_init(&cfg);\n    res.struct_size = sizeof res;\n    \
         return pto_runtime_config_resolve(&cfg, &res) == PTO_OK ? 0 : 1;\n}}\n"
    );
    let dir = common::scratch("c_log_readme");
    let src = dir.join("readme_log.c");
    std::fs::write(&src, source).expect("write the snippet program");
    let exe = dir.join("readme_log");
    let link = common::link_simpler();
    let link: Vec<&str> = link.iter().map(String::as_str).collect();
    common::compile(false, &[src], &exe, &link);
    let run =
        common::run_program(&exe, &[] as &[&str], &[("PTO2_RING_HEAPZ", "1")], Duration::from_secs(60), "readme_log");
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("2 env: PTO2_RING_HEAPZ is not a known variable; did you mean PTO2_RING_HEAP?"),
        "{}",
        run.stderr
    );
}
