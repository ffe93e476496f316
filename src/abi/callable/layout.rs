//! The raw `#[repr(C)]` ChipCallable and CoreCallable headers, pinned by
//! compile-time size, alignment and offset assertions.

use super::{
    CALLABLE_ALIGN, CALLABLE_FUNC_NAME_MAX, CHIP_CALLABLE_HEADER_SIZE, CHIP_MAX_CHILDREN, CHIP_MAX_SIG,
    CORE_CALLABLE_BINARY_OFFSET, CORE_CALLABLE_HEADER_SIZE, CORE_MAX_SIG, CORE_RESOLVED_ADDR_OFFSET,
};

/// Raw ChipCallable header (`Callable<CoreCallable, 128, 1024>` without its
/// flexible storage), 8864 B, align 16.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct ChipCallableHeader {
    /// Raw `ArgDirection` values; first `sig_count` meaningful.
    pub signature: [i32; CHIP_MAX_SIG],
    /// Number of signature entries.
    pub sig_count: i32,
    /// Orchestration SO size in bytes (at storage offset 0).
    pub binary_size: u32,
    /// NUL-terminated orchestration entry name.
    pub func_name: [u8; CALLABLE_FUNC_NAME_MAX],
    /// Length of `func_name` without the NUL (≤ 63).
    pub func_name_len: u32,
    /// Function id of each child.
    pub child_func_ids: [i32; CHIP_MAX_CHILDREN],
    /// Storage offset of each child CoreCallable (64-aligned).
    pub child_offsets: [u32; CHIP_MAX_CHILDREN],
    /// Number of children.
    pub child_count: i32,
    /// NUL-terminated orchestration config function name.
    pub config_name: [u8; CALLABLE_FUNC_NAME_MAX],
    /// Length of `config_name` without the NUL (≤ 63).
    pub config_name_len: u32,
    /// Padding up to the 16-aligned storage.
    pub reserved: [u8; 12],
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<ChipCallableHeader>() == CHIP_CALLABLE_HEADER_SIZE);
    assert!(align_of::<ChipCallableHeader>() == 16);
    assert!(offset_of!(ChipCallableHeader, signature) == 0);
    assert!(offset_of!(ChipCallableHeader, sig_count) == 512);
    assert!(offset_of!(ChipCallableHeader, binary_size) == 516);
    assert!(offset_of!(ChipCallableHeader, func_name) == 520);
    assert!(offset_of!(ChipCallableHeader, func_name_len) == 584);
    assert!(offset_of!(ChipCallableHeader, child_func_ids) == 588);
    assert!(offset_of!(ChipCallableHeader, child_offsets) == 4684);
    assert!(offset_of!(ChipCallableHeader, child_count) == 8780);
    assert!(offset_of!(ChipCallableHeader, config_name) == 8784);
    assert!(offset_of!(ChipCallableHeader, config_name_len) == 8848);
    assert!(offset_of!(ChipCallableHeader, reserved) == 8852);
};

// SAFETY: repr(C) of integers and byte arrays; the assertions above show the
// fields tile all 8864 bytes (no implicit padding); any bit pattern is valid.
unsafe impl bytemuck::Zeroable for ChipCallableHeader {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for ChipCallableHeader {}

/// Raw CoreCallable header (`Callable<void, 32, 0>`), 144 B, align 8. The
/// kernel binary follows at [`CORE_CALLABLE_BINARY_OFFSET`].
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreCallableHeader {
    /// Raw `ArgDirection` values; first `sig_count` meaningful.
    pub signature: [i32; CORE_MAX_SIG],
    /// Number of signature entries.
    pub sig_count: i32,
    /// Kernel binary size in bytes.
    pub binary_size: u32,
    /// Dispatch address (sim: kernel function pointer), 0 in a fresh image.
    pub resolved_addr: u64,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<CoreCallableHeader>() == CORE_CALLABLE_HEADER_SIZE);
    assert!(align_of::<CoreCallableHeader>() == 8);
    assert!(offset_of!(CoreCallableHeader, signature) == 0);
    assert!(offset_of!(CoreCallableHeader, sig_count) == 128);
    assert!(offset_of!(CoreCallableHeader, binary_size) == 132);
    assert!(offset_of!(CoreCallableHeader, resolved_addr) == CORE_RESOLVED_ADDR_OFFSET);
    assert!(CORE_CALLABLE_BINARY_OFFSET == CORE_CALLABLE_HEADER_SIZE.div_ceil(CALLABLE_ALIGN) * CALLABLE_ALIGN);
};

// SAFETY: repr(C) of integers only, fields tile all 144 bytes (asserted
// above), any bit pattern is valid.
unsafe impl bytemuck::Zeroable for CoreCallableHeader {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for CoreCallableHeader {}
