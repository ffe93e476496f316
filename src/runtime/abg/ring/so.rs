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
use crate::loader::temp_so::{dlopen_bytes, lookup};
use crate::runtime::trb::api::OrchestratorApi;
use crate::runtime::trb::orchestration::layout::{
    PTO2OrchestrationConfig, CHIP_STORAGE_SCALAR_COUNT_OFFSET, CHIP_STORAGE_TASK_ARGS_ALIGN,
    CHIP_STORAGE_TENSOR_COUNT_OFFSET,
};
use crate::runtime::trb::orchestration::so::{DEFAULT_CONFIG_NAME, DEFAULT_ENTRY_NAME};

/// `void entry(PTO2Runtime*, const ChipStorageTaskArgs&)`.
type RingEntryFn = unsafe extern "C" fn(rt: *mut c_void, args: *const c_void);
/// `PTO2OrchestrationConfig config(const ChipStorageTaskArgs&)`.
type ConfigFn = unsafe extern "C" fn(args: *const c_void) -> PTO2OrchestrationConfig;

const ERR_CAP: usize = 1024;

extern "C" {
    fn simpler_call_abg_ring_entry(
        entry: RingEntryFn,
        rt: *mut c_void,
        args: *const c_void,
        err: *mut c_char,
        errlen: usize,
    ) -> i32;
    fn simpler_call_orch_config(
        config: ConfigFn,
        args: *const c_void,
        out: *mut i32,
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
        let what = format!("aicpu_build_graph orchestration SO of callable {callable_id}");
        let lib = dlopen_bytes(
            bytes,
            &format!("libsimpler_abg_ring_cid{callable_id}_"),
            libc::RTLD_NOW | libc::RTLD_LOCAL,
            &what,
        )?;
        let entry_name = if func_name.is_empty() { DEFAULT_ENTRY_NAME } else { func_name };
        let entry = lookup(&lib, entry_name)
            .ok_or_else(|| Error::Load(format!("{what}: entry symbol '{entry_name}' not found")))?;
        let config_sym = if config_name.is_empty() { DEFAULT_CONFIG_NAME } else { config_name };
        let config = lookup(&lib, config_sym);
        if config.is_none() && !config_name.is_empty() {
            return Err(Error::Load(format!("{what}: config symbol '{config_sym}' not found")));
        }
        // SAFETY: the symbols are functions of the ring form's documented
        // signatures (references lower to pointers; the 4-byte config struct
        // returns in a register). The library outlives the pointers.
        let (entry, config) = unsafe {
            (
                std::mem::transmute::<*mut c_void, RingEntryFn>(entry),
                config.map(|c| std::mem::transmute::<*mut c_void, ConfigFn>(c)),
            )
        };
        Ok(RingSo { entry, config, callable_id, entry_name: entry_name.to_string(), _lib: lib })
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
        if args.is_null() {
            return Err(Error::NullPointer { what: "orchestration args" });
        }
        if (args as usize) % CHIP_STORAGE_TASK_ARGS_ALIGN != 0 {
            return Err(Error::InvalidArgument(format!(
                "ChipStorageTaskArgs at {args:p} is not {CHIP_STORAGE_TASK_ARGS_ALIGN}-byte aligned"
            )));
        }
        let mut err = [0 as c_char; ERR_CAP];
        if let Some(config) = self.config {
            let mut expected = 0i32;
            // SAFETY: `config` has the ConfigFn signature; `args` is valid per
            // this fn's contract; `expected`/`err` are live locals.
            let rc = unsafe { simpler_call_orch_config(config, args.cast(), &mut expected, err.as_mut_ptr(), ERR_CAP) };
            if rc != 0 {
                return Err(Error::UserCode(format!(
                    "orchestration config of callable {} threw a C++ exception: {}",
                    self.callable_id,
                    message_of(&err)
                )));
            }
            // SAFETY: 17472-byte, 64-aligned image: both counts in bounds, aligned.
            let (tc, sc) = unsafe {
                (
                    *args.add(CHIP_STORAGE_TENSOR_COUNT_OFFSET).cast::<i32>(),
                    *args.add(CHIP_STORAGE_SCALAR_COUNT_OFFSET).cast::<i32>(),
                )
            };
            if expected > 0 && (tc as i64 + sc as i64) < expected as i64 {
                return Err(Error::UserCode(format!(
                    "orchestration of callable {} expects at least {expected} arguments (aicpu_orchestration_config), got {tc} tensors + {sc} scalars",
                    self.callable_id
                )));
            }
        }
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

impl crate::runtime::trb::host::OrchProgram for RingSo {
    unsafe fn run_on(&self, api: &mut dyn OrchestratorApi, args: *const u8) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { self.run(api, args) }
    }
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
