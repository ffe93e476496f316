//! Host glue of aicpu_build_graph's ring form: the orchestration SO runs on
//! the TRB engine (its rings, heaps, dependency pools, schedulers, arena,
//! staging and status mapping: `trb::host::run_program`) with the
//! orchestrator in explicit-edge mode. Threads: `aicpu_thread_num - 1`
//! schedulers plus the builder (upstream's last AICPU thread), which joins
//! scheduling when `orch_to_sched` is set. The ring knobs apply as for TRB.

use std::collections::HashMap;
use std::sync::Arc;

use super::so::RingSo;
use crate::callable::Registry;
use crate::config::RuntimeVariant;
use crate::device::memory::DeviceMemory;
use crate::diagnostics::Result;
use crate::runtime::trb::host::{check_runnable, run_program, TrbDevice};
use crate::runtime::{RunRequest, RuntimeBackend};

/// The ring form's per-context state: the TRB device (engine + arena cache,
/// created at the first run) and each callable's loaded SO (loaded at its
/// first run, kept until unregister).
#[derive(Default)]
pub struct AbgRingBackend {
    device: Option<TrbDevice>,
    orchs: HashMap<i32, RingSo>,
}

impl AbgRingBackend {
    /// Runs callable `req.id` (a ring-form orchestration) and returns the
    /// device wall time in ns. Same inputs and effects as the TRB backend's
    /// run: entry tensors staged by signature, copied back only on success;
    /// a failed run leaves the backend usable (unless a thread stuck in user
    /// code poisoned it).
    pub fn run_ring(&mut self, req: &RunRequest<'_>, registry: &mut Registry, memory: &DeviceMemory) -> Result<u64> {
        if self.device.is_none() {
            self.device = Some(TrbDevice::new(req.timeout_ms)?);
        }
        let dev = self.device.as_mut().expect("created above");
        check_runnable(dev, req, "aicpu_build_graph")?;
        let id = req.id;
        let reg = registry.get(id)?;
        if let std::collections::hash_map::Entry::Vacant(slot) = self.orchs.entry(id) {
            slot.insert(RingSo::load(&reg.orch_bytes, id, &reg.func_name, &reg.config_name)?);
        }
        let result = run_program(dev, &self.orchs[&id], registry, memory, req, true);
        if dev.poisoned().is_some() {
            // A thread stuck in user code may still use the loaded SOs.
            std::mem::forget(std::mem::take(&mut self.orchs));
        }
        result
    }

    /// Drops the SO loaded for callable `id`.
    pub fn unregister(&mut self, id: i32) {
        self.orchs.remove(&id);
    }

    /// Why the backend is poisoned, if it is.
    pub fn poisoned(&self) -> Option<&str> {
        self.device.as_ref().and_then(|d| d.poisoned())
    }

    /// Arena builds of the backend's TRB device.
    pub fn arena_builds(&self) -> u64 {
        self.device.as_ref().map_or(0, |d| d.arena_builds())
    }
}

impl RuntimeBackend for AbgRingBackend {
    fn variant(&self) -> RuntimeVariant {
        RuntimeVariant::AicpuBuildGraph
    }

    fn prepare(&mut self, _id: i32, _registry: &mut Registry) -> Result<()> {
        // Loaded at the callable's first run (upstream's device-side dlopen).
        Ok(())
    }

    fn run(&mut self, req: &RunRequest<'_>, registry: &mut Registry, memory: &Arc<DeviceMemory>) -> Result<u64> {
        self.run_ring(req, registry, memory)
    }

    fn unregister(&mut self, id: i32) {
        AbgRingBackend::unregister(self, id)
    }

    fn poisoned(&self) -> Option<&str> {
        AbgRingBackend::poisoned(self)
    }

    fn arena_builds(&self) -> u64 {
        AbgRingBackend::arena_builds(self)
    }
}
