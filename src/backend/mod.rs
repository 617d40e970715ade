//! The async backend: the one seam between the queue engine and a runtime.
//!
//! A [`Device`] is one loaded runtime (or the mock); it opens one [`Channel`] per queue:
//! one model on the COMPUTE execution unit, queue 0, of one logical core. The engine only
//! ever asks a channel four things — schedule this, how far has the XU got, what was the
//! final status of that request, and how should I wait — so each runtime generation's
//! differences (error tracker vs per-request status; completion-handle fd vs eventfd vs
//! nothing) stay inside its own module. Only the modules below this one talk to
//! `neuron-sys`.
use std::os::fd::RawFd;

use crate::status::{NrtStatus, Result};

mod gen_a;
mod gen_b;
pub mod mock;
pub mod nrt;

/// An opaque address the engine carries for the backend (a model or tensor set pointer).
/// The engine never dereferences it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle(pub usize);

/// One execution to schedule: the input and output tensor sets, which the caller keeps
/// alive until the request completes.
#[derive(Clone, Copy, Debug)]
pub struct Work {
    /// `const nrt_tensor_set_t *` of the inputs.
    pub input: Handle,
    /// `nrt_tensor_set_t *` of the outputs.
    pub output: Handle,
}

/// How the engine can learn that a request has completed without polling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    /// An eventfd-like bell that rings on completions of this channel's XU. It must be
    /// read to reset it, and it is only a hint: reap by counter after every wake.
    Bell(RawFd),
    /// A level-triggered descriptor that turns readable when the request asked about is
    /// complete; only poll it (never read). The channel owns and closes it.
    Handle(RawFd),
    /// No notification exists (SDK 2.29): wait by predicted completion time and poll.
    Predict,
}

/// One queue's view of an execution unit.
pub trait Channel: Send {
    /// Schedule one execution. `slot` (< the depth given at open) names per-request
    /// storage the backend may use until the request is retired; the engine never reuses
    /// a slot before that. Returns the request's 48-bit sequence number, or the raw
    /// status of the refusal (`NRT_QUEUE_FULL`, `NRT_EXEC_UNIT_UNRECOVERABLE`, …).
    fn schedule(&mut self, work: &Work, slot: usize) -> std::result::Result<u64, NrtStatus>;

    /// The sequence number of the last request completed on this XU queue (0 when none).
    fn completed(&mut self) -> std::result::Result<u64, NrtStatus>;

    /// Called once per reaping pass, after [`Channel::completed`] reported progress and
    /// before the [`Channel::status`] calls for the requests it retires (Gen A reads the
    /// error tracker here).
    fn collect_errors(&mut self) {}

    /// Final status of a request that [`Channel::completed`] has shown complete. Called
    /// exactly once per retired request, in sequence order.
    fn status(&mut self, seq: u64, slot: usize) -> NrtStatus;

    /// How to wait for request `seq` (the oldest one in flight) to complete.
    fn notify(&mut self, seq: u64) -> Notify;
}

/// A loaded runtime: opens channels and describes itself.
pub trait Device: Send + Sync {
    /// Open a channel for `model` on its logical core, with `depth` request slots.
    fn open_channel(&self, model: Handle, depth: usize) -> Result<Box<dyn Channel>>;
    /// The async generation in words ("2.28", "2.29", "2.30", "mock").
    fn generation(&self) -> String;
    /// The runtime's version string ("2.30.50.0 …").
    fn version(&self) -> String;
    /// Release anything the device holds for the process (e.g. `nrt_close` if nrtq
    /// called `nrt_init`). Called once, when the runtime handle closes.
    fn shutdown(&self) {}
    /// Whether [`Device::shutdown`] stops the runtime (nothing runs on after it).
    fn owns_runtime(&self) -> bool {
        true
    }
}
