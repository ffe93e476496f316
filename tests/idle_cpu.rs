//! Idle simulated cores and scheduler threads must not burn the host CPU:
//! after a run, an idle context costs (almost) no CPU time. Its own test
//! binary, so no other test consumes CPU in this process meanwhile.

use std::time::Duration;

use simpler::abi::ArgDirection::{In, Out};
use simpler::config::{MapEnv, RuntimeConfig};
use simpler::context::DeviceContext;
use simpler::demo::{assets, exec, register, run_vector, vector_style_callable};

fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a live rusage.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[test]
fn idle_context_uses_no_cpu() {
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, &RuntimeConfig::new(), &[], &[], &MapEnv::default()).unwrap();
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    for _ in 0..3 {
        run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    let c0 = process_cpu();
    std::thread::sleep(Duration::from_millis(500));
    let used = process_cpu() - c0;
    assert!(used < Duration::from_millis(50), "idle context used {used:?} of CPU in 500 ms");
}
