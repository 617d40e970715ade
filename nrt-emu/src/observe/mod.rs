//! What the emulated device shows about itself: per-XU counters and completion
//! lateness, the CPU time of the emulator's own thread, and an optional Chrome
//! trace-event file of XU activity. The C view is `nrt_emu.h` (`nrtemu_*`).

pub mod histogram;
pub mod trace;

use histogram::Histogram;

/// Counters of one XU instance since the device started or the last reset.
#[derive(Default)]
pub struct XuCounters {
    /// Requests completed (any status).
    pub completed: u64,
    /// Of those, completed with a status other than `NRT_SUCCESS`.
    pub errors: u64,
    /// Sum of the simulated costs of the requests that ran (exact, from the timeline).
    pub busy_ns: u64,
    /// Sum of the timeline gaps before each completed request started.
    pub idle_ns: u64,
    /// Most requests accepted and not yet completed at once.
    pub queue_hwm: u64,
    /// Release time minus simulated end, per completed request.
    pub lateness: Histogram,
}

/// `nrtemu_xu_stats_t`: the C view of one XU's counters. It starts with its own size so
/// it can grow: the caller sets `struct_size` to the size it knows, the emulator fills
/// at most that many bytes and writes back how many it filled.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct nrtemu_xu_stats_t {
    /// In: `sizeof` the caller's struct; out: bytes written.
    pub struct_size: u32,
    /// Logical core.
    pub lnc: u32,
    /// The generation's `nrta_xu_t`.
    pub xu: u32,
    /// Queue.
    pub queue: u32,
    /// Last sequence number accepted (ever, not reset).
    pub issued: u64,
    /// Requests completed.
    pub completed: u64,
    /// Requests completed with an error status.
    pub errors: u64,
    /// Simulated busy time.
    pub busy_ns: u64,
    /// Simulated idle time between requests.
    pub idle_ns: u64,
    /// Accepted and not yet completed, now.
    pub in_flight: u64,
    /// High-water mark of `in_flight`.
    pub queue_hwm: u64,
    /// Lateness samples.
    pub late_count: u64,
    /// Lateness median.
    pub late_p50_ns: u64,
    /// Lateness 99th percentile.
    pub late_p99_ns: u64,
    /// Largest lateness.
    pub late_max_ns: u64,
    /// 1 once the XU is unrecoverable.
    pub dead: u32,
    /// Always 0.
    pub reserved: u32,
}

/// `nrtemu_config_t`: the device parameters in force (read at `nrt_init`), so tests and
/// benchmarks compute expected costs from the same numbers. Sized like the stats.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct nrtemu_config_t {
    /// In: `sizeof` the caller's struct; out: bytes written.
    pub struct_size: u32,
    /// Requests accepted and not yet completed per XU before `NRT_QUEUE_FULL`.
    pub queue_depth: u32,
    /// Fixed cost of every transfer (read, write, copy).
    pub xfer_overhead_ns: u64,
    /// Simulated transfer bandwidth.
    pub xfer_bytes_per_us: u64,
    /// How long before a deadline the release thread stops sleeping and spins.
    pub spin_ns: u64,
    /// Logical cores.
    pub lnc_count: u32,
    /// `NRTA_XU_TYPE_NUM` of the generation.
    pub xu_type_count: u32,
}

impl XuCounters {
    /// Fill the C view (everything but the identity and live fields).
    pub fn fill(&self, out: &mut nrtemu_xu_stats_t) {
        out.completed = self.completed;
        out.errors = self.errors;
        out.busy_ns = self.busy_ns;
        out.idle_ns = self.idle_ns;
        out.queue_hwm = self.queue_hwm;
        out.late_count = self.lateness.count();
        out.late_p50_ns = self.lateness.quantile(0.50);
        out.late_p99_ns = self.lateness.quantile(0.99);
        out.late_max_ns = self.lateness.max();
    }
}
