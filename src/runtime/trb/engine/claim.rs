//! Claiming simulated cores for a dispatch.

use super::sched::Sched;
use crate::runtime::trb::shared::{SimCore, LANE_AIC, LANE_AIV0, LANE_AIV1};
use std::sync::atomic::Ordering::*;

impl Sched<'_> {
    pub(super) fn drain_active_elsewhere(&self) -> bool {
        let d = self.sh.drain_owner.load(Acquire);
        d != 0 && d != self.idx + 1
    }

    pub(super) fn try_claim(&self, core: &SimCore, tag: u64) -> bool {
        self.sh.cores[core.core_id as usize].running.compare_exchange(0, tag, AcqRel, Relaxed).is_ok()
    }

    pub(super) fn release(&self, core: &SimCore) {
        self.sh.cores[core.core_id as usize].running.store(0, Release);
    }

    pub(super) fn claim_single(&mut self, aic: bool, tag: u64) -> Option<SimCore> {
        if self.drain_active_elsewhere() {
            return None;
        }
        let bd = self.sh.block_dim;
        // Own cores first, starting at the one this thread used last: a
        // thread that keeps its core keeps its published core identity
        // (`CoreExecutor::run_subtask_on`), so the executor need not set it
        // again. The start moves on only when that core was taken.
        let own = if aic { &self.own_aic } else { &self.own_aiv };
        let n = own.len();
        let mut i = self.rr;
        for _ in 0..n {
            if i >= n {
                i = 0;
            }
            let c = own[i];
            if self.try_claim(&c, tag) {
                self.rr = i;
                return Some(c);
            }
            i += 1;
        }
        // Any idle core of the type (no allocation on the dispatch path).
        if aic {
            (0..bd).map(SimCore::aic).find(|c| self.try_claim(c, tag))
        } else {
            (0..bd).flat_map(|c| [SimCore::aiv(c, 0, bd), SimCore::aiv(c, 1, bd)]).find(|c| self.try_claim(c, tag))
        }
    }

    pub(super) fn cluster_lanes(&self, cluster: u32, mask: u8) -> Lanes {
        let bd = self.sh.block_dim;
        let mut v = Lanes { len: 0, lanes: [(0, SimCore::aic(0)); 3] };
        if mask & LANE_AIC != 0 {
            v.push(0, SimCore::aic(cluster));
        }
        if mask & LANE_AIV0 != 0 {
            v.push(1, SimCore::aiv(cluster, 0, bd));
        }
        if mask & LANE_AIV1 != 0 {
            v.push(2, SimCore::aiv(cluster, 1, bd));
        }
        v
    }

    pub(super) fn claim_cluster(&mut self, mask: u8, tag: u64) -> Option<Lanes> {
        if self.drain_active_elsewhere() {
            return None;
        }
        let bd = self.sh.block_dim;
        // Own clusters first, then the others (iterated, not collected).
        let own = &self.own_clusters;
        for c in own.iter().copied().chain((0..bd).filter(|c| !own.contains(c))) {
            let lanes = self.cluster_lanes(c, mask);
            let mut got = 0;
            for (_, core) in lanes.iter() {
                if !self.try_claim(core, tag) {
                    break;
                }
                got += 1;
            }
            if got == lanes.len() {
                return Some(lanes);
            }
            for (_, core) in &lanes[..got] {
                self.release(core);
            }
        }
        None
    }
}

/// The cores of one cluster's lanes a task uses, `(lane, core)` with lane
/// 0 = AIC, 1/2 = AIV0/AIV1 (at most 3; no heap allocation).
#[derive(Clone, Copy)]
pub(super) struct Lanes {
    len: usize,
    lanes: [(usize, SimCore); 3],
}

impl Lanes {
    fn push(&mut self, lane: usize, core: SimCore) {
        self.lanes[self.len] = (lane, core);
        self.len += 1;
    }
}

impl std::ops::Deref for Lanes {
    type Target = [(usize, SimCore)];

    fn deref(&self) -> &[(usize, SimCore)] {
        &self.lanes[..self.len]
    }
}
