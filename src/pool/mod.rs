//! A pool: one model on a set of logical cores behind one submit, surviving a dying core.
//!
//! # Shape
//! Each core is an ordinary [`Queue`] in pull mode (its refill hook asks the pool for work
//! with how much room it has), in callback mode with the pool's own completion hook and
//! fatal hook. The pool itself holds one backlog, the requests handed to the cores (in a
//! slab, keyed by the `user_data` given to the core's queue), and per-core bookkeeping:
//! requests outstanding, the room the core last reported, its learned device time.
//! Everything the pool decides is under one mutex; its order is pool lock → queue lock,
//! never the reverse (the queues call the pool's hooks with no lock held).
//!
//! # Routing
//! - A submit finding the pool backlog empty goes straight to the core with room whose
//!   expected finish is earliest: (outstanding + 1) × its learned device time.
//! - Otherwise (or when no core has room) it joins the pool backlog, and the cores pull
//!   from it as their completions make room. A slower or busier core completes less
//!   often, so it pulls, and is given, less.
//!
//! No lost wake-up: a request joins the backlog only when every live core is at its
//! room, i.e. holds requests whose completions will ask for more; a core's completions
//! are counted off (in the completion hook) before its refill hook asks, both under the
//! pool lock.
//!
//! # Failover and exactly once
//! A request is a value in exactly one place at a time: the pool backlog, the slab (on a
//! core's queue), or on its way to the application; it is completed only by
//! [`state::PoolState::finish`] taking it by value. When a core's queue fails, its fatal
//! hook marks the core gone and tells the application; its requests then complete
//! through the pool's completion hook, where those that never reached the device (or
//! all of them, with [`PoolConfig::retry_safe`]) go back to the front of the pool backlog
//! and on to the live cores. When the last core is gone the pool fails terminally and
//! everything left completes with the last core's status.
mod state;

use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Handle, Work};
use crate::queue::{
    Callback, Completion, CompletionHook, Delivery, HostInput, HostOutput, PipelineConfig,
    QueueConfig,
};
use crate::runtime::Runtime;
use crate::stats::Snapshot;
use crate::status::{Error, NrtStatus, Result, Status};

pub use state::Pool;

/// Called once when a core leaves the pool: (core index in the pool, nrtq status, raw
/// libnrt status). Runs on a completion thread, with no lock held.
pub type CoreLeftHook = Arc<dyn Fn(usize, Status, NrtStatus) + Send + Sync>;

/// Where the pool's model comes from.
#[derive(Clone, Debug)]
pub enum PoolModel {
    /// nrtq loads this NEFF file on each core (and unloads it at destroy). `cores`:
    /// the logical cores to use; `None` for every core the process sees.
    File {
        /// The model file.
        path: PathBuf,
        /// Logical cores, or `None` for all visible ones.
        cores: Option<Vec<u32>>,
    },
    /// The same, from the model's bytes.
    Bytes {
        /// The NEFF.
        neff: Arc<[u8]>,
        /// Logical cores, or `None` for all visible ones.
        cores: Option<Vec<u32>>,
    },
    /// Models the application loaded, one per core (`nrt_model_t *`), kept loaded by the
    /// application until the pool is destroyed.
    Loaded(Vec<Handle>),
}

/// Settings of a pool, fixed at creation.
#[derive(Clone)]
pub struct PoolConfig {
    /// Settings of each core's queue (depth, wait policy, deadline…). Its delivery and
    /// hooks are the pool's own and are ignored here.
    pub queue: QueueConfig,
    /// Requests the pool backlog holds before `submit` says "not now" (default 4096).
    pub backlog: usize,
    /// Callback or reap delivery (default callback).
    pub delivery: Delivery,
    /// The application marks the pool's requests safe to run twice: a request that was
    /// on a core's device when the core died runs again on another core instead of
    /// completing with the core's failure (each is still delivered exactly once).
    pub retry_safe: bool,
    /// Completion threads serving the cores (default 1: the runtime's own). More split
    /// the cores between them, round robin; the extra threads belong to the pool.
    pub completion_threads: usize,
    /// Recent failed completions kept for [`Pool::errors`] (default 256).
    pub error_log: usize,
    /// Pool-wide completion callback, for requests submitted without their own.
    pub on_complete: Option<CompletionHook>,
    /// A core left the pool.
    pub on_core_left: Option<CoreLeftHook>,
    /// Host buffers in, host buffers out: each core's queue is a pipeline with these
    /// settings (input writes, execution, output reads), and requests come through
    /// [`Pool::submit_host`]. `None` (the default): cores take tensor sets ([`Pool::submit`]).
    pub pipeline: Option<PipelineConfig>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            queue: QueueConfig::default(),
            backlog: 4096,
            delivery: Delivery::Callback,
            retry_safe: false,
            completion_threads: 1,
            error_log: 256,
            on_complete: None,
            on_core_left: None,
            pipeline: None,
        }
    }
}

impl PoolConfig {
    /// Reject settings the pool cannot honour.
    pub fn validate(&self) -> Result<()> {
        self.queue.validate()?;
        if self.backlog > (1 << 24) {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("pool backlog {} above 2^24", self.backlog),
            ));
        }
        if self.completion_threads == 0 || self.completion_threads > 256 {
            return Err(Error::new(
                Status::InvalidArgument,
                format!(
                    "completion_threads {} not in 1..=256",
                    self.completion_threads
                ),
            ));
        }
        Ok(())
    }
}

/// Where a pool is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolState {
    /// Accepting work on at least one live core.
    Serving,
    /// Every core has left: the pool accepts no more work, and everything it held has
    /// completed (or is completing) with the last core's status.
    Failed {
        /// nrtq status of the last core's failure.
        status: Status,
        /// Raw libnrt status of the last core's failure.
        nrt_status: NrtStatus,
    },
    /// Being destroyed, or destroyed.
    Closed,
}

/// One core of a pool, as [`Pool::cores`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreInfo {
    /// Index in the pool (what the core-left hook names).
    pub index: usize,
    /// The core's queue id (its track in the trace).
    pub queue_id: u64,
    /// Still serving.
    pub healthy: bool,
    /// Why it left, when it did: (nrtq status, raw libnrt status).
    pub failure: Option<(Status, NrtStatus)>,
    /// Requests the pool handed to this core (re-runs included).
    pub routed: u64,
    /// Requests on the core now (its queue's device and backlog).
    pub outstanding: u64,
    /// The core's learned device time per request, ns (0 before it is learned).
    pub device_ns: u64,
    /// The core's queue's counters.
    pub queue: Snapshot,
}

/// Pool-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Requests accepted.
    pub submitted: u64,
    /// Requests delivered (callback returned, or ready to reap), any status.
    pub completed: u64,
    /// Delivered with an error status other than cancellation.
    pub failed: u64,
    /// Delivered as cancelled.
    pub cancelled: u64,
    /// Requests moved off a failed core to another (never reached its device, or
    /// retried).
    pub rerouted: u64,
    /// Of those, requests that had reached the failed core's device (retry-safe pools).
    pub retried: u64,
    /// In the pool backlog now.
    pub backlog: u64,
    /// On the cores now.
    pub outstanding: u64,
    /// Cores still serving.
    pub cores_alive: u64,
    /// Cores in the pool at creation.
    pub cores: u64,
}

impl Runtime {
    /// Create a pool: `model` on a set of cores behind one submit.
    pub fn create_pool(&self, model: PoolModel, cfg: PoolConfig) -> Result<Pool> {
        Pool::create(self, model, cfg)
    }
}

/// What [`Pool::submit`] and friends share, re-exported for documentation links.
impl Pool {
    /// Accept one execution of the pool's model on (`input`, `output`). Never blocks:
    /// straight to the core expected to finish it soonest when one has room, otherwise
    /// into the pool backlog; a full backlog is [`Status::BacklogFull`], a pool whose
    /// cores have all left is [`Status::QueueFailed`]. Returns the request's pool ticket
    /// (increasing from 1).
    pub fn submit(&self, work: Work, user_data: u64, callback: Option<Callback>) -> Result<u64> {
        self.0
            .submit(state::Payload::Device(work), user_data, callback)
    }

    /// A pool of pipelines: accept one request carrying host buffers, one per model input
    /// and output (by index or name, each of the tensor's exact size: otherwise
    /// [`Status::InvalidArgument`] naming the tensor, and nothing is accepted). Routed as
    /// [`Pool::submit`]; on its core, the inputs are written, the model runs and the
    /// outputs are read into `outputs` before the request completes. A request that never
    /// reached a failed core's device (or any, with [`PoolConfig::retry_safe`]) runs again
    /// on another core, writing its inputs again.
    ///
    /// # Safety
    /// As for [`Queue::submit_host`](crate::Queue::submit_host): every buffer stays valid
    /// until the pool delivers the request; inputs unchanged, outputs untouched meanwhile.
    pub unsafe fn submit_host(
        &self,
        inputs: &[HostInput],
        outputs: &[HostOutput],
        user_data: u64,
        callback: Option<Callback>,
    ) -> Result<u64> {
        let io = self.0.check_host(inputs, outputs)?;
        self.0.submit(state::Payload::Host(io), user_data, callback)
    }

    /// Wait until everything accepted has been delivered. Refused on a completion thread.
    pub fn drain(&self, timeout: Option<Duration>) -> Result<()> {
        self.0.drain(timeout)
    }

    /// Destroy the pool: cancel its backlog, destroy each core's queue (waiting up to
    /// `timeout` for each device), deliver every completion, unload the models nrtq
    /// loaded and stop the pool's extra completion threads. Refused with `WouldDeadlock`
    /// on a completion thread and `InvalidArgument` when already destroyed.
    pub fn destroy(&self, timeout: Duration) -> Result<()> {
        self.0.destroy(timeout)
    }

    /// Reap mode: move up to `out.len()` completions, oldest first, into `out`.
    pub fn reap(&self, out: &mut [Completion]) -> Result<usize> {
        self.0.reap(out)
    }

    /// Reap mode: the descriptor that turns readable when completions wait (a hint:
    /// after it fires, reap until nothing is returned).
    pub fn reap_fd(&self) -> Option<RawFd> {
        self.0.reap_fd()
    }

    /// Drain up to `out.len()` of the most recent failed completions (oldest first), and
    /// how many were dropped because the log was full.
    pub fn errors(&self, out: &mut [Completion]) -> (usize, u64) {
        self.0.errors(out)
    }

    /// Where the pool is in its life.
    pub fn state(&self) -> PoolState {
        self.0.state()
    }

    /// Pool-wide counters now.
    pub fn stats(&self) -> PoolStats {
        self.0.stats()
    }

    /// Every core of the pool with its health and counters.
    pub fn cores(&self) -> Vec<CoreInfo> {
        self.0.cores()
    }

    /// The raw pointer behind this handle (what the C API hands out).
    pub fn as_ptr(&self) -> *const () {
        Arc::as_ptr(&self.0).cast()
    }
}
