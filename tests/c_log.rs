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
