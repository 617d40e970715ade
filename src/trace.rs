//! Optional Chrome trace-event JSON of queue events, switched on by `NRTQ_TRACE=<path>`.
//!
//! Each request yields a "queued" slice (submit → on the device), an "on device" slice
//! (scheduled → completion observed) and a "delivered" instant, on one track per queue.
//! Timestamps are CLOCK_MONOTONIC microseconds, the clock nrt-emu's device trace uses, so
//! loading both files into Perfetto lines them up. The file is a JSON array written as
//! events happen and closed when the last runtime handle closes (Perfetto also accepts
//! the unterminated array a crashed process leaves).
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::sync::OnceLock;

use parking_lot::Mutex;

struct Writer {
    out: BufWriter<File>,
    first: bool,
    /// The closing bracket has been written; the next event overwrites it.
    closed: bool,
}

static TRACE: OnceLock<Option<Mutex<Writer>>> = OnceLock::new();

fn writer() -> Option<&'static Mutex<Writer>> {
    TRACE
        .get_or_init(|| {
            let path = std::env::var_os("NRTQ_TRACE")?;
            let file = File::create(&path).ok()?;
            let mut out = BufWriter::new(file);
            out.write_all(b"[\n").ok()?;
            Some(Mutex::new(Writer {
                out,
                first: true,
                closed: false,
            }))
        })
        .as_ref()
}

/// Whether tracing is on (checked once per event site to skip the formatting).
pub fn enabled() -> bool {
    writer().is_some()
}

fn write_event(json: &str) {
    if let Some(w) = writer() {
        let mut w = w.lock();
        if w.closed {
            // Reopen the array: step back over the "\n]\n" that `finish` wrote.
            let _ = w.out.seek(SeekFrom::End(-3));
            w.closed = false;
        }
        let sep = if w.first { "" } else { ",\n" };
        w.first = false;
        let _ = write!(w.out, "{sep}{json}");
    }
}

fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// Name the track of queue `queue` (once, at creation).
pub fn queue_created(queue: u64, label: &str) {
    if enabled() {
        let pid = std::process::id();
        write_event(&format!(
            r#"{{"name":"thread_name","ph":"M","pid":{pid},"tid":{queue},"args":{{"name":"nrtq queue {queue} ({label})"}}}}"#
        ));
    }
}

/// A slice `[start, end]` named `name` on queue `queue`'s track, for request `ticket`.
pub fn slice(queue: u64, name: &str, ticket: u64, start_ns: u64, end_ns: u64, status: u32) {
    if enabled() {
        let pid = std::process::id();
        let (ts, dur) = (us(start_ns), us(end_ns.saturating_sub(start_ns)));
        write_event(&format!(
            r#"{{"name":"{name}","cat":"nrtq","ph":"X","pid":{pid},"tid":{queue},"ts":{ts},"dur":{dur},"args":{{"ticket":{ticket},"status":{status}}}}}"#
        ));
    }
}

/// An instant event named `name` for request `ticket` on queue `queue`'s track.
pub fn instant(queue: u64, name: &str, ticket: u64, at_ns: u64) {
    if enabled() {
        let pid = std::process::id();
        let ts = us(at_ns);
        write_event(&format!(
            r#"{{"name":"{name}","cat":"nrtq","ph":"i","s":"t","pid":{pid},"tid":{queue},"ts":{ts},"args":{{"ticket":{ticket}}}}}"#
        ));
    }
}

/// Flush buffered events to the file (at queue destroy and runtime close).
pub fn flush() {
    if let Some(w) = writer() {
        let _ = w.lock().out.flush();
    }
}

/// Terminate the JSON array (when a runtime closes), so the file is valid JSON; a later
/// event reopens the array in place.
pub fn finish() {
    if let Some(w) = writer() {
        let mut w = w.lock();
        if !w.closed {
            let _ = w.out.write_all(b"\n]\n");
            let _ = w.out.flush();
            w.closed = true;
        }
    }
}
