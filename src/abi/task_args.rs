//! `ChipStorageTaskArgs`: the 17472-byte entry-argument block of
//! `run_prepared` (upstream `TaskArgsTpl<Tensor, uint64_t, 128, 128>`).

use super::tensor::Tensor;
use crate::diagnostics::{Error, Result};

/// Maximum number of tensor arguments of a chip-level call.
pub const CHIP_MAX_TENSOR_ARGS: usize = 128;
/// Maximum number of scalar arguments of a chip-level call.
pub const CHIP_MAX_SCALAR_ARGS: usize = 128;

/// Entry arguments of a chip-level call: tensors first, then scalars
/// (signature index `i` refers to tensor `i`; scalars follow).
///
/// Byte-identical to upstream's `ChipStorageTaskArgs` (17472 B, align 64).
/// Callers may hand a pointer that is not 64-aligned; use
/// [`ChipStorageTaskArgs::read_unaligned`] to copy it.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct ChipStorageTaskArgs {
    /// Tensor slots; only the first `tensor_count` are meaningful.
    pub tensors: [Tensor; CHIP_MAX_TENSOR_ARGS],
    /// Scalar slots (zero-extended bit patterns); first `scalar_count` meaningful.
    pub scalars: [u64; CHIP_MAX_SCALAR_ARGS],
    /// Number of valid tensors.
    pub tensor_count: i32,
    /// Number of valid scalars.
    pub scalar_count: i32,
    /// Tail padding up to the 64-byte alignment (kept explicit so the type is Pod).
    pub tail_pad: [u8; 56],
}

/// Size in bytes of [`ChipStorageTaskArgs`].
pub const CHIP_STORAGE_TASK_ARGS_SIZE: usize = 17472;

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<ChipStorageTaskArgs>() == CHIP_STORAGE_TASK_ARGS_SIZE);
    assert!(align_of::<ChipStorageTaskArgs>() == 64);
    assert!(offset_of!(ChipStorageTaskArgs, tensors) == 0);
    assert!(offset_of!(ChipStorageTaskArgs, scalars) == 16384);
    assert!(offset_of!(ChipStorageTaskArgs, tensor_count) == 17408);
    assert!(offset_of!(ChipStorageTaskArgs, scalar_count) == 17412);
    assert!(offset_of!(ChipStorageTaskArgs, tail_pad) == 17416);
};

// SAFETY: ChipStorageTaskArgs is repr(C) and consists only of Pod fields
// (Tensor, integers, byte arrays); the assertions above show the fields
// cover all 17472 bytes, so there are no implicit padding bytes.
unsafe impl bytemuck::Zeroable for ChipStorageTaskArgs {}
// SAFETY: as above: any bit pattern is valid and there is no padding.
unsafe impl bytemuck::Pod for ChipStorageTaskArgs {}

impl Default for ChipStorageTaskArgs {
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

impl std::fmt::Debug for ChipStorageTaskArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tc = (self.tensor_count.max(0) as usize).min(CHIP_MAX_TENSOR_ARGS);
        let sc = (self.scalar_count.max(0) as usize).min(CHIP_MAX_SCALAR_ARGS);
        f.debug_struct("ChipStorageTaskArgs")
            .field("tensor_count", &self.tensor_count)
            .field("scalar_count", &self.scalar_count)
            .field("tensors", &&self.tensors[..tc])
            .field("scalars", &&self.scalars[..sc])
            .finish()
    }
}

impl ChipStorageTaskArgs {
    /// An empty argument block (no tensors, no scalars).
    pub fn new() -> Box<ChipStorageTaskArgs> {
        Box::default()
    }

    /// Copies a `ChipStorageTaskArgs` from `ptr`, which may have any alignment.
    ///
    /// # Safety
    /// `ptr` must be non-NULL and valid for reads of
    /// [`CHIP_STORAGE_TASK_ARGS_SIZE`] bytes.
    pub unsafe fn read_unaligned(ptr: *const u8) -> Box<ChipStorageTaskArgs> {
        let mut out = ChipStorageTaskArgs::new();
        let dst: *mut ChipStorageTaskArgs = &mut *out;
        // SAFETY: the caller guarantees `ptr` is readable for the full size;
        // `dst` is a freshly allocated, exclusively owned box of that size,
        // so the ranges cannot overlap; a byte copy has no alignment
        // requirement and every bit pattern is a valid (Pod) value.
        unsafe {
            std::ptr::copy_nonoverlapping(ptr, dst.cast::<u8>(), CHIP_STORAGE_TASK_ARGS_SIZE);
        }
        out
    }

    /// The raw bytes of this block, exactly as C sees them.
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }

    /// Active tensor count clamped to `[0, 128]`.
    fn tensor_len(&self) -> usize {
        (self.tensor_count.max(0) as usize).min(CHIP_MAX_TENSOR_ARGS)
    }

    /// Active scalar count clamped to `[0, 128]`.
    fn scalar_len(&self) -> usize {
        (self.scalar_count.max(0) as usize).min(CHIP_MAX_SCALAR_ARGS)
    }

    /// The first `tensor_count` tensors (count clamped to `[0, 128]`).
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors[..self.tensor_len()]
    }

    /// Mutable view of the first `tensor_count` tensors (count clamped).
    pub fn tensors_mut(&mut self) -> &mut [Tensor] {
        let n = self.tensor_len();
        &mut self.tensors[..n]
    }

    /// The first `scalar_count` scalars (count clamped to `[0, 128]`).
    pub fn scalars(&self) -> &[u64] {
        &self.scalars[..self.scalar_len()]
    }

    /// Appends a tensor. Errors when 128 tensors are present or a scalar was
    /// already added (tensors always precede scalars).
    pub fn push_tensor(&mut self, tensor: Tensor) -> Result<()> {
        if self.scalar_count > 0 {
            return Err(Error::InvalidArgument(
                "ChipStorageTaskArgs: cannot add a tensor after a scalar (tensors must precede scalars)".to_string(),
            ));
        }
        let n = self.tensor_len();
        if self.tensor_count < 0 || n >= CHIP_MAX_TENSOR_ARGS {
            return Err(Error::InvalidArgument(format!(
                "ChipStorageTaskArgs: too many tensors (max {CHIP_MAX_TENSOR_ARGS})"
            )));
        }
        self.tensors[n] = tensor;
        self.tensor_count = n as i32 + 1;
        Ok(())
    }

    /// Appends a scalar (its zero-extended bit pattern). Errors when 128
    /// scalars are present.
    pub fn push_scalar(&mut self, value: u64) -> Result<()> {
        let n = self.scalar_len();
        if self.scalar_count < 0 || n >= CHIP_MAX_SCALAR_ARGS {
            return Err(Error::InvalidArgument(format!(
                "ChipStorageTaskArgs: too many scalars (max {CHIP_MAX_SCALAR_ARGS})"
            )));
        }
        self.scalars[n] = value;
        self.scalar_count = n as i32 + 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::DataType;

    fn sample() -> Box<ChipStorageTaskArgs> {
        let mut a = ChipStorageTaskArgs::new();
        a.push_tensor(Tensor::external(0x1000, &[128, 128], DataType::Float32)).unwrap();
        a.push_tensor(Tensor::external(0x2000, &[7], DataType::Int8)).unwrap();
        a.push_scalar(0x3F80_0000).unwrap();
        a.push_scalar(3).unwrap();
        a
    }

    #[test]
    fn builder_orders_tensors_before_scalars() {
        let mut a = sample();
        assert_eq!(a.tensors().len(), 2);
        assert_eq!(a.scalars(), &[0x3F80_0000, 3]);
        assert_eq!(a.tensors()[1].buffer_addr, 0x2000);
        let err = a.push_tensor(Tensor::external(0x3000, &[1], DataType::Int8)).unwrap_err();
        assert!(err.to_string().contains("after a scalar"), "{err}");
        assert!(a.validate().is_ok());
        a.tensors_mut()[0].buffer_addr = 0x5000;
        assert_eq!(a.tensors[0].buffer_addr, 0x5000);
    }

    #[test]
    fn capacity_limits() {
        let mut a = ChipStorageTaskArgs::new();
        for i in 0..128 {
            a.push_tensor(Tensor::external(0x1000 + i, &[1], DataType::Uint8)).unwrap();
        }
        assert!(a.push_tensor(Tensor::external(0, &[1], DataType::Uint8)).is_err());
        for i in 0..128 {
            a.push_scalar(i).unwrap();
        }
        assert!(a.push_scalar(0).is_err());
        assert_eq!(a.tensor_count, 128);
        assert_eq!(a.scalar_count, 128);
        assert!(a.validate().is_ok());
    }

    #[test]
    fn validate_is_the_signature_free_validator() {
        let mut a = sample();
        assert!(a.validate().is_ok());
        a.tensor_count = 129;
        let e = a.validate().unwrap_err();
        assert!(matches!(e, Error::InvalidTaskArgs(_)), "{e}");
        a.tensor_count = 2;
        a.tensors[1].buffer_size = 6;
        let msg = a.validate().unwrap_err().to_string();
        assert!(msg.contains("tensor argument 1") && msg.contains("buffer.size"), "{msg}");
    }

    #[test]
    fn read_unaligned_from_odd_offset() {
        let a = sample();
        let mut buf = vec![0u8; CHIP_STORAGE_TASK_ARGS_SIZE + 3];
        buf[1..1 + CHIP_STORAGE_TASK_ARGS_SIZE].copy_from_slice(a.as_bytes());
        // SAFETY: buf holds the full struct starting at offset 1.
        let b = unsafe { ChipStorageTaskArgs::read_unaligned(buf.as_ptr().add(1)) };
        assert_eq!(b.as_bytes(), a.as_bytes());
        assert_eq!(b.tensors(), a.tensors());
        assert_eq!(b.scalars(), a.scalars());
        // Field positions as C sees them.
        let bytes = a.as_bytes();
        assert_eq!(&bytes[17408..17412], &2i32.to_ne_bytes());
        assert_eq!(&bytes[17412..17416], &2i32.to_ne_bytes());
        assert_eq!(&bytes[16384..16392], &0x3F80_0000u64.to_ne_bytes());
        assert_eq!(&bytes[128..136], &0x2000u64.to_ne_bytes());
    }

    #[test]
    fn accessors_clamp_corrupt_counts() {
        let mut a = sample();
        a.tensor_count = 1000;
        a.scalar_count = -5;
        assert_eq!(a.tensors().len(), 128);
        assert!(a.scalars().is_empty());
        assert!(a.push_scalar(1).is_err());
    }
}
