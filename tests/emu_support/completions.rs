//! Watching completions from a test: a queue whose callback records them, the tickets they
//! carry, a placeholder for the arrays `reap` and `errors` fill, and waiting on the reap
//! descriptor.
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

use neuron_sys::nrt_model_t;
use nrtq::{Completion, Handle, Queue, QueueConfig, Runtime, Status};

/// A queue-wide callback that records every completion.
pub fn recorder() -> (Arc<Mutex<Vec<Completion>>>, nrtq::queue::CompletionHook) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    (
        log,
        Arc::new(move |c: &Completion| l.lock().unwrap().push(*c)),
    )
}

/// A queue on `model` whose queue-wide callback records every completion (`cfg`'s own
/// `on_complete` is replaced).
pub fn recording_queue(
    rt: &Runtime,
    model: *mut nrt_model_t,
    cfg: QueueConfig,
) -> (Queue, Arc<Mutex<Vec<Completion>>>) {
    let (log, hook) = recorder();
    let cfg = QueueConfig {
        on_complete: Some(hook),
        ..cfg
    };
    (rt.create_queue(Handle(model as usize), cfg).unwrap(), log)
}

/// The tickets of `done`, in its order.
pub fn tickets(done: &[Completion]) -> Vec<u64> {
    done.iter().map(|c| c.ticket).collect()
}

/// A placeholder to fill the arrays `reap` and `errors` write into.
pub const NO_COMPLETION: Completion = Completion {
    ticket: 0,
    user_data: 0,
    status: Status::Ok,
    nrt_status: 0,
    stage: None,
};

/// Wait up to `timeout_ms` for `fd` to turn readable; returns poll(2)'s result.
pub fn poll_readable(fd: RawFd, timeout_ms: i32) -> i32 {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, alive for the call.
    unsafe { libc::poll(&mut p, 1, timeout_ms) }
}
