//! Kernel pool: a kernel binary is released (dlclose) when the last
//! callable using it is unregistered, so registering and unregistering
//! many distinct kernels keeps the process's mappings flat. Its own test
//! binary (one test), so nothing else maps memory in this process meanwhile.

use simpler::abi::callable::ChipCallableBuilder;
use simpler::abi::ArgDirection::{In, Out};
use simpler::config::{MapEnv, RuntimeConfig};
use simpler::context::DeviceContext;
use simpler::demo::{assets, exec, register, run_vector};
use simpler::resident_bytes;

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps").lines().count()
}

/// The vector callable with kernel `add` made distinct by `tag` (bytes
/// appended after the ELF's end change the content key but not the code).
fn distinct_callable(tag: u32) -> Vec<u8> {
    let mut add = assets::KERNEL_ADD.to_vec();
    add.extend_from_slice(&tag.to_le_bytes());
    ChipCallableBuilder::new(&[In, In, Out], "aicpu_orchestration_entry", assets::TRB_VECTOR_ORCH)
        .config_name("aicpu_orchestration_config")
        .child(0, &[In, In, Out], &add)
        .child(1, &[In, Out], assets::KERNEL_ADD_SCALAR)
        .child(2, &[In, In, Out], assets::KERNEL_MUL)
        .build()
        .unwrap()
}

#[test]
fn distinct_kernels_are_released_at_unregister() {
    let ctx = DeviceContext::new();
    ctx.init_with_env(0, &RuntimeConfig::new(), &[], &[], &MapEnv::default()).unwrap();
    let cycle = |tag: u32| {
        register(&ctx, 0, &distinct_callable(tag)).unwrap();
        run_vector(&ctx, 0, &exec(None), &RuntimeConfig::new()).unwrap();
        ctx.unregister(0).unwrap();
    };
    // Warm-up: arena, scheduler threads, sim-context library.
    for tag in 0..20 {
        cycle(tag);
    }
    let (before, rss_before) = (mappings(), resident_bytes().unwrap());
    for tag in 20..320 {
        cycle(tag);
    }
    let (after, rss_after) = (mappings(), resident_bytes().unwrap());
    let rss_growth_mib = (rss_after as f64 - rss_before as f64) / 1048576.0;
    println!("300 distinct cycles: mappings {before} -> {after}, RSS {rss_growth_mib:+.1} MiB");
    assert!(rss_growth_mib < 16.0, "300 distinct cycles grew RSS by {rss_growth_mib:.1} MiB");
    // Each kernel object kept would add ~5 mappings (1,500 for 300 cycles).
    assert!(after <= before + 40, "300 distinct register/run/unregister cycles grew mappings {before} -> {after}");
    // The context is still fully usable.
    cycle(1000);
}
