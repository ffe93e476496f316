//! Draining the wiring queue: reserving dependency entries and linking
//! each submitted task to its producers.

use super::sched::Sched;
use crate::config::{schema, Knob};
use crate::runtime::prefetch::{prefetch_read, prefetch_write};
use crate::runtime::trb::layout::{codes, task_id, SlotState, MAX_RINGS};
use crate::runtime::trb::queue::WiringConsumer;
use crate::runtime::trb::ring::SlotRef;
use crate::runtime::trb::shared::{RunShared, UnwiredScan, WiringState};
use std::sync::atomic::Ordering::*;

/// Whether ring `r`'s oldest live task (`la`) is a fanin of a task still in
/// the wiring queue. Dep-pool entries of a ring are freed only as its oldest
/// task retires, which needs every consumer of that task to complete, and a
/// consumer cannot run before it is wired: while the queue head waits for
/// entries of this ring, such a consumer makes the wait permanent. Looks
/// only at the tasks queued since the last check for the same `la` (see
/// [`UnwiredScan`]): the check runs each time the pool is short, and a full
/// walk each time (every queued task's fanins) took most of a scheduler's
/// time while a fan of 65 fanins per round waited for entries. Call only
/// while holding the wiring lock.
pub(super) fn head_waits_on_unwired(
    sh: &RunShared,
    rx: &WiringConsumer,
    r: usize,
    la: u64,
    scan: &mut UnwiredScan,
) -> bool {
    let ring = &sh.rings[r];
    if la >= ring.current_task_index.load(Acquire) {
        return false;
    }
    let head = ring.slot(la) as *const SlotState;
    let from = if scan.la == la { scan.upto } else { 0 };
    let mut found = false;
    let upto = rx.for_each_pending_from(&sh.wiring, from, |v| {
        let payload = sh.slot_of(SlotRef::from_bits(v)).payload.load(Relaxed);
        // SAFETY: the payload of a published task; its fanin fields are
        // immutable until it is consumed, which cannot happen before it is
        // wired.
        unsafe { sh.for_each_fanin(payload, |p| found |= std::ptr::eq(p, head)) };
        !found
    });
    *scan = UnwiredScan { la, upto };
    // Still the head (not retired and reused meanwhile): the wait is permanent.
    found && ring.last_task_alive.load(Acquire) == la
}

impl Sched<'_> {
    pub(super) fn drain_wiring(&mut self, ws: &mut WiringState) -> bool {
        let sh = self.sh;
        let mut wired = 0;
        // Stop when this thread's local queue is full: what it wires next
        // would go to the shared queues (a push and a pop more per task);
        // the rest stays queued for the next round or another thread.
        while !self.local.is_full() {
            let Some(v) = ws.wiring.peek(&sh.wiring) else { break };
            // Lines the orchestrator's core wrote: the slot of the task
            // after next (written below), and the fanin line of the next
            // task's payload (its slot, prefetched one task ago, names it).
            if let Some(v2) = ws.wiring.peek_ahead(&sh.wiring, 2) {
                prefetch_write([sh.slot_of(SlotRef::from_bits(v2)) as *const SlotState as *const u8]);
            }
            if let Some(v1) = ws.wiring.peek_ahead(&sh.wiring, 1) {
                prefetch_read(sh.slot_of(SlotRef::from_bits(v1)).payload.load(Relaxed));
            }
            let s = sh.slot_of(SlotRef::from_bits(v));
            let r = s.ring_id.load(Relaxed) as usize % MAX_RINGS;
            let ring = &sh.rings[r];
            let payload = s.payload.load(Relaxed);
            // The orchestrator's copy of the payload's fanin count (see
            // `Orchestrator::write_fanins`), published with the task.
            let nf = (s.fanin_count.load(Relaxed) - 1).max(0) as u64;
            // SAFETY: payload of a published task.
            debug_assert_eq!(nf, unsafe { (*payload).dep_entries() }, "slot and payload fanin counts");
            let pool = &mut ws.dep_pools[r];
            let mut la = pool.reclaim(ring, false);
            if pool.available() < nf {
                la = pool.reclaim(ring, true);
            }
            // Every wired task holds `nf` entries until it retires, whether or
            // not its producers already completed (those entries stay
            // reserved): the pool's accounting, and so an exhaustion report,
            // does not depend on timing.
            let need = nf;
            if pool.available() < need {
                let cap = pool.capacity();
                // `la` is the watermark the pool was just reclaimed at; both
                // causes below also require it to be still current, so a
                // report means no entry of this ring can ever be freed.
                let gated = ring.head_scope_gated(la);
                let cause = if need > cap {
                    Some("the task alone needs more entries than the pool holds")
                } else if sh.producer_blocked.load(Acquire) && gated {
                    Some("the orchestrator is blocked on the full wiring queue and the ring's oldest task waits for its scope to end")
                } else if head_waits_on_unwired(sh, &ws.wiring, r, la, &mut ws.unwired_scans[r]) {
                    Some("the ring's oldest live task has a consumer that is not wired yet, so no entry of this ring can be freed")
                } else {
                    None
                };
                if let Some(cause) = cause {
                    if !ws.reported[r] {
                        ws.reported[r] = true;
                        let used = cap - pool.available();
                        let msg = format!(
                            "FATAL: Wiring-Queue Deadlock - Dep Pool Exhausted! ring={r}: task needs {need} dependency entries, dep pool used {used} of capacity {cap} ({} available); cause: {cause}. Solution: raise the ring's dep pool ({}) or split the scope",
                            pool.available(),
                            schema::hint(Knob::RingDepPool)
                        );
                        crate::diagnostics::log::error("wiring", &msg);
                        sh.latch_orch(codes::DEP_POOL_OVERFLOW, &msg);
                    }
                }
                break;
            }
            let mut early = 0;
            if nf > 0 {
                // SAFETY: payload of a published task (fanin fields immutable).
                unsafe {
                    sh.for_each_fanin(payload, |p| {
                        p.lock();
                        if p.state() >= crate::runtime::trb::layout::task_state::COMPLETED {
                            early += 1;
                        } else {
                            let h = pool.prepend(p.fanout_head.load(Relaxed), s).expect("dep pool capacity checked");
                            p.fanout_head.store(h, Relaxed);
                        }
                        p.unlock();
                    })
                };
            }
            pool.reserve(early as u64);
            // SAFETY: the descriptor pointer was set at submit.
            let local = task_id::local(unsafe { (*s.task.load(Relaxed)).task_id.load(Relaxed) });
            debug_assert!(
                local.wrapping_sub(ring.last_task_alive.load(Acquire)) & 0xFFFF_FFFF < ring.window.to_u64(),
                "task {local} retired before it was wired"
            );
            // The slot's ABI mark mirrors the pool's record (for observers).
            s.dep_pool_mark.store(pool.mark_wired(local as usize) as i32, Relaxed);
            ws.wiring.advance(&sh.wiring);
            wired += 1;
            // A task without fanins is in no producer's list, so no other
            // thread adds to its count: a plain store (a locked add waits
            // for this thread's pending stores, 15% of the scheduler loop's
            // samples in the 1M independent tasks bench).
            let rc = if nf == 0 {
                s.fanin_refcount.store(1, Relaxed);
                1
            } else {
                s.fanin_refcount.fetch_add(early + 1, AcqRel) + early + 1
            };
            if rc > nf as i32 {
                self.make_ready(s);
            }
        }
        // Once per batch (see `WiringConsumer`).
        ws.wiring.publish(&sh.wiring);
        if wired > 0 {
            // Progress for the watchdog, which samples the count (no clock
            // read on the wiring path).
            sh.wired.fetch_add(wired, Relaxed);
        }
        wired > 0
    }
}
