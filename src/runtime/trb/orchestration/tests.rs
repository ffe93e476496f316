//! Tests of the orchestration binary interface against compiled SOs.

use super::layout::*;
use super::ops::{ops_table, RuntimeObject, LOG_CAPTURE};
use super::so::OrchestrationSo;
use super::testutil::{build_so, repo_path, Call, ChipArgsImage, MockApi, RecTensor};
use crate::abi::{DataType, Tensor};
use crate::diagnostics::Error;
use crate::runtime::trb::api::{MixedKernelIds, ScopeMode};

fn vector_inputs() -> Box<ChipArgsImage> {
    let a = Tensor::external(0x10_0000, &[16384], DataType::Float32);
    let b = Tensor::external(0x20_0000, &[16384], DataType::Float32);
    let f = Tensor::external(0x30_0000, &[16384], DataType::Float32);
    ChipArgsImage::new(&[a, b, f], &[])
}

fn vector_so() -> OrchestrationSo {
    let bytes = build_so(&["examples/trb_vector/orchestration.cpp"], true, &[]);
    OrchestrationSo::load(&bytes, 3, "", "").expect("load vector orchestration")
}

/// Line of the first `needle` in an example source (1-based).
fn line_of(rel: &str, needle: &str) -> i32 {
    let src = std::fs::read_to_string(repo_path(rel)).unwrap();
    src.lines().position(|l| l.contains(needle)).unwrap() as i32 + 1
}

fn submits(calls: &[Call]) -> Vec<(MixedKernelIds, super::testutil::RecArgs)> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Submit(k, a) => Some((*k, a.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn vector_example_issues_the_exact_call_sequence() {
    let so = vector_so();
    assert!(so.has_config());
    assert_eq!(so.entry_name(), "aicpu_orchestration_entry");
    let img = vector_inputs();
    let mut api = MockApi::new();
    LOG_CAPTURE.with(|c| c.borrow_mut().clear());
    // SAFETY: `img` is a live, 64-aligned 17472-byte image.
    unsafe { so.run(&mut api, img.as_ptr()) }.expect("run");

    let calls = api.calls();
    let kinds: Vec<&'static str> = calls
        .iter()
        .map(|c| match c {
            Call::Submit(..) => "submit",
            Call::IsFatal => "is_fatal",
            Call::Site(..) => "site",
            Call::ScopeBegin(_) => "scope_begin",
            Call::ScopeEnd => "scope_end",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "is_fatal",
            "submit",
            "is_fatal",
            "site",
            "scope_begin",
            "is_fatal",
            "submit",
            "is_fatal",
            "submit",
            "is_fatal",
            "submit",
            "is_fatal",
            "submit",
            "is_fatal",
            "scope_end"
        ]
    );
    let Call::Site(file, line) = &calls[3] else { unreachable!() };
    assert!(file.ends_with("examples/trb_vector/orchestration.cpp"), "{file}");
    assert_eq!(*line, line_of("examples/trb_vector/orchestration.cpp", "PTO2_SCOPE()"));
    assert!(matches!(calls[4], Call::ScopeBegin(ScopeMode::Auto)));

    // The SIZE log line went through log_info_v with v = 0.
    let logs = LOG_CAPTURE.with(|c| c.borrow().clone());
    assert!(logs.iter().any(|(level, func, v, msg)| *level == 3
        && func == "aicpu_orchestration_entry"
        && *v == 0
        && msg == "===============SIZE=16384"));

    let s = submits(&calls);
    assert_eq!(s.len(), 5);
    let kernels: Vec<i32> = s.iter().map(|(k, _)| k.aiv0).collect();
    assert_eq!(kernels, [0, 1, 1, 2, 0]);
    assert!(s.iter().all(|(k, _)| k.aic == -1 && k.aiv1 == -1));
    let tags: Vec<Vec<i32>> = s.iter().map(|(_, a)| a.tensors.iter().map(RecTensor::tag).collect()).collect();
    assert_eq!(tags, [vec![0, 0, 1], vec![0, 1], vec![0, 1], vec![0, 0, 1], vec![0, 0, 3]]);
    let scalars: Vec<Vec<u64>> = s.iter().map(|(_, a)| a.scalars.clone()).collect();
    assert_eq!(scalars, [vec![], vec![0x3F80_0000, 3], vec![0x4000_0000, 3], vec![3], vec![]]);
    let ids: Vec<u64> = s.iter().map(|(_, a)| a.id).collect();
    assert_eq!(ids, [0, 0x1_0000_0000, 0x1_0000_0001, 0x1_0000_0002, 0x1_0000_0003]);
    assert!(s.iter().all(|(_, a)| a.block_num == 1 && !a.require_sync_start && a.deps.is_empty()));

    // Data flow: the outputs returned by the runtime are passed back by pointer.
    let c = s[0].1.outputs[0];
    let d = s[1].1.outputs[0];
    let e = s[2].1.outputs[0];
    let g = s[3].1.outputs[0];
    assert_eq!(s[1].1.tensors[0].ptr(), Some(c));
    assert_eq!(s[2].1.tensors[0].ptr(), Some(c));
    assert_eq!(s[3].1.tensors[0].ptr(), Some(d));
    assert_eq!(s[3].1.tensors[1].ptr(), Some(e));
    assert_eq!(s[4].1.tensors[0].ptr(), Some(g));
    assert_eq!(s[4].1.tensors[1].ptr(), Some(c));
    assert!(s[4].1.outputs.is_empty());

    // The entry's copies of a, b, f (from_tensor_arg: version 0, manual_dep 0).
    let RecTensor::Input(_, a) = &s[0].1.tensors[0] else { panic!() };
    assert_eq!(a.buffer_addr, 0x10_0000);
    assert_eq!(a.shapes[0], 16384);
    assert_eq!(a.owner_task_id, u64::MAX);
    let RecTensor::OutputExisting(_, f) = &s[4].1.tensors[2] else { panic!() };
    assert_eq!(f.buffer_addr, 0x30_0000);
    // inter_ci: shape {16384}, ndims 1, FLOAT32, one stack object reused.
    let RecTensor::Output(ci) = &s[0].1.tensors[2] else { panic!() };
    assert_eq!((ci.ndims, ci.shapes[0], ci.dtype), (1, 16384, 0));
    assert_eq!(ci.initial_value, None);
    assert!(!ci.manual_dep);
}

#[test]
fn config_arg_count_is_enforced() {
    let so = vector_so();
    let a = Tensor::external(0x1000, &[4], DataType::Float32);
    let img = ChipArgsImage::new(&[a, a], &[]);
    let mut api = MockApi::new();
    // SAFETY: live, aligned image.
    let err = unsafe { so.run(&mut api, img.as_ptr()) }.unwrap_err();
    assert!(matches!(&err, Error::UserCode(m) if m.contains("at least 3")), "{err:?}");
    assert!(api.calls().is_empty());

    // Misaligned or NULL argument images are rejected before any call.
    // SAFETY: rejected before dereferencing.
    let err = unsafe { so.run(&mut api, std::ptr::null()) }.unwrap_err();
    assert!(matches!(err, Error::NullPointer { .. }));
    // SAFETY: rejected before dereferencing (misaligned).
    let err = unsafe { so.run(&mut api, img.as_ptr().add(8)) }.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
}

#[test]
fn ops_table_entries_work_from_c() {
    let bytes = build_so(&["csrc/tests/ops_table_test.c"], false, &[]);
    let lib = crate::loader::temp_so::dlopen_bytes(
        &bytes,
        "simpler_ops_test_",
        libc::RTLD_NOW | libc::RTLD_LOCAL,
        "ops test",
    )
    .unwrap();
    type TestFn = unsafe extern "C" fn(*mut PTO2RuntimeHead, *mut std::ffi::c_char, usize) -> i32;
    let sym = crate::loader::temp_so::lookup(&lib, "simpler_test_ops_table").unwrap();
    // SAFETY: the test driver exports exactly this signature.
    let test: TestFn = unsafe { std::mem::transmute::<*mut std::ffi::c_void, TestFn>(sym) };

    let mut api = MockApi::new();
    LOG_CAPTURE.with(|c| c.borrow_mut().clear());
    let mut report = [0 as std::ffi::c_char; 256];
    let rc = {
        let mut rt = RuntimeObject::new(&mut api);
        let ptr = rt.as_runtime_ptr();
        let _cur = rt.enter();
        // SAFETY: `ptr` is the live runtime object; `report` is 256 bytes.
        unsafe { test(ptr, report.as_mut_ptr(), report.len()) }
    };
    // SAFETY: the driver always NUL-terminates `report`.
    let msg = unsafe { std::ffi::CStr::from_ptr(report.as_ptr()) }.to_string_lossy();
    assert_eq!(rc, 0, "C check at line {rc} failed: {msg}");

    let calls = api.calls();
    let s = submits(&calls);
    assert_eq!(s.len(), 2);
    let (k, a) = &s[0];
    assert_eq!((k.aic, k.aiv0, k.aiv1), (-1, 2, -1));
    assert_eq!(a.scalars, [7, 0xFFFF_FFFF]);
    assert_eq!((a.block_num, a.require_sync_start), (2, true));
    assert_eq!(a.deps, [5, 0x1_0000_0006]);
    let RecTensor::Input(_, t) = &a.tensors[0] else { panic!() };
    assert_eq!((t.buffer_addr, t.shapes[1], t.strides[0]), (0x5000, 8, 8));
    let RecTensor::Output(ci) = &a.tensors[1] else { panic!() };
    assert_eq!((ci.ndims, ci.shapes[0], ci.dtype), (1, 256, 2));
    assert_eq!(ci.initial_value, Some(7));
    assert_eq!(s[1].0.aic, 1);
    assert!(matches!(s[1].1.tensors[0], RecTensor::Inout(..)));

    assert!(calls.iter().any(|c| matches!(c, Call::Site(f, 42) if f == "ops_table_test.c")));
    assert!(calls.iter().any(|c| matches!(c, Call::ScopeBegin(ScopeMode::Manual))));
    assert!(calls.iter().any(|c| matches!(c, Call::ScopeEnd)));
    assert!(calls.iter().any(|c| matches!(c, Call::Done)));
    assert!(calls.iter().any(|c| matches!(c, Call::Alloc(a) if a.outputs.len() == 2)));
    assert!(calls.iter().any(|c| matches!(c, Call::Dummy(a)
        if a.tensors[0].tag() == 4 && a.tensors[1].tag() == 3)));
    assert!(calls.iter().any(|c| matches!(c, Call::Get(i) if i == &[1, 2])));
    assert!(calls.iter().any(|c| matches!(c, Call::Set(i, 0x1234) if i == &[1, 2])));

    let fatals: Vec<(i32, String)> = calls
        .iter()
        .filter_map(|c| match c {
            Call::ReportFatal(code, m) => Some((*code, m.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        fatals,
        [
            (5, "Too many tensor args (max 32)".to_string()),
            (9, "x=42 y=abc z=2.5 w=deadbeef".to_string()),
            (9, String::new()),
        ]
    );
    assert_eq!(api.fatal, Some(5));

    let logs = LOG_CAPTURE.with(|c| c.borrow().clone());
    let expect = [(0, "err -3 x", 0), (1, "warn 7", 0), (2, "debug 0.125", 0), (3, "info -9000000000 z", 4)];
    for (level, text, v) in expect {
        assert!(
            logs.iter().any(|(l, f, vv, m)| *l == level && f == "c_test" && *vv == v && m == text),
            "missing log {text:?} in {logs:?}"
        );
    }
}

#[test]
fn invalid_tags_and_pointers_are_fatal_5() {
    let mut api = MockApi::new();
    let ops = *ops_table();
    let tensor = Tensor::external(0x1000, &[4], DataType::Float32);
    {
        let mut rt = RuntimeObject::new(&mut api);
        let ptr = rt.as_runtime_ptr();
        let mk = MixedKernels { aic_kernel_id: -1, aiv0_kernel_id: 0, aiv1_kernel_id: -1 };
        let mut arg = Arg::empty();
        arg.tags[0] = 7;
        arg.refs[0] = &tensor as *const Tensor as *const std::ffi::c_void;
        arg.tensor_count = 1;
        // SAFETY: live runtime object and stack arguments.
        let r = unsafe { (ops.submit_task.unwrap())(ptr, &mk, &arg) };
        assert_eq!((r.task_id, r.output_count), (u64::MAX, 0));

        let mut arg = Arg::empty();
        arg.tensor_count = 33;
        // SAFETY: as above.
        let r = unsafe { (ops.alloc_tensors.unwrap())(ptr, &arg) };
        assert_eq!(r.task_id, u64::MAX);

        let mut arg = Arg::empty();
        arg.tensor_count = 1;
        arg.tags[0] = tag::INPUT;
        // SAFETY: as above (NULL tensor pointer is rejected).
        let r = unsafe { (ops.submit_dummy_task.unwrap())(ptr, &arg) };
        assert_eq!(r.task_id, u64::MAX);

        // A NULL runtime pointer is tolerated (fatal, empty result).
        // SAFETY: entries check for NULL before use.
        unsafe {
            assert!((ops.is_fatal.unwrap())(std::ptr::null_mut()));
        }
    }
    let codes: Vec<i32> = api
        .calls()
        .iter()
        .filter_map(|c| match c {
            Call::ReportFatal(code, _) => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, [5, 5, 5]);
    assert!(submits(&api.calls()).is_empty());
}

#[test]
fn cpp_exception_from_entry_becomes_user_code_error() {
    let img = vector_inputs();
    for (defines, needle) in [(&[][..], "get_ref"), (&["THROW_NON_STD"][..], "unknown C++ exception")] {
        let bytes = build_so(&["csrc/tests/throwing_orchestration.cpp"], true, defines);
        let so = OrchestrationSo::load(&bytes, 7, "", "").unwrap();
        assert!(!so.has_config());
        let mut api = MockApi::new();
        // SAFETY: live, aligned image.
        let err = unsafe { so.run(&mut api, img.as_ptr()) }.unwrap_err();
        assert!(matches!(&err, Error::UserCode(m) if m.contains(needle)), "{err:?}");
        assert_eq!(submits(&api.calls()).len(), 1);
        // The SO stays usable: the same failure again, process alive.
        let mut api = MockApi::new();
        // SAFETY: as above.
        assert!(unsafe { so.run(&mut api, img.as_ptr()) }.is_err());
    }

    let bytes = build_so(&["csrc/tests/throwing_orchestration.cpp"], true, &["BAD_CONFIG"]);
    let so = OrchestrationSo::load(&bytes, 7, "", "").unwrap();
    let mut api = MockApi::new();
    // SAFETY: as above.
    let err = unsafe { so.run(&mut api, img.as_ptr()) }.unwrap_err();
    assert!(matches!(&err, Error::UserCode(m) if m.contains("at least 5")), "{err:?}");

    let bytes = build_so(&["csrc/tests/throwing_orchestration.cpp"], true, &["CONFIG_THROWS"]);
    let so = OrchestrationSo::load(&bytes, 7, "", "").unwrap();
    // SAFETY: as above.
    let err = unsafe { so.expected_arg_count(img.as_ptr()) }.unwrap_err();
    assert!(matches!(&err, Error::UserCode(m) if m.contains("config")), "{err:?}");
}

#[test]
fn panic_in_orchestrator_is_latched_not_unwound() {
    let so = vector_so();
    let img = vector_inputs();
    let mut api = MockApi::new();
    api.panic_on_submit = Some(2);
    // SAFETY: live, aligned image.
    let err = unsafe { so.run(&mut api, img.as_ptr()) }.unwrap_err();
    assert!(matches!(&err, Error::Panic(m) if m.contains("submit_task")), "{err:?}");
    assert_eq!(api.fatal, Some(error_code::EXPLICIT_ORCH_FATAL));
    assert_eq!(submits(&api.calls()).len(), 1);
}

#[test]
fn load_errors_name_the_missing_symbol() {
    let bytes = build_so(&["examples/trb_vector/orchestration.cpp"], true, &[]);
    let err = OrchestrationSo::load(&bytes, 1, "no_such_entry", "").unwrap_err();
    assert!(matches!(&err, Error::Load(m) if m.contains("no_such_entry")), "{err:?}");
    let kernel = build_so(&["examples/kernels/kernel_noop.c"], false, &[]);
    let err = OrchestrationSo::load(&kernel, 1, "kernel_entry", "").unwrap_err();
    assert!(matches!(&err, Error::Load(m) if m.contains("framework_bind_runtime")), "{err:?}");
    let err = OrchestrationSo::load(b"not an elf", 1, "", "").unwrap_err();
    assert!(matches!(&err, Error::InvalidBinary(m) if m.contains("orchestration SO of callable 1")), "{err:?}");
    let err = OrchestrationSo::load(&[], 1, "", "").unwrap_err();
    assert!(matches!(err, Error::Load(_)));
}

#[test]
fn each_load_gets_its_own_copy_of_the_so_globals() {
    let a = vector_so();
    let b = vector_so();
    let img = vector_inputs();
    let mut api_b = MockApi::new();
    let mut rt_b = RuntimeObject::new(&mut api_b);
    let ptr_b = rt_b.as_runtime_ptr();
    let _cur = rt_b.enter();
    // SAFETY: `rt_b` stays alive and in place until it is unbound below.
    unsafe { b.bind_raw(ptr_b) };
    // A full run of copy `a` binds and finally unbinds (NULL) its own
    // global; with a shared global, copy `b` would now see NULL and its
    // entry would throw.
    let mut api_a = MockApi::new();
    // SAFETY: live, aligned image.
    unsafe { a.run(&mut api_a, img.as_ptr()) }.unwrap();
    // SAFETY: `b` is still bound to the live `rt_b`.
    let rc = unsafe { b.call_entry_unbound(img.as_ptr()) };
    // SAFETY: unbinding is always allowed.
    unsafe { b.bind_raw(std::ptr::null_mut()) };
    drop(_cur);
    drop(rt_b);
    assert_eq!(rc, 0);
    assert_eq!(submits(&api_a.calls()).len(), 5);
    assert_eq!(submits(&api_b.calls()).len(), 5);
}

#[test]
fn nested_example_uses_all_four_rings() {
    let bytes = build_so(&["examples/trb_nested/orchestration.cpp"], true, &[]);
    let so = OrchestrationSo::load(&bytes, 2, "", "").unwrap();
    let img = vector_inputs();
    let mut api = MockApi::new();
    // SAFETY: live, aligned image.
    unsafe { so.run(&mut api, img.as_ptr()) }.unwrap();
    let calls = api.calls();
    let s = submits(&calls);
    let rings: Vec<u64> = s.iter().map(|(_, a)| a.id >> 32).collect();
    assert_eq!(rings, [0, 1, 2, 3, 3]);
    let modes: Vec<ScopeMode> = calls
        .iter()
        .filter_map(|c| match c {
            Call::ScopeBegin(m) => Some(*m),
            _ => None,
        })
        .collect();
    assert_eq!(modes, [ScopeMode::Auto, ScopeMode::Auto, ScopeMode::Auto, ScopeMode::Manual]);
    assert_eq!(calls.iter().filter(|c| matches!(c, Call::ScopeEnd)).count(), 4);
    assert_eq!(s[4].1.deps, [s[3].1.id, s[0].1.id]);
    assert_eq!(s[4].1.tensors[2].tag(), 3);
    assert!(calls.iter().any(|c| matches!(c, Call::Dummy(a) if a.id >> 32 == 2)));
    // get_tensor_data on c[0]; the mock's value is not 5.0f, so the
    // orchestration reports fatal 9 with a formatted message.
    assert!(calls.iter().any(|c| matches!(c, Call::Get(i) if i == &[0])));
    assert!(calls.iter().any(|c| matches!(c, Call::ReportFatal(9, m)
        if m.starts_with("c[0] = ") && m.ends_with("expected 5"))));
}

#[test]
fn fanout_example_submits_thousands_of_tasks() {
    let bytes = build_so(&["examples/trb_fanout/orchestration.cpp"], true, &[]);
    let so = OrchestrationSo::load(&bytes, 4, "", "").unwrap();
    let x = Tensor::external(0x1000, &[64], DataType::Float32);
    let out = Tensor::external(0x2000, &[64], DataType::Float32);
    let (n, chunk) = (2000u64, 64u64);
    let img = ChipArgsImage::new(&[x, out], &[n, chunk]);
    let mut api = MockApi::new();
    // SAFETY: live, aligned image.
    unsafe { so.run(&mut api, img.as_ptr()) }.unwrap();
    let calls = api.calls();
    let s = submits(&calls);
    let chunks = n.div_ceil(chunk);
    // Fan-out n, per-chunk tree n - chunks, final tree chunks - 1.
    assert_eq!(s.len() as u64, n + (n - chunks) + (chunks - 1));
    let allocs = calls.iter().filter(|c| matches!(c, Call::Alloc(_))).count();
    assert_eq!(allocs as u64, chunks);
    // Fan-out scalars are 0.0f, 1.0f, ... in order.
    let fan: Vec<u64> = s
        .iter()
        .filter(|(k, a)| k.aiv0 == 1 && a.tensors[0].tag() == 0 && a.tensors[1].tag() == 1)
        .map(|(_, a)| a.scalars[0])
        .collect();
    assert_eq!(fan.len() as u64, n);
    assert_eq!(fan[5], (5.0f32).to_bits() as u64);
    // The last task writes `out` (OUTPUT_EXISTING of the entry tensor).
    let last = &s.last().unwrap().1;
    assert!(matches!(&last.tensors[2], RecTensor::OutputExisting(_, t) if t.buffer_addr == 0x2000));
    assert!(api.fatal.is_none());
}

#[test]
fn a_missing_named_config_loads_without_the_arg_count_check() {
    // tensormap_and_ringbuffer's policy (MissingConfig::Log): a config name
    // that does not resolve is a warning, not a load error.
    let bytes = build_so(&["examples/trb_vector/orchestration.cpp"], true, &[]);
    let so = OrchestrationSo::load(&bytes, 1, "", "no_such_config").expect("loads");
    assert!(!so.has_config());
    assert_eq!(so.entry_name(), "aicpu_orchestration_entry");
}
