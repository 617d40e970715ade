//! Pool scaling figures against the emulator (reported, not asserted: run with
//! `cargo test --release --test pool_scale -- --ignored --nocapture`): a pool over C
//! cores kept saturated for a while; aggregate requests/s against C ÷ model time, and CPU
//! per request (the whole process, emulator included, and nrtq's completion thread).
mod emu_support;

use std::time::{Duration, Instant};

use emu_support::*;
use nrt_emu::model::{Dtype, ModelSpec};
use nrtq::{PoolConfig, PoolModel};

/// CPU time of this process's threads by name (ms, from /proc: 10-ms ticks summed).
fn thread_cpu_ms() -> std::collections::BTreeMap<String, u64> {
    let mut m = std::collections::BTreeMap::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else { continue };
        let name = stat[stat.find('(').unwrap() + 1..close].to_string();
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        let key = name.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
        *m.entry(key).or_insert(0) += ticks * 10;
    }
    m
}

fn run(cores: u32, model_us: u64, seconds: f64) {
    let _l = lock();
    let rt = open(&[("NRT_EMU_TOTAL_CORES", &cores.to_string())]);
    let bytes = ModelSpec::add_model("add", Dtype::F32, &[16])
        .time_ns(model_us * 1000)
        .to_bytes()
        .unwrap();
    let pool = rt
        .create_pool(
            PoolModel::Bytes {
                neff: bytes.into(),
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
    // Warm up (learn device times), then measure one saturated burst.
    for k in 0..(cores as u64 * 50) {
        pool.submit(io.work(), k, None).unwrap();
    }
    pool.drain(None).unwrap();
    let cpu0 = nrtq::testing::process_cpu_ns();
    let threads0 = thread_cpu_ms();
    let t0 = Instant::now();
    for k in 0..total {
        pool.submit(io.work(), k, None).unwrap();
    }
    pool.drain(None).unwrap();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = nrtq::testing::process_cpu_ns() - cpu0;
    let threads: Vec<(String, u64)> = thread_cpu_ms()
        .into_iter()
        .map(|(k, v)| {
            let before = threads0.get(&k).copied().unwrap_or(0);
            (k, v - before)
        })
        .filter(|(_, v)| *v > 0)
        .collect();
    let rate = total as f64 / wall;
    let worst = pool
        .cores()
        .iter()
        .map(|c| c.routed)
        .min()
        .unwrap_or(0);
    println!(
        "cores {cores:3} model {model_us:5} us: {rate:9.0} req/s ({:5.1}% of ideal), process CPU {:6.2} us/req, least-routed core {worst}, thread CPU ms {threads:?}",
        100.0 * rate / ideal,
        cpu as f64 / total as f64 / 1000.0,
    );
    pool.destroy(Duration::from_secs(10)).unwrap();
}

#[test]
#[ignore = "a measurement, run by hand"]
fn pool_scaling() {
    let cores: Vec<u32> = std::env::var("POOL_CORES")
        .unwrap_or("1,4,16,64".into())
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    let models: Vec<u64> = std::env::var("POOL_MODEL_US")
        .unwrap_or("1000,100".into())
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    for &m in &models {
        for &c in &cores {
            run(c, m, 1.0);
        }
    }
}
