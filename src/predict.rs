//! Predicting when the oldest request in flight will complete.
//!
//! A model's device time is stable, so the time one request spends on the device can be
//! learned from the ones before it. Observations come in two kinds:
//! - *exact*: the request was seen incomplete at one check and complete at the next, so
//!   it ended between the two (the midpoint is taken);
//! - *upper bound*: it was complete at the first look (after a sleep or a wake-up whose
//!   own latency is included), so it ended no later than that.
//!
//! Exact samples move the estimate either way; upper bounds can only pull it down. That
//! breaks the feedback loop a plain average has (sleep too long → observe late → predict
//! longer → sleep longer): waking early costs one more check and yields an exact sample.

/// Learned per-request device time, in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Predictor {
    estimate_ns: u64,
    samples: u64,
}

/// Weight of a new sample: 1/8, so a change of model time is followed within ~20 requests.
const SHIFT: u32 = 3;

impl Predictor {
    /// The current estimate (0 until the first sample).
    pub fn estimate_ns(&self) -> u64 {
        self.estimate_ns
    }

    /// Whether at least one sample has been taken.
    pub fn is_warm(&self) -> bool {
        self.samples > 0
    }

    /// Record one observation of a request's device time.
    pub fn observe(&mut self, duration_ns: u64, exact: bool) {
        if self.samples == 0 {
            self.estimate_ns = duration_ns;
        } else if exact || duration_ns < self.estimate_ns {
            let e = self.estimate_ns as i128;
            let next = e + ((duration_ns as i128 - e) >> SHIFT);
            self.estimate_ns = next.max(0) as u64;
        }
        self.samples += 1;
    }

    /// Predicted completion time of a request that started on the device at `start_ns`.
    pub fn predict_end(&self, start_ns: u64) -> u64 {
        start_ns + self.estimate_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_samples_converge_both_ways() {
        let mut p = Predictor::default();
        p.observe(100_000, true);
        for _ in 0..100 {
            p.observe(20_000, true);
        }
        assert!(p.estimate_ns() < 21_000, "{}", p.estimate_ns());
        for _ in 0..100 {
            p.observe(50_000, true);
        }
        assert!(p.estimate_ns() > 49_000, "{}", p.estimate_ns());
    }

    #[test]
    fn late_upper_bounds_never_raise_the_estimate() {
        let mut p = Predictor::default();
        p.observe(20_000, true);
        for _ in 0..100 {
            p.observe(80_000, false);
        }
        assert_eq!(p.estimate_ns(), 20_000);
        p.observe(10_000, false);
        assert!(p.estimate_ns() < 20_000);
        assert_eq!(p.predict_end(1_000), 1_000 + p.estimate_ns());
    }
}
