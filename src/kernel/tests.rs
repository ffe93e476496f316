//! Kernel SO and sim-context tests with compiled C kernels.

use super::{sim_context, KernelSo, KernelTable};
use crate::abi::{DataType, Tensor};
use crate::diagnostics::Error;
use crate::loader::testutil::build_so;

/// What one kernel call receives, as `include/pto_kernel_abi.h` reads it:
/// 50 argument slots (tensor pointers, scalars, then `args[48]` ->
/// [`KernelLocalContext`] and `args[49]` -> [`KernelGlobalContext`]) and
/// the two contexts they point to.
#[repr(C, align(64))]
struct KernelArgs {
    args: [u64; 50],
    local_context: KernelLocalContext,
    global_context: KernelGlobalContext,
}

/// `KernelLocalContext` (48 B): the SPMD block of this call.
#[repr(C)]
struct KernelLocalContext {
    block_idx: i32,
    block_num: i32,
    async_ctx: [u8; 40],
}

/// `KernelGlobalContext`: the executing core's AIV lane.
#[repr(C)]
struct KernelGlobalContext {
    sub_block_id: i32,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<KernelLocalContext>() == 48);
    assert!(offset_of!(KernelLocalContext, block_num) == 4);
    assert!(size_of::<KernelGlobalContext>() == 4);
};

impl KernelArgs {
    /// Zeroed slots and contexts.
    fn zeroed() -> KernelArgs {
        KernelArgs {
            args: [0; 50],
            local_context: KernelLocalContext { block_idx: 0, block_num: 0, async_ctx: [0; 40] },
            global_context: KernelGlobalContext { sub_block_id: 0 },
        }
    }

    /// Points `args[48]` / `args[49]` at the contexts; again after a move.
    fn link_contexts(&mut self) {
        self.args[48] = &self.local_context as *const KernelLocalContext as u64;
        self.args[49] = &self.global_context as *const KernelGlobalContext as u64;
    }
}

fn probe(hooks: bool) -> KernelSo {
    let defines: &[&str] = if hooks { &["WITH_HOOKS"] } else { &[] };
    let bytes = build_so(&["csrc/tests/kernel_probe.c"], false, defines);
    KernelSo::load(&bytes, 9).expect("load probe kernel")
}

/// Runs the probe on a fresh thread with the given identity:
/// returns (subblock id, pipe block address, value before increment).
fn run_probe(k: &KernelSo, cluster: u32, lane: u32, device: i32, key: u64, size: usize) -> [u64; 3] {
    std::thread::scope(|s| {
        s.spawn(|| {
            sim_context::set_core(cluster, lane, device).unwrap();
            let mut out = [0u64; 3];
            let mut args = [0i64; 50];
            args[0] = out.as_mut_ptr() as i64;
            args[1] = key as i64;
            args[2] = size as i64;
            // SAFETY: the probe reads args[0..3] and writes 3 u64 to out.
            unsafe { k.call(args.as_mut_ptr()) }.expect("the kernel returns normally");
            out
        })
        .join()
        .unwrap()
    })
}

#[test]
fn kernels_see_the_lane_set_by_set_core() {
    for hooks in [false, true] {
        let k = probe(hooks);
        assert_eq!(k.registered_hooks(), hooks);
        assert_eq!(k.func_id(), 9);
        assert_eq!(run_probe(&k, 2, 1, 200, 1, 8)[0], 1);
        assert_eq!(run_probe(&k, 2, 0, 200, 1, 8)[0], 0);
    }
    // Fresh threads default to lane 0; set_core is per thread.
    std::thread::spawn(|| {
        sim_context::ensure_loaded().unwrap();
        assert_eq!(sim_context::subblock_id().unwrap(), 0);
        sim_context::set_core(0, 1, 201).unwrap();
        assert_eq!(sim_context::subblock_id().unwrap(), 1);
    })
    .join()
    .unwrap();
}

#[test]
fn pipe_state_is_zeroed_shared_per_cluster_and_cleared_per_run() {
    let k = probe(false);
    let dev = 202;
    let a = run_probe(&k, 5, 0, dev, 7, 64);
    assert_ne!(a[1], 0);
    assert_eq!(a[1] % 64, 0);
    assert_eq!(a[2], 0, "fresh block is zeroed");
    // Same device and cluster, other lane/thread: same block.
    let b = run_probe(&k, 5, 1, dev, 7, 64);
    assert_eq!(b[1], a[1]);
    assert_eq!(b[2], 1);
    // Other cluster, other key, other device: other blocks.
    let c = run_probe(&k, 6, 0, dev, 7, 64);
    assert_ne!(c[1], a[1]);
    assert_eq!(c[2], 0);
    let d = run_probe(&k, 5, 0, dev, 8, 64);
    assert_ne!(d[1], a[1]);
    let e = run_probe(&k, 5, 0, dev + 1, 7, 64);
    assert_ne!(e[1], a[1]);
    assert_eq!(e[2], 0);
    // Larger than the existing block, size 0, or no bound device: NULL.
    assert_eq!(run_probe(&k, 5, 0, dev, 7, 128)[1], 0);
    assert_eq!(run_probe(&k, 5, 0, dev, 9, 0)[1], 0);
    assert_eq!(run_probe(&k, 5, 0, -1, 7, 64)[1], 0);
    // A new run discards the state of its device only.
    assert_eq!(run_probe(&k, 5, 0, dev, 7, 64)[2], 2);
    sim_context::clear_pipe_state(dev).unwrap();
    assert_eq!(run_probe(&k, 5, 0, dev, 7, 64)[2], 0);
    assert_eq!(run_probe(&k, 5, 0, dev + 1, 7, 64)[2], 1);
}

#[test]
fn vector_kernels_compute_47() {
    let load = |name: &str, id: i32| {
        let src = format!("examples/kernels/{name}.c");
        KernelSo::load(&build_so(&[src.as_str()], false, &[]), id).unwrap()
    };
    let add = load("kernel_add", 0);
    let add_scalar = load("kernel_add_scalar", 1);
    let mul = load("kernel_mul", 2);
    let noop = load("kernel_noop", 3);
    const N: usize = 1000;
    let mut bufs: Vec<Vec<f32>> = vec![vec![2.0; N], vec![3.0; N]];
    bufs.extend((0..5).map(|_| vec![0.0f32; N]));
    let t: Vec<Tensor> =
        bufs.iter_mut().map(|b| Tensor::external(b.as_mut_ptr() as u64, &[N as u32], DataType::Float32)).collect();
    let (a, b, c, d, e, g, f) = (0, 1, 2, 3, 4, 5, 6);

    // One dispatch per SPMD block, like the runtime does.
    let dispatch = |k: &KernelSo, tensors: &[usize], scalars: &[u64], blocks: i32| {
        for idx in 0..blocks {
            let mut p = Box::new(KernelArgs::zeroed());
            for (i, &ti) in tensors.iter().enumerate() {
                p.args[i] = &t[ti] as *const Tensor as u64;
            }
            for (j, &s) in scalars.iter().enumerate() {
                p.args[tensors.len() + j] = s;
            }
            p.local_context.block_idx = idx;
            p.local_context.block_num = blocks;
            p.link_contexts();
            // SAFETY: the payload holds valid tensor pointers (buffers of
            // N floats) and context pointers, as the kernels expect.
            unsafe { k.call(p.args.as_mut_ptr().cast()) }.expect("the kernel returns normally");
        }
    };
    dispatch(&add, &[a, b, c], &[], 1);
    dispatch(&add_scalar, &[c, d], &[0x3F80_0000, 3], 2);
    dispatch(&add_scalar, &[c, e], &[0x4000_0000, 3], 3);
    dispatch(&mul, &[d, e, g], &[3], 1);
    dispatch(&noop, &[], &[], 1);
    dispatch(&add, &[g, c, f], &[], 4);
    assert!(bufs[f].iter().all(|&v| v == 47.0), "{:?}", &bufs[f][..4]);
    assert!(bufs[g].iter().all(|&v| v == 42.0));
}

#[test]
fn kernel_load_errors() {
    let bytes = build_so(&["csrc/tests/ops_table_test.c"], false, &[]);
    let err = KernelSo::load(&bytes, 4).unwrap_err();
    assert!(matches!(&err, Error::Load(m) if m.contains("kernel_entry")), "{err:?}");
    assert!(matches!(KernelSo::load(b"\x7fELF junk", 4), Err(Error::InvalidBinary(_))));
}

#[test]
fn kernel_table_runs_publishes_on_change_latches_missing_and_reports_throws() {
    let probe = probe(false);
    let throw_std = KernelSo::load(&build_so(&["csrc/tests/faulty_kernel.cpp"], true, &["THROW_STD"]), 2).unwrap();
    let throw_int = KernelSo::load(&build_so(&["csrc/tests/faulty_kernel.cpp"], true, &["THROW_INT"]), 3).unwrap();
    let entries = [None, Some(probe.entry()), Some(throw_std.entry()), Some(throw_int.entry()), None];
    // A fresh thread: the core identity is per thread.
    std::thread::spawn(move || {
        let table = KernelTable::new(&entries, 203);
        let mut out = [0u64; 3];
        // `out` is used only through this pointer (the kernel writes it).
        let out = out.as_mut_ptr();
        // SAFETY: `out` points to 3 u64 alive for the thread.
        let lane_seen = || unsafe { out.read() };
        let mut args = [0u64; 50];
        args[0] = out as u64;
        args[1] = 1;
        args[2] = 8;
        let mut run = |func_id: i32, lane: u32, changed: bool| {
            // SAFETY: the entries are live kernels; the probe reads
            // args[0..3] and writes 3 u64 to `out`; the faulty ones throw.
            unsafe { table.run(func_id, args.as_mut_ptr(), 4, lane, changed) }
        };
        run(1, 1, true).expect("the probe returns normally");
        assert_eq!(lane_seen(), 1, "the lane is published when the core changed");
        run(1, 0, false).unwrap();
        assert_eq!(lane_seen(), 1, "not republished when the core did not change");
        run(1, 0, true).unwrap();
        assert_eq!(lane_seen(), 0);
        assert_eq!(run(2, 0, false).unwrap_err(), "kernel func_id=2: the kernel threw a C++ exception: kernel boom");
        assert_eq!(
            run(3, 0, false).unwrap_err(),
            "kernel func_id=3: the kernel threw a C++ exception: unknown C++ exception (not derived from std::exception)"
        );
        assert_eq!(table.missing(), None);
        // Missing kernels run nothing and succeed; the first one is latched.
        // SAFETY: as for `lane_seen`.
        unsafe { out.write(77) };
        for missing in [4, 1024, 5000, i32::MAX] {
            run(missing, 1, true).expect("a missing kernel is no error here");
        }
        assert_eq!(lane_seen(), 77, "nothing ran");
        assert_eq!(table.missing(), Some(4));
        run(0, 1, true).unwrap();
        assert_eq!(table.missing(), Some(4), "only the first is kept");
        // Past the end of the table, on a fresh table.
        let table = KernelTable::new(&entries, 203);
        // SAFETY: as above (nothing runs).
        unsafe { table.run(5, args.as_mut_ptr(), 0, 0, true) }.unwrap();
        assert_eq!(table.missing(), Some(5));
    })
    .join()
    .unwrap();
}
