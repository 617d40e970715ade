//! libnrtq.so as a C library on disk: soname libnrtq.so.0, exports only `nrtq_*`; and
//! the installed `libnrtq.so.X.Y.Z` (`make shared-lib`), where every one of those symbols
//! carries the version node `NRTQ_0`.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// target/<profile>/libnrtq.so, as `cargo build` leaves it (the Makefile builds first).
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().unwrap().parent().unwrap();
    for candidate in [profile.join("libnrtq.so"), profile.join("deps/libnrtq.so")] {
        if candidate.exists() {
            return candidate;
        }
    }
    panic!(
        "libnrtq.so not found under {}: run `cargo build --workspace` first",
        profile.display()
    );
}

fn tool(cmd: &str, args: &[&str]) -> String {
    tool_on(&library(), cmd, args)
}

fn tool_on(library: &Path, cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .arg(library)
        .output()
        .expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn exports_only_nrtq_symbols() {
    let listing = tool("nm", &["-D", "--defined-only"]);
    let names: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("nrtq_")),
        "no nrtq_ symbol exported"
    );
    let foreign: Vec<_> = names.iter().filter(|n| !n.starts_with("nrtq_")).collect();
    assert!(
        foreign.is_empty(),
        "libnrtq.so exports symbols outside nrtq_: {foreign:?}"
    );
}

#[test]
fn soname_is_libnrtq_so_0() {
    let dynamic = tool("readelf", &["-d"]);
    assert!(
        dynamic.contains("Library soname: [libnrtq.so.0]"),
        "soname missing:\n{dynamic}"
    );
}

/// target/<profile>/libnrtq.so.X.Y.Z, linked by `make shared-lib` (no cargo) from the
/// libnrtq.a of this build, as `make` does before `make install`.
fn versioned_library() -> &'static Path {
    static LINKED: OnceLock<PathBuf> = OnceLock::new();
    LINKED.get_or_init(|| {
        let cargo_built = library();
        let profile_dir = cargo_built.parent().unwrap();
        let profile = profile_dir.file_name().unwrap().to_str().unwrap();
        let target_dir = profile_dir.parent().unwrap();
        let out = Command::new("make")
            .args(["-s", "--no-print-directory", "shared-lib"])
            .arg(format!("PROFILE={profile}"))
            .arg(format!("CARGO_TARGET_DIR={}", target_dir.display()))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run make");
        assert!(
            out.status.success(),
            "make shared-lib failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        profile_dir.join(format!("libnrtq.so.{}", env!("CARGO_PKG_VERSION")))
    })
}

/// (name, version) of every symbol the library defines in its dynamic table, from
/// `readelf --dyn-syms` (`name@@NODE` for a default version, bare name when unversioned).
fn defined_dynamic_symbols(library: &Path) -> Vec<(String, Option<String>)> {
    let listing = tool_on(library, "readelf", &["--dyn-syms", "--wide"]);
    listing
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // Num: Value Size Type Bind Vis Ndx Name
            let is_entry = cols
                .first()
                .and_then(|c| c.strip_suffix(':'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !is_entry || cols.len() < 8 || cols[6] == "UND" {
                return None;
            }
            let name = cols[7];
            Some(match name.split_once("@@") {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (name.to_string(), None),
            })
        })
        .collect()
}

#[test]
fn installed_library_binds_every_symbol_to_nrtq_0() {
    let symbols = defined_dynamic_symbols(versioned_library());
    let exported: Vec<&str> = symbols
        .iter()
        .filter(|(name, _)| name.starts_with("nrtq_"))
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        !exported.is_empty(),
        "the versioned library exports no nrtq_ symbol"
    );
    // The version node's own definition is an absolute symbol named after it.
    let wrong: Vec<_> = symbols
        .iter()
        .filter(|(name, version)| name != "NRTQ_0" && version.as_deref() != Some("NRTQ_0"))
        .collect();
    assert!(
        wrong.is_empty(),
        "symbols without the NRTQ_0 version, or outside nrtq_: {wrong:?}"
    );
}

#[test]
fn installed_library_exports_what_the_cargo_cdylib_exports() {
    let mut cdylib: Vec<String> = defined_dynamic_symbols(&library())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut installed: Vec<String> = defined_dynamic_symbols(versioned_library())
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name != "NRTQ_0")
        .collect();
    cdylib.sort();
    installed.sort();
    assert_eq!(
        installed, cdylib,
        "the relinked library's exports differ from cargo's cdylib"
    );
}

#[test]
fn installed_library_soname_is_libnrtq_so_0() {
    let dynamic = tool_on(versioned_library(), "readelf", &["-d"]);
    assert!(
        dynamic.contains("Library soname: [libnrtq.so.0]"),
        "soname missing:\n{dynamic}"
    );
}
