//! The callable registry of one device context: parsed images, kernel
//! objects, classification and the dlopen counters. It holds no runtime
//! objects: what a runtime variant loads for a callable (its orchestration)
//! belongs to that variant's backend.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::abi::callable::{ParsedCallable, MAX_REGISTERED_CALLABLE_IDS, RUNTIME_MAX_FUNC_ID};
use crate::abi::hash::{fnv1a64, orch_so_key};
use crate::abi::ArgDirection;
use crate::callable::classify::{self, AbgForm, RuntimeOverride};
use crate::config::RuntimeVariant;
use crate::diagnostics::{Error, Result};
use crate::kernel::so::KernelEntry;
use crate::kernel::KernelSo;

/// One registered callable.
pub struct Registered {
    /// The runtime variant this callable runs on (inferred from its
    /// orchestration binary at registration; an override must agree).
    pub variant: RuntimeVariant,
    /// The aicpu_build_graph form (`None` for the other variants).
    pub abg_form: Option<AbgForm>,
    /// Argument directions (tensor i ↔ signature i).
    pub signature: Vec<ArgDirection>,
    /// Orchestration entry name.
    pub func_name: String,
    /// Orchestration config name.
    pub config_name: String,
    /// Key of the orchestration bytes in the pool.
    pub orch_key: u64,
    /// The orchestration bytes (shared by identical registrations).
    pub orch_bytes: Arc<[u8]>,
    /// Kernels by func_id (keeps the objects loaded).
    pub kernels: HashMap<i32, Arc<KernelSo>>,
    /// Entry point of every func_id in `[0, RUNTIME_MAX_FUNC_ID)`, derived
    /// from `kernels` once at registration for the runs' lookups.
    pub kernel_table: Vec<Option<KernelEntry>>,
}

struct OrchBlob {
    bytes: Arc<[u8]>,
    refs: usize,
}

fn kernel_table(kernels: &HashMap<i32, Arc<KernelSo>>) -> Vec<Option<KernelEntry>> {
    let mut table = vec![None; RUNTIME_MAX_FUNC_ID as usize];
    for (fid, k) in kernels {
        table[*fid as usize] = Some(k.entry());
    }
    table
}

impl Registered {
    /// The kernel entry point of `func_id`, if the callable provides it.
    pub fn kernel_entry(&self, func_id: i32) -> Option<KernelEntry> {
        usize::try_from(func_id).ok().and_then(|i| self.kernel_table.get(i).copied().flatten())
    }
}

/// Registry state of a context.
#[derive(Default)]
pub struct Registry {
    callables: HashMap<i32, Registered>,
    orch_pool: HashMap<u64, OrchBlob>,
    kernel_pool: HashMap<u64, Arc<KernelSo>>,
    aicpu_seen: HashSet<i32>,
    aicpu_dlopen_count: usize,
    host_dlopen_count: usize,
}

/// Checks a callable id against `[0, 64)`.
pub fn check_id(id: i32) -> Result<()> {
    if !(0..MAX_REGISTERED_CALLABLE_IDS).contains(&id) {
        return Err(Error::CallableId(format!(
            "callable_id {id} is out of range: must be in [0, {MAX_REGISTERED_CALLABLE_IDS})"
        )));
    }
    Ok(())
}

impl Registry {
    /// Registers `parsed` under `id`, on the variant its orchestration binary
    /// implements; `over` (the `runtime` knob / `SIMPLER_RUNTIME`, when set)
    /// must agree with it. On failure nothing is kept: kernels loaded for this
    /// attempt and used by no other callable are released again.
    pub fn register(&mut self, id: i32, parsed: ParsedCallable, over: Option<RuntimeOverride>) -> Result<()> {
        let result = self.register_inner(id, parsed, over);
        if result.is_err() {
            self.release_unused_kernels();
        }
        result
    }

    fn register_inner(&mut self, id: i32, parsed: ParsedCallable, over: Option<RuntimeOverride>) -> Result<()> {
        check_id(id)?;
        if self.callables.contains_key(&id) {
            return Err(Error::CallableId(format!("callable_id {id} is already registered: unregister it first")));
        }
        if parsed.orch_so.is_empty() {
            return Err(Error::InvalidCallable("the orchestration binary is empty".into()));
        }
        // Refused at registration, although a runtime backend may load the
        // orchestration only at the callable's first run.
        crate::loader::elf::check_image(&parsed.orch_so, &format!("orchestration SO of callable {id}"))?;
        let (variant, abg_form) = classify::decide(&parsed.orch_so, &parsed.func_name, over)?;
        let mut kernels = HashMap::new();
        for child in &parsed.children {
            if !(0..RUNTIME_MAX_FUNC_ID).contains(&child.func_id) {
                return Err(Error::InvalidCallable(format!(
                    "child func_id {} must be in [0, {RUNTIME_MAX_FUNC_ID})",
                    child.func_id
                )));
            }
            if kernels.contains_key(&child.func_id) {
                return Err(Error::InvalidCallable(format!(
                    "child func_id {} appears twice: each child func_id must be unique",
                    child.func_id
                )));
            }
            let key = fnv1a64(&child.binary) ^ (child.func_id as u64).rotate_left(48);
            let so = match self.kernel_pool.get(&key) {
                Some(so) => so.clone(),
                None => {
                    let so = Arc::new(KernelSo::load(&child.binary, child.func_id)?);
                    self.kernel_pool.insert(key, so.clone());
                    so
                }
            };
            kernels.insert(child.func_id, so);
        }
        let orch_key = orch_so_key(&parsed.orch_so);
        let blob = self
            .orch_pool
            .entry(orch_key)
            .or_insert_with(|| OrchBlob { bytes: parsed.orch_so.clone().into(), refs: 0 });
        blob.refs += 1;
        let orch_bytes = blob.bytes.clone();
        self.callables.insert(
            id,
            Registered {
                variant,
                abg_form,
                signature: parsed.signature,
                func_name: parsed.func_name,
                config_name: parsed.config_name,
                orch_key,
                orch_bytes,
                kernel_table: kernel_table(&kernels),
                kernels,
            },
        );
        Ok(())
    }

    /// Unregisters `id` (no-op if absent).
    pub fn unregister(&mut self, id: i32) -> Result<()> {
        check_id(id)?;
        if let Some(r) = self.callables.remove(&id) {
            if let Some(b) = self.orch_pool.get_mut(&r.orch_key) {
                b.refs -= 1;
                if b.refs == 0 {
                    self.orch_pool.remove(&r.orch_key);
                }
            }
            self.aicpu_seen.remove(&id);
            drop(r);
            self.release_unused_kernels();
        }
        Ok(())
    }

    /// Kernel pool: drops every kernel object no registered callable uses
    /// any more (the pool's own reference is then the only one), which
    /// `dlclose`s it. Its temporary file was already unlinked at load.
    fn release_unused_kernels(&mut self) {
        self.kernel_pool.retain(|_, so| Arc::strong_count(so) > 1);
    }

    /// The registered callable `id`.
    pub fn get(&self, id: i32) -> Result<&Registered> {
        check_id(id)?;
        self.callables.get(&id).ok_or_else(|| {
            Error::CallableId(format!("callable_id {id} is not registered (call prepare_callable first)"))
        })
    }

    /// Records the first run of `id` since it was registered (device-side orchestration load).
    pub fn note_device_load(&mut self, id: i32) {
        if self.aicpu_seen.insert(id) {
            self.aicpu_dlopen_count += 1;
        }
    }

    /// Records a host-side orchestration dlopen (a runtime backend loaded a
    /// callable's orchestration on the host).
    pub fn note_host_load(&mut self) {
        self.host_dlopen_count += 1;
    }

    /// Distinct callable ids first seen by a run since the last finalize.
    pub fn aicpu_dlopen_count(&self) -> usize {
        self.aicpu_dlopen_count
    }

    /// Host-side orchestration dlopens (monotonic).
    pub fn host_dlopen_count(&self) -> usize {
        self.host_dlopen_count
    }

    /// Drops everything (finalize). The host dlopen counter is kept (monotonic).
    pub fn clear(&mut self) {
        self.callables.clear();
        self.orch_pool.clear();
        self.kernel_pool.clear();
        self.aicpu_seen.clear();
        self.aicpu_dlopen_count = 0;
    }
}
