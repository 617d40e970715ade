//! Waits on a queue that failed before anyone waited return at once. The header promises
//! that `drain` waits "until the backlog and the device are empty and every completion
//! delivered", `wait` "until request `ticket` has completed and been delivered", and
//! `destroy` only for "the requests the device holds": on a failed queue those conditions
//! already hold, so each call must return well before its timeout, and with no timeout at
//! all it must return (a watchdog fails the test after 10 s). The failure and the wait race,
//! so each case is repeated 50 times, alternating a 2 s timeout and no timeout.
mod contract_support;
mod emu_support;

use std::time::{Duration, Instant};

use contract_support::*;
use emu_support::{add_model, unload, Io};

const TRIES: usize = 50;
const LIMIT: Duration = Duration::from_secs(300);
/// "At once", generously: a loaded 2-core machine may delay a thread by tens of ms.
const PROMPT: Duration = Duration::from_millis(500);
const WATCHDOG: Duration = Duration::from_secs(10);
/// On a broken build each slow try costs the full 2 s: stop counting after this many.
const ENOUGH_SLOW: usize = 5;

/// Tally of the timed (2 s) calls: how many took longer than `PROMPT`, and the slowest.
#[derive(Default)]
struct Timing {
    tries: usize,
    slow: usize,
    slowest: Duration,
}

impl Timing {
    /// Run `call` (which waits up to 2 s) and time it; it must return `NRTQ_OK`.
    fn timed(&mut self, what: &str, call: impl FnOnce() -> nrtq_status) {
        let t0 = Instant::now();
        let s = watchdog(what, WATCHDOG, call);
        let took = t0.elapsed();
        assert_eq!(s, NRTQ_OK, "{what}: {}", last_error());
        self.tries += 1;
        self.slowest = self.slowest.max(took);
        if took > PROMPT {
            self.slow += 1;
            println!("try {}: {what} took {took:?}", self.tries);
        }
    }

    fn done(&self) -> bool {
        self.slow >= ENOUGH_SLOW
    }

    fn check(&self, what: &str) {
        println!(
            "{what}: {} timed tries, {} slower than {PROMPT:?}, slowest {:?}",
            self.tries, self.slow, self.slowest
        );
        assert_eq!(
            self.slow, 0,
            "{what} on a queue that had already failed waited past {PROMPT:?} in {} of {} \
             tries (slowest {:?}): nothing was left to wait for",
            self.slow, self.tries, self.slowest
        );
    }
}

/// Submit until the queue refuses with a terminal status; `NRTQ_BACKLOG_FULL` (not now) is
/// retried at once. The accepted tickets and the terminal refusal.
fn submit_until_refused(q: *mut nrtq_queue, io: &Io) -> (Vec<u64>, nrtq_status) {
    let mut accepted = Vec::new();
    let started = Instant::now();
    loop {
        match submit(q, io, 0) {
            Ok(t) => accepted.push(t),
            Err(NRTQ_BACKLOG_FULL) => std::thread::yield_now(),
            Err(s) => return (accepted, s),
        }
        assert!(
            started.elapsed() < WATCHDOG,
            "the queue never failed: {} accepted",
            accepted.len()
        );
    }
}

/// A small backlog: the unit dies at its first request, so only a few requests matter.
const SMALL: Setup = Setup {
    reap: false,
    depth: 3,
    backlog: 8,
    deadline_us: 0,
};

/// Kill the model's execution unit with a first queue (request 1 is unrecoverable) and
/// destroy that queue; the unit stays dead for the runtime's life.
fn kill_the_unit(rt: *mut nrtq_runtime, m: *mut neuron_sys::nrt_model_t, io: &Io) {
    let q = create_queue(rt, m, SMALL);
    let (_, refused) = submit_until_refused(q, io);
    drain_all(q, false);
    assert_eq!(
        refused,
        NRTQ_ERR_QUEUE_FAILED,
        "the first queue: {}",
        last_error()
    );
    assert_eq!(destroy(q, 1_000_000), NRTQ_OK, "{}", last_error());
    DELIVERED.lock().unwrap().clear();
}

/// A new queue on the dead unit: its first submit is refused with `NRTQ_ERR_QUEUE_FAILED`.
fn failed_queue_on_dead_unit(
    rt: *mut nrtq_runtime,
    m: *mut neuron_sys::nrt_model_t,
    io: &Io,
) -> *mut nrtq_queue {
    let q = create_queue(rt, m, SMALL);
    assert_eq!(
        submit(q, io, 0),
        Err(NRTQ_ERR_QUEUE_FAILED),
        "first submit to a queue on a dead unit: {}",
        last_error()
    );
    q
}

/// Up to `TRIES` queues created on an execution unit that is already dead, each with its
/// first submit refused; `call(q, timed)` waits on each (`timed` on even tries, so half the
/// calls are timed against `PROMPT` and half run without a limit under the watchdog), then
/// `after(q)` cleans up. `what` names the call in the timing check.
fn on_queues_born_on_a_dead_unit(
    what: &str,
    call: impl Fn(*mut nrtq_queue, bool) -> nrtq_status,
    after: impl Fn(*mut nrtq_queue),
) {
    let rt = open_runtime();
    let m = add_model(64, 20_000, &["unrecoverable after=0"]);
    let io = Io::new(64, 1.0);
    kill_the_unit(rt, m, &io);
    let mut timing = Timing::default();
    for i in 0..TRIES {
        let q = failed_queue_on_dead_unit(rt, m, &io);
        if i % 2 == 0 {
            timing.timed(&format!("{what}(q, 2 s)"), || call(q, true));
        } else {
            let s = watchdog(&format!("{what}(q, -1)"), WATCHDOG, || call(q, false));
            assert_eq!(s, NRTQ_OK, "{what}(-1): {}", last_error());
        }
        after(q);
        if timing.done() {
            break;
        }
    }
    timing.check(&format!("{what}(2 s)"));
    unload(m);
    close_runtime(rt);
    drop(io);
}

/// The timeout argument of a timed (2 s) or unlimited wait.
fn timeout_us(timed: bool) -> i64 {
    if timed {
        2_000_000
    } else {
        -1
    }
}

/// The documented case: create a queue on a dead unit, first submit refused, drain at once.
#[test]
fn drain_on_a_queue_failed_before_anyone_waited_returns_at_once() {
    isolated(
        "drain_on_a_queue_failed_before_anyone_waited_returns_at_once",
        &[],
        LIMIT,
        || {
            on_queues_born_on_a_dead_unit(
                "nrtq_queue_drain",
                |q, timed| nrtq_queue_drain(q, timeout_us(timed)),
                |q| assert_eq!(destroy(q, 1_000_000), NRTQ_OK, "{}", last_error()),
            );
            assert!(
                delivered().is_empty(),
                "refused submits completed something"
            );
        },
    );
}

/// Destroy right after the first submit was refused: nothing is on the device or in the
/// backlog, so it returns `NRTQ_OK` at once.
#[test]
fn destroy_of_a_queue_failed_before_anyone_waited_returns_at_once() {
    isolated(
        "destroy_of_a_queue_failed_before_anyone_waited_returns_at_once",
        &[],
        LIMIT,
        || {
            on_queues_born_on_a_dead_unit(
                "nrtq_queue_destroy",
                |q, timed| nrtq_queue_destroy(q, timeout_us(timed)),
                |_| {},
            );
        },
    );
}

/// Accepted requests, then the unit dies (request 1 is unrecoverable) and a submit is
/// refused with `NRTQ_ERR_QUEUE_FAILED`: at once, `wait` on the last accepted ticket (or
/// `drain`) must return as soon as that request was delivered. Each try needs a live unit
/// to kill, so each opens its own runtime (`nrt_init` starts a fresh device).
fn accepted_then_failed(op: &str) {
    let mut timing = Timing::default();
    for i in 0..TRIES {
        DELIVERED.lock().unwrap().clear();
        let rt = open_runtime();
        let m = add_model(64, 20_000, &["unrecoverable after=0"]);
        let io = Io::new(64, 1.0);
        let q = create_queue(rt, m, SMALL);
        let (accepted, refusal) = submit_until_refused(q, &io);
        assert_eq!(refusal, NRTQ_ERR_QUEUE_FAILED, "{}", last_error());
        let last = *accepted.last().expect("ticket 1 went to a live unit");
        let (timed_what, endless_what) = match op {
            "wait" => (
                format!("nrtq_queue_wait(q, {last}, 2 s)"),
                format!("nrtq_queue_wait(q, {last}, -1)"),
            ),
            _ => (
                "nrtq_queue_drain(q, 2 s)".to_string(),
                "nrtq_queue_drain(q, -1)".to_string(),
            ),
        };
        let call = |timeout: i64| match op {
            "wait" => nrtq_queue_wait(q, last, timeout),
            _ => nrtq_queue_drain(q, timeout),
        };
        if i % 2 == 0 {
            timing.timed(&timed_what, || call(2_000_000));
        } else {
            let s = watchdog(&endless_what, WATCHDOG, || call(-1));
            assert_eq!(s, NRTQ_OK, "{endless_what}: {}", last_error());
        }
        // Delivered means delivered: the waited-for completions are already in the log.
        let done = delivered();
        if op == "wait" {
            assert!(
                done.iter().any(|c| c.ticket == last),
                "{timed_what} returned before ticket {last} was delivered"
            );
        } else {
            assert_in_order_exactly_once(&done, &accepted);
        }
        assert!(done
            .iter()
            .all(|c| (c.status, c.nrt_status)
                == (NRTQ_ERR_QUEUE_FAILED, NRT_EXEC_UNIT_UNRECOVERABLE)));
        assert_eq!(destroy(q, 1_000_000), NRTQ_OK, "{}", last_error());
        unload(m);
        close_runtime(rt);
        drop(io);
        if timing.done() {
            break;
        }
    }
    timing.check(&format!("{op}(2 s)"));
}

#[test]
fn wait_on_the_last_ticket_of_a_failed_queue_returns_at_once() {
    isolated(
        "wait_on_the_last_ticket_of_a_failed_queue_returns_at_once",
        &[],
        LIMIT,
        || accepted_then_failed("wait"),
    );
}

#[test]
fn drain_after_accepted_requests_and_a_refusal_returns_at_once() {
    isolated(
        "drain_after_accepted_requests_and_a_refusal_returns_at_once",
        &[],
        LIMIT,
        || accepted_then_failed("drain"),
    );
}
