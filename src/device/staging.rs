//! Tensor staging by signature, for runtimes that stage centrally
//! (tensormap_and_ringbuffer): IN is copied in and never back; OUT is
//! zero-filled on the device and copied back; INOUT both; child memory is
//! passed through untouched. Copy-back happens only through
//! [`Staged::commit`], which the runtime calls after a successful run, so a
//! failed run never writes a host buffer.

use crate::abi::task_args::ChipStorageTaskArgs;
use crate::abi::ArgDirection;
use crate::device::memory::DeviceMemory;
use crate::diagnostics::{Error, Result};

#[derive(Debug)]
struct StagedTensor {
    host: *mut u8,
    dev: *mut u8,
    size: usize,
    copy_back: bool,
}

/// Entry arguments rewritten to device addresses, plus what to copy back.
#[derive(Debug)]
pub struct Staged {
    /// The arguments the device sees (64-aligned).
    pub args: Box<ChipStorageTaskArgs>,
    tensors: Vec<StagedTensor>,
}

/// Stages every non-child tensor of `args` according to `signature`
/// (tensor `i` ↔ `signature[i]`; beyond the signature a tensor is treated as
/// INOUT, as upstream does). Size = `numel × elem_size` from `buffer.addr`,
/// which must not exceed `buffer.size` (`args` passed
/// [`crate::abi::validate_args`]).
pub fn stage(memory: &DeviceMemory, args: &ChipStorageTaskArgs, signature: &[ArgDirection]) -> Result<Staged> {
    let mut staged = Staged { args: Box::new(*args), tensors: Vec::with_capacity(args.tensors().len()) };
    let count = args.tensors().len();
    for i in 0..count {
        let t = args.tensors()[i];
        if t.child_memory != 0 {
            continue;
        }
        // The run-boundary validator guarantees this; re-checked here so
        // staging can never copy past a caller's buffer.
        if t.nbytes() > t.buffer_size {
            staged.release(memory);
            return Err(Error::InvalidTaskArgs(format!(
                "tensor argument {i}: buffer.size {} is less than numel x elem_size = {} bytes",
                t.buffer_size,
                t.nbytes()
            )));
        }
        let size = t.nbytes() as usize;
        let dir = signature.get(i).copied().unwrap_or(ArgDirection::Inout);
        // IN and INOUT start as a copy of the host buffer (written once, no
        // zero-fill first); OUT and an empty or unbacked tensor are zeroed.
        let copy_in = dir != ArgDirection::Out && size > 0 && t.buffer_addr != 0;
        // SAFETY: with `copy_in` the caller's tensor describes a readable
        // host buffer of numel × elem_size bytes at buffer_addr (C API
        // contract), and `size <= size.max(64)`.
        let allocated = if copy_in {
            unsafe { memory.alloc_copy_of(size.max(64), t.buffer_addr as *const u8, size) }
        } else {
            memory.alloc(size.max(64))
        };
        let dev = match allocated {
            Ok(p) => p,
            Err(e) => {
                staged.release(memory);
                return Err(e);
            }
        };
        staged.tensors.push(StagedTensor {
            host: t.buffer_addr as *mut u8,
            dev,
            size,
            copy_back: dir != ArgDirection::In,
        });
        staged.args.tensors_mut()[i].buffer_addr = dev as u64;
    }
    Ok(staged)
}

impl Staged {
    /// Copies outputs back to the host (after a successful run) and frees the device copies.
    pub fn commit(self, memory: &DeviceMemory) -> Result<()> {
        let mut result = Ok(());
        for t in &self.tensors {
            if t.copy_back && t.size > 0 && !t.host.is_null() && result.is_ok() {
                // SAFETY: `host` is the caller's writable buffer of `size`
                // bytes it passed in (C API contract); the device range is live.
                result = unsafe { memory.copy_from_device(t.host, t.dev, t.size) };
            }
        }
        self.release(memory);
        result
    }

    /// Frees the device copies without copying anything back (failed run).
    pub fn release(self, memory: &DeviceMemory) {
        for t in &self.tensors {
            let _ = memory.free(t.dev);
        }
    }

    /// Number of staged (non-child) tensors.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.tensors.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{DataType, Tensor};

    #[test]
    fn stages_by_direction_and_commits_only_on_request() {
        let mem = DeviceMemory::new();
        let mut a = vec![1.0f32; 16];
        let mut out = vec![7.0f32; 16];
        let mut io = vec![3.0f32; 16];
        let mut child = Tensor::external(0xdead_0000, &[16], DataType::Float32);
        child.child_memory = 1;
        let mut args = ChipStorageTaskArgs::new();
        for v in [&mut a, &mut out, &mut io] {
            args.push_tensor(Tensor::external(v.as_mut_ptr() as u64, &[16], DataType::Float32)).unwrap();
        }
        args.push_tensor(child).unwrap();
        let sig = [ArgDirection::In, ArgDirection::Out, ArgDirection::Inout];
        let staged = stage(&mem, &args, &sig).unwrap();
        assert_eq!(staged.len(), 3);
        assert_eq!(staged.args.tensors()[3].buffer_addr, 0xdead_0000, "child memory passes through");
        let dev = |i: usize| staged.args.tensors()[i].buffer_addr as *mut f32;
        // SAFETY: the staged device buffers hold 16 floats each.
        unsafe {
            assert_eq!(*dev(0), 1.0);
            assert_eq!(*dev(1), 0.0, "OUT is zero-filled, not copied in");
            assert_eq!(*dev(2), 3.0);
            *dev(0) = 9.0;
            *dev(1) = 5.0;
            *dev(2) = 6.0;
        }
        staged.commit(&mem).unwrap();
        assert_eq!(a[0], 1.0, "IN is never copied back");
        assert_eq!(out[0], 5.0);
        assert_eq!(io[0], 6.0);
        assert_eq!(mem.live_allocations(), 0);

        let staged = stage(&mem, &args, &sig).unwrap();
        // SAFETY: as above.
        unsafe { *(staged.args.tensors()[1].buffer_addr as *mut f32) = 42.0 };
        staged.release(&mem);
        assert_eq!(out[0], 5.0, "a failed run leaves host buffers untouched");
        assert_eq!(mem.live_allocations(), 0);

        // A tensor smaller than the 64-byte minimum block: IN copied, the rest zero.
        let mut small = [2.5f32; 3];
        let mut one = ChipStorageTaskArgs::new();
        one.push_tensor(Tensor::external(small.as_mut_ptr() as u64, &[3], DataType::Float32)).unwrap();
        let staged = stage(&mem, &one, &[ArgDirection::In]).unwrap();
        let dev = staged.args.tensors()[0].buffer_addr as *const f32;
        // SAFETY: the staged block holds 64 bytes (16 floats).
        let block: Vec<f32> = (0..16).map(|i| unsafe { *dev.add(i) }).collect();
        assert_eq!(&block[..3], &[2.5; 3]);
        assert!(block[3..].iter().all(|&v| v == 0.0), "{block:?}");
        staged.release(&mem);

        // A buffer smaller than its shape is refused, nothing stays allocated.
        args.tensors_mut()[2].buffer_size -= 1;
        let e = stage(&mem, &args, &sig).unwrap_err();
        assert!(e.to_string().contains("tensor argument 2"), "{e}");
        assert_eq!(mem.live_allocations(), 0);
    }
}
