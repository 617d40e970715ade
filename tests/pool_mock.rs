//! Pools on the mock device, where the test decides when each core completes: requests
//! that never reached a failed core's device are re-routed (and counted as such), those
//! that had complete with their status, each exactly once.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nrtq::backend::mock::{MockConfig, MockDevice};
use nrtq::{Completion, Handle, PoolConfig, PoolModel, QueueConfig, Runtime, Status, Work};

const WORK: Work = Work {
    input: Handle(0x10),
    output: Handle(0x20),
};

#[test]
fn requests_that_never_reached_a_failed_core_are_rerouted_and_the_rest_complete_once() {
    // Manual completion, one request per device: the rest wait in each core's queue.
    let dev = MockDevice::new(MockConfig {
        manual: true,
        hw_depth: 1,
        ..MockConfig::default()
    });
    let rt = Runtime::with_device(dev.clone()).unwrap();
    let log: Arc<Mutex<Vec<Completion>>> = Arc::default();
    let l = log.clone();
    let left: Arc<Mutex<Vec<(usize, Status)>>> = Arc::default();
    let lf = left.clone();
    let pool = rt
        .create_pool(
            PoolModel::Loaded(vec![Handle(1), Handle(2)]),
            PoolConfig {
                queue: QueueConfig {
                    depth: 3,
                    max_depth: 3,
                    // Core 0 is never released, so its oldest request passes this.
                    deadline: Some(Duration::from_millis(50)),
                    ..QueueConfig::default()
                },
                on_complete: Some(Arc::new(move |c: &Completion| l.lock().unwrap().push(*c))),
                on_core_left: Some(Arc::new(move |i, st, _| lf.lock().unwrap().push((i, st)))),
                ..PoolConfig::default()
            },
        )
        .unwrap();
    // Both idle and equal: the requests alternate, three per core (one on each device,
    // two in each core's queue).
    for k in 0..6 {
        pool.submit(WORK, k, None).unwrap();
    }
    let cores = pool.cores();
    assert_eq!((cores[0].routed, cores[1].routed), (3, 3));
    assert_eq!(cores[0].queue.in_flight + cores[0].queue.backlog, 3);
    let (xu0, xu1) = (dev.xu(0), dev.xu(1));
    assert_eq!((xu0.running(), xu1.running()), (1, 1));
    // Keep core 1 completing until everything is delivered; core 0 never completes.
    let watchdog = Instant::now() + Duration::from_secs(30);
    while log.lock().unwrap().len() < 6 {
        assert!(
            Instant::now() < watchdog,
            "not all delivered: {:?}",
            log.lock().unwrap()
        );
        xu1.release(1);
        std::thread::sleep(Duration::from_millis(1));
    }
    pool.drain(Some(Duration::from_secs(10))).unwrap();
    let done = log.lock().unwrap().clone();
    let mut keys: Vec<u64> = done.iter().map(|c| c.user_data).collect();
    keys.sort_unstable();
    assert_eq!(keys, [0, 1, 2, 3, 4, 5], "each request delivered once");
    // The one on core 0's device completes with the core's failure; the two in its queue
    // ran on core 1.
    let failed: Vec<&Completion> = done.iter().filter(|c| c.status != Status::Ok).collect();
    assert_eq!(failed.len(), 1, "{done:?}");
    assert_eq!(failed[0].status, Status::DeadlineExceeded);
    assert_eq!(
        failed[0].user_data, 0,
        "the first request went to core 0's device"
    );
    assert_eq!(*left.lock().unwrap(), [(0, Status::DeadlineExceeded)]);
    let s = pool.stats();
    assert_eq!((s.rerouted, s.retried, s.failed, s.completed), (2, 0, 1, 6));
    let cores = pool.cores();
    assert_eq!(
        cores[1].routed, 5,
        "core 1 ran its three and the two re-routed"
    );
    assert!(!cores[0].healthy && cores[1].healthy);
    assert_eq!(xu0.issued(), 1, "nothing else reached core 0's device");
    pool.destroy(Duration::from_secs(1)).unwrap();
}

#[test]
fn a_retry_safe_pool_reruns_what_was_on_the_failed_device_too() {
    let dev = MockDevice::new(MockConfig {
        manual: true,
        hw_depth: 1,
        ..MockConfig::default()
    });
    let rt = Runtime::with_device(dev.clone()).unwrap();
    let log: Arc<Mutex<Vec<Completion>>> = Arc::default();
    let l = log.clone();
    let pool = rt
        .create_pool(
            PoolModel::Loaded(vec![Handle(1), Handle(2)]),
            PoolConfig {
                queue: QueueConfig {
                    depth: 3,
                    max_depth: 3,
                    deadline: Some(Duration::from_millis(50)),
                    ..QueueConfig::default()
                },
                retry_safe: true,
                on_complete: Some(Arc::new(move |c: &Completion| l.lock().unwrap().push(*c))),
                ..PoolConfig::default()
            },
        )
        .unwrap();
    for k in 0..6 {
        pool.submit(WORK, k, None).unwrap();
    }
    let xu1 = dev.xu(1);
    let watchdog = Instant::now() + Duration::from_secs(30);
    while log.lock().unwrap().len() < 6 {
        assert!(
            Instant::now() < watchdog,
            "not all delivered: {:?}",
            log.lock().unwrap()
        );
        xu1.release(1);
        std::thread::sleep(Duration::from_millis(1));
    }
    pool.drain(Some(Duration::from_secs(10))).unwrap();
    let done = log.lock().unwrap().clone();
    let mut keys: Vec<u64> = done.iter().map(|c| c.user_data).collect();
    keys.sort_unstable();
    assert_eq!(keys, [0, 1, 2, 3, 4, 5], "each request delivered once");
    assert!(done.iter().all(|c| c.status == Status::Ok), "{done:?}");
    let s = pool.stats();
    assert_eq!((s.rerouted, s.retried, s.failed), (3, 1, 0));
    assert_eq!(pool.cores()[1].routed, 6);
    pool.destroy(Duration::from_secs(1)).unwrap();
}

#[test]
fn a_full_pool_backlog_says_not_now_and_accepts_nothing() {
    for backlog in [0usize, 2] {
        let dev = MockDevice::new(MockConfig {
            manual: true,
            hw_depth: 1,
            ..MockConfig::default()
        });
        let rt = Runtime::with_device(dev.clone()).unwrap();
        let log: Arc<Mutex<Vec<Completion>>> = Arc::default();
        let l = log.clone();
        let pool = rt
            .create_pool(
                PoolModel::Loaded(vec![Handle(1)]),
                PoolConfig {
                    queue: QueueConfig {
                        depth: 1,
                        max_depth: 1,
                        ..QueueConfig::default()
                    },
                    backlog,
                    on_complete: Some(Arc::new(move |c: &Completion| l.lock().unwrap().push(*c))),
                    ..PoolConfig::default()
                },
            )
            .unwrap();
        // One goes straight to the core (it has room for one), `backlog` wait in the pool.
        for k in 0..=backlog as u64 {
            assert_eq!(pool.submit(WORK, k, None).unwrap(), k + 1);
        }
        let e = pool.submit(WORK, 99, None).unwrap_err();
        assert_eq!(e.status, Status::BacklogFull, "{}", e.message);
        assert_eq!(
            pool.stats().submitted,
            backlog as u64 + 1,
            "a refusal takes no ticket"
        );
        let xu = dev.xu(0);
        let watchdog = Instant::now() + Duration::from_secs(30);
        while log.lock().unwrap().len() <= backlog {
            assert!(Instant::now() < watchdog, "not all delivered");
            xu.release(1);
            std::thread::sleep(Duration::from_millis(1));
        }
        pool.drain(Some(Duration::from_secs(10))).unwrap();
        let mut keys: Vec<u64> = log.lock().unwrap().iter().map(|c| c.user_data).collect();
        keys.sort_unstable();
        assert_eq!(keys, (0..=backlog as u64).collect::<Vec<_>>());
        pool.destroy(Duration::from_secs(1)).unwrap();
    }
}
