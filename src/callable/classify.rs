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
//! the bytes (no `dlopen`) by the loader's ELF reader
//! (`crate::loader::elf::image`), every offset and size bounds-checked: a
//! truncated or corrupt image is an error, never a crash. Results are cached
//! per distinct binary (its build-id / content key and length).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;

use crate::abi::hash::orch_so_key;
use crate::config::RuntimeVariant;
use crate::diagnostics::{Error, Result};
use crate::loader::elf::image::Image;

/// The TRB runtime-binding hook every TRB orchestration exports.
pub(crate) const TRB_BIND_SYMBOL: &str = "framework_bind_runtime";

const SHN_UNDEF: u16 = 0;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STB_GNU_UNIQUE: u8 = 10;
const STV_DEFAULT: u8 = 0;
const STV_PROTECTED: u8 = 3;

/// Why the dynamic symbol table could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ElfError(pub String);

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

/// Reads the exported dynamic symbols of an ELF64 shared object of the host
/// (header checked by [`Image::parse`]) from its `SHT_DYNSYM` section and the
/// string table it links to.
pub(crate) fn exported_symbols(bytes: &[u8]) -> std::result::Result<ExportedSymbols, ElfError> {
    let read = || -> std::result::Result<ExportedSymbols, String> {
        let symbols = Image::parse(bytes)?.dynamic_symbols()?;
        let mut names = BTreeSet::new();
        for sym in symbols.iter() {
            let exported = sym.shndx != SHN_UNDEF
                && matches!(sym.binding, STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE)
                && matches!(sym.visibility, STV_DEFAULT | STV_PROTECTED);
            if !exported || sym.name_offset == 0 {
                continue;
            }
            if let Ok(name) = std::str::from_utf8(symbols.name(&sym)?) {
                names.insert(name.to_string());
            }
        }
        Ok(ExportedSymbols { names })
    };
    read().map_err(ElfError)
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
