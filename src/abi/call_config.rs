//! `RuntimeEnv` and `CallConfig`: the packed (`#pragma pack(1)`) per-call
//! configuration blocks of upstream's `call_config.h`.
//!
//! Both structs are `repr(C, packed)`: never take a reference to a field;
//! copy the field out by value (`let x = cfg.block_dim;`).

use crate::diagnostics::{Error, Result};

/// Number of per-ring entries in each [`RuntimeEnv`] array (`PTO2_MAX_RING_DEPTH`).
pub const RUNTIME_ENV_RING_COUNT: usize = 4;
/// Capacity of [`CallConfig::output_prefix`] including the terminating NUL.
pub const OUTPUT_PREFIX_CAPACITY: usize = 1024;

/// Per-call ring sizing overrides (120 B, packed). A scalar of 0 means
/// "unset"; a non-zero scalar applies to all rings; a non-zero array entry
/// overrides that ring.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeEnv {
    /// Task-window slots per ring (all rings).
    pub ring_task_window: u64,
    /// Heap bytes per ring (all rings).
    pub ring_heap: u64,
    /// Dependency-pool entries per ring (all rings).
    pub ring_dep_pool: u64,
    /// Per-ring task-window overrides.
    pub ring_task_windows: [u64; RUNTIME_ENV_RING_COUNT],
    /// Per-ring heap overrides.
    pub ring_heaps: [u64; RUNTIME_ENV_RING_COUNT],
    /// Per-ring dependency-pool overrides.
    pub ring_dep_pools: [u64; RUNTIME_ENV_RING_COUNT],
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<RuntimeEnv>() == 120);
    assert!(align_of::<RuntimeEnv>() == 1);
    assert!(offset_of!(RuntimeEnv, ring_task_window) == 0);
    assert!(offset_of!(RuntimeEnv, ring_heap) == 8);
    assert!(offset_of!(RuntimeEnv, ring_dep_pool) == 16);
    assert!(offset_of!(RuntimeEnv, ring_task_windows) == 24);
    assert!(offset_of!(RuntimeEnv, ring_heaps) == 56);
    assert!(offset_of!(RuntimeEnv, ring_dep_pools) == 88);
};

// SAFETY: RuntimeEnv is repr(C, packed) of u64 fields only: no padding and
// every bit pattern is valid.
unsafe impl bytemuck::Zeroable for RuntimeEnv {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for RuntimeEnv {}

impl RuntimeEnv {
    /// The `(task_window, heap, dep_pool)` scalars and the matching per-ring
    /// arrays, copied out of the packed struct.
    pub fn ring_args(&self) -> ([u64; 3], [[u64; RUNTIME_ENV_RING_COUNT]; 3]) {
        // Copies by value: no references into the packed struct.
        let scalars = [self.ring_task_window, self.ring_heap, self.ring_dep_pool];
        let arrays = [self.ring_task_windows, self.ring_heaps, self.ring_dep_pools];
        (scalars, arrays)
    }
}

/// Per-call configuration (1172 B, packed, align 1), byte-identical to
/// upstream's `CallConfig`.
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct CallConfig {
    /// AICore block count; 0 = platform maximum.
    pub block_dim: i32,
    /// AICPU scheduler thread count (default 3).
    pub aicpu_thread_num: i32,
    /// L2 swimlane level 0..=4.
    pub enable_l2_swimlane: i32,
    /// Tensor dump level 0..=3.
    pub enable_dump_tensor: i32,
    /// PMU: 0 off, > 0 event type.
    pub enable_pmu: i32,
    /// Dependency-graph dump (bool).
    pub enable_dep_gen: i32,
    /// Scope statistics (bool).
    pub enable_scope_stats: i32,
    /// Ring sizing overrides.
    pub runtime_env: RuntimeEnv,
    /// NUL-terminated output directory prefix for diagnostics.
    pub output_prefix: [u8; OUTPUT_PREFIX_CAPACITY],
}

/// Size in bytes of [`CallConfig`].
pub const CALL_CONFIG_SIZE: usize = 1172;

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<CallConfig>() == CALL_CONFIG_SIZE);
    assert!(size_of::<CallConfig>() == 7 * 4 + 15 * 8 + 1024);
    assert!(align_of::<CallConfig>() == 1);
    assert!(offset_of!(CallConfig, block_dim) == 0);
    assert!(offset_of!(CallConfig, aicpu_thread_num) == 4);
    assert!(offset_of!(CallConfig, enable_l2_swimlane) == 8);
    assert!(offset_of!(CallConfig, enable_dump_tensor) == 12);
    assert!(offset_of!(CallConfig, enable_pmu) == 16);
    assert!(offset_of!(CallConfig, enable_dep_gen) == 20);
    assert!(offset_of!(CallConfig, enable_scope_stats) == 24);
    assert!(offset_of!(CallConfig, runtime_env) == 28);
    assert!(offset_of!(CallConfig, output_prefix) == 148);
};

// SAFETY: CallConfig is repr(C, packed) of integers, a Pod RuntimeEnv and a
// byte array: no padding, every bit pattern is valid.
unsafe impl bytemuck::Zeroable for CallConfig {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for CallConfig {}

impl Default for CallConfig {
    /// Upstream defaults: `block_dim` 0 (auto), `aicpu_thread_num` 3, every
    /// flag 0, zero `runtime_env`, empty `output_prefix`.
    fn default() -> Self {
        CallConfig { aicpu_thread_num: 3, ..bytemuck::Zeroable::zeroed() }
    }
}

impl PartialEq for CallConfig {
    fn eq(&self, other: &Self) -> bool {
        bytemuck::bytes_of(self) == bytemuck::bytes_of(other)
    }
}

impl Eq for CallConfig {}

impl std::fmt::Debug for CallConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Copy every packed field out before formatting it.
        let (block_dim, aicpu, swim, dump, pmu, dep, scope, env) = (
            self.block_dim,
            self.aicpu_thread_num,
            self.enable_l2_swimlane,
            self.enable_dump_tensor,
            self.enable_pmu,
            self.enable_dep_gen,
            self.enable_scope_stats,
            self.runtime_env,
        );
        let prefix = self.output_prefix_str().unwrap_or_else(|_| "<invalid>".to_string());
        f.debug_struct("CallConfig")
            .field("block_dim", &block_dim)
            .field("aicpu_thread_num", &aicpu)
            .field("enable_l2_swimlane", &swim)
            .field("enable_dump_tensor", &dump)
            .field("enable_pmu", &pmu)
            .field("enable_dep_gen", &dep)
            .field("enable_scope_stats", &scope)
            .field("runtime_env", &env)
            .field("output_prefix", &prefix)
            .finish()
    }
}

impl CallConfig {
    /// Copies a `CallConfig` from `ptr` (any alignment).
    ///
    /// # Safety
    /// `ptr` must be non-NULL and valid for reads of [`CALL_CONFIG_SIZE`] bytes.
    pub unsafe fn read_unaligned(ptr: *const u8) -> CallConfig {
        // SAFETY: the caller guarantees CALL_CONFIG_SIZE readable bytes;
        // `read_unaligned` has no alignment requirement (CallConfig has
        // align 1 anyway) and every bit pattern is a valid CallConfig.
        unsafe { std::ptr::read_unaligned(ptr.cast::<CallConfig>()) }
    }

    /// The raw bytes of this config, exactly as C sees them.
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }

    /// The output prefix up to its NUL terminator. Errors if there is no NUL
    /// within the 1024 bytes or the text is not UTF-8.
    pub fn output_prefix_str(&self) -> Result<String> {
        let buf = self.output_prefix;
        let end = buf.iter().position(|&b| b == 0).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "CallConfig.output_prefix is not NUL-terminated within {OUTPUT_PREFIX_CAPACITY} bytes"
            ))
        })?;
        String::from_utf8(buf[..end].to_vec())
            .map_err(|_| Error::InvalidArgument("CallConfig.output_prefix must be valid UTF-8".to_string()))
    }

    /// Sets the output prefix (zero-filling the rest of the buffer). Errors
    /// if it does not fit with its NUL (length ≥ 1024) or contains a NUL.
    pub fn set_output_prefix(&mut self, prefix: &str) -> Result<()> {
        let bytes = prefix.as_bytes();
        if bytes.len() >= OUTPUT_PREFIX_CAPACITY {
            return Err(Error::InvalidArgument(format!(
                "CallConfig.output_prefix length {} exceeds buffer ({} bytes)",
                bytes.len(),
                OUTPUT_PREFIX_CAPACITY - 1
            )));
        }
        if bytes.contains(&0) {
            return Err(Error::InvalidArgument("CallConfig.output_prefix must not contain a NUL byte".to_string()));
        }
        let mut buf = [0u8; OUTPUT_PREFIX_CAPACITY];
        buf[..bytes.len()].copy_from_slice(bytes);
        self.output_prefix = buf;
        Ok(())
    }

    /// True if any diagnostic flag (swimlane, dump, PMU, dep-gen, scope
    /// stats) is non-zero.
    pub fn any_diagnostics(&self) -> bool {
        let flags = [
            self.enable_l2_swimlane,
            self.enable_dump_tensor,
            self.enable_pmu,
            self.enable_dep_gen,
            self.enable_scope_stats,
        ];
        flags.iter().any(|&f| f != 0)
    }

    /// Upstream's diagnostic check: any diagnostic flag set requires a
    /// non-empty `output_prefix`. Ring values are not checked here.
    pub fn validate_diagnostics(&self) -> Result<()> {
        check_diagnostics(self.any_diagnostics(), self.output_prefix[0] == 0)
    }
}

/// The rule behind [`CallConfig::validate_diagnostics`], shared by every
/// path that receives the diagnostic flags: a set flag needs an output prefix.
pub fn check_diagnostics(any_flag_set: bool, prefix_empty: bool) -> Result<()> {
    if any_flag_set && prefix_empty {
        return Err(Error::InvalidArgument(
            "CallConfig: output_prefix must be set whenever any of enable_l2_swimlane / \
             enable_dump_tensor / enable_pmu / enable_dep_gen / enable_scope_stats is enabled"
                .to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_upstream() {
        let c = CallConfig::default();
        let (bd, at) = (c.block_dim, c.aicpu_thread_num);
        assert_eq!((bd, at), (0, 3));
        assert!(!c.any_diagnostics());
        assert_eq!(c.output_prefix_str().unwrap(), "");
        assert_eq!(c.runtime_env, RuntimeEnv::default());
        assert!(c.validate_diagnostics().is_ok());
        assert_eq!(&c.as_bytes()[4..8], &3i32.to_ne_bytes());
        assert!(c.as_bytes()[8..].iter().all(|&b| b == 0));
    }

    #[test]
    fn output_prefix_roundtrip_and_limits() {
        let mut c = CallConfig::default();
        c.set_output_prefix("/tmp/out/run1").unwrap();
        assert_eq!(c.output_prefix_str().unwrap(), "/tmp/out/run1");
        assert_eq!(&c.as_bytes()[148..152], b"/tmp");
        c.set_output_prefix("x").unwrap();
        assert_eq!(c.output_prefix_str().unwrap(), "x");
        assert_eq!(c.output_prefix[1], 0, "rest of the buffer zero-filled");
        let max = "a".repeat(1023);
        c.set_output_prefix(&max).unwrap();
        assert_eq!(c.output_prefix_str().unwrap(), max);
        let err = c.set_output_prefix(&"a".repeat(1024)).unwrap_err();
        assert_eq!(err.to_string(), "CallConfig.output_prefix length 1024 exceeds buffer (1023 bytes)");
        assert!(c.set_output_prefix("a\0b").is_err());
        c.output_prefix = [b'z'; 1024];
        assert!(c.output_prefix_str().unwrap_err().to_string().contains("NUL"));
        c.output_prefix = [0; 1024];
        c.output_prefix[0] = 0xff;
        assert!(c.output_prefix_str().unwrap_err().to_string().contains("UTF-8"));
    }

    #[test]
    fn diagnostics_need_prefix() {
        let setters: [fn(&mut CallConfig); 5] = [
            |c| c.enable_l2_swimlane = 4,
            |c| c.enable_dump_tensor = 1,
            |c| c.enable_pmu = 2,
            |c| c.enable_dep_gen = 1,
            |c| c.enable_scope_stats = 1,
        ];
        for set in setters {
            let mut c = CallConfig::default();
            set(&mut c);
            let err = c.validate_diagnostics().unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)));
            assert_eq!(
                err.to_string(),
                "CallConfig: output_prefix must be set whenever any of enable_l2_swimlane / \
                 enable_dump_tensor / enable_pmu / enable_dep_gen / enable_scope_stats is enabled"
            );
            c.set_output_prefix("out").unwrap();
            assert!(c.validate_diagnostics().is_ok());
        }
    }

    #[test]
    fn read_unaligned_from_odd_offset() {
        let mut c = CallConfig { block_dim: 24, aicpu_thread_num: 4, enable_pmu: 7, ..CallConfig::default() };
        c.runtime_env.ring_heap = 1 << 20;
        c.runtime_env.ring_task_windows = [0, 16, 0, 64];
        c.runtime_env.ring_dep_pools = [1, 2, 3, 4];
        c.set_output_prefix("prefix").unwrap();
        let mut buf = vec![0xAAu8; CALL_CONFIG_SIZE + 8];
        buf[3..3 + CALL_CONFIG_SIZE].copy_from_slice(c.as_bytes());
        // SAFETY: buf holds a full CallConfig starting at offset 3.
        let d = unsafe { CallConfig::read_unaligned(buf.as_ptr().add(3)) };
        assert_eq!(d, c);
        let (pmu, bd) = (d.enable_pmu, d.block_dim);
        assert_eq!((pmu, bd), (7, 24));
        assert_eq!(d.output_prefix_str().unwrap(), "prefix");
        // Byte positions inside the packed layout.
        let b = c.as_bytes();
        assert_eq!(&b[0..4], &24i32.to_ne_bytes());
        assert_eq!(&b[28 + 8..28 + 16], &(1u64 << 20).to_ne_bytes());
        assert_eq!(&b[28 + 24 + 8..28 + 24 + 16], &16u64.to_ne_bytes());
        assert_eq!(&b[28 + 88 + 24..28 + 88 + 32], &4u64.to_ne_bytes());
        let (scalars, arrays) = d.runtime_env.ring_args();
        assert_eq!(scalars, [0, 1 << 20, 0]);
        assert_eq!(arrays, [[0, 16, 0, 64], [0; 4], [1, 2, 3, 4]]);
    }
}
