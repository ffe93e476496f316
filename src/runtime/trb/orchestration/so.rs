//! A loaded TRB orchestration SO: entry, optional config, and the
//! `framework_bind_runtime` hook, called in upstream's order (config →
//! arg-count check → bind → entry → unbind), with C++ exceptions caught by
//! a C++ trampoline.

use std::ffi::{c_char, c_void};

use libloading::os::unix::Library;

use super::layout::{
    PTO2OrchestrationConfig, PTO2RuntimeHead, CHIP_STORAGE_SCALAR_COUNT_OFFSET, CHIP_STORAGE_TASK_ARGS_ALIGN,
    CHIP_STORAGE_TENSOR_COUNT_OFFSET,
};
use super::ops::RuntimeObject;
use crate::diagnostics::{log, Error, Result};
use crate::loader::temp_so::{dlopen_bytes, lookup};
use crate::runtime::trb::api::OrchestratorApi;

/// Default entry symbol when the callable names none.
pub const DEFAULT_ENTRY_NAME: &str = "aicpu_orchestration_entry";
/// Default config symbol when the callable names none.
pub const DEFAULT_CONFIG_NAME: &str = "aicpu_orchestration_config";
/// Fixed name of the runtime-binding hook.
pub const BIND_SYMBOL: &str = "framework_bind_runtime";

/// `void entry(const ChipStorageTaskArgs&)`.
type EntryFn = unsafe extern "C" fn(args: *const c_void);
/// `PTO2OrchestrationConfig config(const ChipStorageTaskArgs&)`.
type ConfigFn = unsafe extern "C" fn(args: *const c_void) -> PTO2OrchestrationConfig;
/// `extern "C" void framework_bind_runtime(PTO2Runtime*)`.
type BindFn = unsafe extern "C" fn(rt: *mut PTO2RuntimeHead);

/// Capacity of the exception-message buffer of the trampolines.
const ERR_CAP: usize = 1024;

extern "C" {
    fn simpler_call_orch_entry(entry: EntryFn, args: *const c_void, err: *mut c_char, errlen: usize) -> i32;
    fn simpler_call_orch_config(
        config: ConfigFn,
        args: *const c_void,
        out: *mut i32,
        err: *mut c_char,
        errlen: usize,
    ) -> i32;
}

/// A TRB orchestration SO loaded from bytes into its own private copy.
#[derive(Debug)]
pub struct OrchestrationSo {
    entry: EntryFn,
    config: Option<ConfigFn>,
    bind: BindFn,
    callable_id: i32,
    entry_name: String,
    // Dropped last: the function pointers above point into it.
    _lib: Library,
}

impl OrchestrationSo {
    /// Loads `bytes` from a unique temporary file (`dlopen(RTLD_NOW |
    /// RTLD_LOCAL)`, file unlinked right after) and resolves the entry
    /// (`func_name`, or `aicpu_orchestration_entry` when empty; required),
    /// the config (`config_name`, or `aicpu_orchestration_config` when
    /// empty; optional) and `framework_bind_runtime` (required).
    pub fn load(bytes: &[u8], callable_id: i32, func_name: &str, config_name: &str) -> Result<OrchestrationSo> {
        let what = format!("orchestration SO of callable {callable_id}");
        let lib = dlopen_bytes(
            bytes,
            &format!("libsimpler_orch_cid{callable_id}_"),
            libc::RTLD_NOW | libc::RTLD_LOCAL,
            &what,
        )?;
        let entry_name = if func_name.is_empty() { DEFAULT_ENTRY_NAME } else { func_name };
        let entry = lookup(&lib, entry_name)
            .ok_or_else(|| Error::Load(format!("{what}: entry symbol '{entry_name}' not found")))?;
        let config_sym = if config_name.is_empty() { DEFAULT_CONFIG_NAME } else { config_name };
        let config = lookup(&lib, config_sym);
        if config.is_none() {
            let msg = format!("{what}: no config symbol '{config_sym}'; arg-count check disabled");
            if config_name.is_empty() {
                log::debug("OrchestrationSo::load", &msg);
            } else {
                log::warn("OrchestrationSo::load", &msg);
            }
        }
        let bind = lookup(&lib, BIND_SYMBOL)
            .ok_or_else(|| Error::Load(format!("{what}: required symbol '{BIND_SYMBOL}' not found")))?;
        // SAFETY: the symbols are functions of the documented upstream
        // signatures (upstream's `pto_orchestration_api.h`, c68d9bbe6): references lower to pointers and
        // the 4-byte config struct is returned in a register, matching the
        // Rust types. The library outlives the pointers (field order).
        let (entry, config, bind) = unsafe {
            (
                std::mem::transmute::<*mut c_void, EntryFn>(entry),
                config.map(|c| std::mem::transmute::<*mut c_void, ConfigFn>(c)),
                std::mem::transmute::<*mut c_void, BindFn>(bind),
            )
        };
        Ok(OrchestrationSo { entry, config, bind, callable_id, entry_name: entry_name.to_string(), _lib: lib })
    }

    /// The resolved entry symbol name.
    #[cfg(test)]
    pub fn entry_name(&self) -> &str {
        &self.entry_name
    }

    /// Whether the SO exports a config function.
    #[cfg(test)]
    pub fn has_config(&self) -> bool {
        self.config.is_some()
    }

    /// Calls the config function (if any) and returns its
    /// `expected_arg_count` (`None` without config).
    ///
    /// # Safety
    /// `args` must point to a live, 64-byte aligned, 17472-byte
    /// `ChipStorageTaskArgs` image.
    pub unsafe fn expected_arg_count(&self, args: *const u8) -> Result<Option<i32>> {
        check_args_ptr(args)?;
        let Some(config) = self.config else {
            return Ok(None);
        };
        let mut err = [0 as c_char; ERR_CAP];
        let mut count = 0i32;
        // SAFETY: `config` has the ConfigFn signature (checked at load);
        // `args` is valid per this fn's contract; `count` and `err` are live
        // locals of the sizes passed.
        let rc = unsafe { simpler_call_orch_config(config, args.cast(), &mut count, err.as_mut_ptr(), ERR_CAP) };
        if rc != 0 {
            return Err(Error::UserCode(format!(
                "orchestration config of callable {} threw a C++ exception: {}",
                self.callable_id,
                message_of(&err)
            )));
        }
        Ok(Some(count))
    }

    /// Runs the orchestration once against `api`: config + arg-count check,
    /// `framework_bind_runtime(rt)`, the entry (through the C++ trampoline,
    /// on the calling thread, which becomes the orchestrator thread), then
    /// `framework_bind_runtime(NULL)`. The root scope is not opened here:
    /// the caller does that around this call.
    ///
    /// Errors: `UserCode` for a failed arg-count check or an exception
    /// escaping config/entry; `Panic` if runtime code panicked inside an ops
    /// entry (the panic is also reported to `api` as fatal code 9).
    ///
    /// # Safety
    /// `args` must point to a live, 64-byte aligned, 17472-byte
    /// `ChipStorageTaskArgs` image that stays unchanged during the call, and
    /// no other thread may run this SO's entry concurrently (one loaded copy
    /// serves one runtime at a time).
    pub unsafe fn run(&self, api: &mut dyn OrchestratorApi, args: *const u8) -> Result<()> {
        // SAFETY: forwarded contract.
        if let Some(expected) = unsafe { self.expected_arg_count(args)? } {
            // SAFETY: the image is 17472 bytes and 64-aligned, so both i32
            // counts at 17408/17412 are in bounds and aligned.
            let (tc, sc) = unsafe {
                (
                    *args.add(CHIP_STORAGE_TENSOR_COUNT_OFFSET).cast::<i32>(),
                    *args.add(CHIP_STORAGE_SCALAR_COUNT_OFFSET).cast::<i32>(),
                )
            };
            if expected > 0 && (tc as i64 + sc as i64) < expected as i64 {
                return Err(Error::UserCode(format!(
                    "orchestration of callable {} expects at least {expected} arguments \
                     (config '{}'), got {tc} tensors + {sc} scalars",
                    self.callable_id, self.entry_name
                )));
            }
        }

        let mut rt = RuntimeObject::new(api);
        let rt_ptr = rt.as_runtime_ptr();
        let mut err = [0 as c_char; ERR_CAP];
        let rc = {
            let _current = rt.enter();
            // SAFETY: bind/entry have the documented signatures; `rt_ptr`
            // points to `rt`, which stays in place (not moved) until after
            // the unbind below; `args` is valid per this fn's contract; the
            // trampoline catches every C++ exception.
            unsafe {
                (self.bind)(rt_ptr);
                let rc = simpler_call_orch_entry(self.entry, args.cast(), err.as_mut_ptr(), ERR_CAP);
                (self.bind)(std::ptr::null_mut());
                rc
            }
        };
        if let Some(msg) = rt.panic_message() {
            return Err(Error::Panic(msg.to_string()));
        }
        if rc != 0 {
            return Err(Error::UserCode(format!(
                "orchestration entry '{}' of callable {} threw a C++ exception: {}",
                self.entry_name,
                self.callable_id,
                message_of(&err)
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
impl OrchestrationSo {
    /// Test hook: `framework_bind_runtime(rt)` of this copy only.
    ///
    /// # Safety
    /// `rt` is NULL or a live runtime object for as long as it stays bound.
    pub(crate) unsafe fn bind_raw(&self, rt: *mut PTO2RuntimeHead) {
        // SAFETY: forwarded contract.
        unsafe { (self.bind)(rt) }
    }

    /// Test hook: the entry through the trampoline, without binding.
    ///
    /// # Safety
    /// As for [`OrchestrationSo::run`].
    pub(crate) unsafe fn call_entry_unbound(&self, args: *const u8) -> i32 {
        let mut err = [0 as c_char; ERR_CAP];
        // SAFETY: forwarded contract; `err` is a live buffer of ERR_CAP.
        unsafe { simpler_call_orch_entry(self.entry, args.cast(), err.as_mut_ptr(), ERR_CAP) }
    }
}

fn check_args_ptr(args: *const u8) -> Result<()> {
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

fn message_of(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if text.is_empty() {
        "(no message)".to_string()
    } else {
        text
    }
}
