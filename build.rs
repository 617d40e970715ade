//! Build script for libnrtq:
//! - gives the shared library its soname, `libnrtq.so.0` (an ABI counter, bumped only on
//!   an ABI break, independent of the crate's semver), and the `libnrtq.so.0` symlink
//!   next to it so programs linked against it find it in the build tree;
//! - generates `include/nrtq.h` with cbindgen into OUT_DIR (and into `include/` when
//!   `NRTQ_UPDATE_HEADER=1`); tests/header.rs compares the two;
//! - writes the header's `enum nrtq_status` itself from `src/status_codes.rs`, the table
//!   that also generates the Rust enums (cbindgen cannot see macro-generated items);
//! - writes an uninstalled pkg-config file, `target/<profile>/pkgconfig/nrtq.pc`, so the
//!   C examples build against the tree with `pkg-config --cflags --libs nrtq`.
use std::path::{Path, PathBuf};

const SONAME: &str = "libnrtq.so.0";

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}");
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
}

fn generate_header(root: &Path, out_dir: &Path) {
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut after_includes = config.after_includes.take().unwrap_or_default();
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
         Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl\n",
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
