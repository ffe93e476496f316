//! The run's watchdog on [`RunShared`]: when a run counts as stalled (no
//! progress for the budget), the scan that classifies a stall into
//! upstream's sub-classes (`shared::stall`), and the fire that ends the run
//! with `SCHEDULER_TIMEOUT`.

use super::layout::{codes, task_state};
use super::shared::{stall, RunShared, StallInfo};
use std::sync::atomic::Ordering::*;
use std::time::Duration;

impl RunShared {
    /// Stall scan: counts the running, ready and waiting live tasks of every
    /// ring and classifies the fire (see [`stall`]).
    pub(crate) fn classify_stall(&self) -> StallInfo {
        let (mut run, mut ready, mut wait) = (0u32, 0u32, 0u32);
        let mut task = -1i64;
        let mut core = -1i32;
        for ring in &self.rings {
            let la = ring.last_task_alive.load(Acquire);
            let cur = ring.current_task_index.load(Acquire);
            for local in la..cur {
                let s = ring.slot(local);
                if s.state() >= task_state::COMPLETED {
                    continue;
                }
                let id = super::layout::task_id::make(ring.ring, local);
                if let Some(c) = self.cores.iter().position(|c| c.running.load(Acquire) == id + 1) {
                    run += 1;
                    if task < 0 {
                        task = id as i64;
                        core = c as i32;
                    }
                } else if s.fanin_count.load(Acquire) > 0
                    && s.fanin_refcount.load(Acquire) >= s.fanin_count.load(Acquire)
                {
                    ready += 1;
                } else {
                    wait += 1;
                }
            }
        }
        let orch_done = self.orch_done.load(Acquire);
        StallInfo {
            detail: stall::classify(run, ready, wait, orch_done),
            completed: self.completed.load(Acquire),
            total: self.total_tasks.load(Acquire),
            running: run,
            ready,
            waiting: wait,
            orch_done,
            task_id: task,
            core,
        }
    }

    /// Watchdog check (`scheduler_timeout_ms` / `PTO2_SCHEDULER_TIMEOUT_MS`); returns true when it fired. It fires when
    /// nothing progressed for more than `timeout_ms` while a kernel runs,
    /// tasks are pending, or the orchestration is in user code (a stuck
    /// orchestration). Progress is any wiring, completion, submission or
    /// orchestrator API call (a slow orchestrator is not a stall): counters
    /// the watchdog thread samples
    /// (`sample`, every tick) and any thread samples before firing, so the
    /// fire comes one budget after the last progress, not two.
    pub(crate) fn watchdog(&self, sample: bool) -> bool {
        if self.run_complete.load(Acquire) {
            return false;
        }
        let now = self.now_ms();
        if !sample && now.saturating_sub(self.last_progress_ms.load(Relaxed)) <= self.timeout_ms {
            return false;
        }
        let epoch = self.orch_epoch.0.load(Acquire);
        if self.sample_orch_progress(now, epoch) {
            return false;
        }
        let last = self.last_progress_ms.load(Relaxed);
        if now.saturating_sub(last) <= self.timeout_ms {
            return false;
        }
        let running = self.cores.iter().any(|c| c.running.load(Acquire) != 0);
        let pending = self.submitted.load(Acquire) > self.completed.load(Acquire);
        // With nothing pending, an orchestration busy in user code between
        // two runtime calls is slow, not stuck, until `stuck_orchestration_after`
        // (1.5 budgets); with work pending the single budget applies.
        let orch_in_user = !self.orch_done.load(Acquire) && epoch % 2 == 0;
        let orch_stuck = orch_in_user
            && Duration::from_millis(now.saturating_sub(last))
                > crate::runtime::stuck_orchestration_after(self.timeout_ms);
        if !running && !pending && !orch_stuck {
            if !orch_in_user {
                self.last_progress_ms.fetch_max(now, Relaxed);
            }
            return false;
        }
        let info = self.classify_stall();
        if self.first_fatal().is_none() {
            *self.stall.lock().unwrap_or_else(|e| e.into_inner()) = info;
            let stuck_orch = if orch_stuck && !running {
                " (the orchestration has not returned to the runtime: a stuck orchestration)"
            } else {
                ""
            };
            let msg = format!(
                "TIMEOUT_EXIT: scheduler made no progress for {} ms (budget {}){stuck_orch} sub_class={} completed={} submitted={} running={} ready={} waiting={} orch_done={} stuck_task_id=0x{:x} stuck_core={}",
                now - last,
                crate::config::schema::hint_value(crate::config::Knob::SchedulerTimeoutMs, self.timeout_ms),
                stall::label(info.detail),
                info.completed,
                self.submitted.load(Acquire),
                info.running,
                info.ready,
                info.waiting,
                info.orch_done,
                info.task_id,
                info.core
            );
            crate::diagnostics::log::error("scheduler_watchdog", &msg);
            self.latch_sched(codes::SCHEDULER_TIMEOUT, &msg);
        }
        self.end_run();
        true
    }

    /// Counts activity (submissions, completions, orchestrator API calls)
    /// since the last sample as progress at `now`; true when there was some.
    fn sample_orch_progress(&self, now: u64, epoch: u64) -> bool {
        // The counters only grow, so their sum moves iff any does.
        let count = self
            .submitted
            .load(Acquire)
            .wrapping_add(self.completed.load(Acquire))
            .wrapping_add(self.wired.load(Acquire));
        let moved =
            self.watchdog_seen_submitted.load(Relaxed) != count || self.watchdog_seen_epoch.load(Relaxed) != epoch;
        if moved {
            self.watchdog_seen_submitted.store(count, Relaxed);
            self.watchdog_seen_epoch.store(epoch, Relaxed);
            self.last_progress_ms.fetch_max(now, Relaxed);
        }
        moved
    }
}
