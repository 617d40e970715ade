//! The engine: what one queue's lock guards, composed of the parts that own their data
//! (lifecycle, backlog, stages, timing, outbox), and the two things that happen to it — a
//! submit, and a pass of the completion thread (detect → retire → advance → refill →
//! plan). Each reads top to bottom here; the parts do the bookkeeping.
//!
//! Stages: the engine holds one [`Ring`] per stage, i.e. per (execution unit, queue) the
//! queue uses, each with its own timing and a waiting list. A request carries its plan (a
//! short list of steps, each naming a stage and its backend work) and a cursor. A plain
//! queue is the one-step plan on its one stage (COMPUTE); a pipeline's requests run input
//! writes → execution(s) → output reads. When a ring retires a request whose plan has more
//! steps, the same pass puts it on the next stage's ring, or on that stage's waiting list
//! if the ring has no room; the last step moves it to the outbox. So every promise of the
//! queue holds for pipelines with no second copy.
//!
//! Exactly once: a request is a value that sits in one container at a time (backlog →
//! ring → waiting → ring … → outbox) and is completed only by [`Request::finish`], which
//! consumes it. Every edge that empties a container is in this file: [`Engine::retire`]
//! (ring → next stage or outbox), [`Engine::refill`] (waiting/backlog → ring, or → outbox
//! on refusal), [`Engine::apply`] (the lifecycle's actions: fail all, cancel the backlog,
//! abandon the rings) and [`Engine::cancel`]. The queue reaches `Closed` only when all are
//! empty.
//!
//! Device slots (pipelines): a request takes one when it leaves the backlog and gives it
//! back when it completes: after its last step, or at an error once nothing of it can
//! still run on the device. A request given up while on a unit never gives its slot
//! back, and the memory outlives the queue. A dead unit gives up only its own ring: the
//! queue fails (no more scheduling; everything between stages and in the backlog
//! completes at once), but the other units finish what they hold, and those requests
//! complete as they retire. A deadline, a panic or a destroy timeout gives up every ring.
use std::collections::VecDeque;

use super::backlog::Backlog;
use super::config::{Delivery, QueueConfig};
use super::lifecycle::{Action, Event, Failure, State};
use super::outbox::Outbox;
use super::pipeline::{HostInput, HostOutput, Kept, Parts, Pipeline};
use super::request::{Callback, Done, HostIo, Job, Request, Stage};
use super::ring::{Flight, Ring};
use super::timing::{Timing, WaitPlan};
use crate::backend::{Channel, Outcome, Refusal, Unit, Work};
use crate::log::{log, Level};
use crate::stats::{Histogram, Snapshot};
use crate::status::{Error, NrtStatus, Result, Status};
use crate::sys::EventFd;
use crate::trace;

/// `NRT_TIMEOUT`: the raw status of requests given up on (deadline, destroy timeout).
const NRT_TIMEOUT: NrtStatus = neuron_sys::NRT_TIMEOUT;

/// nrtq's status for a device outcome: the one mapping from the backend's words to ours.
fn outcome_status(o: Outcome) -> (Status, NrtStatus) {
    match o {
        Outcome::Ok => (Status::Ok, 0),
        Outcome::ExecError(raw) => (Status::ExecError, raw),
        Outcome::DeadUnit(raw) => (Status::QueueFailed, raw),
    }
}

fn dead_unit(raw: NrtStatus) -> Failure {
    Failure {
        status: Status::QueueFailed,
        nrt_status: raw,
    }
}

/// What the completion thread learns from a pass, to act on with no lock held.
pub(crate) struct Pass {
    /// Callbacks to run, in ticket order (callback mode).
    pub(crate) deliver: VecDeque<Done>,
    /// The queue failed: run the fatal hook (once per queue).
    pub(crate) fatal: Option<Failure>,
    /// Pull mode: ask the refill hook for this many requests.
    pub(crate) refill_room: usize,
    pub(crate) wait: WaitPlan,
}

/// What `wait`, `drain` and destroy wait on; a change wakes them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct WaitMark(u64, bool, State);

/// One stage's figures, as [`Engine::stage_stats`] reports them.
#[derive(Clone, Debug, PartialEq)]
pub struct StageStats {
    /// The stage.
    pub stage: Stage,
    /// Requests on its unit now.
    pub in_flight: u64,
    /// Requests whose previous step is done, waiting for room on the unit.
    pub waiting: u64,
    /// Steps it has retired.
    pub retired: u64,
    /// Time its unit held at least one of the queue's requests, ns (as nrtq saw it: from
    /// scheduling the first to seeing the last complete).
    pub busy_ns: u64,
    /// Time from entering the stage (waiting or scheduled) to leaving it, p50 and p99, ns.
    pub latency_p50_ns: u64,
    pub latency_p99_ns: u64,
    /// The learned time per step on the unit, ns (0 until learned).
    pub predicted_ns: u64,
}

/// One ring of the engine with what belongs to it alone.
struct StageRing {
    unit: Unit,
    ring: Ring,
    timing: Timing,
    /// Requests whose previous step is done, in order, waiting for room on the ring.
    waiting: VecDeque<Request>,
    retired: u64,
    busy_ns: u64,
    busy_since: Option<u64>,
    latency: Histogram,
    /// The trace track of this stage (pipelines only: a plain queue has its own).
    track: Option<u64>,
}

impl StageRing {
    fn mark_busy(&mut self, now: u64) {
        if self.busy_since.is_none() && !self.ring.is_empty() {
            self.busy_since = Some(now);
        }
    }

    fn mark_idle(&mut self, now: u64) {
        if self.ring.is_empty() {
            if let Some(s) = self.busy_since.take() {
                self.busy_ns += now.saturating_sub(s);
            }
        }
    }
}

/// Everything one queue's mutex guards.
pub(super) struct Engine {
    id: u64,
    lifecycle: State,
    /// The failure whose fatal hook has not run yet.
    fatal_pending: Option<Failure>,
    backlog: Backlog,
    stages: Vec<StageRing>,
    /// The stage new requests start on.
    entry: usize,
    /// The stage the current wait plan waits for (spinning checks it).
    awaited: usize,
    pipeline: Option<Pipeline>,
    /// The stage whose unit was found dead (the failure gives up only that ring; the
    /// others finish what they hold).
    dead_stage: Option<usize>,
    /// The steps one ring retires in a pass, before they move on (kept to reuse its
    /// allocation).
    retired_scratch: Vec<(Flight, Outcome)>,
    outbox: Outbox,
    next_ticket: u64,
    /// Pull mode: the refill hook has been asked for work at least once.
    refill_primed: bool,
    /// Passes that found work (the completion thread's wake-ups for this queue).
    wakeups: u64,
    /// Threads blocked in wait/drain/destroy, and in `submit_timeout`.
    pub(super) waiters: usize,
    pub(super) space_waiters: usize,
}

/// The trace track of stage `i` of queue `id` (apart from every queue's own track).
fn stage_track(id: u64, i: usize) -> u64 {
    (1 << 40) | (id << 4) | i as u64
}

/// How long a balanced pipeline may look at a stage's completion later than its own
/// plan asks, so that one wake-up serves several stages (see [`Engine::plan`]): half the
/// notification latency the balanced policy accepts for a batch.
const COALESCE_NS: u64 = 150_000;

/// The shortest poll of a stage whose notification the wait plan could not use.
const STAGE_POLL_MIN_NS: u64 = 10_000;
const STAGE_POLL_MAX_NS: u64 = 1_000_000;

impl Engine {
    pub(super) fn new(
        id: u64,
        cfg: &QueueConfig,
        parts: Parts,
        reap_bell: Option<EventFd>,
        initial_margin_ns: u64,
    ) -> Engine {
        let pipelined = parts.pipeline.is_some();
        let ring_slots = parts.pipeline.as_ref().map_or(cfg.slots(), |p| p.slots());
        let stages = parts
            .stages
            .into_iter()
            .enumerate()
            .map(|(i, (unit, channel, per_slot))| {
                let track = pipelined.then(|| {
                    let tid = stage_track(id, i);
                    trace::queue_created(tid, &format!("queue {id}, stage {}", unit.name()));
                    tid
                });
                StageRing {
                    unit,
                    ring: Ring::new(channel, ring_slots, per_slot),
                    timing: Timing::new(initial_margin_ns),
                    waiting: VecDeque::new(),
                    retired: 0,
                    busy_ns: 0,
                    busy_since: None,
                    latency: Histogram::default(),
                    track,
                }
            })
            .collect::<Vec<_>>();
        let entry = parts.pipeline.as_ref().map_or(0, |p| p.entry());
        Engine {
            id,
            lifecycle: State::Open,
            fatal_pending: None,
            backlog: Backlog::new(cfg.backlog),
            stages,
            entry,
            awaited: entry,
            pipeline: parts.pipeline,
            dead_stage: None,
            retired_scratch: Vec::new(),
            outbox: Outbox::new(reap_bell, cfg.error_log),
            next_ticket: 1,
            refill_primed: cfg.on_refill.is_none(),
            wakeups: 0,
            waiters: 0,
            space_waiters: 0,
        }
    }

    // ---- submit -------------------------------------------------------------------

    /// Accept one execution of the queue's model on the caller's tensor sets (a plain
    /// queue). See [`Engine::accept`].
    pub(super) fn submit(
        &mut self,
        cfg: &QueueConfig,
        work: Work,
        user_data: u64,
        callback: Option<Callback>,
        now: u64,
    ) -> Result<u64> {
        if self.pipeline.is_some() {
            return Err(Error::new(
                Status::InvalidArgument,
                format!(
                    "queue {} is a pipeline: it takes host buffers (submit_host), not tensor sets",
                    self.id
                ),
            ));
        }
        let step = super::request::Step {
            stage: self.entry,
            op: crate::backend::Op::Execute { model: None, work },
        };
        self.accept(cfg, Job::One(step), user_data, callback, now)
    }

    /// Accept one pipeline request on the caller's host buffers, checked against the
    /// models' tensors first (a mismatch is refused with the tensor named, and takes no
    /// ticket). See [`Engine::accept`].
    pub(super) fn submit_host(
        &mut self,
        cfg: &QueueConfig,
        inputs: &[HostInput],
        outputs: &[HostOutput],
        user_data: u64,
        callback: Option<Callback>,
        now: u64,
    ) -> Result<u64> {
        let io = self.check_host(inputs, outputs)?;
        self.submit_host_io(cfg, io, user_data, callback, now)
    }

    /// A request's host buffers checked against the pipeline's models and put in their
    /// order, or why not (a plain queue, a wrong size or name: nothing is accepted).
    pub(super) fn check_host(
        &self,
        inputs: &[HostInput],
        outputs: &[HostOutput],
    ) -> Result<HostIo> {
        let Some(p) = &self.pipeline else {
            return Err(Error::new(
                Status::InvalidArgument,
                format!(
                    "queue {} is not a pipeline: it takes tensor sets (submit), not host buffers",
                    self.id
                ),
            ));
        };
        p.host_io(inputs, outputs).map_err(|e| {
            Error::new(
                e.status,
                format!("queue {}: {}; nothing was accepted", self.id, e.message),
            )
        })
    }

    /// Accept host buffers [`Engine::check_host`] put in order.
    pub(super) fn submit_host_io(
        &mut self,
        cfg: &QueueConfig,
        io: HostIo,
        user_data: u64,
        callback: Option<Callback>,
        now: u64,
    ) -> Result<u64> {
        if !self.lifecycle.accepts() {
            return Err(self.refusal());
        }
        self.accept(cfg, Job::Host(Box::new(io)), user_data, callback, now)
    }

    /// Accept one request: straight onto the device when there is room and nothing waits
    /// before it (no hop to the completion thread), otherwise into the backlog. A full
    /// backlog is "not now". A refused submit consumes no ticket.
    fn accept(
        &mut self,
        cfg: &QueueConfig,
        job: Job,
        user_data: u64,
        callback: Option<Callback>,
        now: u64,
    ) -> Result<u64> {
        if !self.lifecycle.accepts() {
            return Err(self.refusal());
        }
        let req = Request::new(self.next_ticket, job, user_data, callback, now);
        if self.direct_room(cfg) {
            match self.enter(req, now) {
                Ok(()) => {}
                Err((req, Refusal::Full)) => self.park(req),
                Err((req, Refusal::DeadUnit(raw))) => {
                    self.release_slot(&req);
                    self.dead_stage.get_or_insert(self.entry);
                    self.apply(Event::Fatal(dead_unit(raw)), now);
                    return Err(Error::nrt(
                        Status::QueueFailed,
                        raw,
                        format!(
                            "queue {}: the {} unit is unrecoverable",
                            self.id,
                            self.stages[self.entry].unit.name()
                        ),
                    ));
                }
                Err((req, Refusal::Other(raw))) => {
                    self.release_slot(&req);
                    return Err(Error::nrt(
                        Status::Runtime,
                        raw,
                        format!(
                            "queue {}: the runtime refused the request's {} step{}; nothing \
                             was accepted",
                            self.id,
                            self.stages[self.entry].unit.name(),
                            self.why_refused(&req)
                        ),
                    ));
                }
            }
        } else if !self.backlog.is_full() {
            self.backlog.push_back(req);
        } else {
            return Err(Error::new(
                Status::BacklogFull,
                format!(
                    "queue {}: the backlog is full ({} requests); retry after completions",
                    self.id, cfg.backlog
                ),
            ));
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        trace::instant(self.id, "submitted", ticket, now);
        Ok(ticket)
    }

    /// Put a request on the entry stage, a pipeline request taking its device slot (and
    /// so its steps) first. On refusal the request comes back, with its slot.
    fn enter(&mut self, mut req: Request, now: u64) -> std::result::Result<(), (Request, Refusal)> {
        if matches!(req.job, Job::Host(_)) {
            let Job::Host(io) = std::mem::replace(&mut req.job, Job::Ready(Vec::new())) else {
                unreachable!("matched above")
            };
            let p = self
                .pipeline
                .as_mut()
                .expect("host requests exist only in pipelines");
            let (slot, steps) = p.take(*io).expect("the caller saw a free slot");
            req.job = Job::Ready(steps);
            req.device_slot = Some(slot);
        }
        req.stage_ns = now;
        let s = &mut self.stages[self.entry];
        s.ring.schedule(req, now)?;
        s.mark_busy(now);
        Ok(())
    }

    /// A request the entry unit had no room for: one that holds a device slot waits at
    /// the entry stage (its steps are built), any other goes back to the backlog's front.
    fn park(&mut self, req: Request) {
        if req.device_slot.is_some() {
            self.stages[self.entry].waiting.push_front(req);
        } else {
            self.backlog.push_front(req);
        }
    }

    /// A request is done with its device slot and nothing of it runs on the device.
    fn release_slot(&mut self, req: &Request) {
        if let (Some(slot), Some(p)) = (req.device_slot, self.pipeline.as_mut()) {
            p.give_back(slot);
        }
    }

    /// Why a submit is refused in the current state.
    fn refusal(&self) -> Error {
        let (status, raw) = self.lifecycle.refusal();
        let why = match self.lifecycle.failure() {
            Some(f) if status == Status::QueueFailed => {
                let (cause, why) = f.status.describe();
                format!(
                    "queue {} failed terminally ({cause}: {why}) and accepts no more work; \
                     destroy it and create a new one",
                    self.id
                )
            }
            _ => format!("queue {} is being destroyed", self.id),
        };
        Error::nrt(status, raw, why)
    }

    /// ": <the tensor that does not fit the model>" after a refusal, or nothing.
    fn why_refused(&self, req: &Request) -> String {
        let Some(crate::backend::Op::Execute { work, .. }) = req.step().map(|s| &s.op) else {
            return String::new();
        };
        let stage = req.step().map_or(self.entry, |s| s.stage);
        self.stages[stage]
            .ring
            .mismatch(work)
            .map_or_else(String::new, |m| format!(": {m}"))
    }

    /// Whether a submitter may put its request straight on the device: nothing waits
    /// before it, a device slot is free (pipelines) and the entry unit holds fewer than
    /// the target depth.
    fn direct_room(&self, cfg: &QueueConfig) -> bool {
        let s = &self.stages[self.entry];
        self.backlog.is_empty()
            && s.waiting.is_empty()
            && self.pipeline.as_ref().is_none_or(Pipeline::has_slot)
            && s.ring.has_room()
            && !s.ring.blocked_full()
            && s.ring.len() < self.entry_depth(cfg)
    }

    /// How many requests to keep on the entry unit: a plain queue's target depth (see
    /// [`Timing::target_depth`]); a pipeline fills its entry unit as far as its device
    /// slots and the unit itself (what `NRT_QUEUE_FULL` taught) allow, so that the later
    /// stages never run dry while the first one's completions wait to be seen (the slots
    /// bound the memory and the latency).
    fn entry_depth(&self, cfg: &QueueConfig) -> usize {
        let s = &self.stages[self.entry];
        match &self.pipeline {
            None => s.timing.target_depth(cfg, &s.ring),
            Some(p) => p.slots().min(s.ring.hw_cap()),
        }
    }

    /// Whether `submit_timeout` should wait for backlog room.
    pub(super) fn backlog_blocks(&self, cfg: &QueueConfig) -> bool {
        self.lifecycle.accepts() && self.backlog.is_full() && !self.direct_room(cfg)
    }

    /// Take a request that has not reached the device yet back: it completes, once, as
    /// cancelled. One already on the device (or completed) cannot be recalled.
    pub(super) fn cancel(&mut self, ticket: u64, now: u64) -> Result<()> {
        if ticket == 0 || ticket >= self.next_ticket {
            return Err(self.unknown_ticket(ticket));
        }
        match self.backlog.remove(ticket) {
            Some(r) => {
                self.outbox
                    .push(r.finish(Status::Cancelled, 0, None, None, now, self.id));
                Ok(())
            }
            None => Err(Error::new(
                Status::TooLate,
                format!(
                    "queue {}: ticket {ticket} has reached the device or completed; it cannot \
                     be recalled and completes with its own status",
                    self.id
                ),
            )),
        }
    }

    pub(super) fn unknown_ticket(&self, ticket: u64) -> Error {
        Error::new(
            Status::UnknownTicket,
            format!("ticket {ticket} was not issued by queue {}", self.id),
        )
    }

    pub(super) fn issued(&self, ticket: u64) -> bool {
        ticket != 0 && ticket < self.next_ticket
    }

    // ---- the completion thread's pass --------------------------------------------

    /// One pass: read the counters and retire what the units finished (moving requests
    /// on to their next stage), fail the queue on a dead unit or a passed deadline,
    /// refill the units, plan the next wait, and hand back what must run unlocked (fatal
    /// hook, callbacks, refill hook).
    pub(super) fn pass(
        &mut self,
        cfg: &QueueConfig,
        mut now: u64,
        margin_ns: u64,
        excess: &dyn Fn(u64) -> u64,
    ) -> Pass {
        if self.needs_thread(cfg) {
            self.wakeups += 1;
        }
        let (retired, dead) = self.retire(&mut now);
        if let Some(f) = dead {
            self.apply(Event::Fatal(f), now);
        }
        if let Some(f) = self.deadline_passed(cfg, now) {
            self.apply(Event::Fatal(f), now);
        }
        if let Some(f) = self.refill(cfg, now) {
            self.apply(Event::Fatal(f), now);
        }
        let refill_room = self.pull_room(cfg, retired);
        let wait = self.plan(cfg, now, margin_ns, excess);
        if cfg.delivery == Delivery::Reap {
            self.outbox.ring_bell();
        }
        Pass {
            deliver: self.outbox.take_for_callbacks(),
            fatal: self.fatal_pending.take(),
            refill_room,
            wait,
        }
    }

    /// Retire every step the units have completed (one reading of each counter, a
    /// notification being only a hint): a request with more steps moves to its next
    /// stage's waiting list, any other completes. Returns how many requests completed,
    /// and whether a unit died. `now` moves forward to when the counters were read.
    fn retire(&mut self, now: &mut u64) -> (usize, Option<Failure>) {
        let mut completed = 0;
        let mut dead = None;
        for i in 0..self.stages.len() {
            let (n, d) = self.retire_stage(i, now);
            completed += n;
            dead = dead.or(d);
        }
        (completed, dead)
    }

    fn retire_stage(&mut self, i: usize, now: &mut u64) -> (usize, Option<Failure>) {
        let s = &mut self.stages[i];
        let Some(oldest) = s.ring.oldest().map(|f| f.seq) else {
            return (0, None);
        };
        let prev = s.timing.prev_reading();
        let completed = match s.ring.read_completed() {
            Ok(c) => c,
            Err(raw) => {
                log!(
                    Level::Error,
                    "queue {}: reading the {} unit's completed sequence failed with NRT \
                     status {raw}",
                    self.id,
                    s.unit.name()
                );
                if let Some(f) = self.lifecycle.failure() {
                    // The queue failed already (another unit died first) and this unit
                    // has now died too: it will never report what it holds, so give its
                    // requests up now, as the first dead unit's were. Left on the ring they
                    // would never complete, and the queue would stay busy for ever.
                    self.give_up(f.status, f.nrt_status, *now, Some(i));
                    return (0, None);
                }
                self.dead_stage.get_or_insert(i);
                return (0, Some(dead_unit(raw)));
            }
        };
        // The counter held `completed` by the time it was read, even if this thread was
        // delayed between taking `now` and reading: that is when the completions are seen.
        *now = crate::sys::now_ns().max(*now);
        let now = *now;
        s.timing.reading(&s.ring, now, completed);
        if completed < oldest {
            return (0, None);
        }
        s.timing.observe_head(&s.ring, now, prev);
        let mut done = std::mem::take(&mut self.retired_scratch);
        s.ring.retire_upto(completed, |f, o| done.push((f, o)));
        s.mark_idle(now);
        let mut dead = None;
        let mut finished = 0;
        for (f, outcome) in done.drain(..) {
            if let Outcome::DeadUnit(raw) = outcome {
                dead = Some(dead_unit(raw));
                self.dead_stage.get_or_insert(i);
            }
            finished += usize::from(self.step_done(i, f, outcome, now));
        }
        self.retired_scratch = done;
        (finished, dead)
    }

    /// A step retired from stage `i`: on to the next stage, or complete. Returns whether
    /// the request completed.
    fn step_done(&mut self, i: usize, f: Flight, outcome: Outcome, now: u64) -> bool {
        let (status, raw) = outcome_status(outcome);
        let s = &mut self.stages[i];
        s.retired += 1;
        s.latency.record(now.saturating_sub(f.req.stage_ns));
        if let Some(tid) = s.track {
            trace::slice(
                tid,
                s.unit.name(),
                f.req.ticket,
                f.sched_ns,
                now,
                status.code(),
            );
        }
        let stage = Stage::of(s.unit);
        let mut req = f.req;
        if outcome == Outcome::Ok && req.has_next_step() {
            if let Some(fail) = self.lifecycle.failure() {
                // The queue failed while this unit finished the step: the request goes no
                // further, and nothing of it runs any more.
                self.release_slot(&req);
                self.outbox.push(req.finish(
                    fail.status,
                    fail.nrt_status,
                    Some(stage),
                    Some(f.sched_ns),
                    now,
                    self.id,
                ));
                return true;
            }
            req.cursor += 1;
            req.stage_ns = now;
            let next = req.step().expect("has a next step").stage;
            self.stages[next].waiting.push_back(req);
            return false;
        }
        // Every part of this step has completed and no later step was scheduled: nothing
        // of the request runs on the device any more, so its slot is free.
        self.release_slot(&req);
        self.outbox
            .record_latency(now.saturating_sub(req.submit_ns));
        self.outbox
            .push(req.finish(status, raw, Some(stage), Some(f.sched_ns), now, self.id));
        true
    }

    /// The oldest request on some unit has been there longer than the deadline.
    fn deadline_passed(&self, cfg: &QueueConfig, now: u64) -> Option<Failure> {
        let d = cfg.deadline?.as_nanos() as u64;
        let (s, oldest) = self
            .stages
            .iter()
            .filter_map(|s| Some((s, s.ring.oldest()?)))
            .find(|(_, o)| now.saturating_sub(o.sched_ns) > d)?;
        log!(
            Level::Error,
            "queue {}: ticket {} passed the deadline on the {} unit",
            self.id,
            oldest.req.ticket,
            s.unit.name()
        );
        Some(Failure {
            status: Status::DeadlineExceeded,
            nrt_status: NRT_TIMEOUT,
        })
    }

    /// Move work onto the units while they have room: each stage's waiting requests first
    /// (their earlier steps are done), then backlog work onto the entry stage. A request
    /// the runtime refuses on its own completes with `Runtime` (in ticket order, by the
    /// outbox); a dead unit fails the queue.
    fn refill(&mut self, cfg: &QueueConfig, now: u64) -> Option<Failure> {
        // Requests already in the pipeline keep moving while the queue closes; only a
        // failure (which has completed them all) stops them. Except a step that was half
        // scheduled (its unit said NRT_QUEUE_FULL after taking its first parts) on a unit
        // the failure left running: it completes only once its last parts are on the unit
        // (or refused), so those still go on; otherwise it would wait for ever.
        if self.lifecycle.failure().is_some() {
            for s in &mut self.stages {
                s.ring.resume();
            }
            return None;
        }
        if self.lifecycle == State::Closed {
            return None;
        }
        for i in 0..self.stages.len() {
            if let Some(f) = self.advance(i, now) {
                return Some(f);
            }
        }
        let target = self.entry_depth(cfg);
        while self.lifecycle.schedules()
            && self.pipeline.as_ref().is_none_or(Pipeline::has_slot)
            && self.stages[self.entry].waiting.is_empty()
            && self.stages[self.entry].ring.len() < target
            && self.stages[self.entry].ring.has_room()
        {
            let Some(req) = self.backlog.pop_front() else {
                break;
            };
            match self.enter(req, now) {
                Ok(()) => {}
                Err((req, Refusal::Full)) => {
                    self.park(req);
                    break;
                }
                Err((req, Refusal::DeadUnit(raw))) => {
                    self.park(req);
                    self.dead_stage.get_or_insert(self.entry);
                    return Some(dead_unit(raw));
                }
                Err((req, Refusal::Other(raw))) => self.refused(req, raw, now),
            }
        }
        None
    }

    /// Schedule stage `i`'s half-scheduled step and waiting requests while its unit has
    /// room.
    fn advance(&mut self, i: usize, now: u64) -> Option<Failure> {
        self.stages[i].ring.resume();
        // Up to what the unit has shown it takes: a schedule call it would refuse with
        // NRT_QUEUE_FULL costs a call for nothing (the ring probes the limit now and then).
        while self.stages[i].ring.has_room()
            && self.stages[i].ring.len() < self.stages[i].ring.hw_cap()
        {
            let s = &mut self.stages[i];
            let Some(req) = s.waiting.pop_front() else {
                break;
            };
            match s.ring.schedule(req, now) {
                Ok(()) => s.mark_busy(now),
                Err((req, Refusal::Full)) => {
                    s.waiting.push_front(req);
                    break;
                }
                Err((req, Refusal::DeadUnit(raw))) => {
                    s.waiting.push_front(req);
                    self.dead_stage.get_or_insert(i);
                    return Some(dead_unit(raw));
                }
                Err((req, Refusal::Other(raw))) => self.refused(req, raw, now),
            }
        }
        None
    }

    /// The runtime refused a request's step on its own: it completes with `Runtime`
    /// (nothing of it runs on the device, so its slot is free).
    fn refused(&mut self, req: Request, raw: NrtStatus, now: u64) {
        let stage = req.step().map_or(self.entry, |s| s.stage);
        let unit = self.stages[stage].unit;
        log!(
            Level::Warn,
            "queue {}: the runtime refused the {} step of ticket {}{}: {}",
            self.id,
            unit.name(),
            req.ticket,
            self.why_refused(&req),
            crate::status::nrt_status_text(raw)
        );
        self.release_slot(&req);
        self.outbox.push(req.finish(
            Status::Runtime,
            raw,
            Some(Stage::of(unit)),
            None,
            now,
            self.id,
        ));
    }

    /// Pull mode: how many requests to ask the refill hook for (after completions, and
    /// once at the start).
    fn pull_room(&mut self, cfg: &QueueConfig, retired: usize) -> usize {
        if cfg.on_refill.is_none() || !self.lifecycle.accepts() {
            return 0;
        }
        if retired == 0 && self.refill_primed {
            return 0;
        }
        self.refill_primed = true;
        let s = &self.stages[self.entry];
        self.entry_depth(cfg)
            .saturating_sub(s.ring.len() + s.waiting.len() + self.backlog.len())
    }

    /// How the completion thread should wait: each busy stage plans for itself (see
    /// [`Timing::plan`]); the earliest spin window wins, wake-ups are the earliest asked,
    /// and one notification is waited on — a stage whose notification cannot be, and
    /// that asked for no wake-up, is polled at half its step time.
    fn plan(
        &mut self,
        cfg: &QueueConfig,
        now: u64,
        margin_ns: u64,
        excess: &dyn Fn(u64) -> u64,
    ) -> WaitPlan {
        if self.stages.len() == 1 {
            let s = &mut self.stages[0];
            return s.timing.plan(cfg, &mut s.ring, now, margin_ns, excess);
        }
        let earliest = |a: Option<u64>, b: u64| Some(a.map_or(b, |a: u64| a.min(b)));
        let mut plans = Vec::with_capacity(self.stages.len());
        for (i, s) in self.stages.iter_mut().enumerate() {
            if s.ring.is_empty() && !s.ring.blocked_full() {
                continue;
            }
            plans.push((i, s.timing.plan(cfg, &mut s.ring, now, margin_ns, excess)));
        }
        if let Some(p) = self.coalesce(cfg, &plans, now) {
            return p;
        }
        let mut out = WaitPlan::default();
        let mut awaited = None;
        for (i, p) in plans {
            let s = &self.stages[i];
            if let Some(t) = p.wake_at {
                out.wake_at = earliest(out.wake_at, t);
            }
            if let Some((from, until)) = p.spin {
                match out.spin {
                    Some((f, _)) if f <= from => out.wake_at = earliest(out.wake_at, from),
                    other => {
                        if let Some((f, _)) = other {
                            out.wake_at = earliest(out.wake_at, f);
                        }
                        out.spin = Some((from, until));
                        awaited = Some(i);
                    }
                }
            }
            if let Some(fd) = p.fd {
                if out.fd.is_none() {
                    out.fd = Some(fd);
                    awaited = awaited.or(Some(i));
                } else if p.wake_at.is_none() {
                    let poll =
                        (s.timing.device_ns() / 2).clamp(STAGE_POLL_MIN_NS, STAGE_POLL_MAX_NS);
                    out.wake_at = earliest(out.wake_at, now + poll);
                }
            }
        }
        if let Some(i) = awaited {
            self.awaited = i;
        }
        out
    }

    /// Balanced policy, every busy stage with a planned or predicted time: one wake-up for
    /// several stages. Each stage may be looked at up to a slack after its own planned time: one
    /// step of the next stage when that stage is backed up (its completions feed nothing
    /// urgent); a stage with work waiting for its unit by at most half the work queued
    /// behind the request it waits for (so the unit does not run dry); the last stage,
    /// whose completions are only delivered, by twice [`COALESCE_NS`] (the latency the
    /// balanced policy accepts for a batch); any other by [`COALESCE_NS`] (only its
    /// requests' move on is later). The thread wakes at the
    /// latest planned time that is before every stage's planned time plus slack, serving
    /// every stage planned by then. `None` when a stage has no idea when its request ends
    /// or the policy is low latency (the plans are then merged as they are).
    fn coalesce(
        &mut self,
        cfg: &QueueConfig,
        plans: &[(usize, WaitPlan)],
        now: u64,
    ) -> Option<WaitPlan> {
        if cfg.policy != super::config::WaitPolicy::Balanced || plans.len() < 2 {
            return None;
        }
        let mut due = Vec::with_capacity(plans.len());
        for &(i, p) in plans {
            let s = &self.stages[i];
            // A stage waiting on its notification is due at its predicted end, if that is
            // still ahead (a passed one is what the notification is for).
            let predicted = || {
                s.timing
                    .predicted_end(&s.ring, s.timing.awaited())
                    .filter(|&e| e > now)
            };
            let at = p
                .spin
                .map(|(from, _)| from)
                .or(p.wake_at)
                .or_else(|| predicted().filter(|_| p.fd.is_some()))?;
            let pending = !s.waiting.is_empty() || (i == self.entry && !self.backlog.is_empty());
            // A stage whose successor is backed up (requests wait for its unit) feeds
            // nothing urgent: its completions can wait a step of the successor.
            let backed_up = self
                .stages
                .get(i + 1)
                .filter(|next| !next.waiting.is_empty())
                .map(|next| next.timing.device_ns());
            let last = i + 1 == self.stages.len();
            let slack = if let Some(next_ns) = backed_up {
                next_ns.max(COALESCE_NS)
            } else if last && !pending {
                // Only delivery waits on the last stage: the latency the balanced policy
                // accepts for a batch.
                2 * COALESCE_NS
            } else if pending {
                let awaited = s.timing.awaited();
                let behind = s.ring.flights().filter(|f| f.seq > awaited).count() as u64;
                (behind * s.timing.device_ns() / 2).min(COALESCE_NS)
            } else {
                COALESCE_NS
            };
            due.push((i, at, at.saturating_add(slack)));
        }
        let deadline = due.iter().map(|d| d.2).min()?;
        let &(i, at, _) = due.iter().filter(|d| d.1 <= deadline).max_by_key(|d| d.1)?;
        self.awaited = i;
        log!(
            Level::Debug,
            "queue {}: coalesced wait for stage {i} at {} ns (deadline {} ns) from {:?}",
            self.id,
            at as i64 - crate::sys::now_ns() as i64,
            deadline as i64 - crate::sys::now_ns() as i64,
            due.iter()
                .map(|d| (d.0, d.1 as i64 - crate::sys::now_ns() as i64, d.2 - d.1))
                .collect::<Vec<_>>()
        );
        Some(WaitPlan {
            // A timer alone: a notification would wake the thread at that one stage's
            // completion, before the others it is meant to serve.
            fd: None,
            wake_at: Some(at),
            // No spinning: every stage keeps work queued behind what it waits for (or only
            // delivery waits), so a timer's overshoot costs no device time, and spinning
            // for a short transfer would cost a core.
            spin: None,
        })
    }

    /// While spinning: whether the awaited request has completed (every reading also
    /// sharpens the prediction).
    pub(super) fn progressed(&mut self, now: u64) -> bool {
        let i = self.awaited.min(self.stages.len() - 1);
        let s = &mut self.stages[i];
        if s.ring.is_empty() {
            return true;
        }
        match s.ring.read_completed() {
            Ok(c) => {
                let now = crate::sys::now_ns().max(now);
                s.timing.reading(&s.ring, now, c);
                s.timing.awaited_done(c)
            }
            Err(_) => true,
        }
    }

    /// Callback mode: the callbacks of tickets up to `last` have returned.
    pub(super) fn delivered(&mut self, last: u64, latencies: &[u64]) {
        self.outbox.delivered(last, latencies);
    }

    // ---- the lifecycle ------------------------------------------------------------

    /// Apply an event to the state machine and carry out the action it calls for.
    pub(super) fn apply(&mut self, event: Event, mut now: u64) {
        let (next, action) = self.lifecycle.on(event);
        if next != self.lifecycle {
            log!(
                Level::Info,
                "queue {}: {:?} -> {:?}",
                self.id,
                self.lifecycle,
                next
            );
        }
        self.lifecycle = next;
        let id = self.id;
        match action {
            Action::None => {}
            Action::CancelBacklog => {
                while let Some(r) = self.backlog.pop_front() {
                    self.outbox
                        .push(r.finish(Status::Cancelled, 0, None, None, now, id));
                }
            }
            Action::FailAll(f) => {
                // What the units report finished keeps its own status (and moves on to
                // a waiting list); the rest fails with the cause (the outbox delivers all
                // of it in ticket order). A dead unit gives up its own ring only: the
                // other units finish what they hold, and those requests complete then.
                self.retire(&mut now);
                let only = match f.status {
                    Status::QueueFailed => self.dead_stage,
                    _ => None,
                };
                self.give_up(f.status, f.nrt_status, now, only);
                while let Some(r) = self.backlog.pop_front() {
                    self.outbox
                        .push(r.finish(f.status, f.nrt_status, None, None, now, id));
                }
                self.fatal_pending = Some(f);
            }
            Action::AbandonInFlight => self.give_up(Status::Cancelled, NRT_TIMEOUT, now, None),
        }
    }

    /// Complete every request between stages, and every request on a unit (on `only`'s
    /// unit alone, if given), with `status`, without waiting for the units. Those on a
    /// unit may still be copied or run by it: their slots are never reused, and the
    /// channels and memory outlive the queue.
    fn give_up(&mut self, status: Status, raw: NrtStatus, now: u64, only: Option<usize>) {
        let id = self.id;
        for (j, s) in self.stages.iter_mut().enumerate() {
            let stage = Some(Stage::of(s.unit));
            let (outbox, pipeline) = (&mut self.outbox, &mut self.pipeline);
            let abandon = only.is_none_or(|k| k == j);
            if abandon {
                s.ring.abandon_all(|fl| {
                    if let (Some(slot), Some(p)) = (fl.req.device_slot, pipeline.as_mut()) {
                        p.poison(slot);
                    }
                    outbox.push(
                        fl.req
                            .finish(status, raw, stage, Some(fl.sched_ns), now, id),
                    )
                });
            }
            s.mark_idle(now);
            while let Some(r) = s.waiting.pop_front() {
                if let (Some(slot), Some(p)) = (r.device_slot, self.pipeline.as_mut()) {
                    p.give_back(slot);
                }
                self.outbox
                    .push(r.finish(status, raw, stage, None, now, id));
            }
        }
    }

    /// Close a closing queue that has nothing left: no request anywhere, every completion
    /// delivered (callback mode; in reap mode what waits to be reaped is the
    /// application's), the fatal hook run. The one place `Drained` is decided.
    pub(super) fn settle(&mut self) {
        if matches!(self.lifecycle, State::Closing { .. }) && self.is_drained() {
            self.apply(Event::Drained, crate::sys::now_ns());
        }
    }

    pub(super) fn state(&self) -> State {
        self.lifecycle
    }

    pub(super) fn is_closed(&self) -> bool {
        self.lifecycle == State::Closed
    }

    // ---- what the threads around the engine look at ------------------------------

    /// No request on any unit or between stages.
    fn stages_empty(&self) -> bool {
        self.stages
            .iter()
            .all(|s| s.ring.is_empty() && s.waiting.is_empty())
    }

    /// The activity rule: whether this queue needs the completion thread now. Work on
    /// a unit, between stages or in the backlog, callbacks or a fatal hook to run, or
    /// (pull mode) the refill hook not yet asked.
    pub(super) fn needs_thread(&self, cfg: &QueueConfig) -> bool {
        !self.stages_empty()
            || !self.backlog.is_empty()
            || self.fatal_pending.is_some()
            || self.outbox.has_callbacks_due()
            || (cfg.on_refill.is_some() && !self.refill_primed && self.lifecycle.accepts())
    }

    /// Work only the completion thread can do and that no device event announces:
    /// callbacks to run, a fatal hook to fire.
    pub(super) fn has_unlocked_work(&self) -> bool {
        self.outbox.has_callbacks_due() || self.fatal_pending.is_some()
    }

    /// Everything accepted has been delivered and the fatal hook (if any) has run.
    pub(super) fn is_drained(&self) -> bool {
        self.stages_empty()
            && self.backlog.is_empty()
            && self.fatal_pending.is_none()
            && self.outbox.delivered_below() == self.next_ticket
    }

    pub(super) fn is_delivered(&self, ticket: u64) -> bool {
        self.outbox.is_delivered(ticket)
    }

    /// What waiters wait on, to tell whether a change should wake them.
    pub(super) fn wait_mark(&self) -> WaitMark {
        WaitMark(
            self.outbox.delivered_below(),
            self.fatal_pending.is_some(),
            self.lifecycle,
        )
    }

    /// Whether blocked submitters should look again.
    pub(super) fn space_freed(&self) -> bool {
        self.backlog.half_empty() || !self.lifecycle.accepts()
    }

    // ---- the application's side of the outbox ------------------------------------

    pub(super) fn reap(&mut self, out: &mut [super::Completion], now: u64) -> usize {
        self.outbox.reap(out, now, self.id)
    }

    pub(super) fn reap_fd(&self) -> Option<std::os::fd::RawFd> {
        self.outbox.bell_fd()
    }

    pub(super) fn errors(&mut self, out: &mut [super::Completion]) -> (usize, u64) {
        self.outbox.take_errors(out)
    }

    /// At destroy: close the reap descriptor and hand back what the device may still use
    /// (the channels of units that may still hold abandoned requests, and a pipeline's
    /// memory if some of it was given up); everything else is closed and freed here.
    pub(super) fn detach(&mut self) -> Option<Box<dyn Channel>> {
        self.outbox.close_bell();
        let memory = self.pipeline.as_mut().and_then(Pipeline::take_memory);
        let mut channels: Vec<Box<dyn Channel>> = self
            .stages
            .iter_mut()
            .filter_map(|s| s.ring.take_channel())
            .collect();
        if memory.is_none() && channels.len() <= 1 {
            return channels.pop();
        }
        Some(Box::new(Kept {
            _channels: channels,
            memory,
        }))
    }

    pub(super) fn stats(&self) -> Snapshot {
        let c = self.outbox.counts();
        let compute = self
            .stages
            .iter()
            .find(|s| s.unit == Unit::Compute)
            .unwrap_or(&self.stages[0]);
        Snapshot {
            submitted: self.next_ticket - 1,
            completed: c.completed,
            failed: c.failed,
            cancelled: c.cancelled,
            in_flight: self
                .stages
                .iter()
                .map(|s| (s.ring.len() + s.waiting.len()) as u64)
                .sum(),
            backlog: self.backlog.len() as u64,
            queue_full: self.stages.iter().map(|s| s.ring.queue_full_count()).sum(),
            wakeups: self.wakeups,
            submit_to_complete_p50_ns: c.submit_to_complete.0,
            submit_to_complete_p99_ns: c.submit_to_complete.1,
            complete_to_notify_p50_ns: c.complete_to_notify.0,
            complete_to_notify_p99_ns: c.complete_to_notify.1,
            predicted_device_ns: compute.timing.device_ns(),
        }
    }

    /// Per-stage figures, in plan order (a plain queue has one stage, `Execute`).
    pub(super) fn stage_stats(&self, now: u64) -> Vec<StageStats> {
        self.stages
            .iter()
            .map(|s| StageStats {
                stage: Stage::of(s.unit),
                in_flight: s.ring.len() as u64,
                waiting: s.waiting.len() as u64,
                retired: s.retired,
                busy_ns: s.busy_ns + s.busy_since.map_or(0, |b| now.saturating_sub(b)),
                latency_p50_ns: s.latency.percentile(50.0),
                latency_p99_ns: s.latency.percentile(99.0),
                predicted_ns: s.timing.device_ns(),
            })
            .collect()
    }

    /// Pipelines: (device slots, free now).
    pub(super) fn device_slots(&self) -> Option<(usize, usize)> {
        self.pipeline.as_ref().map(|p| (p.slots(), p.free_slots()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::tests::StubChannel;
    use super::*;
    use crate::backend::Handle;

    const WORK: Work = Work {
        input: Handle(1),
        output: Handle(2),
    };

    fn engine(cfg: &QueueConfig, stub: StubChannel) -> Engine {
        Engine::new(7, cfg, Parts::plain(Box::new(stub)), None, 40_000)
    }

    fn pass(e: &mut Engine, cfg: &QueueConfig) -> Pass {
        e.pass(cfg, crate::sys::now_ns(), 40_000, &|_| 0)
    }

    fn delivered(p: &Pass) -> Vec<(u64, Status)> {
        p.deliver
            .iter()
            .map(|d| (d.completion.ticket, d.completion.status))
            .collect()
    }

    #[test]
    fn submit_goes_to_the_device_up_to_the_depth_then_to_the_backlog() {
        let cfg = QueueConfig {
            backlog: 2,
            ..QueueConfig::default()
        };
        let mut e = engine(&cfg, StubChannel::new(8));
        for t in 1..=5 {
            assert_eq!(e.submit(&cfg, WORK, 0, None, 0).unwrap(), t);
        }
        let s = e.stats();
        assert_eq!((s.in_flight, s.backlog), (3, 2));
        let err = e.submit(&cfg, WORK, 0, None, 0).unwrap_err();
        assert_eq!(err.status, Status::BacklogFull);
        assert_eq!(e.stats().submitted, 5, "a refused submit takes no ticket");
        assert!(e.needs_thread(&cfg));
    }

    #[test]
    fn deadline_failure_refuses_later_submits_with_queue_failed() {
        let cfg = QueueConfig {
            deadline: Some(std::time::Duration::from_nanos(1)),
            ..QueueConfig::default()
        };
        let mut e = engine(&cfg, StubChannel::new(8));
        e.submit(&cfg, WORK, 0, None, 0).unwrap();
        let p = pass(&mut e, &cfg);
        assert_eq!(delivered(&p), [(1, Status::DeadlineExceeded)]);
        assert_eq!(p.fatal.map(|f| f.status), Some(Status::DeadlineExceeded));
        let err = e.submit(&cfg, WORK, 0, None, 0).unwrap_err();
        assert_eq!(
            (err.status, err.nrt_status),
            (Status::QueueFailed, NRT_TIMEOUT)
        );
    }

    #[test]
    fn a_failed_queue_is_drained_once_its_fatal_hook_is_handed_out() {
        let cfg = QueueConfig::default();
        let mut stub = StubChannel::new(8);
        stub.dead = true;
        let mut e = engine(&cfg, stub);
        let before = e.wait_mark();
        let err = e.submit(&cfg, WORK, 0, None, 0).unwrap_err();
        assert_eq!(err.status, Status::QueueFailed);
        assert!(!e.is_drained(), "the fatal hook has not run");
        assert!(e.needs_thread(&cfg), "the completion thread must run it");
        let p = pass(&mut e, &cfg);
        assert!(p.fatal.is_some());
        assert!(e.is_drained());
        assert!(
            e.wait_mark() != before,
            "a drain waiting meanwhile is woken"
        );
        assert!(!e.needs_thread(&cfg));
    }

    #[test]
    fn completions_are_delivered_in_ticket_order_across_refusals() {
        let cfg = QueueConfig {
            depth: 2,
            max_depth: 2,
            ..QueueConfig::default()
        };
        let mut e = engine(&cfg, StubChannel::new(8));
        for _ in 0..4 {
            e.submit(&cfg, WORK, 0, None, 0).unwrap();
        }
        // 1 and 2 on the device, 3 and 4 in the backlog; the unit dies before 3 runs.
        e.apply(
            Event::Fatal(dead_unit(neuron_sys::NRT_EXEC_UNIT_UNRECOVERABLE)),
            0,
        );
        let p = pass(&mut e, &cfg);
        let got: Vec<u64> = delivered(&p).iter().map(|d| d.0).collect();
        assert_eq!(got, [1, 2, 3, 4]);
    }

    #[test]
    fn cancel_takes_back_only_what_has_not_reached_the_device() {
        let cfg = QueueConfig {
            depth: 1,
            max_depth: 1,
            ..QueueConfig::default()
        };
        let mut e = engine(&cfg, StubChannel::new(8));
        for _ in 0..3 {
            e.submit(&cfg, WORK, 0, None, 0).unwrap();
        }
        assert_eq!(e.cancel(1, 0).unwrap_err().status, Status::TooLate);
        e.cancel(3, 0).unwrap();
        assert_eq!(e.cancel(3, 0).unwrap_err().status, Status::TooLate);
        assert_eq!(e.cancel(9, 0).unwrap_err().status, Status::UnknownTicket);
        // 3 is cancelled but waits for 1 and 2.
        assert!(pass(&mut e, &cfg).deliver.is_empty());
        assert_eq!(e.stats().cancelled, 1);
    }

    #[test]
    fn destroy_then_abandon_closes_with_everything_completed_once_in_order() {
        let cfg = QueueConfig::default();
        let mut e = engine(&cfg, StubChannel::new(8));
        for _ in 0..5 {
            e.submit(&cfg, WORK, 0, None, 0).unwrap();
        }
        e.apply(Event::Destroy, 0);
        e.settle();
        assert!(!e.is_closed(), "three requests are still on the device");
        e.apply(Event::Abandon, 0);
        let p = pass(&mut e, &cfg);
        assert_eq!(
            delivered(&p),
            [
                (1, Status::Cancelled),
                (2, Status::Cancelled),
                (3, Status::Cancelled),
                (4, Status::Cancelled),
                (5, Status::Cancelled)
            ]
        );
        e.settle();
        assert!(!e.is_closed(), "callbacks have not returned yet");
        e.delivered(5, &[]);
        e.settle();
        assert!(e.is_closed());
        assert!(
            e.detach().is_some(),
            "abandoned: the channel outlives the queue"
        );
    }
}
