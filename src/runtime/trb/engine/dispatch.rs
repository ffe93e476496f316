//! Dispatch buffers: the ABI payload a kernel receives, with its completion slab.

use crate::runtime::trb::layout::TaskPayload;
use crate::runtime::trb::shared::SimCore;

// The dispatch payload and its contexts are the ABI types a kernel's `args`
// points into, defined once in the orchestration layout module.
use crate::runtime::trb::orchestration::layout::{
    AsyncCtx, GlobalContext, LocalContext, PTO2DispatchPayload as DispatchPayload,
};

/// `DeferredCompletionSlab` (1600 B).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompletionSlab {
    /// Registered conditions.
    pub(crate) count: u32,
    /// Error code.
    pub(crate) error_code: i32,
    /// 64 × 24-byte entries.
    pub(crate) entries: [u8; 64 * 24],
    /// Padding to 1600 B.
    pub(crate) _pad: [u8; 56],
}
const _: () = assert!(std::mem::size_of::<CompletionSlab>() == 1600);

/// Boxed dispatch buffer (kept boxed so its address is stable).
pub(super) type DispatchBox = Box<DispatchBuffer>;

/// A dispatch payload with its completion slab.
#[repr(C, align(64))]
pub(super) struct DispatchBuffer {
    pub(super) payload: DispatchPayload,
    pub(super) slab: CompletionSlab,
}

impl DispatchBuffer {
    pub(super) fn new() -> Box<DispatchBuffer> {
        let mut b = Box::new(DispatchBuffer {
            payload: DispatchPayload {
                function_bin_addr: 0,
                args: [0; 50],
                local_context: LocalContext {
                    block_idx: 0,
                    block_num: 1,
                    async_ctx: AsyncCtx {
                        completion_count: std::ptr::null_mut(),
                        completion_error_code: std::ptr::null_mut(),
                        completion_entries: std::ptr::null_mut(),
                        completion_capacity: 64,
                        pad: 0,
                        task_token: 0,
                    },
                },
                global_context: GlobalContext { sub_block_id: 0 },
                not_ready: 0,
                reserved: 0,
            },
            slab: CompletionSlab { count: 0, error_code: 0, entries: [0; 64 * 24], _pad: [0; 56] },
        });
        // The pointers into the buffer itself never change (it is boxed):
        // set once here, not at every `prepare`.
        let lc = &mut b.payload.local_context;
        lc.async_ctx.completion_count = &mut b.slab.count;
        lc.async_ctx.completion_error_code = &mut b.slab.error_code;
        lc.async_ctx.completion_entries = b.slab.entries.as_mut_ptr().cast();
        b.payload.args[48] = &b.payload.local_context as *const _ as u64;
        b.payload.args[49] = &b.payload.global_context as *const _ as u64;
        b
    }

    /// Fills the payload for one subtask of the task with payload `p`.
    pub(super) fn prepare(&mut self, p: *const TaskPayload, raw: u64, block: i32, blocks: i32, core: SimCore) {
        // SAFETY: `p` is the payload of a published, not yet completed task;
        // it is immutable while the task runs.
        let pl = unsafe { &*p };
        let t = (pl.tensor_count.max(0) as usize).min(32);
        let s = (pl.scalar_count.max(0) as usize).min(16);
        for i in 0..t {
            self.payload.args[i] = &pl.tensors[i] as *const _ as u64;
        }
        // Most tasks carry no scalars: no memcpy call for an empty copy.
        if s != 0 {
            self.payload.args[t..t + s].copy_from_slice(&pl.scalars[..s]);
        }
        self.slab.count = 0;
        self.slab.error_code = 0;
        let lc = &mut self.payload.local_context;
        lc.block_idx = block;
        lc.block_num = blocks;
        lc.async_ctx.task_token = raw;
        self.payload.global_context.sub_block_id = if core.is_aic { 0 } else { core.lane as i32 };
    }

    pub(super) fn args(&mut self) -> *mut u64 {
        self.payload.args.as_mut_ptr()
    }
}
