//! The simulated-core identity kernels read with `dlsym(RTLD_DEFAULT, …)`:
//! `pto_sim_get_subblock_id` and `pto_sim_get_pipe_shared_state`.
//!
//! `libsimpler.so` is loaded `RTLD_LOCAL`, so its own exports are invisible
//! to `RTLD_DEFAULT`, and promoting it to `RTLD_GLOBAL` would let its
//! exports interpose on other libraries. Instead the two kernel-facing
//! names (plus our setters) live in the tiny `libsimpler_sim_context.so`
//! (`csrc/sim_context.c`), embedded here and loaded `RTLD_NOW |
//! RTLD_GLOBAL` once per process on first use.
//!
//! If another global library (upstream's `libcpu_sim_context.so`, which
//! Python preloads) already provides the kernel-facing names, kernels bind
//! to that one; the setters then also drive its identity functions so both
//! agree.

use std::ffi::{c_int, c_void, CString};

use libloading::os::unix::Library;
use once_cell::sync::OnceCell;

use crate::diagnostics::{log, Error, Result};
use crate::loader::temp_so::{dlopen_bytes, lookup};

static SIM_CONTEXT_SO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libsimpler_sim_context.so"));

type SetCoreFn = unsafe extern "C" fn(cluster_id: u32, subblock_id: u32, device_id: c_int);
type ClearFn = unsafe extern "C" fn(device_id: c_int);
type GetSubblockFn = unsafe extern "C" fn() -> u32;
type GetPipeFn = unsafe extern "C" fn(pipe_key: u64, size: usize) -> *mut c_void;
type SetU32Fn = unsafe extern "C" fn(v: u32);
type BindDeviceFn = unsafe extern "C" fn(device_id: c_int);
type VoidFn = unsafe extern "C" fn();

/// Upstream `libcpu_sim_context.so` setters, used when that library (not
/// ours) is what `RTLD_DEFAULT` resolves the kernel-facing names to.
#[derive(Debug, Clone, Copy)]
struct ForeignContext {
    set_subblock_id: SetU32Fn,
    set_cluster_id: SetU32Fn,
    bind_device: BindDeviceFn,
    clear_shared_storage: VoidFn,
}

#[derive(Debug)]
struct SimContext {
    set_core: SetCoreFn,
    clear: ClearFn,
    get_subblock_id: GetSubblockFn,
    get_pipe_shared_state: GetPipeFn,
    foreign: Option<ForeignContext>,
    _lib: Library,
}

static CONTEXT: OnceCell<SimContext> = OnceCell::new();

/// `dlsym(RTLD_DEFAULT, name)`, NULL when absent.
fn global_symbol(name: &str) -> *mut c_void {
    let Ok(c) = CString::new(name) else {
        return std::ptr::null_mut();
    };
    // SAFETY: RTLD_DEFAULT with a NUL-terminated name is always valid.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) }
}

fn required(lib: &Library, name: &str) -> Result<*mut c_void> {
    lookup(lib, name).ok_or_else(|| Error::Load(format!("libsimpler_sim_context.so: symbol '{name}' not found")))
}

fn load() -> Result<SimContext> {
    let lib = dlopen_bytes(
        SIM_CONTEXT_SO,
        "libsimpler_sim_context_",
        libc::RTLD_NOW | libc::RTLD_GLOBAL,
        "libsimpler_sim_context.so",
    )?;
    let set_core = required(&lib, "simpler_sim_set_core")?;
    let clear = required(&lib, "simpler_sim_clear_pipe_state")?;
    let get_sub = required(&lib, "pto_sim_get_subblock_id")?;
    let get_pipe = required(&lib, "pto_sim_get_pipe_shared_state")?;

    let global_sub = global_symbol("pto_sim_get_subblock_id");
    let foreign = if global_sub.is_null() || global_sub == get_sub {
        None
    } else {
        let names = [
            "_Z27sim_context_set_subblock_idj",
            "_Z26sim_context_set_cluster_idj",
            "pto_cpu_sim_bind_device",
            "_Z28clear_cpu_sim_shared_storagev",
        ];
        let syms: Vec<*mut c_void> = names.iter().map(|n| global_symbol(n)).collect();
        if syms.iter().any(|p| p.is_null()) {
            log::warn(
                "sim_context::ensure_loaded",
                "another global library defines pto_sim_get_subblock_id without the \
                 libcpu_sim_context setters; kernels may not see simulated core identities",
            );
            None
        } else {
            // SAFETY: these are upstream libcpu_sim_context.so's exports
            // (c68d9bbe6), with the signatures it declares.
            unsafe {
                Some(ForeignContext {
                    set_subblock_id: std::mem::transmute::<*mut c_void, SetU32Fn>(syms[0]),
                    set_cluster_id: std::mem::transmute::<*mut c_void, SetU32Fn>(syms[1]),
                    bind_device: std::mem::transmute::<*mut c_void, BindDeviceFn>(syms[2]),
                    clear_shared_storage: std::mem::transmute::<*mut c_void, VoidFn>(syms[3]),
                })
            }
        }
    };

    // SAFETY: the four symbols come from csrc/sim_context.c with exactly
    // these C signatures; the library is kept in the process-wide cell and
    // never unloaded, so the pointers stay valid.
    unsafe {
        Ok(SimContext {
            set_core: std::mem::transmute::<*mut c_void, SetCoreFn>(set_core),
            clear: std::mem::transmute::<*mut c_void, ClearFn>(clear),
            get_subblock_id: std::mem::transmute::<*mut c_void, GetSubblockFn>(get_sub),
            get_pipe_shared_state: std::mem::transmute::<*mut c_void, GetPipeFn>(get_pipe),
            foreign,
            _lib: lib,
        })
    }
}

fn context() -> Result<&'static SimContext> {
    CONTEXT.get_or_try_init(load)
}

/// Loads `libsimpler_sim_context.so` `RTLD_GLOBAL` (once per process).
pub fn ensure_loaded() -> Result<()> {
    context().map(|_| ())
}

/// Sets the calling thread's simulated core identity: cluster id, AIV
/// lane (`subblock_id`; 0 on AIC) and bound device (−1 unbinds, after
/// which `pto_sim_get_pipe_shared_state` returns NULL on this thread).
pub fn set_core(cluster_id: u32, subblock_id: u32, device_id: i32) -> Result<()> {
    let ctx = context()?;
    // SAFETY: `set_core` is live for the process (see `load`); it only
    // writes the calling thread's TLS.
    unsafe { (ctx.set_core)(cluster_id, subblock_id, device_id) };
    if let Some(f) = ctx.foreign {
        // SAFETY: upstream setters of the same thread-local identity.
        unsafe {
            (f.set_subblock_id)(subblock_id);
            (f.set_cluster_id)(cluster_id);
            (f.bind_device)(device_id);
        }
    }
    Ok(())
}

/// Discards every pipe-state block of `device_id` (negative: all devices).
/// Call at the start of each run, while no kernel of that device executes.
pub fn clear_pipe_state(device_id: i32) -> Result<()> {
    let ctx = context()?;
    // SAFETY: live for the process; takes the table lock internally.
    unsafe { (ctx.clear)(device_id) };
    if let Some(f) = ctx.foreign {
        // SAFETY: upstream's clear has no arguments or preconditions beyond
        // no concurrent users, which this function's contract states.
        unsafe { (f.clear_shared_storage)() };
    }
    Ok(())
}

/// The calling thread's lane as kernels see it through our library.
#[cfg(test)]
pub fn subblock_id() -> Result<u32> {
    let ctx = context()?;
    // SAFETY: live for the process; reads TLS only.
    Ok(unsafe { (ctx.get_subblock_id)() })
}

/// The two function addresses handed to a kernel's `pto_sim_register_hooks`.
#[derive(Debug, Clone, Copy)]
pub struct KernelHooks {
    /// `uint32_t (*)(void)`.
    pub get_subblock_id: *mut c_void,
    /// `void *(*)(uint64_t pipe_key, size_t size)`.
    pub get_pipe_shared_state: *mut c_void,
}

/// Loads the library if needed and returns the hook addresses, choosing
/// whatever `RTLD_DEFAULT` resolves (so injected hooks and lazily looked-up
/// names agree).
pub fn kernel_hooks() -> Result<KernelHooks> {
    let ctx = context()?;
    let pick = |name: &str, ours: *mut c_void| {
        let global = global_symbol(name);
        if global.is_null() {
            ours
        } else {
            global
        }
    };
    Ok(KernelHooks {
        get_subblock_id: pick("pto_sim_get_subblock_id", ctx.get_subblock_id as *mut c_void),
        get_pipe_shared_state: pick("pto_sim_get_pipe_shared_state", ctx.get_pipe_shared_state as *mut c_void),
    })
}
