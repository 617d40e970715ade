//! [`Queue`]: the application's handle. Each method locks the engine, does one thing to
//! it, and publishes the change ([`Shared::publish`]); waiting methods sleep on the
//! queue's condition variable until their condition holds, which `publish` makes sure
//! they hear of however the queue got there.
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::Delivery;
use super::engine::{Engine, StageStats};
use super::lifecycle::{Event, State};
use super::pipeline::{HostInput, HostOutput};
use super::request::{Callback, Completion, HostIo};
use super::shared::Shared;
use crate::backend::Work;
use crate::log::{log, Level};
use crate::stats::Snapshot;
use crate::status::{Error, NrtStatus, Result, Status};
use crate::sys;
use crate::trace;

/// A handle to one queue. Clones share the queue; the queue lives until destroyed.
#[derive(Clone)]
pub struct Queue(pub(crate) Arc<Shared>);

impl Queue {
    /// This queue's id (its track in the trace; its number in log messages).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The raw pointer behind this handle (what the C API hands out).
    pub fn as_ptr(&self) -> *const () {
        Arc::as_ptr(&self.0).cast()
    }

    /// If the queue failed terminally: the status its requests completed with, and the
    /// raw libnrt status.
    pub fn failure(&self) -> Option<(Status, NrtStatus)> {
        self.0.state().failure().map(|f| (f.status, f.nrt_status))
    }

    /// Accept one execution of the queue's model on (`input`, `output`). Never blocks: the
    /// request goes straight to the device when there is room and nothing waits before it,
    /// otherwise into the backlog; a full backlog is [`Status::BacklogFull`]. Returns the
    /// request's ticket (per queue, increasing from 1; a refused submit takes none).
    pub fn submit(&self, work: Work, user_data: u64, callback: Option<Callback>) -> Result<u64> {
        let s = &self.0;
        let (mut g, mark) = s.lock();
        let r = g.submit(&s.cfg, work, user_data, callback, sys::now_ns());
        if r.is_ok() {
            s.changed();
        }
        s.publish(&mut g, mark);
        r
    }

    /// Pipelines: accept one request on host buffers: `inputs` are written to the first
    /// model's input tensors, the model(s) run, and the last model's outputs are read into
    /// `outputs`; the completion arrives once the outputs are in host memory. Every input
    /// and output must be given once, by index or name, with exactly the tensor's size:
    /// otherwise [`Status::InvalidArgument`] with a message naming the tensor, and nothing
    /// is accepted. Never blocks (a full backlog is [`Status::BacklogFull`]).
    ///
    /// Buffer reuse: the input buffers may be reused, and the output buffers read, once the
    /// request has completed (its callback runs, or it is reaped), except when the pipeline
    /// gave up on it while it was on a unit ([`Status::DeadlineExceeded`],
    /// [`Status::Panic`], [`Status::Cancelled`] with raw status `NRT_TIMEOUT`, or
    /// [`Status::QueueFailed`] at the stage whose unit died): that unit may then still copy
    /// to or from them until the runtime is closed. When a unit dies, the other units
    /// finish what they hold before their requests complete.
    ///
    /// # Safety
    /// Every `data` pointer must point to `len` bytes that stay valid until the request
    /// completes; inputs must not change and outputs must not be read or written meanwhile.
    pub unsafe fn submit_host(
        &self,
        inputs: &[HostInput],
        outputs: &[HostOutput],
        user_data: u64,
        callback: Option<Callback>,
    ) -> Result<u64> {
        let s = &self.0;
        let (mut g, mark) = s.lock();
        let r = g.submit_host(&s.cfg, inputs, outputs, user_data, callback, sys::now_ns());
        if r.is_ok() {
            s.changed();
        }
        s.publish(&mut g, mark);
        r
    }

    /// Pools: `inputs` and `outputs` checked against this pipeline's models and put in
    /// their order, as [`Queue::submit_host`] would, without accepting anything.
    pub(crate) fn check_host(
        &self,
        inputs: &[HostInput],
        outputs: &[HostOutput],
    ) -> Result<HostIo> {
        self.0.engine.lock().check_host(inputs, outputs)
    }

    /// Pools: accept host buffers [`Queue::check_host`] put in order (on a pipeline of the
    /// same models).
    ///
    /// # Safety
    /// As for [`Queue::submit_host`].
    pub(crate) unsafe fn submit_checked_host(
        &self,
        io: HostIo,
        user_data: u64,
        callback: Option<Callback>,
    ) -> Result<u64> {
        let s = &self.0;
        let (mut g, mark) = s.lock();
        let r = g.submit_host_io(&s.cfg, io, user_data, callback, sys::now_ns());
        if r.is_ok() {
            s.changed();
        }
        s.publish(&mut g, mark);
        r
    }

    /// Like [`Queue::submit_host`], but waits up to `timeout` for backlog room (never on
    /// the completion thread).
    ///
    /// # Safety
    /// As for [`Queue::submit_host`].
    pub unsafe fn submit_host_timeout(
        &self,
        inputs: &[HostInput],
        outputs: &[HostOutput],
        user_data: u64,
        callback: Option<Callback>,
        timeout: Duration,
    ) -> Result<u64> {
        let s = &self.0;
        let deadline = Instant::now() + timeout;
        let (mut g, mark) = s.lock();
        while g.backlog_blocks(&s.cfg) && !s.thread.is_current() {
            g.space_waiters += 1;
            let timed_out = s.space.wait_until(&mut g, deadline).timed_out();
            g.space_waiters -= 1;
            if timed_out {
                break;
            }
        }
        let r = g.submit_host(&s.cfg, inputs, outputs, user_data, callback, sys::now_ns());
        if r.is_ok() {
            s.changed();
        }
        s.publish(&mut g, mark);
        r
    }

    /// Per-stage figures (busy time, requests queued, latency), in plan order: input
    /// writes, execution, output reads for a pipeline; one `Execute` stage for a plain
    /// queue.
    pub fn stage_stats(&self) -> Vec<StageStats> {
        self.0.engine.lock().stage_stats(sys::now_ns())
    }

    /// Pipelines: (device slots, slots free now); `None` for a plain queue.
    pub fn device_slots(&self) -> Option<(usize, usize)> {
        self.0.engine.lock().device_slots()
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
        let s = &self.0;
        let deadline = Instant::now() + timeout;
        let (mut g, mark) = s.lock();
        while g.backlog_blocks(&s.cfg) && !s.thread.is_current() {
            g.space_waiters += 1;
            let timed_out = s.space.wait_until(&mut g, deadline).timed_out();
            g.space_waiters -= 1;
            if timed_out {
                break;
            }
        }
        let r = g.submit(&s.cfg, work, user_data, callback, sys::now_ns());
        if r.is_ok() {
            s.changed();
        }
        s.publish(&mut g, mark);
        r
    }

    /// Take back a request that has not reached the device yet: it completes, once, as
    /// [`Status::Cancelled`]. [`Status::TooLate`] when it is on the device or completed.
    pub fn cancel(&self, ticket: u64) -> Result<()> {
        let s = &self.0;
        let (mut g, mark) = s.lock();
        let r = g.cancel(ticket, sys::now_ns());
        if r.is_ok() {
            s.changed();
        }
        s.publish(&mut g, mark);
        r
    }

    /// Sleep until `cond` holds or `timeout` passes. Refused on the completion thread,
    /// which alone could make it hold.
    fn wait_for(
        &self,
        what: &str,
        timeout: Option<Duration>,
        cond: impl Fn(&Engine) -> bool,
    ) -> Result<()> {
        let s = &self.0;
        if s.thread.is_current() {
            return Err(Error::new(
                Status::WouldDeadlock,
                format!("{what} from a completion callback would wait for itself"),
            ));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut g = s.engine.lock();
        while !cond(&g) {
            if s.sleep(&mut g, deadline) && !cond(&g) {
                return Err(Error::new(
                    Status::Timeout,
                    format!("{what} timed out on queue {}", s.id),
                ));
            }
        }
        Ok(())
    }

    /// Wait until request `ticket` has completed and been delivered (its callback has
    /// returned, or it is ready to reap). `None` waits without limit.
    pub fn wait(&self, ticket: u64, timeout: Option<Duration>) -> Result<()> {
        {
            let g = self.0.engine.lock();
            if !g.issued(ticket) {
                return Err(g.unknown_ticket(ticket));
            }
        }
        self.wait_for("wait", timeout, |g| g.is_delivered(ticket))
    }

    /// Wait until the backlog and the device are empty, every completion delivered and
    /// the fatal hook (if the queue failed) has run.
    pub fn drain(&self, timeout: Option<Duration>) -> Result<()> {
        self.wait_for("drain", timeout, Engine::is_drained)
    }

    /// Destroy the queue: cancel its backlog, wait up to `timeout` for what the device
    /// holds, deliver every completion (callback mode; in reap mode completions not yet
    /// reaped are dropped), close the reap descriptor, and detach the queue from its
    /// runtime. Returns `Timeout` when requests had to be abandoned on the device (they
    /// complete as cancelled, raw status `NRT_TIMEOUT`). Refused with `WouldDeadlock` on
    /// the completion thread, and with `InvalidArgument` when already destroyed.
    pub fn destroy(&self, timeout: Duration) -> Result<()> {
        let s = &self.0;
        if s.thread.is_current() {
            return Err(Error::new(
                Status::WouldDeadlock,
                "a queue cannot be destroyed from a callback on its own completion thread",
            ));
        }
        {
            let (mut g, mark) = s.lock();
            if matches!(g.state(), State::Closing { .. } | State::Closed) {
                return Err(Error::new(
                    Status::InvalidArgument,
                    format!("queue {} was already destroyed", s.id),
                ));
            }
            g.apply(Event::Destroy, sys::now_ns());
            s.publish(&mut g, mark);
        }
        let result = match self.wait_for("destroy", Some(timeout), Engine::is_closed) {
            Err(e) if e.status == Status::Timeout => {
                let (mut g, mark) = s.lock();
                g.apply(Event::Abandon, sys::now_ns());
                s.publish(&mut g, mark);
                drop(g);
                // The completion thread delivers those at once; nothing else can block it.
                let _ = self.wait_for("destroy", None, Engine::is_closed);
                Err(Error::new(
                    Status::Timeout,
                    "destroy timed out; requests still on the device were completed as cancelled",
                ))
            }
            other => other,
        };
        s.thread.forget(s.id);
        let keep = s.engine.lock().detach();
        s.home.detach(s.id, keep);
        trace::flush();
        log!(Level::Info, "queue {} destroyed", s.id);
        result
    }

    /// Reap mode: move up to `out.len()` completions, oldest first, into `out`.
    pub fn reap(&self, out: &mut [Completion]) -> Result<usize> {
        let s = &self.0;
        if s.cfg.delivery != Delivery::Reap {
            return Err(Error::new(
                Status::WrongMode,
                "reap on a queue in callback mode",
            ));
        }
        let now = sys::now_ns();
        Ok(s.engine.lock().reap(out, now))
    }

    /// Reap mode: the descriptor that turns readable when completions are waiting. It is
    /// a hint (liburing-style): after it fires, reap until nothing is returned. Closed by
    /// destroy before it returns.
    pub fn reap_fd(&self) -> Option<RawFd> {
        self.0.engine.lock().reap_fd()
    }

    /// Drain up to `out.len()` of the most recent failed requests (oldest first). Each
    /// error is returned once here, independently of its delivery as a completion.
    /// Also returns how many errors were dropped because the log was full.
    pub fn errors(&self, out: &mut [Completion]) -> (usize, u64) {
        self.0.engine.lock().errors(out)
    }

    /// Counters and latency percentiles now.
    pub fn stats(&self) -> Snapshot {
        self.0.engine.lock().stats()
    }
}
