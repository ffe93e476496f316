//! Byte-exact layouts shared with C and C++ code built for upstream
//! (reference ABI generation: upstream commit c68d9bbe6). Every struct here
//! is pinned by compile-time size and offset assertions.

pub mod tensor;
pub mod types;

pub use tensor::Tensor;
pub use types::{ArgDirection, CoreType, DataType};
