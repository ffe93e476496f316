//! Build script: compiles the C/C++ shims of `csrc/` and generates the C
//! header from the Rust sources with cbindgen.
//! The header is written to `$OUT_DIR/simpler.h`; the committed copy in
//! `include/simpler.h` is checked against it by `tests/header_drift.rs`.

use std::path::{Path, PathBuf};

/// One row of `src/diagnostics/code_table.rs`: documentation lines, Rust
/// variant, value, C name.
type CodeRow = (&'static [&'static str], &'static str, i32, &'static str);

// The same table the library includes, read here as data.
macro_rules! error_codes {
    (
        $(#[doc = $enum_doc:literal])*
        enum $enum:ident {
            $( $(#[doc = $doc:literal])+ $variant:ident = $value:literal => $name:literal, )+
        }
    ) => {
        const CODE_ENUM: (&[&str], &str) = (&[$($enum_doc),*], stringify!($enum));
        const CODES: &[CodeRow] = &[$((&[$($doc),+], stringify!($variant), $value, $name)),+];
    };
}
include!("src/diagnostics/code_table.rs");

/// Writes the error-code table as the plain `#[repr(i32)]` enum cbindgen
/// reads (cbindgen does not expand macros), after checking that each C name
/// is what cbindgen's SCREAMING_SNAKE_CASE rename makes of the variant.
fn write_code_enum(out: &Path) {
    let doc = |lines: &[&str], indent: &str| lines.iter().map(|l| format!("{indent}///{l}\n")).collect::<String>();
    let mut src = doc(CODE_ENUM.0, "");
    src.push_str(&format!("#[repr(i32)]\npub enum {} {{\n", CODE_ENUM.1));
    for (docs, variant, value, name) in CODES {
        let mut snake = String::new();
        for (i, ch) in variant.chars().enumerate() {
            if ch.is_ascii_uppercase() && i > 0 {
                snake.push('_');
            }
            snake.push(ch.to_ascii_uppercase());
        }
        assert_eq!(&snake, name, "code_table.rs: the C name of {variant} must be {snake}");
        src.push_str(&doc(docs, "    "));
        src.push_str(&format!("    {variant} = {value},\n"));
    }
    src.push_str("}\n");
    std::fs::write(out, src).expect("write the error-code enum for cbindgen");
}

fn generate_header() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("simpler.h");
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    // Version macros from Cargo.toml's version (the same text `simpler_version()` returns).
    config.after_includes = Some(format!(
        "\n/** Version of libsimpler this header belongs to (`simpler_version()` returns the string at run time). */\n\
         #define SIMPLER_VERSION_MAJOR {}\n#define SIMPLER_VERSION_MINOR {}\n#define SIMPLER_VERSION_PATCH {}\n\
         #define SIMPLER_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION")
    ));
    // Only the FFI layer (cbindgen follows its `mod` declarations), the
    // error codes it returns and the ABI structs its signatures name make the
    // header: internal constants must never leak into a C namespace.
    let codes = out.with_file_name("error_codes.rs");
    write_code_enum(&codes);
    let builder = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .with_src(&codes)
        .with_src(crate_dir.join("src/abi/timing.rs"));
    match builder.generate() {
        Ok(bindings) => {
            bindings.write_to_file(&out);
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    }
    // Exactly the inputs cbindgen reads: a change elsewhere in `src/` must
    // not rerun the build script (and every C compile with it).
    for input in ["src/ffi", "src/diagnostics/code_table.rs", "src/abi/timing.rs", "cbindgen.toml"] {
        println!("cargo:rerun-if-changed={input}");
    }
}

/// Gives the shared library a versioned soname (`libsimpler.so.<major>`) so
/// installed consumers bind to the major version, not the unversioned link.
/// Programs linked against the build tree's `libsimpler.so` then need
/// `libsimpler.so.<major>` at run time, so the same link is placed next to it
/// (`target/<profile>/`, three levels above `OUT_DIR`), as an install would.
fn soname() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsimpler.so.{major}");
}

fn main() {
    build_c_shims();
    build_examples();
    // Tests compile C code for the same target as the crate.
    println!("cargo:rustc-env=SIMPLER_TEST_TARGET={}", std::env::var("TARGET").expect("cargo sets TARGET"));
    generate_header();
    soname();
}

/// Fails the build with the install command when the C or C++ compiler is missing
/// (instead of the cc crate's "failed to find tool").
fn require_compiler(cpp: bool, package: &str) {
    let tool = cc::Build::new().cpp(cpp).cargo_metadata(false).try_get_compiler();
    let runs = tool.as_ref().is_ok_and(|t| std::process::Command::new(t.path()).arg("--version").output().is_ok());
    if !runs {
        let what = if cpp { "C++" } else { "C" };
        panic!(
            "no {what} compiler: libsimpler's shims in csrc/ need one. Install it (`apt-get install {package}`) \
             or run ./scripts/test, which installs what is missing"
        );
    }
}

/// Compiles the C/C++ sources of `csrc/`:
/// - `orch_ops_shims.c` (C-variadic ops-table entries) and
///   `orch_trampoline.cpp` (exception-catching calls into user code) into
///   static libraries linked into the crate;
/// - `sim_context.c` into the standalone `libsimpler_sim_context.so` in
///   `OUT_DIR`, which `src/kernel/sim_context.rs` embeds with
///   `include_bytes!` and loads `RTLD_GLOBAL` at run time.
///
/// It also exports the C and C++ compiler paths and the target triple as
/// `SIMPLER_BUILD_CC` / `SIMPLER_BUILD_CXX` / `SIMPLER_BUILD_TARGET` for
/// tests that build example SOs.
fn build_c_shims() {
    const WARN: [&str; 3] = ["-Wall", "-Wextra", "-Werror"];
    for f in ["csrc/orch_ops_shims.c", "csrc/orch_trampoline.cpp", "csrc/sim_context.c"] {
        println!("cargo:rerun-if-changed={f}");
    }
    require_compiler(false, "gcc");
    require_compiler(true, "g++");

    let mut c = cc::Build::new();
    c.file("csrc/orch_ops_shims.c").std("c11").warnings(false);
    for w in WARN {
        c.flag(w);
    }
    c.compile("simpler_orch_shims");

    let mut cpp = cc::Build::new();
    cpp.cpp(true).file("csrc/orch_trampoline.cpp").std("c++17").flag("-fexceptions").warnings(false);
    for w in WARN {
        cpp.flag(w);
    }
    cpp.compile("simpler_orch_trampoline");

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let so_path = out_dir.join("libsimpler_sim_context.so");
    let compiler = cc::Build::new().get_compiler();
    let mut cmd = compiler.to_command();
    cmd.args(WARN)
        .args(["-std=c11", "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-Wl,--no-undefined"])
        .arg("-o")
        .arg(&so_path)
        .arg("csrc/sim_context.c")
        .arg("-lpthread");
    let status = cmd.status().unwrap_or_else(|e| panic!("failed to run the C compiler for sim_context.c: {e}"));
    assert!(status.success(), "compiling csrc/sim_context.c into {} failed ({status})", so_path.display());

    let cxx = cc::Build::new().cpp(true).get_compiler();
    println!("cargo:rustc-env=SIMPLER_BUILD_CC={}", compiler.path().display());
    println!("cargo:rustc-env=SIMPLER_BUILD_CXX={}", cxx.path().display());
    if let Ok(target) = std::env::var("TARGET") {
        println!("cargo:rustc-env=SIMPLER_BUILD_TARGET={target}");
    }
}

/// Compiles the bundled example orchestrations (C++, against
/// `include/pto_orchestration_api.h`) and kernels (C) into shared objects in
/// `OUT_DIR/examples/`; `src/loader/example_sos.rs` embeds them so `simpler demo`
/// and the benchmarks need nothing else on the machine.
fn build_examples() {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo")).join("examples");
    std::fs::create_dir_all(&out_dir).expect("create OUT_DIR/examples");
    let cc = cc::Build::new().get_compiler();
    let cxx = cc::Build::new().cpp(true).get_compiler();
    let jobs: [(&str, &str, bool); 16] = [
        ("examples/bench/orchestration.cpp", "bench_orch.so", true),
        ("examples/trb_vector/orchestration.cpp", "trb_vector_orch.so", true),
        ("examples/trb_nested/orchestration.cpp", "trb_nested_orch.so", true),
        ("examples/trb_fanout/orchestration.cpp", "trb_fanout_orch.so", true),
        ("examples/kernels/kernel_add.c", "kernel_add.so", false),
        ("examples/kernels/kernel_add_scalar.c", "kernel_add_scalar.so", false),
        ("examples/kernels/kernel_mul.c", "kernel_mul.so", false),
        ("examples/kernels/kernel_noop.c", "kernel_noop.so", false),
        ("examples/abg_vector/orchestration.c", "abg_vector_orch.so", false),
        ("examples/abg_ring_vector/orchestration.cpp", "abg_ring_vector_orch.so", true),
        ("examples/abg_vector/kernel_add.c", "abg_kernel_add.so", false),
        ("examples/abg_vector/kernel_add_scalar.c", "abg_kernel_add_scalar.so", false),
        ("examples/abg_vector/kernel_mul.c", "abg_kernel_mul.so", false),
        ("c_tests/fixtures/hbg_vector/orchestration.c", "hbg_vector_orch.so", false),
        ("examples/bench/abg_orchestration.c", "abg_bench_orch.so", false),
        ("examples/bench/hbg_orchestration.c", "hbg_bench_orch.so", false),
    ];
    println!("cargo:rerun-if-changed=examples");
    println!("cargo:rerun-if-changed=include/pto_orchestration_api.h");
    println!("cargo:rerun-if-changed=include/pto_kernel_abi.h");
    println!("cargo:rerun-if-changed=include/pto_aicpu_build_graph.h");
    println!("cargo:rerun-if-changed=include/pto_aicpu_build_graph_ring.h");
    println!("cargo:rerun-if-changed=c_tests/fixtures/hbg_vector");
    println!("cargo:rerun-if-changed=c_tests/include");
    for (src, out, cpp) in jobs {
        let mut cmd = if cpp { cxx.to_command() } else { cc.to_command() };
        if cpp {
            cmd.arg("-std=c++17");
        } else {
            cmd.arg("-std=c11");
        }
        cmd.args([
            "-Wall",
            "-Wextra",
            "-Werror",
            // Kernels at -O3: their element loops vectorize (with a runtime
            // alias check; -O2's cheap cost model leaves them scalar).
            if src.contains("/kernel") { "-O3" } else { "-O2" },
            "-shared",
            "-fPIC",
            "-Wl,--build-id=sha1",
            "-Iinclude",
            "-Iexamples/kernels",
            "-Ic_tests/include",
        ])
        .arg("-o")
        .arg(out_dir.join(out))
        .arg(src);
        let status = cmd.status().unwrap_or_else(|e| panic!("failed to run the compiler for {src}: {e}"));
        assert!(status.success(), "compiling {src} failed ({status})");
    }
}
