//! A request's life as values: [`Request`] (accepted, not yet completed), [`Done`] (its
//! completion, waiting to be delivered) and [`Completion`] (what the application sees).
//! [`Request::finish`] is the only way from the first to the second and consumes the
//! request, which is what makes "completes exactly once" checkable by the compiler.
//!
//! A request carries its plan: the steps it runs, each on one stage (one ring of the
//! engine), and a cursor. A plain queue's request is the one-step plan "execute the
//! user's tensor sets"; a pipeline's is input writes → execution(s) → output reads, built
//! when it takes a device slot.
use crate::backend::{Op, Unit};
use crate::status::{NrtStatus, Status};
use crate::trace;

/// One finished request, as delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The ticket `submit` returned.
    pub ticket: u64,
    /// The caller's value given at submit.
    pub user_data: u64,
    /// nrtq's status for the request.
    pub status: Status,
    /// The raw libnrt status (0 on success).
    pub nrt_status: NrtStatus,
    /// Pipelines: the stage the request was at when it completed unsuccessfully (where an
    /// error happened, or where the request was when its queue failed). `None` on success,
    /// for plain queues, and for requests that never reached a stage (backlog).
    pub stage: Option<Stage>,
}

/// A stage of a pipeline: the execution unit a step runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The input writes (host → device).
    Write,
    /// The model execution(s), on COMPUTE.
    Execute,
    /// The output reads (device → host).
    Read,
}

impl Stage {
    /// The stage of a unit.
    pub fn of(unit: Unit) -> Stage {
        match unit {
            Unit::Write => Stage::Write,
            Unit::Compute => Stage::Execute,
            Unit::Read => Stage::Read,
        }
    }

    /// Its name ("write", "execute", "read").
    pub fn name(self) -> &'static str {
        match self {
            Stage::Write => "write",
            Stage::Execute => "execute",
            Stage::Read => "read",
        }
    }
}

/// One step of a request's plan: backend work on one stage (an index into the engine's
/// stages).
#[derive(Debug)]
pub(super) struct Step {
    pub(super) stage: usize,
    pub(super) op: Op,
}

/// A pipeline request's host memory, in the model's tensor order: (address, bytes).
#[derive(Debug, Default, Clone)]
pub(crate) struct HostIo {
    pub(crate) inputs: Vec<(usize, usize)>,
    pub(crate) outputs: Vec<(usize, usize)>,
}

/// What a request will run.
#[derive(Debug)]
pub(super) enum Job {
    /// A one-step plan (a plain queue's request), kept inline: no allocation per submit.
    One(Step),
    /// Its steps, ready to schedule.
    Ready(Vec<Step>),
    /// A pipeline request that has no device slot yet: the steps are built when it takes
    /// one (leaving the backlog).
    Host(Box<HostIo>),
}

/// A per-request completion callback (callback mode).
pub type Callback = Box<dyn FnOnce(&Completion) + Send>;

/// An accepted request that has not completed yet.
pub(super) struct Request {
    pub(super) ticket: u64,
    pub(super) job: Job,
    /// The step being run (index into the `Ready` steps).
    pub(super) cursor: u32,
    /// The pipeline device slot it holds (taken when it left the backlog).
    pub(super) device_slot: Option<u32>,
    /// When it entered its current stage (waiting or scheduled).
    pub(super) stage_ns: u64,
    pub(super) user_data: u64,
    pub(super) callback: Option<Callback>,
    pub(super) submit_ns: u64,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Request #{}", self.ticket)
    }
}

/// A completed request waiting for delivery.
pub(crate) struct Done {
    pub(super) completion: Completion,
    callback: Option<Callback>,
    pub(super) retire_ns: u64,
    /// The request was scheduled on the device (false: failed or cancelled from the
    /// backlog, or refused by the runtime). Pools re-route only what never got there.
    reached_device: bool,
}

thread_local! {
    /// Whether the completion whose callback is running on this thread reached the
    /// device: set by [`Done::into_parts`], which runs just before the callback (or the
    /// queue-wide hook) on the completion thread. A side channel so that [`Completion`]
    /// keeps its public shape.
    static DELIVERING_REACHED_DEVICE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Inside a completion callback: whether the request being delivered reached the device.
pub(crate) fn delivering_reached_device() -> bool {
    DELIVERING_REACHED_DEVICE.with(|c| c.get())
}

impl Done {
    pub(crate) fn ticket(&self) -> u64 {
        self.completion.ticket
    }

    /// When the request completed (ns), for the notification latency.
    pub(crate) fn retire_ns(&self) -> u64 {
        self.retire_ns
    }

    pub(super) fn into_parts(self) -> (Completion, Option<Callback>) {
        DELIVERING_REACHED_DEVICE.with(|c| c.set(self.reached_device));
        (self.completion, self.callback)
    }
}

impl Request {
    /// A request with its plan (`job`), at its first step.
    pub(super) fn new(
        ticket: u64,
        job: Job,
        user_data: u64,
        callback: Option<Callback>,
        now: u64,
    ) -> Request {
        Request {
            ticket,
            job,
            cursor: 0,
            device_slot: None,
            stage_ns: now,
            user_data,
            callback,
            submit_ns: now,
        }
    }

    /// The step being run, if its plan is built.
    pub(super) fn step(&self) -> Option<&Step> {
        match &self.job {
            Job::One(step) => (self.cursor == 0).then_some(step),
            Job::Ready(steps) => steps.get(self.cursor as usize),
            Job::Host(_) => None,
        }
    }

    /// Whether a step follows the current one.
    pub(super) fn has_next_step(&self) -> bool {
        matches!(&self.job, Job::Ready(steps) if self.cursor as usize + 1 < steps.len())
    }

    /// The only way to complete a request: consumes it, so it completes once.
    pub(super) fn finish(
        self,
        status: Status,
        nrt_status: NrtStatus,
        stage: Option<Stage>,
        sched_ns: Option<u64>,
        now: u64,
        queue: u64,
    ) -> Done {
        let st = status.code();
        match sched_ns {
            Some(s) => {
                trace::slice(queue, "queued", self.ticket, self.submit_ns, s, st);
                trace::slice(queue, "on device", self.ticket, s, now, st);
            }
            None => trace::slice(queue, "queued", self.ticket, self.submit_ns, now, st),
        }
        Done {
            completion: Completion {
                ticket: self.ticket,
                user_data: self.user_data,
                status,
                nrt_status,
                stage: if status == Status::Ok { None } else { stage },
            },
            callback: self.callback,
            retire_ns: now,
            reached_device: sched_ns.is_some(),
        }
    }
}
