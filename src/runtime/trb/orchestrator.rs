//! The orchestrator (upstream `pto_orchestrator.cpp`, c68d9bbe6): scopes, submit, dummy and allocation
//! tasks, tensor data access, fatal latching. Runs on the single thread
//! that executes the user's orchestration code.
//!
//! The fanin spill pool of a ring is reclaimed right before every allocation
//! on that ring, so a retired task's payload is always read before its slot
//! can be handed out again.

use super::api::{
    MixedKernelIds, OrchestratorApi, ScopeMode, SubmitOutcome, TaskArgsView, TensorArg, TensorCreate, INVALID_TASK,
};
use super::layout::{
    align_up, codes, task_id, task_state, Region, SlotState, TaskPayload, ALLOC_DEADLOCK_TIMEOUT_MS, FANIN_INLINE_CAP,
    INVALID_KERNEL_ID, MAX_RINGS, MAX_SCALAR_ARGS, MAX_SCOPE_DEPTH, MAX_TENSOR_ARGS, PACKED_OUTPUT_ALIGN, SCOPE_BIT,
    SPIN_CHECK_INTERVAL, TENSOR_DATA_TIMEOUT_MS,
};
use super::pools::FaninPool;
use super::queue::WiringProducer;
use super::ring::{SlotRef, TaskAllocator};
use super::shared::{shape_of, RunShared, FLAG_SYNC_START, LANE_AIC, LANE_AIV0, LANE_AIV1};
use super::stats::{ScopePhase, ScopeStatRecord};
use super::tensormap::{Overlap, TensorMap};
use crate::abi::tensor::{Tensor, INVALID_TASK_ID};
use crate::diagnostics::log;
use crate::runtime::wait::{Backoff, Ladder, StallClock};
use std::sync::atomic::Ordering::*;
use std::time::Duration;

/// Orchestrator-private tables of one run.
pub(crate) struct OrchTables {
    /// Fanin spill pools per ring.
    pub(crate) fanin_pools: Vec<FaninPool>,
    /// Seen-epoch arrays per ring (`W` each).
    pub(crate) seen: Vec<Region<u32>>,
    /// The TensorMap.
    pub(crate) tensormap: TensorMap,
    /// `scope_tasks` (Σ W slot-state pointers).
    pub(crate) scope_tasks: Region<u64>,
    /// The producer side of the wiring queue (the orchestrator is its only
    /// producer).
    pub(crate) wiring: WiringProducer,
}

/// The orchestrator of one run.
pub(crate) struct Orchestrator<'s> {
    sh: &'s RunShared,
    alloc: Vec<TaskAllocator>,
    t: OrchTables,
    epoch: u32,
    scope_size: usize,
    scope_begins: [usize; MAX_SCOPE_DEPTH],
    top: i32,
    manual_begin_depth: i32,
    fatal: bool,
    aic_count: u32,
    aiv_count: u32,
    fanins: Vec<*const SlotState>,
    scratch: Vec<u64>,
    /// Scope statistics records (when enabled).
    pub(crate) stats: Vec<ScopeStatRecord>,
    pending_site: Option<(String, i32)>,
    done: bool,
}

fn kernels_mask(k: &MixedKernelIds) -> u8 {
    let mut m = 0;
    if k.aic >= 0 {
        m |= LANE_AIC;
    }
    if k.aiv0 >= 0 {
        m |= LANE_AIV0;
    }
    if k.aiv1 >= 0 {
        m |= LANE_AIV1;
    }
    m
}

/// Payload copy of an input tensor (contiguous views at offset 0 get their
/// strides and extent recomputed from the shapes).
fn copy_tensor(t: &Tensor) -> Tensor {
    let mut c = *t;
    if c.is_contiguous != 0 && c.start_offset == 0 {
        c.set_row_major_strides();
    }
    c
}

impl<'s> Orchestrator<'s> {
    /// New orchestrator over the run state and its private tables.
    pub(crate) fn new(sh: &'s RunShared, t: OrchTables, aic_count: u32, aiv_count: u32) -> Self {
        Orchestrator {
            alloc: sh.rings.iter().map(|r| TaskAllocator::new(r.heap_size)).collect(),
            sh,
            t,
            epoch: 0,
            scope_size: 0,
            scope_begins: [0; MAX_SCOPE_DEPTH],
            top: -1,
            manual_begin_depth: MAX_SCOPE_DEPTH as i32,
            fatal: false,
            aic_count,
            aiv_count,
            fanins: Vec::with_capacity(64),
            scratch: Vec::with_capacity(16),
            stats: Vec::new(),
            pending_site: None,
            done: false,
        }
    }

    /// Ring for new allocations: innermost scope depth clamped to 0..=3.
    pub(crate) fn current_ring(&self) -> usize {
        (self.top.max(0) as usize).min(MAX_RINGS - 1)
    }

    /// The run state this orchestrator works on.
    pub(crate) fn shared(&self) -> &'s RunShared {
        self.sh
    }

    /// Scope depth (-1 = none).
    pub(crate) fn depth(&self) -> i32 {
        self.top
    }

    fn in_manual_scope(&self) -> bool {
        self.top >= self.manual_begin_depth
    }

    fn shared_fatal(&self) -> bool {
        self.fatal || self.sh.failed()
    }

    /// Latches `code` (first wins) and marks the orchestrator fatal.
    fn mark_fatal(&mut self, code: i32, msg: &str) {
        self.fatal = true;
        let latched = self.sh.latch_orch(code, msg);
        if latched == code {
            log::error("orchestrator", &format!("FATAL(code={code}): {msg}"));
        } else {
            log::error("orchestrator", &format!("FATAL(code={code}, latched={latched}): {msg}"));
        }
    }

    /// Latches an allocator or pool report (code 0: unwinding after an
    /// earlier fatal, nothing to latch). The first fatal of the run wins.
    fn store_fatal(&mut self, code: i32, msg: &str) {
        self.fatal = true;
        if code == 0 {
            return;
        }
        log::error("orchestrator", msg);
        self.sh.latch_orch(code, msg);
    }

    /// Scope statistics only: lets the wiring thread catch up before a
    /// scope-end record, so the dep-pool snapshot counts the entries of the
    /// scope's tasks (they are taken when a task is wired, after its submit).
    /// Stops once the queue is empty, the run failed, or the wiring made no
    /// progress for 2 ms (it is blocked, e.g. on a full pool that only this
    /// scope's end can free: waiting longer would deadlock).
    fn settle_wiring(&self) {
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

    fn record_stat(&mut self, phase: ScopePhase, site: Option<(String, i32)>) {
        if !self.sh.scope_stats || self.top < 0 || self.top > 63 {
            return;
        }
        if phase == ScopePhase::End {
            self.settle_wiring();
        }
        let ring = self.current_ring();
        let r = &self.sh.rings[ring];
        let a = &self.alloc[ring];
        let (dt, dtop) = &self.sh.dep_snapshot[ring];
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
            dep_pool_start: dt.load(Relaxed),
            dep_pool_end: dtop.load(Relaxed),
            tensormap: self.t.tensormap.used() as u64,
        });
    }

    /// Closes every open scope and publishes orchestration completion.
    pub(crate) fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        let total: u64 = self.sh.rings.iter().map(|r| r.current_task_index.load(Acquire)).sum();
        self.sh.total_tasks.store(total, SeqCst);
        self.sh.orch_done.store(true, SeqCst);
        self.top = -1;
        self.manual_begin_depth = MAX_SCOPE_DEPTH as i32;
        if self.sh.failed() || self.sh.all_done() {
            self.sh.end_run();
        } else {
            self.sh.parker.wake_all();
        }
    }

    fn wait_checks(&self) -> bool {
        self.sh.failed()
    }

    /// Claims producer `raw` for the task being submitted (dedup per submit).
    fn claim(&mut self, raw: u64) {
        let r = task_id::ring(raw);
        if r >= MAX_RINGS {
            return;
        }
        let local = task_id::local(raw);
        let ring = &self.sh.rings[r];
        if local < ring.last_task_alive.load(Acquire) || local >= self.alloc[r].next_local {
            return;
        }
        let idx = ring.slot_index(local);
        if self.t.seen[r].as_slice()[idx] == self.epoch {
            return;
        }
        let s = ring.slot(local);
        s.lock();
        let gone = s.task.load(Relaxed).is_null()
            || ring.descriptor(local).task_id.load(Relaxed) != raw
            || s.state() == task_state::CONSUMED;
        if !gone {
            s.fanout_count.fetch_add(1, Relaxed);
        }
        s.unlock();
        if !gone {
            self.t.seen[r].as_mut_slice()[idx] = self.epoch;
            self.fanins.push(s as *const SlotState);
        }
    }

    fn next_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            for s in self.t.seen.iter_mut() {
                s.as_mut_slice().fill(0);
            }
            self.epoch = 1;
        }
    }

    fn scope_can_accept(&mut self, ring: usize) -> bool {
        if self.top < 0 {
            return true;
        }
        let in_scope = self.scope_size - self.scope_begins[self.top as usize];
        let w = self.sh.rings[ring].window as usize;
        if in_scope >= w - 1 {
            let msg = format!(
                "FATAL: Scope Deadlock Detected! (ring {ring}): the current scope (depth {}) already holds {in_scope} tasks and ring {ring}'s task window is {w} (at most {} tasks per scope, each held until scope end). Solution: split the scope, or raise the ring's task window (ring_task_window / PTO2_RING_TASK_WINDOW)",
                self.top,
                w - 1
            );
            self.mark_fatal(codes::SCOPE_DEADLOCK, &msg);
            return false;
        }
        if self.scope_size >= self.t.scope_tasks.len() {
            let msg = format!(
                "scope_tasks overflow: {} tasks registered in open scopes (capacity Σ task windows = {}). Solution: raise PTO2_RING_TASK_WINDOW",
                self.scope_size,
                self.t.scope_tasks.len()
            );
            self.mark_fatal(codes::SCOPE_TASKS_OVERFLOW, &msg);
            return false;
        }
        true
    }

    /// Allocates a slot + heap, resets the slot and registers it in the scope.
    fn prepare(
        &mut self,
        out_size: u64,
        kernels: [i32; 3],
        mask: u8,
        block_num: i16,
    ) -> Option<(usize, u64, u64, u64)> {
        let ring = self.current_ring();
        if !self.scope_can_accept(ring) {
            return None;
        }
        let sh = self.sh;
        self.t.fanin_pools[ring].reclaim(&sh.rings[ring]);
        let a = match self.alloc[ring].alloc(&sh.rings[ring], out_size, &|| sh.failed()) {
            Ok(a) => a,
            Err(e) => {
                self.store_fatal(e.code, &e.message);
                return None;
            }
        };
        let r = &sh.rings[ring];
        let raw = task_id::make(ring, a.local);
        let s = r.slot(a.local);
        let d = r.descriptor(a.local);
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
        s.payload.store(r.payload_ptr(a.local), Relaxed);
        s.task.store(d as *const _ as *mut _, Relaxed);
        s.task_state.store(task_state::PENDING as u32, Release);
        self.t.scope_tasks.as_mut_slice()[self.scope_size] = SlotRef::of(s).bits();
        self.scope_size += 1;
        sh.submitted.fetch_add(1, AcqRel);
        Some((ring, a.local, a.base, raw))
    }

    fn validate(&mut self, func: &str, args: &TaskArgsView<'_>) -> bool {
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
    fn refuse_after_done(&mut self, func: &str) -> bool {
        if !self.done {
            return false;
        }
        self.mark_fatal(
            codes::INVALID_ARGS,
            &format!("FATAL: Invalid Arg Detected! {func} after rt_orchestration_done (no call may submit or open a scope once orchestration is done)"),
        );
        true
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

    /// Checks `indices` against `tensor` for get/set_tensor_data; the
    /// problem, if any.
    fn index_violation(tensor: &Tensor, indices: &[u32]) -> Option<String> {
        if let Some(p) = view_violation(tensor) {
            return Some(p);
        }
        let n = tensor.dims();
        if indices.len() != n {
            return Some(format!(
                "{} indices given for a tensor of ndims {n} (one index per dimension)",
                indices.len()
            ));
        }
        for (d, (&i, &s)) in indices.iter().zip(tensor.shapes.iter()).enumerate() {
            if i >= s {
                return Some(format!(
                    "index {i} out of range for dimension {d} of size {s} (each index must be < its shape)"
                ));
            }
        }
        let flat = indices.iter().zip(tensor.strides.iter()).map(|(&i, &s)| i as u128 * s as u128).sum::<u128>()
            + tensor.start_offset as u128;
        let end = (flat + 1) * tensor.elem_size() as u128;
        if end > tensor.buffer_size as u128 {
            return Some(format!(
                "element at offset {flat} ends at byte {end}, beyond the tensor's buffer.size {} (the element must lie within the tensor)",
                tensor.buffer_size
            ));
        }
        None
    }

    fn output_layout(&mut self, args: &TaskArgsView<'_>) -> Option<(Vec<u64>, u64)> {
        let mut offs = Vec::new();
        let mut total = 0u64;
        for a in args.tensors {
            if let TensorArg::Output(c) = a {
                offs.push(total);
                total += align_up(create_bytes(c), PACKED_OUTPUT_ALIGN);
            }
        }
        if total > i32::MAX as u64 {
            self.mark_fatal(
                codes::INVALID_ARGS,
                &format!("FATAL: Invalid Arg Detected! packed output size {total} exceeds INT32_MAX"),
            );
            return None;
        }
        Some((offs, total))
    }

    /// Writes the payload (fanins, tensors, scalars) and returns the output pointers.
    fn write_payload(
        &mut self,
        ring: usize,
        local: u64,
        raw: u64,
        base: u64,
        offs: &[u64],
        args: &TaskArgsView<'_>,
    ) -> Option<Vec<*const Tensor>> {
        let p = self.sh.rings[ring].payload_ptr(local);
        let n = self.fanins.len();
        let mut spill_start = 0i32;
        let mut spill_pool = std::ptr::null_mut();
        if n > FANIN_INLINE_CAP {
            let need = (n - FANIN_INLINE_CAP) as u64;
            if !self.ensure_spill(ring, need) {
                return None;
            }
            let pool = &mut self.t.fanin_pools[ring];
            spill_pool = pool.base();
            for (k, &f) in self.fanins[FANIN_INLINE_CAP..].iter().enumerate() {
                let lin = pool.push(f).expect("space ensured");
                if k == 0 {
                    spill_start = lin as i32;
                }
            }
        }
        // SAFETY: `p` is this task's payload slot inside the ring region; the
        // slot was just allocated, so no other thread reads it until the task
        // is published through the wiring queue.
        let pl: &mut TaskPayload = unsafe { &mut *p };
        pl.tensor_count = args.tensors.len() as i32;
        pl.scalar_count = args.scalars.len() as i32;
        pl.fanin_actual_count = n as i32;
        pl.fanin_spill_start = spill_start;
        pl.fanin_spill_pool = spill_pool;
        for (k, &f) in self.fanins.iter().take(FANIN_INLINE_CAP).enumerate() {
            pl.fanin_inline[k] = f;
        }
        let mut outs = Vec::new();
        let mut oi = 0;
        for (i, a) in args.tensors.iter().enumerate() {
            match a {
                TensorArg::Output(c) => {
                    let t = materialize(c, base + offs[oi], raw);
                    oi += 1;
                    pl.tensors[i] = t;
                    if let Some(v) = c.initial_value {
                        fill(&t, v);
                    }
                    outs.push(&pl.tensors[i] as *const Tensor);
                }
                TensorArg::Input(t) | TensorArg::Inout(t) | TensorArg::OutputExisting(t) | TensorArg::NoDep(t) => {
                    pl.tensors[i] = copy_tensor(t)
                }
            }
        }
        pl.scalars[..args.scalars.len()].copy_from_slice(args.scalars);
        Some(outs)
    }

    fn ensure_spill(&mut self, ring: usize, need: u64) -> bool {
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
                    "Fanin Spill Pool Overflow: ring {ring} task needs {need} spill entries, pool capacity {pool_cap}. Solution: raise the ring's dep pool (ring_dep_pool / PTO2_RING_DEP_POOL)"
                );
                self.store_fatal(codes::DEP_POOL_OVERFLOW, &msg);
                return false;
            }
            if pool.tail != last_tail {
                last_tail = pool.tail;
                backoff.progressed();
            }
            backoff.snooze();
            if backoff.step() % SPIN_CHECK_INTERVAL == 0 {
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
                        "Fanin Spill Pool Deadlock Detected! ring {ring}: used {} of capacity {pool_cap}, need {need}; cause: {cause}. Solution: raise the ring's dep pool (ring_dep_pool / PTO2_RING_DEP_POOL) or split the scope",
                        pool.used()
                    );
                    self.store_fatal(codes::DEP_POOL_OVERFLOW, &msg);
                    return false;
                }
            }
        }
    }

    fn ensure_tensormap(&mut self, needed: usize) -> bool {
        if self.t.tensormap.free_capacity() >= needed {
            return true;
        }
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

    fn publish(&mut self, ring: usize, local: u64) {
        let s = SlotRef::of(self.sh.rings[ring].slot(local)).bits();
        if self.t.wiring.push(&self.sh.wiring, s) {
            self.sh.parker.wake_one();
            return;
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
            backoff.snooze();
        }
        self.sh.producer_blocked.store(false, Release);
    }

    fn submit_common(&mut self, kernels: [i32; 3], mask: u8, args: &TaskArgsView<'_>) -> SubmitOutcome {
        let Some((offs, total)) = self.output_layout(args) else {
            return SubmitOutcome::empty();
        };
        let Some((ring, local, base, raw)) = self.prepare(total, kernels, mask, args.block_num) else {
            return SubmitOutcome::empty();
        };
        let la = self.sh.rings[ring].last_task_alive.load(Acquire);
        self.t.tensormap.sync(ring, local, la);
        self.next_epoch();
        self.fanins.clear();
        // Explicit dependencies.
        for &dep in args.explicit_deps {
            let r = task_id::ring(dep);
            if dep == INVALID_TASK || r >= MAX_RINGS || task_id::local(dep) >= self.alloc[r].next_local {
                self.mark_fatal(
                    codes::INVALID_ARGS,
                    &format!("FATAL: Invalid Arg Detected! explicit dependency 0x{dep:x} is not a submitted task id"),
                );
                return SubmitOutcome::empty();
            }
            self.claim(dep);
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
                self.scratch.clear();
                let scratch = &mut self.scratch;
                self.t.tensormap.lookup(t, |p, ov| {
                    scratch.push(p);
                    inout && ov == Overlap::Covered
                });
                for k in 0..self.scratch.len() {
                    let p = self.scratch[k];
                    self.claim(p);
                }
            }
        }
        if registrable > 0 {
            if !self.ensure_tensormap(registrable) {
                return SubmitOutcome::empty();
            }
            for a in args.tensors {
                if let TensorArg::Inout(t) | TensorArg::OutputExisting(t) = a {
                    if t.manual_dep == 0 {
                        self.t.tensormap.insert(t, raw);
                    }
                }
            }
        }
        let Some(outputs) = self.write_payload(ring, local, raw, base, &offs, args) else {
            return SubmitOutcome::empty();
        };
        if shape_of(mask) == super::shared::shape::DUMMY && kernels == [INVALID_KERNEL_ID; 3] {
            // Dummy tasks have no subtasks.
            self.sh.rings[ring].slot(local).total_required_subtasks.store(0, Relaxed);
        }
        self.publish(ring, local);
        if self.fatal {
            return SubmitOutcome::empty();
        }
        SubmitOutcome { task_id: raw, outputs }
    }

    /// Waits until `producers` completed (and, for writes, their consumers released).
    fn wait_producers(&mut self, ids: &[u64], for_write: bool) -> bool {
        // One clock for the whole wait (all producers), one ladder per producer.
        let mut waited = StallClock::started();
        for &raw in ids {
            let r = task_id::ring(raw);
            if r >= MAX_RINGS {
                continue;
            }
            let local = task_id::local(raw);
            let ring = &self.sh.rings[r];
            let mut backoff = Backoff::new(Ladder::TENSOR_DATA);
            loop {
                if local < ring.last_task_alive.load(Acquire) || local >= self.alloc[r].next_local {
                    break;
                }
                let s = ring.slot(local);
                let st = s.state();
                if ring.descriptor(local).task_id.load(Relaxed) != raw || st == task_state::CONSUMED {
                    break;
                }
                if st >= task_state::COMPLETED && (!for_write || RunShared::consumers_released(s)) {
                    break;
                }
                backoff.snooze();
                if backoff.step() % 64 == 0 {
                    if self.wait_checks() {
                        self.fatal = true;
                        return false;
                    }
                    if waited.elapsed() >= Duration::from_millis(TENSOR_DATA_TIMEOUT_MS) {
                        let msg = format!(
                            "{}_tensor_data: task 0x{raw:x} did not finish within {TENSOR_DATA_TIMEOUT_MS} ms",
                            if for_write { "set" } else { "get" }
                        );
                        self.mark_fatal(codes::TENSOR_WAIT_TIMEOUT, &msg);
                        return false;
                    }
                }
            }
        }
        true
    }

    fn tensor_wait_set(&mut self, t: &Tensor) -> Vec<u64> {
        let mut ids = Vec::new();
        if t.owner_task_id != INVALID_TASK_ID {
            ids.push(t.owner_task_id);
        }
        let alives: Vec<u64> = self.sh.rings.iter().map(|r| r.last_task_alive.load(Acquire)).collect();
        for (r, &la) in alives.iter().enumerate() {
            self.t.tensormap.last_task_alives[r] = la;
        }
        self.t.tensormap.lookup(t, |p, _| {
            if !ids.contains(&p) {
                ids.push(p);
            }
            false
        });
        ids
    }
}

/// Why `c` is not a valid OUTPUT description, if it is not.
fn create_violation(c: &TensorCreate) -> Option<String> {
    let n = c.ndims as usize;
    if n == 0 || n > crate::abi::tensor::MAX_TENSOR_DIMS {
        return Some(format!("ndims {} out of range 1..={}", c.ndims, crate::abi::tensor::MAX_TENSOR_DIMS));
    }
    if crate::abi::types::elem_size_of_raw(c.dtype) == 0 {
        return Some(format!("unknown dtype {}", c.dtype));
    }
    let bytes = c.shapes[..n].iter().fold(crate::abi::types::elem_size_of_raw(c.dtype) as u128, |a, &s| a * s as u128);
    if bytes > i32::MAX as u128 {
        return Some(format!("output of {bytes} bytes exceeds INT32_MAX"));
    }
    None
}

/// Why the view `t` does not lie within its tensor, if it does not: ndims in
/// 1..=5, a known dtype, and every element of the view (start_offset plus
/// the strided extent) inside `buffer_size` bytes (checked arithmetic).
fn view_violation(t: &Tensor) -> Option<String> {
    let n = t.ndims as usize;
    if n == 0 || n > crate::abi::tensor::MAX_TENSOR_DIMS {
        return Some(format!("ndims {} out of range 1..={}", t.ndims, crate::abi::tensor::MAX_TENSOR_DIMS));
    }
    let es = t.elem_size() as u128;
    if es == 0 {
        return Some(format!("unknown dtype {}", t.dtype));
    }
    let shapes = &t.shapes[..n];
    if shapes.contains(&0) {
        return None;
    }
    let extent: u128 = if t.is_contiguous != 0 {
        shapes.iter().map(|&s| s as u128).product()
    } else {
        1 + shapes.iter().zip(t.strides.iter()).map(|(&s, &st)| (s as u128 - 1) * st as u128).sum::<u128>()
    };
    let end = (t.start_offset as u128 + extent) * es;
    if end > t.buffer_size as u128 {
        return Some(format!(
            "view of shape {shapes:?} at start_offset {} ends at byte {end}, beyond the tensor's buffer.size {} (a task tensor view must lie within its tensor)",
            t.start_offset, t.buffer_size
        ));
    }
    None
}

fn create_bytes(c: &TensorCreate) -> u64 {
    let n = (c.ndims as usize).min(crate::abi::tensor::MAX_TENSOR_DIMS);
    let numel: u64 = c.shapes[..n].iter().map(|&s| s as u64).product();
    numel * crate::abi::types::elem_size_of_raw(c.dtype) as u64
}

fn materialize(c: &TensorCreate, addr: u64, owner: u64) -> Tensor {
    let n = (c.ndims as usize).min(crate::abi::tensor::MAX_TENSOR_DIMS);
    let mut t = Tensor {
        buffer_addr: addr,
        buffer_size: align_up(create_bytes(c), PACKED_OUTPUT_ALIGN),
        owner_task_id: owner,
        ndims: n as u32,
        dtype: c.dtype,
        manual_dep: c.manual_dep as u8,
        ..Tensor::default()
    };
    t.shapes[..n].copy_from_slice(&c.shapes[..n]);
    t.set_row_major_strides();
    t
}

fn fill(t: &Tensor, v: u64) {
    let es = t.elem_size();
    if es == 0 {
        return;
    }
    let bytes = v.to_le_bytes();
    let n = t.numel() as usize;
    // SAFETY: `t` was just materialized in this task's packed block of the
    // ring heap, which holds at least numel × elem_size bytes and belongs
    // to the task being submitted (no kernel can run on it yet).
    let buf = unsafe { std::slice::from_raw_parts_mut(t.buffer_addr as *mut u8, n * es) };
    for chunk in buf.chunks_exact_mut(es) {
        chunk.copy_from_slice(&bytes[..es]);
    }
}

impl OrchestratorApi for Orchestrator<'_> {
    fn submit_task(&mut self, kernels: MixedKernelIds, args: &TaskArgsView<'_>) -> SubmitOutcome {
        if self.shared_fatal() {
            return SubmitOutcome::empty();
        }
        if self.refuse_after_done("submit_task") || !self.validate("submit_task", args) {
            return SubmitOutcome::empty();
        }
        let mut ids = [kernels.aic, kernels.aiv0, kernels.aiv1];
        let mut mask = kernels_mask(&kernels);
        if mask == 0 {
            self.mark_fatal(
                codes::INVALID_ARGS,
                "FATAL: Invalid Arg Detected! submit_task needs at least one active kernel",
            );
            return SubmitOutcome::empty();
        }
        if mask == LANE_AIV1 {
            ids = [INVALID_KERNEL_ID, ids[2], INVALID_KERNEL_ID];
            mask = LANE_AIV0;
        }
        for id in ids.iter_mut() {
            if *id < 0 {
                *id = INVALID_KERNEL_ID;
            }
        }
        if args.block_num > 1 && args.require_sync_start {
            let aiv_shape = shape_of(mask) == super::shared::shape::AIV;
            let limit = if aiv_shape { self.aiv_count } else { self.aic_count };
            if limit > 0 && args.block_num as u32 > limit {
                let msg = format!(
                    "require_sync_start task with block_num {} exceeds the {} available {} cores",
                    args.block_num,
                    limit,
                    if aiv_shape { "AIV" } else { "AIC/cluster" }
                );
                self.mark_fatal(codes::REQUIRE_SYNC_START_INVALID, &msg);
                return SubmitOutcome::empty();
            }
            mask |= FLAG_SYNC_START;
        }
        self.submit_common(ids, mask, args)
    }

    fn submit_dummy_task(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        if self.shared_fatal()
            || self.refuse_after_done("submit_dummy_task")
            || !self.validate("submit_dummy_task", args)
        {
            return SubmitOutcome::empty();
        }
        let view = TaskArgsView { block_num: 1, require_sync_start: false, ..*args };
        self.submit_common([INVALID_KERNEL_ID; 3], 0, &view)
    }

    fn alloc_tensors(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        if self.shared_fatal() {
            return SubmitOutcome::empty();
        }
        if self.refuse_after_done("alloc_tensors") {
            return SubmitOutcome::empty();
        }
        let ok = !args.tensors.is_empty()
            && args.scalars.is_empty()
            && args.tensors.len() <= MAX_TENSOR_ARGS
            && args.tensors.iter().all(|a| matches!(a, TensorArg::Output(_)));
        if !ok {
            self.mark_fatal(
                codes::INVALID_ARGS,
                "FATAL: Invalid Arg Detected! alloc_tensors requires >= 1 tensor, 0 scalars and only OUTPUT tensors",
            );
            return SubmitOutcome::empty();
        }
        if !self.validate("alloc_tensors", args) {
            return SubmitOutcome::empty();
        }
        let Some((offs, total)) = self.output_layout(args) else {
            return SubmitOutcome::empty();
        };
        let Some((ring, local, base, raw)) = self.prepare(total, [INVALID_KERNEL_ID; 3], 0, 1) else {
            return SubmitOutcome::empty();
        };
        self.fanins.clear();
        let Some(outputs) = self.write_payload(ring, local, raw, base, &offs, args) else {
            return SubmitOutcome::empty();
        };
        let s = self.sh.rings[ring].slot(local);
        s.total_required_subtasks.store(0, Relaxed);
        s.fanin_count.store(1, Relaxed);
        s.fanin_refcount.store(1, Relaxed);
        s.task_state.store(task_state::COMPLETED as u32, Release);
        self.sh.completed.fetch_add(1, AcqRel);
        SubmitOutcome { task_id: raw, outputs }
    }

    fn scope_begin(&mut self, mode: ScopeMode) {
        let site = self.pending_site.take();
        if self.shared_fatal() || self.refuse_after_done("scope_begin") {
            return;
        }
        if mode == ScopeMode::Auto && self.in_manual_scope() {
            self.mark_fatal(codes::INVALID_ARGS, "auto scope nested inside manual scope is not supported");
            return;
        }
        if self.top + 1 >= MAX_SCOPE_DEPTH as i32 {
            self.mark_fatal(codes::INVALID_ARGS, &format!("scope nesting exceeds {MAX_SCOPE_DEPTH} levels"));
            return;
        }
        self.top += 1;
        self.scope_begins[self.top as usize] = self.scope_size;
        if mode == ScopeMode::Manual && !self.in_manual_scope() {
            self.manual_begin_depth = self.top;
        }
        self.record_stat(ScopePhase::Begin, site);
    }

    fn scope_end(&mut self) {
        if self.shared_fatal() || self.top < 0 {
            return;
        }
        self.record_stat(ScopePhase::End, None);
        let begin = self.scope_begins[self.top as usize];
        if self.top == self.manual_begin_depth {
            self.manual_begin_depth = MAX_SCOPE_DEPTH as i32;
        }
        self.top -= 1;
        for i in begin..self.scope_size {
            let s = self.sh.slot_of(SlotRef::from_bits(self.t.scope_tasks.as_slice()[i]));
            s.fanout_refcount.fetch_add(SCOPE_BIT, AcqRel);
            self.sh.ring_of(s).check_consumed(s);
        }
        self.scope_size = begin;
        if self.sh.orch_done.load(Acquire) && self.sh.all_done() {
            self.sh.end_run();
        }
    }

    fn orchestration_done(&mut self) {
        self.finish();
    }

    fn is_fatal(&self) -> bool {
        self.shared_fatal()
    }

    fn report_fatal(&mut self, code: i32, message: &str) {
        self.mark_fatal(code, message);
    }

    fn get_tensor_data(&mut self, tensor: &Tensor, indices: &[u32]) -> u64 {
        if self.shared_fatal() {
            return 0;
        }
        if tensor.buffer_addr == 0 {
            log::error("get_tensor_data", "tensor has a null buffer address");
            return 0;
        }
        if let Some(p) = Self::index_violation(tensor, indices) {
            self.mark_fatal(codes::INVALID_ARGS, &format!("FATAL: Invalid Arg Detected! get_tensor_data: {p}"));
            return 0;
        }
        let ids = self.tensor_wait_set(tensor);
        if !self.wait_producers(&ids, false) {
            return 0;
        }
        let es = tensor.elem_size().min(8);
        let mut v = [0u8; 8];
        // SAFETY: the tensor describes live device memory (the orchestration
        // contract); all writers of the element have completed.
        unsafe { std::ptr::copy_nonoverlapping(tensor.element_addr(indices) as *const u8, v.as_mut_ptr(), es) };
        u64::from_le_bytes(v)
    }

    fn set_tensor_data(&mut self, tensor: &Tensor, indices: &[u32], value: u64) {
        if self.shared_fatal() {
            return;
        }
        if tensor.buffer_addr == 0 {
            log::error("set_tensor_data", "tensor has a null buffer address");
            return;
        }
        if let Some(p) = Self::index_violation(tensor, indices) {
            self.mark_fatal(codes::INVALID_ARGS, &format!("FATAL: Invalid Arg Detected! set_tensor_data: {p}"));
            return;
        }
        let ids = self.tensor_wait_set(tensor);
        if !self.wait_producers(&ids, true) {
            return;
        }
        let es = tensor.elem_size().min(8);
        let v = value.to_le_bytes();
        // SAFETY: as in get_tensor_data; writers and their consumers finished.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), tensor.element_addr(indices) as *mut u8, es) };
    }

    fn scope_set_site(&mut self, file: &str, line: i32) {
        self.pending_site = Some((file.to_string(), line));
    }
}
