//! Upstream's host-runtime C ABI (reference: upstream c68d9bbe6), exported
//! with C linkage and the exact upstream signatures, plus the config-taking
//! entries `simpler_init_with_config`, `run_prepared_with_config` and
//! `simpler_prepare_callable_sized`.
//!
//! Handles come from the registry of `handles.rs` (never reused, never an
//! address): a NULL, unknown or destroyed handle is an error code, never
//! another context or undefined behaviour.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CStr};
use std::sync::Arc;

use once_cell::sync::Lazy;

use crate::abi::call_config::CallConfig;
use crate::abi::callable::{parse_chip_callable, parse_chip_callable_ptr};
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::abi::timing::PtoRunTiming;
use crate::config::RuntimeConfig;
use crate::context::{DeviceContext, ExecParams, RunTiming};
use crate::diagnostics::{Error, Result};
use crate::ffi::config::{config_from_ptr, pto_runtime_config_t};
use crate::ffi::handles::{Kind, Registry};
use crate::ffi::{guard, guard_code, guard_legacy, guard_lookup, non_null};

/// Opaque handle of a device context (`void *`).
pub type DeviceContextHandle = *mut c_void;
/// Caller-owned buffer of `get_runtime_size()` bytes (`void *`).
pub type RuntimeHandle = *mut c_void;

/// Size reported by `get_runtime_size` (upstream a2a3 trb `sizeof(Runtime)`).
/// The simulated device keeps no state in the caller's buffer.
pub const SIMPLER_RUNTIME_SIZE: usize = 34752;

static CONTEXTS: Lazy<Registry<DeviceContext>> = Lazy::new(|| Registry::new(Kind::DeviceContext, "ctx"));

/// Looks a live context up by handle.
pub fn context(handle: DeviceContextHandle) -> Result<Arc<DeviceContext>> {
    CONTEXTS.get(handle)
}

/// Copies `len` bytes at `ptr` (NULL with len 0 = empty; NULL with len > 0 = error).
fn bytes_arg(ptr: *const u8, len: usize, what: &'static str) -> Result<Vec<u8>> {
    if ptr.is_null() {
        return if len == 0 { Ok(Vec::new()) } else { Err(Error::NullPointer { what }) };
    }
    // SAFETY: non-NULL; the caller passes `len` readable bytes (C contract).
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec())
}

/// Reads a caller's 4-entry array that may be unaligned; NULL = zeros.
fn ring_array(ptr: *const u64) -> [u64; 4] {
    if ptr.is_null() {
        return [0; 4];
    }
    // SAFETY: non-NULL; the C contract is 4 readable uint64_t, possibly unaligned.
    unsafe { std::ptr::read_unaligned(ptr as *const [u64; 4]) }
}

fn c_string_arg(ptr: *const c_char, what: &'static str) -> Result<String> {
    if ptr.is_null() {
        return Ok(String::new());
    }
    // SAFETY: non-NULL; the C contract is a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map(str::to_owned).map_err(|_| Error::InvalidArgument(format!("{what} must be valid UTF-8")))
}

fn read_args(args: *const c_void) -> Result<Box<ChipStorageTaskArgs>> {
    non_null(args, "args")?;
    // SAFETY: non-NULL; the C contract is a readable 17472-byte
    // ChipStorageTaskArgs, of any alignment (read_unaligned copies it).
    Ok(unsafe { ChipStorageTaskArgs::read_unaligned(args as *const u8) })
}

/// Decodes `count` (clamped to [0, 128]) raw `ArgDirection` values at `ptr`
/// (non-NULL when `count > 0`).
fn signature_arg(ptr: *const i32, count: i32) -> Result<Vec<crate::abi::ArgDirection>> {
    let len = usize::try_from(count).unwrap_or(0).min(crate::abi::callable::CHIP_MAX_SIG);
    if len == 0 {
        return Ok(Vec::new());
    }
    non_null(ptr, "signature")?;
    // SAFETY: non-NULL; the C contract is `count` readable ArgDirection
    // (int32) values, of which at most 128 are read.
    let raw = unsafe { std::slice::from_raw_parts(ptr, len) };
    raw.iter()
        .enumerate()
        .map(|(i, &v)| {
            crate::abi::ArgDirection::from_i32(v).ok_or_else(|| {
                Error::InvalidArgument(format!("signature[{i}] = {v} is not a valid ArgDirection (0..=3)"))
            })
        })
        .collect()
}

fn write_timing(out: *mut PtoRunTiming, t: RunTiming) {
    if !out.is_null() {
        // SAFETY: non-NULL; the C contract is a writable PtoRunTiming; written unaligned-safe.
        unsafe {
            std::ptr::write_unaligned(
                out,
                PtoRunTiming { host_wall_ns: t.host_wall_ns, device_wall_ns: t.device_wall_ns },
            )
        };
    }
}

fn zero_timing(out: *mut PtoRunTiming) {
    write_timing(out, RunTiming::default());
}

// ---------------------------------------------------------------------------
// Lifecycle, sizing, memory
// ---------------------------------------------------------------------------

/// Creates a device context; NULL on failure.
#[no_mangle]
pub extern "C" fn create_device_context() -> DeviceContextHandle {
    guard(std::ptr::null_mut(), || CONTEXTS.insert(Arc::new(DeviceContext::new())))
}

/// Destroys a context (finalizing it first if needed). NULL or an unknown
/// handle is ignored (the last error records it).
#[no_mangle]
pub extern "C" fn destroy_device_context(ctx: DeviceContextHandle) {
    guard((), || {
        CONTEXTS.remove(ctx)?.finalize();
        Ok(())
    })
}

/// Bytes the caller allocates once for the `runtime` argument of `run_prepared`.
/// A pure lookup: leaves the last error alone.
#[no_mangle]
pub extern "C" fn get_runtime_size() -> usize {
    SIMPLER_RUNTIME_SIZE
}

/// Attaches the context to `device_id`; per-device knobs come from the
/// environment (`PTO2_SCHEDULER_TIMEOUT_MS`; `SIMPLER_RUNTIME`, an optional
/// override of the variant each callable's binary implies) or defaults.
/// The executor binaries are accepted and kept (the simulated device does not
/// need them); the dispatcher binary is ignored, as on upstream's sim.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn simpler_init(
    ctx: DeviceContextHandle,
    device_id: i32,
    aicpu_binary: *const u8,
    aicpu_size: usize,
    aicore_binary: *const u8,
    aicore_size: usize,
    dispatcher_binary: *const u8,
    dispatcher_size: usize,
) -> i32 {
    guard_legacy(|| {
        init_impl(
            ctx,
            device_id,
            aicpu_binary,
            aicpu_size,
            aicore_binary,
            aicore_size,
            dispatcher_binary,
            dispatcher_size,
            std::ptr::null(),
        )
    })
}

/// `simpler_init` with an explicit configuration (may be NULL). Per-device
/// knobs (`scheduler_timeout_ms`, `runtime`) are resolved once here and
/// latched for the context's life; an invalid explicit value fails the call.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn simpler_init_with_config(
    ctx: DeviceContextHandle,
    device_id: i32,
    aicpu_binary: *const u8,
    aicpu_size: usize,
    aicore_binary: *const u8,
    aicore_size: usize,
    dispatcher_binary: *const u8,
    dispatcher_size: usize,
    config: *const pto_runtime_config_t,
) -> i32 {
    guard_code(|| {
        init_impl(
            ctx,
            device_id,
            aicpu_binary,
            aicpu_size,
            aicore_binary,
            aicore_size,
            dispatcher_binary,
            dispatcher_size,
            config,
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn init_impl(
    ctx: DeviceContextHandle,
    device_id: i32,
    aicpu: *const u8,
    aicpu_size: usize,
    aicore: *const u8,
    aicore_size: usize,
    dispatcher: *const u8,
    dispatcher_size: usize,
    config: *const pto_runtime_config_t,
) -> Result<()> {
    let c = context(ctx)?;
    let cfg = if config.is_null() { RuntimeConfig::new() } else { config_from_ptr(config)? };
    let aicpu = bytes_arg(aicpu, aicpu_size, "aicpu_binary")?;
    let aicore = bytes_arg(aicore, aicore_size, "aicore_binary")?;
    bytes_arg(dispatcher, dispatcher_size, "dispatcher_binary")?;
    c.init(device_id, &cfg, &aicpu, &aicore)
}

/// Releases every device resource of the context. Idempotent: a second call
/// (or a call on a context never initialised) returns 0, as upstream.
#[no_mangle]
pub extern "C" fn finalize_device(ctx: DeviceContextHandle) -> i32 {
    guard_legacy(|| {
        context(ctx)?.finalize();
        Ok(())
    })
}

/// Allocates `size` bytes of (simulated) device memory, usable by the host
/// directly; NULL on failure.
#[no_mangle]
pub extern "C" fn device_malloc_ctx(ctx: DeviceContextHandle, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || Ok(context(ctx)?.memory().alloc(size)? as *mut c_void))
}

/// Frees device memory; NULL or an unknown pointer is a no-op (as upstream),
/// recorded in the last error.
#[no_mangle]
pub extern "C" fn device_free_ctx(ctx: DeviceContextHandle, dev_ptr: *mut c_void) {
    guard((), || {
        let c = context(ctx)?;
        non_null(dev_ptr, "dev_ptr")?;
        c.memory().free(dev_ptr as *mut u8)
    })
}

/// Copies `size` bytes host → device (range-checked); -1 on error.
#[no_mangle]
pub extern "C" fn copy_to_device_ctx(
    ctx: DeviceContextHandle,
    dev_ptr: *mut c_void,
    host_ptr: *const c_void,
    size: usize,
) -> i32 {
    guard_legacy(|| {
        let c = context(ctx)?;
        non_null(dev_ptr, "dev_ptr")?;
        non_null(host_ptr, "host_ptr")?;
        // SAFETY: the device range is checked by copy_to_device; the host
        // range is the caller's readable buffer of `size` bytes (C contract).
        unsafe { c.memory().copy_to_device(dev_ptr as *mut u8, host_ptr as *const u8, size) }
    })
}

/// Copies `size` bytes device → host (range-checked); -1 on error.
#[no_mangle]
pub extern "C" fn copy_from_device_ctx(
    ctx: DeviceContextHandle,
    host_ptr: *mut c_void,
    dev_ptr: *const c_void,
    size: usize,
) -> i32 {
    guard_legacy(|| {
        let c = context(ctx)?;
        non_null(host_ptr, "host_ptr")?;
        non_null(dev_ptr, "dev_ptr")?;
        // SAFETY: the device range is checked by copy_from_device; the host
        // range is the caller's writable buffer of `size` bytes (C contract).
        unsafe { c.memory().copy_from_device(host_ptr as *mut u8, dev_ptr as *const u8, size) }
    })
}

// ---------------------------------------------------------------------------
// Callables and runs
// ---------------------------------------------------------------------------

/// Registers the ChipCallable image at `callable` under `callable_id`
/// (`[0, 64)`, not taken). The image length is derived from its header; use
/// `simpler_prepare_callable_sized` when the length is known. The callable
/// runs on the variant its orchestration binary implements (exports
/// `framework_bind_runtime`: tensormap_and_ringbuffer; exports the `func_name`
/// entry only: host_build_graph); a `runtime` override that contradicts it,
/// or a binary that is neither, fails the call (`PTO_ERR_INVALID_CALLABLE`).
#[no_mangle]
pub extern "C" fn prepare_callable(ctx: DeviceContextHandle, callable_id: i32, callable: *const c_void) -> i32 {
    guard_legacy(|| {
        let c = context(ctx)?;
        non_null(callable, "callable")?;
        crate::callable::registry::check_id(callable_id)?;
        // SAFETY: non-NULL; the caller guarantees the image is readable up to
        // the extent its own header declares (checked for plausibility first).
        let parsed = unsafe { parse_chip_callable_ptr(callable as *const u8)? };
        c.prepare(callable_id, parsed)
    })
}

/// Registers a ChipCallable image of known length: every size and offset is
/// checked against `callable_size` (a truncated image is an error).
#[no_mangle]
pub extern "C" fn simpler_prepare_callable_sized(
    ctx: DeviceContextHandle,
    callable_id: i32,
    callable: *const c_void,
    callable_size: usize,
) -> i32 {
    guard_code(|| {
        let c = context(ctx)?;
        non_null(callable, "callable")?;
        crate::callable::registry::check_id(callable_id)?;
        // SAFETY: non-NULL; the caller passes `callable_size` readable bytes.
        let image = unsafe { std::slice::from_raw_parts(callable as *const u8, callable_size) };
        c.prepare(callable_id, parse_chip_callable(image)?)
    })
}

/// Unregisters `callable_id` (0 also when not registered).
#[no_mangle]
pub extern "C" fn unregister_callable(ctx: DeviceContextHandle, callable_id: i32) -> i32 {
    guard_legacy(|| context(ctx)?.unregister(callable_id))
}

/// Distinct callable ids first seen by a run since the last finalize (0 for
/// hbg). A pure lookup: leaves the last error alone; a NULL, unknown or
/// destroyed handle returns 0 and records the error.
#[no_mangle]
pub extern "C" fn get_aicpu_dlopen_count(ctx: DeviceContextHandle) -> usize {
    guard_lookup(0, || Ok(context(ctx)?.aicpu_dlopen_count()))
}

/// Host-side orchestration dlopens (host_build_graph; monotonic). A pure
/// lookup: leaves the last error alone; a NULL, unknown or destroyed handle
/// returns 0 and records the error.
#[no_mangle]
pub extern "C" fn get_host_dlopen_count(ctx: DeviceContextHandle) -> usize {
    guard_lookup(0, || Ok(context(ctx)?.host_dlopen_count()))
}

/// Runs a prepared callable (upstream signature). Ring sizing per ring:
/// array entry > scalar > `PTO2_RING_*` env > default (0 / NULL = unset).
/// Outputs reach the host buffers only on success; a device failure returns
/// the negated PTO2 status, any other failure -1 (see `pto_last_error_*`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn run_prepared(
    ctx: DeviceContextHandle,
    runtime: RuntimeHandle,
    callable_id: i32,
    args: *const c_void,
    block_dim: i32,
    aicpu_thread_num: i32,
    enable_l2_swimlane: i32,
    enable_dump_tensor: i32,
    enable_pmu: i32,
    enable_dep_gen: i32,
    enable_scope_stats: i32,
    ring_task_window: u64,
    ring_heap: u64,
    ring_dep_pool: u64,
    ring_task_windows: *const u64,
    ring_heaps: *const u64,
    ring_dep_pools: *const u64,
    output_prefix: *const c_char,
    out_timing: *mut PtoRunTiming,
) -> i32 {
    zero_timing(out_timing);
    guard_legacy(|| {
        let c = context(ctx)?;
        non_null(runtime, "runtime")?;
        let args = read_args(args)?;
        let exec = ExecParams {
            block_dim,
            aicpu_thread_num,
            enable_l2_swimlane,
            enable_dump_tensor,
            enable_pmu,
            enable_dep_gen,
            enable_scope_stats,
            output_prefix: c_string_arg(output_prefix, "output_prefix")?,
        };
        let cfg = RuntimeConfig::from_legacy_ring_args(
            [ring_task_window, ring_heap, ring_dep_pool],
            [ring_array(ring_task_windows), ring_array(ring_heaps), ring_array(ring_dep_pools)],
        );
        let t = c.run(callable_id, &args, &exec, &cfg)?;
        write_timing(out_timing, t);
        Ok(())
    })
}

/// Runs a prepared callable with upstream's `CallConfig` (1172-byte packed
/// struct; NULL = defaults) and an explicit configuration (NULL = none).
/// Ring sizing per ring: `config` per-ring > `config` scalar >
/// `call_config->runtime_env` per-ring > its scalar > env > default.
#[no_mangle]
pub extern "C" fn run_prepared_with_config(
    ctx: DeviceContextHandle,
    runtime: RuntimeHandle,
    callable_id: i32,
    args: *const c_void,
    call_config: *const c_void,
    config: *const pto_runtime_config_t,
    out_timing: *mut PtoRunTiming,
) -> i32 {
    zero_timing(out_timing);
    guard_code(|| {
        let c = context(ctx)?;
        non_null(runtime, "runtime")?;
        let args = read_args(args)?;
        let cc = if call_config.is_null() {
            CallConfig::default()
        } else {
            // SAFETY: non-NULL; the C contract is a readable 1172-byte packed CallConfig.
            unsafe { CallConfig::read_unaligned(call_config as *const u8) }
        };
        // The output_prefix rule is checked with the other execution knobs in `run`.
        let (scalars, arrays) = cc.runtime_env.ring_args();
        let mut cfg = RuntimeConfig::from_legacy_ring_args(scalars, arrays);
        if !config.is_null() {
            cfg = cfg.overlay(&config_from_ptr(config)?);
        }
        let exec = ExecParams {
            block_dim: cc.block_dim,
            aicpu_thread_num: cc.aicpu_thread_num,
            enable_l2_swimlane: cc.enable_l2_swimlane,
            enable_dump_tensor: cc.enable_dump_tensor,
            enable_pmu: cc.enable_pmu,
            enable_dep_gen: cc.enable_dep_gen,
            enable_scope_stats: cc.enable_scope_stats,
            output_prefix: cc.output_prefix_str()?,
        };
        let t = c.run(callable_id, &args, &exec, &cfg)?;
        write_timing(out_timing, t);
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Platform queries and the runtime-variant entries
// ---------------------------------------------------------------------------

/// Platform string of the simulated device. A pure lookup: leaves the last
/// error alone.
#[no_mangle]
pub extern "C" fn get_platform() -> *const c_char {
    c"a2a3sim".as_ptr()
}

/// Toolchain of in-core kernels: `HOST_GXX_15` (1) on the simulated platform.
/// A pure lookup: leaves the last error alone.
#[no_mangle]
pub extern "C" fn get_incore_compiler() -> i32 {
    1
}

/// Toolchain of orchestration code: `HOST_GXX` (2) on the simulated platform.
/// A pure lookup: leaves the last error alone.
#[no_mangle]
pub extern "C" fn get_orchestration_compiler() -> i32 {
    2
}

/// Runtime-variant entry (upstream internal ABI): checks that `callable` is a
/// well-formed ChipCallable whose orchestration binary is of a known runtime
/// variant (agreeing with `SIMPLER_RUNTIME` when set) and, if given, hands it
/// to `upload_fn`. The C++ `CallableArtifacts` at `out` is not touched (it is
/// internal to upstream's host runtime). 0 or -1.
#[no_mangle]
#[allow(clippy::not_unsafe_ptr_arg_deref)] // a C export: the pointer contract is documented above
pub extern "C" fn prepare_callable_impl(
    callable: *const c_void,
    upload_fn: Option<unsafe extern "C" fn(*const c_void) -> u64>,
    out: *mut c_void,
) -> i32 {
    guard_legacy(|| {
        non_null(callable, "callable")?;
        let _ = out;
        // SAFETY: non-NULL; readable up to the extent its header declares.
        let parsed = unsafe { parse_chip_callable_ptr(callable as *const u8)? };
        if parsed.orch_so.is_empty() {
            return Err(Error::InvalidCallable("the orchestration binary is empty".into()));
        }
        // No context here: the override can only come from the environment.
        let (device, warnings) = crate::config::resolve_device(&RuntimeConfig::new(), &crate::config::ProcessEnv)?;
        warnings.iter().for_each(|w| w.emit());
        let over = device
            .runtime_override()
            .map(|variant| crate::callable::RuntimeOverride { variant, origin: device.runtime_override_origin() });
        crate::callable::classify::decide(&parsed.orch_so, &parsed.func_name, over)?;
        if let Some(upload) = upload_fn {
            // SAFETY: the caller supplied this callback for exactly this image.
            if !parsed.children.is_empty() && unsafe { upload(callable) } == 0 {
                return Err(Error::Load("upload_fn returned 0".into()));
            }
        }
        Ok(())
    })
}

/// Runtime-variant entry (upstream internal ABI): validates a run's inputs
/// and resolves its ring configuration exactly as `run_prepared` does
/// (NULL runtime/args → -1; a host orchestration pointer is rejected, as by
/// tensormap_and_ringbuffer; invalid ring values → -1). 0 or -1.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn bind_callable_to_runtime_impl(
    runtime: RuntimeHandle,
    orch_args: *const c_void,
    host_orch_func_ptr: *mut c_void,
    signature: *const i32,
    sig_count: i32,
    ring_task_window: u64,
    ring_heap: u64,
    ring_dep_pool: u64,
    ring_task_windows: *const u64,
    ring_heaps: *const u64,
    ring_dep_pools: *const u64,
) -> i32 {
    guard_legacy(|| {
        non_null(runtime, "runtime")?;
        let args = read_args(orch_args)?;
        if !host_orch_func_ptr.is_null() {
            return Err(Error::InvalidArgument("host_orch_func_ptr must be NULL for tensormap_and_ringbuffer".into()));
        }
        if sig_count > 0 && signature.is_null() {
            return Err(Error::NullPointer { what: "signature" });
        }
        let sig = signature_arg(signature, sig_count)?;
        crate::abi::validate_args(&args, &sig)?;
        let cfg = RuntimeConfig::from_legacy_ring_args(
            [ring_task_window, ring_heap, ring_dep_pool],
            [ring_array(ring_task_windows), ring_array(ring_heaps), ring_array(ring_dep_pools)],
        );
        let (_, warnings) = crate::config::resolve_run(&cfg, &crate::config::ProcessEnv)?;
        warnings.iter().for_each(|w| w.emit());
        Ok(())
    })
}

/// Runtime-variant entry (upstream internal ABI): NULL → -1, else 0 (the
/// simulated device completes copy-back inside `run_prepared`).
#[no_mangle]
pub extern "C" fn validate_runtime_impl(runtime: RuntimeHandle) -> i32 {
    guard_legacy(|| {
        non_null(runtime, "runtime")?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// ACL / stream (no-ops on the simulated device, as upstream's sim)
// ---------------------------------------------------------------------------

/// Returns 0 for a live context (the simulated device needs no ACL); -1 for
/// a NULL, unknown or destroyed handle.
#[no_mangle]
pub extern "C" fn ensure_acl_ready_ctx(ctx: DeviceContextHandle, device_id: i32) -> i32 {
    let _ = device_id;
    guard_legacy(|| context(ctx).map(|_| ()))
}

/// Returns NULL (no stream on the simulated device; not an error for a live
/// context, whose last error is cleared). A NULL, unknown or destroyed handle
/// also returns NULL and records the error.
#[no_mangle]
pub extern "C" fn create_comm_stream_ctx(ctx: DeviceContextHandle) -> *mut c_void {
    guard(std::ptr::null_mut(), || context(ctx).map(|_| std::ptr::null_mut()))
}

/// Returns 0 for a live context (any `stream`, NULL included); -1 for a NULL,
/// unknown or destroyed handle.
#[no_mangle]
pub extern "C" fn destroy_comm_stream_ctx(ctx: DeviceContextHandle, stream: *mut c_void) -> i32 {
    let _ = stream;
    guard_legacy(|| context(ctx).map(|_| ()))
}
