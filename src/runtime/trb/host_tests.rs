//! End-to-end tests of the TRB host glue through a device context.

use crate::abi::callable::ChipCallableBuilder;
use crate::abi::ArgDirection::{In, Out};
use crate::config::{MapEnv, RuntimeConfig};
use crate::context::DeviceContext;
use crate::demo::{args_of, assets, exec, register, run_vector, vector_inputs, vector_style_callable};
use crate::diagnostics::Error;

/// A task whose kernel the callable lacks runs nothing; the run fails
/// naming the first such func_id, writes no output, and the context
/// stays usable.
#[test]
fn a_missing_kernel_fails_the_run_naming_its_func_id() {
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, &RuntimeConfig::new(), &[], &[], &MapEnv::default()).unwrap();
    // The vector example without its func_id 2 (kernel_mul).
    let image = ChipCallableBuilder::new(&[In, In, Out], "aicpu_orchestration_entry", assets::TRB_VECTOR_ORCH)
        .config_name("aicpu_orchestration_config")
        .child(0, &[In, In, Out], assets::KERNEL_ADD)
        .child(1, &[In, Out], assets::KERNEL_ADD_SCALAR)
        .build()
        .unwrap();
    register(&ctx, 5, &image).unwrap();
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    for _ in 0..2 {
        let (mut a, mut b) = vector_inputs(16384);
        let mut f = vec![-1f32; 16384];
        let args = args_of(&mut [&mut a, &mut b, &mut f], &[]).unwrap();
        let e = ctx.run(5, &args, &exec(None), &RuntimeConfig::new()).unwrap_err();
        assert!(
            matches!(&e, Error::UserCode(m) if m == "a task used kernel func_id 2, which callable 5 does not provide"),
            "{e:?}"
        );
        assert!(f.iter().all(|&v| v == -1.0), "no copy-back after a failed run");
        run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).expect("the context stays usable");
    }
}
