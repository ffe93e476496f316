//! Lazily committed memory regions.
//!
//! A [`Region`] is an anonymous private mapping created with `MAP_NORESERVE`:
//! the kernel hands out zero pages on first touch, so a region of a gigabyte
//! costs only address space until it is written. The simulated device uses
//! regions for the GM heap, the shared memory and the runtime arena, whose
//! default sizes (~1.3 GB together) are mostly never touched.

use std::ptr::NonNull;

use crate::diagnostics::{Error, Result};

/// Minimum base alignment of a region (`kDefaultBaseAlign` of the device
/// arena and the GM heap). A non-empty region is page aligned, which is
/// stronger.
pub const REGION_BASE_ALIGN: usize = 1024;

/// Alignment carrier for the dangling pointer of an empty region.
#[repr(C, align(4096))]
struct PageAligned([u8; 4096]);

/// The system page size (cached).
pub fn page_size() -> usize {
    static PAGE: once_cell::sync::OnceCell<usize> = once_cell::sync::OnceCell::new();
    *PAGE.get_or_init(|| {
        // SAFETY: `sysconf` has no memory-safety preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 {
            p as usize
        } else {
            4096
        }
    })
}

/// An anonymous, lazily committed, zero-initialized memory region.
///
/// The region hands out raw pointers and (through `unsafe` accessors) typed
/// slices; it never creates references on its own, so the aliasing rules are
/// the caller's contract (see [`slice_mut`](Self::slice_mut)).
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
    mapped: bool,
}

// SAFETY: a `Region` exclusively owns its mapping; the struct itself holds
// only the base pointer and length, which are immutable after construction.
// Every access to the mapped bytes goes through raw pointers or the `unsafe`
// view accessors, whose contracts make the caller responsible for
// synchronizing concurrent access, exactly like device memory shared between
// host and device threads. Unmapping happens only in `Drop`, which requires
// ownership.
unsafe impl Send for Region {}
// SAFETY: see the `Send` justification; `&Region` exposes no safe way to read
// or write the mapped bytes.
unsafe impl Sync for Region {}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region").field("base", &self.ptr).field("len", &self.len).finish()
    }
}

impl Region {
    /// Maps a new region of `len` bytes. `len == 0` gives an empty region
    /// with a dangling, 4096-aligned pointer and no mapping.
    ///
    /// A failed mapping is [`Error::DeviceMemory`].
    pub fn new(len: usize) -> Result<Region> {
        if len == 0 {
            return Ok(Region { ptr: NonNull::<PageAligned>::dangling().cast(), len: 0, mapped: false });
        }
        // SAFETY: anonymous mapping with a NULL hint; no existing memory is
        // affected. The result is checked against MAP_FAILED below.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            let err = std::io::Error::last_os_error();
            return Err(Error::DeviceMemory(format!("cannot map a {len}-byte region: {err}")));
        }
        let ptr = NonNull::new(raw.cast::<u8>())
            .ok_or_else(|| Error::DeviceMemory(format!("mmap of {len} bytes returned NULL")))?;
        debug_assert_eq!(ptr.as_ptr() as usize % REGION_BASE_ALIGN, 0);
        Ok(Region { ptr, len, mapped: true })
    }

    /// Base pointer (dangling but aligned for an empty region).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Base address as a device address (`u64`).
    pub fn base_addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// Number of this region's pages currently resident in RAM (`mincore`).
    #[cfg(test)]
    pub fn resident_pages(&self) -> Result<usize> {
        if self.len == 0 {
            return Ok(0);
        }
        let pages = self.len.div_ceil(page_size());
        let mut vec = vec![0u8; pages];
        // SAFETY: `ptr` is the page-aligned start of our mapping of `len`
        // bytes and `vec` has one byte per page of that range, as mincore
        // requires.
        let rc = unsafe { libc::mincore(self.ptr.as_ptr().cast(), self.len, vec.as_mut_ptr()) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            return Err(Error::Io(format!("mincore of {} bytes: {err}", self.len)));
        }
        Ok(vec.iter().filter(|&&b| b & 1 != 0).count())
    }

    /// Validates a typed view `[offset, offset + count * size_of::<T>())`
    /// and returns a pointer to its start.
    #[cfg(test)]
    fn view_ptr<T>(&self, offset: usize, count: usize) -> Result<*mut T> {
        let bytes = count.checked_mul(std::mem::size_of::<T>()).ok_or_else(|| {
            Error::InvalidArgument(format!("region view of {count} x {} bytes overflows", std::mem::size_of::<T>()))
        })?;
        let end = offset
            .checked_add(bytes)
            .ok_or_else(|| Error::InvalidArgument(format!("region view offset {offset} + {bytes} overflows")))?;
        if end > self.len {
            return Err(Error::InvalidArgument(format!(
                "region view [{offset}, {end}) exceeds the region length {}",
                self.len
            )));
        }
        let addr = (self.ptr.as_ptr() as usize).wrapping_add(offset);
        let align = std::mem::align_of::<T>();
        if addr % align != 0 {
            return Err(Error::InvalidArgument(format!(
                "region view offset {offset} is not aligned to {align} bytes for {}",
                std::any::type_name::<T>()
            )));
        }
        // SAFETY: `offset <= end <= self.len`, so the pointer stays within (or
        // one past the end of) the mapping; for the empty region offset is 0.
        Ok(unsafe { self.ptr.as_ptr().add(offset) }.cast::<T>())
    }

    /// A shared typed view of `count` elements of `T` at byte `offset`.
    ///
    /// Errors ([`Error::InvalidArgument`]) if the view leaves the region or
    /// `offset` is not aligned for `T`.
    ///
    /// # Safety
    /// - the bytes of the view must be a valid `T` each (fresh or released
    ///   pages are all-zero, so any `T` for which zero is valid is fine);
    /// - while the returned slice lives, nobody may hold a mutable view
    ///   overlapping it or write the bytes, except through interior
    ///   mutability contained in `T` (e.g. atomics).
    #[cfg(test)]
    pub unsafe fn slice<T>(&self, offset: usize, count: usize) -> Result<&[T]> {
        let p = self.view_ptr::<T>(offset, count)?;
        // SAFETY: `p` is non-null, aligned and in bounds for `count` elements
        // (checked by `view_ptr`); validity and aliasing are the caller's
        // contract above.
        Ok(unsafe { std::slice::from_raw_parts(p, count) })
    }

    /// A mutable typed view of `count` elements of `T` at byte `offset`.
    ///
    /// Errors ([`Error::InvalidArgument`]) if the view leaves the region or
    /// `offset` is not aligned for `T`.
    ///
    /// # Safety
    /// - the bytes of the view must be a valid `T` each (fresh or released
    ///   pages are all-zero);
    /// - the caller must not create overlapping views: while the returned
    ///   slice lives, no other view (shared or mutable) of any of its bytes
    ///   may exist and no other thread may access them.
    #[allow(clippy::mut_from_ref)]
    #[cfg(test)]
    pub unsafe fn slice_mut<T>(&self, offset: usize, count: usize) -> Result<&mut [T]> {
        let p = self.view_ptr::<T>(offset, count)?;
        // SAFETY: `p` is non-null, aligned and in bounds for `count` elements
        // (checked by `view_ptr`); exclusivity and validity are the caller's
        // contract above.
        Ok(unsafe { std::slice::from_raw_parts_mut(p, count) })
    }

    /// Returns the whole pages inside `[offset, offset + len)` to the kernel
    /// (`madvise(MADV_DONTNEED)`): they read as zero afterwards and no longer
    /// count toward resident memory. Partial pages at either end are left
    /// untouched.
    ///
    /// # Safety
    /// No live view (from [`slice`](Self::slice) / [`slice_mut`](Self::slice_mut)
    /// or raw pointers in use on another thread) may overlap the released
    /// pages, since their contents change to zero.
    pub unsafe fn release_pages(&self, offset: usize, len: usize) -> Result<()> {
        let end = offset.checked_add(len).filter(|&e| e <= self.len).ok_or_else(|| {
            Error::InvalidArgument(format!("release range {offset}..+{len} exceeds the region length {}", self.len))
        })?;
        let page = page_size();
        // The base is page aligned, so page alignment of offsets is page
        // alignment of addresses.
        let start = offset.div_ceil(page) * page;
        let stop = end / page * page;
        if start >= stop {
            return Ok(());
        }
        // SAFETY: `[start, stop)` is a page-aligned subrange of our own
        // mapping (`stop <= end <= self.len`); MADV_DONTNEED on a private
        // anonymous mapping only zero-fills it. No overlapping views exist per
        // the caller's contract.
        let rc = unsafe { libc::madvise(self.ptr.as_ptr().add(start).cast(), stop - start, libc::MADV_DONTNEED) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            return Err(Error::DeviceMemory(format!("madvise(MADV_DONTNEED) of {start}..{stop} failed: {err}")));
        }
        Ok(())
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.mapped {
            // SAFETY: `ptr`/`len` describe exactly the mapping created in
            // `new`, which is unmapped only here, once.
            let rc = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
            if rc != 0 {
                crate::diagnostics::log::warn(
                    "Region::drop",
                    &format!("munmap of {} bytes failed: {}", self.len, std::io::Error::last_os_error()),
                );
            }
        }
    }
}

/// Resident set size of this process in bytes, from `/proc/self/statm`.
pub fn resident_bytes() -> Result<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").map_err(|e| Error::Io(format!("/proc/self/statm: {e}")))?;
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| Error::Io(format!("/proc/self/statm: unexpected content {s:?}")))?;
    Ok(pages * page_size() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn empty_region_is_aligned_and_unmapped() {
        let r = Region::new(0).unwrap();
        assert!(r.is_empty());
        assert_eq!(r.len(), 0);
        assert_eq!(r.as_ptr() as usize % REGION_BASE_ALIGN, 0);
        // SAFETY: zero-length views create no references to memory.
        let s = unsafe { r.slice::<u64>(0, 0) }.unwrap();
        assert!(s.is_empty());
        // SAFETY: as above.
        assert!(unsafe { r.slice::<u8>(0, 1) }.is_err());
    }

    #[test]
    fn region_is_zeroed_aligned_and_writable() {
        let r = Region::new(3 * page_size() + 10).unwrap();
        assert_eq!(r.as_ptr() as usize % REGION_BASE_ALIGN, 0);
        assert_eq!(r.base_addr(), r.as_ptr() as u64);
        // SAFETY: the only view of these bytes; u64 is valid for zero bytes.
        let s = unsafe { r.slice_mut::<u64>(0, r.len() / 8) }.unwrap();
        assert!(s.iter().all(|&v| v == 0));
        s[5] = 42;
        // SAFETY: the mutable view `s` is no longer used.
        let t = unsafe { r.slice::<u64>(40, 1) }.unwrap();
        assert_eq!(t[0], 42);
    }

    #[test]
    fn views_check_bounds_and_alignment() {
        let r = Region::new(4096).unwrap();
        // SAFETY (all below): the views are dropped immediately; errors
        // create no references.
        unsafe {
            assert!(r.slice::<u32>(4092, 1).is_ok());
            assert!(matches!(r.slice::<u32>(4093, 1), Err(Error::InvalidArgument(_))));
            assert!(matches!(r.slice::<u32>(4096, 1), Err(Error::InvalidArgument(_))));
            assert!(r.slice::<u32>(4096, 0).is_ok());
            assert!(matches!(r.slice_mut::<u64>(4, 1), Err(Error::InvalidArgument(_))));
            assert!(matches!(r.slice_mut::<u64>(0, usize::MAX), Err(Error::InvalidArgument(_))));
            assert!(matches!(r.slice::<u8>(usize::MAX, 2), Err(Error::InvalidArgument(_))));
            let a = r.slice::<AtomicU32>(64, 4).unwrap();
            a[1].store(7, Ordering::Relaxed);
            assert_eq!(r.slice::<u32>(68, 1).unwrap()[0], 7);
        }
    }

    #[test]
    fn release_pages_zeroes_interior_pages_only() {
        let page = page_size();
        let r = Region::new(4 * page).unwrap();
        // SAFETY: the only view; dropped before release_pages is called.
        unsafe { r.slice_mut::<u8>(0, 4 * page) }.unwrap().fill(0xAB);
        // Release from the middle of page 0 to the middle of page 3: only
        // pages 1 and 2 are whole.
        // SAFETY: no views are live.
        unsafe { r.release_pages(page / 2, 3 * page) }.unwrap();
        // SAFETY: no other views are live.
        let s = unsafe { r.slice::<u8>(0, 4 * page) }.unwrap();
        assert!(s[..page].iter().all(|&b| b == 0xAB));
        assert!(s[page..3 * page].iter().all(|&b| b == 0));
        assert!(s[3 * page..].iter().all(|&b| b == 0xAB));
        // SAFETY: no views overlap (the range is rejected before any effect).
        assert!(unsafe { r.release_pages(page, 4 * page) }.is_err());
        // SAFETY: a sub-page range releases nothing.
        unsafe { r.release_pages(1, 10) }.unwrap();
    }

    #[test]
    fn untouched_pages_are_not_resident_and_release_drops_them() {
        const LEN: usize = 256 << 20;
        let page = page_size();
        let r = Region::new(LEN).unwrap();
        assert_eq!(r.resident_pages().unwrap(), 0);
        // Touch 16 MiB.
        let touch = 16 << 20;
        // SAFETY: the only view; dropped before release.
        unsafe { r.slice_mut::<u8>(0, touch) }.unwrap().fill(1);
        assert_eq!(r.resident_pages().unwrap(), touch / page);
        // SAFETY: no live views.
        unsafe { r.release_pages(0, touch) }.unwrap();
        assert_eq!(r.resident_pages().unwrap(), 0);
        // SAFETY: no other views; zero is a valid u8.
        assert!(unsafe { r.slice::<u8>(0, touch) }.unwrap().iter().all(|&b| b == 0));
        assert_eq!(Region::new(0).unwrap().resident_pages().unwrap(), 0);
    }

    #[test]
    fn resident_bytes_reads_statm() {
        assert!(resident_bytes().unwrap() > 0);
    }
}
