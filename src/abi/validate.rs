//! The run-boundary validator of entry arguments: one pure pass over a
//! `ChipStorageTaskArgs` and the callable's signature, before anything is
//! staged or dispatched. It reads only the descriptor block (never the
//! memory the tensors point to), so it is safe on arbitrary bytes.

use super::task_args::{ChipStorageTaskArgs, CHIP_MAX_SCALAR_ARGS, CHIP_MAX_TENSOR_ARGS};
use super::tensor::{Tensor, MAX_TENSOR_DIMS};
use super::types::{ArgDirection, DataType};
use crate::diagnostics::{Error, Result};

fn bad(msg: String) -> Error {
    Error::InvalidTaskArgs(msg)
}

/// Validates the entry arguments of a run against the callable's signature.
///
/// Parameters: `args` is the argument block exactly as the caller passed it
/// (host addresses; any bit pattern); `signature` is the callable's
/// orchestration signature (`signature[i]` is the direction of tensor `i`
/// for `i < tensor_count`; the entries after the tensors are
/// [`ArgDirection::Scalar`], one per scalar). Pure: no memory behind
/// `buffer.addr` is read.
///
/// Rules (the first violation is returned as [`Error::InvalidTaskArgs`],
/// naming the argument index, the field and the rule):
/// - `tensor_count` and `scalar_count` in `[0, 128]`;
/// - the signature agrees with the counts: a tensor position must not be
///   declared `SCALAR`, every tensor the signature declares must be given,
///   and at least as many scalars as it declares (tensors beyond the
///   signature are INOUT, as upstream treats them);
/// - per tensor: `ndims` in `[1, 5]`, a known `dtype`; the element count
///   (product of the shapes) and the byte count fit in 64 bits; every
///   active stride is > 0; a contiguous tensor's strides are the row-major
///   strides of its shape; a non-contiguous tensor's `extent_elem_cache`
///   equals `1 + Σ (shape-1)·stride`;
/// - per tensor: a NULL `buffer.addr` only with `buffer.size` 0;
///   `buffer.addr + buffer.size` does not wrap; `buffer.size` does not
///   exceed `isize::MAX`; `numel × elem_size <= buffer.size` (what staging
///   copies from `buffer.addr`) and `(start_offset + extent) × elem_size <=
///   buffer.size` (the view stays inside the buffer).
pub fn validate_args(args: &ChipStorageTaskArgs, signature: &[ArgDirection]) -> Result<()> {
    let count = |name: &str, v: i32, max: usize| -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| bad(format!("{name} is {v}, must be in [0, {max}]")))
    };
    let tensors = count("tensor_count", args.tensor_count, CHIP_MAX_TENSOR_ARGS)?;
    let scalars = count("scalar_count", args.scalar_count, CHIP_MAX_SCALAR_ARGS)?;
    check_signature(tensors, scalars, signature)?;
    for (i, t) in args.tensors[..tensors].iter().enumerate() {
        check_tensor(i, t)?;
    }
    Ok(())
}

impl ChipStorageTaskArgs {
    /// Checks the counts and every active tensor descriptor against the
    /// rules of [`validate_args`] (with no signature, so every tensor is
    /// treated as INOUT and no scalar is required).
    pub fn validate(&self) -> Result<()> {
        validate_args(self, &[])
    }
}

fn check_signature(tensors: usize, scalars: usize, signature: &[ArgDirection]) -> Result<()> {
    for (i, dir) in signature.iter().enumerate() {
        if i < tensors && *dir == ArgDirection::Scalar {
            return Err(bad(format!(
                "argument {i} is a tensor (tensor_count is {tensors}) but signature[{i}] is SCALAR: tensors precede scalars"
            )));
        }
        if i >= tensors && *dir != ArgDirection::Scalar {
            return Err(bad(format!(
                "signature[{i}] declares tensor argument {i} ({dir:?}) but tensor_count is {tensors}: every tensor of the signature must be given"
            )));
        }
    }
    let declared = signature.len().saturating_sub(tensors);
    if scalars < declared {
        return Err(bad(format!(
            "scalar_count is {scalars} but the signature declares {declared} scalar(s): every scalar of the signature must be given"
        )));
    }
    Ok(())
}

fn check_tensor(i: usize, t: &Tensor) -> Result<()> {
    let field = |name: &str, rule: String| bad(format!("tensor argument {i}: {name} {rule}"));
    let ndims = t.ndims as usize;
    if !(1..=MAX_TENSOR_DIMS).contains(&ndims) {
        return Err(field("ndims", format!("is {}, must be in [1, {MAX_TENSOR_DIMS}]", t.ndims)));
    }
    let Some(dtype) = DataType::from_u8(t.dtype) else {
        return Err(field("dtype", format!("is {}, must be a DataType code in [0, 11]", t.dtype)));
    };
    let elem = dtype.elem_size() as u64;
    let shapes = &t.shapes[..ndims];
    let strides = &t.strides[..ndims];
    let numel = t.checked_numel().ok_or_else(|| {
        field("shapes", format!("{shapes:?} overflow: the element count (their product) must fit in 64 bits"))
    })?;
    let nbytes = numel.checked_mul(elem).ok_or_else(|| {
        field("shapes", format!("{shapes:?} x {elem}-byte {dtype:?} overflow: the byte count must fit in 64 bits"))
    })?;
    if t.is_contiguous == 0 {
        if let Some(d) = strides.iter().position(|&s| s == 0) {
            return Err(field(&format!("strides[{d}]"), "is 0, must be > 0".into()));
        }
    }
    let extent = if t.is_contiguous != 0 {
        check_row_major(shapes, strides).map_err(|rule| field("strides", rule))?;
        numel
    } else if numel == 0 {
        0
    } else {
        let extent = shapes
            .iter()
            .zip(strides)
            .try_fold(1u64, |acc, (&s, &st)| (s as u64 - 1).checked_mul(st as u64).and_then(|x| acc.checked_add(x)))
            .ok_or_else(|| field("strides", format!("{strides:?} with shapes {shapes:?} overflow the extent")))?;
        if t.extent_elem_cache != extent {
            return Err(field(
                "extent_elem_cache",
                format!(
                    "is {}, must be 1 + sum((shape-1)*stride) = {extent} for a non-contiguous tensor",
                    t.extent_elem_cache
                ),
            ));
        }
        extent
    };
    let size = t.buffer_size;
    if t.buffer_addr == 0 && size != 0 {
        return Err(field(
            "buffer.addr",
            format!("is NULL with buffer.size {size}: a non-empty buffer needs an address"),
        ));
    }
    if t.buffer_addr.checked_add(size).is_none() || size > isize::MAX as u64 {
        return Err(field(
            "buffer.size",
            format!("{size} at buffer.addr {:#x} runs past the end of the address space", t.buffer_addr),
        ));
    }
    if nbytes > size {
        return Err(field(
            "buffer.size",
            format!("is {size} bytes, less than shapes {shapes:?} x {elem}-byte {dtype:?} = {nbytes} bytes: numel x elem_size must be <= buffer.size"),
        ));
    }
    let end = t.start_offset.checked_add(extent).and_then(|e| e.checked_mul(elem));
    if end.is_none_or(|e| e > size) {
        return Err(field(
            "start_offset",
            format!(
                "{} + extent {extent} elements of {elem} bytes exceeds buffer.size {size}: (start_offset + extent) x elem_size must be <= buffer.size",
                t.start_offset
            ),
        ));
    }
    Ok(())
}

/// Checks that `strides` are the row-major strides of `shapes` (a 0 shape
/// counts as 1, as [`Tensor::set_row_major_strides`] does).
fn check_row_major(shapes: &[u32], strides: &[u32]) -> std::result::Result<(), String> {
    let mut expect = 1u64;
    for d in (0..shapes.len()).rev() {
        if expect > u32::MAX as u64 {
            return Err(format!("of shapes {shapes:?}: row-major stride {d} ({expect}) does not fit in 32 bits"));
        }
        if strides[d] as u64 != expect {
            return Err(format!(
                "{strides:?} are not the row-major strides of shapes {shapes:?} (strides[{d}] must be {expect}) but is_contiguous is set"
            ));
        }
        expect *= shapes[d].max(1) as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::ArgDirection::{In, Inout, Out, Scalar};
    use crate::diagnostics::ErrorCode;

    fn args_with(t: Tensor) -> Box<ChipStorageTaskArgs> {
        let mut a = ChipStorageTaskArgs::new();
        a.push_tensor(t).unwrap();
        a
    }

    fn err(a: &ChipStorageTaskArgs, sig: &[ArgDirection]) -> String {
        let e = validate_args(a, sig).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PtoErrInvalidTaskArgs, "{e}");
        e.to_string()
    }

    fn has(msg: &str, parts: &[&str]) {
        for p in parts {
            assert!(msg.contains(p), "'{p}' missing in: {msg}");
        }
    }

    #[test]
    fn accepts_well_formed_tensors_and_exact_boundaries() {
        let t = Tensor::external(0x1000, &[4, 8], DataType::Float32);
        assert!(validate_args(&args_with(t), &[In]).is_ok());
        // A view ending exactly at buffer.size.
        let mut v = Tensor::external(0x1000, &[8], DataType::Float32);
        v.buffer_size = 64;
        v.start_offset = 8;
        assert!(validate_args(&args_with(v), &[]).is_ok());
        v.start_offset = 9;
        has(&err(&args_with(v), &[]), &["tensor argument 0", "start_offset", "9", "buffer.size 64"]);
        // Empty tensor with a NULL address.
        let mut e = Tensor::external(0, &[0], DataType::Int8);
        e.buffer_size = 0;
        assert!(validate_args(&args_with(e), &[Out]).is_ok());
        // A strided (non-contiguous) view with a matching extent cache.
        let mut s = Tensor::external(0x1000, &[2, 3], DataType::Int32);
        s.is_contiguous = 0;
        s.strides[..2].copy_from_slice(&[10, 1]);
        s.extent_elem_cache = 1 + 10 + 2;
        s.buffer_size = 13 * 4;
        assert!(validate_args(&args_with(s), &[]).is_ok());
        s.buffer_size = 12 * 4;
        has(&err(&args_with(s), &[]), &["start_offset", "extent 13"]);
    }

    #[test]
    fn buffer_smaller_than_shape_is_refused() {
        let mut t = Tensor::external(0x1000, &[1024], DataType::Float32);
        t.buffer_size = 4095;
        has(&err(&args_with(t), &[In]), &["tensor argument 0", "buffer.size", "4095", "4096", "<= buffer.size"]);
        t.buffer_size = 4096;
        assert!(validate_args(&args_with(t), &[In]).is_ok());
    }

    #[test]
    fn overflowing_shape_product_is_refused_not_zero() {
        let mut t = Tensor::external(0x1000, &[1], DataType::Float32);
        t.ndims = 5;
        t.shapes = [65536; 5];
        t.set_row_major_strides();
        has(&err(&args_with(t), &[]), &["shapes", "overflow", "64 bits"]);
        // Product fits, bytes do not.
        t.ndims = 4;
        t.shapes = [65536, 65536, 65536, 65535, 0];
        has(&err(&args_with(t), &[]), &["byte count"]);
        // Row-major stride beyond u32.
        let mut r = Tensor::external(0x1000, &[2, 65536, 65536], DataType::Int8);
        r.buffer_size = 1 << 33;
        has(&err(&args_with(r), &[]), &["strides", "32 bits"]);
    }

    #[test]
    fn null_address_and_wrapping_ranges() {
        let t = Tensor::external(0, &[16], DataType::Float32);
        has(&err(&args_with(t), &[In]), &["buffer.addr", "NULL", "buffer.size 64"]);
        let t = Tensor::external(u64::MAX - 10, &[16], DataType::Float32);
        has(&err(&args_with(t), &[In]), &["address space"]);
        let mut t = Tensor::external(0x1000, &[16], DataType::Float32);
        t.buffer_size = 1 << 63;
        has(&err(&args_with(t), &[In]), &["address space"]);
    }

    #[test]
    fn strides_and_extent_cache() {
        let mut t = Tensor::external(0x1000, &[4, 4], DataType::Float32);
        t.strides[1] = 0;
        has(&err(&args_with(t), &[]), &["strides[1] must be 1", "row-major", "is_contiguous"]);
        t.is_contiguous = 0;
        has(&err(&args_with(t), &[]), &["strides[1]", "> 0"]);
        t.strides[1] = 2;
        t.extent_elem_cache = 16;
        has(&err(&args_with(t), &[]), &["extent_elem_cache", "is 16", "= 19"]);
        t.extent_elem_cache = 19;
        t.buffer_size = 19 * 4;
        assert!(validate_args(&args_with(t), &[]).is_ok());
        // start_offset huge: overflow of (start_offset + extent) x elem.
        t.start_offset = u64::MAX / 2;
        has(&err(&args_with(t), &[]), &["start_offset"]);
    }

    #[test]
    fn counts_ndims_and_dtype() {
        let mut a = args_with(Tensor::external(0x1000, &[4], DataType::Float32));
        a.tensor_count = 129;
        has(&err(&a, &[]), &["tensor_count", "129", "[0, 128]"]);
        a.tensor_count = -1;
        has(&err(&a, &[]), &["tensor_count", "-1"]);
        a.tensor_count = 1;
        a.scalar_count = 200;
        has(&err(&a, &[]), &["scalar_count", "200"]);
        a.scalar_count = 0;
        a.tensors[0].ndims = 6;
        has(&err(&a, &[]), &["tensor argument 0", "ndims", "6", "[1, 5]"]);
        a.tensors[0].ndims = 0;
        has(&err(&a, &[]), &["ndims", "is 0"]);
        a.tensors[0].ndims = 1;
        a.tensors[0].dtype = 12;
        has(&err(&a, &[]), &["dtype", "12"]);
        // Slots beyond tensor_count are ignored.
        a.tensors[0].dtype = 0;
        a.tensors[7].ndims = 99;
        assert!(validate_args(&a, &[]).is_ok());
    }

    #[test]
    fn signature_agreement() {
        let mut a = ChipStorageTaskArgs::new();
        for _ in 0..2 {
            a.push_tensor(Tensor::external(0x1000, &[4], DataType::Float32)).unwrap();
        }
        assert!(validate_args(&a, &[In, Out]).is_ok());
        assert!(validate_args(&a, &[In]).is_ok(), "tensors beyond the signature are INOUT");
        has(&err(&a, &[In, Out, Inout]), &["signature[2]", "tensor_count is 2"]);
        has(&err(&a, &[In, Scalar]), &["argument 1", "SCALAR"]);
        has(&err(&a, &[In, Out, Scalar]), &["scalar_count is 0", "declares 1"]);
        a.push_scalar(7).unwrap();
        assert!(validate_args(&a, &[In, Out, Scalar]).is_ok());
        has(&err(&a, &[In, Out, Scalar, Scalar]), &["scalar_count is 1", "declares 2"]);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic sweep over random descriptor blocks.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2000 {
            let mut a = ChipStorageTaskArgs::new();
            a.tensor_count = (next() % 140) as i32 - 4;
            a.scalar_count = (next() % 140) as i32 - 4;
            for t in a.tensors.iter_mut().take(8) {
                let bytes: &mut [u8] = bytemuck::bytes_of_mut(t);
                for b in bytes.iter_mut() {
                    *b = next() as u8;
                }
                t.ndims = (next() % 7) as u32;
                t.dtype = (next() % 13) as u8;
            }
            let _ = validate_args(&a, &[In, Out, Scalar]);
        }
    }
}
