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
#[path = "tests.rs"]
mod tests;
