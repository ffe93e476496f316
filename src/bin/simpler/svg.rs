//! `simpler stats --svg`: per ring, three bars (task window, heap, dep pool),
//! each labelled with its name and numbers, so the chart needs no legend.
//! The grey bar is the capacity, the filled part the peak, the green tick the
//! recommendation, all on one linear scale per bar (whichever of capacity and
//! recommendation is larger spans the bar); every bar states its figures.

use std::fmt::Write as _;

use crate::stats::{Analysis, Recommendation, Usage, RINGS};

const WIDTH: u32 = 1000;
const BAR_X: u32 = 150;
const BAR_W: f64 = 400.0;
const BAR_H: u32 = 16;
const ROW: u32 = 24;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Position of `v` on a linear scale whose end is `max`.
fn scale(v: u64, max: u64) -> f64 {
    if max == 0 {
        return 0.0;
    }
    (v as f64 / max as f64).clamp(0.0, 1.0) * BAR_W
}

fn human(v: u64, bytes: bool) -> String {
    if bytes && v >= 1 << 20 {
        format!("{:.1} MiB", v as f64 / 1048576.0)
    } else if bytes && v >= 1 << 10 {
        format!("{:.1} KiB", v as f64 / 1024.0)
    } else if bytes {
        format!("{v} B")
    } else {
        v.to_string()
    }
}

fn bar(s: &mut String, y: u32, name: &str, u: Usage, recommended: u64, bytes: bool, used: bool) {
    let end = u.capacity.max(recommended);
    let cap_w = scale(u.capacity, end);
    let peak_w = if used { scale(u.peak, end).max(2.0) } else { 0.0 };
    let rec_x = BAR_X as f64 + scale(recommended, end);
    let color = if u.peak >= u.capacity && used { "#d62728" } else { "#1f77b4" };
    let _ = writeln!(s, r##"<text x="{}" y="{}" text-anchor="end" class="lbl">{name}</text>"##, BAR_X - 8, y + 12);
    let _ = writeln!(
        s,
        r##"<rect x="{BAR_X}" y="{y}" width="{cap_w:.1}" height="{BAR_H}" fill="#e6e6e6" stroke="#999"/>"##
    );
    let _ = writeln!(s, r##"<rect x="{BAR_X}" y="{y}" width="{peak_w:.1}" height="{BAR_H}" fill="{color}"/>"##);
    let _ = writeln!(
        s,
        r##"<line x1="{rec_x:.1}" y1="{}" x2="{rec_x:.1}" y2="{}" stroke="#2ca02c" stroke-width="3"/>"##,
        y as i64 - 3,
        y + BAR_H + 3
    );
    let text = if used {
        format!(
            "peak {} of {} ({:.2}%), recommended {}",
            human(u.peak, bytes),
            human(u.capacity, bytes),
            u.percent(),
            human(recommended, bytes)
        )
    } else {
        format!("unused; capacity {}, recommended {}", human(u.capacity, bytes), human(recommended, bytes))
    };
    let _ =
        writeln!(s, r##"<text x="{}" y="{}" class="val">{}</text>"##, BAR_X as f64 + BAR_W + 10.0, y + 12, esc(&text));
}

/// The chart as a standalone SVG document.
pub fn chart(a: &Analysis, r: &Recommendation, title: &str) -> String {
    let block = 3 * ROW + 30;
    let top = 70;
    let height = top + block * RINGS as u32 + 10;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Arial, sans-serif">"##
    );
    let _ = writeln!(
        s,
        "<style>.t{{font-size:15px;font-weight:bold}} .sub{{font-size:11px;fill:#555}} .ring{{font-size:13px;font-weight:bold}} .lbl{{font-size:12px}} .val{{font-size:11px}}</style>"
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(s, r##"<text x="12" y="22" class="t">{}</text>"##, esc(title));
    let _ = writeln!(
        s,
        r##"<text x="12" y="40" class="sub">grey bar = capacity, blue = peak in use (red when full), green tick = recommended size with {}% headroom</text>"##,
        r.headroom
    );
    if a.fatal {
        let _ = writeln!(
            s,
            r##"<text x="12" y="56" class="sub" fill="#d62728">the run ended fatally: peaks are lower bounds</text>"##
        );
    }
    for ring in 0..RINGS {
        let u = &a.rings[ring];
        let y0 = top + block * ring as u32;
        let used = u.scopes > 0;
        let scopes = if u.scopes == 1 { "1 scope".to_string() } else { format!("{} scopes", u.scopes) };
        let _ = writeln!(s, r##"<text x="12" y="{}" class="ring">ring {ring} ({scopes})</text>"##, y0 + 12);
        bar(&mut s, y0 + 20, "task window", u.tasks, r.windows[ring], false, used);
        bar(&mut s, y0 + 20 + ROW, "heap", u.heap, r.heaps[ring], true, used);
        bar(&mut s, y0 + 20 + 2 * ROW, "dep pool", u.dep_pool, r.dep_pools[ring], false, used);
    }
    s.push_str("</svg>\n");
    s
}
