//! `simpler stats`: reads a run's `scope_stats.jsonl` (upstream's version-6
//! format: a metadata line with the per-ring capacities, then one record per
//! scope begin and end), measures each ring's peak task-window, heap and
//! dep-pool usage, and recommends ring sizes with stated headroom.
//!
//! Peak of a ring = the largest `end.X_end - begin.X_start` over its scopes
//! (upstream's `scope_high_water`: entries in use when the scope closed,
//! counted from the oldest entry still alive when it opened) or, for a scope
//! left open by a fatal run, the largest `X_end - X_start` of one record. It
//! never underestimates what the ring held while the scope was open.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
pub use simpler::scope_stats::{parse_scope_stats as parse, ScopeStats};
use simpler::scope_stats::{ScopePhase as Phase, ScopeStatRecord as Record};

/// Rings of the tensormap_and_ringbuffer runtime (scope depth >= 3 uses ring 3).
pub const RINGS: usize = simpler::config::RING_COUNT;

/// Peak usage of one resource of one ring against its capacity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub peak: u64,
    pub capacity: u64,
}

impl Usage {
    /// Peak as a percentage of capacity.
    pub fn percent(self) -> f64 {
        if self.capacity == 0 {
            0.0
        } else {
            self.peak as f64 * 100.0 / self.capacity as f64
        }
    }
}

/// One ring's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingUsage {
    pub scopes: u64,
    pub tasks: Usage,
    pub heap: Usage,
    pub dep_pool: Usage,
}

/// Every ring's figures plus the file's run-level facts.
pub struct Analysis {
    pub fatal: bool,
    pub dropped: u64,
    pub records: usize,
    /// Records the metadata's `total` counts but the file lacks (beyond `dropped`).
    pub missing: u64,
    pub rings: [RingUsage; RINGS],
    pub tensormap: Usage,
}

/// Finds the JSONL file: PATH itself, or `PATH/scope_stats/scope_stats.jsonl`
/// (an output_prefix), or `PATH/scope_stats.jsonl`.
pub fn locate(path: &Path) -> Result<PathBuf, String> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if path.is_dir() {
        for c in [path.join("scope_stats").join("scope_stats.jsonl"), path.join("scope_stats.jsonl")] {
            if c.is_file() {
                return Ok(c);
            }
        }
        return Err(format!(
            "{}: no scope_stats/scope_stats.jsonl or scope_stats.jsonl in this directory (run with enable_scope_stats and output_prefix)",
            path.display()
        ));
    }
    Err(format!("{}: no such file or directory", path.display()))
}

/// Per-ring peaks (see the module documentation).
pub fn analyse(stats: &ScopeStats) -> Analysis {
    let m = &stats.meta;
    let mut rings = [RingUsage::default(); RINGS];
    for (r, u) in rings.iter_mut().enumerate() {
        u.tasks.capacity = m.task_window_max[r];
        u.heap.capacity = m.heap_max[r];
        u.dep_pool.capacity = m.dep_pool_max[r];
    }
    let mut tensormap = Usage { peak: 0, capacity: m.tensormap_max };
    let mut open: Vec<&Record> = Vec::new();
    let raise = |u: &mut RingUsage, t: u64, h: u64, d: u64| {
        u.tasks.peak = u.tasks.peak.max(t);
        u.heap.peak = u.heap.peak.max(h);
        u.dep_pool.peak = u.dep_pool.peak.max(d);
    };
    for (_, rec) in &stats.records {
        let u = &mut rings[rec.ring as usize];
        tensormap.peak = tensormap.peak.max(rec.tensormap);
        raise(
            u,
            rec.task_window_end - rec.task_window_start,
            rec.heap_end - rec.heap_start,
            rec.dep_pool_end.abs_diff(rec.dep_pool_start),
        );
        match rec.phase {
            Phase::Begin => {
                u.scopes += 1;
                open.push(rec);
            }
            Phase::End => {
                // The matching begin is the innermost open scope of the same depth and ring.
                let Some(at) = open.iter().rposition(|b| b.depth == rec.depth && b.ring == rec.ring) else {
                    continue;
                };
                let b = open.remove(at);
                raise(
                    u,
                    rec.task_window_end.saturating_sub(b.task_window_start),
                    rec.heap_end.saturating_sub(b.heap_start),
                    u64::try_from(rec.dep_pool_end - b.dep_pool_start).unwrap_or(0),
                );
            }
        }
    }
    let missing = m.total.saturating_sub(stats.records.len() as u64 + m.dropped);
    Analysis { fatal: m.fatal, dropped: m.dropped, records: stats.records.len(), missing, rings, tensormap }
}

/// Recommended ring sizes.
pub struct Recommendation {
    pub headroom: u32,
    pub windows: [u64; RINGS],
    pub heaps: [u64; RINGS],
    pub dep_pools: [u64; RINGS],
}

/// Heap recommendations are rounded up to this many bytes.
pub const HEAP_ROUNDING: u64 = 4096;

fn with_headroom(peak: u64, headroom: u32) -> u64 {
    (peak as u128 * (100 + headroom as u128)).div_ceil(100).min(u64::MAX as u128) as u64
}

/// Per ring: window = the next power of two above peak × (1 + headroom) plus the one
/// slot a ring keeps free, at least 4; heap = peak × (1 + headroom) rounded up to 4 KiB,
/// at least 1024; dep pool = peak × (1 + headroom) + 1, at least 4. A ring no scope
/// used gets the minimums. The values satisfy the knobs' rules.
pub fn recommend(a: &Analysis, headroom: u32) -> Recommendation {
    let mut r = Recommendation { headroom, windows: [4; RINGS], heaps: [1024; RINGS], dep_pools: [4; RINGS] };
    for (i, u) in a.rings.iter().enumerate() {
        let w = with_headroom(u.tasks.peak, headroom).saturating_add(1);
        r.windows[i] = w.checked_next_power_of_two().unwrap_or(1 << 30).clamp(4, 1 << 30);
        r.heaps[i] =
            with_headroom(u.heap.peak, headroom).div_ceil(HEAP_ROUNDING).saturating_mul(HEAP_ROUNDING).max(1024);
        r.dep_pools[i] = with_headroom(u.dep_pool.peak, headroom).saturating_add(1).clamp(4, i32::MAX as u64);
    }
    r
}

fn list(v: &[u64; RINGS], sep: &str) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(sep)
}

/// `PTO2_RING_TASK_WINDOW=a,b,c,d PTO2_RING_HEAP=... PTO2_RING_DEP_POOL=...`
pub fn env_line(r: &Recommendation) -> String {
    format!(
        "PTO2_RING_TASK_WINDOW={} PTO2_RING_HEAP={} PTO2_RING_DEP_POOL={}",
        list(&r.windows, ","),
        list(&r.heaps, ","),
        list(&r.dep_pools, ",")
    )
}

/// The recommendation as C (the configuration API of `simpler.h`).
pub fn c_snippet(r: &Recommendation) -> String {
    format!(
        "pto_runtime_config_t cfg;\n\
         pto_runtime_config_init(&cfg);\n\
         const uint64_t windows[4] = {{{}}}, heaps[4] = {{{}}}, dep_pools[4] = {{{}}};\n\
         for (int r = 0; r < 4; r++) {{\n    \
         cfg.ring_task_windows[r] = windows[r];\n    \
         cfg.ring_heaps[r] = heaps[r];\n    \
         cfg.ring_dep_pools[r] = dep_pools[r];\n\
         }}\n",
        list(&r.windows, ", "),
        list(&r.heaps, ", "),
        list(&r.dep_pools, ", ")
    )
}

/// The recommendation as Python (pysimpler).
pub fn python_snippet(r: &Recommendation) -> String {
    format!(
        "from pysimpler import RuntimeConfig\ncfg = RuntimeConfig(ring_task_window=[{}], ring_heap=[{}], ring_dep_pool=[{}])\n",
        list(&r.windows, ", "),
        list(&r.heaps, ", "),
        list(&r.dep_pools, ", ")
    )
}

fn cell(u: Usage) -> String {
    format!("{} / {} ({:.1}%)", u.peak, u.capacity, u.percent())
}

/// Per-ring table of peak against capacity, each line prefixed with `indent`.
pub fn usage_table(a: &Analysis, indent: &str) -> String {
    let head = ["ring", "scopes", "tasks peak / window", "heap bytes peak / capacity", "dep pool peak / capacity"];
    let rows: Vec<[String; 5]> = a
        .rings
        .iter()
        .enumerate()
        .map(|(i, u)| {
            if u.scopes == 0 {
                [i.to_string(), "0".into(), "-".into(), "-".into(), "-".into()]
            } else {
                [i.to_string(), u.scopes.to_string(), cell(u.tasks), cell(u.heap), cell(u.dep_pool)]
            }
        })
        .collect();
    let w: Vec<usize> =
        (0..5).map(|c| rows.iter().map(|r| r[c].len()).chain([head[c].len()]).max().unwrap_or(0)).collect();
    let mut s = String::new();
    let mut line = |c: [&str; 5]| {
        let _ = writeln!(
            s,
            "{indent}{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        );
    };
    line(head);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    s
}

/// The full text report of `simpler stats`.
pub fn report(path: &Path, a: &Analysis, r: &Recommendation) -> String {
    let mut s = format!("scope statistics: {}\n", path.display());
    let _ = writeln!(
        s,
        "  {} records ({} dropped{}); run {}; TensorMap peak {} of {} entries\n",
        a.records,
        a.dropped,
        if a.missing > 0 { format!(", {} missing: the file is truncated", a.missing) } else { String::new() },
        if a.fatal { "ended FATALLY: the peaks are lower bounds of what it needed" } else { "completed" },
        a.tensormap.peak,
        a.tensormap.capacity
    );
    s.push_str(&usage_table(a, "  "));
    let _ = writeln!(
        s,
        "\nrecommendation ({}% headroom over each peak; task windows: next power of two above that plus one\n\
         free slot; heaps rounded up to 4 KiB; dep pools plus one entry; rings no scope used get the minimum):",
        r.headroom
    );
    for i in 0..RINGS {
        let note = if a.rings[i].scopes == 0 { "  (unused in this run)" } else { "" };
        let _ = writeln!(
            s,
            "  ring {i}: task window {}, heap {} bytes, dep pool {}{note}",
            r.windows[i], r.heaps[i], r.dep_pools[i]
        );
    }
    let _ = writeln!(s, "\nenvironment:\n  {}\n", env_line(r));
    let _ = writeln!(s, "C:");
    for l in c_snippet(r).lines() {
        let _ = writeln!(s, "  {l}");
    }
    let _ = writeln!(s, "\nPython:");
    for l in python_snippet(r).lines() {
        let _ = writeln!(s, "  {l}");
    }
    s
}

fn usage_json(u: Usage, recommended: u64) -> Value {
    json!({ "peak": u.peak, "capacity": u.capacity, "percent": u.percent(), "recommended": recommended })
}

/// The analysis and recommendation as JSON.
pub fn to_json(path: &Path, a: &Analysis, r: &Recommendation) -> Value {
    let rings: Vec<Value> = (0..RINGS)
        .map(|i| {
            let u = &a.rings[i];
            json!({
                "ring": i,
                "scopes": u.scopes,
                "task_window": usage_json(u.tasks, r.windows[i]),
                "heap": usage_json(u.heap, r.heaps[i]),
                "dep_pool": usage_json(u.dep_pool, r.dep_pools[i]),
            })
        })
        .collect();
    json!({
        "path": path.to_string_lossy(),
        "fatal": a.fatal,
        "dropped": a.dropped,
        "records": a.records,
        "missing": a.missing,
        "headroom_percent": r.headroom,
        "tensormap": { "peak": a.tensormap.peak, "capacity": a.tensormap.capacity },
        "rings": rings,
        "env": env_line(r),
        "c": c_snippet(r),
        "python": python_snippet(r),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{"version": 6, "fatal": false, "dropped": 0, "total": 4, "task_window_max": [16, 16, 16, 16], "heap_max": [4096, 4096, 4096, 4096], "dep_pool_max": [16, 16, 16, 16], "tensormap_max": 65536}"#;

    fn rec(phase: &str, depth: u32, ring: u32, t: (u64, u64), h: (u64, u64), d: (i64, i64)) -> String {
        format!(
            r#"{{"site": "x.cpp:1", "phase": "{phase}", "depth": {depth}, "ring": {ring}, "task_window_start": {}, "task_window_end": {}, "heap_start": {}, "heap_end": {}, "dep_pool_start": {}, "dep_pool_end": {}, "tensormap": 3}}"#,
            t.0, t.1, h.0, h.1, d.0, d.1
        )
    }

    #[test]
    fn peaks_use_the_scope_high_water() {
        let text = [
            META.to_string(),
            rec("begin", 0, 0, (0, 0), (0, 0), (1, 1)),
            rec("begin", 1, 1, (2, 2), (100, 100), (1, 1)),
            rec("end", 1, 1, (4, 9), (300, 900), (3, 8)),
            rec("end", 0, 0, (0, 3), (0, 2000), (1, 4)),
        ]
        .join("\n");
        let a = analyse(&parse(&text).unwrap());
        assert_eq!(a.rings[0].scopes, 1);
        assert_eq!(a.rings[0].tasks.peak, 3);
        assert_eq!(a.rings[0].heap.peak, 2000);
        assert_eq!(a.rings[1].tasks.peak, 7); // end.head 9 - begin.tail 2
        assert_eq!(a.rings[1].heap.peak, 800);
        assert_eq!(a.rings[1].dep_pool.peak, 7);
        assert_eq!(a.rings[2].scopes, 0);
        let r = recommend(&a, 25);
        // 7 * 1.25 = 8.75 -> 9, + 1 free slot = 10 -> 16
        assert_eq!(r.windows, [8, 16, 4, 4]);
        assert_eq!(r.heaps, [4096, 4096, 1024, 1024]);
        assert_eq!(r.dep_pools, [5, 10, 4, 4]);
        assert_eq!(
            env_line(&r),
            "PTO2_RING_TASK_WINDOW=8,16,4,4 PTO2_RING_HEAP=4096,4096,1024,1024 PTO2_RING_DEP_POOL=5,10,4,4"
        );
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let bad = format!("{META}\n{}\n{{\"site\": 1}}\n", rec("begin", 0, 0, (0, 0), (0, 0), (1, 1)));
        let e = parse(&bad).err().unwrap();
        assert!(e.starts_with("line 3, column"), "{e}");
        let e = parse(&format!("{META}\n%%% not json")).err().unwrap();
        assert!(e.starts_with("line 2, column 1: expected value"), "{e}");
        let e = parse(&META.replace("\"version\": 6", "\"version\": 5")).err().unwrap();
        assert!(e.contains("line 1: format version 5"), "{e}");
        let e = parse(&format!("{META}\n{}", rec("end", 0, 7, (0, 0), (0, 0), (1, 1)))).err().unwrap();
        assert!(e.contains("line 2: ring 7 is out of range"), "{e}");
        let e = parse(&format!("{META}\n{}", rec("end", 0, 0, (5, 4), (0, 0), (1, 1)))).err().unwrap();
        assert!(e.contains("line 2: task_window_end 4 is below task_window_start 5"), "{e}");
        assert!(parse("").err().unwrap().contains("empty file"));
        let e = parse(&META.replace("\"heap_max\": [4096, 4096, 4096, 4096], ", "")).err().unwrap();
        assert!(e.contains("line 1") && e.contains("missing field `heap_max`"), "{e}");
    }
}
