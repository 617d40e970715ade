//! Per-queue statistics in a struct that carries its own size, so it can grow.
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "C entry points only (see the ffi module docs)"
)]
use super::ffi_boundary;
use super::handle::nrtq_queue;
use super::handle::try_queue;
use super::status::{fail_msg, nrtq_status};
use crate::status::Status;

/// A queue's counters and latency percentiles.
///
/// The caller sets `struct_size = sizeof(nrtq_stats)` before calling `nrtq_queue_stats`;
/// the library writes only the fields that fit entirely within `struct_size` bytes, so a
/// program built against an older, shorter struct keeps working with a newer library. It
/// then writes back into `struct_size` the number of bytes it filled, `min(struct_size,
/// its own sizeof(nrtq_stats))` rounded down to whole fields, so a program built against
/// a newer, longer struct can tell which fields an older library left untouched.
/// Fields are only ever appended. Latencies are in nanoseconds, from log-linear histograms
/// (within 12.5%).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nrtq_stats {
    /// In: the size of this struct as the caller knows it. Out: the bytes the library
    /// filled, this field included.
    pub struct_size: u64,
    /// Requests accepted.
    pub submitted: u64,
    /// Requests completed, any status.
    pub completed: u64,
    /// Completed with an error other than cancellation.
    pub failed: u64,
    /// Completed as cancelled.
    pub cancelled: u64,
    /// On the device now.
    pub in_flight: u64,
    /// In the software backlog now.
    pub backlog: u64,
    /// `NRT_QUEUE_FULL` refusals absorbed.
    pub queue_full: u64,
    /// Completion-thread passes that found this queue's work.
    pub wakeups: u64,
    /// Submit → completion observed, median.
    pub submit_to_complete_p50_ns: u64,
    /// Submit → completion observed, 99th percentile.
    pub submit_to_complete_p99_ns: u64,
    /// Completion observed → callback entered (or reaped), median.
    pub complete_to_notify_p50_ns: u64,
    /// Completion observed → callback entered (or reaped), 99th percentile.
    pub complete_to_notify_p99_ns: u64,
    /// The device time per request nrtq has learned (for its wait predictions).
    pub predicted_device_ns: u64,
}

/// Fill `*stats` and write back `stats->struct_size` (see `nrtq_stats`). Returns
/// `NRTQ_OK`, `NRTQ_ERR_NULL`, or `NRTQ_ERR_INVALID` when `struct_size` is smaller than
/// the size field itself (nothing is written then). Thread-safe.
#[no_mangle]
pub extern "C" fn nrtq_queue_stats(q: *const nrtq_queue, stats: *mut nrtq_stats) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        if stats.is_null() {
            return super::status::null_argument("stats");
        }
        // SAFETY: non-NULL; the first field is readable by contract (the caller set it).
        let size = unsafe { std::ptr::addr_of!((*stats).struct_size).read_unaligned() };
        if size < 8 {
            return fail_msg(
                Status::InvalidArgument,
                "stats->struct_size is smaller than 8",
            );
        }
        let s = queue.stats();
        // Every field is a u64, so whole fields fit in a multiple of 8 bytes.
        let filled = (size as usize).min(std::mem::size_of::<nrtq_stats>()) / 8 * 8;
        let full = nrtq_stats {
            struct_size: filled as u64,
            submitted: s.submitted,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            in_flight: s.in_flight,
            backlog: s.backlog,
            queue_full: s.queue_full,
            wakeups: s.wakeups,
            submit_to_complete_p50_ns: s.submit_to_complete_p50_ns,
            submit_to_complete_p99_ns: s.submit_to_complete_p99_ns,
            complete_to_notify_p50_ns: s.complete_to_notify_p50_ns,
            complete_to_notify_p99_ns: s.complete_to_notify_p99_ns,
            predicted_device_ns: s.predicted_device_ns,
        };
        // SAFETY: the caller's struct has at least `size` writable bytes and we copy
        // `filled <= size` bytes from a live local of at least `filled` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&full as *const nrtq_stats).cast::<u8>(),
                stats.cast::<u8>(),
                filled,
            )
        };
        nrtq_status::NRTQ_OK
    })
}
