//! The operating-system edge of the core: the monotonic clock, eventfds, `poll`, timer
//! slack and CPU-time readings. Every `unsafe` call into libc outside `src/ffi` and the
//! libnrt backends lives here, so the queue, reactor and stats modules stay safe Rust.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Nanoseconds on CLOCK_MONOTONIC: the clock the emulator's trace uses too, so trace
/// events of both line up in Perfetto.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time (user + system) consumed by the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// A non-blocking, close-on-exec eventfd used as a counter-less "something happened" bell.
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    /// A new eventfd with count 0.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Add one to the count (makes the fd readable). Never blocks: a saturated counter
    /// (EAGAIN) is already readable, which is all a bell needs.
    pub fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to a descriptor we own.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Reset the count to 0 (makes the fd unreadable). Returns whether it was set.
    pub fn drain(&self) -> bool {
        read_counter(self.0.as_raw_fd())
    }

    /// The raw descriptor, for polling (owned by this object).
    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Read (and so reset) an eventfd given by number; `false` when it was not readable.
pub fn read_counter(fd: RawFd) -> bool {
    let mut v: u64 = 0;
    // SAFETY: reads at most 8 bytes into a valid u64; a bad fd only yields an error code.
    let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    n == 8
}

/// One descriptor to poll for readability.
#[derive(Clone, Copy, Debug)]
pub struct PollFd {
    /// The descriptor.
    pub fd: RawFd,
    /// Set by [`poll_readable`]: whether it was readable (or in error) on return.
    pub ready: bool,
}

/// Wait until one of `fds` is readable or `timeout` passes (`None`: no timeout).
/// Uses `ppoll` so that the timeout has nanosecond resolution (with the thread's timer
/// slack set low, see [`set_low_timer_slack`]). Returns the number of ready fds.
pub fn poll_readable(fds: &mut [PollFd], timeout: Option<Duration>) -> usize {
    let mut raw: Vec<libc::pollfd> = fds
        .iter()
        .map(|p| libc::pollfd {
            fd: p.fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `raw` holds `raw.len()` valid pollfds; `ts_ptr` is NULL or points to a live
    // timespec; a NULL sigmask keeps the thread's mask.
    let n = unsafe {
        libc::ppoll(
            raw.as_mut_ptr(),
            raw.len() as libc::nfds_t,
            ts_ptr,
            std::ptr::null(),
        )
    };
    for (p, r) in fds.iter_mut().zip(&raw) {
        p.ready = r.revents != 0;
    }
    n.max(0) as usize
}

/// Set the calling thread's timer slack to 1 ns, so timed waits end when asked rather than
/// up to 50 µs later (the default slack): the reactor sleeps until just before predicted
/// completions, and that is only worth it if it wakes on time.
pub fn set_low_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and affects only this thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
}

/// CPU time (user + system) of the whole process, in nanoseconds (getrusage).
pub fn process_cpu_ns() -> u64 {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Let another runnable thread have this CPU (`sched_yield`); returns at once if none.
pub fn yield_now() {
    // SAFETY: sched_yield takes no arguments and cannot fail on Linux.
    unsafe { libc::sched_yield() };
}

/// Spin-loop hint, named here so the reactor reads as policy rather than mechanism.
#[inline]
pub fn cpu_relax() {
    std::hint::spin_loop();
}
