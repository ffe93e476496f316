//! End-to-end tests of the orchestrator and the engine with closure kernels.

use super::api::*;
use super::engine::{build_run, CoreExecutor, EngineConfig, RunParams, RunReport, SimCore, TrbEngine};
use super::layout::{codes, task_id, task_state, TaskPayload, TrbMemory, SCOPE_BIT};
use super::orchestrator::Orchestrator;
use super::scope_stats_jsonl;
use super::shared::{stall, RunShared};
use crate::abi::tensor::Tensor;
use crate::abi::DataType;
use crate::config::RingSizing;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct FnExec<F: Fn(i32, *mut u64, SimCore) + Sync>(F);
impl<F: Fn(i32, *mut u64, SimCore) + Sync> CoreExecutor for FnExec<F> {
    fn run_subtask(&self, func_id: i32, args: *mut u64, core: SimCore) -> Result<(), String> {
        (self.0)(func_id, args, core);
        Ok(())
    }
}

fn params(windows: [u32; 4], heaps: [u64; 4], deps: [u32; 4]) -> RunParams {
    RunParams {
        block_dim: 3,
        sched_threads: 2,
        sizing: RingSizing::from_values(windows.map(u64::from), heaps, deps.map(u64::from)).unwrap(),
        scheduler_timeout_ms: 3000,
        ..RunParams::default()
    }
}

fn small() -> RunParams {
    params([64; 4], [1 << 20; 4], [256; 4])
}

fn run_with(p: RunParams, exec: &dyn CoreExecutor, mut f: impl FnMut(&mut dyn OrchestratorApi)) -> RunReport {
    let mem = TrbMemory::owned(&p.sizing);
    let mut engine = TrbEngine::new(EngineConfig::default()).unwrap();
    let t = Instant::now();
    let r = engine
        .run(&mem, p, exec, &mut |o| {
            f(o);
            Ok(())
        })
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(10));
    if r.abandoned.is_some() {
        // A thread stuck in user code may still use the run's memory.
        std::mem::forget(mem);
    }
    r
}

fn noop() -> FnExec<impl Fn(i32, *mut u64, SimCore) + Sync> {
    FnExec(|_, _, _| {})
}

fn aiv(id: i32) -> MixedKernelIds {
    MixedKernelIds { aic: -1, aiv0: id, aiv1: -1 }
}

fn f32_create(n: u32) -> TensorCreate {
    TensorCreate {
        shapes: [n, 0, 0, 0, 0],
        ndims: 1,
        dtype: DataType::Float32 as u8,
        manual_dep: false,
        initial_value: None,
    }
}

fn view<'a>(tensors: &'a [TensorArg<'a>], scalars: &'a [u64]) -> TaskArgsView<'a> {
    TaskArgsView { tensors, scalars, block_num: 1, require_sync_start: false, explicit_deps: &[] }
}

/// Kernel helpers: `args[i]` → tensor; data pointer.
unsafe fn tensor<'a>(args: *mut u64, i: usize) -> &'a Tensor {
    &*(*args.add(i) as *const Tensor)
}
unsafe fn data(t: &Tensor) -> *mut f32 {
    (t.buffer_addr as *mut f32).add(t.start_offset as usize)
}

// ---------------------------------------------------------------------------
// Vector example.

#[test]
fn vector_example_five_tasks_nested_scope() {
    const N: u32 = 16384;
    let a = vec![2.0f32; N as usize];
    let b = vec![3.0f32; N as usize];
    let mut f = vec![0.0f32; N as usize];
    let ta = Tensor::external(a.as_ptr() as u64, &[N], DataType::Float32);
    let tb = Tensor::external(b.as_ptr() as u64, &[N], DataType::Float32);
    let tf = Tensor::external(f.as_mut_ptr() as u64, &[N], DataType::Float32);
    let calls = AtomicU32::new(0);
    let exec = FnExec(|func, args, core| {
        calls.fetch_add(1, Relaxed);
        assert!(!core.is_aic);
        // SAFETY: args follow the dispatch layout; tensors point at live buffers.
        unsafe {
            let lc = *(*args.add(48) as *const i32);
            assert_eq!(lc, 0, "block_idx");
            match func {
                0 | 2 => {
                    let (x, y, z) = (tensor(args, 0), tensor(args, 1), tensor(args, 2));
                    let n = x.numel() as usize;
                    let (px, py, pz) = (data(x), data(y), data(z));
                    for i in 0..n {
                        *pz.add(i) = if func == 0 { *px.add(i) + *py.add(i) } else { *px.add(i) * *py.add(i) };
                    }
                }
                1 => {
                    let (x, z) = (tensor(args, 0), tensor(args, 1));
                    let s = f32::from_bits(*args.add(2) as u32);
                    assert_eq!(*args.add(3), 3);
                    for i in 0..x.numel() as usize {
                        *data(z).add(i) = *data(x).add(i) + s;
                    }
                }
                _ => panic!("unknown func"),
            }
        }
    });
    let mut ids = Vec::new();
    let rep = run_with(small(), &exec, |o| {
        let ci = f32_create(N);
        let r0 =
            o.submit_task(aiv(0), &view(&[TensorArg::Input(&ta), TensorArg::Input(&tb), TensorArg::Output(&ci)], &[]));
        // SAFETY: output pointers stay valid until the root scope ends.
        let c = unsafe { *r0.outputs[0] };
        assert_eq!(c.buffer_size, 65536);
        assert_eq!(c.owner_task_id, r0.task_id);
        assert_eq!(c.buffer_addr % 1024, 0);
        ids.push(r0.task_id);
        o.scope_set_site("/x/example_orchestration.cpp", 77);
        o.scope_begin(ScopeMode::Auto);
        let r1 = o
            .submit_task(aiv(1), &view(&[TensorArg::Input(&c), TensorArg::Output(&ci)], &[1.0f32.to_bits() as u64, 3]));
        let r2 = o
            .submit_task(aiv(1), &view(&[TensorArg::Input(&c), TensorArg::Output(&ci)], &[2.0f32.to_bits() as u64, 3]));
        // SAFETY: as above.
        let (d, e) = unsafe { (*r1.outputs[0], *r2.outputs[0]) };
        let r3 =
            o.submit_task(aiv(2), &view(&[TensorArg::Input(&d), TensorArg::Input(&e), TensorArg::Output(&ci)], &[3]));
        // SAFETY: as above.
        let g = unsafe { *r3.outputs[0] };
        let r4 = o.submit_task(
            aiv(0),
            &view(&[TensorArg::Input(&g), TensorArg::Input(&c), TensorArg::OutputExisting(&tf)], &[]),
        );
        ids.extend([r1.task_id, r2.task_id, r3.task_id, r4.task_id]);
        o.scope_end();
    });
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rep.total_tasks, 5);
    assert_eq!(calls.load(Relaxed), 5);
    assert_eq!(ids, vec![0, 1 << 32, (1 << 32) + 1, (1 << 32) + 2, (1 << 32) + 3]);
    assert!(f.iter().all(|&v| v == 47.0), "f[0]={}", f[0]);
}

#[test]
fn empty_orchestration_finishes_at_once() {
    let t = Instant::now();
    let rep = run_with(small(), &noop(), |_| {});
    assert_eq!(rep.status, 0);
    assert_eq!(rep.total_tasks, 0);
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn engine_is_reusable_across_runs() {
    let p = small();
    let mem = TrbMemory::owned(&p.sizing);
    let mut engine = TrbEngine::new(EngineConfig::default()).unwrap();
    let count = AtomicU32::new(0);
    let exec = FnExec(|_, _, _| {
        count.fetch_add(1, Relaxed);
    });
    for _ in 0..3 {
        let rep = engine
            .run(&mem, p, &exec, &mut |o| {
                for _ in 0..10 {
                    o.scope_begin(ScopeMode::Auto);
                    for _ in 0..20 {
                        o.submit_task(aiv(0), &view(&[], &[]));
                    }
                    o.scope_end();
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(rep.status, 0);
        assert_eq!(rep.total_tasks, 200);
    }
    assert_eq!(count.load(Relaxed), 600);
}

// ---------------------------------------------------------------------------
// Orchestrator-only harness (no schedulers): dependency derivation.

struct Harness {
    _mem: super::arena::OwnedTrbMemory,
    sh: RunShared,
    tables: Option<super::orchestrator::OrchTables>,
}

fn harness(windows: [u32; 4]) -> Harness {
    let p = params(windows, [1 << 16; 4], [64; 4]);
    let mem = TrbMemory::owned(&p.sizing);
    let (sh, tables) = build_run(&mem, &p);
    Harness { _mem: mem, sh, tables: Some(tables) }
}

fn fanins(sh: &RunShared, raw: u64) -> Vec<u64> {
    let ring = &sh.rings[task_id::ring(raw)];
    let p: *const TaskPayload = ring.payload_of(task_id::local(raw));
    let mut v = Vec::new();
    // SAFETY: the task was just submitted in this harness and is not consumed.
    unsafe {
        sh.for_each_fanin(p, |s| {
            v.push((*s.task.load(Relaxed)).task_id.load(Relaxed));
        })
    };
    v.sort();
    v
}

fn ext(buf: &[f32], n: u32) -> Tensor {
    let mut t = Tensor::external(buf.as_ptr() as u64, &[n], DataType::Float32);
    t.buffer_size = (buf.len() * 4) as u64;
    t
}

fn sub(t: &Tensor, start: u64, len: u32) -> Tensor {
    let mut v = *t;
    v.start_offset = start;
    v.shapes[0] = len;
    v
}

#[test]
fn ids_and_ring_choice() {
    let mut h = harness([16; 4]);
    let mut o = Orchestrator::new(&h.sh, h.tables.take().unwrap(), 3, 6);
    o.scope_begin(ScopeMode::Auto);
    let mut got = Vec::new();
    got.push(o.submit_task(aiv(0), &view(&[], &[])).task_id);
    let ci = f32_create(4);
    got.push(o.alloc_tensors(&view(&[TensorArg::Output(&ci)], &[])).task_id);
    got.push(o.submit_dummy_task(&view(&[], &[])).task_id);
    for d in 1..=4 {
        o.scope_begin(ScopeMode::Auto);
        got.push(o.submit_task(aiv(0), &view(&[], &[])).task_id);
        let _ = d;
    }
    assert_eq!(got, vec![0, 1, 2, 1 << 32, 2 << 32, 3 << 32, (3 << 32) + 1], "depth 4 shares ring 3");
}

#[test]
fn dependency_rules() {
    let mut h = harness([64; 4]);
    let sh = &h.sh;
    let mut o = Orchestrator::new(sh, h.tables.take().unwrap(), 3, 6);
    o.scope_begin(ScopeMode::Auto);
    let buf = vec![0f32; 100];
    let x = ext(&buf, 100);
    let ci = f32_create(8);
    // Rule 10: creator via owner id, no TensorMap entry for OUTPUT.
    let t0 = o.submit_task(aiv(0), &view(&[TensorArg::Output(&ci)], &[]));
    // SAFETY: pointer valid until scope end.
    let c = unsafe { *t0.outputs[0] };
    let t1 = o.submit_task(aiv(0), &view(&[TensorArg::Input(&c)], &[]));
    assert_eq!(fanins(sh, t1.task_id), vec![t0.task_id]);
    // Rule 11: overlapping vs disjoint ranges of an INOUT writer.
    let w = o.submit_task(aiv(0), &view(&[TensorArg::Inout(&sub(&x, 0, 50))], &[]));
    let r1 = o.submit_task(aiv(0), &view(&[TensorArg::Input(&sub(&x, 40, 20))], &[]));
    let r2 = o.submit_task(aiv(0), &view(&[TensorArg::Input(&sub(&x, 50, 50))], &[]));
    assert_eq!(fanins(sh, r1.task_id), vec![w.task_id]);
    assert!(fanins(sh, r2.task_id).is_empty());
    // Rule 13: higher version always overlaps.
    let mut v1 = sub(&x, 60, 40);
    v1.version = 1;
    let r3 = o.submit_task(aiv(0), &view(&[TensorArg::Input(&v1)], &[]));
    assert_eq!(fanins(sh, r3.task_id), vec![w.task_id]);
    // Rule 12: a covering INOUT removes the earlier writer's entry.
    let w2 = o.submit_task(aiv(0), &view(&[TensorArg::Inout(&x)], &[]));
    assert_eq!(fanins(sh, w2.task_id), vec![w.task_id]);
    let r4 = o.submit_task(aiv(0), &view(&[TensorArg::Input(&sub(&x, 10, 10))], &[]));
    assert_eq!(fanins(sh, r4.task_id), vec![w2.task_id]);
    // Rule 14: WAR not tracked.
    let buf2 = vec![0f32; 16];
    let y = ext(&buf2, 16);
    o.submit_task(aiv(0), &view(&[TensorArg::Input(&y)], &[]));
    let wy = o.submit_task(aiv(0), &view(&[TensorArg::OutputExisting(&y)], &[]));
    assert!(fanins(sh, wy.task_id).is_empty());
    // Rule 15: duplicates collapse.
    let deps = [t0.task_id, t0.task_id];
    let dup = o.submit_task(
        aiv(0),
        &TaskArgsView { explicit_deps: &deps, ..view(&[TensorArg::Input(&c), TensorArg::NoDep(&c)], &[]) },
    );
    assert_eq!(fanins(sh, dup.task_id), vec![t0.task_id]);
    let s0 = sh.rings[0].slot(0);
    assert_eq!(s0.fanout_count.load(Relaxed), SCOPE_BIT, "the root scope holds t0: its claims are pending");
    o.settle_claims();
    assert_eq!(s0.fanout_count.load(Relaxed), SCOPE_BIT | 2, "t1 and dup");
    // Rule 17: manual scope — explicit deps only; AUTO inside → code 5.
    o.scope_begin(ScopeMode::Manual);
    let m1 = o.submit_task(aiv(0), &view(&[TensorArg::Input(&c), TensorArg::Input(&x)], &[]));
    assert!(fanins(sh, m1.task_id).is_empty());
    let deps = [w2.task_id];
    let m2 = o.submit_task(aiv(0), &TaskArgsView { explicit_deps: &deps, ..view(&[TensorArg::Inout(&x)], &[]) });
    assert_eq!(fanins(sh, m2.task_id), vec![w2.task_id]);
    o.scope_begin(ScopeMode::Auto);
    assert!(o.is_fatal());
    assert_eq!(sh.orch_error.load(Relaxed), codes::INVALID_ARGS);
}

#[test]
fn explicit_deps_retired_ignored_invalid_fatal() {
    let mut h = harness([16; 4]);
    let sh = &h.sh;
    let mut o = Orchestrator::new(sh, h.tables.take().unwrap(), 3, 6);
    o.scope_begin(ScopeMode::Auto);
    o.scope_begin(ScopeMode::Auto);
    let t = o.submit_task(aiv(0), &view(&[], &[]));
    // Pretend the task ran: completed, then its scope ends → consumed.
    sh.rings[1].slot(0).task_state.store(task_state::COMPLETED as u32, Release);
    o.scope_end();
    assert_eq!(sh.rings[1].last_task_alive.load(Relaxed), 1, "reclaimed");
    o.scope_begin(ScopeMode::Auto);
    let deps = [t.task_id];
    let u = o.submit_task(aiv(0), &TaskArgsView { explicit_deps: &deps, ..view(&[], &[]) });
    assert!(fanins(sh, u.task_id).is_empty());
    let bad = [task_id::make(2, 5)];
    let r = o.submit_task(aiv(0), &TaskArgsView { explicit_deps: &bad, ..view(&[], &[]) });
    assert_eq!(r.task_id, INVALID_TASK);
    assert_eq!(sh.orch_error.load(Relaxed), codes::INVALID_ARGS);
}

#[test]
fn the_end_of_a_run_wakes_its_caller_once() {
    let h = harness([64; 4]);
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    assert!(h
        .sh
        .on_end
        .set(Box::new(move || {
            seen.fetch_add(1, Relaxed);
        }))
        .is_ok());
    assert!(!h.sh.run_complete.load(Relaxed));
    // Every thread that finds the run over calls `end_run`; only the first
    // call ends it and wakes the caller.
    for _ in 0..3 {
        h.sh.end_run();
    }
    assert!(h.sh.run_complete.load(Relaxed));
    assert_eq!(calls.load(Relaxed), 1);
    // Latching a fatal after the end also ends the run again: no new wakeup.
    h.sh.latch_sched(codes::SCHEDULER_TIMEOUT, "late");
    assert_eq!(calls.load(Relaxed), 1);
}

#[test]
fn fatal_latching_first_code_wins_and_calls_become_noops() {
    let rep = run_with(small(), &noop(), |o| {
        o.report_fatal(codes::EXPLICIT_ORCH_FATAL, "user says stop");
        assert!(o.is_fatal());
        o.report_fatal(codes::INVALID_ARGS, "second");
        let r = o.submit_task(aiv(0), &view(&[], &[]));
        assert_eq!(r.task_id, INVALID_TASK);
        assert!(r.outputs.is_empty());
    });
    assert_eq!(rep.orch_error_code, 9);
    assert_eq!(rep.status, -9);
    assert!(rep.message.contains("user says stop"));
    let rep = run_with(small(), &noop(), |o| {
        o.report_fatal(0, "no code");
        assert!(o.is_fatal());
        assert_eq!(o.submit_task(aiv(0), &view(&[], &[])).task_id, INVALID_TASK);
    });
    assert_eq!(rep.status, 0);
    assert!(rep.fatal);
}

#[test]
fn invalid_args_and_alloc_tensors_misuse_are_code_5() {
    let rep = run_with(small(), &noop(), |o| {
        let ci = f32_create(4);
        let buf = [0f32; 4];
        let x = ext(&buf, 4);
        let r = o.alloc_tensors(&view(&[TensorArg::Output(&ci), TensorArg::Input(&x)], &[]));
        assert_eq!(r.task_id, INVALID_TASK);
    });
    assert_eq!(rep.orch_error_code, codes::INVALID_ARGS);
    let rep = run_with(small(), &noop(), |o| {
        let ci = f32_create(4);
        o.alloc_tensors(&view(&[TensorArg::Output(&ci)], &[1]));
    });
    assert_eq!(rep.status, -5);
}

#[test]
fn sync_start_over_core_count_is_code_7() {
    let rep = run_with(small(), &noop(), |o| {
        o.submit_task(aiv(0), &TaskArgsView { block_num: 7, require_sync_start: true, ..view(&[], &[]) });
    });
    assert_eq!(rep.status, -7);
}

// ---------------------------------------------------------------------------
// Execution semantics.

#[test]
fn spmd_blocks_and_sync_start_and_mix_lanes_run_together() {
    let hits = Mutex::new(Vec::new());
    let arrived = AtomicU32::new(0);
    let together = AtomicU32::new(0);
    let exec = FnExec(|func, args, core| {
        // SAFETY: dispatch layout.
        let (bi, bn, sub) = unsafe {
            let lc = *args.add(48) as *const i32;
            (*lc, *lc.add(1), *(*args.add(49) as *const i32))
        };
        match func {
            0 => hits.lock().unwrap().push((bi, bn)),
            1..=3 => {
                // Rendezvous: every participant must be running concurrently.
                let need = if func == 1 { 4 } else { 2 };
                arrived.fetch_add(1, SeqCst);
                let t = Instant::now();
                while arrived.load(SeqCst) % need != 0 && t.elapsed() < Duration::from_secs(2) {
                    std::thread::yield_now();
                }
                if arrived.load(SeqCst) % need == 0 {
                    together.fetch_add(1, SeqCst);
                }
                if func == 3 {
                    assert_eq!(sub, 1);
                    assert!(!core.is_aic && core.lane == 1);
                }
                if func == 2 {
                    assert!(core.is_aic);
                }
            }
            _ => {}
        }
    });
    let rep = run_with(small(), &exec, |o| {
        o.submit_task(aiv(0), &TaskArgsView { block_num: 5, ..view(&[], &[]) });
    });
    assert_eq!(rep.status, 0);
    let mut h = hits.lock().unwrap().clone();
    h.sort();
    assert_eq!(h, (0..5).map(|b| (b, 5)).collect::<Vec<_>>());
    let rep = run_with(small(), &exec, |o| {
        o.submit_task(aiv(1), &TaskArgsView { block_num: 4, require_sync_start: true, ..view(&[], &[]) });
    });
    assert_eq!(rep.status, 0);
    assert_eq!(together.load(SeqCst), 4, "all four blocks ran at once");
    arrived.store(0, SeqCst);
    together.store(0, SeqCst);
    let rep = run_with(small(), &exec, |o| {
        o.submit_task(MixedKernelIds { aic: 2, aiv0: -1, aiv1: 3 }, &view(&[], &[]));
    });
    assert_eq!(rep.status, 0);
    assert_eq!(together.load(SeqCst), 2, "MIX lanes ran at once");
}

#[test]
fn dummy_and_alloc_tasks_order_and_complete() {
    let log = Mutex::new(Vec::new());
    let exec = FnExec(|func, args, _| {
        if func == 1 {
            // SAFETY: args[0] is the alloc'ed tensor.
            unsafe { *data(tensor(args, 0)) = 42.0 };
        }
        log.lock().unwrap().push(func);
    });
    let mut read = 0u64;
    let rep = run_with(small(), &exec, |o| {
        let ci = TensorCreate { initial_value: Some(7.5f32.to_bits() as u64), ..f32_create(4) };
        let a = o.alloc_tensors(&view(&[TensorArg::Output(&ci)], &[]));
        // SAFETY: valid until scope end.
        let x = unsafe { *a.outputs[0] };
        assert_eq!(f32::from_bits(o.get_tensor_data(&x, &[3]) as u32), 7.5);
        let t0 = o.submit_task(aiv(0), &view(&[], &[]));
        let deps = [t0.task_id];
        let d = o.submit_dummy_task(&TaskArgsView { explicit_deps: &deps, ..view(&[], &[]) });
        let deps2 = [d.task_id];
        o.submit_task(aiv(1), &TaskArgsView { explicit_deps: &deps2, ..view(&[TensorArg::Inout(&x)], &[]) });
        read = o.get_tensor_data(&x, &[0]);
        o.set_tensor_data(&x, &[1], 1.5f32.to_bits() as u64);
        assert_eq!(f32::from_bits(o.get_tensor_data(&x, &[1]) as u32), 1.5);
    });
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(rep.total_tasks, 4);
    assert_eq!(rep.completed_tasks, 4);
    assert_eq!(*log.lock().unwrap(), vec![0, 1]);
    assert_eq!(f32::from_bits(read as u32), 42.0);
}

#[test]
fn set_tensor_data_waits_for_the_readers_of_a_held_producer() {
    // The readers' claims of the producer are pending while the scope is
    // open (`orchestrator/held.rs`); the write must still wait until every
    // reader has run, so each reads the producer's value, never the write.
    let seen = Mutex::new(Vec::new());
    let exec = FnExec(|func, args, _| {
        // SAFETY: args[0] is the task's tensor (4 f32).
        let x = unsafe { data(tensor(args, 0)) };
        match func {
            // SAFETY: x points to 4 f32.
            0 => unsafe { *x = 1.0 },
            _ => {
                std::thread::sleep(Duration::from_millis(20));
                // SAFETY: as above.
                seen.lock().unwrap().push(unsafe { *x });
            }
        }
    });
    let rep = run_with(small(), &exec, |o| {
        let p = o.submit_task(aiv(0), &view(&[TensorArg::Output(&f32_create(4))], &[]));
        // SAFETY: valid until the root scope ends.
        let x = unsafe { *p.outputs[0] };
        for _ in 0..3 {
            o.submit_task(aiv(1), &view(&[TensorArg::Input(&x)], &[]));
        }
        o.set_tensor_data(&x, &[0], 9.0f32.to_bits() as u64);
        assert_eq!(f32::from_bits(o.get_tensor_data(&x, &[0]) as u32), 9.0);
    });
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(*seen.lock().unwrap(), vec![1.0; 3], "a reader ran after the write");
}

#[test]
fn held_claims_release_their_producers_through_a_small_window() {
    // 300 rounds of 1 -> 8 -> 1 in a ring-1 scope, plus two readers in a
    // nested ring-2 scope whose end counts the claims of the outer scope's
    // producer early, through windows of 16. The claims of held producers
    // are counted at scope end (`orchestrator/held.rs`): a claim counted
    // twice or never leaves a producer unconsumed (the ring stops and the
    // run fails on its window), one counted too few frees it early (a later
    // round overwrites its output before a reader ran: a wrong sum).
    const ROUNDS: u64 = 300;
    for sched_threads in [1, 2, 4] {
        let mut p = params([16; 4], [1 << 16; 4], [64; 4]);
        p.sched_threads = sched_threads;
        let bad = AtomicU64::new(0);
        let joins = AtomicU64::new(0);
        let exec = FnExec(|func, args, _| {
            // SAFETY: args follow the dispatch layout: the tensors below,
            // then the round number; every tensor holds 1 f32.
            unsafe {
                match func {
                    0 => *data(tensor(args, 0)) = *args.add(1) as f32,
                    1 => *data(tensor(args, 1)) = *data(tensor(args, 0)),
                    2 => {
                        let sum: f32 = (0..8).map(|i| *data(tensor(args, i))).sum();
                        if sum != 8.0 * *args.add(8) as f32 {
                            bad.fetch_add(1, Relaxed);
                        }
                        joins.fetch_add(1, Relaxed);
                    }
                    _ => {
                        if *data(tensor(args, 0)) != *args.add(1) as f32 {
                            bad.fetch_add(1, Relaxed);
                        }
                    }
                }
            }
        });
        let rep = run_with(p, &exec, |o| {
            let one = f32_create(1);
            for r in 0..ROUNDS {
                o.scope_begin(ScopeMode::Auto);
                let h = o.submit_task(aiv(0), &view(&[TensorArg::Output(&one)], &[r]));
                // SAFETY: outputs stay valid until this scope ends.
                let x = unsafe { *h.outputs[0] };
                let mut outs = Vec::new();
                for _ in 0..8 {
                    let t = o.submit_task(aiv(1), &view(&[TensorArg::Input(&x), TensorArg::Output(&one)], &[]));
                    // SAFETY: as above.
                    outs.push(unsafe { *t.outputs[0] });
                }
                o.scope_begin(ScopeMode::Auto);
                for _ in 0..2 {
                    o.submit_task(aiv(3), &view(&[TensorArg::Input(&x)], &[r]));
                }
                o.scope_end();
                let ins: Vec<TensorArg<'_>> = outs.iter().map(TensorArg::Input).collect();
                o.submit_task(aiv(2), &view(&ins, &[r]));
                o.scope_end();
            }
        });
        assert_eq!(rep.status, 0, "{sched_threads} scheduler threads: {}", rep.message);
        assert_eq!(rep.completed_tasks, ROUNDS * 12);
        assert_eq!(joins.load(Relaxed), ROUNDS);
        assert_eq!(bad.load(Relaxed), 0, "{sched_threads} scheduler threads: a task read another round's value");
    }
}

#[test]
fn live_tasks_beyond_the_hot_payloads_keep_their_own_arguments() {
    // Rounds of a gate, 3000 writers behind it and 3000 readers, in one
    // scope: the gate holds every writer until the whole round is
    // submitted, so 6001 tasks are in flight through windows of 8192, more
    // than the 4096 hot payloads: each round's first tasks take hot entries
    // (freed by the previous round's retirement), the rest their slots'
    // payloads. Every task's scalar names it: each must run exactly once as
    // a writer and once as a reader, and every reader must find its
    // writer's value. Two live tasks sharing a payload would both run with
    // the later one's arguments.
    const N: u64 = 3000;
    const ROUNDS: u64 = 3;
    const _: () = assert!(2 * N > super::layout::HOT_PAYLOADS as u64);
    for sched_threads in [2, 3] {
        let mut p = params([8192; 4], [64 << 20; 4], [65536; 4]);
        p.sched_threads = sched_threads;
        let seen: Vec<[AtomicU32; 2]> = (0..ROUNDS * N).map(|_| Default::default()).collect();
        let (bad, submitted) = (AtomicU64::new(0), AtomicU64::new(0));
        let exec = FnExec(|func, args, _| {
            // SAFETY: args follow the dispatch layout: the gate has one
            // tensor (its output) then its round; a writer two tensors of
            // 1 f32 (gate, output), a reader one, then the scalar (below
            // ROUNDS * N).
            unsafe {
                match func {
                    2 => {
                        let t = Instant::now();
                        while submitted.load(Acquire) <= *args.add(1) {
                            if t.elapsed() > Duration::from_secs(2) {
                                bad.fetch_add(1, Relaxed);
                                break;
                            }
                            std::thread::yield_now();
                        }
                    }
                    0 => {
                        let v = *args.add(2);
                        *data(tensor(args, 1)) = v as f32;
                        seen[v as usize][0].fetch_add(1, Relaxed);
                    }
                    _ => {
                        let v = *args.add(1);
                        if *data(tensor(args, 0)) != v as f32 {
                            bad.fetch_add(1, Relaxed);
                        }
                        seen[v as usize][1].fetch_add(1, Relaxed);
                    }
                }
            }
        });
        let rep = run_with(p, &exec, |o| {
            let one = f32_create(1);
            for round in 0..ROUNDS {
                o.scope_begin(ScopeMode::Auto);
                let g = o.submit_task(aiv(2), &view(&[TensorArg::Output(&one)], &[round]));
                let Some(&gate) = g.outputs.first() else {
                    return; // the run failed: the report says why
                };
                // SAFETY: outputs stay valid until this scope ends.
                let gate = unsafe { *gate };
                let mut outs = Vec::new();
                for i in 0..N {
                    let args = [TensorArg::Input(&gate), TensorArg::Output(&one)];
                    let h = o.submit_task(aiv(0), &view(&args, &[round * N + i]));
                    let Some(&x) = h.outputs.first() else {
                        return;
                    };
                    // SAFETY: as above.
                    outs.push(unsafe { *x });
                }
                for (i, x) in (0..N).zip(&outs) {
                    o.submit_task(aiv(1), &view(&[TensorArg::Input(x)], &[round * N + i]));
                }
                submitted.store(round + 1, Release);
                o.scope_end();
            }
        });
        assert_eq!(rep.status, 0, "{sched_threads} scheduler threads: {}", rep.message);
        let counts: Vec<[u32; 2]> = seen.iter().map(|c| c.each_ref().map(|a| a.load(Relaxed))).collect();
        let wrong = counts.iter().position(|c| *c != [1, 1]);
        assert_eq!(
            wrong,
            None,
            "{sched_threads} scheduler threads: task {wrong:?} ran {:?} times",
            wrong.map(|i| counts[i])
        );
        assert_eq!(bad.load(Relaxed), 0, "{sched_threads} scheduler threads: a reader saw another task's value");
    }
}

#[test]
fn window_reclaims_in_order_with_many_tasks() {
    // 2000 tasks through a window of 8: the orchestrator blocks on W−1 live
    // tasks and resumes as slots are reclaimed in order.
    let p = params([8; 4], [4096; 4], [16; 4]);
    let n = AtomicU64::new(0);
    let exec = FnExec(|_, _, _| {
        n.fetch_add(1, Relaxed);
    });
    let rep = run_with(p, &exec, |o| {
        let ci = f32_create(16);
        let mut prev: Option<Tensor> = None;
        for i in 0..2000 {
            o.scope_begin(ScopeMode::Auto);
            let r = match prev {
                Some(t) if i % 2 == 1 => {
                    o.submit_task(aiv(0), &view(&[TensorArg::Input(&t), TensorArg::Output(&ci)], &[]))
                }
                _ => o.submit_task(aiv(0), &view(&[TensorArg::Output(&ci)], &[])),
            };
            // SAFETY: valid until this scope ends (used only in the next iteration's
            // scope as an input copy, whose producer is retained by owner id).
            assert_ne!(r.task_id, INVALID_TASK, "task {i}");
            prev = Some(unsafe { *r.outputs[0] });
            o.scope_end();
        }
    });
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(n.load(Relaxed), 2000);
    assert_eq!(rep.total_tasks, 2000);
}

/// Runs `n` tasks on ring 1 (one scope each) through a window of 8 with a
/// dep pool of `pool` entries. Task `i` reads the outputs of the
/// `fanins(i)` tasks before it (those still live become its fanins); at most
/// 7 tasks are live, so a pool of 7 × the largest fanin can never run out.
/// Returns the report and how many kernels ran.
fn chain_through_small_window(n: usize, pool: u32, fanins: impl Fn(usize) -> usize) -> (RunReport, u64) {
    let p = params([8; 4], [4096; 4], [pool; 4]);
    let ran = AtomicU64::new(0);
    let exec = FnExec(|_, _, _| {
        ran.fetch_add(1, Relaxed);
    });
    let rep = run_with(p, &exec, |o| {
        let ci = f32_create(16);
        let mut prev: Vec<Tensor> = Vec::new();
        for i in 0..n {
            o.scope_begin(ScopeMode::Auto);
            let k = fanins(i).min(prev.len());
            let mut args: Vec<TensorArg<'_>> = prev[..k].iter().map(TensorArg::Input).collect();
            args.push(TensorArg::Output(&ci));
            let r = o.submit_task(aiv(0), &view(&args, &[]));
            assert_ne!(r.task_id, INVALID_TASK, "task {i}");
            // SAFETY: the output is read right away, inside its scope; later
            // iterations use only this copy (producers are tracked by owner id).
            prev.insert(0, unsafe { *r.outputs[0] });
            prev.truncate(4);
            o.scope_end();
        }
    });
    (rep, ran.load(Relaxed))
}

#[test]
fn dep_pool_at_the_proven_bound_is_never_exhausted() {
    // Regression: a task allocated into a reused slot could be retired by a
    // concurrent advance before it was submitted; the dep pool then lost a
    // reclaim round and reported a false "Dep Pool Exhausted" fatal. The
    // ring drains completely between submissions here, which is when the
    // race hits (a roomy pool is hit hardest: reclaims are forced rarely, so
    // a lost round is not repaired before the pool runs short); several
    // runs make a regression show in most processes.
    type Pattern = fn(usize) -> usize;
    let cases: [(&str, u32, Pattern); 6] = [
        ("alternating 0/1 fanin", 7, |i| i % 2),
        ("alternating 0/1 fanin, roomy pool", 16, |i| i % 2),
        ("chain, roomy pool", 16, |_| 1),
        ("chain", 7, |_| 1),
        ("fan of 2", 14, |_| 2),
        ("alternating 0/3 fanins", 21, |i| 3 * (i % 2)),
    ];
    for run in 0..8 {
        for (name, pool, f) in cases {
            let (rep, ran) = chain_through_small_window(1500, pool, f);
            assert_eq!(rep.status, 0, "run {run}, {name}, pool {pool}: {}", rep.message);
            assert_eq!((rep.total_tasks, rep.completed_tasks, ran), (1500, 1500, 1500), "{name}");
        }
    }
}

// ---------------------------------------------------------------------------
// Failure reporting.

#[test]
fn scope_deadlock_is_immediate_code_1() {
    let p = params([4; 4], [4096; 4], [16; 4]);
    let t = Instant::now();
    let rep = run_with(p, &noop(), |o| {
        for _ in 0..3 {
            assert_ne!(o.submit_task(aiv(0), &view(&[], &[])).task_id, INVALID_TASK);
        }
        assert_eq!(o.submit_task(aiv(0), &view(&[], &[])).task_id, INVALID_TASK);
    });
    assert!(t.elapsed() < Duration::from_millis(400));
    assert_eq!(rep.status, -1);
    assert!(rep.message.contains("ring 0") && rep.message.contains("PTO2_RING_TASK_WINDOW"), "{}", rep.message);
}

#[test]
fn scope_gated_window_is_structural_code_3() {
    let p = params([4; 4], [4096; 4], [16; 4]);
    let t = Instant::now();
    let rep = run_with(p, &noop(), |o| {
        for _ in 0..3 {
            o.scope_begin(ScopeMode::Auto);
        }
        o.submit_task(aiv(0), &view(&[], &[]));
        o.submit_task(aiv(0), &view(&[], &[]));
        o.scope_begin(ScopeMode::Auto); // depth 4 still uses ring 3
        o.submit_task(aiv(0), &view(&[], &[]));
        // Wait until the head task is completed so the structural test applies.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(o.submit_task(aiv(0), &view(&[], &[])).task_id, INVALID_TASK);
    });
    assert_eq!(rep.status, -3, "{}", rep.message);
    assert!(rep.message.contains("ring=3"), "{}", rep.message);
    assert!(t.elapsed() < Duration::from_millis(450), "structural, not the 500 ms backstop");
}

#[test]
fn heap_exhaustion_is_code_2() {
    let p = params([16; 4], [1024; 4], [16; 4]);
    let rep = run_with(p, &noop(), |o| {
        let big = f32_create(256); // 1024 bytes
        o.submit_task(aiv(0), &view(&[TensorArg::Output(&big)], &[]));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(o.submit_task(aiv(0), &view(&[TensorArg::Output(&big)], &[])).task_id, INVALID_TASK);
    });
    assert_eq!(rep.status, -2);
    assert!(rep.message.contains("PTO2_RING_HEAP"), "{}", rep.message);
}

#[test]
fn blocked_window_without_progress_times_out_code_3() {
    let p = params([4; 4], [4096; 4], [16; 4]);
    let exec = FnExec(|func, _, _| {
        if func == 9 {
            std::thread::sleep(Duration::from_millis(800));
        }
    });
    let t = Instant::now();
    let rep = run_with(p, &exec, |o| {
        o.scope_begin(ScopeMode::Auto);
        o.submit_task(aiv(9), &view(&[], &[])); // head of ring 1, runs 800 ms
        o.submit_task(aiv(0), &view(&[], &[]));
        o.scope_end();
        o.scope_begin(ScopeMode::Auto);
        o.submit_task(aiv(0), &view(&[], &[]));
        // Ring 1 holds W−1 = 3 live tasks and the head is still running:
        // not scope-gated, so only the 500 ms backstop can fire.
        let t2 = Instant::now();
        assert_eq!(o.submit_task(aiv(0), &view(&[], &[])).task_id, INVALID_TASK);
        assert!(t2.elapsed() >= Duration::from_millis(500));
    });
    assert_eq!(rep.status, -3, "{}", rep.message);
    assert!(rep.message.contains("no progress for 500 ms"), "{}", rep.message);
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn fanin_spill_overflow_is_code_4() {
    let p = params([128; 4], [4096; 4], [4; 4]);
    let rep = run_with(p, &noop(), |o| {
        let ids: Vec<u64> = (0..70).map(|_| o.submit_task(aiv(0), &view(&[], &[])).task_id).collect();
        let r = o.submit_task(aiv(0), &TaskArgsView { explicit_deps: &ids, ..view(&[], &[]) });
        assert_eq!(r.task_id, INVALID_TASK);
    });
    assert_eq!(rep.status, -4);
    assert!(rep.message.contains("PTO2_RING_DEP_POOL"), "{}", rep.message);
}

/// Fanin spill entries come back as their tasks retire, also once the
/// slots that named them have been handed to later tasks: 200 consumers of
/// 70 producers each spill 6 entries (1200 in all) into a pool of 256, in
/// a window of 128 slots that every two rounds reuses. The run completes
/// only if the submissions' reclaim frees the entries of retired consumers
/// (without it the pool overflows after 42 rounds). The producers' kernels
/// take a while, so the orchestrator also waits for a full window and
/// then takes slots whose previous tasks retired during that wait (debug
/// builds check that the reclaim passed them first).
#[test]
fn spill_entries_return_across_window_wraps() {
    let p = params([128; 4], [4096; 4], [256; 4]);
    let exec = FnExec(|func, _, _| {
        if func == 1 {
            std::thread::sleep(Duration::from_micros(20));
        }
    });
    let mut consumers = 0;
    let rep = run_with(p, &exec, |o| {
        for _ in 0..200 {
            o.scope_begin(ScopeMode::Auto);
            let ids: Vec<u64> = (0..70).map(|_| o.submit_task(aiv(1), &view(&[], &[])).task_id).collect();
            let r = o.submit_task(aiv(0), &TaskArgsView { explicit_deps: &ids, ..view(&[], &[]) });
            o.scope_end();
            if r.task_id == INVALID_TASK {
                break;
            }
            consumers += 1;
        }
    });
    assert_eq!(rep.status, 0, "{}", rep.message);
    assert_eq!(consumers, 200);
}

#[test]
fn dep_list_pool_too_small_is_code_4() {
    let p = params([64; 4], [4096; 4], [4; 4]);
    let exec = FnExec(|func, _, _| {
        if func == 9 {
            std::thread::sleep(Duration::from_millis(30));
        }
    });
    let rep = run_with(p, &exec, |o| {
        let ids: Vec<u64> = (0..5).map(|_| o.submit_task(aiv(9), &view(&[], &[])).task_id).collect();
        o.submit_task(aiv(0), &TaskArgsView { explicit_deps: &ids, ..view(&[], &[]) });
    });
    assert_eq!(rep.status, -4, "{}", rep.message);
    assert!(rep.message.contains("Dep Pool"), "{}", rep.message);
}

#[test]
fn tensormap_exhaustion_is_code_11() {
    let p = params([4096, 16, 16, 16], [1 << 16; 4], [64; 4]);
    let bufs: Vec<Vec<f32>> = (0..32).map(|_| vec![0f32; 4]).collect();
    let ts: Vec<Tensor> = bufs.iter().map(|b| ext(b, 4)).collect();
    let t = Instant::now();
    let rep = run_with(p, &noop(), |o| {
        for _ in 0..2100 {
            let args: Vec<TensorArg> = ts.iter().map(TensorArg::OutputExisting).collect();
            if o.submit_task(aiv(0), &view(&args, &[])).task_id == INVALID_TASK {
                break;
            }
        }
    });
    assert_eq!(rep.status, -11, "{}", rep.message);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn watchdog_fires_on_a_stuck_kernel() {
    let mut p = small();
    p.scheduler_timeout_ms = 100;
    let exec = FnExec(|_, _, _| std::thread::sleep(Duration::from_millis(400)));
    let rep = run_with(p, &exec, |o| {
        o.submit_task(aiv(0), &view(&[], &[]));
    });
    assert_eq!(rep.status, -100, "{}", rep.message);
    assert_eq!(rep.sched_error_code, 100);
    assert_eq!(rep.stall_detail, stall::RUNNING_STALLED);
    assert_eq!(rep.stall.task_id, 0);
    assert!(rep.message.contains("S1:running-stalled"), "{}", rep.message);
}

#[test]
fn ready_queue_shards_and_orch_to_sched_complete_work() {
    for (shards, o2s) in [(1, false), (2, true), (3, false), (4, true)] {
        let mut p = small();
        p.ready_queue_shards = shards;
        p.orch_to_sched = o2s;
        let n = AtomicU64::new(0);
        let exec = FnExec(|_, _, _| {
            n.fetch_add(1, Relaxed);
        });
        let rep = run_with(p, &exec, |o| {
            for _ in 0..40 {
                o.scope_begin(ScopeMode::Auto);
                for _ in 0..20 {
                    o.submit_task(aiv(0), &view(&[], &[]));
                }
                o.scope_end();
            }
        });
        assert_eq!(rep.status, 0);
        assert_eq!(n.load(Relaxed), 800);
    }
}

#[test]
fn scope_stats_records_every_scope() {
    let mut p = small();
    p.scope_stats = true;
    let rep = run_with(p, &noop(), |o| {
        o.submit_task(aiv(0), &view(&[], &[]));
        o.scope_set_site("/a/b/orch.cpp", 12);
        o.scope_begin(ScopeMode::Auto);
        let ci = f32_create(8);
        o.submit_task(aiv(0), &view(&[TensorArg::Output(&ci)], &[]));
        o.scope_end();
    });
    assert_eq!(rep.status, 0);
    let s = &rep.scope_stats;
    assert_eq!(s.len(), 4);
    assert_eq!((s[0].site.as_str(), s[0].depth, s[0].ring), ("(unknown):0", 0, 0));
    assert_eq!((s[1].site.as_str(), s[1].depth, s[1].ring), ("orch.cpp:12", 1, 1));
    assert_eq!(s[2].task_window_end, 1);
    assert_eq!(s[2].heap_end - s[1].heap_end, 1024);
    assert_eq!(s[3].depth, 0);
    let j = scope_stats_jsonl(&rep);
    let lines: Vec<&str> = j.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].starts_with(
        "{\"version\": 6, \"fatal\": false, \"dropped\": 0, \"total\": 4, \"task_window_max\": [64, 64, 64, 64]"
    ));
    assert!(lines[0].ends_with("\"tensormap_max\": 65536}"));
    assert!(lines[2].contains("\"site\": \"orch.cpp:12\", \"phase\": \"begin\", \"depth\": 1, \"ring\": 1"));
}

#[test]
fn scope_stats_dep_pool_top_counts_tasks_the_wiring_has_not_reached() {
    // One scheduler thread, held inside the first task's kernel until the
    // orchestration is done: the three consumers submitted meanwhile are
    // not wired when their scope closes. The records' pool top still
    // counts their entries (one per fanin), so a recommendation read off
    // it does not depend on how far the wiring lagged.
    let mut p = small();
    p.scope_stats = true;
    p.sched_threads = 1;
    let release = AtomicBool::new(false);
    let exec = FnExec(|f, _, _| {
        if f == 0 {
            let t = Instant::now();
            while !release.load(Acquire) && t.elapsed() < Duration::from_secs(5) {
                std::thread::yield_now();
            }
        }
    });
    let rep = run_with(p, &exec, |o| {
        let ci = f32_create(8);
        let r0 = o.submit_task(aiv(0), &view(&[TensorArg::Output(&ci)], &[]));
        // SAFETY: output pointers stay valid until the root scope ends.
        let c = unsafe { *r0.outputs[0] };
        o.scope_begin(ScopeMode::Auto);
        for _ in 0..3 {
            o.submit_task(aiv(1), &view(&[TensorArg::Input(&c)], &[]));
        }
        o.scope_end();
        release.store(true, Release);
    });
    assert_eq!(rep.status, 0, "{}", rep.message);
    let s = &rep.scope_stats;
    assert_eq!(s.len(), 4);
    assert_eq!((s[2].depth, s[2].ring, s[2].task_window_end), (1, 1, 3));
    assert_eq!(s[2].dep_pool_end, 1 + 3, "one entry per consumer, wired or not");
    assert_eq!(s[3].dep_pool_end, 1, "ring 0's only task has no fanin");
    assert!(s.iter().all(|r| r.dep_pool_start <= r.dep_pool_end), "{s:?}");
}

#[test]
fn throughput_smoke() {
    // Not a benchmark: checks a large run completes promptly.
    let p = params([4096; 4], [1 << 20; 4], [4096; 4]);
    let t = Instant::now();
    let rep = run_with(p, &noop(), |o| {
        for _ in 0..50 {
            o.scope_begin(ScopeMode::Auto);
            for _ in 0..1000 {
                o.submit_task(aiv(0), &view(&[], &[]));
            }
            o.scope_end();
        }
    });
    assert_eq!(rep.status, 0);
    assert_eq!(rep.total_tasks, 50_000);
    eprintln!("50k no-op tasks in {:?}", t.elapsed());
}

/// Manual benchmark: `cargo test --release --lib bench_ -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_throughput_and_chain() {
    let p = params([16384; 4], [1 << 20; 4], [16384; 4]);
    let mem = TrbMemory::owned(&p.sizing);
    let mut engine = TrbEngine::new(EngineConfig::default()).unwrap();
    let exec = noop();
    for &(shards, o2s) in &[(1u32, false), (2, false), (1, true)] {
        let mut p = p;
        p.ready_queue_shards = shards;
        p.orch_to_sched = o2s;
        let t = Instant::now();
        let rep = engine
            .run(&mem, p, &exec, &mut |o| {
                for _ in 0..1000 {
                    o.scope_begin(ScopeMode::Auto);
                    for _ in 0..1000 {
                        o.submit_task(aiv(0), &view(&[], &[]));
                    }
                    o.scope_end();
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(rep.status, 0);
        let el = t.elapsed();
        eprintln!(
            "shards={shards} orch_to_sched={o2s}: 1M independent no-op tasks in {el:?} = {:.0} tasks/s",
            1e6 / el.as_secs_f64()
        );
    }
    let buf = vec![0f32; 16];
    let x = ext(&buf, 16);
    let t = Instant::now();
    let rep = engine
        .run(&mem, p, &exec, &mut |o| {
            for _ in 0..100 {
                o.scope_begin(ScopeMode::Auto);
                for _ in 0..1000 {
                    o.submit_task(aiv(0), &view(&[TensorArg::Inout(&x)], &[]));
                }
                o.scope_end();
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(rep.status, 0);
    let el = t.elapsed();
    eprintln!("100k-task INOUT chain in {el:?} = {:.2} us/hop", el.as_secs_f64() * 1e6 / 1e5);
}

#[test]
fn slow_orchestrator_is_not_a_stall_and_user_errors_propagate() {
    let mut p = small();
    p.scheduler_timeout_ms = 100;
    let rep = run_with(p, &noop(), |o| {
        // Gaps below one budget between runtime calls are slow, not stuck
        // (a gap of 1.5 budgets with nothing pending is a stuck orchestration:
        // fault_tests::orchestration_that_does_not_return_is_abandoned).
        o.submit_task(aiv(0), &view(&[], &[]));
        std::thread::sleep(Duration::from_millis(40));
        o.submit_task(aiv(0), &view(&[], &[]));
        std::thread::sleep(Duration::from_millis(40));
    });
    assert_eq!(rep.status, 0, "{}", rep.message);
    let mem = TrbMemory::owned(&p.sizing);
    let mut engine = TrbEngine::new(EngineConfig::default()).unwrap();
    let r = engine.run(&mem, p, &noop(), &mut |o| {
        o.submit_task(aiv(0), &view(&[], &[]));
        Err(crate::diagnostics::Error::UserCode("entry failed".into()))
    });
    assert!(matches!(r, Err(crate::diagnostics::Error::UserCode(_))));
    // The engine stays usable.
    let rep = engine
        .run(&mem, p, &noop(), &mut |o| {
            o.submit_task(aiv(0), &view(&[], &[]));
            Ok(())
        })
        .unwrap();
    assert_eq!(rep.status, 0);
}
