//! nrtq's Triton Inference Server backend (triton/) inside a real Triton server, driven by
//! Triton's own Python client over HTTP and gRPC, in the generation `NRT_EMU_API` names.
//!
//! - The server is Triton 2.51 from the `nvidia-pytriton` wheel and the client is
//!   `tritonclient[http,grpc]` in a virtual environment; `triton/tools/setup.sh` puts both
//!   under target/triton once (the wheel from `$TRITON_WHEEL`, else a copy already
//!   downloaded to /tmp/triton-recon, else `pip download`). Without network on a developer
//!   machine the tests print a loud note and pass; under `CI=true` (`.ci/run`) that is a
//!   failure, as for the Go tests.
//! - The backend is built with `make -C triton` against the build tree's libnrtq (pkg-config)
//!   and this generation's emulator.
//! - `triton/tests/scenarios.py` runs each scenario and asserts as it goes; this file checks
//!   that it passed, checks its summary, and checks that no process of the run is left.
mod build_tree;

use build_tree::{output_text, profile, profile_dir, root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the server and the client are installed: target/triton (shared by profiles).
fn install_dir() -> PathBuf {
    profile_dir()
        .parent()
        .expect("target/<profile> has a parent")
        .join("triton")
}

/// A copy of the wheel fetched earlier on this machine, used before downloading.
const WHEEL_CACHE: &str =
    "/tmp/triton-recon/nvidia_pytriton-0.7.0-py3-none-manylinux_2_35_x86_64.whl";

/// Installs the server and the client once per test process; None (with a note) when they
/// cannot be installed on a developer machine.
fn installed() -> Option<PathBuf> {
    static READY: OnceLock<Option<PathBuf>> = OnceLock::new();
    READY
        .get_or_init(|| {
            let dir = install_dir();
            let mut cmd = Command::new("bash");
            cmd.arg(root().join("triton/tools/setup.sh")).arg(&dir);
            if std::env::var_os("TRITON_WHEEL").is_none() && Path::new(WHEEL_CACHE).exists() {
                cmd.env("TRITON_WHEEL", WHEEL_CACHE);
            }
            let out = cmd.output().expect("run triton/tools/setup.sh");
            let ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"));
            match out.status.code() {
                Some(0) => Some(dir),
                Some(3) if !ci => {
                    eprintln!(
                        "\n*** NOTE: the Triton tests are SKIPPED: the Triton server or its client \
                         could not be installed:\n{}*** (CI=true makes this a failure)\n",
                        output_text(&out)
                    );
                    None
                }
                _ => panic!(
                    "triton/tools/setup.sh {} failed{}:\n{}",
                    dir.display(),
                    if ci {
                        " (CI=true: .ci/run installs python3-venv; the network must reach PyPI)"
                    } else {
                        ""
                    },
                    output_text(&out)
                ),
            }
        })
        .clone()
}

/// Builds libtriton_nrtq.so for this generation; returns its backend directory.
fn backend_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let generation = nrt_emu::selected_generation();
            let out = Command::new("make")
                .args(["-s", "-C", "triton", "all"])
                .arg(format!("PROFILE={}", profile()))
                .arg(format!("API={generation}"))
                .env_remove("PKG_CONFIG_PATH")
                .current_dir(root())
                .output()
                .expect("run make -C triton");
            assert!(
                out.status.success(),
                "make -C triton failed (run `cargo build --workspace` first):\n{}",
                output_text(&out)
            );
            let dir = profile_dir()
                .join("triton")
                .join(&generation)
                .join("backends");
            assert!(
                dir.join("nrtq/libtriton_nrtq.so").exists(),
                "no backend in {}",
                dir.display()
            );
            dir
        })
        .clone()
}

/// Processes whose command line mentions `needle` (this run's folder): none may outlive it.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if pid == std::process::id().to_string() {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) {
                found.push(format!("{pid}: {text}"));
            }
        }
    }
    found
}

/// Runs one scenario of triton/tests/scenarios.py; returns its summary.
fn scenario(name: &str) -> Option<serde_json::Value> {
    let install = installed()?;
    let backends = backend_dir();
    let generation = nrt_emu::selected_generation();
    let work = profile_dir().join("triton").join(&generation).join("work");
    std::fs::create_dir_all(&work).expect("create the work folder");
    let out = Command::new(install.join("venv/bin/python"))
        .arg(root().join("triton/tests/scenarios.py"))
        .arg(name)
        .arg("--server-root")
        .arg(install.join("server"))
        .arg("--backend-dir")
        .arg(&backends)
        .arg("--models")
        .arg(root().join("nrt-emu/models"))
        .arg("--work")
        .arg(&work)
        .env("NRT_EMU_API", &generation)
        // No __pycache__ in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(root())
        .output()
        .expect("run triton/tests/scenarios.py");
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "scenario {name} (NRT_EMU_API={generation}) failed:\n{text}\nserver log: {}",
        work.join(name).join("server.log").display()
    );
    // Its repository path is on the server's command line: nothing may be left running.
    let repo = work.join(name).join("repo");
    let left = processes_mentioning(&repo.to_string_lossy());
    assert!(
        left.is_empty(),
        "processes left after scenario {name}: {left:?}"
    );
    let line = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("SUMMARY "))
        .unwrap_or_else(|| panic!("scenario {name} printed no SUMMARY line:\n{text}"));
    eprintln!("scenario {name} (NRT_EMU_API={generation}): {line}");
    Some(serde_json::from_str(line).expect("a JSON summary"))
}

/// Outputs checked element by element over HTTP and gRPC (two cores, one model with four
/// outputs of which two are asked for, concurrent clients), the dynamic batcher grouping
/// requests that still run one device execution each, statistics and Prometheus metrics
/// showing queue and compute time, then SIGTERM: a clean exit, nothing left behind.
#[test]
fn serves_correct_outputs_over_http_and_grpc_and_stops_cleanly() {
    let Some(summary) = scenario("serve") else {
        return;
    };
    assert_eq!(summary["add_requests"], 208, "{summary}");
    assert_eq!(summary["batched_requests"], 16, "{summary}");
    let executions = summary["batched_executions"]
        .as_u64()
        .expect("batched_executions");
    assert!(
        (2..16).contains(&executions),
        "16 requests in {executions} batches: {summary}"
    );
    for metric in [
        "nv_inference_queue_duration_us",
        "nv_inference_compute_infer_duration_us",
    ] {
        assert!(
            summary[metric].as_f64().unwrap_or(0.0) > 0.0,
            "{metric}: {summary}"
        );
    }
    assert_eq!(summary["stopped_cleanly"], true, "{summary}");
}

/// Injected faults (NRT_EMU_FAULTS): every failing request gets its own error response
/// carrying nrtq's status and the raw NRT status, the others succeed; a core that dies
/// leaves service while the model serves on the other, and under load only the requests its
/// device held fail (those in the pool's backlog move to the other core, and the model then
/// serves on that core alone); when a model's last core dies it
/// is unloaded (its /v2/models/<name>/ready probe turns unready) and the other models keep
/// serving; configurations the backend cannot serve fail to load with the reason; then a
/// clean stop.
#[test]
fn faults_fail_only_their_requests_and_dead_cores_leave_service() {
    let Some(summary) = scenario("faults") else {
        return;
    };
    let exec = summary["exec_error_message"].as_str().unwrap_or_default();
    assert!(
        exec.contains("NRTQ_ERR_EXEC") && exec.contains("NRT status 1004"),
        "{summary}"
    );
    let dead = summary["dead_core_message"].as_str().unwrap_or_default();
    assert!(
        dead.contains("NRT status 101") && dead.contains("NeuronCore 2"),
        "{summary}"
    );
    assert_eq!(summary["refused_configs"], 5, "{summary}");
    assert_eq!(
        summary["model_ready_probe"],
        serde_json::json!([200, 400]),
        "{summary}"
    );
    // The pool fails what the dead core's device held (the scenario checks each carries NRT
    // status 101 and NeuronCore 5), not only the request that was running: 5 or 6 of the 12
    // in flight here, measured in every generation.
    let busy_fail = summary["busydead"]["fail"].as_u64().unwrap_or(0);
    assert!((1..12).contains(&busy_fail), "{summary}");
    assert_eq!(
        summary["busydead"]["success"].as_u64(),
        Some(60 - busy_fail),
        "{summary}"
    );
    assert_eq!(summary["faulty"]["fail"], 12, "{summary}");
    assert_eq!(summary["faulty"]["success"], 48, "{summary}");
    assert_eq!(summary["stopped_cleanly"], true, "{summary}");
}
