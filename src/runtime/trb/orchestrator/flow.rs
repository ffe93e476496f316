//! Flow control: waiting for fanin-spill and TensorMap entries, with the
//! deadlock reports.

use super::Orchestrator;
use crate::config::{schema, Knob};
use crate::runtime::trb::layout::{codes, ALLOC_DEADLOCK_TIMEOUT_MS, MAX_RINGS, SPIN_CHECK_INTERVAL};
use crate::runtime::trb::shared::RunShared;
use crate::runtime::wait::{Backoff, Ladder};
use std::sync::atomic::Ordering::*;
use std::time::Duration;

impl Orchestrator<'_> {
    /// The orchestrator stops using its CPU (it waits for tasks to finish,
    /// or the orchestration is over): every dormant scheduler thread may
    /// start from now on (see `Parker`'s start budget), one is woken for the
    /// work that was published while the budget was spent, and the staged
    /// tasks are published (what it waits for may need them), and the
    /// claims of held producers are counted in them (what a deadlock check
    /// reads, see `held.rs`).
    pub(super) fn release_cpu(&mut self) {
        self.held.apply();
        if self.sh.parker.lift_start_cap() {
            self.sh.parker.wake_one();
        }
        self.flush_wiring();
    }

    pub(super) fn ensure_spill(&mut self, ring: usize, need: u64) -> bool {
        let sh = self.sh;
        let pool_cap = self.t.fanin_pools[ring].capacity();
        let mut last_tail = self.t.fanin_pools[ring].tail;
        let mut backoff = Backoff::new(Ladder::YIELD);
        loop {
            self.t.fanin_pools[ring].reclaim(&sh.rings[ring]);
            let pool = &self.t.fanin_pools[ring];
            if pool.capacity() - pool.used() >= need {
                return true;
            }
            if need > pool_cap {
                let msg = format!(
                    "Fanin Spill Pool Overflow: ring {ring} task needs {need} spill entries, pool capacity {pool_cap}. Solution: raise the ring's dep pool ({})",
                    schema::hint(Knob::RingDepPool)
                );
                self.store_fatal(codes::DEP_POOL_OVERFLOW, &msg);
                return false;
            }
            let (tail, used) = (pool.tail, pool.used());
            if tail != last_tail {
                last_tail = tail;
                backoff.progressed();
            }
            // Entries come back as tasks retire: hand over the staged ones.
            self.release_cpu();
            backoff.snooze();
            if backoff.check_due(SPIN_CHECK_INTERVAL) {
                if self.wait_checks() {
                    self.fatal = true;
                    return false;
                }
                // Spill entries are freed only as the ring's oldest task
                // retires; a scope-gated head waits for this (blocked)
                // orchestrator, so the wait is permanent.
                let gated = sh.rings[ring].head_scope_gated(sh.rings[ring].last_task_alive.load(Acquire));
                if gated || backoff.stalled_for() >= Duration::from_millis(ALLOC_DEADLOCK_TIMEOUT_MS) {
                    let cause = if gated {
                        "the ring's oldest task waits for its scope to end (scope-gated)"
                    } else {
                        "no entry freed for 500 ms"
                    };
                    let msg = format!(
                        "Fanin Spill Pool Deadlock Detected! ring {ring}: used {used} of capacity {pool_cap}, need {need}; cause: {cause}. Solution: raise the ring's dep pool ({}) or split the scope",
                        schema::hint(Knob::RingDepPool)
                    );
                    self.store_fatal(codes::DEP_POOL_OVERFLOW, &msg);
                    return false;
                }
            }
        }
    }

    #[inline(always)]
    pub(super) fn ensure_tensormap(&mut self, needed: usize) -> bool {
        self.t.tensormap.free_capacity() >= needed || self.wait_tensormap(needed)
    }

    /// The shortfall path of [`ensure_tensormap`](Self::ensure_tensormap).
    #[inline(never)]
    fn wait_tensormap(&mut self, needed: usize) -> bool {
        self.release_cpu();
        let sh = self.sh;
        let alives = |sh: &RunShared| {
            let mut a = [0u64; MAX_RINGS];
            for (r, ring) in sh.rings.iter().enumerate() {
                a[r] = ring.last_task_alive.load(Acquire);
            }
            a
        };
        let mut last_free = self.t.tensormap.free_capacity();
        let mut backoff = Backoff::new(Ladder::YIELD);
        backoff.stalled_for(); // the stall clock starts at the first shortfall
        loop {
            self.t.tensormap.reclaim_retired_all(alives(sh));
            let free = self.t.tensormap.free_capacity();
            if free >= needed {
                return true;
            }
            if free > last_free {
                last_free = free;
                backoff.progressed();
            }
            backoff.snooze();
            if backoff.step() % 32 == 0 && self.wait_checks() {
                self.fatal = true;
                return false;
            }
            if backoff.stalled_for() >= Duration::from_millis(ALLOC_DEADLOCK_TIMEOUT_MS) {
                let msg = format!(
                    "TensorMap Entry Pool Deadlock Detected! {} of {} entries live, need {needed}, nothing freed for 500 ms (entries are freed when their producer tasks retire). Solution: split scopes so producer tasks retire, or mark tensors manual_dep",
                    self.t.tensormap.used(),
                    self.t.tensormap.capacity()
                );
                self.mark_fatal(codes::TENSORMAP_OVERFLOW, &msg);
                return false;
            }
        }
    }
}
