//! Completion-to-notification latency: pairing the instants the application learned of
//! completions with the device's completion times, and percentiles.

use std::collections::HashMap;

/// The moment the application learned that one request had completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The request's sequence id when the pattern knows it (raw async patterns); `None`
    /// when it does not (sync calls, libnrtq callbacks).
    pub seq: Option<u64>,
    /// `CLOCK_MONOTONIC` ns.
    pub at_ns: u64,
}

/// When the emulator released one request's completion (made it visible).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceDone {
    pub seq: u64,
    /// `CLOCK_MONOTONIC` ns.
    pub at_ns: u64,
}

/// Latencies in ns (negative when a notice came before the device instant, which only a
/// pairing error can produce; kept so it shows rather than hides).
///
/// Notices with a sequence id are paired with that id exactly. The rest are paired in
/// order: one execution unit completes in sequence order, so the k-th notice in time is
/// the k-th completion when a single thread learns of them in order (one sync loop, one
/// libnrtq completion thread); with several threads learning concurrently, neighbours
/// can swap and the pairing is approximate. `device` must hold the run's requests only,
/// in any order; unpaired notices are dropped.
pub fn pair(notices: &[Notice], device: &[DeviceDone]) -> Vec<i64> {
    let by_seq: HashMap<u64, u64> = device.iter().map(|d| (d.seq, d.at_ns)).collect();
    let mut out = Vec::with_capacity(notices.len());
    let mut anonymous: Vec<u64> = Vec::new();
    for n in notices {
        match n.seq {
            Some(seq) => {
                if let Some(&at) = by_seq.get(&seq) {
                    out.push(n.at_ns as i64 - at as i64);
                }
            }
            None => anonymous.push(n.at_ns),
        }
    }
    if !anonymous.is_empty() {
        anonymous.sort_unstable();
        let mut ends: Vec<(u64, u64)> = device.iter().map(|d| (d.seq, d.at_ns)).collect();
        ends.sort_unstable();
        // The run's requests are the last ones on the unit: align from the end.
        let skip = ends.len().saturating_sub(anonymous.len());
        let notice_skip = anonymous.len().saturating_sub(ends.len());
        for (n, (_, at)) in anonymous[notice_skip..].iter().zip(&ends[skip..]) {
            out.push(*n as i64 - *at as i64);
        }
    }
    out
}

/// The `q` quantile (0..=1) of `samples` by the nearest-rank method, or `None` if empty.
pub fn quantile(samples: &mut [i64], q: f64) -> Option<i64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    Some(samples[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_pairs_by_sequence() {
        let device = [
            DeviceDone { seq: 1, at_ns: 100 },
            DeviceDone { seq: 2, at_ns: 200 },
        ];
        let notices = [
            Notice {
                seq: Some(2),
                at_ns: 230,
            },
            Notice {
                seq: Some(1),
                at_ns: 230,
            },
            Notice {
                seq: Some(9),
                at_ns: 999,
            },
        ];
        assert_eq!(pair(&notices, &device), vec![30, 130]);
    }

    #[test]
    fn anonymous_notices_pair_in_order_with_the_last_completions() {
        // Seq 1 was a warm-up request the notices do not cover.
        let device = [
            DeviceDone { seq: 3, at_ns: 300 },
            DeviceDone { seq: 1, at_ns: 100 },
            DeviceDone { seq: 2, at_ns: 200 },
        ];
        let notices = [
            Notice {
                seq: None,
                at_ns: 310,
            },
            Notice {
                seq: None,
                at_ns: 205,
            },
        ];
        assert_eq!(pair(&notices, &device), vec![5, 10]);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut s: Vec<i64> = (1..=100).rev().collect();
        assert_eq!(quantile(&mut s, 0.5), Some(50));
        assert_eq!(quantile(&mut s, 0.99), Some(99));
        assert_eq!(quantile(&mut s, 1.0), Some(100));
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(quantile(&mut [7], 0.99), Some(7));
    }
}
