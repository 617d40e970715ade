//! What a model expects of its tensor sets, learned once when a channel opens, so that a
//! request the runtime refuses can be answered with the tensor at fault and why — libnrt's
//! own answer is a bare `NRT_INVALID`. Only consulted after a refusal: a submit that
//! goes through costs nothing here.
use std::ffi::{CStr, CString};

use neuron_sys::{
    nrt_model_t, nrt_tensor_info_array_t, nrt_tensor_info_t, nrt_tensor_set_t, CoreFns,
    NRT_SUCCESS, NRT_TENSOR_USAGE_INPUT, NRT_TENSOR_USAGE_OUTPUT,
};

use super::{Channel, Handle, ModelIo, Notify, Op, Outcome, Refusal, TensorSpec, Work};
use crate::status::NrtStatus;

/// One tensor the model takes or gives: its name (the key in a tensor set) and size.
struct Expected {
    name: CString,
    bytes: usize,
}

/// The model's inputs and outputs, and the three libnrt calls that look into a set.
pub(crate) struct ModelTensors {
    core: CoreFns,
    inputs: Vec<Expected>,
    outputs: Vec<Expected>,
}

impl ModelTensors {
    /// Ask libnrt for `model`'s tensor info. `None` if it will not say (the diagnosis is a
    /// courtesy; its absence only makes a refusal's message shorter).
    pub(crate) fn learn(core: CoreFns, model: Handle) -> Option<ModelTensors> {
        let mut info: *mut nrt_tensor_info_array_t = std::ptr::null_mut();
        // SAFETY: `model` is the application's live model (checked non-NULL by the caller);
        // `info` is a live out-pointer that libnrt fills with an array it allocates.
        let st =
            unsafe { (core.nrt_get_model_tensor_info)(model.0 as *mut nrt_model_t, &mut info) };
        if st != NRT_SUCCESS || info.is_null() {
            return None;
        }
        // SAFETY: on success `info` points to a header followed by `tensor_count` entries,
        // owned by libnrt until nrt_free_model_tensor_info; they are copied out here.
        let entries: &[nrt_tensor_info_t] = unsafe {
            let n = (*info).tensor_count as usize;
            std::slice::from_raw_parts(std::ptr::addr_of!((*info).tensor_array).cast(), n)
        };
        let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
        for e in entries {
            // SAFETY: libnrt NUL-terminates the name within its fixed-size array.
            let name = unsafe { CStr::from_ptr(e.name.as_ptr()) }.to_owned();
            let x = Expected {
                name,
                bytes: e.size,
            };
            match e.usage {
                NRT_TENSOR_USAGE_INPUT => inputs.push(x),
                NRT_TENSOR_USAGE_OUTPUT => outputs.push(x),
                _ => {}
            }
        }
        // SAFETY: `info` came from nrt_get_model_tensor_info and is freed once.
        unsafe { (core.nrt_free_model_tensor_info)(info) };
        Some(ModelTensors {
            core,
            inputs,
            outputs,
        })
    }

    /// The model's inputs and outputs as plain names and sizes.
    pub(crate) fn io(&self) -> ModelIo {
        let spec = |v: &[Expected]| {
            v.iter()
                .map(|e| TensorSpec {
                    name: e.name.to_string_lossy().into_owned(),
                    bytes: e.bytes,
                })
                .collect()
        };
        ModelIo {
            inputs: spec(&self.inputs),
            outputs: spec(&self.outputs),
        }
    }

    /// Why `work`'s tensor sets do not fit the model, if they do not: the first input or
    /// output that is missing from its set or of the wrong size.
    pub(crate) fn mismatch(&self, work: &Work) -> Option<String> {
        for (set, expected, side) in [
            (work.input, &self.inputs, "input"),
            (work.output, &self.outputs, "output"),
        ] {
            for e in expected {
                let mut t = std::ptr::null_mut();
                // SAFETY: `set` is the tensor set the application passed to submit (libnrt
                // validates it); the name is NUL-terminated; `t` is a live out-pointer.
                let st = unsafe {
                    (self.core.nrt_get_tensor_from_tensor_set)(
                        set.0 as *mut nrt_tensor_set_t,
                        e.name.as_ptr(),
                        &mut t,
                    )
                };
                let name = e.name.to_string_lossy();
                if st != NRT_SUCCESS || t.is_null() {
                    return Some(format!(
                        "the {side} tensor set has no tensor named \"{name}\" (the model's \
                         {side}s: {})",
                        names(expected)
                    ));
                }
                // SAFETY: `t` is a live tensor libnrt just returned.
                let bytes = unsafe { (self.core.nrt_tensor_get_size)(t) };
                if bytes != e.bytes {
                    return Some(format!(
                        "{side} tensor \"{name}\" is {bytes} bytes; the model expects {}",
                        e.bytes
                    ));
                }
            }
        }
        None
    }
}

fn names(v: &[Expected]) -> String {
    let names: Vec<String> = v
        .iter()
        .map(|e| format!("\"{}\"", e.name.to_string_lossy()))
        .collect();
    names.join(", ")
}

/// A generation's channel with the model's tensors beside it: everything goes to `inner`;
/// only [`Channel::mismatch`] is answered here, since it is the same in every generation.
pub(crate) struct Checked<C> {
    inner: C,
    tensors: Option<ModelTensors>,
}

impl<C: Channel> Checked<C> {
    pub(crate) fn new(inner: C, core: CoreFns, model: Handle) -> Checked<C> {
        Checked {
            inner,
            tensors: ModelTensors::learn(core, model),
        }
    }
}

// SAFETY: the function pointers in `ModelTensors` are libnrt's, callable from any thread;
// the rest is owned data. The channel is used by one thread at a time (its queue's lock).
unsafe impl<C: Channel> Send for Checked<C> {}

impl<C: Channel> Channel for Checked<C> {
    fn schedule(&mut self, op: &Op, part: usize, slot: usize) -> std::result::Result<u64, Refusal> {
        self.inner.schedule(op, part, slot)
    }
    fn completed(&mut self) -> std::result::Result<u64, NrtStatus> {
        self.inner.completed()
    }
    fn collect_errors(&mut self) {
        self.inner.collect_errors()
    }
    fn status(&mut self, seq: u64, slot: usize) -> Outcome {
        self.inner.status(seq, slot)
    }
    fn notify(&mut self, seq: u64) -> Notify {
        self.inner.notify(seq)
    }
    fn mismatch(&self, work: &Work) -> Option<String> {
        self.tensors.as_ref()?.mismatch(work)
    }
}
