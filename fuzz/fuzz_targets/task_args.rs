//! Fuzz target `task_args`: the run-boundary validator
//! (`simpler::abi::validate_args`).
//!
//! Input layout (short inputs are zero-extended): byte 0 = signature length
//! (mod 17), then that many direction bytes (mod 4: scalar/in/out/inout),
//! then `tensor_count` and `scalar_count` (little-endian i32 each), then the
//! raw bytes of up to four `Tensor`s (128 bytes each) for slots 0..3; every
//! other slot stays zero. Checks: a refusal is `PTO_ERR_INVALID_TASK_ARGS` with
//! a message; the verdict is deterministic; an accepted argument set has counts
//! in range, never a NULL buffer with a non-zero size, and every accepted
//! tensor's view lies inside its buffer as far as the header fields say
//! (`buffer_addr + buffer_size` does not wrap).
#![cfg_attr(fuzzing, no_main)]

use simpler::abi::task_args::{CHIP_MAX_SCALAR_ARGS, CHIP_MAX_TENSOR_ARGS};
use simpler::abi::validate_args;
use simpler::abi::{ArgDirection, ChipStorageTaskArgs, Tensor};
use simpler::ErrorCode;

const TENSOR_BYTES: usize = std::mem::size_of::<Tensor>();

fn byte(data: &[u8], at: usize) -> u8 {
    data.get(at).copied().unwrap_or(0)
}

fn le_i32(data: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([byte(data, at), byte(data, at + 1), byte(data, at + 2), byte(data, at + 3)])
}

/// Runs one input; panics on any broken property.
pub fn run(data: &[u8]) {
    accepts(data);
}

/// Runs one input (panics on any broken property); whether it was accepted.
pub fn accepts(data: &[u8]) -> bool {
    let n = usize::from(byte(data, 0)) % 17;
    let signature: Vec<ArgDirection> = (0..n)
        .map(|i| match byte(data, 1 + i) % 4 {
            0 => ArgDirection::Scalar,
            1 => ArgDirection::In,
            2 => ArgDirection::Out,
            _ => ArgDirection::Inout,
        })
        .collect();
    let mut at = 1 + n;
    let mut args: ChipStorageTaskArgs = bytemuck::Zeroable::zeroed();
    args.tensor_count = le_i32(data, at);
    args.scalar_count = le_i32(data, at + 4);
    at += 8;
    for slot in 0..4 {
        let t = bytemuck::bytes_of_mut(&mut args.tensors[slot]);
        for (i, b) in t.iter_mut().enumerate().take(TENSOR_BYTES) {
            *b = byte(data, at + slot * TENSOR_BYTES + i);
        }
    }
    let verdict = validate_args(&args, &signature);
    let again = validate_args(&args, &signature);
    assert_eq!(verdict.is_ok(), again.is_ok(), "validate_args is not deterministic");
    match verdict {
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::PtoErrInvalidTaskArgs, "unexpected error kind: {e}");
            assert!(!e.to_string().is_empty());
            false
        }
        Ok(()) => {
            let (tc, sc) = (args.tensor_count, args.scalar_count);
            assert!((0..=CHIP_MAX_TENSOR_ARGS as i32).contains(&tc), "accepted tensor_count {tc}");
            assert!((0..=CHIP_MAX_SCALAR_ARGS as i32).contains(&sc), "accepted scalar_count {sc}");
            for (i, t) in args.tensors[..tc as usize].iter().enumerate() {
                assert!(t.buffer_addr != 0 || t.buffer_size == 0, "tensor {i}: NULL buffer of size {}", t.buffer_size);
                assert!(t.buffer_addr.checked_add(t.buffer_size).is_some(), "tensor {i}: buffer wraps");
            }
            true
        }
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
