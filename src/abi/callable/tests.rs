//! Builder layout against upstream's, builder/parser round trips, and the
//! rejection of every truncated or corrupted image.

use super::*;
use crate::abi::hash::fnv1a64;
use crate::abi::types::ArgDirection;
use crate::diagnostics::Error;
use ArgDirection::*;

const H: usize = CHIP_CALLABLE_HEADER_SIZE;

fn orch() -> Vec<u8> {
    (0..100u32).map(|i| (i * 7 + 1) as u8).collect()
}

fn sample() -> Vec<u8> {
    ChipCallableBuilder::new(&[In, In, Out, Scalar], "aicpu_orchestration_entry", &orch())
        .config_name("aicpu_orchestration_config")
        .child(0, &[In, In, Out], &[0xAA; 10])
        .child(2, &[Inout], &[0xBB; 70])
        .child(1023, &[], &[])
        .build()
        .unwrap()
}

fn rd_u32(img: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(img[off..off + 4].try_into().unwrap())
}

fn wr(img: &mut [u8], off: usize, v: u32) {
    img[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn err_msg(img: &[u8]) -> String {
    match parse_chip_callable(img) {
        Err(e @ Error::InvalidCallable(_)) => e.to_string(),
        other => panic!("expected InvalidCallable, got {other:?}"),
    }
}

#[test]
fn builder_layout_matches_upstream() {
    let img = sample();
    // Orch SO 100 B → child 0 at 128 (size 202) → child 1 at align64(330)
    // = 384 (size 262) → child 2 at align64(646) = 704 (size 192) → end 896.
    assert_eq!(img.len(), H + 896);
    assert_eq!(rd_u32(&img, 512), 4, "sig_count");
    assert_eq!(rd_u32(&img, 0), In as u32);
    assert_eq!(rd_u32(&img, 12), Scalar as u32);
    assert_eq!(rd_u32(&img, 516), 100, "binary_size");
    assert_eq!(&img[520..545], b"aicpu_orchestration_entry");
    assert_eq!(img[545], 0);
    assert_eq!(rd_u32(&img, 584), 25, "func_name_len");
    assert_eq!(rd_u32(&img, 588 + 4 * 2), 1023, "child_func_ids[2]");
    assert_eq!([rd_u32(&img, 4684), rd_u32(&img, 4688), rd_u32(&img, 4692)], [128, 384, 704]);
    assert_eq!(rd_u32(&img, 8780), 3, "child_count");
    assert_eq!(&img[8784..8810], b"aicpu_orchestration_config");
    assert_eq!(rd_u32(&img, 8848), 26, "config_name_len");
    assert!(img[8852..H].iter().all(|&b| b == 0));
    assert_eq!(&img[H..H + 100], &orch()[..]);
    // Child 1 header and binary.
    let c1 = H + 384;
    assert_eq!(rd_u32(&img, c1), Inout as u32);
    assert_eq!(rd_u32(&img, c1 + 128), 1, "child sig_count");
    assert_eq!(rd_u32(&img, c1 + 132), 70, "child binary_size");
    assert!(img[c1 + 136..c1 + 192].iter().all(|&b| b == 0));
    assert!(img[c1 + 192..c1 + 262].iter().all(|&b| b == 0xBB));
    // Gaps are zero.
    assert!(img[H + 100..H + 128].iter().all(|&b| b == 0));
    assert!(img[H + 330..H + 384].iter().all(|&b| b == 0));
}

#[test]
fn roundtrip_builder_parser() {
    let img = sample();
    let p = parse_chip_callable(&img).unwrap();
    assert_eq!(p.signature, vec![In, In, Out, Scalar]);
    assert_eq!(p.func_name, "aicpu_orchestration_entry");
    assert_eq!(p.config_name, "aicpu_orchestration_config");
    assert_eq!(p.orch_so, orch());
    assert_eq!(p.image_len, img.len());
    assert_eq!(p.content_hash, fnv1a64(&img));
    let ids: Vec<_> = p.children.iter().map(|c| (c.func_id, c.offset)).collect();
    assert_eq!(ids, vec![(0, 128), (2, 384), (1023, 704)]);
    assert_eq!(p.children[0].signature, vec![In, In, Out]);
    assert_eq!(p.children[0].binary, vec![0xAA; 10]);
    assert_eq!(p.children[1].binary, vec![0xBB; 70]);
    assert!(p.children[2].binary.is_empty());
    assert_eq!(p.children[1].binary_offset(), H + 384 + 192);

    // Trailing bytes are ignored and not hashed.
    let mut longer = img.clone();
    longer.extend_from_slice(&[1, 2, 3]);
    let q = parse_chip_callable(&longer).unwrap();
    assert_eq!(q, p);

    // No children: image = header + SO, unaligned end.
    let bare = ChipCallableBuilder::new(&[], "", &[9; 5]).build().unwrap();
    assert_eq!(bare.len(), H + 5);
    let p = parse_chip_callable(&bare).unwrap();
    assert_eq!((p.image_len, p.orch_so.len(), p.children.len()), (H + 5, 5, 0));
    // Different content → different hash.
    let other = ChipCallableBuilder::new(&[], "", &[8; 5]).build().unwrap();
    assert_ne!(parse_chip_callable(&other).unwrap().content_hash, p.content_hash);
}

#[test]
fn duplicate_child_func_ids_are_refused() {
    let img = ChipCallableBuilder::new(&[In], "e", &orch())
        .child(5, &[In], &[0xAA; 10])
        .child(6, &[In], &[0xBB; 10])
        .child(5, &[In], &[0xCC; 10])
        .build()
        .unwrap();
    let msg = err_msg(&img);
    assert!(msg.contains("child_func_ids[2] = 5 duplicates child_func_ids[0]") && msg.contains("unique"), "{msg}");
}

#[test]
fn every_truncation_is_rejected() {
    let img = sample();
    for len in (0..img.len()).step_by(7).chain([img.len() - 1, H - 1, H]) {
        let msg = err_msg(&img[..len]);
        assert!(!msg.is_empty());
    }
    assert!(err_msg(&img[..10]).contains("header"));
    assert!(err_msg(&img[..H + 50]).contains("binary_size"));
    assert!(err_msg(&img[..H + 128 + 100]).contains("child 0 header"));
    assert!(err_msg(&img[..H + 384 + 200]).contains("child 1 binary_size"));
}

#[test]
fn corrupted_fields_are_named() {
    let img = sample();
    let check = |f: &dyn Fn(&mut Vec<u8>), needle: &str| {
        let mut bad = img.clone();
        f(&mut bad);
        let msg = err_msg(&bad);
        assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
    };
    check(&|b| wr(b, 516, u32::MAX), "binary_size");
    check(&|b| wr(b, 516, 200), "child_offsets[0]");
    check(&|b| wr(b, 4684, 130), "child_offsets[0] = 130 is not 64-aligned");
    check(&|b| wr(b, 4688, 128), "children 0 and 1 overlap");
    check(&|b| wr(b, 4692, 384), "overlap");
    check(&|b| wr(b, 4, 4), "signature[1] = 4");
    check(&|b| wr(b, 0, u32::MAX), "signature[0] = -1");
    check(&|b| wr(b, H + 128 + 4, 9), "child 0 signature[1] = 9");
    check(&|b| wr(b, 588, 1024), "child_func_ids[0] = 1024");
    check(&|b| wr(b, 592, u32::MAX), "child_func_ids[1] = -1");
    check(&|b| wr(b, 512, 129), "sig_count 129");
    check(&|b| wr(b, 512, u32::MAX), "sig_count -1");
    check(&|b| wr(b, H + 128 + 128, 33), "child 0 sig_count 33");
    check(&|b| wr(b, 8780, 1025), "child_count 1025");
    check(&|b| wr(b, 8780, u32::MAX), "child_count -1");
    check(&|b| b[520..584].fill(b'x'), "func_name has no NUL");
    check(&|b| b[8784..8848].fill(b'x'), "config_name has no NUL");
    check(&|b| wr(b, 584, 64), "func_name_len 64");
    check(&|b| wr(b, 584, 3), "func_name_len 3 does not match");
    check(&|b| b[520] = 0xff, "func_name is not valid UTF-8");
    check(&|b| wr(b, H + 704 + 132, 1), "child 2 binary_size 1");
    check(&|b| wr(b, H + 128 + 132, 1 << 30), "child 0 binary_size");
    // A later child placed before an earlier one is fine if disjoint.
    let mut swapped = img.clone();
    wr(&mut swapped, 4684, 704);
    wr(&mut swapped, 4692, 128);
    // child 2 (empty, 192 B) now at 128, child 0 header read at 704 is
    // child 2's old header (sig_count 0, binary_size 0): still valid.
    let p = parse_chip_callable(&swapped).unwrap();
    assert_eq!(p.children[0].offset, 704);
}

#[test]
fn pointer_parse_matches_slice_parse() {
    let img = sample();
    let mut buf = vec![0u8; img.len() + 1];
    buf[1..].copy_from_slice(&img);
    // SAFETY: buf[1..] holds the complete image its header declares.
    let p = unsafe { parse_chip_callable_ptr(buf.as_ptr().add(1)) }.unwrap();
    assert_eq!(p, parse_chip_callable(&img).unwrap());
    // SAFETY: NULL is reported, never dereferenced.
    let e = unsafe { parse_chip_callable_ptr(std::ptr::null()) }.unwrap_err();
    assert!(matches!(e, Error::NullPointer { what: "callable" }));
}

#[test]
fn pointer_parse_rejects_implausible_headers_before_reading() {
    // Each corrupted header implies more than 1 GiB; the buffer is only
    // the real image, so reading past it would be a bug (caught by the
    // 1 GiB check firing first).
    let img = sample();
    let run = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut bad = img.clone();
        f(&mut bad);
        // SAFETY: the header is readable; the checks under test must
        // reject it before anything beyond `bad` is read.
        unsafe { parse_chip_callable_ptr(bad.as_ptr()) }.unwrap_err().to_string()
    };
    let mut bare = ChipCallableBuilder::new(&[], "f", &[1; 5]).build().unwrap();
    wr(&mut bare, 516, u32::MAX);
    // SAFETY: the header is readable; the 1 GiB check must fire before
    // the (absent) SO bytes are read.
    let m = unsafe { parse_chip_callable_ptr(bare.as_ptr()) }.unwrap_err().to_string();
    assert!(m.contains("binary_size") && m.contains("limit"), "{m}");
    let m = run(&|b| wr(b, H + 704 + 132, 0x4000_0000));
    assert!(m.contains("child 2 binary_size") && m.contains("limit"), "{m}");
    let m = run(&|b| {
        wr(b, 4692, 0x7FFF_FFC0);
    });
    assert!(m.contains("child_offsets[2]") && m.contains("limit"), "{m}");
    // Header-level errors surface before child headers are read.
    let m = run(&|b| wr(b, 4688, 100));
    assert!(m.contains("64-aligned"), "{m}");
    let m = run(&|b| wr(b, 8780, 5000));
    assert!(m.contains("child_count 5000"), "{m}");
}

#[test]
fn builder_rejects_bad_arguments() {
    let long = "n".repeat(64);
    let ok63 = "n".repeat(63);
    assert!(ChipCallableBuilder::new(&[], &ok63, &[]).build().is_ok());
    assert!(ChipCallableBuilder::new(&[], &long, &[]).build().is_err());
    assert!(ChipCallableBuilder::new(&[], "a\0b", &[]).build().is_err());
    assert!(ChipCallableBuilder::new(&[], "f", &[]).config_name(&long).build().is_err());
    assert!(ChipCallableBuilder::new(&[In; 129], "f", &[]).build().is_err());
    assert!(ChipCallableBuilder::new(&[In; 128], "f", &[]).build().is_ok());
    assert!(ChipCallableBuilder::new(&[], "f", &[]).child(1024, &[], &[]).build().is_err());
    assert!(ChipCallableBuilder::new(&[], "f", &[]).child(-1, &[], &[]).build().is_err());
    assert!(ChipCallableBuilder::new(&[], "f", &[]).child(0, &[In; 33], &[]).build().is_err());
    let mut b = ChipCallableBuilder::new(&[], "f", &[]);
    for i in 0..1024 {
        b.child(i, &[], &[]);
    }
    let img = b.build().unwrap();
    assert_eq!(img.len(), H + 1024 * 192);
    assert_eq!(parse_chip_callable(&img).unwrap().children.len(), 1024);
    b.child(0, &[], &[]);
    let e = b.build().unwrap_err();
    assert!(e.to_string().contains("1025 children"), "{e}");
}
