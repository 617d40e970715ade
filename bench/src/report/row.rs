//! The result of one case, and how a child process hands it to the driver: one line
//! `RESULT key=value key=value …` on stdout (values never contain spaces).

use std::collections::BTreeMap;

/// One case's measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub pattern: String,
    pub api: String,
    pub model_us: u64,
    pub threads: u32,
    /// Which run of the case this is, from 1 (0 in a case's summary of its runs).
    pub run: u32,
    /// Requests completed in the measured run.
    pub requests: u64,
    /// COMPUTE busy time ÷ wall time of the run, 0..1.
    pub utilisation: f64,
    pub req_per_s: f64,
    /// (process CPU − emulator threads' CPU) ÷ requests, µs.
    pub cpu_us_per_req: f64,
    /// Completion-to-notification latency, µs (`None`: not measurable in this run).
    pub notify_p50_us: Option<f64>,
    pub notify_p99_us: Option<f64>,
    /// Context switches of the application's threads over the idle window (`None`: not
    /// measured in this case).
    pub idle_wakeups: Option<u64>,
    // Diagnostics, in the markdown notes but not the CSV.
    /// Requests that completed with an error status (expected 0).
    pub errors: u64,
    /// Wall time of the run, ms.
    pub wall_ms: f64,
    /// Where busy time came from: `counters` (the emulator's) or `computed` (requests ×
    /// model time, when the library has no counters).
    pub busy_source: String,
    /// Where the emulator's CPU came from: `emulator` (its own report) or `threads`
    /// (the bench's reading of the `nrt-emu*` threads' CPU clocks).
    pub emu_cpu_source: String,
    /// Requests with a latency sample.
    pub notify_samples: u64,
    /// Emulator release lateness p99 over the run, µs (release − simulated end).
    pub late_p99_us: f64,
    /// Idle window length, ms (0 when not measured).
    pub idle_ms: u64,
}

fn opt_f(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_default()
}

impl Row {
    /// The `RESULT` line.
    pub fn to_line(&self) -> String {
        format!(
            "RESULT pattern={} api={} model_us={} threads={} run={} requests={} utilisation={:.6} \
             req_per_s={:.1} cpu_us_per_req={:.4} notify_p50_us={} notify_p99_us={} \
             idle_wakeups={} errors={} wall_ms={:.3} busy_source={} emu_cpu_source={} \
             notify_samples={} late_p99_us={:.3} idle_ms={}",
            self.pattern,
            self.api,
            self.model_us,
            self.threads,
            self.run,
            self.requests,
            self.utilisation,
            self.req_per_s,
            self.cpu_us_per_req,
            opt_f(self.notify_p50_us),
            opt_f(self.notify_p99_us),
            self.idle_wakeups.map(|v| v.to_string()).unwrap_or_default(),
            self.errors,
            self.wall_ms,
            self.busy_source,
            self.emu_cpu_source,
            self.notify_samples,
            self.late_p99_us,
            self.idle_ms,
        )
    }

    /// Parses a `RESULT` line.
    pub fn from_line(line: &str) -> Result<Row, String> {
        let rest = line
            .strip_prefix("RESULT ")
            .ok_or_else(|| format!("not a RESULT line: {line}"))?;
        let kv: BTreeMap<&str, &str> = rest
            .split_whitespace()
            .filter_map(|item| item.split_once('='))
            .collect();
        let get = |k: &str| {
            kv.get(k)
                .copied()
                .ok_or_else(|| format!("{k} missing in {line}"))
        };
        let num = |k: &str| -> Result<f64, String> {
            get(k)?
                .parse()
                .map_err(|_| format!("{k} is not a number in {line}"))
        };
        let opt = |k: &str| -> Result<Option<f64>, String> {
            match get(k)? {
                "" => Ok(None),
                v => v
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{k} is not a number")),
            }
        };
        Ok(Row {
            pattern: get("pattern")?.to_string(),
            api: get("api")?.to_string(),
            model_us: num("model_us")? as u64,
            threads: num("threads")? as u32,
            run: num("run")? as u32,
            requests: num("requests")? as u64,
            utilisation: num("utilisation")?,
            req_per_s: num("req_per_s")?,
            cpu_us_per_req: num("cpu_us_per_req")?,
            notify_p50_us: opt("notify_p50_us")?,
            notify_p99_us: opt("notify_p99_us")?,
            idle_wakeups: opt("idle_wakeups")?.map(|v| v as u64),
            errors: num("errors")? as u64,
            wall_ms: num("wall_ms")?,
            busy_source: get("busy_source")?.to_string(),
            emu_cpu_source: get("emu_cpu_source")?.to_string(),
            notify_samples: num("notify_samples")? as u64,
            late_p99_us: num("late_p99_us")?,
            idle_ms: num("idle_ms")? as u64,
        })
    }
}

#[cfg(test)]
pub(crate) fn sample(pattern: &str, model_us: u64, util: f64, cpu: f64) -> Row {
    Row {
        pattern: pattern.into(),
        api: "2.28".into(),
        model_us,
        threads: 1,
        run: 1,
        requests: 1000,
        utilisation: util,
        req_per_s: 1e6 / (model_us.max(1) as f64),
        cpu_us_per_req: cpu,
        notify_p50_us: Some(12.5),
        notify_p99_us: Some(40.0),
        idle_wakeups: Some(0),
        errors: 0,
        wall_ms: 350.0,
        busy_source: "counters".into(),
        emu_cpu_source: "emulator".into(),
        notify_samples: 1000,
        late_p99_us: 3.0,
        idle_ms: 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_result_line() {
        let mut row = sample("poll-loop", 20, 0.5, 3.25);
        assert_eq!(Row::from_line(&row.to_line()).unwrap(), row);
        row.notify_p50_us = None;
        row.notify_p99_us = None;
        row.idle_wakeups = None;
        assert_eq!(Row::from_line(&row.to_line()).unwrap(), row);
        assert!(Row::from_line("garbage").is_err());
    }
}
