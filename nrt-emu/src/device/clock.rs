//! The device clock and the release thread's precise, interruptible sleep.
//!
//! Device time is `CLOCK_MONOTONIC` in nanoseconds, the same clock an application reads
//! with `clock_gettime(CLOCK_MONOTONIC)`, so release times and trace timestamps line up
//! with the application's own.
//!
//! The release thread sleeps with `FUTEX_WAIT_BITSET`, whose timeout is an *absolute*
//! `CLOCK_MONOTONIC` deadline like `clock_nanosleep(TIMER_ABSTIME)`, on the same hrtimer,
//! but which a scheduler can cut short with `FUTEX_WAKE` when it adds an earlier deadline;
//! a plain `clock_nanosleep` could only be interrupted by a signal. With the thread's
//! timer slack set to 1 ns (`PR_SET_TIMERSLACK`) the kernel does not defer the wake-up
//! by the default 50 µs.

use std::sync::atomic::AtomicU32;

/// Now, in nanoseconds of `CLOCK_MONOTONIC`.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time consumed so far by the thread whose CPU-time clock is `clock`.
pub fn thread_cpu_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; an invalid clock id only yields -1.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// The CPU-time clock of the calling thread.
pub fn current_thread_cpu_clock() -> Option<libc::clockid_t> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: pthread_self() is always a valid thread of this process and `clock` is
    // writable.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
    (rc == 0).then_some(clock)
}

/// Set the calling thread's timer slack to 1 ns, so timed waits end on time.
pub fn set_precise_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes an unsigned long by value and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
}

/// Block while `*word == expected`, until `deadline_ns` (absolute `CLOCK_MONOTONIC`)
/// or for ever when `None`. Returns early on [`wake`] or a spurious wake-up; the caller
/// re-checks its condition.
pub fn wait(word: &AtomicU32, expected: u32, deadline_ns: Option<u64>) {
    let ts = deadline_ns.map(|d| libc::timespec {
        tv_sec: (d / 1_000_000_000) as libc::time_t,
        tv_nsec: (d % 1_000_000_000) as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned u32 for the duration of the call; `ts_ptr` is
    // NULL or points at `ts`, alive until the call returns. FUTEX_WAIT_BITSET reads the
    // timeout as an absolute CLOCK_MONOTONIC time.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
}

/// Block the calling thread until `deadline_ns` (absolute `CLOCK_MONOTONIC`): a timed
/// wait to within `spin_ns` of it, then a spin, as the release thread waits (a timed wait
/// alone overshoots by tens of µs on small VMs).
pub fn block_until(deadline_ns: u64, spin_ns: u64) {
    let never_woken = AtomicU32::new(0);
    loop {
        let now = now_ns();
        if now >= deadline_ns {
            return;
        }
        if deadline_ns - now > spin_ns {
            wait(&never_woken, 0, Some(deadline_ns - spin_ns));
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Wake the thread blocked in [`wait`] on `word`.
pub fn wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE only reads its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        )
    };
}
