//! Stable, numbered error codes returned by the C API.
//!
//! Ranges are chosen so they never collide with the negated PTO2 runtime
//! statuses that `run_prepared` passes through (-1..-11, -100..-103):
//! the library's own codes live in -1001..-1099. Legacy upstream entry points
//! keep upstream's `-1` for host-side failures; the detailed code of the last
//! failure is always available from `pto_last_error_code()`.
//!
//! Each code is declared once, in `code_table.rs`; the macro below derives
//! the enum, the list of all codes, the C names and the descriptions from it
//! (and `build.rs` derives the header's `pto_error_code_t` from the same table).

macro_rules! error_codes {
    (
        $(#[doc = $enum_doc:literal])*
        enum $enum:ident {
            $( $(#[doc = $doc:literal])+ $variant:ident = $value:literal => $name:literal, )+
        }
    ) => {
        $(#[doc = $enum_doc])*
        #[repr(i32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $enum {
            $( $(#[doc = $doc])+ $variant = $value, )+
        }

        /// All codes, in order of declaration.
        pub(crate) const ALL_CODES: &[$enum] = &[$($enum::$variant),+];

        impl $enum {
            /// The C name of the code, e.g. `"PTO_ERR_NULL_POINTER"`.
            pub fn name(self) -> &'static str {
                match self {
                    $($enum::$variant => $name,)+
                }
            }

            /// What the code means (its documentation, one line).
            pub fn description(self) -> &'static str {
                match self {
                    $($enum::$variant => concat!($($doc),+).trim_ascii(),)+
                }
            }
        }
    };
}

include!("code_table.rs");

impl ErrorCode {
    /// Every code, in numeric order of declaration.
    pub fn all() -> &'static [ErrorCode] {
        ALL_CODES
    }

    /// Looks a numeric code up.
    pub fn from_i32(code: i32) -> Option<ErrorCode> {
        ALL_CODES.iter().copied().find(|c| *c as i32 == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_unique_and_every_code_has_a_name_and_a_description() {
        for (i, c) in ErrorCode::all().iter().enumerate() {
            assert!(c.name().starts_with("PTO_"), "{c:?}");
            assert_eq!(ErrorCode::from_i32(*c as i32), Some(*c));
            assert!(ErrorCode::all()[..i].iter().all(|p| *p as i32 != *c as i32), "{} repeats a value", c.name());
            assert!(!c.description().is_empty() && !c.description().starts_with(' '), "{}", c.name());
        }
        assert_eq!(ErrorCode::all().len(), 21);
        assert_eq!(ErrorCode::PtoErrInvalidTaskArgs as i32, -1018);
        assert_eq!(ErrorCode::PtoErrInvalidTaskArgs.name(), "PTO_ERR_INVALID_TASK_ARGS");
        assert_eq!(ErrorCode::PtoErrNullPointer.description(), "A required pointer argument was NULL.");
    }
}
