//! The benchmark's quick mode keeps every pattern working: it runs each pattern (a few
//! hundred requests per case, 0-µs and 20-µs models, 1 and 4 threads) against the
//! emulator generation `NRT_EMU_API` names, and this test checks that every pattern
//! produced sane rows. No timing is asserted: figures depend on the machine. A second,
//! smaller run with `--repeat 2` checks that every run keeps its CSV row and that the
//! markdown shows each case's median with its spread.
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

const HEADER: &str = "pattern,api,model_us,threads,run,requests,utilisation,req_per_s,cpu_us_per_req,notify_p50_us,notify_p99_us,idle_wakeups";

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

fn api() -> String {
    std::env::var("NRT_EMU_API").unwrap_or_else(|_| "2.28".into())
}

/// Runs `nrtq-bench --quick --api <api> --out <fresh dir> <extra…>`; returns its stdout and
/// the output folder.
fn run_quick(name: &str, extra: &[&str]) -> (String, PathBuf) {
    let exe = bench_exe();
    assert!(
        exe.exists(),
        "{} is missing: run `cargo build --workspace` before `cargo test`",
        exe.display()
    );
    let out = std::env::temp_dir().join(format!("nrtq-bench-{name}-{}", std::process::id()));
    let run = Command::new(&exe)
        .args(["--quick", "--api", &api(), "--out"])
        .arg(&out)
        .args(extra)
        .output()
        .expect("run nrtq-bench");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "nrtq-bench --quick {extra:?} failed ({}):\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    (stdout, out)
}

#[test]
fn quick_mode_gives_sane_rows_for_every_pattern() {
    let api = api();
    let (stdout, out) = run_quick("quick-test", &[]);
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
        assert_eq!(f.len(), 12, "{line}");
        let (pattern, row_api) = (f[0], f[1]);
        assert!(PATTERNS.contains(&pattern), "{line}");
        assert_eq!(row_api, api, "{line}");
        let model_us = num(f[2], "model_us", line);
        let threads = num(f[3], "threads", line);
        // Quick mode runs each case once unless told otherwise.
        assert_eq!(f[4], "1", "{line}");
        assert!([0.0, 20.0].contains(&model_us), "{line}");
        assert!([1.0, 4.0].contains(&threads), "{line}");
        // Quick mode runs exactly this many requests per case.
        assert_eq!(num(f[5], "requests", line), 300.0, "{line}");
        let util = num(f[6], "utilisation", line);
        if model_us == 0.0 {
            assert_eq!(util, 0.0, "a 0-µs model keeps nothing busy: {line}");
        } else {
            // Busy time can never exceed the wall time (a little rounding aside).
            assert!(util > 0.0 && util <= 1.01, "{line}");
        }
        assert!(num(f[7], "req_per_s", line) > 0.0, "{line}");
        assert!(num(f[8], "cpu_us_per_req", line) >= 0.0, "{line}");
        let p50 = num(f[9], "notify_p50_us", line);
        let p99 = num(f[10], "notify_p99_us", line);
        assert!(p50 >= 0.0 && p50 <= p99, "{line}");
        // Idle wake-ups are measured in the first model time's cases only.
        if model_us == 0.0 {
            num(f[11], "idle_wakeups", line);
        } else {
            assert_eq!(f[11], "", "{line}");
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
    assert!(md.contains("## Targets\n"), "{md}");
    assert!(md.matches("\n| ").count() >= PATTERNS.len() * 4, "{md}");
    let svg = std::fs::read_to_string(out.join("bench.svg")).expect("bench.svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn repeat_keeps_every_run_in_the_csv_and_shows_the_spread() {
    let (stdout, out) = run_quick(
        "repeat-test",
        &[
            "--repeat",
            "2",
            "--pattern",
            "poll-loop,nrtq-reap",
            "--model-us",
            "20",
            "--threads",
            "1",
        ],
    );
    // Interleaved: both cases' first runs come before either's second.
    let progress: Vec<&str> = stdout.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(progress.len(), 4, "{stdout}");
    for (line, (pattern, run)) in progress.iter().zip([
        ("poll-loop", 1),
        ("nrtq-reap", 1),
        ("poll-loop", 2),
        ("nrtq-reap", 2),
    ]) {
        assert!(
            line.contains(pattern) && line.contains(&format!(" run {run} ")),
            "expected {pattern} run {run}: {line}"
        );
    }

    let csv = std::fs::read_to_string(out.join("bench.csv")).expect("bench.csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let mut runs: Vec<(String, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 12, "{l}");
            (f[0].to_string(), f[4].to_string())
        })
        .collect();
    runs.sort();
    let expected: Vec<(String, String)> = ["nrtq-reap", "poll-loop"]
        .iter()
        .flat_map(|p| ["1", "2"].map(|r| (p.to_string(), r.to_string())))
        .collect();
    assert_eq!(runs, expected, "two rows per case:\n{csv}");

    // One table line per case, saying it had 2 runs, with a median and its (min–max).
    let md = std::fs::read_to_string(out.join("bench.md")).expect("bench.md");
    assert!(md.contains("Each case ran 2 times, interleaved"), "{md}");
    for pattern in ["poll-loop", "nrtq-reap"] {
        let prefix = format!("| {pattern} | {} | 20 | 1 | 2 | ", api());
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with(&prefix)).collect();
        assert_eq!(rows.len(), 1, "one line for {pattern} in:\n{md}");
        // Two processes never measure the same utilisation and CPU per request to the
        // last digit, so at least one of the two shows its (min–max).
        let cells: Vec<&str> = rows[0].split(" | ").collect();
        let (util, cpu) = (cells[6], cells[8]);
        let spread = |cell: &str| cell.contains(" (") && cell.contains('–') && cell.ends_with(')');
        assert!(
            spread(util) || spread(cpu),
            "neither utilisation '{util}' nor CPU µs/req '{cpu}' shows a spread in: {}",
            rows[0]
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// The pipeline suite's quick mode: every pattern moves host buffers through
/// write → execute → read with correct outputs, the busy figures are fractions, and the
/// chain that schedules each step on its own unit keeps the transfer units busy in
/// proportion to the transfer size (the counters, not the wall clock, say so).
#[test]
fn the_pipeline_suite_runs_every_pattern() {
    let (stdout, out) = run_quick("pipe-quick-test", &["--suite", "pipeline"]);
    let csv = std::fs::read_to_string(out.join("pipeline.csv")).expect("pipeline.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let mut patterns = std::collections::BTreeSet::new();
    let mut rows = 0;
    for line in lines {
        rows += 1;
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), header.len(), "{line}");
        assert_eq!(f[col("errors")], "0", "an error or a wrong output: {line}");
        let rps = num(f[col("req_per_s")], "req_per_s", line);
        assert!(rps > 0.0, "{line}");
        for unit in ["busy_write", "busy_compute", "busy_read"] {
            let b = num(f[col(unit)], unit, line);
            assert!((0.0..=1.01).contains(&b), "{unit}: {line}");
        }
        let pattern = f[col("pattern")];
        patterns.insert(pattern.to_string());
        if pattern.starts_with("by-hand-async") || pattern == "nrtq-pipeline" {
            // Each request writes and reads once: the two units are equally busy, and
            // busier with a bigger transfer share (10% vs 150% of the model time).
            let (w, r) = (
                num(f[col("busy_write")], "w", line),
                num(f[col("busy_read")], "r", line),
            );
            assert!(w > 0.0 && (w - r).abs() < 0.05, "{line}");
            let pct = num(f[col("xfer_pct")], "xfer_pct", line);
            let c = num(f[col("busy_compute")], "c", line);
            if pct == 10.0 {
                assert!(
                    w < c,
                    "a 10% transfer keeps its unit less busy than compute: {line}"
                );
            }
            if pct == 150.0 {
                assert!(
                    w > c,
                    "a 150% transfer keeps its unit busier than compute: {line}"
                );
            }
        }
    }
    assert_eq!(rows, 48, "{stdout}");
    assert_eq!(
        patterns.into_iter().collect::<Vec<_>>(),
        [
            "by-hand-async",
            "by-hand-async-spin",
            "by-hand-sync",
            "nrtq-pipeline",
            "nrtq-queue"
        ],
        "{csv}"
    );
    let md = std::fs::read_to_string(out.join("pipeline.md")).expect("pipeline.md");
    assert!(md.contains("NRT_EMU_DMA_GBPS=0.1"), "{md}");
    let _ = std::fs::remove_dir_all(&out);
}
