//! How much CPU the emulator's release thread spends per completed request when one
//! core is busy and when many are: the figure issue 13 asks for ("measure its own CPU
//! per release at 64 cores and fix what does not scale").
//!
//! The emulator runs in this process (the `nrt_emu` library, not a `libnrt.so`), on an
//! instance of `--total` logical cores (`NRT_EMU_TOTAL_CORES`). One driver thread keeps
//! the COMPUTE queue of each of `--busy` cores full (it schedules until
//! `NRT_QUEUE_FULL`, then sleeps a quarter of the model time, so every queue always
//! holds several requests). After a warm-up it reads, over `--seconds`, the release
//! thread's CPU time (`nrtemu_get_thread_cpu_ns`) and the number of completed requests
//! (`nrta_get_sequence` of every busy core), and prints CPU per release, with the
//! worst busy core's utilisation and core 0's release lateness to show that the
//! emulator kept up.
//!
//! ```sh
//! cargo run --release -p nrt-emu --example release_scaling -- --busy 64 --total 64 --model-us 1000
//! ```
//!
//! Options: `--busy N` (1), `--total N` (64), `--model-us N` (1000), `--seconds S` (2),
//! `--spin-ns N` (the device default), `--repeat N` (1: runs, one line each).

use neuron_sys::*;
use nrt_emu::abi::{async_a, async_b, async_common, core as nrt, emu};
use nrt_emu::model::{Dtype, ModelSpec};
use nrt_emu::observe::nrtemu_xu_stats_t;
use std::ffi::CString;
use std::time::{Duration, Instant};

struct Options {
    busy: u32,
    total: u32,
    model_us: u64,
    seconds: f64,
    spin_ns: Option<u64>,
    repeat: u32,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        busy: 1,
        total: 64,
        model_us: 1000,
        seconds: 2.0,
        spin_ns: None,
        repeat: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_| format!("{flag} {value}: not a number");
        match flag.as_str() {
            "--busy" => o.busy = value.parse().map_err(bad)?,
            "--total" => o.total = value.parse().map_err(bad)?,
            "--model-us" => o.model_us = value.parse().map_err(bad)?,
            "--seconds" => o.seconds = value.parse().map_err(|_| format!("{flag} {value}"))?,
            "--spin-ns" => o.spin_ns = Some(value.parse().map_err(bad)?),
            "--repeat" => o.repeat = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.busy == 0 || o.busy > o.total {
        return Err("--busy must be 1..=--total".into());
    }
    Ok(o)
}

/// `status` must be `NRT_SUCCESS`.
fn ok(status: NRT_STATUS, what: &str) {
    assert_eq!(status, NRT_SUCCESS, "{what}");
}

/// One busy core: its model and tensor sets.
struct Core {
    lnc: u32,
    model: *mut nrt_model_t,
    inputs: *mut nrt_tensor_set_t,
    outputs: *mut nrt_tensor_set_t,
}

fn set_up_core(lnc: u32, model_bytes: &[u8]) -> Core {
    let mut model = std::ptr::null_mut();
    // SAFETY: `model_bytes` is alive for the call; `model` is writable.
    ok(
        unsafe {
            nrt::nrt_load(
                model_bytes.as_ptr().cast(),
                model_bytes.len(),
                lnc as i32,
                -1,
                &mut model,
            )
        },
        "nrt_load",
    );
    let mut inputs = std::ptr::null_mut();
    let mut outputs = std::ptr::null_mut();
    // SAFETY: writable out-pointers.
    unsafe {
        ok(nrt::nrt_allocate_tensor_set(&mut inputs), "set");
        ok(nrt::nrt_allocate_tensor_set(&mut outputs), "set");
    }
    for (name, set) in [("a", inputs), ("b", inputs), ("out", outputs)] {
        let name = CString::new(name).unwrap();
        let mut t = std::ptr::null_mut();
        // SAFETY: valid arguments, a NUL-terminated name, a writable out-pointer, and a
        // live set.
        unsafe {
            ok(
                nrt::nrt_tensor_allocate(
                    NRT_TENSOR_PLACEMENT_DEVICE,
                    lnc as i32,
                    64,
                    name.as_ptr(),
                    &mut t,
                ),
                "nrt_tensor_allocate",
            );
            ok(
                nrt::nrt_add_tensor_to_tensor_set(set, name.as_ptr(), t),
                "add to set",
            );
        }
    }
    Core {
        lnc,
        model,
        inputs,
        outputs,
    }
}

/// Schedule one execution on `core`; false when its queue is full.
fn schedule(core: &Core, gen_a: bool) -> bool {
    let mut seq = 0;
    // SAFETY: live handles from `set_up_core`; no tracker and no status pointer (both
    // allowed), so nothing of ours must outlive the request; `seq` is writable.
    let s = unsafe {
        if gen_a {
            async_a::nrta_execute_schedule(
                core.model,
                core.inputs,
                core.outputs,
                0,
                std::ptr::null_mut(),
                &mut seq,
            )
        } else {
            async_b::nrta_execute_schedule(
                core.model,
                core.inputs,
                core.outputs,
                0,
                std::ptr::null_mut(),
                &mut seq,
            )
        }
    };
    match s {
        NRT_SUCCESS => true,
        NRT_QUEUE_FULL => false,
        other => panic!("nrta_execute_schedule: {other}"),
    }
}

fn completed(cores: &[Core], compute: nrta_xu_t) -> u64 {
    cores
        .iter()
        .map(|c| {
            let mut seq = 0;
            // SAFETY: `seq` is writable.
            ok(
                unsafe { async_common::nrta_get_sequence(c.lnc, compute, 0, &mut seq) },
                "nrta_get_sequence",
            );
            nrta_seq_get_seq_num(seq)
        })
        .sum()
}

fn release_cpu_ns() -> u64 {
    let mut ns = 0;
    // SAFETY: `ns` is writable.
    ok(
        unsafe { emu::nrtemu_get_thread_cpu_ns(&mut ns) },
        "nrtemu_get_thread_cpu_ns",
    );
    ns
}

fn xu_stats(lnc: u32, compute: nrta_xu_t) -> nrtemu_xu_stats_t {
    let mut s = nrtemu_xu_stats_t {
        struct_size: std::mem::size_of::<nrtemu_xu_stats_t>() as u32,
        ..Default::default()
    };
    // SAFETY: `s` is writable and carries its size.
    ok(
        unsafe { emu::nrtemu_get_xu_stats(lnc, compute, 0, &mut s) },
        "nrtemu_get_xu_stats",
    );
    s
}

/// One run: returns (CPU ns per release, releases per second, worst utilisation %,
/// core 0 lateness p50 ns, p99 ns).
fn run(o: &Options) -> (f64, f64, f64, u64, u64) {
    std::env::set_var("NRT_EMU_TOTAL_CORES", o.total.to_string());
    match o.spin_ns {
        Some(n) => std::env::set_var("NRT_EMU_SPIN_NS", n.to_string()),
        None => std::env::remove_var("NRT_EMU_SPIN_NS"),
    }
    // SAFETY: a valid framework value and NUL-terminated strings.
    ok(
        unsafe { nrt::nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, c"".as_ptr(), c"".as_ptr()) },
        "nrt_init",
    );
    let gen_a = nrt_emu::runtime::Generation::Sdk2_28 == nrt_emu::config::generation();
    let compute = if gen_a {
        gen_a::NRTA_XU_COMPUTE
    } else {
        gen_b::NRTA_XU_COMPUTE
    };
    let model = ModelSpec::add_model("m", Dtype::F32, &[16])
        .time_us(o.model_us)
        .to_bytes()
        .expect("valid model");
    let cores: Vec<Core> = (0..o.busy).map(|lnc| set_up_core(lnc, &model)).collect();
    let nap = Duration::from_micros((o.model_us / 4).max(50));
    let feed = || {
        for c in &cores {
            while schedule(c, gen_a) {}
        }
        std::thread::sleep(nap);
    };
    let warm_up = Instant::now();
    while warm_up.elapsed() < Duration::from_millis(300) {
        feed();
    }
    // SAFETY: no arguments.
    ok(unsafe { emu::nrtemu_reset_stats() }, "nrtemu_reset_stats");
    let (cpu0, done0, t0) = (release_cpu_ns(), completed(&cores, compute), Instant::now());
    let window = Duration::from_secs_f64(o.seconds);
    while t0.elapsed() < window {
        feed();
    }
    let (cpu1, done1, wall) = (
        release_cpu_ns(),
        completed(&cores, compute),
        t0.elapsed().as_nanos() as f64,
    );
    let worst_busy = cores
        .iter()
        .map(|c| xu_stats(c.lnc, compute).busy_ns)
        .min()
        .unwrap_or(0);
    let s0 = xu_stats(0, compute);
    // SAFETY: no arguments; completes what is still queued with NRT_CLOSED.
    unsafe { nrt::nrt_close() };
    let releases = (done1 - done0) as f64;
    (
        (cpu1 - cpu0) as f64 / releases,
        releases / (wall / 1e9),
        100.0 * worst_busy as f64 / wall,
        s0.late_p50_ns,
        s0.late_p99_ns,
    )
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("release_scaling: {e}");
            std::process::exit(2);
        }
    };
    if std::env::var_os("NEURON_RT_LOG_LEVEL").is_none() {
        std::env::set_var("NEURON_RT_LOG_LEVEL", "QUIET");
    }
    println!(
        "busy={} total={} model_us={} spin_ns={} seconds={}",
        o.busy,
        o.total,
        o.model_us,
        o.spin_ns.map_or("default".to_string(), |n| n.to_string()),
        o.seconds
    );
    for _ in 0..o.repeat {
        let (cpu, rate, util, p50, p99) = run(&o);
        println!(
            "cpu_per_release_ns={cpu:.0} releases_per_s={rate:.0} worst_core_busy_pct={util:.2} core0_late_p50_ns={p50} core0_late_p99_ns={p99}"
        );
    }
}
