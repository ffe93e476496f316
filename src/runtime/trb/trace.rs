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
//! extra indirection.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use super::api::{
    MixedKernelIds, OrchestratorApi, ScopeMode, SubmitOutcome, TaskArgsView, TaskIdRaw, TensorArg, INVALID_TASK,
};
use super::layout::task_id;
use crate::abi::tensor::Tensor;

/// Spans a scheduler thread preallocates when tracing.
pub(crate) const SPANS_PER_THREAD: usize = 4096;

/// One subtask execution on one simulated core.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskSpan {
    pub(crate) task: TaskIdRaw,
    pub(crate) func: i32,
    pub(crate) core: u32,
    pub(crate) sched: u32,
    /// First core of its dispatch (the scheduler lane shows only this one).
    pub(crate) lead: bool,
    pub(crate) start_ns: u64,
    pub(crate) end_ns: u64,
}

/// An orchestrator-lane event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OrchMark {
    ScopeBegin { ts_ns: u64, depth: i32 },
    ScopeEnd { ts_ns: u64, depth: i32 },
    Submit { ts_ns: u64, task: TaskIdRaw, depth: i32 },
    Edge { producer: TaskIdRaw, consumer: TaskIdRaw },
    Done { ts_ns: u64 },
}

/// Where scheduler threads merge their spans at the end of their loop.
#[derive(Debug, Default)]
pub(crate) struct TraceSink {
    spans: Mutex<Vec<TaskSpan>>,
}

impl TraceSink {
    pub(crate) fn merge(&self, spans: &mut Vec<TaskSpan>) {
        self.spans.lock().unwrap_or_else(|e| e.into_inner()).append(spans);
    }

    pub(crate) fn take(&self) -> Vec<TaskSpan> {
        std::mem::take(&mut *self.spans.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Everything one traced run recorded.
#[derive(Debug, Default, Clone)]
pub(crate) struct TraceLog {
    pub(crate) spans: Vec<TaskSpan>,
    pub(crate) orch: Vec<OrchMark>,
    pub(crate) block_dim: u32,
    pub(crate) sched_threads: usize,
}

/// Nanoseconds since `epoch`.
#[inline]
pub(crate) fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

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

const PID: u32 = 1;
const TID_ORCH: u32 = 0;
const TID_SCHED0: u32 = 1;
const TID_CORE0: u32 = 100;

fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

fn core_name(core: u32, block_dim: u32) -> String {
    if core < block_dim {
        format!("AIC {core}")
    } else {
        let v = core - block_dim;
        format!("AIV {}.{}", v / 2, v % 2)
    }
}

fn meta(s: &mut String, tid: u32, name: &str, sort: u32) {
    let _ = write!(
        s,
        ",\n{{\"ph\":\"M\",\"pid\":{PID},\"tid\":{tid},\"name\":\"thread_name\",\"args\":{{\"name\":\"{name}\"}}}}\
         ,\n{{\"ph\":\"M\",\"pid\":{PID},\"tid\":{tid},\"name\":\"thread_sort_index\",\"args\":{{\"sort_index\":{sort}}}}}"
    );
}

/// Renders `log` as a Chrome Trace Event Format document (timestamps in µs).
pub(crate) fn to_json(log: &TraceLog, device_id: i32) -> String {
    let mut depth_of: HashMap<TaskIdRaw, i32> = HashMap::new();
    for m in &log.orch {
        if let OrchMark::Submit { task, depth, .. } = *m {
            depth_of.insert(task, depth);
        }
    }
    let mut s = String::with_capacity(256 + 200 * (log.spans.len() + log.orch.len()));
    let _ = write!(
        s,
        "{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n{{\"ph\":\"M\",\"pid\":{PID},\"name\":\"process_name\",\
         \"args\":{{\"name\":\"simpler device {device_id} (tensormap_and_ringbuffer)\"}}}}"
    );
    meta(&mut s, TID_ORCH, "orchestrator", 0);
    for k in 0..log.sched_threads as u32 {
        meta(&mut s, TID_SCHED0 + k, &format!("scheduler {k}"), 1 + k);
    }
    let mut cores: Vec<u32> = log.spans.iter().map(|p| p.core).collect();
    cores.sort_unstable();
    cores.dedup();
    for &c in &cores {
        meta(&mut s, TID_CORE0 + c, &core_name(c, log.block_dim), TID_CORE0 + c);
    }
    for m in &log.orch {
        match *m {
            OrchMark::ScopeBegin { ts_ns, depth } => {
                let _ = write!(
                    s,
                    ",\n{{\"ph\":\"B\",\"pid\":{PID},\"tid\":{TID_ORCH},\"ts\":{},\"name\":\"scope depth {depth}\",\
                     \"cat\":\"scope\",\"args\":{{\"depth\":{depth}}}}}",
                    us(ts_ns)
                );
            }
            OrchMark::ScopeEnd { ts_ns, depth } => {
                let _ = write!(
                    s,
                    ",\n{{\"ph\":\"E\",\"pid\":{PID},\"tid\":{TID_ORCH},\"ts\":{},\"cat\":\"scope\",\"args\":{{\"depth\":{depth}}}}}",
                    us(ts_ns)
                );
            }
            OrchMark::Submit { ts_ns, task, depth } => {
                let _ = write!(
                    s,
                    ",\n{{\"ph\":\"i\",\"s\":\"t\",\"pid\":{PID},\"tid\":{TID_ORCH},\"ts\":{},\"name\":\"submit {task}\",\
                     \"cat\":\"submit\",\"args\":{{\"task\":{task},\"ring\":{},\"scope_depth\":{depth}}}}}",
                    us(ts_ns),
                    task_id::ring(task)
                );
            }
            OrchMark::Edge { .. } => {}
            OrchMark::Done { ts_ns } => {
                let _ = write!(
                    s,
                    ",\n{{\"ph\":\"i\",\"s\":\"t\",\"pid\":{PID},\"tid\":{TID_ORCH},\"ts\":{},\"name\":\"orchestration done\",\"cat\":\"scope\"}}",
                    us(ts_ns)
                );
            }
        }
    }
    // Per task: the earliest start and the latest end over its subtasks (flow anchors).
    let mut first: HashMap<TaskIdRaw, (u64, u32)> = HashMap::new();
    let mut last: HashMap<TaskIdRaw, (u64, u32)> = HashMap::new();
    for p in &log.spans {
        let depth = depth_of.get(&p.task).copied().unwrap_or(-1);
        let ring = task_id::ring(p.task);
        let local = p.task & 0xFFFF_FFFF;
        let args = format!(
            "{{\"task\":{},\"ring\":{ring},\"local\":{local},\"func\":{},\"scope_depth\":{depth},\"core\":{},\"scheduler\":{}}}",
            p.task, p.func, p.core, p.sched
        );
        let (ts, dur) = (us(p.start_ns), us(p.end_ns.saturating_sub(p.start_ns)));
        let name = format!("task {ring}.{local} f{}", p.func);
        let tid = TID_CORE0 + p.core;
        let _ = write!(
            s,
            ",\n{{\"ph\":\"X\",\"pid\":{PID},\"tid\":{tid},\"ts\":{ts},\"dur\":{dur},\"name\":\"{name}\",\"cat\":\"task\",\"args\":{args}}}"
        );
        if p.lead {
            let _ = write!(
                s,
                ",\n{{\"ph\":\"X\",\"pid\":{PID},\"tid\":{},\"ts\":{ts},\"dur\":{dur},\"name\":\"{name}\",\"cat\":\"dispatch\",\"args\":{args}}}",
                TID_SCHED0 + p.sched
            );
        }
        let f = first.entry(p.task).or_insert((p.start_ns, tid));
        if p.start_ns < f.0 {
            *f = (p.start_ns, tid);
        }
        let l = last.entry(p.task).or_insert((p.end_ns, tid));
        if p.end_ns > l.0 {
            *l = (p.end_ns, tid);
        }
    }
    let mut flow = 0u64;
    for m in &log.orch {
        if let OrchMark::Edge { producer, consumer } = *m {
            let (Some(&(pe, pt)), Some(&(cs, ct))) = (last.get(&producer), first.get(&consumer)) else {
                continue;
            };
            flow += 1;
            // The start sits just inside the producer's slice, the finish binds to the consumer's.
            let _ = write!(
                s,
                ",\n{{\"ph\":\"s\",\"id\":{flow},\"pid\":{PID},\"tid\":{pt},\"ts\":{},\"name\":\"dep\",\"cat\":\"dep\",\
                 \"args\":{{\"producer\":{producer},\"consumer\":{consumer}}}}}\
                 ,\n{{\"ph\":\"f\",\"bp\":\"e\",\"id\":{flow},\"pid\":{PID},\"tid\":{ct},\"ts\":{},\"name\":\"dep\",\"cat\":\"dep\"}}",
                us(pe.saturating_sub(1)),
                us(cs)
            );
        }
    }
    s.push_str("\n]}\n");
    s
}

/// Writes `<prefix>/trace/trace.json`; returns the path.
pub(crate) fn write(prefix: &str, log: &TraceLog, device_id: i32) -> crate::diagnostics::Result<String> {
    let dir = std::path::Path::new(prefix).join("trace");
    let path = dir.join("trace.json");
    let shown = path.display().to_string();
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&path, to_json(log, device_id)))
        .map_err(|e| crate::diagnostics::Error::Io(format!("cannot write task trace {shown}: {e}")))?;
    Ok(shown)
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
        let j = to_json(&log, 0);
        assert!(j.contains("\"AIV 0.1\""), "{j}");
        assert!(j.contains("\"ts\":1.500,\"dur\":2.500"), "{j}");
        assert!(j.contains("\"ring\":1,\"local\":0,\"func\":2,\"scope_depth\":1"), "{j}");
        assert!(j.contains("\"name\":\"scheduler 0\""), "{j}");
    }
}
