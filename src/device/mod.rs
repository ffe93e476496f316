//! The generic simulated device: tracked "device" memory that is plain host
//! memory, lazily committed regions, tensor staging and the communicator.
//! Geometry of one runtime variant lives with that runtime (the
//! tensormap_and_ringbuffer arena: `runtime::trb::arena`).
//!
//! - [`memory`]: [`DeviceMemory`], the tracked allocator behind
//!   `device_malloc_ctx` / `copy_*_device_ctx`.
//! - [`region`]: [`Region`], an anonymous `MAP_NORESERVE` mapping whose
//!   untouched pages never become resident.
//! - [`paged_vec`]: [`paged_vec::PagedVec`], a bounded vector in its own
//!   mapping (big per-run tables that must not stay in malloc arenas).
//! - [`staging`]: entry tensors copied to device memory by signature, copied
//!   back only on success.
//! - [`comm`]: the simulated communicator (`comm_*`).

pub mod comm;
pub mod memory;
pub mod paged_vec;
pub mod region;
pub mod staging;
