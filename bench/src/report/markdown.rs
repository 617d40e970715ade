//! `bench.md`: how the run was made, the results table, the targets' pass/miss table and
//! notes on what each column measured.

use super::row::Row;
use super::targets::{Outcome, Verdict};
use std::fmt::Write as _;

/// Where and how the results were made.
pub struct RunInfo {
    pub command: String,
    pub machine: String,
    pub date: String,
    pub seconds: f64,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "—".into())
}

/// The pass/miss table alone (also printed at the end of a run).
pub fn targets_table(verdicts: &[Verdict]) -> String {
    let mut s = String::new();
    s.push_str("| target | api | result | worst case |\n|---|---|---|---|\n");
    for v in verdicts {
        let result = match &v.outcome {
            Outcome::Pass => "pass".to_string(),
            Outcome::Miss(by) => format!("**miss** ({by})"),
            Outcome::NoData => "no data".to_string(),
        };
        let _ = writeln!(s, "| {} | {} | {} | {} |", v.target, v.api, result, v.worst);
    }
    s
}

/// The results table alone.
pub fn results_table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(
        "| pattern | api | model µs | threads | requests | utilisation | req/s | CPU µs/req | notify p50 µs | notify p99 µs | idle wake-ups |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.2}% | {:.0} | {:.2} | {} | {} | {} |",
            r.pattern,
            r.api,
            r.model_us,
            r.threads,
            r.requests,
            r.utilisation * 100.0,
            r.req_per_s,
            r.cpu_us_per_req,
            opt(r.notify_p50_us, 1),
            opt(r.notify_p99_us, 1),
            r.idle_wakeups
                .map(|v| v.to_string())
                .unwrap_or_else(|| "—".into()),
        );
    }
    s
}

/// The whole file.
pub fn render(rows: &[Row], verdicts: &[Verdict], info: &RunInfo, svg_name: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# nrtq benchmark results\n");
    let _ = writeln!(
        s,
        "Made by `{}` on {} ({}), in {:.0} s.\n",
        info.command, info.machine, info.date, info.seconds
    );
    let _ = writeln!(
        s,
        "![utilisation and CPU per request by pattern]({svg_name})\n"
    );
    let _ = writeln!(s, "## Targets (issue 7)\n");
    s.push_str(&targets_table(verdicts));
    let _ = writeln!(s, "\n## Results\n");
    s.push_str(&results_table(rows));
    let _ = writeln!(s, "\n## What each column measures\n");
    s.push_str(NOTES);
    // Anything unusual about individual rows.
    let mut remarks = Vec::new();
    for r in rows {
        let id = format!("{} {} {}µs {}t", r.pattern, r.api, r.model_us, r.threads);
        if r.errors > 0 {
            remarks.push(format!(
                "- {id}: {} requests completed with an error",
                r.errors
            ));
        }
        if r.busy_source != "counters" {
            remarks.push(format!("- {id}: busy time {}", r.busy_source));
        }
        if r.emu_cpu_source != "emulator" {
            remarks.push(format!("- {id}: emulator CPU from {}", r.emu_cpu_source));
        }
    }
    let lateness: Vec<f64> = rows.iter().map(|r| r.late_p99_us).collect();
    if let Some(max) = lateness.iter().cloned().reduce(f64::max) {
        let _ = writeln!(
            s,
            "\nThe emulator's own release lateness (release − simulated end) had a p99 of at \
             most {max:.1} µs in any case; it is part of neither the utilisation nor the \
             notification figures above.\n"
        );
    }
    if !remarks.is_empty() {
        let _ = writeln!(s, "\n### Remarks\n");
        for r in remarks {
            let _ = writeln!(s, "{r}");
        }
    }
    s
}

const NOTES: &str = "\
- **utilisation**: the emulated COMPUTE unit's busy time (the emulator's counter: the sum \
of the simulated times of the requests it ran) ÷ the wall time of the run, from the moment \
all threads start submitting to the moment the last completion is seen.
- **req/s**: requests completed ÷ that wall time.
- **CPU µs/req**: the process's CPU time over the run (`getrusage`, user + system, every \
thread) minus the CPU time of the emulator's own threads (which it reports), ÷ requests: what \
the application and libnrtq cost, not the emulated device.
- **notify p50/p99**: from the emulator's release of a completion (the instant it made the \
completion visible) to the instant the application learned of it: a refill loop's \
`nrta_get_sequence` read, `nrt_execute` returning, a libnrtq callback or reap. Taken over \
the last requests of each run (the emulator remembers the release times of the last 4,096 \
per unit). Requests are matched by sequence id where the pattern knows it, otherwise in \
completion order (one completion thread delivers in order; with four `sync` threads the \
order-matching is approximate).
- **idle wake-ups**: after the run, with nothing in flight and the pattern's resources still \
open, the voluntary + involuntary context switches of the application's threads \
(`/proc/self/task/*/status`) over the idle window, leaving out the emulator's threads \
(`nrt-emu*`) and the measuring thread. The hand-written loops have no threads left when \
idle, so they show 0; what the column tests is that libnrtq's completion thread sleeps. \
In a full run it is measured once per pattern × api × threads, in the 100-µs case (— \
elsewhere).
- Each case runs in its own process (one libnrt per process), after a warm-up of a few \
requests through the same pattern. Loops keep 3 requests in flight each (the vendor's 2–3 \
per unit; libnrtq's default); `docs-batch` schedules until `NRT_QUEUE_FULL` (at most 16).
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::row::sample;
    use crate::report::targets::evaluate;

    #[test]
    fn renders_both_tables_with_one_line_per_row() {
        let rows = vec![
            sample("spin-loop", 20, 0.99, 20.0),
            sample("nrtq-reap", 20, 0.985, 2.0),
        ];
        let info = RunInfo {
            command: "make bench".into(),
            machine: "test".into(),
            date: "today".into(),
            seconds: 1.0,
        };
        let text = render(&rows, &evaluate(&rows), &info, "bench.svg");
        assert!(
            text.contains("| spin-loop | 2.28 | 20 | 1 | 1000 | 99.00% |"),
            "{text}"
        );
        assert!(text.contains("| nrtq-reap | 2.28 | 20 | 1 | 1000 | 98.50% |"));
        assert!(
            text.contains("utilisation ≥ 98% at 20 µs | 2.28 | pass |"),
            "{text}"
        );
        assert!(text.contains("![utilisation and CPU per request by pattern](bench.svg)"));
    }
}
