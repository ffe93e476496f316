//! Geometry of the tensormap_and_ringbuffer device memory, built once per
//! sizing key and reused while it is unchanged.
//!
//! - [`shared_memory`]: the per-ring shared-memory layout and header.
//! - [`geometry`]: every table's element count and `size_of` for one
//!   `config::RingSizing` (shared by the arena and the engine).
//! - [`layout`]: the runtime-arena reserve order and offsets.
//! - [`cache`]: the prebuilt SM / heap / arena regions for the most recent
//!   sizing key (upstream's sim pools these buffers per device).
//! - [`residency`]: what a finished run gives back of those regions.

pub mod cache;
pub mod geometry;
pub mod layout;
pub mod residency;
pub mod shared_memory;

pub use cache::{ArenaCache, PreparedArena};
pub use geometry::Geometry;
#[cfg(test)]
pub use geometry::OwnedTrbMemory;

pub(crate) use crate::config::RING_COUNT;

/// `align_up(x, align)` for a power-of-two `align`, `None` on overflow.
pub(crate) fn checked_align_up(x: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    x.checked_add(align - 1).map(|v| v & !(align - 1))
}
