//! The device ring: one (execution unit, queue) of a core as this queue sees it — the
//! channel to it, the requests on it in sequence order, and the per-request slots they
//! occupy. A slot names the channel's per-request storage, which the runtime may use
//! until the request is retired, so the number of slots bounds what the ring ever puts
//! on the unit. The ring also learns the unit's own limit from `NRT_QUEUE_FULL`.
//!
//! A step with several tensors is several requests on the unit: the flight keeps every
//! sequence number, retires when the last one has completed, and fails if any failed. If
//! the unit fills up part-way through a step, the flight stays at the tail half
//! scheduled and [`Ring::resume`] schedules the rest before anything else goes behind it.
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
    /// The sequence number of its last part scheduled so far.
    pub(super) seq: u64,
    /// The sequence numbers of its earlier parts (empty for a one-part step).
    earlier: Vec<u64>,
    /// Parts scheduled so far, of `parts`.
    scheduled: usize,
    parts: usize,
    /// A part was refused after earlier ones were accepted: the step fails with this
    /// status once what was accepted has completed.
    refused: Option<NrtStatus>,
    slot: usize,
    pub(super) sched_ns: u64,
}

impl Flight {
    /// Every part is on the unit (or the rest was refused): nothing more to schedule.
    fn settled(&self) -> bool {
        self.scheduled == self.parts || self.refused.is_some()
    }
}

/// The outcome that matters more: a dead unit, then an error, then success.
fn worse(a: Outcome, b: Outcome) -> Outcome {
    match (a, b) {
        (Outcome::DeadUnit(_), _) => a,
        (_, Outcome::DeadUnit(_)) => b,
        (Outcome::ExecError(_), _) => a,
        _ => b,
    }
}

/// The requests one queue has on one execution unit.
pub(super) struct Ring {
    channel: Option<Box<dyn Channel>>,
    in_flight: VecDeque<Flight>,
    free_slots: Vec<usize>,
    /// Per-request storage of the channel per slot (the most parts a step has).
    parts_per_slot: usize,
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
    /// A ring of `slots` requests whose steps have at most `parts_per_slot` parts (the
    /// channel was opened with `slots × parts_per_slot` storage).
    pub(super) fn new(channel: Box<dyn Channel>, slots: usize, parts_per_slot: usize) -> Ring {
        Ring {
            channel: Some(channel),
            in_flight: VecDeque::with_capacity(slots),
            free_slots: (0..slots).rev().collect(),
            parts_per_slot: parts_per_slot.max(1),
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

    /// Whether a new request may go on the unit now: a free slot, and no half-scheduled
    /// step at the tail (its remaining parts go first).
    pub(super) fn has_room(&self) -> bool {
        self.has_free_slot() && self.in_flight.back().is_none_or(Flight::settled)
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

    /// Put `req` (its current step) on the unit. On refusal of its first part the request
    /// comes back with the reason; once a part is accepted the request stays (see
    /// [`Ring::resume`]).
    pub(super) fn schedule(
        &mut self,
        req: Request,
        now: u64,
    ) -> std::result::Result<(), (Request, Refusal)> {
        let Some(slot) = self.free_slots.pop() else {
            return Err((req, Refusal::Full));
        };
        let parts = req.step().map_or(0, |s| s.op.parts());
        self.in_flight.push_back(Flight {
            req,
            seq: 0,
            earlier: Vec::new(),
            scheduled: 0,
            parts,
            refused: None,
            slot,
            sched_ns: now,
        });
        match self.resume() {
            None => {
                self.blocked_full = false;
                Ok(())
            }
            Some(refusal) => {
                let f = self.in_flight.pop_back().expect("just pushed");
                self.free_slots.push(slot);
                if refusal == Refusal::Full {
                    self.queue_full += 1;
                    self.hw_cap = self.in_flight.len().max(1);
                    self.since_probe = 0;
                    self.blocked_full = self.in_flight.is_empty();
                }
                Err((f.req, refusal))
            }
        }
    }

    /// Schedule the remaining parts of the step at the tail. Returns the refusal of its
    /// first part (the caller takes the request back); a later refusal leaves the flight
    /// half scheduled (`Full`: retried by the next call) or failing (any other refusal:
    /// it retires with that status once its accepted parts complete).
    pub(super) fn resume(&mut self) -> Option<Refusal> {
        let per_slot = self.parts_per_slot;
        let channel = self.channel.as_deref_mut()?;
        let f = self.in_flight.back_mut()?;
        let Some(step) = f.req.step() else {
            return (f.scheduled == 0).then_some(Refusal::Other(neuron_sys::NRT_INVALID));
        };
        while f.scheduled < f.parts && f.refused.is_none() {
            let storage = f.slot * per_slot + f.scheduled.min(per_slot - 1);
            match channel.schedule(&step.op, f.scheduled, storage) {
                Ok(seq) => {
                    if f.scheduled > 0 {
                        f.earlier.push(f.seq);
                    }
                    f.seq = seq;
                    f.scheduled += 1;
                }
                Err(r) if f.scheduled == 0 => return Some(r),
                Err(Refusal::Full) => {
                    self.queue_full += 1;
                    break;
                }
                Err(Refusal::DeadUnit(raw) | Refusal::Other(raw)) => f.refused = Some(raw),
            }
        }
        None
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
        let per_slot = self.parts_per_slot;
        let mut n = 0;
        while self
            .in_flight
            .front()
            .is_some_and(|f| f.seq <= completed && f.settled())
        {
            let f = self.in_flight.pop_front().expect("front checked");
            // Every part's status is read once, in order; the worst outcome is the step's.
            let mut outcome = Outcome::Ok;
            for (part, &seq) in f.earlier.iter().chain(Some(&f.seq)).enumerate() {
                let storage = f.slot * per_slot + part.min(per_slot - 1);
                outcome = worse(outcome, self.channel().status(seq, storage));
            }
            if let Some(raw) = f.refused {
                outcome = worse(outcome, Outcome::from_raw(raw));
            }
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
    use super::super::request::{Job, Step};
    use super::*;
    use crate::backend::{Handle, Op, Work};

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
        fn schedule(&mut self, _: &Op, _: usize, _: usize) -> std::result::Result<u64, Refusal> {
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
        let op = Op::Execute {
            model: None,
            work: Work {
                input: Handle(1),
                output: Handle(2),
            },
        };
        Request::new(
            ticket,
            Job::Ready(vec![Step { stage: 0, op }]),
            ticket,
            None,
            0,
        )
    }

    /// A request whose one step writes `parts` tensors.
    fn write_req(ticket: u64, parts: usize) -> Request {
        let t = crate::backend::Transfer {
            tensor: Handle(1),
            host: 0x10,
            bytes: 4,
        };
        Request::new(
            ticket,
            Job::Ready(vec![Step {
                stage: 0,
                op: Op::Write(vec![t; parts]),
            }]),
            ticket,
            None,
            0,
        )
    }

    #[test]
    fn a_step_of_several_parts_retires_when_its_last_part_has_and_fails_if_any_did() {
        let mut stub = StubChannel::new(8);
        stub.errors.push((4, Outcome::ExecError(1004)));
        let mut r = Ring::new(Box::new(stub), 4, 3);
        r.schedule(write_req(1, 3), 0).unwrap(); // sequence numbers 1, 2, 3
        r.schedule(write_req(2, 3), 0).unwrap(); // 4 (fails), 5, 6
        let mut seen = Vec::new();
        assert_eq!(r.retire_upto(2, |f, o| seen.push((f.req.ticket, o))), 0);
        assert_eq!(r.retire_upto(5, |f, o| seen.push((f.req.ticket, o))), 1);
        assert_eq!(r.retire_upto(6, |f, o| seen.push((f.req.ticket, o))), 1);
        assert_eq!(seen, [(1, Outcome::Ok), (2, Outcome::ExecError(1004))]);
    }

    /// A stub the test keeps a hand on, to complete requests on it.
    struct Shared(std::sync::Arc<std::sync::Mutex<StubChannel>>);

    impl Channel for Shared {
        fn schedule(
            &mut self,
            op: &Op,
            part: usize,
            slot: usize,
        ) -> std::result::Result<u64, Refusal> {
            self.0.lock().unwrap().schedule(op, part, slot)
        }
        fn completed(&mut self) -> std::result::Result<u64, NrtStatus> {
            self.0.lock().unwrap().completed()
        }
        fn status(&mut self, seq: u64, slot: usize) -> Outcome {
            self.0.lock().unwrap().status(seq, slot)
        }
        fn notify(&mut self, _: u64) -> Notify {
            Notify::Predict
        }
    }

    #[test]
    fn a_full_unit_part_way_through_a_step_leaves_it_half_scheduled_until_resumed() {
        let unit = std::sync::Arc::new(std::sync::Mutex::new(StubChannel::new(4)));
        let mut r = Ring::new(Box::new(Shared(unit.clone())), 4, 3);
        r.schedule(write_req(1, 3), 0).unwrap(); // 1, 2, 3
                                                 // The unit takes one more: request 2 is accepted with one part of three.
        r.schedule(write_req(2, 3), 0).unwrap();
        assert!(!r.has_room(), "nothing goes behind a half-scheduled step");
        let (back, why) = r.schedule(write_req(3, 1), 0).unwrap_err();
        assert_eq!((back.ticket, why), (3, Refusal::Full));
        // Its accepted part completing does not retire it: parts remain to schedule.
        let mut seen = Vec::new();
        assert_eq!(r.retire_upto(4, |f, _| seen.push(f.req.ticket)), 1);
        assert_eq!(seen, [1]);
        // Room again: the rest of its parts go on, then it retires with its last.
        unit.lock().unwrap().completed = 4;
        assert_eq!(r.resume(), None);
        assert!(r.has_room());
        assert_eq!(r.retire_upto(5, |f, _| seen.push(f.req.ticket)), 0);
        assert_eq!(r.retire_upto(6, |f, _| seen.push(f.req.ticket)), 1);
        assert_eq!(seen, [1, 2]);
    }

    #[test]
    fn slots_bound_the_ring_and_queue_full_teaches_the_cap() {
        let mut r = Ring::new(Box::new(StubChannel::new(2)), 4, 1);
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
        let mut r = Ring::new(Box::new(stub), 8, 1);
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
        let mut r = Ring::new(Box::new(StubChannel::new(8)), 2, 1);
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
        let mut r = Ring::new(Box::new(stub), 2, 1);
        let (_, why) = r.schedule(req(1), 0).unwrap_err();
        assert_eq!(why, Refusal::DeadUnit(101));
        assert!(r.has_free_slot());
    }
}
