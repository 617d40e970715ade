//! Per-queue counters and latency histograms.
//!
//! Latencies go into a log-linear histogram (8 sub-buckets per power of two, so a
//! percentile is within 12.5% of the true value) of fixed size: recording is one index
//! computation and one increment, with no allocation on the hot path.

const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
const GROUPS: usize = 64 - SUB_BITS as usize + 1;

/// A fixed-size log-linear histogram of nanosecond values.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; GROUPS * SUB]>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; GROUPS * SUB]),
            total: 0,
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Histogram(n={}, p50={}, p99={})",
            self.total,
            self.percentile(50.0),
            self.percentile(99.0)
        )
    }
}

fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let top = 63 - v.leading_zeros(); // position of the highest set bit, ≥ SUB_BITS
    let group = (top - SUB_BITS + 1) as usize;
    let sub = ((v >> (top - SUB_BITS)) as usize) & (SUB - 1);
    group * SUB + sub
}

/// The smallest value that falls into bucket `i` (its lower edge).
fn lower(i: usize) -> u64 {
    let (group, sub) = (i / SUB, (i % SUB) as u64);
    if group == 0 {
        return sub;
    }
    let shift = group as u32 - 1;
    (SUB as u64 + sub) << shift
}

impl Histogram {
    /// Record one value.
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value below which `p` percent of the recorded values lie (bucket midpoint);
    /// 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let lo = lower(i);
                let hi = if i + 1 < self.counts.len() {
                    lower(i + 1)
                } else {
                    u64::MAX
                };
                return lo + (hi - lo) / 2;
            }
        }
        u64::MAX
    }
}

/// A point-in-time copy of one queue's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Requests accepted.
    pub submitted: u64,
    /// Requests completed (delivered or ready to reap), any status.
    pub completed: u64,
    /// Completed with an error status other than cancellation.
    pub failed: u64,
    /// Completed as cancelled.
    pub cancelled: u64,
    /// On the device now.
    pub in_flight: u64,
    /// In the software backlog now.
    pub backlog: u64,
    /// `NRT_QUEUE_FULL` refusals absorbed.
    pub queue_full: u64,
    /// Times the completion thread woke up for this queue's work (hint of CPU cost).
    pub wakeups: u64,
    /// Submit → completion observed, p50 / p99, ns.
    pub submit_to_complete_p50_ns: u64,
    /// Submit → completion observed, p99, ns.
    pub submit_to_complete_p99_ns: u64,
    /// Completion observed → notification (callback entered / reaped), p50, ns.
    pub complete_to_notify_p50_ns: u64,
    /// Completion observed → notification, p99, ns.
    pub complete_to_notify_p99_ns: u64,
    /// Learned device time per request, ns.
    pub predicted_device_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_contain_their_values() {
        for v in [
            0u64,
            1,
            7,
            8,
            9,
            15,
            16,
            17,
            100,
            1000,
            123_456,
            u64::MAX / 3,
        ] {
            let i = index(v);
            assert!(lower(i) <= v, "v={v} lower={}", lower(i));
            assert!(i + 1 >= GROUPS * SUB || lower(i + 1) > v, "v={v}");
        }
    }

    #[test]
    fn percentiles_within_an_eighth() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.percentile(50.0) as f64;
        let p99 = h.percentile(99.0) as f64;
        assert!((p50 / 5_000_000.0 - 1.0).abs() < 0.125, "{p50}");
        assert!((p99 / 9_900_000.0 - 1.0).abs() < 0.125, "{p99}");
        assert_eq!(Histogram::default().percentile(50.0), 0);
    }
}
