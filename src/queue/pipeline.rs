//! Pipelines: host buffers in, host buffers out. A pipeline is a queue whose requests run
//! a plan of several steps on several stages (input writes → one execution per chained
//! model → output reads), each stage being one more ring of the same engine. What is
//! pipeline-specific lives here: the device slots (nrtq's own device memory, one input
//! and output tensor set per model per slot), the check of a request's host buffers
//! against the models' tensor info, and the building of a request's steps once it holds
//! a slot. Scheduling, retiring, errors and delivery are the engine's, shared with plain
//! queues.
use super::config::QueueConfig;
use super::request::{HostIo, Step};
use crate::backend::{
    ChainModel, Channel, Device, Handle, Memory, ModelIo, Op, TensorSpec, Transfer, Unit, Work,
};
use crate::status::{Error, Result, Status};

/// Which tensor a host buffer is for: its index in the model's inputs (or outputs), or
/// its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorRef<'a> {
    /// The position in the model's tensor info (inputs and outputs counted apart).
    Index(usize),
    /// The tensor's name.
    Name(&'a str),
}

/// An input of a pipeline request: `len` bytes at `data`, for `tensor` of the first model.
#[derive(Clone, Copy, Debug)]
pub struct HostInput<'a> {
    /// The model input it fills.
    pub tensor: TensorRef<'a>,
    /// The bytes; must stay valid and unchanged until the request completes.
    pub data: *const u8,
    /// Their number; must equal the tensor's size.
    pub len: usize,
}

/// An output of a pipeline request: `len` bytes at `data` receive `tensor` of the last
/// model.
#[derive(Clone, Copy, Debug)]
pub struct HostOutput<'a> {
    /// The model output it receives.
    pub tensor: TensorRef<'a>,
    /// Where the bytes go; must stay valid, and not be read, until the request completes.
    pub data: *mut u8,
    /// Their number; must equal the tensor's size.
    pub len: usize,
}

/// A tensor named in a pipeline's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TensorKey {
    /// By position in the model's inputs or outputs.
    Index(usize),
    /// By name.
    Name(String),
}

/// A binding of a chained model's input to the previous model's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The chained model (1 or more: its index in the list given at creation).
    pub model: usize,
    /// Its input.
    pub input: TensorKey,
    /// The output of model `model - 1` that feeds it.
    pub output: TensorKey,
}

/// How a pipeline is built (beside the queue's own [`QueueConfig`]).
#[derive(Clone, Debug, Default)]
pub struct PipelineConfig {
    /// Device slots (input and output tensor sets per model), 0 for automatic: three
    /// stages times the queue's depth ceiling, so every stage can hold its full depth at
    /// once. Each request holds one from leaving the backlog to completion.
    pub slots: usize,
    /// The most slots the automatic count may reach (0: 64).
    pub max_slots: usize,
    /// Bindings of chained models' inputs. A chained input without one is bound to the
    /// previous model's output of the same name.
    pub links: Vec<Link>,
}

/// The default cap of the automatic slot count.
const DEFAULT_MAX_SLOTS: usize = 64;

/// A pipeline's device slots and plan.
pub(super) struct Pipeline {
    memory: Option<Box<dyn Memory>>,
    free: Vec<u32>,
    /// Slots given up while the device might still copy into them: never reused, and the
    /// memory outlives the queue.
    poisoned: usize,
    models: Vec<Handle>,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    /// The engine's stage index of the input writes, the executions and the output reads.
    write: Option<usize>,
    compute: usize,
    read: Option<usize>,
}

/// What a queue's engine is built from: its stages' channels and, for a pipeline, the
/// device slots and plan.
pub(crate) struct Parts {
    /// (unit, channel, most parts a step has on it) per stage, in the engine's order.
    pub(super) stages: Vec<(Unit, Box<dyn Channel>, usize)>,
    pub(super) pipeline: Option<Pipeline>,
}

impl Parts {
    /// A plain queue: one stage, COMPUTE.
    pub(crate) fn plain(channel: Box<dyn Channel>) -> Parts {
        Parts {
            stages: vec![(Unit::Compute, channel, 1)],
            pipeline: None,
        }
    }
}

impl Pipeline {
    /// Slots: how many a request can take now.
    pub(super) fn has_slot(&self) -> bool {
        !self.free.is_empty()
    }

    /// The stage a request starts on (its first step's).
    pub(super) fn entry(&self) -> usize {
        self.write.unwrap_or(self.compute)
    }

    pub(super) fn slots(&self) -> usize {
        self.memory.as_ref().map_or(0, |m| m.len())
    }

    pub(super) fn free_slots(&self) -> usize {
        self.free.len()
    }

    /// Take a slot and build the request's steps on it.
    pub(super) fn take(&mut self, host: HostIo) -> Option<(u32, Vec<Step>)> {
        let slot = self.free.pop()?;
        let mem = self
            .memory
            .as_ref()
            .expect("memory stays until the queue closes");
        let dev = mem.slot(slot as usize);
        let mut steps = Vec::with_capacity(self.models.len() + 2);
        if let Some(stage) = self.write {
            let parts = host
                .inputs
                .iter()
                .zip(&dev.inputs)
                .map(|(&(host, bytes), &tensor)| Transfer {
                    tensor,
                    host,
                    bytes,
                })
                .collect();
            steps.push(Step {
                stage,
                op: Op::Write(parts),
            });
        }
        for (k, &model) in self.models.iter().enumerate() {
            let (input, output) = dev.sets[k];
            steps.push(Step {
                stage: self.compute,
                op: Op::Execute {
                    model: Some(model),
                    work: Work { input, output },
                },
            });
        }
        if let Some(stage) = self.read {
            let parts = host
                .outputs
                .iter()
                .zip(&dev.outputs)
                .map(|(&(host, bytes), &tensor)| Transfer {
                    tensor,
                    host,
                    bytes,
                })
                .collect();
            steps.push(Step {
                stage,
                op: Op::Read(parts),
            });
        }
        Some((slot, steps))
    }

    /// A request is done with its slot and nothing of it can still run on the device.
    pub(super) fn give_back(&mut self, slot: u32) {
        self.free.push(slot);
    }

    /// A request was given up while the device may still copy into its slot.
    pub(super) fn poison(&mut self, _slot: u32) {
        self.poisoned += 1;
    }

    /// At destroy: the memory, if the device may still use some of it (it must then
    /// outlive the queue); otherwise it is freed here.
    pub(super) fn take_memory(&mut self) -> Option<Box<dyn Memory>> {
        let m = self.memory.take();
        if self.poisoned > 0 {
            m
        } else {
            None
        }
    }

    /// Check a request's host buffers against the models' tensors and put them in the
    /// models' order: every input and output exactly once, each of its exact size.
    pub(super) fn host_io(&self, inputs: &[HostInput], outputs: &[HostOutput]) -> Result<HostIo> {
        let ins = order(
            "input",
            &self.inputs,
            inputs.iter().map(|h| (h.tensor, h.data as usize, h.len)),
        )?;
        let outs = order(
            "output",
            &self.outputs,
            outputs.iter().map(|h| (h.tensor, h.data as usize, h.len)),
        )?;
        Ok(HostIo {
            inputs: ins,
            outputs: outs,
        })
    }
}

fn names(v: &[TensorSpec]) -> String {
    let n: Vec<String> = v.iter().map(|t| format!("\"{}\"", t.name)).collect();
    if n.is_empty() {
        "none".into()
    } else {
        n.join(", ")
    }
}

/// Match buffers to the model's tensors by index or name.
fn order<'a>(
    side: &str,
    expected: &[TensorSpec],
    given: impl Iterator<Item = (TensorRef<'a>, usize, usize)>,
) -> Result<Vec<(usize, usize)>> {
    let bad = |msg: String| Error::new(Status::InvalidArgument, msg);
    let mut placed: Vec<Option<(usize, usize)>> = vec![None; expected.len()];
    for (tensor, addr, len) in given {
        let i = match tensor {
            TensorRef::Index(i) if i < expected.len() => i,
            TensorRef::Index(i) => {
                return Err(bad(format!(
                    "{side} index {i} is out of range: the model has {} {side}s ({})",
                    expected.len(),
                    names(expected)
                )))
            }
            TensorRef::Name(n) => expected.iter().position(|t| t.name == n).ok_or_else(|| {
                bad(format!(
                    "the model has no {side} named \"{n}\" (its {side}s: {})",
                    names(expected)
                ))
            })?,
        };
        let spec = &expected[i];
        if addr == 0 {
            return Err(bad(format!(
                "{side} \"{}\" has a NULL buffer; pass {} bytes of host memory",
                spec.name, spec.bytes
            )));
        }
        if len != spec.bytes {
            return Err(bad(format!(
                "{side} \"{}\" is given {len} bytes; the model expects {} bytes",
                spec.name, spec.bytes
            )));
        }
        if placed[i].replace((addr, len)).is_some() {
            return Err(bad(format!("{side} \"{}\" is given twice", spec.name)));
        }
    }
    placed
        .into_iter()
        .zip(expected)
        .map(|(p, spec)| {
            p.ok_or_else(|| {
                bad(format!(
                    "{side} \"{}\" ({} bytes) is not given; every {side} needs a buffer",
                    spec.name, spec.bytes
                ))
            })
        })
        .collect()
}

fn find(io: &[TensorSpec], key: &TensorKey) -> Option<usize> {
    match key {
        TensorKey::Index(i) => (*i < io.len()).then_some(*i),
        TensorKey::Name(n) => io.iter().position(|t| &t.name == n),
    }
}

/// Bind each chained model's inputs to the previous model's outputs.
fn chain(models: &[Handle], ios: Vec<ModelIo>, links: &[Link]) -> Result<Vec<ChainModel>> {
    let bad = |msg: String| Error::new(Status::InvalidArgument, msg);
    if let Some(l) = links
        .iter()
        .find(|l| l.model == 0 || l.model >= models.len())
    {
        return Err(bad(format!(
            "a link names model {}; links bind models 1..{} to the model before them",
            l.model,
            models.len().saturating_sub(1)
        )));
    }
    let mut out: Vec<ChainModel> = Vec::with_capacity(models.len());
    for (k, (&model, io)) in models.iter().zip(ios).enumerate() {
        let mut bind = vec![None; io.inputs.len()];
        if k > 0 {
            let prev = &out[k - 1].io;
            for l in links.iter().filter(|l| l.model == k) {
                let i = find(&io.inputs, &l.input).ok_or_else(|| {
                    bad(format!(
                        "link: model {k} has no input {:?} (its inputs: {})",
                        l.input,
                        names(&io.inputs)
                    ))
                })?;
                let j = find(&prev.outputs, &l.output).ok_or_else(|| {
                    bad(format!(
                        "link: model {} has no output {:?} (its outputs: {})",
                        k - 1,
                        l.output,
                        names(&prev.outputs)
                    ))
                })?;
                bind[i] = Some(j);
            }
            for (i, spec) in io.inputs.iter().enumerate() {
                if bind[i].is_none() {
                    bind[i] = prev.outputs.iter().position(|o| o.name == spec.name);
                }
                let Some(j) = bind[i] else {
                    return Err(bad(format!(
                        "input \"{}\" of model {k} is bound to nothing: model {} has no output \
                         of that name; add a link",
                        spec.name,
                        k - 1
                    )));
                };
                if prev.outputs[j].bytes != spec.bytes {
                    return Err(bad(format!(
                        "input \"{}\" of model {k} is {} bytes but output \"{}\" of model {} \
                         that feeds it is {} bytes",
                        spec.name,
                        spec.bytes,
                        prev.outputs[j].name,
                        k - 1,
                        prev.outputs[j].bytes
                    )));
                }
            }
        }
        out.push(ChainModel { model, io, bind });
    }
    Ok(out)
}

/// Open what a pipeline over `models` (one, or a chain on one core) needs: the device
/// slots and one channel per stage.
pub(crate) fn open(
    device: &dyn Device,
    models: &[Handle],
    cfg: &QueueConfig,
    pcfg: &PipelineConfig,
) -> Result<Parts> {
    if models.is_empty() {
        return Err(Error::new(
            Status::InvalidArgument,
            "a pipeline needs at least one model",
        ));
    }
    if let Some(k) = models.iter().position(|m| m.0 == 0) {
        return Err(Error::new(
            Status::NullArgument,
            format!("model {k} of the pipeline is NULL"),
        ));
    }
    let ios = models
        .iter()
        .map(|&m| device.model_io(m))
        .collect::<Result<Vec<_>>>()?;
    let chain = chain(models, ios, &pcfg.links)?;
    let cap = match pcfg.max_slots {
        0 => DEFAULT_MAX_SLOTS,
        n => n,
    };
    let count = match pcfg.slots {
        0 => (3 * cfg.slots()).clamp(2, cap),
        n => n,
    };
    if count > 4096 {
        return Err(Error::new(
            Status::InvalidArgument,
            format!("{count} device slots is above 4096"),
        ));
    }
    let memory = device.alloc_slots(&chain, count)?;
    let inputs = chain[0].io.inputs.clone();
    let outputs = chain[chain.len() - 1].io.outputs.clone();
    let model0 = models[0];
    let mut stages = Vec::with_capacity(3);
    let mut open_stage = |unit: Unit, parts: usize| -> Result<usize> {
        let ch = device.open_unit(model0, unit, count * parts.max(1))?;
        stages.push((unit, ch, parts.max(1)));
        Ok(stages.len() - 1)
    };
    let write = if inputs.is_empty() {
        None
    } else {
        Some(open_stage(Unit::Write, inputs.len())?)
    };
    let compute = open_stage(Unit::Compute, 1)?;
    let read = if outputs.is_empty() {
        None
    } else {
        Some(open_stage(Unit::Read, outputs.len())?)
    };
    Ok(Parts {
        stages,
        pipeline: Some(Pipeline {
            memory: Some(memory),
            free: (0..count as u32).rev().collect(),
            poisoned: 0,
            models: models.to_vec(),
            inputs,
            outputs,
            write,
            compute,
            read,
        }),
    })
}

/// The channels and memory of a destroyed queue that the device may still use: kept by
/// the runtime (as one channel that is never scheduled on) until it stops.
pub(super) struct Kept {
    /// Held only to keep their per-request storage alive.
    pub(super) _channels: Vec<Box<dyn Channel>>,
    pub(super) memory: Option<Box<dyn Memory>>,
}

impl Channel for Kept {
    fn schedule(
        &mut self,
        _: &Op,
        _: usize,
        _: usize,
    ) -> std::result::Result<u64, crate::backend::Refusal> {
        Err(crate::backend::Refusal::Other(neuron_sys::NRT_INVALID))
    }
    fn completed(&mut self) -> std::result::Result<u64, crate::status::NrtStatus> {
        Ok(0)
    }
    fn status(&mut self, _: u64, _: usize) -> crate::backend::Outcome {
        crate::backend::Outcome::Ok
    }
    fn notify(&mut self, _: u64) -> crate::backend::Notify {
        crate::backend::Notify::Predict
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        // The runtime drops what it kept only after stopping the device (nrt_close), which
        // releases the device memory itself; freeing tensors through a closed runtime is
        // not something libnrt promises to allow, so the handles are left behind.
        std::mem::forget(self.memory.take());
    }
}
