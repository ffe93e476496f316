//! Example shared objects compiled by build.rs from `examples/` and embedded.

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
