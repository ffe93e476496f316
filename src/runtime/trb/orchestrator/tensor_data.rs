//! `get_tensor_data` / `set_tensor_data`: index checks and waiting for the
//! producers of a tensor.

use super::tensors::view_violation;
use super::Orchestrator;
use crate::abi::tensor::{Tensor, INVALID_TASK_ID};
use crate::runtime::trb::layout::{codes, task_id, task_state, MAX_RINGS, TENSOR_DATA_TIMEOUT_MS};
use crate::runtime::trb::shared::RunShared;
use crate::runtime::wait::{Backoff, Ladder, StallClock};
use std::sync::atomic::Ordering::*;
use std::time::Duration;

impl Orchestrator<'_> {
    /// Checks `indices` against `tensor` for get/set_tensor_data; the
    /// problem, if any.
    pub(super) fn index_violation(tensor: &Tensor, indices: &[u32]) -> Option<String> {
        if let Some(p) = view_violation(tensor) {
            return Some(p);
        }
        let n = tensor.dims();
        if indices.len() != n {
            return Some(format!(
                "{} indices given for a tensor of ndims {n} (one index per dimension)",
                indices.len()
            ));
        }
        for (d, (&i, &s)) in indices.iter().zip(tensor.shapes.iter()).enumerate() {
            if i >= s {
                return Some(format!(
                    "index {i} out of range for dimension {d} of size {s} (each index must be < its shape)"
                ));
            }
        }
        let flat = indices.iter().zip(tensor.strides.iter()).map(|(&i, &s)| i as u128 * s as u128).sum::<u128>()
            + tensor.start_offset as u128;
        let end = (flat + 1) * tensor.elem_size() as u128;
        if end > tensor.buffer_size as u128 {
            return Some(format!(
                "element at offset {flat} ends at byte {end}, beyond the tensor's buffer.size {} (the element must lie within the tensor)",
                tensor.buffer_size
            ));
        }
        None
    }

    /// Waits until `producers` completed (and, for writes, their consumers released).
    pub(super) fn wait_producers(&mut self, ids: &[u64], for_write: bool) -> bool {
        // The producers may be staged still.
        self.release_cpu();
        // One clock for the whole wait (all producers), one ladder per producer.
        let mut waited = StallClock::started();
        for &raw in ids {
            let r = task_id::ring(raw);
            if r >= MAX_RINGS {
                continue;
            }
            let local = task_id::local(raw);
            let ring = &self.sh.rings[r];
            let mut backoff = Backoff::new(Ladder::TENSOR_DATA);
            loop {
                if local < ring.last_task_alive.load(Acquire) || local >= self.alloc[r].next_local {
                    break;
                }
                let s = ring.slot(local);
                let st = s.state();
                if ring.descriptor(local).task_id.load(Relaxed) != raw || st == task_state::CONSUMED {
                    break;
                }
                if st >= task_state::COMPLETED && (!for_write || RunShared::consumers_released(s)) {
                    break;
                }
                backoff.snooze();
                if backoff.check_due(64) {
                    if self.wait_checks() {
                        self.fatal = true;
                        return false;
                    }
                    if waited.elapsed() >= Duration::from_millis(TENSOR_DATA_TIMEOUT_MS) {
                        let msg = format!(
                            "{}_tensor_data: task 0x{raw:x} did not finish within {TENSOR_DATA_TIMEOUT_MS} ms",
                            if for_write { "set" } else { "get" }
                        );
                        self.mark_fatal(codes::TENSOR_WAIT_TIMEOUT, &msg);
                        return false;
                    }
                }
            }
        }
        true
    }

    pub(super) fn tensor_wait_set(&mut self, t: &Tensor) -> Vec<u64> {
        let mut ids = Vec::new();
        if t.owner_task_id != INVALID_TASK_ID {
            ids.push(t.owner_task_id);
        }
        let alives: Vec<u64> = self.sh.rings.iter().map(|r| r.last_task_alive.load(Acquire)).collect();
        for (r, &la) in alives.iter().enumerate() {
            self.t.tensormap.last_task_alives[r] = la;
        }
        self.t.tensormap.lookup(t, |p, _| {
            if !ids.contains(&p) {
                ids.push(p);
            }
            false
        });
        ids
    }
}
