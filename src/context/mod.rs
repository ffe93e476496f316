//! A device context: one simulated device as upstream's C API sees it
//! (`DeviceContextHandle`). It owns the device memory, the callable
//! registry, the per-device configuration latched at init (the "init
//! channel": `scheduler_timeout_ms`, the optional runtime override) and one
//! runtime backend (`RuntimeBackend`) per variant it has prepared a callable
//! for. Each callable runs on its own variant (inferred from its
//! orchestration binary at prepare), so callables of every variant (TRB,
//! HBG, ABG) can share one context. Backends are created at the first
//! prepare of their variant and create their device-side state at their
//! first run (the TRB engine and arenas; an HBG or ABG graph is built by each
//! run and lives for that run only). Contexts are independent: several can run at the same time on
//! different threads of one process.

mod exec;

pub use exec::{ExecParams, ExecShape, RunTiming, MAX_AICPU_THREADS, MAX_BLOCK_DIM};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::abi::callable::ParsedCallable;
use crate::abi::task_args::ChipStorageTaskArgs;
use crate::callable::{Registry, RuntimeOverride};
use crate::config::{self, EnvSource, ProcessEnv, ResolvedDevice, RuntimeConfig, RuntimeVariant};
use crate::device::memory::DeviceMemory;
use crate::diagnostics::{log, Error, Result};
use crate::runtime::{new_backend, RunRequest, RuntimeBackend};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Created,
    Initialized { device_id: i32 },
    Finalized,
}

struct Inner {
    phase: Phase,
    device: Option<ResolvedDevice>,
    registry: Registry,
    /// At most one per variant, created at the first prepare of the variant.
    backends: Vec<Box<dyn RuntimeBackend>>,
    warned: HashSet<&'static str>,
    aicpu_binary: Vec<u8>,
    aicore_binary: Vec<u8>,
}

impl Inner {
    /// Why the context is poisoned (a run abandoned a stuck thread), if it is.
    fn poisoned(&self) -> Option<&str> {
        self.backends.iter().find_map(|b| b.poisoned())
    }
}

/// The backend of `variant`, created on first use.
fn backend(backends: &mut Vec<Box<dyn RuntimeBackend>>, variant: RuntimeVariant) -> Result<&mut dyn RuntimeBackend> {
    let i = match backends.iter().position(|b| b.variant() == variant) {
        Some(i) => i,
        None => {
            backends.push(new_backend(variant)?);
            backends.len() - 1
        }
    };
    Ok(&mut *backends[i])
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
                backends: Vec::new(),
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
        if let Some(p) = inner.poisoned() {
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
        let variant = inner.registry.get(id)?.variant;
        let Inner { registry, backends, .. } = &mut *inner;
        if let Err(e) = backend(backends, variant).and_then(|b| b.prepare(id, registry)) {
            registry.unregister(id)?;
            return Err(e);
        }
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
        crate::callable::registry::check_id(id)?;
        inner.backends.iter_mut().for_each(|b| b.unregister(id));
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
        crate::abi::validate_args(args, &inner.registry.get(id)?.signature)?;
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
        let req = RunRequest {
            id,
            args,
            device_id,
            block_dim: shape.block_dim,
            threads: shape.threads,
            timeout_ms: device.timeout_ms(),
            run_cfg: &run_cfg,
            trace: exec.enable_l2_swimlane != 0,
            scope_stats: exec.enable_scope_stats != 0,
            output_prefix: &exec.output_prefix,
        };
        let Inner { registry, backends, .. } = &mut *inner;
        let device_ns = backend(backends, variant).and_then(|b| b.run(&req, registry, &self.memory));
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
        // tensormap_and_ringbuffer and host_build_graph write the task trace for enable_l2_swimlane.
        let traced = matches!(variant, RuntimeVariant::TensormapAndRingbuffer | RuntimeVariant::HostBuildGraph);
        let swimlane = if traced { 0 } else { exec.enable_l2_swimlane };
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
                            "{name}: {} writes no task trace (tensormap_and_ringbuffer and host_build_graph do); \
                             the flag is ignored",
                            variant.name()
                        )
                    } else {
                        format!("{name} is not produced by the simulated device; the flag is ignored")
                    },
                );
            }
        }
    }

    /// How many times a tensormap_and_ringbuffer arena was built for this
    /// context (a run with an unchanged sizing key reuses the previous one).
    pub fn arena_builds(&self) -> u64 {
        self.lock().backends.iter().map(|b| b.arena_builds()).sum()
    }

    /// Releases every resource (idempotent). Later calls other than
    /// finalize/destroy fail with a state error.
    pub fn finalize(&self) {
        let mut inner = self.lock();
        // A poisoned context (a run abandoned a thread stuck in user code)
        // leaks its device memory: the stuck thread may still write to it.
        let poisoned = inner.poisoned().is_some();
        inner.registry.clear();
        inner.backends.clear();
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
