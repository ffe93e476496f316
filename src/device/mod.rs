//! The simulated device: tracked "device" memory that is plain host memory,
//! lazily committed regions, and the byte-exact geometry of the
//! tensormap_and_ringbuffer shared memory and runtime arena.
//!
//! - [`memory`]: [`DeviceMemory`], the tracked allocator behind
//!   `device_malloc_ctx` / `copy_*_device_ctx` (abi.md §2.2, §4.2).
//! - [`region`]: [`Region`], an anonymous `MAP_NORESERVE` mapping whose
//!   untouched pages never become resident.
//! - [`shared_memory`]: the per-ring shared-memory layout and header
//!   (trb.md §11).
//! - [`arena`]: the runtime-arena sizing key and reserve order (trb.md §12).
//! - [`arena_cache`]: the prebuilt SM / heap / arena regions for the most
//!   recent sizing key (trb.md §13, sim pooled buffers).

pub mod arena;
pub mod arena_cache;
pub mod comm;
pub mod context;
pub mod memory;
pub mod region;
pub mod shared_memory;
pub mod staging;

pub use arena::{ArenaLayout, ArenaOffsets, ArenaSizingKey, OrchOffsets, SchedOffsets};
pub use arena_cache::{ArenaCache, PreparedArena};
pub use memory::DeviceMemory;
pub use region::Region;
pub use shared_memory::{SmHeader, SmLayout, SmRingHeader, SmRingLayout};

/// Number of rings (`PTO2_MAX_RING_DEPTH`).
pub const RING_COUNT: usize = 4;

/// `align_up(x, align)` for a power-of-two `align`, `None` on overflow.
pub(crate) fn checked_align_up(x: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    x.checked_add(align - 1).map(|v| v & !(align - 1))
}
