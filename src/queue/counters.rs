//! What a queue counts and remembers for the application: the counters and latency
//! histograms behind [`Queue::stats`], and the bounded log of failed requests behind
//! [`Queue::errors`]. Both are updated as each request completes.
use super::handle::Queue;
use super::inner::Inner;
use super::request::{Completion, Done};
use crate::stats::Snapshot;
use crate::status::Status;

impl Inner {
    pub(super) fn record_done(&mut self, d: &Done, error_cap: usize) {
        self.completed += 1;
        match d.completion.status {
            Status::Ok => {}
            Status::Cancelled => self.cancelled += 1,
            _ => {
                self.failed += 1;
                if error_cap > 0 {
                    if self.errors.len() >= error_cap {
                        self.errors.pop_front();
                        self.errors_dropped += 1;
                    }
                    self.errors.push_back(d.completion);
                }
            }
        }
    }
}

impl Queue {
    /// Drain up to `out.len()` of the most recent failed requests (oldest first). Each
    /// error is returned once here, independently of its delivery as a completion.
    /// Also returns how many errors were dropped because the log was full.
    pub fn errors(&self, out: &mut [Completion]) -> (usize, u64) {
        let mut g = self.0.inner.lock();
        let mut n = 0;
        while n < out.len() {
            let Some(e) = g.errors.pop_front() else { break };
            out[n] = e;
            n += 1;
        }
        (n, g.errors_dropped)
    }

    /// Counters and latency percentiles now.
    pub fn stats(&self) -> Snapshot {
        let g = self.0.inner.lock();
        Snapshot {
            submitted: g.submitted,
            completed: g.completed,
            failed: g.failed,
            cancelled: g.cancelled,
            in_flight: g.in_flight.len() as u64,
            backlog: g.backlog.len() as u64,
            queue_full: g.queue_full,
            wakeups: g.wakeups,
            submit_to_complete_p50_ns: g.submit_to_complete.percentile(50.0),
            submit_to_complete_p99_ns: g.submit_to_complete.percentile(99.0),
            complete_to_notify_p50_ns: g.complete_to_notify.percentile(50.0),
            complete_to_notify_p99_ns: g.complete_to_notify.percentile(99.0),
            predicted_device_ns: g.predictor.estimate_ns(),
        }
    }
}
