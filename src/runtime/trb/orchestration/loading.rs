//! The steps every orchestration SO loader on the TRB engine shares (this
//! variant's [`OrchestrationSo`](super::so::OrchestrationSo) and
//! aicpu_build_graph's ring form): loading the bytes and resolving the entry
//! and the optional config (what a missing config means is the caller's
//! [`MissingConfig`] policy), the config call and the arg-count check
//! before the entry, and the messages of exceptions the C++ trampolines
//! caught.

use std::ffi::{c_char, c_void};

use libloading::os::unix::Library;

use super::layout::{
    PTO2OrchestrationConfig, CHIP_STORAGE_SCALAR_COUNT_OFFSET, CHIP_STORAGE_TASK_ARGS_ALIGN,
    CHIP_STORAGE_TENSOR_COUNT_OFFSET,
};
use crate::diagnostics::{log, Error, Result};
use crate::loader::temp_so::{dlopen_bytes, lookup};

/// Default entry symbol when the callable names none.
pub const DEFAULT_ENTRY_NAME: &str = "aicpu_orchestration_entry";
/// Default config symbol when the callable names none.
pub const DEFAULT_CONFIG_NAME: &str = "aicpu_orchestration_config";

/// `PTO2OrchestrationConfig config(const ChipStorageTaskArgs&)`.
pub(crate) type ConfigFn = unsafe extern "C" fn(args: *const c_void) -> PTO2OrchestrationConfig;

/// Capacity of the exception-message buffer of the trampolines.
pub(crate) const ERR_CAP: usize = 1024;

extern "C" {
    fn simpler_call_orch_config(
        config: ConfigFn,
        args: *const c_void,
        out: *mut i32,
        err: *mut c_char,
        errlen: usize,
    ) -> i32;
}

/// What [`load_entry_and_config`] does when the SO lacks its config symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MissingConfig {
    /// Load without it (no arg-count check): logged at debug level for the
    /// default name, as a warning for a name the callable gave
    /// (tensormap_and_ringbuffer).
    Log,
    /// A name the callable gave must resolve (a load error otherwise); the
    /// default one may be absent, silently (aicpu_build_graph's ring form).
    RequireNamed,
}

/// An orchestration SO's private copy with its entry and optional config
/// resolved.
pub(crate) struct Resolved {
    pub(crate) lib: Library,
    /// The entry's address; its signature is the caller's.
    pub(crate) entry: *mut c_void,
    /// The entry symbol resolved (`func_name`, or the default).
    pub(crate) entry_name: String,
    pub(crate) config: Option<ConfigFn>,
}

/// Loads `bytes` from a unique temporary file named `{file_prefix}…`
/// (`dlopen(RTLD_NOW | RTLD_LOCAL)`, file unlinked right after) and resolves
/// the entry (`func_name`, or [`DEFAULT_ENTRY_NAME`] when empty; required)
/// and the config (`config_name`, or [`DEFAULT_CONFIG_NAME`] when empty;
/// absent as `missing` says). `what` names the SO in messages.
pub(crate) fn load_entry_and_config(
    bytes: &[u8],
    what: &str,
    file_prefix: &str,
    func_name: &str,
    config_name: &str,
    missing: MissingConfig,
) -> Result<Resolved> {
    let lib = dlopen_bytes(bytes, file_prefix, libc::RTLD_NOW | libc::RTLD_LOCAL, what)?;
    let entry_name = if func_name.is_empty() { DEFAULT_ENTRY_NAME } else { func_name };
    let entry = lookup(&lib, entry_name)
        .ok_or_else(|| Error::Load(format!("{what}: entry symbol '{entry_name}' not found")))?;
    let config_sym = if config_name.is_empty() { DEFAULT_CONFIG_NAME } else { config_name };
    let config = lookup(&lib, config_sym);
    if config.is_none() {
        match missing {
            MissingConfig::Log => {
                let msg = format!("{what}: no config symbol '{config_sym}'; arg-count check disabled");
                if config_name.is_empty() {
                    log::debug("OrchestrationSo::load", &msg);
                } else {
                    log::warn("OrchestrationSo::load", &msg);
                }
            }
            MissingConfig::RequireNamed if !config_name.is_empty() => {
                return Err(Error::Load(format!("{what}: config symbol '{config_sym}' not found")));
            }
            MissingConfig::RequireNamed => {}
        }
    }
    // SAFETY: the config symbol is a function of the documented upstream
    // signature (upstream's `pto_orchestration_api.h`, c68d9bbe6): the
    // reference lowers to a pointer and the 4-byte config struct is returned
    // in a register, matching `ConfigFn`. The library outlives the pointer
    // (the caller keeps both together).
    let config = config.map(|c| unsafe { std::mem::transmute::<*mut c_void, ConfigFn>(c) });
    Ok(Resolved { lib, entry, entry_name: entry_name.to_string(), config })
}

/// Refuses a NULL or misaligned `ChipStorageTaskArgs` pointer.
pub(crate) fn check_args_ptr(args: *const u8) -> Result<()> {
    if args.is_null() {
        return Err(Error::NullPointer { what: "orchestration args" });
    }
    if (args as usize) % CHIP_STORAGE_TASK_ARGS_ALIGN != 0 {
        return Err(Error::InvalidArgument(format!(
            "ChipStorageTaskArgs at {args:p} is not {CHIP_STORAGE_TASK_ARGS_ALIGN}-byte aligned"
        )));
    }
    Ok(())
}

/// Calls `config` through the C++ trampoline: its `expected_arg_count`, or
/// the `UserCode` error of an exception escaping it.
///
/// # Safety
/// `config` is a resolved config function of a library still loaded;
/// `args` points to a live, 64-byte aligned, 17472-byte `ChipStorageTaskArgs`
/// image.
pub(crate) unsafe fn call_config(config: ConfigFn, args: *const u8, callable_id: i32) -> Result<i32> {
    let mut err = [0 as c_char; ERR_CAP];
    let mut count = 0i32;
    // SAFETY: `config` has the ConfigFn signature (this fn's contract);
    // `args` is valid per the same; `count` and `err` are live locals of the
    // sizes passed.
    let rc = unsafe { simpler_call_orch_config(config, args.cast(), &mut count, err.as_mut_ptr(), ERR_CAP) };
    if rc != 0 {
        return Err(Error::UserCode(format!(
            "orchestration config of callable {callable_id} threw a C++ exception: {}",
            message_of(&err)
        )));
    }
    Ok(count)
}

/// The arg-count check before the entry: a positive `expected` must not
/// exceed the image's tensor + scalar count; `source` names where
/// `expected` came from in the message.
///
/// # Safety
/// As for [`call_config`] (`args`).
pub(crate) unsafe fn check_arg_count(
    args: *const u8,
    expected: i32,
    callable_id: i32,
    source: std::fmt::Arguments<'_>,
) -> Result<()> {
    // SAFETY: the image is 17472 bytes and 64-aligned (this fn's contract),
    // so both i32 counts at 17408/17412 are in bounds and aligned.
    let (tc, sc) = unsafe {
        (
            *args.add(CHIP_STORAGE_TENSOR_COUNT_OFFSET).cast::<i32>(),
            *args.add(CHIP_STORAGE_SCALAR_COUNT_OFFSET).cast::<i32>(),
        )
    };
    if expected > 0 && (tc as i64 + sc as i64) < expected as i64 {
        return Err(Error::UserCode(format!(
            "orchestration of callable {callable_id} expects at least {expected} arguments ({source}), got {tc} tensors + {sc} scalars"
        )));
    }
    Ok(())
}

/// The `UserCode` error of an exception escaping the entry, with the
/// message the trampoline left in `err`.
pub(crate) fn entry_threw(entry_name: &str, callable_id: i32, err: &[c_char]) -> Error {
    Error::UserCode(format!(
        "orchestration entry '{entry_name}' of callable {callable_id} threw a C++ exception: {}",
        message_of(err)
    ))
}

/// The NUL-terminated message a trampoline wrote into `buf`.
fn message_of(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if text.is_empty() {
        "(no message)".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::task_args::CHIP_STORAGE_TASK_ARGS_SIZE;

    /// A zeroed, 64-aligned `ChipStorageTaskArgs` image with the given counts.
    #[repr(C, align(64))]
    struct Image([u8; CHIP_STORAGE_TASK_ARGS_SIZE]);

    fn image(tensors: i32, scalars: i32) -> Box<Image> {
        let mut img = Box::new(Image([0; CHIP_STORAGE_TASK_ARGS_SIZE]));
        img.0[CHIP_STORAGE_TENSOR_COUNT_OFFSET..][..4].copy_from_slice(&tensors.to_ne_bytes());
        img.0[CHIP_STORAGE_SCALAR_COUNT_OFFSET..][..4].copy_from_slice(&scalars.to_ne_bytes());
        img
    }

    #[test]
    fn arg_count_check_names_the_source_and_both_counts() {
        let img = image(1, 1);
        let p = img.0.as_ptr();
        // SAFETY: `p` is a live, 64-aligned image of the full size.
        unsafe {
            assert!(check_arg_count(p, 2, 7, format_args!("x")).is_ok());
            assert!(check_arg_count(p, 0, 7, format_args!("x")).is_ok(), "0: no check");
            assert!(check_arg_count(p, -1, 7, format_args!("x")).is_ok(), "negative: no check");
            let e = check_arg_count(p, 3, 7, format_args!("config '{}'", "entry")).unwrap_err();
            assert_eq!(
                e.to_string(),
                Error::UserCode(
                    "orchestration of callable 7 expects at least 3 arguments (config 'entry'), got 1 tensors + 1 scalars"
                        .into()
                )
                .to_string()
            );
        }
    }

    #[test]
    fn args_pointer_must_be_non_null_and_aligned() {
        assert!(matches!(check_args_ptr(std::ptr::null()), Err(Error::NullPointer { .. })));
        let img = image(0, 0);
        assert!(check_args_ptr(img.0.as_ptr()).is_ok());
        let e = check_args_ptr(img.0.as_ptr().wrapping_add(8)).unwrap_err();
        assert!(e.to_string().contains("is not 64-byte aligned"), "{e}");
    }

    #[test]
    fn entry_exception_message_is_the_trampolines_text_or_a_placeholder() {
        let mut buf = [0 as c_char; 16];
        let e = entry_threw("main", 3, &buf).to_string();
        assert!(e.contains("orchestration entry 'main' of callable 3 threw a C++ exception: (no message)"), "{e}");
        for (d, s) in buf.iter_mut().zip(b"boom") {
            *d = *s as c_char;
        }
        let e = entry_threw("main", 3, &buf).to_string();
        assert!(e.ends_with("threw a C++ exception: boom"), "{e}");
    }
}
