//! The Go example in examples-go/ (a user of the Go package in go/, through a replace
//! directive), built with `go build` and run against the emulator generation
//! `NRT_EMU_API` names. The program checks every output itself and ends with a
//! `PASS: nrtq_go` line; these tests also check its counts, that `go vet` is clean, and
//! that it fails (no PASS, exit 1) when execution errors reach it or when the outputs are
//! wrong. Environment (offline, caches under target/): see go_support.
mod build_tree;
mod go_support;

use go_support::{check, go, go_dir, have_go, libnrt_dir, root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn out_dir() -> PathBuf {
    go_dir().join("examples-go")
}

/// Build the example once per test process; returns the executable. Under nextest each
/// test is its own process, so the build goes to a private name and is renamed into place:
/// another process never executes a half-written file.
fn build() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        // One executable per generation: each has its own libnrt rpath.
        let generation = nrt_emu::selected_generation();
        std::fs::create_dir_all(out_dir()).expect("create the output folder");
        let exe = out_dir().join(format!("reapdemo-{generation}"));
        let tmp = out_dir().join(format!("reapdemo.{}.tmp", std::process::id()));
        let out = go(
            &root().join("examples-go"),
            &["build", "-o", tmp.to_str().unwrap(), "."],
        )
        .output()
        .expect("run go build");
        check("go build (examples-go)", &out);
        std::fs::rename(&tmp, &exe).expect("rename the Go build into place");
        exe
    })
}

/// A checked-in model file.
fn model(name: &str) -> PathBuf {
    root().join("nrt-emu/models").join(name)
}

/// Run the example on the selected generation.
fn run(model: &Path, args: &[&str]) -> (Output, String) {
    let exe = build();
    let generation = nrt_emu::selected_generation();
    let out = Command::new(exe)
        .arg("-model")
        .arg(model)
        .args(args)
        .env("LD_LIBRARY_PATH", libnrt_dir())
        .env("NRT_EMU_API", &generation)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    (out, stdout)
}

/// The number after `label` in `text` ("backlog-full retries 761;" -> 761).
fn number_after(text: &str, label: &str) -> u64 {
    let rest = &text[text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        + label.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in:\n{text}"))
}

#[test]
fn go_vet_is_clean() {
    if !have_go() {
        return;
    }
    let out = go(&root().join("examples-go"), &["vet", "."])
        .output()
        .expect("run go vet");
    check("go vet (examples-go)", &out);
}

#[test]
fn go_reap_service_verifies_every_output() {
    if !have_go() {
        return;
    }
    // 4 producers x 200 requests, 4 in flight each (16 wanted) against a device depth of 3
    // and a backlog of 4: producers must meet NRTQ_BACKLOG_FULL and retry.
    let (out, stdout) = run(
        &model("add_f32.nrtm"),
        &[
            "-producers",
            "4",
            "-requests",
            "200",
            "-slots",
            "4",
            "-depth",
            "3",
            "-backlog",
            "4",
        ],
    );
    let generation = nrt_emu::selected_generation();
    assert!(
        out.status.success() && stdout.contains("PASS: nrtq_go 800 of 800 requests verified"),
        "reapdemo on {generation} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "submitted 800, received 800, verified 800, wrong requests 0, wrong elements 0, failed 0"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("nrtq stats: submitted 800, completed 800, failed 0, resolved 800"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("async generation {}", generation.replace('.', ""))),
        "{stdout}"
    );
    // The thread-local message arrived with its error, read on the call's OS thread: the
    // detail after the status names the argument.
    let probe = stdout
        .lines()
        .find(|l| l.starts_with("last-error probe: "))
        .unwrap_or_else(|| panic!("no probe line:\n{stdout}"));
    let (_, detail) = probe
        .split_once("nrtq_queue_config_set_depth: NRTQ_ERR_INVALID")
        .unwrap_or_else(|| panic!("probe without its call and status: {probe}"));
    assert!(detail.contains("depth"), "probe without detail: {probe}");
    assert!(
        number_after(&stdout, "backlog-full retries") > 0,
        "the small backlog never refused a submit:\n{stdout}"
    );
}

#[test]
fn go_reap_service_fails_on_execution_errors() {
    if !have_go() {
        return;
    }
    // Every 10th request on this model completes with an execution error: each one reaches
    // its producer with its status, and the program must refuse to print PASS.
    let (out, stdout) = run(
        &model("add_f32_faults.nrtm"),
        &["-producers", "2", "-requests", "50", "-backlog", "1024"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stdout.contains("FAIL: nrtq_go") && !stdout.contains("PASS"),
        "reapdemo passed on a faulty model:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(
            "submitted 100, received 100, verified 90, wrong requests 0, wrong elements 0, failed 10"
        ),
        "{stdout}\n{stderr}"
    );
    assert_eq!(
        stderr.matches("NRTQ_ERR_EXEC").count(),
        10,
        "one line per failed request:\n{stderr}"
    );
}

#[test]
fn go_reap_service_fails_on_wrong_outputs() {
    if !have_go() {
        return;
    }
    // add_f32 with its add turned into a subtraction: same tensors, so every request
    // runs, but out[i] = base - i instead of base + 3i, wrong everywhere except i = 0.
    let add = std::fs::read_to_string(model("add_f32.nrtm")).expect("read add_f32.nrtm");
    assert!(
        add.contains("op add out a b"),
        "add_f32.nrtm changed shape:\n{add}"
    );
    let dir = out_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let sub = dir.join(format!("sub_f32.{}.nrtm", std::process::id()));
    std::fs::write(&sub, add.replace("op add out a b", "op sub out a b")).unwrap();
    let (out, stdout) = run(&sub, &["-producers", "2", "-requests", "10"]);
    std::fs::remove_file(&sub).ok();
    assert!(
        !out.status.success() && stdout.contains("FAIL: nrtq_go") && !stdout.contains("PASS"),
        "reapdemo passed with wrong outputs:\n{stdout}"
    );
    assert!(
        stdout.contains("verified 0, wrong requests 20, wrong elements 20460, failed 0"),
        "{stdout}"
    );
}
