//! Scope statistics (upstream `docs/dfx/scope-stats.md`, c68d9bbe6): one record at every scope begin (after the
//! push) and end (before the release), rendered as upstream's JSONL v6.

use super::layout::TENSORMAP_POOL_SIZE;

/// Scope boundary kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopePhase {
    /// Scope opened.
    Begin,
    /// Scope about to close.
    End,
}

/// One scope-boundary sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeStatRecord {
    /// `basename:line` of the scope (root: `(unknown):0`).
    pub site: String,
    /// Begin or end.
    pub phase: ScopePhase,
    /// Scope depth (root = 0).
    pub depth: u32,
    /// Ring of the scope.
    pub ring: u32,
    /// Ring's `last_task_alive`.
    pub task_window_start: u64,
    /// Allocator next id.
    pub task_window_end: u64,
    /// Heap tail, unrolled to cumulative bytes.
    pub heap_start: u64,
    /// Heap top, unrolled to cumulative bytes.
    pub heap_end: u64,
    /// Dep pool tail.
    pub dep_pool_start: i64,
    /// Dep pool top once the tasks submitted so far are wired.
    pub dep_pool_end: i64,
    /// Live TensorMap entries.
    pub tensormap: u64,
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn list<T: std::fmt::Display>(v: &[T]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// Renders `scope_stats.jsonl` (metadata line then one line per record) of
/// a run with the given fatal flag and `(windows, heaps, dep pools)`
/// capacities.
pub(crate) fn render_jsonl(
    fatal: bool,
    capacities: &([u64; 4], [u64; 4], [u64; 4]),
    records: &[ScopeStatRecord],
) -> String {
    let (w, h, d) = capacities;
    let mut out = format!(
        "{{\"version\": 6, \"fatal\": {}, \"dropped\": 0, \"total\": {}, \"task_window_max\": {}, \"heap_max\": {}, \"dep_pool_max\": {}, \"tensormap_max\": {}}}\n",
        fatal,
        records.len(),
        list(w),
        list(h),
        list(d),
        TENSORMAP_POOL_SIZE
    );
    for r in records {
        out.push_str(&format!(
            "{{\"site\": {}, \"phase\": \"{}\", \"depth\": {}, \"ring\": {}, \"task_window_start\": {}, \"task_window_end\": {}, \"heap_start\": {}, \"heap_end\": {}, \"dep_pool_start\": {}, \"dep_pool_end\": {}, \"tensormap\": {}}}\n",
            json_str(&r.site),
            match r.phase {
                ScopePhase::Begin => "begin",
                ScopePhase::End => "end",
            },
            r.depth,
            r.ring,
            r.task_window_start,
            r.task_window_end,
            r.heap_start,
            r.heap_end,
            r.dep_pool_start,
            r.dep_pool_end,
            r.tensormap
        ));
    }
    out
}
