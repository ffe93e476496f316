//! Host side of tensormap_and_ringbuffer on the simulated device (pending the engine merge).

use crate::abi::task_args::ChipStorageTaskArgs;
use crate::callable::Registry;
use crate::config::ResolvedRun;
use crate::device::context::{ExecParams, ExecShape};
use crate::device::memory::DeviceMemory;
use crate::diagnostics::{Error, Result};

/// Per-device TRB state.
pub struct TrbDevice;

impl TrbDevice {
    /// Creates the per-device state.
    pub fn new(_timeout_ms: u64) -> Result<TrbDevice> {
        Ok(TrbDevice)
    }
}

/// Runs one callable.
#[allow(clippy::too_many_arguments)]
pub fn run(
    _trb: &mut TrbDevice,
    _registry: &mut Registry,
    _memory: &DeviceMemory,
    _id: i32,
    _args: &ChipStorageTaskArgs,
    _exec: &ExecParams,
    _shape: ExecShape,
    _device_id: i32,
    _run: &ResolvedRun,
) -> Result<u64> {
    Err(Error::Unsupported("tensormap_and_ringbuffer engine pending".into()))
}
