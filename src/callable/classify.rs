//! Which runtime variant an orchestration binary implements, told from the
//! symbols it exports (nothing in upstream's C ABI names the variant:
//! upstream picks it by which `libhost_runtime.so` the host loads).
//!
//! The rule, first match wins:
//! 1. the binary exports `framework_bind_runtime` → tensormap_and_ringbuffer
//!    (every TRB orchestration upstream builds links the TRB orchestration
//!    common source that defines it);
//! 2. it exports the entry named by the callable's `func_name` and not
//!    `framework_bind_runtime` → host_build_graph (an HBG orchestration
//!    defines only its builder function);
//! 3. otherwise the variant is ambiguous: an error.
//!
//! The symbols come from the ELF dynamic symbol table read straight from
//! the bytes (no `dlopen`), with every offset and size bounds-checked: a
//! truncated or corrupt image is an error, never a crash. Results are cached
//! per distinct binary (its build-id / content key and length).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;

use crate::abi::hash::orch_so_key;
use crate::config::RuntimeVariant;
use crate::diagnostics::{Error, Result};

/// The TRB runtime-binding hook every TRB orchestration exports.
pub(crate) const TRB_BIND_SYMBOL: &str = "framework_bind_runtime";

const SHT_STRTAB: u32 = 3;
const SHT_DYNSYM: u32 = 11;
const SHN_UNDEF: u16 = 0;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STB_GNU_UNIQUE: u8 = 10;
const STV_DEFAULT: u8 = 0;
const STV_PROTECTED: u8 = 3;
const ELF64_EHDR_SIZE: usize = 64;
const ELF64_SHDR_SIZE: usize = 64;
const ELF64_SYM_SIZE: usize = 24;

/// Why the dynamic symbol table could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ElfError(pub String);

type Parse<T> = std::result::Result<T, ElfError>;

fn bad<T>(what: impl Into<String>) -> Parse<T> {
    Err(ElfError(what.into()))
}

/// Bounds-checked little-endian field reads.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn slice(&self, off: u64, len: u64, what: &str) -> Parse<&'a [u8]> {
        let start = usize::try_from(off).ok();
        let end = off.checked_add(len).and_then(|e| usize::try_from(e).ok());
        match (start, end) {
            (Some(s), Some(e)) if e <= self.0.len() => Ok(&self.0[s..e]),
            _ => bad(format!("{what} [{off}, +{len}) lies outside the {}-byte image", self.0.len())),
        }
    }
    fn u8(&self, off: u64, what: &str) -> Parse<u8> {
        Ok(self.slice(off, 1, what)?[0])
    }
    fn u16(&self, off: u64, what: &str) -> Parse<u16> {
        let b = self.slice(off, 2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, off: u64, what: &str) -> Parse<u32> {
        let b = self.slice(off, 4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&self, off: u64, what: &str) -> Parse<u64> {
        let b = self.slice(off, 8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// One section header (the fields this reader needs).
struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    entsize: u64,
}

fn section(img: &Bytes<'_>, shoff: u64, index: u64) -> Parse<Section> {
    let base = index
        .checked_mul(ELF64_SHDR_SIZE as u64)
        .and_then(|o| o.checked_add(shoff))
        .ok_or_else(|| ElfError(format!("section header {index} offset overflows")))?;
    img.slice(base, ELF64_SHDR_SIZE as u64, "section header")?;
    Ok(Section {
        kind: img.u32(base + 4, "sh_type")?,
        offset: img.u64(base + 24, "sh_offset")?,
        size: img.u64(base + 32, "sh_size")?,
        link: img.u32(base + 40, "sh_link")?,
        entsize: img.u64(base + 56, "sh_entsize")?,
    })
}

/// Names of the symbols an object defines and exports (defined, global,
/// weak or unique binding, default or protected visibility).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExportedSymbols {
    names: BTreeSet<String>,
}

impl ExportedSymbols {
    /// Whether `name` is exported.
    pub(crate) fn defines(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Up to `n` exported names, for messages.
    fn sample(&self, n: usize) -> String {
        if self.names.is_empty() {
            return "none".into();
        }
        let mut s: Vec<&str> = self.names.iter().take(n).map(String::as_str).collect();
        if self.names.len() > n {
            s.push("...");
        }
        s.join(", ")
    }
}

/// Reads the exported dynamic symbols of a little-endian ELF64 image from its
/// `SHT_DYNSYM` section and the string table it links to.
pub(crate) fn exported_symbols(bytes: &[u8]) -> Parse<ExportedSymbols> {
    let img = Bytes(bytes);
    if bytes.len() < ELF64_EHDR_SIZE || &bytes[..4] != b"\x7fELF" {
        return bad(format!("not an ELF image ({} bytes, no \\x7fELF header)", bytes.len()));
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return bad(format!("ELF class {} / data {}: only little-endian ELF64 is supported", bytes[4], bytes[5]));
    }
    let shoff = img.u64(0x28, "e_shoff")?;
    let shentsize = img.u16(0x3A, "e_shentsize")?;
    let mut shnum = u64::from(img.u16(0x3C, "e_shnum")?);
    if shoff == 0 {
        return bad("the image has no section headers (e_shoff = 0)");
    }
    if usize::from(shentsize) != ELF64_SHDR_SIZE {
        return bad(format!("e_shentsize = {shentsize}, expected {ELF64_SHDR_SIZE}"));
    }
    if shnum == 0 {
        // Extended numbering: the count lives in section 0's sh_size.
        shnum = section(&img, shoff, 0)?.size;
    }
    // The whole table must lie inside the image (this also bounds shnum).
    img.slice(shoff, shnum.saturating_mul(ELF64_SHDR_SIZE as u64), "section header table")?;
    let mut dynsym = None;
    for i in 0..shnum {
        let s = section(&img, shoff, i)?;
        if s.kind == SHT_DYNSYM {
            dynsym = Some(s);
            break;
        }
    }
    let Some(dynsym) = dynsym else { return bad("the image has no dynamic symbol table (SHT_DYNSYM)") };
    if dynsym.entsize != ELF64_SYM_SIZE as u64 || dynsym.size % ELF64_SYM_SIZE as u64 != 0 {
        return bad(format!(
            ".dynsym entsize {} / size {} is not a whole number of 24-byte symbols",
            dynsym.entsize, dynsym.size
        ));
    }
    if u64::from(dynsym.link) >= shnum {
        return bad(format!(".dynsym links to section {} of {shnum}", dynsym.link));
    }
    let strtab = section(&img, shoff, u64::from(dynsym.link))?;
    if strtab.kind != SHT_STRTAB {
        return bad(format!(".dynsym links to section {} of type {}, not a string table", dynsym.link, strtab.kind));
    }
    let strings = img.slice(strtab.offset, strtab.size, "dynamic string table")?;
    let syms = img.slice(dynsym.offset, dynsym.size, "dynamic symbol table")?;
    let syms = Bytes(syms);
    let mut names = BTreeSet::new();
    for i in 0..dynsym.size / ELF64_SYM_SIZE as u64 {
        let at = i * ELF64_SYM_SIZE as u64;
        let name_off = syms.u32(at, "st_name")?;
        let info = syms.u8(at + 4, "st_info")?;
        let other = syms.u8(at + 5, "st_other")?;
        let shndx = syms.u16(at + 6, "st_shndx")?;
        let binding = info >> 4;
        let visibility = other & 3;
        let exported = shndx != SHN_UNDEF
            && matches!(binding, STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE)
            && matches!(visibility, STV_DEFAULT | STV_PROTECTED);
        if !exported || name_off == 0 {
            continue;
        }
        let rest = usize::try_from(name_off).ok().and_then(|o| strings.get(o..));
        let Some(rest) = rest else {
            return bad(format!(
                "symbol {i} names string offset {name_off}, past the {}-byte string table",
                strings.len()
            ));
        };
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            return bad(format!("symbol {i}'s name is not NUL-terminated inside the string table"));
        };
        if let Ok(name) = std::str::from_utf8(&rest[..end]) {
            names.insert(name.to_string());
        }
    }
    Ok(ExportedSymbols { names })
}

/// The variant an orchestration binary implements and the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Classified {
    /// The inferred variant.
    pub variant: RuntimeVariant,
    /// What the binary exports that decided it (for messages).
    pub evidence: String,
}

/// One recognition rule: returns the evidence when the symbols match.
type Recognise = fn(&ExportedSymbols, &str) -> Option<String>;

/// The recognition rules, in order (first match wins). The extension point
/// for aicpu_build_graph: its forms (entries `aicpu_orchestration_entry`
/// without the TRB bind hook, or a plugin `int (*)(Runtime *)` named by
/// func_name) get a rule here once that runtime exists; until then such a
/// binary falls under the rules below or is ambiguous.
const RULES: &[(RuntimeVariant, Recognise)] = &[
    (RuntimeVariant::TensormapAndRingbuffer, |s, _| {
        s.defines(TRB_BIND_SYMBOL).then(|| format!("it exports '{TRB_BIND_SYMBOL}'"))
    }),
    (RuntimeVariant::HostBuildGraph, |s, func_name| {
        (!func_name.is_empty() && s.defines(func_name) && !s.defines(TRB_BIND_SYMBOL))
            .then(|| format!("it exports the func_name entry '{func_name}' and not '{TRB_BIND_SYMBOL}'"))
    }),
];

/// Applies [`RULES`] to `symbols`.
pub(crate) fn classify_symbols(symbols: &ExportedSymbols, func_name: &str) -> Result<Classified> {
    for (variant, recognise) in RULES {
        if let Some(evidence) = recognise(symbols, func_name) {
            return Ok(Classified { variant: *variant, evidence });
        }
    }
    let entry = if func_name.is_empty() { "(func_name is empty)".to_string() } else { format!("'{func_name}'") };
    Err(Error::InvalidCallable(format!(
        "cannot tell the runtime variant of the orchestration binary: a tensormap_and_ringbuffer orchestration \
         exports '{TRB_BIND_SYMBOL}', a host_build_graph one exports the entry named by func_name ({entry}); \
         this one exports neither (exported: {})",
        symbols.sample(8)
    )))
}

/// Most distinct binaries whose symbols are kept (the cache is cleared when full).
const CACHE_CAP: usize = 256;

/// Cache key of a binary: its orchestration-pool key and its length.
type BinaryKey = (u64, usize);

static CACHE: Lazy<Mutex<HashMap<BinaryKey, Arc<ExportedSymbols>>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// [`exported_symbols`] with the error as the callable error it becomes.
fn parse(bytes: &[u8]) -> Result<ExportedSymbols> {
    exported_symbols(bytes)
        .map_err(|e| Error::InvalidCallable(format!("the orchestration binary cannot be classified: {}", e.0)))
}

/// The exported symbols of `bytes`, parsed once per distinct binary (keyed
/// like the orchestration pool: build-id, else content hash, plus length).
fn cached_symbols(bytes: &[u8]) -> Result<Arc<ExportedSymbols>> {
    let key = (orch_so_key(bytes), bytes.len());
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = cache.get(&key) {
        return Ok(s.clone());
    }
    let symbols = parse(bytes)?;
    if cache.len() >= CACHE_CAP {
        cache.clear();
    }
    let symbols = Arc::new(symbols);
    cache.insert(key, symbols.clone());
    Ok(symbols)
}

/// The variant the orchestration binary `bytes` of a callable with
/// `func_name` implements (cached per distinct binary).
pub(crate) fn classify(bytes: &[u8], func_name: &str) -> Result<Classified> {
    classify_symbols(cached_symbols(bytes)?.as_ref(), func_name)
}

/// An explicit runtime choice and where it came from (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeOverride {
    /// The variant asked for.
    pub variant: RuntimeVariant,
    /// Where it was set, e.g. "SIMPLER_RUNTIME" or "the runtime knob".
    pub origin: &'static str,
}

/// The variant a callable runs on: the inferred one; an override must agree.
pub(crate) fn decide(bytes: &[u8], func_name: &str, over: Option<RuntimeOverride>) -> Result<RuntimeVariant> {
    let c = classify(bytes, func_name)?;
    match over {
        Some(o) if o.variant != c.variant => Err(Error::InvalidCallable(format!(
            "runtime variant mismatch: the orchestration binary is {} ({}), but {} = {} asks for {}; \
             unset it to let each callable's binary decide, or register a {} orchestration",
            c.variant.name(),
            c.evidence,
            o.origin,
            o.variant.name(),
            o.variant.name(),
            o.variant.name()
        ))),
        _ => Ok(c.variant),
    }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
