//! What a queue is asked to do, fixed at creation: how deep to keep the device, how big
//! the backlog may grow, how completions are delivered and waited for, and the hooks the
//! application hands in. Kept apart from the engine so a reader can see every knob (and
//! its default) without reading how the knobs are used.
use std::time::Duration;

use super::{CompletionHook, FatalHook, RefillHook};
use crate::status::{Error, Result, Status};

/// How completions reach the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Each request's callback runs on the completion thread.
    Callback,
    /// Completions wait in the queue until reaped; a pollable fd signals them.
    Reap,
}

/// How the completion thread waits for this queue's requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitPolicy {
    /// Block on the runtime's notification (or sleep until the predicted completion
    /// where there is none), spinning only when a completion is due within `spin`.
    Balanced,
    /// Sleep until just before the predicted completion, then spin until it arrives:
    /// lowest notification latency, more CPU per request.
    LowLatency,
}

/// Settings of one queue, fixed at creation.
#[derive(Clone)]
pub struct QueueConfig {
    /// Requests kept on the device at once, at least (default 3; the vendor advises
    /// 2–3). The queue keeps more, up to [`QueueConfig::max_depth`], when `depth`
    /// requests of the learned device time are too little work to cover the completion
    /// thread's wake-up.
    pub depth: usize,
    /// Ceiling of the automatic depth (default 16; at most 1024). Once the device time
    /// is learned, the queue aims for enough requests behind the one the completion
    /// thread waits for to outlast its wake-up (the cover: three times the measured p95
    /// timer overshoot plus 20 µs, 50–500 µs of device time), plus `ceil(300 µs / device
    /// time)` for it to gather per wake-up, within `[depth, max(depth, max_depth)]` and
    /// what the device accepts (learned from `NRT_QUEUE_FULL`, re-probed every 256
    /// requests). A value ≤ `depth` pins the queue at exactly `depth`.
    pub max_depth: usize,
    /// Requests the software backlog holds before `submit` says "not now" (default 1024).
    pub backlog: usize,
    /// Callback or reap delivery (default callback).
    pub delivery: Delivery,
    /// Wait policy (default balanced).
    pub policy: WaitPolicy,
    /// Spin window: how close to a predicted completion the thread spins instead of
    /// blocking (balanced), or how early it wakes to spin (low latency).
    pub spin: Duration,
    /// A request on the device longer than this fails the queue (`None`: no deadline).
    pub deadline: Option<Duration>,
    /// Recent errors kept for `errors()` (oldest dropped beyond it).
    pub error_log: usize,
    /// Queue-wide completion callback (callback mode).
    pub on_complete: Option<CompletionHook>,
    /// Pull-mode refill hook.
    pub on_refill: Option<RefillHook>,
    /// Fatal-error hook, fired once.
    pub on_fatal: Option<FatalHook>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            depth: 3,
            max_depth: 16,
            backlog: 1024,
            delivery: Delivery::Callback,
            policy: WaitPolicy::Balanced,
            spin: Duration::from_micros(5),
            deadline: None,
            error_log: 256,
            on_complete: None,
            on_refill: None,
            on_fatal: None,
        }
    }
}

impl QueueConfig {
    /// Per-request slots a channel needs: the most requests ever on the device at once.
    pub fn slots(&self) -> usize {
        self.depth.max(self.max_depth)
    }

    /// Reject settings the engine cannot honour.
    pub fn validate(&self) -> Result<()> {
        if self.depth == 0 || self.depth > 1024 {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("depth {} not in 1..=1024", self.depth),
            ));
        }
        if self.max_depth > 1024 {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("max_depth {} above 1024", self.max_depth),
            ));
        }
        if self.backlog > (1 << 24) {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("backlog {} above 2^24", self.backlog),
            ));
        }
        Ok(())
    }
}
