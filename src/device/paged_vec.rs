//! [`PagedVec`]: a vector with a fixed maximum length whose storage is its
//! own lazily committed mapping ([`Region`]), never the malloc heap.
//!
//! Why: a per-run table that grows to megabytes (the task arrays of
//! host_build_graph and aicpu_build_graph, up to 131,072 tasks) would, as a
//! `Vec`, be reallocated by doubling on the building thread. glibc serves
//! the first big blocks with `mmap`, but freeing such a block raises its
//! mmap threshold (up to 32 MiB), after which blocks of that size come from
//! the thread's malloc arena and stay resident after they are freed, so a
//! finished run keeps tens of MiB. A `PagedVec` reserves address space for
//! its maximum length once (no reallocation, no copy), only the pages its
//! elements occupy become resident, and dropping it unmaps everything.

use super::region::Region;
use crate::diagnostics::Result;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

/// A vector of at most `max_len` elements in a private mapping, mapped at
/// the first push.
pub struct PagedVec<T> {
    region: Option<Region>,
    len: usize,
    max_len: usize,
    _owns: PhantomData<T>,
}

// SAFETY: a PagedVec owns its elements like a Vec (the mapping is private
// to it); sending it sends the elements.
unsafe impl<T: Send> Send for PagedVec<T> {}
// SAFETY: shared access only hands out `&[T]`, as a Vec does.
unsafe impl<T: Sync> Sync for PagedVec<T> {}

impl<T> Default for PagedVec<T> {
    /// An empty vector that can hold nothing (every push fails).
    fn default() -> Self {
        PagedVec::new(0)
    }
}

impl<T> PagedVec<T> {
    /// An empty vector for at most `max_len` elements; nothing is mapped yet.
    pub fn new(max_len: usize) -> PagedVec<T> {
        PagedVec { region: None, len: 0, max_len, _owns: PhantomData }
    }

    fn base(&self) -> *mut T {
        self.region.as_ref().map_or(std::ptr::NonNull::dangling().as_ptr(), |r| r.as_ptr().cast())
    }

    /// Appends `value`; gives it back when the vector is full or its mapping
    /// cannot be created.
    pub fn push(&mut self, value: T) -> std::result::Result<(), T> {
        if self.len >= self.max_len {
            return Err(value);
        }
        if self.region.is_none() {
            match self.map() {
                Ok(r) => self.region = Some(r),
                Err(e) => {
                    crate::diagnostics::log::error("PagedVec", &e.to_string());
                    return Err(value);
                }
            }
        }
        // SAFETY: the mapping holds `max_len` elements (page-aligned base,
        // so aligned for T up to 4096) and `len < max_len`; slot `len` is
        // uninitialized and becomes element `len` here.
        unsafe { self.base().add(self.len).write(value) };
        self.len += 1;
        Ok(())
    }

    fn map(&self) -> Result<Region> {
        const { assert!(std::mem::align_of::<T>() <= 4096, "PagedVec elements must fit page alignment") };
        let bytes = self.max_len.checked_mul(std::mem::size_of::<T>()).ok_or_else(|| {
            crate::diagnostics::Error::DeviceMemory(format!("PagedVec of {} elements overflows", self.max_len))
        })?;
        Region::new(bytes.max(1))
    }
}

impl<T> Deref for PagedVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: elements [0, len) are initialized (push) and live in the
        // mapping (or len is 0 and the pointer is dangling but aligned).
        unsafe { std::slice::from_raw_parts(self.base(), self.len) }
    }
}

impl<T> DerefMut for PagedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in deref; `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.base(), self.len) }
    }
}

impl<T> Drop for PagedVec<T> {
    fn drop(&mut self) {
        let slice: *mut [T] = &mut **self;
        // SAFETY: the elements are initialized and dropped exactly once
        // here; the mapping is unmapped afterwards by Region's drop.
        unsafe { std::ptr::drop_in_place(slice) };
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for PagedVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn pushes_up_to_the_bound_and_drops_every_element() {
        let marker = Rc::new(());
        let mut v: PagedVec<(u64, Rc<()>)> = PagedVec::new(3);
        assert!(v.is_empty());
        for i in 0..3 {
            assert!(v.push((i, marker.clone())).is_ok());
        }
        let refused = v.push((9, marker.clone()));
        assert_eq!(refused.map_err(|(i, _)| i), Err(9), "a full vector gives the value back");
        assert_eq!(v.iter().map(|e| e.0).collect::<Vec<_>>(), [0, 1, 2]);
        v[1].0 = 7;
        assert_eq!(v[1].0, 7);
        assert_eq!(Rc::strong_count(&marker), 4);
        drop(v);
        assert_eq!(Rc::strong_count(&marker), 1, "dropping the vector drops its elements");
        let mut empty: PagedVec<u8> = PagedVec::default();
        assert!(empty.push(1).is_err());
        assert!(empty.is_empty());
    }

    #[test]
    fn only_touched_pages_become_resident() {
        let mut v: PagedVec<[u64; 16]> = PagedVec::new(100_000);
        for i in 0..10u64 {
            v.push([i; 16]).unwrap();
        }
        let resident = v.region.as_ref().unwrap().resident_pages().unwrap();
        assert!(resident <= 2, "10 elements of 128 B occupy at most 2 pages, {resident} are resident");
        assert_eq!(v[9], [9; 16]);
    }
}
