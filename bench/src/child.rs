//! One case, run inside its own process (`nrtq-bench --case …`): load the library the
//! driver named, run the pattern once to warm up and once measured, then turn the
//! clocks and the emulator's counters into a [`Row`].

use crate::emu::Emu;
use crate::measure::clock::{process_cpu_ns, sleep_ns};
use crate::measure::latency::{pair, quantile, DeviceDone, Notice};
use crate::measure::threads;
use crate::patterns::{self, Permits, RawContext, ThreadOutcome};
use crate::plan::{Budget, Case};
use crate::raw::{Model, Runtime};
use crate::report::row::Row;
use neuron_sys::{nrta_seq_get_seq_num, NRTA_SEQ_NUM_MASK};
use std::path::Path;

/// How many of the last requests the emulator remembers release times for.
const RECENT: u64 = 4096;

/// What a pattern's measured run produced.
pub struct Measured {
    pub outcome: ThreadOutcome,
    /// Wall-clock interval of the run, ns of CLOCK_MONOTONIC.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Clock readings around the run.
    pub meter: MeterReading,
    /// Context switches over the idle window, when measured.
    pub idle_wakeups: Option<u64>,
}

/// CPU and busy-time readings taken at the start of a run.
pub struct Meter<'e> {
    emu: &'e Emu,
    compute_xu: u32,
    cpu0: u64,
    emu_cpu0: Option<u64>,
    emu_threads0: u64,
    busy0: Option<u64>,
    late_p99_ns: u64,
}

/// The differences over a run.
pub struct MeterReading {
    pub process_cpu_ns: u64,
    /// The emulator threads' CPU and where the figure came from.
    pub emu_cpu_ns: u64,
    pub emu_cpu_source: &'static str,
    /// COMPUTE busy time by the emulator's counters, if it has them.
    pub busy_ns: Option<u64>,
    pub late_p99_ns: u64,
}

impl<'e> Meter<'e> {
    /// Reads every clock now.
    pub fn start(emu: &'e Emu, compute_xu: u32) -> Meter<'e> {
        Meter {
            emu,
            compute_xu,
            emu_cpu0: emu.thread_cpu_ns(),
            emu_threads0: threads::emulator_cpu_ns(),
            busy0: emu.xu(compute_xu).map(|x| x.busy_ns),
            late_p99_ns: 0,
            cpu0: process_cpu_ns(),
        }
    }

    /// Reads every clock again and returns the differences.
    pub fn stop(mut self) -> MeterReading {
        let cpu1 = process_cpu_ns();
        let xu = self.emu.xu(self.compute_xu);
        self.late_p99_ns = xu.map(|x| x.late_p99_ns).unwrap_or(0);
        let (emu_cpu_ns, emu_cpu_source) = match (self.emu_cpu0, self.emu.thread_cpu_ns()) {
            (Some(a), Some(b)) => (b.saturating_sub(a), "emulator"),
            _ => (
                threads::emulator_cpu_ns().saturating_sub(self.emu_threads0),
                "threads",
            ),
        };
        MeterReading {
            process_cpu_ns: cpu1.saturating_sub(self.cpu0),
            emu_cpu_ns,
            emu_cpu_source,
            busy_ns: match (self.busy0, xu) {
                (Some(a), Some(b)) => Some(b.busy_ns.saturating_sub(a)),
                _ => None,
            },
            late_p99_ns: self.late_p99_ns,
        }
    }
}

/// Settling time before the idle window opens, ms.
const IDLE_SETTLE_MS: u64 = 20;

/// Context switches of the application's threads over `idle_ms` of doing nothing (after
/// [`IDLE_SETTLE_MS`] of settling).
pub fn idle_wakeups(idle_ms: u64) -> Option<u64> {
    if idle_ms == 0 {
        return None;
    }
    let me = threads::current_tid();
    // Let threads that were still finishing the run go to sleep first: a thread blocking
    // for the first time after the window opened adds one context switch, which is not a
    // wake-up.
    sleep_ns(IDLE_SETTLE_MS * 1_000_000);
    let before = threads::app_switches(me);
    sleep_ns(idle_ms * 1_000_000);
    let after = threads::app_switches(me);
    Some(threads::wakeups_between(&before, &after))
}

/// Release instants of the last `count` requests that completed on the COMPUTE unit
/// (at most what the emulator remembers).
fn recent_releases(emu: &Emu, last: u64, count: u64) -> Vec<DeviceDone> {
    let xu_bits = last & !NRTA_SEQ_NUM_MASK;
    let last_num = nrta_seq_get_seq_num(last);
    let first = last_num.saturating_sub(count.min(RECENT)) + 1;
    (first..=last_num)
        .filter_map(|n| {
            let seq = xu_bits | n;
            emu.completion_time(seq).map(|(_, release)| DeviceDone {
                seq,
                at_ns: release,
            })
        })
        .collect()
}

/// Latency p50 and p99 in µs, and the number of samples.
fn notify_latency(
    emu: &Emu,
    last_completed: Option<u64>,
    notices: &[Notice],
) -> (Option<f64>, Option<f64>, u64) {
    let Some(last) = last_completed else {
        return (None, None, 0);
    };
    if !emu.has_completion_times() || notices.is_empty() {
        return (None, None, 0);
    }
    let device = recent_releases(emu, last, notices.len() as u64);
    let mut samples = pair(notices, &device);
    let n = samples.len() as u64;
    let us = |v: Option<i64>| v.map(|ns| ns.max(0) as f64 / 1000.0);
    (
        us(quantile(&mut samples, 0.50)),
        us(quantile(&mut samples, 0.99)),
        n,
    )
}

/// Runs `case` against the library at `lib` with the model file at `model_path`.
pub fn run(case: &Case, lib: &Path, model_path: &Path) -> Result<Row, String> {
    let bytes =
        std::fs::read(model_path).map_err(|e| format!("read {}: {e}", model_path.display()))?;
    let rt = Runtime::open(lib, &case.api)?;
    let emu = Emu::open(lib);
    let model = rt.load(&bytes)?;
    let measured = if case.pattern.is_nrtq() {
        patterns::nrtq::measure(case, &rt, &model, &emu)?
    } else {
        measure_raw(case, &rt, &model, &emu)?
    };
    // Release times live in the runtime: read them before closing it.
    let (p50, p99, samples) =
        notify_latency(&emu, rt.last_completed().ok(), &measured.outcome.notices);
    rt.close(model);

    let m = &measured;
    let requests = m.outcome.completed;
    if requests == 0 {
        return Err("no request completed".into());
    }
    let wall_ns = m.end_ns.saturating_sub(m.start_ns).max(1);
    let (busy_ns, busy_source) = match m.meter.busy_ns {
        Some(b) => (b, "counters"),
        None => (requests * case.model_us * 1000, "computed"),
    };
    let app_cpu = m.meter.process_cpu_ns.saturating_sub(m.meter.emu_cpu_ns);
    Ok(Row {
        pattern: case.pattern.name().to_string(),
        api: case.api.clone(),
        model_us: case.model_us,
        threads: case.threads,
        run: case.run,
        requests,
        utilisation: busy_ns as f64 / wall_ns as f64,
        req_per_s: requests as f64 * 1e9 / wall_ns as f64,
        cpu_us_per_req: app_cpu as f64 / 1000.0 / requests as f64,
        notify_p50_us: p50,
        notify_p99_us: p99,
        idle_wakeups: m.idle_wakeups,
        errors: m.outcome.errors,
        wall_ms: wall_ns as f64 / 1e6,
        busy_source: busy_source.to_string(),
        emu_cpu_source: m.meter.emu_cpu_source.to_string(),
        notify_samples: samples,
        late_p99_us: m.meter.late_p99_ns as f64 / 1000.0,
        idle_ms: if m.idle_wakeups.is_some() {
            case.idle_ms
        } else {
            0
        },
    })
}

/// The raw-API patterns: rings of tensor sets per thread, a warm-up, the measured run,
/// then the idle window (the loops' threads have ended by then).
fn measure_raw(case: &Case, rt: &Runtime, model: &Model, emu: &Emu) -> Result<Measured, String> {
    let depth = case.depth as usize;
    let ring = patterns::ring_size(case.pattern, depth);
    let rings = (0..case.threads)
        .map(|_| rt.ring(model, ring))
        .collect::<Result<Vec<_>, _>>()?;
    let ctx = RawContext { rt, model, depth };
    let warm = Budget::Requests(u64::from(case.threads) * depth as u64 * 4);
    patterns::run_raw(case.pattern, &ctx, &rings, &mut Permits::new(warm))?;

    let meter = Meter::start(emu, rt.compute_xu());
    let (outcome, start_ns, end_ns) =
        patterns::run_raw(case.pattern, &ctx, &rings, &mut Permits::new(case.budget))?;
    let meter = meter.stop();
    let idle = idle_wakeups(case.idle_ms);
    for r in rings {
        rt.free_ring(r);
    }
    Ok(Measured {
        outcome,
        start_ns,
        end_ns,
        meter,
        idle_wakeups: idle,
    })
}
