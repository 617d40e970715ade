//! The public handle to a queue. Its methods are grouped by concern in the sibling
//! modules (`submit`, `wait`, `delivery`, `counters`, `destroy`); what is here is the
//! handle itself and its identity.
use std::sync::Arc;

use super::shared::Shared;
use super::state::State;
use crate::status::{NrtStatus, Status};

/// A handle to a queue. Cloning it is cheap; the queue lives until destroyed.
#[derive(Clone)]
pub struct Queue(pub(crate) Arc<Shared>);

impl Queue {
    /// This queue's id (its track in the trace; its number in log messages).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The raw pointer behind this handle (what the C API hands out).
    pub fn as_ptr(&self) -> *const () {
        Arc::as_ptr(&self.0).cast()
    }

    /// The queue's state and, if it failed, why.
    pub fn failure(&self) -> Option<(Status, NrtStatus)> {
        match self.0.state() {
            State::Failed(f) | State::Closing { failure: Some(f) } => {
                Some((f.status, f.nrt_status))
            }
            _ => None,
        }
    }
}
