//! The process's threads as `/proc/self/task` shows them: names, context switches and
//! CPU clocks, split into the emulator's and the application's by name.

use std::collections::BTreeMap;

/// Thread names the emulator gives its own threads start with this (its release and
/// notification threads: `nrt-emu-…`). Everything else in the process is the
/// application: the bench's loops, libnrtq's completion threads.
pub const EMULATOR_PREFIX: &str = "nrt-emu";

/// One thread of this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub tid: i32,
    pub name: String,
    /// Voluntary + involuntary context switches so far: each is one time the thread
    /// stopped running, so between two reads it counts the thread's wake-ups.
    pub switches: u64,
}

impl Task {
    /// Whether the emulator owns the thread.
    pub fn is_emulator(&self) -> bool {
        self.name.starts_with(EMULATOR_PREFIX)
    }
}

/// The `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of a status file.
fn switches_of(status: &str) -> Option<u64> {
    let mut total = None;
    for line in status.lines() {
        if let Some(rest) = line
            .strip_prefix("voluntary_ctxt_switches:")
            .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
        {
            let n: u64 = rest.trim().parse().ok()?;
            total = Some(total.unwrap_or(0) + n);
        }
    }
    total
}

/// The `Name:` line of a status file.
fn name_of(status: &str) -> Option<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Name:"))
        .map(|n| n.trim().to_string())
}

/// Every thread alive now (threads that exit while being read are skipped).
pub fn list() -> Vec<Task> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        if let (Some(name), Some(switches)) = (name_of(&status), switches_of(&status)) {
            out.push(Task {
                tid,
                name,
                switches,
            });
        }
    }
    out.sort_by_key(|t| t.tid);
    out
}

/// The calling thread's id.
pub fn current_tid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Summed CPU time of the emulator's threads alive now, ns, from their per-thread CPU
/// clocks: the bench's own measure of what the emulator reports about itself.
pub fn emulator_cpu_ns() -> u64 {
    list()
        .iter()
        .filter(|t| t.is_emulator())
        .filter_map(|t| super::clock::read(super::clock::thread_cpu_clock(t.tid)))
        .sum()
}

/// Context switches of the application's threads, by tid, leaving out the emulator's
/// and `exclude` (the thread doing the measuring, whose own sleep would count).
pub fn app_switches(exclude: i32) -> BTreeMap<i32, u64> {
    list()
        .into_iter()
        .filter(|t| !t.is_emulator() && t.tid != exclude)
        .map(|t| (t.tid, t.switches))
        .collect()
}

/// Wake-ups between two [`app_switches`] snapshots: the growth of every thread seen in
/// both, all switches of a thread that appeared (it was started while idle), and one
/// for each thread that disappeared (it at least woke to exit).
pub fn wakeups_between(before: &BTreeMap<i32, u64>, after: &BTreeMap<i32, u64>) -> u64 {
    let mut total = 0;
    for (tid, &n) in after {
        total += match before.get(tid) {
            Some(&b) => n.saturating_sub(b),
            None => n,
        };
    }
    total + before.keys().filter(|t| !after.contains_key(t)).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_fields() {
        let s = "Name:\tnrt-emu-rel\nState:\tS\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(switches_of(s), Some(15));
        assert_eq!(name_of(s).as_deref(), Some("nrt-emu-rel"));
        assert_eq!(switches_of("Name:\tx\n"), None);
    }

    #[test]
    fn sees_a_sleeping_thread_wake() {
        let me = current_tid();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::Builder::new()
            .name("bench-test-idle".into())
            .spawn(move || {
                // Wakes five times, then waits for the end.
                for _ in 0..5 {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                let _ = rx.recv();
            })
            .unwrap();
        let before = app_switches(me);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let after = app_switches(me);
        let _ = tx.send(());
        t.join().unwrap();
        let woke = wakeups_between(&before, &after);
        assert!(woke >= 4, "{woke}");
        assert!(!before.contains_key(&me));
    }

    #[test]
    fn accounting_of_threads_that_come_and_go() {
        let before = BTreeMap::from([(1, 10), (2, 5)]);
        let after = BTreeMap::from([(1, 12), (3, 4)]);
        assert_eq!(wakeups_between(&before, &after), 2 + 4 + 1);
    }
}
