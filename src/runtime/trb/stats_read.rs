//! Reader of the scope-statistics JSONL that [`super::stats`] writes
//! (upstream's version-6 format): line 1 is the metadata object (`version`,
//! `fatal`, `dropped`, `total`, the per-ring capacities `task_window_max`,
//! `heap_max`, `dep_pool_max`, and `tensormap_max`), every further non-blank
//! line one scope-boundary record. Used by `simpler stats` and the demo's
//! self-checks; a small hand-written JSON reader, so the library needs no
//! JSON crate. Every problem is an error naming its line (and, for JSON
//! syntax and field types, its column).

use super::stats::{ScopePhase, ScopeStatRecord};
use crate::config::RING_COUNT;

/// The format version this reader accepts.
pub const SCOPE_STATS_VERSION: u64 = 6;

/// The metadata line of a scope-stats file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeStatsMeta {
    /// Format version (6).
    pub version: u64,
    /// Whether the run ended fatally (the peaks are then lower bounds).
    pub fatal: bool,
    /// Records the writer dropped (0 when absent).
    pub dropped: u64,
    /// Records the writer produced, dropped ones included (0 when absent).
    pub total: u64,
    /// Task-window capacity of each ring.
    pub task_window_max: [u64; RING_COUNT],
    /// Heap capacity of each ring, in bytes.
    pub heap_max: [u64; RING_COUNT],
    /// Dep-pool capacity of each ring.
    pub dep_pool_max: [u64; RING_COUNT],
    /// TensorMap capacity (0 when absent).
    pub tensormap_max: u64,
}

/// A parsed file: the metadata and the records with their (1-based) line numbers.
#[derive(Debug, Clone)]
pub struct ScopeStats {
    /// Line 1.
    pub meta: ScopeStatsMeta,
    /// Every record, in file order, with its line number.
    pub records: Vec<(usize, ScopeStatRecord)>,
}

/// Parses and checks a whole file: version 6, every record's ring in range
/// and every `*_end >= *_start`. The first problem is an error naming its line.
pub fn parse_scope_stats(text: &str) -> Result<ScopeStats, String> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
    let (n, first) = lines.next().ok_or("empty file: expected the metadata line (version 6)")?;
    let meta = Object::parse(first).and_then(|o| o.meta()).map_err(|e| e.at(n))?;
    if meta.version != SCOPE_STATS_VERSION {
        return Err(format!(
            "line {n}: format version {} is not supported (this tool reads version {SCOPE_STATS_VERSION})",
            meta.version
        ));
    }
    let mut records = Vec::new();
    for (n, line) in lines {
        let r = Object::parse(line).and_then(|o| o.record()).map_err(|e| e.at(n))?;
        if r.ring as usize >= RING_COUNT {
            return Err(format!("line {n}: ring {} is out of range (rings are 0..{})", r.ring, RING_COUNT - 1));
        }
        let pairs = [
            ("task_window", r.task_window_start as i128, r.task_window_end as i128),
            ("heap", r.heap_start as i128, r.heap_end as i128),
            ("dep_pool", r.dep_pool_start as i128, r.dep_pool_end as i128),
        ];
        for (what, start, end) in pairs {
            if end < start {
                return Err(format!("line {n}: {what}_end {end} is below {what}_start {start} (end must be >= start)"));
            }
        }
        records.push((n, r));
    }
    Ok(ScopeStats { meta, records })
}

/// A defect at a (1-based, in characters) column of one line.
struct Defect {
    column: usize,
    message: String,
}

impl Defect {
    fn at(self, line: usize) -> String {
        format!("line {line}, column {}: {}", self.column, self.message)
    }
}

type Read<T> = Result<T, Defect>;

/// A JSON value of one line (numbers kept exact when integral).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value, usize)>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Nesting deeper than this is refused (the format nests two levels).
const MAX_DEPTH: usize = 32;

/// A recursive-descent JSON reader over one line.
struct Reader {
    chars: Vec<char>,
    at: usize,
}

impl Reader {
    fn defect<T>(&self, message: impl Into<String>) -> Read<T> {
        Err(Defect { column: self.at + 1, message: message.into() })
    }
    fn skip_space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) {
            self.at += 1;
        }
    }
    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        let hit = self.chars.get(self.at) == Some(&c);
        if hit {
            self.at += 1;
        }
        hit
    }
    fn value(&mut self, depth: usize) -> Read<Value> {
        self.skip_space();
        if depth > MAX_DEPTH {
            return self.defect(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        match self.chars.get(self.at) {
            Some('{') => self.object(depth),
            Some('[') => {
                self.at += 1;
                let mut items = Vec::new();
                if self.eat(']') {
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.eat(']') {
                        return Ok(Value::Array(items));
                    }
                    if !self.eat(',') {
                        return self.defect("expected `,` or `]`");
                    }
                }
            }
            Some('"') => self.string().map(Value::Str),
            Some(c) if *c == '-' || c.is_ascii_digit() => self.number(),
            _ => {
                for (word, v) in [("true", Value::Bool(true)), ("false", Value::Bool(false)), ("null", Value::Null)] {
                    if self.chars[self.at..].iter().take(word.len()).copied().eq(word.chars()) {
                        self.at += word.len();
                        return Ok(v);
                    }
                }
                self.defect("expected value")
            }
        }
    }
    fn object(&mut self, depth: usize) -> Read<Value> {
        self.at += 1;
        let mut fields = Vec::new();
        if self.eat('}') {
            return Ok(Value::Object(fields));
        }
        loop {
            self.skip_space();
            if self.chars.get(self.at) != Some(&'"') {
                return self.defect("expected a quoted field name");
            }
            let key = self.string()?;
            if !self.eat(':') {
                return self.defect("expected `:`");
            }
            self.skip_space();
            let column = self.at + 1;
            fields.push((key, self.value(depth + 1)?, column));
            if self.eat('}') {
                return Ok(Value::Object(fields));
            }
            if !self.eat(',') {
                return self.defect("expected `,` or `}`");
            }
        }
    }
    fn string(&mut self) -> Read<String> {
        self.at += 1; // the opening quote
        let mut s = String::new();
        loop {
            let Some(&c) = self.chars.get(self.at) else { return self.defect("unterminated string") };
            self.at += 1;
            match c {
                '"' => return Ok(s),
                '\\' => {
                    let Some(&e) = self.chars.get(self.at) else { return self.defect("unterminated string") };
                    self.at += 1;
                    s.push(match e {
                        '"' | '\\' | '/' => e,
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'u' => {
                            let hex: String = self.chars.iter().skip(self.at).take(4).collect();
                            let code = u32::from_str_radix(&hex, 16).ok().filter(|_| hex.len() == 4);
                            let Some(code) = code else { return self.defect("\\u needs four hex digits") };
                            self.at += 4;
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        _ => return self.defect(format!("invalid escape `\\{e}`")),
                    });
                }
                c if (c as u32) < 0x20 => return self.defect("control character in a string"),
                c => s.push(c),
            }
        }
    }
    fn number(&mut self) -> Read<Value> {
        let start = self.at;
        while self.chars.get(self.at).is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')) {
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        if let Ok(i) = text.parse::<i128>() {
            return Ok(Value::Int(i));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => {
                self.at = start;
                self.defect(format!("invalid number `{text}`"))
            }
        }
    }
}

/// The fields of one line's top-level object.
struct Object {
    fields: Vec<(String, Value, usize)>,
    /// Column just past the object (where a missing field is reported).
    end: usize,
}

impl Object {
    fn parse(line: &str) -> Read<Object> {
        let mut r = Reader { chars: line.chars().collect(), at: 0 };
        let v = r.value(0)?;
        let end = r.at + 1;
        r.skip_space();
        if r.at < r.chars.len() {
            return r.defect("trailing characters");
        }
        match v {
            Value::Object(fields) => Ok(Object { fields, end }),
            other => Err(Defect { column: 1, message: format!("expected an object, found {}", other.kind()) }),
        }
    }

    fn get(&self, key: &str) -> Option<(&Value, usize)> {
        self.fields.iter().rev().find(|(k, _, _)| k == key).map(|(_, v, c)| (v, *c))
    }

    fn missing(&self, key: &str) -> Defect {
        Defect { column: self.end, message: format!("missing field `{key}`") }
    }

    fn required(&self, key: &str) -> Read<(&Value, usize)> {
        self.get(key).ok_or_else(|| self.missing(key))
    }

    /// The integer field `key` as a `T` (`what` names `T` in the error);
    /// `default` when the field is absent, if it may be.
    fn int<T: TryFrom<i128>>(&self, key: &str, what: &str, default: Option<T>) -> Read<T> {
        let Some((v, column)) = self.get(key) else { return default.ok_or_else(|| self.missing(key)) };
        let wrong =
            |found: String| Defect { column, message: format!("field `{key}`: expected {what}, found {found}") };
        match v {
            Value::Int(i) => T::try_from(*i).map_err(|_| wrong(format!("{i}"))),
            other => Err(wrong(other.kind().into())),
        }
    }

    fn u64(&self, key: &str) -> Read<u64> {
        self.int(key, "an unsigned 64-bit integer", None)
    }

    fn u64_or_zero(&self, key: &str) -> Read<u64> {
        self.int(key, "an unsigned 64-bit integer", Some(0))
    }

    fn per_ring(&self, key: &str) -> Read<[u64; RING_COUNT]> {
        let (v, column) = self.required(key)?;
        let wrong = || Defect {
            column,
            message: format!("field `{key}`: expected an array of {RING_COUNT} unsigned integers"),
        };
        let Value::Array(items) = v else { return Err(wrong()) };
        let mut out = [0u64; RING_COUNT];
        if items.len() != RING_COUNT {
            return Err(wrong());
        }
        for (o, item) in out.iter_mut().zip(items) {
            let Value::Int(i) = item else { return Err(wrong()) };
            *o = u64::try_from(*i).map_err(|_| wrong())?;
        }
        Ok(out)
    }

    fn meta(&self) -> Read<ScopeStatsMeta> {
        let (fatal, column) = self.required("fatal")?;
        let Value::Bool(fatal) = *fatal else {
            return Err(Defect {
                column,
                message: format!("field `fatal`: expected a boolean, found {}", fatal.kind()),
            });
        };
        Ok(ScopeStatsMeta {
            version: self.u64("version")?,
            fatal,
            dropped: self.u64_or_zero("dropped")?,
            total: self.u64_or_zero("total")?,
            task_window_max: self.per_ring("task_window_max")?,
            heap_max: self.per_ring("heap_max")?,
            dep_pool_max: self.per_ring("dep_pool_max")?,
            tensormap_max: self.u64_or_zero("tensormap_max")?,
        })
    }

    fn record(&self) -> Read<ScopeStatRecord> {
        let text = |key: &str| -> Read<String> {
            let (v, column) = self.required(key)?;
            match v {
                Value::Str(s) => Ok(s.clone()),
                other => {
                    Err(Defect { column, message: format!("field `{key}`: expected a string, found {}", other.kind()) })
                }
            }
        };
        let (_, phase_column) = self.required("phase")?;
        let phase = match text("phase")?.as_str() {
            "begin" => ScopePhase::Begin,
            "end" => ScopePhase::End,
            other => {
                return Err(Defect {
                    column: phase_column,
                    message: format!("field `phase`: `{other}` is neither \"begin\" nor \"end\""),
                })
            }
        };
        let i64_field = |key: &str| self.int::<i64>(key, "a signed 64-bit integer", None);
        let u32_field = |key: &str| self.int::<u32>(key, "an unsigned 32-bit integer", None);
        Ok(ScopeStatRecord {
            site: text("site")?,
            phase,
            depth: u32_field("depth")?,
            ring: u32_field("ring")?,
            task_window_start: self.u64("task_window_start")?,
            task_window_end: self.u64("task_window_end")?,
            heap_start: self.u64("heap_start")?,
            heap_end: self.u64("heap_end")?,
            dep_pool_start: i64_field("dep_pool_start")?,
            dep_pool_end: i64_field("dep_pool_end")?,
            tensormap: self.u64("tensormap")?,
        })
    }
}

#[cfg(test)]
#[path = "stats_read_tests.rs"]
mod tests;
