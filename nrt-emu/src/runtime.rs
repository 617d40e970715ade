//! Runtime lifecycle: init/close, configuration from the environment, generation.
//! CONTRACT STUB (owner: core emulator engineer) — replace freely, keep the signatures.
use neuron_sys::NRT_STATUS;
use std::sync::Arc;

/// The emulated runtime between `nrt_init` and `nrt_close`.
pub struct Runtime {
    /// The emulated device: XU queues, timelines, completion release.
    pub device: crate::device::Device,
}

/// The runtime if initialised: `NRT_UNINITIALIZED` before `nrt_init`, `NRT_CLOSED` after `nrt_close`.
pub fn current() -> Result<Arc<Runtime>, NRT_STATUS> {
    Err(neuron_sys::NRT_UNINITIALIZED)
}
