//! Chrome trace-event JSON of XU activity (opens in Perfetto or `chrome://tracing`).
//!
//! Switched on by `NRT_EMU_TRACE=<path>`; events are kept in memory (at most
//! `NRT_EMU_TRACE_MAX`, default 1,000,000, later ones are counted and dropped) and the
//! file is written at `nrt_close`. Layout: one process per logical core
//! (`pid` = 1,000,000 + core, named "nrt-emu core N", chosen so it cannot clash with the
//! real process ids an application's own trace uses), one thread (track) per XU instance
//! (`tid` = the 16-bit XU id, named like "compute q0"), one complete (`"ph":"X"`) event per
//! request from its simulated start to its simulated end, with its sequence id and final
//! status in `args`. Timestamps are `CLOCK_MONOTONIC` microseconds, so a trace written by
//! the application with the same clock lines up.

use std::io::Write;
use std::sync::Arc;

/// One finished request.
pub struct Event {
    /// Logical core.
    pub lnc: u32,
    /// XU id (the track).
    pub xu_id: u16,
    /// Full sequence id.
    pub seq: u64,
    /// Simulated start and end, ns of CLOCK_MONOTONIC.
    pub start_ns: u64,
    /// Simulated end (for requests completed at `nrt_close`: the close time).
    pub end_ns: u64,
    /// Final status.
    pub status: u32,
    /// What ran ("execute add_f32", "write", …).
    pub label: Arc<str>,
}

/// The events collected so far.
pub struct Trace {
    path: std::path::PathBuf,
    max: usize,
    events: Vec<Event>,
    dropped: u64,
    /// (lnc, xu id) -> track name.
    tracks: Vec<(u32, u16, String)>,
}

impl Trace {
    /// A trace to be written to `path`, holding at most `max` events.
    pub fn new(path: std::path::PathBuf, max: usize) -> Trace {
        Trace {
            path,
            max,
            events: Vec::new(),
            dropped: 0,
            tracks: Vec::new(),
        }
    }

    /// Name a track (done once per XU instance when the device starts).
    pub fn name_track(&mut self, lnc: u32, xu_id: u16, name: String) {
        self.tracks.push((lnc, xu_id, name));
    }

    /// Add one event.
    pub fn push(&mut self, e: Event) {
        if self.events.len() < self.max {
            self.events.push(e);
        } else {
            self.dropped += 1;
        }
    }

    /// Write the file; errors go to stderr (nothing else can report them at close).
    pub fn write(&self) {
        let result = std::fs::File::create(&self.path)
            .and_then(|f| self.write_to(&mut std::io::BufWriter::new(f)));
        if let Err(e) = result {
            eprintln!(
                "nrt-emu: could not write trace {}: {e}",
                self.path.display()
            );
        } else if self.dropped > 0 {
            eprintln!(
                "nrt-emu: trace {} holds the first {} events; {} more were dropped \
                 (raise NRT_EMU_TRACE_MAX)",
                self.path.display(),
                self.max,
                self.dropped
            );
        }
    }

    fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        writeln!(w, "{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")?;
        let mut first = true;
        let mut sep = |w: &mut dyn Write| -> std::io::Result<()> {
            if !std::mem::take(&mut first) {
                writeln!(w, ",")?;
            }
            Ok(())
        };
        let mut lncs: Vec<u32> = self.tracks.iter().map(|t| t.0).collect();
        lncs.dedup();
        for lnc in lncs {
            sep(w)?;
            write!(
                w,
                "{{\"ph\":\"M\",\"pid\":{},\"name\":\"process_name\",\"args\":{{\"name\":\"nrt-emu core {lnc}\"}}}}",
                pid(lnc)
            )?;
        }
        for (lnc, id, name) in &self.tracks {
            sep(w)?;
            write!(
                w,
                "{{\"ph\":\"M\",\"pid\":{},\"tid\":{id},\"name\":\"thread_name\",\"args\":{{\"name\":\"{}\"}}}}",
                pid(*lnc),
                escape(name)
            )?;
        }
        for e in &self.events {
            sep(w)?;
            let dur = e.end_ns.saturating_sub(e.start_ns);
            write!(
                w,
                "{{\"ph\":\"X\",\"pid\":{},\"tid\":{},\"ts\":{}.{:03},\"dur\":{}.{:03},\"name\":\"{}\",\"args\":{{\"seq\":\"0x{:016x}\",\"status\":{}}}}}",
                pid(e.lnc),
                e.xu_id,
                e.start_ns / 1000,
                e.start_ns % 1000,
                dur / 1000,
                dur % 1000,
                escape(&e.label),
                e.seq,
                e.status
            )?;
        }
        writeln!(w, "\n]}}")?;
        w.flush()
    }
}

fn pid(lnc: u32) -> u64 {
    1_000_000 + u64::from(lnc)
}

/// JSON string escaping for names that come from model files.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_tracks_and_events() {
        let mut t = Trace::new("unused".into(), 1);
        t.name_track(0, 0x31, "compute q0".into());
        for seq in 1..=2 {
            t.push(Event {
                lnc: 0,
                xu_id: 0x31,
                seq,
                start_ns: 1_500,
                end_ns: 3_750,
                status: 0,
                label: "execute \"m\"".into(),
            });
        }
        let mut buf = Vec::new();
        t.write_to(&mut buf).unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains("\"ts\":1.500,\"dur\":2.250"), "{s}");
        assert!(s.contains("execute \\\"m\\\""));
        assert_eq!(s.matches("\"ph\":\"X\"").count(), 1);
        assert_eq!(t.dropped, 1);
    }
}
