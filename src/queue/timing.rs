//! Timing: what the queue learns of the device's speed and what it decides from it — the
//! prediction of each request's end (from readings of the completed counter), the
//! automatic depth (how many requests to keep on the unit), and the wait plan (how and
//! for which request the completion thread waits next). Pure decisions from the ring's
//! contents and the readings; the waiting itself is the reactor's.
use std::os::fd::RawFd;

use super::config::{QueueConfig, WaitPolicy};
use super::ring::Ring;
use crate::backend::Notify;
use crate::log::{log, Level};
use crate::predict::Predictor;

/// How the completion thread should wait on this queue's behalf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WaitPlan {
    /// Poll this descriptor (and whether it is a bell that must be read to reset).
    pub(crate) fd: Option<(RawFd, bool)>,
    /// Wake no later than this (ns, monotonic).
    pub(crate) wake_at: Option<u64>,
    /// Spin (instead of blocking) while now is in `[from, until)`.
    pub(crate) spin: Option<(u64, u64)>,
}

const MIN_POLL_NS: u64 = 2_000;
const MAX_POLL_NS: u64 = 1_000_000;

/// Device time of the completions one balanced wake-up may gather (see [`batch_requests`]).
const BATCH_NS: u64 = 300_000;

/// Device time the balanced policy keeps queued behind the request it waits for: what the
/// completion thread may take from that completion to its refill landing on the device.
/// It sleeps on a timer to the predicted completion, so that is the timer's overshoot
/// (measured by the thread: `margin`, a p95) plus one pass. The overshoot's tail is long
/// on virtual machines: on the 2-vCPU VMs this was tuned on, a 150-µs `ppoll` from an
/// idle vCPU overshoots by 41 µs p50, 83 µs p95, 148 µs p99 and up to 5 ms; so three
/// times the p95 plus 20 µs, bounded to 50–500 µs. Where the device cannot hold that much
/// plus a batch, the cover gives way to half the depth (see [`Timing::depth_plan`]).
fn cover_ns(margin_ns: u64) -> u64 {
    (3 * margin_ns + 20_000).clamp(50_000, 500_000)
}

/// Requests whose device time (`est` each) exceeds `cover` by at least half a request, so
/// the margin over the cover is never a sliver.
fn cover_requests(cover: u64, est: u64) -> usize {
    let est = est.max(1);
    (cover + est / 2).div_ceil(est).clamp(1, 1 << 16) as usize
}

/// Completions the balanced policy lets accumulate before it wakes: as many as it takes
/// to cover [`BATCH_NS`] (a 500-µs model wakes per request, a 100-µs one per three), at
/// the price of up to `BATCH_NS` of notification latency for the first of a batch. A
/// wake-up costs the completion thread ~15 µs of CPU on these VMs (timer, context switch,
/// the hypervisor's share), several times what retiring and refilling one request costs.
fn batch_requests(est: u64) -> usize {
    BATCH_NS.div_ceil(est.max(1)).clamp(1, 1 << 16) as usize
}

/// The counter readings before the one being taken, for [`Timing::observe_head`].
#[derive(Clone, Copy)]
pub(super) struct PrevReading {
    at: u64,
    completed: u64,
    anchor: Option<(u64, u64)>,
}

/// What the queue knows and plans about time.
pub(super) struct Timing {
    predictor: Predictor,
    /// The previous reading of the completed-sequence counter: (when, value).
    last_read: (u64, u64),
    /// Our newest request on the device at the previous reading.
    read_newest: u64,
    /// Device time to keep queued behind the awaited request (see [`cover_ns`]).
    cover_ns: u64,
    /// The spin window first planned for a request: (sequence number, from, until).
    spin_plan: Option<(u64, u64, u64)>,
    /// The request the completion thread is waiting for (spinning stops when it is done).
    wait_seq: u64,
    /// Consecutive polls that found nothing (backoff of timed polling).
    misses: u32,
}

impl Timing {
    pub(super) fn new(initial_margin_ns: u64) -> Timing {
        Timing {
            predictor: Predictor::default(),
            last_read: (0, 0),
            read_newest: 0,
            cover_ns: cover_ns(initial_margin_ns),
            spin_plan: None,
            wait_seq: 0,
            misses: 0,
        }
    }

    /// The learned device time per request, ns (0 until learned).
    pub(super) fn device_ns(&self) -> u64 {
        self.predictor.estimate_ns()
    }

    /// The request the completion thread waits for.
    pub(super) fn awaited(&self) -> u64 {
        self.wait_seq
    }

    /// Predicted completion time of request `seq` (one of ours on the ring, or any later
    /// number): from the anchor, one device time per request, except that one of ours
    /// cannot start before it was scheduled (the device may have run dry before it).
    /// Requests of other queues between ours are taken to cost one device time each.
    pub(super) fn predicted_end(&self, ring: &Ring, seq: u64) -> Option<u64> {
        let (mut s, mut e) = self.predictor.anchor()?;
        let est = self.predictor.estimate_ns();
        for f in ring.flights() {
            if f.seq <= s {
                continue;
            }
            if f.seq > seq {
                break;
            }
            e = (e + (f.seq - s - 1) * est).max(f.sched_ns) + est;
            s = f.seq;
        }
        if seq > s {
            e += (seq - s) * est;
        }
        Some(e)
    }

    /// Remember the readings before a new one is learned from.
    pub(super) fn prev_reading(&self) -> PrevReading {
        PrevReading {
            at: self.last_read.0,
            completed: self.last_read.1,
            anchor: self.predictor.anchor(),
        }
    }

    /// Learn from a reading `c` of the completed counter taken at `now`: the busy span,
    /// and the anchor (the newest completed request ended after the previous reading and
    /// no later than now; if the device is still busy, the next one has not ended, so the
    /// newest ended less than one device time ago).
    pub(super) fn reading(&mut self, ring: &Ring, now: u64, c: u64) {
        let (t_prev, c_prev) = self.last_read;
        self.last_read = (now, c);
        let newest = ring.newest_seq().unwrap_or(0);
        let busy = newest > c;
        // The device worked without a gap since the previous reading only if a request
        // it already held then is still unfinished (one scheduled since may have found
        // it idle).
        let busy_throughout = busy && c < self.read_newest;
        self.read_newest = newest;
        self.predictor.reading(now, c, busy_throughout);
        let est = self.predictor.estimate_ns();
        if c > c_prev {
            let lo = if busy {
                t_prev.max(now.saturating_sub(est))
            } else {
                t_prev
            };
            let e = self
                .predicted_end(ring, c)
                .map_or(now, |p| p.clamp(lo.min(now), now));
            self.predictor.set_anchor(c, e);
        } else if busy {
            if let Some((s, e)) = self.predictor.anchor() {
                if s == c && e + est <= now {
                    self.predictor.set_anchor(c, (now + 1).saturating_sub(est));
                }
            }
        }
    }

    /// The oldest request on the ring has completed (seen at `now`): time it, until busy
    /// spans give a better figure. It started when it was scheduled or when the request
    /// before it ended.
    pub(super) fn observe_head(&mut self, ring: &Ring, now: u64, prev: PrevReading) {
        let Some(head) = ring.oldest() else { return };
        let start = match prev.anchor {
            Some((s, e)) if s + 1 == head.seq => head.sched_ns.max(e),
            _ => head.sched_ns,
        };
        let est = self.predictor.estimate_ns();
        if prev.completed < head.seq
            && prev.at > start
            && now - prev.at <= (est / 4).max(MIN_POLL_NS)
        {
            // Seen unfinished shortly before: it ended within a narrow interval.
            self.predictor.observe((prev.at + now) / 2 - start, true);
        } else {
            self.predictor.observe(now.saturating_sub(start), false);
        }
        self.misses = 0;
    }

    /// Whether a reading `c` shows the awaited request complete (while spinning).
    pub(super) fn awaited_done(&self, c: u64) -> bool {
        c >= self.wait_seq
    }

    /// How many requests to keep on the device now: the configured depth, raised (up to
    /// the ceiling, and to what the device has shown it accepts) until the device time
    /// queued behind the request the completion thread waits for covers its wake-up
    /// ([`cover_ns`]), plus a batch ([`batch_requests`]). See [`QueueConfig::max_depth`].
    pub(super) fn target_depth(&self, cfg: &QueueConfig, ring: &Ring) -> usize {
        self.depth_plan(cfg, ring).0
    }

    /// (target depth, requests to keep queued behind the awaited one, completions to
    /// gather per wake-up). When the depth cannot hold both the cover and the batch, the
    /// cover shrinks first, but the batch never takes more than half the depth.
    fn depth_plan(&self, cfg: &QueueConfig, ring: &Ring) -> (usize, usize, usize) {
        let ceiling = cfg.depth.max(cfg.max_depth);
        let (want, cover, batch) = match self.predictor.estimate_ns() {
            _ if !self.predictor.is_warm() => (cfg.depth, 1, 1),
            0 => (ceiling, 1 << 16, 1),
            est => {
                let (c, b) = (cover_requests(self.cover_ns, est), batch_requests(est));
                (c + b, c, b)
            }
        };
        let target = want.clamp(cfg.depth, ceiling).min(ring.hw_cap()).max(1);
        let cover = cover.min(target - batch.min(target / 2));
        (target, cover, batch)
    }

    /// Balanced policy: the index of the request on the ring to wait for. The latest one
    /// with at least `cover` requests queued behind it on the unit and at most `batch`
    /// unfinished up to it, counted in the unit's sequence numbers, so other queues'
    /// requests on the same unit count too; the oldest when none qualifies.
    fn batch_target(&self, cfg: &QueueConfig, ring: &Ring) -> usize {
        let Some(newest) = ring.newest_seq() else {
            return 0;
        };
        let (_, cover, batch) = self.depth_plan(cfg, ring);
        let (cover, batch) = (cover as u64, batch as u64);
        let done = self.last_read.1;
        let mut idx = 0;
        for (i, f) in ring.flights().enumerate() {
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
    /// exponential backoff. `excess(slack)` is how far the thread's timed waits overshoot
    /// `slack` on average.
    pub(super) fn plan(
        &mut self,
        cfg: &QueueConfig,
        ring: &mut Ring,
        now: u64,
        margin_ns: u64,
        excess: &dyn Fn(u64) -> u64,
    ) -> WaitPlan {
        let mut plan = WaitPlan::default();
        self.cover_ns = cover_ns(margin_ns);
        if ring.blocked_full() {
            // Someone else holds the unit's slots; nothing of ours will ring. Retry soon.
            let step = (MIN_POLL_NS * 25) << self.misses.min(5);
            self.misses = self.misses.saturating_add(1);
            plan.wake_at = Some(now + step.min(MAX_POLL_NS));
            return plan;
        }
        let Some(oldest) = ring.oldest() else {
            return plan;
        };
        let oldest_sched = oldest.sched_ns;
        let oldest_seq = oldest.seq;
        if let Some(d) = cfg.deadline {
            plan.wake_at = Some(oldest_sched + d.as_nanos() as u64);
        }
        let est = self.predictor.estimate_ns();
        let warm = self.predictor.is_warm();
        let trusted = self.predictor.is_trusted();
        // Sleeping to a completion that leaves `cover` requests queued loses, per wake-up,
        // the timer overshoot beyond their device time; when that would idle the device
        // more than 5% of the time (a 5-µs model: 4 × 5 µs queued against overshoots of
        // ~40 µs), the balanced policy polls instead, as io_uring's hybrid mode does.
        let (target, cover, batch) = self.depth_plan(cfg, ring);
        let polling = trusted && {
            let queued = (cover as u64).saturating_mul(est);
            let lost = excess(queued);
            let gathered = batch.min(target.saturating_sub(cover)).max(1);
            lost * 20 > (gathered as u64).saturating_mul(est) + lost
        };
        let idx = match cfg.policy {
            WaitPolicy::Balanced if trusted && est > 0 && !polling => self.batch_target(cfg, ring),
            _ => 0,
        };
        let seq = ring.get(idx).seq;
        self.wait_seq = seq;
        let spin_ns = cfg.spin.as_nanos() as u64;
        let earliest = |a: Option<u64>, b: u64| Some(a.map_or(b, |a: u64| a.min(b)));
        log!(
            Level::Debug,
            "plan: {} on device (target {target}), waiting for #{seq} (index {idx}), device \
             time {est} ns, predicted in {:?} ns, timer margin {margin_ns} ns",
            ring.len(),
            self.predicted_end(ring, seq).map(|e| e as i64 - now as i64)
        );
        if let Some(end) = self.predicted_end(ring, seq).filter(|_| trusted) {
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
        match ring.notify(seq) {
            Notify::Bell(fd) => plan.fd = Some((fd, true)),
            Notify::Handle(fd) => plan.fd = Some((fd, false)),
            Notify::Predict => {
                let half = match self.predictor.anchor() {
                    Some((s, e)) if warm && s + 1 == oldest_seq => oldest_sched.max(e) + est / 2,
                    _ if warm => oldest_sched + est / 2,
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

#[cfg(test)]
mod tests {
    use super::super::ring::tests::{req, StubChannel};
    use super::*;
    use std::time::Duration;

    fn ring_with(n: u64) -> Ring {
        let mut r = Ring::new(Box::new(StubChannel::new(64)), 64, 1);
        for t in 1..=n {
            r.schedule(req(t), 1_000 * t).unwrap();
        }
        r
    }

    /// Teach `t` a steady device time of `est` ns by retiring a run of requests.
    fn warm(t: &mut Timing, est: u64) {
        for _ in 0..64 {
            t.predictor.observe(est, true);
        }
    }

    #[test]
    fn cover_and_batch_bounds() {
        assert_eq!(cover_ns(0), 50_000);
        assert_eq!(cover_ns(40_000), 140_000);
        assert_eq!(cover_ns(1_000_000), 500_000);
        assert_eq!(cover_requests(140_000, 20_000), 8);
        assert_eq!(batch_requests(100_000), 3);
        assert_eq!(batch_requests(500_000), 1);
    }

    #[test]
    fn cold_queue_keeps_the_configured_depth_and_waits_for_the_oldest() {
        let mut t = Timing::new(40_000);
        let cfg = QueueConfig::default();
        let mut r = ring_with(3);
        assert_eq!(t.target_depth(&cfg, &r), cfg.depth);
        let plan = t.plan(&cfg, &mut r, 5_000, 40_000, &|_| 0);
        assert_eq!(t.awaited(), 1);
        // No prediction and no notification (SDK 2.29 shape): a timed poll.
        assert!(plan.wake_at.is_some() && plan.fd.is_none() && plan.spin.is_none());
    }

    #[test]
    fn learned_device_time_raises_the_depth_within_the_ceiling_and_hw_cap() {
        let mut t = Timing::new(40_000);
        warm(&mut t, 20_000);
        assert!(t.predictor.is_warm());
        let cfg = QueueConfig::default();
        let r = ring_with(1);
        // cover 140 µs → 8 requests, batch 300 µs → 15: 23, capped by max_depth 16.
        assert_eq!(t.target_depth(&cfg, &r), 16);
        let pinned = QueueConfig {
            max_depth: 2,
            ..QueueConfig::default()
        };
        assert_eq!(
            t.target_depth(&pinned, &r),
            3,
            "max_depth <= depth pins depth"
        );
    }

    #[test]
    fn balanced_sleeps_to_a_request_that_leaves_work_queued() {
        let mut t = Timing::new(10_000);
        // A busy span of 20 requests at 100 µs each: a trusted estimate.
        for c in 0..=20 {
            t.predictor.reading(c * 100_000, c, true);
        }
        assert!(t.predictor.is_trusted());
        t.predictor.set_anchor(0, 1_000);
        let cfg = QueueConfig::default();
        let mut r = ring_with(8);
        // cover: 50 µs → 1 request; batch: 300 µs → 3 requests; depth 4.
        assert_eq!(t.depth_plan(&cfg, &r), (4, 1, 3));
        let plan = t.plan(&cfg, &mut r, 2_000, 10_000, &|_| 0);
        assert_eq!(t.awaited(), 3, "the third completes a batch of three");
        let end = t.predicted_end(&r, 3).unwrap();
        assert_eq!(end, 301_000);
        assert_eq!(plan.spin, Some((end - 5_000, end + 5_000)));
        assert_eq!(
            plan.wake_at,
            Some(end - 5_000),
            "sleeps until the spin window"
        );
        // Low latency waits for the oldest.
        let ll = QueueConfig {
            policy: WaitPolicy::LowLatency,
            ..QueueConfig::default()
        };
        t.plan(&ll, &mut r, 2_000, 10_000, &|_| 0);
        assert_eq!(t.awaited(), 1);
    }

    #[test]
    fn deadline_bounds_the_wait() {
        let mut t = Timing::new(40_000);
        let cfg = QueueConfig {
            deadline: Some(Duration::from_micros(50)),
            ..QueueConfig::default()
        };
        let mut r = ring_with(1);
        let plan = t.plan(&cfg, &mut r, 1_500, 40_000, &|_| 0);
        assert!(plan.wake_at.unwrap() <= 1_000 + 50_000);
    }

    #[test]
    fn an_empty_ring_plans_no_wait() {
        let mut t = Timing::new(40_000);
        let mut r = ring_with(0);
        assert_eq!(
            t.plan(&QueueConfig::default(), &mut r, 0, 40_000, &|_| 0),
            WaitPlan::default()
        );
    }
}
