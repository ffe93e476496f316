//! `check_image` on the bundled objects, on every truncation and on corrupted
//! headers, segments and dynamic tables.

use super::*;
use crate::diagnostics::ErrorCode;
use crate::loader::elf::image::{Bytes, DYN_SIZE, HOST_DATA, PHDR_SIZE};
use crate::loader::example_sos as assets;

fn defect(bytes: &[u8]) -> String {
    let e = check_image(bytes, "kernel SO of func_id 7").unwrap_err();
    assert_eq!(e.code(), ErrorCode::PtoErrInvalidBinary, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("kernel SO of func_id 7"), "{msg}");
    msg
}

fn put_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_ne_bytes());
}
fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Bytes(b).u16(off as u64)
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Bytes(b).u32(off as u64)
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Bytes(b).u64(off as u64)
}

fn phdr_of_type(b: &[u8], t: u32) -> usize {
    let phoff = u64_at(b, 32).unwrap() as usize;
    (0..u16_at(b, 56).unwrap() as usize).map(|i| phoff + i * PHDR_SIZE).find(|&at| u32_at(b, at) == Some(t)).unwrap()
}

#[test]
fn bundled_objects_pass() {
    for so in [assets::KERNEL_ADD, assets::KERNEL_MUL, assets::TRB_VECTOR_ORCH, assets::BENCH_ORCH] {
        check_image(so, "bundled").unwrap();
    }
}

#[test]
fn every_truncation_is_refused() {
    let so = assets::TRB_VECTOR_ORCH;
    let mut cuts: Vec<usize> = (0..so.len()).step_by(64).collect();
    cuts.extend([1, 4, 63, 64, 65, so.len() - 1]);
    assert!(cuts.len() > 100, "only {} cut points", cuts.len());
    for cut in cuts {
        defect(&so[..cut]);
    }
    assert!(defect(&so[..10]).contains("shorter than the 64-byte ELF header"));
}

#[test]
fn corrupt_headers_are_named() {
    let good = assets::KERNEL_ADD.to_vec();
    let corrupt = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        defect(&b)
    };
    assert!(corrupt(&|b| b[0] = b'X').contains("magic"));
    assert!(corrupt(&|b| b[4] = 1).contains("EI_CLASS is 1"));
    assert!(corrupt(&|b| b[5] = 3 - HOST_DATA).contains("EI_DATA"));
    assert!(corrupt(&|b| put_u16(b, 16, 2)).contains("ET_DYN"));
    assert!(corrupt(&|b| put_u16(b, 18, 40)).contains("e_machine is 40"));
    assert!(corrupt(&|b| put_u16(b, 54, 32)).contains("e_phentsize"));
    assert!(corrupt(&|b| put_u16(b, 56, 0)).contains("e_phnum is 0"));
    assert!(corrupt(&|b| put_u64(b, 32, u64::MAX - 8)).contains("program header table"));
    assert!(corrupt(&|b| {
        let n = b.len() as u64;
        put_u64(b, 40, n)
    })
    .contains("section header table"));
    let load = phdr_of_type(&good, PT_LOAD);
    assert!(corrupt(&|b| put_u64(b, load + 32, 1 << 40)).contains("PT_LOAD) file range"));
    assert!(corrupt(&|b| put_u64(b, load + 40, 0)).contains("memsz"));
    assert!(corrupt(&|b| put_u64(b, load + 48, 0x1001)).contains("alignment"));
    let dynamic = phdr_of_type(&good, PT_DYNAMIC);
    assert!(corrupt(&|b| put_u64(b, dynamic + 16, 1 << 44)).contains("PT_DYNAMIC"));
    assert!(corrupt(&|b| put_u64(b, dynamic, 0)).contains("no PT_DYNAMIC"));
    // Dynamic entries: point DT_STRTAB far away; drop the terminator.
    let dyn_off = u64_at(&good, dynamic + 8).unwrap() as usize;
    let dyn_size = u64_at(&good, dynamic + 32).unwrap() as usize;
    let entry_of = |b: &[u8], tag: i64| {
        (dyn_off..dyn_off + dyn_size).step_by(DYN_SIZE).find(|&at| u64_at(b, at) == Some(tag as u64)).unwrap()
    };
    let strtab = entry_of(&good, DT_STRTAB);
    assert!(corrupt(&|b| put_u64(b, strtab + 8, 1 << 50)).contains("DT_STRTAB"));
    assert!(corrupt(&|b| {
        for at in (dyn_off..dyn_off + dyn_size).step_by(DYN_SIZE) {
            if u64_at(b, at) == Some(0) {
                put_u64(b, at, 0x6fff_fff9); // DT_RELACOUNT: harmless tag
            }
        }
    })
    .contains("DT_NULL"));
    assert!(corrupt(&|b| put_u64(b, strtab, 0x6fff_fff9)).contains("no DT_STRTAB"));
    // A GNU hash header claiming 2^32-1 buckets.
    let gnu = entry_of(&good, DT_GNU_HASH);
    let gnu_addr = u64_at(&good, gnu + 8).unwrap();
    let load_of = |a: u64| {
        let at = phdr_of_type(&good, PT_LOAD);
        let (off, vaddr) = (u64_at(&good, at + 8).unwrap(), u64_at(&good, at + 16).unwrap());
        (off + a - vaddr) as usize
    };
    assert!(
        corrupt(&|b| b[load_of(gnu_addr)..load_of(gnu_addr) + 4].copy_from_slice(&[0xff; 4])).contains("DT_GNU_HASH")
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let good = assets::KERNEL_ADD;
    for round in 0..3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut b = good[..(x as usize % good.len()).max(64)].to_vec();
        // Flip a few header / program-header bytes.
        for k in 0..4 {
            let at = ((x >> (k * 12)) as usize) % b.len().min(64 + 56 * 12);
            b[at] ^= (x >> (k * 8 + 3)) as u8;
        }
        if round % 2 == 0 {
            b.truncate(b.len() / 2 + 1);
        }
        let _ = check_image(&b, "fuzz");
    }
}
