//! A loaded TRB orchestration SO: entry, optional config, and the
//! `framework_bind_runtime` hook, called in upstream's order (config →
//! arg-count check → bind → entry → unbind), with C++ exceptions caught by
//! a C++ trampoline.

use std::ffi::{c_char, c_void};

use libloading::os::unix::Library;

use super::layout::PTO2RuntimeHead;
use super::loading::{
    call_config, check_arg_count, check_args_ptr, entry_threw, load_entry_and_config, ConfigFn, MissingConfig, ERR_CAP,
};
use super::ops::RuntimeObject;
use crate::diagnostics::{Error, Result};
use crate::loader::temp_so::lookup;
use crate::runtime::trb::api::OrchestratorApi;

/// Fixed name of the runtime-binding hook.
pub const BIND_SYMBOL: &str = "framework_bind_runtime";

/// `void entry(const ChipStorageTaskArgs&)`.
type EntryFn = unsafe extern "C" fn(args: *const c_void);
/// `extern "C" void framework_bind_runtime(PTO2Runtime*)`.
type BindFn = unsafe extern "C" fn(rt: *mut PTO2RuntimeHead);

extern "C" {
    fn simpler_call_orch_entry(entry: EntryFn, args: *const c_void, err: *mut c_char, errlen: usize) -> i32;
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
        let so = load_entry_and_config(
            bytes,
            &what,
            &format!("libsimpler_orch_cid{callable_id}_"),
            func_name,
            config_name,
            MissingConfig::Log,
        )?;
        let bind = lookup(&so.lib, BIND_SYMBOL)
            .ok_or_else(|| Error::Load(format!("{what}: required symbol '{BIND_SYMBOL}' not found")))?;
        // SAFETY: the symbols are functions of the documented upstream
        // signatures (upstream's `pto_orchestration_api.h`, c68d9bbe6):
        // references lower to pointers, matching the Rust types. The library
        // outlives the pointers (field order).
        let (entry, bind) = unsafe {
            (std::mem::transmute::<*mut c_void, EntryFn>(so.entry), std::mem::transmute::<*mut c_void, BindFn>(bind))
        };
        Ok(OrchestrationSo { entry, config: so.config, bind, callable_id, entry_name: so.entry_name, _lib: so.lib })
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
        // SAFETY: `config` was resolved from `_lib`, still loaded; `args` is
        // valid per this fn's contract.
        unsafe { call_config(config, args, self.callable_id) }.map(Some)
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
            // SAFETY: forwarded contract (a live 17472-byte image).
            unsafe { check_arg_count(args, expected, self.callable_id, format_args!("config '{}'", self.entry_name))? };
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
            return Err(entry_threw(&self.entry_name, self.callable_id, &err));
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
