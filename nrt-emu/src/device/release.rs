//! The release thread: completes each request when the wall clock passes its simulated
//! end, in order per XU.
//!
//! It sleeps until `spin_ns` before the earliest pending deadline (an absolute futex
//! wait with 1-ns timer slack, see [`super::clock`]), spins the rest, and blocks with no
//! timeout when nothing is pending, so an idle device costs no CPU and makes no
//! periodic wake-ups. A schedule call wakes it only when it adds a deadline earlier
//! than the one it sleeps towards.
//!
//! Completing one request is, in this order: its effect (model run, bytes moved),
//! then its status (tracker entry or `*ret`), then the XU's completed counter (a
//! Release store, so whoever reads the counter with Acquire also sees the status),
//! then its notifications (fds, a blocked `nrt_execute`).

use super::fault::Planned;
use super::request::{Pending, Report};
use super::{clock, notify, Shared, Xu, RECENT};
use crate::observe::trace::Event;
use neuron_sys::{NRT_EXEC_UNIT_UNRECOVERABLE, NRT_FAILURE, NRT_STATUS, NRT_SUCCESS};
use std::cmp::Reverse;
use std::sync::atomic::Ordering;

/// The thread's body; returns once `stop` is set.
pub(super) fn run(s: &Shared) {
    clock::set_precise_timer_slack();
    s.cpu.lock().clock = clock::current_thread_cpu_clock();
    // The XUs with a deadline that has passed, in deadline order, each once: a late
    // thread pops many keys per pass (one per request), and checking each against a
    // list of the XUs already taken would cost O(busy XUs) per release.
    let mut due: Vec<usize> = Vec::new();
    let mut taken = vec![false; s.xus.len()];
    while !s.stop.load(Ordering::SeqCst) {
        let now = clock::now_ns();
        let mut next = None;
        let mut epoch = 0;
        {
            let mut h = s.heap.lock();
            while let Some(&Reverse((end, i))) = h.keys.peek() {
                if end > now {
                    break;
                }
                h.keys.pop();
                if !std::mem::replace(&mut taken[i], true) {
                    due.push(i);
                }
            }
            if due.is_empty() {
                next = h.keys.peek().map(|r| r.0 .0);
                h.sleeping_until = next.unwrap_or(u64::MAX);
                epoch = s.epoch.load(Ordering::SeqCst);
            } else {
                h.sleeping_until = 0;
            }
        }
        if !due.is_empty() {
            for &i in &due {
                taken[i] = false;
                release_due(s, i);
            }
            due.clear();
            continue;
        }
        // `shutdown` sets `stop` before it bumps `epoch`: if the epoch read above already
        // includes that bump, `stop` is visible now, and waiting on that epoch would
        // sleep through the only wake-up shutdown sends.
        if s.stop.load(Ordering::SeqCst) {
            break;
        }
        match next {
            None => clock::wait(&s.epoch, epoch, None),
            Some(t) if t > now.saturating_add(s.cfg.spin_ns) => {
                clock::wait(&s.epoch, epoch, Some(t - s.cfg.spin_ns))
            }
            Some(t) => {
                while clock::now_ns() < t && s.epoch.load(Ordering::Relaxed) == epoch {
                    std::hint::spin_loop();
                }
            }
        }
    }
    let mut c = s.cpu.lock();
    if let Some(clk) = c.clock.take() {
        c.finished_ns += clock::thread_cpu_ns(clk).unwrap_or(0);
    }
}

/// Release every request at the front of XU `i` whose end has passed.
fn release_due(s: &Shared, i: usize) {
    let x = &s.xus[i];
    let mut released = false;
    loop {
        let (p, rest) = {
            let mut st = x.state.lock();
            match st.fifo.front() {
                Some(f) if f.end <= clock::now_ns() => {}
                _ => break,
            }
            let p = st.fifo.pop_front().expect("front checked above");
            // A fatal request kills the XU before anyone can see it complete: from
            // here on schedule calls are refused, and what is queued behind it fails.
            let rest: Vec<Pending> = if p.planned == Planned::Fatal {
                x.dead.store(true, Ordering::Release);
                st.fifo.drain(..).collect()
            } else {
                Vec::new()
            };
            (p, rest)
        };
        released = true;
        let status = run_effect(&p);
        finish(s, x, p, status, true);
        for q in rest {
            finish(s, x, q, NRT_EXEC_UNIT_UNRECOVERABLE, false);
        }
    }
    if released {
        notify_pass(x);
    }
}

/// The status a request that reached its end is given before its work runs: success
/// (replaced by the work's own status in [`finish`]) or the injected one.
fn run_effect(p: &Pending) -> NRT_STATUS {
    match p.planned {
        Planned::Run => NRT_SUCCESS,
        Planned::Fail(code) => code,
        Planned::Fatal => NRT_EXEC_UNIT_UNRECOVERABLE,
        // A hanging request's end is u64::MAX, so it is never due.
        Planned::Hang => NRT_FAILURE,
    }
}

/// Report, count and publish one completion. `ran`: it occupied its timeline slot (so
/// its cost is busy time and its lateness is measured); otherwise it was aborted.
fn finish(s: &Shared, x: &Xu, mut p: Pending, mut status: NRT_STATUS, ran: bool) {
    if ran && p.planned == Planned::Run {
        if let Some(work) = p.work.take() {
            status =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(NRT_FAILURE);
        }
    }
    drop(p.work.take());
    let seq = x.addr.seq(p.num);
    let blocking = match p.report {
        Report::Tracker(t) => {
            if status != NRT_SUCCESS {
                t.record(seq, status);
            }
            None
        }
        Report::Status(slot) => {
            slot.store(status);
            None
        }
        Report::Blocking(b) => Some(b),
        Report::Discard => None,
    };
    let now = clock::now_ns();
    {
        let mut st = x.state.lock();
        let st = &mut *st;
        st.counters.completed += 1;
        if status != NRT_SUCCESS {
            st.counters.errors += 1;
        }
        if ran {
            st.counters.busy_ns += p.cost;
            st.counters.idle_ns += p.start.saturating_sub(st.idle_mark);
            st.idle_mark = st.idle_mark.max(p.end);
            st.counters.lateness.record(now.saturating_sub(p.end));
        }
        if st.recent.len() < RECENT {
            st.recent.resize(RECENT, (0, 0, 0));
        }
        st.recent[p.num as usize % RECENT] = (p.num, if ran { p.end } else { now }, now);
    }
    if let (Some(t), Some(label)) = (&s.trace, p.label.take()) {
        let (start, end) = if ran {
            (p.start, p.end)
        } else {
            (p.start.min(now), now)
        };
        t.lock().push(Event {
            lnc: x.addr.lnc,
            xu_id: x.addr.id(),
            seq,
            start_ns: start,
            end_ns: end,
            status,
            label,
        });
    }
    x.completed.store(p.num, Ordering::Release);
    if let Some(b) = blocking {
        b.complete(status);
    }
}

/// After a pass that completed requests on `x`: signal the one-shot fds now due and the
/// XU's eventfd (once per pass: the fd is a hint, the counter is the truth).
fn notify_pass(x: &Xu) {
    let done = x.completed.load(Ordering::Acquire);
    let mut fire = Vec::new();
    {
        let mut st = x.state.lock();
        let mut k = 0;
        while k < st.waiters.len() {
            if st.waiters[k].0 <= done {
                fire.push(st.waiters.swap_remove(k).1);
            } else {
                k += 1;
            }
        }
        if let Some(fd) = &st.xu_fd {
            notify::signal(fd);
        }
    }
    for fd in &fire {
        notify::signal(fd);
    }
}

/// Complete everything still queued on XU `i` at once with `status` (at `nrt_close`),
/// then drop its registrations.
pub(super) fn abort_all(s: &Shared, i: usize, status: NRT_STATUS) {
    let x = &s.xus[i];
    let rest: Vec<Pending> = x.state.lock().fifo.drain(..).collect();
    let any = !rest.is_empty();
    for p in rest {
        finish(s, x, p, status, false);
    }
    if any {
        notify_pass(x);
    }
    let mut st = x.state.lock();
    st.waiters.clear();
    st.xu_fd = None;
}
