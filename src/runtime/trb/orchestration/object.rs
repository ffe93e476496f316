//! The runtime object: what orchestration code receives as `PTO2Runtime*`
//! (the head upstream SOs read and write, then runtime-private state), the
//! thread's current runtime, and the checked way from an entry's `rt`
//! pointer to the object.

use std::cell::Cell;
use std::marker::PhantomData;

use super::boundary::call_guarded;
use super::layout::{PTO2RuntimeHead, PTO2RuntimeOps};
use crate::diagnostics::log;
use crate::runtime::trb::api::{DirectFill, FatalProbe, OrchestratorApi};

/// Marks a [`RuntimeObject`] (checked by every entry before use).
pub(super) const RUNTIME_MAGIC: u64 = 0x5349_4d50_4c45_5254; // "SIMPLERT"

/// The object orchestration code receives as `PTO2Runtime*`: the two-field
/// head upstream SOs read and write, followed by runtime-private state.
///
/// It borrows the orchestrator for `'a`. The object must not move while
/// its address is bound in an SO (take the address with
/// [`RuntimeObject::as_runtime_ptr`] after it reached its final place).
#[repr(C)]
pub struct RuntimeObject<'a> {
    pub(super) head: PTO2RuntimeHead,
    pub(super) magic: u64,
    pub(super) api: *mut (dyn OrchestratorApi + 'a),
    /// `api.fatal_probe()` taken at creation; it stays valid as long as
    /// `api`, so for the object's whole life.
    pub(super) probe: Option<FatalProbe>,
    /// `api.direct_fill()` taken at creation: the submitting body
    /// specialised to the api's concrete type, if it has one.
    pub(super) direct: Option<DirectFill>,
    pub(super) panic_message: Option<String>,
    _borrow: PhantomData<&'a mut dyn OrchestratorApi>,
}

impl<'a> RuntimeObject<'a> {
    /// A runtime object forwarding to `api`, with `ops` installed and
    /// `pending_scope_mode` = AUTO (see [`RuntimeObject::new`]).
    pub(super) fn with_ops(api: &'a mut dyn OrchestratorApi, ops: &'static PTO2RuntimeOps) -> RuntimeObject<'a> {
        let probe = api.fatal_probe();
        let direct = api.direct_fill();
        RuntimeObject {
            probe,
            direct,
            head: PTO2RuntimeHead { ops, pending_scope_mode: 0, pad: [0; 7] },
            magic: RUNTIME_MAGIC,
            api: api as *mut (dyn OrchestratorApi + 'a),
            panic_message: None,
            _borrow: PhantomData,
        }
    }

    /// The pointer to hand to C/C++ code as `PTO2Runtime*`.
    pub fn as_runtime_ptr(&mut self) -> *mut PTO2RuntimeHead {
        &mut self.head as *mut PTO2RuntimeHead
    }

    /// The message of the first panic caught inside an ops entry, if any.
    pub fn panic_message(&self) -> Option<&str> {
        self.panic_message.as_deref()
    }

    /// Makes this object the calling thread's current runtime (used by the
    /// `scope_set_site` entry, which receives no runtime pointer) until the
    /// returned guard drops.
    pub fn enter(&mut self) -> CurrentRuntimeGuard<'_> {
        let ptr = self.as_runtime_ptr();
        let previous = CURRENT.try_with(|c| c.replace(ptr)).unwrap_or(std::ptr::null_mut());
        CurrentRuntimeGuard { previous, _obj: PhantomData }
    }
}

thread_local! {
    // `const` and without `Drop`: no destructor is registered, so it stays
    // usable at thread and process exit; accessed with `try_with` (never panics).
    pub(super) static CURRENT: Cell<*mut PTO2RuntimeHead> = const { Cell::new(std::ptr::null_mut()) };
}

/// Restores the previous current runtime of the thread on drop.
pub struct CurrentRuntimeGuard<'o> {
    previous: *mut PTO2RuntimeHead,
    _obj: PhantomData<&'o mut ()>,
}

impl Drop for CurrentRuntimeGuard<'_> {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.previous));
    }
}

/// Runs `f` on the runtime object behind `rt` inside a panic boundary.
/// Returns `fallback` when `rt` is not a live [`RuntimeObject`], when an
/// earlier entry panicked, or when `f` panics (the panic is then latched as
/// a fatal error).
///
/// # Safety
/// `rt` is NULL or was obtained from [`RuntimeObject::as_runtime_ptr`] of an
/// object that is still alive, and no other reference to that object is in
/// use during the call.
pub(super) unsafe fn with_runtime<R>(
    rt: *mut PTO2RuntimeHead,
    func: &str,
    fallback: R,
    f: impl FnOnce(&mut dyn OrchestratorApi) -> R,
) -> R {
    // SAFETY: forwarded contract.
    let Some(obj) = (unsafe { live_object(rt, func) }) else {
        return fallback;
    };
    // SAFETY: `live_object` checked the pointer; the object is alive and not
    // otherwise borrowed (this fn's contract).
    let obj = unsafe { &mut *obj };
    if obj.panic_message.is_some() {
        return fallback;
    }
    // SAFETY: `api` was created from a `&'a mut dyn OrchestratorApi` that
    // outlives the object; the object is the only user of that borrow.
    let api = unsafe { &mut *obj.api };
    call_guarded(api, &mut obj.panic_message, func, fallback, f)
}

/// The runtime object behind `rt`, or `None` (logged) when `rt` is NULL,
/// misaligned or not a [`RuntimeObject`].
///
/// # Safety
/// As for [`with_runtime`].
#[inline(always)]
pub(super) unsafe fn live_object(rt: *mut PTO2RuntimeHead, func: &str) -> Option<*mut RuntimeObject<'static>> {
    if rt.is_null() || (rt as usize) % std::mem::align_of::<RuntimeObject<'static>>() != 0 {
        log::error(func, "called with a NULL or misaligned runtime pointer");
        return None;
    }
    let obj = rt.cast::<RuntimeObject<'static>>();
    // SAFETY: `rt` points to a live RuntimeObject (the head is its first
    // field, so the addresses coincide) per this fn's contract; the magic
    // read stays inside the object.
    if unsafe { (*obj).magic } != RUNTIME_MAGIC {
        log::error(func, "called with a pointer that is not a simpler runtime object");
        return None;
    }
    Some(obj)
}
