//! SDK 2.29+ ("Gen B"): a per-request `NRT_STATUS` that libnrt writes when the request
//! completes, kept in a slot array that lives as long as the channel; SDK 2.30+ adds one
//! eventfd per logical core (registered once by the device, shared by its queues). On
//! 2.29 there is no notification at all and the engine waits by prediction.
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use neuron_sys::{gen_b, nrta_seq_t, NRTA_SEQ_NUM_MASK};

use crate::backend::{Channel, Handle, Notify, Work};
use crate::log::{log, Level};
use crate::status::{NrtStatus, NRT_SUCCESS};
use crate::sys::EventFd;

/// Written into a slot before scheduling, so a status libnrt never wrote is visible.
const UNWRITTEN: u32 = u32::MAX;
/// `NRT_FAILURE`, reported when a completed request's status was never written.
const NRT_FAILURE: NrtStatus = 1;

pub(crate) struct GenB {
    f: gen_b::Fns,
    model: *mut neuron_sys::nrt_model_t,
    lnc: u32,
    /// One status word per request slot. libnrt writes into it from its own thread, so
    /// it is atomic; boxed so its address never moves.
    slots: Box<[AtomicU32]>,
    bell: Option<Arc<EventFd>>,
}

// SAFETY: the model pointer is a libnrt handle any thread may use; the channel is used by
// one thread at a time (under its queue's mutex).
unsafe impl Send for GenB {}

impl GenB {
    pub(crate) fn open(
        f: gen_b::Fns,
        model: Handle,
        lnc: u32,
        depth: usize,
        bell: Option<Arc<EventFd>>,
    ) -> GenB {
        let slots = (0..depth).map(|_| AtomicU32::new(UNWRITTEN)).collect();
        GenB {
            f,
            model: model.0 as *mut _,
            lnc,
            slots,
            bell,
        }
    }
}

impl Channel for GenB {
    fn schedule(&mut self, work: &Work, slot: usize) -> std::result::Result<u64, NrtStatus> {
        let cell = &self.slots[slot];
        cell.store(UNWRITTEN, Ordering::Relaxed);
        let mut seq: nrta_seq_t = 0;
        // SAFETY: model and tensor sets are the application's, alive until completion (the
        // submit contract); the status slot is ours and outlives the request (the channel
        // is kept until the device is done with it); `seq` is a live out-pointer.
        let st = unsafe {
            (self.f.nrta_execute_schedule)(
                self.model,
                work.input.0 as *const _,
                work.output.0 as *mut _,
                0,
                cell.as_ptr(),
                &mut seq,
            )
        };
        if st != NRT_SUCCESS {
            return Err(st);
        }
        Ok(seq & NRTA_SEQ_NUM_MASK)
    }

    fn completed(&mut self) -> std::result::Result<u64, NrtStatus> {
        let mut seq: nrta_seq_t = 0;
        // SAFETY: plain integers and a live out-pointer.
        let st =
            unsafe { (self.f.nrta_get_sequence)(self.lnc, gen_b::NRTA_XU_COMPUTE, 0, &mut seq) };
        if st != NRT_SUCCESS {
            return Err(st);
        }
        Ok(seq & NRTA_SEQ_NUM_MASK)
    }

    fn status(&mut self, seq: u64, slot: usize) -> NrtStatus {
        // Acquire pairs with libnrt publishing the completed sequence after writing the
        // status (the documented order: the status is final once completion is seen).
        let v = self.slots[slot].load(Ordering::Acquire);
        if v == UNWRITTEN {
            log!(
                Level::Error,
                "request {seq} completed but libnrt never wrote its status; reporting NRT_FAILURE"
            );
            return NRT_FAILURE;
        }
        v
    }

    fn notify(&mut self, _seq: u64) -> Notify {
        match &self.bell {
            Some(b) => Notify::Bell(b.raw()),
            None => Notify::Predict,
        }
    }
}
