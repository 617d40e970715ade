//! Build script for libnrtq:
//! - gives the shared library its soname, `libnrtq.so.0` (an ABI counter, bumped only on
//!   an ABI break, independent of the crate's semver), and the `libnrtq.so.0` symlink
//!   next to it so programs linked against it find it in the build tree;
//! - writes the version script of the installed library, `target/<profile>/libnrtq.map`
//!   (node `NRTQ_0` on every `nrtq_*` symbol), which `make shared-lib` links with;
//! - generates `include/nrtq.h` with cbindgen into OUT_DIR (and into `include/` when
//!   `NRTQ_UPDATE_HEADER=1`), with the `NRTQ_VERSION_*` macros taken from the crate
//!   version; tests/header.rs compares the two;
//! - writes the header's `enum nrtq_status` itself from `src/status_codes.rs`, the table
//!   that also generates the Rust enums (cbindgen cannot see macro-generated items);
//! - writes an uninstalled pkg-config file, `target/<profile>/pkgconfig/nrtq.pc`, so the
//!   C examples build against the tree with `pkg-config --cflags --libs nrtq`, and the
//!   template `make install` finishes, `target/<profile>/pkgconfig/nrtq.pc.in` (nrtq.pc.in
//!   with the version and `Libs.private` filled in; only the install paths left), and
//!   `target/<profile>/nrtq-install.mk`, the facts `make` reads from the build.
use std::path::{Path, PathBuf};

const SONAME: &str = "libnrtq.so.0";

/// The symbol version node of the C ABI: every `nrtq_*` symbol is bound to it, so a
/// program linked today records `nrtq_x@NRTQ_0` and a later ABI break can add `NRTQ_1`
/// beside it. The node's number follows the soname's.
const SYMBOL_VERSION_NODE: &str = "NRTQ_0";

/// What a program linking `libnrtq.a` must add (`Libs.private` of nrtq.pc): the native
/// libraries rustc reports with `--print native-static-libs` for this crate's staticlib
/// on Linux. This is the only place the list is written; tests/declared_facts.rs asks rustc
/// again and fails when they differ.
const LIBS_PRIVATE: &str = "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc";

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    link_shared_library();
    // cbindgen reads the whole crate, so any public item under src/ can reach the header.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=NRTQ_UPDATE_HEADER");

    generate_header(&root, &out_dir);

    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let profile_dir = out_dir
        .ancestors()
        .nth(3)
        .expect("OUT_DIR layout")
        .to_path_buf();
    let soname_link = profile_dir.join(SONAME);
    let _ = std::fs::remove_file(&soname_link);
    std::os::unix::fs::symlink("libnrtq.so", &soname_link).expect("symlink soname");
    write_pkg_config(&root, &profile_dir);
    write_install_pkg_config_template(&root, &profile_dir);
    write_version_script(&profile_dir);
    write_install_facts(&profile_dir);
    // tests/declared_facts.rs asks the same compiler for the staticlib's native libraries.
    if let Ok(rustc) = std::env::var("RUSTC") {
        println!("cargo:rustc-env=NRTQ_BUILD_RUSTC={rustc}");
    }
}

/// The soname of the cdylib cargo builds (the build tree's `libnrtq.so`, used by the
/// tests, the examples and `NRTQ_LIBNRT`-style paths).
fn link_shared_library() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}");
}

/// The version script of the installed library, `target/<profile>/libnrtq.map`: every
/// `nrtq_*` symbol bound to `SYMBOL_VERSION_NODE`, everything else local.
///
/// It cannot be handed to the cdylib link (`cargo:rustc-cdylib-link-arg`): rustc passes
/// its own anonymous version script listing every exported name first. rust-lld (the
/// default linker since Rust 1.90) then lets rustc's exact names win, so the symbols come
/// out unversioned, and GNU ld refuses to combine an anonymous script with a named one.
/// `make build` therefore links `libnrtq.so.X.Y.Z` from `libnrtq.a` with this script
/// alone (target `shared-lib`); tests/symbols.rs checks the result.
fn write_version_script(profile_dir: &Path) {
    let script = format!("{SYMBOL_VERSION_NODE} {{\n  global: nrtq_*;\n  local: *;\n}};\n");
    std::fs::write(profile_dir.join("libnrtq.map"), script).expect("write libnrtq.map");
}

/// `target/<profile>/nrtq-install.mk`: what `make shared-lib` and `make install` must
/// know about this build (the file name `libnrtq.so.X.Y.Z`, the soname, the native
/// libraries of the relink), read from the build rather than from Cargo.toml, so that
/// neither needs cargo nor a second copy of them.
fn write_install_facts(profile_dir: &Path) {
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let facts = format!(
        "# Written by build.rs for `make install`: facts of this build.\n\
         NRTQ_VERSION := {version}\n\
         NRTQ_SONAME := {SONAME}\n\
         NRTQ_LIBS_PRIVATE := {LIBS_PRIVATE}\n"
    );
    std::fs::write(profile_dir.join("nrtq-install.mk"), facts).expect("write nrtq-install.mk");
}

/// `NRTQ_VERSION_MAJOR/MINOR/PATCH` for the header, from the crate version: the header
/// can then never disagree with `nrtq_version()` (tests/declared_facts.rs checks it).
fn version_macros() -> String {
    let part = |name: &str| std::env::var(name).expect("cargo sets CARGO_PKG_VERSION_*");
    format!(
        "\n/**\n * Major version of this header (matches `nrtq_version()` of a compatible library).\n */\n\
         #define NRTQ_VERSION_MAJOR {}\n\n\
         /**\n * Minor version of this header.\n */\n\
         #define NRTQ_VERSION_MINOR {}\n\n\
         /**\n * Patch version of this header.\n */\n\
         #define NRTQ_VERSION_PATCH {}",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    )
}

/// nrtq.pc.in with what the build knows (version, `Libs.private`) filled in. `make
/// install` substitutes the paths (`@PREFIX@`, `@LIBDIR@`, `@INCLUDEDIR@`) and needs no
/// cargo to do it.
fn write_install_pkg_config_template(root: &Path, profile_dir: &Path) {
    let template_path = root.join("nrtq.pc.in");
    println!("cargo:rerun-if-changed={}", template_path.display());
    let template = std::fs::read_to_string(&template_path).expect("read nrtq.pc.in");
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let filled = template
        .replace("@VERSION@", &version)
        .replace("@LIBS_PRIVATE@", LIBS_PRIVATE);
    let dir = profile_dir.join("pkgconfig");
    std::fs::create_dir_all(&dir).expect("pkgconfig dir");
    std::fs::write(dir.join("nrtq.pc.in"), filled).expect("write nrtq.pc.in");
}

fn generate_header(root: &Path, out_dir: &Path) {
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut after_includes = config.after_includes.take().unwrap_or_default();
    after_includes.push_str(&version_macros());
    after_includes.push('\n');
    after_includes.push_str(&status_enum_c());
    config.after_includes = Some(after_includes);
    let generated = out_dir.join("nrtq.h");
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/nrtq.h")
        .write_to_file(&generated);
    println!(
        "cargo:rustc-env=NRTQ_GENERATED_HEADER={}",
        generated.display()
    );
    if std::env::var_os("NRTQ_UPDATE_HEADER").is_some_and(|v| v == "1") {
        std::fs::copy(&generated, root.join("include/nrtq.h")).expect("update include/nrtq.h");
    }
}

fn write_pkg_config(root: &Path, profile_dir: &Path) {
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let pc = format!(
        "# Uninstalled pkg-config file for the build tree (written by build.rs).\n\
         includedir={inc}\n\
         libdir={lib}\n\n\
         Name: nrtq\n\
         Description: Auto-refilling queues over the AWS Neuron Runtime async API\n\
         Version: {version}\n\
         Cflags: -I${{includedir}}\n\
         Libs: -L${{libdir}} -Wl,-rpath,${{libdir}} -lnrtq\n\
         Libs.private: {LIBS_PRIVATE}\n",
        inc = root.join("include").display(),
        lib = profile_dir.display(),
    );
    let dir = profile_dir.join("pkgconfig");
    std::fs::create_dir_all(&dir).expect("pkgconfig dir");
    std::fs::write(dir.join("nrtq.pc"), pc).expect("write nrtq.pc");
}

// ---- The status enum of the header, from the same table as the Rust enums ----

/// One row of `src/status_codes.rs`, as the header needs it.
struct StatusRow {
    c_name: &'static str,
    code: u32,
    docs: &'static [&'static str],
}

/// This build script's reading of the status table: the C names, codes and doc lines.
macro_rules! status_table {
    (
        $(#[doc = $type_doc:literal])*
        enum {
            $(
                $(#[doc = $doc:literal])*
                $rust:ident = $c:ident = $code:literal => $desc:literal,
            )*
        }
    ) => {
        const STATUS_TYPE_DOCS: &[&str] = &[$($type_doc),*];
        const STATUS_ROWS: &[StatusRow] = &[$(
            StatusRow { c_name: stringify!($c), code: $code, docs: &[$($doc),*] },
        )*];
    };
}

include!("src/status_codes.rs");

/// A doc comment in the header's style (cbindgen's "doxy" style), indented by `indent`.
fn doxy(docs: &[&str], indent: &str) -> String {
    let mut s = format!("{indent}/**\n");
    for line in docs {
        // A `///` line reaches the macro as `#[doc = " text"]`: drop that one space.
        let line = line.strip_prefix(' ').unwrap_or(line);
        if line.is_empty() {
            s.push_str(&format!("{indent} *\n"));
        } else {
            s.push_str(&format!("{indent} * {line}\n"));
        }
    }
    s.push_str(&format!("{indent} */\n"));
    s
}

/// `enum nrtq_status` in the form cbindgen gives every other enum of the header with
/// `cpp_compat`: a fixed `uint32_t` type in C++ and C23, a `uint32_t` typedef before C23.
fn status_enum_c() -> String {
    let mut s = String::from("\n");
    s.push_str(&doxy(STATUS_TYPE_DOCS, ""));
    s.push_str(
        "enum nrtq_status\n\
         #if defined(__cplusplus) || __STDC_VERSION__ >= 202311L\n\
         \x20 : uint32_t\n\
         #endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L\n\
         \x20{\n",
    );
    for row in STATUS_ROWS {
        s.push_str(&doxy(row.docs, "  "));
        s.push_str(&format!("  {} = {},\n", row.c_name, row.code));
    }
    s.push_str(
        "};\n\
         #ifndef __cplusplus\n\
         #if __STDC_VERSION__ >= 202311L\n\
         typedef enum nrtq_status nrtq_status;\n\
         #else\n\
         typedef uint32_t nrtq_status;\n\
         #endif // __STDC_VERSION__ >= 202311L\n\
         #endif // __cplusplus",
    );
    s
}
