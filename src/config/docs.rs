//! Renderings of the schema for people: the knob table (CLI and README) and
//! the "explain" listing of effective values with their sources.

use super::resolve::ResolvedConfig;
use super::schema::{render_value, Shape, KNOBS, RING_COUNT};

/// The knob table as Markdown (the README embeds exactly this text).
pub fn knob_table_markdown() -> String {
    let mut s =
        String::from("| knob | env var | shape | rule | default | tier | meaning |\n|---|---|---|---|---|---|---|\n");
    for k in KNOBS {
        let default = if k.unit.is_empty() { k.default_text() } else { format!("{} {}", k.default_text(), k.unit) };
        let cell = |t: &str| t.replace('|', "\\|");
        s.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} | {} | {} |\n",
            k.name,
            k.env,
            cell(&k.shape_text()),
            cell(&k.rule_text()),
            cell(&default),
            k.tier_text(),
            cell(k.doc)
        ));
    }
    s
}

/// The knob table as aligned plain text.
pub fn knob_table_text() -> String {
    let rows: Vec<[String; 5]> = KNOBS
        .iter()
        .map(|k| {
            let default = if k.unit.is_empty() { k.default_text() } else { format!("{} {}", k.default_text(), k.unit) };
            [k.name.to_string(), k.env.to_string(), k.rule_text(), default, k.tier_text().to_string()]
        })
        .collect();
    let head = ["KNOB", "ENV VAR", "RULE", "DEFAULT", "TIER"];
    let w: Vec<usize> =
        (0..5).map(|i| rows.iter().map(|r| r[i].len()).chain([head[i].len()]).max().unwrap_or(0)).collect();
    let line = |c: [&str; 5]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}\n",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        )
    };
    let mut s = line(head);
    for (k, r) in KNOBS.iter().zip(&rows) {
        s.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
        s.push_str(&format!("{:<w0$}  {}\n", "", k.doc, w0 = w[0]));
    }
    s
}

/// Every knob and ring with its effective value and source.
pub fn explain(r: &ResolvedConfig) -> String {
    let mut s = format!("{:<22} {:<6} {:>22}  {}\n", "KNOB", "RING", "VALUE", "SOURCE");
    for k in KNOBS {
        let rings = if k.shape == Shape::PerRing { RING_COUNT } else { 1 };
        for ring in 0..rings {
            let v = r.get(k.knob, ring);
            let ring_txt = if k.shape == Shape::PerRing { ring.to_string() } else { "-".into() };
            let src = match v.source {
                super::Source::Env | super::Source::EnvPerRing => format!("{} ({})", v.source.name(), k.env),
                _ => v.source.name().to_string(),
            };
            s.push_str(&format!("{:<22} {:<6} {:>22}  {}\n", k.name, ring_txt, render_value(k, v.value), src));
        }
    }
    s
}
