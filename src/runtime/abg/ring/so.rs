//! A loaded orchestration SO of aicpu_build_graph's ring form: entry
//! `void aicpu_orchestration_entry(PTO2Runtime *rt, const ChipStorageTaskArgs &args)`
//! (or the callable's `func_name`) and the optional
//! `PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &)`
//! (or `config_name`). No bind hook: the runtime arrives as the first
//! argument. Called as upstream's executor does: config -> arg-count check
//! -> entry, with C++ exceptions caught by a C++ trampoline.

use std::ffi::{c_char, c_void};

use libloading::os::unix::Library;

use super::ops::RingRuntimeObject;
use crate::diagnostics::{Error, Result};
use crate::runtime::trb::api::OrchestratorApi;
use crate::runtime::trb::orchestration::loading::{
    call_config, check_arg_count, check_args_ptr, entry_threw, load_entry_and_config, ConfigFn, MissingConfig, ERR_CAP,
};

/// `void entry(PTO2Runtime*, const ChipStorageTaskArgs&)`.
type RingEntryFn = unsafe extern "C" fn(rt: *mut c_void, args: *const c_void);

extern "C" {
    fn simpler_call_abg_ring_entry(
        entry: RingEntryFn,
        rt: *mut c_void,
        args: *const c_void,
        err: *mut c_char,
        errlen: usize,
    ) -> i32;
}

/// A ring-form orchestration SO loaded from bytes into its own copy.
#[derive(Debug)]
pub struct RingSo {
    entry: RingEntryFn,
    config: Option<ConfigFn>,
    callable_id: i32,
    entry_name: String,
    // Dropped last: the function pointers point into it.
    _lib: Library,
}

impl RingSo {
    /// Loads `bytes` (unique temporary file, `dlopen(RTLD_NOW | RTLD_LOCAL)`,
    /// unlinked) and resolves the entry (required) and config (optional).
    pub fn load(bytes: &[u8], callable_id: i32, func_name: &str, config_name: &str) -> Result<RingSo> {
        let so = load_entry_and_config(
            bytes,
            &format!("aicpu_build_graph orchestration SO of callable {callable_id}"),
            &format!("libsimpler_abg_ring_cid{callable_id}_"),
            func_name,
            config_name,
            MissingConfig::RequireNamed,
        )?;
        // SAFETY: the entry is a function of the ring form's documented
        // signature (references lower to pointers). The library outlives the
        // pointer (field order).
        let entry = unsafe { std::mem::transmute::<*mut c_void, RingEntryFn>(so.entry) };
        Ok(RingSo { entry, config: so.config, callable_id, entry_name: so.entry_name, _lib: so.lib })
    }

    /// Whether the SO exports a config function.
    #[cfg(test)]
    pub fn has_config(&self) -> bool {
        self.config.is_some()
    }

    /// Runs config (arg-count check) and the entry against `api`.
    ///
    /// # Safety
    /// `args` points to a 64-aligned 17472-byte `ChipStorageTaskArgs` valid
    /// for the call; no other thread runs this SO meanwhile.
    pub unsafe fn run(&self, api: &mut dyn OrchestratorApi, args: *const u8) -> Result<()> {
        check_args_ptr(args)?;
        if let Some(config) = self.config {
            // SAFETY: `config` was resolved from `_lib`, still loaded; `args`
            // is a live 17472-byte image per this fn's contract.
            unsafe {
                let expected = call_config(config, args, self.callable_id)?;
                check_arg_count(args, expected, self.callable_id, format_args!("aicpu_orchestration_config"))?;
            }
        }
        let mut err = [0 as c_char; ERR_CAP];
        let mut rt = RingRuntimeObject::new(api);
        let rt_ptr = rt.as_runtime_ptr();
        // SAFETY: `entry` has the RingEntryFn signature; `rt_ptr` points to
        // `rt`, which stays in place until after the call; the trampoline
        // catches every C++ exception.
        let rc =
            unsafe { simpler_call_abg_ring_entry(self.entry, rt_ptr.cast(), args.cast(), err.as_mut_ptr(), ERR_CAP) };
        if let Some(msg) = rt.panic_message() {
            return Err(Error::Panic(msg.to_string()));
        }
        if rc != 0 {
            return Err(entry_threw(&self.entry_name, self.callable_id, &err));
        }
        Ok(())
    }
}

impl crate::runtime::trb::host::OrchProgram for RingSo {
    unsafe fn run_on(&self, api: &mut dyn OrchestratorApi, args: *const u8) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { self.run(api, args) }
    }
}
