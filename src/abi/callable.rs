//! ChipCallable / CoreCallable images: the `callable` blob of
//! `prepare_callable` (upstream `callable.h`, c68d9bbe6 layout).
//!
//! A ChipCallable image is an 8864-byte header followed by `storage`: the
//! orchestration SO at storage offset 0, then each child CoreCallable (a
//! 144-byte header padded to 192, then the kernel binary) at a 64-aligned
//! storage offset. [`parse_chip_callable`] validates an image completely
//! before any of it is used; [`ChipCallableBuilder`] produces images
//! byte-identical to upstream's `make_callable`.

use super::hash::fnv1a64;
use super::types::ArgDirection;
use crate::diagnostics::{Error, Result};

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

/// Builds ChipCallable images byte-identical to upstream's `make_callable`.
#[derive(Debug, Clone)]
pub struct ChipCallableBuilder {
    signature: Vec<ArgDirection>,
    func_name: String,
    config_name: String,
    orch_so: Vec<u8>,
    children: Vec<(i32, Vec<ArgDirection>, Vec<u8>)>,
}

fn align64(v: usize) -> usize {
    v.div_ceil(CALLABLE_ALIGN) * CALLABLE_ALIGN
}

fn encode_name(what: &str, name: &str) -> Result<([u8; CALLABLE_FUNC_NAME_MAX], u32)> {
    let bytes = name.as_bytes();
    if bytes.len() >= CALLABLE_FUNC_NAME_MAX {
        return Err(Error::InvalidArgument(format!(
            "ChipCallableBuilder: {what} is {} bytes, max {}",
            bytes.len(),
            CALLABLE_FUNC_NAME_MAX - 1
        )));
    }
    if bytes.contains(&0) {
        return Err(Error::InvalidArgument(format!("ChipCallableBuilder: {what} must not contain a NUL byte")));
    }
    let mut buf = [0u8; CALLABLE_FUNC_NAME_MAX];
    buf[..bytes.len()].copy_from_slice(bytes);
    Ok((buf, bytes.len() as u32))
}

fn encode_signature<const N: usize>(what: &str, sig: &[ArgDirection]) -> Result<([i32; N], i32)> {
    if sig.len() > N {
        return Err(Error::InvalidArgument(format!(
            "ChipCallableBuilder: {what}signature has {} entries, max {N}",
            sig.len()
        )));
    }
    let mut raw = [0i32; N];
    for (r, &d) in raw.iter_mut().zip(sig) {
        *r = d as i32;
    }
    Ok((raw, sig.len() as i32))
}

impl ChipCallableBuilder {
    /// Starts an image with the orchestration signature, entry name and SO.
    pub fn new(signature: &[ArgDirection], func_name: &str, orch_so: &[u8]) -> Self {
        ChipCallableBuilder {
            signature: signature.to_vec(),
            func_name: func_name.to_string(),
            config_name: String::new(),
            orch_so: orch_so.to_vec(),
            children: Vec::new(),
        }
    }

    /// Sets the orchestration config function name.
    pub fn config_name(&mut self, name: &str) -> &mut Self {
        self.config_name = name.to_string();
        self
    }

    /// Appends a child kernel.
    pub fn child(&mut self, func_id: i32, signature: &[ArgDirection], binary: &[u8]) -> &mut Self {
        self.children.push((func_id, signature.to_vec(), binary.to_vec()));
        self
    }

    /// Produces the image. Errors on a name of 64+ bytes (or with a NUL),
    /// more than 128 signature entries (32 per child), more than 1024
    /// children, a func_id outside `[0, 1024)`, or sizes beyond `u32`.
    pub fn build(&self) -> Result<Vec<u8>> {
        let arg = |m: String| Error::InvalidArgument(format!("ChipCallableBuilder: {m}"));
        let mut h: ChipCallableHeader = bytemuck::Zeroable::zeroed();
        (h.signature, h.sig_count) = encode_signature::<CHIP_MAX_SIG>("", &self.signature)?;
        (h.func_name, h.func_name_len) = encode_name("func_name", &self.func_name)?;
        (h.config_name, h.config_name_len) = encode_name("config_name", &self.config_name)?;
        h.binary_size = u32::try_from(self.orch_so.len())
            .map_err(|_| arg(format!("orchestration SO of {} bytes exceeds u32", self.orch_so.len())))?;
        if self.children.len() > CHIP_MAX_CHILDREN {
            return Err(arg(format!("{} children, max {CHIP_MAX_CHILDREN}", self.children.len())));
        }
        h.child_count = self.children.len() as i32;

        let mut end = self.orch_so.len();
        let mut cores = Vec::with_capacity(self.children.len());
        for (i, (func_id, sig, binary)) in self.children.iter().enumerate() {
            if !(0..RUNTIME_MAX_FUNC_ID).contains(func_id) {
                return Err(arg(format!("child {i} func_id {func_id} out of range [0, {RUNTIME_MAX_FUNC_ID})")));
            }
            let mut core: CoreCallableHeader = bytemuck::Zeroable::zeroed();
            (core.signature, core.sig_count) = encode_signature::<CORE_MAX_SIG>(&format!("child {i} "), sig)?;
            core.binary_size = u32::try_from(binary.len())
                .map_err(|_| arg(format!("child {i} binary of {} bytes exceeds u32", binary.len())))?;
            let off = align64(end);
            h.child_offsets[i] = u32::try_from(off).map_err(|_| arg(format!("child {i} offset {off} exceeds u32")))?;
            h.child_func_ids[i] = *func_id;
            end = off + CORE_CALLABLE_BINARY_OFFSET + binary.len();
            cores.push((off, core, binary));
        }
        if u32::try_from(end).is_err() {
            return Err(arg(format!("storage of {end} bytes exceeds u32")));
        }

        let mut image = vec![0u8; CHIP_CALLABLE_HEADER_SIZE + end];
        image[..CHIP_CALLABLE_HEADER_SIZE].copy_from_slice(bytemuck::bytes_of(&h));
        let storage = &mut image[CHIP_CALLABLE_HEADER_SIZE..];
        storage[..self.orch_so.len()].copy_from_slice(&self.orch_so);
        for (off, core, binary) in cores {
            storage[off..off + CORE_CALLABLE_HEADER_SIZE].copy_from_slice(bytemuck::bytes_of(&core));
            let b = off + CORE_CALLABLE_BINARY_OFFSET;
            storage[b..b + binary.len()].copy_from_slice(binary);
        }
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ArgDirection::*;

    const H: usize = CHIP_CALLABLE_HEADER_SIZE;

    fn orch() -> Vec<u8> {
        (0..100u32).map(|i| (i * 7 + 1) as u8).collect()
    }

    fn sample() -> Vec<u8> {
        ChipCallableBuilder::new(&[In, In, Out, Scalar], "aicpu_orchestration_entry", &orch())
            .config_name("aicpu_orchestration_config")
            .child(0, &[In, In, Out], &[0xAA; 10])
            .child(2, &[Inout], &[0xBB; 70])
            .child(1023, &[], &[])
            .build()
            .unwrap()
    }

    fn rd_u32(img: &[u8], off: usize) -> u32 {
        u32::from_ne_bytes(img[off..off + 4].try_into().unwrap())
    }

    fn wr(img: &mut [u8], off: usize, v: u32) {
        img[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }

    fn err_msg(img: &[u8]) -> String {
        match parse_chip_callable(img) {
            Err(e @ Error::InvalidCallable(_)) => e.to_string(),
            other => panic!("expected InvalidCallable, got {other:?}"),
        }
    }

    #[test]
    fn builder_layout_matches_upstream() {
        let img = sample();
        // Orch SO 100 B → child 0 at 128 (size 202) → child 1 at align64(330)
        // = 384 (size 262) → child 2 at align64(646) = 704 (size 192) → end 896.
        assert_eq!(img.len(), H + 896);
        assert_eq!(rd_u32(&img, 512), 4, "sig_count");
        assert_eq!(rd_u32(&img, 0), In as u32);
        assert_eq!(rd_u32(&img, 12), Scalar as u32);
        assert_eq!(rd_u32(&img, 516), 100, "binary_size");
        assert_eq!(&img[520..545], b"aicpu_orchestration_entry");
        assert_eq!(img[545], 0);
        assert_eq!(rd_u32(&img, 584), 25, "func_name_len");
        assert_eq!(rd_u32(&img, 588 + 4 * 2), 1023, "child_func_ids[2]");
        assert_eq!([rd_u32(&img, 4684), rd_u32(&img, 4688), rd_u32(&img, 4692)], [128, 384, 704]);
        assert_eq!(rd_u32(&img, 8780), 3, "child_count");
        assert_eq!(&img[8784..8810], b"aicpu_orchestration_config");
        assert_eq!(rd_u32(&img, 8848), 26, "config_name_len");
        assert!(img[8852..H].iter().all(|&b| b == 0));
        assert_eq!(&img[H..H + 100], &orch()[..]);
        // Child 1 header and binary.
        let c1 = H + 384;
        assert_eq!(rd_u32(&img, c1), Inout as u32);
        assert_eq!(rd_u32(&img, c1 + 128), 1, "child sig_count");
        assert_eq!(rd_u32(&img, c1 + 132), 70, "child binary_size");
        assert!(img[c1 + 136..c1 + 192].iter().all(|&b| b == 0));
        assert!(img[c1 + 192..c1 + 262].iter().all(|&b| b == 0xBB));
        // Gaps are zero.
        assert!(img[H + 100..H + 128].iter().all(|&b| b == 0));
        assert!(img[H + 330..H + 384].iter().all(|&b| b == 0));
    }

    #[test]
    fn roundtrip_builder_parser() {
        let img = sample();
        let p = parse_chip_callable(&img).unwrap();
        assert_eq!(p.signature, vec![In, In, Out, Scalar]);
        assert_eq!(p.func_name, "aicpu_orchestration_entry");
        assert_eq!(p.config_name, "aicpu_orchestration_config");
        assert_eq!(p.orch_so, orch());
        assert_eq!(p.image_len, img.len());
        assert_eq!(p.content_hash, fnv1a64(&img));
        let ids: Vec<_> = p.children.iter().map(|c| (c.func_id, c.offset)).collect();
        assert_eq!(ids, vec![(0, 128), (2, 384), (1023, 704)]);
        assert_eq!(p.children[0].signature, vec![In, In, Out]);
        assert_eq!(p.children[0].binary, vec![0xAA; 10]);
        assert_eq!(p.children[1].binary, vec![0xBB; 70]);
        assert!(p.children[2].binary.is_empty());
        assert_eq!(p.children[1].binary_offset(), H + 384 + 192);

        // Trailing bytes are ignored and not hashed.
        let mut longer = img.clone();
        longer.extend_from_slice(&[1, 2, 3]);
        let q = parse_chip_callable(&longer).unwrap();
        assert_eq!(q, p);

        // No children: image = header + SO, unaligned end.
        let bare = ChipCallableBuilder::new(&[], "", &[9; 5]).build().unwrap();
        assert_eq!(bare.len(), H + 5);
        let p = parse_chip_callable(&bare).unwrap();
        assert_eq!((p.image_len, p.orch_so.len(), p.children.len()), (H + 5, 5, 0));
        // Different content → different hash.
        let other = ChipCallableBuilder::new(&[], "", &[8; 5]).build().unwrap();
        assert_ne!(parse_chip_callable(&other).unwrap().content_hash, p.content_hash);
    }

    #[test]
    fn duplicate_child_func_ids_are_refused() {
        let img = ChipCallableBuilder::new(&[In], "e", &orch())
            .child(5, &[In], &[0xAA; 10])
            .child(6, &[In], &[0xBB; 10])
            .child(5, &[In], &[0xCC; 10])
            .build()
            .unwrap();
        let msg = err_msg(&img);
        assert!(msg.contains("child_func_ids[2] = 5 duplicates child_func_ids[0]") && msg.contains("unique"), "{msg}");
    }

    #[test]
    fn every_truncation_is_rejected() {
        let img = sample();
        for len in (0..img.len()).step_by(7).chain([img.len() - 1, H - 1, H]) {
            let msg = err_msg(&img[..len]);
            assert!(!msg.is_empty());
        }
        assert!(err_msg(&img[..10]).contains("header"));
        assert!(err_msg(&img[..H + 50]).contains("binary_size"));
        assert!(err_msg(&img[..H + 128 + 100]).contains("child 0 header"));
        assert!(err_msg(&img[..H + 384 + 200]).contains("child 1 binary_size"));
    }

    #[test]
    fn corrupted_fields_are_named() {
        let img = sample();
        let check = |f: &dyn Fn(&mut Vec<u8>), needle: &str| {
            let mut bad = img.clone();
            f(&mut bad);
            let msg = err_msg(&bad);
            assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
        };
        check(&|b| wr(b, 516, u32::MAX), "binary_size");
        check(&|b| wr(b, 516, 200), "child_offsets[0]");
        check(&|b| wr(b, 4684, 130), "child_offsets[0] = 130 is not 64-aligned");
        check(&|b| wr(b, 4688, 128), "children 0 and 1 overlap");
        check(&|b| wr(b, 4692, 384), "overlap");
        check(&|b| wr(b, 4, 4), "signature[1] = 4");
        check(&|b| wr(b, 0, u32::MAX), "signature[0] = -1");
        check(&|b| wr(b, H + 128 + 4, 9), "child 0 signature[1] = 9");
        check(&|b| wr(b, 588, 1024), "child_func_ids[0] = 1024");
        check(&|b| wr(b, 592, u32::MAX), "child_func_ids[1] = -1");
        check(&|b| wr(b, 512, 129), "sig_count 129");
        check(&|b| wr(b, 512, u32::MAX), "sig_count -1");
        check(&|b| wr(b, H + 128 + 128, 33), "child 0 sig_count 33");
        check(&|b| wr(b, 8780, 1025), "child_count 1025");
        check(&|b| wr(b, 8780, u32::MAX), "child_count -1");
        check(&|b| b[520..584].fill(b'x'), "func_name has no NUL");
        check(&|b| b[8784..8848].fill(b'x'), "config_name has no NUL");
        check(&|b| wr(b, 584, 64), "func_name_len 64");
        check(&|b| wr(b, 584, 3), "func_name_len 3 does not match");
        check(&|b| b[520] = 0xff, "func_name is not valid UTF-8");
        check(&|b| wr(b, H + 704 + 132, 1), "child 2 binary_size 1");
        check(&|b| wr(b, H + 128 + 132, 1 << 30), "child 0 binary_size");
        // A later child placed before an earlier one is fine if disjoint.
        let mut swapped = img.clone();
        wr(&mut swapped, 4684, 704);
        wr(&mut swapped, 4692, 128);
        // child 2 (empty, 192 B) now at 128, child 0 header read at 704 is
        // child 2's old header (sig_count 0, binary_size 0): still valid.
        let p = parse_chip_callable(&swapped).unwrap();
        assert_eq!(p.children[0].offset, 704);
    }

    #[test]
    fn pointer_parse_matches_slice_parse() {
        let img = sample();
        let mut buf = vec![0u8; img.len() + 1];
        buf[1..].copy_from_slice(&img);
        // SAFETY: buf[1..] holds the complete image its header declares.
        let p = unsafe { parse_chip_callable_ptr(buf.as_ptr().add(1)) }.unwrap();
        assert_eq!(p, parse_chip_callable(&img).unwrap());
        // SAFETY: NULL is reported, never dereferenced.
        let e = unsafe { parse_chip_callable_ptr(std::ptr::null()) }.unwrap_err();
        assert!(matches!(e, Error::NullPointer { what: "callable" }));
    }

    #[test]
    fn pointer_parse_rejects_implausible_headers_before_reading() {
        // Each corrupted header implies more than 1 GiB; the buffer is only
        // the real image, so reading past it would be a bug (caught by the
        // 1 GiB check firing first).
        let img = sample();
        let run = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut bad = img.clone();
            f(&mut bad);
            // SAFETY: the header is readable; the checks under test must
            // reject it before anything beyond `bad` is read.
            unsafe { parse_chip_callable_ptr(bad.as_ptr()) }.unwrap_err().to_string()
        };
        let mut bare = ChipCallableBuilder::new(&[], "f", &[1; 5]).build().unwrap();
        wr(&mut bare, 516, u32::MAX);
        // SAFETY: the header is readable; the 1 GiB check must fire before
        // the (absent) SO bytes are read.
        let m = unsafe { parse_chip_callable_ptr(bare.as_ptr()) }.unwrap_err().to_string();
        assert!(m.contains("binary_size") && m.contains("limit"), "{m}");
        let m = run(&|b| wr(b, H + 704 + 132, 0x4000_0000));
        assert!(m.contains("child 2 binary_size") && m.contains("limit"), "{m}");
        let m = run(&|b| {
            wr(b, 4692, 0x7FFF_FFC0);
        });
        assert!(m.contains("child_offsets[2]") && m.contains("limit"), "{m}");
        // Header-level errors surface before child headers are read.
        let m = run(&|b| wr(b, 4688, 100));
        assert!(m.contains("64-aligned"), "{m}");
        let m = run(&|b| wr(b, 8780, 5000));
        assert!(m.contains("child_count 5000"), "{m}");
    }

    #[test]
    fn builder_rejects_bad_arguments() {
        let long = "n".repeat(64);
        let ok63 = "n".repeat(63);
        assert!(ChipCallableBuilder::new(&[], &ok63, &[]).build().is_ok());
        assert!(ChipCallableBuilder::new(&[], &long, &[]).build().is_err());
        assert!(ChipCallableBuilder::new(&[], "a\0b", &[]).build().is_err());
        assert!(ChipCallableBuilder::new(&[], "f", &[]).config_name(&long).build().is_err());
        assert!(ChipCallableBuilder::new(&[In; 129], "f", &[]).build().is_err());
        assert!(ChipCallableBuilder::new(&[In; 128], "f", &[]).build().is_ok());
        assert!(ChipCallableBuilder::new(&[], "f", &[]).child(1024, &[], &[]).build().is_err());
        assert!(ChipCallableBuilder::new(&[], "f", &[]).child(-1, &[], &[]).build().is_err());
        assert!(ChipCallableBuilder::new(&[], "f", &[]).child(0, &[In; 33], &[]).build().is_err());
        let mut b = ChipCallableBuilder::new(&[], "f", &[]);
        for i in 0..1024 {
            b.child(i, &[], &[]);
        }
        let img = b.build().unwrap();
        assert_eq!(img.len(), H + 1024 * 192);
        assert_eq!(parse_chip_callable(&img).unwrap().children.len(), 1024);
        b.child(0, &[], &[]);
        let e = b.build().unwrap_err();
        assert!(e.to_string().contains("1025 children"), "{e}");
    }
}
