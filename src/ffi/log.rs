//! C exports of the logging API (`simpler_log_set_level`,
//! `simpler_log_set_callback`, `simpler_log_get_level`).
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use crate::diagnostics::log::{self, Level, LEVEL_NAMES_TEXT};
use crate::diagnostics::{Error, Result};
use crate::ffi::{guard, guard_code};

/// Log levels. As a threshold, a message passes when its level is at most
/// the threshold; `SIMPLER_LOG_OFF` passes nothing. The default threshold is
/// `SIMPLER_LOG_WARN`, or the environment variable `SIMPLER_LOG_LEVEL`
/// (`off`, `error`, `warn` or `warning`, `info`, `debug`, `trace`; any case;
/// read once, at the first message) until `simpler_log_set_level` is called.
/// `SIMPLER_LOG_DEBUG` adds the library's lifecycle: context init, callable
/// registration with its runtime variant, the resolved configuration of each
/// run and a run summary.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum simpler_log_level_t {
    /// Nothing (threshold only).
    SIMPLER_LOG_OFF = 0,
    /// Failures.
    SIMPLER_LOG_ERROR = 1,
    /// Ignored or suspicious input (e.g. an ignored or misspelled environment variable).
    SIMPLER_LOG_WARN = 2,
    /// Progress information.
    SIMPLER_LOG_INFO = 3,
    /// Lifecycle detail.
    SIMPLER_LOG_DEBUG = 4,
    /// Everything.
    SIMPLER_LOG_TRACE = 5,
}

const _: () = {
    assert!(simpler_log_level_t::SIMPLER_LOG_OFF as i32 == Level::Off as i32);
    assert!(simpler_log_level_t::SIMPLER_LOG_ERROR as i32 == Level::Error as i32);
    assert!(simpler_log_level_t::SIMPLER_LOG_WARN as i32 == Level::Warn as i32);
    assert!(simpler_log_level_t::SIMPLER_LOG_INFO as i32 == Level::Info as i32);
    assert!(simpler_log_level_t::SIMPLER_LOG_DEBUG as i32 == Level::Debug as i32);
    assert!(simpler_log_level_t::SIMPLER_LOG_TRACE as i32 == Level::Trace as i32);
};

fn to_c(level: Level) -> simpler_log_level_t {
    match level {
        Level::Off => simpler_log_level_t::SIMPLER_LOG_OFF,
        Level::Error => simpler_log_level_t::SIMPLER_LOG_ERROR,
        Level::Warn => simpler_log_level_t::SIMPLER_LOG_WARN,
        Level::Info => simpler_log_level_t::SIMPLER_LOG_INFO,
        Level::Debug => simpler_log_level_t::SIMPLER_LOG_DEBUG,
        Level::Trace => simpler_log_level_t::SIMPLER_LOG_TRACE,
    }
}

/// Receives one message: its level (never `SIMPLER_LOG_OFF`), the component
/// that emitted it (`"config"`, `"env"`, `"device"`, ...), the text (no
/// trailing newline) and the `userdata` given to `simpler_log_set_callback`.
/// Both strings are valid only during the call. It may be called from any
/// library thread, also concurrently, but never while the library holds a
/// lock: it may call back into the library. Messages the library emits while
/// the callback runs on the same thread go to stderr.
pub type simpler_log_callback_t = Option<
    unsafe extern "C" fn(
        level: simpler_log_level_t,
        component: *const c_char,
        message: *const c_char,
        userdata: *mut c_void,
    ),
>;

/// A C callback and its userdata.
struct CCallback {
    f: unsafe extern "C" fn(simpler_log_level_t, *const c_char, *const c_char, *mut c_void),
    userdata: *mut c_void,
}

// SAFETY: `userdata` is opaque to the library and only handed back to the
// callback; the C contract of `simpler_log_set_callback` makes the callback
// (and its userdata) callable from any thread.
unsafe impl Send for CCallback {}
// SAFETY: as above; the library never dereferences `userdata`.
unsafe impl Sync for CCallback {}

impl CCallback {
    fn call(&self, level: Level, component: &str, message: &str) {
        let c = CString::new(component.replace('\0', "\\0")).unwrap_or_default();
        let m = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
        // SAFETY: `f` is the function the caller registered with its
        // userdata; both strings are NUL-terminated and live for the call.
        unsafe { (self.f)(to_c(level), c.as_ptr(), m.as_ptr(), self.userdata) }
    }
}

/// Sets the threshold (a `simpler_log_level_t` value, 0..5); it overrides
/// `SIMPLER_LOG_LEVEL`. Returns 0, or PTO_ERR_INVALID_ARGUMENT for any other
/// value (the threshold is then unchanged).
#[no_mangle]
pub extern "C" fn simpler_log_set_level(level: i32) -> i32 {
    guard_code(|| {
        let l = Level::from_i32(level).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "log level {level} is invalid: must be a simpler_log_level_t value in [0, 5] ({LEVEL_NAMES_TEXT})"
            ))
        })?;
        log::set_level(l);
        Ok(())
    })
}

/// The current threshold.
#[no_mangle]
pub extern "C" fn simpler_log_get_level() -> simpler_log_level_t {
    guard(simpler_log_level_t::SIMPLER_LOG_WARN, || Ok(to_c(log::level())))
}

/// Routes every message the library emits to `callback` (with `userdata`)
/// instead of stderr; NULL restores stderr. Returns 0.
#[no_mangle]
pub extern "C" fn simpler_log_set_callback(callback: simpler_log_callback_t, userdata: *mut c_void) -> i32 {
    guard_code(|| -> Result<()> {
        match callback {
            None => log::set_callback(None),
            Some(f) => {
                let cb = CCallback { f, userdata };
                log::set_callback(Some(Arc::new(move |l, c, m| cb.call(l, c, m))));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::host_api;
    use std::ffi::CStr;
    use std::sync::Mutex;
    use std::time::Duration;

    static SEEN: Mutex<Vec<(i32, String, String)>> = Mutex::new(Vec::new());

    /// Records the message and re-enters the library on the same context
    /// (which takes its lock): this would deadlock if called under it.
    unsafe extern "C" fn record(
        level: simpler_log_level_t,
        component: *const c_char,
        message: *const c_char,
        ud: *mut c_void,
    ) {
        // SAFETY: the library passes NUL-terminated strings valid for the call.
        let (c, m) = unsafe { (CStr::from_ptr(component), CStr::from_ptr(message)) };
        let _ = host_api::get_aicpu_dlopen_count(ud);
        let _ = simpler_log_get_level();
        SEEN.lock().unwrap().push((level as i32, c.to_string_lossy().into_owned(), m.to_string_lossy().into_owned()));
    }

    #[test]
    fn set_level_rejects_out_of_range_values() {
        let _g = crate::diagnostics::log::TEST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let before = simpler_log_get_level();
        for bad in [-1, 6, 1000] {
            assert_eq!(simpler_log_set_level(bad), crate::diagnostics::ErrorCode::PtoErrInvalidArgument as i32);
            assert!(crate::diagnostics::last_error::message().contains("must be a simpler_log_level_t value in [0, 5]"));
        }
        assert_eq!(simpler_log_get_level(), before);
        assert_eq!(simpler_log_set_level(simpler_log_level_t::SIMPLER_LOG_TRACE as i32), 0);
        assert_eq!(simpler_log_get_level(), simpler_log_level_t::SIMPLER_LOG_TRACE);
        assert_eq!(simpler_log_set_level(before as i32), 0);
    }

    #[test]
    fn lifecycle_reaches_a_reentrant_callback_without_deadlock() {
        let _g = crate::diagnostics::log::TEST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ctx = host_api::create_device_context();
            assert_eq!(simpler_log_set_level(simpler_log_level_t::SIMPLER_LOG_DEBUG as i32), 0);
            assert_eq!(simpler_log_set_callback(Some(record), ctx), 0);
            let null = std::ptr::null();
            let rc = host_api::simpler_init_with_config(ctx, 0, null, 0, null, 0, null, 0, std::ptr::null());
            let c = host_api::context(ctx).expect("live context");
            let image = crate::demo::vector_style_callable(crate::demo::assets::TRB_VECTOR_ORCH, &{
                use crate::abi::types::ArgDirection::{In, Out};
                [In, In, Out]
            })
            .expect("image");
            crate::demo::register(&c, 5, &image).expect("register");
            let cfg = crate::config::RuntimeConfig::builder().ring_heap(1 << 20).build().expect("cfg");
            crate::demo::run_vector(&c, 5, &crate::demo::exec(None), &cfg).expect("run");
            drop(c);
            assert_eq!(simpler_log_set_callback(None, std::ptr::null_mut()), 0);
            assert_eq!(simpler_log_set_level(simpler_log_level_t::SIMPLER_LOG_WARN as i32), 0);
            assert_eq!(host_api::finalize_device(ctx), 0);
            host_api::destroy_device_context(ctx);
            tx.send(rc).unwrap();
        });
        let rc = rx.recv_timeout(Duration::from_secs(120)).expect("no deadlock: the thread finished");
        assert_eq!(rc, 0);
        let seen = SEEN.lock().unwrap().clone();
        let debug: Vec<&str> = seen
            .iter()
            .filter(|(l, c, _)| *l == simpler_log_level_t::SIMPLER_LOG_DEBUG as i32 && c == "device")
            .map(|(_, _, m)| m.as_str())
            .collect();
        let has = |p: &str| debug.iter().any(|m| m.contains(p));
        assert!(has("context initialised: device 0, runtime inferred per callable"), "{debug:#?}");
        assert!(has("callable 5 registered for runtime tensormap_and_ringbuffer: orchestration 'aicpu_orchestration_entry', 3 kernels"), "{debug:#?}");
        assert!(has("run of callable 5 on device 0 (tensormap_and_ringbuffer, block_dim 3, 4 AICPU threads): ring_task_window=16384 (default"), "{debug:#?}");
        assert!(has("ring_heap=1048576 (explicit)"), "{debug:#?}");
        assert!(has("run of callable 5 done: host "), "{debug:#?}");
    }
}
