//! The binary interface to user orchestration code (TRB, upstream c68d9bbe6
//! ABI): byte-exact layouts, the PTO2 ops table with its runtime object, and
//! loading/running orchestration SOs.

mod boundary;
mod decode;
mod fill;
pub mod layout;
pub(crate) mod loading;
mod object;
pub mod ops;
pub mod so;

pub use ops::ops_table;

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
