//! The orchestration classifier on real binaries, on every truncation and on
//! corrupted headers, tables and strings.

use std::sync::Arc;

use super::*;
use crate::loader::elf::image::SHT_DYNSYM;
use crate::loader::example_sos as assets;
use crate::loader::testutil::build_so;

const HBG_FUNC: &str = "build_example_graph";

fn hbg_orch() -> Vec<u8> {
    build_so(&["c_tests/fixtures/hbg_vector/orchestration.c"], false, &[])
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Offset of the section header of the first section of type `kind`.
fn shdr_of(b: &[u8], kind: u32) -> usize {
    let shoff = le_u64(b, 0x28) as usize;
    let shnum = u16::from_le_bytes([b[0x3C], b[0x3D]]) as usize;
    (0..shnum)
        .map(|i| shoff + i * 64)
        .find(|&h| u32::from_le_bytes(b[h + 4..h + 8].try_into().unwrap()) == kind)
        .expect("section present")
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn trb_orchestration_is_trb_whatever_its_func_name() {
    for func in ["aicpu_orchestration_entry", "", "anything"] {
        let c = classify(assets::TRB_VECTOR_ORCH, func).unwrap();
        assert_eq!(c.variant, RuntimeVariant::TensormapAndRingbuffer);
        assert!(c.evidence.contains(TRB_BIND_SYMBOL), "{}", c.evidence);
    }
    let s = exported_symbols(assets::TRB_VECTOR_ORCH).unwrap();
    assert!(s.defines("aicpu_orchestration_entry") && s.defines("aicpu_orchestration_config"));
}

#[test]
fn hbg_orchestration_is_hbg_only_through_its_func_name() {
    let so = hbg_orch();
    let c = classify(&so, HBG_FUNC).unwrap();
    assert_eq!(c.variant, RuntimeVariant::HostBuildGraph);
    assert!(c.evidence.contains(HBG_FUNC), "{}", c.evidence);
    for func in ["", "other_builder"] {
        let msg = classify(&so, func).unwrap_err().to_string();
        assert!(msg.contains("cannot tell the runtime variant") && msg.contains(HBG_FUNC), "{msg}");
    }
}

#[test]
fn a_kernel_binary_is_ambiguous() {
    let msg = classify(assets::KERNEL_ADD, "build_graph").unwrap_err().to_string();
    assert!(msg.contains("exports none of these") && msg.contains("kernel_entry"), "{msg}");
}

#[test]
fn an_override_must_agree_with_the_binary() {
    let hbg = hbg_orch();
    let trb = RuntimeOverride { variant: RuntimeVariant::TensormapAndRingbuffer, origin: "SIMPLER_RUNTIME" };
    let host = RuntimeOverride { variant: RuntimeVariant::HostBuildGraph, origin: "the runtime knob" };
    let e = decide(&hbg, HBG_FUNC, Some(trb)).unwrap_err();
    assert_eq!(e.code(), crate::diagnostics::ErrorCode::PtoErrInvalidCallable);
    let msg = e.to_string();
    assert!(msg.contains("is host_build_graph") && msg.contains("SIMPLER_RUNTIME = tensormap_and_ringbuffer"), "{msg}");
    let msg = decide(assets::TRB_VECTOR_ORCH, "", Some(host)).unwrap_err().to_string();
    assert!(
        msg.contains("is tensormap_and_ringbuffer") && msg.contains("the runtime knob = host_build_graph"),
        "{msg}"
    );
    assert_eq!(decide(&hbg, HBG_FUNC, Some(host)).unwrap(), (RuntimeVariant::HostBuildGraph, None));
    assert_eq!(decide(&hbg, HBG_FUNC, None).unwrap(), (RuntimeVariant::HostBuildGraph, None));
    assert_eq!(decide(assets::TRB_VECTOR_ORCH, "", Some(trb)).unwrap(), (RuntimeVariant::TensormapAndRingbuffer, None));
}

fn abg_plugin() -> Vec<u8> {
    build_so(&["examples/abg_vector/orchestration.c"], false, &[])
}

fn abg_unmarked() -> Vec<u8> {
    build_so(&["c_tests/fixtures/abg_vector_unmarked/orchestration.c"], false, &[])
}

const ABG: RuntimeOverride = RuntimeOverride { variant: RuntimeVariant::AicpuBuildGraph, origin: "SIMPLER_RUNTIME" };
const ORIGINAL: (RuntimeVariant, Option<AbgForm>) = (RuntimeVariant::AicpuBuildGraph, Some(AbgForm::Original));

#[test]
fn a_marked_plugin_is_aicpu_build_graph_original_form() {
    let so = abg_plugin();
    let s = exported_symbols(&so).unwrap();
    assert!(s.defines(ABG_MARKER_SYMBOL) && s.defines("orchestration"));
    for func in ["", "orchestration"] {
        let c = classify(&so, func).unwrap();
        assert_eq!((c.variant, c.abg_form), ORIGINAL, "{func:?}");
        assert!(c.evidence.contains(ABG_MARKER_SYMBOL) && c.evidence.contains("'orchestration'"), "{}", c.evidence);
        assert_eq!(decide(&so, func, None).unwrap(), ORIGINAL);
        assert_eq!(decide(&so, func, Some(ABG)).unwrap(), ORIGINAL);
    }
    // The marker without the named entry is a specific error.
    let msg = classify(&so, "build_graph").unwrap_err().to_string();
    assert!(msg.contains(ABG_MARKER_SYMBOL) && msg.contains("'build_graph'"), "{msg}");
    // A host_build_graph override contradicts the marker.
    let host = RuntimeOverride { variant: RuntimeVariant::HostBuildGraph, origin: "the runtime knob" };
    let msg = decide(&so, "", Some(host)).unwrap_err().to_string();
    assert!(msg.contains("is aicpu_build_graph") && msg.contains("the runtime knob = host_build_graph"), "{msg}");
}

#[test]
fn an_unmarked_plugin_needs_the_override() {
    let so = abg_unmarked();
    let s = exported_symbols(&so).unwrap();
    assert!(!s.defines(ABG_MARKER_SYMBOL) && s.defines("orchestration"));
    // Without the override it reads as host_build_graph (named entry) or ambiguous (no func_name).
    assert_eq!(decide(&so, "orchestration", None).unwrap(), (RuntimeVariant::HostBuildGraph, None));
    assert!(decide(&so, "", None).unwrap_err().to_string().contains("cannot tell the runtime variant"));
    // The override routes it, with the named or the default entry.
    assert_eq!(decide(&so, "orchestration", Some(ABG)).unwrap(), ORIGINAL);
    assert_eq!(decide(&so, "", Some(ABG)).unwrap(), ORIGINAL);
    // So does it an HBG orchestration (indistinguishable); the backend then runs it as a plugin.
    assert_eq!(decide(&hbg_orch(), HBG_FUNC, Some(ABG)).unwrap(), ORIGINAL);
    // Not a TRB orchestration, nor a binary lacking the entry.
    let msg = decide(assets::TRB_VECTOR_ORCH, "", Some(ABG)).unwrap_err().to_string();
    assert!(
        msg.contains("is tensormap_and_ringbuffer") && msg.contains("SIMPLER_RUNTIME = aicpu_build_graph"),
        "{msg}"
    );
    assert!(decide(&so, "other", Some(ABG)).is_err());
}

#[test]
fn one_parse_per_distinct_binary() {
    let so = hbg_orch();
    let a = cached_symbols(&so).unwrap();
    let b = cached_symbols(&so.clone()).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn every_truncation_is_an_error() {
    let so = assets::TRB_VECTOR_ORCH;
    // The section header table sits at the end of the file: no prefix holds it.
    let tail = so.len().saturating_sub(4096);
    for len in (0..tail).step_by(61).chain(tail..so.len()) {
        let r = exported_symbols(&so[..len]);
        assert!(r.is_err(), "a {len}-byte prefix of {} bytes parsed", so.len());
        assert!(classify(&so[..len], "").is_err());
    }
}

#[test]
fn corrupt_headers_tables_and_strings_are_errors() {
    let so = assets::TRB_VECTOR_ORCH.to_vec();
    let dynsym = shdr_of(&so, SHT_DYNSYM);
    let link = u32::from_le_bytes(so[dynsym + 40..dynsym + 44].try_into().unwrap()) as usize;
    let strtab = le_u64(&so, 0x28) as usize + link * 64;
    let dynsym_index = ((dynsym - le_u64(&so, 0x28) as usize) / 64) as u32;
    type Mutation = (&'static str, Box<dyn Fn(&mut Vec<u8>)>);
    let cases: Vec<Mutation> = vec![
        ("not ELF", Box::new(|b| b[1] = b'X')),
        ("ELF32", Box::new(|b| b[4] = 1)),
        ("big-endian", Box::new(|b| b[5] = 2)),
        ("e_shoff past the end", Box::new(|b| put_u64(b, 0x28, u64::MAX - 10))),
        ("no section headers", Box::new(|b| put_u64(b, 0x28, 0))),
        ("e_shentsize wrong", Box::new(|b| b[0x3A] = 40)),
        ("e_shnum too large", Box::new(|b| b[0x3C..0x3E].copy_from_slice(&0xFFFFu16.to_le_bytes()))),
        ("dynsym offset huge", Box::new(move |b| put_u64(b, dynsym + 24, u64::MAX - 3))),
        ("dynsym size huge", Box::new(move |b| put_u64(b, dynsym + 32, 1 << 40))),
        ("dynsym size not whole", Box::new(move |b| put_u64(b, dynsym + 32, 25))),
        ("dynsym entsize wrong", Box::new(move |b| put_u64(b, dynsym + 56, 16))),
        ("dynsym link out of range", Box::new(move |b| put_u32(b, dynsym + 40, 9999))),
        ("dynsym links to itself", Box::new(move |b| put_u32(b, dynsym + 40, dynsym_index))),
        ("strtab past the end", Box::new(move |b| put_u64(b, strtab + 24, 1 << 50))),
        ("strtab of one byte", Box::new(move |b| put_u64(b, strtab + 32, 1))),
        ("no dynsym", Box::new(move |b| put_u32(b, dynsym + 4, 2))),
    ];
    for (what, mutate) in &cases {
        let mut b = so.clone();
        mutate(&mut b);
        let r = exported_symbols(&b);
        assert!(r.is_err(), "{what}: parsed {r:?}");
        // (`parse`, not `classify`: the cache keys by build-id, which the
        // mutations keep.)
        let msg = parse(&b).unwrap_err().to_string();
        assert!(msg.contains("cannot be classified"), "{what}: {msg}");
    }
}

#[test]
fn random_corruption_never_panics() {
    let so = assets::TRB_VECTOR_ORCH.to_vec();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let dynsym = shdr_of(&so, SHT_DYNSYM);
    for _ in 0..3000 {
        let mut b = so.clone();
        for _ in 0..1 + next() % 4 {
            // Bias half the flips into the headers and the symbol table.
            let at = if next() % 2 == 0 {
                let region = [0usize, dynsym, le_u64(&so, dynsym + 24) as usize];
                region[(next() % 3) as usize] + (next() % 64) as usize
            } else {
                (next() % b.len() as u64) as usize
            };
            if at < b.len() {
                b[at] = next() as u8;
            }
        }
        let _ = exported_symbols(&b);
    }
}

const RING: (RuntimeVariant, Option<AbgForm>) = (RuntimeVariant::AicpuBuildGraph, Some(AbgForm::Ring));

#[test]
fn the_ring_example_is_aicpu_build_graph_ring_form() {
    let s = exported_symbols(assets::ABG_RING_VECTOR_ORCH).unwrap();
    assert!(s.defines(ABG_RING_ENTRY) && !s.defines(TRB_BIND_SYMBOL) && !s.defines(ABG_MARKER_SYMBOL));
    for func in ["aicpu_orchestration_entry", "", "anything"] {
        let c = classify(assets::ABG_RING_VECTOR_ORCH, func).unwrap();
        assert_eq!((c.variant, c.abg_form), RING, "{func:?}");
        assert!(c.evidence.contains(ABG_RING_ENTRY) && c.evidence.contains(TRB_BIND_SYMBOL), "{}", c.evidence);
    }
    assert_eq!(decide(assets::ABG_RING_VECTOR_ORCH, ABG_RING_ENTRY, None).unwrap(), RING);
}

#[test]
fn the_ring_entry_next_to_the_trb_hook_stays_trb() {
    let s = exported_symbols(assets::TRB_VECTOR_ORCH).unwrap();
    assert!(s.defines(ABG_RING_ENTRY) && s.defines(TRB_BIND_SYMBOL));
    let c = classify(assets::TRB_VECTOR_ORCH, ABG_RING_ENTRY).unwrap();
    assert_eq!((c.variant, c.abg_form), (RuntimeVariant::TensormapAndRingbuffer, None));
    assert_eq!(
        decide(assets::TRB_VECTOR_ORCH, ABG_RING_ENTRY, None).unwrap(),
        (RuntimeVariant::TensormapAndRingbuffer, None)
    );
    let abg = RuntimeOverride { variant: RuntimeVariant::AicpuBuildGraph, origin: "SIMPLER_RUNTIME" };
    let msg = decide(assets::TRB_VECTOR_ORCH, ABG_RING_ENTRY, Some(abg)).unwrap_err().to_string();
    assert!(
        msg.contains("is tensormap_and_ringbuffer") && msg.contains("SIMPLER_RUNTIME = aicpu_build_graph"),
        "{msg}"
    );
}

#[test]
fn overrides_on_the_ring_example() {
    let abg = RuntimeOverride { variant: RuntimeVariant::AicpuBuildGraph, origin: "SIMPLER_RUNTIME" };
    assert_eq!(decide(assets::ABG_RING_VECTOR_ORCH, ABG_RING_ENTRY, Some(abg)).unwrap(), RING);
    let host = RuntimeOverride { variant: RuntimeVariant::HostBuildGraph, origin: "the runtime knob" };
    let e = decide(assets::ABG_RING_VECTOR_ORCH, ABG_RING_ENTRY, Some(host)).unwrap_err();
    assert_eq!(e.code(), crate::diagnostics::ErrorCode::PtoErrInvalidCallable);
    let msg = e.to_string();
    assert!(
        msg.contains("runtime variant mismatch")
            && msg.contains("is aicpu_build_graph")
            && msg.contains(ABG_RING_ENTRY)
            && msg.contains("the runtime knob = host_build_graph"),
        "{msg}"
    );
}
