//! ChipCallable / CoreCallable images: the `callable` blob of
//! `prepare_callable` (upstream `callable.h`, c68d9bbe6 layout).
//!
//! A ChipCallable image is an 8864-byte header followed by `storage`: the
//! orchestration SO at storage offset 0, then each child CoreCallable (a
//! 144-byte header padded to 192, then the kernel binary) at a 64-aligned
//! storage offset. [`parse_chip_callable`] validates an image completely
//! before any of it is used; [`ChipCallableBuilder`] produces images
//! byte-identical to upstream's `make_callable`.

mod builder;
mod layout;
mod parse;

pub use builder::ChipCallableBuilder;
pub use layout::{ChipCallableHeader, CoreCallableHeader};
pub use parse::{parse_chip_callable, parse_chip_callable_ptr, ParsedCallable, ParsedChild};

/// Callable ids accepted by `prepare_callable`: `[0, 64)`.
pub const MAX_REGISTERED_CALLABLE_IDS: i32 = 64;
/// Child function ids accepted in a ChipCallable: `[0, 1024)`.
pub const RUNTIME_MAX_FUNC_ID: i32 = 1024;
/// Signature capacity of a ChipCallable (`CHIP_MAX_TENSOR_ARGS`).
pub const CHIP_MAX_SIG: usize = 128;
/// Signature capacity of a CoreCallable (`CORE_MAX_TENSOR_ARGS`).
pub const CORE_MAX_SIG: usize = 32;
/// Child capacity of a ChipCallable.
pub const CHIP_MAX_CHILDREN: usize = 1024;
/// Size of the name buffers (`CALLABLE_FUNC_NAME_MAX`), including the NUL.
pub const CALLABLE_FUNC_NAME_MAX: usize = 64;
/// Alignment of child offsets and of the kernel binary inside a child.
pub const CALLABLE_ALIGN: usize = 64;
/// Size of the ChipCallable header; `storage` starts here.
pub const CHIP_CALLABLE_HEADER_SIZE: usize = 8864;
/// Size of the CoreCallable header (without the padding to the binary).
pub const CORE_CALLABLE_HEADER_SIZE: usize = 144;
/// Offset of the kernel binary inside a CoreCallable (header rounded up to 64).
pub const CORE_CALLABLE_BINARY_OFFSET: usize = 192;
/// Offset of `resolved_addr` inside a CoreCallable.
pub const CORE_RESOLVED_ADDR_OFFSET: usize = 136;
/// Upper bound on an image length derived from a header alone (legacy entry).
pub const MAX_DERIVED_IMAGE_LEN: usize = 1 << 30;

#[cfg(test)]
mod tests;
