//! nrtq: auto-refilling queues over the AWS Neuron Runtime explicit async API.
//!
//! Layers (each talks only to the one below):
//! - [`ffi`]: the C API (`include/nrtq.h`), thin shims with a panic boundary;
//! - the safe core: [`Runtime`], [`Queue`] (backlog → in flight → completions, an explicit
//!   state machine in [`queue::state`]), the completion thread ([`reactor`]), [`stats`],
//!   [`predict`]ion of completion times, [`trace`] and [`log`];
//! - [`backend`]: the one seam to a runtime, with a channel per async generation of libnrt
//!   (SDK 2.28, 2.29, 2.30+) over `neuron-sys`, and a mock for unit tests.
pub mod backend;
#[deny(missing_docs)]
pub mod ffi;
pub mod log;
pub mod pool;
pub mod predict;
pub mod queue;
mod reactor;
pub mod runtime;
pub mod stats;
pub mod status;
mod sys;
pub mod trace;

pub use backend::{Generation, Handle, Work};
pub use pool::{CoreInfo, Pool, PoolConfig, PoolModel, PoolState, PoolStats};
pub use queue::{Callback, Completion, Delivery, Queue, QueueConfig, WaitPolicy};
pub use queue::{
    HostInput, HostOutput, Link, PipelineConfig, Stage, StageStats, TensorKey, TensorRef,
};
pub use runtime::{OpenOptions, Runtime};
pub use status::{Error, NrtStatus, Result, Status};

/// Test helpers that need the OS edge (CPU time), exposed for the integration tests.
#[doc(hidden)]
pub mod testing {
    /// CPU time (user + system) of the whole process, ns.
    pub fn process_cpu_ns() -> u64 {
        crate::sys::process_cpu_ns()
    }

    /// CLOCK_MONOTONIC, ns.
    pub fn now_ns() -> u64 {
        crate::sys::now_ns()
    }
}
