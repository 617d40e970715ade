//! One auto-refilling queue: one model on one logical core's COMPUTE execution unit.
//!
//! A request moves `backlog → in flight → done → delivered`, each step by *moving* the
//! request value from one container to the next, and a completion can only be made by
//! consuming the request (`Request::finish`, in `request`). So a request cannot complete
//! twice, and it cannot be forgotten either: every container is emptied by the state
//! machine's actions (retire, fail, cancel) before the queue reaches `Closed`.
//!
//! Locking: one mutex per queue guards all of its state and is held only for bookkeeping
//! and libnrt schedule/sequence calls, never while a user callback runs. Callbacks, the
//! refill hook and the fatal hook run on the completion thread (see `reactor`) with no
//! lock held.
//!
//! # Layout, in reading order
//! - `config`: the settings fixed at creation, their defaults and the hooks.
//! - `request`: a request, its completion record, and `finish`, the one way between them.
//! - `state`: the lifecycle state machine (open, failed, closing, closed).
//! - `shared`: what a queue's handles share with the completion thread, and creation.
//! - `inner`: what the queue's lock guards, and the state machine's actions carried out.
//! - `in_flight`: requests on the device and their slots; scheduling one.
//! - `retire`: reading the completed counter and retiring every request up to it.
//! - `refill`: the automatic depth (cover and batch) and moving backlog work to the device.
//! - `wait_plan`: how and for which request the completion thread waits next.
//! - `pass`: the completion thread's pass over a queue: retire, refill, plan the wait.
//! - `delivery`: callbacks run by the completion thread, or reaping by the application.
//! - `handle`: the public [`Queue`] handle; `submit`, `wait`, `counters` and `destroy`
//!   hold its methods by concern.
mod config;
mod counters;
mod delivery;
mod destroy;
mod handle;
mod in_flight;
mod inner;
mod pass;
mod refill;
mod request;
mod retire;
mod shared;
pub mod state;
mod submit;
mod wait;
mod wait_plan;

pub use config::{CompletionHook, Delivery, FatalHook, QueueConfig, RefillHook, WaitPolicy};
pub use handle::Queue;
pub(crate) use request::Done;
pub use request::{Callback, Completion};
pub(crate) use shared::{Shared, ON_REACTOR};
