//! The queue engine against the mock device: exactly-once completion in every outcome,
//! refill, QUEUE_FULL absorption, failure, teardown, delivery modes and idle cost.
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nrtq::backend::mock::{MockConfig, MockDevice};
use nrtq::{Completion, Delivery, Handle, Queue, QueueConfig, Runtime, Status, WaitPolicy, Work};

const WORK: Work = Work {
    input: Handle(0x10),
    output: Handle(0x20),
};
const MODEL: Handle = Handle(0x1);

fn runtime(cfg: MockConfig) -> (Runtime, Arc<MockDevice>) {
    let dev = MockDevice::new(cfg);
    (Runtime::with_device(dev.clone()).expect("runtime"), dev)
}

/// A queue-wide callback that records every completion.
fn recorder() -> (Arc<Mutex<Vec<Completion>>>, nrtq::queue::CompletionHook) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    (
        log,
        Arc::new(move |c: &Completion| l.lock().unwrap().push(*c)),
    )
}

/// A queue on the mock model whose queue-wide callback records every completion (`cfg`'s
/// own `on_complete` is replaced).
fn recording_queue(rt: &Runtime, cfg: QueueConfig) -> (Queue, Arc<Mutex<Vec<Completion>>>) {
    let (log, hook) = recorder();
    let cfg = QueueConfig {
        on_complete: Some(hook),
        ..cfg
    };
    (rt.create_queue(MODEL, cfg).unwrap(), log)
}

/// A placeholder to fill the arrays `reap` and `errors` write into.
const NO_COMPLETION: Completion = Completion {
    ticket: 0,
    user_data: 0,
    status: Status::Ok,
    nrt_status: 0,
    stage: None,
};

/// Wait up to `timeout_ms` for `fd` to turn readable; returns poll(2)'s result.
fn poll_readable(fd: std::os::fd::RawFd, timeout_ms: i32) -> i32 {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, alive for the call.
    unsafe { libc::poll(&mut p, 1, timeout_ms) }
}

/// Every ticket 1..=n exactly once, in order.
fn assert_exactly_once_in_order(done: &[Completion], n: u64) {
    let tickets: Vec<u64> = done.iter().map(|c| c.ticket).collect();
    let expected: Vec<u64> = (1..=n).collect();
    assert_eq!(
        tickets, expected,
        "completions are not exactly 1..={n} in order"
    );
}

fn submit_retrying(q: &Queue, ud: u64) -> u64 {
    loop {
        match q.submit(WORK, ud, None) {
            Ok(t) => return t,
            Err(e) if e.status == Status::BacklogFull => std::thread::yield_now(),
            Err(e) => panic!("submit: {e}"),
        }
    }
}

#[test]
fn every_request_completes_once_in_order() {
    let (rt, dev) = runtime(MockConfig {
        service: Duration::from_micros(20),
        ..Default::default()
    });
    let (q, log) = recording_queue(
        &rt,
        QueueConfig {
            backlog: 64,
            ..Default::default()
        },
    );
    for i in 0..2000u64 {
        assert_eq!(submit_retrying(&q, i * 7), i + 1);
    }
    q.drain(Some(Duration::from_secs(20))).unwrap();
    let done = log.lock().unwrap().clone();
    assert_exactly_once_in_order(&done, 2000);
    assert!(done
        .iter()
        .all(|c| c.status == Status::Ok && c.user_data == (c.ticket - 1) * 7));
    let s = q.stats();
    assert_eq!(
        (s.submitted, s.completed, s.failed, s.in_flight, s.backlog),
        (2000, 2000, 0, 0, 0)
    );
    assert_eq!(
        dev.xu(0).max_status_reads(),
        1,
        "a request's status was read twice"
    );
    assert!(
        s.predicted_device_ns >= 10_000,
        "device time not learned: {s:?}"
    );
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
    assert!(rt.close().is_ok());
}

#[test]
fn per_request_callbacks_and_user_data() {
    let (rt, _dev) = runtime(MockConfig::default());
    let q = rt.create_queue(MODEL, QueueConfig::default()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut last = 0;
    for i in 0..100u64 {
        let s = seen.clone();
        last = q
            .submit(
                WORK,
                1000 + i,
                Some(Box::new(move |c: &Completion| {
                    s.lock().unwrap().push((c.ticket, c.user_data))
                })),
            )
            .unwrap();
    }
    q.wait(last, Some(Duration::from_secs(5))).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 100);
    assert!(seen.iter().all(|&(t, u)| u == 999 + t));
    assert_eq!(
        q.wait(last + 1, Some(Duration::ZERO)).unwrap_err().status,
        Status::UnknownTicket
    );
    assert_eq!(
        q.wait(0, Some(Duration::ZERO)).unwrap_err().status,
        Status::UnknownTicket
    );
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}

#[test]
fn injected_errors_ride_with_their_completion_and_are_drained_once() {
    let (rt, _dev) = runtime(MockConfig {
        error_every: 10,
        error_code: 1004,
        ..Default::default()
    });
    let (q, log) = recording_queue(&rt, QueueConfig::default());
    for i in 0..500 {
        submit_retrying(&q, i);
    }
    q.drain(Some(Duration::from_secs(10))).unwrap();
    let done = log.lock().unwrap().clone();
    assert_exactly_once_in_order(&done, 500);
    let failed: Vec<_> = done.iter().filter(|c| c.status != Status::Ok).collect();
    assert_eq!(failed.len(), 50);
    assert!(failed
        .iter()
        .all(|c| c.status == Status::ExecError && c.nrt_status == 1004 && c.ticket % 10 == 0));
    let mut errs = [NO_COMPLETION; 64];
    let (n, dropped) = q.errors(&mut errs);
    assert_eq!((n, dropped), (50, 0));
    assert!(errs[..n].iter().all(|c| c.ticket % 10 == 0));
    assert_eq!(q.errors(&mut errs).0, 0, "errors are drained once");
    assert_eq!(q.stats().failed, 50);
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}

#[test]
fn queue_full_from_the_runtime_is_absorbed() {
    // The hardware queue takes 1 while nrtq keeps 3 in flight: most schedules are refused.
    let (rt, _dev) = runtime(MockConfig {
        hw_depth: 1,
        service: Duration::from_micros(30),
        ..Default::default()
    });
    let (q, log) = recording_queue(&rt, QueueConfig::default());
    for i in 0..200 {
        submit_retrying(&q, i);
    }
    q.drain(Some(Duration::from_secs(10))).unwrap();
    assert_exactly_once_in_order(&log.lock().unwrap(), 200);
    assert!(q.stats().queue_full > 0, "NRT_QUEUE_FULL never happened");
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}

#[test]
fn backlog_full_is_not_now_and_blocking_submit_waits() {
    let (rt, dev) = runtime(MockConfig {
        manual: true,
        ..Default::default()
    });
    let q = rt
        .create_queue(
            MODEL,
            QueueConfig {
                depth: 2,
                backlog: 3,
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..5 {
        q.submit(WORK, i, None).unwrap();
    }
    let e = q.submit(WORK, 9, None).unwrap_err();
    assert_eq!(e.status, Status::BacklogFull);
    assert!(e.status.is_retryable());
    let t0 = Instant::now();
    let e = q
        .submit_timeout(WORK, 9, None, Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(e.status, Status::BacklogFull);
    assert!(t0.elapsed() >= Duration::from_millis(50));
    let xu = dev.xu(0);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        xu.release(1);
    });
    assert_eq!(
        q.submit_timeout(WORK, 9, None, Duration::from_secs(5))
            .unwrap(),
        6
    );
    releaser.join().unwrap();
    while q.stats().completed < 6 {
        dev.xu(0).release(100);
        std::thread::sleep(Duration::from_millis(1));
    }
    q.drain(Some(Duration::from_secs(5))).unwrap();
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}

#[test]
fn dead_execution_unit_fails_everything_once_and_refuses_later_work() {
    let (rt, _dev) = runtime(MockConfig {
        dead_after: Some(20),
        ..Default::default()
    });
    let fatal = Arc::new(AtomicUsize::new(0));
    let f = fatal.clone();
    let cfg = QueueConfig {
        on_fatal: Some(Arc::new(move |_q: &Queue, s, nrt| {
            assert_eq!((s, nrt), (Status::QueueFailed, 101));
            f.fetch_add(1, Ordering::SeqCst);
        })),
        ..Default::default()
    };
    let (q, log) = recording_queue(&rt, cfg);
    let mut accepted = 0u64;
    for i in 0..100 {
        match q.submit(WORK, i, None) {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert!(
                    matches!(e.status, Status::QueueFailed | Status::BacklogFull),
                    "{e}"
                );
                if e.status == Status::QueueFailed {
                    assert_eq!(e.nrt_status, 101);
                    break;
                }
            }
        }
    }
    q.drain(Some(Duration::from_secs(5))).unwrap();
    let done = log.lock().unwrap().clone();
    assert_exactly_once_in_order(&done, accepted);
    let ok = done.iter().filter(|c| c.status == Status::Ok).count();
    assert!(ok <= 20);
    assert!(done
        .iter()
        .skip(ok)
        .all(|c| c.status == Status::QueueFailed && c.nrt_status == 101));
    assert_eq!(q.failure(), Some((Status::QueueFailed, 101)));
    let e = q.submit(WORK, 0, None).unwrap_err();
    assert_eq!((e.status, e.nrt_status), (Status::QueueFailed, 101));
    assert_eq!(
        fatal.load(Ordering::SeqCst),
        1,
        "fatal callback must fire exactly once"
    );
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}

#[test]
fn a_request_past_the_deadline_fails_the_queue() {
    let (rt, _dev) = runtime(MockConfig {
        hang_at: Some(5),
        ..Default::default()
    });
    let cfg = QueueConfig {
        deadline: Some(Duration::from_millis(30)),
        ..Default::default()
    };
    let (q, log) = recording_queue(&rt, cfg);
    for i in 0..10 {
        q.submit(WORK, i, None).unwrap();
    }
    q.drain(Some(Duration::from_secs(5))).unwrap();
    let done = log.lock().unwrap().clone();
    assert_exactly_once_in_order(&done, 10);
    assert!(done[..4].iter().all(|c| c.status == Status::Ok));
    assert!(done[4..]
        .iter()
        .all(|c| c.status == Status::DeadlineExceeded && c.nrt_status == 5));
    assert_eq!(q.failure(), Some((Status::DeadlineExceeded, 5)));
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}

#[test]
fn destroy_cancels_the_backlog_and_waits_for_the_device() {
    let (rt, dev) = runtime(MockConfig {
        manual: true,
        ..Default::default()
    });
    let (q, log) = recording_queue(&rt, QueueConfig::default());
    for i in 0..10 {
        q.submit(WORK, i, None).unwrap();
    }
    assert_eq!(dev.xu(0).running(), 3);
    let xu = dev.xu(0);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        xu.release(3);
    });
    rt.destroy_queue(&q, Duration::from_secs(5)).unwrap();
    releaser.join().unwrap();
    let done = log.lock().unwrap().clone();
    assert_eq!(done.len(), 10);
    let ok: HashSet<u64> = done
        .iter()
        .filter(|c| c.status == Status::Ok)
        .map(|c| c.ticket)
        .collect();
    assert_eq!(ok, HashSet::from([1, 2, 3]));
    assert!(done
        .iter()
        .filter(|c| c.ticket > 3)
        .all(|c| c.status == Status::Cancelled));
    assert_eq!(
        dev.xu(0).issued(),
        3,
        "cancelled requests must never reach the device"
    );
    assert_eq!(q.submit(WORK, 0, None).unwrap_err().status, Status::Closed);
    assert!(rt.close().is_ok());
}

#[test]
fn destroy_timeout_completes_device_held_requests_as_cancelled() {
    let (rt, _dev) = runtime(MockConfig {
        manual: true,
        ..Default::default()
    });
    let (q, log) = recording_queue(&rt, QueueConfig::default());
    for i in 0..5 {
        q.submit(WORK, i, None).unwrap();
    }
    let e = rt.destroy_queue(&q, Duration::from_millis(20)).unwrap_err();
    assert_eq!(e.status, Status::Timeout);
    let done = log.lock().unwrap().clone();
    assert_eq!(done.len(), 5);
    assert!(done.iter().all(|c| c.status == Status::Cancelled));
    assert_eq!(
        done.iter().filter(|c| c.nrt_status == 5).count(),
        3,
        "the device-held ones carry NRT_TIMEOUT"
    );
}

#[test]
fn closing_a_runtime_with_open_queues_is_an_error() {
    let (rt, _dev) = runtime(MockConfig::default());
    let q = rt.create_queue(MODEL, QueueConfig::default()).unwrap();
    let (rt, e) = *rt.close().unwrap_err();
    assert_eq!(e.status, Status::Busy);
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
    assert_eq!(
        rt.destroy_queue(&q, Duration::from_secs(1))
            .unwrap_err()
            .status,
        Status::InvalidArgument
    );
    assert!(rt.close().is_ok());
}

#[test]
fn callbacks_may_submit_but_not_wait_or_destroy() {
    let (rt, _dev) = runtime(MockConfig::default());
    let rt = Arc::new(rt);
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let chained = Arc::new(AtomicUsize::new(0));
    let slot: Arc<Mutex<Option<Queue>>> = Arc::new(Mutex::new(None));
    let (o, c, s, r) = (outcomes.clone(), chained.clone(), slot.clone(), rt.clone());
    let hook = Arc::new(move |comp: &Completion| {
        let q = s.lock().unwrap().clone().unwrap();
        if comp.user_data == 0 {
            o.lock().unwrap().push(
                q.wait(comp.ticket, Some(Duration::ZERO))
                    .unwrap_err()
                    .status,
            );
            o.lock()
                .unwrap()
                .push(q.drain(Some(Duration::ZERO)).unwrap_err().status);
            o.lock()
                .unwrap()
                .push(r.destroy_queue(&q, Duration::ZERO).unwrap_err().status);
        }
        if comp.user_data < 50 {
            q.submit(WORK, comp.user_data + 1, None).unwrap();
            c.fetch_add(1, Ordering::SeqCst);
        }
    });
    let q = rt
        .create_queue(
            MODEL,
            QueueConfig {
                on_complete: Some(hook),
                ..Default::default()
            },
        )
        .unwrap();
    *slot.lock().unwrap() = Some(q.clone());
    q.submit(WORK, 0, None).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while chained.load(Ordering::SeqCst) < 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    q.drain(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(chained.load(Ordering::SeqCst), 50);
    assert_eq!(q.stats().completed, 51);
    assert_eq!(*outcomes.lock().unwrap(), vec![Status::WouldDeadlock; 3]);
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}

#[test]
fn a_panicking_callback_fails_the_queue_and_nothing_is_lost() {
    let (rt, dev) = runtime(MockConfig {
        manual: true,
        ..Default::default()
    });
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let hook = Arc::new(move |comp: &Completion| {
        c.fetch_add(1, Ordering::SeqCst);
        if comp.ticket == 2 {
            panic!("user callback panics");
        }
    });
    let q = rt
        .create_queue(
            MODEL,
            QueueConfig {
                on_complete: Some(hook),
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..10 {
        q.submit(WORK, i, None).unwrap();
    }
    // Release one at a time so the panic happens with work still queued.
    for _ in 0..2 {
        let before = q.stats().completed;
        dev.xu(0).release(1);
        while q.stats().completed == before {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    q.drain(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 10);
    assert_eq!(q.failure().map(|f| f.0), Some(Status::Panic));
    rt.destroy_queue(&q, Duration::from_millis(10)).ok();
}

#[test]
fn reap_mode_fd_and_batches() {
    let (rt, _dev) = runtime(MockConfig {
        service: Duration::from_micros(5),
        ..Default::default()
    });
    let q = rt
        .create_queue(
            MODEL,
            QueueConfig {
                delivery: Delivery::Reap,
                ..Default::default()
            },
        )
        .unwrap();
    let fd = q.reap_fd().expect("reap mode has an fd");
    let mut out = vec![NO_COMPLETION; 16];
    assert_eq!(q.reap(&mut out).unwrap(), 0);
    let mut got = Vec::new();
    let mut next = 0u64;
    while got.len() < 1000 {
        while next < 1000 && q.submit(WORK, next, None).is_ok() {
            next += 1;
        }
        poll_readable(fd, 1000);
        let n = q.reap(&mut out).unwrap();
        got.extend_from_slice(&out[..n]);
    }
    assert_exactly_once_in_order(&got, 1000);
    // Nothing waiting: the fd is not readable any more.
    assert_eq!(poll_readable(fd, 0), 0);
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
    let (rt2, _d) = runtime(MockConfig::default());
    let cq = rt2.create_queue(MODEL, QueueConfig::default()).unwrap();
    assert_eq!(cq.reap(&mut out).unwrap_err().status, Status::WrongMode);
    assert!(cq.reap_fd().is_none());
    rt2.destroy_queue(&cq, Duration::from_secs(1)).unwrap();
}

#[test]
fn pull_mode_refill_keeps_the_queue_fed() {
    let (rt, _dev) = runtime(MockConfig {
        service: Duration::from_micros(20),
        ..Default::default()
    });
    let submitted = Arc::new(AtomicUsize::new(0));
    let s = submitted.clone();
    let refill = Arc::new(move |q: &Queue, room: usize| {
        assert!(room > 0);
        for _ in 0..room {
            if s.load(Ordering::SeqCst) >= 300 {
                return;
            }
            q.submit(WORK, 0, None).unwrap();
            s.fetch_add(1, Ordering::SeqCst);
        }
    });
    let (q, log) = recording_queue(
        &rt,
        QueueConfig {
            on_refill: Some(refill),
            ..Default::default()
        },
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.lock().unwrap().len() < 300 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_exactly_once_in_order(&log.lock().unwrap(), 300);
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}

#[test]
fn manual_bell_low_latency_policy() {
    let (rt, dev) = runtime(MockConfig {
        manual: true,
        ..Default::default()
    });
    let cfg = QueueConfig {
        policy: WaitPolicy::LowLatency,
        ..Default::default()
    };
    let (q, log) = recording_queue(&rt, cfg);
    for i in 0..30 {
        q.submit(WORK, i, None).unwrap();
    }
    while log.lock().unwrap().len() < 30 {
        dev.xu(0).release(1);
        std::thread::sleep(Duration::from_micros(200));
    }
    assert_exactly_once_in_order(&log.lock().unwrap(), 30);
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}

/// Runs 3000 requests of a 10-µs mock XU (which holds 8) through a queue of configured
/// depth 3 and returns the most the XU held at once.
fn high_water_with(max_depth: usize) -> usize {
    let (rt, dev) = runtime(MockConfig {
        service: Duration::from_micros(10),
        hw_depth: 8,
        ..Default::default()
    });
    let (q, log) = recording_queue(
        &rt,
        QueueConfig {
            max_depth,
            ..Default::default()
        },
    );
    for i in 0..3000u64 {
        submit_retrying(&q, i);
    }
    q.drain(Some(Duration::from_secs(20))).unwrap();
    assert_exactly_once_in_order(&log.lock().unwrap(), 3000);
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
    dev.xu(0).high_water()
}

#[test]
fn depth_rises_for_a_short_model_and_stays_pinned_when_asked() {
    // 3 requests of 10 µs cannot cover the completion thread's wake-up (≥ 50 µs): once
    // the device time is learned, the queue keeps more on the device, up to what it takes.
    let auto = high_water_with(16);
    assert!(auto > 3 && auto <= 8, "automatic depth reached {auto}");
    // max_depth ≤ depth pins the queue at the configured depth.
    let pinned = high_water_with(3);
    assert!(pinned <= 3, "pinned queue held {pinned}");
}
