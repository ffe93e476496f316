//! Executes a host_build_graph task graph on the simulated cores: up to
//! `threads` host threads each act as a scheduler that pops ready tasks and
//! runs them inline as one of its cores; successors whose fanin reaches zero
//! become ready. A dependency cycle is detected (nothing ready, nothing
//! running, tasks left) and reported instead of hanging.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};

use super::graph::Graph;
use crate::abi::CoreType;
use crate::diagnostics::{Error, Result};

/// A kernel entry point: `void kernel_entry(int64_t *args)`.
pub type KernelFn = crate::kernel::so::KernelEntry;

/// Identity of the simulated core a subtask runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreIdentity {
    /// Physical core id (AIC 0..block_dim, AIV block_dim..3*block_dim).
    pub core_id: u32,
    /// Cluster index.
    pub cluster: u32,
    /// Lane within the cluster (AIV 0/1; AIC 0).
    pub lane: u32,
    /// Core type.
    pub core_type: CoreType,
}

/// The core scheduler thread `thread` acts as for a task of `core_type`.
pub fn core_for(thread: usize, core_type: CoreType, block_dim: u32) -> CoreIdentity {
    let bd = block_dim.max(1);
    match core_type {
        CoreType::Aic => {
            let c = thread as u32 % bd;
            CoreIdentity { core_id: c, cluster: c, lane: 0, core_type }
        }
        CoreType::Aiv => {
            let k = thread as u32 % (2 * bd);
            CoreIdentity { core_id: bd + k, cluster: k / 2, lane: k % 2, core_type }
        }
    }
}

struct Shared {
    ready: VecDeque<u32>,
    running: usize,
    done: usize,
    failed: Option<String>,
}

/// Runs every task of `graph` in dependency order. `kernel(func_id)` returns
/// the entry point; `bind(core)` is called on the executing thread before
/// each kernel call (to publish lane/cluster identity to kernels).
pub fn execute(
    graph: &mut Graph,
    threads: usize,
    block_dim: u32,
    kernel: &(dyn Fn(i32) -> Option<KernelFn> + Sync),
    bind: &(dyn Fn(CoreIdentity) + Sync),
) -> Result<()> {
    let total = graph.tasks.len();
    if total == 0 {
        return Ok(());
    }
    // Resolve every kernel up front: an unknown func_id fails before anything runs.
    let mut entries = Vec::with_capacity(total);
    for (id, t) in graph.tasks.iter().enumerate() {
        match kernel(t.func_id) {
            Some(f) => entries.push(f),
            None => {
                return Err(Error::UserCode(format!(
                    "host_build_graph task {id} uses func_id {}, which the callable does not provide",
                    t.func_id
                )))
            }
        }
    }
    let fanin: Vec<AtomicU32> = graph.tasks.iter().map(|t| AtomicU32::new(t.fanin)).collect();
    let initial: VecDeque<u32> = (0..total as u32).filter(|&i| graph.tasks[i as usize].fanin == 0).collect();
    let shared = Mutex::new(Shared { ready: initial, running: 0, done: 0, failed: None });
    let cv = Condvar::new();
    let tasks = &mut graph.tasks;
    // Each task's args are touched by exactly one thread (the one that pops it),
    // so hand out raw pointers to the argument arrays.
    let arg_ptrs: Vec<usize> = tasks.iter_mut().map(|t| t.args.as_mut_ptr() as usize).collect();
    let tasks = &*tasks;
    let worker = |thread: usize| loop {
        let id = {
            let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if s.failed.is_some() || s.done == total {
                    cv.notify_all();
                    return;
                }
                if let Some(id) = s.ready.pop_front() {
                    s.running += 1;
                    break id;
                }
                if s.running == 0 {
                    let stuck = total - s.done;
                    s.failed = Some(format!(
                        "host_build_graph: dependency cycle: {stuck} of {total} tasks can never become ready"
                    ));
                    cv.notify_all();
                    return;
                }
                s = cv.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        };
        let t = &tasks[id as usize];
        bind(core_for(thread, t.core_type, block_dim));
        // SAFETY: the entry was resolved from a loaded kernel SO that outlives
        // the run; its argument array is owned by this task, which only this
        // thread executes, and holds 16 slots as the kernel ABI requires. The
        // trampoline turns a C++ exception into an error.
        let r = unsafe { crate::kernel::so::call_kernel(entries[id as usize], arg_ptrs[id as usize] as *mut i64) };
        if let Err(e) = r {
            let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
            s.running -= 1;
            if s.failed.is_none() {
                s.failed = Some(format!("host_build_graph task {id} (func_id {}): {e}", t.func_id));
            }
            cv.notify_all();
            return;
        }
        let mut newly = Vec::new();
        for &succ in &t.fanout {
            if fanin[succ as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                newly.push(succ);
            }
        }
        let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
        s.running -= 1;
        s.done += 1;
        let wake = newly.len();
        s.ready.extend(newly);
        if wake > 1 || s.done == total || s.running == 0 {
            cv.notify_all();
        } else if wake == 1 {
            cv.notify_one();
        }
    };
    let n = threads.clamp(1, total);
    std::thread::scope(|sc| {
        for t in 1..n {
            let w = &worker;
            sc.spawn(move || w(t));
        }
        worker(0);
    });
    let s = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    match s.failed {
        Some(msg) => Err(Error::UserCode(msg)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static ORDER: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn record(args: *mut i64) {
        CALLS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the executor passes a 16-slot array.
        let id = unsafe { *args } as u64;
        ORDER.lock().unwrap().push(id);
    }

    #[test]
    fn runs_in_dependency_order_and_detects_cycles() {
        let mut g = Graph::default();
        for i in 0..6u64 {
            g.add_task(&[i], 0, CoreType::Aiv);
        }
        // diamond 0 → {1,2} → 3, then 3 → 4 → 5
        for (a, b) in [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (4, 5)] {
            g.add_successor(a, b);
        }
        let k = |_: i32| Some(record as KernelFn);
        execute(&mut g, 3, 3, &k, &|_| {}).unwrap();
        let order = ORDER.lock().unwrap().clone();
        let pos = |x: u64| order.iter().position(|&v| v == x).unwrap();
        assert_eq!(order.len(), 6);
        assert!(
            pos(0) < pos(1)
                && pos(0) < pos(2)
                && pos(1) < pos(3)
                && pos(2) < pos(3)
                && pos(3) < pos(4)
                && pos(4) < pos(5)
        );

        let mut cyc = Graph::default();
        for i in 0..3u64 {
            cyc.add_task(&[100 + i], 0, CoreType::Aiv);
        }
        cyc.add_successor(1, 2);
        cyc.add_successor(2, 1);
        let e = execute(&mut cyc, 2, 3, &k, &|_| {}).unwrap_err();
        assert!(e.to_string().contains("cycle"), "{e}");

        let mut missing = Graph::default();
        missing.add_task(&[], 7, CoreType::Aic);
        let none = |_: i32| None;
        assert!(execute(&mut missing, 1, 3, &none, &|_| {}).unwrap_err().to_string().contains("func_id 7"));
    }

    #[test]
    fn core_identities() {
        assert_eq!(
            core_for(0, CoreType::Aic, 3),
            CoreIdentity { core_id: 0, cluster: 0, lane: 0, core_type: CoreType::Aic }
        );
        assert_eq!(
            core_for(1, CoreType::Aiv, 3),
            CoreIdentity { core_id: 4, cluster: 0, lane: 1, core_type: CoreType::Aiv }
        );
        assert_eq!(core_for(2, CoreType::Aiv, 3).cluster, 1);
    }
}
