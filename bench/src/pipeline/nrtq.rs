//! nrtq's patterns in the pipeline suite: `nrtq-pipeline` (host buffers handed to an nrtq
//! pipeline, which writes, executes and reads on three units) and `nrtq-queue` (the same
//! model through a plain nrtq queue on device tensor sets the application filled once:
//! no transfers, the CPU reference "a plain queue at the same model time").
//!
//! Each keeps a fixed set of host buffers in circulation; a buffer goes back to the free
//! list from the completion callback, and the submitting thread takes the next free one.

use super::by_hand::Tally;
use super::case::{PipeCase, PipePattern};
use crate::patterns::Permits;
use crate::raw::{Model, Runtime};
use nrtq::{
    Completion, Handle, HostInput, HostOutput, OpenOptions, PipelineConfig, QueueConfig, TensorRef,
    Work,
};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Requests (sets of host buffers) one case keeps in circulation: more than the pipeline
/// holds on its units at once, so that the submitter is never what limits it.
const BUFFERS: usize = 64;

/// The free buffers, shared with the completion hook.
#[derive(Default)]
struct Buffers {
    free: Mutex<Vec<usize>>,
    cv: Condvar,
    done: AtomicU64,
    errors: AtomicU64,
}

impl Buffers {
    fn reset(&self) {
        *self.free.lock().unwrap() = (0..BUFFERS).collect();
        self.done.store(0, Ordering::SeqCst);
        self.errors.store(0, Ordering::SeqCst);
    }

    fn take(&self) -> usize {
        let mut g = self.free.lock().unwrap();
        loop {
            if let Some(i) = g.pop() {
                return i;
            }
            g = self.cv.wait(g).unwrap();
        }
    }

    fn give(&self, c: &Completion) {
        if c.status != nrtq::Status::Ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.free.lock().unwrap().push(c.user_data as usize);
        self.done.fetch_add(1, Ordering::AcqRel);
        self.cv.notify_one();
    }
}

/// nrtq over the already-open runtime `rt` (libnrtq does not initialise it again) with
/// `model` loaded: a runner that submits until `permits` are spent and then drains.
pub struct Runner<'a> {
    case: &'a PipeCase,
    queue: nrtq::Queue,
    buffers: Arc<Buffers>,
    inputs: Vec<Vec<f32>>,
    outputs: Vec<Vec<f32>>,
    ring: Vec<crate::raw::Slot>,
    rt: &'a Runtime,
    _nrtq: nrtq::Runtime,
}

impl<'a> Runner<'a> {
    pub fn new(
        case: &'a PipeCase,
        rt: &'a Runtime,
        model: &Model,
        lib: &Path,
    ) -> Result<Runner<'a>, String> {
        let nrtq_rt = nrtq::Runtime::open(&OpenOptions {
            library: Some(lib.to_path_buf()),
            init: false,
        })
        .map_err(|e| e.to_string())?;
        let buffers = Arc::new(Buffers::default());
        let hook = buffers.clone();
        let cfg = QueueConfig {
            backlog: 4 * BUFFERS,
            on_complete: Some(Arc::new(move |c: &Completion| hook.give(c))),
            ..QueueConfig::default()
        };
        let handle = Handle(model.as_void() as usize);
        let n = case.tensor_bytes() / 4;
        let plain = case.pattern == PipePattern::NrtqQueue;
        let queue = if plain {
            nrtq_rt.create_queue(handle, cfg)
        } else {
            nrtq_rt.create_pipeline(&[handle], cfg, &PipelineConfig::default())
        }
        .map_err(|e| e.to_string())?;
        Ok(Runner {
            case,
            queue,
            buffers,
            inputs: (0..BUFFERS)
                .map(|b| (0..n).map(|i| (i ^ b) as f32).collect())
                .collect(),
            outputs: vec![vec![0.0; n]; BUFFERS],
            ring: if plain {
                rt.ring(model, BUFFERS)?
            } else {
                Vec::new()
            },
            rt,
            _nrtq: nrtq_rt,
        })
    }

    /// Submits one request per permit (each on a free set of buffers), then drains.
    pub fn run(&mut self, permits: &Permits) -> Result<Tally, String> {
        self.buffers.reset();
        let bytes = self.case.tensor_bytes();
        while permits.take() {
            let i = self.buffers.take();
            let r = if self.ring.is_empty() {
                let ins = [HostInput {
                    tensor: TensorRef::Index(0),
                    data: self.inputs[i].as_ptr().cast(),
                    len: bytes,
                }];
                let outs = [HostOutput {
                    tensor: TensorRef::Index(0),
                    data: self.outputs[i].as_mut_ptr().cast(),
                    len: bytes,
                }];
                // SAFETY: buffer set `i` is out of the free list until its completion puts
                // it back, and every buffer outlives the queue (destroyed in `Drop`).
                unsafe { self.queue.submit_host(&ins, &outs, i as u64, None) }
            } else {
                let work = Work {
                    input: Handle(self.ring[i].input_addr()),
                    output: Handle(self.ring[i].output_addr()),
                };
                self.queue.submit(work, i as u64, None)
            };
            r.map_err(|e| e.to_string())?;
        }
        self.queue
            .drain(Some(Duration::from_secs(120)))
            .map_err(|e| e.to_string())?;
        let mut t = Tally {
            completed: self.buffers.done.load(Ordering::Acquire),
            errors: self.buffers.errors.load(Ordering::Acquire),
        };
        if self.ring.is_empty() {
            // The model doubles its input: check each set's last output at its first and
            // last element (every set in circulation went through at least once).
            let used = (t.completed as usize).min(BUFFERS);
            let wrong = (0..used)
                .filter(|&b| {
                    let (x, y) = (&self.inputs[b], &self.outputs[b]);
                    [0, x.len() - 1].iter().any(|&i| y[i] != 2.0 * x[i])
                })
                .count();
            t.errors += wrong as u64;
        }
        Ok(t)
    }
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        let _ = self.queue.destroy(Duration::from_secs(10));
        self.rt.free_ring(std::mem::take(&mut self.ring));
    }
}
