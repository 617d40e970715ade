//! The benchmark's quick mode keeps every pattern working: it runs each pattern (a few
//! hundred requests per case, 0-µs and 20-µs models, 1 and 4 threads) against the
//! emulator generation `NRT_EMU_API` names, and this test checks that every pattern
//! produced sane rows. No timing is asserted: figures depend on the machine.
//!
//! Needs `cargo build --workspace` first (it builds `nrtq-bench` and the emulator
//! libraries, which `cargo test` does not).

use std::path::PathBuf;
use std::process::Command;

const PATTERNS: [&str; 8] = [
    "sync",
    "docs-batch",
    "poll-loop",
    "spin-loop",
    "nrtq-callback",
    "nrtq-callback-ll",
    "nrtq-reap",
    "nrtq-refill",
];

const HEADER: &str = "pattern,api,model_us,threads,requests,utilisation,req_per_s,cpu_us_per_req,notify_p50_us,notify_p99_us,idle_wakeups";

/// `target/<profile>/nrtq-bench`, seen from `target/<profile>/deps/<this test>`.
fn bench_exe() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe has a folder").to_path_buf();
    if dir.file_name().and_then(|n| n.to_str()) == Some("deps") {
        dir.pop();
    }
    dir.join("nrtq-bench")
}

fn num(field: &str, what: &str, line: &str) -> f64 {
    let v: f64 = field
        .parse()
        .unwrap_or_else(|_| panic!("{what} '{field}' is not a number in: {line}"));
    assert!(v.is_finite(), "{what} is not finite in: {line}");
    v
}

#[test]
fn quick_mode_gives_sane_rows_for_every_pattern() {
    let exe = bench_exe();
    assert!(
        exe.exists(),
        "{} is missing: run `cargo build --workspace` before `cargo test`",
        exe.display()
    );
    let api = std::env::var("NRT_EMU_API").unwrap_or_else(|_| "2.28".into());
    let out = std::env::temp_dir().join(format!("nrtq-bench-quick-test-{}", std::process::id()));
    let run = Command::new(&exe)
        .args(["--quick", "--api", &api, "--out"])
        .arg(&out)
        .output()
        .expect("run nrtq-bench");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "nrtq-bench --quick failed ({}):\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    // A progress line per case, then the targets table.
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with('[')).count(),
        PATTERNS.len() * 4,
        "{stdout}"
    );
    assert!(
        stdout.contains("| target | api | result | worst case |"),
        "{stdout}"
    );

    let csv = std::fs::read_to_string(out.join("bench.csv")).expect("bench.csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let mut seen = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 11, "{line}");
        let (pattern, row_api) = (f[0], f[1]);
        assert!(PATTERNS.contains(&pattern), "{line}");
        assert_eq!(row_api, api, "{line}");
        let model_us = num(f[2], "model_us", line);
        let threads = num(f[3], "threads", line);
        assert!([0.0, 20.0].contains(&model_us), "{line}");
        assert!([1.0, 4.0].contains(&threads), "{line}");
        // Quick mode runs exactly this many requests per case.
        assert_eq!(num(f[4], "requests", line), 300.0, "{line}");
        let util = num(f[5], "utilisation", line);
        if model_us == 0.0 {
            assert_eq!(util, 0.0, "a 0-µs model keeps nothing busy: {line}");
        } else {
            // Busy time can never exceed the wall time (a little rounding aside).
            assert!(util > 0.0 && util <= 1.01, "{line}");
        }
        assert!(num(f[6], "req_per_s", line) > 0.0, "{line}");
        assert!(num(f[7], "cpu_us_per_req", line) >= 0.0, "{line}");
        let p50 = num(f[8], "notify_p50_us", line);
        let p99 = num(f[9], "notify_p99_us", line);
        assert!(p50 >= 0.0 && p50 <= p99, "{line}");
        // Idle wake-ups are measured in the first model time's cases only.
        if model_us == 0.0 {
            num(f[10], "idle_wakeups", line);
        } else {
            assert_eq!(f[10], "", "{line}");
        }
        seen.push((pattern.to_string(), model_us as u64, threads as u32));
    }
    for p in PATTERNS {
        for m in [0, 20] {
            for t in [1, 4] {
                assert!(
                    seen.contains(&(p.to_string(), m, t)),
                    "no row for {p} {m} µs {t} threads in:\n{csv}"
                );
            }
        }
    }
    let md = std::fs::read_to_string(out.join("bench.md")).expect("bench.md");
    assert!(md.contains("## Targets (issue 7)"), "{md}");
    assert!(md.matches("\n| ").count() >= PATTERNS.len() * 4, "{md}");
    let svg = std::fs::read_to_string(out.join("bench.svg")).expect("bench.svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let _ = std::fs::remove_dir_all(&out);
}
