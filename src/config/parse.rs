//! The one parser of knob value text, shared by the environment reader and
//! the string setter (`pto_runtime_config_set`, the CLI, config files).
//!
//! Ring and scalar syntax: one unsigned decimal integer, or (ring knobs) exactly
//! four comma-separated ones. ASCII blanks (space, tab) around tokens are
//! allowed, no other whitespace (a Unicode space is a syntax error); an optional
//! leading `+` is accepted (as `strtoull` does); no size suffixes, no hex, no
//! sign `-` (a negative is never wrapped into a huge unsigned).

/// Why a value text was rejected (syntax only; rules are checked elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxError {
    /// Token `index` (0-based) is empty (e.g. `"1,,2,3"` or a trailing comma).
    EmptyToken {
        /// Token index.
        index: usize,
    },
    /// Token `index` starts with `-`.
    Negative {
        /// Token index.
        index: usize,
        /// The token.
        token: String,
    },
    /// Token `index` is not a decimal integer.
    NotDecimal {
        /// Token index.
        index: usize,
        /// The token.
        token: String,
    },
    /// Token `index` exceeds u64.
    Overflow {
        /// Token index.
        index: usize,
        /// The token.
        token: String,
    },
    /// Wrong number of tokens.
    WrongCount {
        /// Tokens found.
        found: usize,
        /// Counts accepted (e.g. "1 or 4").
        expected: &'static str,
    },
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyntaxError::EmptyToken { index } => {
                write!(f, "value {} is empty (empty token or trailing comma)", index + 1)
            }
            SyntaxError::Negative { index, token } => write!(f, "value {} '{}' is negative", index + 1, token),
            SyntaxError::NotDecimal { index, token } => {
                write!(f, "value {} '{}' is not an unsigned decimal integer (no suffixes, no hex)", index + 1, token)
            }
            SyntaxError::Overflow { index, token } => {
                write!(f, "value {} '{}' does not fit in 64 bits", index + 1, token)
            }
            SyntaxError::WrongCount { found, expected } => write!(f, "found {found} values, expected {expected}"),
        }
    }
}

/// `text` without leading and trailing ASCII blanks (space, tab): the only
/// whitespace the value syntax allows around a token.
pub fn trim_blanks(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

fn parse_token(index: usize, raw: &str) -> Result<u64, SyntaxError> {
    let t = trim_blanks(raw);
    if t.is_empty() {
        return Err(SyntaxError::EmptyToken { index });
    }
    if t.starts_with('-') {
        return Err(SyntaxError::Negative { index, token: t.to_string() });
    }
    let digits = t.strip_prefix('+').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SyntaxError::NotDecimal { index, token: t.to_string() });
    }
    digits.parse::<u64>().map_err(|_| SyntaxError::Overflow { index, token: t.to_string() })
}

/// Parses a ring value: one integer (broadcast) or exactly four.
/// Returns the tokens (length 1 or 4).
pub fn parse_ring_list(text: &str) -> Result<Vec<u64>, SyntaxError> {
    let values = text.split(',').enumerate().map(|(i, t)| parse_token(i, t)).collect::<Result<Vec<_>, _>>()?;
    match values.len() {
        1 | 4 => Ok(values),
        n => Err(SyntaxError::WrongCount { found: n, expected: "1 (all rings) or exactly 4 (ring 0..3)" }),
    }
}

/// Parses a scalar unsigned integer.
pub fn parse_scalar(text: &str) -> Result<u64, SyntaxError> {
    let values = text.split(',').enumerate().map(|(i, t)| parse_token(i, t)).collect::<Result<Vec<_>, _>>()?;
    match values.as_slice() {
        [v] => Ok(*v),
        _ => Err(SyntaxError::WrongCount { found: values.len(), expected: "exactly 1" }),
    }
}

/// The legacy environment rule for booleans: true iff the first character is `1`, `t` or `T`.
pub fn legacy_env_bool(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'1' | b't' | b'T'))
}

/// Words [`strict_bool`] reads as true (any case).
pub const STRICT_TRUE: [&str; 5] = ["1", "t", "true", "yes", "on"];
/// Words [`strict_bool`] reads as false (any case).
pub const STRICT_FALSE: [&str; 5] = ["0", "f", "false", "no", "off"];

/// [`legacy_env_bool`]'s rule in words.
pub const LEGACY_BOOL_TEXT: &str = "true iff the first character is 1, t or T";

/// [`strict_bool`]'s rule in words, built from the word lists it uses.
pub fn strict_bool_text() -> String {
    format!("{} or {} (any case)", STRICT_TRUE.join("/"), STRICT_FALSE.join("/"))
}

/// Strict boolean for explicit values: one of [`STRICT_TRUE`] or
/// [`STRICT_FALSE`], case-insensitive, surrounding whitespace ignored.
pub fn strict_bool(text: &str) -> Option<bool> {
    let t = trim_blanks(text).to_ascii_lowercase();
    if STRICT_TRUE.contains(&t.as_str()) {
        Some(true)
    } else if STRICT_FALSE.contains(&t.as_str()) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_and_list() {
        assert_eq!(parse_ring_list("16384"), Ok(vec![16384]));
        assert_eq!(parse_ring_list(" 1, 2 ,3,  4 "), Ok(vec![1, 2, 3, 4]));
        assert_eq!(parse_ring_list("+8"), Ok(vec![8]));
    }

    #[test]
    fn rejects_bad_syntax() {
        assert!(matches!(parse_ring_list(""), Err(SyntaxError::EmptyToken { index: 0 })));
        assert!(matches!(parse_ring_list("1,2,3,4,"), Err(SyntaxError::EmptyToken { index: 4 })));
        assert!(matches!(parse_ring_list("1,,3,4"), Err(SyntaxError::EmptyToken { index: 1 })));
        assert!(matches!(parse_ring_list("-1"), Err(SyntaxError::Negative { .. })));
        assert!(matches!(parse_ring_list("1,-2,3,4"), Err(SyntaxError::Negative { index: 1, .. })));
        assert!(matches!(parse_ring_list("12K"), Err(SyntaxError::NotDecimal { .. })));
        assert!(matches!(parse_ring_list("0x10"), Err(SyntaxError::NotDecimal { .. })));
        assert!(matches!(parse_ring_list("+"), Err(SyntaxError::NotDecimal { .. })));
        assert!(matches!(parse_ring_list("18446744073709551616"), Err(SyntaxError::Overflow { .. })));
        assert_eq!(parse_ring_list("18446744073709551615"), Ok(vec![u64::MAX]));
        for bad in ["1,2", "1,2,3", "1,2,3,4,5"] {
            assert!(matches!(parse_ring_list(bad), Err(SyntaxError::WrongCount { .. })), "{bad}");
        }
        assert!(matches!(parse_scalar("1,2,3,4"), Err(SyntaxError::WrongCount { found: 4, .. })));
    }

    #[test]
    fn only_ascii_blanks_surround_tokens() {
        assert_eq!(parse_ring_list("\t8 ,\t 16 , 32,64\t"), Ok(vec![8, 16, 32, 64]));
        assert_eq!(parse_scalar(" 7\t"), Ok(7));
        for ws in ['\u{a0}', '\u{2003}', '\u{3000}', '\u{85}', '\n', '\r', '\u{b}', '\u{c}'] {
            let text = format!("{ws}16");
            assert!(matches!(parse_scalar(&text), Err(SyntaxError::NotDecimal { .. })), "{text:?}");
            let text = format!("16{ws}");
            assert!(matches!(parse_ring_list(&text), Err(SyntaxError::NotDecimal { .. })), "{text:?}");
            assert_eq!(strict_bool(&format!("{ws}1")), None);
        }
    }

    #[test]
    fn booleans() {
        for t in ["1", "t", "T", "true", "True", "tx"] {
            assert!(legacy_env_bool(t), "{t}");
        }
        for f in ["", "0", "f", "yes", " 1", "on"] {
            assert!(!legacy_env_bool(f), "{f}");
        }
        assert_eq!(strict_bool(" Yes "), Some(true));
        for w in STRICT_TRUE {
            assert_eq!(strict_bool(&w.to_ascii_uppercase()), Some(true), "{w}");
        }
        for w in STRICT_FALSE {
            assert_eq!(strict_bool(&w.to_ascii_uppercase()), Some(false), "{w}");
        }
        for bad in ["2", "y", "n", "enable", "truth", "", "1 0"] {
            assert_eq!(strict_bool(bad), None, "{bad}");
        }
        assert_eq!(strict_bool_text(), "1/t/true/yes/on or 0/f/false/no/off (any case)");
        assert_eq!(strict_bool("off"), Some(false));
        assert_eq!(strict_bool("2"), None);
    }
}
