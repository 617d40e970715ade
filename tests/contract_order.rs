//! Delivery order, from the header: completions arrive "in completion order (which is
//! submission order within a queue)", whatever made a request complete: the device, a
//! refusal by libnrt of a request from the backlog, an execution error, a dead execution
//! unit, a deadline, or a teardown (in-flight requests with their own status, then the
//! cancelled backlog). Each case runs in callback and in reap mode, in its own process (its
//! faults are set in `NRT_EMU_FAULTS`, read at `nrt_init`, or in the model), and asserts
//! that the delivered tickets are strictly increasing, each accepted one exactly once,
//! with the status the injected fault calls for.
mod contract_support;
mod emu_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use contract_support::*;
use emu_support::{add_model, unload, Io};

const LIMIT: Duration = Duration::from_secs(120);

/// What one burst of submits gave: the accepted tickets, and every refusal's status.
struct Burst {
    accepted: Vec<u64>,
    refused: Vec<nrtq_status>,
}

/// Submit up to `n` requests as fast as possible; stop at the first terminal refusal
/// (`NRTQ_ERR_QUEUE_FAILED`). Other refusals are kept and the burst goes on.
fn burst(q: *mut nrtq_queue, io: &Io, n: u64) -> Burst {
    let mut b = Burst {
        accepted: Vec::new(),
        refused: Vec::new(),
    };
    for i in 0..n {
        match submit(q, io, i) {
            Ok(t) => b.accepted.push(t),
            Err(s) => {
                b.refused.push(s);
                if s == NRTQ_ERR_QUEUE_FAILED {
                    break;
                }
            }
        }
    }
    b
}

/// The statuses as (ticket, status, raw) for the assertion messages.
fn show(done: &[nrtq_completion]) -> String {
    done.iter()
        .filter(|c| c.status != NRTQ_OK)
        .map(|c| format!("{}:{:?}/{}", c.ticket, c.status, c.nrt_status))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One queue on a fresh runtime: the model (with its fault lines), a burst of `n`, drain,
/// then `check` on what was delivered; tear down and close.
fn scenario(
    model_time_ns: u64,
    faults: &[&str],
    setup: Setup,
    n: u64,
    check: impl FnOnce(*mut nrtq_queue, &Burst, &[nrtq_completion]),
) {
    let rt = open_runtime();
    let m = add_model(64, model_time_ns, faults);
    let io = Io::new(64, 1.0);
    let q = create_queue(rt, m, setup);
    let b = burst(q, &io, n);
    drain_all(q, setup.reap);
    let done = delivered();
    println!(
        "accepted {}, refused {:?}; delivered {}: {}",
        b.accepted.len(),
        b.refused,
        done.len(),
        status_summary(&done)
    );
    assert_in_order_exactly_once(&done, &b.accepted);
    check(q, &b, &done);
    assert_eq!(NULL_COMPLETIONS.load(Ordering::SeqCst), 0);
    assert_eq!(destroy(q, 5_000_000), NRTQ_OK, "{}", last_error());
    unload(m);
    close_runtime(rt);
    drop(io);
}

const REJECT_EVERY_20: (&str, &str) = ("NRT_EMU_FAULTS", "reject every=20 code=4");

/// libnrt refuses every 20th schedule call (`NRT_RESOURCE`). A refused request that came
/// from the backlog completes with `NRTQ_ERR_RUNTIME` and the raw status, in its place;
/// one refused at submit is not accepted. Every schedule call is one accepted request or
/// one refused submit, so refusals = (accepted + refused submits) / 20 exactly.
fn refusals(reap: bool) {
    let setup = Setup {
        reap,
        ..Setup::default()
    };
    // 100 µs per request: the burst of 200 outruns the device, so most requests pass
    // through the backlog.
    scenario(100_000, &[], setup, 200, |_, b, done| {
        let refused_at_submit = b.refused.iter().filter(|&&s| s == NRTQ_ERR_RUNTIME).count();
        assert_eq!(
            refused_at_submit,
            b.refused.len(),
            "refusals other than NRTQ_ERR_RUNTIME: {:?}",
            b.refused
        );
        let mut refused_from_backlog = 0;
        for c in done {
            match (c.status, c.nrt_status) {
                (NRTQ_OK, 0) => {}
                (NRTQ_ERR_RUNTIME, NRT_RESOURCE) => refused_from_backlog += 1,
                _ => panic!(
                    "ticket {}: unexpected {:?}/{}",
                    c.ticket, c.status, c.nrt_status
                ),
            }
        }
        let calls = b.accepted.len() + refused_at_submit;
        assert_eq!(
            refused_from_backlog + refused_at_submit,
            calls / 20,
            "{calls} schedule calls, every 20th refused: {}",
            show(done)
        );
        assert!(
            refused_from_backlog >= 3,
            "the test needs refusals from the backlog, saw {refused_from_backlog}"
        );
    });
}

#[test]
fn refusals_from_the_backlog_keep_submission_order_callbacks() {
    isolated(
        "refusals_from_the_backlog_keep_submission_order_callbacks",
        &[REJECT_EVERY_20],
        LIMIT,
        || refusals(false),
    );
}

#[test]
fn refusals_from_the_backlog_keep_submission_order_reap() {
    isolated(
        "refusals_from_the_backlog_keep_submission_order_reap",
        &[REJECT_EVERY_20],
        LIMIT,
        || refusals(true),
    );
}

/// Every 10th request on the unit completes with `NRT_EXEC_COMPLETED_WITH_ERR`: on a fresh
/// runtime this queue's ticket t is the unit's request t, so exactly tickets 10, 20, ...
/// complete with `NRTQ_ERR_EXEC`.
fn execution_errors(reap: bool) {
    let setup = Setup {
        reap,
        ..Setup::default()
    };
    scenario(
        20_000,
        &["error every=10 code=1004"],
        setup,
        200,
        |_, b, done| {
            assert_eq!(b.accepted.len(), 200, "refused: {:?}", b.refused);
            for c in done {
                let want = if c.ticket % 10 == 0 {
                    (NRTQ_ERR_EXEC, NRT_EXEC_COMPLETED_WITH_ERR)
                } else {
                    (NRTQ_OK, 0)
                };
                assert_eq!((c.status, c.nrt_status), want, "ticket {}", c.ticket);
            }
        },
    );
}

#[test]
fn execution_errors_keep_submission_order_callbacks() {
    isolated(
        "execution_errors_keep_submission_order_callbacks",
        &[],
        LIMIT,
        || execution_errors(false),
    );
}

#[test]
fn execution_errors_keep_submission_order_reap() {
    isolated(
        "execution_errors_keep_submission_order_reap",
        &[],
        LIMIT,
        || execution_errors(true),
    );
}

/// Request 51 kills the execution unit: tickets 1–50 complete `NRTQ_OK`, every later
/// accepted one `NRTQ_ERR_QUEUE_FAILED` with the raw `NRT_EXEC_UNIT_UNRECOVERABLE`, and the
/// fatal callback fires once.
fn dead_unit(reap: bool) {
    let setup = Setup {
        reap,
        ..Setup::default()
    };
    // 1 ms per request: the burst has 50 ms to outrun the unit's death, even on a
    // loaded machine.
    scenario(
        1_000_000,
        &["unrecoverable after=50"],
        setup,
        200,
        |q, b, done| {
            assert!(
                b.accepted.len() > 50,
                "the burst must outrun the unit's death: {} accepted",
                b.accepted.len()
            );
            for c in done {
                let want = if c.ticket <= 50 {
                    (NRTQ_OK, 0)
                } else {
                    (NRTQ_ERR_QUEUE_FAILED, NRT_EXEC_UNIT_UNRECOVERABLE)
                };
                assert_eq!((c.status, c.nrt_status), want, "ticket {}", c.ticket);
            }
            assert_eq!(failure(q).0, NRTQ_ERR_QUEUE_FAILED);
            assert_eq!(FATAL_CALLS.load(Ordering::SeqCst), 1, "fatal callbacks");
            assert_eq!(
                FATAL_STATUS.load(Ordering::SeqCst),
                NRTQ_ERR_QUEUE_FAILED as u32
            );
        },
    );
}

#[test]
fn a_dead_unit_keeps_submission_order_callbacks() {
    isolated(
        "a_dead_unit_keeps_submission_order_callbacks",
        &[],
        LIMIT,
        || dead_unit(false),
    );
}

#[test]
fn a_dead_unit_keeps_submission_order_reap() {
    isolated(
        "a_dead_unit_keeps_submission_order_reap",
        &[],
        LIMIT,
        || dead_unit(true),
    );
}

/// Request 50 never completes; with a 500 ms deadline the queue fails: tickets 1–49
/// complete `NRTQ_OK`, 50 and everything after it `NRTQ_ERR_DEADLINE` (the fatal
/// callback's "every request still in the queue completes with that status").
fn deadline(reap: bool) {
    let setup = Setup {
        reap,
        // Far above any healthy request's time on the device, even on a loaded machine.
        deadline_us: 500_000,
        ..Setup::default()
    };
    scenario(100_000, &["hang seq=50"], setup, 200, |q, b, done| {
        assert_eq!(b.accepted.len(), 200, "refused: {:?}", b.refused);
        for c in done {
            let want = if c.ticket < 50 {
                NRTQ_OK
            } else {
                NRTQ_ERR_DEADLINE
            };
            assert_eq!(c.status, want, "ticket {} ({})", c.ticket, c.nrt_status);
        }
        assert_eq!(failure(q).0, NRTQ_ERR_DEADLINE);
        assert_eq!(FATAL_CALLS.load(Ordering::SeqCst), 1, "fatal callbacks");
        assert_eq!(
            FATAL_STATUS.load(Ordering::SeqCst),
            NRTQ_ERR_DEADLINE as u32
        );
    });
}

#[test]
fn a_deadline_keeps_submission_order_callbacks() {
    isolated(
        "a_deadline_keeps_submission_order_callbacks",
        &[],
        LIMIT,
        || deadline(false),
    );
}

#[test]
fn a_deadline_keeps_submission_order_reap() {
    isolated("a_deadline_keeps_submission_order_reap", &[], LIMIT, || {
        deadline(true)
    });
}

/// Every cause in one queue: refusals (every 20th call), execution errors (every 7th
/// request), then the unit dies after request 120. Order and exactly-once hold; statuses
/// are only the injected ones; nothing fails the queue before the unit dies, and after the
/// first `NRTQ_ERR_QUEUE_FAILED` every delivery is one.
fn every_cause(reap: bool) {
    let setup = Setup {
        reap,
        ..Setup::default()
    };
    scenario(
        50_000,
        &["error every=7 code=1004", "unrecoverable after=120"],
        setup,
        400,
        |_, _, done| {
            let first_failed = done
                .iter()
                .position(|c| c.status == NRTQ_ERR_QUEUE_FAILED)
                .expect("the unit died, so some request must report it");
            for c in &done[..first_failed] {
                assert!(
                    matches!(
                        (c.status, c.nrt_status),
                        (NRTQ_OK, 0)
                            | (NRTQ_ERR_EXEC, NRT_EXEC_COMPLETED_WITH_ERR)
                            | (NRTQ_ERR_RUNTIME, NRT_RESOURCE)
                    ),
                    "ticket {}: unexpected {:?}/{}",
                    c.ticket,
                    c.status,
                    c.nrt_status
                );
            }
            for c in &done[first_failed..] {
                assert_eq!(
                    (c.status, c.nrt_status),
                    (NRTQ_ERR_QUEUE_FAILED, NRT_EXEC_UNIT_UNRECOVERABLE),
                    "ticket {} after the unit died",
                    c.ticket
                );
            }
        },
    );
}

#[test]
fn every_cause_together_keeps_submission_order_callbacks() {
    isolated(
        "every_cause_together_keeps_submission_order_callbacks",
        &[REJECT_EVERY_20],
        LIMIT,
        || every_cause(false),
    );
}

#[test]
fn every_cause_together_keeps_submission_order_reap() {
    isolated(
        "every_cause_together_keeps_submission_order_reap",
        &[REJECT_EVERY_20],
        LIMIT,
        || every_cause(true),
    );
}

/// Destroy with three requests on the device (ticket 2 of them fails with an execution
/// error) and seven in the backlog: the completions arrive in ticket order, the in-flight
/// ones first with their own status, then the backlog as `NRTQ_ERR_CANCELLED`.
#[test]
fn destroy_delivers_in_flight_then_cancelled_backlog_in_ticket_order() {
    isolated(
        "destroy_delivers_in_flight_then_cancelled_backlog_in_ticket_order",
        &[],
        LIMIT,
        || {
            let rt = open_runtime();
            // 5 ms per request: the ten submits and the destroy come long before ticket 10
            // could reach the device (35 ms).
            let m = add_model(64, 5_000_000, &["error seq=2 code=1004"]);
            let io = Io::new(64, 1.0);
            let q = create_queue(rt, m, Setup::default());
            let b = burst(q, &io, 10);
            assert_eq!(b.accepted, (1..=10).collect::<Vec<u64>>());
            assert_eq!(destroy(q, 10_000_000), NRTQ_OK, "{}", last_error());
            let done = delivered();
            println!("delivered: {}", status_summary(&done));
            assert_in_order_exactly_once(&done, &b.accepted);
            // Tickets 1-3 went to the device at submit (room, nothing before them).
            assert_eq!(
                done[..3]
                    .iter()
                    .map(|c| (c.status, c.nrt_status))
                    .collect::<Vec<_>>(),
                [
                    (NRTQ_OK, 0),
                    (NRTQ_ERR_EXEC, NRT_EXEC_COMPLETED_WITH_ERR),
                    (NRTQ_OK, 0)
                ]
            );
            // Whatever else reached the device before the destroy completed normally; the
            // rest, at the end, was cancelled.
            let cancelled = done
                .iter()
                .skip_while(|c| c.status != NRTQ_ERR_CANCELLED)
                .count();
            assert!(cancelled >= 1, "nothing was cancelled: {}", show(&done));
            assert!(
                done[done.len() - cancelled..]
                    .iter()
                    .all(|c| c.status == NRTQ_ERR_CANCELLED),
                "{}",
                show(&done)
            );
            unload(m);
            close_runtime(rt);
            drop(io);
        },
    );
}

/// Destroy whose timeout abandons a hung device: it returns `NRTQ_TIMEOUT`; the requests
/// the device holds complete as `NRTQ_ERR_CANCELLED` with raw `NRT_TIMEOUT`, then the
/// backlog as `NRTQ_ERR_CANCELLED`, all in ticket order.
#[test]
fn destroy_timeout_delivers_abandoned_then_cancelled_in_ticket_order() {
    isolated(
        "destroy_timeout_delivers_abandoned_then_cancelled_in_ticket_order",
        &[],
        LIMIT,
        || {
            let rt = open_runtime();
            let m = add_model(64, 20_000, &["hang seq=2"]);
            let io = Io::new(64, 1.0);
            let q = create_queue(rt, m, Setup::default());
            let b = burst(q, &io, 10);
            assert_eq!(b.accepted, (1..=10).collect::<Vec<u64>>());
            let w = watchdog("wait(1)", Duration::from_secs(30), || {
                nrtq_queue_wait(q, 1, 10_000_000)
            });
            assert_eq!(w, NRTQ_OK, "{}", last_error());
            assert_eq!(destroy(q, 200_000), NRTQ_TIMEOUT, "{}", last_error());
            let done = delivered();
            println!("delivered: {}", show(&done));
            assert_in_order_exactly_once(&done, &b.accepted);
            assert_eq!((done[0].status, done[0].nrt_status), (NRTQ_OK, 0));
            // 2 and 3 were on the device when it hung.
            for c in &done[1..3] {
                assert_eq!(
                    (c.status, c.nrt_status),
                    (NRTQ_ERR_CANCELLED, NRT_TIMEOUT),
                    "ticket {}",
                    c.ticket
                );
            }
            assert!(done[3..].iter().all(|c| c.status == NRTQ_ERR_CANCELLED));
            unload(m);
            close_runtime(rt);
            drop(io);
        },
    );
}

/// A queue failed by its deadline refuses submits with `NRTQ_ERR_QUEUE_FAILED`, the one
/// refusal the header documents for a terminal queue ("dead execution unit, deadline,
/// panic"), while `nrtq_queue_failure` and the completions of the requests it held say
/// `NRTQ_ERR_DEADLINE`.
#[test]
fn a_queue_failed_by_its_deadline_refuses_submits_with_queue_failed() {
    isolated(
        "a_queue_failed_by_its_deadline_refuses_submits_with_queue_failed",
        &[],
        LIMIT,
        || {
            let rt = open_runtime();
            let m = add_model(64, 10_000, &["hang seq=3"]);
            let io = Io::new(64, 1.0);
            let q = create_queue(
                rt,
                m,
                Setup {
                    deadline_us: 300_000,
                    ..Setup::default()
                },
            );
            let b = burst(q, &io, 10);
            assert_eq!(b.accepted, (1..=10).collect::<Vec<u64>>());
            drain_all(q, false);
            let done = delivered();
            assert_in_order_exactly_once(&done, &b.accepted);
            assert!(
                done[..2].iter().all(|c| c.status == NRTQ_OK),
                "{}",
                show(&done)
            );
            assert!(
                done[2..].iter().all(|c| c.status == NRTQ_ERR_DEADLINE),
                "requests held past the deadline: {}",
                show(&done)
            );
            assert_eq!(failure(q).0, NRTQ_ERR_DEADLINE);
            assert_eq!(FATAL_CALLS.load(Ordering::SeqCst), 1);

            let s = submit(q, &io, 99).expect_err("a failed queue accepted a request");
            assert_eq!(
                s,
                NRTQ_ERR_QUEUE_FAILED,
                "submit to a queue failed by its deadline: {}",
                last_error()
            );
            let mut t = 0;
            let s = nrtq_queue_submit_timeout(
                q,
                io.inputs.cast(),
                io.outputs.cast(),
                None,
                99,
                1_000_000,
                &mut t,
            );
            assert_eq!(s, NRTQ_ERR_QUEUE_FAILED, "submit_timeout: {}", last_error());
            assert_eq!(destroy(q, 1_000_000), NRTQ_OK, "{}", last_error());
            assert_eq!(
                delivered().len(),
                10,
                "a refused submit completed something"
            );
            unload(m);
            close_runtime(rt);
            drop(io);
        },
    );
}
