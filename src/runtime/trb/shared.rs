//! State shared by the orchestrator and the scheduler threads for one run:
//! the four rings, the sharded ready queues, the wiring queue, completion
//! accounting, error codes, core occupancy and the sleep/wake protocol.

use super::layout::{
    task_state, FaninSpillEntry, Region, SlotState, TaskPayload, FANIN_INLINE_CAP, MAX_RINGS, SCOPE_BIT,
};
use super::local_queue::LocalQueue;
use super::parker::Parker;
use super::pools::{for_each_consumer, DepListPool, FaninPool};
use super::queue::{Padded, ReadyQueue, WiringConsumer, WiringQueue};
use super::ring::{RingShared, SlotRef};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Mutex;
use std::time::Instant;

/// Dispatchable shapes.
pub(crate) mod shape {
    /// AIC only.
    pub(crate) const AIC: usize = 0;
    /// AIV only.
    pub(crate) const AIV: usize = 1;
    /// Several lanes of one cluster.
    pub(crate) const MIX: usize = 2;
    /// No kernel (dependency-only task).
    pub(crate) const DUMMY: usize = 3;
}

/// Lane bit: AIC.
pub(crate) const LANE_AIC: u8 = 1;
/// Lane bit: AIV0.
pub(crate) const LANE_AIV0: u8 = 2;
/// Lane bit: AIV1.
pub(crate) const LANE_AIV1: u8 = 4;
/// `PTO2_SUBTASK_FLAG_SYNC_START`.
pub(crate) const FLAG_SYNC_START: u8 = 8;

/// Shape of an active mask.
pub(crate) fn shape_of(mask: u8) -> usize {
    let lanes = mask & 7;
    match lanes.count_ones() {
        0 => shape::DUMMY,
        1 if lanes == LANE_AIC => shape::AIC,
        1 => shape::AIV,
        _ => shape::MIX,
    }
}

/// Stall sub-classes of a watchdog fire (code 100), as upstream
/// `classify_stall_detail` numbers them (c68d9bbe6; there is no 2).
pub(crate) mod stall {
    /// None.
    pub(crate) const NONE: i32 = 0;
    /// A task is running and not finishing.
    pub(crate) const RUNNING_STALLED: i32 = 1;
    /// Ready tasks but nobody dispatches.
    pub(crate) const READY_IDLE: i32 = 3;
    /// Tasks waiting on dependencies that never complete.
    pub(crate) const DEP_DEADLOCK: i32 = 4;
    /// Orchestrator not done, nothing to run.
    pub(crate) const ORCH_STARVATION: i32 = 5;
    /// Accounting mismatch.
    pub(crate) const UNKNOWN: i32 = 99;

    /// Label of a sub-class.
    pub(crate) fn label(detail: i32) -> &'static str {
        match detail {
            NONE => "none",
            RUNNING_STALLED => "S1:running-stalled",
            READY_IDLE => "S3:ready-but-all-idle",
            DEP_DEADLOCK => "S4:dependency-deadlock",
            ORCH_STARVATION => "S5:orchestrator-starvation",
            _ => "unknown:accounting/corruption",
        }
    }

    /// `classify_stall_detail`.
    pub(crate) fn classify(running: u32, ready: u32, waiting: u32, orch_done: bool) -> i32 {
        if running > 0 {
            RUNNING_STALLED
        } else if ready > 0 {
            READY_IDLE
        } else if waiting > 0 {
            DEP_DEADLOCK
        } else if !orch_done {
            ORCH_STARVATION
        } else {
            UNKNOWN
        }
    }
}

/// One simulated core's occupancy (`running` = task id + 1, 0 = idle).
///
/// Claiming is a `compare_exchange(0, tag, AcqRel, Relaxed)`: exactly one
/// thread wins an idle core; the winner releases it with a `Release` store
/// of 0 after the kernel returned, so the next claimer's `Acquire` sees every
/// write of the previous kernel call. A failed claim just moves on (another
/// core or a re-queue). A cluster claim takes its lanes one by one and gives
/// back the ones held when one fails; the sync-start collector keeps what it
/// holds and retries the rest while it owns `RunShared::drain_owner`.
/// The watchdog reads `running` to find the stuck task and core.
#[repr(align(64))]
#[derive(Debug, Default)]
pub(crate) struct CoreSlot {
    /// Raw id + 1 of the task running on the core, 0 when idle.
    pub(crate) running: AtomicU64,
}

/// Identity of a simulated core handed to the executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimCore {
    /// Physical core id: AIC `0..block_dim`, AIV `block_dim..3*block_dim`.
    pub core_id: u32,
    /// Cluster index.
    pub cluster: u32,
    /// AIV lane (0/1); 0 on AIC.
    pub lane: u32,
    /// Whether the core is an AIC.
    pub is_aic: bool,
}

impl SimCore {
    /// The AIC core of `cluster`.
    pub fn aic(cluster: u32) -> SimCore {
        SimCore { core_id: cluster, cluster, lane: 0, is_aic: true }
    }
    /// AIV lane `lane` of `cluster` (`block_dim` clusters).
    pub fn aiv(cluster: u32, lane: u32, block_dim: u32) -> SimCore {
        SimCore { core_id: block_dim + 2 * cluster + lane, cluster, lane, is_aic: false }
    }
}

/// Per-shape counts of queued tasks, on one cache line.
#[repr(align(64))]
#[derive(Debug, Default)]
struct QueuedCounts([AtomicI64; 3]);

/// Ready queues of the three dispatchable shapes, each split into shards.
///
/// `queued[shape]` counts the tasks of that shape in its shards and its
/// overflow list: a push adds one after publishing the task, a successful pop
/// subtracts one after taking it, so a probe of an empty shape is one load
/// (`pop`, `any_work`). A count may lag a concurrent push or pop (it is a
/// hint, like the shards' own emptiness test); it never reads zero
/// while a task whose increment is done sits queued, which is what the
/// parking handshake needs (see [`Parker`]: the waker's increment precedes
/// its fence, the sleeper's check follows its own).
pub(crate) struct ReadyQueues {
    shards: Vec<Vec<ReadyQueue>>,
    overflow: Mutex<[VecDeque<u64>; 3]>,
    overflow_len: AtomicUsize,
    rr: AtomicUsize,
    queued: QueuedCounts,
}

impl ReadyQueues {
    /// Builds from one region per shape, each split into `nshards` queues.
    pub(crate) fn new(regions: Vec<Vec<Region<super::layout::QueueCell>>>) -> ReadyQueues {
        ReadyQueues {
            shards: regions.into_iter().map(|v| v.into_iter().map(ReadyQueue::new).collect()).collect(),
            overflow: Mutex::new(Default::default()),
            overflow_len: AtomicUsize::new(0),
            rr: AtomicUsize::new(0),
            queued: QueuedCounts::default(),
        }
    }

    /// Shards per shape.
    pub(crate) fn num_shards(&self) -> usize {
        self.shards[0].len()
    }

    /// Pushes to shard `home` (or round robin when `None`), falling back to
    /// the other shards and finally to an unbounded overflow list.
    pub(crate) fn push(&self, shp: usize, v: u64, home: Option<usize>) {
        let n = self.num_shards();
        let h = home.unwrap_or_else(|| self.rr.fetch_add(1, Relaxed)) % n;
        for k in 0..n {
            if self.shards[shp][(h + k) % n].push(v) {
                self.queued.0[shp].fetch_add(1, Release);
                return;
            }
        }
        let mut o = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        o[shp].push_back(v);
        self.overflow_len.fetch_add(1, Release);
        self.queued.0[shp].fetch_add(1, Release);
    }

    /// Pops from shard `home` first, then steals from the others.
    pub(crate) fn pop(&self, shp: usize, home: usize) -> Option<u64> {
        if self.queued.0[shp].load(Acquire) <= 0 {
            return None;
        }
        let v = self.pop_queued(shp, home);
        if v.is_some() {
            self.queued.0[shp].fetch_sub(1, Release);
        }
        v
    }

    fn pop_queued(&self, shp: usize, home: usize) -> Option<u64> {
        let qs = &self.shards[shp];
        let n = qs.len();
        let mut i = home % n;
        for _ in 0..n {
            // The emptiness hint (two loads) skips empty shards cheaply; a
            // push it misses is found by the next round of the caller.
            let q = &qs[i];
            if !q.is_empty_hint() {
                if let Some(v) = q.pop() {
                    return Some(v);
                }
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
        if self.overflow_len.load(Acquire) > 0 {
            let mut o = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(v) = o[shp].pop_front() {
                self.overflow_len.fetch_sub(1, Release);
                return Some(v);
            }
        }
        None
    }

    /// Whether any queue of any shape may hold work (three loads of one line).
    #[inline]
    pub(crate) fn any_work(&self) -> bool {
        let q = &self.queued.0;
        q[0].load(Acquire) > 0 || q[1].load(Acquire) > 0 || q[2].load(Acquire) > 0
    }

    /// Restores every touched cell to zero (exclusive use only).
    pub(crate) fn reset_regions(&mut self) {
        for s in self.shards.iter_mut() {
            for q in s.iter_mut() {
                q.reset_region();
            }
        }
    }
}

/// Scheduler-side wiring state (guarded by the wiring lock).
pub(crate) struct WiringState {
    /// Dependency list pools per ring.
    pub(crate) dep_pools: Vec<DepListPool>,
    /// Rings for which the wiring deadlock was already reported.
    pub(crate) reported: [bool; MAX_RINGS],
    /// Per ring, how far the deadlock check has looked through the queue.
    pub(crate) unwired_scans: [UnwiredScan; MAX_RINGS],
    /// The consumer side of the wiring queue: consuming needs this lock.
    pub(crate) wiring: WiringConsumer,
}

/// What the wiring's deadlock check (`head_waits_on_unwired`) has already
/// looked at for one ring: the queued tasks below queue position `upto`
/// name no fanin on the ring's oldest live task `la`. Payloads are
/// immutable while queued, so with the same `la` a later check only looks
/// at what was queued since: each queued task is looked at once per
/// watermark, however often the pool runs short.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct UnwiredScan {
    /// The watermark the scan was made for.
    pub(crate) la: u64,
    /// Queue positions below this were scanned for `la`.
    pub(crate) upto: u64,
}

/// Stall locator published by the watchdog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StallInfo {
    /// Sub-class (`stall::*`).
    pub detail: i32,
    /// Completed tasks at the time.
    pub completed: u64,
    /// Total tasks known at the time.
    pub total: u64,
    /// Running / ready / waiting counts.
    pub running: u32,
    /// Ready count.
    pub ready: u32,
    /// Waiting count.
    pub waiting: u32,
    /// Whether orchestration was done.
    pub orch_done: bool,
    /// First stuck task (raw id) or -1.
    pub task_id: i64,
    /// Its core or -1.
    pub core: i32,
}

/// Which part of a run latched a fatal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatalSource {
    /// The orchestrator (PTO2 codes 1..=99, or 0 for a code-less fatal).
    Orchestrator,
    /// A scheduler (PTO2 codes >= 100).
    Scheduler,
    /// User code failed: a kernel threw or panicked, or the orchestration
    /// returned an error.
    UserCode,
}

/// The first fatal error of a run (it decides the status and the message)
/// and up to [`MAX_SECONDARY`] later ones, appended to the message.
#[derive(Debug, Default)]
pub(crate) struct FatalState {
    /// Source, code and message of the first fatal error.
    pub(crate) first: Option<(FatalSource, i32, String)>,
    /// Messages of later fatal errors (bounded).
    pub(crate) secondary: Vec<String>,
}

/// How many secondary errors a run keeps.
pub(crate) const MAX_SECONDARY: usize = 4;

/// Everything shared during one run.
pub(crate) struct RunShared {
    /// The rings.
    pub(crate) rings: Vec<RingShared>,
    /// Fanin spill pool base and capacity per ring (read by schedulers).
    pub(crate) spill_pools: [(usize, u64); MAX_RINGS],
    /// Ready queues.
    pub(crate) ready: ReadyQueues,
    /// Dummy queue.
    pub(crate) dummy: ReadyQueue,
    /// Wiring queue (orchestrator → wiring lock holder).
    pub(crate) wiring: WiringQueue,
    /// Wiring lock + dep pools.
    pub(crate) wiring_state: Mutex<WiringState>,
    /// Orchestrator spinning on a full wiring queue.
    pub(crate) producer_blocked: AtomicBool,
    /// First orchestrator error code.
    pub(crate) orch_error: AtomicI32,
    /// First scheduler error code.
    pub(crate) sched_error: AtomicI32,
    /// Fatal without a PTO2 code (report_fatal(0), user code, unwinding).
    pub(crate) fatal_flag: AtomicBool,
    /// Set (after the code or flag above) whenever a first fatal is
    /// latched: `failed()` in one load ([`any_fatal`](Self::any_fatal)).
    pub(crate) any_fatal: AtomicBool,
    /// Stall locator.
    pub(crate) stall: Mutex<StallInfo>,
    /// The first fatal error and the later (secondary) ones.
    pub(crate) fatal: Mutex<FatalState>,
    /// Orchestrator call epoch: odd while the orchestrator thread runs
    /// runtime code, even while it runs user code; bumped on every entry to
    /// and exit from an API call (progress for the watchdog).
    /// Alone on its line: written on every call, read by the watchdog only.
    pub(crate) orch_epoch: Padded<AtomicU64>,
    /// `orch_epoch` as seen by the last watchdog check.
    pub(crate) watchdog_seen_epoch: AtomicU64,
    /// Orchestration finished.
    pub(crate) orch_done: AtomicBool,
    /// Σ current_task_index once orchestration is done.
    pub(crate) total_tasks: AtomicU64,
    /// Tasks allocated so far (any kind). Alone on its line: the
    /// orchestrator writes it per task, the watchdog reads it now and then.
    pub(crate) submitted: Padded<AtomicU64>,
    /// Completed tasks (including inline-completed alloc tasks). Alone on
    /// its line: every completion writes it, and the fields around it are
    /// read on every round.
    pub(crate) completed: Padded<AtomicU64>,
    /// Tasks wired so far (progress the watchdog samples, like `submitted`).
    pub(crate) wired: AtomicU64,
    /// The run is over (normal end or emergency). Alone on its line: every
    /// scheduler loads it on every round, and it is written once.
    pub(crate) run_complete: Padded<AtomicBool>,
    /// Called once, by the call of [`end_run`](Self::end_run) that ends the
    /// run: wakes the run's caller, which then waits for the threads to
    /// leave while they do (set by the engine before any thread starts).
    pub(crate) on_end: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Each scheduler thread's own ready tasks, by thread index (the last
    /// one for the orchestrator thread joining as a scheduler); any thread
    /// may steal from them.
    pub(crate) locals: Box<[LocalQueue]>,
    /// Core occupancy.
    pub(crate) cores: Vec<CoreSlot>,
    /// Clusters.
    pub(crate) block_dim: u32,
    /// Ms since `start` of the last progress.
    pub(crate) last_progress_ms: AtomicU64,
    /// Run start.
    pub(crate) start: Instant,
    /// Watchdog budget.
    pub(crate) timeout_ms: u64,
    /// `submitted + completed` as seen by the last watchdog check.
    pub(crate) watchdog_seen_submitted: AtomicU64,
    /// Scope stats enabled.
    pub(crate) scope_stats: bool,
    /// Task trace sink (`Some` iff the run is traced).
    pub(crate) trace: Option<super::trace::TraceSink>,
    /// Sleep/wake protocol of the scheduler threads.
    pub(crate) parker: Parker,
    /// Thread index + 1 of the thread collecting cores for a sync-start task
    /// (0 = none). Taken with `compare_exchange(0, idx + 1, AcqRel, Acquire)`
    /// and given back with a `Release` store of 0; while it is taken, other
    /// threads claim no core (`drain_active_elsewhere`), so the collector
    /// gets all the cores it needs instead of racing for them (which could
    /// starve a sync-start task forever).
    pub(crate) drain_owner: AtomicUsize,
}

impl RunShared {
    /// The slot a queue or list value names (see [`SlotRef`]).
    #[inline]
    pub(crate) fn slot_of(&self, r: SlotRef) -> &SlotState {
        // The bounds check costs ~4% of the per-task instructions when done
        // in release builds (callgrind, W1-W3), so only debug builds (and
        // every test) make it.
        debug_assert!(
            self.rings.iter().any(|ring| ring.resolve(r).is_some()),
            "internal error: {r:?} names no task slot of this run"
        );
        // SAFETY: the one place a name becomes a slot again. Every name is
        // made by `SlotRef::of` from a slot of this run's rings: the cells
        // names are read back from (ready, dummy and wiring queues, the scope
        // task list) are written with `SlotRef::bits` values only. The slot
        // regions outlive this `RunShared` (the `TrbMemory` contract), and a
        // `SlotState` is all atomics, so a slot reused by a later task is
        // still a valid `SlotState`.
        unsafe { &*(r.bits() as *const SlotState) }
    }

    /// Ring of a slot.
    pub(crate) fn ring_of(&self, s: &SlotState) -> &RingShared {
        &self.rings[s.ring_id.load(Relaxed) as usize % MAX_RINGS]
    }

    /// Milliseconds since the run started.
    pub(crate) fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Whether any fatal condition ends the run.
    pub(crate) fn failed(&self) -> bool {
        self.orch_error.load(Acquire) != 0 || self.sched_error.load(Acquire) != 0 || self.fatal_flag.load(Acquire)
    }

    /// [`failed`](Self::failed) in one load (the summary flag every latch sets).
    #[inline]
    pub(crate) fn any_fatal(&self) -> bool {
        self.any_fatal.load(Acquire)
    }

    /// Latches a fatal error and ends the run. The first fatal of the run
    /// wins atomically, whatever its source: it alone stores its code
    /// (orchestrator codes into `orch_error`, scheduler codes into
    /// `sched_error`, code-less and user-code failures into `fatal_flag`) and
    /// its message; a later one is kept as a secondary message. Returns true
    /// when this call latched the first fatal.
    pub(crate) fn latch_fatal(&self, source: FatalSource, code: i32, msg: &str) -> bool {
        let mut f = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
        let first = f.first.is_none();
        if first {
            f.first = Some((source, code, msg.to_string()));
            match source {
                FatalSource::Orchestrator if code != 0 => self.orch_error.store(code, SeqCst),
                FatalSource::Scheduler if code != 0 => self.sched_error.store(code, SeqCst),
                _ => self.fatal_flag.store(true, SeqCst),
            }
            self.any_fatal.store(true, SeqCst);
        } else if f.secondary.len() < MAX_SECONDARY {
            f.secondary.push(msg.to_string());
        }
        drop(f);
        self.end_run();
        first
    }

    /// Source and code of the first fatal, if any.
    pub(crate) fn first_fatal(&self) -> Option<(FatalSource, i32)> {
        self.fatal.lock().unwrap_or_else(|e| e.into_inner()).first.as_ref().map(|(s, c, _)| (*s, *c))
    }

    /// Latches an orchestrator code (see [`latch_fatal`](Self::latch_fatal));
    /// returns the code that decides the run (0 when the first fatal had none).
    pub(crate) fn latch_orch(&self, code: i32, msg: &str) -> i32 {
        if self.latch_fatal(FatalSource::Orchestrator, code, msg) {
            code
        } else {
            self.first_fatal().map_or(0, |f| f.1)
        }
    }

    /// Latches a scheduler code; true when it is the run's first fatal.
    pub(crate) fn latch_sched(&self, code: i32, msg: &str) -> bool {
        self.latch_fatal(FatalSource::Scheduler, code, msg)
    }

    /// Whether the orchestration is currently in user code (not inside a
    /// runtime call); see `orch_epoch`.
    pub(crate) fn orch_in_user_code(&self) -> bool {
        self.orch_epoch.0.load(Acquire) % 2 == 0
    }

    /// Ends the run (emergency or normal) and wakes everyone: the parked
    /// schedulers, and the run's caller ([`on_end`](Self::on_end), by the
    /// first call only).
    pub(crate) fn end_run(&self) {
        let first = !self.run_complete.swap(true, SeqCst);
        self.parker.wake_all();
        if first {
            if let Some(wake) = self.on_end.get() {
                wake();
            }
        }
    }

    /// Producers of a task (inline then spilled).
    ///
    /// # Safety
    /// `payload` must be the payload of a task published by the orchestrator
    /// of this run and not yet consumed.
    pub(crate) unsafe fn for_each_fanin(&self, payload: *const TaskPayload, mut f: impl FnMut(&SlotState)) {
        // SAFETY: the payload belongs to a published task; its fanin
        // fields were written by the orchestrator before publication and
        // stay unchanged until the task is consumed.
        let p = unsafe { &*payload };
        let n = p.fanin_actual_count.max(0) as usize;
        for &s in p.fanin_inline.iter().take(n.min(FANIN_INLINE_CAP)) {
            // SAFETY: fanin entries are slot-state pointers of live rings.
            f(unsafe { &*s });
        }
        if n > FANIN_INLINE_CAP {
            let base = p.fanin_spill_pool as *const FaninSpillEntry;
            let ring = (0..MAX_RINGS).find(|&r| self.spill_pools[r].0 == base as usize);
            if let Some(r) = ring {
                let cap = self.spill_pools[r].1;
                for k in 0..(n - FANIN_INLINE_CAP) as u64 {
                    // SAFETY: base/cap describe that ring's live spill pool and
                    // the entries are not reclaimed before this task is consumed.
                    let s = unsafe { FaninPool::get(base, cap, p.fanin_spill_start as u64 + k) };
                    // SAFETY: as above.
                    f(unsafe { &*s });
                }
            }
        }
    }

    /// `on_task_complete`: marks COMPLETED and notifies consumers; `ready`
    /// receives every consumer whose fanin became satisfied.
    #[inline]
    pub(crate) fn complete_task(&self, s: &SlotState, mut ready: impl FnMut(&SlotState)) {
        s.lock();
        s.task_state.store(task_state::COMPLETED as u32, Release);
        let head = s.fanout_head.load(Relaxed);
        s.unlock();
        // SAFETY: the list was built by the wiring side for this producer;
        // entries are reclaimed only after their consumers were consumed,
        // which requires this walk to have counted them.
        unsafe {
            for_each_consumer(head, |c| {
                let r = c.fanin_refcount.fetch_add(1, AcqRel) + 1;
                if r == c.fanin_count.load(Acquire) {
                    ready(c);
                }
            })
        };
    }

    /// `on_task_release`, first half: releases every producer of `s`.
    #[inline]
    pub(crate) fn release_producers(&self, s: &SlotState) {
        // SAFETY: `s` has run and is not COMPLETED yet, so it cannot be
        // consumed and its payload is not handed to another task (see
        // `finish_task`).
        unsafe {
            self.for_each_fanin(s.payload.load(Relaxed), |p| {
                let now = p.fanout_refcount.fetch_add(1, AcqRel) + 1;
                // `p` becomes consumable only when its releases reach its
                // claims (`check_consumed` tests exactly that, under the
                // slot lock). A claim's increment happens before its
                // consumer's release, which this AcqRel increment follows,
                // so `now` never exceeds the count read here; when it is
                // below, `p` is not consumable now, and whoever adds the
                // missing releases checks after its own increment (the scope
                // release and `p`'s own completion check unconditionally).
                // A fan-in's producers thus skip a locked check per release.
                if now == p.fanout_count.load(Acquire) {
                    self.ring_of(p).check_consumed(p);
                }
            })
        };
    }

    /// Finishes a task: release its producers, complete, check the task
    /// itself (the caller counts it in `completed`).
    ///
    /// Upstream completes first and releases after; here the producers are
    /// released first, while the task is not COMPLETED: a COMPLETED task
    /// may be consumed (by its consumers' and its scope's releases on other
    /// threads) and retire at once when no producer of its ring holds the
    /// ring back, and then its payload may go to a new task
    /// (`RingShared::payload_for`) while this thread still reads its fanin
    /// list. Releasing first is equivalent for the producers: the task's
    /// kernels have returned, so nothing reads their outputs on its behalf.
    #[inline]
    pub(crate) fn finish_task(&self, s: &SlotState, ready: impl FnMut(&SlotState)) {
        self.release_producers(s);
        self.complete_task(s, ready);
        self.ring_of(s).check_consumed(s);
        // Not counted in `completed` here: the scheduler thread counts its
        // finished tasks in batches (`Sched::count_finished`). No clock
        // read either: the watchdog samples `completed` as progress
        // (`sample_orch_progress`), which keeps a system call per task off
        // the completion path.
    }

    /// Whether the run's work is complete (orchestration done, all counted).
    pub(crate) fn all_done(&self) -> bool {
        self.orch_done.load(SeqCst) && self.completed.load(SeqCst) >= self.total_tasks.load(SeqCst)
    }

    /// Consumer bits of fanout counters: all claimed consumers released?
    pub(crate) fn consumers_released(s: &SlotState) -> bool {
        (s.fanout_refcount.load(Acquire) & !SCOPE_BIT) >= (s.fanout_count.load(Acquire) & !SCOPE_BIT)
    }
}
