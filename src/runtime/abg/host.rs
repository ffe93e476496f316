//! Host side of aicpu_build_graph (original form) on the simulated device:
//! loads each callable's builder plugin at registration, counts its
//! device-side load at the callable's first run (upstream dlopens the plugin
//! on the AICPU, so it is an AICPU-side orchestration load), runs it through
//! [`super::run`] and poisons the backend when a run abandoned a stuck
//! thread.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::exec::{run, AbgRun};
use super::plugin::AbgPlugin;
use super::ring::AbgRingBackend;
use crate::callable::classify::AbgForm;
use crate::callable::Registry;
use crate::config::RuntimeVariant;
use crate::device::memory::DeviceMemory;
use crate::diagnostics::{Error, Result};
use crate::runtime::hbg::exec::Binder;
use crate::runtime::{RunRequest, RuntimeBackend};

/// Per-context aicpu_build_graph state: the loaded plugin of each callable
/// and the poisoning left by a run that abandoned a stuck thread. A graph
/// lives for one run only.
#[derive(Default)]
pub struct AbgBackend {
    plugins: HashMap<i32, Arc<AbgPlugin>>,
    poisoned: Option<String>,
    /// Callables of the ring form run on the TRB engine through this.
    ring: AbgRingBackend,
}

impl AbgBackend {
    /// Poisons the backend after a run abandoned a thread: the stuck thread
    /// may still use the device memory, the plugin and the kernel SOs, so all
    /// of them are leaked.
    fn poison(&mut self, e: &Error, registry: &mut Registry, memory: &DeviceMemory) {
        memory.leak_all();
        self.poisoned = Some(e.to_string());
        std::mem::forget(std::mem::take(&mut self.plugins));
        std::mem::forget(std::mem::take(registry));
    }
}

impl RuntimeBackend for AbgBackend {
    fn variant(&self) -> RuntimeVariant {
        RuntimeVariant::AicpuBuildGraph
    }

    fn prepare(&mut self, id: i32, registry: &mut Registry) -> Result<()> {
        let reg = registry.get(id)?;
        if reg.abg_form == Some(AbgForm::Ring) {
            // The ring form's orchestration SO is loaded at its first run.
            return Ok(());
        }
        let plugin = AbgPlugin::load(&reg.orch_bytes, &reg.func_name)?;
        self.plugins.insert(id, Arc::new(plugin));
        Ok(())
    }

    fn run(&mut self, req: &RunRequest<'_>, registry: &mut Registry, memory: &Arc<DeviceMemory>) -> Result<u64> {
        if let Some(p) = &self.poisoned {
            return Err(Error::State(format!("context poisoned, finalize and re-create the device context: {p}")));
        }
        if registry.get(req.id)?.abg_form == Some(AbgForm::Ring) {
            return self.ring.run_ring(req, registry, memory);
        }
        let (id, device_id) = (req.id, req.device_id);
        let plugin = self
            .plugins
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::State(format!("callable {id} has no aicpu_build_graph plugin")))?;
        crate::kernel::sim_context::clear_pipe_state(device_id)?;
        registry.note_device_load(id);
        let reg = registry.get(id)?;
        let bind: Binder = Arc::new(move |core| {
            let _ = crate::kernel::sim_context::set_core(core.cluster, core.lane, device_id);
        });
        let t_dev = Instant::now();
        let out = run(AbgRun {
            plugin: &plugin,
            args: req.args,
            signature: &reg.signature,
            kernels: &reg.kernel_table,
            memory,
            bind,
            threads: req.threads as usize,
            block_dim: req.block_dim,
            build_mode: req.run_cfg.build_mode(),
            timeout_ms: req.timeout_ms,
        });
        let device_ns = (t_dev.elapsed().as_nanos() as u64).max(1);
        if out.abandoned {
            // The stuck thread keeps its own reference to the plugin; the
            // kernel SOs and device memory it may use are leaked here.
            let e =
                out.result.err().unwrap_or_else(|| Error::State("an aicpu_build_graph thread was abandoned".into()));
            std::mem::forget(plugin);
            self.poison(&e, registry, memory);
            return Err(e);
        }
        out.result.map(|_| device_ns)
    }

    fn unregister(&mut self, id: i32) {
        self.plugins.remove(&id);
        self.ring.unregister(id);
    }

    fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref().or_else(|| self.ring.poisoned())
    }

    fn arena_builds(&self) -> u64 {
        self.ring.arena_builds()
    }
}
