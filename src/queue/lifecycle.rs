//! The queue's lifecycle: one state machine, and the one place its edges are decided
//! ([`State::on`]). The engine carries out the [`Action`] an edge asks for; nothing else
//! changes the state.
//!
//! ```text
//!            fatal(failure)                destroy
//!   Open ───────────────────▶ Failed ─────────────────┐
//!    │                                                 ▼
//!    └────────── destroy ───────────────────────▶ Closing ──drained──▶ Closed
//!                                                   │  ▲
//!                                                   └──┘ abandon (destroy timed out)
//! ```
//! - `Open`: accepts work.
//! - `Failed`: terminal failure (dead execution unit, deadline passed, panic). Refuses
//!   work with `QueueFailed` and the raw status that killed it; the edge into it
//!   completed everything in the backlog and on the device with the failure.
//! - `Closing`: destroy was called; the backlog has been cancelled, and what the device
//!   holds is being retired, or (abandon) completed as cancelled when the wait timed out.
//! - `Closed`: nothing left anywhere and every completion delivered.
use crate::status::{NrtStatus, Status};

/// Why a queue failed: the status every remaining request completes with, and the raw
/// libnrt status behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The requests' outcome (`QueueFailed`, `DeadlineExceeded`, `Panic`).
    pub status: Status,
    /// The raw libnrt status (e.g. `NRT_EXEC_UNIT_UNRECOVERABLE`), or 0.
    pub nrt_status: NrtStatus,
}

/// The queue's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Accepting work.
    Open,
    /// Terminally failed.
    Failed(Failure),
    /// Being destroyed; `failure` remembers a failure that came first.
    Closing {
        /// The failure the queue was in before (or while) closing, if any.
        failure: Option<Failure>,
    },
    /// Nothing remains; the queue may be dropped.
    Closed,
}

/// What can happen to a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// An unrecoverable condition (dead XU, deadline, panic).
    Fatal(Failure),
    /// The owner asked to destroy the queue.
    Destroy,
    /// Destroy stopped waiting for the device: give up on what it holds.
    Abandon,
    /// Backlog and device are empty and every completion is delivered.
    Drained,
}

/// What the engine must do as a result of a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond the new state.
    None,
    /// Complete everything on the device and in the backlog with this failure, and fire
    /// the fatal-error hook (returned at most once per queue).
    FailAll(Failure),
    /// Complete the backlog as cancelled; keep retiring what the device holds.
    CancelBacklog,
    /// Complete what the device still holds as cancelled (it may still touch its
    /// buffers: the channel must outlive the queue).
    AbandonInFlight,
}

impl State {
    /// Whether submissions are accepted.
    pub fn accepts(self) -> bool {
        matches!(self, State::Open)
    }

    /// Whether requests may move from the backlog to the device.
    pub fn schedules(self) -> bool {
        matches!(self, State::Open)
    }

    /// The one transition function: the next state and the action it requires.
    pub fn on(self, event: Event) -> (State, Action) {
        use State::*;
        match (self, event) {
            (Open, Event::Fatal(f)) => (Failed(f), Action::FailAll(f)),
            // A second fatal condition changes nothing: the first one is the cause.
            (Failed(f), Event::Fatal(_)) => (Failed(f), Action::None),
            (Open, Event::Destroy) => (Closing { failure: None }, Action::CancelBacklog),
            (Failed(f), Event::Destroy) => (Closing { failure: Some(f) }, Action::None),
            // While closing, a fatal condition still fails what the device holds, so those
            // requests complete with the cause instead of waiting forever.
            (Closing { failure: None }, Event::Fatal(f)) => {
                (Closing { failure: Some(f) }, Action::FailAll(f))
            }
            (s @ Closing { .. }, Event::Fatal(_)) => (s, Action::None),
            (s @ Closing { .. }, Event::Abandon) => (s, Action::AbandonInFlight),
            (Closing { .. }, Event::Drained) => (Closed, Action::None),
            (s @ Closing { .. }, Event::Destroy) => (s, Action::None),
            // Abandon only follows a destroy; draining an open queue is no event.
            (s @ (Open | Failed(_)), Event::Drained | Event::Abandon) => (s, Action::None),
            (Closed, _) => (Closed, Action::None),
        }
    }

    /// The status a refused submission gets in this state, and the raw status beside it.
    /// A failed queue refuses with `QueueFailed` whatever killed it (the raw status and
    /// the message say what); the failure's own status is what its requests completed with.
    pub fn refusal(self) -> (Status, NrtStatus) {
        match self {
            State::Open => (Status::Ok, 0),
            State::Failed(f) => (Status::QueueFailed, f.nrt_status),
            State::Closing { .. } | State::Closed => (Status::Closed, 0),
        }
    }

    /// The failure behind this state, if any.
    pub fn failure(self) -> Option<Failure> {
        match self {
            State::Failed(f) | State::Closing { failure: Some(f) } => Some(f),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEAD: Failure = Failure {
        status: Status::QueueFailed,
        nrt_status: 101,
    };
    const LATE: Failure = Failure {
        status: Status::DeadlineExceeded,
        nrt_status: 5,
    };

    #[test]
    fn fatal_fails_everything_once() {
        let (s, a) = State::Open.on(Event::Fatal(DEAD));
        assert_eq!(s, State::Failed(DEAD));
        assert_eq!(a, Action::FailAll(DEAD));
        assert_eq!(
            s.on(Event::Fatal(LATE)),
            (State::Failed(DEAD), Action::None)
        );
        assert!(!s.accepts());
        assert_eq!(s.refusal(), (Status::QueueFailed, 101));
    }

    #[test]
    fn a_deadline_failure_refuses_with_queue_failed() {
        let (s, _) = State::Open.on(Event::Fatal(LATE));
        assert_eq!(s.refusal(), (Status::QueueFailed, 5));
        assert_eq!(s.failure(), Some(LATE));
    }

    #[test]
    fn destroy_cancels_then_closes_when_drained() {
        let (s, a) = State::Open.on(Event::Destroy);
        assert_eq!(a, Action::CancelBacklog);
        assert!(!s.accepts() && !s.schedules());
        assert_eq!(s.refusal().0, Status::Closed);
        assert_eq!(s.on(Event::Destroy), (s, Action::None));
        assert_eq!(s.on(Event::Drained), (State::Closed, Action::None));
        assert_eq!(State::Open.on(Event::Drained), (State::Open, Action::None));
    }

    #[test]
    fn abandon_is_an_edge_of_closing_only() {
        let (closing, _) = State::Open.on(Event::Destroy);
        assert_eq!(
            closing.on(Event::Abandon),
            (closing, Action::AbandonInFlight)
        );
        assert_eq!(State::Open.on(Event::Abandon), (State::Open, Action::None));
        assert_eq!(
            State::Closed.on(Event::Abandon),
            (State::Closed, Action::None)
        );
    }

    #[test]
    fn fatal_while_closing_fails_the_device_held_requests() {
        let (s, _) = State::Open.on(Event::Destroy);
        let (s, a) = s.on(Event::Fatal(DEAD));
        assert_eq!(a, Action::FailAll(DEAD));
        assert_eq!(s.on(Event::Fatal(DEAD)).1, Action::None);
        let (failed, _) = State::Open.on(Event::Fatal(DEAD));
        assert_eq!(
            failed.on(Event::Destroy),
            (
                State::Closing {
                    failure: Some(DEAD)
                },
                Action::None
            )
        );
    }
}
