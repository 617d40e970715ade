//! Device memory a pipeline owns: per slot, the tensors and tensor sets of a chain of
//! models on one core, allocated once at creation from the models' tensor info. The
//! first model's inputs are written from the host and the last model's outputs read
//! back; a chained model's inputs are the earlier model's output tensors themselves (its
//! input set holds them), so intermediates never leave the device.
use std::ffi::CString;

use neuron_sys::{
    nrt_tensor_set_t, nrt_tensor_t, CoreFns, NRT_SUCCESS, NRT_TENSOR_PLACEMENT_DEVICE,
};

use super::Handle;
use crate::status::{Error, Result, Status};

/// One tensor a model takes or gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// Its name (the key in a tensor set).
    pub name: String,
    /// Its size in bytes.
    pub bytes: usize,
}

/// A model's inputs and outputs, in the model's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelIo {
    /// The inputs.
    pub inputs: Vec<TensorSpec>,
    /// The outputs.
    pub outputs: Vec<TensorSpec>,
}

/// One model of a chain, and where its inputs come from.
#[derive(Clone, Debug)]
pub struct ChainModel {
    /// `nrt_model_t *`.
    pub model: Handle,
    /// Its tensors.
    pub io: ModelIo,
    /// Per input: the index of the previous model's output that feeds it (`None` for the
    /// first model, whose inputs come from the host).
    pub bind: Vec<Option<usize>>,
}

/// The device memory of one slot.
#[derive(Clone, Debug, Default)]
pub struct DeviceSlot {
    /// Per model of the chain: (input set, output set).
    pub sets: Vec<(Handle, Handle)>,
    /// The first model's input tensors, in the model's order.
    pub inputs: Vec<Handle>,
    /// The last model's output tensors, in the model's order.
    pub outputs: Vec<Handle>,
}

/// A pipeline's slots; dropping it frees the memory (only once no DMA can touch it).
pub trait Memory: Send {
    /// Slot `i`.
    fn slot(&self, i: usize) -> &DeviceSlot;
    /// How many slots.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Slots allocated through libnrt.
pub(crate) struct NrtMemory {
    core: CoreFns,
    slots: Vec<DeviceSlot>,
    tensors: Vec<*mut nrt_tensor_t>,
    sets: Vec<*mut nrt_tensor_set_t>,
}

// SAFETY: the pointers are libnrt handles any thread may use; the memory is used under its
// queue's lock and freed once, in Drop.
unsafe impl Send for NrtMemory {}

impl NrtMemory {
    /// Allocate `count` slots for `chain` on logical core `lnc`.
    pub(crate) fn allocate(
        core: CoreFns,
        lnc: u32,
        chain: &[ChainModel],
        count: usize,
    ) -> Result<NrtMemory> {
        let mut mem = NrtMemory {
            core,
            slots: Vec::with_capacity(count),
            tensors: Vec::new(),
            sets: Vec::new(),
        };
        for _ in 0..count {
            let slot = mem.one_slot(lnc, chain)?;
            mem.slots.push(slot);
        }
        Ok(mem)
    }

    fn one_slot(&mut self, lnc: u32, chain: &[ChainModel]) -> Result<DeviceSlot> {
        let mut slot = DeviceSlot::default();
        let mut prev_outputs: Vec<*mut nrt_tensor_t> = Vec::new();
        for (k, m) in chain.iter().enumerate() {
            let (ins, outs) = (self.set()?, self.set()?);
            let mut inputs = Vec::with_capacity(m.io.inputs.len());
            for (i, spec) in m.io.inputs.iter().enumerate() {
                let t = match m.bind.get(i).copied().flatten() {
                    Some(j) if k > 0 => prev_outputs[j],
                    _ => self.tensor(lnc, spec)?,
                };
                self.add(ins, spec, t)?;
                inputs.push(t);
            }
            let mut outputs = Vec::with_capacity(m.io.outputs.len());
            for spec in &m.io.outputs {
                let t = self.tensor(lnc, spec)?;
                self.add(outs, spec, t)?;
                outputs.push(t);
            }
            if k == 0 {
                slot.inputs = inputs.iter().map(|&t| Handle(t as usize)).collect();
            }
            slot.sets
                .push((Handle(ins as usize), Handle(outs as usize)));
            prev_outputs = outputs;
        }
        slot.outputs = prev_outputs.iter().map(|&t| Handle(t as usize)).collect();
        Ok(slot)
    }

    fn tensor(&mut self, lnc: u32, spec: &TensorSpec) -> Result<*mut nrt_tensor_t> {
        let name = c_name(&spec.name)?;
        let mut t = std::ptr::null_mut();
        // SAFETY: plain values, a NUL-terminated name alive for the call, a live out-pointer.
        let st = unsafe {
            (self.core.nrt_tensor_allocate)(
                NRT_TENSOR_PLACEMENT_DEVICE,
                lnc as i32,
                spec.bytes,
                name.as_ptr(),
                &mut t,
            )
        };
        if st != NRT_SUCCESS || t.is_null() {
            return Err(Error::nrt(
                Status::Resource,
                st,
                format!(
                    "nrt_tensor_allocate of {} bytes for tensor \"{}\" failed with NRT status {st}",
                    spec.bytes, spec.name
                ),
            ));
        }
        self.tensors.push(t);
        Ok(t)
    }

    fn set(&mut self) -> Result<*mut nrt_tensor_set_t> {
        let mut s = std::ptr::null_mut();
        // SAFETY: a live out-pointer.
        let st = unsafe { (self.core.nrt_allocate_tensor_set)(&mut s) };
        if st != NRT_SUCCESS || s.is_null() {
            return Err(Error::nrt(
                Status::Resource,
                st,
                format!("nrt_allocate_tensor_set failed with NRT status {st}"),
            ));
        }
        self.sets.push(s);
        Ok(s)
    }

    fn add(
        &mut self,
        set: *mut nrt_tensor_set_t,
        spec: &TensorSpec,
        t: *mut nrt_tensor_t,
    ) -> Result<()> {
        let name = c_name(&spec.name)?;
        // SAFETY: a set and a tensor this memory allocated (the tensor outlives the set: sets
        // are destroyed first in Drop), and a NUL-terminated name.
        let st = unsafe { (self.core.nrt_add_tensor_to_tensor_set)(set, name.as_ptr(), t) };
        if st != NRT_SUCCESS {
            return Err(Error::nrt(
                Status::Resource,
                st,
                format!(
                    "nrt_add_tensor_to_tensor_set(\"{}\") failed with NRT status {st}",
                    spec.name
                ),
            ));
        }
        Ok(())
    }
}

fn c_name(name: &str) -> Result<CString> {
    CString::new(name).map_err(|_| {
        Error::new(
            Status::InvalidArgument,
            format!("tensor name {name:?} contains a NUL byte"),
        )
    })
}

impl Memory for NrtMemory {
    fn slot(&self, i: usize) -> &DeviceSlot {
        &self.slots[i]
    }
    fn len(&self) -> usize {
        self.slots.len()
    }
}

impl Drop for NrtMemory {
    fn drop(&mut self) {
        for s in self.sets.drain(..) {
            let mut s = s;
            // SAFETY: a set this memory allocated, destroyed once; no request uses it (the
            // queue is closed, or the memory was kept until the runtime stopped).
            unsafe { (self.core.nrt_destroy_tensor_set)(&mut s) };
        }
        for t in self.tensors.drain(..) {
            let mut t = t;
            // SAFETY: a tensor this memory allocated, freed once, after every set holding it.
            unsafe { (self.core.nrt_tensor_free)(&mut t) };
        }
    }
}
