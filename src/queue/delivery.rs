//! How completions leave the queue: in callback mode the completion thread runs each
//! callback unlocked and then reports what it delivered; in reap mode the application
//! takes completions with [`Queue::reap`], woken by the reap descriptor.
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;

use super::config::Delivery;
use super::handle::Queue;
use super::request::{Completion, Done};
use super::shared::Shared;
use super::state::Event;
use crate::status::{Error, Result, Status};
use crate::sys;
use crate::trace;

impl Shared {
    /// After the completion thread ran a batch of callbacks: mark their tickets delivered,
    /// record notification latencies, wake waiters.
    pub(crate) fn delivered(&self, tickets: &[u64], latencies: &[u64]) {
        let mut g = self.inner.lock();
        for t in tickets {
            g.outstanding.remove(t);
        }
        for &l in latencies {
            g.complete_to_notify.record(l);
        }
        if g.in_flight.is_empty() && g.backlog.is_empty() && g.done.is_empty() {
            let now = sys::now_ns();
            g.apply(Event::Drained, now, self.id, self.cfg.error_log);
        }
        if g.waiters > 0 {
            self.notify_pending.store(true, Ordering::Release);
        }
        let active = g.is_active();
        self.active.store(active, Ordering::SeqCst);
    }

    pub(crate) fn run_callback(&self, d: Done, now: u64) {
        let Done {
            completion,
            callback,
            ..
        } = d;
        trace::instant(self.id, "delivered", completion.ticket, now);
        match callback {
            Some(cb) => cb(&completion),
            None => {
                if let Some(h) = &self.cfg.on_complete {
                    h(&completion)
                }
            }
        }
    }

    pub(crate) fn retire_ns(d: &Done) -> u64 {
        d.retire_ns
    }
}

impl Queue {
    /// Reap mode: move up to `out.len()` completions, oldest first, into `out`.
    pub fn reap(&self, out: &mut [Completion]) -> Result<usize> {
        let shared = &self.0;
        if shared.cfg.delivery != Delivery::Reap {
            return Err(Error::new(
                Status::WrongMode,
                "reap on a queue in callback mode",
            ));
        }
        let now = sys::now_ns();
        let mut g = shared.inner.lock();
        let mut n = 0;
        while n < out.len() {
            let Some(d) = g.done.pop_front() else { break };
            g.complete_to_notify.record(now.saturating_sub(d.retire_ns));
            trace::instant(shared.id, "delivered", d.completion.ticket, now);
            out[n] = d.completion;
            n += 1;
        }
        if g.done.is_empty() {
            if let Some(b) = &shared.reap_bell {
                b.drain();
            }
            g.reap_rung = false;
        }
        Ok(n)
    }

    /// Reap mode: the descriptor that turns readable when completions are waiting. It is
    /// a hint (liburing-style): after it fires, reap until nothing is returned.
    pub fn reap_fd(&self) -> Option<RawFd> {
        self.0.reap_bell.as_ref().map(|b| b.raw())
    }
}
