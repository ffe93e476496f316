//! [`ChipCallableBuilder`]: ChipCallable images byte-identical to upstream's
//! `make_callable`.

use super::layout::{ChipCallableHeader, CoreCallableHeader};
use super::{
    CALLABLE_ALIGN, CALLABLE_FUNC_NAME_MAX, CHIP_CALLABLE_HEADER_SIZE, CHIP_MAX_CHILDREN, CHIP_MAX_SIG,
    CORE_CALLABLE_BINARY_OFFSET, CORE_CALLABLE_HEADER_SIZE, CORE_MAX_SIG, RUNTIME_MAX_FUNC_ID,
};
use crate::abi::types::ArgDirection;
use crate::diagnostics::{Error, Result};

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
