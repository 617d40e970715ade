//! Pools of pipelines against the emulator in the generation `NRT_EMU_API` names: host
//! buffers in and out on every core, outputs checked element by element, a core dying
//! mid-stream with every request delivered once (those that never reached it run on the
//! others, writing their inputs again), and the refusals of a wrong buffer or the wrong
//! kind of submit, each with a message.
mod emu_support;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emu_support::*;
use neuron_sys::*;
use nrt_emu::model::{Dtype, ModelSpec};
use nrtq::{
    Completion, Handle, HostInput, HostOutput, PipelineConfig, Pool, PoolConfig, PoolModel, Status,
    TensorRef,
};

const N: usize = 256;
const WATCHDOG: Option<Duration> = Some(Duration::from_secs(120));

/// `out = a + b` over N f32, taking `time_ns`, on logical core `lnc`.
fn load_on(lnc: u32, time_ns: u64, faults: &[&str]) -> Handle {
    let mut spec = ModelSpec::add_model("add", Dtype::F32, &[N as u32]).time_ns(time_ns);
    for f in faults {
        spec = spec.fault(f);
    }
    let bytes = spec.to_bytes().expect("valid model");
    let mut m = std::ptr::null_mut();
    // SAFETY: `bytes` is alive for the call; `m` is writable.
    let s =
        unsafe { (lib().core.nrt_load)(bytes.as_ptr().cast(), bytes.len(), lnc as i32, 1, &mut m) };
    assert_eq!(s, NRT_SUCCESS, "nrt_load on core {lnc}");
    Handle(m as usize)
}

/// Every request's host buffers, kept until the pool has delivered it.
struct Buffers {
    a: Vec<Vec<f32>>,
    b: Vec<Vec<f32>>,
    out: Vec<Mutex<Vec<f32>>>,
}

impl Buffers {
    fn new(n: usize) -> Buffers {
        Buffers {
            a: (0..n)
                .map(|k| (0..N).map(|i| (k + i) as f32).collect())
                .collect(),
            b: (0..n)
                .map(|k| (0..N).map(|i| (k * 3 + 2 * i) as f32).collect())
                .collect(),
            out: (0..n).map(|_| Mutex::new(vec![-1.0; N])).collect(),
        }
    }

    /// Submit request `k` (inputs by name, the output by index).
    fn submit(&self, pool: &Pool, k: usize) -> nrtq::Result<u64> {
        let bytes = N * 4;
        let ins = [
            HostInput {
                tensor: TensorRef::Name("a"),
                data: self.a[k].as_ptr().cast(),
                len: bytes,
            },
            HostInput {
                tensor: TensorRef::Name("b"),
                data: self.b[k].as_ptr().cast(),
                len: bytes,
            },
        ];
        let outs = [HostOutput {
            tensor: TensorRef::Index(0),
            data: self.out[k].lock().unwrap().as_mut_ptr().cast(),
            len: bytes,
        }];
        // SAFETY: the buffers live in `self`, which outlives the pool's delivery of every
        // request (the tests drain before dropping it), and are not touched until then.
        unsafe { pool.submit_host(&ins, &outs, k as u64, None) }
    }

    /// Request `k`'s output is `a + b`, element by element.
    fn check(&self, k: usize) -> bool {
        let out = self.out[k].lock().unwrap();
        (0..N).all(|i| out[i] == self.a[k][i] + self.b[k][i])
    }
}

/// Deliveries per request and the failed completions.
struct Seen {
    times: Vec<AtomicU8>,
    failed: Mutex<Vec<Completion>>,
}

impl Seen {
    fn new(n: usize) -> Arc<Seen> {
        Arc::new(Seen {
            times: (0..n).map(|_| AtomicU8::new(0)).collect(),
            failed: Mutex::new(Vec::new()),
        })
    }

    fn hook(self: &Arc<Self>) -> nrtq::queue::CompletionHook {
        let s = self.clone();
        Arc::new(move |c: &Completion| {
            s.times[c.user_data as usize].fetch_add(1, Ordering::SeqCst);
            if c.status != Status::Ok {
                s.failed.lock().unwrap().push(*c);
            }
        })
    }

    fn assert_exactly_once(&self) {
        let bad: Vec<(usize, u8)> = self
            .times
            .iter()
            .map(|t| t.load(Ordering::SeqCst))
            .enumerate()
            .filter(|&(_, n)| n != 1)
            .take(10)
            .collect();
        assert!(bad.is_empty(), "not delivered exactly once: {bad:?}");
    }
}

fn pipeline_pool(rt: &nrtq::Runtime, models: &[Handle], seen: &Arc<Seen>) -> Pool {
    rt.create_pool(
        PoolModel::Loaded(models.to_vec()),
        PoolConfig {
            on_complete: Some(seen.hook()),
            pipeline: Some(PipelineConfig::default()),
            backlog: 1 << 16,
            ..PoolConfig::default()
        },
    )
    .expect("pool of pipelines")
}

#[test]
fn a_pool_of_pipelines_takes_host_buffers_on_every_core_and_returns_correct_outputs() {
    const TOTAL: usize = 4000;
    let _l = lock();
    let rt = open(&[("NRT_EMU_TOTAL_CORES", "4")]);
    let models: Vec<Handle> = (0..4).map(|c| load_on(c, 20_000, &[])).collect();
    let seen = Seen::new(TOTAL);
    let pool = pipeline_pool(&rt, &models, &seen);
    let bufs = Buffers::new(TOTAL);
    for k in 0..TOTAL {
        bufs.submit(&pool, k).expect("submit_host");
    }
    pool.drain(WATCHDOG).unwrap();
    seen.assert_exactly_once();
    assert!(seen.failed.lock().unwrap().is_empty());
    let wrong: Vec<usize> = (0..TOTAL).filter(|&k| !bufs.check(k)).take(5).collect();
    assert!(wrong.is_empty(), "outputs not a + b: {wrong:?}");
    // Every core served: the pool spread the requests.
    for c in pool.cores() {
        assert!(c.routed > TOTAL as u64 / 8, "core {}: {c:?}", c.index);
    }
    pool.destroy(Duration::from_secs(10)).unwrap();
    models.iter().for_each(|m| unload(m.0 as *mut nrt_model_t));
    drop(rt);
}

#[test]
fn a_core_of_a_pool_of_pipelines_dying_loses_nothing_and_outputs_stay_correct() {
    const TOTAL: usize = 20_000;
    let _l = lock();
    let rt = open(&[("NRT_EMU_TOTAL_CORES", "4")]);
    let models: Vec<Handle> = (0..4)
        .map(|c| {
            let faults: &[&str] = if c == 1 {
                &["unrecoverable after=1000"]
            } else {
                &[]
            };
            load_on(c, 10_000, faults)
        })
        .collect();
    let seen = Seen::new(TOTAL);
    let pool = pipeline_pool(&rt, &models, &seen);
    let bufs = Buffers::new(TOTAL);
    for k in 0..TOTAL {
        bufs.submit(&pool, k).expect("submit_host");
    }
    pool.drain(WATCHDOG).unwrap();
    seen.assert_exactly_once();
    let failed = seen.failed.lock().unwrap().clone();
    // Only what was on core 1's device when it died fails, with the dead unit's status
    // and the stage it was at; everything else ran on some core with a correct output.
    assert!(
        !failed.is_empty() && failed.len() <= 64,
        "{} failed",
        failed.len()
    );
    assert!(failed.iter().all(|c| c.status == Status::QueueFailed));
    assert!(failed
        .iter()
        .any(|c| c.nrt_status == NRT_EXEC_UNIT_UNRECOVERABLE));
    let failed_ids: std::collections::HashSet<u64> = failed.iter().map(|c| c.user_data).collect();
    let wrong: Vec<usize> = (0..TOTAL)
        .filter(|&k| !failed_ids.contains(&(k as u64)) && !bufs.check(k))
        .take(5)
        .collect();
    assert!(wrong.is_empty(), "outputs not a + b: {wrong:?}");
    let cores = pool.cores();
    assert!(!cores[1].healthy);
    assert_eq!(pool.stats().cores_alive, 3);
    assert!(pool.stats().rerouted > 0 || cores[1].outstanding == 0);
    pool.destroy(Duration::from_secs(10)).unwrap();
    models.iter().for_each(|m| unload(m.0 as *mut nrt_model_t));
    drop(rt);
}

#[test]
fn wrong_buffers_and_the_wrong_kind_of_submit_are_refused_with_a_message() {
    let _l = lock();
    let rt = open(&[("NRT_EMU_TOTAL_CORES", "2")]);
    let models: Vec<Handle> = (0..2).map(|c| load_on(c, 1_000, &[])).collect();
    let seen = Seen::new(1);
    let pool = pipeline_pool(&rt, &models, &seen);
    let a = vec![0f32; N];
    let mut out = vec![0f32; N];
    let ins = [
        HostInput {
            tensor: TensorRef::Name("a"),
            data: a.as_ptr().cast(),
            len: 4 * N - 4,
        },
        HostInput {
            tensor: TensorRef::Name("b"),
            data: a.as_ptr().cast(),
            len: 4 * N,
        },
    ];
    let outs = [HostOutput {
        tensor: TensorRef::Name("out"),
        data: out.as_mut_ptr().cast(),
        len: 4 * N,
    }];
    // SAFETY: refused at once, so nothing is read or written.
    let e = unsafe { pool.submit_host(&ins, &outs, 0, None) }.unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(
        e.message.contains("\"a\"") && e.message.contains(&(4 * N).to_string()),
        "{}",
        e.message
    );
    let unknown = [HostOutput {
        tensor: TensorRef::Name("nope"),
        ..outs[0]
    }];
    let good_ins = [
        HostInput {
            len: 4 * N,
            ..ins[0]
        },
        ins[1],
    ];
    // SAFETY: as above.
    let e = unsafe { pool.submit_host(&good_ins, &unknown, 0, None) }.unwrap_err();
    assert!(e.message.contains("nope"), "{}", e.message);
    // A pool of pipelines takes host buffers, not tensor sets.
    let e = pool
        .submit(
            nrtq::Work {
                input: Handle(1),
                output: Handle(2),
            },
            0,
            None,
        )
        .unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("submit_host"), "{}", e.message);
    assert_eq!(pool.stats().submitted, 0, "nothing was accepted");
    pool.destroy(Duration::from_secs(10)).unwrap();
    // And a plain pool refuses host buffers.
    let plain = rt
        .create_pool(PoolModel::Loaded(models.clone()), PoolConfig::default())
        .unwrap();
    // SAFETY: refused at once.
    let e = unsafe { plain.submit_host(&good_ins, &outs, 0, None) }.unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(e.message.contains("pipeline"), "{}", e.message);
    plain.destroy(Duration::from_secs(10)).unwrap();
    models.iter().for_each(|m| unload(m.0 as *mut nrt_model_t));
    drop(rt);
}
