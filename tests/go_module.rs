//! The Go package in go/ (module nrtq.dev/go/nrtq): `go vet`, `gofmt`, and its tests
//! under the race detector, against the emulator generation `NRT_EMU_API` names. The Go
//! tests (go/nrtq_test.go) submit from many goroutines at once and count every ticket's
//! completion, close queues with requests still on the device, and check the error
//! sentinels; go/pipeline_test.go and go/pool_test.go run pipelines and pools of
//! pipelines (over four emulated cores, one killed by NRT_EMU_FAULTS, in child processes
//! of the Go test binary); this file checks that they ran and passed, and runs the
//! pool-of-pipelines example (examples-go/poolpipes) with a core killed. Environment: see go_support.
mod build_tree;
mod go_support;

use go_support::{check, go, have_go, root};
use std::process::Command;

/// The Go tests that must be reported as passed, by name: a test that silently stopped
/// running (renamed, skipped, filtered) fails here.
const GO_TESTS: &[&str] = &[
    "TestRuntimeReportsTheEmulatorGeneration",
    "TestModelTensorInfo",
    "TestAnyModelChain",
    "TestTensorSetChecksNameTypeAndSize",
    "TestConcurrentSubmitsCompleteExactlyOnce",
    "TestCloseReapsEveryCompletionBeforeDestroy",
    "TestOpenNamesTheLibraryItCouldNotLoad",
    "TestBacklogFullSurfacesAsErrBacklogFull",
    "TestClosedQueueRefusesWork",
    "TestContextCancelStopsTheWaitNotTheRequest",
    "TestShutdownPastItsContextResolvesEveryPending",
    "TestQueueFailureSurfacesAsErrQueueFailed",
    "TestErrorMessagesStayWithTheirCall",
    "TestCloseRacingSubmitters",
    "TestEmulatorModelsOrder",
    "TestEmulatorModelsFromPkgConfig",
    "TestCancelTakesBackOnlyBackloggedRequests",
    "TestCancelDuringCloseResolvesTheBacklog",
    "TestStatusNamesMatchTheLibrary",
    "TestPipelineRunsHostBuffersByNameAndIndex",
    "TestPipelineChainsModelsOnTheDevice",
    "TestPipelineRefusesWrongBuffers",
    "TestPipelineStageErrorsNameTheStage",
    "TestPipelineShutdownPastItsContextLeavesOutputsAlone",
    "TestPoolOfPipelinesServesOnEveryCore",
    "TestPoolCoreDeathFiresCoreLeftAndResolvesEveryPendingOnce",
    "TestRetrySafePoolRerunsWhatADeadCoreHeld",
    "TestPoolWhoseLastCoreDiesFailsTerminally",
    "TestPoolRefusesWrongRequests",
];

#[test]
fn go_vet_is_clean() {
    if !have_go() {
        return;
    }
    let out = go(&root().join("go"), &["vet", "./..."])
        .output()
        .expect("run go vet");
    check("go vet ./... (go/)", &out);
}

#[test]
fn gofmt_is_clean() {
    if !have_go() {
        return;
    }
    let out = Command::new("gofmt")
        .args(["-l", "go", "examples-go"])
        .current_dir(root())
        .output()
        .expect("run gofmt");
    check("gofmt -l", &out);
    let unformatted = String::from_utf8_lossy(&out.stdout);
    assert!(
        unformatted.trim().is_empty(),
        "files gofmt would change:\n{unformatted}"
    );
}

#[test]
fn go_tests_pass_under_the_race_detector() {
    if !have_go() {
        return;
    }
    let generation = nrt_emu::selected_generation();
    let out = go(
        &root().join("go"),
        &["test", "-race", "-count=1", "-v", "-timeout=300s", "./..."],
    )
    .output()
    .expect("run go test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    check(
        &format!("go test -race ./... (go/, NRT_EMU_API={generation})"),
        &out,
    );
    for name in GO_TESTS {
        assert!(
            stdout.contains(&format!("--- PASS: {name} ")),
            "{name} did not pass on {generation}:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("--- SKIP") && !stdout.contains("WARNING: DATA RACE"),
        "{stdout}"
    );
    for package in ["nrtq.dev/go/nrtq", "nrtq.dev/go/nrtq/nrtqtest"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(package)),
            "no `ok` line for {package}:\n{stdout}"
        );
    }
}

/// The pool-of-pipelines example (examples-go/poolpipes) over four emulated cores, core 1
/// killed by NRT_EMU_FAULTS: it must report core 1 leaving, check every output and end
/// with its PASS line; retry-safe, no request may fail.
#[test]
fn go_pool_example_serves_on_when_a_core_dies() {
    if !have_go() {
        return;
    }
    let generation = nrt_emu::selected_generation();
    let dir = go_support::go_dir().join("examples-go");
    std::fs::create_dir_all(&dir).expect("create the output folder");
    let exe = dir.join(format!("poolpipes-{generation}"));
    let out = go(
        &root().join("examples-go"),
        &["build", "-o", exe.to_str().unwrap(), "./poolpipes"],
    )
    .output()
    .expect("run go build");
    check("go build ./poolpipes (examples-go)", &out);
    for (retry_safe, failures_allowed) in [("false", true), ("true", false)] {
        let out = Command::new(&exe)
            .arg("-model")
            .arg(root().join("nrt-emu/models/add_f32.nrtm"))
            .arg(format!("-retry-safe={retry_safe}"))
            .env("LD_LIBRARY_PATH", go_support::libnrt_dir())
            .env("NRT_EMU_API", &generation)
            .env("NRT_EMU_TOTAL_CORES", "4")
            .env("NRT_EMU_FAULTS", "unrecoverable after=50 lnc=1")
            .output()
            .expect("run poolpipes");
        let stdout = String::from_utf8_lossy(&out.stdout);
        check(&format!("poolpipes -retry-safe={retry_safe}"), &out);
        assert!(stdout.contains("PASS: nrtq_go_pool"), "{stdout}");
        assert!(
            stdout.contains("core 1 left: ") && stdout.contains("NRT_EXEC_UNIT_UNRECOVERABLE"),
            "no core-left line for core 1:\n{stdout}"
        );
        assert!(stdout.contains("core 1: healthy false"), "{stdout}");
        for core in [0, 2, 3] {
            assert!(
                stdout.contains(&format!("core {core}: healthy true")),
                "{stdout}"
            );
        }
        let failed: u64 = stdout
            .split_whitespace()
            .skip_while(|w| *w != "failed")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no failed count:\n{stdout}"));
        assert!(
            failures_allowed || failed == 0,
            "retry-safe, yet {failed} failed:\n{stdout}"
        );
    }
}
