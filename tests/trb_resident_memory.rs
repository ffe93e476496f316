//! Resident memory: a small graph with the default sizing (about 1.3 GB of
//! rings and shared memory) must not grow the process's resident size by
//! more than 64 MiB, and repeated runs must keep it flat. Its own test
//! binary (one test), so nothing else runs in this process meanwhile.

use simpler::abi::ArgDirection::{In, Out};
use simpler::config::{MapEnv, RuntimeConfig};
use simpler::context::DeviceContext;
use simpler::demo::{assets, exec, register, run_vector, vector_style_callable};
use simpler::resident_bytes;

#[test]
fn default_sizing_is_lazily_committed_and_runs_keep_memory_flat() {
    const MIB: f64 = 1048576.0;
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, &RuntimeConfig::new(), &[], &[], &MapEnv::default()).unwrap();
    register(&ctx, 0, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    let before = resident_bytes().unwrap() as f64;
    run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).unwrap();
    let first = resident_bytes().unwrap() as f64;
    assert!(first - before < 64.0 * MIB, "first run grew RSS by {:.1} MiB", (first - before) / MIB);
    for _ in 0..300 {
        run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).unwrap();
    }
    let after = resident_bytes().unwrap() as f64;
    assert!(after - first < 4.0 * MIB, "300 more runs grew RSS by {:.1} MiB", (after - first) / MIB);
}
