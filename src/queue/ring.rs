//! The device ring: one (execution unit, queue) of a core as this queue sees it — the
//! channel to it, the requests on it in sequence order, and the per-request slots they
//! occupy. A slot names the channel's per-request storage, which the runtime may use
//! until the request is retired, so the number of slots bounds what the ring ever puts
//! on the unit. The ring also learns the unit's own limit from `NRT_QUEUE_FULL`.
//!
//! The ring knows nothing of a request beyond the work it carries: a request moves from
//! one ring to the next (input writes → execution → output reads) by being retired from
//! one and scheduled on the other, which is how stages of several units compose.
use std::collections::VecDeque;

use super::request::Request;
use crate::backend::{Channel, Notify, Outcome, Refusal};
use crate::status::NrtStatus;

/// Retired requests between two probes of a device limit learned from `NRT_QUEUE_FULL`.
const PROBE_EVERY: u64 = 256;

/// A request on the unit.
pub(super) struct Flight {
    pub(super) req: Request,
    pub(super) seq: u64,
    slot: usize,
    pub(super) sched_ns: u64,
}

/// The requests one queue has on one execution unit.
pub(super) struct Ring {
    channel: Option<Box<dyn Channel>>,
    in_flight: VecDeque<Flight>,
    free_slots: Vec<usize>,
    /// Requests of ours the unit has shown it accepts: lowered to what was on it when it
    /// answered `NRT_QUEUE_FULL`, raised by one every [`PROBE_EVERY`] retired.
    hw_cap: usize,
    since_probe: u64,
    /// The unit refused with `NRT_QUEUE_FULL` while nothing of ours was on it (someone
    /// else holds its slots): no completion of ours will free one, so retry on a timer.
    blocked_full: bool,
    /// `NRT_QUEUE_FULL` refusals absorbed.
    queue_full: u64,
    /// Requests were completed while the unit may still hold them (dead unit, deadline,
    /// destroy timeout): the channel's per-request storage must outlive the queue.
    abandoned: bool,
}

impl Ring {
    pub(super) fn new(channel: Box<dyn Channel>, slots: usize) -> Ring {
        Ring {
            channel: Some(channel),
            in_flight: VecDeque::with_capacity(slots),
            free_slots: (0..slots).rev().collect(),
            hw_cap: usize::MAX,
            since_probe: 0,
            blocked_full: false,
            queue_full: 0,
            abandoned: false,
        }
    }

    fn channel(&mut self) -> &mut dyn Channel {
        self.channel
            .as_deref_mut()
            .expect("the channel stays until the queue is destroyed")
    }

    pub(super) fn len(&self) -> usize {
        self.in_flight.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    pub(super) fn oldest(&self) -> Option<&Flight> {
        self.in_flight.front()
    }

    pub(super) fn newest_seq(&self) -> Option<u64> {
        self.in_flight.back().map(|f| f.seq)
    }

    /// The requests on the unit, oldest first.
    pub(super) fn flights(&self) -> impl Iterator<Item = &Flight> {
        self.in_flight.iter()
    }

    pub(super) fn get(&self, i: usize) -> &Flight {
        &self.in_flight[i]
    }

    pub(super) fn has_free_slot(&self) -> bool {
        !self.free_slots.is_empty()
    }

    pub(super) fn hw_cap(&self) -> usize {
        self.hw_cap
    }

    pub(super) fn blocked_full(&self) -> bool {
        self.blocked_full
    }

    pub(super) fn queue_full_count(&self) -> u64 {
        self.queue_full
    }

    /// Put `req` on the unit. On refusal the request comes back with the reason.
    pub(super) fn schedule(
        &mut self,
        req: Request,
        now: u64,
    ) -> std::result::Result<(), (Request, Refusal)> {
        let Some(slot) = self.free_slots.pop() else {
            return Err((req, Refusal::Full));
        };
        match self.channel().schedule(&req.work, slot) {
            Ok(seq) => {
                self.in_flight.push_back(Flight {
                    req,
                    seq,
                    slot,
                    sched_ns: now,
                });
                self.blocked_full = false;
                Ok(())
            }
            Err(refusal) => {
                self.free_slots.push(slot);
                if refusal == Refusal::Full {
                    self.queue_full += 1;
                    self.hw_cap = self.in_flight.len().max(1);
                    self.since_probe = 0;
                    self.blocked_full = self.in_flight.is_empty();
                }
                Err((req, refusal))
            }
        }
    }

    /// Why the runtime may have refused `work`: the tensor that does not fit, if known.
    pub(super) fn mismatch(&self, work: &crate::backend::Work) -> Option<String> {
        self.channel.as_deref()?.mismatch(work)
    }

    /// The sequence number of the last request the unit completed.
    pub(super) fn read_completed(&mut self) -> std::result::Result<u64, NrtStatus> {
        self.channel().completed()
    }

    /// Retire every request up to sequence number `completed`, oldest first, handing
    /// each with its outcome to `retired`. Returns how many.
    pub(super) fn retire_upto(
        &mut self,
        completed: u64,
        mut retired: impl FnMut(Flight, Outcome),
    ) -> usize {
        if self.in_flight.front().is_none_or(|f| f.seq > completed) {
            return 0;
        }
        self.channel().collect_errors();
        let mut n = 0;
        while self.in_flight.front().is_some_and(|f| f.seq <= completed) {
            let f = self.in_flight.pop_front().expect("front checked");
            let outcome = self.channel().status(f.seq, f.slot);
            self.free_slots.push(f.slot);
            retired(f, outcome);
            n += 1;
        }
        // Probe, now and then, whether the unit takes more than it once refused.
        self.since_probe += n as u64;
        if self.since_probe >= PROBE_EVERY {
            self.since_probe = 0;
            self.hw_cap = self.hw_cap.saturating_add(1);
        }
        n
    }

    /// Take every request off the ring without waiting for the unit (a failure, or a
    /// destroy that stopped waiting). The unit may still hold them, so the channel is
    /// kept past the queue (see [`Ring::take_channel`]).
    pub(super) fn abandon_all(&mut self, mut abandoned: impl FnMut(Flight)) {
        self.abandoned |= !self.in_flight.is_empty();
        while let Some(f) = self.in_flight.pop_front() {
            self.free_slots.push(f.slot);
            abandoned(f);
        }
    }

    /// How to wait for request `seq` to complete.
    pub(super) fn notify(&mut self, seq: u64) -> Notify {
        self.channel().notify(seq)
    }

    /// At destroy: the channel, if the unit may still write into its per-request storage
    /// (it must then outlive the queue); otherwise it is closed here.
    pub(super) fn take_channel(&mut self) -> Option<Box<dyn Channel>> {
        let ch = self.channel.take();
        if self.abandoned {
            ch
        } else {
            None
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::backend::{Handle, Work};

    /// A channel whose unit holds `cap` requests and completes them when told.
    pub(crate) struct StubChannel {
        pub(crate) cap: usize,
        pub(crate) issued: u64,
        pub(crate) completed: u64,
        pub(crate) errors: Vec<(u64, Outcome)>,
        pub(crate) dead: bool,
    }

    impl StubChannel {
        pub(crate) fn new(cap: usize) -> StubChannel {
            StubChannel {
                cap,
                issued: 0,
                completed: 0,
                errors: Vec::new(),
                dead: false,
            }
        }
    }

    impl Channel for StubChannel {
        fn schedule(&mut self, _: &Work, _: usize) -> std::result::Result<u64, Refusal> {
            if self.dead {
                return Err(Refusal::DeadUnit(101));
            }
            if (self.issued - self.completed) as usize >= self.cap {
                return Err(Refusal::Full);
            }
            self.issued += 1;
            Ok(self.issued)
        }
        fn completed(&mut self) -> std::result::Result<u64, NrtStatus> {
            Ok(self.completed)
        }
        fn status(&mut self, seq: u64, _: usize) -> Outcome {
            self.errors
                .iter()
                .find(|(s, _)| *s == seq)
                .map_or(Outcome::Ok, |(_, o)| *o)
        }
        fn notify(&mut self, _: u64) -> Notify {
            Notify::Predict
        }
    }

    pub(crate) fn req(ticket: u64) -> Request {
        Request {
            ticket,
            work: Work {
                input: Handle(1),
                output: Handle(2),
            },
            user_data: ticket,
            callback: None,
            submit_ns: 0,
        }
    }

    #[test]
    fn slots_bound_the_ring_and_queue_full_teaches_the_cap() {
        let mut r = Ring::new(Box::new(StubChannel::new(2)), 4);
        assert!(r.schedule(req(1), 10).is_ok());
        assert!(r.schedule(req(2), 11).is_ok());
        let (back, why) = r.schedule(req(3), 12).unwrap_err();
        assert_eq!((back.ticket, why), (3, Refusal::Full));
        assert_eq!(r.hw_cap(), 2);
        assert_eq!(r.queue_full_count(), 1);
        assert!(!r.blocked_full(), "our own requests will free the unit");
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn retire_hands_out_each_request_once_in_order_with_its_outcome() {
        let mut stub = StubChannel::new(8);
        stub.errors.push((2, Outcome::ExecError(1004)));
        let mut r = Ring::new(Box::new(stub), 8);
        for t in 1..=3 {
            r.schedule(req(t), t).unwrap();
        }
        let mut seen = Vec::new();
        assert_eq!(r.retire_upto(0, |f, o| seen.push((f.req.ticket, o))), 0);
        assert_eq!(r.retire_upto(2, |f, o| seen.push((f.req.ticket, o))), 2);
        assert_eq!(r.retire_upto(2, |f, o| seen.push((f.req.ticket, o))), 0);
        assert_eq!(seen, [(1, Outcome::Ok), (2, Outcome::ExecError(1004))]);
        assert_eq!(r.len(), 1);
        assert!(r.take_channel().is_none(), "nothing abandoned: closed here");
    }

    #[test]
    fn abandoning_keeps_the_channel_for_the_runtime() {
        let mut r = Ring::new(Box::new(StubChannel::new(8)), 2);
        r.schedule(req(1), 0).unwrap();
        let mut gone = Vec::new();
        r.abandon_all(|f| gone.push(f.req.ticket));
        assert_eq!(gone, [1]);
        assert!(r.is_empty() && r.has_free_slot());
        assert!(r.take_channel().is_some());
    }

    #[test]
    fn a_dead_unit_refuses_with_its_raw_status() {
        let mut stub = StubChannel::new(8);
        stub.dead = true;
        let mut r = Ring::new(Box::new(stub), 2);
        let (_, why) = r.schedule(req(1), 0).unwrap_err();
        assert_eq!(why, Refusal::DeadUnit(101));
        assert!(r.has_free_slot());
    }
}
