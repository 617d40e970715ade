//! Wall and CPU clocks.
//!
//! Wall time is `CLOCK_MONOTONIC`, the clock the emulator stamps its timeline and trace
//! with, so the bench's notification instants compare directly with the device's times.

/// Now, ns of `CLOCK_MONOTONIC`.
pub fn now_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC).unwrap_or(0)
}

/// The value of `clock` in ns, or `None` when the clock does not exist (a thread that
/// has exited).
pub fn read(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec; an unknown clock id only yields -1.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// CPU time of the whole process (every thread, user + system), ns, from `getrusage`.
pub fn process_cpu_ns() -> u64 {
    // SAFETY: an all-zero rusage is a valid value of a plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is live and writable; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The CPU-time clock of thread `tid` of this process, as the kernel encodes it
/// (`MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)`): what `pthread_getcpuclockid` returns,
/// but reachable for threads the bench did not create (the emulator's), found by tid.
pub fn thread_cpu_clock(tid: i32) -> libc::clockid_t {
    const CPUCLOCK_SCHED: libc::clockid_t = 2;
    const CPUCLOCK_PERTHREAD: libc::clockid_t = 4;
    ((!tid) << 3) | CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD
}

/// Sleep `ns` with the calling thread's timer slack (used only by the idle window).
pub fn sleep_ns(ns: u64) {
    std::thread::sleep(std::time::Duration::from_nanos(ns));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_thread_clock_by_tid_matches_pthread_clock() {
        // SAFETY: gettid has no arguments and cannot fail.
        let tid = unsafe { libc::gettid() };
        let mut spin = 0u64;
        for i in 0..2_000_000u64 {
            spin = spin.wrapping_add(i ^ (spin >> 3));
        }
        std::hint::black_box(spin);
        let by_tid = read(thread_cpu_clock(tid)).expect("own thread clock");
        let own = read(libc::CLOCK_THREAD_CPUTIME_ID).expect("thread cputime");
        assert!(by_tid > 0);
        // Read one after the other: the second can only be later, and not by much.
        assert!(own >= by_tid && own - by_tid < 50_000_000, "{by_tid} {own}");
    }

    #[test]
    fn process_cpu_grows_with_work() {
        let before = process_cpu_ns();
        let start = now_ns();
        while now_ns() - start < 20_000_000 {
            std::hint::spin_loop();
        }
        assert!(process_cpu_ns() > before);
    }
}
