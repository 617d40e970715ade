//! Wait planning: after each pass, how the completion thread should wait for this queue
//! (sleep to a predicted completion, spin near it, block on the runtime's notification,
//! or poll) and for which request. Pure decisions from the queue's state and the
//! predictor; the waiting itself is the reactor's.
use std::os::fd::RawFd;

use super::config::{QueueConfig, WaitPolicy};
use super::inner::Inner;
use super::refill::cover_ns;
use crate::backend::Notify;
use crate::log::{log, Level};

/// How the completion thread should wait on this queue's behalf.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WaitPlan {
    /// Poll this descriptor (and whether it is a bell that must be read to reset).
    pub(crate) fd: Option<(RawFd, bool)>,
    /// Wake no later than this (ns, monotonic).
    pub(crate) wake_at: Option<u64>,
    /// Spin (instead of blocking) while now is in `[spin_from, spin_until)`.
    pub(crate) spin: Option<(u64, u64)>,
}

pub(super) const MIN_POLL_NS: u64 = 2_000;
const MAX_POLL_NS: u64 = 1_000_000;

impl Inner {
    /// Balanced policy: the index of the in-flight request to wait for. The latest one
    /// with at least `cover_requests` requests queued behind it on the unit and at most
    /// `batch_requests` (both in `refill`) unfinished up to it, counted in the unit's
    /// sequence numbers, so other queues' requests on the same unit count too; the
    /// oldest when none qualifies.
    fn batch_target(&self, cfg: &QueueConfig) -> usize {
        let Some(newest) = self.in_flight.back().map(|f| f.seq) else {
            return 0;
        };
        let (_, cover, batch) = self.depth_plan(cfg);
        let (cover, batch) = (cover as u64, batch as u64);
        let done = self.last_read.1;
        let mut idx = 0;
        for (i, f) in self.in_flight.iter().enumerate() {
            if newest - f.seq < cover || f.seq.saturating_sub(done) > batch {
                break;
            }
            idx = i;
        }
        idx
    }

    /// How the completion thread should wait for this queue, and for which request.
    ///
    /// Balanced: wait for the request after which the device still holds [`cover_ns`] of
    /// work (so one wake-up retires a batch while the device keeps busy), by sleeping
    /// until its predicted end; spin only within `spin` of it. Low latency: wait for the
    /// oldest, sleeping until the timer's measured overshoot (`margin_ns`) before its
    /// predicted end, then spinning. When no prediction exists or it has passed: block on
    /// the runtime's notification for that request, or (SDK 2.29, none) poll with
    /// exponential backoff.
    pub(super) fn plan(
        &mut self,
        cfg: &QueueConfig,
        now: u64,
        margin_ns: u64,
        excess: &dyn Fn(u64) -> u64,
    ) -> WaitPlan {
        let mut plan = WaitPlan::default();
        self.cover_ns = cover_ns(margin_ns);
        if self.blocked_full {
            // Someone else holds the XU's slots; nothing of ours will ring. Retry soon.
            let step = (MIN_POLL_NS * 25) << self.misses.min(5);
            self.misses = self.misses.saturating_add(1);
            plan.wake_at = Some(now + step.min(MAX_POLL_NS));
            return plan;
        }
        let n = self.in_flight.len();
        let Some(oldest) = self.in_flight.front() else {
            return plan;
        };
        if let Some(d) = cfg.deadline {
            plan.wake_at = Some(oldest.sched_ns + d.as_nanos() as u64);
        }
        let est = self.predictor.estimate_ns();
        let warm = self.predictor.is_warm();
        let trusted = self.predictor.is_trusted();
        // Sleeping to a completion that leaves `cover` requests queued loses, per wake-up,
        // the timer overshoot beyond their device time; when that would idle the device
        // more than 5% of the time (a 5-µs model: 4 × 5 µs queued against overshoots of
        // ~40 µs), the balanced policy polls instead, as io_uring's hybrid mode does.
        let (_, cover, batch) = self.depth_plan(cfg);
        let polling = trusted && {
            let queued = (cover as u64).saturating_mul(est);
            let lost = excess(queued);
            let gathered = batch
                .min(self.target_depth(cfg).saturating_sub(cover))
                .max(1);
            lost * 20 > (gathered as u64).saturating_mul(est) + lost
        };
        let idx = match cfg.policy {
            WaitPolicy::Balanced if trusted && est > 0 && !polling => self.batch_target(cfg),
            _ => 0,
        };
        let seq = self.in_flight[idx].seq;
        self.wait_seq = seq;
        let spin_ns = cfg.spin.as_nanos() as u64;
        let earliest = |a: Option<u64>, b: u64| Some(a.map_or(b, |a: u64| a.min(b)));
        log!(
            Level::Debug,
            "plan: {n} on device (target {}), waiting for #{seq} (index {idx}), device time \
             {est} ns, predicted in {:?} ns, timer margin {margin_ns} ns",
            self.target_depth(cfg),
            self.predicted_end(seq).map(|e| e as i64 - now as i64)
        );
        if let Some(end) = self.predicted_end(seq).filter(|_| trusted) {
            let (lead, tail) = match cfg.policy {
                WaitPolicy::Balanced if polling => (spin_ns.max(margin_ns), spin_ns.max(margin_ns)),
                WaitPolicy::Balanced => (spin_ns, spin_ns),
                // Twice the timer's p95 overshoot, so even a late timer fires before the
                // completion: the low-latency policy pays in spinning for its p99, and
                // keeps spinning as long past a late prediction.
                WaitPolicy::LowLatency => {
                    let lead = spin_ns.max(2 * margin_ns);
                    (lead, lead)
                }
            };
            let (mut from, mut until) = (end.saturating_sub(lead), end + tail);
            // A request seen unfinished pushes its own prediction later; the window first
            // planned for it still bounds the spinning, so a wrong prediction ends in a
            // blocking wait rather than an endless spin.
            match self.spin_plan {
                Some((s, f, u)) if s == seq => (from, until) = (f, u),
                _ => self.spin_plan = Some((seq, from, until)),
            }
            if now < until {
                plan.spin = Some((from, until));
                if now < from {
                    plan.wake_at = earliest(plan.wake_at, from);
                }
                return plan;
            }
        }
        // No trusted prediction, or it has passed: the notification, or polling, first
        // at half the single-request estimate (to see the request unfinished once, which
        // makes the next sample exact), then with exponential backoff.
        match self.channel().notify(seq) {
            Notify::Bell(fd) => plan.fd = Some((fd, true)),
            Notify::Handle(fd) => plan.fd = Some((fd, false)),
            Notify::Predict => {
                let oldest = &self.in_flight[0];
                let half = match self.predictor.anchor() {
                    Some((s, e)) if warm && s + 1 == oldest.seq => oldest.sched_ns.max(e) + est / 2,
                    _ if warm => oldest.sched_ns + est / 2,
                    _ => 0,
                };
                let at = if now < half {
                    half
                } else {
                    // While the device is expected to progress, polls stay within half a
                    // request of each other; after 64 misses (it is stuck, or far slower
                    // than learned) they back off to one a millisecond.
                    let base = (est / 8).max(MIN_POLL_NS);
                    let cap = if self.misses < 64 {
                        (est / 2).max(20_000)
                    } else {
                        MAX_POLL_NS
                    };
                    let step = (base << self.misses.min(10)).min(cap).min(MAX_POLL_NS);
                    self.misses = self.misses.saturating_add(1);
                    now + step
                };
                plan.wake_at = earliest(plan.wake_at, at);
            }
        }
        plan
    }
}
