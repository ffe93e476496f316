//! The builder plugin of an aicpu_build_graph callable: its orchestration
//! SO, loaded once (written to a temporary file and `dlopen`ed, as upstream
//! does on the AICPU), and the guarded call of its entry.

use super::api::{AbgOrchFn, AbgRuntime};
use crate::diagnostics::{Error, Result};

/// A loaded builder plugin.
pub struct AbgPlugin {
    /// Keeps the object loaded.
    _lib: libloading::os::unix::Library,
    /// The entry (`int f(Runtime*)`).
    pub entry: AbgOrchFn,
    /// Its symbol name.
    pub name: String,
}

impl AbgPlugin {
    /// Loads `bytes` and resolves `func_name` (empty: `"orchestration"`).
    pub fn load(bytes: &[u8], func_name: &str) -> Result<AbgPlugin> {
        let name = crate::callable::classify::abg_entry(func_name);
        let lib = crate::loader::temp_so::dlopen_bytes(
            bytes,
            "abg_orch_",
            libc::RTLD_NOW | libc::RTLD_LOCAL,
            "aicpu_build_graph builder plugin",
        )?;
        let sym = crate::loader::temp_so::lookup(&lib, name).ok_or_else(|| {
            Error::Load(format!("aicpu_build_graph builder plugin has no symbol '{name}' (the callable's func_name)"))
        })?;
        // SAFETY: the symbol is the plugin entry named by the callable; the
        // aicpu_build_graph ABI fixes its type to `int (*)(Runtime*)`.
        let entry = unsafe { std::mem::transmute::<*mut std::ffi::c_void, AbgOrchFn>(sym) };
        Ok(AbgPlugin { _lib: lib, entry, name: name.to_string() })
    }
}

extern "C" {
    // csrc/orch_trampoline.cpp
    fn simpler_call_abg_entry(
        f: AbgOrchFn,
        rt: *mut AbgRuntime,
        rc: *mut i32,
        err: *mut std::ffi::c_char,
        errlen: usize,
    ) -> i32;
}

/// Calls the entry through the C++ trampoline; an escaping C++ exception
/// becomes [`Error::UserCode`].
///
/// # Safety
/// `rt` must be a live runtime object whose state outlives the call.
pub(crate) unsafe fn call_entry(f: AbgOrchFn, rt: *mut AbgRuntime) -> Result<i32> {
    let mut rc = 0i32;
    let mut err = [0 as std::ffi::c_char; 512];
    // SAFETY: `f` is the plugin entry; `rt` is live for the call; the
    // trampoline writes at most `err.len()` bytes, NUL-terminated.
    let status = unsafe { simpler_call_abg_entry(f, rt, &mut rc, err.as_mut_ptr(), err.len()) };
    if status != 0 {
        // SAFETY: the trampoline always NUL-terminates `err`.
        let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned();
        return Err(Error::UserCode(format!("aicpu_build_graph builder threw a C++ exception: {msg}")));
    }
    Ok(rc)
}
