//! The async backend: the one seam between the queue engine and a runtime.
//!
//! A [`Device`] is one loaded runtime (or the mock); it opens one [`Channel`] per
//! (execution unit, queue) a queue uses: a plain queue has one, on COMPUTE queue 0 of its
//! model's logical core; a pipeline has one per [`Unit`] (input writes, COMPUTE, output
//! reads). The engine only ever asks a channel four things — schedule this, how far has the XU got, what was the
//! final status of that request, and how should I wait — so each runtime generation's
//! differences (error tracker vs per-request status; completion-handle fd vs eventfd vs
//! nothing) stay inside its own module. Only the modules below this one talk to
//! `neuron-sys`.
use std::fmt;
use std::os::fd::RawFd;

use neuron_sys::{NRT_EXEC_UNIT_UNRECOVERABLE, NRT_QUEUE_FULL, NRT_SUCCESS};

use crate::status::{NrtStatus, Result};

mod gen_a;
mod gen_b;
mod memory;
pub mod mock;
pub mod nrt;
mod tensors;

pub use memory::{ChainModel, DeviceSlot, Memory, ModelIo, TensorSpec};

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

/// One host ↔ device copy of a whole tensor: `bytes` bytes between the host memory at
/// `host` (the caller's, alive until the request completes) and device tensor `tensor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// `nrt_tensor_t *` on the device.
    pub tensor: Handle,
    /// The host address (read by a write, written by a read).
    pub host: usize,
    /// Bytes to copy (the whole tensor).
    pub bytes: usize,
}

/// The backend work of one step of a request. A step with several tensors is several
/// requests on its unit (one sequence number each, in order); the step is done when the
/// last of them is, and fails if any of them does.
#[derive(Clone, Debug)]
pub enum Op {
    /// One execution on COMPUTE: of `model` (a chained model), or of the channel's own
    /// model when `None` (a plain queue).
    Execute {
        /// `nrt_model_t *`, or `None` for the channel's model.
        model: Option<Handle>,
        /// The tensor sets.
        work: Work,
    },
    /// Host → device copies, on the tensor-write unit.
    Write(Vec<Transfer>),
    /// Device → host copies, on the tensor-read unit.
    Read(Vec<Transfer>),
}

impl Op {
    /// How many requests (sequence numbers) the step puts on its unit.
    pub fn parts(&self) -> usize {
        match self {
            Op::Execute { .. } => 1,
            Op::Write(t) | Op::Read(t) => t.len(),
        }
    }
}

/// The execution unit (and queue) a channel drives. Which XU type and queue that is
/// differs per generation and stays inside `gen_a`/`gen_b`: on SDK 2.28 writes and reads
/// have their own units (TENSOR_WRITE, TENSOR_READ); on 2.29+ both go to TENSOR_OP, writes
/// on queue 0 and reads on queue 1 (2.30 gave the two their own DMA queues).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Host → device tensor writes.
    Write,
    /// Model executions (COMPUTE, queue 0).
    Compute,
    /// Device → host tensor reads.
    Read,
}

impl Unit {
    /// The stage's name in stats, traces and messages.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Write => "write",
            Unit::Compute => "execute",
            Unit::Read => "read",
        }
    }
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

/// Why the runtime refused to schedule a request. The raw codes are sorted here, once, so
/// the engine only ever matches on what a refusal means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `NRT_QUEUE_FULL`: no room on the unit now; retry after a completion.
    Full,
    /// The execution unit is dead for good (`NRT_EXEC_UNIT_UNRECOVERABLE`).
    DeadUnit(NrtStatus),
    /// Any other refusal of this one request (bad tensors, …), with its raw status.
    Other(NrtStatus),
}

impl Refusal {
    /// Classify a raw status returned by a schedule call (never `NRT_SUCCESS`).
    pub fn from_raw(st: NrtStatus) -> Refusal {
        match st {
            NRT_QUEUE_FULL => Refusal::Full,
            NRT_EXEC_UNIT_UNRECOVERABLE => Refusal::DeadUnit(st),
            _ => Refusal::Other(st),
        }
    }
}

/// How a request the device completed ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and succeeded.
    Ok,
    /// It failed on its own (an execution error); the unit lives on.
    ExecError(NrtStatus),
    /// The unit died while holding it; nothing more will run there.
    DeadUnit(NrtStatus),
}

impl Outcome {
    /// Classify a request's raw final status.
    pub fn from_raw(st: NrtStatus) -> Outcome {
        match st {
            NRT_SUCCESS => Outcome::Ok,
            NRT_EXEC_UNIT_UNRECOVERABLE => Outcome::DeadUnit(st),
            _ => Outcome::ExecError(st),
        }
    }
}

/// The async generation of a runtime (or the mock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// SDK 2.28: error tracker, completion handle.
    Sdk2_28,
    /// SDK 2.29: per-request status, no notification.
    Sdk2_29,
    /// SDK 2.30 and later: per-request status, eventfd registration.
    Sdk2_30,
    /// The pure-Rust mock device of the unit tests.
    Mock,
}

impl From<neuron_sys::Generation> for Generation {
    fn from(g: neuron_sys::Generation) -> Generation {
        match g {
            neuron_sys::Generation::Sdk2_28 => Generation::Sdk2_28,
            neuron_sys::Generation::Sdk2_29 => Generation::Sdk2_29,
            neuron_sys::Generation::Sdk2_30 => Generation::Sdk2_30,
        }
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Generation::Sdk2_28 => "2.28",
            Generation::Sdk2_29 => "2.29",
            Generation::Sdk2_30 => "2.30",
            Generation::Mock => "mock",
        })
    }
}

/// One queue's view of an execution unit.
pub trait Channel: Send {
    /// Schedule part `part` (< `op.parts()`) of one step. `slot` (< the storage given at
    /// open) names per-request storage the backend may use until the request is retired;
    /// the engine never reuses a slot before that. Returns the request's 48-bit sequence
    /// number, or why not.
    fn schedule(&mut self, op: &Op, part: usize, slot: usize) -> std::result::Result<u64, Refusal>;

    /// The sequence number of the last request completed on this XU queue (0 when none).
    fn completed(&mut self) -> std::result::Result<u64, NrtStatus>;

    /// Called once per reaping pass, after [`Channel::completed`] reported progress and
    /// before the [`Channel::status`] calls for the requests it retires (Gen A reads the
    /// error tracker here).
    fn collect_errors(&mut self) {}

    /// How a request that [`Channel::completed`] has shown complete ended. Called exactly
    /// once per retired request, in sequence order.
    fn status(&mut self, seq: u64, slot: usize) -> Outcome;

    /// How to wait for request `seq` (the oldest one in flight) to complete.
    fn notify(&mut self, seq: u64) -> Notify;

    /// After a [`Refusal::Other`]: which of `work`'s tensors does not fit the model, and
    /// why, if the backend can tell.
    fn mismatch(&self, _work: &Work) -> Option<String> {
        None
    }
}

/// A loaded runtime: opens channels and describes itself.
pub trait Device: Send + Sync {
    /// Open a channel for `model` on its logical core, with `depth` request slots.
    fn open_channel(&self, model: Handle, depth: usize) -> Result<Box<dyn Channel>>;
    /// Open a channel on `unit` of `model`'s logical core, with `storage` request slots.
    fn open_unit(&self, model: Handle, unit: Unit, storage: usize) -> Result<Box<dyn Channel>> {
        match unit {
            Unit::Compute => self.open_channel(model, storage),
            _ => Err(crate::status::Error::new(
                crate::status::Status::Unsupported,
                "this device has no transfer units",
            )),
        }
    }
    /// The model's inputs and outputs (names and sizes), in the model's order.
    fn model_io(&self, _model: Handle) -> Result<ModelIo> {
        Err(crate::status::Error::new(
            crate::status::Status::Unsupported,
            "this device cannot describe a model's tensors",
        ))
    }
    /// Allocate `count` device slots for a chain of models on the first model's core.
    fn alloc_slots(&self, _chain: &[ChainModel], _count: usize) -> Result<Box<dyn Memory>> {
        Err(crate::status::Error::new(
            crate::status::Status::Unsupported,
            "this device cannot allocate tensors",
        ))
    }
    /// The async generation.
    fn generation(&self) -> Generation;
    /// The runtime's version string ("2.30.50.0 …").
    fn version(&self) -> String;
    /// Release anything the device holds for the process (e.g. `nrt_close` if nrtq
    /// called `nrt_init`). Called once, when the runtime handle closes.
    fn shutdown(&self) {}
    /// Whether [`Device::shutdown`] stops the runtime (nothing runs on after it).
    fn owns_runtime(&self) -> bool {
        true
    }
    // Pools (src/pool) load one model on many cores; devices that cannot say so.
    /// Logical cores this process sees.
    fn visible_cores(&self) -> Result<u32> {
        Err(crate::status::Error::new(
            crate::status::Status::Unsupported,
            "this device cannot count its cores; hand the pool models you loaded",
        ))
    }
    /// Load a model (a NEFF's bytes) on logical core `lnc`.
    fn load_model(&self, _neff: &[u8], _lnc: u32) -> Result<Handle> {
        Err(crate::status::Error::new(
            crate::status::Status::Unsupported,
            "this device cannot load models; hand the pool models you loaded",
        ))
    }
    /// Unload a model [`Device::load_model`] loaded.
    fn unload_model(&self, _model: Handle) {}
}
