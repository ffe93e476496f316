//! A run's kernel dispatch: the callable's func_id → `kernel_entry` table,
//! the device the kernels run for, and the latch of the first func_id the
//! callable does not provide. The engine calls kernels through it directly
//! (one bounds-checked load, the trampoline), with the error text built
//! only when a kernel threw.

use std::sync::atomic::{AtomicI32, Ordering};

use super::sim_context;
use super::so::{self, KernelEntry};

/// The kernels of one run.
pub struct KernelTable<'a> {
    entries: &'a [Option<KernelEntry>],
    device_id: i32,
    /// First func_id a subtask used without a kernel, −1 while none.
    missing: AtomicI32,
}

impl<'a> KernelTable<'a> {
    /// The kernels `entries` (indexed by func_id) of a run on `device_id`.
    pub fn new(entries: &'a [Option<KernelEntry>], device_id: i32) -> KernelTable<'a> {
        KernelTable { entries, device_id, missing: AtomicI32::new(-1) }
    }

    /// Runs the kernel of `func_id` on the calling thread as core
    /// (`cluster`, `lane`), publishing that identity first when
    /// `core_changed` (the thread's previous kernel of the run ran on
    /// another core, or none ran yet). A func_id without a kernel runs
    /// nothing and is latched (the first one, see [`missing`](Self::missing)).
    /// A throwing kernel gives `Err("kernel func_id=<id>: the kernel threw
    /// a C++ exception: <what>")`.
    ///
    /// # Safety
    /// Every entry of the table is a live `kernel_entry` (its SO stays
    /// loaded for the run) and `args` the 50-slot argument array of the
    /// dispatch payload built for this subtask.
    #[inline]
    pub unsafe fn run(
        &self,
        func_id: i32,
        args: *mut u64,
        cluster: u32,
        lane: u32,
        core_changed: bool,
    ) -> std::result::Result<(), String> {
        // A negative func_id wraps to an index past the table.
        let Some(&Some(f)) = self.entries.get(func_id as u32 as usize) else {
            self.latch_missing(func_id);
            return Ok(());
        };
        if core_changed {
            let _ = sim_context::set_core(cluster, lane, self.device_id);
        }
        // SAFETY: forwarded contract (`f` live, `args` its argument array).
        if unsafe { so::run_kernel(f, args.cast()) } {
            return Ok(());
        }
        Err(failed(func_id))
    }

    /// The first func_id a subtask used without a kernel, if any.
    pub fn missing(&self) -> Option<i32> {
        let m = self.missing.load(Ordering::Acquire);
        (m >= 0).then_some(m)
    }

    #[cold]
    #[inline(never)]
    fn latch_missing(&self, func_id: i32) {
        let _ = self.missing.compare_exchange(-1, func_id, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// The error of a kernel that threw on this thread.
#[cold]
#[inline(never)]
fn failed(func_id: i32) -> String {
    format!("kernel func_id={func_id}: {}", so::thrown())
}
