//! Idle cost: a queue with nothing in flight uses (almost) no CPU and its completion thread
//! makes no wake-ups. Alone in its own test binary, because it measures the whole
//! process's CPU time (getrusage).
use std::time::Duration;

use nrtq::backend::mock::{MockConfig, MockDevice};
use nrtq::{Handle, QueueConfig, Runtime, Status, Work};

const WORK: Work = Work {
    input: Handle(0x10),
    output: Handle(0x20),
};
const MODEL: Handle = Handle(0x1);

fn submit_retrying(q: &nrtq::Queue, ud: u64) {
    loop {
        match q.submit(WORK, ud, None) {
            Ok(_) => return,
            Err(e) if e.status == Status::BacklogFull => std::thread::yield_now(),
            Err(e) => panic!("submit: {e}"),
        }
    }
}

#[test]
fn an_idle_queue_costs_no_cpu_and_no_wakeups() {
    let rt = Runtime::with_device(MockDevice::new(MockConfig::default())).unwrap();
    let q = rt.create_queue(MODEL, QueueConfig::default()).unwrap();
    for i in 0..100 {
        submit_retrying(&q, i);
    }
    q.drain(Some(Duration::from_secs(5))).unwrap();
    std::thread::sleep(Duration::from_millis(20)); // let the completion thread park
    let (w0, c0) = (
        rt.completion_thread_wakeups(),
        nrtq::testing::process_cpu_ns(),
    );
    std::thread::sleep(Duration::from_secs(1));
    let (w1, c1) = (
        rt.completion_thread_wakeups(),
        nrtq::testing::process_cpu_ns(),
    );
    assert_eq!(w1 - w0, 0, "the idle completion thread woke up");
    // Loose: under 1% of a core over the second, for the whole test process.
    assert!(
        c1 - c0 < 10_000_000,
        "idle process used {} µs of CPU in 1 s",
        (c1 - c0) / 1000
    );
    rt.destroy_queue(&q, Duration::from_secs(1)).unwrap();
}
