//! A case's runs boiled down to the figures the tables, the chart and the targets use.
//!
//! On a shared machine one run of a case can land on a busy moment and move by several
//! points. The median of a few interleaved runs ignores one such run, and the spread
//! (min–max) beside it shows how far the runs disagreed.

use super::row::Row;

/// The median of some runs' values, with the lowest and highest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (`None` when there are none). With an even count the median
    /// is the mean of the two middle values.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }

    /// Whether every run gave the same value (one run, or no scatter at all).
    pub fn is_point(&self) -> bool {
        self.min == self.max
    }
}

/// One case over all its runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The case as one row whose every figure is the median of its runs (`run` is 0).
    /// This is what the tables, the chart and the targets read.
    pub median: Row,
    /// How many runs it summarises.
    pub runs: usize,
    pub utilisation: Spread,
    pub cpu_us_per_req: Spread,
    /// Over the runs that measured idle wake-ups.
    pub idle_wakeups: Option<Spread>,
}

fn median_of(runs: &[Row], field: impl Fn(&Row) -> f64) -> f64 {
    spread_of(runs, field).median
}

fn spread_of(runs: &[Row], field: impl Fn(&Row) -> f64) -> Spread {
    let values: Vec<f64> = runs.iter().map(field).collect();
    Spread::of(&values).expect("a summary has at least one run")
}

/// Over the runs that have the figure; `None` when none has it.
fn optional_spread(runs: &[Row], field: impl Fn(&Row) -> Option<f64>) -> Option<Spread> {
    let values: Vec<f64> = runs.iter().filter_map(field).collect();
    Spread::of(&values)
}

/// Where a figure came from, over the runs: one name when they agree, else each name once.
fn sources(runs: &[Row], field: impl Fn(&Row) -> &str) -> String {
    let mut names: Vec<&str> = runs.iter().map(field).collect();
    names.sort_unstable();
    names.dedup();
    names.join("/")
}

/// The summary of one case's runs (every row the same pattern, api, model time and
/// threads; at least one row).
///
/// Counts that must stay whole (requests, wake-ups, samples) are the median rounded to
/// the nearest, halves up. Errors are the total over the runs, and the emulator's release
/// lateness is the worst run's, since those two are diagnostics for the notes.
pub fn summarise(runs: &[Row]) -> Summary {
    assert!(!runs.is_empty(), "a summary has at least one run");
    let first = &runs[0];
    let whole = |v: f64| v.round() as u64;
    let utilisation = spread_of(runs, |r| r.utilisation);
    let cpu_us_per_req = spread_of(runs, |r| r.cpu_us_per_req);
    let idle_wakeups = optional_spread(runs, |r| r.idle_wakeups.map(|v| v as f64));
    let median = Row {
        pattern: first.pattern.clone(),
        api: first.api.clone(),
        model_us: first.model_us,
        threads: first.threads,
        run: 0,
        requests: whole(median_of(runs, |r| r.requests as f64)),
        utilisation: utilisation.median,
        req_per_s: median_of(runs, |r| r.req_per_s),
        cpu_us_per_req: cpu_us_per_req.median,
        notify_p50_us: optional_spread(runs, |r| r.notify_p50_us).map(|s| s.median),
        notify_p99_us: optional_spread(runs, |r| r.notify_p99_us).map(|s| s.median),
        idle_wakeups: idle_wakeups.map(|s| whole(s.median)),
        errors: runs.iter().map(|r| r.errors).sum(),
        wall_ms: median_of(runs, |r| r.wall_ms),
        busy_source: sources(runs, |r| &r.busy_source),
        emu_cpu_source: sources(runs, |r| &r.emu_cpu_source),
        notify_samples: whole(median_of(runs, |r| r.notify_samples as f64)),
        late_p99_us: spread_of(runs, |r| r.late_p99_us).max,
        idle_ms: first.idle_ms,
    };
    Summary {
        median,
        runs: runs.len(),
        utilisation,
        cpu_us_per_req,
        idle_wakeups,
    }
}

/// Groups `rows` by case (pattern, api, model time, threads), in the order each case first
/// appears, and summarises each group.
pub fn by_case(rows: &[Row]) -> Vec<Summary> {
    let mut groups: Vec<Vec<Row>> = Vec::new();
    for r in rows {
        let same_case = |g: &&mut Vec<Row>| {
            let f = &g[0];
            f.pattern == r.pattern
                && f.api == r.api
                && f.model_us == r.model_us
                && f.threads == r.threads
        };
        match groups.iter_mut().find(same_case) {
            Some(g) => g.push(r.clone()),
            None => groups.push(vec![r.clone()]),
        }
    }
    groups.iter().map(|g| summarise(g)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::row::sample;

    fn run(n: u32, util: f64, cpu: f64, p99: Option<f64>, wakeups: Option<u64>) -> Row {
        let mut r = sample("nrtq-reap", 20, util, cpu);
        r.run = n;
        r.requests = 1000 + u64::from(n);
        r.notify_p99_us = p99;
        r.idle_wakeups = wakeups;
        r.errors = u64::from(n == 2);
        r.late_p99_us = f64::from(n);
        r
    }

    #[test]
    fn spread_takes_the_middle_of_odd_and_even_counts() {
        let odd = Spread::of(&[0.97, 0.99, 0.95]).unwrap();
        assert_eq!(
            odd,
            Spread {
                median: 0.97,
                min: 0.95,
                max: 0.99
            }
        );
        let even = Spread::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(
            even,
            Spread {
                median: 2.5,
                min: 1.0,
                max: 4.0
            }
        );
        assert!(!even.is_point());
        assert!(Spread::of(&[7.0]).unwrap().is_point());
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn a_case_s_runs_give_medians_spreads_and_totals() {
        let runs = [
            run(1, 0.990, 2.0, Some(30.0), Some(0)),
            run(2, 0.950, 5.0, None, Some(3)),
            run(3, 0.980, 2.5, Some(50.0), Some(1)),
        ];
        let s = summarise(&runs);
        assert_eq!(s.runs, 3);
        assert_eq!(
            s.utilisation,
            Spread {
                median: 0.98,
                min: 0.95,
                max: 0.99
            }
        );
        assert_eq!(s.cpu_us_per_req.median, 2.5);
        assert_eq!((s.cpu_us_per_req.min, s.cpu_us_per_req.max), (2.0, 5.0));
        let m = &s.median;
        assert_eq!((m.run, m.requests), (0, 1002));
        assert_eq!((m.utilisation, m.cpu_us_per_req), (0.98, 2.5));
        // Percentiles: the median of the runs that measured them (30 and 50).
        assert_eq!(m.notify_p99_us, Some(40.0));
        assert_eq!(m.notify_p50_us, Some(12.5));
        assert_eq!(m.idle_wakeups, Some(1));
        assert_eq!(s.idle_wakeups.map(|w| (w.min, w.max)), Some((0.0, 3.0)));
        assert_eq!((m.errors, m.late_p99_us), (1, 3.0));
        assert_eq!(m.busy_source, "counters");

        // Two runs: the mean of the middle pair, whole counts rounded half up.
        let s = summarise(&runs[..2]);
        assert!((s.utilisation.median - 0.97).abs() < 1e-12);
        assert_eq!(s.cpu_us_per_req.median, 3.5);
        assert_eq!(s.median.idle_wakeups, Some(2));
        assert_eq!(s.median.requests, 1002);
    }

    #[test]
    fn runs_are_grouped_by_case_in_first_seen_order() {
        let mut other = run(1, 0.5, 9.0, None, None);
        other.pattern = "poll-loop".into();
        let mut other2 = other.clone();
        other2.run = 2;
        other2.utilisation = 0.7;
        let rows = vec![
            run(1, 0.99, 2.0, None, None),
            other,
            run(2, 0.97, 3.0, None, None),
            other2,
        ];
        let s = by_case(&rows);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].median.pattern.as_str(), s[0].runs), ("nrtq-reap", 2));
        assert_eq!(
            (s[1].median.pattern.as_str(), s[1].utilisation.max),
            ("poll-loop", 0.7)
        );
    }
}
