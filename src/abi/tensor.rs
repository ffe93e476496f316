//! `Tensor`: the 128-byte, 64-aligned tensor descriptor that crosses every
//! boundary (entry arguments, task payloads, kernel arguments).

use super::types::elem_size_of_raw;

/// Maximum tensor rank.
pub const MAX_TENSOR_DIMS: usize = 5;
/// `owner_task_id` of a tensor no task created (external memory).
pub const INVALID_TASK_ID: u64 = u64::MAX;

/// Tensor descriptor, byte-identical to upstream's `Tensor` (128 B, align 64).
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tensor {
    /// Byte address of the underlying allocation (host before staging, device after).
    pub buffer_addr: u64,
    /// Total bytes of the allocation.
    pub buffer_size: u64,
    /// Raw id of the task that created the tensor, or [`INVALID_TASK_ID`].
    pub owner_task_id: u64,
    /// View origin, in elements.
    pub start_offset: u64,
    /// Version (a consumer with a higher version always overlaps).
    pub version: i32,
    /// Number of dimensions (1..=5).
    pub ndims: u32,
    /// `DataType` code.
    pub dtype: u8,
    /// Skip TensorMap tracking for this tensor.
    pub manual_dep: u8,
    /// Strides equal the row-major strides of the shape.
    pub is_contiguous: u8,
    /// 1 if the memory is owned by a child (passed through, never staged).
    pub child_memory: u8,
    /// Per-dimension view shape.
    pub shapes: [u32; MAX_TENSOR_DIMS],
    /// `1 + Σ (shape-1)·stride`.
    pub extent_elem_cache: u64,
    /// Element strides (> 0).
    pub strides: [u32; MAX_TENSOR_DIMS],
    /// Reserved.
    pub pad_cl2: [u8; 36],
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<Tensor>() == 128);
    assert!(align_of::<Tensor>() == 64);
    assert!(offset_of!(Tensor, buffer_addr) == 0);
    assert!(offset_of!(Tensor, buffer_size) == 8);
    assert!(offset_of!(Tensor, owner_task_id) == 16);
    assert!(offset_of!(Tensor, start_offset) == 24);
    assert!(offset_of!(Tensor, version) == 32);
    assert!(offset_of!(Tensor, ndims) == 36);
    assert!(offset_of!(Tensor, dtype) == 40);
    assert!(offset_of!(Tensor, manual_dep) == 41);
    assert!(offset_of!(Tensor, is_contiguous) == 42);
    assert!(offset_of!(Tensor, child_memory) == 43);
    assert!(offset_of!(Tensor, shapes) == 44);
    assert!(offset_of!(Tensor, extent_elem_cache) == 64);
    assert!(offset_of!(Tensor, strides) == 72);
    assert!(offset_of!(Tensor, pad_cl2) == 92);
};

// SAFETY: Tensor is repr(C), contains only integers and byte arrays, and
// has no padding bytes (the assertions above account for all 128 bytes).
unsafe impl bytemuck::Zeroable for Tensor {}
// SAFETY: as above: every bit pattern is a valid Tensor and there is no padding.
unsafe impl bytemuck::Pod for Tensor {}

impl Default for Tensor {
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

impl Tensor {
    /// An external, contiguous tensor over `addr` (start offset 0, no owner).
    pub fn external(addr: u64, shapes: &[u32], dtype: super::DataType) -> Tensor {
        let mut t = Tensor {
            buffer_addr: addr,
            owner_task_id: INVALID_TASK_ID,
            ndims: shapes.len().min(MAX_TENSOR_DIMS) as u32,
            dtype: dtype as u8,
            is_contiguous: 1,
            ..Tensor::default()
        };
        t.shapes[..t.ndims as usize].copy_from_slice(&shapes[..t.ndims as usize]);
        t.set_row_major_strides();
        t.buffer_size = t.nbytes();
        t
    }

    /// Active dimensions (clamped to 5).
    pub fn dims(&self) -> usize {
        (self.ndims as usize).min(MAX_TENSOR_DIMS)
    }

    /// Number of elements of the view (product of the shapes), saturating at
    /// `u64::MAX` (never wraps to a small count; the run-boundary validator
    /// refuses such a tensor).
    pub fn numel(&self) -> u64 {
        self.checked_numel().unwrap_or(u64::MAX)
    }

    /// Number of elements of the view, `None` when the product overflows.
    pub fn checked_numel(&self) -> Option<u64> {
        self.shapes[..self.dims()].iter().try_fold(1u64, |acc, &s| acc.checked_mul(s as u64))
    }

    /// Element size in bytes (0 for an unknown dtype).
    pub fn elem_size(&self) -> usize {
        elem_size_of_raw(self.dtype)
    }

    /// `numel × elem_size`.
    pub fn nbytes(&self) -> u64 {
        self.numel().saturating_mul(self.elem_size() as u64)
    }

    /// Sets row-major strides, `is_contiguous` and the extent cache from the shapes.
    pub fn set_row_major_strides(&mut self) {
        let n = self.dims();
        let mut stride = 1u32;
        for d in (0..n).rev() {
            self.strides[d] = stride;
            stride = stride.wrapping_mul(self.shapes[d].max(1));
        }
        for d in n..MAX_TENSOR_DIMS {
            self.strides[d] = 0;
        }
        self.is_contiguous = 1;
        self.extent_elem_cache = self.numel();
    }

    /// Extent of the view in elements (numel if contiguous, else the cache).
    pub fn extent(&self) -> u64 {
        if self.is_contiguous != 0 {
            self.numel()
        } else {
            self.extent_elem_cache
        }
    }

    /// Byte address of the element at `indices` (only the first `ndims` used).
    pub fn element_addr(&self, indices: &[u32]) -> u64 {
        let flat: u64 = indices
            .iter()
            .take(self.dims())
            .zip(self.strides.iter())
            .fold(0u64, |acc, (&i, &s)| acc.wrapping_add((i as u64).wrapping_mul(s as u64)));
        self.buffer_addr.wrapping_add(self.start_offset.wrapping_add(flat).wrapping_mul(self.elem_size() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::DataType;

    #[test]
    fn external_tensor_is_contiguous_row_major() {
        let t = Tensor::external(0x1000, &[4, 8], DataType::Float32);
        assert_eq!(t.numel(), 32);
        assert_eq!(t.buffer_size, 128);
        assert_eq!(&t.strides[..2], &[8, 1]);
        assert_eq!(t.owner_task_id, INVALID_TASK_ID);
        assert_eq!(t.element_addr(&[1, 2]), 0x1000 + (8 + 2) * 4);
    }
}
