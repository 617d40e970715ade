//! Models: the emulator's own model format, loading, binding tensor sets, and running.
//!
//! - [`spec`]: what a model is ([`ModelSpec`]) and its builder and validation;
//! - [`text`]: the `.nrtm` file format;
//! - [`dtype`]: element types; [`ops`]: the arithmetic;
//! - [`neff`]: recognising a real NEFF, which the emulator refuses;
//! - this file: loaded models ([`Model`], `nrt_model_t*`) and [`Bound`] executions.

pub mod dtype;
pub mod neff;
pub mod ops;
pub mod spec;
pub mod text;

pub use dtype::Dtype;
pub use spec::{ModelSpec, OpKind, OpSpec, TensorSpec};

use crate::error::Failure;
use crate::handle::Registry;
use crate::tensor::{self, Tensor, TensorView};
use neuron_sys::{
    NRT_INVALID, NRT_LOAD_NOT_ENOUGH_NC, NRT_STATUS, NRT_SUCCESS, NRT_UNSUPPORTED_NEFF_VERSION,
};
use std::sync::Arc;

/// Why a model could not be loaded: the status `nrt_load` returns and a message.
pub type LoadError = Failure;

/// A loaded model (what an `nrt_model_t*` names).
pub struct Model {
    spec: ModelSpec,
    lnc: u32,
}

static MODELS: Registry<Model> = Registry::new();

impl Model {
    /// The logical core the model is loaded on.
    pub fn lnc(&self) -> u32 {
        self.lnc
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The model's description.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Simulated time of this model's `nth` execution (0-based), in nanoseconds.
    pub fn sim_time_ns(&self, nth_execution: u64) -> u64 {
        self.spec.sim_time_ns(nth_execution)
    }

    /// The `fault …` lines of the model file (the text after `fault`), in file order.
    pub fn fault_lines(&self) -> &[String] {
        &self.spec.faults
    }

    /// Resolve the model's inputs and outputs in two tensor sets (by name) to views,
    /// checking that each is present, alive and exactly the model's size. Errors are
    /// the caller's, so they are synchronous `NRT_INVALID`.
    pub fn bind(
        self: &Arc<Self>,
        inputs: *const neuron_sys::nrt_tensor_set_t,
        outputs: *mut neuron_sys::nrt_tensor_set_t,
    ) -> Result<Bound, NRT_STATUS> {
        self.bind_checked(inputs, outputs).map_err(|f| {
            crate::error::report("execute", &f);
            f.status
        })
    }

    /// [`Model::bind`] with the message kept.
    pub fn bind_checked(
        self: &Arc<Self>,
        inputs: *const neuron_sys::nrt_tensor_set_t,
        outputs: *mut neuron_sys::nrt_tensor_set_t,
    ) -> Result<Bound, Failure> {
        let set = |p: *const neuron_sys::nrt_tensor_set_t, which: &str| {
            tensor::set_lookup(p).map_err(|s| {
                Failure::new(
                    s,
                    format!("the {which} set is NULL or not a live tensor set"),
                )
            })
        };
        let in_set = set(inputs, "input")?;
        let out_set = set(outputs as *const _, "output")?;
        let resolve = |set: &tensor::TensorSet,
                       t: &TensorSpec,
                       which: &str|
         -> Result<Arc<Tensor>, Failure> {
            let tensor = set.resolve(&t.name).map_err(|freed| {
                let m = match freed {
                    None => format!(
                        "model '{}' needs {which} '{}', absent from the {which} set",
                        self.spec.name, t.name
                    ),
                    Some(_) => format!("{which} '{}' in the {which} set was freed", t.name),
                };
                Failure::invalid(m)
            })?;
            let size = tensor.size() as u64;
            if size != t.bytes() {
                return Err(Failure::invalid(format!(
                    "{which} '{}' is {size} bytes but model '{}' needs {} ({} {})",
                    t.name,
                    self.spec.name,
                    t.bytes(),
                    t.dtype.name(),
                    t.shape
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("x")
                )));
            }
            Ok(tensor)
        };
        let inputs = self
            .spec
            .inputs
            .iter()
            .map(|t| resolve(&in_set, t, "input").map(|x| x.view()))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = self
            .spec
            .outputs
            .iter()
            .map(|t| resolve(&out_set, t, "output").map(|x| (x.view(), x)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Bound {
            model: self.clone(),
            inputs,
            outputs,
        })
    }
}

/// One execution, bound to its tensors and ready to run.
pub struct Bound {
    model: Arc<Model>,
    inputs: Vec<TensorView>,
    outputs: Vec<(TensorView, Arc<Tensor>)>,
}

impl Bound {
    /// The model this execution runs.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Compute the outputs from the inputs as they are now, write them, and bump each
    /// output tensor's completion counter. The device calls this when the request runs.
    pub fn run(&self) -> NRT_STATUS {
        let mut ins = Vec::with_capacity(self.inputs.len());
        for v in &self.inputs {
            let mut buf = vec![0u8; v.len()];
            if v.read(0, &mut buf).is_err() {
                return NRT_INVALID;
            }
            ins.push(buf);
        }
        let outs = ops::run(&self.model.spec, &ins);
        for ((view, tensor), bytes) in self.outputs.iter().zip(outs) {
            if view.write(0, &bytes).is_err() {
                return NRT_INVALID;
            }
            tensor.mark_output_complete();
        }
        NRT_SUCCESS
    }
}

/// The live model named by a C handle: `NRT_INVALID` for NULL, unloaded or foreign pointers.
pub fn lookup(ptr: *const neuron_sys::nrt_model_t) -> Result<Arc<Model>, NRT_STATUS> {
    MODELS.get(ptr as usize).ok_or(NRT_INVALID)
}

/// Number of loaded models on `lnc`.
pub fn loaded_on(lnc: u32) -> usize {
    MODELS
        .snapshot()
        .iter()
        .filter(|(_, m)| m.lnc == lnc)
        .count()
}

/// Parse `bytes` as a model (refusing a real NEFF with its own message). The `fault`
/// lines are kept as text: their syntax is the device's, and `nrt_load` has
/// `device::parse_model` check them too.
pub fn parse(bytes: &[u8]) -> Result<ModelSpec, LoadError> {
    match neff::sniff(bytes) {
        neff::Sniff::Neff { name } => {
            let shown = if name.is_empty() {
                String::new()
            } else {
                format!(" '{name}'")
            };
            return Err(Failure::new(
                NRT_UNSUPPORTED_NEFF_VERSION,
                format!(
                    "this is a compiled NEFF{shown} ({} bytes): running it needs a Neuron device and the vendor's libnrt; nrt-emu runs only its own model files (see nrt-emu/README.md)",
                    bytes.len()
                ),
            ));
        }
        neff::Sniff::TruncatedNeff { expected, actual } => {
            return Err(Failure::invalid(format!(
                "truncated NEFF: its header announces {expected} bytes but {actual} were given"
            )));
        }
        neff::Sniff::NotNeff => {}
    }
    ModelSpec::parse(bytes)
}

/// Load a parsed model on `vnc` (-1: the visible core with the fewest models, lowest
/// first).
pub fn load(spec: ModelSpec, vnc: i32, visible_cores: u32) -> Result<usize, LoadError> {
    let lnc = match vnc {
        -1 => (0..visible_cores)
            .min_by_key(|&c| loaded_on(c))
            .unwrap_or(0),
        v if v < -1 => {
            return Err(Failure::invalid(format!("vnc {v} is not a core index")));
        }
        v if v as u32 >= visible_cores => {
            return Err(Failure::new(
                NRT_LOAD_NOT_ENOUGH_NC,
                format!("core {v} requested but cores 0..{visible_cores} are visible"),
            ));
        }
        v => v as u32,
    };
    Ok(MODELS.insert(Arc::new(Model { spec, lnc })))
}

/// Unload: the handle dies now; executions already scheduled keep their `Arc`.
pub fn unload(handle: usize) -> bool {
    MODELS.remove(handle).is_some()
}

/// Forget every model (at `nrt_close`).
pub fn clear_all() {
    drop(MODELS.clear());
}
