//! The emulated device: one execution unit per (logical core × XU type × queue), each a
//! FIFO that runs one request at a time on a computed timeline, independent of the
//! others, and one release thread that completes requests when the wall clock passes
//! their simulated end.
//!
//! - Timeline: a request starts at max(its arrival, the previous request's end) and
//!   ends `cost` later (model time, or transfer overhead + bytes ÷ bandwidth). Busy time
//!   is therefore the exact sum of costs, and idle time the exact sum of gaps.
//! - Depth: at most `queue_depth` requests accepted and not yet completed per XU;
//!   beyond it a schedule call returns `NRT_QUEUE_FULL` and changes nothing.
//! - Ids: the XU id in bits 63..48 (see [`xu`]) and a per-XU number from 1, strictly
//!   increasing; `nrta_get_sequence` reads the last completed one without a lock.
//! - Release (see [`release`]): the work's effect, then the status (tracker entry or
//!   `*ret`), then the completed counter (Release ordering), then notifications.
//!
//! Every choice where the vendor is silent is listed in `nrt-emu/ASYNC.md`.

pub mod calls;
pub mod clock;
pub mod config;
pub mod exec;
pub mod fault;
pub mod hostmem;
pub mod notify;
mod release;
pub mod request;
pub mod tracker;
pub mod xu;

use crate::error::Failure;
use crate::model::{self, ModelSpec};
use crate::observe::{nrtemu_xu_stats_t, trace::Trace, XuCounters};
use config::DeviceConfig;
use fault::{Fault, Planned};
use neuron_sys::*;
use parking_lot::Mutex;
use request::{Pending, Report, Work};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::os::fd::OwnedFd;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use xu::{Api, XuAddr, XuKind};

/// How many recent completions per XU keep their release time for
/// `nrtemu_get_completion_time`.
const RECENT: usize = 4096;

/// A model file as `nrt_load` accepts it: the format (`model::parse`, which refuses a
/// real NEFF), then the model's `fault` lines, whose syntax belongs to this layer: a
/// rule it cannot read is refused at load rather than at every execution.
pub fn parse_model(bytes: &[u8]) -> Result<ModelSpec, Failure> {
    let spec = model::parse(bytes)?;
    for f in &spec.faults {
        fault::parse_rule(f).map_err(|e| Failure::invalid(format!("fault '{f}': {e}")))?;
    }
    Ok(spec)
}

/// The device of one runtime instance (created at `nrt_init`, shut down at `nrt_close`).
pub struct Device {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What the schedule calls and the release thread share.
pub(crate) struct Shared {
    cfg: DeviceConfig,
    xus: Vec<Xu>,
    /// Index of the first queue of each XU type within one core's block.
    type_offset: Vec<usize>,
    /// XU instances per core.
    per_lnc: usize,
    /// Deadlines of pending requests, for the release thread.
    heap: Mutex<Deadlines>,
    /// Futex word the release thread sleeps on; bumped to wake it.
    epoch: AtomicU32,
    stop: AtomicBool,
    closed: AtomicBool,
    trace: Option<Mutex<Trace>>,
    /// CPU-time clock of the release thread, and CPU it used in earlier lives.
    cpu: Mutex<ThreadCpu>,
    /// Per core, when its host link is next free for a synchronous copy, one direction
    /// each: [to the device, from the device] (see `Device::sync_transfer_end`).
    sync_links: Vec<[Mutex<u64>; 2]>,
}

#[derive(Default)]
struct ThreadCpu {
    clock: Option<libc::clockid_t>,
    finished_ns: u64,
}

struct Deadlines {
    /// (simulated end, XU index): a hint that the XU has something due then.
    keys: BinaryHeap<Reverse<(u64, usize)>>,
    /// The deadline the release thread is sleeping towards (0 while it is awake and
    /// will look at the heap again before sleeping; `u64::MAX` when blocked for ever).
    sleeping_until: u64,
}

/// One XU instance.
pub(crate) struct Xu {
    addr: XuAddr,
    queue_count: u32,
    /// Last accepted number.
    issued: AtomicU64,
    /// Last completed number; stored with Release after the status is written.
    completed: AtomicU64,
    dead: AtomicBool,
    /// Environment fault rules that target this XU.
    faults: Vec<Fault>,
    state: Mutex<XuState>,
}

struct XuState {
    /// End of the last request on the timeline.
    free_at: u64,
    /// A request that never ends is queued: nothing behind it ends either.
    hung: bool,
    fifo: VecDeque<Pending>,
    /// Schedule calls that passed every other check (for `reject` rules).
    calls: u64,
    /// One-shot fds: completion handles (2.28) and per-id eventfds (2.30+).
    waiters: Vec<(u64, OwnedFd)>,
    /// The per-XU eventfd (2.30+).
    xu_fd: Option<OwnedFd>,
    counters: XuCounters,
    /// Timeline position up to which idle time has been counted.
    idle_mark: u64,
    /// (number, simulated end, release time) of recent completions, by number % RECENT.
    recent: Vec<(u64, u64, u64)>,
}

/// A request as the schedule calls hand it to the device.
pub struct Submit<'a> {
    /// Which XU kind runs it (mapped to the generation's numbering).
    pub kind: XuKind,
    /// Logical core.
    pub lnc: u32,
    /// Queue (checked against the XU type's count).
    pub queue: u32,
    /// Simulated cost, given the request's sequence number.
    pub cost: &'a dyn Fn(u64) -> u64,
    /// The effect.
    pub work: Work,
    /// Where the status goes.
    pub report: Report,
    /// The model's own fault rules (empty for transfers).
    pub model_faults: &'a [Fault],
    /// Trace label, asked for only when tracing.
    pub label: &'a dyn Fn() -> Arc<str>,
    /// Sync `nrt_execute`: not bounded by the queue depth (it still counts in it).
    pub unbounded: bool,
}

impl Device {
    /// Create the device for the runtime being initialised: its cores and generation
    /// come from the runtime's configuration, everything else from `NRT_EMU_*`.
    pub fn new(config: &crate::config::Config) -> Result<Device, Failure> {
        let api = match config.generation {
            neuron_sys::Generation::Sdk2_28 => Api::GenA,
            neuron_sys::Generation::Sdk2_29 => Api::GenB,
            _ => Api::GenBEvents,
        };
        Ok(Device::with_config(DeviceConfig::from_env(
            api,
            config.visible_cores,
        )?))
    }

    /// Create a device with explicit parameters and start its release thread.
    pub fn with_config(cfg: DeviceConfig) -> Device {
        let api = cfg.api;
        // The XU id encoding has 8 bits of core, 4 of type and 4 of queue; the runtime
        // never configures more cores than that (`config::MAX_VISIBLE_CORES`).
        let lncs = cfg.lncs.clamp(1, crate::config::MAX_VISIBLE_CORES);
        let mut type_offset = Vec::new();
        let mut per_lnc = 0usize;
        for t in 0..api.type_count() {
            type_offset.push(per_lnc);
            let kind = api
                .kind_of(t)
                .expect("every type below TYPE_NUM has a kind");
            per_lnc += api.queue_count(kind) as usize;
        }
        let start = clock::now_ns();
        let mut trace = cfg.trace.clone().map(|p| Trace::new(p, cfg.trace_max));
        let mut xus = Vec::with_capacity(per_lnc * lncs as usize);
        for lnc in 0..lncs {
            for t in 0..api.type_count() {
                let kind = api.kind_of(t).expect("in range");
                let queue_count = api.queue_count(kind);
                for queue in 0..queue_count {
                    let addr = XuAddr { lnc, xu: t, queue };
                    let faults = cfg
                        .faults
                        .iter()
                        .filter(|f| {
                            api.xu_of(f.target.kind) == t
                                && f.target.lnc.filter(|&l| l != lnc).is_none()
                                && f.target.queue.filter(|&q| q != queue).is_none()
                        })
                        .copied()
                        .collect();
                    if let Some(tr) = trace.as_mut() {
                        tr.name_track(lnc, addr.id(), format!("{} q{queue}", kind.name()));
                    }
                    xus.push(Xu {
                        addr,
                        queue_count,
                        issued: AtomicU64::new(0),
                        completed: AtomicU64::new(0),
                        dead: AtomicBool::new(false),
                        faults,
                        state: Mutex::new(XuState {
                            free_at: start,
                            hung: false,
                            fifo: VecDeque::new(),
                            calls: 0,
                            waiters: Vec::new(),
                            xu_fd: None,
                            counters: XuCounters::default(),
                            idle_mark: start,
                            recent: Vec::new(),
                        }),
                    });
                }
            }
        }
        let shared = Arc::new(Shared {
            cfg: DeviceConfig { lncs, ..cfg },
            xus,
            type_offset,
            per_lnc,
            heap: Mutex::new(Deadlines {
                keys: BinaryHeap::new(),
                sleeping_until: 0,
            }),
            epoch: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            trace: trace.map(Mutex::new),
            cpu: Mutex::new(ThreadCpu::default()),
            sync_links: (0..lncs).map(|_| Default::default()).collect(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("nrt-emu-release".into())
            .spawn(move || release::run(&s))
            .expect("spawn the nrt-emu release thread");
        Device {
            shared,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// The parameters in force.
    pub fn config(&self) -> &DeviceConfig {
        &self.shared.cfg
    }

    /// The generation's API shape.
    pub fn api(&self) -> Api {
        self.shared.cfg.api
    }

    /// Stop the device at `nrt_close`: refuse new work (`NRT_CLOSED`), complete every
    /// request still queued or running at once with `NRT_CLOSED` (reported like any
    /// completion: tracker, `*ret`, fds, a blocked `nrt_execute`), stop the release
    /// thread and write the trace. Idempotent.
    pub fn shutdown(&self) {
        let s = &self.shared;
        if s.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        s.stop.store(true, Ordering::SeqCst);
        s.epoch.fetch_add(1, Ordering::SeqCst);
        clock::wake(&s.epoch);
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
        for i in 0..s.xus.len() {
            release::abort_all(s, i, NRT_CLOSED);
        }
        if let Some(t) = &s.trace {
            t.lock().write();
        }
    }

    /// Schedule one request; its full sequence id on success. On any error nothing
    /// changed: no number consumed, no counter moved.
    pub fn submit(&self, req: Submit<'_>) -> Result<nrta_seq_t, NRT_STATUS> {
        let s = &*self.shared;
        let idx = s.index(req.lnc, s.cfg.api.xu_of(req.kind), req.queue)?;
        let xu = &s.xus[idx];
        // A full queue is refused without taking the lock, so an application that polls
        // by retrying never contends with the release thread (which would then park on
        // the lock and release late). Rechecked under the lock below.
        if !req.unbounded
            && xu
                .issued
                .load(Ordering::Acquire)
                .saturating_sub(xu.completed.load(Ordering::Acquire))
                >= u64::from(s.cfg.queue_depth)
            && !xu.dead.load(Ordering::Acquire)
            && !s.closed.load(Ordering::Acquire)
        {
            return Err(NRT_QUEUE_FULL);
        }
        let now = clock::now_ns();
        let mut st = xu.state.lock();
        if s.closed.load(Ordering::SeqCst) {
            return Err(NRT_CLOSED);
        }
        if xu.dead.load(Ordering::Acquire) {
            return Err(NRT_EXEC_UNIT_UNRECOVERABLE);
        }
        let issued = xu.issued.load(Ordering::Relaxed);
        let in_flight = issued - xu.completed.load(Ordering::Acquire);
        if !req.unbounded && in_flight >= u64::from(s.cfg.queue_depth) {
            return Err(NRT_QUEUE_FULL);
        }
        let rules = || xu.faults.iter().chain(req.model_faults.iter());
        let call = st.calls + 1;
        if let Some(code) = fault::rejection(rules(), call) {
            st.calls = call;
            return Err(code);
        }
        let num = issued + 1;
        if num > NRTA_SEQ_NUM_MAX {
            return Err(NRT_RESOURCE);
        }
        st.calls = call;
        let planned = fault::plan(rules(), num);
        let cost = (req.cost)(num);
        let start = now.max(st.free_at);
        let end = if st.hung || planned == Planned::Hang {
            st.hung = true;
            u64::MAX
        } else {
            start.saturating_add(cost)
        };
        st.free_at = end;
        st.fifo.push_back(Pending {
            num,
            start,
            end,
            cost,
            planned,
            work: Some(req.work),
            report: req.report,
            label: s.trace.as_ref().map(|_| (req.label)()),
        });
        xu.issued.store(num, Ordering::Release);
        st.counters.queue_hwm = st.counters.queue_hwm.max(in_flight + 1);
        let mut wake = false;
        if end != u64::MAX {
            let mut h = s.heap.lock();
            h.keys.push(Reverse((end, idx)));
            if end < h.sleeping_until {
                h.sleeping_until = end;
                s.epoch.fetch_add(1, Ordering::SeqCst);
                wake = true;
            }
        }
        drop(st);
        if wake {
            clock::wake(&s.epoch);
        }
        Ok(xu.addr.seq(num))
    }

    /// `nrta_get_sequence`: the id of the last completed request on the XU (the XU id
    /// with number 0 before any), or `NRT_INVALID` for a core, type or queue that does
    /// not exist.
    pub fn last_completed(
        &self,
        lnc: u32,
        xu: nrta_xu_t,
        queue: c_int,
    ) -> Result<nrta_seq_t, NRT_STATUS> {
        let queue = u32::try_from(queue).map_err(|_| NRT_INVALID)?;
        let x = &self.shared.xus[self.shared.index(lnc, xu, queue)?];
        Ok(x.addr.seq(x.completed.load(Ordering::Acquire)))
    }

    /// `nrta_is_completed`: `NRT_INVALID` for an unknown XU id or a number beyond the
    /// last one issued (number 0, "nothing yet", counts as completed).
    pub fn is_completed(&self, seq: nrta_seq_t) -> Result<bool, NRT_STATUS> {
        let (x, num) = self.shared.decode(seq)?;
        Ok(num <= x.completed.load(Ordering::Acquire))
    }

    /// `nrta_get_completion_handle` (2.28): a new fd, readable once `seq` completed (at
    /// once if it already has) and until closed; the caller owns and closes it.
    pub fn completion_handle(&self, seq: nrta_seq_t) -> Result<c_int, NRT_STATUS> {
        let (x, num) = self.shared.decode(seq)?;
        let (theirs, ours) = notify::completion_handle()?;
        self.shared.add_waiter(x, num, ours);
        Ok(theirs)
    }

    /// `nrta_event_register_seq_id_completion` (2.30+): signal the caller's eventfd once
    /// when `seq` completes, at once if it already has. `fd = -1` removes every pending
    /// registration for `seq`.
    pub fn register_seq_event(&self, seq: nrta_seq_t, fd: c_int) -> Result<(), NRT_STATUS> {
        let (x, num) = self.shared.decode(seq)?;
        if fd == -1 {
            x.state.lock().waiters.retain(|(n, _)| *n != num);
            return Ok(());
        }
        let ours = notify::dup_caller_fd(fd)?;
        self.shared.add_waiter(x, num, ours);
        Ok(())
    }

    /// `nrta_event_register_xu_completion` (2.30+): signal the caller's eventfd after
    /// every release pass that completed requests on the XU, until replaced or removed
    /// with `fd = -1`. No signal at registration: register before scheduling, or check
    /// the counter after registering.
    pub fn register_xu_event(
        &self,
        lnc: c_int,
        xu: nrta_xu_t,
        queue: c_int,
        fd: c_int,
    ) -> Result<(), NRT_STATUS> {
        let lnc = u32::try_from(lnc).map_err(|_| NRT_INVALID)?;
        let queue = u32::try_from(queue).map_err(|_| NRT_INVALID)?;
        let x = &self.shared.xus[self.shared.index(lnc, xu, queue)?];
        let new = if fd == -1 {
            None
        } else {
            Some(notify::dup_caller_fd(fd)?)
        };
        x.state.lock().xu_fd = new;
        Ok(())
    }

    /// Counters of one XU instance (everything but `struct_size`).
    pub fn xu_stats(
        &self,
        lnc: u32,
        xu: nrta_xu_t,
        queue: u32,
    ) -> Result<nrtemu_xu_stats_t, NRT_STATUS> {
        let x = &self.shared.xus[self.shared.index(lnc, xu, queue)?];
        let st = x.state.lock();
        let mut out = nrtemu_xu_stats_t {
            lnc,
            xu,
            queue,
            issued: x.issued.load(Ordering::Acquire),
            dead: u32::from(x.dead.load(Ordering::Acquire)),
            ..Default::default()
        };
        out.in_flight = out
            .issued
            .saturating_sub(x.completed.load(Ordering::Acquire));
        st.counters.fill(&mut out);
        Ok(out)
    }

    /// Zero every XU's counters; busy and idle time start counting from now.
    pub fn reset_stats(&self) {
        let now = clock::now_ns();
        for x in &self.shared.xus {
            let mut st = x.state.lock();
            st.counters = XuCounters::default();
            st.idle_mark = now;
        }
    }

    /// The simulated end and the release time of a recently completed request
    /// (`NRT_INVALID` when it has not completed or is no longer remembered).
    pub fn completion_time(&self, seq: nrta_seq_t) -> Result<(u64, u64), NRT_STATUS> {
        let (x, num) = self.shared.decode(seq)?;
        let st = x.state.lock();
        match st.recent.get(num as usize % RECENT) {
            Some(&(n, end, rel)) if n == num && num != 0 => Ok((end, rel)),
            _ => Err(NRT_INVALID),
        }
    }

    /// CPU time the emulator's own thread(s) used since the device started.
    pub fn thread_cpu_ns(&self) -> u64 {
        let c = self.shared.cpu.lock();
        c.finished_ns + c.clock.and_then(clock::thread_cpu_ns).unwrap_or(0)
    }

    /// The queue count of an XU type of this generation (`None` when out of range).
    pub fn queue_count(&self, xu: nrta_xu_t) -> Option<u32> {
        let api = self.shared.cfg.api;
        api.kind_of(xu).map(|k| api.queue_count(k))
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // The runtime shuts the device down at nrt_close; this only covers a device
        // dropped without that (a Rust test), so its thread never outlives it.
        self.shutdown();
    }
}

impl Shared {
    /// The table index of (core, type, queue), or `NRT_INVALID`.
    fn index(&self, lnc: u32, xu: nrta_xu_t, queue: u32) -> Result<usize, NRT_STATUS> {
        let off = *self.type_offset.get(xu as usize).ok_or(NRT_INVALID)?;
        if lnc >= self.cfg.lncs {
            return Err(NRT_INVALID);
        }
        let i = lnc as usize * self.per_lnc + off + queue as usize;
        match self.xus.get(i) {
            Some(x) if x.addr.xu == xu && queue < x.queue_count => Ok(i),
            _ => Err(NRT_INVALID),
        }
    }

    /// The XU and number of an id; `NRT_INVALID` for an XU that does not exist or a
    /// number beyond the last issued.
    fn decode(&self, seq: nrta_seq_t) -> Result<(&Xu, u64), NRT_STATUS> {
        let a = XuAddr::from_id(nrta_seq_get_xu_id(seq));
        let x = &self.xus[self.index(a.lnc, a.xu, a.queue)?];
        let num = nrta_seq_get_seq_num(seq);
        if num > x.issued.load(Ordering::Acquire) {
            return Err(NRT_INVALID);
        }
        Ok((x, num))
    }

    /// Add a one-shot fd for number `num`, signalling it at once when already complete.
    /// Under the XU lock, so a concurrent release either sees the waiter or has already
    /// advanced the counter this reads.
    fn add_waiter(&self, x: &Xu, num: u64, fd: OwnedFd) {
        let mut st = x.state.lock();
        if num <= x.completed.load(Ordering::Acquire) {
            drop(st);
            notify::signal(&fd);
        } else {
            st.waiters.push((num, fd));
        }
    }
}
