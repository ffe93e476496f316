//! The overlap check of §7.4: how a consumer view relates to a producer
//! entry of the same buffer (disjoint, covering it, or otherwise
//! overlapping), with the 1-D and same-geometry fast paths the TensorMap
//! lookup takes before the general computation.

use crate::abi::tensor::{Tensor, MAX_TENSOR_DIMS};
use crate::runtime::trb::layout::TmEntry;

/// Result of the overlap check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Disjoint.
    None,
    /// The consumer view contains the producer view.
    Covered,
    /// Overlapping (or not provably disjoint).
    Other,
}

fn extent_of(contiguous: u8, shapes: &[u32], ndims: u32, cache: u64) -> u64 {
    if contiguous != 0 {
        shapes[..(ndims as usize).min(MAX_TENSOR_DIMS)].iter().map(|&s| s as u64).product()
    } else {
        cache
    }
}

/// Overlap check of §7.4 (consumer `t` vs producer entry `e`, same buffer).
///
/// Two fast paths give exactly the result of the general check: both views
/// one-dimensional (the common case), and views of identical geometry
/// (start, shape, strides, dtype, contiguity: the INOUT chain), where every
/// per-side step is computed once. The deterministic property test
/// `fast_paths_agree_with_general_overlap` checks both against the general
/// computation.
#[inline(always)]
pub fn overlap(t: &Tensor, e: &TmEntry) -> Overlap {
    if t.version > e.version {
        return Overlap::Other;
    }
    if t.ndims == 1 && e.ndims == 1 {
        return overlap_1d(t, e);
    }
    if same_view(t, e) {
        return overlap_exact(t);
    }
    overlap_general(t, e)
}

/// log2 of the element size of each dtype code with a size (the sizes of
/// `abi::types::elem_size_of_raw`, all powers of two; pinned by the test
/// `elem_shift_table_matches_dtype_sizes`); other codes have size 0.
pub(super) const ELEM_SHIFT: [u8; 12] = [2, 1, 2, 1, 0, 0, 1, 3, 3, 1, 2, 0];

/// The general check for two one-dimensional views (same steps, same order
/// of outcomes). `buffer_size / elem` is a shift (sizes are powers of two).
#[inline(always)]
fn overlap_1d(t: &Tensor, e: &TmEntry) -> Overlap {
    let t_ext = if t.is_contiguous != 0 { t.shapes[0] as u64 } else { t.extent_elem_cache };
    let e_ext = if e.is_contiguous != 0 { e.shapes[0] as u64 } else { e.extent_elem_cache };
    let (ts, te) = (t.start_offset, t.start_offset + t_ext);
    let (es, ee) = (e.start_offset, e.start_offset + e_ext);
    if te <= es || ee <= ts {
        return Overlap::None;
    }
    if t.dtype != e.dtype || t.strides[0] != 1 || e.strides[0] != 1 {
        return Overlap::Other;
    }
    let Some(&shift) = ELEM_SHIFT.get(t.dtype as usize) else {
        return Overlap::Other;
    };
    interval_1d(t, e, t.buffer_size >> shift)
}

/// The last step for one dimension of stride 1, shared by [`overlap_1d`]
/// and [`overlap_general`]: the views' element intervals inside a buffer of
/// `total` elements (outside it: Other).
#[inline(always)]
fn interval_1d(t: &Tensor, e: &TmEntry, total: u64) -> Overlap {
    let (c0, c1) = (t.start_offset, t.start_offset + t.shapes[0] as u64);
    let (p0, p1) = (e.start_offset, e.start_offset + e.shapes[0] as u64);
    if c1 > total || p1 > total {
        Overlap::Other
    } else if c1 <= p0 || p1 <= c0 {
        Overlap::None
    } else if c0 <= p0 && p1 <= c1 {
        Overlap::Covered
    } else {
        Overlap::Other
    }
}

/// The entry records exactly the geometry of `t`.
#[inline]
pub(super) fn same_view(t: &Tensor, e: &TmEntry) -> bool {
    t.start_offset == e.start_offset
        && t.ndims == e.ndims
        && t.dtype == e.dtype
        && t.is_contiguous == e.is_contiguous
        && t.shapes == e.shapes
        && t.strides == e.strides
        && t.extent_elem_cache == e.extent_elem_cache
}

/// The general check of `t` against an entry of the same geometry: both
/// sides' extents, offsets and bounds are equal, so each is computed once;
/// every per-dimension interval is then the same on both sides (covered
/// unless it is empty, which makes the views disjoint).
#[inline(never)]
pub(super) fn overlap_exact(t: &Tensor) -> Overlap {
    let ext = extent_of(t.is_contiguous, &t.shapes, t.ndims, t.extent_elem_cache);
    let (s, end) = (t.start_offset, t.start_offset + ext);
    if end <= s {
        return Overlap::None;
    }
    let n = t.ndims as usize;
    let elem = t.elem_size() as u64;
    if n == 0 || n > MAX_TENSOR_DIMS || elem == 0 {
        return Overlap::Other;
    }
    let st = &t.strides[..n];
    if st[n - 1] != 1 || st.contains(&0) || (1..n).any(|i| st[i - 1] % st[i] != 0) {
        return Overlap::Other;
    }
    let total = t.buffer_size / elem;
    if n == 1 {
        // Reached only from tests (the 1-D fast path comes first).
        let c1 = s + t.shapes[0] as u64;
        return if c1 > total {
            Overlap::Other
        } else if t.shapes[0] == 0 {
            Overlap::None
        } else {
            Overlap::Covered
        };
    }
    if total % st[0] as u64 != 0 {
        return Overlap::Other;
    }
    let mut rem = s;
    let mut covered = true;
    for i in 0..n {
        let off = rem / st[i] as u64;
        rem %= st[i] as u64;
        let bound = if i == 0 { total / st[0] as u64 } else { (st[i - 1] / st[i]) as u64 };
        if off + t.shapes[i] as u64 > bound {
            return Overlap::Other;
        }
        if t.shapes[i] == 0 {
            covered = false;
        }
    }
    if rem != 0 {
        Overlap::Other
    } else if covered {
        Overlap::Covered
    } else {
        Overlap::None
    }
}

/// The general overlap computation of §7.4.
#[inline(never)]
pub(super) fn overlap_general(t: &Tensor, e: &TmEntry) -> Overlap {
    if t.version > e.version {
        return Overlap::Other;
    }
    let t_ext = extent_of(t.is_contiguous, &t.shapes, t.ndims, t.extent_elem_cache);
    let e_ext = extent_of(e.is_contiguous, &e.shapes, e.ndims, e.extent_elem_cache);
    let (ts, te) = (t.start_offset, t.start_offset + t_ext);
    let (es, ee) = (e.start_offset, e.start_offset + e_ext);
    if te <= es || ee <= ts {
        return Overlap::None;
    }
    let n = t.ndims as usize;
    let elem = t.elem_size() as u64;
    if t.dtype != e.dtype || t.ndims != e.ndims || n == 0 || n > MAX_TENSOR_DIMS || elem == 0 {
        return Overlap::Other;
    }
    let st = &t.strides[..n];
    if st != &e.strides[..n] || st[n - 1] != 1 || st.contains(&0) {
        return Overlap::Other;
    }
    if n == 1 {
        // The general steps below for one dimension of stride 1 (the common
        // case): the offsets are the starts, the dimension is the buffer.
        return interval_1d(t, e, t.buffer_size / elem);
    }
    if (1..n).any(|i| st[i - 1] % st[i] != 0) {
        return Overlap::Other;
    }
    let total = t.buffer_size / elem;
    if total % st[0] as u64 != 0 {
        return Overlap::Other;
    }
    let mut a = [0u64; MAX_TENSOR_DIMS];
    a[0] = total / st[0] as u64;
    for i in 1..n {
        a[i] = (st[i - 1] / st[i]) as u64;
    }
    let decompose = |start: u64| -> Option<[u64; MAX_TENSOR_DIMS]> {
        let mut rem = start;
        let mut off = [0u64; MAX_TENSOR_DIMS];
        for i in 0..n {
            off[i] = rem / st[i] as u64;
            rem %= st[i] as u64;
        }
        (rem == 0).then_some(off)
    };
    let (Some(to), Some(eo)) = (decompose(t.start_offset), decompose(e.start_offset)) else {
        return Overlap::Other;
    };
    for i in 0..n {
        if to[i] + t.shapes[i] as u64 > a[i] || eo[i] + e.shapes[i] as u64 > a[i] {
            return Overlap::Other;
        }
    }
    let mut covered = true;
    for i in 0..n {
        let (c0, c1) = (to[i], to[i] + t.shapes[i] as u64);
        let (p0, p1) = (eo[i], eo[i] + e.shapes[i] as u64);
        if c1 <= p0 || p1 <= c0 {
            return Overlap::None;
        }
        if !(c0 <= p0 && p1 <= c1) {
            covered = false;
        }
    }
    if covered {
        Overlap::Covered
    } else {
        Overlap::Other
    }
}
