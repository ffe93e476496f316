//! Geometry of the tensormap_and_ringbuffer device memory, built once per
//! sizing key and reused while it is unchanged.
//!
//! - [`shared_memory`]: the per-ring shared-memory layout and header.
//! - [`layout`]: the runtime-arena sizing key and reserve order.
//! - [`cache`]: the prebuilt SM / heap / arena regions for the most recent
//!   sizing key (upstream's sim pools these buffers per device).

pub mod cache;
pub mod layout;
pub mod shared_memory;

pub use cache::{ArenaCache, PreparedArena};
pub use layout::{ArenaLayout, ArenaOffsets, ArenaSizingKey, OrchOffsets, SchedOffsets};
pub use shared_memory::{SmHeader, SmLayout, SmRingHeader, SmRingLayout};

/// Number of rings (`PTO2_MAX_RING_DEPTH`).
pub const RING_COUNT: usize = 4;

/// `align_up(x, align)` for a power-of-two `align`, `None` on overflow.
pub(crate) fn checked_align_up(x: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    x.checked_add(align - 1).map(|v| v & !(align - 1))
}
