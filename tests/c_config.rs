//! Builds `c_tests/config_api.c` as C and as C++ against include/simpler.h,
//! links libsimpler and runs it.

mod common;

use std::time::Duration;

fn build_and_run(cpp: bool) {
    let dir = common::scratch("c_config");
    let exe = dir.join(if cpp { "config_api_cpp" } else { "config_api_c" });
    let link = common::link_simpler();
    let link: Vec<&str> = link.iter().map(String::as_str).collect();
    common::compile(cpp, &[common::repo().join("c_tests/config_api.c")], &exe, &link);
    let tag = if cpp { "config_api_cpp" } else { "config_api_c" };
    let run = common::run_program(&exe, &[] as &[&str], &[("SIMPLER_LOG_LEVEL", "off")], Duration::from_secs(60), tag);
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(run.success, "config_api ({}) failed ({}):\n{out}", if cpp { "C++" } else { "C" }, run.status);
    assert!(run.stdout.contains(" passed, 0 failed"), "{out}");
}

#[test]
fn config_api_as_c() {
    build_and_run(false);
}

#[test]
fn config_api_as_cpp() {
    build_and_run(true);
}
