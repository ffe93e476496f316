//! Fuzz target `chip_callable`: the ChipCallable image parser
//! (`simpler::abi::parse_chip_callable` and its pointer-only variant).
//!
//! Input: raw image bytes. Checks: a refused image is `PTO_ERR_INVALID_CALLABLE`
//! with a message; an accepted image uses at most the given bytes, its hash
//! covers exactly the used bytes, bytes past the used extent change nothing,
//! the pointer-only parser (legacy entries) gives the same result, and
//! rebuilding it with `ChipCallableBuilder` gives an image that parses to the
//! same callable and is a fixed point of parse + build.
#![cfg_attr(fuzzing, no_main)]

use simpler::abi::{
    fnv1a64, parse_chip_callable, parse_chip_callable_ptr, ArgDirection, ChipCallableBuilder, ParsedCallable,
};
use simpler::ErrorCode;

/// Runs one input; panics on any broken property.
pub fn run(data: &[u8]) {
    let parsed = match parse_chip_callable(data) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::PtoErrInvalidCallable, "unexpected error kind: {e}");
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert!(parsed.image_len <= data.len(), "image_len {} > input {}", parsed.image_len, data.len());
    assert_eq!(parsed.content_hash, fnv1a64(&data[..parsed.image_len]));
    let used = parse_chip_callable(&data[..parsed.image_len]).expect("the used prefix parses");
    assert_eq!(used, parsed, "bytes past the used extent changed the result");
    // SAFETY: the slice parser accepted `data`, so every extent its header
    // declares (header, child headers, binaries) lies inside `data`.
    let by_ptr = unsafe { parse_chip_callable_ptr(data.as_ptr()) }.expect("pointer parse of an accepted image");
    assert_eq!(by_ptr, parsed, "pointer parse differs from slice parse");

    let rebuilt = rebuild(&parsed);
    let reparsed = parse_chip_callable(&rebuilt).expect("a rebuilt image parses");
    assert_eq!(same_content(&reparsed), same_content(&parsed), "rebuild changed the callable");
    assert_eq!(rebuild(&reparsed), rebuilt, "parse + build is not a fixed point");
}

/// Signature, names, orchestration bytes and (func_id, signature, binary) per child.
type Content<'a> = (&'a [ArgDirection], &'a str, &'a str, &'a [u8], Vec<(i32, &'a [ArgDirection], &'a [u8])>);

/// Everything of a callable except its layout (offsets, length, hash).
fn same_content(p: &ParsedCallable) -> Content<'_> {
    let children = p.children.iter().map(|c| (c.func_id, c.signature.as_slice(), c.binary.as_slice())).collect();
    (&p.signature, &p.func_name, &p.config_name, &p.orch_so, children)
}

fn rebuild(p: &ParsedCallable) -> Vec<u8> {
    let mut b = ChipCallableBuilder::new(&p.signature, &p.func_name, &p.orch_so);
    b.config_name(&p.config_name);
    for c in &p.children {
        b.child(c.func_id, &c.signature, &c.binary);
    }
    match b.build() {
        Ok(img) => img,
        Err(e) => panic!("the builder refuses a callable the parser accepted: {e}"),
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));
