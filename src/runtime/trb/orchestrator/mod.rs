//! The orchestrator (upstream `pto_orchestrator.cpp`, c68d9bbe6): scopes, submit, dummy and allocation
//! tasks, tensor data access, fatal latching. Runs on the single thread
//! that executes the user's orchestration code.
//!
//! The fanin spill pool of a ring is reclaimed right after every allocation
//! on that ring, up to the watermark that admitted it and before the new
//! slot is written, so a retired task's payload is always read before its
//! slot is handed to the next task.

mod explicit;
mod flow;
mod held;
mod scope;
mod submit;
#[cfg(test)]
mod submit_tests;
mod tensor_data;
mod tensors;

use super::api::{
    DirectFill, FatalProbe, MixedKernelIds, OrchestratorApi, OutputSlots, ScopeMode, SubmitKind, SubmitOutcome,
    TaskArgsView, TensorArg, INVALID_TASK,
};
use super::layout::{
    codes, task_state, Region, SlotState, INVALID_KERNEL_ID, MAX_RINGS, MAX_SCOPE_DEPTH, MAX_TENSOR_ARGS,
};
use super::orchestration::ops::fill_for;
use super::pools::FaninPool;
use super::queue::WiringProducer;
use super::ring::TaskAllocator;
use super::shared::{shape_of, RunShared, FLAG_SYNC_START, LANE_AIC, LANE_AIV0, LANE_AIV1};
use super::stats::{ScopePhase, ScopeStatRecord};
use super::tensormap::TensorMap;
use crate::abi::tensor::Tensor;
use crate::diagnostics::log;
use std::sync::atomic::Ordering::*;

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
    /// Claims of producers an open scope holds, not yet counted in them.
    held: held::HeldClaims,
    /// Staged tasks that make `publish` flush: 1 until the first flush,
    /// then `WIRING_BATCH` (see `flush_wiring`).
    flush_at: u64,
    /// Scope statistics records (when enabled).
    pub(crate) stats: Vec<ScopeStatRecord>,
    pending_site: Option<(String, i32)>,
    done: bool,
    /// Explicit-edge mode state (`None`: TensorMap derivation, the TRB default).
    explicit: Option<Box<explicit::ExplicitEdges>>,
}

/// The lanes with a kernel (id >= 0), without branches.
#[inline(always)]
fn kernels_mask(k: &MixedKernelIds) -> u8 {
    (u8::from(k.aic >= 0) * LANE_AIC) | (u8::from(k.aiv0 >= 0) * LANE_AIV0) | (u8::from(k.aiv1 >= 0) * LANE_AIV1)
}

/// The kernel ids and lane mask a task is stored with: every negative id
/// becomes INVALID_KERNEL_ID (-1, so `max` does it without a branch per
/// lane), and a task with only an AIV1 kernel runs it as AIV0. A mask of 0
/// (no kernel) is the caller's error.
#[inline(always)]
pub(super) fn lanes_of(k: &MixedKernelIds) -> ([i32; 3], u8) {
    const _: () = assert!(INVALID_KERNEL_ID == -1);
    let ids = [k.aic.max(INVALID_KERNEL_ID), k.aiv0.max(INVALID_KERNEL_ID), k.aiv1.max(INVALID_KERNEL_ID)];
    let mask = kernels_mask(k);
    if mask == LANE_AIV1 {
        return ([INVALID_KERNEL_ID, ids[2], INVALID_KERNEL_ID], LANE_AIV0);
    }
    (ids, mask)
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
            held: held::HeldClaims::new(),
            flush_at: 1,
            stats: Vec::new(),
            pending_site: None,
            done: false,
            explicit: None,
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

    /// Counts the claims of held producers in their `fanout_count` now (a
    /// test that reads the count mid-scope; see `held.rs`).
    #[cfg(test)]
    pub(crate) fn settle_claims(&mut self) {
        self.held.apply();
    }

    /// Scope depth (-1 = none).
    pub(crate) fn depth(&self) -> i32 {
        self.top
    }

    fn in_manual_scope(&self) -> bool {
        self.top >= self.manual_begin_depth
    }

    fn shared_fatal(&self) -> bool {
        self.fatal || self.sh.any_fatal()
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

    /// Closes every open scope and publishes orchestration completion.
    pub(crate) fn finish(&mut self) {
        if self.done {
            return;
        }
        self.explicit_finish();
        self.release_cpu();
        self.done = true;
        let total: u64 = self.sh.rings.iter().map(|r| r.current_task_index.load(Acquire)).sum();
        self.sh.total_tasks.store(total, SeqCst);
        self.sh.orch_done.store(true, SeqCst);
        self.top = -1;
        self.held.all_closed();
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
}

/// [`FatalProbe::read`] of an orchestrator.
///
/// # Safety
/// `ctx` points to a live [`RunShared`].
unsafe fn run_failed(ctx: *const ()) -> bool {
    // SAFETY: per this fn's contract.
    unsafe { &*ctx.cast::<RunShared>() }.any_fatal()
}

/// The result of a failed submit.
pub(super) const FAILED: (u64, u32) = (INVALID_TASK, 0);

impl Orchestrator<'_> {
    #[inline(always)]
    fn submit_task_into(
        &mut self,
        kernels: MixedKernelIds,
        args: &TaskArgsView<'_>,
        outs: &mut OutputSlots,
    ) -> (u64, u32) {
        if self.shared_fatal() {
            return FAILED;
        }
        if self.refuse_after_done("submit_task") || !self.validate("submit_task", args) {
            return FAILED;
        }
        let (ids, mut mask) = lanes_of(&kernels);
        if mask == 0 {
            self.mark_fatal(
                codes::INVALID_ARGS,
                "FATAL: Invalid Arg Detected! submit_task needs at least one active kernel",
            );
            return FAILED;
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
                return FAILED;
            }
            mask |= FLAG_SYNC_START;
        }
        self.submit_common(ids, mask, args, outs)
    }

    fn submit_dummy_into(&mut self, args: &TaskArgsView<'_>, outs: &mut OutputSlots) -> (u64, u32) {
        if self.shared_fatal()
            || self.refuse_after_done("submit_dummy_task")
            || !self.validate("submit_dummy_task", args)
        {
            return FAILED;
        }
        let view = TaskArgsView { block_num: 1, require_sync_start: false, ..*args };
        self.submit_common([INVALID_KERNEL_ID; 3], 0, &view, outs)
    }

    fn alloc_tensors_into(&mut self, args: &TaskArgsView<'_>, outs: &mut OutputSlots) -> (u64, u32) {
        if self.shared_fatal() {
            return FAILED;
        }
        if self.refuse_after_done("alloc_tensors") {
            return FAILED;
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
            return FAILED;
        }
        if !self.validate("alloc_tensors", args) {
            return FAILED;
        }
        let Some(total) = self.output_total(args) else {
            return FAILED;
        };
        let Some(f) = self.prepare(total, [INVALID_KERNEL_ID; 3], 0, 1) else {
            return FAILED;
        };
        self.fanins.clear();
        let Some(n) = self.write_payload(&f, args, outs) else {
            return FAILED;
        };
        let (s, raw) = (f.slot, f.raw);
        s.total_required_subtasks.store(0, Relaxed);
        // `fanin_count` is 1 already: `write_payload` wrote the (empty)
        // fanin list's count + 1.
        s.fanin_refcount.store(1, Relaxed);
        s.task_state.store(task_state::COMPLETED as u32, Release);
        self.sh.completed.fetch_add(1, AcqRel);
        (raw, n)
    }

    /// A submit in the allocating form of the trait's three methods.
    fn outcome_of(&mut self, kind: SubmitKind, args: &TaskArgsView<'_>) -> SubmitOutcome {
        let mut outs: OutputSlots = [std::ptr::null(); MAX_TENSOR_ARGS];
        let (task_id, n) = self.submit_into(kind, args, &mut outs);
        SubmitOutcome { task_id, outputs: outs[..n as usize].to_vec() }
    }
}

impl OrchestratorApi for Orchestrator<'_> {
    fn submit_task(&mut self, kernels: MixedKernelIds, args: &TaskArgsView<'_>) -> SubmitOutcome {
        self.outcome_of(SubmitKind::Task(kernels), args)
    }

    fn submit_dummy_task(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        self.outcome_of(SubmitKind::Dummy, args)
    }

    fn alloc_tensors(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        self.outcome_of(SubmitKind::Alloc, args)
    }

    #[inline(always)]
    fn submit_into(&mut self, kind: SubmitKind, args: &TaskArgsView<'_>, outputs: &mut OutputSlots) -> (u64, u32) {
        match kind {
            SubmitKind::Task(k) => self.submit_task_into(k, args, outputs),
            SubmitKind::Dummy => self.submit_dummy_into(args, outputs),
            SubmitKind::Alloc => self.alloc_tensors_into(args, outputs),
        }
    }

    fn direct_fill(&self) -> Option<DirectFill> {
        Some(fill_for::<Self>)
    }

    fn fatal_probe(&self) -> Option<FatalProbe> {
        // Every path that sets `self.fatal` has latched into (or found
        // already latched in) the run state, so `failed()` is the whole
        // answer; the run state outlives the orchestrator.
        Some(FatalProbe { ctx: (self.sh as *const RunShared).cast(), read: run_failed })
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
        let ring = self.current_ring();
        self.held.scope_opened(self.top, self.alloc[ring].next_local);
        self.explicit_scope_begin();
        if mode == ScopeMode::Manual && !self.in_manual_scope() {
            self.manual_begin_depth = self.top;
        }
        self.record_stat(ScopePhase::Begin, site);
    }

    fn scope_end(&mut self) {
        if self.shared_fatal() || self.top < 0 {
            return;
        }
        // Before the scope's release reads them (see `held.rs`).
        self.held.apply();
        self.record_stat(ScopePhase::End, None);
        self.explicit_scope_end();
        let begin = self.scope_begins[self.top as usize];
        if self.top == self.manual_begin_depth {
            self.manual_begin_depth = MAX_SCOPE_DEPTH as i32;
        }
        self.held.scope_closed(self.top);
        self.top -= 1;
        self.release_scope(begin);
        self.scope_size = begin;
        self.flush_wiring();
        if self.sh.orch_done.load(Acquire) && self.sh.all_done() {
            self.sh.end_run();
        }
    }

    fn orchestration_done(&mut self) {
        self.finish();
    }

    fn is_fatal(&self) -> bool {
        debug_assert!(!self.fatal || self.sh.failed(), "orchestrator fatal without a latched run failure");
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

    fn add_dependency(&mut self, producer: u64, consumer: u64) {
        if self.shared_fatal() || self.refuse_after_done("add_dependency") {
            return;
        }
        if !self.explicit_mode() {
            self.mark_fatal(
                codes::INVALID_ARGS,
                "FATAL: Invalid Arg Detected! add_dependency needs explicit-edge mode (aicpu_build_graph ring form); tensormap_and_ringbuffer derives edges from tensors",
            );
            return;
        }
        self.explicit_add(producer, consumer);
    }
}
