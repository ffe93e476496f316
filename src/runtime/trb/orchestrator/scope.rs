//! Scopes: admission to a ring's window, scope-end bookkeeping and scope statistics.

use super::Orchestrator;
use crate::config::{schema, Knob};
use crate::runtime::trb::api::OrchestratorApi;
use crate::runtime::trb::layout::{codes, MAX_RINGS};
use crate::runtime::trb::ring::{RingShared, SlotRef};
use crate::runtime::trb::stats::{ScopePhase, ScopeStatRecord};
use crate::runtime::wait::{Backoff, Ladder};
use std::sync::atomic::Ordering::*;
use std::time::Duration;

impl Orchestrator<'_> {
    /// Scope statistics only: lets the wiring thread catch up before a
    /// scope-end record, so the pool's tail reflects the tasks retired by
    /// then (the top is exact either way, see
    /// [`dep_pool_extent`](Self::dep_pool_extent)). Stops once the queue is
    /// empty, the run failed, or the wiring made no progress for 2 ms (it is
    /// blocked, e.g. on a full pool that only this scope's end can free:
    /// waiting longer would deadlock).
    pub(super) fn settle_wiring(&mut self) {
        self.flush_wiring();
        let mut pending = self.sh.wiring.len();
        let mut backoff = Backoff::new(Ladder::YIELD);
        while pending > 0 && !self.sh.failed() {
            backoff.snooze();
            let now = self.sh.wiring.len();
            if now < pending {
                pending = now;
                backoff.progressed();
            } else if backoff.stalled_for() >= Duration::from_millis(2) {
                break;
            }
        }
    }

    /// Scope statistics only: ring `ring`'s dep pool tail, and its top once
    /// every task submitted so far is wired. Read under the wiring lock: the
    /// pool's own top plus the fanin count of each task of the ring still
    /// queued (wiring a task takes exactly one entry per fanin, see
    /// `drain_wiring`). A top read off the pool alone lagged by what was
    /// queued, and `simpler stats` recommended a pool the same example then
    /// overflowed (its peak read 476 entries on a loaded machine, 1937 idle).
    fn dep_pool_extent(&mut self, ring: usize) -> (i64, i64) {
        self.flush_wiring();
        let sh = self.sh;
        let ws = sh.wiring_state.lock().unwrap_or_else(|e| e.into_inner());
        let pool = &ws.dep_pools[ring];
        let mut top = pool.top;
        ws.wiring.for_each_pending_from(&sh.wiring, 0, |v| {
            let s = sh.slot_of(SlotRef::from_bits(v));
            if s.ring_id.load(Relaxed) as usize % MAX_RINGS == ring {
                // SAFETY: the payload of a published task; its fanin fields
                // are immutable until it is consumed, which cannot happen
                // before it is wired.
                top += unsafe { (*s.payload.load(Relaxed)).dep_entries() };
            }
            true
        });
        (pool.tail as i64, top as i64)
    }

    pub(super) fn record_stat(&mut self, phase: ScopePhase, site: Option<(String, i32)>) {
        if !self.sh.scope_stats || self.top < 0 || self.top > 63 {
            return;
        }
        if phase == ScopePhase::End {
            self.settle_wiring();
        }
        let ring = self.current_ring();
        let (dep_tail, dep_top) = self.dep_pool_extent(ring);
        let r = &self.sh.rings[ring];
        let a = &self.alloc[ring];
        let site = match site {
            Some((f, l)) => {
                let base = f.rsplit(['/', '\\']).next().unwrap_or("").to_string();
                let base: String = base.chars().take(31).collect();
                format!("{base}:{l}")
            }
            None => "(unknown):0".to_string(),
        };
        self.stats.push(ScopeStatRecord {
            site,
            phase,
            depth: self.top as u32,
            ring: ring as u32,
            task_window_start: r.last_task_alive.load(Acquire),
            task_window_end: a.next_local,
            heap_start: a.heap.tail_unrolled(),
            heap_end: a.heap.top_unrolled(),
            dep_pool_start: dep_tail,
            dep_pool_end: dep_top,
            tensormap: self.t.tensormap.used() as u64,
        });
    }

    /// Whether the open scope may take one more task of `ring`; latches
    /// the fatal error (out of line) when not.
    #[inline(always)]
    pub(super) fn scope_can_accept(&mut self, ring: usize) -> bool {
        if self.top < 0 {
            return true;
        }
        let in_scope = self.scope_size - self.scope_begins[self.top as usize];
        let w = self.sh.rings[ring].window.slots();
        if in_scope >= w - 1 || self.scope_size >= self.t.scope_tasks.len() {
            return self.scope_refuse(ring);
        }
        true
    }

    /// The refusal of [`scope_can_accept`](Self::scope_can_accept): the
    /// same checks, with their messages.
    #[cold]
    #[inline(never)]
    fn scope_refuse(&mut self, ring: usize) -> bool {
        let in_scope = self.scope_size - self.scope_begins[self.top as usize];
        let w = self.sh.rings[ring].window.slots();
        if in_scope >= w - 1 {
            let msg = format!(
                "FATAL: Scope Deadlock Detected! (ring {ring}): the current scope (depth {}) already holds {in_scope} tasks and ring {ring}'s task window is {w} (at most {} tasks per scope, each held until scope end). Solution: split the scope, or raise the ring's task window ({})",
                self.top,
                w - 1,
                schema::hint(Knob::RingTaskWindow)
            );
            self.mark_fatal(codes::SCOPE_DEADLOCK, &msg);
            return false;
        }
        if self.scope_size >= self.t.scope_tasks.len() {
            let msg = format!(
                "scope_tasks overflow: {} tasks registered in open scopes (capacity Σ task windows = {}). Solution: raise the rings' task windows ({})",
                self.scope_size,
                self.t.scope_tasks.len(),
                schema::hint(Knob::RingTaskWindow)
            );
            self.mark_fatal(codes::SCOPE_TASKS_OVERFLOW, &msg);
            return false;
        }
        true
    }

    /// The scope release of every task registered since `begin` (in order):
    /// `fanout_refcount += SCOPE_BIT` and the consumed check per task
    /// (without the slot lock, [`RingShared::release_scope_ref`]), with the
    /// in-order reclamation done as one batch under the ring's advance lock
    /// instead of one `advance` per task: a task this loop consumes at the
    /// ring's head is passed at once, and the batch's end runs the full
    /// `advance` if the head it leaves is CONSUMED. A ring with a task
    /// consumed here but not passed (behind a live head, the advance lock
    /// was busy, or another ring: not expected, a scope level allocates in
    /// one ring) gets one `advance` at the end.
    pub(super) fn release_scope(&mut self, begin: usize) {
        let sh = self.sh;
        let tasks = &self.t.scope_tasks.as_slice()[begin..self.scope_size];
        let Some(&first) = tasks.first() else {
            return;
        };
        let ring = sh.ring_of(sh.slot_of(SlotRef::from_bits(first)));
        let mut batch = ring.begin_batch();
        // Rings with a task consumed here but not passed by the batch.
        let mut others = 0u32;
        for &bits in tasks {
            let s = sh.slot_of(SlotRef::from_bits(bits));
            if RingShared::release_scope_ref(s) {
                let passed = match batch.as_mut() {
                    Some(b) => ring.batch_pass(b, s),
                    None => false,
                };
                if !passed {
                    others |= 1 << (s.ring_id.load(Relaxed) as usize % MAX_RINGS);
                }
            }
        }
        if let Some(b) = batch {
            ring.end_batch(b);
        }
        if others != 0 {
            for (r, other) in sh.rings.iter().enumerate().take(MAX_RINGS) {
                if others & (1 << r) != 0 {
                    other.advance();
                }
            }
        }
    }

    /// `scope_end` as the orchestration calls it: closing a scope that the
    /// orchestration did not open (the runtime's root scope, or after
    /// `rt_orchestration_done`) is a fatal INVALID_ARGS.
    pub(crate) fn user_scope_end(&mut self) {
        if self.shared_fatal() {
            return;
        }
        if self.top <= 0 {
            let why = if self.done { "after rt_orchestration_done" } else { "without a matching scope_begin" };
            self.mark_fatal(
                codes::INVALID_ARGS,
                &format!(
                    "FATAL: Invalid Arg Detected! scope_end {why} (scope_end calls must balance scope_begin calls)"
                ),
            );
            return;
        }
        self.scope_end();
    }
}
