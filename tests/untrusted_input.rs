//! Untrusted input on the default runtime (tensormap_and_ringbuffer): bad
//! entry tensors, truncated kernel and orchestration ELF images inside a
//! well-formed ChipCallable, duplicate child func_ids. Each is refused with
//! its numbered code before anything runs, host buffers stay untouched, and
//! a successful run follows on the same context.

use simpler::abi::callable::{parse_chip_callable, ChipCallableBuilder};
use simpler::abi::ArgDirection::{In, Out};
use simpler::abi::{DataType, Tensor};
use simpler::config::{MapEnv, RuntimeConfig};
use simpler::context::DeviceContext;
use simpler::demo::{args_of, assets, exec, register, run_vector, vector_inputs, vector_style_callable};
use simpler::ErrorCode;

fn context() -> DeviceContext {
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, &RuntimeConfig::new(), &[], &[], &MapEnv::default()).unwrap();
    ctx
}

fn still_usable(ctx: &DeviceContext) {
    let image = vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap();
    register(ctx, 9, &image).unwrap();
    run_vector(ctx, 9, &exec(None), &RuntimeConfig::new()).unwrap();
    ctx.unregister(9).unwrap();
}

#[test]
fn bad_entry_tensors_are_refused_before_staging() {
    let ctx = context();
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    let (mut a, mut b) = vector_inputs(16384);
    let mut f = vec![-7.0f32; 16384];
    type Corrupt = fn(&mut Tensor);
    let cases: [(&str, usize, Corrupt); 6] = [
        ("buffer.size", 2, |t| t.buffer_size -= 4),
        ("buffer.size", 0, |t| t.buffer_size = 64),
        ("overflow", 2, |t| {
            t.ndims = 5;
            t.shapes = [65536; 5];
        }),
        ("NULL", 1, |t| t.buffer_addr = 0),
        ("start_offset", 2, |t| t.start_offset = 16),
        ("ndims", 0, |t| t.ndims = 0),
    ];
    for (part, index, corrupt) in cases {
        let mut args = args_of(&mut [&mut a, &mut b, &mut f], &[]).unwrap();
        corrupt(&mut args.tensors_mut()[index]);
        let e = ctx.run(0, &args, &exec(None), &RuntimeConfig::new()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PtoErrInvalidTaskArgs, "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("tensor argument {index}")) && msg.contains(part), "{msg}");
        assert!(f.iter().all(|&v| v == -7.0), "a refused run wrote the host output ({part})");
        run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).unwrap();
    }
    // Tensor and scalar counts against the signature [IN, IN, OUT].
    let two = args_of(&mut [&mut a, &mut b], &[]).unwrap();
    let e = ctx.run(0, &two, &exec(None), &RuntimeConfig::new()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::PtoErrInvalidTaskArgs, "{e}");
    assert!(e.to_string().contains("signature[2]"), "{e}");
    let mut extra = args_of(&mut [&mut a, &mut b, &mut f], &[]).unwrap();
    extra.tensors_mut()[1].dtype = DataType::Float16 as u8;
    extra.tensors_mut()[1].shapes[0] = 32769;
    let e = ctx.run(0, &extra, &exec(None), &RuntimeConfig::new()).unwrap_err();
    assert!(e.to_string().contains("65538 bytes"), "{e}");
    still_usable(&ctx);
}

#[test]
fn truncated_elf_images_are_refused_at_registration() {
    let ctx = context();
    let orch = assets::TRB_VECTOR_ORCH;
    let mut cuts = 0;
    for cut in (1..orch.len()).step_by(64) {
        let image = vector_style_callable(&orch[..cut], &[In, In, Out]).unwrap();
        let e = register(&ctx, 0, &image).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PtoErrInvalidBinary, "cut {cut}: {e}");
        assert!(e.to_string().contains("orchestration SO of callable 0"), "{e}");
        cuts += 1;
    }
    let kernel = assets::KERNEL_ADD;
    for cut in (1..kernel.len()).step_by(64) {
        let image = ChipCallableBuilder::new(&[In, In, Out], "aicpu_orchestration_entry", orch)
            .child(0, &[In, In, Out], &kernel[..cut])
            .build()
            .unwrap();
        let e = register(&ctx, 0, &image).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PtoErrInvalidBinary, "cut {cut}: {e}");
        assert!(e.to_string().contains("kernel SO of func_id 0"), "{e}");
        cuts += 1;
    }
    assert!(cuts > 200, "only {cuts} cut points");
    still_usable(&ctx);
}

#[test]
fn duplicate_child_func_ids_are_refused() {
    let ctx = context();
    let image = ChipCallableBuilder::new(&[In, In, Out], "aicpu_orchestration_entry", assets::TRB_VECTOR_ORCH)
        .child(0, &[In, In, Out], assets::KERNEL_ADD)
        .child(0, &[In, In, Out], assets::KERNEL_MUL)
        .build()
        .unwrap();
    let e = parse_chip_callable(&image).unwrap_err();
    assert_eq!(e.code(), ErrorCode::PtoErrInvalidCallable);
    // A ParsedCallable built in Rust bypasses the parser; registration refuses it too.
    let mut parsed =
        parse_chip_callable(&vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    parsed.children[1].func_id = 0;
    let e = ctx.prepare(0, parsed).unwrap_err();
    assert_eq!(e.code(), ErrorCode::PtoErrInvalidCallable, "{e}");
    assert!(e.to_string().contains("unique"), "{e}");
    still_usable(&ctx);
}

/// The two validators as a fuzz target calls them: plain bytes in, `Result` out.
#[test]
fn validators_take_plain_bytes() {
    use simpler::abi::task_args::{ChipStorageTaskArgs, CHIP_STORAGE_TASK_ARGS_SIZE};
    use simpler::abi::validate_args;
    use simpler::loader::elf::check_image;
    let mut bytes = vec![0u8; CHIP_STORAGE_TASK_ARGS_SIZE];
    let args: ChipStorageTaskArgs = bytemuck::pod_read_unaligned(&bytes);
    assert!(validate_args(&args, &[]).is_ok(), "no tensors, no scalars");
    bytes[17408] = 1; // tensor_count = 1 with an all-zero tensor (ndims 0)
    let args: ChipStorageTaskArgs = bytemuck::pod_read_unaligned(&bytes);
    assert_eq!(validate_args(&args, &[In]).unwrap_err().code(), ErrorCode::PtoErrInvalidTaskArgs);
    assert!(check_image(assets::KERNEL_MUL, "kernel_mul").is_ok());
    let e = check_image(&assets::KERNEL_MUL[..100], "kernel_mul").unwrap_err();
    assert_eq!(e.code(), ErrorCode::PtoErrInvalidBinary);
    assert!(e.to_string().starts_with("invalid binary: kernel_mul: "), "{e}");
}

/// `bind_callable_to_runtime_impl` (upstream's per-run variant entry) applies the same
/// validator with the signature it is given.
#[test]
fn bind_entry_validates_args_against_its_signature() {
    use simpler::ffi::config::pto_last_error_code;
    use simpler::ffi::host_api::bind_callable_to_runtime_impl;
    let (mut a, mut b) = vector_inputs(64);
    let mut f = vec![0f32; 64];
    let mut args = args_of(&mut [&mut a, &mut b, &mut f], &[]).unwrap();
    let sig = [In as i32, In as i32, Out as i32];
    let mut runtime = [0u8; 64];
    let null = std::ptr::null();
    let mut bind = |args: &simpler::abi::ChipStorageTaskArgs, sig: &[i32]| {
        bind_callable_to_runtime_impl(
            runtime.as_mut_ptr().cast(),
            (args as *const simpler::abi::ChipStorageTaskArgs).cast(),
            std::ptr::null_mut(),
            sig.as_ptr(),
            sig.len() as i32,
            0,
            0,
            0,
            null,
            null,
            null,
        )
    };
    assert_eq!(bind(&args, &sig), 0);
    args.tensors_mut()[2].buffer_size = 4;
    assert_eq!(bind(&args, &sig), -1);
    assert_eq!(pto_last_error_code(), ErrorCode::PtoErrInvalidTaskArgs as i32);
    args.tensors_mut()[2].buffer_size = 256;
    assert_eq!(bind(&args, &[In as i32, In as i32, Out as i32, Out as i32]), -1);
    assert_eq!(bind(&args, &[In as i32, 7]), -1);
    assert_eq!(bind(&args, &sig), 0);
}
