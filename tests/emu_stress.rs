//! Stress: 4 threads × 100,000 requests (`NRTQ_STRESS_N` overrides the count) on a 0-µs
//! model with 1% injected errors, over the emulator of the generation under test. Two
//! queues share the core's COMPUTE unit: one in callback mode, one in reap mode drained by
//! a reaper with random timing; submitters pause at random. Every accepted request must
//! complete exactly once, and the error count must be exactly 1% of the sequence numbers.
mod emu_support;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emu_support::*;
use nrtq::{Completion, Delivery, Handle, QueueConfig, Status};

const THREADS: u64 = 4;

fn per_thread() -> u64 {
    std::env::var("NRTQ_STRESS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// xorshift64: cheap per-thread randomness for the timing jitter.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn jitter(rng: &mut Rng) {
    match rng.next() % 1000 {
        0..=1 => std::thread::sleep(Duration::from_micros(rng.next() % 200)),
        2..=20 => std::thread::yield_now(),
        _ => {}
    }
}

#[test]
fn four_threads_exactly_once_with_injected_errors() {
    let _l = lock();
    let n = per_thread();
    let started = Instant::now();
    let rt = open(&[]);
    let m = add_model(16, 0, &["error every=100 code=1004"]);
    let io = Arc::new(Io::new(16, 1.0));
    // seen[t][i]: how many times request i of thread t completed.
    let seen: Arc<Vec<Vec<AtomicU8>>> = Arc::new(
        (0..THREADS)
            .map(|_| (0..n).map(|_| AtomicU8::new(0)).collect())
            .collect(),
    );
    let errors = Arc::new(AtomicU64::new(0));
    let record = {
        let (seen, errors) = (seen.clone(), errors.clone());
        move |c: &Completion| {
            let (t, i) = (c.user_data >> 32, c.user_data & 0xffff_ffff);
            seen[t as usize][i as usize].fetch_add(1, Ordering::Relaxed);
            match c.status {
                Status::Ok => {}
                Status::ExecError => {
                    assert_eq!(c.nrt_status, 1004);
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                s => panic!("unexpected status {s:?}"),
            }
        }
    };
    let rec_cb = record.clone();
    let qa = rt
        .create_queue(
            Handle(m as usize),
            QueueConfig {
                on_complete: Some(Arc::new(move |c: &Completion| rec_cb(c))),
                backlog: 256,
                ..Default::default()
            },
        )
        .unwrap();
    let qb = rt
        .create_queue(
            Handle(m as usize),
            QueueConfig {
                delivery: Delivery::Reap,
                backlog: 256,
                ..Default::default()
            },
        )
        .unwrap();

    let done_submitting = Arc::new(AtomicBool::new(false));
    let reaper = {
        let (qb, done, rec) = (qb.clone(), done_submitting.clone(), record.clone());
        std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let fd = qb.reap_fd().unwrap();
            let mut out = vec![
                Completion {
                    ticket: 0,
                    user_data: 0,
                    status: Status::Ok,
                    nrt_status: 0,
                    stage: None,
                };
                64
            ];
            loop {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut p, 1, 10) };
                jitter(&mut rng);
                let want = 1 + (rng.next() % 64) as usize;
                let got = qb.reap(&mut out[..want]).unwrap();
                for c in &out[..got] {
                    rec(c);
                }
                if got == 0
                    && done.load(Ordering::SeqCst)
                    && qb.stats().in_flight == 0
                    && qb.stats().backlog == 0
                {
                    // One more look after the device emptied, then stop.
                    let got = qb.reap(&mut out).unwrap();
                    for c in &out[..got] {
                        rec(c);
                    }
                    if got == 0 {
                        return;
                    }
                }
            }
        })
    };
    let submitters: Vec<_> = (0..THREADS)
        .map(|t| {
            let (q, io) = (if t % 2 == 0 { qa.clone() } else { qb.clone() }, io.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (t + 1));
                for i in 0..n {
                    loop {
                        let r = if rng.next() & 1 == 0 {
                            q.submit(io.work(), (t << 32) | i, None)
                        } else {
                            q.submit_timeout(
                                io.work(),
                                (t << 32) | i,
                                None,
                                Duration::from_millis(100),
                            )
                        };
                        match r {
                            Ok(_) => break,
                            Err(e) if e.status == Status::BacklogFull => std::thread::yield_now(),
                            Err(e) => panic!("submit: {e}"),
                        }
                    }
                    jitter(&mut rng);
                }
            })
        })
        .collect();
    for s in submitters {
        s.join().unwrap();
    }
    qa.drain(Some(Duration::from_secs(60))).unwrap();
    qb.drain(Some(Duration::from_secs(60))).unwrap();
    done_submitting.store(true, Ordering::SeqCst);
    reaper.join().unwrap();

    for (t, v) in seen.iter().enumerate() {
        for (i, c) in v.iter().enumerate() {
            assert_eq!(
                c.load(Ordering::Relaxed),
                1,
                "thread {t} request {i} completed {} times",
                c.load(Ordering::Relaxed)
            );
        }
    }
    let total = THREADS * n;
    // Both queues share one XU, whose sequence numbers run 1..=total: every 100th fails.
    assert_eq!(errors.load(Ordering::Relaxed), total / 100);
    let (sa, sb) = (qa.stats(), qb.stats());
    assert_eq!(sa.submitted + sb.submitted, total);
    assert_eq!(sa.completed + sb.completed, total);
    assert_eq!(sa.failed + sb.failed, total / 100);
    rt.destroy_queue(&qa, Duration::from_secs(5)).unwrap();
    rt.destroy_queue(&qb, Duration::from_secs(5)).unwrap();
    drop(io);
    unload(m);
    eprintln!(
        "stress ({}): {total} requests in {:.1} s; notify p50/p99 {}/{} µs (callback queue)",
        generation(),
        started.elapsed().as_secs_f64(),
        sa.complete_to_notify_p50_ns / 1000,
        sa.complete_to_notify_p99_ns / 1000
    );
}
