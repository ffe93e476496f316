//! Byte-exact layouts shared with C and C++ code built for upstream
//! (reference ABI generation: upstream commit c68d9bbe6). Every struct here
//! is pinned by compile-time size and offset assertions.

pub mod tensor;
pub mod types;

pub use tensor::Tensor;
pub use types::{ArgDirection, CoreType, DataType};

pub mod call_config;
pub mod callable;
pub mod hash;
pub mod task_args;
pub mod timing;
pub mod validate;

pub use call_config::{CallConfig, RuntimeEnv};
pub use callable::{
    parse_chip_callable, parse_chip_callable_ptr, ChipCallableBuilder, ParsedCallable, ParsedChild,
    MAX_REGISTERED_CALLABLE_IDS, RUNTIME_MAX_FUNC_ID,
};
pub use hash::{elf_build_id, fnv1a64, orch_so_key};
pub use task_args::ChipStorageTaskArgs;
pub use timing::PtoRunTiming;
pub use validate::validate_args;
