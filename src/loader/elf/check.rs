//! ELF pre-check of a shared-object image, run before the bytes are written
//! to a file and `dlopen`ed. The system loader trusts the file: it maps every
//! `PT_LOAD` segment by its program header and reads the dynamic section
//! through the mapping, so a segment that extends past the end of a
//! truncated file faults (SIGBUS) inside `dlopen`, and a corrupt dynamic
//! table makes it dereference wild addresses. This check refuses such images
//! with an error naming the binary and the defect.
//!
//! Checked: the file header ([`Image::parse`]: identification, type,
//! machine, sizes, the program and section header tables inside the file);
//! every segment's file range inside the file; `PT_LOAD` segments: `memsz >=
//! filesz`, alignment 0/1 or a power of two with `vaddr ≡ offset (mod
//! align)`, ascending and non-overlapping; exactly one `PT_DYNAMIC`, inside
//! the file-backed part of a `PT_LOAD`, terminated by `DT_NULL`, with
//! `DT_STRTAB` and `DT_SYMTAB`, every address-valued entry inside a loaded
//! segment (with its size, where the entry has one), every string offset
//! inside the string table, and the fixed part of the `DT_HASH` /
//! `DT_GNU_HASH` tables (header, bloom words, buckets) inside the file.

use super::image::{Image, ProgramHeader};
use crate::diagnostics::{Error, Result};

const PT_NULL: u32 = 0;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;

// Dynamic tags whose value is an address, with the tag of its size (0: none).
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_STRSZ: i64 = 10;
const DT_HASH: i64 = 4;
const DT_GNU_HASH: i64 = 0x6fff_fef5;
const ADDRESS_TAGS: [(i64, &str, i64); 16] = [
    (3, "DT_PLTGOT", 0),
    (DT_HASH, "DT_HASH", 0),
    (DT_STRTAB, "DT_STRTAB", DT_STRSZ),
    (DT_SYMTAB, "DT_SYMTAB", 0),
    (7, "DT_RELA", 8),
    (12, "DT_INIT", 0),
    (13, "DT_FINI", 0),
    (17, "DT_REL", 18),
    (23, "DT_JMPREL", 2),
    (25, "DT_INIT_ARRAY", 27),
    (26, "DT_FINI_ARRAY", 28),
    (32, "DT_PREINIT_ARRAY", 33),
    (DT_GNU_HASH, "DT_GNU_HASH", 0),
    (0x6fff_fff0, "DT_VERSYM", 0),
    (0x6fff_fffc, "DT_VERDEF", 0),
    (0x6fff_fffe, "DT_VERNEED", 0),
];
// Dynamic tags whose value is an offset into the string table.
const STRING_TAGS: [(i64, &str); 4] = [(1, "DT_NEEDED"), (14, "DT_SONAME"), (15, "DT_RPATH"), (29, "DT_RUNPATH")];

type Segment = ProgramHeader;

fn segment_type(t: u32) -> String {
    match t {
        PT_LOAD => "PT_LOAD".into(),
        PT_DYNAMIC => "PT_DYNAMIC".into(),
        3 => "PT_INTERP".into(),
        4 => "PT_NOTE".into(),
        6 => "PT_PHDR".into(),
        7 => "PT_TLS".into(),
        0x6474_e550 => "PT_GNU_EH_FRAME".into(),
        0x6474_e551 => "PT_GNU_STACK".into(),
        0x6474_e552 => "PT_GNU_RELRO".into(),
        0x6474_e553 => "PT_GNU_PROPERTY".into(),
        t => format!("type {t:#x}"),
    }
}

/// Checks that `bytes` is an ELF shared object the host's loader can map
/// without reading outside the file (see the module documentation for the
/// rules). `what` names the binary in the error (e.g. "kernel SO of func_id
/// 3"). Pure: reads only `bytes`. Errors are [`Error::InvalidBinary`].
pub fn check_image(bytes: &[u8], what: &str) -> Result<()> {
    check(bytes).map_err(|defect| Error::InvalidBinary(format!("{what}: {defect}")))
}

fn check(b: &[u8]) -> std::result::Result<(), String> {
    let image = Image::parse(b)?;
    let len = b.len() as u64;
    let mut loads: Vec<Segment> = Vec::new();
    let mut dynamic: Option<Segment> = None;
    for seg in image.program_headers() {
        let (i, p_type, align) = (seg.index, seg.kind, seg.align);
        if p_type == PT_NULL {
            continue;
        }
        let name = segment_type(p_type);
        let end = seg.offset.checked_add(seg.filesz);
        if end.is_none_or(|e| e > len) {
            return Err(format!(
                "program header {i} ({name}) file range [{:#x}, +{:#x}) extends past the end of the {len}-byte file (truncated?)",
                seg.offset, seg.filesz
            ));
        }
        if p_type == PT_LOAD {
            if seg.memsz < seg.filesz {
                return Err(format!(
                    "program header {i} (PT_LOAD) has memsz {:#x} < filesz {:#x}",
                    seg.memsz, seg.filesz
                ));
            }
            if seg.vaddr.checked_add(seg.memsz).is_none() {
                return Err(format!("program header {i} (PT_LOAD) wraps the address space"));
            }
            if align > 1 && (!align.is_power_of_two() || seg.vaddr % align != seg.offset % align) {
                return Err(format!(
                    "program header {i} (PT_LOAD) alignment {align:#x} is not a power of two dividing vaddr - offset ({:#x} - {:#x})",
                    seg.vaddr, seg.offset
                ));
            }
            if let Some(prev) = loads.last() {
                if seg.vaddr < prev.vaddr + prev.memsz {
                    return Err(format!(
                        "program header {i} (PT_LOAD) at vaddr {:#x} overlaps or precedes the previous PT_LOAD (ends at {:#x}): loadable segments must ascend",
                        seg.vaddr,
                        prev.vaddr + prev.memsz
                    ));
                }
            }
            loads.push(seg);
        } else if p_type == PT_DYNAMIC {
            if dynamic.is_some() {
                return Err(format!("program header {i} is a second PT_DYNAMIC"));
            }
            dynamic = Some(seg);
        }
    }
    if loads.is_empty() {
        return Err("there is no PT_LOAD segment".into());
    }
    let dynamic = dynamic.ok_or("there is no PT_DYNAMIC segment (not a shared object)")?;
    check_dynamic(&image, &loads, dynamic)
}

/// The `PT_LOAD` whose memory holds `[addr, addr + size)`, using only its
/// file-backed part when `file_backed`.
fn containing(loads: &[Segment], addr: u64, size: u64, file_backed: bool) -> Option<&Segment> {
    let end = addr.checked_add(size)?;
    loads.iter().find(|s| {
        let seg_end = s.vaddr + if file_backed { s.filesz } else { s.memsz };
        addr >= s.vaddr && end <= seg_end
    })
}

fn check_dynamic(image: &Image<'_>, loads: &[Segment], dynamic: Segment) -> std::result::Result<(), String> {
    if containing(loads, dynamic.vaddr, dynamic.filesz, true).is_none() {
        return Err(format!(
            "PT_DYNAMIC [{:#x}, +{:#x}) is not inside the file-backed part of a PT_LOAD segment",
            dynamic.vaddr, dynamic.filesz
        ));
    }
    let tags = image.dynamic_entries(&dynamic)?;
    let value = |tag: i64| tags.iter().find(|(t, _)| *t == tag).map(|&(_, v)| v);
    for (tag, name) in [(DT_STRTAB, "DT_STRTAB"), (DT_SYMTAB, "DT_SYMTAB")] {
        if value(tag).is_none() {
            return Err(format!("the dynamic section has no {name} (a shared object needs a dynamic symbol table)"));
        }
    }
    for &(tag, val) in &tags {
        if let Some(&(_, name, size_tag)) = ADDRESS_TAGS.iter().find(|(t, _, _)| *t == tag) {
            let size = if size_tag != 0 { value(size_tag).unwrap_or(0) } else { 0 };
            if containing(loads, val, size, false).is_none() {
                return Err(format!("{name} [{val:#x}, +{size:#x}) is not inside a loaded segment"));
            }
        }
    }
    let strsz = value(DT_STRSZ).unwrap_or(0);
    for &(tag, val) in &tags {
        if let Some(&(_, name)) = STRING_TAGS.iter().find(|(t, _)| *t == tag) {
            if val >= strsz {
                return Err(format!("{name} string offset {val:#x} is outside the string table (DT_STRSZ {strsz:#x})"));
            }
        }
    }
    if let Some(addr) = value(DT_HASH) {
        // nbucket, nchain, then nbucket + nchain 32-bit words.
        let words = |i: u64| file_word32(image, loads, addr + 4 * i);
        let (nbucket, nchain) = (words(0), words(1));
        let size = nbucket.zip(nchain).map(|(n, c)| 8 + 4 * (n as u64 + c as u64));
        if size.is_none_or(|size| containing(loads, addr, size, true).is_none()) {
            return Err(format!("DT_HASH table at {addr:#x} (nbucket {nbucket:?}, nchain {nchain:?}) is not inside the file-backed part of a loaded segment"));
        }
    }
    if let Some(addr) = value(DT_GNU_HASH) {
        // nbuckets, symoffset, bloom_size, bloom_shift; bloom words (8 bytes), buckets.
        let words = |i: u64| file_word32(image, loads, addr + 4 * i);
        let (nbuckets, bloom) = (words(0), words(2));
        let size = nbuckets.zip(bloom).map(|(n, m)| 16 + 8 * m as u64 + 4 * n as u64);
        if size.is_none_or(|size| containing(loads, addr, size, true).is_none()) {
            return Err(format!("DT_GNU_HASH table at {addr:#x} (nbuckets {nbuckets:?}, bloom_size {bloom:?}) is not inside the file-backed part of a loaded segment"));
        }
    }
    Ok(())
}

/// The 32-bit word at virtual address `addr`, read from the file through the
/// `PT_LOAD` that maps it; `None` when no segment maps it from the file.
fn file_word32(image: &Image<'_>, loads: &[Segment], addr: u64) -> Option<u32> {
    let seg = containing(loads, addr, 4, true)?;
    image.bytes().u32(seg.offset.checked_add(addr - seg.vaddr)?)
}

#[cfg(test)]
mod tests {
    use super::super::image::{Bytes, DYN_SIZE, HOST_DATA, PHDR_SIZE};
    use super::*;
    use crate::demo::assets;
    use crate::diagnostics::ErrorCode;

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
        (0..u16_at(b, 56).unwrap() as usize)
            .map(|i| phoff + i * PHDR_SIZE)
            .find(|&at| u32_at(b, at) == Some(t))
            .unwrap()
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
        assert!(corrupt(&|b| b[load_of(gnu_addr)..load_of(gnu_addr) + 4].copy_from_slice(&[0xff; 4]))
            .contains("DT_GNU_HASH"));
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
}
