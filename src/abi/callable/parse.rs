//! Validation of ChipCallable images: [`parse_chip_callable`] on a slice and
//! [`parse_chip_callable_ptr`] on a bare address, and the parsed result.

use super::layout::{ChipCallableHeader, CoreCallableHeader};
use super::{
    CALLABLE_ALIGN, CALLABLE_FUNC_NAME_MAX, CHIP_CALLABLE_HEADER_SIZE, CHIP_MAX_CHILDREN, CHIP_MAX_SIG,
    CORE_CALLABLE_BINARY_OFFSET, CORE_CALLABLE_HEADER_SIZE, CORE_MAX_SIG, MAX_DERIVED_IMAGE_LEN, RUNTIME_MAX_FUNC_ID,
};
use crate::abi::hash::fnv1a64;
use crate::abi::types::ArgDirection;
use crate::diagnostics::{Error, Result};

/// A fully validated ChipCallable image, copied out of the caller's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCallable {
    /// Orchestration signature (tensor i ↔ entry i; scalars follow).
    pub signature: Vec<ArgDirection>,
    /// Orchestration entry symbol name.
    pub func_name: String,
    /// Orchestration config symbol name (may be empty).
    pub config_name: String,
    /// Orchestration shared-object bytes.
    pub orch_so: Vec<u8>,
    /// Child kernels in header order.
    pub children: Vec<ParsedChild>,
    /// Bytes of the image actually used: 8864 + storage extent.
    pub image_len: usize,
    /// FNV-1a 64 of the first `image_len` bytes (kernel-pool dedupe key).
    pub content_hash: u64,
}

/// One child CoreCallable of a [`ParsedCallable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedChild {
    /// Function id in `[0, 1024)`.
    pub func_id: i32,
    /// Kernel signature.
    pub signature: Vec<ArgDirection>,
    /// Kernel binary bytes.
    pub binary: Vec<u8>,
    /// Storage offset of the child header (image offset = 8864 + offset).
    pub offset: u32,
}

impl ParsedChild {
    /// Offset of this child's CoreCallable header from the image start.
    pub fn header_offset(&self) -> usize {
        CHIP_CALLABLE_HEADER_SIZE + self.offset as usize
    }

    /// Offset of this child's kernel binary from the image start.
    pub fn binary_offset(&self) -> usize {
        self.header_offset() + CORE_CALLABLE_BINARY_OFFSET
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidCallable(msg)
}

/// Decodes `count` raw signature values; `what` names the field in errors.
fn decode_signature(what: &str, raw: &[i32], count: i32, max: usize) -> Result<Vec<ArgDirection>> {
    if count < 0 || count as usize > max {
        return Err(invalid(format!("{what}sig_count {count} out of range [0, {max}]")));
    }
    raw[..count as usize]
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            ArgDirection::from_i32(v)
                .ok_or_else(|| invalid(format!("{what}signature[{i}] = {v} is not a valid ArgDirection (0..=3)")))
        })
        .collect()
}

/// Decodes a NUL-terminated name buffer with its declared length.
fn decode_name(what: &str, buf: &[u8; CALLABLE_FUNC_NAME_MAX], len: u32) -> Result<String> {
    let nul = buf
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| invalid(format!("{what} has no NUL terminator within {CALLABLE_FUNC_NAME_MAX} bytes")))?;
    if len as usize >= CALLABLE_FUNC_NAME_MAX {
        return Err(invalid(format!("{what}_len {len} exceeds {}", CALLABLE_FUNC_NAME_MAX - 1)));
    }
    if nul != len as usize {
        return Err(invalid(format!("{what}_len {len} does not match the NUL-terminated length {nul}")));
    }
    String::from_utf8(buf[..nul].to_vec()).map_err(|_| invalid(format!("{what} is not valid UTF-8")))
}

/// Header-level facts, checked without touching storage.
struct HeaderInfo {
    signature: Vec<ArgDirection>,
    func_name: String,
    config_name: String,
    orch_size: usize,
    /// `(func_id, storage offset)` per child.
    children: Vec<(i32, u32)>,
}

fn check_header(h: &ChipCallableHeader) -> Result<HeaderInfo> {
    let signature = decode_signature("", &h.signature, h.sig_count, CHIP_MAX_SIG)?;
    let func_name = decode_name("func_name", &h.func_name, h.func_name_len)?;
    let config_name = decode_name("config_name", &h.config_name, h.config_name_len)?;
    let child_count = h.child_count;
    if child_count < 0 || child_count as usize > CHIP_MAX_CHILDREN {
        return Err(invalid(format!("child_count {child_count} out of range [0, {CHIP_MAX_CHILDREN}]")));
    }
    let orch_size = h.binary_size as usize;
    let mut children = Vec::with_capacity(child_count as usize);
    let mut first_use = std::collections::HashMap::with_capacity(child_count as usize);
    for i in 0..child_count as usize {
        let func_id = h.child_func_ids[i];
        if !(0..RUNTIME_MAX_FUNC_ID).contains(&func_id) {
            return Err(invalid(format!("child_func_ids[{i}] = {func_id} out of range [0, {RUNTIME_MAX_FUNC_ID})")));
        }
        if let Some(j) = first_use.insert(func_id, i) {
            return Err(invalid(format!(
                "child_func_ids[{i}] = {func_id} duplicates child_func_ids[{j}]: each child func_id must be unique"
            )));
        }
        let off = h.child_offsets[i];
        if off as usize % CALLABLE_ALIGN != 0 {
            return Err(invalid(format!("child_offsets[{i}] = {off} is not {CALLABLE_ALIGN}-aligned")));
        }
        if (off as usize) < orch_size {
            return Err(invalid(format!(
                "child_offsets[{i}] = {off} overlaps the orchestration SO (binary_size {orch_size})"
            )));
        }
        children.push((func_id, off));
    }
    Ok(HeaderInfo { signature, func_name, config_name, orch_size, children })
}

/// Checks a child header; returns its signature.
fn check_core(i: usize, h: &CoreCallableHeader) -> Result<Vec<ArgDirection>> {
    decode_signature(&format!("child {i} "), &h.signature, h.sig_count, CORE_MAX_SIG)
}

/// Parses and fully validates a ChipCallable image.
///
/// Every size and offset is checked against `image.len()` before use; a
/// malformed or truncated image is an [`Error::InvalidCallable`] naming the
/// offending field. Bytes past the used extent are ignored (and not hashed).
pub fn parse_chip_callable(image: &[u8]) -> Result<ParsedCallable> {
    let header_bytes = image.get(..CHIP_CALLABLE_HEADER_SIZE).ok_or_else(|| {
        invalid(format!("image of {} bytes is shorter than the {CHIP_CALLABLE_HEADER_SIZE}-byte header", image.len()))
    })?;
    let h: ChipCallableHeader = bytemuck::pod_read_unaligned(header_bytes);
    let info = check_header(&h)?;
    let storage = &image[CHIP_CALLABLE_HEADER_SIZE..];

    let orch_so = storage
        .get(..info.orch_size)
        .ok_or_else(|| {
            invalid(format!("binary_size {} exceeds the {} storage bytes of the image", info.orch_size, storage.len()))
        })?
        .to_vec();

    let mut extent = info.orch_size;
    let mut children = Vec::with_capacity(info.children.len());
    let mut spans = Vec::with_capacity(info.children.len());
    for (i, &(func_id, off)) in info.children.iter().enumerate() {
        let start = off as usize;
        let header = start
            .checked_add(CORE_CALLABLE_HEADER_SIZE)
            .and_then(|e| storage.get(start..e))
            .filter(|_| start + CORE_CALLABLE_BINARY_OFFSET <= storage.len())
            .ok_or_else(|| {
                invalid(format!(
                    "child {i} header (child_offsets[{i}] = {off}) extends past the image end ({} storage bytes)",
                    storage.len()
                ))
            })?;
        let core: CoreCallableHeader = bytemuck::pod_read_unaligned(header);
        let signature = check_core(i, &core)?;
        let bin_start = start + CORE_CALLABLE_BINARY_OFFSET;
        let end = bin_start.checked_add(core.binary_size as usize);
        let binary = end.and_then(|end| storage.get(bin_start..end)).ok_or_else(|| {
            invalid(format!(
                "child {i} binary_size {} extends past the image end ({} storage bytes)",
                core.binary_size,
                storage.len()
            ))
        })?;
        let end = bin_start + binary.len();
        spans.push((start, end, i));
        extent = extent.max(end);
        children.push(ParsedChild { func_id, signature, binary: binary.to_vec(), offset: off });
    }

    spans.sort_unstable();
    for w in spans.windows(2) {
        let ((_, prev_end, a), (next_start, _, b)) = (w[0], w[1]);
        if prev_end > next_start {
            return Err(invalid(format!(
                "children {a} and {b} overlap (child_offsets[{b}] = {next_start} < end of child {a} at {prev_end})"
            )));
        }
    }

    let image_len = CHIP_CALLABLE_HEADER_SIZE + extent;
    Ok(ParsedCallable {
        signature: info.signature,
        func_name: info.func_name,
        config_name: info.config_name,
        orch_so,
        children,
        image_len,
        content_hash: fnv1a64(&image[..image_len]),
    })
}

/// Parses a ChipCallable image given only its address (legacy entries that
/// receive no length).
///
/// The header is read first (unaligned) and checked; the image length is
/// then derived from it, reading each child header only after its offset
/// has been checked for plausibility. A header implying an image longer than
/// [`MAX_DERIVED_IMAGE_LEN`] (1 GiB) is rejected before anything past it is
/// read. The derived slice is finally validated by [`parse_chip_callable`].
///
/// # Safety
/// `ptr` must be NULL (reported as an error) or point to a ChipCallable
/// image that is readable up to the extent its own header declares: the
/// 8864-byte header, then every child header its `child_offsets` name, then
/// the orchestration SO and every child binary of the declared sizes.
pub unsafe fn parse_chip_callable_ptr(ptr: *const u8) -> Result<ParsedCallable> {
    if ptr.is_null() {
        return Err(Error::NullPointer { what: "callable" });
    }
    // SAFETY: the caller guarantees the 8864-byte header is readable;
    // read_unaligned imposes no alignment and every bit pattern is valid.
    let h: ChipCallableHeader = unsafe { std::ptr::read_unaligned(ptr.cast()) };
    let info = check_header(&h)?;
    let too_big = |what: String, len: usize| {
        invalid(format!("{what} implies an image of {len} bytes, above the {MAX_DERIVED_IMAGE_LEN}-byte limit"))
    };
    let mut extent = info.orch_size;
    if CHIP_CALLABLE_HEADER_SIZE + extent > MAX_DERIVED_IMAGE_LEN {
        return Err(too_big(format!("binary_size {}", info.orch_size), CHIP_CALLABLE_HEADER_SIZE + extent));
    }
    for (i, &(_, off)) in info.children.iter().enumerate() {
        let start = off as usize;
        let header_end = CHIP_CALLABLE_HEADER_SIZE + start + CORE_CALLABLE_BINARY_OFFSET;
        if header_end > MAX_DERIVED_IMAGE_LEN {
            return Err(too_big(format!("child_offsets[{i}] = {off}"), header_end));
        }
        // SAFETY: `header_end` ≤ 1 GiB so the offset is in range for `ptr`'s
        // allocation as declared by the header, and the caller guarantees
        // every child header the header names is readable; unaligned read of
        // a Pod struct.
        let core: CoreCallableHeader =
            unsafe { std::ptr::read_unaligned(ptr.add(CHIP_CALLABLE_HEADER_SIZE + start).cast()) };
        check_core(i, &core)?;
        let end = start + CORE_CALLABLE_BINARY_OFFSET + core.binary_size as usize;
        if CHIP_CALLABLE_HEADER_SIZE + end > MAX_DERIVED_IMAGE_LEN {
            return Err(too_big(
                format!("child {i} binary_size {}", core.binary_size),
                CHIP_CALLABLE_HEADER_SIZE + end,
            ));
        }
        extent = extent.max(end);
    }
    let len = CHIP_CALLABLE_HEADER_SIZE + extent;
    // SAFETY: `len` ≤ 1 GiB (< isize::MAX), `ptr` is non-NULL, and the caller
    // guarantees the image is readable up to the extent its header declares,
    // which is exactly `len`; the bytes are not mutated while borrowed here.
    let image = unsafe { std::slice::from_raw_parts(ptr, len) };
    parse_chip_callable(image)
}
