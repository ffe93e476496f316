//! The built `libsimpler.so` exports upstream's ChipWorker symbols, the
//! runtime-variant entries and the simpler API, read from its dynamic symbol
//! table; and it does not export names that would change kernel behaviour.

mod common;

use std::process::Command;

/// The 26 symbols upstream's ChipWorker resolves (upstream src/common/worker/chip_worker.cpp @ c68d9bbe6).
const CHIPWORKER: [&str; 26] = [
    "create_device_context",
    "destroy_device_context",
    "device_malloc_ctx",
    "device_free_ctx",
    "copy_to_device_ctx",
    "copy_from_device_ctx",
    "get_runtime_size",
    "simpler_init",
    "prepare_callable",
    "run_prepared",
    "unregister_callable",
    "get_aicpu_dlopen_count",
    "get_host_dlopen_count",
    "finalize_device",
    "ensure_acl_ready_ctx",
    "create_comm_stream_ctx",
    "destroy_comm_stream_ctx",
    "comm_init",
    "comm_alloc_windows",
    "comm_get_local_window_base",
    "comm_get_window_size",
    "comm_derive_context",
    "comm_alloc_domain_windows",
    "comm_release_domain_windows",
    "comm_barrier",
    "comm_destroy",
];

const VARIANT_AND_PLATFORM: [&str; 6] = [
    "prepare_callable_impl",
    "bind_callable_to_runtime_impl",
    "validate_runtime_impl",
    "get_platform",
    "get_incore_compiler",
    "get_orchestration_compiler",
];

const SIMPLER_API: [&str; 18] = [
    "simpler_init_with_config",
    "run_prepared_with_config",
    "simpler_prepare_callable_sized",
    "pto_runtime_config_init",
    "pto_runtime_config_set",
    "pto_runtime_config_validate",
    "pto_runtime_config_resolve",
    "pto_runtime_config_knob_count",
    "pto_runtime_config_describe",
    "pto_last_error_message",
    "pto_last_error_code",
    "pto_error_name",
    "simpler_version",
    "simpler_log_set_level",
    "simpler_log_get_level",
    "simpler_log_set_callback",
    "create_device_context",
    "run_prepared",
];

/// Names whose presence in the global scope changes how pto-isa kernels behave.
const MUST_NOT_EXPORT: [&str; 4] = [
    "pto_cpu_sim_set_execution_context",
    "pto_cpu_sim_get_execution_context",
    "pto_cpu_sim_get_shared_storage",
    "pto_cpu_sim_get_task_cookie",
];

fn defined_dynamic_functions() -> Vec<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(common::libsimpler_so())
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success(), "nm failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_addr, kind, name) = (f.next()?, f.next()?, f.next()?);
            (kind == "T").then(|| name.to_string())
        })
        .collect()
}

#[test]
fn exports_every_symbol_chipworker_resolves() {
    let syms = defined_dynamic_functions();
    let missing: Vec<_> = CHIPWORKER
        .iter()
        .chain(&VARIANT_AND_PLATFORM)
        .chain(&SIMPLER_API)
        .filter(|s| !syms.iter().any(|x| x == *s))
        .collect();
    assert!(missing.is_empty(), "missing exports: {missing:?}");
    let bad: Vec<_> = MUST_NOT_EXPORT.iter().filter(|s| syms.iter().any(|x| x == *s)).collect();
    assert!(bad.is_empty(), "must not export: {bad:?}");
}
