//! Collective-communication windows of the simulated device.
//!
//! One simulated device in one process forms a single-rank world: a
//! communicator of one rank gets real windows (lazily committed memory) and
//! `CommContext` descriptors with upstream's layout; a barrier returns at
//! once. A world of more than one rank is refused with a clear error
//! (upstream's sim spans processes through POSIX shared memory; that is not
//! provided here).

use std::collections::HashMap;

use crate::device::region::Region;
use crate::diagnostics::{Error, Result};

/// Maximum ranks of a communicator (upstream `COMM_MAX_RANK_NUM`).
pub const COMM_MAX_RANK_NUM: usize = 64;

/// Upstream's `CommContext` (1056 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CommContext {
    /// Workspace address.
    pub work_space: u64,
    /// Workspace bytes.
    pub work_space_size: u64,
    /// Rank of this process in the (domain) communicator.
    pub rank_id: u32,
    /// Ranks in the (domain) communicator.
    pub rank_num: u32,
    /// Window bytes per rank.
    pub win_size: u64,
    /// Window base of each rank (input side).
    pub windows_in: [u64; COMM_MAX_RANK_NUM],
    /// Window base of each rank (output side).
    pub windows_out: [u64; COMM_MAX_RANK_NUM],
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<CommContext>() == 1056);
    assert!(offset_of!(CommContext, rank_id) == 16);
    assert!(offset_of!(CommContext, win_size) == 24);
    assert!(offset_of!(CommContext, windows_in) == 32);
    assert!(offset_of!(CommContext, windows_out) == 544);
};

struct Window {
    region: Region,
    /// Kept alive: C code holds its address.
    _ctx: Box<CommContext>,
}

/// A single-rank communicator.
pub struct Communicator {
    base: Option<Window>,
    // Boxed: C code holds the addresses, which must not move when the Vec grows.
    #[allow(clippy::vec_box)]
    derived: Vec<Box<CommContext>>,
    domains: HashMap<u64, Window>,
}

fn context_for(base: u64, size: u64, rank: u32, ranks: u32) -> Box<CommContext> {
    let mut c = Box::new(CommContext {
        work_space: 0,
        work_space_size: 0,
        rank_id: rank,
        rank_num: ranks,
        win_size: size,
        windows_in: [0; COMM_MAX_RANK_NUM],
        windows_out: [0; COMM_MAX_RANK_NUM],
    });
    c.windows_in[0] = base;
    c.windows_out[0] = base;
    c
}

fn check_domain(rank_ids: &[u32], domain_rank: u32) -> Result<()> {
    if rank_ids != [0] || domain_rank != 0 {
        return Err(Error::Unsupported(format!(
            "the simulated device forms a single-rank world: rank_ids must be [0] and domain_rank 0 (got {rank_ids:?}, {domain_rank})"
        )));
    }
    Ok(())
}

impl Communicator {
    /// Creates the communicator for `rank` of `nranks`.
    pub fn new(rank: i32, nranks: i32) -> Result<Communicator> {
        if nranks < 1 || nranks as usize > COMM_MAX_RANK_NUM || rank < 0 || rank >= nranks {
            return Err(Error::InvalidArgument(format!(
                "comm_init(rank={rank}, nranks={nranks}): need 1 <= nranks <= {COMM_MAX_RANK_NUM} and 0 <= rank < nranks"
            )));
        }
        if nranks != 1 {
            return Err(Error::Unsupported(format!(
                "comm_init: nranks = {nranks}, but the simulated device supports single-rank communicators only"
            )));
        }
        Ok(Communicator { base: None, derived: Vec::new(), domains: HashMap::new() })
    }

    /// Allocates the base window; returns the `CommContext` address.
    pub fn alloc_windows(&mut self, size: usize) -> Result<u64> {
        if size == 0 {
            return Err(Error::InvalidArgument("comm_alloc_windows: win_size must be > 0".into()));
        }
        if self.base.is_some() {
            return Err(Error::State("comm_alloc_windows: the windows are already allocated".into()));
        }
        let region = Region::new(size)?;
        let ctx = context_for(region.base_addr(), size as u64, 0, 1);
        let addr = &*ctx as *const CommContext as u64;
        self.base = Some(Window { region, _ctx: ctx });
        Ok(addr)
    }

    fn base(&self) -> Result<&Window> {
        self.base.as_ref().ok_or_else(|| Error::State("no windows: call comm_alloc_windows first".into()))
    }

    /// Base address of the local window.
    pub fn local_window_base(&self) -> Result<u64> {
        Ok(self.base()?.region.base_addr())
    }

    /// Size of the local window.
    pub fn window_size(&self) -> Result<usize> {
        Ok(self.base()?.region.len())
    }

    /// A context over `[offset, offset+size)` of the base window, valid until destroy.
    pub fn derive(&mut self, rank_ids: &[u32], domain_rank: u32, offset: usize, size: usize) -> Result<u64> {
        check_domain(rank_ids, domain_rank)?;
        let (base, len) = {
            let w = self.base()?;
            (w.region.base_addr(), w.region.len())
        };
        if offset.checked_add(size).is_none_or(|end| end > len) || size == 0 {
            return Err(Error::InvalidArgument(format!(
                "comm_derive_context: window [{offset}, {offset}+{size}) must be non-empty and inside the {len}-byte window"
            )));
        }
        let ctx = context_for(base + offset as u64, size as u64, 0, 1);
        let addr = &*ctx as *const CommContext as u64;
        self.derived.push(ctx);
        Ok(addr)
    }

    /// A new window for `allocation_id`; returns (context, local base).
    pub fn alloc_domain(
        &mut self,
        allocation_id: u64,
        rank_ids: &[u32],
        domain_rank: u32,
        size: usize,
    ) -> Result<(u64, u64)> {
        check_domain(rank_ids, domain_rank)?;
        if size == 0 {
            return Err(Error::InvalidArgument("comm_alloc_domain_windows: window_size must be > 0".into()));
        }
        if self.domains.contains_key(&allocation_id) {
            return Err(Error::State(format!(
                "comm_alloc_domain_windows: allocation_id {allocation_id} is already allocated"
            )));
        }
        let region = Region::new(size)?;
        let base = region.base_addr();
        let ctx = context_for(base, size as u64, 0, 1);
        let addr = &*ctx as *const CommContext as u64;
        self.domains.insert(allocation_id, Window { region, _ctx: ctx });
        Ok((addr, base))
    }

    /// Releases a domain window.
    pub fn release_domain(&mut self, allocation_id: u64) -> Result<()> {
        self.domains.remove(&allocation_id).map(|_| ()).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "comm_release_domain_windows: allocation_id {allocation_id} is not allocated"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_rank_windows() {
        assert!(Communicator::new(0, 2).is_err());
        assert!(Communicator::new(1, 1).is_err());
        let mut c = Communicator::new(0, 1).unwrap();
        assert!(c.local_window_base().is_err());
        let ctx = c.alloc_windows(4096).unwrap();
        // SAFETY: the address is a live CommContext owned by `c`.
        let cc = unsafe { &*(ctx as *const CommContext) };
        assert_eq!((cc.rank_id, cc.rank_num, cc.win_size), (0, 1, 4096));
        assert_eq!(cc.windows_in[0], c.local_window_base().unwrap());
        assert!(c.derive(&[0], 0, 1024, 1024).is_ok());
        assert!(c.derive(&[0], 0, 4000, 1024).is_err());
        assert!(c.derive(&[0, 1], 0, 0, 16).is_err());
        let (_, base) = c.alloc_domain(7, &[0], 0, 512).unwrap();
        assert_ne!(base, 0);
        assert!(c.alloc_domain(7, &[0], 0, 512).is_err());
        c.release_domain(7).unwrap();
        assert!(c.release_domain(7).is_err());
    }
}
