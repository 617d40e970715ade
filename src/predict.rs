//! Predicting when the requests in flight will complete.
//!
//! A model's device time is stable and an execution unit runs its queue back to back, so
//! two numbers predict every completion: the device time of one request (`estimate`) and
//! the completion time of one known request (the *anchor*). The request `k` places after
//! the anchor ends `k × estimate` later, unless the device ran dry in between, which the
//! engine accounts for with the schedule times of its own requests
//! (see `predicted_end` in `queue/timing.rs`).
//!
//! **Device time.** Every read of the completed-sequence counter is a *reading* `(t, c)`:
//! request `c` ended at or before `t`, and request `c + 1` (when one is queued) had not.
//! While the device stays busy, two readings `n` requests apart are `n × estimate` apart
//! give or take one request's time, whatever the latency of the thread that made them;
//! so the rate over a span of at least [`SPAN_MIN`] requests is the estimate, with an
//! error under `1 / SPAN_MIN` of it. The span slides (it is kept between [`SPAN_MIN`] and
//! twice that many requests), so a change of model time is followed within ~64 requests.
//! A span breaks when the device may have idled (nothing of ours queued behind the
//! completed request).
//!
//! Until a span is long enough (the first requests, or a queue that never has more than
//! one request on the device), single requests are timed instead:
//! - *exact*: the request was seen incomplete at one reading and complete at the next, so
//!   it ended between the two (the midpoint is taken);
//! - *upper bound*: it was complete at the first look (after a sleep or a wake-up whose
//!   own latency is included), so it ended no later than that.
//!
//! Exact samples move the estimate either way; upper bounds can only pull it down. That
//! breaks the feedback loop a plain average has (sleep too long → observe late → predict
//! longer → sleep longer).
//!
//! **Anchor.** At a reading that shows progress, the newest completed request ended in
//! `(previous reading, now]`; its predicted end (from the old anchor) is clamped into that
//! interval and becomes the new anchor. A reading that shows no progress says the next
//! request has not ended: a prediction earlier than that is pushed later. So predictions
//! are corrected by every look at the counter, and are exact to within the spacing of
//! the readings when the engine spins near a completion.

/// Requests a rate span must cover before it replaces single-request samples.
const SPAN_MIN: u64 = 32;
/// Requests a span must cover before it is trusted at all (replaces single samples with
/// a less precise but unbiased figure early on).
const SPAN_EARLY: u64 = 8;

/// Weight of a new single-request sample: 1/8, so a change is followed within ~20
/// requests.
const SHIFT: u32 = 3;

/// Learned device time and completion anchor for one execution unit queue.
#[derive(Clone, Debug, Default)]
pub struct Predictor {
    estimate_ns: u64,
    samples: u64,
    /// Start of the current busy span: (reading time, completed number).
    span: Option<(u64, u64)>,
    /// A later reading that becomes the span start once the span is twice [`SPAN_MIN`].
    span_next: Option<(u64, u64)>,
    /// Whether the estimate currently comes from a span (and how long it was).
    span_len: u64,
    /// The completed number of the last reading that extended the span.
    span_last: u64,
    /// Estimated completion time of a known request: (sequence number, end ns).
    anchor: Option<(u64, u64)>,
}

impl Predictor {
    /// The current estimate of one request's device time (0 until the first sample).
    pub fn estimate_ns(&self) -> u64 {
        self.estimate_ns
    }

    /// Whether at least one sample has been taken.
    pub fn is_warm(&self) -> bool {
        self.samples > 0
    }

    /// Whether the estimate comes from a busy span of at least [`SPAN_MIN`] requests.
    pub fn is_precise(&self) -> bool {
        self.span_len >= SPAN_MIN
    }

    /// Whether the estimate comes from a busy span at all (at least 8 requests, so within
    /// ~12%), rather than from single requests: only then may the engine sleep on the
    /// strength of a prediction. Single-request figures taken after sleeping on them
    /// would feed back (sleep long → see late → predict longer).
    pub fn is_trusted(&self) -> bool {
        self.span_len >= SPAN_EARLY
    }

    /// Record one single-request observation of the device time. Ignored once a busy
    /// span gives a better figure.
    pub fn observe(&mut self, duration_ns: u64, exact: bool) {
        if self.span_len >= SPAN_EARLY {
            return;
        }
        if self.samples == 0 {
            self.estimate_ns = duration_ns;
        } else if exact || duration_ns < self.estimate_ns {
            let e = self.estimate_ns as i128;
            let next = e + ((duration_ns as i128 - e) >> SHIFT);
            self.estimate_ns = next.max(0) as u64;
        }
        self.samples += 1;
    }

    /// A reading of the counter at `now` that shows `completed`. `busy` says whether a
    /// request was queued behind it, so the device was still working at `now`. A span of
    /// readings is only kept across readings that were all `busy`.
    pub fn reading(&mut self, now: u64, completed: u64, busy: bool) {
        let Some((t0, c0)) = self.span else {
            if busy {
                self.span = Some((now, completed));
                self.span_next = None;
                self.span_last = completed;
            }
            return;
        };
        if !busy {
            self.break_span();
            return;
        }
        let n = completed.saturating_sub(c0);
        if completed <= self.span_last {
            // No progress since the last reading: the time waited says nothing about
            // the rate (it is only a bound on the next completion).
            return;
        }
        self.span_last = completed;
        if n >= SPAN_EARLY && now > t0 {
            self.estimate_ns = (now - t0) / n;
            self.span_len = n;
            self.samples = self.samples.max(1);
        }
        if n >= SPAN_MIN && self.span_next.is_none() {
            self.span_next = Some((now, completed));
        }
        if n >= 2 * SPAN_MIN {
            self.span = self.span_next.take();
        }
    }

    /// The device may have idled: the next span starts afresh. The estimate is kept.
    pub fn break_span(&mut self) {
        self.span = None;
        self.span_next = None;
        self.span_len = self.span_len.min(SPAN_EARLY);
    }

    /// The anchor: the estimated end (ns) of request `seq`.
    pub fn anchor(&self) -> Option<(u64, u64)> {
        self.anchor
    }

    /// Set the anchor: request `seq` is estimated to have ended at `end_ns`.
    pub fn set_anchor(&mut self, seq: u64, end_ns: u64) {
        self.anchor = Some((seq, end_ns));
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

    /// Readings taken late by a varying latency (up to 60 µs) still give the rate of a
    /// 20-µs device within a few percent, and a change of rate is followed.
    #[test]
    fn busy_spans_give_the_rate_despite_late_readings() {
        let mut p = Predictor::default();
        p.observe(90_000, false); // a poor first sample
        let mut jitter = 7u64;
        let mut t_end = 0u64;
        for c in 1..=400u64 {
            t_end += 20_000;
            jitter = (jitter * 1103515245 + 12345) % 60_000;
            p.reading(t_end + jitter, c, true);
        }
        let e = p.estimate_ns();
        assert!(p.is_precise());
        assert!((19_000..=21_000).contains(&e), "{e}");
        for c in 401..=600u64 {
            t_end += 50_000;
            jitter = (jitter * 1103515245 + 12345) % 60_000;
            p.reading(t_end + jitter, c, true);
        }
        let e = p.estimate_ns();
        assert!((48_000..=52_000).contains(&e), "{e}");
        // Single samples no longer move a span-backed estimate.
        p.observe(1_000, true);
        assert_eq!(p.estimate_ns(), e);
    }

    #[test]
    fn an_idle_gap_breaks_the_span() {
        let mut p = Predictor::default();
        for c in 1..=40u64 {
            p.reading(c * 20_000, c, true);
        }
        assert!(p.is_precise());
        p.reading(41 * 20_000, 41, false);
        assert!(!p.is_precise());
        // A gap of a whole millisecond is not mistaken for device time.
        p.reading(2_000_000, 41, true);
        for c in 42..=80u64 {
            p.reading(2_000_000 + (c - 41) * 20_000, c, true);
        }
        let e = p.estimate_ns();
        assert!((19_000..=21_000).contains(&e), "{e}");
    }
}
