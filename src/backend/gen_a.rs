//! SDK 2.28 ("Gen A"): an error tracker per channel, and a completion-handle fd taken only
//! for the request the completion thread waits on (the oldest in flight), not per request.
//!
//! Undocumented tracker semantics are handled defensively: whether `get_list` empties the
//! tracker or keeps every entry since creation is unknown, so entries are keyed by
//! sequence number and only consumed by the request they name, once; a list that merely
//! grew is read from where the last read stopped.
//!
//! Units: executions on COMPUTE, input writes on TENSOR_WRITE and output reads on
//! TENSOR_READ, each queue 0 (2.28 has a unit type per transfer direction).
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use neuron_sys::{
    gen_a, nrta_error_t, nrta_error_tracker_t, nrta_seq_t, NRTA_SEQ_NUM_MASK, NRT_SUCCESS,
};

use crate::backend::{Channel, Handle, Notify, Op, Outcome, Refusal, Unit};
use crate::log::{log, Level};
use crate::status::{Error, NrtStatus, Result, Status};

pub(crate) struct GenA {
    f: gen_a::Fns,
    model: *mut neuron_sys::nrt_model_t,
    lnc: u32,
    /// The XU type this channel drives (queue 0 of it).
    xu: neuron_sys::nrta_xu_t,
    tracker: *mut nrta_error_tracker_t,
    /// The XU-id bits (63..48) of this queue's ids, learned from the first schedule.
    xu_bits: u64,
    /// Errors read from the tracker, by sequence number, not yet claimed.
    errors: HashMap<u64, NrtStatus>,
    /// Sequence numbers up to this one have been retired.
    retired: u64,
    /// (length, last entry) of the tracker list at the previous read.
    cursor: (usize, Option<nrta_error_t>),
    /// The completion handle held for one request: (sequence number, fd).
    handle: Option<(u64, OwnedFd)>,
}

// SAFETY: the raw pointers are libnrt handles (model, tracker) that libnrt lets any thread
// use; the channel is only ever used by one thread at a time (under its queue's mutex).
unsafe impl Send for GenA {}

impl GenA {
    pub(crate) fn open(f: gen_a::Fns, model: Handle, lnc: u32, unit: Unit) -> Result<GenA> {
        let mut tracker = std::ptr::null_mut();
        // SAFETY: `tracker` is a live out-pointer; lnc is a plain integer.
        let st = unsafe { (f.nrta_error_tracker_create)(lnc, &mut tracker) };
        if st != 0 || tracker.is_null() {
            return Err(Error::nrt(
                Status::Runtime,
                st,
                format!("nrta_error_tracker_create failed with {st}"),
            ));
        }
        Ok(GenA {
            f,
            model: model.0 as *mut _,
            lnc,
            xu: match unit {
                Unit::Compute => gen_a::NRTA_XU_COMPUTE,
                Unit::Write => gen_a::NRTA_XU_TENSOR_WRITE,
                Unit::Read => gen_a::NRTA_XU_TENSOR_READ,
            },
            tracker,
            xu_bits: 0,
            errors: HashMap::new(),
            retired: 0,
            cursor: (0, None),
            handle: None,
        })
    }
}

impl Channel for GenA {
    fn schedule(
        &mut self,
        op: &Op,
        part: usize,
        _slot: usize,
    ) -> std::result::Result<u64, Refusal> {
        let mut seq: nrta_seq_t = 0;
        let st = match op {
            // SAFETY: the model and tensor-set pointers come from the application (or the
            // pipeline's own memory), kept alive until the request completes (the documented
            // contract of submit); the tracker is ours; `seq` is a live out-pointer.
            Op::Execute { model, work } => unsafe {
                (self.f.nrta_execute_schedule)(
                    model.map_or(self.model, |m| m.0 as *mut _),
                    work.input.0 as *const _,
                    work.output.0 as *mut _,
                    0,
                    self.tracker,
                    &mut seq,
                )
            },
            // SAFETY: a device tensor of the pipeline's memory and the caller's host buffer of
            // `bytes` bytes, both alive until the request completes (the pipeline's submit
            // contract); the tracker is ours; `seq` is a live out-pointer.
            Op::Write(t) => unsafe {
                let t = &t[part];
                (self.f.nrta_tensor_write)(
                    t.tensor.0 as *mut _,
                    t.host as *const _,
                    0,
                    t.bytes as u64,
                    0,
                    self.tracker,
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
                    0,
                    self.tracker,
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
        let st = unsafe { (self.f.nrta_get_sequence)(self.lnc, self.xu, 0, &mut seq) };
        if st != NRT_SUCCESS {
            return Err(st);
        }
        Ok(seq & NRTA_SEQ_NUM_MASK)
    }

    fn collect_errors(&mut self) {
        let mut list: *const nrta_error_t = std::ptr::null();
        let mut count = 0usize;
        // SAFETY: the tracker is ours and live; both out-pointers are live.
        let st =
            unsafe { (self.f.nrta_error_tracker_get_list)(self.tracker, &mut list, &mut count) };
        if st != NRT_SUCCESS {
            log!(Level::Warn, "nrta_error_tracker_get_list failed with {st}");
            return;
        }
        if list.is_null() || count == 0 {
            self.cursor = (0, None);
            return;
        }
        // SAFETY: libnrt returned `count` entries at `list`, owned by the tracker and valid
        // until the next get_list/destroy on it; we copy what we need before returning.
        let entries = unsafe { std::slice::from_raw_parts(list, count) };
        let (prev_len, prev_last) = self.cursor;
        let start = if prev_len > 0 && count >= prev_len && Some(entries[prev_len - 1]) == prev_last
        {
            prev_len
        } else {
            0
        };
        for e in &entries[start..] {
            let n = e.seq_id & NRTA_SEQ_NUM_MASK;
            if n > self.retired {
                self.errors.insert(n, e.error_code as NrtStatus);
            }
        }
        self.cursor = (count, entries.last().copied());
    }

    fn status(&mut self, seq: u64, _slot: usize) -> Outcome {
        self.retired = self.retired.max(seq);
        if self.handle.as_ref().is_some_and(|(s, _)| *s <= seq) {
            self.handle = None; // closes the fd of a request that is now retired
        }
        Outcome::from_raw(self.errors.remove(&seq).unwrap_or(NRT_SUCCESS))
    }

    fn notify(&mut self, seq: u64) -> Notify {
        if let Some((s, fd)) = &self.handle {
            if *s == seq {
                return Notify::Handle(fd.as_raw_fd());
            }
        }
        self.handle = None;
        let mut fd: std::ffi::c_int = -1;
        // SAFETY: a full id of one of our requests and a live out-pointer.
        let st = unsafe { (self.f.nrta_get_completion_handle)(self.xu_bits | seq, &mut fd) };
        if st != NRT_SUCCESS || fd < 0 {
            log!(
                Level::Warn,
                "nrta_get_completion_handle failed with {st}; polling by prediction"
            );
            return Notify::Predict;
        }
        // SAFETY: libnrt handed us a new descriptor that the caller must close.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = owned.as_raw_fd();
        self.handle = Some((seq, owned));
        Notify::Handle(raw)
    }
}

impl Drop for GenA {
    fn drop(&mut self) {
        self.handle = None;
        // SAFETY: the tracker is ours, and no request using it is still being tracked by
        // nrtq (the queue is closed or abandoned to the runtime's graveyard).
        unsafe { (self.f.nrta_error_tracker_destroy)(self.tracker) };
    }
}
