//! Submitting a task: validation, slot and heap allocation, fanin claiming,
//! payload writing and publication to the wiring queue.

use super::held::{add_claims, HeldClaims};
use super::tensors::{copy_tensor_into, create_bytes, create_violation, fill, materialize, view_fits, view_violation};
use super::{Orchestrator, FAILED};
use crate::abi::tensor::{Tensor, INVALID_TASK_ID};
use crate::runtime::trb::api::{OutputSlots, TaskArgsView, TensorArg, INVALID_TASK};
use crate::runtime::trb::layout::Region;
use crate::runtime::trb::layout::{
    align_up, codes, task_id, task_state, SlotState, TaskPayload, FANIN_INLINE_CAP, INVALID_KERNEL_ID, MAX_RINGS,
    MAX_SCALAR_ARGS, MAX_TENSOR_ARGS, PACKED_OUTPUT_ALIGN, SCOPE_BIT,
};
use crate::runtime::trb::ring::{SlotRef, TaskAllocator};
use crate::runtime::trb::shared::shape_of;
use crate::runtime::trb::shared::RunShared;
use crate::runtime::trb::tensormap::Overlap;
use crate::runtime::wait::{Backoff, Ladder};
use std::sync::atomic::Ordering::*;

/// Tasks the orchestrator stages before it publishes them to the wiring
/// queue in one store (and one wakeup). The queue's published counter is
/// polled by idle schedulers, so each store of it moves its cache line
/// between cores: per batch instead of per task. Staged tasks are also
/// published at every scope end, orchestration end and orchestrator wait,
/// and by a scheduler that runs out of work before it sleeps
/// (`WiringQueue::help_flush`), so a task never waits for the batch to fill.
pub(super) const WIRING_BATCH: u64 = 16;

/// How long the orchestrator waits on a full wiring queue before the
/// start cap goes (see `publish_full`). With 100 µs the cap still went in
/// most 1M-task runs of the README's 2-vCPU machine (a preempted scheduler
/// stalls the queue that long); with 1 ms it holds, and the 1M independent
/// tasks bench (3 threads) went from 252 to 226 ns/task (medians of 12
/// interleaved pairs, faster in 10 of 12) with 4-5x fewer context switches
/// (`perf stat`); chain and fan were even. The cost: a run whose started
/// threads are all held by long tasks starts the others 1 ms later, once.
pub(super) const WIRING_CAP_GRACE: std::time::Duration = std::time::Duration::from_micros(1000);

/// `dst.copy_from_slice(src)` with the usual short lengths (0 to 4) as
/// inline moves instead of a `memcpy` call.
#[inline(always)]
pub(super) fn copy_small<T: Copy>(dst: &mut [T], src: &[T]) {
    match src.len() {
        0 => {}
        1 => dst[0] = src[0],
        2 => dst[..2].copy_from_slice(&src[..2]),
        3 => dst[..3].copy_from_slice(&src[..3]),
        4 => dst[..4].copy_from_slice(&src[..4]),
        _ => dst.copy_from_slice(src),
    }
}

/// A slot just allocated by [`Orchestrator::prepare`] and not yet published.
pub(super) struct Fresh<'s> {
    pub(super) ring: usize,
    pub(super) local: u64,
    /// Start of the task's packed output block.
    pub(super) base: u64,
    pub(super) raw: u64,
    pub(super) slot: &'s SlotState,
    /// The task's payload (written only by the orchestrator until published).
    pub(super) payload: *mut TaskPayload,
}

/// The parts of the orchestrator a claim touches (disjoint from the
/// TensorMap, so producers are claimed while a lookup walks it).
pub(super) struct Claimer<'a, 's> {
    sh: &'s RunShared,
    alloc: &'a [TaskAllocator],
    seen: &'a mut [Region<u32>],
    epoch: u32,
    fanins: &'a mut Vec<*const SlotState>,
    held: &'a mut HeldClaims,
    /// Tasks staged and not yet published to the wiring queue.
    staged: u64,
}

impl Claimer<'_, '_> {
    /// Claims producer `raw` for the task being submitted (dedup per submit).
    #[inline(always)]
    pub(super) fn claim(&mut self, raw: u64) {
        let r = task_id::ring(raw);
        if r >= MAX_RINGS {
            return;
        }
        let local = task_id::local(raw);
        let ring = &self.sh.rings[r];
        // The allocator's watermark, not a fresh load of the ring's (a line
        // the retiring scheduler writes): a producer that retired since is
        // found `gone` under its lock below.
        if local < self.alloc[r].last_alive() || local >= self.alloc[r].next_local {
            return;
        }
        let idx = ring.slot_index(local);
        if self.seen[r].as_slice()[idx] == self.epoch {
            return;
        }
        let s = ring.slot(local);
        if self.held.holds(r, local) {
            // An open scope holds it: no lock (see `held.rs`). A producer
            // among the last `staged` submissions of its ring is counted at
            // once: usually no scheduler has seen its slot yet (unless an
            // idle one published the staged tasks, or other rings' tasks
            // came between: then only the line moves, the count is right
            // either way), and a chain claims the task just before. Others
            // are counted later, in one pass: a scheduler may be wiring or
            // completing them.
            if self.alloc[r].next_local - local <= self.staged {
                add_claims(s, 1);
            } else {
                self.held.count(s);
            }
            self.seen[r].as_mut_slice()[idx] = self.epoch;
            self.fanins.push(s as *const SlotState);
            return;
        }
        s.lock();
        let gone = s.task.load(Relaxed).is_null()
            || ring.descriptor(local).task_id.load(Relaxed) != raw
            || s.state() == task_state::CONSUMED;
        if !gone {
            add_claims(s, 1);
        }
        s.unlock();
        if !gone {
            self.seen[r].as_mut_slice()[idx] = self.epoch;
            self.fanins.push(s as *const SlotState);
        }
    }
}

impl<'s> Orchestrator<'s> {
    /// Claims producer `raw` for the task being submitted (dedup per submit).
    #[inline(always)]
    pub(super) fn claim(&mut self, raw: u64) {
        let mut c = Claimer {
            sh: self.sh,
            alloc: &self.alloc,
            seen: &mut self.t.seen,
            epoch: self.epoch,
            fanins: &mut self.fanins,
            held: &mut self.held,
            staged: self.t.wiring.staged(),
        };
        c.claim(raw);
    }

    #[inline(always)]
    pub(super) fn next_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            for s in self.t.seen.iter_mut() {
                s.as_mut_slice().fill(0);
            }
            self.epoch = 1;
        }
    }

    /// Allocates a slot + heap, resets the slot and registers it in the scope.
    #[inline(always)]
    pub(super) fn prepare(&mut self, out_size: u64, kernels: [i32; 3], mask: u8, block_num: i16) -> Option<Fresh<'s>> {
        let ring = self.current_ring();
        if !self.scope_can_accept(ring) {
            return None;
        }
        let sh = self.sh;
        let r = &sh.rings[ring];
        let a = match self.alloc[ring].try_alloc(r, out_size) {
            Ok(a) => a,
            Err(_) => {
                // The wait needs tasks to retire: hand over the staged ones.
                self.release_cpu();
                match self.alloc[ring].alloc_blocking(r, out_size, &|| sh.any_fatal()) {
                    Ok(a) => a,
                    Err(e) => {
                        self.store_fatal(e.code, &e.message);
                        return None;
                    }
                }
            }
        };
        // Before the new slot is written (see `FaninPool::reclaim_to`).
        self.t.fanin_pools[ring].reclaim_to(r, self.alloc[ring].last_alive());
        debug_assert!(
            a.local < r.window.to_u64() || self.t.fanin_pools[ring].reclaimed_below() > a.local - r.window.to_u64(),
            "the slot's previous task {} was not passed by the spill reclaim",
            a.local.wrapping_sub(r.window.to_u64())
        );
        let raw = task_id::make(ring, a.local);
        let s = r.slot(a.local);
        let d = r.descriptor(a.local);
        let reclaimed = self.t.fanin_pools[ring].reclaimed_below();
        let pl = r.payload_for(a.local, reclaimed);
        r.prefetch_ahead(a.local, reclaimed);
        d.task_id.store(raw, Relaxed);
        for (k, &id) in kernels.iter().enumerate() {
            d.kernel_id[k].store(id, Relaxed);
        }
        d.packed_buffer_base.store(a.base, Relaxed);
        d.packed_buffer_end.store(a.end, Relaxed);
        s.fanout_lock.store(0, Relaxed);
        s.fanout_count.store(SCOPE_BIT, Relaxed);
        s.fanout_head.store(std::ptr::null_mut(), Relaxed);
        s.fanout_refcount.store(0, Relaxed);
        s.fanin_refcount.store(0, Relaxed);
        s.fanin_count.store(0, Relaxed);
        s.completed_subtasks.store(0, Relaxed);
        s.next_block_idx.store(0, Relaxed);
        s.dep_pool_mark.store(0, Relaxed);
        s.ring_id.store(ring as u8, Relaxed);
        s.active_mask.store(mask, Relaxed);
        s.logical_block_num.store(block_num, Relaxed);
        let lanes = (mask & 7).count_ones() as i16;
        s.total_required_subtasks.store(block_num.saturating_mul(lanes), Relaxed);
        s.payload.store(pl, Relaxed);
        s.task.store(d as *const _ as *mut _, Relaxed);
        s.task_state.store(task_state::PENDING as u32, Release);
        self.t.scope_tasks.as_mut_slice()[self.scope_size] = SlotRef::of(s).bits();
        self.scope_size += 1;
        // This thread is the only writer of `submitted` (readers load it
        // with Acquire): a Release store of the next value publishes the
        // same as a `fetch_add`, without the locked instruction.
        sh.submitted.store(sh.submitted.load(Relaxed) + 1, Release);
        Some(Fresh { ring, local: a.local, base: a.base, raw, slot: s, payload: pl })
    }

    /// Checks the counts, `block_num` and every tensor argument; latches
    /// INVALID_ARGS naming the first problem. False when refused.
    #[inline(always)]
    pub(super) fn validate(&mut self, func: &str, args: &TaskArgsView<'_>) -> bool {
        let fast_ok = args.tensors.len() <= MAX_TENSOR_ARGS
            && args.scalars.len() <= MAX_SCALAR_ARGS
            && args.block_num >= 1
            && args.tensors.iter().all(|a| match a {
                TensorArg::Output(c) => create_violation(c).is_none(),
                TensorArg::Input(t) | TensorArg::Inout(t) | TensorArg::OutputExisting(t) | TensorArg::NoDep(t) => {
                    view_fits(t)
                }
            });
        fast_ok || self.validate_slow(func, args)
    }

    /// The full check with its messages (`view_fits` accepts only views
    /// this accepts too, so it runs only when the fast check said no).
    #[cold]
    #[inline(never)]
    pub(super) fn validate_slow(&mut self, func: &str, args: &TaskArgsView<'_>) -> bool {
        let err = if args.tensors.len() > MAX_TENSOR_ARGS {
            Some(format!("Too many tensor args (max {MAX_TENSOR_ARGS})"))
        } else if args.scalars.len() > MAX_SCALAR_ARGS {
            Some(format!("Too many scalar args (max {MAX_SCALAR_ARGS})"))
        } else if args.block_num < 1 {
            Some(format!("block_num must be >= 1 (got {})", args.block_num))
        } else {
            args.tensors.iter().enumerate().find_map(|(i, a)| {
                let problem = match a {
                    TensorArg::Output(c) => create_violation(c),
                    TensorArg::Input(t) | TensorArg::Inout(t) | TensorArg::OutputExisting(t) | TensorArg::NoDep(t) => {
                        view_violation(t)
                    }
                };
                problem.map(|p| format!("{func}: tensor arg {i}: {p}"))
            })
        };
        if let Some(e) = err {
            self.mark_fatal(codes::INVALID_ARGS, &format!("FATAL: Invalid Arg Detected! {e}"));
            return false;
        }
        true
    }

    /// Latches INVALID_ARGS for an API call made after
    /// `rt_orchestration_done`; true when the call must be refused.
    #[inline(always)]
    pub(super) fn refuse_after_done(&mut self, func: &str) -> bool {
        if !self.done {
            return false;
        }
        self.refuse_done_call(func);
        true
    }

    #[cold]
    #[inline(never)]
    fn refuse_done_call(&mut self, func: &str) {
        self.mark_fatal(
            codes::INVALID_ARGS,
            &format!("FATAL: Invalid Arg Detected! {func} after rt_orchestration_done (no call may submit or open a scope once orchestration is done)"),
        );
    }

    /// Bytes of the task's packed output block (each OUTPUT aligned to
    /// `PACKED_OUTPUT_ALIGN`, in argument order); `None` (latched) past INT32_MAX.
    #[inline(always)]
    pub(super) fn output_total(&mut self, args: &TaskArgsView<'_>) -> Option<u64> {
        let mut total = 0u64;
        for a in args.tensors {
            if let TensorArg::Output(c) = a {
                total += align_up(create_bytes(c), PACKED_OUTPUT_ALIGN);
            }
        }
        if total > i32::MAX as u64 {
            self.output_too_large(total);
            return None;
        }
        Some(total)
    }

    #[cold]
    fn output_too_large(&mut self, total: u64) {
        self.mark_fatal(
            codes::INVALID_ARGS,
            &format!("FATAL: Invalid Arg Detected! packed output size {total} exceeds INT32_MAX"),
        );
    }

    /// Writes the fanin part of a task's payload from `self.fanins`
    /// (spilling past the inline capacity), and the count into its slot's
    /// `fanin_count`. False once fatal.
    #[inline(always)]
    pub(super) fn write_fanins(&mut self, ring: usize, slot: &SlotState, payload: *mut TaskPayload) -> bool {
        let n = self.fanins.len();
        let mut spill_start = 0i32;
        let mut spill_pool = std::ptr::null_mut();
        if n > FANIN_INLINE_CAP {
            let need = (n - FANIN_INLINE_CAP) as u64;
            if !self.ensure_spill(ring, need) {
                return false;
            }
            let pool = &mut self.t.fanin_pools[ring];
            spill_pool = pool.base();
            for (k, &fi) in self.fanins[FANIN_INLINE_CAP..].iter().enumerate() {
                let lin = pool.push(fi).expect("space ensured");
                if k == 0 {
                    spill_start = lin as i32;
                }
            }
        }
        // SAFETY: `payload` is this task's payload slot inside the ring
        // region; the slot was allocated and not yet published, so no other
        // thread reads it until the task is published through the wiring queue.
        let pl: &mut TaskPayload = unsafe { &mut *payload };
        pl.fanin_actual_count = n as i32;
        // The wiring's copy of the count, on the slot line it reads anyway:
        // a task without fanins is wired without reading its payload (whose
        // first line, just written by this core, was 22% of the scheduler
        // loop's samples in the 1M independent tasks bench).
        slot.fanin_count.store(n as i32 + 1, Relaxed);
        pl.fanin_spill_start = spill_start;
        pl.fanin_spill_pool = spill_pool;
        let inline = n.min(FANIN_INLINE_CAP);
        copy_small(&mut pl.fanin_inline[..inline], &self.fanins[..inline]);
        true
    }

    /// Writes the payload (fanins, then the used tensor and scalar entries
    /// only) and the output pointers into `outs[..count]`; the count, or
    /// `None` once fatal. Outputs are materialized at `base` plus their
    /// offset in the packed block (the layout of [`output_total`](Self::output_total)).
    #[inline(always)]
    pub(super) fn write_payload(
        &mut self,
        f: &Fresh<'_>,
        args: &TaskArgsView<'_>,
        outs: &mut OutputSlots,
    ) -> Option<u32> {
        if !self.write_fanins(f.ring, f.slot, f.payload) {
            return None;
        }
        let (raw, base) = (f.raw, f.base);
        // SAFETY: as in write_fanins: the freshly allocated, unpublished slot.
        let pl: &mut TaskPayload = unsafe { &mut *f.payload };
        pl.tensor_count = args.tensors.len() as i32;
        pl.scalar_count = args.scalars.len() as i32;
        let mut oi = 0usize;
        let mut off = 0u64;
        for (dst, a) in pl.tensors.iter_mut().zip(args.tensors) {
            match a {
                TensorArg::Output(c) => {
                    *dst = materialize(c, base + off, raw);
                    off += align_up(create_bytes(c), PACKED_OUTPUT_ALIGN);
                    if let Some(v) = c.initial_value {
                        fill(dst, v);
                    }
                    outs[oi] = dst as *const Tensor;
                    oi += 1;
                }
                TensorArg::Input(t) | TensorArg::Inout(t) | TensorArg::OutputExisting(t) | TensorArg::NoDep(t) => {
                    copy_tensor_into(dst, t)
                }
            }
        }
        copy_small(&mut pl.scalars[..args.scalars.len()], args.scalars);
        Some(oi as u32)
    }

    /// Hands `slot` to the wiring queue. It is staged, and published with
    /// the tasks staged before it once [`WIRING_BATCH`] are staged (the
    /// run's first task at once), or at the next
    /// [`flush_wiring`](Self::flush_wiring).
    #[inline(always)]
    pub(super) fn publish(&mut self, slot: &SlotState) {
        let s = SlotRef::of(slot).bits();
        if self.t.wiring.stage(&self.sh.wiring, s) {
            if self.t.wiring.staged() >= self.flush_at {
                self.flush_wiring();
            }
            return;
        }
        self.publish_full(s);
    }

    /// Publishes the staged tasks and wakes a scheduler for them. Called
    /// at every batch, scope end and orchestration end, and before every
    /// wait of the orchestrator (what it waits for may need them).
    ///
    /// The run's first publication starts its first scheduler thread (they
    /// all start dormant, see `Parker`; the wakeup finds nobody else to
    /// wake), which from then on publishes what is staged whenever it runs
    /// out of work (`WiringQueue::help_flush`): so the first task is
    /// published alone, and the later ones in batches.
    #[inline(always)]
    pub(super) fn flush_wiring(&mut self) {
        if self.t.wiring.flush(&self.sh.wiring) {
            self.flush_at = WIRING_BATCH;
            self.sh.parker.wake_one();
        }
    }

    /// [`publish`](Self::publish) on a full queue: waits for room. Room
    /// comes only from the scheduler threads, so the staged tasks are
    /// published at once; the start cap (see `Parker`) is kept for
    /// [`WIRING_CAP_GRACE`] and lifted after that (`release_cpu`).
    ///
    /// Why the grace: the queue fills whenever the started schedulers
    /// wire slower than the orchestrator submits, which with short tasks
    /// is most of a run, and each wait then lasts a few microseconds. A
    /// thread started for it can only run on the orchestrator's CPU, so
    /// lifting the cap at the first full queue made the whole run slower
    /// (measured at `WIRING_CAP_GRACE`). A wait that lasts has a started thread
    /// held by a long task (one that waits for the orchestration to go on
    /// would otherwise stall the run), and gets the dormant ones started.
    #[cold]
    #[inline(never)]
    fn publish_full(&mut self, s: u64) {
        self.held.apply();
        self.flush_wiring();
        let mut capped = self.sh.parker.capped();
        if !capped {
            self.release_cpu();
        }
        self.sh.producer_blocked.store(true, Release);
        let mut backoff = Backoff::new(Ladder::YIELD);
        loop {
            self.sh.parker.wake_one();
            if self.t.wiring.push(&self.sh.wiring, s) {
                break;
            }
            if self.wait_checks() {
                self.fatal = true;
                break;
            }
            if capped && backoff.stalled_for() >= WIRING_CAP_GRACE {
                capped = false;
                self.release_cpu();
            }
            backoff.snooze();
        }
        self.sh.producer_blocked.store(false, Release);
    }

    #[inline(always)]
    pub(super) fn submit_common(
        &mut self,
        kernels: [i32; 3],
        mask: u8,
        args: &TaskArgsView<'_>,
        outs: &mut OutputSlots,
    ) -> (u64, u32) {
        let Some(total) = self.output_total(args) else {
            return FAILED;
        };
        let Some(f) = self.prepare(total, kernels, mask, args.block_num) else {
            return FAILED;
        };
        let (ring, local, raw) = (f.ring, f.local, f.raw);
        let explicit = self.explicit_mode();
        if !explicit {
            // The watermark that admitted this allocation (see
            // `TaskAllocator::last_alive`): its slot's previous task is
            // below it, which the map's cleanup before a slot reuse needs.
            let la = self.alloc[ring].last_alive();
            self.t.tensormap.sync(ring, local, la);
        }
        self.next_epoch();
        self.fanins.clear();
        // Explicit dependencies.
        for &dep in args.explicit_deps {
            let r = task_id::ring(dep);
            if dep == INVALID_TASK || r >= MAX_RINGS || task_id::local(dep) >= self.alloc[r].next_local {
                self.bad_dependency(dep);
                return FAILED;
            }
            self.claim(dep);
        }
        if explicit {
            // Explicit edges only; fanins are written at publication.
            let claimed = std::mem::take(&mut self.fanins);
            let Some(n) = self.write_payload(&f, args, outs) else {
                return FAILED;
            };
            self.fanins = claimed;
            self.defer(ring, local, raw, args.explicit_deps);
            return (raw, n);
        }
        let manual = self.in_manual_scope();
        let mut registrable = 0usize;
        if !manual {
            for a in args.tensors {
                let t = match a {
                    TensorArg::Output(_) => continue,
                    TensorArg::Input(t) | TensorArg::Inout(t) | TensorArg::OutputExisting(t) | TensorArg::NoDep(t) => t,
                };
                if t.owner_task_id != INVALID_TASK_ID {
                    self.claim(t.owner_task_id);
                }
            }
            for a in args.tensors {
                let (t, inout) = match a {
                    TensorArg::Input(t) => (t, false),
                    TensorArg::Inout(t) => (t, true),
                    TensorArg::OutputExisting(t) => {
                        if t.manual_dep == 0 {
                            registrable += 1;
                        }
                        continue;
                    }
                    _ => continue,
                };
                if t.manual_dep != 0 {
                    continue;
                }
                if inout {
                    registrable += 1;
                }
                let mut c = Claimer {
                    sh: self.sh,
                    alloc: &self.alloc,
                    seen: &mut self.t.seen,
                    epoch: self.epoch,
                    fanins: &mut self.fanins,
                    held: &mut self.held,
                    staged: self.t.wiring.staged(),
                };
                self.t.tensormap.lookup(t, |p, ov| {
                    c.claim(p);
                    inout && ov == Overlap::Covered
                });
            }
        }
        if registrable > 0 {
            if !self.ensure_tensormap(registrable) {
                return FAILED;
            }
            for a in args.tensors {
                if let TensorArg::Inout(t) | TensorArg::OutputExisting(t) = a {
                    if t.manual_dep == 0 {
                        self.t.tensormap.insert(t, raw);
                    }
                }
            }
        }
        let Some(n) = self.write_payload(&f, args, outs) else {
            return FAILED;
        };
        if shape_of(mask) == crate::runtime::trb::shared::shape::DUMMY && kernels == [INVALID_KERNEL_ID; 3] {
            // Dummy tasks have no subtasks.
            f.slot.total_required_subtasks.store(0, Relaxed);
        }
        self.publish(f.slot);
        if self.fatal {
            return FAILED;
        }
        (raw, n)
    }

    #[cold]
    fn bad_dependency(&mut self, dep: u64) {
        self.mark_fatal(
            codes::INVALID_ARGS,
            &format!("FATAL: Invalid Arg Detected! explicit dependency 0x{dep:x} is not a submitted task id"),
        );
    }
}
