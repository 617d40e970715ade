//! The nrtq C examples in examples-c/, built with the Makefile (pkg-config finds the
//! build tree's nrtq.pc) and run against the emulator generation `NRT_EMU_API` names.
//! Each program checks its own results and ends with a `PASS:` line; these tests also
//! check the figures they print.
use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>, seen from this test binary (target/<profile>/deps/<exe>).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn profile() -> String {
    profile_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

fn build_examples() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let out = Command::new("make")
            .args([
                "-s",
                "-C",
                "examples-c",
                "nrtq",
                &format!("PROFILE={}", profile()),
            ])
            .current_dir(root())
            .output()
            .expect("run make");
        assert!(
            out.status.success(),
            "make -C examples-c nrtq failed (run `cargo build --workspace` first):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Run one example on the selected generation; returns its stdout after asserting it passed.
fn run(program: &str, args: &[&str]) -> String {
    build_examples();
    let generation = nrt_emu::selected_generation();
    let lib = nrt_emu::library_path(&generation);
    let exe = profile_dir().join("examples-c").join(program);
    let out = Command::new(&exe)
        .args(args)
        .env("LD_LIBRARY_PATH", lib.parent().unwrap())
        .env("NRT_EMU_API", &generation)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains(&format!("PASS: {program}")),
        "{program} on {generation} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn model(name: &str) -> String {
    root()
        .join("nrt-emu/models")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn server_with_producer_threads_verifies_every_output() {
    let out = run("nrtq_server", &[&model("add_f32.nrtm"), "4", "25"]);
    assert!(
        out.contains("callbacks 400, verified 400 of 400, wrong elements 0, failed 0"),
        "{out}"
    );
    let generation = nrt_emu::selected_generation().replace('.', "");
    assert!(
        out.contains(&format!("(async generation {generation})")),
        "{out}"
    );
}

#[test]
fn event_loop_reaps_through_epoll() {
    let out = run("nrtq_event_loop", &[&model("add_f32.nrtm"), "1000", "8"]);
    assert!(
        out.contains("requests 1000, reaped 1000, verified 1000"),
        "{out}"
    );
}

#[test]
fn errors_and_a_dying_unit_reach_the_application() {
    let out = run(
        "nrtq_errors",
        &[&model("add_f32_faults.nrtm"), &model("add_f32_dies.nrtm")],
    );
    assert!(
        out.contains("36 ok, 4 NRTQ_ERR_EXEC, 0 other; error log: 4 entries"),
        "{out}"
    );
    assert!(
        out.contains("fatal callback: NRTQ_ERR_QUEUE_FAILED"),
        "{out}"
    );
    assert!(out.contains("completions: 5 ok,"), "{out}");
}
