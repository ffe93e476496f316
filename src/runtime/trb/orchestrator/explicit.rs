//! Explicit-edge mode (aicpu_build_graph ring form, upstream before
//! acf39009b): no TensorMap, no creator edges. A task's producers are its
//! `Arg` explicit deps plus every `add_dependency(producer, task)` made while
//! its scope is open; the task reaches the wiring queue (and so the
//! schedulers) only when its scope ends. That is upstream's "fanin = deps +
//! 1, scope_end releases the +1" with the +1 held by the orchestrator.
//!
//! Ring 3 serves every depth >= 3, and its fanin spill and dependency pools
//! are reclaimed in task order, so ring-3 tasks are published in submit
//! order: a scope deeper than 3 that ends leaves its ring-3 tasks closed
//! (no more edges into them) but unpublished until the enclosing depth-3
//! scope ends.
//!
//! Cycles are refused when the closing edge is added: the orchestrator keeps
//! every edge of the run and walks the successors of the consumer.

use std::collections::{HashMap, HashSet};

use super::Orchestrator;
use crate::runtime::trb::api::{TaskIdRaw, INVALID_TASK};
use crate::runtime::trb::layout::{codes, task_id, SlotState, MAX_RINGS};

/// A submitted task not yet handed to the wiring queue.
pub(super) struct Pending {
    ring: usize,
    local: u64,
    raw: TaskIdRaw,
    /// Claimed producer slots (each holds one fanout reference).
    fanins: Vec<*const SlotState>,
    /// Producer ids already claimed (dedup).
    producers: Vec<TaskIdRaw>,
    /// Its scope ended: no more edges into it.
    closed: bool,
}

/// Explicit-edge state of one run.
#[derive(Default)]
pub(crate) struct ExplicitEdges {
    pending: Vec<Pending>,
    /// Pending raw id -> index in `pending`.
    index: HashMap<TaskIdRaw, usize>,
    /// `pending.len()` at each open scope's begin.
    begins: Vec<usize>,
    /// Every edge of the run, producer -> consumers (cycle detection).
    succ: HashMap<TaskIdRaw, Vec<TaskIdRaw>>,
}

impl ExplicitEdges {
    /// Whether `to` is reachable from `from` along the run's edges.
    fn reaches(&self, from: TaskIdRaw, to: TaskIdRaw) -> bool {
        let mut stack = vec![from];
        let mut seen = HashSet::new();
        while let Some(t) = stack.pop() {
            if t == to {
                return true;
            }
            if !seen.insert(t) {
                continue;
            }
            if let Some(next) = self.succ.get(&t) {
                stack.extend(next.iter().copied());
            }
        }
        false
    }
}

impl Orchestrator<'_> {
    /// Switches this run's orchestrator to explicit edges.
    pub(crate) fn enable_explicit_edges(&mut self) {
        self.explicit = Some(Box::default());
    }

    pub(super) fn explicit_mode(&self) -> bool {
        self.explicit.is_some()
    }

    /// Whether `raw` names a task submitted in this run.
    pub(super) fn is_submitted(&self, raw: TaskIdRaw) -> bool {
        let r = task_id::ring(raw);
        raw != INVALID_TASK && r < MAX_RINGS && task_id::local(raw) < self.alloc[r].next_local
    }

    /// Scope begin bookkeeping (explicit mode).
    pub(super) fn explicit_scope_begin(&mut self) {
        if let Some(x) = self.explicit.as_mut() {
            x.begins.push(x.pending.len());
        }
    }

    /// Keeps the just-written task (fanins already claimed into
    /// `self.fanins` from its explicit deps) for publication at scope end.
    pub(super) fn defer(&mut self, ring: usize, local: u64, raw: TaskIdRaw, deps: &[TaskIdRaw]) {
        let fanins = std::mem::take(&mut self.fanins);
        let x = self.explicit.as_mut().expect("explicit mode");
        for &d in deps {
            x.succ.entry(d).or_default().push(raw);
        }
        x.index.insert(raw, x.pending.len());
        x.pending.push(Pending { ring, local, raw, fanins, producers: deps.to_vec(), closed: false });
    }

    /// `add_dependency(producer, consumer)` in explicit mode.
    pub(super) fn explicit_add(&mut self, producer: TaskIdRaw, consumer: TaskIdRaw) {
        let bad =
            |what: &str| format!("FATAL: Invalid Arg Detected! add_dependency(0x{producer:x}, 0x{consumer:x}): {what}");
        for (role, id) in [("producer", producer), ("consumer", consumer)] {
            if !self.is_submitted(id) {
                let m = bad(&format!("{role} 0x{id:x} is not a task id submit_task returned in this run"));
                self.mark_fatal(codes::INVALID_ARGS, &m);
                return;
            }
        }
        let x = self.explicit.as_ref().expect("explicit mode");
        let Some(&ci) = x.index.get(&consumer) else {
            let m = bad("the consumer was already published (its scope ended); edges must be added while the consumer's scope is open");
            self.mark_fatal(codes::INVALID_ARGS, &m);
            return;
        };
        if x.pending[ci].closed {
            let m = bad("the consumer's scope already ended; edges must be added while the consumer's scope is open");
            self.mark_fatal(codes::INVALID_ARGS, &m);
            return;
        }
        if x.pending[ci].producers.contains(&producer) {
            return;
        }
        if producer == consumer || x.reaches(consumer, producer) {
            let m = bad("the edge closes a dependency cycle (the producer already depends on the consumer); tasks on a cycle can never become ready");
            self.mark_fatal(codes::INVALID_ARGS, &m);
            return;
        }
        self.next_epoch();
        self.fanins.clear();
        self.claim(producer);
        let claimed = std::mem::take(&mut self.fanins);
        let x = self.explicit.as_mut().expect("explicit mode");
        x.succ.entry(producer).or_default().push(consumer);
        let p = &mut x.pending[ci];
        p.producers.push(producer);
        p.fanins.extend(claimed);
    }

    /// Scope end bookkeeping (explicit mode): closes the innermost scope's
    /// pending tasks and publishes what may be published (see module docs).
    pub(super) fn explicit_scope_end(&mut self) {
        let depth = self.top;
        let Some(x) = self.explicit.as_mut() else {
            return;
        };
        let begin = x.begins.pop().unwrap_or(0).min(x.pending.len());
        for p in &mut x.pending[begin..] {
            p.closed = true;
        }
        // Rings 0..=2 serve one depth each, and a depth-3 scope holds every
        // pending ring-3 task from its begin on: publish. Deeper scopes wait
        // for their depth-3 ancestor (ring-3 tasks go out in submit order).
        if depth < MAX_RINGS as i32 {
            self.publish_pending(begin);
        }
    }

    /// Publishes every pending task from index `from` on, in submit order.
    pub(super) fn publish_pending(&mut self, from: usize) {
        let Some(x) = self.explicit.as_mut() else {
            return;
        };
        let tail: Vec<Pending> = x.pending.drain(from..).collect();
        for p in &tail {
            x.index.remove(&p.raw);
        }
        for p in tail {
            if self.shared_fatal() {
                return;
            }
            self.fanins = p.fanins;
            let ring = &self.sh.rings[p.ring];
            if !self.write_fanins(p.ring, ring.slot(p.local), ring.payload_of(p.local)) {
                return;
            }
            self.publish(ring.slot(p.local));
        }
    }

    /// Orchestration done (explicit mode): publishes everything still pending.
    pub(super) fn explicit_finish(&mut self) {
        if self.explicit.is_some() && !self.shared_fatal() {
            self.publish_pending(0);
            if let Some(x) = self.explicit.as_mut() {
                x.begins.clear();
            }
        }
    }
}
