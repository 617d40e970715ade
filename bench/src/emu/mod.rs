//! The emulator's own view of the device (`nrtemu_*`, declared in
//! `nrt-emu/include/nrt/nrt_emu.h`), looked up with `dlsym` in the same library the
//! runtime calls go to: busy time of the COMPUTE unit, the emulator threads' CPU time,
//! and when each recent request ended and was released.
//!
//! Every function is optional: against a library without them (the vendor's) the bench
//! falls back to its own measures and says so in the results.

use neuron_sys::{nrta_seq_t, nrta_xu_t, NRT_STATUS, NRT_SUCCESS};
use nrt_emu::observe::nrtemu_xu_stats_t;
use std::ffi::{c_void, CString};
use std::path::Path;

type XuStatsFn =
    unsafe extern "C" fn(u32, nrta_xu_t, std::ffi::c_int, *mut nrtemu_xu_stats_t) -> NRT_STATUS;
type ThreadCpuFn = unsafe extern "C" fn(*mut u64) -> NRT_STATUS;
type CompletionTimeFn = unsafe extern "C" fn(nrta_seq_t, *mut u64, *mut u64) -> NRT_STATUS;

/// The emulator-only entry points found in one library.
pub struct Emu {
    xu_stats: Option<XuStatsFn>,
    thread_cpu: Option<ThreadCpuFn>,
    completion_time: Option<CompletionTimeFn>,
}

/// What the counters say about one unit at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct XuSnapshot {
    /// Simulated busy time so far.
    pub busy_ns: u64,
    /// Release lateness p99 (release − simulated end).
    pub late_p99_ns: u64,
}

/// `name` in the library already loaded from `path`, or NULL.
fn lookup(path: &Path, name: &str) -> *mut c_void {
    let (Some(p), Ok(n)) = (
        path.to_str().and_then(|p| CString::new(p).ok()),
        CString::new(name),
    ) else {
        return std::ptr::null_mut();
    };
    // SAFETY: RTLD_NOLOAD opens nothing new: it returns the handle of the library the
    // loader already mapped from this path (the runtime's), or NULL. The handle is
    // deliberately not closed, like the loader's own.
    let handle = unsafe { libc::dlopen(p.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    if handle.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the handle is open and the name NUL-terminated.
    unsafe { libc::dlsym(handle, n.as_ptr()) }
}

/// `name` as function type `T`.
///
/// # Safety
/// `T` must be the pointer-sized `extern "C" fn` type of the C function `name`.
unsafe fn resolve<T: Copy>(path: &Path, name: &str) -> Option<T> {
    const { assert!(std::mem::size_of::<T>() == std::mem::size_of::<*mut c_void>()) };
    let p = lookup(path, name);
    // SAFETY: non-NULL, pointer-sized, and the caller vouches for the prototype.
    (!p.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
}

impl Emu {
    /// Looks the functions up in the library loaded from `path`.
    pub fn open(path: &Path) -> Emu {
        Emu {
            // SAFETY: the type is the prototype `nrt_emu.h` declares for this name.
            xu_stats: unsafe { resolve(path, "nrtemu_get_xu_stats") },
            // SAFETY: as above.
            thread_cpu: unsafe { resolve(path, "nrtemu_get_thread_cpu_ns") },
            // SAFETY: as above.
            completion_time: unsafe { resolve(path, "nrtemu_get_completion_time") },
        }
    }

    /// Counters of XU `xu`, queue 0, core 0.
    pub fn xu(&self, xu: nrta_xu_t) -> Option<XuSnapshot> {
        self.xu_queue(xu, 0)
    }

    /// Counters of XU `xu`, queue `queue`, core 0.
    pub fn xu_queue(&self, xu: nrta_xu_t, queue: i32) -> Option<XuSnapshot> {
        let f = self.xu_stats?;
        let mut st = nrtemu_xu_stats_t {
            struct_size: std::mem::size_of::<nrtemu_xu_stats_t>() as u32,
            ..Default::default()
        };
        // SAFETY: `st` is live and writable, its size is in `struct_size`.
        let s = unsafe { f(0, xu, queue, &mut st) };
        (s == NRT_SUCCESS).then_some(XuSnapshot {
            busy_ns: st.busy_ns,
            late_p99_ns: st.late_p99_ns,
        })
    }

    /// CPU time the emulator's threads used so far, as it reports it.
    pub fn thread_cpu_ns(&self) -> Option<u64> {
        let f = self.thread_cpu?;
        let mut ns = 0u64;
        // SAFETY: `ns` is a writable u64.
        let s = unsafe { f(&mut ns) };
        (s == NRT_SUCCESS).then_some(ns)
    }

    /// Whether per-request release times are available.
    pub fn has_completion_times(&self) -> bool {
        self.completion_time.is_some()
    }

    /// (simulated end, release) of a recently completed request, ns of CLOCK_MONOTONIC.
    pub fn completion_time(&self, seq: nrta_seq_t) -> Option<(u64, u64)> {
        let f = self.completion_time?;
        let (mut end, mut release) = (0u64, 0u64);
        // SAFETY: both out-pointers are writable u64s.
        let s = unsafe { f(seq, &mut end, &mut release) };
        (s == NRT_SUCCESS).then_some((end, release))
    }
}
