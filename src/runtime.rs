//! A runtime handle: one loaded libnrt (or mock device), its completion thread, and the
//! queues open on it.
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::backend::nrt::NrtDevice;
use crate::backend::{Channel, Device, Generation, Handle};
use crate::log::{log, Level};
use crate::queue::{Home, Parts, PipelineConfig, Queue, QueueConfig, Shared};
use crate::reactor::{on_a_completion_thread, Reactor};
use crate::status::{Error, Result, Status};
use crate::trace;

static NEXT_QUEUE: AtomicU64 = AtomicU64::new(1);

/// How to open a runtime over libnrt.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Load libnrt from this path instead of the search order of `neuron-sys`
    /// (process symbols, `NRTQ_LIBNRT`, `libnrt.so.1`, `/opt/aws/neuron/lib`).
    pub library: Option<PathBuf>,
    /// Call `nrt_init` now (and `nrt_close` when the runtime closes). Leave false when the
    /// application initialises libnrt itself.
    pub init: bool,
}

/// The open queues of a runtime, shared with the queues so they can detach themselves.
#[derive(Default)]
pub(crate) struct Registry {
    queues: Mutex<Vec<Queue>>,
    /// Channels of queues destroyed while the device still held requests: kept so the
    /// device never writes into freed per-request storage; dropped when the runtime closes.
    graveyard: Mutex<Vec<Box<dyn Channel>>>,
}

impl Registry {
    fn contains(&self, q: &Queue) -> bool {
        self.queues.lock().iter().any(|x| Arc::ptr_eq(&x.0, &q.0))
    }
}

impl Home for Registry {
    fn detach(&self, id: u64, keep: Option<Box<dyn Channel>>) {
        self.queues.lock().retain(|x| x.id() != id);
        if let Some(ch) = keep {
            self.graveyard.lock().push(ch);
        }
    }
}

/// One runtime: a device, a completion thread, and the open queues.
pub struct Runtime {
    device: Arc<dyn Device>,
    reactor: Reactor,
    registry: Arc<Registry>,
}

impl Runtime {
    /// Open a runtime over libnrt.
    pub fn open(opts: &OpenOptions) -> Result<Runtime> {
        let device = NrtDevice::load(opts.library.as_deref(), opts.init)?;
        Runtime::with_device(device)
    }

    /// Open a runtime over any device (the mock, in tests).
    pub fn with_device(device: Arc<dyn Device>) -> Result<Runtime> {
        let reactor = Reactor::start()?;
        Ok(Runtime {
            device,
            reactor,
            registry: Arc::new(Registry::default()),
        })
    }

    /// The async generation of the runtime.
    pub fn generation(&self) -> Generation {
        self.device.generation()
    }

    /// The runtime's version string.
    pub fn version(&self) -> String {
        self.device.version()
    }

    /// Number of queues open.
    pub fn queue_count(&self) -> usize {
        self.registry.queues.lock().len()
    }

    /// CPU time the completion thread has used, in ns (updated whenever it parks).
    pub fn completion_thread_cpu_ns(&self) -> u64 {
        self.reactor.cpu_ns()
    }

    /// Times the completion thread has returned from a blocking wait.
    pub fn completion_thread_wakeups(&self) -> u64 {
        self.reactor.wakeups()
    }

    /// Create a queue for `model` (an `nrt_model_t *`, kept alive by the caller until the
    /// queue is destroyed).
    pub fn create_queue(&self, model: Handle, cfg: QueueConfig) -> Result<Queue> {
        self.create_queue_on(model, cfg, None)
    }

    /// The device, for pools (loading a model on each core).
    pub(crate) fn device(&self) -> &Arc<dyn Device> {
        &self.device
    }

    /// Create a queue served by `thread` (a completion thread a pool started), or by the
    /// runtime's own when `None`.
    pub(crate) fn create_queue_on(
        &self,
        model: Handle,
        cfg: QueueConfig,
        thread: Option<&Reactor>,
    ) -> Result<Queue> {
        cfg.validate()?;
        let channel = self.device.open_channel(model, cfg.slots())?;
        let label = self.device.generation().to_string();
        self.register(Parts::plain(channel), cfg, thread, &label)
    }

    /// Create a pipeline: a queue whose requests bring host buffers and run input writes
    /// → `models` (one, or a chain on one core, each feeding the next on the device) →
    /// output reads, with nrtq's own device memory (see [`crate::queue::PipelineConfig`]).
    /// Submit with [`Queue::submit_host`]; everything else is the queue's.
    pub fn create_pipeline(
        &self,
        models: &[Handle],
        cfg: QueueConfig,
        pipeline: &PipelineConfig,
    ) -> Result<Queue> {
        self.create_pipeline_on(models, cfg, pipeline, None)
    }

    /// [`Runtime::create_pipeline`] served by `thread` (a pool's), or by the runtime's own.
    pub(crate) fn create_pipeline_on(
        &self,
        models: &[Handle],
        cfg: QueueConfig,
        pipeline: &PipelineConfig,
        thread: Option<&Reactor>,
    ) -> Result<Queue> {
        cfg.validate()?;
        let parts = crate::queue::open_pipeline(self.device.as_ref(), models, &cfg, pipeline)?;
        let label = format!(
            "pipeline of {} model(s), {}",
            models.len(),
            self.device.generation()
        );
        self.register(parts, cfg, thread, &label)
    }

    /// The one way a queue comes to life: its engine built from `parts`, served by
    /// `thread` (or the runtime's own completion thread), listed for teardown.
    fn register(
        &self,
        parts: Parts,
        cfg: QueueConfig,
        thread: Option<&Reactor>,
        label: &str,
    ) -> Result<Queue> {
        let reactor = thread.unwrap_or(&self.reactor);
        let id = NEXT_QUEUE.fetch_add(1, Ordering::Relaxed);
        let shared = Shared::with_parts(
            id,
            cfg,
            parts,
            reactor.shared.clone(),
            self.registry.clone(),
        )?;
        trace::queue_created(id, label);
        let q = Queue(shared.clone());
        self.registry.queues.lock().push(q.clone());
        reactor.shared.add(shared);
        log!(Level::Info, "queue {id} created ({label})");
        Ok(q)
    }

    /// Destroy `q`: cancel its backlog, wait up to `timeout` for what the device holds,
    /// deliver every completion, and forget the queue. Returns `Timeout` when requests had
    /// to be abandoned on the device (they complete as cancelled). Refused with
    /// `WouldDeadlock` from a callback on the completion thread.
    pub fn destroy_queue(&self, q: &Queue, timeout: Duration) -> Result<()> {
        if !self.registry.contains(q) {
            return Err(Error::new(
                Status::InvalidArgument,
                "the queue does not belong to this runtime (or was destroyed)",
            ));
        }
        q.destroy(timeout)
    }

    /// Close the runtime. Refused with `Busy` (and the runtime left intact) while queues
    /// are open.
    pub fn close(self) -> std::result::Result<(), Box<(Runtime, Error)>> {
        match self.check_close() {
            Ok(()) => Ok(()),
            Err(e) => Err(Box::new((self, e))),
        }
    }

    /// Whether the runtime may close now: `WouldDeadlock` on a completion thread, `Busy`
    /// while queues are open.
    pub fn check_close(&self) -> Result<()> {
        if on_a_completion_thread() {
            return Err(Error::new(
                Status::WouldDeadlock,
                "a runtime cannot be closed from a completion callback",
            ));
        }
        let n = self.queue_count();
        if n > 0 {
            return Err(Error::new(
                Status::Busy,
                format!("{n} queue(s) still open; destroy them first"),
            ));
        }
        Ok(())
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Whatever the path here, stop the completion thread before the device goes.
        let queues: Vec<Queue> = self.registry.queues.lock().clone();
        for q in &queues {
            let _ = q.destroy(Duration::from_secs(1));
        }
        // Stop the device before freeing storage it may still write into; when nrtq did
        // not initialise libnrt (so the device keeps running after us), leak it instead.
        let graveyard = std::mem::take(&mut *self.registry.graveyard.lock());
        let owned = self.device.owns_runtime();
        self.device.shutdown();
        if owned {
            drop(graveyard);
        } else {
            std::mem::forget(graveyard);
        }
        trace::finish();
    }
}
