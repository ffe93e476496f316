//! A device context: one simulated device as upstream's C API sees it
//! (`DeviceContextHandle`). It owns the device memory, the callable
//! registry, the per-device configuration latched at init (the "init
//! channel": `scheduler_timeout_ms`, the optional runtime override) and the
//! runtime state of each variant it has run. Each callable runs on its own
//! variant (inferred from its orchestration binary at prepare), so TRB and
//! HBG callables can share one context. Per-variant state is created on first
//! use: the TRB engine and arenas at the first TRB run; an HBG graph is built
//! by each HBG run and lives for that run only. Contexts are independent:
//! several can run at the same time on different threads of one process.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::abi::callable::ParsedCallable;
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::callable::RuntimeOverride;
use crate::config::{self, EnvSource, ProcessEnv, ResolvedDevice, ResolvedRun, RuntimeConfig, RuntimeVariant};
use crate::device::memory::DeviceMemory;
use crate::diagnostics::{log, Error, Result};

/// Upstream's `PLATFORM_MAX_BLOCKDIM` (a2a3): clusters of 1 AIC + 2 AIV.
pub const MAX_BLOCK_DIM: i32 = 24;
/// Upstream's `PLATFORM_MAX_AICPU_THREADS` (a2a3).
pub const MAX_AICPU_THREADS: i32 = 4;

/// Execution knobs of one run (upstream `CallConfig` minus ring sizing).
#[derive(Debug, Clone, Default)]
pub struct ExecParams {
    /// Clusters (0 = the maximum, 24).
    pub block_dim: i32,
    /// AICPU threads: schedulers + 1 orchestrator (trb), schedulers (hbg).
    pub aicpu_thread_num: i32,
    /// Swimlane level: any non-zero level writes the task trace
    /// `<output_prefix>/trace/trace.json` on tensormap_and_ringbuffer
    /// (host_build_graph: ignored with a warning).
    pub enable_l2_swimlane: i32,
    /// Tensor dump level (unsupported: ignored with a warning).
    pub enable_dump_tensor: i32,
    /// PMU (unsupported: ignored with a warning).
    pub enable_pmu: i32,
    /// Dependency graph dump (unsupported: ignored with a warning).
    pub enable_dep_gen: i32,
    /// Scope statistics (tensormap_and_ringbuffer; host_build_graph has no
    /// rings: warned once per context, nothing written).
    pub enable_scope_stats: i32,
    /// Directory for diagnostics output.
    pub output_prefix: String,
}

/// Validated execution parameters.
#[derive(Debug, Clone, Copy)]
pub struct ExecShape {
    /// Clusters.
    pub block_dim: u32,
    /// AICPU threads.
    pub threads: u32,
}

impl ExecParams {
    /// Checks ranges as upstream's sim runner does; returns the effective shape.
    pub fn shape(&self) -> Result<ExecShape> {
        let block_dim = if self.block_dim == 0 { MAX_BLOCK_DIM } else { self.block_dim };
        if !(1..=MAX_BLOCK_DIM).contains(&block_dim) {
            return Err(Error::InvalidArgument(format!(
                "block_dim = {} is invalid: must be 0 (auto) or in [1, {MAX_BLOCK_DIM}]",
                self.block_dim
            )));
        }
        if !(1..=MAX_AICPU_THREADS).contains(&self.aicpu_thread_num) {
            return Err(Error::InvalidArgument(format!(
                "aicpu_thread_num = {} is invalid: must be in [1, {MAX_AICPU_THREADS}]",
                self.aicpu_thread_num
            )));
        }
        let any_diag = [
            self.enable_l2_swimlane,
            self.enable_dump_tensor,
            self.enable_pmu,
            self.enable_dep_gen,
            self.enable_scope_stats,
        ]
        .iter()
        .any(|&f| f != 0);
        crate::abi::call_config::check_diagnostics(any_diag, self.output_prefix.is_empty())?;
        Ok(ExecShape { block_dim: block_dim as u32, threads: self.aicpu_thread_num as u32 })
    }
}

/// Timing of a successful run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunTiming {
    /// Wall time of the whole call.
    pub host_wall_ns: u64,
    /// Wall time of the device phase.
    pub device_wall_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Created,
    Initialized { device_id: i32 },
    Finalized,
}

struct Inner {
    phase: Phase,
    device: Option<ResolvedDevice>,
    registry: crate::callable::Registry,
    trb: Option<crate::runtime::trb::host::TrbDevice>,
    /// Set when a host_build_graph run abandoned a thread stuck in a kernel
    /// or in the orchestration function.
    hbg_poisoned: Option<String>,
    /// The host_build_graph orchestration thread (started at the first run).
    hbg_orch: crate::runtime::hbg::watch::OrchThread,
    warned: HashSet<&'static str>,
    aicpu_binary: Vec<u8>,
    aicore_binary: Vec<u8>,
}

/// The locked state. Log messages emitted while it is held reach a log
/// callback only after the lock is released (fields drop in order: the lock
/// first, then the deferral scope, which delivers them).
struct Locked<'a> {
    guard: std::sync::MutexGuard<'a, Inner>,
    _defer: log::Defer,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

/// One simulated device.
pub struct DeviceContext {
    /// Shared with a host_build_graph orchestration thread, which may outlive
    /// the context when it is abandoned.
    memory: Arc<DeviceMemory>,
    inner: Mutex<Inner>,
}

impl Default for DeviceContext {
    fn default() -> Self {
        DeviceContext::new()
    }
}

impl DeviceContext {
    /// A context that still needs `init`.
    pub fn new() -> DeviceContext {
        DeviceContext {
            memory: Arc::new(DeviceMemory::new_uninitialized()),
            inner: Mutex::new(Inner {
                phase: Phase::Created,
                device: None,
                registry: Default::default(),
                trb: None,
                hbg_poisoned: None,
                hbg_orch: Default::default(),
                warned: HashSet::new(),
                aicpu_binary: Vec::new(),
                aicore_binary: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> Locked<'_> {
        let defer = log::Defer::new();
        Locked { guard: self.inner.lock().unwrap_or_else(|p| p.into_inner()), _defer: defer }
    }

    /// Device memory of this context.
    pub fn memory(&self) -> &DeviceMemory {
        &self.memory
    }

    /// Attaches the context to `device_id` and latches the per-device knobs
    /// (resolved once here from `cfg`, then the environment, then defaults).
    pub fn init(&self, device_id: i32, cfg: &RuntimeConfig, aicpu: &[u8], aicore: &[u8]) -> Result<()> {
        self.init_with_env(device_id, cfg, aicpu, aicore, &ProcessEnv)
    }

    /// [`init`](Self::init) with an explicit environment source.
    pub fn init_with_env(
        &self,
        device_id: i32,
        cfg: &RuntimeConfig,
        aicpu: &[u8],
        aicore: &[u8],
        env: &dyn EnvSource,
    ) -> Result<()> {
        if device_id < 0 {
            return Err(Error::InvalidArgument(format!("device_id = {device_id} is invalid: must be >= 0")));
        }
        let mut inner = self.lock();
        match inner.phase {
            Phase::Finalized => return Err(Error::State("the device context was finalized; create a new one".into())),
            Phase::Initialized { device_id: d } if d != device_id => {
                return Err(Error::State(format!(
                    "the device context is attached to device {d}; it cannot switch to {device_id}"
                )))
            }
            _ => {}
        }
        config::env::warn_unknown_variables(env);
        let (device, warnings) = config::resolve_device(cfg, env)?;
        warnings.iter().for_each(|w| w.emit());
        if device.runtime_override() == Some(RuntimeVariant::AicpuBuildGraph) {
            return Err(Error::Unsupported("runtime aicpu_build_graph is not available (it was removed upstream); use tensormap_and_ringbuffer or host_build_graph".into()));
        }
        crate::kernel::sim_context::ensure_loaded()?;
        inner.device = Some(device);
        inner.aicpu_binary = aicpu.to_vec();
        inner.aicore_binary = aicore.to_vec();
        inner.phase = Phase::Initialized { device_id };
        self.memory.open();
        if log::enabled(log::Level::Debug) {
            log::debug(
                "device",
                &format!(
                    "context initialised: device {device_id}, runtime {} ({}), scheduler_timeout_ms {} ({})",
                    device.runtime_override().map_or("inferred per callable", |v| v.name()),
                    device.runtime.source.name(),
                    device.timeout_ms(),
                    device.scheduler_timeout_ms.source.name()
                ),
            );
        }
        Ok(())
    }

    fn initialized(inner: &Inner) -> Result<(i32, ResolvedDevice)> {
        if let Some(p) = inner.trb.as_ref().and_then(|t| t.poisoned()).or(inner.hbg_poisoned.as_deref()) {
            return Err(Error::State(format!("context poisoned, finalize and re-create the device context: {p}")));
        }
        match (inner.phase, inner.device) {
            (Phase::Initialized { device_id }, Some(d)) => Ok((device_id, d)),
            (Phase::Finalized, _) => Err(Error::State("the device context was finalized".into())),
            _ => Err(Error::State("the device context is not initialized: call simpler_init first".into())),
        }
    }

    /// The per-device configuration latched at init.
    pub fn device_config(&self) -> Result<ResolvedDevice> {
        Ok(Self::initialized(&self.lock())?.1)
    }

    /// Registers a callable image under `id`, on the runtime variant its
    /// orchestration binary implements; a runtime override latched at init
    /// that contradicts the binary fails the call.
    pub fn prepare(&self, id: i32, parsed: ParsedCallable) -> Result<()> {
        let mut inner = self.lock();
        let (_, device) = Self::initialized(&inner)?;
        let over = device
            .runtime_override()
            .map(|variant| RuntimeOverride { variant, origin: device.runtime_override_origin() });
        inner.registry.register(id, parsed, over)?;
        if log::enabled(log::Level::Debug) {
            let r = inner.registry.get(id)?;
            log::debug(
                "device",
                &format!(
                    "callable {id} registered for runtime {}: orchestration '{}', {} kernels",
                    r.variant.name(),
                    r.func_name,
                    r.kernels.len()
                ),
            );
        }
        Ok(())
    }

    /// The runtime variant callable `id` runs on.
    pub fn callable_variant(&self, id: i32) -> Result<RuntimeVariant> {
        Ok(self.lock().registry.get(id)?.variant)
    }

    /// Unregisters `id` (0 also when not registered).
    pub fn unregister(&self, id: i32) -> Result<()> {
        let mut inner = self.lock();
        Self::initialized(&inner)?;
        inner.registry.unregister(id)
    }

    /// Upstream's `get_aicpu_dlopen_count`.
    pub fn aicpu_dlopen_count(&self) -> usize {
        self.lock().registry.aicpu_dlopen_count()
    }

    /// Upstream's `get_host_dlopen_count`.
    pub fn host_dlopen_count(&self) -> usize {
        self.lock().registry.host_dlopen_count()
    }

    /// Runs callable `id` with `args` (host pointers). Per-run knobs resolve
    /// from `cfg` (explicit) then the environment at this moment; a per-device
    /// knob in `cfg` must equal the latched value.
    pub fn run(
        &self,
        id: i32,
        args: &ChipStorageTaskArgs,
        exec: &ExecParams,
        cfg: &RuntimeConfig,
    ) -> Result<RunTiming> {
        let t0 = Instant::now();
        let shape = exec.shape()?;
        let mut inner = self.lock();
        let (device_id, device) = Self::initialized(&inner)?;
        let variant = inner.registry.get(id)?.variant;
        config::resolve::check_per_device_unchanged(cfg, &device, variant)?;
        let (run_cfg, warnings) = config::resolve_run(cfg, &ProcessEnv)?;
        warnings.iter().for_each(|w| w.emit());
        self.warn_unsupported(&mut inner, exec, variant);
        // The one validation pass of the entry arguments, before any staging or dispatch.
        crate::abi::task_args::validate_args(args, &inner.registry.get(id)?.signature)?;
        let debug = log::enabled(log::Level::Debug);
        if debug {
            log::debug(
                "device",
                &format!(
                    "run of callable {id} on device {device_id} ({}, block_dim {}, {} AICPU threads): {}",
                    variant.name(),
                    shape.block_dim,
                    shape.threads,
                    config::resolve::run_summary(&run_cfg)
                ),
            );
        }
        let device_ns = match variant {
            RuntimeVariant::HostBuildGraph => self.run_hbg(&mut inner, id, args, shape, device_id),
            RuntimeVariant::TensormapAndRingbuffer => {
                self.run_trb(&mut inner, id, args, exec, shape, device_id, &device, &run_cfg)
            }
            RuntimeVariant::AicpuBuildGraph => Err(Error::Unsupported("aicpu_build_graph".into())),
        };
        let device_ns = device_ns.inspect_err(|e| {
            if debug {
                log::debug("device", &format!("run of callable {id} failed after {:?}: {e}", t0.elapsed()));
            }
        })?;
        let host_wall_ns = (t0.elapsed().as_nanos() as u64).max(1);
        if debug {
            log::debug(
                "device",
                &format!(
                    "run of callable {id} done: host {:.1} us, device {:.1} us",
                    host_wall_ns as f64 / 1e3,
                    device_ns as f64 / 1e3
                ),
            );
        }
        Ok(RunTiming { host_wall_ns, device_wall_ns: device_ns })
    }

    fn warn_unsupported(&self, inner: &mut Inner, exec: &ExecParams, variant: RuntimeVariant) {
        if variant == RuntimeVariant::HostBuildGraph
            && exec.enable_scope_stats != 0
            && inner.warned.insert("enable_scope_stats on host_build_graph")
        {
            log::warn(
                "run_prepared",
                &format!(
                    "enable_scope_stats: host_build_graph has no scope rings, so there are no ring statistics; \
                     nothing is written under {}/scope_stats (warned once per device context)",
                    exec.output_prefix
                ),
            );
        }
        // tensormap_and_ringbuffer writes the task trace for enable_l2_swimlane.
        let swimlane = if variant == RuntimeVariant::TensormapAndRingbuffer { 0 } else { exec.enable_l2_swimlane };
        for (name, on) in [
            ("enable_l2_swimlane", swimlane),
            ("enable_dump_tensor", exec.enable_dump_tensor),
            ("enable_pmu", exec.enable_pmu),
            ("enable_dep_gen", exec.enable_dep_gen),
        ] {
            if on != 0 && inner.warned.insert(name) {
                log::warn(
                    "run_prepared",
                    &if name == "enable_l2_swimlane" {
                        format!(
                            "{name}: host_build_graph writes no task trace (tensormap_and_ringbuffer does); the flag is ignored"
                        )
                    } else {
                        format!("{name} is not produced by the simulated device; the flag is ignored")
                    },
                );
            }
        }
    }

    fn run_hbg(
        &self,
        inner: &mut Inner,
        id: i32,
        args: &ChipStorageTaskArgs,
        shape: ExecShape,
        device_id: i32,
    ) -> Result<u64> {
        let reg = inner.registry.get(id)?;
        let host =
            reg.host_orch.as_ref().ok_or_else(|| Error::State(format!("callable {id} has no host orchestration")))?;
        crate::kernel::sim_context::clear_pipe_state(device_id)?;
        let timeout_ms =
            inner.device.map_or(crate::runtime::trb::layout::DEFAULT_SCHEDULER_TIMEOUT_MS, |d| d.timeout_ms());
        let (mut orch, result) = match crate::runtime::hbg::run_watched(
            &mut inner.hbg_orch,
            host.func,
            args,
            self.memory.clone(),
            timeout_ms,
        ) {
            crate::runtime::hbg::Watched::Done(orch, result) => (orch, result),
            crate::runtime::hbg::Watched::Abandoned(e) => {
                // The stuck orchestration thread may still use the device
                // memory it allocated and the orchestration SO: leak them
                // and poison the context (its builder and graph are its own).
                self.memory.leak_all();
                inner.hbg_poisoned = Some(e.to_string());
                std::mem::forget(std::mem::take(&mut inner.registry));
                return Err(e);
            }
        };
        let t_dev = Instant::now();
        let mut abandoned = false;
        let result = result.and_then(|()| {
            let kernel = |fid: i32| reg.kernel_entry(fid);
            let bind: crate::runtime::hbg::exec::Binder = std::sync::Arc::new(move |core| {
                let _ = crate::kernel::sim_context::set_core(core.cluster, core.lane, device_id);
            });
            let out = crate::runtime::hbg::execute(
                &mut orch.graph,
                shape.threads as usize,
                shape.block_dim,
                &kernel,
                bind,
                timeout_ms,
            );
            abandoned = out.abandoned;
            out.result
        });
        if abandoned {
            // A thread stuck in a kernel may still use the run's device
            // memory and the kernel SOs: leak them (the caller poisons the
            // context).
            std::mem::forget(orch);
            self.memory.leak_all();
            let e = result.err().unwrap_or_else(|| Error::State("a host_build_graph thread was abandoned".into()));
            inner.hbg_poisoned = Some(e.to_string());
            std::mem::forget(std::mem::take(&mut inner.registry));
            return Err(e);
        }
        let device_ns = t_dev.elapsed().as_nanos() as u64;
        // Copy back only after a fully successful run; always release device memory.
        let mut result = result;
        if result.is_ok() {
            for p in &orch.pairs {
                // SAFETY: the host pointer and size were recorded by the
                // orchestration for exactly this copy-back (upstream contract);
                // the device range is checked by copy_from_device.
                if let Err(e) = unsafe { self.memory.copy_from_device(p.host, p.dev, p.size) } {
                    result = Err(e);
                    break;
                }
            }
        }
        let mut freed: HashSet<usize> = HashSet::new();
        for p in orch.pairs.iter().map(|p| p.dev).chain(orch.allocations.iter().copied()) {
            if freed.insert(p as usize) {
                let _ = self.memory.free(p);
            }
        }
        result.map(|()| device_ns)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_trb(
        &self,
        inner: &mut Inner,
        id: i32,
        args: &ChipStorageTaskArgs,
        exec: &ExecParams,
        shape: ExecShape,
        device_id: i32,
        device: &ResolvedDevice,
        run_cfg: &ResolvedRun,
    ) -> Result<u64> {
        if inner.trb.is_none() {
            inner.trb = Some(crate::runtime::trb::host::TrbDevice::new(device.timeout_ms())?);
        }
        let Inner { registry, trb, .. } = inner;
        let trb = trb.as_mut().expect("created above");
        crate::runtime::trb::host::run(trb, registry, &self.memory, id, args, exec, shape, device_id, run_cfg)
    }

    /// How many times a tensormap_and_ringbuffer arena was built for this
    /// context (a run with an unchanged sizing key reuses the previous one).
    pub fn arena_builds(&self) -> u64 {
        self.lock().trb.as_ref().map_or(0, |t| t.arena_builds())
    }

    /// Releases every resource (idempotent). Later calls other than
    /// finalize/destroy fail with a state error.
    pub fn finalize(&self) {
        let mut inner = self.lock();
        // A poisoned context (a run abandoned a thread stuck in user code)
        // leaks its device memory: the stuck thread may still write to it.
        let poisoned = inner.trb.as_ref().is_some_and(|t| t.poisoned().is_some()) || inner.hbg_poisoned.is_some();
        inner.registry.clear();
        inner.trb = None;
        inner.hbg_orch = Default::default();
        inner.device = None;
        inner.phase = Phase::Finalized;
        self.memory.close_finalized();
        drop(inner);
        if poisoned {
            self.memory.leak_all();
        } else {
            self.memory.free_all();
        }
    }
}
