//! The one ELF64 reader: a validated file header and bounds-checked access
//! to the program header, section header and dynamic tables and to the
//! dynamic symbols. Every read is checked against the image's length; a
//! defect is an error text naming the field, never a panic.

/// Sizes of the ELF64 structures (System V ABI, ELF-64 object file format).
pub(crate) const EHDR_SIZE: usize = 64;
pub(crate) const PHDR_SIZE: usize = 56;
pub(crate) const SHDR_SIZE: usize = 64;
pub(crate) const DYN_SIZE: usize = 16;
pub(crate) const SYM_SIZE: usize = 24;

const ELFCLASS64: u8 = 2;
const ET_DYN: u16 = 3;
const PN_XNUM: u16 = 0xffff;
const SHT_STRTAB: u32 = 3;
pub(crate) const SHT_DYNSYM: u32 = 11;
const DT_NULL: i64 = 0;

/// ELF `e_machine` of the host architecture (0: unknown, every image refused).
pub(crate) const HOST_MACHINE: u16 = if cfg!(target_arch = "x86_64") {
    62
} else if cfg!(target_arch = "aarch64") {
    183
} else if cfg!(target_arch = "riscv64") {
    243
} else if cfg!(target_arch = "powerpc64") {
    21
} else if cfg!(target_arch = "s390x") {
    22
} else if cfg!(target_arch = "loongarch64") {
    258
} else {
    0
};
/// `EI_DATA` of the host byte order (1 little-endian, 2 big-endian).
pub(crate) const HOST_DATA: u8 = if cfg!(target_endian = "little") { 1 } else { 2 };

type Parse<T> = std::result::Result<T, String>;

/// Bounds-checked reads in the host's byte order (the header check makes it
/// the image's too).
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a>(pub(crate) &'a [u8]);

impl<'a> Bytes<'a> {
    /// `[off, off + len)`, or `None` when any of it lies outside.
    pub(crate) fn get(&self, off: u64, len: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(off).ok()?;
        let end = usize::try_from(off.checked_add(len)?).ok()?;
        self.0.get(start..end)
    }
    /// [`Bytes::get`], with an error naming `what` when it lies outside.
    pub(crate) fn slice(&self, off: u64, len: u64, what: &str) -> Parse<&'a [u8]> {
        self.get(off, len).ok_or_else(|| format!("{what} [{off}, +{len}) lies outside the {}-byte image", self.0.len()))
    }
    fn array<const N: usize>(&self, off: u64) -> Option<[u8; N]> {
        self.get(off, N as u64)?.try_into().ok()
    }
    pub(crate) fn u8(&self, off: u64) -> Option<u8> {
        self.array::<1>(off).map(|a| a[0])
    }
    pub(crate) fn u16(&self, off: u64) -> Option<u16> {
        self.array(off).map(u16::from_ne_bytes)
    }
    pub(crate) fn u32(&self, off: u64) -> Option<u32> {
        self.array(off).map(u32::from_ne_bytes)
    }
    pub(crate) fn u64(&self, off: u64) -> Option<u64> {
        self.array(off).map(u64::from_ne_bytes)
    }
}

/// The fields of the file header the readers use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub phoff: u64,
    pub phnum: u16,
    pub shoff: u64,
    pub shentsize: u16,
    pub shnum: u16,
}

/// One program header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProgramHeader {
    pub index: usize,
    pub kind: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

/// One section header (the fields the readers use).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SectionHeader {
    pub kind: u32,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
    pub entsize: u64,
}

/// One dynamic symbol.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Symbol {
    pub index: u64,
    /// `st_name`: offset of the name in the linked string table.
    pub name_offset: u32,
    /// `ELF64_ST_BIND(st_info)`.
    pub binding: u8,
    /// `ELF64_ST_VISIBILITY(st_other)`.
    pub visibility: u8,
    pub shndx: u16,
}

/// The `SHT_DYNSYM` table and the string table it links to.
pub(crate) struct DynamicSymbols<'a> {
    table: Bytes<'a>,
    strings: &'a [u8],
}

impl<'a> DynamicSymbols<'a> {
    /// Every symbol of the table, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Symbol> + '_ {
        let t = self.table;
        (0..t.0.len() as u64 / SYM_SIZE as u64).map(move |index| {
            let at = index * SYM_SIZE as u64;
            // The table is a whole number of symbols: every read is inside.
            Symbol {
                index,
                name_offset: t.u32(at).unwrap_or(0),
                binding: t.u8(at + 4).unwrap_or(0) >> 4,
                visibility: t.u8(at + 5).unwrap_or(0) & 3,
                shndx: t.u16(at + 6).unwrap_or(0),
            }
        })
    }

    /// The NUL-terminated name of `sym`, checked to lie in the string table.
    pub(crate) fn name(&self, sym: &Symbol) -> Parse<&'a [u8]> {
        let i = sym.index;
        let rest = usize::try_from(sym.name_offset).ok().and_then(|o| self.strings.get(o..));
        let Some(rest) = rest else {
            return Err(format!(
                "symbol {i} names string offset {}, past the {}-byte string table",
                sym.name_offset,
                self.strings.len()
            ));
        };
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("symbol {i}'s name is not NUL-terminated inside the string table"))?;
        Ok(&rest[..end])
    }
}

/// An ELF64 shared object of the host's machine and byte order whose header
/// is valid and whose program and section header tables lie inside the file.
#[derive(Clone, Copy)]
pub(crate) struct Image<'a> {
    bytes: Bytes<'a>,
    header: Header,
}

impl<'a> Image<'a> {
    /// Checks the file header: the identification (magic, 64-bit class, the
    /// host's byte order, version), `e_type` `ET_DYN`, `e_machine` the
    /// host's, `e_version`, the header and entry sizes, and that the program
    /// and section header tables lie inside the file.
    pub(crate) fn parse(b: &'a [u8]) -> Parse<Image<'a>> {
        let len = b.len() as u64;
        if b.len() < EHDR_SIZE {
            return Err(format!("the image is {len} bytes, shorter than the {EHDR_SIZE}-byte ELF header (truncated?)"));
        }
        if b[..4] != *b"\x7fELF" {
            return Err("the image does not start with the ELF magic \\x7fELF (not a shared object)".into());
        }
        if b[4] != ELFCLASS64 {
            return Err(format!("EI_CLASS is {}, the host needs ELFCLASS64 (2)", b[4]));
        }
        if b[5] != HOST_DATA {
            return Err(format!("EI_DATA is {}, the host's byte order needs {HOST_DATA}", b[5]));
        }
        if b[6] != 1 {
            return Err(format!("EI_VERSION is {}, must be 1", b[6]));
        }
        let bytes = Bytes(b);
        // Inside the 64 bytes checked above.
        let field = |off: u64| bytes.u16(off).unwrap_or(0);
        let (e_type, e_machine) = (field(16), field(18));
        if e_type != ET_DYN {
            return Err(format!("e_type is {e_type}, must be ET_DYN (3, a shared object)"));
        }
        if HOST_MACHINE == 0 || e_machine != HOST_MACHINE {
            return Err(format!("e_machine is {e_machine}, the host's machine is {HOST_MACHINE}"));
        }
        let e_version = bytes.u32(20).unwrap_or(0);
        if e_version != 1 {
            return Err(format!("e_version is {e_version}, must be 1"));
        }
        let header = Header {
            phoff: bytes.u64(32).unwrap_or(0),
            phnum: field(56),
            shoff: bytes.u64(40).unwrap_or(0),
            shentsize: field(58),
            shnum: field(60),
        };
        let (ehsize, phentsize) = (field(52), field(54));
        if ehsize as usize != EHDR_SIZE {
            return Err(format!("e_ehsize is {ehsize}, must be {EHDR_SIZE}"));
        }
        if phentsize as usize != PHDR_SIZE {
            return Err(format!("e_phentsize is {phentsize}, must be {PHDR_SIZE}"));
        }
        let Header { phoff, phnum, shoff, shentsize, shnum } = header;
        if phnum == 0 || phnum == PN_XNUM {
            return Err(format!("e_phnum is {phnum}, must be in [1, {}]", PN_XNUM - 1));
        }
        table_in_file("program header table", phoff, phnum as u64, PHDR_SIZE as u64, len)?;
        if shoff != 0 {
            if shnum != 0 && shentsize as usize != SHDR_SIZE {
                return Err(format!("e_shentsize is {shentsize}, must be {SHDR_SIZE}"));
            }
            table_in_file("section header table", shoff, (shnum as u64).max(1), SHDR_SIZE as u64, len)?;
        }
        Ok(Image { bytes, header })
    }

    /// The image's bytes.
    pub(crate) fn bytes(&self) -> Bytes<'a> {
        self.bytes
    }

    /// Every program header, in order (the table lies inside the file).
    pub(crate) fn program_headers(&self) -> impl Iterator<Item = ProgramHeader> + '_ {
        (0..self.header.phnum as usize).map(|index| {
            let at = self.header.phoff + (index * PHDR_SIZE) as u64;
            let word = |o: u64| self.bytes.u64(at + o).unwrap_or(0);
            ProgramHeader {
                index,
                kind: self.bytes.u32(at).unwrap_or(0),
                offset: word(8),
                vaddr: word(16),
                filesz: word(32),
                memsz: word(40),
                align: word(48),
            }
        })
    }

    /// The entries of a `PT_DYNAMIC` segment (whose file range the caller has
    /// checked) before its `DT_NULL` terminator, as (tag, value).
    pub(crate) fn dynamic_entries(&self, dynamic: &ProgramHeader) -> Parse<Vec<(i64, u64)>> {
        let entries = self.bytes.slice(dynamic.offset, dynamic.filesz, "PT_DYNAMIC")?;
        let mut tags = Vec::new();
        for e in entries.chunks_exact(DYN_SIZE) {
            let e = Bytes(e);
            let tag = e.u64(0).unwrap_or(0) as i64;
            if tag == DT_NULL {
                return Ok(tags);
            }
            tags.push((tag, e.u64(8).unwrap_or(0)));
        }
        Err("the dynamic section has no DT_NULL terminator inside PT_DYNAMIC".into())
    }

    /// Section header `index`.
    pub(crate) fn section(&self, index: u64) -> Parse<SectionHeader> {
        let base = index
            .checked_mul(SHDR_SIZE as u64)
            .and_then(|o| o.checked_add(self.header.shoff))
            .ok_or_else(|| format!("section header {index} offset overflows"))?;
        let s = Bytes(self.bytes.slice(base, SHDR_SIZE as u64, "section header")?);
        let word = |o: u64| s.u64(o).unwrap_or(0);
        let half = |o: u64| s.u32(o).unwrap_or(0);
        Ok(SectionHeader { kind: half(4), offset: word(24), size: word(32), link: half(40), entsize: word(56) })
    }

    /// The number of section headers (`e_shnum`, or section 0's `sh_size`
    /// under extended numbering), the whole table checked to lie inside.
    pub(crate) fn section_count(&self) -> Parse<u64> {
        let Header { shoff, shentsize, shnum, .. } = self.header;
        if shoff == 0 {
            return Err("the image has no section headers (e_shoff = 0)".into());
        }
        if usize::from(shentsize) != SHDR_SIZE {
            return Err(format!("e_shentsize = {shentsize}, expected {SHDR_SIZE}"));
        }
        let count = if shnum == 0 { self.section(0)?.size } else { u64::from(shnum) };
        self.bytes.slice(shoff, count.saturating_mul(SHDR_SIZE as u64), "section header table")?;
        Ok(count)
    }

    /// The `SHT_DYNSYM` table and its string table, checked: whole 24-byte
    /// symbols, a link to an `SHT_STRTAB` section, both inside the file.
    pub(crate) fn dynamic_symbols(&self) -> Parse<DynamicSymbols<'a>> {
        let count = self.section_count()?;
        let mut dynsym = None;
        for i in 0..count {
            let s = self.section(i)?;
            if s.kind == SHT_DYNSYM {
                dynsym = Some(s);
                break;
            }
        }
        let dynsym = dynsym.ok_or("the image has no dynamic symbol table (SHT_DYNSYM)")?;
        if dynsym.entsize != SYM_SIZE as u64 || dynsym.size % SYM_SIZE as u64 != 0 {
            return Err(format!(
                ".dynsym entsize {} / size {} is not a whole number of {SYM_SIZE}-byte symbols",
                dynsym.entsize, dynsym.size
            ));
        }
        if u64::from(dynsym.link) >= count {
            return Err(format!(".dynsym links to section {} of {count}", dynsym.link));
        }
        let strtab = self.section(u64::from(dynsym.link))?;
        if strtab.kind != SHT_STRTAB {
            return Err(format!(
                ".dynsym links to section {} of type {}, not a string table",
                dynsym.link, strtab.kind
            ));
        }
        let strings = self.bytes.slice(strtab.offset, strtab.size, "dynamic string table")?;
        let table = Bytes(self.bytes.slice(dynsym.offset, dynsym.size, "dynamic symbol table")?);
        Ok(DynamicSymbols { table, strings })
    }
}

/// Checks that `count` entries of `entsize` bytes at `off` lie inside a file
/// of `len` bytes.
fn table_in_file(what: &str, off: u64, count: u64, entsize: u64, len: u64) -> Parse<()> {
    let end = count.checked_mul(entsize).and_then(|s| off.checked_add(s));
    if end.is_none_or(|e| e > len) {
        return Err(format!(
            "the {what} at offset {off:#x} ({count} entries of {entsize} bytes) extends past the end of the {len}-byte file (truncated?)"
        ));
    }
    Ok(())
}
