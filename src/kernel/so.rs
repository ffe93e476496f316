//! A sim kernel SO: `kernel_entry(int64_t *args)` plus the optional
//! `pto_sim_register_hooks` injection of the sim-context functions.

use std::ffi::{c_char, c_int, c_void, CStr};

use libloading::os::unix::Library;

use super::sim_context;
use crate::diagnostics::{Error, Result};
use crate::loader::temp_so::{dlopen_bytes, lookup};

/// `extern "C" void kernel_entry(int64_t *args)`.
pub type KernelEntry = unsafe extern "C" fn(args: *mut i64);
/// `void pto_sim_register_hooks(void *get_subblock_id, void *get_pipe_shared_state)`.
type RegisterHooksFn = unsafe extern "C" fn(get_subblock_id: *mut c_void, get_pipe: *mut c_void);

/// Name of the required kernel entry symbol.
pub const KERNEL_ENTRY_SYMBOL: &str = "kernel_entry";
/// Name of the optional hook-registration symbol.
pub const REGISTER_HOOKS_SYMBOL: &str = "pto_sim_register_hooks";

/// A loaded kernel SO; the library stays loaded as long as this value lives.
#[derive(Debug)]
pub struct KernelSo {
    entry: KernelEntry,
    // Kept for the kernel tests and `Debug`; dispatch goes through `entry`.
    #[cfg_attr(not(test), allow(dead_code))]
    func_id: i32,
    #[cfg_attr(not(test), allow(dead_code))]
    has_hooks: bool,
    // Dropped last: `entry` points into it.
    _lib: Library,
}

impl KernelSo {
    /// Loads `bytes` from a unique temporary file `kernel_<func_id>_XXXXXX`
    /// (`dlopen(RTLD_NOW | RTLD_LOCAL)`, unlinked right after), resolves
    /// `kernel_entry` (required) and, if the SO exports
    /// `pto_sim_register_hooks`, calls it with the sim-context functions
    /// `pto_sim_get_subblock_id` / `pto_sim_get_pipe_shared_state`. The
    /// sim-context library is loaded (`RTLD_GLOBAL`) first, so kernels that
    /// look those names up with `dlsym(RTLD_DEFAULT, …)` find them.
    pub fn load(bytes: &[u8], func_id: i32) -> Result<KernelSo> {
        let hooks = sim_context::kernel_hooks()?;
        let what = format!("kernel SO of func_id {func_id}");
        let lib = dlopen_bytes(bytes, &format!("kernel_{func_id}_"), libc::RTLD_NOW | libc::RTLD_LOCAL, &what)?;
        let entry = lookup(&lib, KERNEL_ENTRY_SYMBOL)
            .ok_or_else(|| Error::Load(format!("{what}: symbol '{KERNEL_ENTRY_SYMBOL}' not found")))?;
        // SAFETY: `kernel_entry` has the documented `void(int64_t*)` C
        // signature (`void kernel_entry(int64_t *args)`, upstream c68d9bbe6); the library outlives the pointer.
        let entry = unsafe { std::mem::transmute::<*mut c_void, KernelEntry>(entry) };
        let register = lookup(&lib, REGISTER_HOOKS_SYMBOL);
        if let Some(register) = register {
            // SAFETY: the optional hook has the documented
            // `void(void*, void*)` signature; both arguments are function
            // addresses that stay valid for the process lifetime (the
            // sim-context library is never unloaded).
            unsafe {
                let register = std::mem::transmute::<*mut c_void, RegisterHooksFn>(register);
                register(hooks.get_subblock_id, hooks.get_pipe_shared_state);
            }
        }
        Ok(KernelSo { entry, func_id, has_hooks: register.is_some(), _lib: lib })
    }

    /// The func id the kernel was loaded for.
    #[cfg(test)]
    pub fn func_id(&self) -> i32 {
        self.func_id
    }

    /// The `kernel_entry` function (valid while `self` lives).
    pub fn entry(&self) -> KernelEntry {
        self.entry
    }

    /// Whether the SO exported `pto_sim_register_hooks` (and it was called).
    #[cfg(test)]
    pub fn registered_hooks(&self) -> bool {
        self.has_hooks
    }

    /// Calls `kernel_entry(args)` on the calling thread.
    ///
    /// # Safety
    /// `args` must point to the kernel's argument array (a dispatch
    /// payload's `args`, 50 slots with valid tensor pointers and context
    /// pointers at 48/49, or hbg's 16 raw slots) laid out as the kernel
    /// expects; the kernel is arbitrary user code.
    #[cfg(test)]
    pub unsafe fn call(&self, args: *mut i64) -> std::result::Result<(), String> {
        // SAFETY: forwarded contract; `entry` is live while `self` is.
        unsafe { call_kernel(self.entry, args) }
    }
}

extern "C" {
    // csrc/orch_trampoline.cpp
    fn simpler_call_kernel(entry: KernelEntry, args: *mut i64) -> c_int;
    fn simpler_kernel_error() -> *const c_char;
}

/// Calls `entry(args)` through the C++ trampoline, which catches every C++
/// exception (none may unwind into Rust frames). A throwing kernel gives
/// `Err` with the exception's `what()` text.
///
/// # Safety
/// `entry` is a live `kernel_entry` and `args` the argument array it
/// expects (see [`KernelSo::call`]).
#[inline]
pub unsafe fn call_kernel(entry: KernelEntry, args: *mut i64) -> std::result::Result<(), String> {
    // SAFETY: forwarded contract.
    if unsafe { run_kernel(entry, args) } {
        return Ok(());
    }
    Err(thrown())
}

/// Calls `entry(args)` through the C++ trampoline (see [`call_kernel`]);
/// false when the kernel threw, whose message [`thrown`] then gives (on
/// the same thread, before its next kernel call).
///
/// # Safety
/// As for [`call_kernel`].
#[inline(always)]
pub unsafe fn run_kernel(entry: KernelEntry, args: *mut i64) -> bool {
    // SAFETY: forwarded contract; the trampoline catches every exception and
    // keeps a thrown message in the calling thread's buffer.
    unsafe { simpler_call_kernel(entry, args) == 0 }
}

/// The error of the last kernel that threw on this thread (the
/// trampoline's thread-local message).
#[cold]
#[inline(never)]
pub fn thrown() -> String {
    // SAFETY: the trampoline's thread-local buffer is always NUL-terminated
    // (zero-initialised, written bounded with a terminator) and lives as
    // long as the thread.
    let msg = unsafe { CStr::from_ptr(simpler_kernel_error()) }.to_string_lossy();
    format!("the kernel threw a C++ exception: {msg}")
}
