//! `simpler trace`: reads a task trace (Chrome Trace Event Format, as the
//! library writes it for `enable_l2_swimlane`), prints a per-lane summary and
//! draws the timeline as SVG: one row per lane, one rect per task, scopes as
//! nested bars on the orchestrator row, a labelled time axis.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::svg::esc;

/// One rect: a task (or dispatch, or scope) on a lane, times in µs.
#[derive(Debug, Clone)]
pub struct Slice {
    pub name: String,
    pub ts: f64,
    pub dur: f64,
    pub depth: i64,
}

/// The parsed trace.
#[derive(Debug, Default)]
pub struct Trace {
    pub process: String,
    /// tid -> (name, sort index).
    pub lanes: BTreeMap<i64, (String, i64)>,
    /// tid -> slices.
    pub slices: BTreeMap<i64, Vec<Slice>>,
    pub tasks: usize,
    pub flows: usize,
}

/// `PATH` itself, or `PATH/trace/trace.json` when `PATH` is a directory.
pub fn locate(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("trace").join("trace.json")
    } else {
        path.to_path_buf()
    }
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

/// Parses the document; a missing `traceEvents` array or a malformed event is an error naming it.
pub fn parse(text: &str) -> Result<Trace, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let events =
        doc.get("traceEvents").and_then(Value::as_array).ok_or("no \"traceEvents\" array (not a Chrome trace)")?;
    let mut t = Trace::default();
    let mut open: BTreeMap<i64, Vec<(String, f64, i64)>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let ph = e.get("ph").and_then(Value::as_str).ok_or(format!("event {i} has no \"ph\""))?;
        let tid = e.get("tid").and_then(Value::as_i64).unwrap_or(0);
        let name = e.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let need = |k: &str| num(e, k).ok_or(format!("event {i} ({ph} {name}) has no numeric \"{k}\""));
        match ph {
            "M" => {
                let arg = e.get("args");
                match name.as_str() {
                    "process_name" => {
                        t.process = arg.and_then(|a| a.get("name")).and_then(Value::as_str).unwrap_or("").to_string()
                    }
                    "thread_name" => {
                        let n = arg.and_then(|a| a.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
                        t.lanes.entry(tid).or_insert((String::new(), tid)).0 = n;
                    }
                    "thread_sort_index" => {
                        let k = arg.and_then(|a| a.get("sort_index")).and_then(Value::as_i64).unwrap_or(tid);
                        t.lanes.entry(tid).or_insert((String::new(), tid)).1 = k;
                    }
                    _ => {}
                }
            }
            "X" => {
                let (ts, dur) = (need("ts")?, need("dur")?);
                let name = name.clone();
                if e.get("cat").and_then(Value::as_str) == Some("task") {
                    t.tasks += 1;
                }
                t.slices.entry(tid).or_default().push(Slice { name, ts, dur, depth: 0 });
            }
            "B" => {
                let ts = need("ts")?;
                open.entry(tid).or_default().push((name, ts, 0))
            }
            "E" => {
                let ts = need("ts")?;
                let stack = open.entry(tid).or_default();
                let (n, start, _) = stack.pop().ok_or(format!("event {i}: \"E\" without a matching \"B\""))?;
                let depth = stack.len() as i64;
                t.slices.entry(tid).or_default().push(Slice { name: n, ts: start, dur: ts - start, depth });
            }
            "s" => t.flows += 1,
            _ => {}
        }
    }
    Ok(t)
}

impl Trace {
    /// Lanes in display order (sort index), those without slices too.
    pub fn ordered_lanes(&self) -> Vec<(i64, String)> {
        let mut v: Vec<(i64, i64, String)> = self.lanes.iter().map(|(&tid, (n, k))| (*k, tid, n.clone())).collect();
        for &tid in self.slices.keys() {
            if !self.lanes.contains_key(&tid) {
                v.push((tid, tid, format!("tid {tid}")));
            }
        }
        v.sort();
        v.into_iter().map(|(_, tid, n)| (tid, n)).collect()
    }

    /// (earliest start, latest end) in µs over all slices.
    pub fn span(&self) -> (f64, f64) {
        let all = self.slices.values().flatten();
        let lo = all.clone().map(|s| s.ts).fold(f64::INFINITY, f64::min);
        let hi = all.map(|s| s.ts + s.dur).fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() {
            (lo, hi.max(lo))
        } else {
            (0.0, 0.0)
        }
    }

    /// The text summary: lanes with their slice count and busy time.
    pub fn report(&self, file: &Path) -> String {
        let (lo, hi) = self.span();
        let mut s = format!(
            "{}: {} ({} task executions, {} dependency arrows, {:.1} us)\n",
            file.display(),
            if self.process.is_empty() { "trace" } else { &self.process },
            self.tasks,
            self.flows,
            hi - lo
        );
        let _ = writeln!(s, "{:<14} {:>7} {:>12} {:>6}", "lane", "slices", "busy us", "busy");
        for (tid, name) in self.ordered_lanes() {
            let sl = self.slices.get(&tid).map(Vec::as_slice).unwrap_or(&[]);
            let top: Vec<&Slice> = sl.iter().filter(|x| x.depth == 0).collect();
            let busy = top.iter().fold(0.0, |a, x| a + x.dur);
            let pct = if hi > lo { 100.0 * busy / (hi - lo) } else { 0.0 };
            let _ = writeln!(s, "{name:<14} {:>7} {busy:>12.1} {pct:>5.1}%", sl.len());
        }
        s
    }
}

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 130.0;
const RIGHT: f64 = 20.0;
const ROW: f64 = 22.0;
const TOP: f64 = 60.0;
const COLORS: [&str; 6] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf"];

/// A "nice" axis step (1, 2 or 5 × 10^k) giving about `n` ticks over `range`.
fn step(range: f64, n: f64) -> f64 {
    let raw = (range / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|&s| s >= raw).unwrap_or(10.0 * mag)
}

fn func_color(name: &str) -> &'static str {
    // Task names end in " f<func_id>"; colour by kernel.
    let f = name.rsplit(" f").next().and_then(|x| x.parse::<usize>().ok()).unwrap_or(0);
    COLORS[f % COLORS.len()]
}

/// The timeline as a standalone SVG document.
pub fn svg(t: &Trace, title: &str) -> String {
    let lanes = t.ordered_lanes();
    let (lo, hi) = t.span();
    let range = (hi - lo).max(1e-3);
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |ts: f64| LEFT + (ts - lo) / range * plot_w;
    let height = TOP + ROW * lanes.len() as f64 + 50.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Arial, sans-serif">"##
    );
    let _ = writeln!(
        s,
        "<style>.t{{font-size:15px;font-weight:bold}} .sub{{font-size:11px;fill:#555}} .lbl{{font-size:11px}} .ax{{font-size:10px}}</style>"
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(s, r##"<text x="12" y="22" class="t">{}</text>"##, esc(title));
    let _ = writeln!(
        s,
        r##"<text x="12" y="40" class="sub">{} task executions on {} lanes over {:.1} us; one rect per task (colour = kernel func id), scopes nested on the orchestrator row</text>"##,
        t.tasks,
        lanes.len(),
        hi - lo
    );
    let bottom = TOP + ROW * lanes.len() as f64;
    let st = step(range, 8.0);
    let mut tick = lo;
    while tick <= hi + 1e-9 {
        let tx = x(tick);
        let _ = writeln!(
            s,
            r##"<line x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{:.1}" stroke="#eee"/><text x="{tx:.1}" y="{:.1}" class="ax" text-anchor="middle">{:.1}</text>"##,
            bottom + 4.0,
            bottom + 16.0,
            tick - lo
        );
        tick += st;
    }
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" class="lbl" text-anchor="middle">time since the first event (us)</text>"##,
        LEFT + plot_w / 2.0,
        bottom + 34.0
    );
    for (row, (tid, name)) in lanes.iter().enumerate() {
        let y = TOP + ROW * row as f64;
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" class="lbl" text-anchor="end">{}</text><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ccc"/>"##,
            LEFT - 8.0,
            y + 15.0,
            esc(name),
            y + ROW,
            WIDTH - RIGHT,
            y + ROW
        );
        let mut row_slices: Vec<&Slice> = t.slices.get(tid).map(|v| v.iter().collect()).unwrap_or_default();
        row_slices.sort_by_key(|sl| sl.depth); // outer scopes first, inner ones on top
        for sl in row_slices {
            let (x0, w) = (x(sl.ts), (sl.dur / range * plot_w).max(1.0));
            let inset = 2.0 + 3.0 * sl.depth.min(4) as f64;
            let fill = if name != "orchestrator" {
                func_color(&sl.name)
            } else if sl.depth % 2 == 0 {
                "#bbb"
            } else {
                "#777"
            };
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{fill}" stroke="white" stroke-width="0.5"><title>{} ({:.1} us at {:.1})</title></rect>"##,
                y + inset,
                (ROW - 2.0 * inset).max(2.0),
                esc(&sl.name),
                sl.dur,
                sl.ts - lo
            );
            let label = sl.name.strip_prefix("task ").unwrap_or(&sl.name);
            if w > 7.0 * label.len() as f64 && sl.depth == 0 {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{:.1}" class="ax" fill="white">{}</text>"##,
                    x0 + 3.0,
                    y + 15.0,
                    esc(label)
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"traceEvents":[
        {"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"orchestrator"}},
        {"ph":"M","pid":1,"tid":100,"name":"thread_name","args":{"name":"AIC 0"}},
        {"ph":"B","pid":1,"tid":0,"ts":0,"name":"scope depth 0"},
        {"ph":"X","pid":1,"tid":100,"ts":1.5,"dur":2,"name":"task 0.0 f1","cat":"task"},
        {"ph":"E","pid":1,"tid":0,"ts":10}]}"#;

    #[test]
    fn parses_lanes_slices_and_scopes() {
        let t = parse(DOC).unwrap();
        assert_eq!(t.ordered_lanes(), vec![(0, "orchestrator".to_string()), (100, "AIC 0".to_string())]);
        assert_eq!(t.tasks, 1);
        assert_eq!(t.span(), (0.0, 10.0));
        assert_eq!(t.slices[&0][0].dur, 10.0);
        let svg = svg(&t, "x");
        assert_eq!(svg.matches("<rect x=").count(), 2, "{svg}");
        assert!(svg.contains(">AIC 0<") && svg.contains("time since the first event (us)"));
    }

    #[test]
    fn bad_documents_are_errors() {
        assert!(parse("[").unwrap_err().contains("not JSON"));
        assert!(parse("{}").unwrap_err().contains("traceEvents"));
        assert!(parse(r#"{"traceEvents":[{"ph":"X","tid":1,"name":"a"}]}"#).unwrap_err().contains("\"ts\""));
        assert!(parse(r#"{"traceEvents":[{"ph":"E","tid":1,"ts":1}]}"#).unwrap_err().contains("without a matching"));
    }
}
