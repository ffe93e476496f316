//! Upstream's `comm_*` exports over the simulated device's single-rank
//! communicators. All return 0 on success and -1 on failure (NULL handle or
//! out-pointer included); `comm_init` returns NULL on failure.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;

use crate::device::comm::Communicator;
use crate::diagnostics::{Error, Result};
use crate::ffi::handles::{Kind, Registry};
use crate::ffi::{guard, guard_legacy, non_null};

/// Opaque communicator handle (`struct CommHandle_ *`).
pub type CommHandle = *mut c_void;

static COMMS: Lazy<Registry<Mutex<Communicator>>> = Lazy::new(|| Registry::new(Kind::Comm, "h"));

fn with_comm<T>(h: CommHandle, f: impl FnOnce(&mut Communicator) -> Result<T>) -> Result<T> {
    let c = COMMS.get(h)?;
    let mut g = c.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut g)
}

fn out<T>(p: *mut T, what: &'static str, v: T) -> Result<()> {
    if p.is_null() {
        return Err(Error::NullPointer { what });
    }
    // SAFETY: non-NULL; the C contract is a writable T.
    unsafe { p.write_unaligned(v) };
    Ok(())
}

fn rank_list<'a>(ids: *const u32, count: usize) -> Result<&'a [u32]> {
    if ids.is_null() || count == 0 {
        return Err(Error::InvalidArgument("rank_ids must be a non-empty array".into()));
    }
    // SAFETY: non-NULL; the C contract is `count` readable uint32_t.
    Ok(unsafe { std::slice::from_raw_parts(ids, count) })
}

/// Creates a communicator (single-rank on the simulated device); NULL on failure.
#[no_mangle]
pub extern "C" fn comm_init(rank: i32, nranks: i32, stream: *mut c_void, rootinfo_path: *const c_char) -> CommHandle {
    let _ = stream;
    guard(std::ptr::null_mut(), || {
        non_null(rootinfo_path, "rootinfo_path")?;
        COMMS.insert(Arc::new(Mutex::new(Communicator::new(rank, nranks)?)))
    })
}

/// Allocates the window; `*device_ctx_out` = address of its `CommContext`.
#[no_mangle]
pub extern "C" fn comm_alloc_windows(h: CommHandle, win_size: usize, device_ctx_out: *mut u64) -> i32 {
    guard_legacy(|| {
        non_null(device_ctx_out, "device_ctx_out")?;
        let ctx = with_comm(h, |c| c.alloc_windows(win_size))?;
        out(device_ctx_out, "device_ctx_out", ctx)
    })
}

/// `*base_out` = local window base.
#[no_mangle]
pub extern "C" fn comm_get_local_window_base(h: CommHandle, base_out: *mut u64) -> i32 {
    guard_legacy(|| {
        let b = with_comm(h, |c| c.local_window_base())?;
        out(base_out, "base_out", b)
    })
}

/// `*size_out` = window size.
#[no_mangle]
pub extern "C" fn comm_get_window_size(h: CommHandle, size_out: *mut usize) -> i32 {
    guard_legacy(|| {
        let s = with_comm(h, |c| c.window_size())?;
        out(size_out, "size_out", s)
    })
}

/// A context over a sub-window; valid until `comm_destroy`.
#[no_mangle]
pub extern "C" fn comm_derive_context(
    h: CommHandle,
    rank_ids: *const u32,
    rank_count: usize,
    domain_rank: u32,
    window_offset: usize,
    window_size: usize,
    device_ctx_out: *mut u64,
) -> i32 {
    guard_legacy(|| {
        non_null(device_ctx_out, "device_ctx_out")?;
        let ids = rank_list(rank_ids, rank_count)?;
        let ctx = with_comm(h, |c| c.derive(ids, domain_rank, window_offset, window_size))?;
        out(device_ctx_out, "device_ctx_out", ctx)
    })
}

/// Allocates a window for `allocation_id` over a rank subset.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn comm_alloc_domain_windows(
    h: CommHandle,
    allocation_id: u64,
    rank_ids: *const u32,
    rank_count: usize,
    domain_rank: u32,
    window_size: usize,
    device_ctx_out: *mut u64,
    local_window_base_out: *mut u64,
) -> i32 {
    guard_legacy(|| {
        non_null(device_ctx_out, "device_ctx_out")?;
        non_null(local_window_base_out, "local_window_base_out")?;
        let ids = rank_list(rank_ids, rank_count)?;
        let (ctx, base) = with_comm(h, |c| c.alloc_domain(allocation_id, ids, domain_rank, window_size))?;
        out(device_ctx_out, "device_ctx_out", ctx)?;
        out(local_window_base_out, "local_window_base_out", base)
    })
}

/// Releases the window of `allocation_id`.
#[no_mangle]
pub extern "C" fn comm_release_domain_windows(
    h: CommHandle,
    allocation_id: u64,
    rank_count: usize,
    domain_rank: u32,
) -> i32 {
    let _ = (rank_count, domain_rank);
    guard_legacy(|| with_comm(h, |c| c.release_domain(allocation_id)))
}

/// Barrier (immediate for a single rank).
#[no_mangle]
pub extern "C" fn comm_barrier(h: CommHandle) -> i32 {
    guard_legacy(|| with_comm(h, |_| Ok(())))
}

/// Destroys the communicator and all its windows; the handle is invalid afterwards.
#[no_mangle]
pub extern "C" fn comm_destroy(h: CommHandle) -> i32 {
    guard_legacy(|| COMMS.remove(h).map(|_| ()))
}
