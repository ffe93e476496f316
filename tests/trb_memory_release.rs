//! Resident memory after big runs (Linux, `/proc/self/statm`): a run that
//! cycles the whole default task window (16384 slots, about 75 MiB of task
//! payloads) keeps its pages while it is repeated, gives them back after the
//! next small run or after an idle period, and alternating big and small
//! runs stay flat. Its own
//! test binary (one test), so nothing else runs in this process meanwhile.

use simpler::abi::ArgDirection::{In, Out};
use simpler::config::{MapEnv, RuntimeConfig};
use simpler::context::{DeviceContext, ExecParams};
use simpler::demo::{args_of, assets, bench_callable, exec, register, run_vector, vector_style_callable};
use simpler::resident_bytes;

const MIB: f64 = 1048576.0;

fn rss_mib() -> f64 {
    resident_bytes().unwrap() as f64 / MIB
}

/// `n` independent no-op tasks (the bench's workload 0) on callable 0, in
/// scopes of 16000: a scope's tasks retire only when it ends, so all but the
/// first hot-payload count (`HOT_PAYLOADS`) of each scope write their slots'
/// own payloads, spread over the window.
fn big_run(ctx: &DeviceContext, n: u64) {
    let mut t = vec![0f32; 16];
    let args = args_of(&mut [&mut t], &[0, n, 16_000]).unwrap();
    let ex = ExecParams { block_dim: 3, aicpu_thread_num: 3, ..ExecParams::default() };
    ctx.run(0, &args, &ex, &RuntimeConfig::new()).unwrap();
}

#[test]
fn big_runs_keep_their_pages_while_repeated_and_give_them_back_after() {
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, &RuntimeConfig::new(), &[], &[], &MapEnv::default()).unwrap();
    register(&ctx, 0, &bench_callable().unwrap()).unwrap();
    register(&ctx, 1, &vector_style_callable(assets::TRB_VECTOR_ORCH, &[In, In, Out]).unwrap()).unwrap();
    let small = |runs: usize| {
        for _ in 0..runs {
            run_vector(&ctx, 1, &exec(None), &RuntimeConfig::new()).unwrap();
        }
    };
    small(3);
    let base = rss_mib();

    // 20000 tasks wrap the 16384-slot window of ring 0: every slot payload
    // past the hot entries is used.
    big_run(&ctx, 20_000);
    let big = rss_mib();
    assert!(big - base > 32.0, "a full-window run grew RSS by only {:.1} MiB", big - base);
    // Repeated, it keeps its pages (no growth, nothing to fault in again).
    big_run(&ctx, 20_000);
    let again = rss_mib();
    assert!((again - big).abs() < 8.0, "the repeated big run moved RSS from {big:.1} to {again:.1} MiB");

    // The next small run gives the big run's pages back.
    small(1);
    let after = rss_mib();
    assert!(
        after - base < 8.0 && big - after > 24.0,
        "RSS {base:.1} MiB before, {big:.1} MiB after the big run, {after:.1} MiB after a small run"
    );

    // Many small runs stay flat.
    small(200);
    let flat = rss_mib();
    assert!((flat - after).abs() < 4.0, "200 small runs moved RSS from {after:.1} to {flat:.1} MiB");

    // Alternating big and small runs: each small run gives back, no growth.
    for round in 0..3 {
        big_run(&ctx, 20_000);
        let b = rss_mib();
        assert!(b < again + 8.0, "round {round}: {b:.1} MiB after the big run (first: {again:.1})");
        small(1);
        let s = rss_mib();
        assert!(s < flat + 8.0, "round {round}: {s:.1} MiB after the small run (before: {flat:.1})");
    }

    // Left idle after a big run, the device gives the pages back by itself
    // (after ~200 ms; polled for up to 10 s on a loaded machine).
    big_run(&ctx, 20_000);
    let b = rss_mib();
    let start = std::time::Instant::now();
    let mut idle = b;
    while start.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
        idle = rss_mib();
        if idle - base < 8.0 {
            break;
        }
    }
    assert!(
        idle - base < 8.0 && b - idle > 24.0,
        "RSS {base:.1} MiB before, {b:.1} MiB after a big run, {idle:.1} MiB after {:?} idle",
        start.elapsed()
    );
    // And the next run works on the trimmed arena.
    small(1);
    big_run(&ctx, 20_000);
    ctx.finalize();
}
