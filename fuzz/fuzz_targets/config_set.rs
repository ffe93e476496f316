//! Fuzz target `config_set`: the string setter behind `pto_runtime_config_set`,
//! called both as Rust (`RuntimeConfig::set_str`) and through the C export.
//!
//! Input: lines `KNOB=VALUE` applied in order to one Rust config and one C
//! `pto_runtime_config_t` (a line without `=` is set as the value of every
//! knob in turn). C strings end at the first NUL byte, as C would see them.
//! Checks after every step: the C export and the Rust setter agree (success,
//! or the same numbered error code with a non-empty message); a failed set
//! leaves the C struct unchanged; non-UTF-8 text is an error, never a panic;
//! the C struct decodes to exactly the Rust config; every successfully set
//! config validates (Rust and C).
#![cfg_attr(fuzzing, no_main)]

use std::ffi::{c_char, CStr, CString};

use simpler::config::{RuntimeConfig, KNOBS};
use simpler::ffi::config::{
    config_from_c, pto_last_error_code, pto_last_error_message, pto_runtime_config_init, pto_runtime_config_set,
    pto_runtime_config_t, pto_runtime_config_validate,
};
use simpler::{Error, ErrorCode};

/// The bytes a C caller would pass: up to the first NUL.
fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).expect("no interior NUL after truncation")
}

/// Runs one input; panics on any broken property.
pub fn run(data: &[u8]) {
    let mut rust = RuntimeConfig::new();
    let mut c = std::mem::MaybeUninit::<pto_runtime_config_t>::uninit();
    assert_eq!(pto_runtime_config_init(c.as_mut_ptr()), 0);
    // SAFETY: pto_runtime_config_init returned 0, so it wrote every field.
    let mut c = unsafe { c.assume_init() };
    for line in data.split(|&b| b == b'\n') {
        match line.iter().position(|&b| b == b'=') {
            Some(eq) => set_both(&mut rust, &mut c, &line[..eq], &line[eq + 1..]),
            None => KNOBS.iter().for_each(|k| set_both(&mut rust, &mut c, k.name.as_bytes(), line)),
        }
    }
}

fn set_both(rust: &mut RuntimeConfig, c: &mut pto_runtime_config_t, knob: &[u8], value: &[u8]) {
    let (knob, value) = (c_string(knob), c_string(value));
    let before = fields(c);
    let rc = pto_runtime_config_set(c, knob.as_ptr(), value.as_ptr());
    assert_ne!(rc, ErrorCode::PtoErrPanic as i32, "pto_runtime_config_set panicked: {}", last_message());
    assert_eq!(rc, pto_last_error_code(), "return code and pto_last_error_code differ");
    match (knob.to_str(), value.to_str()) {
        (Ok(k), Ok(v)) => match rust.set_str(k, v) {
            Ok(()) => assert_eq!(rc, 0, "C refused {k:?}={v:?} that Rust accepted: {}", last_message()),
            Err(e) => {
                let want = Error::from(e).api_code();
                assert_eq!(rc, want, "C and Rust disagree on {k:?}={v:?}: {}", last_message());
            }
        },
        _ => assert_ne!(rc, 0, "non-UTF-8 text accepted"),
    }
    if rc != 0 {
        assert!(!last_message().is_empty(), "error {rc} without a message");
        assert_eq!(fields(c), before, "a failed set changed the config");
    }
    match config_from_c(c) {
        Ok(decoded) => assert_eq!(&decoded, rust, "C config and Rust config diverged"),
        Err(e) => panic!("C config no longer decodes: {e}"),
    }
    if let Err(e) = rust.validate() {
        panic!("a config built only by successful sets fails validation: {e}");
    }
    assert_eq!(pto_runtime_config_validate(c), 0, "C validate: {}", last_message());
}

/// Every field of a C config (for "unchanged" comparisons).
type Fields = (u64, u64, u64, u64, [u64; 4], [u64; 4], [u64; 4], u64, u64, i32, i32);

fn fields(c: &pto_runtime_config_t) -> Fields {
    (
        c.struct_size,
        c.ring_task_window,
        c.ring_heap,
        c.ring_dep_pool,
        c.ring_task_windows,
        c.ring_heaps,
        c.ring_dep_pools,
        c.ready_queue_shards,
        c.scheduler_timeout_ms,
        c.orch_to_sched,
        c.runtime,
    )
}

fn last_message() -> String {
    let p: *const c_char = pto_last_error_message();
    assert!(!p.is_null());
    // SAFETY: pto_last_error_message returns a NUL-terminated string valid
    // until the next call into the library on this thread.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
