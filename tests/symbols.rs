//! libnrtq.so as a C library on disk: soname libnrtq.so.0, exports only `nrtq_*`.
use std::path::PathBuf;
use std::process::Command;

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
    let out = Command::new(cmd)
        .args(args)
        .arg(library())
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
