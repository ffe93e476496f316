//! Fuzz target `env_value`: the legacy environment-value parser
//! (`simpler::config::parse`) and the resolver that applies it.
//!
//! Input: lines `NAME=VALUE` (bytes read lossily as UTF-8, as `ProcessEnv`
//! reads the environment), each one variable of a `MapEnv` (a later line wins);
//! a line without `=` is given to every schema variable at once.
//! Checks: resolving an empty explicit config never fails; a schema variable
//! that is present is either used (source env, values exactly as parsed and
//! each within its rule) or ignored with exactly one warning naming it, never
//! both; the syntax parser agrees with itself (a parsed list renders and
//! re-parses to the same values; `parse_scalar` accepts exactly the one-value
//! lists; the legacy boolean is decided by the first byte).
#![cfg_attr(fuzzing, no_main)]

use simpler::config::parse::{legacy_env_bool, parse_ring_list, parse_scalar, SyntaxError};
use simpler::config::{resolve, MapEnv, RuntimeConfig, RuntimeVariant, Shape, Source, KNOBS, RING_COUNT};

/// Runs one input; panics on any broken property.
pub fn run(data: &[u8]) {
    let mut env = MapEnv::default();
    for line in data.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        check_syntax(&text);
        match text.split_once('=') {
            Some((name, value)) => {
                check_syntax(value);
                env.0.insert(name.to_string(), value.to_string());
            }
            None => KNOBS.iter().for_each(|k| {
                env.0.insert(k.env.to_string(), text.to_string());
            }),
        }
    }
    let (resolved, warnings) = match resolve(&RuntimeConfig::new(), &env) {
        Ok(r) => r,
        // The one cross-ring rule the environment alone can break: four
        // valid task windows whose sum exceeds INT32_MAX are refused with an
        // error naming the bound (there is no single variable to fall back).
        Err(e)
            if env.0.contains_key("PTO2_RING_TASK_WINDOW")
                && e.to_string().contains(&simpler::config::model::MAX_WINDOW_SUM.to_string()) =>
        {
            return
        }
        Err(e) => panic!("resolving an empty config failed: {e}"),
    };
    for w in &warnings {
        assert!(!w.reason.is_empty() && w.to_string().contains(w.var), "warning without reason or name: {w:?}");
    }
    for spec in KNOBS {
        // Look-alike notes (e.g. PTO2_ORCH_TO_SCHED=yes) keep the value: only
        // an "ignored" warning means the variable fell back to the default.
        let noted = warnings.iter().filter(|w| w.var == spec.env).count();
        let warned = warnings.iter().filter(|w| w.var == spec.env && w.ignored).count();
        let got: Vec<_> = (0..RING_COUNT).map(|r| resolved.get(spec.knob, r)).collect();
        let Some(text) = env.0.get(spec.env) else {
            assert_eq!(noted, 0, "{} unset but warned about", spec.env);
            assert!(got.iter().all(|g| g.source == Source::Default && g.value == spec.default), "{}", spec.env);
            continue;
        };
        assert!(noted <= 1, "{} warned about {noted} times", spec.env);
        if warned == 1 {
            assert!(
                got.iter().all(|g| g.source == Source::Default && g.value == spec.default),
                "{}={text:?} ignored but not defaulted: {got:?}",
                spec.env
            );
            continue;
        }
        let expect: Vec<(u64, Source)> = match spec.shape {
            Shape::PerRing => match parse_ring_list(text) {
                Ok(v) if v.len() == 1 => vec![(v[0], Source::Env); RING_COUNT],
                Ok(v) => v.iter().map(|&x| (x, Source::EnvPerRing)).collect(),
                Err(e) => panic!("{}={text:?} used although it does not parse: {e}", spec.env),
            },
            Shape::Scalar => match parse_scalar(text) {
                Ok(v) => vec![(v, Source::Env); RING_COUNT],
                Err(e) => panic!("{}={text:?} used although it does not parse: {e}", spec.env),
            },
            Shape::Bool => vec![(u64::from(legacy_env_bool(text)), Source::Env); RING_COUNT],
            Shape::Mode(names) => {
                // A mode name, else an integer: zero reads as 0, any other value as 1.
                let t = text.trim_matches([' ', '\t']);
                let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
                let v = match names.iter().position(|n| *n == t) {
                    Some(i) => i as u64,
                    None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                        u64::from(digits.bytes().any(|b| b != b'0'))
                    }
                    None => panic!("{}={text:?} used although it is neither a mode name nor an integer", spec.env),
                };
                vec![(v, Source::Env); RING_COUNT]
            }
            Shape::Choice(_) => match RuntimeVariant::from_name(text.trim()) {
                Some(v) => vec![(v as u64, Source::Env); RING_COUNT],
                None => panic!("{}={text:?} used although it names no variant", spec.env),
            },
        };
        for (r, (g, (value, source))) in got.iter().zip(expect).enumerate() {
            assert_eq!((g.value, g.source), (value, source), "{}={text:?} ring {r}", spec.env);
            if matches!(spec.shape, Shape::PerRing | Shape::Scalar) {
                assert!(spec.rule.check(value), "{}={text:?}: value {value} breaks the rule but was used", spec.env);
            }
        }
    }
}

/// Properties of the syntax layer alone.
fn check_syntax(text: &str) {
    let ring = parse_ring_list(text);
    let scalar = parse_scalar(text);
    match &ring {
        Ok(values) => {
            assert!(values.len() == 1 || values.len() == 4, "{text:?} parsed to {values:?}");
            let rendered = values.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
            assert_eq!(parse_ring_list(&rendered).as_ref(), Ok(values), "{text:?} -> {rendered:?}");
            if values.len() == 1 {
                assert_eq!(scalar, Ok(values[0]), "{text:?}");
            } else {
                assert!(matches!(scalar, Err(SyntaxError::WrongCount { found: 4, .. })), "{text:?}: {scalar:?}");
            }
        }
        Err(e) => {
            assert!(scalar.is_err(), "{text:?}: scalar accepted what the list parser refused ({e})");
            assert!(!e.to_string().is_empty());
        }
    }
    assert_eq!(legacy_env_bool(text), matches!(text.as_bytes().first(), Some(b'1' | b't' | b'T')), "{text:?}");
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
