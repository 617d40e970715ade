//! Retiring by the completed counter: one reading of the device's completed-sequence
//! number retires every request up to it (a notification is only a hint that something
//! finished), maps each request's raw status to nrtq's, and teaches the predictor the
//! device time from what the reading shows.
use super::inner::Inner;
use super::state::Failure;
use super::wait_plan::MIN_POLL_NS;
use crate::log::{log, Level};
use crate::status::{NrtStatus, Status, NRT_EXEC_UNIT_UNRECOVERABLE, NRT_SUCCESS};
use crate::sys;

/// Retired requests between two probes of a device limit learned from `NRT_QUEUE_FULL`.
const PROBE_EVERY: u64 = 256;

impl Inner {
    /// Predicted completion time of request `seq` (one of ours in flight, or any later
    /// number): from the anchor, one device time per request, except that one of ours
    /// cannot start before it was scheduled (the device may have run dry before it).
    /// Requests of other queues between ours are taken to cost one device time each.
    pub(super) fn predicted_end(&self, seq: u64) -> Option<u64> {
        let (mut s, mut e) = self.predictor.anchor()?;
        let est = self.predictor.estimate_ns();
        for f in &self.in_flight {
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

    /// Read the completed-sequence counter at `now` and learn from the reading: the
    /// device-time span, and the anchor (the newest completed request ended after the
    /// previous reading and no later than now; if the device is still busy, the next one
    /// has not ended, so the newest ended less than one device time ago).
    ///
    /// `now` is moved forward to the moment after the read: the counter held `c` by then,
    /// so that is when completions are observed, even if the thread was delayed (a lock,
    /// preemption) between taking `now` and reading.
    pub(super) fn read_completed(&mut self, now: &mut u64) -> std::result::Result<u64, NrtStatus> {
        let c = self.channel().completed()?;
        *now = sys::now_ns().max(*now);
        let now = *now;
        let (t_prev, c_prev) = self.last_read;
        self.last_read = (now, c);
        let newest = self.in_flight.back().map_or(0, |f| f.seq);
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
                .predicted_end(c)
                .map_or(now, |p| p.clamp(lo.min(now), now));
            self.predictor.set_anchor(c, e);
        } else if busy {
            if let Some((s, e)) = self.predictor.anchor() {
                if s == c && e + est <= now {
                    self.predictor.set_anchor(c, (now + 1).saturating_sub(est));
                }
            }
        }
        Ok(c)
    }

    /// Retire every request the device has completed. Returns how many, and whether one
    /// of them reported the execution unit dead.
    /// `now` moves forward to when the completed counter was read.
    pub(super) fn retire(
        &mut self,
        now: &mut u64,
        queue: u64,
        error_cap: usize,
    ) -> (usize, Option<Failure>) {
        let Some(oldest) = self.in_flight.front().map(|f| f.seq) else {
            return (0, None);
        };
        let (t_prev, c_prev) = self.last_read;
        let anchor = self.predictor.anchor();
        let completed = self.read_completed(now);
        let now = *now;
        let completed = match completed {
            Ok(c) => c,
            Err(st) => {
                log!(
                    Level::Error,
                    "queue {queue}: reading the completed sequence failed with NRT status {st}"
                );
                return (
                    0,
                    Some(Failure {
                        status: Status::QueueFailed,
                        nrt_status: st,
                    }),
                );
            }
        };
        if completed < oldest {
            return (0, None);
        }
        // Time the oldest request of the batch (until busy spans give a better figure):
        // it started when it was scheduled or when the request before it ended.
        let head = &self.in_flight[0];
        let start = match anchor {
            Some((s, e)) if s + 1 == head.seq => head.sched_ns.max(e),
            _ => head.sched_ns,
        };
        let est = self.predictor.estimate_ns();
        if c_prev < head.seq && t_prev > start && now - t_prev <= (est / 4).max(MIN_POLL_NS) {
            // Seen unfinished shortly before: it ended within a narrow interval.
            self.predictor.observe((t_prev + now) / 2 - start, true);
        } else {
            self.predictor.observe(now.saturating_sub(start), false);
        }
        self.misses = 0;
        self.channel().collect_errors();
        let mut n = 0;
        let mut dead = None;
        while self.in_flight.front().is_some_and(|f| f.seq <= completed) {
            let fl = self.in_flight.pop_front().expect("front checked");
            let raw = self.channel().status(fl.seq, fl.slot);
            self.free_slots.push(fl.slot);
            let status = match raw {
                NRT_SUCCESS => Status::Ok,
                NRT_EXEC_UNIT_UNRECOVERABLE => {
                    dead = Some(Failure {
                        status: Status::QueueFailed,
                        nrt_status: raw,
                    });
                    Status::QueueFailed
                }
                _ => Status::ExecError,
            };
            self.submit_to_complete
                .record(now.saturating_sub(fl.req.submit_ns));
            let d = fl.req.finish(status, raw, Some(fl.sched_ns), now, queue);
            self.push_done(d, error_cap);
            n += 1;
        }
        // Probe, now and then, whether the device takes more than it once refused.
        self.since_probe += n as u64;
        if self.since_probe >= PROBE_EVERY {
            self.since_probe = 0;
            self.hw_cap = self.hw_cap.saturating_add(1);
        }
        (n, dead)
    }
}
