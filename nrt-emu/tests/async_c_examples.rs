//! The raw-API C programs of `examples-c/` (SDK 2.28 pattern; SDK 2.30 statuses and
//! eventfds), built with `make` (-Wall -Wextra -Werror) against the emulator and run
//! against the generation each was written for; their output is asserted.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Build the examples for the profile this test was built in; the binaries' folder.
fn build() -> PathBuf {
    let lib = nrt_emu::library_path("2.28");
    let profile_dir = lib.parent().unwrap().parent().unwrap().parent().unwrap();
    let profile = profile_dir
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let out = profile_dir.join("examples-c-test");
    let st = Command::new("make")
        .arg("-C")
        .arg(root().join("examples-c"))
        .arg(format!("PROFILE={profile}"))
        .arg(format!("OUT={}", out.display()))
        .arg("raw")
        .status()
        .expect("make runs");
    assert!(
        st.success(),
        "examples-c build failed (run `cargo build --workspace` first)"
    );
    out
}

fn run(bin: &PathBuf, generation: &str, args: &[&str]) -> String {
    let o = Command::new(bin)
        .args(args)
        .env("NRT_EMU_API", generation)
        .output()
        .expect("example runs");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{} failed: {}\n{}",
        bin.display(),
        text,
        String::from_utf8_lossy(&o.stderr)
    );
    text
}

#[test]
fn raw_c_examples_pass_against_the_emulator() {
    let out = build();
    let models = root().join("nrt-emu/models");
    let add = models.join("add_f32.nrtm");
    let t = run(&out.join("raw_async_228"), "2.28", &[add.to_str().unwrap()]);
    assert!(t.contains("before NRT_QUEUE_FULL"), "{t}");
    assert!(t.contains("checked 1024 output elements"), "{t}");
    assert!(t.contains("PASS raw_async_228"), "{t}");

    let t = run(
        &out.join("raw_async_230"),
        "2.30",
        &[add.to_str().unwrap(), "100"],
    );
    assert!(
        t.contains("PASS raw_async_230: 100 requests, 0 failed"),
        "{t}"
    );
    assert!(t.contains("outputs correct"), "{t}");

    let faults = models.join("add_f32_faults.nrtm");
    let t = run(
        &out.join("raw_async_230"),
        "2.30",
        &[faults.to_str().unwrap(), "100"],
    );
    assert!(
        t.contains("PASS raw_async_230: 100 requests, 10 failed"),
        "{t}"
    );
    assert_eq!(t.matches("completed with status 1004").count(), 10, "{t}");
}
