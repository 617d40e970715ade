//! The pool's state behind its one lock, and the hooks its cores' queues call. See the
//! module doc of [`super`] for the routing and exactly-once rules this implements.
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::{CoreInfo, PoolConfig, PoolModel, PoolState, PoolStats};
use crate::backend::{Device, Handle, Work};
use crate::log::{log, Level};
use crate::queue::{
    delivering_reached_device, Callback, Completion, Delivery, HostInput, HostIo, HostOutput,
    Queue, Stage,
};
use crate::reactor::{on_a_completion_thread, Reactor};
use crate::runtime::Runtime;
use crate::status::{Error, NrtStatus, Result, Status};
use crate::sys::EventFd;

/// A handle to one pool. Clones share the pool; it lives until destroyed.
#[derive(Clone)]
pub struct Pool(pub(crate) Arc<Inner>);

/// Refresh a core's learned device time from its queue every this many completions.
const LEARN_EVERY: u64 = 32;

/// One accepted pool request, not yet delivered.
struct Req {
    ticket: u64,
    payload: Payload,
    user_data: u64,
    callback: Option<Callback>,
}

/// What a request runs: tensor sets on a plain pool's cores, or host buffers (checked
/// and put in the model's order at submit) on a pool of pipelines.
pub(super) enum Payload {
    Device(Work),
    Host(HostIo),
}

/// A completion on its way to the application (delivered with no lock held).
struct Outgoing {
    completion: Completion,
    callback: Option<Callback>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    Failed(Status, NrtStatus),
    Closing,
    Closed,
}

/// What the pool knows of one core (under the pool lock).
struct CoreState {
    alive: bool,
    failure: Option<(Status, NrtStatus)>,
    /// Requests handed to the core's queue and not yet completed back.
    outstanding: usize,
    /// What the core can hold: its outstanding plus the room it last reported.
    cap: usize,
    /// Learned device time per request, ns (0: not learned yet).
    device_ns: u64,
    routed: u64,
}

#[derive(Default)]
struct Counts {
    completed: u64,
    failed: u64,
    cancelled: u64,
    rerouted: u64,
    retried: u64,
}

/// Everything the pool lock guards.
struct State {
    phase: Phase,
    backlog: VecDeque<Req>,
    /// Requests on the cores, keyed by the `user_data` their core's queue carries.
    slab: Vec<Option<Req>>,
    free: Vec<usize>,
    cores: Vec<CoreState>,
    alive: usize,
    next_ticket: u64,
    counts: Counts,
    errors: VecDeque<Completion>,
    errors_dropped: u64,
}

/// One core: its queue (set once, right after creation) and model.
struct Core {
    queue: OnceLock<Queue>,
    model: Handle,
    completions: AtomicU64,
}

pub(crate) struct Inner {
    cfg: PoolConfig,
    cores: Vec<Core>,
    st: Mutex<State>,
    /// Wakes drain/destroy.
    cond: Condvar,
    waiters: AtomicUsize,
    accepted: AtomicU64,
    delivered: AtomicU64,
    reap: Mutex<VecDeque<Completion>>,
    reap_bell: Option<EventFd>,
    device: Arc<dyn Device>,
    models_owned: bool,
    /// The pool's own completion threads (beyond the runtime's).
    threads: Mutex<Vec<Reactor>>,
}

/// Whether a core refused a submit because it is gone or full (the request goes
/// elsewhere) rather than because of the request itself.
fn core_unavailable(e: &Error) -> bool {
    matches!(
        e.status,
        Status::QueueFailed | Status::Closed | Status::BacklogFull
    )
}

/// Whether a completion's status says its core failed under it.
fn lost_with_core(s: Status) -> bool {
    matches!(
        s,
        Status::QueueFailed | Status::DeadlineExceeded | Status::Panic
    )
}

impl State {
    /// The live core with room whose expected finish is earliest:
    /// (outstanding + 1) × learned device time.
    fn pick(&self, cores: &[Core]) -> Option<usize> {
        let mut best: Option<(u128, usize)> = None;
        for (i, c) in self.cores.iter().enumerate() {
            if !c.alive || c.outstanding >= c.cap || cores[i].queue.get().is_none() {
                continue;
            }
            let score = (c.outstanding as u128 + 1) * u128::from(c.device_ns.max(1));
            if best.is_none_or(|(b, _)| score < b) {
                best = Some((score, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// Hand `req` to core `i`'s queue.
    fn submit_to(
        &mut self,
        i: usize,
        q: &Queue,
        req: Req,
    ) -> std::result::Result<(), (Req, Error)> {
        let key = self.free.pop().unwrap_or_else(|| {
            self.slab.push(None);
            self.slab.len() - 1
        });
        let submitted = match &req.payload {
            Payload::Device(work) => q.submit(*work, key as u64, None),
            // SAFETY: the application's promise at `Pool::submit_host` (the buffers stay
            // valid and untouched until the pool delivers the request) covers every core
            // the request is handed to, since it is delivered only after the last one.
            Payload::Host(io) => unsafe { q.submit_checked_host(io.clone(), key as u64, None) },
        };
        self.slab[key] = Some(req);
        match submitted {
            Ok(_) => {
                let c = &mut self.cores[i];
                c.outstanding += 1;
                c.routed += 1;
                Ok(())
            }
            Err(e) => {
                let req = self.slab[key].take().expect("just stored");
                self.free.push(key);
                let c = &mut self.cores[i];
                c.cap = if e.status == Status::BacklogFull {
                    c.outstanding
                } else {
                    0
                };
                Err((req, e))
            }
        }
    }

    /// Move backlog requests to live cores with room, earliest expected finish first.
    /// Requests a core refuses on their own merits complete with the refusal.
    fn dispatch(&mut self, cores: &[Core], out: &mut Vec<Outgoing>, error_log: usize) {
        while !self.backlog.is_empty() {
            let Some(i) = self.pick(cores) else { break };
            let q = cores[i].queue.get().expect("pick checks");
            let req = self.backlog.pop_front().expect("not empty");
            if let Err((req, e)) = self.submit_to(i, q, req) {
                if core_unavailable(&e) {
                    self.backlog.push_front(req);
                } else {
                    out.push(self.finish(req, e.status, e.nrt_status, None, error_log));
                }
            }
        }
    }

    /// The only way a request leaves the pool: consumes it.
    fn finish(
        &mut self,
        req: Req,
        status: Status,
        nrt_status: NrtStatus,
        stage: Option<Stage>,
        error_log: usize,
    ) -> Outgoing {
        let completion = Completion {
            ticket: req.ticket,
            user_data: req.user_data,
            status,
            nrt_status,
            stage,
        };
        self.counts.completed += 1;
        match status {
            Status::Ok => {}
            Status::Cancelled => self.counts.cancelled += 1,
            _ => {
                self.counts.failed += 1;
                if error_log > 0 {
                    if self.errors.len() == error_log {
                        self.errors.pop_front();
                        self.errors_dropped += 1;
                    }
                    self.errors.push_back(completion);
                }
            }
        }
        Outgoing {
            completion,
            callback: req.callback,
        }
    }

    fn fail_backlog(&mut self, status: Status, raw: NrtStatus, error_log: usize) -> Vec<Outgoing> {
        let mut out = Vec::with_capacity(self.backlog.len());
        while let Some(r) = self.backlog.pop_front() {
            out.push(self.finish(r, status, raw, None, error_log));
        }
        out
    }
}

impl Pool {
    pub(super) fn create(rt: &Runtime, model: PoolModel, cfg: PoolConfig) -> Result<Pool> {
        cfg.validate()?;
        let device = rt.device().clone();
        let (models, owned) = load_models(&device, model)?;
        let unload = |models: &[Handle]| {
            if owned {
                models.iter().for_each(|m| device.unload_model(*m));
            }
        };
        let mut threads = Vec::new();
        for _ in 1..cfg.completion_threads {
            match Reactor::start() {
                Ok(r) => threads.push(r),
                Err(e) => {
                    unload(&models);
                    return Err(e);
                }
            }
        }
        let reap_bell = match cfg.delivery {
            Delivery::Reap => match EventFd::new() {
                Ok(b) => Some(b),
                Err(e) => {
                    unload(&models);
                    return Err(Error::new(Status::Resource, format!("eventfd: {e}")));
                }
            },
            Delivery::Callback => None,
        };
        let n = models.len();
        let depth = cfg.queue.depth;
        let inner = Arc::new(Inner {
            cores: models
                .iter()
                .map(|&model| Core {
                    queue: OnceLock::new(),
                    model,
                    completions: AtomicU64::new(0),
                })
                .collect(),
            st: Mutex::new(State {
                phase: Phase::Serving,
                backlog: VecDeque::new(),
                slab: Vec::new(),
                free: Vec::new(),
                cores: (0..n)
                    .map(|_| CoreState {
                        alive: true,
                        failure: None,
                        outstanding: 0,
                        cap: depth,
                        device_ns: 0,
                        routed: 0,
                    })
                    .collect(),
                alive: n,
                next_ticket: 1,
                counts: Counts::default(),
                errors: VecDeque::new(),
                errors_dropped: 0,
            }),
            cond: Condvar::new(),
            waiters: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            reap: Mutex::new(VecDeque::new()),
            reap_bell,
            device: device.clone(),
            models_owned: owned,
            threads: Mutex::new(Vec::new()),
            cfg,
        });
        for (i, &model) in models.iter().enumerate() {
            let qcfg = inner.queue_config(i);
            let thread = match i % inner.cfg.completion_threads {
                0 => None,
                k => Some(&threads[k - 1]),
            };
            let created = match &inner.cfg.pipeline {
                Some(p) => rt.create_pipeline_on(&[model], qcfg, p, thread),
                None => rt.create_queue_on(model, qcfg, thread),
            };
            match created {
                Ok(q) => {
                    let _ = inner.cores[i].queue.set(q);
                }
                Err(e) => {
                    for c in &inner.cores[..i] {
                        if let Some(q) = c.queue.get() {
                            let _ = q.destroy(Duration::from_secs(1));
                        }
                    }
                    inner.st.lock().phase = Phase::Closed;
                    drop(threads);
                    unload(&models);
                    return Err(Error::nrt(
                        e.status,
                        e.nrt_status,
                        format!("pool core {i}: {}", e.message),
                    ));
                }
            }
        }
        *inner.threads.lock() = threads;
        log!(
            Level::Info,
            "pool created on {n} core(s), {} completion thread(s)",
            inner.cfg.completion_threads
        );
        Ok(Pool(inner))
    }
}

/// The pool's models: loaded here (one per core) or the application's.
fn load_models(device: &Arc<dyn Device>, model: PoolModel) -> Result<(Vec<Handle>, bool)> {
    let (neff, cores): (Arc<[u8]>, _) = match model {
        PoolModel::Loaded(v) => {
            if v.is_empty() {
                return Err(Error::new(
                    Status::InvalidArgument,
                    "a pool needs at least one model; pass one loaded model per core",
                ));
            }
            if let Some(i) = v.iter().position(|m| m.0 == 0) {
                return Err(Error::new(
                    Status::NullArgument,
                    format!("model {i} of the pool is NULL; pass one loaded model per core"),
                ));
            }
            return Ok((v, false));
        }
        PoolModel::File { path, cores } => {
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::new(
                    Status::InvalidArgument,
                    format!("cannot read the model file {}: {e}", path.display()),
                )
            })?;
            (bytes.into(), cores)
        }
        PoolModel::Bytes { neff, cores } => (neff, cores),
    };
    let cores = match cores {
        Some(c) if c.is_empty() => return Err(Error::new(
            Status::InvalidArgument,
            "the pool's core list is empty; pass at least one core, or none for every visible core",
        )),
        Some(c) => c,
        None => (0..device.visible_cores()?).collect(),
    };
    if cores.is_empty() {
        return Err(Error::new(
            Status::InvalidArgument,
            "the process sees no NeuronCore (check NEURON_RT_VISIBLE_CORES)",
        ));
    }
    let mut models = Vec::with_capacity(cores.len());
    for &lnc in &cores {
        match device.load_model(&neff, lnc) {
            Ok(m) => models.push(m),
            Err(e) => {
                models.iter().for_each(|m| device.unload_model(*m));
                return Err(e);
            }
        }
    }
    Ok((models, true))
}

impl Inner {
    /// Core `i`'s queue settings: the application's, with the pool's hooks.
    fn queue_config(self: &Arc<Self>, i: usize) -> crate::QueueConfig {
        let mut q = self.cfg.queue.clone();
        q.delivery = Delivery::Callback;
        let w: Weak<Inner> = Arc::downgrade(self);
        q.on_complete = Some(Arc::new(move |c: &Completion| {
            if let Some(p) = w.upgrade() {
                p.on_core_completion(i, c);
            }
        }));
        let w: Weak<Inner> = Arc::downgrade(self);
        q.on_refill = Some(Arc::new(move |queue: &Queue, room: usize| {
            if let Some(p) = w.upgrade() {
                p.on_room(i, queue, room);
            }
        }));
        let w: Weak<Inner> = Arc::downgrade(self);
        q.on_fatal = Some(Arc::new(move |_: &Queue, st: Status, raw: NrtStatus| {
            if let Some(p) = w.upgrade() {
                p.on_core_failed(i, st, raw);
            }
        }));
        q
    }

    // ---- the application's calls ---------------------------------------------------

    pub(super) fn submit(
        &self,
        payload: Payload,
        user_data: u64,
        callback: Option<Callback>,
    ) -> Result<u64> {
        if self.cfg.pipeline.is_some() != matches!(payload, Payload::Host(_)) {
            return Err(Error::new(
                Status::InvalidArgument,
                if self.cfg.pipeline.is_some() {
                    "this pool's cores are pipelines: submit host buffers (submit_host), not tensor sets"
                } else {
                    "this pool's cores take tensor sets (submit); create the pool with a pipeline configuration to submit host buffers"
                },
            ));
        }
        let mut g = self.st.lock();
        match g.phase {
            Phase::Serving => {}
            Phase::Failed(st, raw) => {
                return Err(Error::nrt(
                    Status::QueueFailed,
                    raw,
                    format!(
                        "every core of the pool has left (the last with {}); destroy the pool and create a new one",
                        st.describe().0
                    ),
                ))
            }
            Phase::Closing | Phase::Closed => {
                return Err(Error::new(Status::Closed, "the pool is being destroyed"))
            }
        }
        let ticket = g.next_ticket;
        let mut req = Req {
            ticket,
            payload,
            user_data,
            callback,
        };
        if g.backlog.is_empty() {
            while let Some(i) = g.pick(&self.cores) {
                let q = self.cores[i].queue.get().expect("pick checks");
                match g.submit_to(i, q, req) {
                    Ok(()) => return Ok(self.accepted(&mut g)),
                    Err((r, e)) if core_unavailable(&e) => req = r,
                    Err((_, e)) => return Err(e),
                }
            }
        }
        if g.backlog.len() >= self.cfg.backlog {
            return Err(Error::new(
                Status::BacklogFull,
                format!(
                    "the pool backlog is full ({} requests) and no core has room; retry after \
                     completions",
                    self.cfg.backlog
                ),
            ));
        }
        g.backlog.push_back(req);
        Ok(self.accepted(&mut g))
    }

    /// Host buffers checked against the pool's model (every core runs the same one) and
    /// put in its order: a wrong size or name is refused here, at submit, not later.
    pub(super) fn check_host(
        &self,
        inputs: &[HostInput],
        outputs: &[HostOutput],
    ) -> Result<HostIo> {
        if self.cfg.pipeline.is_none() {
            return Err(Error::new(
                Status::InvalidArgument,
                "this pool's cores take tensor sets (submit); create the pool with a pipeline configuration to submit host buffers",
            ));
        }
        let q = self.cores[0].queue.get().expect("set at creation");
        q.check_host(inputs, outputs).map_err(|e| {
            Error::new(
                e.status,
                e.message.replacen(&format!("queue {}", q.id()), "pool", 1),
            )
        })
    }

    fn accepted(&self, g: &mut State) -> u64 {
        let t = g.next_ticket;
        g.next_ticket += 1;
        self.accepted.fetch_add(1, Ordering::SeqCst);
        t
    }

    fn wait_until(
        &self,
        what: &str,
        deadline: Option<Instant>,
        cond: impl Fn(&Inner, &State) -> bool,
    ) -> Result<()> {
        if on_a_completion_thread() {
            return Err(Error::new(
                Status::WouldDeadlock,
                format!("{what} from a completion callback would wait for itself"),
            ));
        }
        let mut g = self.st.lock();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let r = loop {
            if cond(self, &g) {
                break Ok(());
            }
            let timed_out = match deadline {
                Some(d) => self.cond.wait_until(&mut g, d).timed_out(),
                None => {
                    self.cond.wait(&mut g);
                    false
                }
            };
            if timed_out && !cond(self, &g) {
                break Err(Error::new(
                    Status::Timeout,
                    format!("pool {what} timed out"),
                ));
            }
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        r
    }

    fn all_delivered(&self, _: &State) -> bool {
        self.delivered.load(Ordering::SeqCst) == self.accepted.load(Ordering::SeqCst)
    }

    pub(super) fn drain(&self, timeout: Option<Duration>) -> Result<()> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.wait_until("drain", deadline, Inner::all_delivered)
    }

    pub(super) fn destroy(&self, timeout: Duration) -> Result<()> {
        if on_a_completion_thread() {
            return Err(Error::new(
                Status::WouldDeadlock,
                "a pool cannot be destroyed from a completion callback",
            ));
        }
        let cancelled = {
            let mut g = self.st.lock();
            if matches!(g.phase, Phase::Closing | Phase::Closed) {
                return Err(Error::new(
                    Status::InvalidArgument,
                    "the pool was already destroyed",
                ));
            }
            g.phase = Phase::Closing;
            g.fail_backlog(Status::Cancelled, 0, self.cfg.error_log)
        };
        self.deliver_all(cancelled);
        let mut result = Ok(());
        for c in &self.cores {
            if let Some(q) = c.queue.get() {
                match q.destroy(timeout) {
                    Err(e) if e.status == Status::Timeout => result = Err(e),
                    // Already destroyed (the runtime closed first): nothing left on it.
                    _ => {}
                }
            }
        }
        // Each queue delivered everything before its destroy returned; this only waits
        // for the pool's own hand-off of the last ones.
        let _ = self.wait_until("destroy", None, Inner::all_delivered);
        self.st.lock().phase = Phase::Closed;
        self.wake_waiters();
        if self.models_owned {
            for c in &self.cores {
                self.device.unload_model(c.model);
            }
        }
        // Stop the pool's own completion threads (their queues are gone).
        drop(std::mem::take(&mut *self.threads.lock()));
        if let Some(b) = &self.reap_bell {
            b.drain();
        }
        log!(Level::Info, "pool destroyed");
        result
    }

    pub(super) fn reap(&self, out: &mut [Completion]) -> Result<usize> {
        let Some(bell) = &self.reap_bell else {
            return Err(Error::new(
                Status::WrongMode,
                "reap on a pool in callback mode",
            ));
        };
        let mut list = self.reap.lock();
        let n = out.len().min(list.len());
        for (slot, c) in out.iter_mut().zip(list.drain(..n)) {
            *slot = c;
        }
        if list.is_empty() {
            bell.drain();
        }
        Ok(n)
    }

    pub(super) fn reap_fd(&self) -> Option<RawFd> {
        self.reap_bell.as_ref().map(EventFd::raw)
    }

    pub(super) fn errors(&self, out: &mut [Completion]) -> (usize, u64) {
        let mut g = self.st.lock();
        let n = out.len().min(g.errors.len());
        for (slot, c) in out.iter_mut().zip(g.errors.drain(..n)) {
            *slot = c;
        }
        (n, std::mem::take(&mut g.errors_dropped))
    }

    pub(super) fn state(&self) -> PoolState {
        match self.st.lock().phase {
            Phase::Serving => PoolState::Serving,
            Phase::Failed(status, nrt_status) => PoolState::Failed { status, nrt_status },
            Phase::Closing | Phase::Closed => PoolState::Closed,
        }
    }

    pub(super) fn stats(&self) -> PoolStats {
        let g = self.st.lock();
        PoolStats {
            submitted: g.next_ticket - 1,
            completed: g.counts.completed,
            failed: g.counts.failed,
            cancelled: g.counts.cancelled,
            rerouted: g.counts.rerouted,
            retried: g.counts.retried,
            backlog: g.backlog.len() as u64,
            outstanding: g.cores.iter().map(|c| c.outstanding as u64).sum(),
            cores_alive: g.alive as u64,
            cores: g.cores.len() as u64,
        }
    }

    pub(super) fn cores(&self) -> Vec<CoreInfo> {
        let mut v: Vec<CoreInfo> = {
            let g = self.st.lock();
            g.cores
                .iter()
                .enumerate()
                .map(|(index, c)| CoreInfo {
                    index,
                    queue_id: self.cores[index].queue.get().map_or(0, Queue::id),
                    healthy: c.alive,
                    failure: c.failure,
                    routed: c.routed,
                    outstanding: c.outstanding as u64,
                    device_ns: c.device_ns,
                    queue: Default::default(),
                })
                .collect()
        };
        for (info, c) in v.iter_mut().zip(&self.cores) {
            if let Some(q) = c.queue.get() {
                info.queue = q.stats();
            }
        }
        v
    }

    // ---- the cores' hooks (a completion thread, no lock held) ------------------------

    /// A request handed to core `i` completed.
    fn on_core_completion(&self, i: usize, c: &Completion) {
        let reached_device = delivering_reached_device();
        let core = &self.cores[i];
        let n = core.completions.fetch_add(1, Ordering::Relaxed);
        let learned = (n.is_multiple_of(LEARN_EVERY) || n < 4)
            .then(|| core.queue.get().map(|q| q.stats().predicted_device_ns))
            .flatten();
        let mut g = self.st.lock();
        if let Some(d) = learned.filter(|&d| d > 0) {
            g.cores[i].device_ns = d;
        }
        let key = c.user_data as usize;
        let Some(req) = g.slab.get_mut(key).and_then(Option::take) else {
            log!(
                Level::Error,
                "pool core {i}: completion of an unknown request (key {key}); ignored"
            );
            return;
        };
        g.free.push(key);
        g.cores[i].outstanding -= 1;
        let error_log = self.cfg.error_log;
        if lost_with_core(c.status)
            && g.phase == Phase::Serving
            && (!reached_device || self.cfg.retry_safe)
        {
            g.counts.rerouted += 1;
            if reached_device {
                g.counts.retried += 1;
            }
            g.backlog.push_front(req);
            let mut out = Vec::new();
            g.dispatch(&self.cores, &mut out, error_log);
            drop(g);
            self.deliver_all(out);
            return;
        }
        let o = g.finish(req, c.status, c.nrt_status, c.stage, error_log);
        drop(g);
        self.deliver(o);
    }

    /// Core `i`'s queue has room for `room` more requests: pull them from the backlog.
    fn on_room(&self, i: usize, q: &Queue, room: usize) {
        let mut g = self.st.lock();
        if !g.cores[i].alive {
            return;
        }
        let cap = g.cores[i].outstanding + room;
        g.cores[i].cap = cap;
        let mut out = Vec::new();
        while g.cores[i].outstanding < g.cores[i].cap {
            let Some(req) = g.backlog.pop_front() else {
                break;
            };
            if let Err((req, e)) = g.submit_to(i, q, req) {
                if core_unavailable(&e) {
                    g.backlog.push_front(req);
                    // Full or gone: the others may have room.
                    g.dispatch(&self.cores, &mut out, self.cfg.error_log);
                    break;
                }
                let o = g.finish(req, e.status, e.nrt_status, None, self.cfg.error_log);
                out.push(o);
            }
        }
        drop(g);
        self.deliver_all(out);
    }

    /// Core `i`'s queue failed terminally: the core leaves the pool.
    fn on_core_failed(&self, i: usize, st: Status, raw: NrtStatus) {
        let mut g = self.st.lock();
        if !g.cores[i].alive {
            return;
        }
        let c = &mut g.cores[i];
        c.alive = false;
        c.failure = Some((st, raw));
        c.cap = 0;
        g.alive -= 1;
        let out = if g.alive == 0 && g.phase == Phase::Serving {
            g.phase = Phase::Failed(st, raw);
            g.fail_backlog(st, raw, self.cfg.error_log)
        } else {
            Vec::new()
        };
        let alive = g.alive;
        drop(g);
        log!(
            Level::Error,
            "pool core {i} left ({}, NRT status {raw}); {alive} core(s) serving",
            st.describe().0
        );
        if let Some(h) = &self.cfg.on_core_left {
            if catch_unwind(AssertUnwindSafe(|| h(i, st, raw))).is_err() {
                log!(Level::Error, "pool: the core-left hook panicked");
            }
        }
        self.deliver_all(out);
        self.wake_waiters();
    }

    // ---- delivery (no lock held) -----------------------------------------------------

    fn deliver_all(&self, out: Vec<Outgoing>) {
        out.into_iter().for_each(|o| self.deliver(o));
    }

    fn deliver(&self, o: Outgoing) {
        match &self.reap_bell {
            None => {
                let c = o.completion;
                let run = || match o.callback {
                    Some(cb) => cb(&c),
                    None => {
                        if let Some(h) = &self.cfg.on_complete {
                            h(&c)
                        }
                    }
                };
                if catch_unwind(AssertUnwindSafe(run)).is_err() {
                    log!(
                        Level::Error,
                        "pool: the completion callback of ticket {} panicked",
                        c.ticket
                    );
                }
            }
            Some(bell) => {
                let mut list = self.reap.lock();
                list.push_back(o.completion);
                if list.len() == 1 {
                    bell.ring();
                }
            }
        }
        self.delivered.fetch_add(1, Ordering::SeqCst);
        self.wake_waiters();
    }

    fn wake_waiters(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.st.lock();
            self.cond.notify_all();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let open = !matches!(self.st.get_mut().phase, Phase::Closed);
        if open && !on_a_completion_thread() {
            let _ = self.destroy(Duration::from_secs(1));
        }
        let threads = std::mem::take(self.threads.get_mut());
        if !threads.is_empty() && on_a_completion_thread() {
            // Joining a completion thread from itself would wait for ever: let another
            // thread stop them.
            let _ = std::thread::Builder::new()
                .name("nrtq-pool-stop".into())
                .spawn(move || drop(threads));
        }
    }
}
