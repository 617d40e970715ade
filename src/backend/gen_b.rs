//! SDK 2.29+ ("Gen B"): a per-request `NRT_STATUS` that libnrt writes when the request
//! completes, kept in a slot array that lives as long as the channel. SDK 2.30+ adds
//! eventfd registration: the channel owns one eventfd and registers it, one request at a
//! time, for the request the engine waits for (`nrta_event_register_seq_id_completion`),
//! so the thread wakes once per batch rather than once per completion, and nrtq never
//! takes the per-XU registration (of which there is one per XU, which the application
//! may want for itself). On 2.29 there is no notification at all and the engine waits
//! by prediction.
//!
//! Units: executions on COMPUTE queue 0; input writes on TENSOR_OP queue 0 and output
//! reads on TENSOR_OP queue 1, so reads never wait behind writes (2.30 gave the two
//! queues their own DMA rings).
use std::sync::atomic::{AtomicU32, Ordering};

use neuron_sys::{gen_b, nrta_seq_t, NRTA_SEQ_NUM_MASK, NRT_FAILURE, NRT_SUCCESS};

use crate::backend::{Channel, Handle, Notify, Op, Outcome, Refusal, Unit};
use crate::log::{log, Level};
use crate::status::NrtStatus;
use crate::sys::EventFd;

/// Written into a slot before scheduling, so a status libnrt never wrote is visible.
const UNWRITTEN: u32 = u32::MAX;

/// SDK 2.30+: the eventfd and the request it is registered for.
struct Events {
    f: gen_b::EventFns,
    fd: EventFd,
    /// The full id registered and not yet known complete.
    armed: Option<u64>,
}

pub(crate) struct GenB {
    f: gen_b::Fns,
    model: *mut neuron_sys::nrt_model_t,
    lnc: u32,
    /// The (XU type, queue) this channel drives.
    xu: (neuron_sys::nrta_xu_t, i32),
    /// The XU-id bits (63..48) of this queue's ids, learned from the first schedule.
    xu_bits: u64,
    /// One status word per request slot. libnrt writes into it from its own thread, so
    /// it is atomic; boxed so its address never moves.
    slots: Box<[AtomicU32]>,
    events: Option<Events>,
}

// SAFETY: the model pointer is a libnrt handle any thread may use; the channel is used by
// one thread at a time (under its queue's mutex).
unsafe impl Send for GenB {}

impl GenB {
    pub(crate) fn open(
        f: gen_b::Fns,
        model: Handle,
        lnc: u32,
        unit: Unit,
        depth: usize,
        events: Option<gen_b::EventFns>,
    ) -> GenB {
        let slots = (0..depth).map(|_| AtomicU32::new(UNWRITTEN)).collect();
        let events = events.and_then(|f| match EventFd::new() {
            Ok(fd) => Some(Events { f, fd, armed: None }),
            Err(e) => {
                log!(Level::Warn, "eventfd: {e}; waiting by prediction");
                None
            }
        });
        GenB {
            f,
            model: model.0 as *mut _,
            lnc,
            xu: match unit {
                Unit::Compute => (gen_b::NRTA_XU_COMPUTE, 0),
                Unit::Write => (gen_b::NRTA_XU_TENSOR_OP, 0),
                Unit::Read => (gen_b::NRTA_XU_TENSOR_OP, 1),
            },
            xu_bits: 0,
            slots,
            events,
        }
    }
}

impl Channel for GenB {
    fn schedule(&mut self, op: &Op, part: usize, slot: usize) -> std::result::Result<u64, Refusal> {
        let cell = &self.slots[slot];
        cell.store(UNWRITTEN, Ordering::Relaxed);
        let mut seq: nrta_seq_t = 0;
        let (lnc, queue) = (self.lnc as i32, self.xu.1);
        let st = match op {
            // SAFETY: model and tensor sets are the application's (or the pipeline's own
            // memory), alive until completion (the submit contract); the status slot is ours
            // and outlives the request (the channel is kept until the device is done with
            // it); `seq` is a live out-pointer.
            Op::Execute { model, work } => unsafe {
                (self.f.nrta_execute_schedule)(
                    model.map_or(self.model, |m| m.0 as *mut _),
                    work.input.0 as *const _,
                    work.output.0 as *mut _,
                    0,
                    cell.as_ptr(),
                    &mut seq,
                )
            },
            // SAFETY: a device tensor of the pipeline's memory and the caller's host buffer of
            // `bytes` bytes, both alive until the request completes (the pipeline's submit
            // contract); status slot and `seq` as above.
            Op::Write(t) => unsafe {
                let t = &t[part];
                (self.f.nrta_tensor_write)(
                    t.tensor.0 as *mut _,
                    t.host as *const _,
                    0,
                    t.bytes as u64,
                    lnc,
                    queue,
                    cell.as_ptr(),
                    &mut seq,
                )
            },
            // SAFETY: as for a write, the host buffer being written instead of read.
            Op::Read(t) => unsafe {
                let t = &t[part];
                (self.f.nrta_tensor_read)(
                    t.host as *mut _,
                    t.tensor.0 as *mut _,
                    0,
                    t.bytes as u64,
                    lnc,
                    queue,
                    cell.as_ptr(),
                    &mut seq,
                )
            },
        };
        if st != NRT_SUCCESS {
            return Err(Refusal::from_raw(st));
        }
        self.xu_bits = seq & !NRTA_SEQ_NUM_MASK;
        Ok(seq & NRTA_SEQ_NUM_MASK)
    }

    fn completed(&mut self) -> std::result::Result<u64, NrtStatus> {
        let mut seq: nrta_seq_t = 0;
        // SAFETY: plain integers and a live out-pointer.
        let st = unsafe { (self.f.nrta_get_sequence)(self.lnc, self.xu.0, self.xu.1, &mut seq) };
        if st != NRT_SUCCESS {
            return Err(st);
        }
        Ok(seq & NRTA_SEQ_NUM_MASK)
    }

    fn status(&mut self, seq: u64, slot: usize) -> Outcome {
        if let Some(ev) = &mut self.events {
            // A registration for a request now complete has fired (or is about to): it
            // needs no cancelling, and a late signal is only a spurious hint.
            if ev.armed.is_some_and(|a| a & NRTA_SEQ_NUM_MASK <= seq) {
                ev.armed = None;
            }
        }
        // Acquire pairs with libnrt publishing the completed sequence after writing the
        // status (the documented order: the status is final once completion is seen).
        let v = self.slots[slot].load(Ordering::Acquire);
        if v == UNWRITTEN {
            log!(
                Level::Error,
                "request {seq} completed but libnrt never wrote its status; reporting NRT_FAILURE"
            );
            return Outcome::ExecError(NRT_FAILURE);
        }
        Outcome::from_raw(v)
    }

    fn notify(&mut self, seq: u64) -> Notify {
        let Some(ev) = &mut self.events else {
            return Notify::Predict;
        };
        let id = self.xu_bits | seq;
        if ev.armed == Some(id) {
            return Notify::Bell(ev.fd.raw());
        }
        if let Some(old) = ev.armed.take() {
            // SAFETY: fd -1 cancels the pending registrations of `old`, one of our ids.
            unsafe { (ev.f.nrta_event_register_seq_id_completion)(old, -1) };
        }
        // A signal left from an earlier registration would wake the thread for nothing.
        ev.fd.drain();
        // SAFETY: a full id of one of our requests and an eventfd we own and keep open for
        // as long as the channel lives (the runtime signals its own duplicate anyway).
        let st = unsafe { (ev.f.nrta_event_register_seq_id_completion)(id, ev.fd.raw()) };
        if st != NRT_SUCCESS {
            log!(
                Level::Warn,
                "nrta_event_register_seq_id_completion failed with {st}; waiting by prediction"
            );
            return Notify::Predict;
        }
        ev.armed = Some(id);
        Notify::Bell(ev.fd.raw())
    }
}

impl Drop for GenB {
    fn drop(&mut self) {
        if let Some(ev) = &mut self.events {
            if let Some(id) = ev.armed.take() {
                // SAFETY: fd -1 cancels our pending registration before the eventfd closes.
                unsafe { (ev.f.nrta_event_register_seq_id_completion)(id, -1) };
            }
        }
    }
}
