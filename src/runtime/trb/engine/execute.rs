//! Executing a ready task: single-core, cluster (gang) and sync-start dispatch.

use super::dispatch::DispatchBuffer;
use super::gang::run_inline;
use super::sched::Sched;
use crate::runtime::trb::layout::{SlotState, TaskPayload};
use crate::runtime::trb::ring::SlotRef;
use crate::runtime::trb::shared::{shape, shape_of, SimCore, FLAG_SYNC_START};
use crate::runtime::wait::{Backoff, Ladder};
use std::sync::atomic::Ordering::*;

/// The next block of `s` to run, for a thread that holds one of its queue
/// entries: a task of `blocks` blocks is queued again by each thread that
/// takes a block while more remain, so it has one entry per block still
/// to be taken (a thread whose core claim failed queues its entry back
/// untaken). A single-block task therefore has one entry, and the thread
/// that popped it owns its only block: no shared count (a locked add per
/// task on the dispatch path, 7% of the scheduler loop's samples in the
/// 1M independent tasks bench).
#[inline]
fn take_block(s: &SlotState, blocks: i16) -> i16 {
    if blocks == 1 {
        return 0;
    }
    s.next_block_idx.fetch_add(1, AcqRel)
}

impl Sched<'_> {
    /// Executes (part of) a ready task; false when it had to be re-queued.
    pub(super) fn execute(&mut self, v: u64) -> bool {
        let s = self.sh.slot_of(SlotRef::from_bits(v));
        let mask = s.active_mask.load(Relaxed);
        let shp = shape_of(mask);
        let blocks = s.logical_block_num.load(Relaxed).max(1);
        // SAFETY: the descriptor pointer was set at submit.
        let d = unsafe { &*s.task.load(Relaxed) };
        let raw = d.task_id.load(Relaxed);
        let tag = raw + 1;
        if mask & FLAG_SYNC_START != 0 && blocks > 1 {
            return self.execute_sync(s, v, shp, mask, blocks, raw);
        }
        let payload = s.payload.load(Relaxed) as *const TaskPayload;
        match shp {
            shape::AIC | shape::AIV => {
                let Some(core) = self.claim_single(shp == shape::AIC, tag) else {
                    self.requeue(v, shp);
                    return false;
                };
                let b = take_block(s, blocks);
                if b >= blocks {
                    self.release(&core);
                    return false;
                }
                if b + 1 < blocks {
                    self.requeue(v, shp);
                    self.sh.parker.wake_one();
                }
                let func = d.kernel_id[if shp == shape::AIC { 0 } else { 1 }].load(Relaxed);
                self.buf.prepare(payload, raw, b as i32, blocks as i32, core);
                let args = self.buf.args();
                let t0 = self.trace_now();
                let changed = core.core_id != self.last_core;
                self.last_core = core.core_id;
                self.mark_busy();
                let r = match self.kernels {
                    // SAFETY: the executor's table (see `CoreExecutor::kernels`);
                    // `args` is the payload just prepared for this subtask.
                    Some(k) => unsafe { k.get().run(func, args, core.cluster, core.lane, changed) }.err(),
                    None => run_inline(self.exec, self.unwinds, func, args, core, changed),
                };
                self.local.set_owner_busy(false);
                self.trace_dispatch(raw, t0, std::iter::once((func, core.core_id)));
                self.release(&core);
                if let Some(m) = r {
                    self.kernel_failed(raw, &m);
                    return true;
                }
                self.check_async(&self.buf);
                self.subtasks_done(s, 1);
                true
            }
            _ => {
                let Some(lanes) = self.claim_cluster(mask, tag) else {
                    self.requeue(v, shp);
                    return false;
                };
                let b = take_block(s, blocks);
                if b >= blocks {
                    lanes.iter().for_each(|(_, c)| self.release(c));
                    return false;
                }
                if b + 1 < blocks {
                    self.requeue(v, shp);
                    self.sh.parker.wake_one();
                }
                // The run's reusable job list (empty between dispatches).
                let mut jobs = std::mem::take(&mut self.jobs);
                for (lane, core) in lanes.iter() {
                    let mut buf = self.mix_bufs.pop().unwrap_or_else(DispatchBuffer::new);
                    buf.prepare(payload, raw, b as i32, blocks as i32, *core);
                    jobs.push((d.kernel_id[*lane].load(Relaxed), buf, *core));
                }
                let t0 = self.trace_now();
                self.mark_busy();
                let failure = self.gang.run_all(self.exec, &mut jobs);
                self.local.set_owner_busy(false);
                // The first lane ran here and published its own core.
                self.last_core = u32::MAX;
                self.trace_dispatch(raw, t0, jobs.iter().map(|j| (j.0, j.2.core_id)));
                lanes.iter().for_each(|(_, c)| self.release(c));
                for (_, buf, _) in &jobs {
                    self.check_async(buf);
                }
                let n = jobs.len() as i16;
                self.mix_bufs.extend(jobs.drain(..).map(|j| j.1));
                self.jobs = jobs;
                if let Some(m) = failure {
                    self.kernel_failed(raw, &m);
                    return true;
                }
                self.subtasks_done(s, n);
                true
            }
        }
    }

    /// All blocks of a sync-start task start together on cores 0..B of its type.
    pub(super) fn execute_sync(
        &mut self,
        s: &crate::runtime::trb::layout::SlotState,
        v: u64,
        shp: usize,
        mask: u8,
        blocks: i16,
        raw: u64,
    ) -> bool {
        let sh = self.sh;
        if sh.drain_owner.compare_exchange(0, self.idx + 1, AcqRel, Acquire).is_err() {
            self.requeue(v, shp);
            return false;
        }
        let bd = sh.block_dim;
        let mut cores: Vec<(usize, SimCore, i32)> = Vec::new();
        for b in 0..blocks as u32 {
            match shp {
                shape::AIC => cores.push((0, SimCore::aic(b), b as i32)),
                shape::AIV => cores.push((1, SimCore::aiv(b / 2, b % 2, bd), b as i32)),
                _ => {
                    for &(lane, c) in self.cluster_lanes(b, mask).iter() {
                        cores.push((lane, c, b as i32));
                    }
                }
            }
        }
        let tag = raw + 1;
        let mut held = vec![false; cores.len()];
        let mut backoff = Backoff::new(Ladder::SPIN_THEN_YIELD);
        loop {
            for (k, (_, c, _)) in cores.iter().enumerate() {
                if !held[k] {
                    held[k] = self.try_claim(c, tag);
                }
            }
            if held.iter().all(|&h| h) {
                break;
            }
            if sh.run_complete.load(Acquire) || sh.failed() {
                for (k, (_, c, _)) in cores.iter().enumerate() {
                    if held[k] {
                        self.release(c);
                    }
                }
                sh.drain_owner.store(0, Release);
                self.requeue(v, shp);
                return false;
            }
            backoff.snooze();
        }
        s.next_block_idx.store(blocks, Release);
        sh.drain_owner.store(0, Release);
        // SAFETY: descriptor pointer set at submit.
        let d = unsafe { &*s.task.load(Relaxed) };
        let payload = s.payload.load(Relaxed) as *const TaskPayload;
        let mut jobs: Vec<(i32, Box<DispatchBuffer>, SimCore)> = cores
            .iter()
            .map(|(lane, c, b)| {
                let mut buf = DispatchBuffer::new();
                buf.prepare(payload, raw, *b, blocks as i32, *c);
                (d.kernel_id[*lane].load(Relaxed), buf, *c)
            })
            .collect();
        let t0 = self.trace_now();
        self.mark_busy();
        let failure = self.gang.run_all(self.exec, &mut jobs);
        self.local.set_owner_busy(false);
        self.last_core = u32::MAX;
        self.trace_dispatch(raw, t0, jobs.iter().map(|j| (j.0, j.2.core_id)));
        cores.iter().for_each(|(_, c, _)| self.release(c));
        for (_, buf, _) in &jobs {
            self.check_async(buf);
        }
        if let Some(m) = failure {
            self.kernel_failed(raw, &m);
            return true;
        }
        self.subtasks_done(s, jobs.len() as i16);
        true
    }
}
