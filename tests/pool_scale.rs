//! Pool scaling figures against the emulator: reported, not asserted (run by hand):
//!
//! ```sh
//! cargo build --release --workspace
//! NRT_EMU_API=2.30 cargo test --release --test pool_scale -- --ignored --nocapture
//! ```
//!
//! `make bench` runs it so, with `POOL_OUT=bench/results/pool.md` (the sections are
//! appended to that file).
//!
//! `POOL_CORES` (default 1,2,4,8,16,32,64), `POOL_MODEL_US` (default 1000,100),
//! `POOL_REPEAT` (default 3; runs interleaved over the sweep), `POOL_SECONDS` (default
//! 1.0). A pool over C cores is kept saturated (every request submitted up front into the
//! pool backlog, the cores pull); per case: aggregate requests/s against C ÷ model time,
//! the worst core's utilisation (its requests × model time ÷ wall time), CPU per request
//! of the whole process and of its threads by name (nrtq's completion thread, the
//! emulator's release thread, the submitting thread), as the median over the runs with
//! the min–max beside it. Then a failover case: 8 cores, one killed mid-run by
//! `NRT_EMU_FAULTS`.
mod emu_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use emu_support::*;
use nrt_emu::model::{Dtype, ModelSpec};
use nrtq::{Completion, PoolConfig, PoolModel, Status};

/// CPU time of this process's threads by name without trailing digits, ms (from /proc:
/// 10-ms ticks).
fn thread_cpu_ms() -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        *m.entry(name.to_string()).or_insert(0) += ticks * 10;
    }
    m
}

fn model(model_us: u64, faults: &[&str]) -> Arc<[u8]> {
    let mut spec = ModelSpec::add_model("add", Dtype::F32, &[16]).time_ns(model_us * 1000);
    for f in faults {
        spec = spec.fault(f);
    }
    spec.to_bytes().unwrap().into()
}

#[derive(Clone, Debug, Default)]
struct Run {
    rate: f64,
    ideal_pct: f64,
    worst_util_pct: f64,
    cpu_us: f64,
    completion_us: f64,
    emulator_us: f64,
    submitter_us: f64,
}

fn run(cores: u32, model_us: u64, seconds: f64) -> Run {
    let _l = lock();
    let rt = open(&[("NRT_EMU_TOTAL_CORES", &cores.to_string())]);
    let pool = rt
        .create_pool(
            PoolModel::Bytes {
                neff: model(model_us, &[]),
                cores: None,
            },
            PoolConfig {
                backlog: 1 << 24,
                ..PoolConfig::default()
            },
        )
        .unwrap();
    let io = Io::new(16, 1.0);
    let ideal = cores as f64 * 1e6 / model_us as f64;
    let total = (ideal * seconds) as u64;
    // Warm up (the cores learn their device time), then one saturated burst.
    for k in 0..(cores as u64 * 50) {
        pool.submit(io.work(), k, None).unwrap();
    }
    pool.drain(None).unwrap();
    let before: Vec<u64> = pool.cores().iter().map(|c| c.routed).collect();
    let cpu0 = nrtq::testing::process_cpu_ns();
    let threads0 = thread_cpu_ms();
    let t0 = Instant::now();
    for k in 0..total {
        pool.submit(io.work(), k, None).unwrap();
    }
    pool.drain(None).unwrap();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = nrtq::testing::process_cpu_ns() - cpu0;
    let threads = thread_cpu_ms();
    let per_req = |name: &str| {
        let ms = threads.get(name).copied().unwrap_or(0) - threads0.get(name).copied().unwrap_or(0);
        ms as f64 * 1000.0 / total as f64
    };
    let worst = pool
        .cores()
        .iter()
        .zip(&before)
        .map(|(c, b)| c.routed - b)
        .min()
        .unwrap_or(0);
    pool.destroy(Duration::from_secs(10)).unwrap();
    let rate = total as f64 / wall;
    Run {
        rate,
        ideal_pct: 100.0 * rate / ideal,
        worst_util_pct: 100.0 * worst as f64 * model_us as f64 / 1e6 / wall,
        cpu_us: cpu as f64 / total as f64 / 1000.0,
        completion_us: per_req("nrtq-completion"),
        emulator_us: per_req("nrt-emu-release"),
        submitter_us: per_req("pool_scaling"),
    }
}

/// What users write today: one thread per core, each running a refill loop over its own
/// core (`depth` in flight, one counter read per pass, then `sleep(1 µs)` — the vendor
/// example's `usleep(1)` — or a busy retry). It drives nrtq's own thin channel over
/// `nrta_execute_schedule` / `nrta_get_sequence` (the raw calls, no queue engine, no
/// completion thread). Submits for `seconds` of wall time, then drains.
fn thread_per_core(cores: u32, model_us: u64, seconds: f64, spin: bool) -> Run {
    use nrtq::backend::nrt::NrtDevice;
    use nrtq::backend::{Device, Op, Refusal};
    let _l = lock();
    std::env::set_var("NRT_EMU_TOTAL_CORES", cores.to_string());
    let dev = NrtDevice::load(Some(&library()), true).expect("load the emulator");
    std::env::remove_var("NRT_EMU_TOTAL_CORES");
    let bytes = model(model_us, &[]);
    let models: Vec<_> = (0..cores)
        .map(|c| dev.load_model(&bytes, c).unwrap())
        .collect();
    let io = Io::new(16, 1.0);
    let op = Op::Execute {
        model: None,
        work: io.work(),
    };
    const DEPTH: usize = 4;
    let cpu0 = nrtq::testing::process_cpu_ns();
    let threads0 = thread_cpu_ms();
    let t0 = Instant::now();
    let stop = t0 + Duration::from_secs_f64(seconds);
    let done: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = models
            .iter()
            .map(|&m| {
                let (dev, op) = (&dev, &op);
                std::thread::Builder::new()
                    .name("bench-thread-per-core".into())
                    .spawn_scoped(scope, move || {
                        let mut ch = dev.open_channel(m, DEPTH).unwrap();
                        let mut free: Vec<usize> = (0..DEPTH).collect();
                        let mut in_flight = std::collections::VecDeque::new();
                        let mut completed = 0u64;
                        loop {
                            let open = Instant::now() < stop;
                            while let Some(&slot) = free.last().filter(|_| open) {
                                match ch.schedule(op, 0, slot) {
                                    Ok(seq) => {
                                        free.pop();
                                        in_flight.push_back((seq, slot));
                                    }
                                    Err(Refusal::Full) => break,
                                    Err(e) => panic!("schedule: {e:?}"),
                                }
                            }
                            if in_flight.is_empty() && !open {
                                break;
                            }
                            let upto = ch.completed().unwrap();
                            ch.collect_errors();
                            let mut retired = 0;
                            while let Some(&(seq, slot)) = in_flight.front() {
                                if seq > upto {
                                    break;
                                }
                                let _ = ch.status(seq, slot);
                                in_flight.pop_front();
                                free.push(slot);
                                retired += 1;
                            }
                            completed += retired;
                            if retired == 0 {
                                if spin {
                                    std::hint::spin_loop();
                                } else {
                                    std::thread::sleep(Duration::from_micros(1));
                                }
                            }
                        }
                        completed
                    })
                    .unwrap()
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = t0.elapsed().as_secs_f64();
    let cpu = nrtq::testing::process_cpu_ns() - cpu0;
    let threads = thread_cpu_ms();
    let total: u64 = done.iter().sum();
    let per_req = |name: &str| {
        let ms = threads.get(name).copied().unwrap_or(0) - threads0.get(name).copied().unwrap_or(0);
        ms as f64 * 1000.0 / total.max(1) as f64
    };
    let emulator_us = per_req("nrt-emu-release");
    for m in models {
        dev.unload_model(m);
    }
    drop(io);
    dev.shutdown();
    let ideal = cores as f64 * 1e6 / model_us as f64;
    let rate = total as f64 / wall;
    Run {
        rate,
        ideal_pct: 100.0 * rate / ideal,
        worst_util_pct: 100.0 * *done.iter().min().unwrap() as f64 * model_us as f64 / 1e6 / wall,
        cpu_us: cpu as f64 / total.max(1) as f64 / 1000.0,
        completion_us: 0.0,
        emulator_us,
        submitter_us: 0.0,
    }
}

fn env_list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or(default.into())
        .split(',')
        .map(|c| c.trim().parse().unwrap())
        .collect()
}

/// "median (min–max)" of one field over the runs.
fn spread(runs: &[Run], f: impl Fn(&Run) -> f64, digits: usize) -> String {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = v[v.len() / 2];
    format!(
        "{med:.digits$} ({:.digits$}–{:.digits$})",
        v[0],
        v[v.len() - 1]
    )
}

#[test]
#[ignore = "a measurement, run by hand"]
fn pool_scaling() {
    let cores = env_list("POOL_CORES", "1,2,4,8,16,32,64");
    let models = env_list("POOL_MODEL_US", "1000,100");
    let repeat = env_list("POOL_REPEAT", "3")[0] as usize;
    let seconds: f64 = std::env::var("POOL_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let patterns: Vec<String> = std::env::var("POOL_PATTERNS")
        .unwrap_or("nrtq-pool,thread-per-core-poll,thread-per-core-spin".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let mut results: BTreeMap<(String, u64, u64), Vec<Run>> = BTreeMap::new();
    // Interleaved: every case once, then every case again, so a noisy minute on the
    // shared machine spreads over the cases instead of spoiling one.
    for _ in 0..repeat {
        for &m in &models {
            for &c in &cores {
                for p in &patterns {
                    let r = match p.as_str() {
                        "nrtq-pool" => run(c as u32, m, seconds),
                        "thread-per-core-poll" => thread_per_core(c as u32, m, seconds, false),
                        "thread-per-core-spin" => thread_per_core(c as u32, m, seconds, true),
                        other => panic!("unknown pattern {other}"),
                    };
                    results.entry((p.clone(), m, c)).or_default().push(r);
                }
            }
        }
    }
    let mut table = String::from(
        "| pattern | model | cores | req/s | % of cores ÷ model time | worst core busy % | CPU/req µs (process) | completion thread µs/req | emulator release µs/req | submitter µs/req |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for ((p, m, c), runs) in &results {
        table += &format!(
            "| {p} | {m} µs | {c} | {} | {} | {} | {} | {} | {} | {} |\n",
            spread(runs, |r| r.rate, 0),
            spread(runs, |r| r.ideal_pct, 1),
            spread(runs, |r| r.worst_util_pct, 1),
            spread(runs, |r| r.cpu_us, 2),
            spread(runs, |r| r.completion_us, 2),
            spread(runs, |r| r.emulator_us, 2),
            spread(runs, |r| r.submitter_us, 2),
        );
    }
    table += &format!("\n(n = {repeat} runs per case, {seconds} s each, median (min–max))\n");
    report("## Scaling\n\n", &table);
}

/// Prints a section of the report, and appends it to the file `POOL_OUT` names (how
/// `make bench` collects `bench/results/pool.md`).
fn report(title: &str, text: &str) {
    println!("\n{title}{text}");
    if let Some(path) = std::env::var_os("POOL_OUT") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open POOL_OUT");
        writeln!(f, "{title}{text}").expect("write POOL_OUT");
    }
}

#[test]
#[ignore = "a measurement, run by hand"]
fn pool_failover_at_8_cores() {
    const MODEL_US: u64 = 1000;
    const TOTAL: u64 = 16_000; // 2 s of work on 8 cores
    let _l = lock();
    // Core 3 dies after 600 requests (about 0.6 s into the run).
    let rt = open(&[
        ("NRT_EMU_TOTAL_CORES", "8"), // 8 cores
        ("NRT_EMU_FAULTS", "unrecoverable after=600 lnc=3"),
    ]);
    let seen: Arc<Vec<AtomicU64>> = Arc::new((0..TOTAL).map(|_| AtomicU64::new(0)).collect());
    let times: Arc<Mutex<Vec<u64>>> = Arc::default();
    let died_at = Arc::new(AtomicU64::new(0));
    let (s, t) = (seen.clone(), times.clone());
    let d = died_at.clone();
    let pool = rt
        .create_pool(
            PoolModel::Bytes {
                neff: model(MODEL_US, &[]),
                cores: None,
            },
            PoolConfig {
                backlog: 1 << 20,
                on_complete: Some(Arc::new(move |c: &Completion| {
                    s[c.user_data as usize].fetch_add(1, Ordering::Relaxed);
                    if c.status == Status::Ok {
                        t.lock().unwrap().push(nrtq::testing::now_ns());
                    }
                })),
                on_core_left: Some(Arc::new(move |_, _, _| {
                    d.store(nrtq::testing::now_ns(), Ordering::SeqCst);
                })),
                ..PoolConfig::default()
            },
        )
        .unwrap();
    let io = Io::new(16, 1.0);
    let t0 = nrtq::testing::now_ns();
    for k in 0..TOTAL {
        pool.submit(io.work(), k, None).unwrap();
    }
    pool.drain(None).unwrap();
    let end = nrtq::testing::now_ns();
    let died = died_at.load(Ordering::SeqCst);
    let once = seen
        .iter()
        .filter(|a| a.load(Ordering::Relaxed) == 1)
        .count();
    let s = pool.stats();
    let times = times.lock().unwrap().clone();
    let before = times.iter().filter(|&&x| x < died).count() as f64;
    let after = times.iter().filter(|&&x| x >= died).count() as f64;
    let rate_before = before / ((died - t0) as f64 / 1e9);
    let rate_after = after / ((end - died) as f64 / 1e9);
    let line = format!(
        "8 cores × 1 ms, core 3 killed after 600 requests at {:.2} s: requests {TOTAL}, delivered exactly once {once}, lost {}, failed (on the dead core's device) {}, re-routed {}, throughput before {rate_before:.0} req/s ({:.1}% of 8 cores), after {rate_after:.0} req/s ({:.1}% of 7 cores); cores serving {}",
        (died - t0) as f64 / 1e9,
        TOTAL as usize - once,
        s.failed,
        s.rerouted,
        100.0 * rate_before / 8000.0,
        100.0 * rate_after / 7000.0,
        s.cores_alive,
    );
    report("## Failover\n\n", &line);
    assert_eq!(once as u64, TOTAL, "a request was lost or delivered twice");
    pool.destroy(Duration::from_secs(10)).unwrap();
}
