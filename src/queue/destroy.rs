//! Teardown: refuse new work and cancel the backlog, wait (bounded) for what the device
//! holds, complete anything left as cancelled, and detach the queue from its runtime,
//! which keeps the channel's per-request storage alive if requests were abandoned on the
//! device.
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::config::Delivery;
use super::handle::Queue;
use super::inner::Inner;
use super::state::{Event, State};
use crate::log::{log, Level};
use crate::status::{Error, Result, Status, NRT_TIMEOUT};
use crate::sys;
use crate::trace;

impl Queue {
    /// Destroy the queue: cancel its backlog, wait up to `timeout` for what the device
    /// holds, deliver every completion, and detach the queue from its runtime. Returns
    /// `Timeout` when requests had to be abandoned on the device (they complete as
    /// cancelled). Refused with `WouldDeadlock` from a callback on the completion thread,
    /// and with `InvalidArgument` when already destroyed.
    pub fn destroy(&self, timeout: Duration) -> Result<()> {
        let shared = &self.0;
        if !shared.registry.contains(self) {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("queue {} was already destroyed", shared.id),
            ));
        }
        self.begin_destroy()?;
        let result = self.finish_destroy(timeout);
        shared.reactor.remove(shared.id);
        let (channel, abandoned) = {
            let mut g = shared.inner.lock();
            (g.channel.take(), g.abandoned)
        };
        shared.registry.remove(self, channel.filter(|_| abandoned));
        trace::flush();
        log!(Level::Info, "queue {} destroyed", shared.id);
        result
    }

    /// Begin destruction: refuse new work and cancel the backlog.
    pub(crate) fn begin_destroy(&self) -> Result<()> {
        let shared = &self.0;
        if shared.on_own_reactor() {
            return Err(Error::new(
                Status::WouldDeadlock,
                "a queue cannot be destroyed from a callback on its own completion thread",
            ));
        }
        let mut g = shared.inner.lock();
        g.apply(
            Event::Destroy,
            sys::now_ns(),
            shared.id,
            shared.cfg.error_log,
        );
        shared.space.notify_all();
        shared.active.store(true, Ordering::SeqCst);
        drop(g);
        shared.reactor.kick();
        Ok(())
    }

    /// Wait up to `timeout` for the queue to reach `Closed`. On timeout, whatever the
    /// device still holds completes as cancelled (with `NRT_TIMEOUT` as its raw status)
    /// and `Timeout` is returned; the queue closes either way.
    pub(crate) fn finish_destroy(&self, timeout: Duration) -> Result<()> {
        let shared = &self.0;
        let closed = |g: &Inner| {
            matches!(g.state, State::Closed)
                || (shared.cfg.delivery == Delivery::Reap
                    && g.in_flight.is_empty()
                    && g.backlog.is_empty())
        };
        match self.wait_for("destroy", Some(timeout), closed) {
            Ok(()) => Ok(()),
            Err(e) if e.status == Status::Timeout => {
                let mut g = shared.inner.lock();
                let now = sys::now_ns();
                g.abandoned |= !g.in_flight.is_empty();
                while let Some(fl) = g.in_flight.pop_front() {
                    let d = fl.req.finish(
                        Status::Cancelled,
                        NRT_TIMEOUT,
                        Some(fl.sched_ns),
                        now,
                        shared.id,
                    );
                    g.push_done(d, shared.cfg.error_log);
                }
                shared.active.store(true, Ordering::SeqCst);
                drop(g);
                shared.reactor.kick();
                // The completion thread delivers those promptly; give it a moment.
                let _ = self.wait_for("destroy", Some(Duration::from_secs(5)), closed);
                Err(Error::new(
                    Status::Timeout,
                    "destroy timed out; requests still on the device were completed as cancelled",
                ))
            }
            Err(e) => Err(e),
        }
    }
}
