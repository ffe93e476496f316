//! Example shared objects compiled by build.rs from `examples/` and embedded
//! (the one table lives in the loader layer, where tests below the demo use
//! it too).

pub use crate::loader::example_sos::*;
