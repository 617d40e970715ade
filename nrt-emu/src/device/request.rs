//! One request on its way through an XU: what it does, how its final status is
//! reported, and the timeline slot it was given at schedule time.

use super::fault::Planned;
use super::hostmem::StatusSlot;
use super::tracker::Tracker;
use neuron_sys::NRT_STATUS;
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;

/// The effect of a request, run on the release thread when its simulated end passes
/// (model outputs computed, tensor bytes moved); it returns the request's status.
pub type Work = Box<dyn FnOnce() -> NRT_STATUS + Send>;

/// Where a request's final status goes.
pub enum Report {
    /// Nowhere (2.28 with a NULL tracker, 2.29+ with a NULL status pointer).
    Discard,
    /// 2.28: recorded in the tracker when the status is an error.
    Tracker(Arc<Tracker>),
    /// 2.29+: written to the caller's `NRT_STATUS`, always, exactly once.
    Status(StatusSlot),
    /// Sync `nrt_execute`: handed to the blocked caller.
    Blocking(Arc<SyncSlot>),
}

/// The rendezvous of a blocking `nrt_execute` with the release thread.
#[derive(Default)]
pub struct SyncSlot {
    status: Mutex<Option<NRT_STATUS>>,
    done: Condvar,
}

impl SyncSlot {
    /// Deliver the status and wake the caller.
    pub fn complete(&self, status: NRT_STATUS) {
        *self.status.lock() = Some(status);
        self.done.notify_one();
    }

    /// Block until [`SyncSlot::complete`]. No timeout: the device always completes an
    /// accepted request (at the latest at `nrt_close`, with `NRT_CLOSED`).
    pub fn wait(&self) -> NRT_STATUS {
        let mut s = self.status.lock();
        loop {
            if let Some(v) = *s {
                return v;
            }
            self.done.wait(&mut s);
        }
    }
}

/// An accepted request waiting in its XU's FIFO.
pub struct Pending {
    /// Sequence number on the XU.
    pub num: u64,
    /// Simulated start and end on the device timeline (`u64::MAX` when it never ends).
    pub start: u64,
    /// Simulated end.
    pub end: u64,
    /// Simulated cost (`end - start` for a request that runs).
    pub cost: u64,
    /// What the fault rules decided at schedule time.
    pub planned: Planned,
    /// The effect (taken when it runs).
    pub work: Option<Work>,
    /// Where the status goes.
    pub report: Report,
    /// Trace label, only when tracing.
    pub label: Option<Arc<str>>,
}
