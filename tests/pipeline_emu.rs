//! Pipelines on the emulator, in the generation `NRT_EMU_API` names: outputs correct
//! element by element (one model and a two-model chain), input writes overlapping
//! compute (the emulator's own busy counters), an injected error at each stage completing
//! exactly that request with that stage, a dead unit at each stage, exactly once over
//! 100,000 pipelined requests with faults on every stage, refusals of wrong buffers, and
//! the header's promise about reusing buffers.
mod emu_support;

use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emu_support::*;
use neuron_sys::*;
use nrt_emu::model::{Dtype, ModelSpec, OpSpec};
use nrt_emu::observe::nrtemu_xu_stats_t;
use nrtq::{
    Completion, Handle, HostInput, HostOutput, PipelineConfig, Queue, QueueConfig, Runtime, Stage,
    Status, TensorRef,
};
use parking_lot::Mutex;

const WATCHDOG: Duration = Duration::from_secs(60);

fn is_gen_a() -> bool {
    generation() == "2.28"
}

/// The emulator's `(xu, queue)` of a stage in this generation, and its fault-rule target.
fn unit_of(stage: Stage) -> (nrta_xu_t, c_int, &'static str) {
    match (stage, is_gen_a()) {
        (Stage::Write, true) => (gen_a::NRTA_XU_TENSOR_WRITE, 0, "xu=write queue=0"),
        (Stage::Read, true) => (gen_a::NRTA_XU_TENSOR_READ, 0, "xu=read queue=0"),
        (Stage::Execute, true) => (gen_a::NRTA_XU_COMPUTE, 0, "xu=compute"),
        (Stage::Write, false) => (gen_b::NRTA_XU_TENSOR_OP, 0, "xu=op queue=0"),
        (Stage::Read, false) => (gen_b::NRTA_XU_TENSOR_OP, 1, "xu=op queue=1"),
        (Stage::Execute, false) => (gen_b::NRTA_XU_COMPUTE, 0, "xu=compute"),
    }
}

/// An emulator-only symbol of the loaded library.
fn emu_symbol(name: &std::ffi::CStr) -> *mut c_void {
    let path = std::ffi::CString::new(library().to_str().unwrap()).unwrap();
    lib(); // loaded, so RTLD_NOLOAD finds it
           // SAFETY: the library is loaded; RTLD_NOLOAD only returns its handle.
    let h = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    assert!(!h.is_null());
    // SAFETY: an open handle and a NUL-terminated name.
    let p = unsafe { libc::dlsym(h, name.as_ptr()) };
    assert!(!p.is_null(), "{name:?}");
    p
}

/// CPU time of the emulator's release thread, ns.
fn release_thread_cpu_ns() -> u64 {
    type OutU64 = unsafe extern "C" fn(*mut u64) -> NRT_STATUS;
    // SAFETY: the emulator's function with this prototype (nrt_emu.h).
    let f = unsafe {
        std::mem::transmute::<*mut c_void, OutU64>(emu_symbol(c"nrtemu_get_thread_cpu_ns"))
    };
    let mut v = 0;
    // SAFETY: a live out-pointer.
    assert_eq!(unsafe { f(&mut v) }, NRT_SUCCESS);
    v
}

/// `nrtemu_get_xu_stats` of the loaded emulator.
fn xu_stats(xu: nrta_xu_t, queue: c_int) -> nrtemu_xu_stats_t {
    type GetXuStats = unsafe extern "C" fn(u32, u32, c_int, *mut nrtemu_xu_stats_t) -> NRT_STATUS;
    let path = std::ffi::CString::new(library().to_str().unwrap()).unwrap();
    lib(); // loaded, so RTLD_NOLOAD finds it
           // SAFETY: the library is loaded; RTLD_NOLOAD only returns its handle.
    let h = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    assert!(!h.is_null());
    // SAFETY: an open handle and a NUL-terminated name.
    let p = unsafe { libc::dlsym(h, c"nrtemu_get_xu_stats".as_ptr()) };
    assert!(!p.is_null());
    // SAFETY: the emulator's function with this prototype (nrt_emu.h).
    let f = unsafe { std::mem::transmute::<*mut c_void, GetXuStats>(p) };
    let mut s = nrtemu_xu_stats_t {
        struct_size: std::mem::size_of::<nrtemu_xu_stats_t>() as u32,
        ..Default::default()
    };
    // SAFETY: a live, sized out-struct.
    assert_eq!(unsafe { f(0, xu, queue, &mut s) }, NRT_SUCCESS);
    s
}

fn load(spec: ModelSpec) -> *mut nrt_model_t {
    let bytes = spec.to_bytes().expect("valid model");
    let mut m = std::ptr::null_mut();
    // SAFETY: `bytes` is alive for the call; `m` is writable.
    let s = unsafe { (lib().core.nrt_load)(bytes.as_ptr().cast(), bytes.len(), 0, -1, &mut m) };
    assert_eq!(s, NRT_SUCCESS, "nrt_load");
    m
}

/// One request's host buffers for the add model: a[i] = k + i, b[i] = 2i; out = a + b.
struct Bufs {
    k: f32,
    a: Vec<f32>,
    b: Vec<f32>,
    out: Vec<f32>,
}

impl Bufs {
    fn new(n: usize, k: f32) -> Bufs {
        Bufs {
            k,
            a: (0..n).map(|i| k + i as f32).collect(),
            b: (0..n).map(|i| 2.0 * i as f32).collect(),
            out: vec![-1.0; n],
        }
    }

    fn refill(&mut self, k: f32) {
        self.k = k;
        for (i, x) in self.a.iter_mut().enumerate() {
            *x = k + i as f32;
        }
        self.out.iter_mut().for_each(|o| *o = -1.0);
    }

    fn inputs(&self) -> [HostInput<'static>; 2] {
        [
            HostInput {
                tensor: TensorRef::Name("a"),
                data: self.a.as_ptr().cast(),
                len: self.a.len() * 4,
            },
            HostInput {
                tensor: TensorRef::Index(1),
                data: self.b.as_ptr().cast(),
                len: self.b.len() * 4,
            },
        ]
    }

    fn outputs(&mut self) -> [HostOutput<'static>; 1] {
        [HostOutput {
            tensor: TensorRef::Name("out"),
            data: self.out.as_mut_ptr().cast(),
            len: self.out.len() * 4,
        }]
    }

    /// The first element that is not a + b, if any.
    fn wrong(&self) -> Option<(usize, f32, f32)> {
        self.out
            .iter()
            .enumerate()
            .map(|(i, &o)| (i, o, self.k + 3.0 * i as f32))
            .find(|&(_, o, want)| o != want)
    }
}

type Record = Arc<Mutex<Vec<Completion>>>;

fn pipeline(rt: &Runtime, models: &[*mut nrt_model_t], pcfg: &PipelineConfig) -> (Queue, Record) {
    let record: Record = Arc::default();
    let r = record.clone();
    let cfg = QueueConfig {
        backlog: 1 << 16,
        on_complete: Some(Arc::new(move |c: &Completion| r.lock().push(*c))),
        ..QueueConfig::default()
    };
    let handles: Vec<Handle> = models.iter().map(|&m| Handle(m as usize)).collect();
    let q = rt
        .create_pipeline(&handles, cfg, pcfg)
        .expect("create the pipeline");
    (q, record)
}

/// Submit one request per buffer set and drain; returns the completions by ticket.
fn run_all(q: &Queue, bufs: &mut [Bufs], record: &Record) -> HashMap<u64, Completion> {
    let mut tickets = Vec::new();
    for (i, b) in bufs.iter_mut().enumerate() {
        let (ins, outs) = (b.inputs(), b.outputs());
        // SAFETY: the buffers outlive the drain below, and are not touched meanwhile.
        let t = unsafe { q.submit_host(&ins, &outs, i as u64, None) }.expect("submit");
        tickets.push(t);
    }
    q.drain(Some(WATCHDOG)).expect("drain");
    let got: HashMap<u64, Completion> = record.lock().drain(..).map(|c| (c.ticket, c)).collect();
    assert_eq!(got.len(), tickets.len(), "every request completed once");
    got
}

#[test]
fn outputs_are_correct_through_a_pipeline_and_every_stage_ran() {
    let _g = lock();
    let rt = open(&[]);
    let m = add_model(1024, 30_000, &[]);
    let (q, record) = pipeline(&rt, &[m], &PipelineConfig::default());
    let mut bufs: Vec<Bufs> = (0..300).map(|k| Bufs::new(1024, k as f32)).collect();
    let got = run_all(&q, &mut bufs, &record);
    for (i, b) in bufs.iter().enumerate() {
        let c = got.values().find(|c| c.user_data == i as u64).unwrap();
        assert_eq!((c.status, c.stage), (Status::Ok, None), "request {i}");
        assert_eq!(b.wrong(), None, "request {i}: (index, got, want)");
    }
    let stages = q.stage_stats();
    let names: Vec<Stage> = stages.iter().map(|s| s.stage).collect();
    assert_eq!(names, [Stage::Write, Stage::Execute, Stage::Read]);
    assert!(
        stages.iter().all(|s| s.retired == 300 && s.busy_ns > 0),
        "{stages:?}"
    );
    let (slots, free) = q.device_slots().unwrap();
    assert_eq!(free, slots, "every slot given back");
    // The emulator saw two writes, one execution and one read per request.
    let (wx, wq, _) = unit_of(Stage::Write);
    let (rx, rq, _) = unit_of(Stage::Read);
    assert_eq!(xu_stats(wx, wq).completed, 600);
    assert_eq!(xu_stats(rx, rq).completed, 300);
    q.destroy(WATCHDOG).unwrap();
    unload(m);
    drop(rt);
}

/// The simulated end of request `n` on (xu, queue) of core 0, from the emulator.
fn sim_end(xu: nrta_xu_t, queue: c_int, n: u64) -> u64 {
    type CompletionTime = unsafe extern "C" fn(u64, *mut u64, *mut u64) -> NRT_STATUS;
    // SAFETY: the emulator's function with this prototype (nrt_emu.h).
    let f = unsafe {
        std::mem::transmute::<*mut c_void, CompletionTime>(emu_symbol(
            c"nrtemu_get_completion_time",
        ))
    };
    // The emulator's XU id: core in bits 63..56, type in 55..52, queue in 51..48.
    let id = ((xu as u64) << 52) | ((queue as u64) << 48) | n;
    let (mut end, mut release) = (0, 0);
    // SAFETY: live out-pointers.
    let st = unsafe { f(id, &mut end, &mut release) };
    assert_eq!(st, NRT_SUCCESS, "request {n}");
    end
}

#[test]
fn input_writes_overlap_compute() {
    let _g = lock();
    // 1024 f32 = 4 kB per input; at 0.2 GB/s (200 B/µs) one write takes 2 µs + 20.48 µs,
    // both inputs 45 µs, the read 22.5 µs, against a 100-µs model. (Few bytes: the
    // emulator's release thread copies them, in a debug build.)
    let rt = open(&[("NRT_EMU_DMA_GBPS", "0.2")]);
    let m = add_model(1024, 100_000, &[]);
    let (q, record) = pipeline(&rt, &[m], &PipelineConfig::default());
    let mut bufs: Vec<Bufs> = (0..200).map(|k| Bufs::new(1024, k as f32)).collect();
    let (start, cpu0) = (Instant::now(), release_thread_cpu_ns());
    let got = run_all(&q, &mut bufs, &record);
    let elapsed = start.elapsed().as_nanos() as u64;
    assert!(got.values().all(|c| c.status == Status::Ok));
    assert!(bufs.iter().all(|b| b.wrong().is_none()));
    let (wx, wq, _) = unit_of(Stage::Write);
    let (cx, _, _) = unit_of(Stage::Execute);
    let (w, c) = (xu_stats(wx, wq), xu_stats(cx, 0));
    assert_eq!((w.completed, c.completed), (400, 200));
    eprintln!(
        "write busy {} ns, compute busy {} ns, {elapsed} ns elapsed, emulator release thread          {} ns CPU; stages {:?}",
        w.busy_ns,
        c.busy_ns,
        release_thread_cpu_ns() - cpu0,
        q.stage_stats()
    );
    // From the emulator's own timeline: a write overlaps compute when an execution ran
    // during it. Run one after the other (write, execute, read, next request), none would.
    const WRITE_NS: u64 = 2_000 + 20_480;
    let execs: Vec<(u64, u64)> = (1..=200)
        .map(|n| {
            let e = sim_end(cx, 0, n);
            (e - 100_000, e)
        })
        .collect();
    let overlapping = (1..=400)
        .filter(|&n| {
            let end = sim_end(wx, wq, n);
            let begin = end - WRITE_NS;
            execs.iter().any(|&(s, e)| s < end && begin < e)
        })
        .count();
    assert!(
        overlapping >= 300,
        "only {overlapping} of 400 writes ran while COMPUTE was executing"
    );
    q.destroy(WATCHDOG).unwrap();
    unload(m);
    drop(rt);
}

#[test]
fn a_two_model_chain_keeps_the_intermediate_on_the_device() {
    let _g = lock();
    let rt = open(&[]);
    let n = 256u32;
    let first = add_model(n, 20_000, &[]);
    // B: y = out × 0.5 + out (input "out" bound by name to A's output "out").
    let second = load(
        ModelSpec::new("half_plus")
            .time_ns(20_000)
            .input("out", Dtype::F32, &[n])
            .output("half", Dtype::F32, &[n])
            .output("y", Dtype::F32, &[n])
            .op(OpSpec::scale("half", "out", 0.5))
            .op(OpSpec::add("y", "half", "out")),
    );
    let (q, record) = pipeline(&rt, &[first, second], &PipelineConfig::default());
    let mut bufs: Vec<(Bufs, Vec<f32>)> = (0..100)
        .map(|k| (Bufs::new(n as usize, k as f32), vec![-1.0; n as usize]))
        .collect();
    for (i, (b, y)) in bufs.iter_mut().enumerate() {
        let ins = b.inputs();
        let outs = [
            HostOutput {
                tensor: TensorRef::Name("half"),
                data: b.out.as_mut_ptr().cast(),
                len: n as usize * 4,
            },
            HostOutput {
                tensor: TensorRef::Name("y"),
                data: y.as_mut_ptr().cast(),
                len: n as usize * 4,
            },
        ];
        // SAFETY: the buffers outlive the drain below.
        unsafe { q.submit_host(&ins, &outs, i as u64, None) }.unwrap();
    }
    q.drain(Some(WATCHDOG)).unwrap();
    let done = std::mem::take(&mut *record.lock());
    assert_eq!(done.len(), 100);
    assert!(done.iter().all(|c| c.status == Status::Ok), "{done:?}");
    for (b, y) in &bufs {
        for (i, (&half, &y)) in b.out.iter().zip(y).enumerate() {
            let sum = b.k + 3.0 * i as f32;
            assert_eq!(half, sum * 0.5, "half[{i}] for k = {}", b.k);
            assert_eq!(y, sum * 1.5, "y[{i}] for k = {}", b.k);
        }
    }
    // Two executions per request on the one COMPUTE unit, one read of two tensors.
    let (cx, _, _) = unit_of(Stage::Execute);
    assert_eq!(xu_stats(cx, 0).completed, 200);
    q.destroy(WATCHDOG).unwrap();
    unload(first);
    unload(second);
    drop(rt);
}

/// The request whose step on `stage` holds sequence number `seq` (the add model: two
/// writes per request, one execution, one read).
fn request_of(stage: Stage, seq: u64) -> u64 {
    match stage {
        Stage::Write => seq.div_ceil(2),
        _ => seq,
    }
}

#[test]
fn an_error_at_each_stage_completes_exactly_that_request_with_that_stage() {
    for stage in [Stage::Write, Stage::Execute, Stage::Read] {
        let _g = lock();
        let (_, _, target) = unit_of(stage);
        let rule = format!("error seq=7 code=1004 {target}");
        let rt = open(&[("NRT_EMU_FAULTS", &rule)]);
        let m = add_model(512, 10_000, &[]);
        let (q, record) = pipeline(&rt, &[m], &PipelineConfig::default());
        let mut bufs: Vec<Bufs> = (0..60).map(|k| Bufs::new(512, k as f32)).collect();
        let got = run_all(&q, &mut bufs, &record);
        let bad = request_of(stage, 7);
        for t in 1..=60u64 {
            let c = got[&t];
            if t == bad {
                assert_eq!(
                    (c.status, c.nrt_status, c.stage),
                    (Status::ExecError, 1004, Some(stage)),
                    "{stage:?}: ticket {t}"
                );
            } else {
                assert_eq!(
                    (c.status, c.stage),
                    (Status::Ok, None),
                    "{stage:?}: ticket {t}"
                );
                assert_eq!(bufs[t as usize - 1].wrong(), None, "{stage:?}: ticket {t}");
            }
        }
        // The failed request's slot went back and was reused safely: a second round
        // through every slot is correct too.
        let mut again: Vec<Bufs> = (0..60).map(|k| Bufs::new(512, 1000.0 + k as f32)).collect();
        let got = run_all(&q, &mut again, &record);
        assert!(got.values().all(|c| c.status == Status::Ok), "{stage:?}");
        assert!(again.iter().all(|b| b.wrong().is_none()), "{stage:?}");
        let (slots, free) = q.device_slots().unwrap();
        assert_eq!(slots, free);
        q.destroy(WATCHDOG).unwrap();
        unload(m);
        drop(rt);
    }
}

#[test]
fn a_dead_unit_at_each_stage_fails_the_pipeline_and_everything_completes_once() {
    for stage in [Stage::Write, Stage::Execute, Stage::Read] {
        let _g = lock();
        let (_, _, target) = unit_of(stage);
        let rule = format!("unrecoverable after=10 {target}");
        let rt = open(&[("NRT_EMU_FAULTS", &rule)]);
        let m = add_model(256, 20_000, &[]);
        let (q, record) = pipeline(&rt, &[m], &PipelineConfig::default());
        let mut bufs: Vec<Bufs> = (0..80).map(|k| Bufs::new(256, k as f32)).collect();
        let mut accepted = 0u64;
        for (i, b) in bufs.iter_mut().enumerate() {
            let (ins, outs) = (b.inputs(), b.outputs());
            // SAFETY: the buffers outlive the destroy below, which completes everything.
            match unsafe { q.submit_host(&ins, &outs, i as u64, None) } {
                Ok(_) => accepted += 1,
                Err(e) => assert_eq!(e.status, Status::QueueFailed, "{stage:?}: {e}"),
            }
        }
        q.drain(Some(WATCHDOG))
            .expect("a failed pipeline still drains");
        assert_eq!(
            q.failure().map(|f| (f.0, f.1)),
            Some((Status::QueueFailed, NRT_EXEC_UNIT_UNRECOVERABLE)),
            "{stage:?}"
        );
        let done = std::mem::take(&mut *record.lock());
        let mut tickets: Vec<u64> = done.iter().map(|c| c.ticket).collect();
        tickets.dedup();
        assert_eq!(
            tickets,
            (1..=accepted).collect::<Vec<_>>(),
            "{stage:?}: once, in order"
        );
        // The request that met the dead unit names its stage.
        let dead = done
            .iter()
            .find(|c| c.nrt_status == NRT_EXEC_UNIT_UNRECOVERABLE && c.stage == Some(stage));
        assert!(dead.is_some(), "{stage:?}: {done:?}");
        // Only the dead unit's ring was given up (the other units finished what they
        // held): a slot is kept from reuse only for a request that failed at that stage.
        let (slots, free) = q.device_slots().unwrap();
        let failed_there = done
            .iter()
            .filter(|c| c.status == Status::QueueFailed && c.stage == Some(stage))
            .count();
        assert!(
            slots - free <= failed_there,
            "{stage:?}: {} slots kept, {failed_there} requests failed there",
            slots - free
        );
        // What completed successfully has correct outputs.
        for c in done.iter().filter(|c| c.status == Status::Ok) {
            assert_eq!(bufs[c.user_data as usize].wrong(), None, "{stage:?}");
        }
        // The rest failed with the pipeline, once each.
        assert!(
            done.iter()
                .all(|c| c.status == Status::Ok || c.status == Status::QueueFailed),
            "{stage:?}: {done:?}"
        );
        let b = &mut bufs[0];
        let (ins, outs) = (b.inputs(), b.outputs());
        // SAFETY: refused, so the buffers are never used.
        let err = unsafe { q.submit_host(&ins, &outs, 0, None) }.unwrap_err();
        assert_eq!(err.status, Status::QueueFailed);
        q.destroy(WATCHDOG).unwrap();
        unload(m);
        drop(rt);
    }
}

#[test]
fn exactly_once_over_100000_pipelined_requests_with_faults_on_every_stage() {
    let _g = lock();
    let (_, _, w) = unit_of(Stage::Write);
    let (_, _, c) = unit_of(Stage::Execute);
    let (_, _, r) = unit_of(Stage::Read);
    let rules = format!(
        "error every=997 code=1004 {w}; error every=89 code=1004 {c}; error every=83 code=1005 {r}"
    );
    let rt = open(&[("NRT_EMU_FAULTS", &rules)]);
    let n = 16usize;
    let m = add_model(n as u32, 0, &[]);
    let (q, record) = pipeline(&rt, &[m], &PipelineConfig::default());
    const TOTAL: usize = 100_000;
    const WINDOW: usize = 2000;
    let mut bufs: Vec<Bufs> = (0..WINDOW).map(|k| Bufs::new(n, k as f32)).collect();
    let mut seen = vec![0u8; TOTAL + 1];
    let mut by_stage: HashMap<Option<Stage>, usize> = HashMap::new();
    let mut last = 0u64;
    for round in 0..TOTAL / WINDOW {
        for (i, b) in bufs.iter_mut().enumerate() {
            b.refill((round * WINDOW + i) as f32);
            let (ins, outs) = (b.inputs(), b.outputs());
            // SAFETY: the buffers outlive the drain below and are untouched until then.
            unsafe { q.submit_host(&ins, &outs, i as u64, None) }.unwrap();
        }
        q.drain(Some(WATCHDOG)).unwrap();
        let done = std::mem::take(&mut *record.lock());
        assert_eq!(done.len(), WINDOW, "round {round}");
        for c in &done {
            assert_eq!(c.ticket, last + 1, "delivered in ticket order");
            last = c.ticket;
            seen[c.ticket as usize] += 1;
            *by_stage.entry(c.stage).or_default() += 1;
            match c.status {
                Status::Ok => {
                    assert_eq!(c.stage, None);
                    assert_eq!(
                        bufs[c.user_data as usize].wrong(),
                        None,
                        "ticket {}",
                        c.ticket
                    );
                }
                Status::ExecError => assert!(c.stage.is_some(), "{c:?}"),
                other => panic!("unexpected {other:?}: {c:?}"),
            }
        }
    }
    assert!(
        seen[1..].iter().all(|&n| n == 1),
        "every ticket exactly once"
    );
    let stats = q.stats();
    assert_eq!(
        (stats.submitted, stats.completed),
        (TOTAL as u64, TOTAL as u64)
    );
    eprintln!("completions by failing stage: {by_stage:?}");
    for s in [Stage::Write, Stage::Execute, Stage::Read] {
        assert!(
            by_stage.get(&Some(s)).copied().unwrap_or(0) > 10,
            "{s:?}: {by_stage:?}"
        );
    }
    let (slots, free) = q.device_slots().unwrap();
    assert_eq!(slots, free, "every slot came back");
    q.destroy(WATCHDOG).unwrap();
    unload(m);
    drop(rt);
}

#[test]
fn wrong_buffer_sizes_and_names_are_refused_with_a_message() {
    let _g = lock();
    let rt = open(&[]);
    let m = add_model(64, 10_000, &[]);
    let (q, _record) = pipeline(&rt, &[m], &PipelineConfig::default());
    let mut b = Bufs::new(64, 1.0);
    let short = [0u8; 100];
    let good_in = b.inputs();
    let outs = b.outputs();
    let cases: Vec<(Vec<HostInput>, &str)> = vec![
        (
            vec![
                HostInput {
                    tensor: TensorRef::Name("a"),
                    data: short.as_ptr(),
                    len: 100,
                },
                good_in[1],
            ],
            "input \"a\" is given 100 bytes; the model expects 256 bytes",
        ),
        (
            vec![
                HostInput {
                    tensor: TensorRef::Name("nope"),
                    ..good_in[0]
                },
                good_in[1],
            ],
            "no input named \"nope\" (its inputs: \"a\", \"b\")",
        ),
        (
            vec![
                good_in[0],
                HostInput {
                    tensor: TensorRef::Index(2),
                    ..good_in[1]
                },
            ],
            "input index 2 is out of range",
        ),
        (vec![good_in[0]], "input \"b\" (256 bytes) is not given"),
        (vec![good_in[0], good_in[0]], "input \"a\" is given twice"),
        (
            vec![
                HostInput {
                    data: std::ptr::null(),
                    ..good_in[0]
                },
                good_in[1],
            ],
            "input \"a\" has a NULL buffer",
        ),
    ];
    for (ins, want) in cases {
        // SAFETY: refused before any buffer is used.
        let e = unsafe { q.submit_host(&ins, &outs, 0, None) }.unwrap_err();
        assert_eq!(e.status, Status::InvalidArgument);
        assert!(e.message.contains(want), "{:?} lacks {want:?}", e.message);
    }
    let bad_out = [HostOutput { len: 8, ..outs[0] }];
    // SAFETY: refused before any buffer is used.
    let e = unsafe { q.submit_host(&good_in, &bad_out, 0, None) }.unwrap_err();
    assert!(
        e.message
            .contains("output \"out\" is given 8 bytes; the model expects 256"),
        "{}",
        e.message
    );
    assert_eq!(q.stats().submitted, 0, "no refused submit took a ticket");
    // A pipeline takes host buffers only, and a plain queue tensor sets only.
    let io = Io::new(64, 1.0);
    let e = q.submit(io.work(), 0, None).unwrap_err();
    assert!(e.message.contains("is a pipeline"), "{}", e.message);
    let plain = rt
        .create_queue(Handle(m as usize), QueueConfig::default())
        .unwrap();
    // SAFETY: refused before any buffer is used.
    let e = unsafe { plain.submit_host(&good_in, &outs, 0, None) }.unwrap_err();
    assert!(e.message.contains("is not a pipeline"), "{}", e.message);
    plain.destroy(WATCHDOG).unwrap();
    q.destroy(WATCHDOG).unwrap();
    drop(io);
    unload(m);
    drop(rt);
}

/// The promise in the header: input buffers may be reused and output buffers read once
/// the request has completed. Each request here is submitted from the previous one's
/// callback with the *same* buffers refilled, and its output checked there first.
#[test]
fn buffers_may_be_reused_at_completion() {
    let _g = lock();
    let rt = open(&[("NRT_EMU_DMA_GBPS", "1")]);
    let m = add_model(2048, 5_000, &[]);
    let handles = [Handle(m as usize)];
    let b = Arc::new(Mutex::new(Bufs::new(2048, 0.0)));
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let q: Arc<Mutex<Option<Queue>>> = Arc::default();
    const ROUNDS: u64 = 300;
    let submit = {
        let b = b.clone();
        move |q: &Queue, k: u64| {
            let mut g = b.lock();
            g.refill(k as f32);
            let (ins, outs) = (g.inputs(), g.outputs());
            // SAFETY: the buffers live in `b` for the whole test and are touched again only
            // in this request's completion callback.
            unsafe { q.submit_host(&ins, &outs, k, None) }.unwrap();
        }
    };
    let hook = {
        let (b, errors, q, submit) = (b.clone(), errors.clone(), q.clone(), submit.clone());
        move |c: &Completion| {
            if c.status != Status::Ok {
                errors.lock().push(format!("{c:?}"));
                return;
            }
            if let Some((i, got, want)) = b.lock().wrong() {
                errors.lock().push(format!(
                    "request {}: out[{i}] = {got}, want {want}",
                    c.user_data
                ));
            }
            if c.user_data + 1 < ROUNDS {
                submit(q.lock().as_ref().unwrap(), c.user_data + 1);
            }
        }
    };
    let cfg = QueueConfig {
        on_complete: Some(Arc::new(hook)),
        ..QueueConfig::default()
    };
    let queue = rt
        .create_pipeline(&handles, cfg, &PipelineConfig::default())
        .unwrap();
    *q.lock() = Some(queue.clone());
    submit(&queue, 0);
    let deadline = Instant::now() + WATCHDOG;
    while queue.stats().completed < ROUNDS {
        assert!(Instant::now() < deadline, "watchdog");
        queue.drain(Some(WATCHDOG)).unwrap();
    }
    assert_eq!(*errors.lock(), Vec::<String>::new());
    *q.lock() = None;
    queue.destroy(WATCHDOG).unwrap();
    unload(m);
    drop(rt);
}
