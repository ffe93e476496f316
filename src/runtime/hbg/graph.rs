//! The static task graph built by a host_build_graph orchestration.

use crate::abi::CoreType;
use crate::device::paged_vec::PagedVec;

/// Maximum tasks per run (upstream `RUNTIME_MAX_TASKS`).
pub const MAX_TASKS: usize = 131_072;
/// Maximum `uint64_t` arguments per task.
pub const MAX_ARGS: usize = 16;
/// Maximum successors per task.
pub const MAX_FANOUT: usize = 128;

/// One task: a kernel id, its raw arguments, the core type and successors.
#[derive(Debug, Clone)]
pub struct Task {
    /// Kernel (`func_id` of a ChipCallable child).
    pub func_id: i32,
    /// Raw argument slots handed to `kernel_entry` (slots past the arguments given to `add_task` are zero).
    pub args: [u64; MAX_ARGS],
    /// AIC or AIV.
    pub core_type: CoreType,
    /// Successor task ids.
    pub fanout: Vec<u32>,
    /// Number of predecessors.
    pub fanin: u32,
}

/// A graph under construction (and then executed).
#[derive(Debug)]
pub struct Graph {
    /// Tasks by id (ids are indices, allocated monotonically), in their own
    /// mapping: a finished run's table is unmapped, not left in a malloc arena.
    pub tasks: PagedVec<Task>,
    /// First problem found while building (reported when the run fails).
    pub error: Option<String>,
}

impl Default for Graph {
    fn default() -> Self {
        Graph { tasks: PagedVec::new(MAX_TASKS), error: None }
    }
}

impl Graph {
    /// Adds a task; returns its id or -1 (table full or too many args).
    pub fn add_task(&mut self, args: &[u64], func_id: i32, core_type: CoreType) -> i32 {
        if self.tasks.len() >= MAX_TASKS {
            self.note(format!("add_task: the task table is full ({MAX_TASKS} tasks)"));
            return -1;
        }
        if args.len() > MAX_ARGS {
            self.note(format!("add_task: num_args {} exceeds {MAX_ARGS}", args.len()));
            return -1;
        }
        let mut a = [0u64; MAX_ARGS];
        a[..args.len()].copy_from_slice(args);
        if self.tasks.push(Task { func_id, args: a, core_type, fanout: Vec::new(), fanin: 0 }).is_err() {
            self.note("add_task: cannot map the task table".into());
            return -1;
        }
        (self.tasks.len() - 1) as i32
    }

    /// Adds the edge `from → to`; invalid ids or a full fanout are recorded as errors.
    pub fn add_successor(&mut self, from: i32, to: i32) {
        let n = self.tasks.len() as i32;
        if !(0..n).contains(&from) || !(0..n).contains(&to) {
            self.note(format!("add_successor({from}, {to}): task ids must be in [0, {n})"));
            return;
        }
        if self.tasks[from as usize].fanout.len() >= MAX_FANOUT {
            self.note(format!("add_successor({from}, {to}): task {from} already has {MAX_FANOUT} successors"));
            return;
        }
        self.tasks[from as usize].fanout.push(to as u32);
        self.tasks[to as usize].fanin += 1;
    }

    fn note(&mut self, msg: String) {
        crate::diagnostics::log::error("host_build_graph", &msg);
        self.error.get_or_insert(msg);
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_task_and_edges() {
        let mut g = Graph::default();
        assert_eq!(g.add_task(&[1, 2, 3], 0, CoreType::Aiv), 0);
        assert_eq!(g.add_task(&[4], 1, CoreType::Aic), 1);
        g.add_successor(0, 1);
        assert_eq!(g.tasks[1].fanin, 1);
        assert_eq!(g.tasks[0].fanout, vec![1]);
        assert_eq!(g.add_task(&[0; 17], 0, CoreType::Aiv), -1);
        g.add_successor(0, 5);
        assert!(g.error.as_deref().unwrap().contains("add_task"));
    }
}
