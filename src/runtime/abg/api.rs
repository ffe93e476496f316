//! The `Runtime` object an aicpu_build_graph builder plugin receives and its
//! device-side API table (`AicpuBuildApi`, installed before the plugin
//! runs), byte-compatible with `include/pto_aicpu_build_graph.h`.
//!
//! Every entry is a Rust `extern "C"` function behind a panic boundary and
//! counts as builder progress for the watchdog; once the run failed or the
//! builder was abandoned, the graph entries do nothing (`add_task` returns
//! -1). A bad call (unknown id, full array, full fanout, ...) fails the run
//! with its message, also when the builder then returns 0.

use std::cell::Cell;
use std::ffi::c_void;
use std::mem::{offset_of, size_of};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::graph::MAX_FUNC_ID;
use super::state::State;
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::abi::CoreType;
use crate::diagnostics::Error;

/// Entry arguments of the plugin, flattened (upstream's `orch_args[]` cap).
pub const MAX_ORCH_ARGS: usize = 64;

/// `int f(Runtime *rt)`: the builder plugin entry named by the callable's `func_name`.
pub type AbgOrchFn = unsafe extern "C" fn(*mut AbgRuntime) -> i32;

/// The device-side API table (upstream `AicpuBuildApi`).
#[repr(C)]
pub struct AicpuBuildApi {
    /// `int add_task(Runtime*, uint64_t *args, int num_args, int func_id, CoreType, uint64_t function_bin_addr)`.
    pub add_task: unsafe extern "C" fn(*mut AbgRuntime, *mut u64, i32, i32, i32, u64) -> i32,
    /// `void add_successor_conditional(Runtime*, int from, int to)`.
    pub add_successor_conditional: unsafe extern "C" fn(*mut AbgRuntime, i32, i32),
    /// `void publish_task(Runtime*, int task_id)`.
    pub publish_task: unsafe extern "C" fn(*mut AbgRuntime, i32),
    /// `void *device_malloc(size_t)` (run-scoped device memory).
    pub device_malloc: unsafe extern "C" fn(usize) -> *mut c_void,
    /// `void device_free(void *)`.
    pub device_free: unsafe extern "C" fn(*mut c_void),
}

/// The plugin's view of the runtime (`Runtime` in the header).
#[repr(C)]
pub struct AbgRuntime {
    /// The API table.
    pub aicpu_build_api: AicpuBuildApi,
    /// 0 sequential, 1 concurrent.
    pub build_mode: i32,
    /// Valid entries of `orch_args`.
    pub orch_arg_count: i32,
    /// Tensor entries (first in `orch_args`).
    pub tensor_count: i32,
    /// Scalar entries (after the tensors).
    pub scalar_count: i32,
    /// Device address of each tensor argument, then each scalar's bits.
    pub orch_args: [u64; MAX_ORCH_ARGS],
    /// Bytes of each tensor argument (0 for scalars).
    pub orch_arg_sizes: [u64; MAX_ORCH_ARGS],
    /// Kernel address of each func_id (0: none).
    pub kernel_addrs: [u64; MAX_FUNC_ID],
    /// The run's `ChipStorageTaskArgs` with tensor addresses on the device.
    pub task_args: *const ChipStorageTaskArgs,
    /// Scheduler threads of the run.
    pub scheduler_thread_num: i32,
    /// Clusters (1 AIC + 2 AIV each).
    pub block_dim: i32,
    /// Opaque: the run state.
    pub(crate) state: *const c_void,
}

const _: () = {
    assert!(size_of::<AicpuBuildApi>() == 40);
    assert!(offset_of!(AicpuBuildApi, add_successor_conditional) == 8);
    assert!(offset_of!(AicpuBuildApi, publish_task) == 16);
    assert!(offset_of!(AicpuBuildApi, device_malloc) == 24);
    assert!(offset_of!(AicpuBuildApi, device_free) == 32);
    assert!(offset_of!(AbgRuntime, build_mode) == 40);
    assert!(offset_of!(AbgRuntime, orch_arg_count) == 44);
    assert!(offset_of!(AbgRuntime, tensor_count) == 48);
    assert!(offset_of!(AbgRuntime, scalar_count) == 52);
    assert!(offset_of!(AbgRuntime, orch_args) == 56);
    assert!(offset_of!(AbgRuntime, orch_arg_sizes) == 568);
    assert!(offset_of!(AbgRuntime, kernel_addrs) == 1080);
    assert!(offset_of!(AbgRuntime, task_args) == 1592);
    assert!(offset_of!(AbgRuntime, scheduler_thread_num) == 1600);
    assert!(offset_of!(AbgRuntime, block_dim) == 1604);
    assert!(offset_of!(AbgRuntime, state) == 1608);
    assert!(size_of::<AbgRuntime>() == 1616);
};

/// The table installed into every run's `AbgRuntime`.
pub(crate) const API: AicpuBuildApi = AicpuBuildApi {
    add_task: api_add_task,
    add_successor_conditional: api_add_successor,
    publish_task: api_publish_task,
    device_malloc: api_device_malloc,
    device_free: api_device_free,
};

thread_local! {
    /// The run whose builder runs on this thread (`device_malloc` has no `Runtime*`).
    static CURRENT: Cell<*const State> = const { Cell::new(std::ptr::null()) };
}

/// Makes `state` the current run of this thread while `f` runs.
pub(crate) fn with_current<T>(state: *const State, f: impl FnOnce() -> T) -> T {
    struct Reset(*const State);
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(CURRENT.with(|c| c.replace(state)));
    f()
}

/// Runs `f` on the state behind `st`, after counting the call; `fail` when
/// `st` is NULL, the builder was abandoned, or `f` panicked.
fn with_state<T>(st: *const State, fail: T, f: impl FnOnce(&State) -> T) -> T {
    if st.is_null() {
        return fail;
    }
    // SAFETY: `st` comes from a runtime object or the thread-local of a
    // builder thread; both are set from an `Arc<State>` the builder thread
    // owns for the whole plugin call, so the state is alive.
    let s = unsafe { &*st };
    if !s.tick() {
        return fail;
    }
    catch_unwind(AssertUnwindSafe(|| f(s))).unwrap_or(fail)
}

fn rt_state(rt: *mut AbgRuntime) -> *const State {
    if rt.is_null() {
        return std::ptr::null();
    }
    // SAFETY: a non-NULL `rt` is the runtime object the builder thread owns
    // and passed to the plugin (the plugin contract); it outlives the call.
    unsafe { (*rt).state.cast::<State>() }
}

/// Applies one graph operation; its error fails the run. `wakes`: the
/// operation can make a task ready (schedulers popping during the build are woken).
fn graph_op<T>(s: &State, fail: T, wakes: bool, op: impl FnOnce(&mut super::graph::Graph) -> Result<T, String>) -> T {
    let mut sh = s.lock();
    if sh.failed.is_some() {
        return fail;
    }
    match op(&mut sh.g) {
        Ok(v) => {
            if wakes && s.wake_on_build {
                s.cv.notify_all();
            }
            v
        }
        Err(msg) => {
            sh.fail(Error::UserCode(format!("aicpu_build_graph builder: {msg}")), &s.cv);
            fail
        }
    }
}

unsafe extern "C" fn api_add_task(
    rt: *mut AbgRuntime,
    args: *mut u64,
    num_args: i32,
    func_id: i32,
    core_type: i32,
    function_bin_addr: u64,
) -> i32 {
    with_state(rt_state(rt), -1, |s| {
        graph_op(s, -1, false, |g| {
            let n = usize::try_from(num_args).map_err(|_| format!("add_task: num_args {num_args} is negative"))?;
            let core = match core_type {
                0 => CoreType::Aic,
                1 => CoreType::Aiv,
                v => return Err(format!("add_task: core_type {v} is neither AIC (0) nor AIV (1)")),
            };
            if n > crate::runtime::hbg::MAX_ARGS {
                return g.add_task(&[0; crate::runtime::hbg::MAX_ARGS + 1], func_id, core, function_bin_addr);
            }
            if n > 0 && args.is_null() {
                return Err("add_task: args is NULL with num_args > 0".into());
            }
            let slice: &[u64] = if n == 0 {
                &[]
            } else {
                // SAFETY: the plugin passes `num_args` readable slots (API contract); n <= 16.
                unsafe { std::slice::from_raw_parts(args, n) }
            };
            g.add_task(slice, func_id, core, function_bin_addr)
        })
    })
}

unsafe extern "C" fn api_add_successor(rt: *mut AbgRuntime, from: i32, to: i32) {
    with_state(rt_state(rt), (), |s| graph_op(s, (), false, |g| g.add_successor(from, to)))
}

unsafe extern "C" fn api_publish_task(rt: *mut AbgRuntime, id: i32) {
    with_state(rt_state(rt), (), |s| graph_op(s, (), true, |g| g.publish(id)))
}

unsafe extern "C" fn api_device_malloc(size: usize) -> *mut c_void {
    with_state(CURRENT.with(Cell::get), std::ptr::null_mut(), |s| match s.memory.alloc(size) {
        Ok(p) => {
            s.allocations.lock().unwrap_or_else(|e| e.into_inner()).push(p as usize);
            p.cast()
        }
        Err(e) => {
            crate::diagnostics::log::error("device_malloc", &e.to_string());
            std::ptr::null_mut()
        }
    })
}

unsafe extern "C" fn api_device_free(ptr: *mut c_void) {
    with_state(CURRENT.with(Cell::get), (), |s| {
        if ptr.is_null() {
            return;
        }
        let mut allocs = s.allocations.lock().unwrap_or_else(|e| e.into_inner());
        match allocs.iter().position(|&p| p == ptr as usize) {
            Some(i) => {
                allocs.swap_remove(i);
                let _ = s.memory.free(ptr.cast());
            }
            None => crate::diagnostics::log::warn(
                "device_free",
                &format!("{ptr:p} was not allocated by this run's device_malloc (or was freed already); ignored"),
            ),
        }
    })
}
