//! The raw libnrt calls a hand-written write → execute → read chain makes, for every
//! generation: device tensors and host buffers per slot, the three schedule calls, the
//! synchronous copies, and the completed counter of each unit. Like `crate::raw`, this
//! is a C edge: every `unsafe` call of the pipeline suite is here.

use crate::raw::{status_text, Model, Runtime};
use neuron_sys::{
    gen_a, gen_b, nrt_model_t, nrt_tensor_set_t, nrt_tensor_t, nrta_seq_t, nrta_xu_t, AsyncFns,
    Generation, NRT_STATUS, NRT_SUCCESS, NRT_TENSOR_PLACEMENT_DEVICE,
};
use std::ffi::CStr;
use std::sync::atomic::{AtomicU32, Ordering};

/// One of the three units a request passes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Write,
    Compute,
    Read,
}

impl Unit {
    pub const ALL: [Unit; 3] = [Unit::Write, Unit::Compute, Unit::Read];

    /// (XU, queue) of the unit on core 0 in `generation`: 2.28 has a unit per direction;
    /// 2.29+ puts both on TENSOR_OP, writes on queue 0 and reads on queue 1 (2.30 gave
    /// them separate DMA queues), which is what a hand-written chain would do.
    pub fn xu_queue(self, generation: Generation) -> (nrta_xu_t, i32) {
        match (generation, self) {
            (Generation::Sdk2_28, Unit::Write) => (gen_a::NRTA_XU_TENSOR_WRITE, 0),
            (Generation::Sdk2_28, Unit::Read) => (gen_a::NRTA_XU_TENSOR_READ, 0),
            (Generation::Sdk2_28, Unit::Compute) => (gen_a::NRTA_XU_COMPUTE, 0),
            (_, Unit::Write) => (gen_b::NRTA_XU_TENSOR_OP, 0),
            (_, Unit::Read) => (gen_b::NRTA_XU_TENSOR_OP, 1),
            (_, Unit::Compute) => (gen_b::NRTA_XU_COMPUTE, 0),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Write => "write",
            Unit::Compute => "compute",
            Unit::Read => "read",
        }
    }
}

/// One request's worth of memory: the model's input and output on the device (in
/// tensor sets), and the host buffers they are copied from and to.
pub struct Slot {
    input: *mut nrt_tensor_t,
    output: *mut nrt_tensor_t,
    in_set: *mut nrt_tensor_set_t,
    out_set: *mut nrt_tensor_set_t,
    pub host_in: Vec<f32>,
    pub host_out: Vec<f32>,
    /// 2.29+: the status word of the slot's last request on each unit.
    status: [AtomicU32; 3],
}

// SAFETY: the tensors and sets are runtime objects usable from any thread; a slot is
// used by one thread at a time.
unsafe impl Send for Slot {}

fn check(what: &str, s: NRT_STATUS) -> Result<(), String> {
    if s == NRT_SUCCESS {
        Ok(())
    } else {
        Err(format!("{what} failed: {}", status_text(s)))
    }
}

/// A model with one input and one output, and what moves them.
pub struct Chain<'r> {
    rt: &'r Runtime,
    model: *mut nrt_model_t,
    in_name: &'r CStr,
    out_name: &'r CStr,
    /// Bytes of the input and of the output.
    pub bytes: usize,
}

// SAFETY: the model handle is a process-global runtime object the runtime accepts from
// any thread (the sync pattern's threads execute on it at once, as servers do); the
// names and the runtime are shared read-only.
unsafe impl Sync for Chain<'_> {}

impl<'r> Chain<'r> {
    /// The chain over `model`, which must have one input and one output of equal size.
    pub fn new(rt: &'r Runtime, model: &'r Model) -> Result<Chain<'r>, String> {
        let input = model.tensors.iter().find(|t| t.input).ok_or("no input")?;
        let output = model.tensors.iter().find(|t| !t.input).ok_or("no output")?;
        if model.tensors.len() != 2 || input.size != output.size {
            return Err("the pipeline suite's model has one input and one output alike".into());
        }
        Ok(Chain {
            rt,
            model: model.as_void().cast(),
            in_name: &input.name,
            out_name: &output.name,
            bytes: input.size,
        })
    }

    /// A slot whose host input holds `seed`-derived values.
    pub fn slot(&self, seed: u32) -> Result<Slot, String> {
        let core = &self.rt.lib.core;
        let n = self.bytes / 4;
        let mut s = Slot {
            input: std::ptr::null_mut(),
            output: std::ptr::null_mut(),
            in_set: std::ptr::null_mut(),
            out_set: std::ptr::null_mut(),
            host_in: (0..n).map(|i| (i as u32 ^ seed) as f32).collect(),
            host_out: vec![0.0; n],
            status: Default::default(),
        };
        for (t, set, name) in [
            (&mut s.input, &mut s.in_set, self.in_name),
            (&mut s.output, &mut s.out_set, self.out_name),
        ] {
            // SAFETY: out-pointers are writable fields; the name is NUL-terminated.
            unsafe {
                check(
                    "nrt_tensor_allocate",
                    (core.nrt_tensor_allocate)(
                        NRT_TENSOR_PLACEMENT_DEVICE,
                        0,
                        self.bytes,
                        name.as_ptr(),
                        t,
                    ),
                )?;
                check(
                    "nrt_allocate_tensor_set",
                    (core.nrt_allocate_tensor_set)(set),
                )?;
                check(
                    "nrt_add_tensor_to_tensor_set",
                    (core.nrt_add_tensor_to_tensor_set)(*set, name.as_ptr(), *t),
                )?;
            }
        }
        Ok(s)
    }

    /// Frees a slot; nothing may be in flight on it.
    pub fn free(&self, mut s: Slot) {
        let core = &self.rt.lib.core;
        // SAFETY: each pointer came from its allocate call and is freed once.
        unsafe {
            (core.nrt_destroy_tensor_set)(&mut s.in_set);
            (core.nrt_destroy_tensor_set)(&mut s.out_set);
            (core.nrt_tensor_free)(&mut s.input);
            (core.nrt_tensor_free)(&mut s.output);
        }
    }

    /// Blocking `nrt_tensor_write` of the slot's host input.
    pub fn write_sync(&self, s: &Slot) -> Result<(), String> {
        // SAFETY: the tensor is live and `host_in` holds `bytes` bytes.
        check("nrt_tensor_write", unsafe {
            (self.rt.lib.core.nrt_tensor_write)(s.input, s.host_in.as_ptr().cast(), 0, self.bytes)
        })
    }

    /// Blocking `nrt_execute`.
    pub fn execute_sync(&self, s: &Slot) -> Result<(), String> {
        // SAFETY: the model and both sets are live for the call.
        check("nrt_execute", unsafe {
            (self.rt.lib.core.nrt_execute)(self.model, s.in_set, s.out_set)
        })
    }

    /// Blocking `nrt_tensor_read` into the slot's host output.
    pub fn read_sync(&self, s: &mut Slot) -> Result<(), String> {
        // SAFETY: the tensor is live and `host_out` has room for `bytes` bytes.
        check("nrt_tensor_read", unsafe {
            (self.rt.lib.core.nrt_tensor_read)(
                s.output,
                s.host_out.as_mut_ptr().cast(),
                0,
                self.bytes,
            )
        })
    }

    /// Schedules the slot's step on `unit`: its id, or the refusal (`NRT_QUEUE_FULL`
    /// when the unit has no room). The slot must stay put until the step completes.
    pub fn schedule(&self, unit: Unit, s: &mut Slot) -> Result<nrta_seq_t, NRT_STATUS> {
        let mut seq: nrta_seq_t = 0;
        let (_, queue) = unit.xu_queue(self.rt.generation);
        let n = self.bytes as u64;
        let st = match &self.rt.lib.asyncs {
            // SAFETY: tensors, sets and host buffers are the slot's and outlive the step
            // (the caller keeps the slot until it sees the step complete); a NULL tracker
            // asks for no error reports (2.28).
            Some(AsyncFns::GenA(a)) => unsafe {
                match unit {
                    Unit::Write => (a.nrta_tensor_write)(
                        s.input,
                        s.host_in.as_ptr().cast(),
                        0,
                        n,
                        queue,
                        std::ptr::null_mut(),
                        &mut seq,
                    ),
                    Unit::Compute => (a.nrta_execute_schedule)(
                        self.model,
                        s.in_set,
                        s.out_set,
                        queue,
                        std::ptr::null_mut(),
                        &mut seq,
                    ),
                    Unit::Read => (a.nrta_tensor_read)(
                        s.host_out.as_mut_ptr().cast(),
                        s.output,
                        0,
                        n,
                        queue,
                        std::ptr::null_mut(),
                        &mut seq,
                    ),
                }
            },
            // SAFETY: as above; the status word is the slot's and outlives the step.
            Some(AsyncFns::GenB(b)) => unsafe {
                let ret = s.status[unit as usize].as_ptr();
                match unit {
                    Unit::Write => (b.nrta_tensor_write)(
                        s.input,
                        s.host_in.as_ptr().cast(),
                        0,
                        n,
                        0,
                        queue,
                        ret,
                        &mut seq,
                    ),
                    Unit::Compute => (b.nrta_execute_schedule)(
                        self.model, s.in_set, s.out_set, queue, ret, &mut seq,
                    ),
                    Unit::Read => (b.nrta_tensor_read)(
                        s.host_out.as_mut_ptr().cast(),
                        s.output,
                        0,
                        n,
                        0,
                        queue,
                        ret,
                        &mut seq,
                    ),
                }
            },
            None => neuron_sys::NRT_FAILURE,
        };
        if st == NRT_SUCCESS {
            Ok(seq)
        } else {
            Err(st)
        }
    }

    /// Whether the slot's last step on `unit` failed (2.29+; 2.28 reports through a
    /// tracker, which this chain does not ask for).
    pub fn failed(&self, unit: Unit, s: &Slot) -> bool {
        self.rt.generation != Generation::Sdk2_28
            && s.status[unit as usize].load(Ordering::Acquire) != NRT_SUCCESS
    }

    /// The last completed id on `unit` of core 0.
    pub fn completed(&self, unit: Unit) -> Result<nrta_seq_t, String> {
        let asyncs = self.rt.lib.asyncs.as_ref().ok_or("no async API")?;
        let (xu, queue) = unit.xu_queue(self.rt.generation);
        let mut seq: nrta_seq_t = 0;
        // SAFETY: `seq` is a writable out-pointer.
        check("nrta_get_sequence", unsafe {
            (asyncs.nrta_get_sequence())(0, xu, queue, &mut seq)
        })?;
        Ok(seq)
    }
}
