//! The log hook: silent by default; a callback set by the application, or stderr when
//! `NRTQ_LOG=stderr` (optionally `NRTQ_LOG=stderr:debug`) is in the environment.
//!
//! nrtq keeps its own hook instead of the process-global `log` crate logger, so it never
//! collides with another Rust library in the same process.
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

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

/// Install (or with `None` remove) the hook; messages up to `max` are passed to it.
pub fn set_hook(hook: Option<Hook>, max: Level) {
    init_from_env();
    let on = hook.is_some();
    *HOOK.write() = hook;
    MAX_LEVEL.store(if on { max as u32 } else { 0 }, Ordering::Relaxed);
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
    let hook = HOOK.read().clone();
    if let Some(h) = hook {
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
