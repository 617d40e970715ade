//! Shared by the Go tests (`go_module.rs`: the package in go/; `go_example.rs`: the
//! program in examples-go/): a hermetic, offline `go` command against this build tree and
//! the emulator generation `NRT_EMU_API` names.
//!
//! The Go builds need no home directory and no network: GOCACHE and GOPATH live under
//! target/<profile>/go, GOENV/GOWORK are off, GOPROXY is off (the modules have no
//! dependencies outside this checkout; a download attempt fails at once instead of
//! hanging). Without a `go` on PATH the tests print a note and pass, except under
//! `CI=true`, where `.ci/run` has installed one and its absence is an error.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub use crate::build_tree::{profile_dir, root};

/// Where the Go tests keep their caches and outputs.
pub fn go_dir() -> PathBuf {
    profile_dir().join("go")
}

/// The folder of the selected generation's libnrt.so.
pub fn libnrt_dir() -> PathBuf {
    let lib = nrt_emu::library_path(&nrt_emu::selected_generation());
    lib.parent().unwrap().to_path_buf()
}

/// The one place that says how a Go build finds libnrtq and libnrt: a folder for
/// PKG_CONFIG_PATH holding uninstalled pkg-config files for this build tree.
///
/// - `libnrt.pc`: libnrt of the generation `NRT_EMU_API` names (target/<profile>/emu/<gen>,
///   with an rpath), its headers (nrt-emu/include), and the variable `models`
///   (nrt-emu/models) that `nrtqtest.EmulatorModels` reads — the names the installed
///   emulator's `libnrt.pc` uses;
/// - `nrtq.pc`: libnrtq (target/<profile>, with an rpath) and include/nrtq.h, requiring
///   `libnrt`, so `#cgo pkg-config: nrtq` alone brings both libraries' flags.
///
/// Once installed `.pc` files exist, this is the function to point at them instead.
/// Each generation has its own folder, and the generation is also passed in CGO_CFLAGS
/// (see `go`), because Go's build cache does not notice a changed pkg-config file.
pub fn pkg_config_dir() -> PathBuf {
    // Once per test process: the tests of one binary run on several threads.
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(write_pkg_config_files).clone()
}

fn write_pkg_config_files() -> PathBuf {
    let generation = nrt_emu::selected_generation();
    let dir = go_dir().join(format!("pkgconfig-{generation}"));
    std::fs::create_dir_all(&dir).expect("create the pkg-config folder");
    let root = root();
    // The same names as the installed emulator's (libnrt-emu.pc.in): package `libnrt`,
    // variable `models`; here pointing into the build tree.
    let async_api = if generation == "2.28" { 2 } else { 3 };
    let nrt_emu = format!(
        "# Uninstalled pkg-config file for the emulator's libnrt (written by tests/go_support).\n\
         libdir={lib}\n\
         includedir={inc}\n\
         models={models}\n\
         generation={generation}\n\n\
         Name: libnrt\n\
         Description: nrt-emu, a software libnrt (SDK {generation} async API)\n\
         Version: {generation}\n\
         Cflags: -I${{includedir}} -DNRT_ASYNC_API_VERSION={async_api}\n\
         Libs: -L${{libdir}} -Wl,-rpath,${{libdir}} -lnrt\n",
        lib = libnrt_dir().display(),
        inc = root.join("nrt-emu/include").display(),
        models = root.join("nrt-emu/models").display(),
    );
    let nrtq = format!(
        "# Uninstalled pkg-config file for libnrtq over the emulator (written by tests/go_support).\n\
         libdir={lib}\n\
         includedir={inc}\n\n\
         Name: nrtq\n\
         Description: Auto-refilling queues over the AWS Neuron Runtime async API\n\
         Version: {version}\n\
         Requires: libnrt\n\
         Cflags: -I${{includedir}}\n\
         Libs: -L${{libdir}} -Wl,-rpath,${{libdir}} -lnrtq\n",
        lib = profile_dir().display(),
        inc = root.join("include").display(),
        version = env!("CARGO_PKG_VERSION"),
    );
    for (name, text) in [("libnrt.pc", nrt_emu), ("nrtq.pc", nrtq)] {
        // Written aside and renamed: another test process may be reading the file.
        let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).expect("write a pkg-config file");
        std::fs::rename(&tmp, dir.join(name)).expect("rename a pkg-config file into place");
    }
    dir
}

/// A `go` command run in `dir` with the hermetic, offline environment described above.
pub fn go(dir: &Path, args: &[&str]) -> Command {
    let out = go_dir();
    let generation = nrt_emu::selected_generation();
    let mut cmd = Command::new("go");
    cmd.args(args)
        .current_dir(dir)
        .env("GOCACHE", out.join("gocache"))
        .env("GOPATH", out.join("gopath"))
        .env("GOENV", "off")
        .env("GOWORK", "off")
        // Resolve the module graph from go.mod alone (the replace directive to ../go).
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "1")
        // Only a cache key: see pkg_config_dir.
        .env(
            "CGO_CFLAGS",
            format!(
                "-g -O2 -DNRTQ_GO_EMU_GENERATION={}",
                generation.replace('.', "_")
            ),
        )
        .env_remove("CGO_LDFLAGS")
        .env("PKG_CONFIG_PATH", pkg_config_dir())
        .env("NRT_EMU_API", &generation)
        // nrtqtest finds the models through pkg-config's nrt-emu, as an installed
        // emulator would be found.
        .env_remove("NRT_EMU_MODELS")
        .env_remove("NRT_EMU_PREFIX");
    cmd
}

pub fn check(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed (run `cargo build --workspace` first):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether a Go toolchain is on PATH; without one, a note (developer machine) or a
/// failure (CI, where `.ci/run` should have installed it).
pub fn have_go() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        let found = Command::new("go")
            .arg("version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        let ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"));
        assert!(
            found || !ci,
            "CI=true but no `go` on PATH: .ci/run should have installed golang-go"
        );
        if !found {
            eprintln!("note: no `go` on PATH; skipping the Go tests (apt-get install golang-go)");
        }
        found
    })
}

/// `go` as above, for a build against an installed nrtq: nothing of this process's
/// environment but PATH (where go, the C compiler and pkg-config are), and PKG_CONFIG_PATH
/// set to `pkg_config_path` alone, so no build-tree path reaches the build. `cache_key`
/// goes into CGO_CFLAGS in place of the generation (see pkg_config_dir): name the install.
pub fn go_against(dir: &Path, args: &[&str], pkg_config_path: &str, cache_key: &str) -> Command {
    let template = go(dir, args);
    let mut cmd = Command::new(template.get_program());
    cmd.args(template.get_args()).current_dir(dir).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    cmd.env("PKG_CONFIG_PATH", pkg_config_path).env(
        "CGO_CFLAGS",
        format!("-g -O2 -DNRTQ_GO_INSTALL={cache_key}"),
    );
    cmd
}
