//! A fixed-size log-linear histogram of nanosecond values, for completion-lateness
//! percentiles without keeping every sample: values below 32 ns are exact, larger ones
//! fall in buckets 1/32 of their power of two wide (at most ~3% relative error).

const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = SUB + (64 - SUB_BITS as usize) * SUB;

/// Lateness samples.
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    count: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            count: 0,
            max: 0,
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = e - SUB_BITS;
    let mantissa = ((v >> shift) as usize) & (SUB - 1);
    SUB + shift as usize * SUB + mantissa
}

/// The middle of bucket `b` (its exact value below 32 ns).
fn value_of(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let shift = ((b - SUB) / SUB) as u32;
    let mantissa = ((b - SUB) % SUB) as u64;
    let low = (SUB as u64 + mantissa) << shift;
    low + ((1u64 << shift) >> 1)
}

impl Histogram {
    /// Add one sample.
    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
        self.count += 1;
        self.max = self.max.max(v);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest sample (exact).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The `p`-quantile (0 < p <= 1): the smallest bucket value with at least
    /// `ceil(p * count)` samples at or below it, capped at the exact maximum; 0 when empty.
    pub fn quantile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((p * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value_of(b).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_close() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 100);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.04, "{p50}");
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.04, "{p99}");
        assert_eq!(h.max(), 1_000_000);
        assert_eq!(h.count(), 10_000);
        let mut small = Histogram::default();
        small.record(7);
        assert_eq!(small.quantile(0.5), 7);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }
}
