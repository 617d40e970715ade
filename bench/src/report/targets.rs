//! The targets, checked against the rows and reported as pass or miss (never
//! asserted: timing depends on the machine). The driver passes one row per case, the
//! median of its runs ([`super::summary`]), so a target is judged on a figure that repeats.
//!
//! Targets 1–7 are judged on libnrtq's default wait policy (`nrtq-callback`,
//! `nrtq-reap`, `nrtq-refill`), target 8 on the low-latency policy
//! (`nrtq-callback-ll`). Each is judged per API generation over every thread count, and
//! the worst case is what is shown.

use super::row::Row;

/// The outcome of one target for one generation.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass,
    /// Missed: by how much, in words.
    Miss(String),
    /// No rows to judge (e.g. the pattern or the model time was not run).
    NoData,
}

/// One line of the pass/miss table.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub target: &'static str,
    pub api: String,
    /// The worst measured case, in words.
    pub worst: String,
    pub outcome: Outcome,
}

const DEFAULT_POLICY: [&str; 3] = ["nrtq-callback", "nrtq-reap", "nrtq-refill"];
const LOW_LATENCY: &str = "nrtq-callback-ll";

fn who(r: &Row) -> String {
    format!("{} {}t {}µs", r.pattern, r.threads, r.model_us)
}

/// The row of `pattern` at the same point as `r`.
fn peer<'a>(rows: &'a [Row], r: &Row, pattern: &str) -> Option<&'a Row> {
    rows.iter().find(|p| {
        p.pattern == pattern && p.api == r.api && p.model_us == r.model_us && p.threads == r.threads
    })
}

/// Judges `rows`: `score` gives each candidate row a value (or `None` to skip it), the
/// worst value decides, `ok` says whether it passes and `miss` words a miss.
fn judge(
    target: &'static str,
    api: &str,
    candidates: Vec<&Row>,
    score: impl Fn(&Row) -> Option<(f64, String)>,
    higher_is_better: bool,
    ok: impl Fn(f64) -> bool,
    miss: impl Fn(f64) -> String,
) -> Verdict {
    let mut worst: Option<(f64, String)> = None;
    for r in candidates {
        if let Some((v, text)) = score(r) {
            let worse = match &worst {
                None => true,
                Some((w, _)) => {
                    if higher_is_better {
                        v < *w
                    } else {
                        v > *w
                    }
                }
            };
            if worse {
                worst = Some((v, text));
            }
        }
    }
    match worst {
        None => Verdict {
            target,
            api: api.to_string(),
            worst: "—".into(),
            outcome: Outcome::NoData,
        },
        Some((v, text)) => Verdict {
            target,
            api: api.to_string(),
            worst: text,
            outcome: if ok(v) {
                Outcome::Pass
            } else {
                Outcome::Miss(miss(v))
            },
        },
    }
}

/// Every target for every generation present in `rows`.
pub fn evaluate(rows: &[Row]) -> Vec<Verdict> {
    let mut apis: Vec<&str> = rows.iter().map(|r| r.api.as_str()).collect();
    apis.sort_unstable();
    apis.dedup();
    let mut out = Vec::new();
    for api in apis {
        let nrtq = |pred: &dyn Fn(&Row) -> bool| -> Vec<&Row> {
            rows.iter()
                .filter(|r| r.api == api && DEFAULT_POLICY.contains(&r.pattern.as_str()) && pred(r))
                .collect()
        };
        let pct = |u: f64| u * 100.0;
        for (target, model_us, floor) in [
            ("utilisation ≥ 99.5% at 100 µs", 100u64, 99.5f64),
            ("utilisation ≥ 98% at 20 µs", 20, 98.0),
        ] {
            out.push(judge(
                target,
                api,
                nrtq(&|r| r.model_us == model_us),
                |r| {
                    Some((
                        pct(r.utilisation),
                        format!("{} {:.2}%", who(r), pct(r.utilisation)),
                    ))
                },
                true,
                |v| v >= floor,
                |v| format!("by {:.2} points", floor - v),
            ));
        }
        out.push(judge(
            "utilisation within 0.5 points of spin-loop",
            api,
            nrtq(&|_| true),
            |r| {
                let s = peer(rows, r, "spin-loop")?;
                let gap = pct(s.utilisation) - pct(r.utilisation);
                Some((gap, format!("{} {:.2} points below", who(r), gap)))
            },
            false,
            |v| v <= 0.5,
            |v| format!("by {:.2} points", v - 0.5),
        ));
        out.push(judge(
            "CPU/request ≤ poll-loop's at ≥ 20 µs",
            api,
            nrtq(&|r| r.model_us >= 20),
            |r| {
                let p = peer(rows, r, "poll-loop")?;
                let ratio = r.cpu_us_per_req / p.cpu_us_per_req.max(1e-9);
                Some((
                    ratio,
                    format!(
                        "{} {:.2} vs {:.2} µs ({:.0}%)",
                        who(r),
                        r.cpu_us_per_req,
                        p.cpu_us_per_req,
                        ratio * 100.0
                    ),
                ))
            },
            false,
            |v| v <= 1.0,
            |v| format!("{:.0}% above", (v - 1.0) * 100.0),
        ));
        out.push(judge(
            "CPU/request ≤ 10% of spin-loop's at ≥ 20 µs",
            api,
            nrtq(&|r| r.model_us >= 20),
            |r| {
                let s = peer(rows, r, "spin-loop")?;
                let ratio = r.cpu_us_per_req / s.cpu_us_per_req.max(1e-9);
                Some((
                    ratio,
                    format!("{} {:.1}% of spin-loop", who(r), ratio * 100.0),
                ))
            },
            false,
            |v| v <= 0.10,
            |v| format!("by {:.1} points", (v - 0.10) * 100.0),
        ));
        out.push(judge(
            "0-µs request rate ≥ 70% of spin-loop's",
            api,
            nrtq(&|r| r.model_us == 0),
            |r| {
                let s = peer(rows, r, "spin-loop")?;
                let ratio = r.req_per_s / s.req_per_s.max(1e-9);
                Some((
                    ratio,
                    format!(
                        "{} {:.0}% ({:.0} vs {:.0}/s)",
                        who(r),
                        ratio * 100.0,
                        r.req_per_s,
                        s.req_per_s
                    ),
                ))
            },
            true,
            |v| v >= 0.70,
            |v| format!("by {:.0} points", (0.70 - v) * 100.0),
        ));
        out.push(judge(
            "zero idle wake-ups",
            api,
            nrtq(&|r| r.idle_wakeups.is_some()),
            |r| {
                let w = r.idle_wakeups? as f64;
                Some((w, format!("{} {w:.0} in {} ms", who(r), r.idle_ms)))
            },
            false,
            |v| v == 0.0,
            |v| format!("{v:.0} wake-ups"),
        ));
        out.push(judge(
            "notification p99 ≤ 30 µs (low-latency policy)",
            api,
            rows.iter()
                .filter(|r| r.api == api && r.pattern == LOW_LATENCY)
                .collect(),
            |r| {
                let p = r.notify_p99_us?;
                Some((p, format!("{} {p:.1} µs", who(r))))
            },
            false,
            |v| v <= 30.0,
            |v| format!("by {:.1} µs", v - 30.0),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::row::sample;

    fn find<'a>(v: &'a [Verdict], prefix: &str) -> &'a Verdict {
        v.iter().find(|x| x.target.starts_with(prefix)).unwrap()
    }

    #[test]
    fn passes_and_misses_are_told_apart() {
        let rows = vec![
            sample("spin-loop", 100, 0.999, 100.0),
            sample("poll-loop", 100, 0.70, 4.0),
            sample("nrtq-callback", 100, 0.997, 3.0),
            sample("nrtq-reap", 100, 0.990, 5.0),
        ];
        let v = evaluate(&rows);
        let util = find(&v, "utilisation ≥ 99.5%");
        assert_eq!(util.outcome, Outcome::Miss("by 0.50 points".into()));
        assert!(util.worst.starts_with("nrtq-reap"), "{}", util.worst);
        assert_eq!(find(&v, "utilisation ≥ 98%").outcome, Outcome::NoData);
        // nrtq-reap 5.0 vs poll-loop 4.0: 25% above.
        assert_eq!(
            find(&v, "CPU/request ≤ poll").outcome,
            Outcome::Miss("25% above".into())
        );
        assert_eq!(find(&v, "CPU/request ≤ 10%").outcome, Outcome::Pass);
        assert_eq!(find(&v, "zero idle").outcome, Outcome::Pass);
        assert_eq!(find(&v, "notification p99").outcome, Outcome::NoData);
        let gap = find(&v, "utilisation within");
        assert!(matches!(gap.outcome, Outcome::Miss(_)), "{gap:?}");
    }
}
