//! Errors of the configuration layer. Every message names the knob, the ring
//! (where there is one), the offending value and the rule.

use crate::diagnostics::{CodedError, Error, ErrorCode};

/// A configuration error. Explicit values are never dropped: an invalid one
/// fails the call that carries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value breaks its knob's rule.
    #[error("{knob}{} = {value} is invalid: must be {rule}", ring.map(|r| format!("[ring {r}]")).unwrap_or_default())]
    InvalidValue {
        /// Knob name.
        knob: &'static str,
        /// Ring index for per-ring values.
        ring: Option<usize>,
        /// The offending value, as given.
        value: String,
        /// The rule, in words.
        rule: String,
    },
    /// The knob name is not in the schema.
    #[error("unknown knob '{name}': known knobs are {known}")]
    UnknownKnob {
        /// The name given.
        name: String,
        /// Comma-separated list of valid names.
        known: String,
    },
    /// A value string could not be parsed.
    #[error("{knob} = '{text}' cannot be parsed: {reason}")]
    Parse {
        /// Knob name.
        knob: &'static str,
        /// The text given.
        text: String,
        /// Why it was rejected, including the expected syntax.
        reason: String,
    },
    /// `struct_size` of a C config struct is not a size of a known layout.
    #[error("{what}.struct_size = {got} is invalid: must be {rule} (call the matching *_init function first)")]
    StructSize {
        /// The struct's C name.
        what: &'static str,
        /// The size found.
        got: u64,
        /// The sizes accepted, in words.
        rule: String,
    },
    /// A per-device knob was given to a per-run entry with a different value.
    #[error("{knob} = {value} cannot be set per run: it is a per-device knob, latched at device init as {latched}; set it with simpler_init_with_config")]
    PerDeviceKnob {
        /// Knob name.
        knob: &'static str,
        /// Value given to the run.
        value: String,
        /// Value latched at init.
        latched: String,
    },
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(Box::new(e))
    }
}

impl CodedError for ConfigError {
    fn code(&self) -> ErrorCode {
        ConfigError::code(self)
    }
}

impl ConfigError {
    /// The numbered code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ConfigError::InvalidValue { .. } | ConfigError::PerDeviceKnob { .. } => ErrorCode::PtoErrInvalidValue,
            ConfigError::UnknownKnob { .. } => ErrorCode::PtoErrUnknownKnob,
            ConfigError::Parse { .. } => ErrorCode::PtoErrParse,
            ConfigError::StructSize { .. } => ErrorCode::PtoErrStructSize,
        }
    }
}
