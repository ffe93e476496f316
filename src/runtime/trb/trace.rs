//! Task trace of a tensormap_and_ringbuffer run (`enable_l2_swimlane`):
//! every subtask execution per simulated core, the scopes and submits of the
//! orchestrator, and dependency edges, written as Chrome Trace Event Format
//! JSON (`<output_prefix>/trace/trace.json`, loads in Perfetto and
//! chrome://tracing).
//!
//! Cost: disabled, a scheduler tests one run-constant `bool` per dispatch.
//! Enabled, each scheduler thread pushes a [`TaskSpan`] to its own
//! preallocated `Vec` (two clock reads per dispatch); the buffers are merged
//! under one lock per thread at the end of its loop. The orchestrator is
//! wrapped by [`TracingOrch`] only when tracing, so the plain run has no
//! extra indirection. The event model and the JSON writer are shared by the
//! runtime variants (`crate::runtime::trace`); this file holds TRB's
//! recording glue.

use std::collections::HashMap;
use std::time::Instant;

use super::api::{
    MixedKernelIds, OrchestratorApi, ScopeMode, SubmitOutcome, TaskArgsView, TaskIdRaw, TensorArg, INVALID_TASK,
};
use crate::abi::tensor::Tensor;
pub(crate) use crate::runtime::trace::{since, OrchMark, TaskSpan, TraceLog, TraceSink, SPANS_PER_THREAD};
use crate::runtime::trace::{TaskIds, TraceForm};

/// How tensormap_and_ringbuffer task ids read: `(ring << 32) | local`.
const FORM: TraceForm = TraceForm { variant: "tensormap_and_ringbuffer", ids: TaskIds::RingLocal };

/// Wraps the orchestrator while tracing: records scope begin/end, submits
/// (with the scope depth) and producer→consumer edges. Edges come from the
/// explicit dependencies and from exact buffer matches (a task reading the
/// buffer a previous task wrote, same address and offset); overlapping
/// sub-views are the TensorMap's business and not drawn.
pub(crate) struct TracingOrch<'a> {
    inner: &'a mut dyn OrchestratorApi,
    epoch: Instant,
    depth: i32,
    writer: HashMap<(u64, u64), TaskIdRaw>,
    pub(crate) marks: Vec<OrchMark>,
}

impl<'a> TracingOrch<'a> {
    /// `depth` is the depth of the scope already open.
    pub(crate) fn new(inner: &'a mut dyn OrchestratorApi, epoch: Instant, depth: i32) -> TracingOrch<'a> {
        let mut marks = Vec::with_capacity(1024);
        marks.push(OrchMark::ScopeBegin { ts_ns: since(epoch), depth });
        TracingOrch { inner, epoch, depth, writer: HashMap::new(), marks }
    }

    fn key(t: &Tensor) -> (u64, u64) {
        (t.buffer_addr, t.start_offset)
    }

    fn note(&mut self, args: &TaskArgsView<'_>, out: &SubmitOutcome) {
        let id = out.task_id;
        if id == INVALID_TASK {
            return;
        }
        self.marks.push(OrchMark::Submit { ts_ns: since(self.epoch), task: id, depth: self.depth });
        let mut producers: Vec<TaskIdRaw> = args.explicit_deps.to_vec();
        for a in args.tensors {
            if let TensorArg::Input(t) | TensorArg::Inout(t) = a {
                if let Some(&p) = self.writer.get(&Self::key(t)) {
                    producers.push(p);
                }
            }
        }
        producers.sort_unstable();
        producers.dedup();
        for p in producers.into_iter().filter(|&p| p != id && p != INVALID_TASK) {
            self.marks.push(OrchMark::Edge { producer: p, consumer: id });
        }
        for a in args.tensors {
            if let TensorArg::Inout(t) | TensorArg::OutputExisting(t) = a {
                self.writer.insert(Self::key(t), id);
            }
        }
        for &t in &out.outputs {
            if !t.is_null() {
                // SAFETY: the pointer was just returned by this submit and points into
                // the task's payload slot, which the open scope keeps alive (a task
                // is reclaimed only after its scope ends); two plain fields are read.
                let k = unsafe { ((*t).buffer_addr, (*t).start_offset) };
                self.writer.insert(k, id);
            }
        }
    }

    /// Closes the trace of the orchestration (the remaining scopes close after).
    pub(crate) fn finish(mut self) -> Vec<OrchMark> {
        while self.depth > 0 {
            self.marks.push(OrchMark::ScopeEnd { ts_ns: since(self.epoch), depth: self.depth });
            self.depth -= 1;
        }
        let ts_ns = since(self.epoch);
        self.marks.push(OrchMark::ScopeEnd { ts_ns, depth: 0 });
        self.marks.push(OrchMark::Done { ts_ns });
        self.marks
    }
}

impl OrchestratorApi for TracingOrch<'_> {
    fn submit_task(&mut self, kernels: MixedKernelIds, args: &TaskArgsView<'_>) -> SubmitOutcome {
        let out = self.inner.submit_task(kernels, args);
        self.note(args, &out);
        out
    }
    fn submit_dummy_task(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        let out = self.inner.submit_dummy_task(args);
        self.note(args, &out);
        out
    }
    fn alloc_tensors(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        self.inner.alloc_tensors(args)
    }
    fn scope_begin(&mut self, mode: ScopeMode) {
        self.inner.scope_begin(mode);
        self.depth += 1;
        self.marks.push(OrchMark::ScopeBegin { ts_ns: since(self.epoch), depth: self.depth });
    }
    fn scope_end(&mut self) {
        self.inner.scope_end();
        if self.depth > 0 {
            self.marks.push(OrchMark::ScopeEnd { ts_ns: since(self.epoch), depth: self.depth });
            self.depth -= 1;
        }
    }
    fn orchestration_done(&mut self) {
        self.inner.orchestration_done()
    }
    fn is_fatal(&self) -> bool {
        self.inner.is_fatal()
    }
    fn report_fatal(&mut self, code: i32, message: &str) {
        self.inner.report_fatal(code, message)
    }
    fn get_tensor_data(&mut self, tensor: &Tensor, indices: &[u32]) -> u64 {
        self.inner.get_tensor_data(tensor, indices)
    }
    fn set_tensor_data(&mut self, tensor: &Tensor, indices: &[u32], value: u64) {
        self.inner.set_tensor_data(tensor, indices, value)
    }
    fn scope_set_site(&mut self, file: &str, line: i32) {
        self.inner.scope_set_site(file, line)
    }
    fn add_dependency(&mut self, producer: TaskIdRaw, consumer: TaskIdRaw) {
        self.inner.add_dependency(producer, consumer)
    }
}

/// Writes `<prefix>/trace/trace.json`; returns the path.
pub(crate) fn write(prefix: &str, log: &TraceLog, device_id: i32) -> crate::diagnostics::Result<String> {
    crate::runtime::trace::write(prefix, log, device_id, &FORM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_lanes_and_escapes_nothing_needed() {
        let log = TraceLog {
            spans: vec![TaskSpan {
                task: 1 << 32,
                func: 2,
                core: 3,
                sched: 0,
                lead: true,
                start_ns: 1500,
                end_ns: 4000,
            }],
            orch: vec![
                OrchMark::ScopeBegin { ts_ns: 0, depth: 0 },
                OrchMark::Submit { ts_ns: 10, task: 1 << 32, depth: 1 },
                OrchMark::ScopeEnd { ts_ns: 5000, depth: 0 },
            ],
            block_dim: 2,
            sched_threads: 1,
        };
        let j = crate::runtime::trace::to_json(&log, 0, &FORM);
        assert!(j.contains("\"AIV 0.1\""), "{j}");
        assert!(j.contains("\"ts\":1.500,\"dur\":2.500"), "{j}");
        assert!(j.contains("\"ring\":1,\"local\":0,\"func\":2,\"scope_depth\":1"), "{j}");
        assert!(j.contains("\"name\":\"scheduler 0\""), "{j}");
    }
}
