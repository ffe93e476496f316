//! Tracked "device" memory for the simulated device.
//!
//! On upstream's sim platform a device allocation is a plain host `malloc`
//! tracked in a set, so device pointers are directly usable by the host and
//! by the simulated cores (upstream's `device_malloc_ctx` / `copy_*_device_ctx`, c68d9bbe6). [`DeviceMemory`] does the
//! same, but additionally validates every pointer it is handed: freeing an
//! unknown or already-freed pointer, or copying outside a live allocation, is
//! reported as [`Error::DeviceMemory`] instead of corrupting the heap.

use std::alloc::{self, Layout};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::diagnostics::{Error, Result};

/// Alignment of every device allocation, in bytes.
pub const DEVICE_ALLOC_ALIGN: usize = 64;

/// Largest freed block kept for reuse.
pub const SPARE_BLOCK_MAX_BYTES: usize = 1 << 20;
/// Bytes of freed blocks kept for reuse at most.
pub const SPARE_MAX_BYTES: usize = 4 << 20;

/// One live allocation. The pointer keeps the allocation's provenance so the
/// memory is always accessed and freed through the pointer `alloc` returned.
struct Allocation {
    ptr: NonNull<u8>,
    layout: Layout,
}

/// Thread-safe tracker of simulated device allocations.
///
/// Allocations are zero-initialized, [`DEVICE_ALLOC_ALIGN`]-aligned host
/// memory. The live set is a map from base address to allocation, so the
/// containment check of a pointer is one `range(..=addr).next_back()` lookup.
///
/// Copies and memsets run under a shared (read) lock, so they proceed in
/// parallel while `alloc`/`free` take the exclusive lock: an allocation can
/// never be freed while a copy into it is in progress.
pub struct DeviceMemory {
    live: RwLock<BTreeMap<usize, Allocation>>,
    /// Freed blocks kept for an allocation of the same size (at most
    /// [`SPARE_MAX_BYTES`], each at most [`SPARE_BLOCK_MAX_BYTES`]): a run
    /// frees its staging buffers and the next run allocates the same sizes,
    /// and handing them back to malloc lets it return the pages to the
    /// kernel, so every run would fault them in again. Oldest first.
    spare: Mutex<Vec<Allocation>>,
    /// One of the `OPEN` / `NOT_INITIALIZED` / `FINALIZED` states.
    state: AtomicU8,
}

/// Every operation is accepted.
const OPEN: u8 = 0;
/// The owning device context is not initialized yet.
const NOT_INITIALIZED: u8 = 1;
/// The owning device context was finalized.
const FINALIZED: u8 = 2;

// SAFETY: `DeviceMemory` owns every allocation in its map exclusively (the raw
// pointers are never handed out as references); all access to the map is
// synchronized by the `RwLock`, and writes through the stored pointers happen
// only while the lock is held, so moving or sharing the tracker across threads
// cannot introduce a data race of its own.
unsafe impl Send for DeviceMemory {}
// SAFETY: see the `Send` justification above; every `&self` method
// synchronizes through the lock.
unsafe impl Sync for DeviceMemory {}

impl Default for DeviceMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for DeviceMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let map = self.read();
        f.debug_struct("DeviceMemory")
            .field("live_allocations", &map.len())
            .field("live_bytes", &map.values().map(|a| a.layout.size()).sum::<usize>())
            .finish()
    }
}

impl DeviceMemory {
    /// An empty tracker that accepts operations at once.
    pub fn new() -> Self {
        Self { live: RwLock::new(BTreeMap::new()), spare: Mutex::new(Vec::new()), state: AtomicU8::new(OPEN) }
    }

    /// An empty tracker of a device context that is not initialized yet:
    /// every operation except [`free_all`](Self::free_all) is
    /// [`Error::State`] until [`open`](Self::open).
    pub fn new_uninitialized() -> Self {
        Self {
            live: RwLock::new(BTreeMap::new()),
            spare: Mutex::new(Vec::new()),
            state: AtomicU8::new(NOT_INITIALIZED),
        }
    }

    /// Accepts operations (the owning context was initialized).
    pub fn open(&self) {
        self.state.store(OPEN, Ordering::Release);
    }

    /// Refuses every later operation with [`Error::State`] (the owning
    /// context was finalized); live allocations are left to
    /// [`free_all`](Self::free_all).
    pub fn close_finalized(&self) {
        self.state.store(FINALIZED, Ordering::Release);
    }

    fn check_open(&self, op: &str) -> Result<()> {
        match self.state.load(Ordering::Acquire) {
            OPEN => Ok(()),
            NOT_INITIALIZED => Err(Error::State(format!(
                "{op}: the device context is not initialized: call simpler_init before using device memory"
            ))),
            _ => Err(Error::State(format!(
                "{op}: the device context was finalized: its device memory is gone; create a new context"
            ))),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<usize, Allocation>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (every mutation is a single insert/remove), so poisoning is ignored.
        self.live.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<usize, Allocation>> {
        self.live.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Allocates `size` zeroed bytes aligned to [`DEVICE_ALLOC_ALIGN`].
    ///
    /// `size == 0` is [`Error::InvalidArgument`]; a size the allocator cannot
    /// satisfy is [`Error::DeviceMemory`].
    pub fn alloc(&self, size: usize) -> Result<*mut u8> {
        // SAFETY: no source bytes are read.
        unsafe { self.alloc_init(size, std::ptr::null(), 0) }
    }

    /// [`alloc`](Self::alloc) whose first `len` bytes are a copy of `host`
    /// (the rest zeroed): every byte is written once, not zero-filled and
    /// then overwritten by a copy (staging an IN or INOUT tensor). A NULL
    /// `host` with `len > 0` is [`Error::NullPointer`]; `len > size` is
    /// [`Error::DeviceMemory`]; nothing is allocated on an error.
    ///
    /// # Safety
    /// `host` must be valid for reads of `len` bytes.
    pub unsafe fn alloc_copy_of(&self, size: usize, host: *const u8, len: usize) -> Result<*mut u8> {
        if len > size {
            return Err(Error::DeviceMemory(format!("cannot copy {len} bytes into a {size}-byte allocation")));
        }
        if len > 0 && host.is_null() {
            return Err(Error::NullPointer { what: "host_ptr" });
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.alloc_init(size, host, len) }
    }

    /// Allocates `size` bytes: `len` copied from `host`, the rest zeroed.
    ///
    /// # Safety
    /// `len <= size`; `host` is valid for reads of `len` bytes when `len > 0`.
    unsafe fn alloc_init(&self, size: usize, host: *const u8, len: usize) -> Result<*mut u8> {
        self.check_open("device_malloc")?;
        if size == 0 {
            return Err(Error::InvalidArgument("device allocation size must be > 0".to_string()));
        }
        let layout = Layout::from_size_align(size, DEVICE_ALLOC_ALIGN).map_err(|_| {
            Error::DeviceMemory(format!("cannot allocate {size} bytes: size exceeds the address space"))
        })?;
        let reused = {
            let mut spare = self.spare_blocks();
            spare.iter().rposition(|a| a.layout == layout).map(|i| spare.remove(i))
        };
        let ptr = match reused {
            Some(a) => a.ptr,
            None => {
                // SAFETY: `layout` has a non-zero size (checked above).
                // Without bytes to copy, the allocator's zeroed memory (often
                // fresh zero pages) is the fill.
                let raw = unsafe {
                    if len == 0 {
                        alloc::alloc_zeroed(layout)
                    } else {
                        alloc::alloc(layout)
                    }
                };
                let p = NonNull::new(raw)
                    .ok_or_else(|| Error::DeviceMemory(format!("out of memory allocating {size} bytes")))?;
                if len == 0 {
                    self.write().insert(p.as_ptr() as usize, Allocation { ptr: p, layout });
                    return Ok(p.as_ptr());
                }
                p
            }
        };
        // SAFETY: `ptr` is a block of `layout` (`size` bytes) in no map, so
        // nothing else accesses it; `len <= size` and the caller guarantees
        // `host` is readable for `len` bytes (a host buffer never overlaps a
        // block this tracker owns exclusively).
        unsafe {
            if len > 0 {
                std::ptr::copy_nonoverlapping(host, ptr.as_ptr(), len);
            }
            ptr.as_ptr().add(len).write_bytes(0, size - len);
        }
        self.write().insert(ptr.as_ptr() as usize, Allocation { ptr, layout });
        Ok(ptr.as_ptr())
    }

    fn spare_blocks(&self) -> std::sync::MutexGuard<'_, Vec<Allocation>> {
        // Every mutation is a single push/remove: poisoning is ignored.
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps freed block `a` for reuse, or deallocates it (too big); the
    /// oldest spare blocks go back to malloc to stay within
    /// [`SPARE_MAX_BYTES`].
    fn retire(&self, a: Allocation) {
        let mut evicted = Vec::new();
        if a.layout.size() > SPARE_BLOCK_MAX_BYTES {
            evicted.push(a);
        } else {
            let mut spare = self.spare_blocks();
            spare.push(a);
            let mut total: usize = spare.iter().map(|b| b.layout.size()).sum();
            while total > SPARE_MAX_BYTES {
                let old = spare.remove(0);
                total -= old.layout.size();
                evicted.push(old);
            }
        }
        for b in evicted {
            // SAFETY: `b.ptr` was returned by `alloc_zeroed(b.layout)`, is in
            // neither the live map nor the spare list any more, and is
            // deallocated only here.
            unsafe { alloc::dealloc(b.ptr.as_ptr(), b.layout) };
        }
    }

    /// Frees an allocation returned by [`alloc`](Self::alloc).
    ///
    /// A pointer that is not the base of a live allocation (never allocated,
    /// already freed, or an interior pointer) is [`Error::DeviceMemory`]
    /// naming the pointer; nothing is freed in that case.
    pub fn free(&self, ptr: *mut u8) -> Result<()> {
        self.check_open("device_free")?;
        let removed = self.write().remove(&(ptr as usize));
        match removed {
            Some(a) => {
                // Removed from the live map under the write lock: no copy can
                // be using it (copies hold the read lock).
                self.retire(a);
                Ok(())
            }
            None => Err(Error::DeviceMemory(format!(
                "free of {ptr:p}: not the base of a live device allocation \
                 (unknown, interior or already freed pointer)"
            ))),
        }
    }

    /// Looks up the allocation containing `[addr, addr + len)` and returns a
    /// pointer (with the allocation's provenance) to `addr`.
    fn locate(map: &BTreeMap<usize, Allocation>, addr: usize, len: usize) -> Result<NonNull<u8>> {
        let out_of_range =
            || Error::DeviceMemory(format!("range {:#x}..+{len} is not inside one live device allocation", addr));
        let (&base, a) = map.range(..=addr).next_back().ok_or_else(out_of_range)?;
        let offset = addr - base;
        let end = offset.checked_add(len).ok_or_else(out_of_range)?;
        if end > a.layout.size() {
            return Err(out_of_range());
        }
        // SAFETY: `offset <= a.layout.size()`, so the result stays inside (or
        // one past the end of) the allocation.
        Ok(unsafe { a.ptr.add(offset) })
    }

    /// Checks that `[ptr, ptr + len)` lies inside ONE live allocation.
    ///
    /// `len == 0` is accepted if `ptr` is inside a live allocation or exactly
    /// at its end.
    pub fn check_range(&self, ptr: *const u8, len: usize) -> Result<()> {
        self.check_open("device memory range check")?;
        Self::locate(&self.read(), ptr as usize, len).map(|_| ())
    }

    /// Copies `len` bytes from host memory to device memory.
    ///
    /// The device range is checked first ([`Error::DeviceMemory`]); a NULL
    /// `host` is [`Error::NullPointer`].
    ///
    /// # Safety
    /// `host` must be valid for reads of `len` bytes, and no other thread may
    /// write the device range concurrently (as with any memcpy). The ranges
    /// may overlap (device memory is host memory).
    pub unsafe fn copy_to_device(&self, dev: *mut u8, host: *const u8, len: usize) -> Result<()> {
        self.check_open("copy_to_device")?;
        let map = self.read();
        let dst = Self::locate(&map, dev as usize, len)?;
        if host.is_null() {
            return Err(Error::NullPointer { what: "host_ptr" });
        }
        // SAFETY: `dst..dst+len` is inside a live allocation that cannot be
        // freed while the read lock is held; the caller guarantees `host` is
        // readable for `len` bytes. `copy` tolerates overlap.
        unsafe { std::ptr::copy(host, dst.as_ptr(), len) };
        Ok(())
    }

    /// Copies `len` bytes from device memory to host memory.
    ///
    /// The device range is checked first ([`Error::DeviceMemory`]); a NULL
    /// `host` is [`Error::NullPointer`].
    ///
    /// # Safety
    /// `host` must be valid for writes of `len` bytes, and no other thread may
    /// write the device range concurrently. The ranges may overlap.
    pub unsafe fn copy_from_device(&self, host: *mut u8, dev: *const u8, len: usize) -> Result<()> {
        self.check_open("copy_from_device")?;
        let map = self.read();
        let src = Self::locate(&map, dev as usize, len)?;
        if host.is_null() {
            return Err(Error::NullPointer { what: "host_ptr" });
        }
        // SAFETY: `src..src+len` is inside a live allocation that cannot be
        // freed while the read lock is held; the caller guarantees `host` is
        // writable for `len` bytes. `copy` tolerates overlap.
        unsafe { std::ptr::copy(src.as_ptr(), host, len) };
        Ok(())
    }

    /// Sets `len` bytes of device memory at `dev` to `value`.
    ///
    /// The range must lie inside one live allocation
    /// ([`Error::DeviceMemory`] otherwise). Concurrent writers of the same
    /// bytes (e.g. simulated kernels) race with this store exactly as they
    /// would with a device memset.
    pub fn memset(&self, dev: *mut u8, value: u8, len: usize) -> Result<()> {
        self.check_open("device_memset")?;
        let map = self.read();
        let dst = Self::locate(&map, dev as usize, len)?;
        // SAFETY: `dst..dst+len` is inside a live allocation this tracker
        // owns, which cannot be freed while the read lock is held; the bytes
        // are plain `u8` storage, valid for any value.
        unsafe { std::ptr::write_bytes(dst.as_ptr(), value, len) };
        Ok(())
    }

    /// Frees every live allocation and every spare block; returns how many
    /// live allocations were freed.
    pub fn free_all(&self) -> usize {
        let drained = std::mem::take(&mut *self.write());
        let n = drained.len();
        let spare = std::mem::take(&mut *self.spare_blocks());
        for a in drained.into_values().chain(spare) {
            // SAFETY: each entry was allocated by `alloc_zeroed(a.layout)` and
            // has been removed from the live map under the write lock (or
            // from the spare list), so it is deallocated exactly once with no
            // copy in flight.
            unsafe { alloc::dealloc(a.ptr.as_ptr(), a.layout) };
        }
        n
    }

    /// Forgets every allocation without freeing it (a poisoned context: a
    /// thread abandoned in user code may still write to them). Returns how
    /// many were leaked.
    pub(crate) fn leak_all(&self) -> usize {
        let drained = std::mem::take(&mut *self.write());
        let n = drained.len();
        std::mem::forget(drained.into_values().collect::<Vec<_>>());
        // A stuck thread may also write to blocks freed during the run.
        std::mem::forget(std::mem::take(&mut *self.spare_blocks()));
        n
    }

    /// Bytes of freed blocks kept for reuse (tests).
    #[cfg(test)]
    fn spare_bytes(&self) -> usize {
        self.spare_blocks().iter().map(|a| a.layout.size()).sum()
    }

    /// Number of live allocations.
    pub fn live_allocations(&self) -> usize {
        self.read().len()
    }

    /// Total size in bytes of the live allocations (as requested).
    pub fn live_bytes(&self) -> usize {
        self.read().values().map(|a| a.layout.size()).sum()
    }
}

impl Drop for DeviceMemory {
    fn drop(&mut self) {
        self.free_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn freed_blocks_are_reused_zeroed_and_bounded() {
        let m = DeviceMemory::new();
        let p = m.alloc(65536).unwrap();
        let ones = vec![1u8; 65536];
        // SAFETY: `ones` is readable for 65536 bytes.
        unsafe { m.copy_to_device(p, ones.as_ptr(), 65536) }.unwrap();
        m.free(p).unwrap();
        assert_eq!(m.spare_bytes(), 65536);
        assert!(m.check_range(p, 1).is_err(), "a spare block is not live");
        assert!(m.free(p).is_err(), "double free is still refused");
        // Another size does not take it; the same size does, zeroed.
        let q = m.alloc(4096).unwrap();
        assert_eq!(m.spare_bytes(), 65536);
        let r = m.alloc(65536).unwrap();
        assert_eq!(r, p);
        assert_eq!(m.spare_bytes(), 0);
        let mut back = vec![7u8; 65536];
        // SAFETY: `back` is writable for 65536 bytes.
        unsafe { m.copy_from_device(back.as_mut_ptr(), r, 65536) }.unwrap();
        assert!(back.iter().all(|&b| b == 0));
        // Too big to keep, and the total stays bounded.
        let big = m.alloc(SPARE_BLOCK_MAX_BYTES + 64).unwrap();
        m.free(big).unwrap();
        assert_eq!(m.spare_bytes(), 0);
        let blocks: Vec<_> = (0..6).map(|_| m.alloc(SPARE_BLOCK_MAX_BYTES).unwrap()).collect();
        for b in blocks {
            m.free(b).unwrap();
        }
        assert_eq!(m.spare_bytes(), SPARE_MAX_BYTES);
        m.free(q).unwrap();
        m.free(r).unwrap();
        assert!(m.spare_bytes() <= SPARE_MAX_BYTES);
        assert_eq!(m.free_all(), 0);
        assert_eq!(m.spare_bytes(), 0);
    }

    #[test]
    fn alloc_copy_of_copies_the_head_and_zeroes_the_tail_fresh_or_reused() {
        let m = DeviceMemory::new();
        let src: Vec<u8> = (1..=40).collect();
        let mut back = vec![0xAAu8; 256];
        for round in 0..2 {
            // SAFETY: `src` is readable for 40 bytes.
            let p = unsafe { m.alloc_copy_of(256, src.as_ptr(), 40) }.unwrap();
            assert_eq!(p as usize % DEVICE_ALLOC_ALIGN, 0);
            // SAFETY: `back` is writable for 256 bytes.
            unsafe { m.copy_from_device(back.as_mut_ptr(), p, 256) }.unwrap();
            assert_eq!(&back[..40], &src[..], "round {round}");
            assert!(back[40..].iter().all(|&b| b == 0), "round {round}: the tail is zeroed");
            // Dirty the block so the reused round proves the tail is re-zeroed.
            m.memset(p, 0xFF, 256).unwrap();
            m.free(p).unwrap();
        }
        assert_eq!(m.spare_bytes(), 256, "the second round reused the freed block");
        // Bad requests allocate nothing.
        // SAFETY: nothing is read on these error paths.
        let too_long = unsafe { m.alloc_copy_of(16, src.as_ptr(), 40) };
        assert!(matches!(too_long, Err(Error::DeviceMemory(_))), "{too_long:?}");
        let null = unsafe { m.alloc_copy_of(64, std::ptr::null(), 8) };
        assert!(matches!(null, Err(Error::NullPointer { what: "host_ptr" })), "{null:?}");
        let zero = unsafe { m.alloc_copy_of(0, src.as_ptr(), 0) };
        assert!(matches!(zero, Err(Error::InvalidArgument(_))), "{zero:?}");
        assert_eq!(m.live_allocations(), 0);
        assert_eq!(m.spare_bytes(), 256);
    }

    #[test]
    fn alloc_is_aligned_zeroed_and_tracked() {
        let m = DeviceMemory::new();
        let p = m.alloc(100).unwrap();
        assert_eq!(p as usize % DEVICE_ALLOC_ALIGN, 0);
        let mut buf = [0xAAu8; 100];
        // SAFETY: `buf` is writable for 100 bytes.
        unsafe { m.copy_from_device(buf.as_mut_ptr(), p, 100) }.unwrap();
        assert!(buf.iter().all(|&b| b == 0));
        assert_eq!(m.live_allocations(), 1);
        assert_eq!(m.live_bytes(), 100);
        m.free(p).unwrap();
        assert_eq!(m.live_allocations(), 0);
        assert_eq!(m.live_bytes(), 0);
    }

    #[test]
    fn zero_size_is_invalid_argument() {
        let m = DeviceMemory::new();
        assert!(matches!(m.alloc(0), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn huge_size_is_device_memory_error() {
        let m = DeviceMemory::new();
        assert!(matches!(m.alloc(usize::MAX), Err(Error::DeviceMemory(_))));
        assert!(matches!(m.alloc(usize::MAX / 2 - 4096), Err(Error::DeviceMemory(_))));
        assert_eq!(m.live_allocations(), 0);
    }

    #[test]
    fn unknown_double_and_interior_free_are_errors() {
        let m = DeviceMemory::new();
        let p = m.alloc(256).unwrap();
        // Interior pointer.
        // SAFETY: 8 < 256, inside the allocation.
        let interior = unsafe { p.add(8) };
        let e = m.free(interior).unwrap_err();
        assert!(matches!(e, Error::DeviceMemory(_)));
        assert!(e.to_string().contains(&format!("{interior:p}")), "{e}");
        // Unknown pointer.
        let mut local = 0u8;
        assert!(matches!(m.free(&mut local as *mut u8), Err(Error::DeviceMemory(_))));
        assert!(matches!(m.free(std::ptr::null_mut()), Err(Error::DeviceMemory(_))));
        // Still live after the bad frees.
        assert_eq!(m.live_allocations(), 1);
        m.free(p).unwrap();
        // Double free.
        let e = m.free(p).unwrap_err();
        assert!(matches!(e, Error::DeviceMemory(_)));
        assert!(e.to_string().contains(&format!("{p:p}")), "{e}");
    }

    #[test]
    fn copy_roundtrip_and_memset() {
        let m = DeviceMemory::new();
        let p = m.alloc(64).unwrap();
        let src: Vec<u8> = (0..64).collect();
        // SAFETY: `src` readable for 64 bytes.
        unsafe { m.copy_to_device(p, src.as_ptr(), 64) }.unwrap();
        // SAFETY: offset 16 is inside the allocation.
        m.memset(unsafe { p.add(16) }, 0xFF, 8).unwrap();
        let mut out = vec![0u8; 64];
        // SAFETY: `out` writable for 64 bytes.
        unsafe { m.copy_from_device(out.as_mut_ptr(), p, 64) }.unwrap();
        for (i, &b) in out.iter().enumerate() {
            let want = if (16..24).contains(&i) { 0xFF } else { i as u8 };
            assert_eq!(b, want, "byte {i}");
        }
    }

    #[test]
    fn out_of_range_copies_are_rejected() {
        let m = DeviceMemory::new();
        let p = m.alloc(64).unwrap();
        let buf = [1u8; 128];
        let mut out = [0u8; 128];
        // SAFETY: `buf` readable for 128 bytes.
        let r = unsafe { m.copy_to_device(p, buf.as_ptr(), 65) };
        assert!(matches!(r, Err(Error::DeviceMemory(_))));
        // SAFETY: `out` writable for 128 bytes.
        let r = unsafe { m.copy_from_device(out.as_mut_ptr(), p.add(1), 64) };
        assert!(matches!(r, Err(Error::DeviceMemory(_))));
        assert!(matches!(m.memset(p, 0, 65), Err(Error::DeviceMemory(_))));
        // Unknown device pointer.
        // SAFETY: `buf` readable for 1 byte.
        let r = unsafe { m.copy_to_device(out.as_mut_ptr(), buf.as_ptr(), 1) };
        assert!(matches!(r, Err(Error::DeviceMemory(_))));
        // Nothing was written by the rejected calls.
        // SAFETY: `out` writable for 64 bytes.
        unsafe { m.copy_from_device(out.as_mut_ptr(), p, 64) }.unwrap();
        assert!(out[..64].iter().all(|&b| b == 0));
        // Length overflow.
        assert!(matches!(m.check_range(p, usize::MAX), Err(Error::DeviceMemory(_))));
    }

    #[test]
    fn null_host_pointer_is_null_pointer_error() {
        let m = DeviceMemory::new();
        let p = m.alloc(16).unwrap();
        // SAFETY: the NULL host pointer is rejected before any access.
        let r = unsafe { m.copy_to_device(p, std::ptr::null(), 4) };
        assert!(matches!(r, Err(Error::NullPointer { .. })));
        // SAFETY: as above.
        let r = unsafe { m.copy_from_device(std::ptr::null_mut(), p, 4) };
        assert!(matches!(r, Err(Error::NullPointer { .. })));
    }

    #[test]
    fn containment_across_adjacent_allocations() {
        let m = DeviceMemory::new();
        let ptrs: Vec<*mut u8> = (0..32).map(|_| m.alloc(64).unwrap()).collect();
        for &p in &ptrs {
            m.check_range(p, 64).unwrap();
            // SAFETY: offsets stay within or one past the allocation.
            unsafe {
                m.check_range(p.add(63), 1).unwrap();
                m.check_range(p.add(64), 0).unwrap();
            }
            // A range that straddles into whatever follows is never accepted,
            // even when the next allocation is directly adjacent.
            // SAFETY: pointer arithmetic only; never dereferenced.
            let straddle = unsafe { p.add(32) };
            assert!(matches!(m.check_range(straddle, 64), Err(Error::DeviceMemory(_))));
        }
        // Find a pair of allocations adjacent in address order and check the
        // boundary explicitly.
        let mut sorted: Vec<usize> = ptrs.iter().map(|&p| p as usize).collect();
        sorted.sort_unstable();
        for w in sorted.windows(2) {
            let end_of_first = w[0] + 64;
            if end_of_first == w[1] {
                m.check_range(w[1] as *const u8, 64).unwrap();
                assert!(m.check_range((w[1] - 1) as *const u8, 2).is_err());
            }
        }
        // Below the lowest allocation.
        assert!(m.check_range((sorted[0] - 1) as *const u8, 1).is_err());
        assert!(m.check_range(std::ptr::null(), 0).is_err());
    }

    #[test]
    fn closed_tracker_refuses_every_operation_with_a_state_error() {
        let m = DeviceMemory::new_uninitialized();
        let mut host = [0u8; 8];
        let is_state = |r: Result<()>, what: &str| match r {
            Err(e @ Error::State(_)) => assert!(e.to_string().contains(what), "{e}"),
            other => panic!("expected a state error, got {other:?}"),
        };
        is_state(m.alloc(64).map(|_| ()), "not initialized");
        m.open();
        let p = m.alloc(64).unwrap();
        m.close_finalized();
        is_state(m.alloc(64).map(|_| ()), "finalized");
        is_state(m.free(p), "finalized");
        // SAFETY: `host` is a valid 8-byte buffer; the calls fail before any copy.
        unsafe {
            is_state(m.copy_to_device(p, host.as_ptr(), 8), "copy_to_device");
            is_state(m.copy_from_device(host.as_mut_ptr(), p, 8), "copy_from_device");
        }
        is_state(m.memset(p, 0, 8), "finalized");
        is_state(m.check_range(p, 8), "finalized");
        assert_eq!(m.free_all(), 1);
    }

    #[test]
    fn free_all_and_drop_release_everything() {
        let m = DeviceMemory::new();
        for i in 1..=10 {
            m.alloc(i * 100).unwrap();
        }
        assert_eq!(m.live_allocations(), 10);
        assert_eq!(m.live_bytes(), 5500);
        assert_eq!(m.free_all(), 10);
        assert_eq!(m.live_allocations(), 0);
        assert_eq!(m.free_all(), 0);
        m.alloc(8).unwrap();
        drop(m); // must not leak or crash (checked under Miri/ASan builds)
    }

    #[test]
    fn concurrent_alloc_copy_free() {
        let m = Arc::new(DeviceMemory::new());
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for i in 0..200usize {
                        let len = 16 + (i % 7) * 8;
                        let p = m.alloc(len).unwrap();
                        let src = vec![t; len];
                        // SAFETY: `src` readable for `len` bytes.
                        unsafe { m.copy_to_device(p, src.as_ptr(), len) }.unwrap();
                        let mut out = vec![0u8; len];
                        // SAFETY: `out` writable for `len` bytes.
                        unsafe { m.copy_from_device(out.as_mut_ptr(), p, len) }.unwrap();
                        assert_eq!(out, src);
                        m.free(p).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(m.live_allocations(), 0);
    }
}
