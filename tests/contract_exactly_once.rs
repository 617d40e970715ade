//! Exactly once, from the header: "every accepted request (`NRTQ_OK`) completes exactly
//! once", with its own `user_data`, in submission order within its queue, under injected
//! faults: libnrt refuses every 100th schedule call (`NRT_RESOURCE`) and every 101st request
//! on the execution unit completes with an execution error, about 1% each. 100,000
//! requests through two queues sharing one unit: one in callback mode fed by two threads,
//! one in reap mode fed and reaped by a third.
mod contract_support;
mod emu_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use contract_support::*;
use emu_support::{add_model, unload, Io};

const PER_QUEUE: u64 = 50_000;
const REFUSE_EVERY: usize = 100;
const ERROR_EVERY: usize = 101;

/// What one submitting thread saw: (ticket, user_data) of each accepted request, and how
/// many submits libnrt refused at once (`NRTQ_ERR_RUNTIME`).
#[derive(Default)]
struct Fed {
    accepted: Vec<(u64, u64)>,
    refused_runtime: usize,
}

/// Submit `count` accepted requests tagged `tag << 40 | i`; `reap`: also reap as it goes.
fn feed(q: *mut nrtq_queue, io: &Io, tag: u64, count: u64, reap: bool) -> Fed {
    let mut fed = Fed::default();
    let mut i = 0;
    while (fed.accepted.len() as u64) < count {
        let user_data = (tag << 40) | i;
        i += 1;
        let mut ticket = 0;
        let s = nrtq_queue_submit_timeout(
            q,
            io.inputs.cast(),
            io.outputs.cast(),
            None,
            user_data,
            if reap { 0 } else { 5_000_000 },
            &mut ticket,
        );
        match s {
            NRTQ_OK => fed.accepted.push((ticket, user_data)),
            NRTQ_ERR_RUNTIME => fed.refused_runtime += 1,
            NRTQ_BACKLOG_FULL if reap => {}
            s => panic!("submit: {s:?}: {}", last_error()),
        }
        if reap && i % 32 == 0 {
            reap_into_log(q);
        }
    }
    fed
}

/// Check one queue's deliveries against what its feeders were told; returns the counts of
/// (runtime refusals delivered, execution errors).
fn check_queue(name: &str, done: &[nrtq_completion], fed: &[&Fed]) -> (usize, usize) {
    let accepted: Vec<u64> = fed
        .iter()
        .flat_map(|f| f.accepted.iter().map(|&(t, _)| t))
        .collect();
    assert_exactly_once(done, &accepted);
    let user_data: HashMap<u64, u64> = fed
        .iter()
        .flat_map(|f| f.accepted.iter().copied())
        .collect();
    let (mut runtime, mut exec) = (0, 0);
    for c in done {
        assert_eq!(
            Some(&c.user_data),
            user_data.get(&c.ticket),
            "{name}: ticket {} came back with another request's user_data",
            c.ticket
        );
        match (c.status, c.nrt_status) {
            (NRTQ_OK, 0) => {}
            (NRTQ_ERR_RUNTIME, NRT_RESOURCE) => runtime += 1,
            (NRTQ_ERR_EXEC, NRT_EXEC_COMPLETED_WITH_ERR) => exec += 1,
            (s, raw) => panic!("{name}: ticket {}: unexpected {s:?}/{raw}", c.ticket),
        }
    }
    (runtime, exec)
}

#[test]
fn every_accepted_request_completes_exactly_once_under_errors_and_refusals() {
    isolated(
        "every_accepted_request_completes_exactly_once_under_errors_and_refusals",
        &[("NRT_EMU_FAULTS", "reject every=100 code=4")],
        Duration::from_secs(600),
        || {
            let started = Instant::now();
            let rt = open_runtime();
            let m = add_model(16, 0, &["error every=101 code=1004"]);
            let ios: Vec<Io> = (0..3).map(|k| Io::new(16, k as f32)).collect();
            let callbacks = create_queue(
                rt,
                m,
                Setup {
                    depth: 3,
                    ..Setup::default()
                },
            );
            let reaped = create_queue(
                rt,
                m,
                Setup {
                    reap: true,
                    ..Setup::default()
                },
            );
            // Raw pointers are not Send; the queue handles are documented as usable from
            // any number of threads at once.
            let (cb, rp) = (callbacks as usize, reaped as usize);
            let fed: Vec<Fed> = std::thread::scope(|s| {
                let ios = &ios;
                let a = s.spawn(move || feed(cb as *mut _, &ios[0], 1, PER_QUEUE / 2, false));
                let b = s.spawn(move || feed(cb as *mut _, &ios[1], 2, PER_QUEUE / 2, false));
                let c = s.spawn(move || feed(rp as *mut _, &ios[2], 3, PER_QUEUE, true));
                [a, b, c].map(|h| h.join().unwrap()).into()
            });
            drain_all(callbacks, false);
            drain_all(reaped, true);
            let all = delivered();
            let (of_cb, of_rp): (Vec<nrtq_completion>, Vec<nrtq_completion>) =
                all.into_iter().partition(|c| c.user_data >> 40 != 3);
            let (rt_cb, ex_cb) = check_queue("callback queue", &of_cb, &[&fed[0], &fed[1]]);
            let (rt_rp, ex_rp) = check_queue("reap queue", &of_rp, &[&fed[2]]);

            // Exact fault arithmetic: every schedule call is an accepted request or a
            // submit refused at once; every 100th call is refused; every request that
            // reached the unit has a number there, and every 101st fails.
            let accepted = of_cb.len() + of_rp.len();
            let refused_at_submit: usize = fed.iter().map(|f| f.refused_runtime).sum();
            let refused_delivered = rt_cb + rt_rp;
            let calls = accepted + refused_at_submit;
            println!(
                "accepted {accepted} ({} + {}), refused at submit {refused_at_submit}, \
                 refusals delivered {refused_delivered}, execution errors {}, in {:?}",
                of_cb.len(),
                of_rp.len(),
                ex_cb + ex_rp,
                started.elapsed()
            );
            assert_eq!(refused_at_submit + refused_delivered, calls / REFUSE_EVERY);
            assert_eq!(ex_cb + ex_rp, (accepted - refused_delivered) / ERROR_EVERY);
            // Last, so that a break of order does not hide the counts above.
            assert_in_order(&of_cb);
            assert_in_order(&of_rp);
            assert_eq!(destroy(callbacks, 5_000_000), NRTQ_OK);
            assert_eq!(destroy(reaped, 5_000_000), NRTQ_OK);
            unload(m);
            close_runtime(rt);
            drop(ios);
        },
    );
}
