//! What to run: the patterns, the sweep of cases and how long each runs.
//!
//! A case is one (pattern, api, model time, threads) point. The driver turns a plan into
//! child-process command lines with [`Case::to_args`]; the child reads them back with
//! [`Case::from_args`], so both sides share one definition.

use std::fmt;

/// How an application drives the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// A plain `nrt_execute` loop.
    Sync,
    /// The vendor's documented pattern: schedule until full, wait for the last, check
    /// errors, repeat.
    DocsBatch,
    /// A refill loop keeping N in flight, polling `nrta_get_sequence` with `usleep(1)`.
    PollLoop,
    /// The same loop busy-polling.
    SpinLoop,
    /// libnrtq, completions delivered to a callback on its completion thread, with the
    /// default wait policy.
    NrtqCallback,
    /// The same with the low-latency wait policy (spins near predicted completions).
    NrtqCallbackLowLatency,
    /// libnrtq, completions reaped in batches after the reap fd turns readable.
    NrtqReap,
    /// libnrtq in pull mode: a refill callback feeds the queue whenever it has room.
    NrtqRefill,
}

impl Pattern {
    /// Every pattern, in table order.
    pub const ALL: [Pattern; 8] = [
        Pattern::Sync,
        Pattern::DocsBatch,
        Pattern::PollLoop,
        Pattern::SpinLoop,
        Pattern::NrtqCallback,
        Pattern::NrtqCallbackLowLatency,
        Pattern::NrtqReap,
        Pattern::NrtqRefill,
    ];

    /// The name used on the command line, in the CSV and in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Sync => "sync",
            Pattern::DocsBatch => "docs-batch",
            Pattern::PollLoop => "poll-loop",
            Pattern::SpinLoop => "spin-loop",
            Pattern::NrtqCallback => "nrtq-callback",
            Pattern::NrtqCallbackLowLatency => "nrtq-callback-ll",
            Pattern::NrtqReap => "nrtq-reap",
            Pattern::NrtqRefill => "nrtq-refill",
        }
    }

    /// The pattern named `s`.
    pub fn parse(s: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Whether the pattern goes through libnrtq rather than the raw API.
    pub fn is_nrtq(self) -> bool {
        matches!(
            self,
            Pattern::NrtqCallback
                | Pattern::NrtqCallbackLowLatency
                | Pattern::NrtqReap
                | Pattern::NrtqRefill
        )
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The generations of the runtime API, as `NRT_EMU_API` names them.
pub const APIS: [&str; 3] = ["2.28", "2.29", "2.30"];

/// Simulated model times of the full sweep, µs (0 gives the raw per-request CPU floor).
pub const MODEL_US: [u64; 5] = [0, 5, 20, 100, 500];

/// Submitting threads of the full sweep.
pub const THREADS: [u32; 2] = [1, 4];

/// The model time whose cases also measure idle wake-ups in a full run: a whole idle
/// second per case would not fit the five-minute budget, and the idle state does not
/// depend on the model time that came before it.
pub const IDLE_MODEL_US: u64 = 100;

/// How much work a case does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Exactly this many requests.
    Requests(u64),
    /// Submit for this many milliseconds of wall time (at most `max` requests), then
    /// drain: a time budget keeps slow patterns (a 5-µs model behind `usleep(1)`) from
    /// blowing the run time, while fast ones still do thousands of requests.
    WallMs { ms: u64, max: u64 },
}

/// One point of the sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub pattern: Pattern,
    pub api: String,
    pub model_us: u64,
    pub threads: u32,
    pub budget: Budget,
    /// Idle wake-up window after the run, ms (0: not measured).
    pub idle_ms: u64,
    /// Requests each submitting loop keeps on the device.
    pub depth: u32,
    /// Which run of the case this is, from 1 (see [`Selection::repeat`]). The child echoes
    /// it in its result so that every run keeps its own CSV row.
    pub run: u32,
}

/// Requests the raw refill loops (and nrtq) keep in flight per loop: the vendor advises
/// 2–3 queued per execution unit, and nrtq's default depth is 3.
pub const DEFAULT_DEPTH: u32 = 3;

impl Case {
    /// A short label for progress lines.
    pub fn label(&self) -> String {
        format!(
            "{:<13} api {} model {:>3} µs threads {} run {}",
            self.pattern.name(),
            self.api,
            self.model_us,
            self.threads,
            self.run
        )
    }

    /// The child's command-line arguments (after `--case`).
    pub fn to_args(&self) -> Vec<String> {
        let budget = match self.budget {
            Budget::Requests(n) => format!("requests={n}"),
            Budget::WallMs { ms, max } => format!("wall_ms={ms},max={max}"),
        };
        vec![format!(
            "pattern={},api={},model_us={},threads={},{budget},idle_ms={},depth={},run={}",
            self.pattern, self.api, self.model_us, self.threads, self.idle_ms, self.depth, self.run
        )]
    }

    /// Parses what [`Case::to_args`] wrote.
    pub fn from_args(spec: &str) -> Result<Case, String> {
        let mut pattern = None;
        let mut api = None;
        let mut model_us = None;
        let mut threads = None;
        let mut requests = None;
        let mut wall_ms = None;
        let mut max = None;
        let mut idle_ms = 0;
        let mut depth = DEFAULT_DEPTH;
        let mut run = 1;
        for item in spec.split(',') {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}' is not key=value"))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{key}: '{value}' is not a number"))
            };
            match key {
                "pattern" => {
                    pattern = Some(
                        Pattern::parse(value).ok_or_else(|| format!("unknown pattern {value}"))?,
                    )
                }
                "api" if APIS.contains(&value) => api = Some(value.to_string()),
                "api" => return Err(format!("unknown api {value}")),
                "model_us" => model_us = Some(number()?),
                "threads" => threads = Some(number()? as u32),
                "requests" => requests = Some(number()?),
                "wall_ms" => wall_ms = Some(number()?),
                "max" => max = Some(number()?),
                "idle_ms" => idle_ms = number()?,
                "depth" => depth = number()? as u32,
                "run" => run = number()? as u32,
                _ => return Err(format!("unknown key {key}")),
            }
        }
        let budget = match (requests, wall_ms) {
            (Some(n), None) => Budget::Requests(n),
            (None, Some(ms)) => Budget::WallMs {
                ms,
                max: max.unwrap_or(u64::MAX),
            },
            _ => return Err("give exactly one of requests= and wall_ms=".into()),
        };
        let case = Case {
            pattern: pattern.ok_or("pattern= missing")?,
            api: api.ok_or("api= missing")?,
            model_us: model_us.ok_or("model_us= missing")?,
            threads: threads.ok_or("threads= missing")?,
            budget,
            idle_ms,
            depth,
            run,
        };
        if case.threads == 0 || case.depth == 0 || case.run == 0 {
            return Err("threads, depth and run must be at least 1".into());
        }
        Ok(case)
    }
}

/// What the command line asked for.
#[derive(Clone, Debug)]
pub struct Selection {
    pub quick: bool,
    pub apis: Vec<String>,
    pub patterns: Vec<Pattern>,
    pub model_us: Vec<u64>,
    pub threads: Vec<u32>,
    /// Measure idle wake-ups in every case, not only the [`IDLE_MODEL_US`] ones.
    pub idle_all: bool,
    /// Runs of every case (at least 1), interleaved by [`Selection::runs`].
    pub repeat: u32,
}

/// Runs of every case in a full run: the median of three shrugs off one disturbed run.
pub const FULL_REPEAT: u32 = 3;

/// Runs of every case in quick mode, which checks that the patterns work, not figures.
pub const QUICK_REPEAT: u32 = 1;

/// Wall-time budget of one full-run case: about 0.35 s of submitting. With a busy device
/// that is 0.35 s of device time (700 requests at 500 µs, 17,500 at 20 µs); one round of
/// 240 cases, plus start-up and the 48 idle seconds, takes a little over two minutes on
/// two cores, so the default three rounds take about seven.
pub const FULL_WALL_MS: u64 = 350;

/// Requests per quick-mode case: a few hundred, enough to exercise every path.
pub const QUICK_REQUESTS: u64 = 300;

/// Idle window of the quick mode, ms: long enough to run the measuring code.
pub const QUICK_IDLE_MS: u64 = 100;

impl Selection {
    /// Every run to make, in order: round 1 of every case, then round 2 of every case, and
    /// so on. Interleaving spreads a slow drift of the machine's load (another job starting
    /// halfway) over every case alike instead of over the cases that happen to run then.
    pub fn runs(&self) -> Vec<Case> {
        let cases = self.cases();
        (1..=self.repeat.max(1))
            .flat_map(|run| cases.iter().map(move |c| Case { run, ..c.clone() }))
            .collect()
    }

    /// The distinct cases (each as its first run), in order: api, pattern, threads, model
    /// time.
    pub fn cases(&self) -> Vec<Case> {
        let mut out = Vec::new();
        for api in &self.apis {
            for &pattern in &self.patterns {
                for &threads in &self.threads {
                    for &model_us in &self.model_us {
                        let (budget, idle_ms) = if self.quick {
                            let idle = if model_us == self.model_us[0] {
                                QUICK_IDLE_MS
                            } else {
                                0
                            };
                            (Budget::Requests(QUICK_REQUESTS), idle)
                        } else {
                            let idle = if self.idle_all || model_us == IDLE_MODEL_US {
                                1000
                            } else {
                                0
                            };
                            (
                                Budget::WallMs {
                                    ms: FULL_WALL_MS,
                                    // Bounds the latency sample arrays of the 0-µs cases.
                                    max: 400_000,
                                },
                                idle,
                            )
                        };
                        out.push(Case {
                            pattern,
                            api: api.clone(),
                            model_us,
                            threads,
                            budget,
                            idle_ms,
                            depth: DEFAULT_DEPTH,
                            run: 1,
                        });
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_round_trips_through_args() {
        for budget in [Budget::Requests(300), Budget::WallMs { ms: 350, max: 9 }] {
            let case = Case {
                pattern: Pattern::NrtqRefill,
                api: "2.29".into(),
                model_us: 20,
                threads: 4,
                budget,
                idle_ms: 1000,
                depth: 3,
                run: 2,
            };
            let args = case.to_args();
            assert_eq!(Case::from_args(&args[0]).unwrap(), case);
        }
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(Case::from_args("pattern=sync,api=2.28,model_us=0,threads=1").is_err());
        assert!(Case::from_args("pattern=nope,api=2.28,model_us=0,threads=1,requests=1").is_err());
        assert!(Case::from_args("pattern=sync,api=9.9,model_us=0,threads=1,requests=1").is_err());
        assert!(Case::from_args("pattern=sync,api=2.28,model_us=0,threads=0,requests=1").is_err());
    }

    #[test]
    fn full_sweep_has_every_point_and_idle_once_per_group() {
        let sel = Selection {
            quick: false,
            apis: APIS.iter().map(|s| s.to_string()).collect(),
            patterns: Pattern::ALL.to_vec(),
            model_us: MODEL_US.to_vec(),
            threads: THREADS.to_vec(),
            idle_all: false,
            repeat: 1,
        };
        let cases = sel.cases();
        assert_eq!(cases.len(), 3 * 8 * 5 * 2);
        let idle = cases.iter().filter(|c| c.idle_ms > 0).count();
        assert_eq!(idle, 3 * 8 * 2);
        assert!(cases
            .iter()
            .filter(|c| c.idle_ms > 0)
            .all(|c| c.model_us == IDLE_MODEL_US));
    }

    #[test]
    fn runs_are_interleaved_round_by_round() {
        let sel = Selection {
            quick: true,
            apis: vec!["2.30".into()],
            patterns: vec![Pattern::PollLoop, Pattern::NrtqCallback],
            model_us: vec![20, 100],
            threads: vec![1],
            idle_all: false,
            repeat: 3,
        };
        let cases = sel.cases();
        let runs = sel.runs();
        assert_eq!(runs.len(), 3 * cases.len());
        for (i, r) in runs.iter().enumerate() {
            // Round k holds every case once, in plan order, before round k + 1 starts.
            assert_eq!(r.run as usize, i / cases.len() + 1, "{}", r.label());
            assert_eq!(
                Case {
                    run: 1,
                    ..r.clone()
                },
                cases[i % cases.len()]
            );
        }
        // A spec without run= (an older driver) is run 1; run=0 is refused.
        let spec = "pattern=sync,api=2.28,model_us=0,threads=1,requests=1";
        assert_eq!(Case::from_args(spec).unwrap().run, 1);
        assert!(Case::from_args(&format!("{spec},run=0")).is_err());
    }
}
