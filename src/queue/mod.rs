//! One auto-refilling queue: one model on one logical core's COMPUTE execution unit; or,
//! as a pipeline, host buffers through input writes → one or more models → output reads
//! on three units of one core, with device memory of its own (the same engine, one ring
//! per stage).
//!
//! # Who owns what
//! One mutex per queue guards the [`engine`], which is composed of parts that each own
//! their data behind private fields:
//! - [`lifecycle`]: the state machine (open → failed → closing → closed); every edge,
//!   abandon-on-timeout and drained included, goes through `State::on`.
//! - `backlog`: accepted requests waiting for room on the device, bounded.
//! - `ring`: the device ring of one (execution unit, queue): the channel, the requests on
//!   the unit and their slots, the `NRT_QUEUE_FULL` cap. A stage of a pipeline is one
//!   more ring; a core of a pool, one more engine.
//! - `pipeline`: what only pipelines have: device slots (nrtq's device memory), the
//!   check of host buffers against the models' tensors, and the building of a request's
//!   steps (input writes → executions → output reads).
//! - `timing`: prediction from the completed counter, the automatic depth, the wait plan.
//! - `outbox`: completions on their way out, in ticket order; the reap bell, the error
//!   log and the counters.
//!
//! `engine` puts them together: a submit and a pass of the completion thread (detect →
//! retire → refill → plan) each read top to bottom there. `shared` holds the engine
//! behind its lock with the condition variables, and `publish`, which runs after every
//! locked change: the one activity rule, and the one wake-up rule for waiters. `handle`
//! is the public [`Queue`].
//!
//! # Exactly once
//! A request is a value in one container at a time (backlog → ring → outbox) and is
//! completed only by `Request::finish`, which consumes it; the edges that empty a
//! container are all in `engine` (see its module doc). The outbox delivers in ticket
//! order, and the queue closes only when every container is empty and every completion
//! delivered.
//!
//! Callbacks, the refill hook and the fatal hook run on the completion thread with no
//! lock held. The queue reaches that thread and its runtime only through the
//! `CompletionThread` and `Home` traits in `shared`: nothing here imports the layers
//! above.
mod backlog;
mod config;
mod engine;
mod handle;
pub mod lifecycle;
mod outbox;
mod pipeline;
mod request;
mod ring;
mod shared;
mod timing;

pub use config::{Delivery, QueueConfig, WaitPolicy};
pub use engine::StageStats;
pub use handle::Queue;
pub(crate) use pipeline::{open as open_pipeline, Parts};
pub use pipeline::{HostInput, HostOutput, Link, PipelineConfig, TensorKey, TensorRef};
pub(crate) use request::{delivering_reached_device, Done, HostIo};
pub use request::{Callback, Completion, Stage};
pub(crate) use shared::{CompletionThread, Home, Shared};
pub(crate) use timing::WaitPlan;

use crate::status::{NrtStatus, Status};
use std::sync::Arc;

// The hooks an application hands in with its settings name the queue handle, so they are
// declared here, at the queue's face, rather than in `config` (which `handle` imports).
/// The queue-wide completion callback, for requests submitted without their own.
pub type CompletionHook = Arc<dyn Fn(&Completion) + Send + Sync>;
/// Pull mode: called with the queue and how many requests it has room for.
pub type RefillHook = Arc<dyn Fn(&Queue, usize) + Send + Sync>;
/// Called once when the queue fails terminally: (queue, nrtq status, raw libnrt status).
pub type FatalHook = Arc<dyn Fn(&Queue, Status, NrtStatus) + Send + Sync>;
