//! Build script shared by the three `nrt-emu/gen-*` crates.
//!
//! Each of them links the emulator core into one `libnrt.so` for one generation of the
//! async API. This script gives that library what the vendor's has:
//! - the soname `libnrt.so.1`;
//! - ELF symbol versions: everything under `NRT_2.0.0`, and in 2.29+ the `nrta_*`
//!   symbols under `NRT_3.0.0` (a child of `NRT_2.0.0`), as the SDK 2.29 library has;
//!   the emulator-only `nrtemu_*` functions under their own node `NRT_EMU_1.0`.
//! - a stable path, `target/<profile>/emu/<generation>/libnrt.so.1` (and `libnrt.so` for
//!   `-lnrt`), as symlinks to the cdylib cargo writes, so C programs, tests and
//!   `LD_LIBRARY_PATH` can name a generation without knowing cargo's file names.
//!
//! Which symbols exist at all is decided by the `global_asm!` aliases each generation's
//! `lib.rs` emits (see `nrt_emu::export`); rustc hides every other symbol itself.
use std::path::{Path, PathBuf};

fn main() {
    let pkg = std::env::var("CARGO_PKG_NAME").expect("cargo sets CARGO_PKG_NAME");
    let lib_name = pkg.replace('-', "_").replace("_gen", "");
    // nrt-emu-gen-2-28 -> "2.28"
    let generation = pkg.trim_start_matches("nrt-emu-gen-").replacen('-', ".", 1);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    let script = if generation == "2.28" {
        "NRT_2.0.0 { global: nrt_*; nrta_*; local: *; };\n\
         NRT_EMU_1.0 { global: nrtemu_*; } NRT_2.0.0;\n"
    } else {
        "NRT_2.0.0 { global: nrt_*; local: *; };\n\
         NRT_3.0.0 { global: nrta_*; } NRT_2.0.0;\n\
         NRT_EMU_1.0 { global: nrtemu_*; } NRT_3.0.0;\n"
    };
    let map = out_dir.join("libnrt.map");
    std::fs::write(&map, script).expect("write version script");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        map.display()
    );
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnrt.so.1");
    println!("cargo:rerun-if-changed=../gen-build.rs");

    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let profile_dir = out_dir.ancestors().nth(3).expect("OUT_DIR layout");
    link_generation_dir(profile_dir, &generation, &format!("lib{lib_name}.so"));
}

fn link_generation_dir(profile_dir: &Path, generation: &str, cdylib: &str) {
    let dir = profile_dir.join("emu").join(generation);
    std::fs::create_dir_all(&dir).expect("create emu dir");
    let target = Path::new("../..").join(cdylib);
    for name in ["libnrt.so.1", "libnrt.so"] {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).expect("symlink libnrt");
    }
}
