//! Tensor descriptions: checks of OUTPUT descriptions and views, and
//! materializing outputs in a task's packed block.

use crate::abi::tensor::Tensor;
use crate::runtime::trb::api::TensorCreate;
use crate::runtime::trb::layout::{align_up, PACKED_OUTPUT_ALIGN};

/// Why `c` is not a valid OUTPUT description, if it is not.
pub(super) fn create_violation(c: &TensorCreate) -> Option<String> {
    let n = c.ndims as usize;
    if n == 0 || n > crate::abi::tensor::MAX_TENSOR_DIMS {
        return Some(format!("ndims {} out of range 1..={}", c.ndims, crate::abi::tensor::MAX_TENSOR_DIMS));
    }
    if crate::abi::types::elem_size_of_raw(c.dtype) == 0 {
        return Some(format!("unknown dtype {}", c.dtype));
    }
    let bytes = c.shapes[..n].iter().fold(crate::abi::types::elem_size_of_raw(c.dtype) as u128, |a, &s| a * s as u128);
    if bytes > i32::MAX as u128 {
        return Some(format!("output of {bytes} bytes exceeds INT32_MAX"));
    }
    None
}

/// Why the view `t` does not lie within its tensor, if it does not: ndims in
/// 1..=5, a known dtype, and every element of the view (start_offset plus
/// the strided extent) inside `buffer_size` bytes (checked arithmetic).
pub(super) fn view_violation(t: &Tensor) -> Option<String> {
    let n = t.ndims as usize;
    if n == 0 || n > crate::abi::tensor::MAX_TENSOR_DIMS {
        return Some(format!("ndims {} out of range 1..={}", t.ndims, crate::abi::tensor::MAX_TENSOR_DIMS));
    }
    let es = t.elem_size() as u128;
    if es == 0 {
        return Some(format!("unknown dtype {}", t.dtype));
    }
    let shapes = &t.shapes[..n];
    if shapes.contains(&0) {
        return None;
    }
    // Five u32 shapes can exceed u128 (a strided extent cannot): such a
    // view lies beyond any u64 buffer size.
    let extent: Option<u128> = if t.is_contiguous != 0 {
        shapes.iter().try_fold(1u128, |a, &s| a.checked_mul(s as u128))
    } else {
        Some(1 + shapes.iter().zip(t.strides.iter()).map(|(&s, &st)| (s as u128 - 1) * st as u128).sum::<u128>())
    };
    let Some(end) = extent.and_then(|e| (t.start_offset as u128 + e).checked_mul(es)) else {
        return Some(format!(
            "view of shape {shapes:?} at start_offset {} ends beyond byte {}, beyond the tensor's buffer.size {} (a task tensor view must lie within its tensor)",
            t.start_offset,
            u128::MAX,
            t.buffer_size
        ));
    };
    if end > t.buffer_size as u128 {
        return Some(format!(
            "view of shape {shapes:?} at start_offset {} ends at byte {end}, beyond the tensor's buffer.size {} (a task tensor view must lie within its tensor)",
            t.start_offset, t.buffer_size
        ));
    }
    None
}

pub(super) fn create_bytes(c: &TensorCreate) -> u64 {
    let n = (c.ndims as usize).min(crate::abi::tensor::MAX_TENSOR_DIMS);
    let numel: u64 = c.shapes[..n].iter().map(|&s| s as u64).product();
    numel * crate::abi::types::elem_size_of_raw(c.dtype) as u64
}

pub(super) fn materialize(c: &TensorCreate, addr: u64, owner: u64) -> Tensor {
    let n = (c.ndims as usize).min(crate::abi::tensor::MAX_TENSOR_DIMS);
    let mut t = Tensor {
        buffer_addr: addr,
        buffer_size: align_up(create_bytes(c), PACKED_OUTPUT_ALIGN),
        owner_task_id: owner,
        ndims: n as u32,
        dtype: c.dtype,
        manual_dep: c.manual_dep as u8,
        ..Tensor::default()
    };
    t.shapes[..n].copy_from_slice(&c.shapes[..n]);
    t.set_row_major_strides();
    t
}

pub(super) fn fill(t: &Tensor, v: u64) {
    let es = t.elem_size();
    if es == 0 {
        return;
    }
    let bytes = v.to_le_bytes();
    let n = t.numel() as usize;
    // SAFETY: `t` was just materialized in this task's packed block of the
    // ring heap, which holds at least numel × elem_size bytes and belongs
    // to the task being submitted (no kernel can run on it yet).
    let buf = unsafe { std::slice::from_raw_parts_mut(t.buffer_addr as *mut u8, n * es) };
    for chunk in buf.chunks_exact_mut(es) {
        chunk.copy_from_slice(&bytes[..es]);
    }
}

/// Writes the payload copy of an input tensor into `dst` (contiguous views
/// at offset 0 get their strides and extent recomputed from the shapes).
#[inline]
pub(super) fn copy_tensor_into(dst: &mut Tensor, t: &Tensor) {
    *dst = *t;
    if dst.is_contiguous != 0 && dst.start_offset == 0 {
        if dst.ndims == 1 {
            // What set_row_major_strides gives a rank-1 view.
            dst.strides = [1, 0, 0, 0, 0];
        } else {
            dst.set_row_major_strides();
        }
    }
}

/// Fast accept check for a view: true only when [`view_violation`] finds
/// nothing (same rule, computed in `u64` with every overflow sending the
/// view to the exact `u128` check instead). False says nothing.
#[inline]
pub(super) fn view_fits(t: &Tensor) -> bool {
    let n = t.ndims as usize;
    if n == 0 || n > crate::abi::tensor::MAX_TENSOR_DIMS {
        return false;
    }
    let es = t.elem_size() as u64;
    if es == 0 {
        return false;
    }
    let shapes = &t.shapes[..n];
    let mut extent: u64 = 1;
    if t.is_contiguous != 0 {
        for &s in shapes {
            match extent.checked_mul(s as u64) {
                Some(e) => extent = e,
                None => return false,
            }
        }
        if extent == 0 {
            return true; // a zero shape: an empty view always fits
        }
    } else {
        for (&s, &st) in shapes.iter().zip(t.strides.iter()) {
            if s == 0 {
                return true;
            }
            match extent.checked_add((s as u64 - 1) * st as u64) {
                Some(e) => extent = e,
                None => return false,
            }
        }
    }
    match t.start_offset.checked_add(extent).and_then(|e| e.checked_mul(es)) {
        Some(end) => end <= t.buffer_size,
        None => false,
    }
}
