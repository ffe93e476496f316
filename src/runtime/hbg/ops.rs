//! The 9-entry `OrchestrationRuntimeOps` table (72 bytes) handed to a
//! host_build_graph orchestration function, and the call into it.
//!
//! Every entry is a Rust `extern "C"` function behind a panic boundary: a
//! panic becomes an error recorded on the builder and an error return value.
//! Every entry also records progress for the watcher of the call
//! ([`super::watch`]); once the call was abandoned, every entry does nothing
//! and returns its error value.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::graph::Graph;
use super::progress::Progress;
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::abi::CoreType;
use crate::device::memory::DeviceMemory;
use crate::diagnostics::{Error, Result};

/// `int f(OrchestrationRuntime *rt, const ChipStorageTaskArgs &orch_args)`.
pub type HbgOrchFn = unsafe extern "C" fn(*mut OrchestrationRuntime, *const ChipStorageTaskArgs) -> i32;

/// The ops table, in upstream's order (`OrchestrationRuntime`, 72 B, c68d9bbe6).
#[repr(C)]
pub struct OrchestrationRuntimeOps {
    add_task: unsafe extern "C" fn(*mut OrchestrationRuntime, *mut u64, i32, i32, i32) -> i32,
    set_tensor_info_to_task: unsafe extern "C" fn(*mut OrchestrationRuntime, i32, *const c_void, i32) -> i32,
    add_successor: unsafe extern "C" fn(*mut OrchestrationRuntime, i32, i32),
    record_tensor_pair: unsafe extern "C" fn(*mut OrchestrationRuntime, *mut c_void, *mut c_void, usize),
    get_task_count: unsafe extern "C" fn(*mut OrchestrationRuntime) -> i32,
    print_runtime: unsafe extern "C" fn(*mut OrchestrationRuntime),
    device_malloc: unsafe extern "C" fn(*mut OrchestrationRuntime, usize) -> *mut c_void,
    device_free: unsafe extern "C" fn(*mut OrchestrationRuntime, *mut c_void),
    copy_to_device: unsafe extern "C" fn(*mut OrchestrationRuntime, *mut c_void, *const c_void, usize) -> i32,
}

const _: () = assert!(std::mem::size_of::<OrchestrationRuntimeOps>() == 72);

/// The object the orchestration receives; its first member is the ops pointer
/// (the SO's view is `struct { const OrchestrationRuntimeOps *ops; }`).
#[repr(C)]
pub struct OrchestrationRuntime {
    ops: *const OrchestrationRuntimeOps,
    builder: *mut c_void,
}

/// A device-to-host copy-back recorded by `record_tensor_pair`.
#[derive(Debug, Clone, Copy)]
pub struct TensorPair {
    /// Host destination.
    pub host: *mut u8,
    /// Device source (freed after the copy).
    pub dev: *mut u8,
    /// Bytes.
    pub size: usize,
}

/// State the ops mutate during one orchestration call.
pub struct Builder<'a> {
    /// The graph under construction.
    pub graph: Graph,
    /// Copy-backs to perform after a successful run.
    pub pairs: Vec<TensorPair>,
    /// Device allocations made through the ops (run-scoped).
    pub allocations: Vec<*mut u8>,
    memory: &'a DeviceMemory,
    progress: &'a Progress,
}

static OPS: OrchestrationRuntimeOps = OrchestrationRuntimeOps {
    add_task: op_add_task,
    set_tensor_info_to_task: op_set_tensor_info,
    add_successor: op_add_successor,
    record_tensor_pair: op_record_tensor_pair,
    get_task_count: op_get_task_count,
    print_runtime: op_print_runtime,
    device_malloc: op_device_malloc,
    device_free: op_device_free,
    copy_to_device: op_copy_to_device,
};

/// Runs `f` on the builder behind `rt`, catching panics (recorded as graph errors).
fn with_builder<T>(rt: *mut OrchestrationRuntime, fail: T, f: impl FnOnce(&mut Builder<'_>) -> T) -> T {
    if rt.is_null() {
        return fail;
    }
    // SAFETY: `rt` is the object `run_orchestration` created on its stack and
    // handed to the orchestration; it (and the builder it points to) outlives
    // the orchestration call, and ops are only invoked from that call's thread.
    let b = unsafe { &mut *((*rt).builder as *mut Builder<'_>) };
    if !b.progress.tick() {
        return fail;
    }
    match catch_unwind(AssertUnwindSafe(|| f(b))) {
        Ok(v) => v,
        Err(_) => {
            b.graph.error.get_or_insert_with(|| "internal panic in a host_build_graph op".into());
            fail
        }
    }
}

unsafe extern "C" fn op_add_task(
    rt: *mut OrchestrationRuntime,
    args: *mut u64,
    num_args: i32,
    func_id: i32,
    core_type: i32,
) -> i32 {
    with_builder(rt, -1, |b| {
        let n = num_args.max(0) as usize;
        if n > 0 && args.is_null() {
            b.graph.error.get_or_insert_with(|| "add_task: args is NULL with num_args > 0".into());
            return -1;
        }
        let core = if core_type == CoreType::Aic as i32 { CoreType::Aic } else { CoreType::Aiv };
        if n > super::graph::MAX_ARGS {
            return b.graph.add_task(&[0; super::graph::MAX_ARGS + 1], func_id, core);
        }
        let slice: &[u64] = if n == 0 {
            &[]
        } else {
            // SAFETY: the orchestration passes `num_args` readable u64 slots (upstream contract); n ≤ 16.
            unsafe { std::slice::from_raw_parts(args, n) }
        };
        b.graph.add_task(slice, func_id, core)
    })
}

unsafe extern "C" fn op_set_tensor_info(
    rt: *mut OrchestrationRuntime,
    task_id: i32,
    info: *const c_void,
    count: i32,
) -> i32 {
    // Tensor info only feeds tensor dumps, which the simulated device does not produce;
    // the argument checks of upstream are kept.
    with_builder(rt, -1, |b| {
        if task_id < 0
            || task_id as usize >= b.graph.len()
            || !(0..=16).contains(&count)
            || (info.is_null() && count > 0)
        {
            -1
        } else {
            0
        }
    })
}

unsafe extern "C" fn op_add_successor(rt: *mut OrchestrationRuntime, from: i32, to: i32) {
    with_builder(rt, (), |b| b.graph.add_successor(from, to))
}

unsafe extern "C" fn op_record_tensor_pair(
    rt: *mut OrchestrationRuntime,
    host: *mut c_void,
    dev: *mut c_void,
    size: usize,
) {
    with_builder(rt, (), |b| {
        if host.is_null() || dev.is_null() {
            b.graph.error.get_or_insert_with(|| "record_tensor_pair: host and device pointers must not be NULL".into());
            return;
        }
        if let Err(e) = b.memory.check_range(dev as *const u8, size) {
            b.graph.error.get_or_insert_with(|| format!("record_tensor_pair: {e}"));
            return;
        }
        b.pairs.push(TensorPair { host: host as *mut u8, dev: dev as *mut u8, size });
    })
}

unsafe extern "C" fn op_get_task_count(rt: *mut OrchestrationRuntime) -> i32 {
    with_builder(rt, 0, |b| b.graph.len() as i32)
}

unsafe extern "C" fn op_print_runtime(rt: *mut OrchestrationRuntime) {
    with_builder(rt, (), |b| {
        let edges: usize = b.graph.tasks.iter().map(|t| t.fanout.len()).sum();
        crate::diagnostics::log::info(
            "print_runtime",
            &format!("host_build_graph: {} tasks, {} edges, {} tensor pairs", b.graph.len(), edges, b.pairs.len()),
        );
    })
}

unsafe extern "C" fn op_device_malloc(rt: *mut OrchestrationRuntime, size: usize) -> *mut c_void {
    with_builder(rt, std::ptr::null_mut(), |b| match b.memory.alloc(size) {
        Ok(p) => {
            b.allocations.push(p);
            p as *mut c_void
        }
        Err(e) => {
            crate::diagnostics::log::error("device_malloc", &e.to_string());
            std::ptr::null_mut()
        }
    })
}

unsafe extern "C" fn op_device_free(rt: *mut OrchestrationRuntime, ptr: *mut c_void) {
    with_builder(rt, (), |b| {
        if ptr.is_null() {
            return;
        }
        if let Some(i) = b.allocations.iter().position(|&p| p == ptr as *mut u8) {
            b.allocations.swap_remove(i);
        }
        if let Err(e) = b.memory.free(ptr as *mut u8) {
            crate::diagnostics::log::warn("device_free", &e.to_string());
        }
    })
}

unsafe extern "C" fn op_copy_to_device(
    rt: *mut OrchestrationRuntime,
    dev: *mut c_void,
    host: *const c_void,
    size: usize,
) -> i32 {
    with_builder(rt, -1, |b| {
        if dev.is_null() || host.is_null() {
            return -1;
        }
        // SAFETY: the device range is checked by copy_to_device; the host range
        // is the orchestration's own readable buffer of `size` bytes (its contract).
        match unsafe { b.memory.copy_to_device(dev as *mut u8, host as *const u8, size) } {
            Ok(()) => 0,
            Err(e) => {
                b.graph.error.get_or_insert_with(|| format!("copy_to_device: {e}"));
                -1
            }
        }
    })
}

/// The result of one orchestration call.
#[derive(Default)]
pub struct Orchestrated {
    /// The graph to execute.
    pub graph: Graph,
    /// Copy-backs for a successful run.
    pub pairs: Vec<TensorPair>,
    /// Run-scoped device allocations still live.
    pub allocations: Vec<*mut u8>,
}

/// Calls the orchestration function on this thread with host-pointer
/// arguments, recording each ops-table call on `progress`. A non-zero
/// return, or any op error, fails the run (after the run-scoped allocations
/// are released by the caller).
pub fn run_orchestration(
    f: HbgOrchFn,
    args: &ChipStorageTaskArgs,
    memory: &DeviceMemory,
    progress: &Progress,
    call: impl FnOnce(HbgOrchFn, *mut OrchestrationRuntime, *const ChipStorageTaskArgs) -> Result<i32>,
) -> (Orchestrated, Result<()>) {
    let mut builder = Builder { graph: Graph::default(), pairs: Vec::new(), allocations: Vec::new(), memory, progress };
    let mut rt = OrchestrationRuntime {
        ops: &OPS,
        // `rt` never escapes this function, so the builder outlives every use.
        builder: (&mut builder as *mut Builder<'_>).cast(),
    };
    let rc = call(f, &mut rt, args);
    let result = match rc {
        Ok(0) => match builder.graph.error.take() {
            None => Ok(()),
            Some(e) => Err(Error::UserCode(format!("host_build_graph orchestration: {e}"))),
        },
        Ok(code) => {
            Err(Error::UserCode(format!("host_build_graph orchestration returned {code} (non-zero aborts the run)")))
        }
        Err(e) => Err(e),
    };
    let Builder { graph, pairs, allocations, .. } = builder;
    (Orchestrated { graph, pairs, allocations }, result)
}

extern "C" {
    fn simpler_call_hbg_entry(
        f: HbgOrchFn,
        rt: *mut OrchestrationRuntime,
        args: *const ChipStorageTaskArgs,
        rc: *mut i32,
        err: *mut std::ffi::c_char,
        errlen: usize,
    ) -> i32;
}

/// Calls an orchestration function through the C++ trampoline, turning an
/// escaping C++ exception into [`Error::UserCode`].
///
/// # Safety
/// `rt` must be the live runtime object of [`run_orchestration`] and `args`
/// a live `ChipStorageTaskArgs`, both valid for the duration of the call.
pub unsafe fn call_hbg_entry(
    f: HbgOrchFn,
    rt: *mut OrchestrationRuntime,
    args: *const ChipStorageTaskArgs,
) -> Result<i32> {
    let mut rc = 0i32;
    let mut err = [0 as std::ffi::c_char; 512];
    // SAFETY: `f` is the callable's orchestration function; `rt` and `args`
    // are live for the call; the trampoline writes at most `err.len()` bytes.
    let status = unsafe { simpler_call_hbg_entry(f, rt, args, &mut rc, err.as_mut_ptr(), err.len()) };
    if status != 0 {
        // SAFETY: the trampoline always NUL-terminates `err`.
        let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned();
        return Err(Error::UserCode(format!("host_build_graph orchestration threw a C++ exception: {msg}")));
    }
    Ok(rc)
}
