//! The driver: writes the model files, runs every case in a child process against the
//! emulator library of its generation (each case `repeat` times, round by round), prints a
//! progress line per run, and writes the results: every run in the CSV, the medians of each
//! case's runs in the table, the chart and the targets.
//!
//! A child per case because a process loads exactly one libnrt (the generation under
//! test) and so that CPU accounting covers that case alone.

use crate::models;
use crate::plan::{Case, Selection};
use crate::report::markdown::{self, RunInfo};
use crate::report::row::Row;
use crate::report::{csv, summary, svg, targets};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest a case may take before it is killed and reported as failed.
const CASE_TIMEOUT: Duration = Duration::from_secs(90);

/// The emulator library of `api`, next to this executable: `cargo build --workspace`
/// leaves `target/<profile>/emu/<api>/libnrt.so.1` beside `target/<profile>/nrtq-bench`.
pub fn library_for(api: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = exe.parent().ok_or("the executable has no folder")?;
    let path = dir.join("emu").join(api).join("libnrt.so.1");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: build the emulator with the bench (`cargo build --workspace{}`)",
            path.display(),
            if cfg!(debug_assertions) {
                ""
            } else {
                " --release"
            }
        ))
    }
}

/// Runs one case in a child process and parses its `RESULT` line.
/// Returns the row and whatever the child wrote to stderr (warnings).
fn run_child(case: &Case, model: &Path) -> Result<(Row, String), String> {
    let mut args = vec!["--case".to_string()];
    args.extend(case.to_args());
    args.extend(["--model".to_string(), model.display().to_string()]);
    let (line, stderr) = run_child_process(&args, &case.api, &[], "RESULT ")?;
    Ok((Row::from_line(&line)?, stderr))
}

/// Runs `nrtq-bench ARGS` in a child process against the emulator of `api`, with `env`
/// added, under the watchdog. Returns its stdout line starting with `tag` and its stderr.
pub fn run_child_process(
    args: &[String],
    api: &str,
    env: &[(&str, &str)],
    tag: &str,
) -> Result<(String, String), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let lib = library_for(api)?;
    let mut child = Command::new(exe)
        .args(args)
        .envs(env.iter().copied())
        .env(neuron_sys::LIBNRT_ENV, &lib)
        .env("NRT_EMU_API", api)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    // A watchdog that sleeps until the timeout or the child's end, whichever is first:
    // no polling, so the driver never competes with the case for a CPU.
    let pid = child.id() as libc::pid_t;
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(CASE_TIMEOUT) {
            // SAFETY: kill takes two integers; the pid is our child's, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        } else {
            false
        }
    });
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut err_pipe = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    if let Some(mut p) = child.stdout.take() {
        let _ = p.read_to_string(&mut stdout);
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    let _ = done_tx.send(());
    let killed = watchdog.join().unwrap_or(false);
    stderr.push_str(&err_reader.join().unwrap_or_default());
    if killed {
        return Err(format!("timed out after {} s", CASE_TIMEOUT.as_secs()));
    }
    match stdout.lines().find(|l| l.starts_with(tag)) {
        Some(line) if status.success() => Ok((line.to_string(), stderr)),
        _ => Err(format!(
            "exit {status}: {}",
            stderr.trim().lines().last().unwrap_or("(no message)")
        )),
    }
}

/// A short line of a row's figures.
fn summary(r: &Row) -> String {
    let p99 = r
        .notify_p99_us
        .map(|v| format!(" notify p99 {v:.1} µs"))
        .unwrap_or_default();
    let idle = r
        .idle_wakeups
        .map(|v| format!(" idle wake-ups {v}"))
        .unwrap_or_default();
    format!(
        "util {:6.2}% {:>9.0} req/s {:>8.2} µs CPU/req{p99}{idle}",
        r.utilisation * 100.0,
        r.req_per_s,
        r.cpu_us_per_req
    )
}

/// What the machine is, for the results header.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = Command::new("uname")
        .arg("-sr")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cores} × {cpu}, {kernel}")
}

/// The 1-minute load average: the machine is shared, and other work on its two cores
/// shows in every figure, so the results say how busy it was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Runs the selection and writes the results into `out`. Returns every run's row and
/// whether every run succeeded.
pub fn run(sel: &Selection, out: &Path, command: &str) -> Result<(Vec<Row>, bool), String> {
    for api in &sel.apis {
        library_for(api)?;
    }
    let began = Instant::now();
    let load_before = load_average();
    let model_dir = std::env::temp_dir().join(format!("nrtq-bench-{}", std::process::id()));
    std::fs::create_dir_all(&model_dir).map_err(|e| format!("{}: {e}", model_dir.display()))?;
    let mut model_files = BTreeMap::new();
    for &us in &sel.model_us {
        model_files.insert(us, models::write(&model_dir, us)?);
    }

    let runs = sel.runs();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (i, case) in runs.iter().enumerate() {
        let t0 = Instant::now();
        let result = run_child(case, &model_files[&case.model_us]);
        let took = t0.elapsed().as_secs_f64();
        match result {
            Ok((row, warnings)) => {
                println!(
                    "[{:>3}/{}] {}  {} ({took:.2} s)",
                    i + 1,
                    runs.len(),
                    case.label(),
                    summary(&row)
                );
                for w in warnings.lines().filter(|l| !l.trim().is_empty()) {
                    println!("          {w}");
                }
                rows.push(row);
            }
            Err(e) => {
                println!(
                    "[{:>3}/{}] {}  FAILED: {e}",
                    i + 1,
                    runs.len(),
                    case.label()
                );
                failures.push(format!("{}: {e}", case.label()));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&model_dir);

    let summaries = summary::by_case(&rows);
    let medians: Vec<Row> = summaries.iter().map(|c| c.median.clone()).collect();
    let verdicts = targets::evaluate(&medians);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let info = RunInfo {
        command: command.to_string(),
        machine: format!(
            "{}; 1-min load average {load_before} before, {} after",
            machine(),
            load_average()
        ),
        date: today(),
        seconds: began.elapsed().as_secs_f64(),
    };
    let mut md = markdown::render(&rows, &summaries, &verdicts, &info, "bench.svg");
    if !failures.is_empty() {
        md.push_str("\n### Failed runs\n\n");
        for f in &failures {
            md.push_str(&format!("- {f}\n"));
        }
    }
    for (name, text) in [
        ("bench.csv", csv::render(&rows)),
        ("bench.md", md),
        ("bench.svg", svg::render(&summaries)),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    println!("\nTargets, on the median of each case's runs:\n");
    print!("{}", markdown::targets_table(&verdicts));
    println!(
        "\n{} runs of {} cases in {:.0} s ({} failed); results in {}",
        runs.len(),
        summaries.len(),
        info.seconds,
        failures.len(),
        out.display()
    );
    Ok((rows, failures.is_empty()))
}
