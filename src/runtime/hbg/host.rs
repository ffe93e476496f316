//! Host side of host_build_graph on the simulated device: loads each
//! callable's orchestration on the host at registration, runs it watched on
//! the context's orchestration thread, executes the built graph on the
//! simulated cores, copies the recorded tensor pairs back only when the whole
//! run succeeded and frees the run's device memory. With `enable_l2_swimlane`
//! it writes the task trace (`<output_prefix>/trace/trace.json`): the graph
//! build on the orchestrator lane, each task on its executor thread's
//! scheduler lane and on its simulated core, the graph's edges as flow arrows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use super::exec::Binder;
use super::graph::Graph;
use super::ops::HbgOrchFn;
use super::watch::{run_watched, OrchThread, Watched};
use crate::callable::Registry;
use crate::config::RuntimeVariant;
use crate::device::memory::DeviceMemory;
use crate::diagnostics::{Error, Result};
use crate::loader::temp_so;
use crate::runtime::trace::{self, OrchMark, Recorder, TaskIds, TraceForm, TraceLog};
use crate::runtime::{RunRequest, RuntimeBackend};

/// How host_build_graph task ids read in a trace: graph indices, no rings or scopes.
const TRACE_FORM: TraceForm = TraceForm { variant: "host_build_graph", ids: TaskIds::Plain };

/// The orchestrator lane of a traced run: the graph build (as the host saw
/// the watched call) and one edge mark per dependency of the graph.
fn orch_marks(graph: &Graph, start_ns: u64, end_ns: u64) -> Vec<OrchMark> {
    let edges: usize = graph.tasks.iter().map(|t| t.fanout.len()).sum();
    let mut marks = Vec::with_capacity(1 + edges);
    marks.push(OrchMark::Build { start_ns, end_ns, tasks: graph.tasks.len(), edges });
    for (p, t) in graph.tasks.iter().enumerate() {
        marks.extend(t.fanout.iter().map(|&c| OrchMark::Edge { producer: p as u64, consumer: u64::from(c) }));
    }
    marks
}

/// A host_build_graph orchestration loaded on the host.
struct HostOrch {
    /// Keeps the object loaded.
    _lib: libloading::os::unix::Library,
    /// The orchestration function.
    func: HbgOrchFn,
}

impl HostOrch {
    /// `dlopen`s the orchestration bytes and looks up `func_name`.
    fn load(bytes: &[u8], func_name: &str) -> Result<HostOrch> {
        if func_name.is_empty() {
            return Err(Error::InvalidCallable("host_build_graph needs func_name (the orchestration function)".into()));
        }
        let lib = temp_so::dlopen_bytes(
            bytes,
            "orch_so_",
            libc::RTLD_NOW | libc::RTLD_LOCAL,
            "host_build_graph orchestration",
        )?;
        let sym = temp_so::lookup(&lib, func_name).ok_or_else(|| {
            Error::Load(format!(
                "host_build_graph orchestration has no symbol '{func_name}' (the callable's func_name)"
            ))
        })?;
        // SAFETY: the symbol is the orchestration function named by the
        // callable; upstream's ABI fixes its type to HbgOrchFn.
        let func = unsafe { std::mem::transmute::<*mut std::ffi::c_void, HbgOrchFn>(sym) };
        Ok(HostOrch { _lib: lib, func })
    }
}

/// Per-context host_build_graph state: the host-loaded orchestration of each
/// callable, the orchestration thread (started at the first run) and the
/// poisoning left by a run that abandoned a stuck thread. A graph is built by
/// each run and lives for that run only.
#[derive(Default)]
pub struct HbgBackend {
    orchs: HashMap<i32, HostOrch>,
    orch_thread: OrchThread,
    poisoned: Option<String>,
}

impl HbgBackend {
    /// Poisons the backend after a run abandoned a thread: the stuck thread
    /// may still use the device memory, the orchestration and kernel SOs, so
    /// all of them are leaked.
    fn poison(&mut self, e: &Error, registry: &mut Registry, memory: &DeviceMemory) {
        memory.leak_all();
        self.poisoned = Some(e.to_string());
        std::mem::forget(std::mem::take(&mut self.orchs));
        std::mem::forget(std::mem::take(registry));
    }
}

impl RuntimeBackend for HbgBackend {
    fn variant(&self) -> RuntimeVariant {
        RuntimeVariant::HostBuildGraph
    }

    fn prepare(&mut self, id: i32, registry: &mut Registry) -> Result<()> {
        let reg = registry.get(id)?;
        let orch = HostOrch::load(&reg.orch_bytes, &reg.func_name)?;
        registry.note_host_load();
        self.orchs.insert(id, orch);
        Ok(())
    }

    fn run(&mut self, req: &RunRequest<'_>, registry: &mut Registry, memory: &Arc<DeviceMemory>) -> Result<u64> {
        let id = req.id;
        let device_id = req.device_id;
        let func =
            self.orchs.get(&id).ok_or_else(|| Error::State(format!("callable {id} has no host orchestration")))?.func;
        crate::kernel::sim_context::clear_pipe_state(device_id)?;
        let epoch = req.trace.then(Instant::now);
        let (mut orch, result) =
            match run_watched(&mut self.orch_thread, func, req.args, memory.clone(), req.timeout_ms) {
                Watched::Done(orch, result) => (orch, result),
                Watched::Abandoned(e) => {
                    // The stuck orchestration thread may still use the device
                    // memory it allocated and the orchestration SO (its
                    // builder and graph are its own).
                    self.poison(&e, registry, memory);
                    return Err(e);
                }
            };
        let t_dev = Instant::now();
        let recorder = epoch.map(|e| Arc::new(Recorder::new(e)));
        let marks = epoch.map(|e| orch_marks(&orch.graph, 0, t_dev.duration_since(e).as_nanos() as u64));
        let mut abandoned = false;
        let mut sched_threads = 0;
        let reg = registry.get(id)?;
        let result = result.and_then(|()| {
            let kernel = |fid: i32| reg.kernel_entry(fid);
            let bind: Binder = Arc::new(move |core| {
                let _ = crate::kernel::sim_context::set_core(core.cluster, core.lane, device_id);
            });
            let out = super::execute(
                &mut orch.graph,
                req.threads as usize,
                req.block_dim,
                &kernel,
                bind,
                req.timeout_ms,
                recorder.clone(),
            );
            abandoned = out.abandoned;
            sched_threads = out.threads;
            out.result
        });
        if abandoned {
            // A thread stuck in a kernel may still use the run's device
            // memory and the kernel SOs.
            std::mem::forget(orch);
            let e = result.err().unwrap_or_else(|| Error::State("a host_build_graph thread was abandoned".into()));
            self.poison(&e, registry, memory);
            return Err(e);
        }
        let device_ns = t_dev.elapsed().as_nanos() as u64;
        let mut result = result;
        if let (Some(rec), Some(orch_marks)) = (recorder, marks) {
            // Written for failed runs too (the trace shows how far the run got);
            // a failed write fails a successful run before any copy-back.
            let log = TraceLog { spans: rec.take(), orch: orch_marks, block_dim: req.block_dim, sched_threads };
            if let Err(e) = trace::write(req.output_prefix, &log, device_id, &TRACE_FORM) {
                match result {
                    Ok(()) => result = Err(e),
                    Err(_) => crate::diagnostics::log::warn("host_build_graph", &e.to_string()),
                }
            }
        }
        // Copy back only after a fully successful run; always release device memory.
        if result.is_ok() {
            for p in &orch.pairs {
                // SAFETY: the host pointer and size were recorded by the
                // orchestration for exactly this copy-back (upstream contract);
                // the device range is checked by copy_from_device.
                if let Err(e) = unsafe { memory.copy_from_device(p.host, p.dev, p.size) } {
                    result = Err(e);
                    break;
                }
            }
        }
        let mut freed: HashSet<usize> = HashSet::new();
        for p in orch.pairs.iter().map(|p| p.dev).chain(orch.allocations.iter().copied()) {
            if freed.insert(p as usize) {
                let _ = memory.free(p);
            }
        }
        result.map(|()| device_ns)
    }

    fn unregister(&mut self, id: i32) {
        self.orchs.remove(&id);
    }

    fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }
}
