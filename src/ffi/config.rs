//! C exports of the configuration API (`pto_runtime_config_*`,
//! `pto_last_error_*`, `pto_error_name`).
#![allow(non_camel_case_types)]

use std::ffi::{c_char, CString};
use std::mem::{offset_of, size_of};

use once_cell::sync::Lazy;

use crate::config::{
    self, BuildMode, ConfigError, ProcessEnv, Resolved, ResolvedConfig, RingValue, RuntimeConfig, RuntimeVariant,
    Shape, Source, KNOBS,
};
use crate::diagnostics::{last_error, Error, ErrorCode, Result};
use crate::ffi::{guard_code, guard_lookup, guard_lookup_code, non_null};
use crate::{ffi_mut, ffi_str};

/// Value of `orch_to_sched` meaning "unset" (fall through to the environment).
pub const PTO_BOOL_UNSET: i32 = -1;
/// Value of `runtime` meaning "unset".
pub const PTO_RUNTIME_UNSET: i32 = 0;
/// `runtime` = tensormap_and_ringbuffer.
pub const PTO_RUNTIME_TENSORMAP_AND_RINGBUFFER: i32 = 1;
/// `runtime` = host_build_graph.
pub const PTO_RUNTIME_HOST_BUILD_GRAPH: i32 = 2;
/// `runtime` = aicpu_build_graph.
pub const PTO_RUNTIME_AICPU_BUILD_GRAPH: i32 = 3;
/// Value of `build_mode` meaning "unset".
pub const PTO_BUILD_MODE_UNSET: i32 = -1;
/// `build_mode` = sequential (the schedulers wait until the builder is done).
pub const PTO_BUILD_MODE_SEQUENTIAL: i32 = 0;
/// `build_mode` = concurrent (build and schedule overlap).
pub const PTO_BUILD_MODE_CONCURRENT: i32 = 1;
/// Number of scope-depth rings.
pub const PTO_RING_COUNT: usize = 4;

/// Explicit runtime configuration. Initialise with `pto_runtime_config_init`
/// (every field unset), then set fields directly or with
/// `pto_runtime_config_set`. Unset values fall through to the environment
/// variable, then the compiled default. Precedence per ring: per-ring field >
/// scalar field > env per-ring list > env scalar > default.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pto_runtime_config_t {
    /// `sizeof(pto_runtime_config_t)` of the header the caller was compiled
    /// against (set by `pto_runtime_config_init`). Versioned by size: the
    /// library also accepts each released smaller layout, 152 (the layout
    /// before `build_mode`), reading and writing only those bytes, the fields
    /// that layout lacks being unset; `pto_runtime_config_set` of a knob
    /// without a field in it is an error. A larger size (a newer header) is
    /// accepted and only the fields known here are used; any other size is
    /// PTO_ERR_STRUCT_SIZE. `pto_runtime_config_init` writes the current
    /// layout: a caller of an older layout sets `struct_size` and the unset
    /// markers itself instead.
    pub struct_size: u64,
    /// ring_task_window for all rings (env PTO2_RING_TASK_WINDOW): task slots per ring, a power of two in [4, 2147483647]; default 16384; 0 = unset.
    pub ring_task_window: u64,
    /// ring_heap for all rings (env PTO2_RING_HEAP): heap bytes per ring, an integer >= 1024; default 268435456; 0 = unset.
    pub ring_heap: u64,
    /// ring_dep_pool for all rings (env PTO2_RING_DEP_POOL): dependency entries per ring, an integer in [4, 2147483647]; default 16384; 0 = unset.
    pub ring_dep_pool: u64,
    /// ring_task_window per ring (index = scope depth, depth >= 3 uses ring 3); 0 = unset.
    pub ring_task_windows: [u64; PTO_RING_COUNT],
    /// ring_heap per ring; 0 = unset.
    pub ring_heaps: [u64; PTO_RING_COUNT],
    /// ring_dep_pool per ring; 0 = unset.
    pub ring_dep_pools: [u64; PTO_RING_COUNT],
    /// ready_queue_shards (env PTO2_READY_QUEUE_SHARDS): an integer in [1, 4]; default 3; 0 = unset.
    pub ready_queue_shards: u64,
    /// scheduler_timeout_ms (env PTO2_SCHEDULER_TIMEOUT_MS, per device): an integer in [1, 2147483647]; default 10000; 0 = unset.
    pub scheduler_timeout_ms: u64,
    /// orch_to_sched (env PTO2_ORCH_TO_SCHED): a boolean: 1/t/true/yes/on or 0/f/false/no/off (any case); in the environment true iff the first character is 1, t or T, stored as 1 or 0; default false; PTO_BOOL_UNSET (-1) = unset.
    pub orch_to_sched: i32,
    /// runtime (env SIMPLER_RUNTIME, per device, an optional override): one of tensormap_and_ringbuffer, host_build_graph, aicpu_build_graph, stored as PTO_RUNTIME_* (1, 2, 3); default inferred per callable (from its orchestration binary); PTO_RUNTIME_UNSET (0) = unset. A set value that contradicts a callable's binary fails prepare_callable.
    pub runtime: i32,
    /// build_mode (env PTO_AICPU_BUILD_GRAPH_BUILD_MODE, aicpu_build_graph): 0 or sequential, 1 or concurrent; in the environment also any other integer (non-zero: concurrent), stored as PTO_BUILD_MODE_SEQUENTIAL (0: the schedulers wait until the builder is done) or PTO_BUILD_MODE_CONCURRENT (1: they run while it builds); default concurrent; PTO_BUILD_MODE_UNSET (-1) = unset.
    pub build_mode: i32,
}

const _: () = {
    assert!(size_of::<pto_runtime_config_t>() == 160);
    assert!(offset_of!(pto_runtime_config_t, build_mode) == 152);
    assert!(offset_of!(pto_runtime_config_t, ring_task_window) == 8);
    assert!(offset_of!(pto_runtime_config_t, ring_task_windows) == 32);
    assert!(offset_of!(pto_runtime_config_t, ring_heaps) == 64);
    assert!(offset_of!(pto_runtime_config_t, ring_dep_pools) == 96);
    assert!(offset_of!(pto_runtime_config_t, ready_queue_shards) == 128);
    assert!(offset_of!(pto_runtime_config_t, scheduler_timeout_ms) == 136);
    assert!(offset_of!(pto_runtime_config_t, orch_to_sched) == 144);
    assert!(offset_of!(pto_runtime_config_t, runtime) == 148);
};

/// Where a resolved value came from.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pto_config_source_t {
    /// Compiled default.
    PTO_SOURCE_DEFAULT = 0,
    /// Environment variable (one value for all rings, or a scalar knob).
    PTO_SOURCE_ENV = 1,
    /// Environment variable's per-ring list.
    PTO_SOURCE_ENV_PER_RING = 2,
    /// Explicit value (scalar, broadcast to all rings).
    PTO_SOURCE_EXPLICIT = 3,
    /// Explicit per-ring value.
    PTO_SOURCE_EXPLICIT_PER_RING = 4,
}

/// One effective value and its source.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pto_resolved_value_t {
    /// The value (booleans 0/1, runtime as PTO_RUNTIME_*).
    pub value: u64,
    /// A `pto_config_source_t`.
    pub source: i32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Effective value of every knob and ring, with its source.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pto_resolved_config_t {
    /// `sizeof(pto_resolved_config_t)`, set by the caller; versioned by size
    /// like `pto_runtime_config_t.struct_size` (the released smaller layout
    /// is 264 bytes, before `build_mode`; only its bytes are written).
    pub struct_size: u64,
    /// Task window per ring.
    pub ring_task_windows: [pto_resolved_value_t; PTO_RING_COUNT],
    /// Heap bytes per ring.
    pub ring_heaps: [pto_resolved_value_t; PTO_RING_COUNT],
    /// Dep pool entries per ring.
    pub ring_dep_pools: [pto_resolved_value_t; PTO_RING_COUNT],
    /// Ready-queue shards.
    pub ready_queue_shards: pto_resolved_value_t,
    /// Orchestrator joins scheduling (0/1).
    pub orch_to_sched: pto_resolved_value_t,
    /// Scheduler watchdog in ms.
    pub scheduler_timeout_ms: pto_resolved_value_t,
    /// Runtime variant override (PTO_RUNTIME_*; PTO_RUNTIME_UNSET = none, inferred per callable).
    pub runtime: pto_resolved_value_t,
    /// aicpu_build_graph build mode (PTO_BUILD_MODE_*).
    pub build_mode: pto_resolved_value_t,
}

const _: () = assert!(size_of::<pto_resolved_config_t>() == 8 + 17 * 16);

/// Schema entry of one knob, as read by `pto_runtime_config_describe`.
/// All strings are static and NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pto_knob_info_t {
    /// Knob name (for `pto_runtime_config_set`).
    pub name: *const c_char,
    /// Environment variable.
    pub env: *const c_char,
    /// Value shape in words.
    pub shape: *const c_char,
    /// Rule in words.
    pub rule: *const c_char,
    /// Compiled default, rendered.
    pub default_value: *const c_char,
    /// "per run" or "per device".
    pub tier: *const c_char,
    /// Unit ("" if none).
    pub unit: *const c_char,
    /// One-line documentation.
    pub doc: *const c_char,
    /// 1 for per-ring knobs.
    pub per_ring: i32,
    /// 1 for per-device knobs.
    pub per_device: i32,
}

struct KnobStrings([CString; 8]);

static KNOB_STRINGS: Lazy<Vec<KnobStrings>> = Lazy::new(|| {
    let c = |s: String| CString::new(s).unwrap_or_default();
    KNOBS
        .iter()
        .map(|k| {
            KnobStrings([
                c(k.name.into()),
                c(k.env.into()),
                c(k.shape_text()),
                c(k.rule_text()),
                c(k.default_text()),
                c(k.tier_text().into()),
                c(k.unit.into()),
                c(k.doc.into()),
            ])
        })
        .collect()
});

/// `struct_size` of the current `pto_runtime_config_t`.
const CONFIG_SIZE: u64 = size_of::<pto_runtime_config_t>() as u64;
/// `struct_size` of each released `pto_runtime_config_t` layout, oldest
/// first: 152 (through `runtime`), 160 (`build_mode` added).
const CONFIG_SIZES: &[u64] = &[offset_of!(pto_runtime_config_t, build_mode) as u64, CONFIG_SIZE];
/// `struct_size` of the current `pto_resolved_config_t`.
const RESOLVED_SIZE: u64 = size_of::<pto_resolved_config_t>() as u64;
/// `struct_size` of each released `pto_resolved_config_t` layout: 264
/// (through `runtime`), 280 (`build_mode` added).
const RESOLVED_SIZES: &[u64] = &[offset_of!(pto_resolved_config_t, build_mode) as u64, RESOLVED_SIZE];

/// How many bytes of a caller's struct of `struct_size` `got` this library
/// reads and writes: the size of a released layout (whose missing trailing
/// fields are then unset), or at least the current size (a newer, larger
/// layout: only the fields known here are used). Anything else is
/// `PTO_ERR_STRUCT_SIZE`.
fn layout_len(what: &'static str, got: u64, sizes: &[u64]) -> Result<usize> {
    let current = *sizes.last().expect("at least one layout");
    if got >= current {
        return Ok(current as usize);
    }
    if sizes.contains(&got) {
        return Ok(got as usize);
    }
    let list = sizes.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    Err(ConfigError::StructSize { what, got, rule: format!("one of the released sizes {list} or larger") }.into())
}

/// Copies the caller's `pto_runtime_config_t` of whatever released size it
/// declares into a current one (fields it lacks stay unset); returns it and
/// the caller's byte length.
fn read_config(p: *const pto_runtime_config_t) -> Result<(pto_runtime_config_t, usize)> {
    if p.is_null() {
        return Err(Error::NullPointer { what: "cfg" });
    }
    // SAFETY: non-NULL; `struct_size` (a u64 at offset 0) begins every
    // layout, so the caller's object holds it.
    let got = unsafe { std::ptr::read_unaligned(p.cast::<u64>()) };
    let len = layout_len("pto_runtime_config_t", got, CONFIG_SIZES)?;
    let mut c = unset_c_config();
    // SAFETY: the caller's object is at least `len` bytes (its struct_size
    // names a layout of that size) and `c` is `CONFIG_SIZE >= len` bytes.
    unsafe { std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&mut c as *mut pto_runtime_config_t).cast::<u8>(), len) };
    Ok((c, len))
}

/// Reads the caller's config (any released size) and decodes it.
pub fn config_from_ptr(p: *const pto_runtime_config_t) -> Result<RuntimeConfig> {
    config_from_c(&read_config(p)?.0)
}

/// Decodes a C config into a [`RuntimeConfig`] (validating unset markers,
/// not rules: callers run `validate`/`resolve`).
pub fn config_from_c(c: &pto_runtime_config_t) -> Result<RuntimeConfig> {
    layout_len("pto_runtime_config_t", c.struct_size, CONFIG_SIZES)?;
    let orch_to_sched = match c.orch_to_sched {
        PTO_BOOL_UNSET => None,
        0 => Some(false),
        1 => Some(true),
        v => {
            return Err(ConfigError::InvalidValue {
                knob: "orch_to_sched",
                ring: None,
                value: v.to_string(),
                rule: "0, 1 or PTO_BOOL_UNSET (-1)".into(),
            }
            .into())
        }
    };
    let runtime = match c.runtime {
        PTO_RUNTIME_UNSET => None,
        v => Some(RuntimeVariant::from_code(v as u64).ok_or_else(|| ConfigError::InvalidValue {
            knob: "runtime",
            ring: None,
            value: v.to_string(),
            rule: "a PTO_RUNTIME_* constant (1..3) or PTO_RUNTIME_UNSET (0)".into(),
        })?),
    };
    let build_mode = match c.build_mode {
        PTO_BUILD_MODE_UNSET => None,
        v => Some(BuildMode::from_code(v as u64).filter(|_| v >= 0).ok_or_else(|| ConfigError::InvalidValue {
            knob: "build_mode",
            ring: None,
            value: v.to_string(),
            rule: "PTO_BUILD_MODE_SEQUENTIAL (0), PTO_BUILD_MODE_CONCURRENT (1) or PTO_BUILD_MODE_UNSET (-1)".into(),
        })?),
    };
    let nz = |v: u64| (v != 0).then_some(v);
    Ok(RuntimeConfig {
        ring_task_window: RingValue::from_raw(c.ring_task_window, c.ring_task_windows),
        ring_heap: RingValue::from_raw(c.ring_heap, c.ring_heaps),
        ring_dep_pool: RingValue::from_raw(c.ring_dep_pool, c.ring_dep_pools),
        ready_queue_shards: nz(c.ready_queue_shards),
        orch_to_sched,
        build_mode,
        scheduler_timeout_ms: nz(c.scheduler_timeout_ms),
        runtime,
    })
}

/// Encodes a [`RuntimeConfig`] into a C config (keeps `struct_size`).
pub fn config_to_c(cfg: &RuntimeConfig, out: &mut pto_runtime_config_t) {
    let (w, ws) = cfg.ring_task_window.to_raw();
    let (h, hs) = cfg.ring_heap.to_raw();
    let (d, ds) = cfg.ring_dep_pool.to_raw();
    out.ring_task_window = w;
    out.ring_task_windows = ws;
    out.ring_heap = h;
    out.ring_heaps = hs;
    out.ring_dep_pool = d;
    out.ring_dep_pools = ds;
    out.ready_queue_shards = cfg.ready_queue_shards.unwrap_or(0);
    out.scheduler_timeout_ms = cfg.scheduler_timeout_ms.unwrap_or(0);
    out.orch_to_sched = cfg.orch_to_sched.map_or(PTO_BOOL_UNSET, i32::from);
    out.runtime = cfg.runtime.map_or(PTO_RUNTIME_UNSET, |r| r as i32);
    out.build_mode = cfg.build_mode.map_or(PTO_BUILD_MODE_UNSET, |m| m as i32);
}

/// The first knob set in `rc` whose field lies beyond the first `len`
/// bytes of the struct (an older layout cannot hold it).
fn missing_knob(rc: &RuntimeConfig, len: usize) -> Option<&'static str> {
    (rc.build_mode.is_some() && len <= offset_of!(pto_runtime_config_t, build_mode)).then_some("build_mode")
}

fn unset_c_config() -> pto_runtime_config_t {
    let mut c = pto_runtime_config_t {
        struct_size: CONFIG_SIZE,
        ring_task_window: 0,
        ring_heap: 0,
        ring_dep_pool: 0,
        ring_task_windows: [0; 4],
        ring_heaps: [0; 4],
        ring_dep_pools: [0; 4],
        ready_queue_shards: 0,
        scheduler_timeout_ms: 0,
        orch_to_sched: PTO_BOOL_UNSET,
        runtime: PTO_RUNTIME_UNSET,
        build_mode: PTO_BUILD_MODE_UNSET,
    };
    config_to_c(&RuntimeConfig::new(), &mut c);
    c
}

fn resolved_to_c(r: Resolved) -> pto_resolved_value_t {
    pto_resolved_value_t { value: r.value, source: r.source as i32, reserved: 0 }
}

/// Fills a C resolved config from a [`ResolvedConfig`].
pub fn resolved_into_c(r: &ResolvedConfig, out: &mut pto_resolved_config_t) {
    out.ring_task_windows = r.run.ring_task_window.map(resolved_to_c);
    out.ring_heaps = r.run.ring_heap.map(resolved_to_c);
    out.ring_dep_pools = r.run.ring_dep_pool.map(resolved_to_c);
    out.ready_queue_shards = resolved_to_c(r.run.ready_queue_shards);
    out.orch_to_sched = resolved_to_c(r.run.orch_to_sched);
    out.scheduler_timeout_ms = resolved_to_c(r.device.scheduler_timeout_ms);
    out.runtime = resolved_to_c(r.device.runtime);
    out.build_mode = resolved_to_c(r.run.build_mode);
}

const _: () = {
    // Source and pto_config_source_t share their numbering.
    assert!(Source::Default as i32 == pto_config_source_t::PTO_SOURCE_DEFAULT as i32);
    assert!(Source::Env as i32 == pto_config_source_t::PTO_SOURCE_ENV as i32);
    assert!(Source::EnvPerRing as i32 == pto_config_source_t::PTO_SOURCE_ENV_PER_RING as i32);
    assert!(Source::Explicit as i32 == pto_config_source_t::PTO_SOURCE_EXPLICIT as i32);
    assert!(Source::ExplicitPerRing as i32 == pto_config_source_t::PTO_SOURCE_EXPLICIT_PER_RING as i32);
};

/// Initialises `cfg`: every knob unset, `struct_size` set.
/// Returns 0, or PTO_ERR_NULL_POINTER.
#[no_mangle]
pub extern "C" fn pto_runtime_config_init(cfg: *mut pto_runtime_config_t) -> i32 {
    guard_code(|| {
        let cfg = ffi_mut!(cfg, "cfg");
        *cfg = unset_c_config();
        Ok(())
    })
}

/// Sets knob `knob` (a knob name or its environment variable) from text with
/// the environment variable's syntax: ring knobs take one value (all rings)
/// or exactly four comma-separated values (ring 0..3); for numeric knobs 0
/// means unset in every form (a single 0 clears the value, a 0 in a 4-list
/// leaves that ring unset), as in the struct fields; booleans take
/// 1/t/true/yes/on or 0/f/false/no/off (any case); `unset` clears a knob.
/// An invalid value is an error and leaves `cfg` unchanged.
#[no_mangle]
pub extern "C" fn pto_runtime_config_set(
    cfg: *mut pto_runtime_config_t,
    knob: *const c_char,
    value: *const c_char,
) -> i32 {
    guard_code(|| {
        let (mut c, len) = read_config(cfg)?;
        let knob = ffi_str!(knob, "knob");
        let value = ffi_str!(value, "value");
        let mut rc = config_from_c(&c)?;
        rc.set_str(knob, value)?;
        if len < CONFIG_SIZE as usize {
            if let Some(missing) = missing_knob(&rc, len) {
                return Err(Error::InvalidArgument(format!(
                    "knob '{missing}' has no field in a pto_runtime_config_t of struct_size {len} (an older layout); \
                     use the current header's pto_runtime_config_t (struct_size {CONFIG_SIZE})"
                )));
            }
        }
        config_to_c(&rc, &mut c);
        // SAFETY: `cfg` is non-NULL (read_config checked it) and the caller's
        // object is `len` bytes; `c` is at least that long.
        unsafe {
            std::ptr::copy_nonoverlapping((&c as *const pto_runtime_config_t).cast::<u8>(), cfg.cast::<u8>(), len)
        };
        Ok(())
    })
}

/// Validates every set value against its rule: 0, or a negative error code
/// with the message (naming knob, ring, value and rule) in `pto_last_error_message()`.
#[no_mangle]
pub extern "C" fn pto_runtime_config_validate(cfg: *const pto_runtime_config_t) -> i32 {
    guard_code(|| {
        config_from_ptr(cfg)?.validate()?;
        Ok(())
    })
}

/// Resolves the effective value and source of every knob and ring against
/// the current process environment (invalid variables are warned about and
/// ignored, exactly as a run does). `out->struct_size` must be set by the caller.
#[no_mangle]
pub extern "C" fn pto_runtime_config_resolve(cfg: *const pto_runtime_config_t, out: *mut pto_resolved_config_t) -> i32 {
    guard_code(|| {
        let rc = config_from_ptr(cfg)?;
        non_null(out, "out")?;
        // SAFETY: non-NULL; `struct_size` (a u64 at offset 0) begins every layout.
        let got = unsafe { std::ptr::read_unaligned(out.cast::<u64>()) };
        let len = layout_len("pto_resolved_config_t", got, RESOLVED_SIZES)?;
        let (resolved, warnings) = config::resolve(&rc, &ProcessEnv)?;
        warnings.iter().for_each(|w| w.emit());
        // SAFETY: the value is plain data; every bit pattern of zeroes is valid.
        let mut full: pto_resolved_config_t = unsafe { std::mem::zeroed() };
        resolved_into_c(&resolved, &mut full);
        // SAFETY: the caller's object is `len` bytes from offset 0, of which
        // the first 8 (struct_size) are kept; `full` is at least `len` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&full as *const pto_resolved_config_t).cast::<u8>().add(8),
                out.cast::<u8>().add(8),
                len - 8,
            )
        };
        Ok(())
    })
}

/// Number of knobs in the schema. A pure lookup: leaves the last error alone.
#[no_mangle]
pub extern "C" fn pto_runtime_config_knob_count() -> usize {
    KNOBS.len()
}

/// Describes knob `index` (0..count): name, env var, shape, rule, default,
/// tier, unit, doc. Strings are static. A pure lookup: success leaves the
/// last error alone; a NULL `out` or an out-of-range index records the error.
#[no_mangle]
pub extern "C" fn pto_runtime_config_describe(index: usize, out: *mut pto_knob_info_t) -> i32 {
    guard_lookup_code(|| {
        let out = ffi_mut!(out, "out");
        let Some(spec) = KNOBS.get(index) else {
            return Err(Error::InvalidArgument(format!(
                "knob index {index} is out of range: must be < {}",
                KNOBS.len()
            )));
        };
        let s = &KNOB_STRINGS[index].0;
        *out = pto_knob_info_t {
            name: s[0].as_ptr(),
            env: s[1].as_ptr(),
            shape: s[2].as_ptr(),
            rule: s[3].as_ptr(),
            default_value: s[4].as_ptr(),
            tier: s[5].as_ptr(),
            unit: s[6].as_ptr(),
            doc: s[7].as_ptr(),
            per_ring: i32::from(spec.shape == Shape::PerRing),
            per_device: i32::from(spec.tier.per_device()),
        };
        Ok(())
    })
}

/// Text of the last failure on the calling thread ("" after a success).
/// Never NULL. Valid on this thread until the next call that sets or clears
/// the last error; pure lookups (`pto_error_name`, `pto_last_error_*`,
/// `pto_runtime_config_knob_count`, `_describe`, `simpler_version`,
/// `get_platform`, `get_*_compiler`, `get_runtime_size`, `get_*_dlopen_count`)
/// leave it alone. Messages are cut at 4095 bytes. Usable at any time,
/// including from `atexit` handlers and thread-exit destructors.
#[no_mangle]
pub extern "C" fn pto_last_error_message() -> *const c_char {
    last_error::message_ptr()
}

/// Detailed code of the last failure on the calling thread (0 after a
/// success). Legacy entry points return -1; this tells which error it was.
/// A pure lookup: leaves the last error alone.
#[no_mangle]
pub extern "C" fn pto_last_error_code() -> i32 {
    last_error::code()
}

static CODE_NAMES: Lazy<Vec<(i32, CString)>> =
    Lazy::new(|| ErrorCode::all().iter().map(|c| (*c as i32, CString::new(c.name()).unwrap_or_default())).collect());
static UNKNOWN_CODE: Lazy<CString> = Lazy::new(|| CString::new("PTO_ERR_UNKNOWN").unwrap_or_default());

/// Symbolic name of an error code (e.g. "PTO_ERR_NULL_POINTER"); negated
/// runtime statuses (-1..-11, -100..-103) other than -1 give "PTO_ERR_UNKNOWN".
/// A pure lookup: leaves the last error alone (so
/// `printf("%s: %s", pto_error_name(rc), pto_last_error_message())` works).
#[no_mangle]
pub extern "C" fn pto_error_name(code: i32) -> *const c_char {
    guard_lookup(c"PTO_ERR_UNKNOWN".as_ptr(), || {
        Ok(CODE_NAMES.iter().find(|(c, _)| *c == code).map_or(UNKNOWN_CODE.as_ptr(), |(_, n)| n.as_ptr()))
    })
}

static VERSION: Lazy<CString> = Lazy::new(|| CString::new(env!("CARGO_PKG_VERSION")).unwrap_or_default());

/// Version of libsimpler ("MAJOR.MINOR.PATCH"). A pure lookup: leaves the
/// last error alone.
#[no_mangle]
pub extern "C" fn simpler_version() -> *const c_char {
    VERSION.as_ptr()
}
