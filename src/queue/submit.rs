//! Submitting: a request goes straight to the device when there is room and nothing waits
//! before it (no hop to the completion thread), otherwise into the backlog, which the
//! completion thread refills from. A full backlog is "not now", never a wait, unless the
//! caller asked to wait ([`Queue::submit_timeout`]).
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::MutexGuard;

use super::handle::Queue;
use super::inner::Inner;
use super::request::{Callback, Request};
use super::state::{Event, Failure};
use crate::backend::Work;
use crate::status::{Error, Result, Status, NRT_EXEC_UNIT_UNRECOVERABLE, NRT_QUEUE_FULL};
use crate::sys;
use crate::trace;

impl Queue {
    /// Accept one execution of the queue's model on (`input`, `output`). Never blocks: the
    /// request goes straight to the device when there is room and nothing waits before it,
    /// otherwise into the backlog; a full backlog is [`Status::BacklogFull`]. Returns the
    /// request's ticket (per-queue, increasing from 1).
    pub fn submit(&self, work: Work, user_data: u64, callback: Option<Callback>) -> Result<u64> {
        let shared = &self.0;
        let mut g = shared.inner.lock();
        self.submit_locked(&mut g, work, user_data, callback)
    }

    fn submit_locked(
        &self,
        g: &mut MutexGuard<'_, Inner>,
        work: Work,
        user_data: u64,
        callback: Option<Callback>,
    ) -> Result<u64> {
        let shared = &self.0;
        if !g.state.accepts() {
            let (status, nrt) = g.state.refusal();
            return Err(Error::nrt(
                status,
                nrt,
                format!("queue {} no longer accepts work ({:?})", shared.id, g.state),
            ));
        }
        let now = sys::now_ns();
        let ticket = g.next_ticket;
        let req = Request {
            ticket,
            work,
            user_data,
            callback,
            submit_ns: now,
        };
        if g.direct_room(&shared.cfg) {
            match g.schedule(req, now) {
                Ok(()) => {}
                Err((req, NRT_QUEUE_FULL)) => {
                    g.blocked_full = g.in_flight.is_empty();
                    g.backlog.push_back(req);
                }
                Err((req, st)) => {
                    drop(req);
                    if st == NRT_EXEC_UNIT_UNRECOVERABLE {
                        let f = Failure {
                            status: Status::QueueFailed,
                            nrt_status: st,
                        };
                        g.apply(Event::Fatal(f), now, shared.id, shared.cfg.error_log);
                        shared.set_active(g);
                        shared.reactor.kick();
                        return Err(Error::nrt(
                            Status::QueueFailed,
                            st,
                            "the execution unit is unrecoverable",
                        ));
                    }
                    return Err(Error::nrt(
                        Status::Runtime,
                        st,
                        format!("nrta_execute_schedule refused the request (NRT status {st})"),
                    ));
                }
            }
        } else if g.backlog.len() < shared.cfg.backlog {
            g.backlog.push_back(req);
        } else {
            return Err(Error::new(
                Status::BacklogFull,
                format!(
                    "backlog of queue {} is full ({})",
                    shared.id, shared.cfg.backlog
                ),
            ));
        }
        g.next_ticket += 1;
        g.submitted += 1;
        shared.changes.fetch_add(1, Ordering::AcqRel);
        g.outstanding.insert(ticket);
        trace::instant(shared.id, "submitted", ticket, now);
        shared.set_active(g);
        Ok(ticket)
    }

    /// Like [`Queue::submit`], but waits up to `timeout` for backlog room. On the
    /// completion thread (inside a callback) it never waits, since only that thread could
    /// make room.
    pub fn submit_timeout(
        &self,
        work: Work,
        user_data: u64,
        callback: Option<Callback>,
        timeout: Duration,
    ) -> Result<u64> {
        let shared = &self.0;
        let deadline = std::time::Instant::now() + timeout;
        let mut g = shared.inner.lock();
        let mut callback = callback;
        loop {
            let full = g.state.accepts()
                && g.backlog.len() >= shared.cfg.backlog
                && !g.direct_room(&shared.cfg);
            if !full || shared.on_own_reactor() {
                return self.submit_locked(&mut g, work, user_data, callback.take());
            }
            g.space_waiters += 1;
            let timed_out = shared.space.wait_until(&mut g, deadline).timed_out();
            g.space_waiters -= 1;
            if timed_out {
                return self.submit_locked(&mut g, work, user_data, callback.take());
            }
        }
    }
}
