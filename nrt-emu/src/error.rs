//! Errors and messages: [`Failure`], what a failed call returns and why, and the
//! emulator's console lines. Every layer returns `Failure`s; the C edge (`abi::guard`)
//! turns them into a status and calls [`report`].

use neuron_sys::{NRT_INVALID, NRT_STATUS};
use std::cell::RefCell;

/// A failed call: the status it returns and a message saying why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub status: NRT_STATUS,
    pub message: String,
}

impl Failure {
    /// A failure with `status` and `message`.
    pub fn new(status: NRT_STATUS, message: String) -> Failure {
        Failure { status, message }
    }

    /// `NRT_INVALID` with `message`: the caller passed something wrong.
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(NRT_INVALID, message.into())
    }

    /// A failure that only carries its status, with nothing to report
    /// (`NRT_QUEUE_FULL` to a polling caller, a lifecycle code on the async path).
    pub fn status_only(status: NRT_STATUS) -> Failure {
        Failure::new(status, String::new())
    }
}

thread_local! {
    static LAST_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Report a failure of `function` on stderr (as the vendor runtime logs errors to the
/// console; `NEURON_RT_LOG_LEVEL=QUIET` silences it) and keep it as this thread's last
/// message. Returns the status, so entry points can `return report(..)`.
pub fn report(function: &str, failure: &Failure) -> NRT_STATUS {
    let text = format!("{function}: {}", failure.message);
    if !quiet() {
        eprintln!("nrt-emu: ERROR {text}");
    }
    LAST_MESSAGE.with(|m| *m.borrow_mut() = Some(text));
    failure.status
}

/// Log a warning (same switch as errors).
pub fn warn(text: &str) {
    if !quiet() {
        eprintln!("nrt-emu: WARN {text}");
    }
}

/// The message of this thread's most recent failure, if any (for tests and tools).
pub fn last_message() -> Option<String> {
    LAST_MESSAGE.with(|m| m.borrow().clone())
}

fn quiet() -> bool {
    std::env::var("NEURON_RT_LOG_LEVEL").is_ok_and(|v| v.eq_ignore_ascii_case("quiet"))
}
