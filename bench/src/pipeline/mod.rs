//! The pipeline suite (`nrtq-bench --suite pipeline`, issue 12): requests that arrive as
//! host buffers and leave as host buffers, through write → execute → read on one
//! emulated core, at model times of 100 µs and 1 ms with transfers of 10–150% of the
//! model time each way. Patterns in [`case::PipePattern`]; one case per child process,
//! as in the main suite; results in `pipeline.md` and `pipeline.csv`.
//!
//! Every figure is a median of interleaved runs with its spread. Throughput is shown
//! against the bound 1 / max(stage time); busy fractions come from the emulator's
//! counters of each unit.

pub mod by_hand;
pub mod case;
pub mod device;
pub mod nrtq;

use crate::child::Meter;
use crate::emu::Emu;
use crate::measure::clock::now_ns;
use crate::patterns::Permits;
use crate::plan::Budget;
use crate::raw::Runtime;
use crate::report::summary::Spread;
use case::{PipeCase, PipePattern};
use device::{Chain, Unit};
use nrt_emu::model::{Dtype, ModelSpec, OpSpec};
use std::collections::BTreeMap;
use std::path::Path;

/// Slots of the hand-written chain: enough for every unit to hold a few requests
/// (three units × four) without the chain running out before a unit refuses.
const CHAIN_SLOTS: usize = 12;

/// Submitting time of a full-run case, ms: at least 100 requests of the slowest pattern
/// (by-hand-sync at 1 ms with 150% transfers: 4 ms a request).
pub const FULL_WALL_MS: u64 = 600;
/// The quick mode's, which checks that the patterns work, not figures.
pub const QUICK_WALL_MS: u64 = 60;

/// The model of a case: `y = 2 × x` over f32 tensors of the case's size, taking the
/// case's model time.
pub fn model_bytes(c: &PipeCase) -> Result<Vec<u8>, String> {
    let n = (c.tensor_bytes() / 4) as u32;
    ModelSpec::new(&format!("pipe_{}us_{}pct", c.model_us, c.xfer_pct))
        .time_us(c.model_us)
        .input("x", Dtype::F32, &[n])
        .output("y", Dtype::F32, &[n])
        .op(OpSpec::scale("y", "x", 2.0))
        .to_bytes()
}

/// One case's result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PipeRow {
    pub pattern: String,
    pub api: String,
    pub model_us: u64,
    pub xfer_pct: u64,
    pub threads: u32,
    pub run: u32,
    pub requests: u64,
    pub errors: u64,
    pub req_per_s: f64,
    pub bound_per_s: f64,
    /// Busy ÷ wall of each unit, 0..1.
    pub busy: [f64; 3],
    /// (process CPU − emulator threads' CPU) ÷ requests, µs.
    pub cpu_us_per_req: f64,
}

impl PipeRow {
    pub fn to_line(&self) -> String {
        format!(
            "PIPE pattern={} api={} model_us={} xfer_pct={} threads={} run={} requests={} \
             errors={} req_per_s={:.2} bound_per_s={:.2} busy_write={:.6} busy_compute={:.6} \
             busy_read={:.6} cpu_us_per_req={:.4}",
            self.pattern,
            self.api,
            self.model_us,
            self.xfer_pct,
            self.threads,
            self.run,
            self.requests,
            self.errors,
            self.req_per_s,
            self.bound_per_s,
            self.busy[0],
            self.busy[1],
            self.busy[2],
            self.cpu_us_per_req
        )
    }

    pub fn from_line(line: &str) -> Result<PipeRow, String> {
        let kv: BTreeMap<&str, &str> = line
            .strip_prefix("PIPE ")
            .ok_or("not a PIPE line")?
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .collect();
        let get = |k: &str| kv.get(k).copied().ok_or(format!("{k} missing"));
        let num = |k: &str| -> Result<f64, String> {
            get(k)?.parse().map_err(|_| format!("{k} is not a number"))
        };
        Ok(PipeRow {
            pattern: get("pattern")?.into(),
            api: get("api")?.into(),
            model_us: num("model_us")? as u64,
            xfer_pct: num("xfer_pct")? as u64,
            threads: num("threads")? as u32,
            run: num("run")? as u32,
            requests: num("requests")? as u64,
            errors: num("errors")? as u64,
            req_per_s: num("req_per_s")?,
            bound_per_s: num("bound_per_s")?,
            busy: [num("busy_write")?, num("busy_compute")?, num("busy_read")?],
            cpu_us_per_req: num("cpu_us_per_req")?,
        })
    }
}

/// Busy time so far of each unit (write, compute, read), from the emulator's counters.
fn busy_now(emu: &Emu, rt: &Runtime) -> Result<[u64; 3], String> {
    let mut out = [0; 3];
    for unit in Unit::ALL {
        let (xu, queue) = unit.xu_queue(rt.generation);
        out[unit as usize] = emu
            .xu_queue(xu, queue)
            .ok_or("the library has no emulator counters (nrtemu_get_xu_stats)")?
            .busy_ns;
    }
    Ok(out)
}

/// Runs one case in this process (the child side of `--pipe-case`).
pub fn run_case(c: &PipeCase, lib: &Path) -> Result<PipeRow, String> {
    let rt = Runtime::open(lib, &c.api)?;
    let emu = Emu::open(lib);
    let model = rt.load(&model_bytes(c)?)?;
    let measured = match c.pattern {
        PipePattern::NrtqPipeline | PipePattern::NrtqQueue => {
            let mut runner = nrtq::Runner::new(c, &rt, &model, lib)?;
            measure(c, &rt, &emu, 2 * CHAIN_SLOTS as u64, |p| runner.run(p))
        }
        _ => {
            let chain = Chain::new(&rt, &model)?;
            let count = match c.pattern {
                PipePattern::ByHandSync => c.threads as usize,
                _ => CHAIN_SLOTS,
            };
            let mut slots = (0..count)
                .map(|i| chain.slot(i as u32))
                .collect::<Result<Vec<_>, _>>()?;
            let m = measure(c, &rt, &emu, 2 * count as u64, |permits| match c.pattern {
                PipePattern::ByHandSync => by_hand::run_sync(&chain, &mut slots, permits),
                PipePattern::ByHandAsync => {
                    by_hand::run_chain(&chain, &mut slots, permits, by_hand::Poll::Sleep)
                }
                _ => by_hand::run_chain(&chain, &mut slots, permits, by_hand::Poll::Spin),
            });
            for s in slots {
                chain.free(s);
            }
            m
        }
    };
    rt.close(model);
    let m = measured?;
    if m.tally.completed == 0 {
        return Err("no request completed".into());
    }
    Ok(PipeRow {
        pattern: c.pattern.name().into(),
        api: c.api.clone(),
        model_us: c.model_us,
        xfer_pct: c.xfer_pct,
        threads: c.threads,
        run: c.run,
        requests: m.tally.completed,
        errors: m.tally.errors,
        req_per_s: m.tally.completed as f64 * 1e9 / m.wall_ns as f64,
        bound_per_s: c.bound_per_s(),
        busy: m.busy_ns.map(|b| b as f64 / m.wall_ns as f64),
        cpu_us_per_req: m.app_cpu_ns as f64 / 1000.0 / m.tally.completed as f64,
    })
}

/// What the measured run of a case gave.
struct Measured {
    tally: by_hand::Tally,
    wall_ns: u64,
    busy_ns: [u64; 3],
    app_cpu_ns: u64,
}

/// Warms `run` up with `warm` requests, then runs it for the case's wall time between
/// readings of the clocks and of the emulator's unit counters.
fn measure(
    c: &PipeCase,
    rt: &Runtime,
    emu: &Emu,
    warm: u64,
    mut run: impl FnMut(&Permits) -> Result<by_hand::Tally, String>,
) -> Result<Measured, String> {
    let go = |budget: Budget| {
        let mut permits = Permits::new(budget);
        permits.start();
        permits
    };
    run(&go(Budget::Requests(warm)))?;
    let busy0 = busy_now(emu, rt)?;
    let meter = Meter::start(emu, rt.compute_xu());
    let t0 = now_ns();
    let tally = run(&go(Budget::WallMs {
        ms: c.wall_ms,
        max: u64::MAX,
    }))?;
    let t1 = now_ns();
    let reading = meter.stop();
    let busy1 = busy_now(emu, rt)?;
    Ok(Measured {
        tally,
        wall_ns: (t1 - t0).max(1),
        busy_ns: [0, 1, 2].map(|u| busy1[u].saturating_sub(busy0[u])),
        app_cpu_ns: reading.process_cpu_ns.saturating_sub(reading.emu_cpu_ns),
    })
}

/// Every run of the suite, round by round (interleaved like the main suite).
pub fn runs(apis: &[String], quick: bool, repeat: u32) -> Vec<PipeCase> {
    let mut cases = Vec::new();
    for api in apis {
        for pattern in PipePattern::ALL {
            for &threads in pattern.threads() {
                for model_us in case::MODEL_US {
                    for xfer_pct in case::XFER_PCT {
                        cases.push(PipeCase {
                            pattern,
                            api: api.clone(),
                            model_us,
                            xfer_pct,
                            threads,
                            wall_ms: if quick { QUICK_WALL_MS } else { FULL_WALL_MS },
                            run: 1,
                        });
                    }
                }
            }
        }
    }
    (1..=repeat.max(1))
        .flat_map(|run| cases.iter().map(move |c| PipeCase { run, ..c.clone() }))
        .collect()
}

/// One case's runs summarised: the median row and the spread of what the targets read.
pub struct PipeSummary {
    pub median: PipeRow,
    pub runs: usize,
    pub of_bound: Spread,
    pub busy: [Spread; 3],
    pub cpu: Spread,
}

fn spread(rows: &[&PipeRow], f: impl Fn(&PipeRow) -> f64) -> Spread {
    Spread::of(&rows.iter().map(|r| f(r)).collect::<Vec<_>>()).expect("at least one run")
}

/// Groups runs by case (every field but `run`) and summarises each, in first-seen order.
pub fn summarise(rows: &[PipeRow]) -> Vec<PipeSummary> {
    let mut groups: Vec<Vec<&PipeRow>> = Vec::new();
    for r in rows {
        let key = |x: &PipeRow| {
            (
                x.pattern.clone(),
                x.api.clone(),
                x.model_us,
                x.xfer_pct,
                x.threads,
            )
        };
        match groups.iter_mut().find(|g| key(g[0]) == key(r)) {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let busy = [0, 1, 2].map(|u| spread(&g, |r| r.busy[u]));
            let cpu = spread(&g, |r| r.cpu_us_per_req);
            let rps = spread(&g, |r| r.req_per_s);
            let median = PipeRow {
                run: 0,
                requests: spread(&g, |r| r.requests as f64).median as u64,
                errors: g.iter().map(|r| r.errors).sum(),
                req_per_s: rps.median,
                busy: [busy[0].median, busy[1].median, busy[2].median],
                cpu_us_per_req: cpu.median,
                ..g[0].clone()
            };
            PipeSummary {
                runs: g.len(),
                of_bound: spread(&g, |r| r.req_per_s / r.bound_per_s),
                busy,
                cpu,
                median,
            }
        })
        .collect()
}

fn pct(s: &Spread) -> String {
    if s.is_point() {
        format!("{:.1}", s.median * 100.0)
    } else {
        format!(
            "{:.1} ({:.1}–{:.1})",
            s.median * 100.0,
            s.min * 100.0,
            s.max * 100.0
        )
    }
}

fn us(s: &Spread) -> String {
    if s.is_point() {
        format!("{:.2}", s.median)
    } else {
        format!("{:.2} ({:.2}–{:.2})", s.median, s.min, s.max)
    }
}

/// `pipeline.md`: one table per generation.
pub fn markdown(sums: &[PipeSummary], command: &str, machine: &str) -> String {
    let mut s = String::from("# nrtq-bench: pipelines (host buffers in, host buffers out)\n\n");
    s.push_str(&format!(
        "Command: `{command}`  \nMachine: {machine}  \nEmulated host link: \
         NRT_EMU_DMA_GBPS={} ({} bytes/µs) plus {} µs per transfer; each request writes \
         one input and reads one output of the size that makes one transfer take \
         `xfer %` of the model time.\n\n",
        case::DMA_GBPS,
        case::BYTES_PER_US,
        case::XFER_OVERHEAD_NS / 1000
    ));
    s.push_str(
        "Figures are medians of the runs, with (min–max) when they differ. `of bound` is \
         requests/s ÷ (1 / slowest stage time). Busy is the unit's busy time ÷ wall time, \
         from the emulator's counters; by-hand-sync's blocking copies take their emulated \
         time on the link but no async unit, so its write and read columns read 0. CPU is \
         the process's CPU less the emulator's threads', per request.\n\n",
    );
    let mut apis: Vec<&str> = sums.iter().map(|x| x.median.api.as_str()).collect();
    apis.dedup();
    for api in apis {
        s.push_str(&format!("## SDK {api}\n\n"));
        s.push_str("| pattern | threads | model µs | xfer % | req/s | of bound % | compute busy % | write busy % | read busy % | CPU µs/req | runs |\n");
        s.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
        for x in sums.iter().filter(|x| x.median.api == api) {
            let m = &x.median;
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |\n",
                m.pattern,
                m.threads,
                m.model_us,
                m.xfer_pct,
                m.req_per_s,
                pct(&x.of_bound),
                pct(&x.busy[1]),
                pct(&x.busy[0]),
                pct(&x.busy[2]),
                us(&x.cpu),
                x.runs
            ));
        }
        s.push('\n');
    }
    let errors: u64 = sums.iter().map(|x| x.median.errors).sum();
    s.push_str(&format!(
        "Requests with an error or a wrong output over all runs: {errors}.\n"
    ));
    s
}

/// `pipeline.csv`: one line per run.
pub fn csv(rows: &[PipeRow]) -> String {
    let mut s = String::from(
        "pattern,api,model_us,xfer_pct,threads,run,requests,req_per_s,bound_per_s,busy_write,busy_compute,busy_read,cpu_us_per_req,errors\n",
    );
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{:.1},{:.1},{:.4},{:.4},{:.4},{:.3},{}\n",
            r.pattern,
            r.api,
            r.model_us,
            r.xfer_pct,
            r.threads,
            r.run,
            r.requests,
            r.req_per_s,
            r.bound_per_s,
            r.busy[0],
            r.busy[1],
            r.busy[2],
            r.cpu_us_per_req,
            r.errors
        ));
    }
    s
}

/// The driver side: runs every case in a child process, prints progress, writes
/// `pipeline.md` and `pipeline.csv` into `out`. Returns whether every case ran.
pub fn run_suite(
    apis: &[String],
    quick: bool,
    repeat: u32,
    out: &Path,
    command: &str,
) -> Result<bool, String> {
    let runs = runs(apis, quick, repeat);
    let mut rows = Vec::new();
    let mut failed = 0;
    for (i, c) in runs.iter().enumerate() {
        let args = ["--pipe-case".to_string(), c.to_arg()];
        let env = [("NRT_EMU_DMA_GBPS", case::DMA_GBPS)];
        let t0 = std::time::Instant::now();
        let result = crate::driver::run_child_process(&args, &c.api, &env, "PIPE ")
            .and_then(|(line, _)| PipeRow::from_line(&line));
        let took = t0.elapsed().as_secs_f64();
        match result {
            Ok(r) => {
                println!(
                    "[{:>3}/{}] {}  {:>7.0} req/s ({:5.1}% of bound) compute {:5.1}% write {:5.1}% read {:5.1}% {:6.2} µs CPU/req ({took:.2} s)",
                    i + 1,
                    runs.len(),
                    c.label(),
                    r.req_per_s,
                    100.0 * r.req_per_s / r.bound_per_s,
                    100.0 * r.busy[1],
                    100.0 * r.busy[0],
                    100.0 * r.busy[2],
                    r.cpu_us_per_req
                );
                rows.push(r);
            }
            Err(e) => {
                failed += 1;
                println!("[{:>3}/{}] {}  FAILED: {e}", i + 1, runs.len(), c.label());
            }
        }
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let sums = summarise(&rows);
    for (name, text) in [
        (
            "pipeline.md",
            markdown(&sums, command, &crate::driver::machine()),
        ),
        ("pipeline.csv", csv(&rows)),
    ] {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        println!("wrote {}", p.display());
    }
    Ok(failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run: u32, rps: f64) -> PipeRow {
        PipeRow {
            pattern: "by-hand-async".into(),
            api: "2.30".into(),
            model_us: 100,
            xfer_pct: 50,
            threads: 1,
            run,
            requests: 100,
            errors: 0,
            req_per_s: rps,
            bound_per_s: 10_000.0,
            busy: [0.5, 0.9, 0.5],
            cpu_us_per_req: 3.0,
        }
    }

    #[test]
    fn a_row_round_trips_through_its_line() {
        let r = row(2, 9000.0);
        assert_eq!(PipeRow::from_line(&r.to_line()).unwrap(), r);
        assert!(PipeRow::from_line("RESULT x=1").is_err());
    }

    #[test]
    fn runs_of_a_case_summarise_to_their_median_and_spread() {
        let rows = [row(1, 9000.0), row(2, 9900.0), row(3, 9500.0)];
        let sums = summarise(&rows);
        assert_eq!(sums.len(), 1);
        assert_eq!(sums[0].runs, 3);
        assert_eq!(sums[0].median.req_per_s, 9500.0);
        assert!((sums[0].of_bound.min - 0.90).abs() < 1e-9);
        assert!((sums[0].of_bound.max - 0.99).abs() < 1e-9);
    }

    #[test]
    fn the_sweep_covers_every_point_once_per_round() {
        let runs = runs(&["2.28".into(), "2.30".into()], true, 2);
        // 5 patterns, by-hand-sync twice (1 and 4 threads), 2 model times, 4 fractions.
        assert_eq!(runs.len(), 2 * 2 * 6 * 2 * 4);
        assert!(runs[..runs.len() / 2].iter().all(|c| c.run == 1));
    }
}
