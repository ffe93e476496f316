//! Test support shared by the orchestration tests and the runtime variants
//! built on them: building example SOs (re-exported from the loader's test
//! support), a recording mock `OrchestratorApi`, and an aligned
//! `ChipStorageTaskArgs` image.

use std::cell::RefCell;

use crate::abi::tensor::Tensor;
use crate::runtime::trb::api::{
    MixedKernelIds, OrchestratorApi, ScopeMode, SubmitOutcome, TaskArgsView, TensorArg, TensorCreate,
};

pub(crate) use crate::loader::testutil::{build_so, repo_path};

/// One recorded tensor argument: kind, the caller's pointer, and a copy.
#[derive(Debug, Clone)]
pub(crate) enum RecTensor {
    Input(usize, Tensor),
    Output(TensorCreate),
    Inout(usize),
    OutputExisting(usize, Tensor),
    NoDep(usize),
}

impl RecTensor {
    /// Tag number as in upstream's `TensorArgType`.
    pub(crate) fn tag(&self) -> i32 {
        match self {
            RecTensor::Input(..) => 0,
            RecTensor::Output(_) => 1,
            RecTensor::Inout(..) => 2,
            RecTensor::OutputExisting(..) => 3,
            RecTensor::NoDep(..) => 4,
        }
    }
    /// Address of the caller's tensor (None for OUTPUT).
    pub(crate) fn ptr(&self) -> Option<usize> {
        match self {
            RecTensor::Output(_) => None,
            RecTensor::Input(p, _) | RecTensor::Inout(p) | RecTensor::OutputExisting(p, _) | RecTensor::NoDep(p) => {
                Some(*p)
            }
        }
    }
}

/// A recorded submit-like call.
#[derive(Debug, Clone)]
pub(crate) struct RecArgs {
    pub tensors: Vec<RecTensor>,
    pub scalars: Vec<u64>,
    pub block_num: i16,
    pub require_sync_start: bool,
    pub deps: Vec<u64>,
    /// Task id returned.
    pub id: u64,
    /// Output pointers returned.
    pub outputs: Vec<usize>,
}

/// A recorded ops call.
#[derive(Debug, Clone)]
pub(crate) enum Call {
    Submit(MixedKernelIds, RecArgs),
    Dummy(RecArgs),
    Alloc(RecArgs),
    ScopeBegin(ScopeMode),
    ScopeEnd,
    Done,
    IsFatal,
    ReportFatal(i32, String),
    Get(Vec<u32>),
    Set(Vec<u32>, u64),
    Site(String, i32),
}

/// A recording orchestrator: outputs are materialized as boxed tensors
/// with fake addresses; ids follow `(min(depth, 3) << 32) | local`.
pub(crate) struct MockApi {
    pub calls: RefCell<Vec<Call>>,
    pub fatal: Option<i32>,
    pub depth: usize,
    pub next_local: [u32; 4],
    // Boxed on purpose: returned pointers must stay stable while the Vec grows.
    #[allow(clippy::vec_box)]
    pub outputs: Vec<Box<Tensor>>,
    /// Panic inside the n-th submit (1-based), if set.
    pub panic_on_submit: Option<usize>,
    submits: usize,
}

impl MockApi {
    pub(crate) fn new() -> MockApi {
        MockApi {
            calls: RefCell::new(Vec::new()),
            fatal: None,
            depth: 0,
            next_local: [0; 4],
            outputs: Vec::new(),
            panic_on_submit: None,
            submits: 0,
        }
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    fn record(&mut self, args: &TaskArgsView<'_>) -> RecArgs {
        let tensors = args
            .tensors
            .iter()
            .map(|t| match *t {
                TensorArg::Input(x) => RecTensor::Input(x as *const Tensor as usize, *x),
                TensorArg::Output(c) => RecTensor::Output(*c),
                TensorArg::Inout(x) => RecTensor::Inout(x as *const Tensor as usize),
                TensorArg::OutputExisting(x) => RecTensor::OutputExisting(x as *const Tensor as usize, *x),
                TensorArg::NoDep(x) => RecTensor::NoDep(x as *const Tensor as usize),
            })
            .collect();
        RecArgs {
            tensors,
            scalars: args.scalars.to_vec(),
            block_num: args.block_num,
            require_sync_start: args.require_sync_start,
            deps: args.explicit_deps.to_vec(),
            id: u64::MAX,
            outputs: Vec::new(),
        }
    }

    fn materialize(&mut self, rec: &mut RecArgs) -> SubmitOutcome {
        let ring = self.depth.min(3);
        let id = ((ring as u64) << 32) | self.next_local[ring] as u64;
        self.next_local[ring] += 1;
        let mut outputs = Vec::new();
        for t in &rec.tensors {
            if let RecTensor::Output(c) = t {
                let mut tensor = Tensor {
                    buffer_addr: 0x1000_0000 + 0x10_0000 * self.outputs.len() as u64,
                    owner_task_id: id,
                    ndims: c.ndims,
                    dtype: c.dtype,
                    manual_dep: c.manual_dep as u8,
                    ..Tensor::default()
                };
                tensor.shapes = c.shapes;
                tensor.set_row_major_strides();
                tensor.buffer_size = tensor.nbytes().div_ceil(1024) * 1024;
                let b = Box::new(tensor);
                outputs.push(&*b as *const Tensor);
                self.outputs.push(b);
            }
        }
        rec.id = id;
        rec.outputs = outputs.iter().map(|p| *p as usize).collect();
        SubmitOutcome { task_id: id, outputs }
    }
}

impl OrchestratorApi for MockApi {
    fn submit_task(&mut self, kernels: MixedKernelIds, args: &TaskArgsView<'_>) -> SubmitOutcome {
        self.submits += 1;
        if self.panic_on_submit == Some(self.submits) {
            panic!("mock orchestrator panics on submit {}", self.submits);
        }
        if self.fatal.is_some() {
            return SubmitOutcome::empty();
        }
        let mut rec = self.record(args);
        let out = self.materialize(&mut rec);
        self.calls.borrow_mut().push(Call::Submit(kernels, rec));
        out
    }
    fn submit_dummy_task(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        let mut rec = self.record(args);
        let out = self.materialize(&mut rec);
        self.calls.borrow_mut().push(Call::Dummy(rec));
        out
    }
    fn alloc_tensors(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        let mut rec = self.record(args);
        let out = self.materialize(&mut rec);
        self.calls.borrow_mut().push(Call::Alloc(rec));
        out
    }
    fn scope_begin(&mut self, mode: ScopeMode) {
        self.depth += 1;
        self.calls.borrow_mut().push(Call::ScopeBegin(mode));
    }
    fn scope_end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.calls.borrow_mut().push(Call::ScopeEnd);
    }
    fn orchestration_done(&mut self) {
        self.calls.borrow_mut().push(Call::Done);
    }
    fn is_fatal(&self) -> bool {
        self.calls.borrow_mut().push(Call::IsFatal);
        self.fatal.is_some()
    }
    fn report_fatal(&mut self, code: i32, message: &str) {
        if self.fatal.is_none() {
            self.fatal = Some(code);
        }
        self.calls.borrow_mut().push(Call::ReportFatal(code, message.to_string()));
    }
    fn get_tensor_data(&mut self, tensor: &Tensor, indices: &[u32]) -> u64 {
        let _ = tensor;
        self.calls.borrow_mut().push(Call::Get(indices.to_vec()));
        // A recognisable function of the indices.
        0xABCD_0000 + indices.iter().fold(0u64, |acc, &i| acc * 16 + i as u64)
    }
    fn set_tensor_data(&mut self, tensor: &Tensor, indices: &[u32], value: u64) {
        let _ = tensor;
        self.calls.borrow_mut().push(Call::Set(indices.to_vec(), value));
    }
    fn scope_set_site(&mut self, file: &str, line: i32) {
        self.calls.borrow_mut().push(Call::Site(file.to_string(), line));
    }
}

/// A 64-aligned `ChipStorageTaskArgs` image (17472 B).
#[repr(C, align(64))]
pub(crate) struct ChipArgsImage {
    pub tensors: [Tensor; 128],
    pub scalars: [u64; 128],
    pub tensor_count: i32,
    pub scalar_count: i32,
    pub pad: [u8; 56],
}

const _: () = {
    assert!(std::mem::size_of::<ChipArgsImage>() == 17472);
    assert!(std::mem::offset_of!(ChipArgsImage, tensor_count) == 17408);
};

impl ChipArgsImage {
    pub(crate) fn new(tensors: &[Tensor], scalars: &[u64]) -> Box<ChipArgsImage> {
        let mut img = Box::new(ChipArgsImage {
            tensors: [Tensor::default(); 128],
            scalars: [0; 128],
            tensor_count: tensors.len() as i32,
            scalar_count: scalars.len() as i32,
            pad: [0; 56],
        });
        img.tensors[..tensors.len()].copy_from_slice(tensors);
        img.scalars[..scalars.len()].copy_from_slice(scalars);
        img
    }
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self as *const ChipArgsImage as *const u8
    }
}
