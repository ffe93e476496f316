//! The committed header `include/simpler.h` must equal what cbindgen
//! generates from the sources. `SIMPLER_BLESS=1 cargo test --test header_drift`
//! rewrites it.

#[test]
fn committed_header_matches_generated() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/simpler.h"));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/simpler.h");
    if std::env::var_os("SIMPLER_BLESS").is_some() {
        std::fs::write(path, generated).expect("write include/simpler.h");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/simpler.h is stale: regenerate it with `SIMPLER_BLESS=1 cargo test --test header_drift`"
    );
}

/// The header's field documentation agrees with the schema: for every knob
/// some line names the knob, its environment variable, its rule and its default.
#[test]
fn header_docs_agree_with_schema() {
    let header = include_str!(concat!(env!("OUT_DIR"), "/simpler.h"));
    for k in simpler::config::KNOBS {
        let found = header.lines().any(|l| {
            l.contains(&format!("{} ", k.name))
                && l.contains(&format!("(env {}", k.env))
                && l.contains(&k.rule_text())
                && l.contains(&format!("default {}", k.default_text()))
        });
        assert!(
            found,
            "no header line documents {} with env {}, rule '{}' and default {}",
            k.name,
            k.env,
            k.rule_text(),
            k.default_text()
        );
    }
}

/// The README's knob table is exactly the one rendered from the schema.
#[test]
fn readme_knob_table_matches_schema() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let begin =
        readme.find("<!-- knob-table:begin -->\n").expect("table begin marker") + "<!-- knob-table:begin -->\n".len();
    let end = readme.find("<!-- knob-table:end -->").expect("table end marker");
    assert_eq!(&readme[begin..end], simpler::config::docs::knob_table_markdown().as_str());
}

/// The header's version macros are the package version, as `simpler_version()` reports it.
#[test]
fn header_version_macros_match_the_library() {
    let header = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/include/simpler.h"));
    let define = |name: &str| {
        let prefix = format!("#define {name} ");
        let line = header.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {name} in simpler.h"));
        line[prefix.len()..].trim().to_string()
    };
    // SAFETY: simpler_version returns a pointer to a static NUL-terminated string.
    let runtime = unsafe { std::ffi::CStr::from_ptr(simpler::ffi::config::simpler_version()) };
    assert_eq!(runtime.to_str().unwrap(), simpler::VERSION);
    assert_eq!(define("SIMPLER_VERSION_STRING"), format!("\"{}\"", simpler::VERSION));
    let parts: Vec<&str> = simpler::VERSION.split('.').collect();
    assert_eq!(define("SIMPLER_VERSION_MAJOR"), parts[0]);
    assert_eq!(define("SIMPLER_VERSION_MINOR"), parts[1]);
    assert_eq!(define("SIMPLER_VERSION_PATCH"), parts[2]);
}

/// Every error code of the library is a constant of the header's
/// `pto_error_code_t`, with its value, and the enum holds no other.
#[test]
fn header_error_codes_are_the_library_codes() {
    let header = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/include/simpler.h"));
    let start = header.find("enum pto_error_code_t").expect("enum pto_error_code_t in simpler.h");
    let body = &header[start..start + header[start..].find("};").expect("end of the enum")];
    let constants: Vec<&str> = body.lines().map(str::trim).filter(|l| l.starts_with("PTO_")).collect();
    let expected: Vec<String> =
        simpler::diagnostics::ErrorCode::all().iter().map(|c| format!("{} = {},", c.name(), *c as i32)).collect();
    assert_eq!(constants, expected);
}
