//! `nrtq-pipeline`: host buffers in, host buffers out, through an nrtq pipeline (input
//! write → execute → output read on three units), against the bound 1 / max(stage time).
//!
//! ```text
//! nrtq-bench --pipeline [--api LIST] [--repeat N] [--out FILE]   # the sweep (driver)
//! nrtq-bench --pipeline-case SPEC                                # one case (child)
//! ```
//!
//! The sweep: model times 100 µs and 1 ms; per request one tensor written and one read,
//! each taking 10, 50, 90 and 150% of the model time on its unit (`kind=pipe`), plus the
//! same model through a plain nrtq queue on device tensor sets (`kind=plain`) for the CPU
//! comparison. The emulated bandwidth is [`DMA_GBPS`] (0.1 GB/s, 100 B/µs): a 1.5-ms
//! transfer is then 150 kB, so the emulator's real copies stay small against the
//! emulated times. Each case runs in its own child process (the emulator reads its
//! settings at `nrt_init`); runs are interleaved round by round, and the table gives the
//! median with the range of the runs.
//!
//! Figures: requests/s ÷ the bound; the busy share of COMPUTE and of the write and read
//! units from the emulator's own counters (simulated busy time ÷ wall time of the run);
//! the application's CPU per request (process CPU minus the emulator's threads).
//! `NRTQ_BENCH_VERBOSE=1` makes a child print the queue's stage figures to stderr.
use std::ffi::{c_int, c_void, CString};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use neuron_sys::{gen_a, gen_b, nrta_xu_t, NRT_STATUS, NRT_SUCCESS};
use nrt_emu::model::{Dtype, ModelSpec, OpSpec};
use nrt_emu::observe::nrtemu_xu_stats_t;
use nrtq::{
    Completion, Handle, HostInput, HostOutput, OpenOptions, PipelineConfig, QueueConfig, TensorRef,
    Work,
};

use crate::measure::clock::{now_ns, process_cpu_ns};
use crate::measure::threads::emulator_cpu_ns;
use crate::raw;

/// The emulated DMA bandwidth of every case, GB/s.
pub const DMA_GBPS: &str = "0.1";
/// The same in bytes per ns.
const BYTES_PER_NS: f64 = 0.1;
/// The emulator's fixed cost per transfer (`NRT_EMU_XFER_OVERHEAD_NS`'s default).
const XFER_OVERHEAD_NS: u64 = 2_000;
const MODEL_US: [u64; 2] = [100, 1000];
const RATIOS: [u64; 4] = [10, 50, 90, 150];
/// Wall time each measured run aims at (the request count follows from the bound).
const RUN_NS: u64 = 600_000_000;
/// Host buffers (requests) one case keeps in circulation.
const POOL: usize = 64;

/// One case: a pipeline with transfers at `ratio`% of the model time, or (`ratio` 0) the
/// plain queue.
#[derive(Clone, Debug, PartialEq)]
struct Case {
    api: String,
    model_us: u64,
    ratio: u64,
    run: u32,
}

impl Case {
    fn spec(&self) -> String {
        format!(
            "api={},model_us={},ratio={},run={}",
            self.api, self.model_us, self.ratio, self.run
        )
    }

    fn parse(spec: &str) -> Result<Case, String> {
        let mut c = Case {
            api: String::new(),
            model_us: 0,
            ratio: 0,
            run: 1,
        };
        for kv in spec.split(',') {
            let (k, v) = kv
                .split_once('=')
                .ok_or(format!("'{kv}' is not key=value"))?;
            let n = || v.parse::<u64>().map_err(|_| format!("{k}: '{v}'"));
            match k {
                "api" => c.api = v.to_string(),
                "model_us" => c.model_us = n()?,
                "ratio" => c.ratio = n()?,
                "run" => c.run = n()? as u32,
                _ => return Err(format!("unknown key {k}")),
            }
        }
        if c.api.is_empty() || c.model_us == 0 {
            return Err("api= and model_us= are required".into());
        }
        Ok(c)
    }

    /// The transfer time per request on each DMA unit, ns.
    fn xfer_ns(&self) -> u64 {
        self.model_us * 1000 * self.ratio / 100
    }

    /// Bytes of the one input and the one output: the transfer time less the fixed cost,
    /// at the emulated bandwidth, in whole f32s.
    fn tensor_bytes(&self) -> usize {
        if self.ratio == 0 {
            return 256;
        }
        let bytes =
            (self.xfer_ns().saturating_sub(XFER_OVERHEAD_NS) as f64 * BYTES_PER_NS) as usize;
        (bytes / 4).max(1) * 4
    }

    /// 1 / max(stage time), requests per second.
    fn bound_per_s(&self) -> f64 {
        let slowest = (self.model_us * 1000).max(if self.ratio == 0 {
            0
        } else {
            XFER_OVERHEAD_NS + (self.tensor_bytes() as f64 / BYTES_PER_NS).ceil() as u64
        });
        1e9 / slowest as f64
    }
}

/// What one child measured.
#[derive(Clone, Debug, Default)]
struct Result1 {
    requests: u64,
    wall_ns: u64,
    compute_busy_ns: u64,
    write_busy_ns: u64,
    read_busy_ns: u64,
    app_cpu_ns: u64,
    errors: u64,
}

impl Result1 {
    fn line(&self) -> String {
        format!(
            "requests={} wall_ns={} compute_busy_ns={} write_busy_ns={} read_busy_ns={} \
             app_cpu_ns={} errors={}",
            self.requests,
            self.wall_ns,
            self.compute_busy_ns,
            self.write_busy_ns,
            self.read_busy_ns,
            self.app_cpu_ns,
            self.errors
        )
    }

    fn parse(line: &str) -> Option<Result1> {
        let mut r = Result1::default();
        for kv in line.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "requests" => r.requests = v,
                "wall_ns" => r.wall_ns = v,
                "compute_busy_ns" => r.compute_busy_ns = v,
                "write_busy_ns" => r.write_busy_ns = v,
                "read_busy_ns" => r.read_busy_ns = v,
                "app_cpu_ns" => r.app_cpu_ns = v,
                "errors" => r.errors = v,
                _ => return None,
            }
        }
        (r.requests > 0).then_some(r)
    }
}

/// `--pipeline` or `--pipeline-case` in `args`: run that and return its exit status.
pub fn dispatch(args: &[String]) -> Option<Result<bool, String>> {
    let pos = args
        .iter()
        .position(|a| a == "--pipeline" || a == "--pipeline-case")?;
    if args[pos] == "--pipeline-case" {
        let spec = args.get(pos + 1)?;
        return Some(Case::parse(spec).and_then(|c| child(&c)).map(|r| {
            println!("{}", r.line());
            true
        }));
    }
    let mut apis: Vec<String> = crate::plan::APIS.iter().map(|s| s.to_string()).collect();
    let mut repeat = 3u32;
    let mut out = None;
    let mut it = args.iter().skip(pos + 1);
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--api", Some(v)) => apis = v.split(',').map(str::to_string).collect(),
            ("--repeat", Some(v)) => repeat = v.parse().unwrap_or(3).max(1),
            ("--out", Some(v)) => out = Some(std::path::PathBuf::from(v)),
            _ => {
                return Some(Err(format!(
                    "--pipeline takes --api LIST, --repeat N, --out FILE; not {a}"
                )))
            }
        }
    }
    Some(driver(&apis, repeat, out.as_deref(), &args.join(" ")))
}

// ---- the child: one case ----------------------------------------------------------------

/// The emulator's `(xu, queue)` of COMPUTE, the write and the read unit in `api`.
fn units(api: &str) -> [(nrta_xu_t, c_int); 3] {
    if api == "2.28" {
        [
            (gen_a::NRTA_XU_COMPUTE, 0),
            (gen_a::NRTA_XU_TENSOR_WRITE, 0),
            (gen_a::NRTA_XU_TENSOR_READ, 0),
        ]
    } else {
        [
            (gen_b::NRTA_XU_COMPUTE, 0),
            (gen_b::NRTA_XU_TENSOR_OP, 0),
            (gen_b::NRTA_XU_TENSOR_OP, 1),
        ]
    }
}

type XuStatsFn = unsafe extern "C" fn(u32, nrta_xu_t, c_int, *mut nrtemu_xu_stats_t) -> NRT_STATUS;

/// `nrtemu_get_xu_stats` of the emulator loaded from `lib`.
fn xu_stats_fn(lib: &Path) -> Result<XuStatsFn, String> {
    let path = CString::new(lib.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: RTLD_NOLOAD returns the handle of the library already loaded from this path.
    let h = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    if h.is_null() {
        return Err("the emulator library is not loaded".into());
    }
    // SAFETY: an open handle and a NUL-terminated name.
    let p = unsafe { libc::dlsym(h, c"nrtemu_get_xu_stats".as_ptr()) };
    if p.is_null() {
        return Err("not the emulator: no nrtemu_get_xu_stats".into());
    }
    // SAFETY: the prototype nrt_emu.h declares for this name.
    Ok(unsafe { std::mem::transmute::<*mut c_void, XuStatsFn>(p) })
}

fn busy(f: XuStatsFn, (xu, queue): (nrta_xu_t, c_int)) -> u64 {
    let mut s = nrtemu_xu_stats_t {
        struct_size: std::mem::size_of::<nrtemu_xu_stats_t>() as u32,
        ..Default::default()
    };
    // SAFETY: a live, sized out-struct.
    let st = unsafe { f(0, xu, queue, &mut s) };
    if st == NRT_SUCCESS {
        s.busy_ns
    } else {
        0
    }
}

/// The free buffers of a run, shared with the completion hook.
#[derive(Default)]
struct Pool {
    free: Mutex<Vec<usize>>,
    cv: Condvar,
    done: AtomicU64,
    errors: AtomicU64,
}

impl Pool {
    fn reset(&self, n: usize) {
        *self.free.lock().unwrap() = (0..n).collect();
        self.done.store(0, Ordering::SeqCst);
        self.errors.store(0, Ordering::SeqCst);
    }

    fn take(&self) -> usize {
        let mut g = self.free.lock().unwrap();
        loop {
            if let Some(i) = g.pop() {
                return i;
            }
            g = self.cv.wait(g).unwrap();
        }
    }

    fn give(&self, c: &Completion) {
        if c.status != nrtq::Status::Ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.free.lock().unwrap().push(c.user_data as usize);
        self.done.fetch_add(1, Ordering::AcqRel);
        self.cv.notify_one();
    }
}

fn child(case: &Case) -> Result<Result1, String> {
    let lib = nrt_emu::library_path(&case.api);
    let rt = raw::Runtime::open(&lib, &case.api)?;
    let n = (case.tensor_bytes() / 4) as u32;
    let model_bytes = ModelSpec::new("bench_pipeline")
        .time_us(case.model_us)
        .input("x", Dtype::F32, &[n])
        .output("y", Dtype::F32, &[n])
        .op(OpSpec::scale("y", "x", 2.0))
        .to_bytes()?;
    let model = rt.load(&model_bytes)?;
    let nrtq_rt = nrtq::Runtime::open(&OpenOptions {
        library: Some(lib.clone()),
        init: false,
    })
    .map_err(|e| e.to_string())?;
    let stats = xu_stats_fn(&lib)?;
    let pool = Arc::new(Pool::default());
    let hook_pool = pool.clone();
    let cfg = QueueConfig {
        backlog: 4 * POOL,
        on_complete: Some(Arc::new(move |c: &Completion| hook_pool.give(c))),
        ..QueueConfig::default()
    };
    let handle = Handle(model.as_void() as usize);
    let bytes = case.tensor_bytes();
    let mut inputs: Vec<Vec<u8>> = (0..POOL).map(|_| vec![0u8; bytes]).collect();
    let mut outputs: Vec<Vec<u8>> = (0..POOL).map(|_| vec![0u8; bytes]).collect();
    let ring = if case.ratio == 0 {
        rt.ring(&model, POOL)?
    } else {
        Vec::new()
    };
    let q = if case.ratio == 0 {
        nrtq_rt.create_queue(handle, cfg)
    } else {
        nrtq_rt.create_pipeline(&[handle], cfg, &PipelineConfig::default())
    }
    .map_err(|e| e.to_string())?;
    let submit = |i: usize, inputs: &[Vec<u8>], outputs: &mut [Vec<u8>]| {
        let r = if case.ratio == 0 {
            let work = Work {
                input: Handle(ring[i].input_addr()),
                output: Handle(ring[i].output_addr()),
            };
            q.submit(work, i as u64, None)
        } else {
            let ins = [HostInput {
                tensor: TensorRef::Index(0),
                data: inputs[i].as_ptr(),
                len: bytes,
            }];
            let outs = [HostOutput {
                tensor: TensorRef::Index(0),
                data: outputs[i].as_mut_ptr(),
                len: bytes,
            }];
            // SAFETY: buffer `i` is out of the pool until its completion returns it, and
            // every buffer outlives the queue (destroyed below, before they drop).
            unsafe { q.submit_host(&ins, &outs, i as u64, None) }
        };
        r.map(|_| ()).map_err(|e| e.to_string())
    };
    let run = |count: u64, inputs: &[Vec<u8>], outputs: &mut [Vec<u8>]| -> Result<(), String> {
        pool.reset(POOL);
        let verbose = std::env::var_os("NRTQ_BENCH_VERBOSE").is_some();
        for k in 0..count {
            let i = pool.take();
            submit(i, inputs, outputs)?;
            if verbose && k % 50 == 0 {
                let s: Vec<(u64, u64)> = q
                    .stage_stats()
                    .iter()
                    .map(|s| (s.in_flight, s.waiting))
                    .collect();
                eprintln!(
                    "{k}: {s:?} backlog {} slots {:?}",
                    q.stats().backlog,
                    q.device_slots()
                );
            }
        }
        q.drain(Some(Duration::from_secs(120)))
            .map_err(|e| e.to_string())
    };
    // Warm-up: long enough for nrtq to learn every unit's time.
    let warm = (100_000_000.0 / 1e9 * case.bound_per_s()).max(200.0) as u64;
    run(warm, &inputs, &mut outputs)?;
    let count = (RUN_NS as f64 / 1e9 * case.bound_per_s()).max(300.0) as u64;
    let [c, w, r] = units(&case.api);
    let before = (busy(stats, c), busy(stats, w), busy(stats, r));
    let (cpu0, emu0, t0) = (process_cpu_ns(), emulator_cpu_ns(), now_ns());
    run(count, &inputs, &mut outputs)?;
    let (t1, cpu1, emu1) = (now_ns(), process_cpu_ns(), emulator_cpu_ns());
    let after = (busy(stats, c), busy(stats, w), busy(stats, r));
    let result = Result1 {
        requests: pool.done.load(Ordering::Acquire),
        wall_ns: t1 - t0,
        compute_busy_ns: after.0 - before.0,
        write_busy_ns: after.1 - before.1,
        read_busy_ns: after.2 - before.2,
        app_cpu_ns: (cpu1 - cpu0).saturating_sub(emu1.saturating_sub(emu0)),
        errors: pool.errors.load(Ordering::Relaxed),
    };
    if std::env::var_os("NRTQ_BENCH_VERBOSE").is_some() {
        eprintln!("{:?}\n{:?}", q.stage_stats(), q.stats());
    }
    q.destroy(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    drop(nrtq_rt);
    rt.free_ring(ring);
    inputs.clear();
    outputs.clear();
    Ok(result)
}

// ---- the driver: the sweep, and the table -----------------------------------------------

fn median_range(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn cell((m, lo, hi): (f64, f64, f64), digits: usize) -> String {
    format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
}

fn driver(apis: &[String], repeat: u32, out: Option<&Path>, command: &str) -> Result<bool, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cases = Vec::new();
    for api in apis {
        for &model_us in &MODEL_US {
            for ratio in std::iter::once(0).chain(RATIOS) {
                cases.push(Case {
                    api: api.clone(),
                    model_us,
                    ratio,
                    run: 1,
                });
            }
        }
    }
    let mut results: Vec<(Case, Result1)> = Vec::new();
    let mut all_ok = true;
    for run in 1..=repeat {
        for c in &cases {
            let c = Case { run, ..c.clone() };
            let o = Command::new(&exe)
                .args(["--pipeline-case", &c.spec()])
                .env("NRT_EMU_API", &c.api)
                .env("NRT_EMU_DMA_GBPS", DMA_GBPS)
                .output()
                .map_err(|e| format!("spawn: {e}"))?;
            let stdout = String::from_utf8_lossy(&o.stdout);
            match stdout.lines().last().and_then(Result1::parse) {
                Some(r) if o.status.success() => {
                    eprintln!("{}: {}", c.spec(), r.line());
                    results.push((c, r));
                }
                _ => {
                    all_ok = false;
                    eprintln!(
                        "{} failed: {}{}",
                        c.spec(),
                        stdout,
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
            }
        }
    }
    let mut md = format!(
        "## nrtq-pipeline\n\n`{command}`; emulated DMA bandwidth {DMA_GBPS} GB/s \
         (`NRT_EMU_DMA_GBPS`), {XFER_OVERHEAD_NS} ns fixed cost per transfer; one f32 \
         input written and one output read per request; {repeat} interleaved runs per case, \
         median (min–max).\n\n\
         | api | model | transfer | req/s ÷ bound | COMPUTE busy | write unit busy | read unit \
         busy | CPU µs/req | CPU ÷ plain queue | errors |\n\
         |---|---|---|---|---|---|---|---|---|---|\n"
    );
    for api in apis {
        for &model_us in &MODEL_US {
            let of = |ratio: u64| -> Vec<&(Case, Result1)> {
                results
                    .iter()
                    .filter(|(c, _)| &c.api == api && c.model_us == model_us && c.ratio == ratio)
                    .collect()
            };
            let cpu = |v: &[&(Case, Result1)]| -> Vec<f64> {
                v.iter()
                    .map(|(_, r)| r.app_cpu_ns as f64 / r.requests as f64 / 1000.0)
                    .collect()
            };
            let plain = of(0);
            let plain_cpu = if plain.is_empty() {
                f64::NAN
            } else {
                median_range(cpu(&plain)).0
            };
            for ratio in std::iter::once(0).chain(RATIOS) {
                let v = of(ratio);
                if v.is_empty() {
                    continue;
                }
                let pct = |f: &dyn Fn(&Result1) -> u64| {
                    median_range(
                        v.iter()
                            .map(|(_, r)| 100.0 * f(r) as f64 / r.wall_ns as f64)
                            .collect(),
                    )
                };
                let tput = median_range(
                    v.iter()
                        .map(|(c, r)| {
                            100.0 * (r.requests as f64 / (r.wall_ns as f64 / 1e9)) / c.bound_per_s()
                        })
                        .collect(),
                );
                let c = median_range(cpu(&v));
                let label = if ratio == 0 {
                    "plain queue".to_string()
                } else {
                    format!("{ratio}% ({} B)", v[0].0.tensor_bytes())
                };
                let (w, r) = if ratio == 0 {
                    ("–".to_string(), "–".to_string())
                } else {
                    (
                        cell(pct(&|r| r.write_busy_ns), 1) + "%",
                        cell(pct(&|r| r.read_busy_ns), 1) + "%",
                    )
                };
                md += &format!(
                    "| {api} | {} | {label} | {}% | {}% | {w} | {r} | {} | {} | {} |\n",
                    if model_us >= 1000 {
                        format!("{} ms", model_us / 1000)
                    } else {
                        format!("{model_us} µs")
                    },
                    cell(tput, 1),
                    cell(pct(&|r| r.compute_busy_ns), 1),
                    cell(c, 1),
                    if ratio == 0 {
                        "1.00".to_string()
                    } else {
                        format!("{:.2}", c.0 / plain_cpu)
                    },
                    v.iter().map(|(_, r)| r.errors).sum::<u64>()
                );
            }
        }
    }
    println!("{md}");
    if let Some(path) = out {
        std::fs::write(path, &md).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    Ok(all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_sizes_give_the_asked_share_of_the_model_time() {
        for model_us in MODEL_US {
            for ratio in RATIOS {
                let c = Case {
                    api: "2.30".into(),
                    model_us,
                    ratio,
                    run: 1,
                };
                let xfer = XFER_OVERHEAD_NS as f64 + c.tensor_bytes() as f64 / BYTES_PER_NS;
                let want = c.xfer_ns() as f64;
                assert!(
                    (xfer - want).abs() <= 40.0 + want * 0.001,
                    "{c:?}: {xfer} vs {want}"
                );
            }
        }
        let c = Case::parse("api=2.28,model_us=100,ratio=50,run=2").unwrap();
        assert_eq!(c.spec(), "api=2.28,model_us=100,ratio=50,run=2");
        assert!((c.bound_per_s() - 10_000.0).abs() < 1.0);
    }
}
