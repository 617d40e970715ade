//! Refill and the automatic depth: how many requests the queue keeps on the device, and
//! moving backlog work there while it has room. The depth starts at the configured one
//! and, once the device time is learned, grows until the work queued behind the awaited
//! request covers the completion thread's wake-up (the "cover") plus a batch of
//! completions per wake-up, within the ceiling and what the device has shown it accepts.
use super::config::QueueConfig;
use super::inner::Inner;
use super::state::Failure;
use crate::log::{log, Level};
use crate::status::{Status, NRT_EXEC_UNIT_UNRECOVERABLE, NRT_QUEUE_FULL};

/// Device time the balanced policy keeps queued behind the request it waits for: what the
/// completion thread may take from that completion to its refill landing on the device.
/// It sleeps on a timer to the predicted completion, so that is the timer's overshoot
/// (measured by the thread: `margin`, a p95) plus one pass. The overshoot's tail is long
/// on virtual machines: on the 2-vCPU VMs this was tuned on, a 150-µs `ppoll` from an
/// idle vCPU overshoots by 41 µs p50, 83 µs p95, 148 µs p99 and up to 5 ms; so three
/// times the p95 plus 20 µs, bounded to 50–500 µs. Where the device cannot hold that much
/// plus a batch, the cover gives way to half the depth (see [`Inner::batch_target`]).
pub(super) fn cover_ns(margin_ns: u64) -> u64 {
    (3 * margin_ns + 20_000).clamp(50_000, 500_000)
}

/// Requests whose device time (`est` each) exceeds `cover` (see [`cover_ns`]) by at least
/// half a request, so the margin over the cover is never a sliver.
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

/// Device time of the completions one balanced wake-up may gather (see [`batch_requests`]).
const BATCH_NS: u64 = 300_000;

impl Inner {
    /// Whether a submitter may put its request straight on the device: nothing waits
    /// before it and the device holds fewer than the target depth.
    pub(super) fn direct_room(&self, cfg: &QueueConfig) -> bool {
        self.backlog.is_empty()
            && !self.free_slots.is_empty()
            && !self.blocked_full
            && self.in_flight.len() < self.target_depth(cfg)
    }

    /// How many requests to keep on the device now: the configured depth, raised (up to
    /// the ceiling, and to what the device has shown it accepts) until the device time
    /// queued behind the request the completion thread waits for covers its wake-up
    /// ([`cover_ns`]), plus a batch ([`batch_requests`]). See [`QueueConfig::max_depth`].
    pub(super) fn target_depth(&self, cfg: &QueueConfig) -> usize {
        self.depth_plan(cfg).0
    }

    /// (target depth, requests to keep queued behind the awaited one, completions to
    /// gather per wake-up). When the depth cannot hold both the cover and the batch, the
    /// cover shrinks first, but the batch never takes more than half the depth.
    pub(super) fn depth_plan(&self, cfg: &QueueConfig) -> (usize, usize, usize) {
        let ceiling = cfg.depth.max(cfg.max_depth);
        let (want, cover, batch) = match self.predictor.estimate_ns() {
            _ if !self.predictor.is_warm() => (cfg.depth, 1, 1),
            0 => (ceiling, 1 << 16, 1),
            est => {
                let (c, b) = (cover_requests(self.cover_ns, est), batch_requests(est));
                (c + b, c, b)
            }
        };
        let target = want.clamp(cfg.depth, ceiling).min(self.hw_cap).max(1);
        let cover = cover.min(target - batch.min(target / 2));
        (target, cover, batch)
    }

    /// Move backlog work onto the device while there is room.
    pub(super) fn refill(
        &mut self,
        cfg: &QueueConfig,
        now: u64,
        queue: u64,
        error_cap: usize,
    ) -> Option<Failure> {
        let target = self.target_depth(cfg);
        while self.state.schedules()
            && !self.backlog.is_empty()
            && self.in_flight.len() < target
            && !self.free_slots.is_empty()
        {
            let req = self.backlog.pop_front().expect("non-empty");
            match self.schedule(req, now) {
                Ok(()) => {}
                Err((req, NRT_QUEUE_FULL)) => {
                    self.backlog.push_front(req);
                    self.blocked_full = self.in_flight.is_empty();
                    break;
                }
                Err((req, NRT_EXEC_UNIT_UNRECOVERABLE)) => {
                    self.backlog.push_front(req);
                    return Some(Failure {
                        status: Status::QueueFailed,
                        nrt_status: NRT_EXEC_UNIT_UNRECOVERABLE,
                    });
                }
                Err((req, st)) => {
                    log!(
                        Level::Warn,
                        "queue {queue}: runtime refused ticket {} with NRT status {st}",
                        req.ticket
                    );
                    let d = req.finish(Status::Runtime, st, None, now, queue);
                    self.push_done(d, error_cap);
                }
            }
        }
        None
    }
}
