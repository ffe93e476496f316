//! Opaque handles handed to C: never reused, never a real address.
//!
//! A handle is `kind tag << 48 | id`, where `id` comes from one process-wide
//! monotonic counter shared by every kind (1, 2, 3, …; 2^48 - 1 handles per
//! process before `create` fails). A destroyed handle therefore stays an
//! error forever: it can never name a later object, and a handle of one kind
//! passed where another is expected is told apart. Lookup is a read lock, a
//! hash-map probe keyed by the id itself (ids are unique, so no hashing) and
//! an `Arc` clone.

use std::collections::HashMap;
use std::ffi::c_void;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::diagnostics::{Error, Result};

const _: () = assert!(size_of::<*mut c_void>() == 8, "handles need 64-bit pointers");

const ID_BITS: u32 = 48;
const ID_MASK: u64 = (1 << ID_BITS) - 1;

/// Next id, shared by every handle kind.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What a handle names; the tag sits in its top 16 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `DeviceContextHandle`.
    DeviceContext = 0x51c0,
    /// `CommHandle`.
    Comm = 0x51c1,
}

impl Kind {
    fn of(handle: u64) -> Option<Kind> {
        match handle >> ID_BITS {
            t if t == Kind::DeviceContext as u64 => Some(Kind::DeviceContext),
            t if t == Kind::Comm as u64 => Some(Kind::Comm),
            _ => None,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::DeviceContext => "device context",
            Kind::Comm => "communicator",
        }
    }
}

/// Hasher of handle keys: the id bits are unique and dense, so they are the hash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v & ID_MASK;
    }
}

type Map<T> = HashMap<u64, Arc<T>, BuildHasherDefault<IdHasher>>;

/// Live objects of one kind by handle.
pub(crate) struct Registry<T> {
    kind: Kind,
    /// The C parameter name used in messages (`ctx`, `h`).
    param: &'static str,
    live: RwLock<Map<T>>,
}

impl<T> Registry<T> {
    /// An empty registry (usable in a `static` through `Lazy`).
    pub(crate) fn new(kind: Kind, param: &'static str) -> Registry<T> {
        Registry { kind, param, live: RwLock::new(Map::default()) }
    }

    fn read(&self) -> RwLockReadGuard<'_, Map<T>> {
        self.live.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map<T>> {
        self.live.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `obj` under a fresh handle.
    pub(crate) fn insert(&self, obj: Arc<T>) -> Result<*mut c_void> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if id > ID_MASK {
            return Err(Error::State(format!(
                "the process has used all {ID_MASK} {} handles; none is ever reused",
                self.kind.what()
            )));
        }
        let handle = (self.kind as u64) << ID_BITS | id;
        self.write().insert(handle, obj);
        Ok(handle as usize as *mut c_void)
    }

    /// The live object named by `handle`.
    pub(crate) fn get(&self, handle: *mut c_void) -> Result<Arc<T>> {
        let key = self.check(handle)?;
        self.read().get(&key).cloned().ok_or_else(|| self.dead(handle))
    }

    /// Unregisters `handle` and returns its object (the caller tears it down).
    pub(crate) fn remove(&self, handle: *mut c_void) -> Result<Arc<T>> {
        let key = self.check(handle)?;
        self.write().remove(&key).ok_or_else(|| self.dead(handle))
    }

    /// Number of live objects.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    fn check(&self, handle: *mut c_void) -> Result<u64> {
        if handle.is_null() {
            return Err(Error::NullPointer { what: self.param });
        }
        let key = handle as usize as u64;
        match Kind::of(key) {
            Some(k) if k == self.kind => Ok(key),
            Some(k) => Err(Error::InvalidArgument(format!(
                "{} {handle:p} is a {} handle, not a {} handle",
                self.param,
                k.what(),
                self.kind.what()
            ))),
            None => Err(Error::InvalidArgument(format!(
                "{} {handle:p} is not a {} handle (never returned by this library)",
                self.param,
                self.kind.what()
            ))),
        }
    }

    fn dead(&self, handle: *mut c_void) -> Error {
        Error::InvalidArgument(format!(
            "{} {handle:p} is not a live {} (destroyed; handles are never reused)",
            self.param,
            self.kind.what()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destroyed_handles_stay_dead_and_are_never_reissued() {
        let r: Registry<u32> = Registry::new(Kind::DeviceContext, "ctx");
        let a = r.insert(Arc::new(1)).unwrap();
        assert_eq!(*r.get(a).unwrap(), 1);
        r.remove(a).unwrap();
        let b = r.insert(Arc::new(2)).unwrap();
        assert_ne!(a, b);
        let e = r.get(a).unwrap_err().to_string();
        assert!(e.contains("destroyed"), "{e}");
        assert!(r.remove(a).is_err());
        assert_eq!(*r.get(b).unwrap(), 2);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn null_foreign_and_other_kind_handles_are_errors() {
        let ctxs: Registry<u32> = Registry::new(Kind::DeviceContext, "ctx");
        let comms: Registry<u32> = Registry::new(Kind::Comm, "h");
        let c = comms.insert(Arc::new(7)).unwrap();
        assert!(matches!(ctxs.get(std::ptr::null_mut()), Err(Error::NullPointer { what: "ctx" })));
        let e = ctxs.get(c).unwrap_err().to_string();
        assert!(e.contains("communicator handle, not a device context"), "{e}");
        let local = 5u32;
        let e = ctxs.get(&local as *const u32 as *mut c_void).unwrap_err().to_string();
        assert!(e.contains("never returned by this library"), "{e}");
    }
}
