//! Host side of tensormap_and_ringbuffer on the simulated device: takes the
//! run's resolved [`RingSizing`] as the arena key, carves the engine's tables
//! out of the prebuilt arena for that key (built once, reused while the key is
//! unchanged, lazily committed), stages tensors by signature, runs the
//! orchestration SO on the calling thread while the engine schedules, maps
//! the PTO2 status, writes scope statistics and copies outputs back only on
//! success.

use std::time::Instant;

use super::arena::{ArenaCache, PreparedArena};
use super::engine::{CoreExecutor, EngineConfig, RunParams, RunReport, SimCore, TrbEngine};
use super::idle_trim::{self, IdleTrimmer, SharedArenas};
use super::layout::{codes, RingMemory, TrbMemory};
use super::shared::FatalSource;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::orchestration::so::OrchestrationSo;
use crate::callable::Registry;
use crate::config::{RingSizing, RuntimeVariant};
use crate::device::memory::DeviceMemory;
use crate::device::staging;
use crate::diagnostics::{Error, Result};
use crate::kernel::KernelTable;
use crate::runtime::{RunRequest, RuntimeBackend};

/// Per-device TRB state: the engine (threads persist across runs, parked
/// when idle) and the prebuilt arena cache.
///
/// # Stuck user code
/// When a run abandons a thread stuck in user code (see [`TrbEngine::run`]),
/// the device is poisoned: every later run fails with "context poisoned,
/// finalize and re-create", and everything the stuck thread may still touch
/// is leaked, never freed or reused: the arena cache, the callable registry
/// (kernel and orchestration SOs stay loaded; the context's registry is left
/// empty), the run's executor and orchestration closure, and every device
/// allocation of the context (no longer tracked, never freed). Its threads
/// are detached, never joined, so neither finalize nor process exit waits
/// for them.
pub struct TrbDevice {
    engine: TrbEngine,
    /// Shared with the idle trimmer; a run holds the lock throughout.
    arenas: SharedArenas,
    idle: IdleTrimmer,
    timeout_ms: u64,
}

impl TrbDevice {
    /// Why the device is poisoned (a run abandoned a stuck thread), if it is.
    pub fn poisoned(&self) -> Option<&str> {
        self.engine.poisoned()
    }
}

impl Drop for TrbDevice {
    fn drop(&mut self) {
        self.idle.stop();
        if self.engine.poisoned().is_some() {
            // The stuck thread may still use the arenas.
            std::mem::forget(self.arenas.clone());
        }
    }
}

impl TrbDevice {
    /// Creates the engine; `timeout_ms` is the latched per-device watchdog.
    pub fn new(timeout_ms: u64) -> Result<TrbDevice> {
        Ok(TrbDevice {
            engine: TrbEngine::new(EngineConfig::default())?,
            arenas: Arc::new(Mutex::new(ArenaCache::new())),
            idle: IdleTrimmer::default(),
            timeout_ms,
        })
    }

    /// How many times an arena was built (reuse is visible as a constant count).
    pub fn arena_builds(&self) -> u64 {
        idle_trim::lock(&self.arenas).builds()
    }
}

/// Builds the engine's memory map from a prepared arena: SM rings from the
/// shared-memory layout, ring heaps from the GM heap, tables from the arena
/// offsets. The one layout computation (`ArenaLayout`) decides every address.
pub(crate) fn memory_of(a: &PreparedArena) -> TrbMemory {
    let l = &a.layout;
    let sm = a.sm.as_ptr();
    let heap = a.heap.as_ptr();
    let arena = a.arena.as_ptr();
    let at = |base: *mut u8, off: u64| -> *mut u8 { base.wrapping_add(off as usize) };
    let rings = std::array::from_fn(|r| {
        let s = &l.sm.rings[r];
        RingMemory {
            descriptors: at(sm, s.descriptors).cast(),
            payloads: at(sm, s.payloads).cast(),
            hot_payloads: at(a.hot.as_ptr(), l.hot_payloads[r]).cast(),
            slot_states: at(sm, s.slot_states).cast(),
            heap: at(heap, l.heap_offset(r)),
            fanin_spill: at(arena, l.offsets.orch.fanin_pool[r]).cast(),
            fanin_seen_epoch: at(arena, l.offsets.orch.fanin_seen_epoch[r]).cast(),
            task_entry_heads: at(arena, l.offsets.orch.task_entry_heads[r]).cast(),
            dep_list: at(arena, l.offsets.sched.dep_pools[r]).cast(),
        }
    });
    let q = &l.offsets.sched;
    TrbMemory {
        rings,
        scope_tasks: at(arena, l.offsets.orch.scope_tasks).cast(),
        tm_buckets: at(arena, l.offsets.orch.tensormap_buckets).cast(),
        tm_entries: at(arena, l.offsets.orch.tensormap_entries).cast(),
        tm_free_list: at(arena, l.offsets.orch.tensormap_free_list).cast(),
        ready_queues: [
            at(arena, q.ready_queues[0]).cast(),
            at(arena, q.ready_queues[1]).cast(),
            at(arena, q.ready_queues[2]).cast(),
            at(arena, q.dummy_ready_queue).cast(),
        ],
        wiring: at(arena, q.wiring_queue).cast(),
    }
}

/// Runs kernels from the callable's kernel table on the calling thread,
/// publishing the simulated core's identity to kernels first. The engine
/// calls the table directly on its inline path ([`CoreExecutor::kernels`]).
struct KernelExecutor<'a> {
    table: KernelTable<'a>,
}

impl CoreExecutor for KernelExecutor<'_> {
    fn run_subtask(&self, func_id: i32, args: *mut u64, core: SimCore) -> std::result::Result<(), String> {
        self.run_subtask_on(func_id, args, core, true)
    }

    /// Publishes the core identity only when the thread's core changed.
    fn run_subtask_on(
        &self,
        func_id: i32,
        args: *mut u64,
        core: SimCore,
        core_changed: bool,
    ) -> std::result::Result<(), String> {
        // SAFETY: the table's entries are `kernel_entry`s of kernel SOs that
        // stay loaded for the whole run (the registry entry outlives it);
        // `args` is the 50-slot argument array of the dispatch payload the
        // engine built for this subtask.
        unsafe { self.table.run(func_id, args, core.cluster, core.lane, core_changed) }
    }

    /// No Rust code here can panic (a table lookup, a TLS setter, the kernel
    /// behind the exception-catching C++ trampoline).
    fn may_unwind(&self) -> bool {
        false
    }

    fn kernels(&self) -> Option<&KernelTable<'_>> {
        Some(&self.table)
    }
}

/// The debug-level line of a finished run: status, the first orchestrator
/// and scheduler codes, tasks completed of total, and the stall locator of a
/// timeout.
fn run_summary(id: i32, r: &RunReport) -> String {
    let mut line = format!(
        "run of callable {id}: status {}, orchestrator code {}, scheduler code {}, {} of {} tasks completed",
        r.status, r.orch_error_code, r.sched_error_code, r.completed_tasks, r.total_tasks
    );
    if r.stall_detail != 0 {
        let s = &r.stall;
        line.push_str(&format!(
            "; stall {} ({} of {} done, {} running, {} ready, {} waiting)",
            r.stall_detail, s.completed, s.total, s.running, s.ready, s.waiting
        ));
    }
    line
}

fn runtime_error(report: &RunReport) -> Error {
    let code = report.status.unsigned_abs() as i32;
    Error::Runtime { code, name: codes::name(code), message: report.message.clone() }
}

fn write_scope_stats(prefix: &str, report: &RunReport) -> Result<()> {
    let dir = std::path::Path::new(prefix).join("scope_stats");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join("scope_stats.jsonl");
    std::fs::write(&path, super::scope_stats_jsonl(report))
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))
}

/// The tensormap_and_ringbuffer backend of a context: the per-device state
/// (created at the first run, so a context that never runs a TRB callable
/// builds no engine or arena) and each callable's orchestration SO, loaded at
/// its first run (upstream's device-side dlopen) and kept until unregister.
#[derive(Default)]
pub struct TrbBackend {
    device: Option<TrbDevice>,
    orchs: HashMap<i32, OrchestrationSo>,
}

impl RuntimeBackend for TrbBackend {
    fn variant(&self) -> RuntimeVariant {
        RuntimeVariant::TensormapAndRingbuffer
    }

    fn prepare(&mut self, _id: i32, _registry: &mut Registry) -> Result<()> {
        // The orchestration is loaded at the callable's first run.
        Ok(())
    }

    fn run(&mut self, req: &RunRequest<'_>, registry: &mut Registry, memory: &Arc<DeviceMemory>) -> Result<u64> {
        if self.device.is_none() {
            self.device = Some(TrbDevice::new(req.timeout_ms)?);
        }
        let trb = self.device.as_mut().expect("created above");
        run(trb, &mut self.orchs, registry, memory, req)
    }

    fn unregister(&mut self, id: i32) {
        self.orchs.remove(&id);
    }

    fn poisoned(&self) -> Option<&str> {
        self.device.as_ref().and_then(|d| d.poisoned())
    }

    fn arena_builds(&self) -> u64 {
        self.device.as_ref().map_or(0, |d| d.arena_builds())
    }
}

/// An orchestration a TRB-engine run executes on its orchestrator thread:
/// a TRB orchestration SO, or another variant's program driving the same
/// engine (aicpu_build_graph's ring form).
pub(crate) trait OrchProgram {
    /// Runs the orchestration against `api`.
    ///
    /// # Safety
    /// `args` points to the staged, 64-aligned `ChipStorageTaskArgs` and
    /// stays valid for the call; no other thread runs this program meanwhile.
    unsafe fn run_on(&self, api: &mut dyn super::api::OrchestratorApi, args: *const u8) -> Result<()>;
}

impl OrchProgram for OrchestrationSo {
    unsafe fn run_on(&self, api: &mut dyn super::api::OrchestratorApi, args: *const u8) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { self.run(api, args) }
    }
}

/// Fails when `trb` cannot run `req` (poisoned, or no scheduler thread).
pub(crate) fn check_runnable(trb: &TrbDevice, req: &RunRequest<'_>, variant: &str) -> Result<()> {
    if let Some(p) = trb.poisoned() {
        return Err(Error::State(format!("context poisoned, finalize and re-create the device context: {p}")));
    }
    if req.threads < 2 {
        return Err(Error::InvalidArgument(format!(
            "aicpu_thread_num = {} leaves no scheduler thread for {variant}: must be in [2, 4] (schedulers + 1 orchestrator)",
            req.threads
        )));
    }
    Ok(())
}

/// Runs callable `req.id` on the TRB engine. Returns the device wall time.
fn run(
    trb: &mut TrbDevice,
    orchs: &mut HashMap<i32, OrchestrationSo>,
    registry: &mut Registry,
    memory: &DeviceMemory,
    req: &RunRequest<'_>,
) -> Result<u64> {
    let id = req.id;
    check_runnable(trb, req, "tensormap_and_ringbuffer")?;
    // Load the orchestration SO at the first run of this id (upstream's
    // device-side dlopen), kept until unregister.
    let reg = registry.get(id)?;
    if let std::collections::hash_map::Entry::Vacant(slot) = orchs.entry(id) {
        slot.insert(OrchestrationSo::load(&reg.orch_bytes, id, &reg.func_name, &reg.config_name)?);
    }
    let result = run_program(trb, &orchs[&id], registry, memory, req, false);
    if trb.poisoned().is_some() {
        // A thread stuck in user code may still use the loaded SOs.
        std::mem::forget(std::mem::take(orchs));
    }
    result
}

/// Runs `program` for callable `req.id` on the TRB engine (after
/// [`check_runnable`]): stages the entry tensors by signature, runs with the
/// run's ring sizing and knobs (`explicit_deps`: explicit-edge orchestrator),
/// maps the status and copies outputs back only on success. Returns the
/// device wall time. When the run abandons a stuck thread, `program` must be
/// kept alive forever by the caller (`trb` is then poisoned).
pub(crate) fn run_program(
    trb: &mut TrbDevice,
    program: &dyn OrchProgram,
    registry: &mut Registry,
    memory: &DeviceMemory,
    req: &RunRequest<'_>,
    explicit_deps: bool,
) -> Result<u64> {
    let RunRequest { id, args, device_id, run_cfg, .. } = *req;
    // The resolved sizing is the arena key and the engine's sizing, one value.
    let key: RingSizing = run_cfg.sizing;
    registry.note_device_load(id);
    let reg = registry.get(id)?;
    let so = program;
    // Boxed: a thread abandoned in a kernel keeps using it, so it must be
    // leakable.
    let executor = Box::new(KernelExecutor { table: KernelTable::new(&reg.kernel_table, device_id) });

    let staged = staging::stage(memory, args, &reg.signature)?;
    // Held until the run's memory is settled, so the idle trimmer never
    // touches an arena a run uses.
    let mut arenas = idle_trim::lock(&trb.arenas);
    let arena = match arenas.get_or_build(&key) {
        Ok(a) => a,
        Err(e) => {
            staged.release(memory);
            return Err(e);
        }
    };
    let mem = memory_of(arena);
    let params = RunParams {
        block_dim: req.block_dim,
        sched_threads: (req.threads - 1) as usize,
        ready_queue_shards: run_cfg.shards(),
        orch_to_sched: run_cfg.orch_to_sched(),
        scheduler_timeout_ms: trb.timeout_ms,
        sizing: key,
        scope_stats: req.scope_stats,
        trace: req.trace,
        explicit_deps,
    };
    if let Err(e) = crate::kernel::sim_context::clear_pipe_state(device_id) {
        staged.release(memory);
        return Err(e);
    }
    let t0 = Instant::now();
    let entry_args = staged.args.as_bytes().as_ptr();
    // Boxed for the same reason as the executor.
    let mut orchestrate: Box<super::engine::Orchestrate<'_>> =
        Box::new(move |api: &mut dyn super::api::OrchestratorApi| {
            // SAFETY: `entry_args` is the staged, 64-aligned 17472-byte
            // ChipStorageTaskArgs, alive until `staged` is consumed below
            // (or leaked with it).
            unsafe { so.run_on(api, entry_args) }
        });
    let report = trb.engine.run(&mem, params, &*executor, &mut *orchestrate);
    let device_ns = t0.elapsed().as_nanos() as u64;
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            arenas.after_unknown_run();
            drop(arenas);
            trb.idle.run_ended(&trb.arenas);
            staged.release(memory);
            return Err(e);
        }
    };
    if crate::diagnostics::log::enabled(crate::diagnostics::log::Level::Debug) {
        crate::diagnostics::log::debug("tensormap_and_ringbuffer", &run_summary(id, &report));
    }
    if report.abandoned.is_none() {
        // Every engine thread is parked: give back what the run left resident.
        arenas.after_run(report.total_tasks);
        drop(arenas);
        trb.idle.run_ended(&trb.arenas);
    }
    if report.abandoned.is_some() {
        // Before the cache lock is released: the trimmer must never touch
        // what the stuck thread may still use.
        trb.idle.stop();
        // A thread stuck in user code may still use all of these (see
        // TrbDevice): leak them.
        Box::leak(orchestrate);
        Box::leak(executor);
        std::mem::forget(staged);
        std::mem::forget(std::mem::take(registry));
        memory.leak_all();
        return Err(if report.status != 0 { runtime_error(&report) } else { Error::UserCode(report.message.clone()) });
    }
    if let Some(log) = &report.trace {
        // Written for failed runs too: the trace shows how far the run got.
        if let Err(e) = super::trace::write(req.output_prefix, log, device_id) {
            staged.release(memory);
            return Err(e);
        }
    }
    if req.scope_stats {
        if let Err(e) = write_scope_stats(req.output_prefix, &report) {
            staged.release(memory);
            return Err(e);
        }
    }
    let missing = executor.table.missing();
    if report.status != 0 {
        staged.release(memory);
        return Err(runtime_error(&report));
    }
    if report.fatal {
        // A fatal without a PTO2 code: user code failed (a kernel threw, or
        // report_fatal with code 0), or an internal error.
        staged.release(memory);
        return Err(match report.first_source {
            Some(FatalSource::Scheduler) => Error::Panic(report.message.clone()),
            _ => Error::UserCode(report.message.clone()),
        });
    }
    if let Some(missing) = missing {
        staged.release(memory);
        return Err(Error::UserCode(format!(
            "a task used kernel func_id {missing}, which callable {id} does not provide"
        )));
    }
    staged.commit(memory)?;
    Ok(device_ns)
}
