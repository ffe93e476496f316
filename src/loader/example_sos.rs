//! Example shared objects compiled by build.rs from `examples/` and embedded
//! (the demo's and benchmark's programs, and test fixtures of every layer);
//! `crate::demo::assets` re-exports them.

macro_rules! asset {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/examples/", $name))
    };
}

/// The 5-task vector example orchestration (`examples/trb_vector`).
pub const TRB_VECTOR_ORCH: &[u8] = asset!("trb_vector_orch.so");
/// The nested-scope example that uses all four rings (`examples/trb_nested`).
pub const TRB_NESTED_ORCH: &[u8] = asset!("trb_nested_orch.so");
/// The fan-out / fan-in example (`examples/trb_fanout`).
pub const TRB_FANOUT_ORCH: &[u8] = asset!("trb_fanout_orch.so");
/// The benchmark orchestration (`examples/bench`).
pub const BENCH_ORCH: &[u8] = asset!("bench_orch.so");
/// `out = a + b`.
pub const KERNEL_ADD: &[u8] = asset!("kernel_add.so");
/// `out = in + s`.
pub const KERNEL_ADD_SCALAR: &[u8] = asset!("kernel_add_scalar.so");
/// `out = a * b`.
pub const KERNEL_MUL: &[u8] = asset!("kernel_mul.so");
/// Does nothing.
pub const KERNEL_NOOP: &[u8] = asset!("kernel_noop.so");
/// The aicpu_build_graph ring-form vector example (`examples/abg_ring_vector`).
pub const ABG_RING_VECTOR_ORCH: &[u8] = asset!("abg_ring_vector_orch.so");
/// The aicpu_build_graph vector example plugin (`examples/abg_vector`).
pub const ABG_VECTOR_ORCH: &[u8] = asset!("abg_vector_orch.so");
/// Raw-argument kernel `z = x + y` of the host_build_graph / aicpu_build_graph examples.
pub const ABG_KERNEL_ADD: &[u8] = asset!("abg_kernel_add.so");
/// Raw-argument kernel `z = x + s`.
pub const ABG_KERNEL_ADD_SCALAR: &[u8] = asset!("abg_kernel_add_scalar.so");
/// Raw-argument kernel `z = x * y`.
pub const ABG_KERNEL_MUL: &[u8] = asset!("abg_kernel_mul.so");
/// The host_build_graph vector example orchestration (`c_tests/fixtures/hbg_vector`).
pub const HBG_VECTOR_ORCH: &[u8] = asset!("hbg_vector_orch.so");
/// The aicpu_build_graph benchmark plugin (`examples/bench/abg_orchestration.c`).
pub const ABG_BENCH_ORCH: &[u8] = asset!("abg_bench_orch.so");
/// The host_build_graph benchmark orchestration (`examples/bench/hbg_orchestration.c`).
pub const HBG_BENCH_ORCH: &[u8] = asset!("hbg_bench_orch.so");
