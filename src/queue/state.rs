//! The queue's lifecycle as an explicit state machine: every change of state goes through
//! [`State::on`], so what a queue does in each state can be read in one place.
//!
//! ```text
//!            fatal(status)                 destroy
//!   Open ───────────────────▶ Failed ─────────────────┐
//!    │                                                 ▼
//!    └────────── destroy ───────────────────────▶ Closing ──drained──▶ Closed
//! ```
//! - `Open`: accepts work.
//! - `Failed`: terminal failure (dead execution unit, deadline passed, panic in a
//!   callback). Refuses work with the status that killed it; everything in the backlog
//!   and in flight has completed with that status (the transition does it).
//! - `Closing`: destroy was called; the backlog has been cancelled, and what the device
//!   holds is being reaped.
//! - `Closed`: nothing left anywhere; the queue can be dropped.
use crate::status::{NrtStatus, Status};

/// Why a queue failed: the nrtq status every remaining request completes with, and the
/// raw libnrt status behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// nrtq's code (`QueueFailed`, `DeadlineExceeded`, `Panic`).
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
        /// The failure the queue was in before destroy, if any.
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
    /// Backlog and device are both empty.
    Drained,
}

/// What the queue must do as a result of a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond the new state.
    None,
    /// Complete everything in the backlog and in flight with this failure, and fire the
    /// fatal-error callback (this is returned exactly once per queue).
    FailAll(Failure),
    /// Complete the backlog as cancelled; keep reaping what the device holds.
    CancelBacklog,
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
        match (self, event) {
            (State::Open, Event::Fatal(f)) => (State::Failed(f), Action::FailAll(f)),
            // A second fatal condition changes nothing: the first one is the cause.
            (State::Failed(f), Event::Fatal(_)) => (State::Failed(f), Action::None),
            (State::Open, Event::Destroy) => {
                (State::Closing { failure: None }, Action::CancelBacklog)
            }
            (State::Failed(f), Event::Destroy) => {
                (State::Closing { failure: Some(f) }, Action::None)
            }
            // While closing, a fatal condition still fails what the device holds, so those
            // requests complete with the cause instead of waiting forever.
            (State::Closing { failure: None }, Event::Fatal(f)) => {
                (State::Closing { failure: Some(f) }, Action::FailAll(f))
            }
            (State::Closing { failure }, Event::Fatal(_)) => {
                (State::Closing { failure }, Action::None)
            }
            (State::Closing { .. }, Event::Drained) => (State::Closed, Action::None),
            (s @ (State::Open | State::Failed(_)), Event::Drained) => (s, Action::None),
            (s @ State::Closing { .. }, Event::Destroy) => (s, Action::None),
            (State::Closed, _) => (State::Closed, Action::None),
        }
    }

    /// The status a refused submission gets in this state.
    pub fn refusal(self) -> (Status, NrtStatus) {
        match self {
            State::Open => (Status::Ok, 0),
            State::Failed(f) => (f.status, f.nrt_status),
            State::Closing { .. } | State::Closed => (Status::Closed, 0),
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

    #[test]
    fn fatal_fails_everything_once() {
        let (s, a) = State::Open.on(Event::Fatal(DEAD));
        assert_eq!(s, State::Failed(DEAD));
        assert_eq!(a, Action::FailAll(DEAD));
        let late = Failure {
            status: Status::DeadlineExceeded,
            nrt_status: 5,
        };
        assert_eq!(
            s.on(Event::Fatal(late)),
            (State::Failed(DEAD), Action::None)
        );
        assert!(!s.accepts());
        assert_eq!(s.refusal(), (Status::QueueFailed, 101));
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
