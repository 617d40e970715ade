//! The C++ binding (include/nrtq.hpp, include/nrtq_nrt.hpp):
//!
//! - examples-cpp/nrtq_cpp_server, built by examples-cpp/Makefile (g++ -std=c++17 -Wall
//!   -Wextra -Werror -Wpedantic, libnrtq from the build tree's nrtq.pc) and run against the
//!   emulator generation `NRT_EMU_API` names: every output checked, figures asserted, and a
//!   non-zero exit when execution errors reach it;
//! - tests/cpp/nrtq_hpp_checks, the headers' promises one by one, built and run the same way;
//! - each header compiles alone (nrtq.hpp with nothing but nrtq.h beside it), and twice,
//!   with g++ and, when installed, clang++;
//! - misuse the headers promise to reject at compile time is rejected.
mod build_tree;

use build_tree::*;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

fn build() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| make_in("examples-cpp", "all"));
}

/// Run a program of examples-cpp's build on the selected generation.
fn run(program: &str, args: &[&str]) -> Output {
    build();
    example_command("examples-cpp", program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn models() -> PathBuf {
    root().join("nrt-emu/models")
}

fn model(name: &str) -> String {
    models().join(name).display().to_string()
}

#[test]
fn server_verifies_every_output_through_futures_callbacks_and_reaping() {
    let out = run("nrtq_cpp_server", &[&model("add_f32.nrtm"), "4", "25"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains("PASS: nrtq_cpp_server"),
        "nrtq_cpp_server failed:\n{}",
        output_text(&out)
    );
    // 4 producers x 25 rounds x 4 slots, half through futures, half through callables.
    assert!(
        stdout.contains(
            "futures 200, callbacks 200, verified 400 of 400, wrong elements 0, failed 0, callback exceptions 1"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("callback queue: submitted 400, completed 400, failed 0"),
        "{stdout}"
    );
    // Reap mode: 64 x 25 requests through 16 slots, with a depth of 2 and a backlog of 4.
    assert!(
        stdout.contains("reap mode: requests 1600, reaped 1600, verified 1600,"),
        "{stdout}"
    );
    assert!(
        stdout.contains("callback exception handler: ticket ")
            && stdout.contains("thrown on purpose by a completion callable"),
        "{stdout}"
    );
    let generation = nrt_emu::selected_generation().replace('.', "");
    assert!(
        stdout.contains(&format!("(async generation {generation})")),
        "{stdout}"
    );
    for expected in [
        "expected error: nrtq_queue_config_set_depth: NRTQ_ERR_INVALID",
        "NRTQ_ERR_WRONG_MODE",
        "expected error: nrtq::TensorSet::write: NRTQ_ERR_INVALID: tensor 'a' is 4096 bytes, not 12",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
}

/// Execution errors reaching the server are failures: no PASS, exit status 1.
#[test]
fn server_fails_when_requests_fail() {
    let out = run(
        "nrtq_cpp_server",
        &[&model("add_f32_faults.nrtm"), "2", "5"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(stdout.contains("FAIL: nrtq_cpp_server"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NRTQ_ERR_EXEC"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn header_promises_hold() {
    let out = run("nrtq_hpp_checks", &[&models().display().to_string()]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains("PASS: nrtq_hpp_checks (0 failed)"),
        "nrtq_hpp_checks failed:\n{}",
        output_text(&out)
    );
    assert!(!stdout.contains("FAIL:"), "{stdout}");
    let checks = stdout.lines().filter(|l| l.starts_with("ok: ")).count();
    assert_eq!(checks, 21, "every check ran:\n{stdout}");
}

/// Pipelines and pools through nrtq.hpp, on four emulated cores of which core 3 dies at its
/// 41st request (the program checks outputs element by element, the core-left callable,
/// that every future and callable resolves once, and the refusal of a wrong buffer size).
#[test]
fn pipeline_and_pool_promises_hold() {
    build();
    let out = example_command("examples-cpp", "nrtq_hpp_checks")
        .arg(models())
        .arg("pool")
        .env("NRT_EMU_TOTAL_CORES", "4")
        .env("NRT_EMU_FAULTS", "unrecoverable after=40 lnc=3")
        .output()
        .expect("run nrtq_hpp_checks pool");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains("PASS: nrtq_hpp_checks pool (0 failed)"),
        "nrtq_hpp_checks pool failed:\n{}",
        output_text(&out)
    );
    let checks = stdout.lines().filter(|l| l.starts_with("ok: ")).count();
    assert_eq!(checks, 14, "every check ran:\n{stdout}");
    // The refusal's text reaches the caller whole: tensor, given and expected sizes.
    assert!(
        stdout.contains("wrong size: nrtq_queue_submit_host: NRTQ_ERR_INVALID")
            && stdout.contains("4092 bytes; the model expects 4096 bytes"),
        "{stdout}"
    );
}

/// The C++ compilers on this machine: g++ always (CI installs it), clang++ when present.
fn compilers() -> Vec<&'static str> {
    let mut found = vec!["g++"];
    if Command::new("clang++").arg("--version").output().is_ok() {
        found.push("clang++");
    }
    found
}

fn compile(compiler: &str, source: &str, includes: &[PathBuf]) -> Output {
    let dir = std::env::temp_dir().join(format!("nrtq-cpp-{}-{compiler}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Tests compile in parallel: each source gets its own file.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let file = dir.join(format!("t{}.cpp", NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&file, source).unwrap();
    let mut cmd = Command::new(compiler);
    cmd.args([
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wpedantic",
        "-fsyntax-only",
    ]);
    for dir in includes {
        cmd.arg("-I").arg(dir);
    }
    cmd.arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"))
}

/// A folder holding only nrtq.h and nrtq.hpp: nrtq.hpp must need nothing else.
fn bare_include_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nrtq-cpp-bare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for header in ["nrtq.h", "nrtq.hpp"] {
        std::fs::copy(root().join("include").join(header), dir.join(header)).unwrap();
    }
    dir
}

fn assert_compiles(compiler: &str, source: &str, includes: &[PathBuf]) {
    let out = compile(compiler, source, includes);
    assert!(
        out.status.success(),
        "{compiler} rejected:\n{source}\n{}",
        output_text(&out)
    );
}

#[test]
fn headers_compile_alone_and_twice() {
    let bare = bare_include_dir();
    let with_nrt = [root().join("include"), root().join("nrt-emu/include")];
    for compiler in compilers() {
        assert_compiles(
            compiler,
            "#include <nrtq.hpp>\nint main() { return 0; }\n",
            std::slice::from_ref(&bare),
        );
        assert_compiles(
            compiler,
            "#include <nrtq.hpp>\n#include <nrtq.hpp>\nint main() { return 0; }\n",
            std::slice::from_ref(&bare),
        );
        assert_compiles(
            compiler,
            "#include <nrtq_nrt.hpp>\nint main() { return 0; }\n",
            &with_nrt,
        );
        assert_compiles(
            compiler,
            "#include <nrtq_nrt.hpp>\n#include <nrtq.hpp>\n#include <nrtq_nrt.hpp>\nint main() { return 0; }\n",
            &with_nrt,
        );
    }
    let _ = std::fs::remove_dir_all(bare);
}

/// What the headers refuse at compile time: a callable of the wrong shape, per request or
/// queue-wide (with the header's own message), a const TensorSet as outputs, a Runtime where a tensor set or a
/// model goes. The same program with the misuse removed compiles, so each failure is the
/// misuse's.
#[test]
fn misuse_does_not_compile() {
    let includes = [root().join("include"), root().join("nrt-emu/include")];
    let program = |body: &str| {
        format!(
            "#include <nrtq_nrt.hpp>\n\
             void f(nrtq::Runtime &rt, nrtq::Queue &q, nrtq::TensorSet &in, const nrtq::TensorSet &cin,\n\
                    nrtq::TensorSet &out) {{\n\
               (void)rt; (void)q; (void)in; (void)cin; (void)out;\n\
               {body}\n\
             }}\n\
             int main() {{ return 0; }}\n"
        )
    };
    for compiler in compilers() {
        assert_compiles(
            compiler,
            &program(
                "q.submit(in, out, [](const nrtq::Completion &) {}); q.submit_future(cin, out);\n\
                 q.submit(in, out); q.try_submit(in, out, std::chrono::milliseconds(5));\n\
                 nrtq::QueueConfig().on_complete([](const nrtq::Completion &) {}).on_complete(nullptr);\n\
                 nrtq::PoolConfig().on_core_left([](uint32_t, nrtq_status, uint32_t) {}).on_core_left(nullptr);\n\
                 nrtq::Pool *p = nullptr; if (p) p->submit_host({}, {}, [](const nrtq::Completion &) {});",
            ),
            &includes,
        );
        let cases = [
            (
                "q.submit(in, out, [](int) {});",
                Some("invocable as f(const nrtq::Completion&)"),
            ),
            (
                "nrtq::QueueConfig().on_complete([](int) {});",
                Some("on_complete takes a callable invocable as f(const nrtq::Completion&)"),
            ),
            (
                "nrtq::PoolConfig().on_core_left([](const nrtq::Completion &) {});",
                Some("on_core_left takes a callable f(uint32_t core, nrtq_status, uint32_t nrt_status)"),
            ),
            (
                "nrtq::Pool *p = nullptr; p->submit_host({}, {}, [](int) {});",
                Some("invocable as f(const nrtq::Completion&)"),
            ),
            ("q.submit_future(in, cin);", None),
            ("q.submit_future(rt, out);", None),
            ("nrtq::Queue q2(rt, rt);", None),
        ];
        for (misuse, message) in cases {
            let out = compile(compiler, &program(misuse), &includes);
            assert!(!out.status.success(), "{compiler} accepted `{misuse}`");
            if let Some(message) = message {
                assert!(
                    output_text(&out).contains(message),
                    "{compiler} on `{misuse}` did not say {message:?}:\n{}",
                    output_text(&out)
                );
            }
        }
    }
}

#[test]
fn pool_serves_on_every_core_and_survives_one_dying() {
    build();
    let out = example_command("examples-cpp", "nrtq_cpp_pool")
        .args([&model("add_f32.nrtm"), "2000"])
        .env("NRT_EMU_TOTAL_CORES", "4")
        .env("NRT_EMU_FAULTS", "unrecoverable after=200 lnc=2")
        .output()
        .expect("run nrtq_cpp_pool");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains("PASS: nrtq_cpp_pool"),
        "nrtq_cpp_pool failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pool on 4 cores"), "{stdout}");
    assert!(
        stdout.contains("core 2 left: NRTQ_ERR_QUEUE_FAILED")
            && stdout.contains("(NRT status 101)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("requests 2000, delivered exactly once 2000"),
        "{stdout}"
    );
    assert!(stdout.contains("cores serving 3 of 4"), "{stdout}");
}
