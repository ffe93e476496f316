//! The aicpu_build_graph task array: host_build_graph's task layout
//! ([`crate::runtime::hbg::Task`], same task and argument caps) plus a
//! `published` / `completed` state per task, the ready queues and the run
//! counters. Every operation runs under the run's one graph mutex (upstream
//! guards the graph with a global mutex too), so the fields are plain values.

use std::collections::VecDeque;

use crate::abi::CoreType;
use crate::device::paged_vec::PagedVec;
use crate::runtime::hbg::exec::KernelFn;
use crate::runtime::hbg::{Task, MAX_ARGS, MAX_TASKS};

/// Maximum successors per task (upstream raised hbg's 128 to 512 for aicpu_build_graph).
pub const MAX_FANOUT: usize = 512;
/// Kernel address table size (`RUNTIME_MAX_FUNC_ID` of aicpu_build_graph).
pub const MAX_FUNC_ID: usize = 64;

/// One task of the array.
pub(crate) struct Node {
    /// Kernel, arguments, core type, successors and pending predecessors.
    pub task: Task,
    /// The kernel entry the task runs.
    pub entry: KernelFn,
    /// `publish_task` was called.
    pub published: bool,
    /// A scheduler popped it (it runs at most once).
    pub dispatched: bool,
    /// Its kernel returned.
    pub completed: bool,
}

/// The graph of one run with its scheduling state.
pub(crate) struct Graph {
    /// Tasks by id (ids are indices, allocated monotonically), in their own
    /// mapping: a finished run's array is unmapped, not left in the
    /// builder thread's malloc arena.
    pub nodes: PagedVec<Node>,
    /// Kernel entry of every func_id in `[0, MAX_FUNC_ID)` (`kernel_addrs`).
    pub kernels: [Option<KernelFn>; MAX_FUNC_ID],
    /// Ready queues by core type (index `CoreType as usize`); entries may be
    /// stale (skipped at pop).
    pub ready: [VecDeque<u32>; 2],
    /// Tasks published.
    pub published: usize,
    /// Tasks completed.
    pub completed: usize,
    /// Tasks dispatched and not yet completed.
    pub running: usize,
    /// The builder returned (or the run failed).
    pub build_done: bool,
}

impl Graph {
    pub(crate) fn new(kernels: [Option<KernelFn>; MAX_FUNC_ID]) -> Graph {
        Graph {
            nodes: PagedVec::new(MAX_TASKS),
            kernels,
            ready: [VecDeque::new(), VecDeque::new()],
            published: 0,
            completed: 0,
            running: 0,
            build_done: false,
        }
    }

    /// `add_task`: the new task's id. `addr` 0 binds through `kernel_addrs[func_id]`;
    /// any other address must be one of the callable's kernel addresses.
    pub(crate) fn add_task(&mut self, args: &[u64], func_id: i32, core: CoreType, addr: u64) -> Result<i32, String> {
        if self.nodes.len() >= MAX_TASKS {
            return Err(format!("add_task: the task array is full ({MAX_TASKS} tasks)"));
        }
        if args.len() > MAX_ARGS {
            return Err(format!("add_task: num_args {} exceeds {MAX_ARGS}", args.len()));
        }
        let entry = if addr == 0 {
            let slot = usize::try_from(func_id).ok().filter(|&f| f < MAX_FUNC_ID);
            let Some(f) = slot else {
                return Err(format!("add_task: func_id {func_id} is out of range [0, {MAX_FUNC_ID})"));
            };
            self.kernels[f]
                .ok_or_else(|| format!("add_task: func_id {func_id} has no kernel (kernel_addrs[{func_id}] is 0)"))?
        } else {
            self.kernels.iter().flatten().copied().find(|&k| k as usize as u64 == addr).ok_or_else(|| {
                format!("add_task: function_bin_addr {addr:#x} is not a kernel of the callable (use 0 or a kernel_addrs entry)")
            })?
        };
        let mut a = [0u64; MAX_ARGS];
        a[..args.len()].copy_from_slice(args);
        let task = Task { func_id, args: a, core_type: core, fanout: Vec::new(), fanin: 0 };
        if self.nodes.push(Node { task, entry, published: false, dispatched: false, completed: false }).is_err() {
            return Err("add_task: cannot map the task array".into());
        }
        Ok((self.nodes.len() - 1) as i32)
    }

    /// `add_successor_conditional`: records `from -> to`; `to` gains a
    /// pending predecessor only while `from` has not completed.
    pub(crate) fn add_successor(&mut self, from: i32, to: i32) -> Result<(), String> {
        let n = self.nodes.len();
        let id = |v: i32| usize::try_from(v).ok().filter(|&i| i < n);
        let (Some(f), Some(t)) = (id(from), id(to)) else {
            return Err(format!(
                "add_successor_conditional({from}, {to}): task ids must be ids add_task returned, in [0, {n})"
            ));
        };
        if self.nodes[t].dispatched {
            return Err(format!(
                "add_successor_conditional({from}, {to}): task {to} was already dispatched, so the edge cannot order it"
            ));
        }
        if self.nodes[f].task.fanout.len() >= MAX_FANOUT {
            return Err(format!(
                "add_successor_conditional({from}, {to}): task {from} already has {MAX_FANOUT} successors"
            ));
        }
        self.nodes[f].task.fanout.push(t as u32);
        if !self.nodes[f].completed {
            self.nodes[t].task.fanin += 1;
        }
        Ok(())
    }

    /// `publish_task`: marks the task published once (a repeat does
    /// nothing) and makes it ready when it has no pending predecessor.
    pub(crate) fn publish(&mut self, id: i32) -> Result<(), String> {
        let n = self.nodes.len();
        let Some(i) = usize::try_from(id).ok().filter(|&i| i < n) else {
            return Err(format!("publish_task({id}): task ids must be ids add_task returned, in [0, {n})"));
        };
        let node = &mut self.nodes[i];
        if node.published {
            return Ok(());
        }
        node.published = true;
        self.published += 1;
        if node.task.fanin == 0 {
            self.ready[node.task.core_type as usize].push_back(i as u32);
        }
        Ok(())
    }

    fn poppable(&self, id: u32) -> bool {
        let n = &self.nodes[id as usize];
        n.published && !n.dispatched && !n.completed && n.task.fanin == 0
    }

    /// Pops a ready task of a core type `owns` marks, skipping (and dropping)
    /// entries that are unpublished, dispatched, completed or not ready.
    pub(crate) fn pop(&mut self, owns: [bool; 2]) -> Option<u32> {
        for (ty, _) in owns.iter().enumerate().filter(|(_, &own)| own) {
            while let Some(id) = self.ready[ty].pop_front() {
                if self.poppable(id) {
                    self.nodes[id as usize].dispatched = true;
                    self.running += 1;
                    return Some(id);
                }
            }
        }
        None
    }

    /// Whether some queue holds a poppable task (stale entries are dropped).
    pub(crate) fn any_ready(&mut self) -> bool {
        for ty in 0..2 {
            while let Some(&id) = self.ready[ty].front() {
                if self.poppable(id) {
                    return true;
                }
                self.ready[ty].pop_front();
            }
        }
        false
    }

    /// Completion of `id`: releases its successors; a successor that
    /// reaches zero pending predecessors and is published becomes ready.
    pub(crate) fn complete(&mut self, id: u32) {
        let node = &mut self.nodes[id as usize];
        node.completed = true;
        self.completed += 1;
        self.running -= 1;
        let fanout = std::mem::take(&mut node.task.fanout);
        for &s in &fanout {
            let succ = &mut self.nodes[s as usize];
            succ.task.fanin = succ.task.fanin.saturating_sub(1);
            if succ.task.fanin == 0 && succ.published && !succ.dispatched && !succ.completed {
                self.ready[succ.task.core_type as usize].push_back(s);
            }
        }
        self.nodes[id as usize].task.fanout = fanout;
    }

    /// Tasks added but never published.
    pub(crate) fn unpublished(&self) -> usize {
        self.nodes.len() - self.published
    }

    /// The run is finished: the build is done and every published task completed.
    pub(crate) fn finished(&self) -> bool {
        self.build_done && self.completed >= self.published && self.running == 0
    }

    /// Some published tasks can never run: the build is done, nothing runs,
    /// nothing is ready and not every published task completed.
    pub(crate) fn stuck(&mut self) -> Option<String> {
        if !self.build_done || self.running > 0 || self.completed >= self.published || self.any_ready() {
            return None;
        }
        let left = self.published - self.completed;
        Some(format!(
            "aicpu_build_graph: {left} of {} published tasks can never become ready (a dependency cycle, or a \
             predecessor that was never published: {} tasks added but never published)",
            self.published,
            self.unpublished()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn nop(_: *mut i64) {}

    fn graph() -> Graph {
        let mut k = [None; MAX_FUNC_ID];
        k[0] = Some(nop as KernelFn);
        Graph::new(k)
    }

    #[test]
    fn publish_completion_and_conditional_edges() {
        let mut g = graph();
        let a = g.add_task(&[1], 0, CoreType::Aiv, 0).unwrap();
        let b = g.add_task(&[2], 0, CoreType::Aiv, nop as KernelFn as usize as u64).unwrap();
        g.add_successor(a, b).unwrap();
        g.publish(b).unwrap();
        assert_eq!(g.pop([true, true]), None, "b waits for a");
        g.publish(a).unwrap();
        g.publish(a).unwrap();
        assert_eq!(g.published, 2, "a repeated publish does nothing");
        assert_eq!(g.pop([true, false]), None, "an AIC-only scheduler sees no AIV task");
        assert_eq!(g.pop([false, true]), Some(0));
        g.complete(0);
        // An edge from a completed task adds no pending predecessor.
        let c = g.add_task(&[], 0, CoreType::Aic, 0).unwrap();
        g.add_successor(a, c).unwrap();
        assert_eq!(g.nodes[c as usize].task.fanin, 0);
        assert_eq!(g.pop([true, true]), Some(1));
        assert!(g.add_successor(c, b).unwrap_err().contains("already dispatched"));
        assert!(g.add_successor(0, 9).unwrap_err().contains("[0, 3)"));
        assert!(g.add_task(&[], 64, CoreType::Aic, 0).unwrap_err().contains("out of range"));
        assert!(g.add_task(&[], 1, CoreType::Aic, 0).unwrap_err().contains("no kernel"));
        assert!(g.add_task(&[], 0, CoreType::Aic, 0x1234).unwrap_err().contains("not a kernel"));
        assert!(g.add_task(&[0; 17], 0, CoreType::Aic, 0).unwrap_err().contains("num_args"));
        assert_eq!(g.unpublished(), 1);
    }

    #[test]
    fn stale_entries_are_skipped_and_cycles_reported() {
        let mut g = graph();
        for _ in 0..3 {
            g.add_task(&[], 0, CoreType::Aiv, 0).unwrap();
        }
        g.publish(2).unwrap();
        g.add_successor(0, 2).unwrap(); // 2 is queued but no longer ready
        g.add_successor(1, 0).unwrap();
        g.add_successor(0, 1).unwrap();
        g.publish(0).unwrap();
        g.publish(1).unwrap();
        g.build_done = true;
        assert_eq!(g.pop([true, true]), None);
        assert!(g.stuck().unwrap().contains("3 of 3 published tasks"));
        let mut f = graph();
        let x = f.add_task(&[], 0, CoreType::Aiv, 0).unwrap();
        for _ in 0..MAX_FANOUT {
            let y = f.add_task(&[], 0, CoreType::Aiv, 0).unwrap();
            f.add_successor(x, y).unwrap();
        }
        assert!(f.add_successor(x, 1).unwrap_err().contains("512 successors"));
    }
}
