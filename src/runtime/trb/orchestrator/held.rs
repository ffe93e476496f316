//! Claims on producers that an open scope still holds: counted here and
//! added to the producers' `fanout_count` in one pass, when a scope ends or
//! before the orchestrator waits, instead of one locked update per claim.
//! A held producer that is still among the staged (unpublished) tasks is
//! counted at once, without the lock (`Claimer::claim`): no scheduler has
//! usually touched its slot yet, so the write stays in this thread's cache
//! (an immediate count of a held producer is as correct as a deferred one).
//!
//! # Why the lock can be skipped
//! A claim normally raises the producer's `fanout_count` under the slot
//! lock, because a scheduler thread may be finishing the producer at the
//! same moment: the lock orders the claim against the producer's move to
//! CONSUMED, after which it must not be claimed. A producer whose scope is
//! still open cannot become CONSUMED: its scope reference (`SCOPE_BIT`, in
//! `fanout_count` since `prepare`, added to `fanout_refcount` only by the
//! scope's release) keeps the releases below the count, and only this
//! thread ends scopes. For such a producer the lock protects nothing, and
//! the count itself may wait. Each locked claim also wrote the producer's
//! slot line while the schedulers that wire its consumers and complete it
//! write the same line; a 1 -> 64 -> 1 round claims 129 times. Measured on
//! the README's VM, alternating invocations (`--reps 7`): counting the held
//! claims at once without the lock made the rounds slower (347 -> 618 ns
//! per task, 1 of 10 faster), deferring all of them made a chain slower
//! (166 -> 172 ns per hop: one claim per producer, nothing to merge), the
//! split by staging gives both (chain 166, rounds 252).
//!
//! # Which producers are held
//! A task of ring `r < 3` is allocated only at scope depth `r`, and at most
//! one scope of that depth is open at a time: every task of ring `r` with a
//! local id at or above [`HeldClaims::from`]`[r]` (the ring's next id when
//! that scope opened) is held until the scope ends. Ring 3 serves every
//! depth from 3 on: a deeper scope that ended has released its ring-3 tasks
//! while the depth-3 scope is still open, so claims on ring 3 take the
//! locked path.
//!
//! # Readers of `fanout_count` while counts are pending
//! * The consumed checks (a consumer's release in `RunShared::release_producers`,
//!   `RingShared::check_consumed`, the scope release
//!   `RingShared::release_scope_ref`) compare the releases with the count:
//!   without `SCOPE_BIT` in the releases they differ whatever the count.
//!   [`HeldClaims::apply`] runs at the start of `scope_end`, so its stores
//!   are sequenced before the scope release's read-modify-write of
//!   `fanout_refcount`: a thread that observes the scope release (acquire)
//!   sees the full count.
//! * `RunShared::consumers_released` (`set_tensor_data`) and
//!   `RingShared::head_scope_gated` (the deadlock checks) would see too few
//!   claims. The orchestrator applies its counts whenever it stops to wait
//!   (`release_cpu`, and before it raises `producer_blocked`), and it makes
//!   no claim while it waits, so what they read is complete.
//! * Diagnostics taken while the orchestration runs user code (a stall
//!   report) may count fewer claims than were made.

use crate::runtime::trb::layout::{SlotState, MAX_RINGS};
use std::sync::atomic::Ordering::Relaxed;

/// Rings whose tasks are held by exactly one open scope (see the module
/// documentation).
pub(super) const HELD_RINGS: usize = MAX_RINGS - 1;

/// No scope of this depth is open.
const NONE_OPEN: u64 = u64::MAX;

/// The held producers of one run and the claims not yet counted in them.
pub(super) struct HeldClaims {
    /// Per ring `< HELD_RINGS`: the first local id of the open scope of
    /// that depth ([`NONE_OPEN`] when none is open).
    from: [u64; HELD_RINGS],
    /// Claims not yet added to `fanout_count`: producer slot and count.
    /// Repeated claims of one producer in a row (64 readers of one tensor)
    /// share an entry.
    pending: Vec<(*const SlotState, u32)>,
}

impl HeldClaims {
    pub(super) fn new() -> HeldClaims {
        HeldClaims { from: [NONE_OPEN; HELD_RINGS], pending: Vec::new() }
    }

    /// Whether task `local` of ring `ring` is held by an open scope.
    #[inline(always)]
    pub(super) fn holds(&self, ring: usize, local: u64) -> bool {
        ring < HELD_RINGS && local >= self.from[ring]
    }

    /// Counts one claim of the held producer `s`.
    #[inline(always)]
    pub(super) fn count(&mut self, s: &SlotState) {
        match self.pending.last_mut() {
            Some((p, n)) if std::ptr::eq(*p, s) => *n += 1,
            _ => self.pending.push((s, 1)),
        }
    }

    /// A scope of `depth` opened with its ring's next local id `next`.
    pub(super) fn scope_opened(&mut self, depth: i32, next: u64) {
        if let Some(f) = usize::try_from(depth).ok().and_then(|d| self.from.get_mut(d)) {
            *f = next;
        }
    }

    /// The scope of `depth` ended (after [`apply`](Self::apply)).
    pub(super) fn scope_closed(&mut self, depth: i32) {
        debug_assert!(self.pending.is_empty(), "a scope ended with claims not applied");
        self.scope_opened(depth, NONE_OPEN);
    }

    /// No scope is open any more.
    pub(super) fn all_closed(&mut self) {
        self.from = [NONE_OPEN; HELD_RINGS];
    }

    /// Adds every pending claim to its producer's `fanout_count`.
    #[inline]
    pub(super) fn apply(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        for (p, n) in self.pending.drain(..) {
            // SAFETY: `p` is the slot of a producer that an open scope held
            // when it was claimed, and `apply` runs before any scope ends,
            // so the producer is not consumed and its slot is not reused;
            // slots live in the run's arena, which outlives the orchestrator.
            add_claims(unsafe { &*p }, n);
        }
    }
}

/// Raises the `fanout_count` of producer `s` by `n` claims (the locked
/// claim in `Claimer::claim`, its immediate held count, and
/// [`HeldClaims::apply`]). Nobody else writes it then: the orchestrator
/// (this thread) sets it in `prepare` and raises it here; the only other writer, `reset_for_reuse`, runs on slots
/// already CONSUMED, and a slot becomes CONSUMED on another thread only
/// under its lock (`consume_locked`; the unlocked scope release runs on
/// this thread). So callers either hold the lock after finding `s` not
/// consumed, or know an open scope holds `s` (it cannot be consumed, see
/// the module documentation), and a load and a store give what a `fetch_add` gives,
/// without the locked instruction.
#[inline(always)]
pub(super) fn add_claims(s: &SlotState, n: u32) {
    s.fanout_count.store(s.fanout_count.load(Relaxed) + n, Relaxed);
}
