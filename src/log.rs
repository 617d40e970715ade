//! The log hook: silent by default; a callback set by the application, or stderr when
//! `NRTQ_LOG=stderr` (optionally `NRTQ_LOG=stderr:debug`) is in the environment.
//!
//! nrtq keeps its own hook instead of the process-global `log` crate logger, so it never
//! collides with another Rust library in the same process.
//!
//! Replacing the hook is a barrier: each call of the hook runs with the hook's lock held
//! for reading, and [`set_hook`] takes it for writing, so when `set_hook` returns no thread
//! is inside the old hook and none will enter it again (the application may free what the
//! old hook uses at once). A hook that calls `set_hook` itself would wait for its own
//! read lock forever: a thread-local depth detects that and refuses with `WouldDeadlock`.
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use crate::status::{Error, Result, Status};

/// Severity, most severe first; the numbers are the C values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something is wrong but handled.
    Warn = 2,
    /// Lifecycle events (runtime opened, queue failed).
    Info = 3,
    /// Detail for debugging.
    Debug = 4,
}

impl Level {
    /// The level with C value `v`.
    pub fn from_u32(v: u32) -> Option<Level> {
        [Level::Error, Level::Warn, Level::Info, Level::Debug]
            .into_iter()
            .find(|l| *l as u32 == v)
    }

    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// A log sink.
pub type Hook = Arc<dyn Fn(Level, &str) + Send + Sync>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);
/// Messages above this level are not formatted at all (0: logging off).
static MAX_LEVEL: AtomicU32 = AtomicU32::new(0);
static ENV: OnceLock<()> = OnceLock::new();

thread_local! {
    /// How many hook calls this thread is inside (nested when a hook logs).
    static IN_HOOK: Cell<u32> = const { Cell::new(0) };
}

/// Counts this thread into a hook call for as long as it lives (also when the hook
/// panics, since the panic is caught after the guard drops).
struct InHook;

impl InHook {
    fn enter() -> InHook {
        IN_HOOK.with(|d| d.set(d.get() + 1));
        InHook
    }
}

impl Drop for InHook {
    fn drop(&mut self) {
        IN_HOOK.with(|d| d.set(d.get() - 1));
    }
}

fn init_from_env() {
    ENV.get_or_init(|| {
        let Ok(v) = std::env::var("NRTQ_LOG") else {
            return;
        };
        let mut parts = v.splitn(2, ':');
        if parts.next() != Some("stderr") {
            return;
        }
        let level = match parts.next() {
            Some("error") => Level::Error,
            Some("warn") => Level::Warn,
            Some("debug") => Level::Debug,
            _ => Level::Info,
        };
        *HOOK.write() = Some(Arc::new(|l: Level, m: &str| {
            eprintln!("nrtq[{}]: {m}", l.name())
        }));
        MAX_LEVEL.store(level as u32, Ordering::Relaxed);
    });
}

/// Install (or with `None` remove) the hook; messages up to `max` are passed to it. When
/// this returns, the previous hook is running nowhere and will not be called again.
/// Refused with `WouldDeadlock` from inside a hook call (the hook would wait for itself).
pub fn set_hook(hook: Option<Hook>, max: Level) -> Result<()> {
    if IN_HOOK.with(|d| d.get()) > 0 {
        return Err(Error::new(
            Status::WouldDeadlock,
            "the log hook cannot be replaced from inside a log hook call",
        ));
    }
    init_from_env();
    let on = hook.is_some();
    // Waits for every hook call in progress (each holds a read lock) to return.
    let old = std::mem::replace(&mut *HOOK.write(), hook);
    MAX_LEVEL.store(if on { max as u32 } else { 0 }, Ordering::Relaxed);
    drop(old);
    Ok(())
}

/// Whether a message at `level` would go anywhere (to skip formatting it).
pub fn enabled(level: Level) -> bool {
    init_from_env();
    level as u32 <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// Send a message to the hook. A panicking hook is contained here, so logging can never
/// take down the completion thread.
pub fn emit(level: Level, message: &str) {
    if !enabled(level) {
        return;
    }
    // Held for reading across the call (see the module docs). Recursive, so a hook that
    // logs does not wait behind a writer that waits for this very call.
    let hook = HOOK.read_recursive();
    if let Some(h) = hook.as_ref() {
        let _in_hook = InHook::enter();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(level, message)));
    }
}

/// `log!(Level::Warn, "x {}", y)`: formats only when the level is enabled.
macro_rules! log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, &format!($($arg)*));
        }
    };
}
pub(crate) use log;
