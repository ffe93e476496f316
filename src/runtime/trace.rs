//! The task trace of a run (`enable_l2_swimlane`), shared by the runtime
//! variants: the event model (subtask executions per simulated core,
//! orchestrator-lane marks, dependency edges), the lanes, and the writer of
//! Chrome Trace Event Format JSON (`<output_prefix>/trace/trace.json`, loads
//! in Perfetto and chrome://tracing). Each variant records into these types
//! from its own glue and says how its task ids read (`TraceForm`).
//!
//! Lanes (`tid`): 0 the orchestrator, `1 + k` scheduler thread `k`,
//! `100 + c` simulated core `c` (AIC `0..block_dim`, then AIV `c.lane`).
//! Timestamps are µs with ns digits since the run's epoch.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

/// Spans a scheduler thread preallocates when tracing.
pub(crate) const SPANS_PER_THREAD: usize = 4096;

/// A raw task id as the variant numbers its tasks (see [`TaskIds`]).
pub(crate) type TaskId = u64;

/// One subtask execution on one simulated core.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskSpan {
    pub(crate) task: TaskId,
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
    ScopeBegin {
        ts_ns: u64,
        depth: i32,
    },
    ScopeEnd {
        ts_ns: u64,
        depth: i32,
    },
    Submit {
        ts_ns: u64,
        task: TaskId,
        depth: i32,
    },
    Edge {
        producer: TaskId,
        consumer: TaskId,
    },
    Done {
        ts_ns: u64,
    },
    /// The orchestration building a whole graph before any task runs.
    Build {
        start_ns: u64,
        end_ns: u64,
        tasks: usize,
        edges: usize,
    },
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

/// A run's span recorder: its clock epoch and the sink its threads merge
/// into. Passed to an executor only when the run is traced.
#[derive(Debug)]
pub struct Recorder {
    epoch: Instant,
    sink: TraceSink,
}

impl Recorder {
    /// A recorder whose timestamps count from `epoch`.
    pub(crate) fn new(epoch: Instant) -> Recorder {
        Recorder { epoch, sink: TraceSink::default() }
    }

    /// Nanoseconds since the epoch.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        since(self.epoch)
    }

    /// Appends (and empties) one thread's spans.
    pub(crate) fn merge(&self, spans: &mut Vec<TaskSpan>) {
        self.sink.merge(spans)
    }

    /// Every span merged so far.
    pub(crate) fn take(&self) -> Vec<TaskSpan> {
        self.sink.take()
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

/// How a variant's task ids read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskIds {
    /// `(ring << 32) | local`, submitted at a scope depth: events carry
    /// `ring`, `local` and `scope_depth` args.
    RingLocal,
    /// A plain index into a static graph, no rings or scopes: events carry
    /// `task` and `func` only.
    Plain,
}

/// What the document says about the variant that produced it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TraceForm {
    /// Runtime variant name (in the process name).
    pub(crate) variant: &'static str,
    pub(crate) ids: TaskIds,
}

/// Nanoseconds since `epoch`.
#[inline]
pub(crate) fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

const PID: u32 = 1;
const TID_ORCH: u32 = 0;
const TID_SCHED0: u32 = 1;
const TID_CORE0: u32 = 100;

fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

fn ring(task: TaskId) -> u64 {
    task >> 32
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
pub(crate) fn to_json(log: &TraceLog, device_id: i32, form: &TraceForm) -> String {
    let ringed = form.ids == TaskIds::RingLocal;
    let mut depth_of: HashMap<TaskId, i32> = HashMap::new();
    for m in &log.orch {
        if let OrchMark::Submit { task, depth, .. } = *m {
            depth_of.insert(task, depth);
        }
    }
    let mut s = String::with_capacity(256 + 200 * (log.spans.len() + log.orch.len()));
    let _ = write!(
        s,
        "{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n{{\"ph\":\"M\",\"pid\":{PID},\"name\":\"process_name\",\
         \"args\":{{\"name\":\"simpler device {device_id} ({})\"}}}}",
        form.variant
    );
    if !ringed {
        let _ = write!(
            s,
            ",\n{{\"ph\":\"M\",\"pid\":{PID},\"name\":\"process_labels\",\
             \"args\":{{\"labels\":\"static task graph: no rings, no scopes\"}}}}"
        );
    }
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
                let args = if ringed {
                    format!("{{\"task\":{task},\"ring\":{},\"scope_depth\":{depth}}}", ring(task))
                } else {
                    format!("{{\"task\":{task}}}")
                };
                let _ = write!(
                    s,
                    ",\n{{\"ph\":\"i\",\"s\":\"t\",\"pid\":{PID},\"tid\":{TID_ORCH},\"ts\":{},\"name\":\"submit {task}\",\
                     \"cat\":\"submit\",\"args\":{args}}}",
                    us(ts_ns)
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
            OrchMark::Build { start_ns, end_ns, tasks, edges } => {
                let _ = write!(
                    s,
                    ",\n{{\"ph\":\"X\",\"pid\":{PID},\"tid\":{TID_ORCH},\"ts\":{},\"dur\":{},\"name\":\"build graph\",\
                     \"cat\":\"orchestration\",\"args\":{{\"tasks\":{tasks},\"edges\":{edges}}}}}",
                    us(start_ns),
                    us(end_ns.saturating_sub(start_ns))
                );
            }
        }
    }
    // Per task: the earliest start and the latest end over its subtasks (flow anchors).
    let mut first: HashMap<TaskId, (u64, u32)> = HashMap::new();
    let mut last: HashMap<TaskId, (u64, u32)> = HashMap::new();
    for p in &log.spans {
        let (args, name) = if ringed {
            let depth = depth_of.get(&p.task).copied().unwrap_or(-1);
            let ring = ring(p.task);
            let local = p.task & 0xFFFF_FFFF;
            (
                format!(
                    "{{\"task\":{},\"ring\":{ring},\"local\":{local},\"func\":{},\"scope_depth\":{depth},\"core\":{},\"scheduler\":{}}}",
                    p.task, p.func, p.core, p.sched
                ),
                format!("task {ring}.{local} f{}", p.func),
            )
        } else {
            (
                format!("{{\"task\":{},\"func\":{},\"core\":{},\"scheduler\":{}}}", p.task, p.func, p.core, p.sched),
                format!("task {} f{}", p.task, p.func),
            )
        };
        let (ts, dur) = (us(p.start_ns), us(p.end_ns.saturating_sub(p.start_ns)));
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
pub(crate) fn write(
    prefix: &str,
    log: &TraceLog,
    device_id: i32,
    form: &TraceForm,
) -> crate::diagnostics::Result<String> {
    let dir = std::path::Path::new(prefix).join("trace");
    let path = dir.join("trace.json");
    let shown = path.display().to_string();
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&path, to_json(log, device_id, form)))
        .map_err(|e| crate::diagnostics::Error::Io(format!("cannot write task trace {shown}: {e}")))?;
    Ok(shown)
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
