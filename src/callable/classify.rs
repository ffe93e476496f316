//! Which runtime variant (and, for aicpu_build_graph, which form) an
//! orchestration binary implements, told from the symbols it exports
//! (nothing in upstream's C ABI names the variant: upstream picks it by
//! which `libhost_runtime.so` the host loads).
//!
//! The rule table [`RULES`], first match wins:
//! 1. the binary exports `framework_bind_runtime` → tensormap_and_ringbuffer
//!    (every TRB orchestration upstream builds links the TRB orchestration
//!    common source that defines it);
//! 2. it exports `aicpu_orchestration_entry` (the hard-coded entry of
//!    aicpu_build_graph's ring form) but neither the TRB hook nor the marker
//!    below → aicpu_build_graph, ring form ([`AbgForm::Ring`]); the
//!    callable's func_name is not used (upstream ignores it for this form);
//! 3. it exports the marker `simpler_aicpu_build_graph_abi` (the macro
//!    `PTO_AICPU_BUILD_GRAPH_PLUGIN` of `include/pto_aicpu_build_graph.h`
//!    defines it) and the entry named by `func_name` (empty: `orchestration`)
//!    → aicpu_build_graph, original form ([`AbgForm::Original`]);
//! 4. it exports the entry named by `func_name`, neither the TRB hook nor the
//!    marker → host_build_graph;
//! 5. otherwise the variant is ambiguous: an error.
//!
//! Why a marker: a host_build_graph orchestration (`int f(OrchestrationRuntime
//! *, const void *)`) and an original-form aicpu_build_graph plugin
//! (`int f(Runtime *)`) look the same in the ELF: each exports only its entry
//! and imports nothing from the runtime (both call it through a table the
//! runtime passes in), so no structural rule separates them. The explicit
//! override (`runtime` / `SIMPLER_RUNTIME` = aicpu_build_graph) routes a
//! binary that exports only its func_name entry to aicpu_build_graph without
//! the marker.
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

/// The marker an original-form aicpu_build_graph plugin exports
/// (`PTO_AICPU_BUILD_GRAPH_PLUGIN` in `include/pto_aicpu_build_graph.h`).
pub(crate) const ABG_MARKER_SYMBOL: &str = "simpler_aicpu_build_graph_abi";

/// The hard-coded entry of an aicpu_build_graph ring-form orchestration.
pub(crate) const ABG_RING_ENTRY: &str = "aicpu_orchestration_entry";

/// The plugin entry upstream's aicpu_build_graph uses when a callable names none.
pub(crate) const ABG_DEFAULT_ENTRY: &str = "orchestration";

/// The entry symbol of an original-form aicpu_build_graph plugin.
pub(crate) fn abg_entry(func_name: &str) -> &str {
    if func_name.is_empty() {
        ABG_DEFAULT_ENTRY
    } else {
        func_name
    }
}

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

/// The two forms of aicpu_build_graph (upstream's original device-built
/// graph, and the later ring-based one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AbgForm {
    /// Plugin `int f(Runtime *)` named by func_name, building into the fixed
    /// task array through the `AicpuBuildApi` table.
    Original,
    /// Entry `aicpu_orchestration_entry` (+ optional
    /// `aicpu_orchestration_config`) over the PTO2 rings with explicit edges.
    Ring,
}

/// The variant an orchestration binary implements and the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Classified {
    /// The inferred variant.
    pub variant: RuntimeVariant,
    /// The aicpu_build_graph form (`None` for the other variants).
    pub abg_form: Option<AbgForm>,
    /// What the binary exports that decided it (for messages).
    pub evidence: String,
}

/// One recognition rule: returns the evidence when the symbols match.
type Recognise = fn(&ExportedSymbols, &str) -> Option<String>;

/// One row of [`RULES`]: what a match classifies as, and the test.
struct Rule {
    variant: RuntimeVariant,
    abg_form: Option<AbgForm>,
    recognise: Recognise,
}

/// The recognition rules, in order (first match wins); see the module doc.
/// The extension point: a new variant or form adds a row here.
const RULES: &[Rule] = &[
    Rule {
        variant: RuntimeVariant::TensormapAndRingbuffer,
        abg_form: None,
        recognise: |s, _| s.defines(TRB_BIND_SYMBOL).then(|| format!("it exports '{TRB_BIND_SYMBOL}'")),
    },
    Rule {
        variant: RuntimeVariant::AicpuBuildGraph,
        abg_form: Some(AbgForm::Ring),
        recognise: |s, _| {
            (s.defines(ABG_RING_ENTRY) && !s.defines(TRB_BIND_SYMBOL) && !s.defines(ABG_MARKER_SYMBOL))
                .then(|| format!("it exports '{ABG_RING_ENTRY}' and not '{TRB_BIND_SYMBOL}'"))
        },
    },
    Rule {
        variant: RuntimeVariant::AicpuBuildGraph,
        abg_form: Some(AbgForm::Original),
        recognise: |s, func_name| {
            let entry = abg_entry(func_name);
            (s.defines(ABG_MARKER_SYMBOL) && s.defines(entry) && !s.defines(TRB_BIND_SYMBOL))
                .then(|| format!("it exports '{ABG_MARKER_SYMBOL}' and the plugin entry '{entry}'"))
        },
    },
    Rule {
        variant: RuntimeVariant::HostBuildGraph,
        abg_form: None,
        recognise: |s, func_name| {
            (!func_name.is_empty()
                && s.defines(func_name)
                && !s.defines(TRB_BIND_SYMBOL)
                && !s.defines(ABG_MARKER_SYMBOL))
            .then(|| format!("it exports the func_name entry '{func_name}' and not '{TRB_BIND_SYMBOL}'"))
        },
    },
];

/// Applies [`RULES`] to `symbols`.
pub(crate) fn classify_symbols(symbols: &ExportedSymbols, func_name: &str) -> Result<Classified> {
    for rule in RULES {
        if let Some(evidence) = (rule.recognise)(symbols, func_name) {
            return Ok(Classified { variant: rule.variant, abg_form: rule.abg_form, evidence });
        }
    }
    if symbols.defines(ABG_MARKER_SYMBOL) {
        return Err(Error::InvalidCallable(format!(
            "the orchestration binary exports '{ABG_MARKER_SYMBOL}' (an aicpu_build_graph plugin) but not its entry \
             '{}' (the callable's func_name; empty means '{ABG_DEFAULT_ENTRY}'); exported: {}",
            abg_entry(func_name),
            symbols.sample(8)
        )));
    }
    let entry = if func_name.is_empty() { "(func_name is empty)".to_string() } else { format!("'{func_name}'") };
    Err(Error::InvalidCallable(format!(
        "cannot tell the runtime variant of the orchestration binary: a tensormap_and_ringbuffer orchestration \
         exports '{TRB_BIND_SYMBOL}', an aicpu_build_graph ring-form one '{ABG_RING_ENTRY}', an \
         aicpu_build_graph plugin '{ABG_MARKER_SYMBOL}' (PTO_AICPU_BUILD_GRAPH_PLUGIN) and its entry, a host_build_graph one the entry named by func_name \
         ({entry}); this one exports none of these (exported: {})",
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
#[cfg(test)]
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

/// The variant (and aicpu_build_graph form) a callable runs on: the
/// inferred one; an override must agree, except that an aicpu_build_graph
/// override routes a binary that exports only its func_name entry (what the
/// host_build_graph rule matches, or an unmarked plugin with the default
/// entry) to the original form: the two are indistinguishable in the ELF.
pub(crate) fn decide(
    bytes: &[u8],
    func_name: &str,
    over: Option<RuntimeOverride>,
) -> Result<(RuntimeVariant, Option<AbgForm>)> {
    let symbols = cached_symbols(bytes)?;
    let c = classify_symbols(&symbols, func_name);
    if over.is_some_and(|o| o.variant == RuntimeVariant::AicpuBuildGraph) {
        let unmarked_entry_only = match &c {
            Ok(c) => c.variant == RuntimeVariant::HostBuildGraph,
            Err(_) => !symbols.defines(TRB_BIND_SYMBOL) && symbols.defines(abg_entry(func_name)),
        };
        if unmarked_entry_only {
            return Ok((RuntimeVariant::AicpuBuildGraph, Some(AbgForm::Original)));
        }
    }
    let c = c?;
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
        _ => Ok((c.variant, c.abg_form)),
    }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
