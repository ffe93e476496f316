//! Tests of the allocation-free submit path: the payload written in place,
//! the result written into the caller's `TaskOutputTensors`, the fatal
//! probe of the `is_fatal` entry and the fast view check.

use super::tensors::{view_fits, view_violation};
use super::Orchestrator;
use crate::abi::tensor::{Tensor, INVALID_TASK_ID, MAX_TENSOR_DIMS};
use crate::abi::DataType;
use crate::config::RingSizing;
use crate::runtime::trb::api::*;
use crate::runtime::trb::engine::{build_run, RunParams};
use crate::runtime::trb::layout::{align_up, task_id, TaskPayload, TrbMemory, MAX_TENSOR_ARGS, PACKED_OUTPUT_ALIGN};
use crate::runtime::trb::orchestration::layout::{tag, Arg, MixedKernels, TaskOutputTensors, TensorCreateInfo};
use crate::runtime::trb::orchestration::ops::{ops_table, RuntimeObject};
use crate::runtime::trb::shared::RunShared;
use std::sync::atomic::Ordering::Relaxed;

struct Harness {
    _mem: crate::runtime::trb::arena::OwnedTrbMemory,
    sh: RunShared,
    tables: Option<super::OrchTables>,
}

fn harness() -> Harness {
    let p = RunParams {
        block_dim: 3,
        sched_threads: 2,
        sizing: RingSizing::from_values([64; 4], [1 << 16; 4], [64; 4]).unwrap(),
        ..RunParams::default()
    };
    let mem = TrbMemory::owned(&p.sizing);
    let (sh, tables) = build_run(&mem, &p);
    Harness { _mem: mem, sh, tables: Some(tables) }
}

fn create(n: u32, init: Option<u64>) -> TensorCreate {
    TensorCreate {
        shapes: [n, 3, 0, 0, 0],
        ndims: 2,
        dtype: DataType::Float32 as u8,
        manual_dep: false,
        initial_value: init,
    }
}

fn payload(sh: &RunShared, raw: u64) -> &TaskPayload {
    // SAFETY: the task was submitted in this harness (no scheduler runs), so
    // its payload is complete and nobody writes it.
    unsafe { &*sh.rings[task_id::ring(raw)].payload_of(task_id::local(raw)) }
}

fn fanin_ids(sh: &RunShared, raw: u64) -> Vec<u64> {
    let mut v = Vec::new();
    // SAFETY: as in `payload`.
    unsafe {
        sh.for_each_fanin(payload(sh, raw), |s| v.push((*s.task.load(Relaxed)).task_id.load(Relaxed)));
    }
    v.sort();
    v
}

/// What the payload copy of an input tensor must be (the rule of the
/// whole-array path this replaces: contiguous views at offset 0 get
/// row-major strides).
fn reference_copy(t: &Tensor) -> Tensor {
    let mut c = *t;
    if c.is_contiguous != 0 && c.start_offset == 0 {
        c.set_row_major_strides();
    }
    c
}

fn same_tensor(a: &Tensor, b: &Tensor) -> bool {
    a.buffer_addr == b.buffer_addr
        && a.buffer_size == b.buffer_size
        && a.owner_task_id == b.owner_task_id
        && a.start_offset == b.start_offset
        && a.ndims == b.ndims
        && a.dtype == b.dtype
        && a.manual_dep == b.manual_dep
        && a.is_contiguous == b.is_contiguous
        && a.shapes == b.shapes
        && a.strides == b.strides
}

/// Checks every field the in-place write produces against the reference
/// rules: tensor copies, materialized outputs at their packed offsets (in
/// argument order), scalars, counts and fanins.
fn check_payload(sh: &RunShared, raw: u64, args: &TaskArgsView<'_>, outs: &[*const Tensor], want_fanins: &[u64]) {
    let pl = payload(sh, raw);
    assert_eq!(pl.tensor_count as usize, args.tensors.len());
    assert_eq!(pl.scalar_count as usize, args.scalars.len());
    assert_eq!(&pl.scalars[..args.scalars.len()], args.scalars);
    let base = sh.rings[task_id::ring(raw)].descriptor(task_id::local(raw)).packed_buffer_base.load(Relaxed);
    let mut off = 0u64;
    let mut oi = 0;
    for (i, a) in args.tensors.iter().enumerate() {
        match a {
            TensorArg::Output(c) => {
                let bytes = c.shapes[..c.ndims as usize].iter().map(|&s| s as u64).product::<u64>() * 4;
                let t = &pl.tensors[i];
                assert_eq!(t.buffer_addr, base + off, "output {i} at its packed offset");
                assert_eq!(t.buffer_size, align_up(bytes, PACKED_OUTPUT_ALIGN));
                assert_eq!(t.owner_task_id, raw);
                assert_eq!((t.ndims, t.dtype, &t.shapes), (c.ndims, c.dtype, &c.shapes));
                let mut strided = *t;
                strided.set_row_major_strides();
                assert_eq!(t.strides, strided.strides);
                assert_eq!(outs[oi], t as *const Tensor, "output pointer {oi} names the payload copy");
                if let Some(v) = c.initial_value {
                    // SAFETY: the output block lies in the ring heap of this harness.
                    let first = unsafe { *(t.buffer_addr as *const u32) };
                    assert_eq!(first, v as u32);
                }
                off += align_up(bytes, PACKED_OUTPUT_ALIGN);
                oi += 1;
            }
            TensorArg::Input(t) | TensorArg::Inout(t) | TensorArg::OutputExisting(t) | TensorArg::NoDep(t) => {
                assert!(same_tensor(&pl.tensors[i], &reference_copy(t)), "tensor {i} copied by the rule");
            }
        }
    }
    assert_eq!(outs.len(), oi);
    assert_eq!(fanin_ids(sh, raw), want_fanins);
}

#[test]
fn in_place_payload_matches_the_reference_for_every_argument_kind() {
    let mut h = harness();
    let mut o = Orchestrator::new(&h.sh, h.tables.take().unwrap(), 3, 6);
    o.scope_begin(ScopeMode::Auto);
    let buf = vec![0f32; 4096];
    let mut whole = Tensor::external(buf.as_ptr() as u64, &[64, 16], DataType::Float32);
    whole.buffer_size = (buf.len() * 4) as u64;
    whole.strides = [99, 99, 0, 0, 0]; // recomputed: contiguous at offset 0
    let mut strided = whole;
    strided.is_contiguous = 0;
    strided.start_offset = 16;
    strided.shapes = [8, 4, 0, 0, 0];
    strided.strides = [32, 2, 0, 0, 0]; // kept: a strided view
    let other = Tensor::external(buf.as_ptr() as u64 + 8192, &[128], DataType::Float32);

    // Producer of `whole` (INOUT) and of two outputs, one filled.
    let (c0, c1) = (create(5, Some(0x3f80_0000)), create(7, None));
    let a_tensors = [TensorArg::Inout(&whole), TensorArg::Output(&c0), TensorArg::Output(&c1)];
    let a_args = TaskArgsView {
        tensors: &a_tensors,
        scalars: &[11],
        block_num: 1,
        require_sync_start: false,
        explicit_deps: &[],
    };
    let mut outs: OutputSlots = [std::ptr::null(); MAX_TENSOR_ARGS];
    let (a, n) = o.submit_into(SubmitKind::Task(MixedKernelIds { aic: -1, aiv0: 0, aiv1: -1 }), &a_args, &mut outs);
    assert_ne!(a, INVALID_TASK);
    check_payload(&h.sh, a, &a_args, &outs[..n as usize], &[]);

    // An unrelated task to depend on explicitly.
    let e = o.submit_task(MixedKernelIds { aic: 0, aiv0: -1, aiv1: -1 }, &TaskArgsView { tensors: &[], ..a_args });
    assert_ne!(e.task_id, INVALID_TASK);

    // Every kind at once, through the allocating wrapper (which shares the
    // in-place body): INPUT of `whole` (depends on a), strided INOUT,
    // OUTPUT_EXISTING, NO_DEP, two OUTPUTs, three scalars, an explicit dep.
    let c2 = create(3, Some(7));
    let deps = [e.task_id];
    let b_tensors = [
        TensorArg::Input(&whole),
        TensorArg::Inout(&strided),
        TensorArg::Output(&c2),
        TensorArg::OutputExisting(&other),
        TensorArg::NoDep(&other),
        TensorArg::Output(&c1),
    ];
    let b_args = TaskArgsView {
        tensors: &b_tensors,
        scalars: &[1, 2, u64::MAX],
        block_num: 2,
        require_sync_start: false,
        explicit_deps: &deps,
    };
    let b = o.submit_task(MixedKernelIds { aic: -1, aiv0: 0, aiv1: -1 }, &b_args);
    assert_ne!(b.task_id, INVALID_TASK);
    let mut want = vec![a, e.task_id];
    want.sort();
    check_payload(&h.sh, b.task_id, &b_args, &b.outputs, &want);

    // Dummy and alloc tasks through the in-place form.
    let mut outs: OutputSlots = [std::ptr::null(); MAX_TENSOR_ARGS];
    let d_tensors = [TensorArg::Input(&whole)];
    let d_args = TaskArgsView { tensors: &d_tensors, scalars: &[], ..b_args };
    let (d, n) = o.submit_into(SubmitKind::Dummy, &d_args, &mut outs);
    assert_eq!(n, 0);
    // `..b_args` keeps b's explicit dependency on e; `whole` was written
    // by a and overlaps b's strided INOUT view.
    let mut want = vec![a, e.task_id, b.task_id];
    want.sort();
    check_payload(&h.sh, d, &d_args, &[], &want);
    let al_tensors = [TensorArg::Output(&c0), TensorArg::Output(&c2)];
    let al_args = TaskArgsView {
        tensors: &al_tensors,
        scalars: &[],
        block_num: 1,
        require_sync_start: false,
        explicit_deps: &[],
    };
    let (al, n) = o.submit_into(SubmitKind::Alloc, &al_args, &mut outs);
    assert_eq!(n, 2);
    check_payload(&h.sh, al, &al_args, &outs[..2], &[]);

    // A refused submit reports (INVALID_TASK, 0) in both forms.
    let bad = TaskArgsView { block_num: 0, ..a_args };
    assert_eq!(
        o.submit_into(SubmitKind::Task(MixedKernelIds { aic: -1, aiv0: 0, aiv1: -1 }), &bad, &mut outs),
        (INVALID_TASK, 0)
    );
    let empty = o.submit_task(MixedKernelIds { aic: -1, aiv0: 0, aiv1: -1 }, &a_args);
    assert_eq!((empty.task_id, empty.outputs.len()), (INVALID_TASK, 0));
}

fn arg_with(tensors: &[(i32, *const std::ffi::c_void)], scalars: &[u64]) -> Arg {
    let mut arg = Arg::empty();
    for (i, &(t, p)) in tensors.iter().enumerate() {
        arg.tags[i] = t;
        arg.refs[i] = p;
    }
    arg.tensor_count = tensors.len() as i32;
    arg.scalars[..scalars.len()].copy_from_slice(scalars);
    arg.scalar_count = scalars.len() as i32;
    arg
}

fn is_empty_result(r: &TaskOutputTensors) -> bool {
    r.task_id == u64::MAX && r.output_count == 0 && r.pad == 0 && r.tensors.iter().all(|p| p.is_null())
}

/// A 1-D fp32 OUTPUT create info of 16 elements, filled with `initial` if given.
fn f32_create_info(initial: Option<u64>) -> TensorCreateInfo {
    TensorCreateInfo {
        initial_value: initial.unwrap_or(0),
        has_initial_value: u8::from(initial.is_some()),
        pad1: [0; 7],
        pad2: 0,
        start_offset: 0,
        version: 0,
        ndims: 1,
        dtype: DataType::Float32 as u8,
        manual_dep: 0,
        is_contiguous: 1,
        pad_flags: 0,
        shapes: [16, 0, 0, 0, 0],
    }
}
#[test]
fn ops_entries_write_a_fully_defined_result_and_is_fatal_reads_the_probe() {
    let mut h = harness();
    let mut o = Orchestrator::new(&h.sh, h.tables.take().unwrap(), 3, 6);
    o.scope_begin(ScopeMode::Auto);
    assert!(o.fatal_probe().is_some());
    let ops = *ops_table();
    let ci = f32_create_info(None);
    let buf = vec![0f32; 64];
    let mut t = Tensor::external(buf.as_ptr() as u64, &[64], DataType::Float32);
    t.buffer_size = 256;
    let mk = MixedKernels { aic_kernel_id: -1, aiv0_kernel_id: 0, aiv1_kernel_id: -1 };
    let ci_p = &ci as *const TensorCreateInfo as *const std::ffi::c_void;
    let t_p = &t as *const Tensor as *const std::ffi::c_void;
    let mut ids = Vec::new();
    {
        let mut rt = RuntimeObject::new(&mut o);
        let ptr = rt.as_runtime_ptr();
        // SAFETY (every call below): live runtime object and stack arguments.
        unsafe {
            assert!(!(ops.is_fatal.unwrap())(ptr));
            let arg = arg_with(&[(tag::INPUT, t_p), (tag::OUTPUT, ci_p), (tag::OUTPUT, ci_p)], &[5]);
            let r = (ops.submit_task.unwrap())(ptr, &mk, &arg);
            assert_ne!(r.task_id, u64::MAX);
            assert_eq!((r.output_count, r.pad), (2, 0));
            assert!(r.tensors[..2].iter().all(|p| !p.is_null()));
            assert!(r.tensors[2..].iter().all(|p| p.is_null()), "entries past the count are NULL");
            assert_eq!((*r.tensors[0]).owner_task_id, r.task_id);
            ids.push(r.task_id);

            let arg = arg_with(&[(tag::OUTPUT, ci_p)], &[]);
            let r = (ops.alloc_tensors.unwrap())(ptr, &arg);
            assert_eq!(r.output_count, 1);
            assert!(r.tensors[1..].iter().all(|p| p.is_null()));
            ids.push(r.task_id);

            let arg = arg_with(&[(tag::INPUT, t_p)], &[]);
            let r = (ops.submit_dummy_task.unwrap())(ptr, &arg);
            assert_eq!((r.output_count, r.pad), (0, 0));
            assert!(r.tensors.iter().all(|p| p.is_null()));
            ids.push(r.task_id);

            // A malformed Arg: the empty result, fatal 5, and is_fatal (fast
            // path) agrees with the orchestrator from then on.
            let arg = arg_with(&[(7, t_p)], &[]);
            let r = (ops.submit_task.unwrap())(ptr, &mk, &arg);
            assert!(is_empty_result(&r));
            assert!((ops.is_fatal.unwrap())(ptr));
            let arg = arg_with(&[(tag::OUTPUT, ci_p)], &[]);
            let r = (ops.submit_task.unwrap())(ptr, &mk, &arg);
            assert!(is_empty_result(&r), "after a fatal: empty, no output pointer left behind");
        }
    }
    assert!(o.is_fatal());
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|&id| id != INVALID_TASK));
    assert_eq!(h.sh.orch_error.load(Relaxed), 5);
}

#[test]
fn is_fatal_fast_path_follows_a_later_fatal() {
    let mut h = harness();
    let mut o = Orchestrator::new(&h.sh, h.tables.take().unwrap(), 3, 6);
    let ops = *ops_table();
    {
        let mut rt = RuntimeObject::new(&mut o);
        let ptr = rt.as_runtime_ptr();
        // SAFETY: live runtime object.
        unsafe { assert!(!(ops.is_fatal.unwrap())(ptr)) };
        h.sh.latch_sched(8, "a scheduler failed");
        // SAFETY: as above.
        unsafe { assert!((ops.is_fatal.unwrap())(ptr)) };
    }
    assert!(o.is_fatal());
}

#[test]
fn the_one_load_fatal_summary_matches_failed_for_every_latch_source() {
    use crate::runtime::trb::shared::FatalSource;
    let cases: [(FatalSource, i32); 5] = [
        (FatalSource::Orchestrator, 5),
        (FatalSource::Orchestrator, 0),
        (FatalSource::Scheduler, 8),
        (FatalSource::Scheduler, 0),
        (FatalSource::UserCode, 0),
    ];
    for (source, code) in cases {
        let h = harness();
        assert!(!h.sh.failed() && !h.sh.any_fatal());
        assert!(h.sh.latch_fatal(source, code, "first"));
        assert!(h.sh.failed() && h.sh.any_fatal(), "{source:?} code {code}");
        // A second latch changes neither answer.
        assert!(!h.sh.latch_fatal(FatalSource::Orchestrator, 3, "second"));
        assert!(h.sh.failed() && h.sh.any_fatal());
    }
}

/// Tensors covering every branch of the view rule, overflow included.
fn views() -> Vec<Tensor> {
    let mut v = Vec::new();
    let shapes = [0u32, 1, 3, 1000, u32::MAX];
    let strides = [1u32, 7, u32::MAX];
    for ndims in [0u32, 1, 2, 5, 6] {
        for dtype in [0u8, DataType::Float32 as u8, DataType::Int8 as u8, 200] {
            for &s in &shapes {
                for &st in &strides {
                    for start in [0u64, 5, u64::MAX - 2] {
                        for size in [0u64, 12, 4000, 1 << 40, u64::MAX] {
                            for contiguous in [0u8, 1] {
                                let mut t = Tensor { ndims, dtype, is_contiguous: contiguous, ..Tensor::default() };
                                for d in 0..MAX_TENSOR_DIMS {
                                    t.shapes[d] = if d == 1 { 2 } else { s };
                                    t.strides[d] = st;
                                }
                                t.start_offset = start;
                                t.buffer_size = size;
                                t.owner_task_id = INVALID_TASK_ID;
                                v.push(t);
                            }
                        }
                    }
                }
            }
        }
    }
    v
}

#[test]
fn view_fast_check_accepts_only_what_the_full_check_accepts() {
    let mut accepted = 0;
    for t in views() {
        let full = view_violation(&t);
        if view_fits(&t) {
            assert!(full.is_none(), "fast check accepted {t:?}, full check says {full:?}");
            accepted += 1;
        } else if full.is_none() {
            // Only views whose u64 arithmetic overflows may take the slow
            // path while being valid.
            assert!(
                t.start_offset > u32::MAX as u64 || t.shapes.contains(&u32::MAX) || t.strides.contains(&u32::MAX),
                "a small valid view missed the fast path: {t:?}"
            );
        }
    }
    assert!(accepted > 1000, "the fast path is used ({accepted})");
}

#[test]
fn small_copies_and_rank_one_strides_match_the_general_forms() {
    let src: Vec<u64> = (1..=20).collect();
    for n in 0..=src.len() {
        let mut a = [0u64; 20];
        let mut b = [0u64; 20];
        super::submit::copy_small(&mut a[..n], &src[..n]);
        b[..n].copy_from_slice(&src[..n]);
        assert_eq!(a, b, "length {n}");
    }
    for ndims in 1..=MAX_TENSOR_DIMS as u32 {
        let mut t = Tensor::external(0x1000, &[7, 5, 3, 2, 9][..ndims as usize], DataType::Float32);
        t.strides = [11, 12, 13, 14, 15];
        let mut got = Tensor::default();
        super::tensors::copy_tensor_into(&mut got, &t);
        let mut want = t;
        want.set_row_major_strides();
        assert_eq!(got.strides, want.strides, "rank {ndims}");
        assert!(same_tensor(&got, &want));
    }
}

/// `lanes_of` (branch-free) against the per-lane loop it replaced, over
/// every combination of negative, zero and positive ids.
#[test]
fn lanes_of_matches_the_per_lane_normalization() {
    use crate::runtime::trb::layout::INVALID_KERNEL_ID;
    use crate::runtime::trb::shared::{LANE_AIC, LANE_AIV0, LANE_AIV1};
    fn reference(k: &MixedKernelIds) -> ([i32; 3], u8) {
        let mut m = 0;
        if k.aic >= 0 {
            m |= LANE_AIC;
        }
        if k.aiv0 >= 0 {
            m |= LANE_AIV0;
        }
        if k.aiv1 >= 0 {
            m |= LANE_AIV1;
        }
        let mut ids = [k.aic, k.aiv0, k.aiv1];
        if m == LANE_AIV1 {
            ids = [INVALID_KERNEL_ID, ids[2], INVALID_KERNEL_ID];
            m = LANE_AIV0;
        }
        for id in ids.iter_mut() {
            if *id < 0 {
                *id = INVALID_KERNEL_ID;
            }
        }
        (ids, m)
    }
    let vals = [i32::MIN, -7, -2, -1, 0, 1, 5, i32::MAX];
    let mut seen_masks = 0u32;
    for &aic in &vals {
        for &aiv0 in &vals {
            for &aiv1 in &vals {
                let k = MixedKernelIds { aic, aiv0, aiv1 };
                let got = super::lanes_of(&k);
                assert_eq!(got, reference(&k), "{k:?}");
                seen_masks |= 1 << got.1;
            }
        }
    }
    // Every stored mask occurs (AIV1 alone is stored as AIV0).
    assert_eq!(seen_masks, (0..8u32).filter(|&m| m != u32::from(LANE_AIV1)).map(|m| 1 << m).sum::<u32>());
}

/// The orchestrator behind the dynamic api only: every method forwarded,
/// except `direct_fill` (left at its default `None`).
struct DynOnly<'x, 's>(&'x mut Orchestrator<'s>);

impl OrchestratorApi for DynOnly<'_, '_> {
    fn submit_task(&mut self, kernels: MixedKernelIds, args: &TaskArgsView<'_>) -> SubmitOutcome {
        self.0.submit_task(kernels, args)
    }
    fn submit_dummy_task(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        self.0.submit_dummy_task(args)
    }
    fn alloc_tensors(&mut self, args: &TaskArgsView<'_>) -> SubmitOutcome {
        self.0.alloc_tensors(args)
    }
    fn submit_into(&mut self, kind: SubmitKind, args: &TaskArgsView<'_>, outputs: &mut OutputSlots) -> (u64, u32) {
        self.0.submit_into(kind, args, outputs)
    }
    fn fatal_probe(&self) -> Option<FatalProbe> {
        self.0.fatal_probe()
    }
    fn scope_begin(&mut self, mode: ScopeMode) {
        self.0.scope_begin(mode)
    }
    fn scope_end(&mut self) {
        self.0.scope_end()
    }
    fn orchestration_done(&mut self) {
        self.0.orchestration_done()
    }
    fn is_fatal(&self) -> bool {
        self.0.is_fatal()
    }
    fn report_fatal(&mut self, code: i32, message: &str) {
        self.0.report_fatal(code, message)
    }
    fn get_tensor_data(&mut self, tensor: &Tensor, indices: &[u32]) -> u64 {
        self.0.get_tensor_data(tensor, indices)
    }
    fn set_tensor_data(&mut self, tensor: &Tensor, indices: &[u32], value: u64) {
        self.0.set_tensor_data(tensor, indices, value)
    }
    fn scope_set_site(&mut self, file: &str, line: i32) {
        self.0.scope_set_site(file, line)
    }
}

/// What one submit through the ops table produced, in harness-independent
/// terms: id, count, padding, each output as (offset from its task's
/// payload, owner), whether entries past the count are NULL, the fanin ids.
type Observed = (u64, u32, u32, Vec<(usize, u64)>, bool, Vec<u64>);

/// Runs `script` (0: a mixed, valid sequence; 1..=5: one malformed call
/// after a valid one) through the ops table on a fresh orchestrator, either
/// through its specialised `direct_fill` or through the dynamic api.
fn run_ops_script(script: u32, direct: bool) -> (Vec<Observed>, Option<(i32, String)>) {
    let mut h = harness();
    let mut o = Orchestrator::new(&h.sh, h.tables.take().unwrap(), 3, 6);
    o.scope_begin(ScopeMode::Auto);
    let ops = *ops_table();
    let ci = f32_create_info(Some(7));
    let buf = vec![0f32; 64];
    let mut t = Tensor::external(buf.as_ptr() as u64, &[64], DataType::Float32);
    t.buffer_size = 256;
    let mk = MixedKernels { aic_kernel_id: 1, aiv0_kernel_id: 0, aiv1_kernel_id: -1 };
    let ci_p = &ci as *const TensorCreateInfo as *const std::ffi::c_void;
    let t_p = &t as *const Tensor as *const std::ffi::c_void;
    let mut results = Vec::new();
    {
        let mut dyn_only = DynOnly(&mut o);
        assert!(dyn_only.0.direct_fill().is_some() && dyn_only.direct_fill().is_none());
        let mut rt = if direct { RuntimeObject::new(&mut *dyn_only.0) } else { RuntimeObject::new(&mut dyn_only) };
        let ptr = rt.as_runtime_ptr();
        let mut record = |r: TaskOutputTensors| {
            let n = (r.output_count as usize).min(MAX_TENSOR_ARGS);
            let (outs, fanins) = if r.task_id == u64::MAX {
                (Vec::new(), Vec::new())
            } else {
                let base = payload(&h.sh, r.task_id) as *const TaskPayload as usize;
                // SAFETY: non-NULL output pointers of a successful submit
                // point into that task's payload, live in this harness.
                let outs = r.tensors[..n].iter().map(|&p| (p as usize - base, unsafe { (*p).owner_task_id })).collect();
                (outs, fanin_ids(&h.sh, r.task_id))
            };
            results.push((r.task_id, r.output_count, r.pad, outs, r.tensors[n..].iter().all(|p| p.is_null()), fanins));
        };
        // SAFETY (every call below): live runtime object and stack arguments.
        unsafe {
            let arg = arg_with(&[(tag::INPUT, t_p), (tag::OUTPUT, ci_p), (tag::OUTPUT, ci_p)], &[5, 6]);
            let first = (ops.submit_task.unwrap())(ptr, &mk, &arg);
            let out0 = first.tensors[0] as *const std::ffi::c_void;
            record(first);
            match script {
                0 => {
                    let arg = arg_with(&[(tag::INOUT, out0), (tag::OUTPUT_EXISTING, t_p)], &[1]);
                    record((ops.submit_task.unwrap())(ptr, &mk, &arg));
                    let arg = arg_with(&[(tag::OUTPUT, ci_p)], &[]);
                    record((ops.alloc_tensors.unwrap())(ptr, &arg));
                    let arg = arg_with(&[(tag::INPUT, t_p), (tag::INPUT, out0)], &[]);
                    record((ops.submit_dummy_task.unwrap())(ptr, &arg));
                    let arg = arg_with(&[(tag::NO_DEP, out0), (tag::OUTPUT, ci_p)], &[3]);
                    record((ops.submit_task.unwrap())(ptr, &mk, &arg));
                }
                1 => record((ops.submit_task.unwrap())(ptr, &mk, std::ptr::null())),
                2 => {
                    let arg = arg_with(&[(tag::INPUT, t_p)], &[]);
                    record((ops.submit_task.unwrap())(ptr, std::ptr::null(), &arg));
                }
                3 => {
                    let mut arg = arg_with(&[(tag::INPUT, t_p)], &[]);
                    arg.has_error = 1;
                    record((ops.submit_task.unwrap())(ptr, &mk, &arg));
                }
                4 => {
                    let arg = arg_with(&[(9, t_p)], &[]);
                    record((ops.alloc_tensors.unwrap())(ptr, &arg));
                }
                _ => {
                    let mut arg = arg_with(&[(tag::INPUT, t_p)], &[]);
                    arg.tensor_count = 40;
                    record((ops.submit_dummy_task.unwrap())(ptr, &arg));
                }
            }
            // After a fatal every entry gives the empty result.
            let arg = arg_with(&[(tag::OUTPUT, ci_p)], &[]);
            record((ops.submit_task.unwrap())(ptr, &mk, &arg));
        }
    }
    let first = h.sh.fatal.lock().unwrap().first.as_ref().map(|(_, c, m)| (*c, m.clone()));
    (results, first)
}

#[test]
fn direct_fill_matches_the_dynamic_submit_path() {
    for script in 0..=5 {
        let direct = run_ops_script(script, true);
        let dynamic = run_ops_script(script, false);
        assert_eq!(direct, dynamic, "script {script}");
        let (results, fatal) = &direct;
        assert!(results.iter().all(|r| r.4), "script {script}: entries past the count are NULL");
        if script == 0 {
            assert!(fatal.is_none(), "{fatal:?}");
            assert!(results.iter().all(|r| r.0 != u64::MAX));
            assert_eq!(results[1].5, vec![results[0].0], "the INOUT reader depends on the writer");
        } else {
            assert_eq!(fatal.as_ref().map(|f| f.0), Some(5), "script {script}: {fatal:?}");
            assert!(results[1..].iter().all(|r| r.0 == u64::MAX && r.1 == 0 && r.3.is_empty()));
        }
    }
}

/// The producer's `fanout_count` and the consumer's fanins after a claim,
/// with the claims of held producers counted (see `held.rs`).
fn claimed(o: &mut Orchestrator<'_>, sh: &RunShared, producer: u64, consumer: u64) -> (u32, Vec<u64>) {
    o.settle_claims();
    let r = &sh.rings[task_id::ring(producer)];
    (r.slot(task_id::local(producer)).fanout_count.load(Relaxed), fanin_ids(sh, consumer))
}

/// The producer's `fanout_count` as it stands.
fn fanout_count(sh: &RunShared, producer: u64) -> u32 {
    sh.rings[task_id::ring(producer)].slot(task_id::local(producer)).fanout_count.load(Relaxed)
}

#[test]
fn claims_count_once_per_consumer_on_held_and_released_producers() {
    use crate::runtime::trb::layout::SCOPE_BIT;
    let mut h = harness();
    let mut o = Orchestrator::new(&h.sh, h.tables.take().unwrap(), 3, 6);
    let buf = vec![0f32; 256];
    let t = Tensor::external(buf.as_ptr() as u64, &[64], DataType::Float32);
    let u = Tensor::external(buf.as_ptr() as u64 + 512, &[64], DataType::Float32);
    let k = MixedKernelIds { aic: -1, aiv0: 0, aiv1: -1 };
    let submit = |o: &mut Orchestrator<'_>, a: TensorArg<'_>| {
        let tensors = [a];
        let args = TaskArgsView {
            tensors: &tensors,
            scalars: &[],
            block_num: 1,
            require_sync_start: false,
            explicit_deps: &[],
        };
        let id = o.submit_task(k, &args).task_id;
        assert_ne!(id, INVALID_TASK);
        id
    };
    // Depth 0 (ring 0): the producer is held by the open root scope; two
    // consumers in a nested scope (ring 1) claim it.
    o.scope_begin(ScopeMode::Auto);
    let p0 = submit(&mut o, TensorArg::Inout(&t));
    o.scope_begin(ScopeMode::Auto);
    let c1 = submit(&mut o, TensorArg::Input(&t));
    assert_eq!(fanout_count(&h.sh, p0), SCOPE_BIT, "held by the root scope: the claim is pending");
    assert_eq!(claimed(&mut o, &h.sh, p0, c1), (SCOPE_BIT + 1, vec![p0]));
    let c2 = submit(&mut o, TensorArg::Input(&t));
    assert_eq!(claimed(&mut o, &h.sh, p0, c2), (SCOPE_BIT + 2, vec![p0]));
    // Depths 2, 3 and 4: depth 4 shares ring 3 with depth 3, and its end
    // releases its tasks while depth 3 stays open.
    o.scope_begin(ScopeMode::Auto);
    o.scope_begin(ScopeMode::Auto);
    o.scope_begin(ScopeMode::Auto);
    let p4 = submit(&mut o, TensorArg::Inout(&u));
    assert_eq!(task_id::ring(p4), 3);
    o.scope_end();
    let c3 = submit(&mut o, TensorArg::Input(&u));
    assert_eq!(fanout_count(&h.sh, p4), SCOPE_BIT + 1, "ring 3: counted at the claim, under the lock");
    assert_eq!(claimed(&mut o, &h.sh, p4, c3), (SCOPE_BIT + 1, vec![p4]), "claim of a scope-released producer");
    // Close depths 3 and 2, then depth 1: the ring-1 tasks are released
    // with their scope, and a later claim of the root scope's producer
    // from depth 0 still counts once.
    o.scope_end();
    o.scope_end();
    o.scope_end();
    let c0 = submit(&mut o, TensorArg::Inout(&t));
    assert_eq!(fanin_ids(&h.sh, c0), vec![p0], "INOUT after two readers depends on the writer only");
    assert_eq!(claimed(&mut o, &h.sh, p0, c0).0, SCOPE_BIT + 3);
    o.scope_end();
}
