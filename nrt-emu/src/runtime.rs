//! Runtime lifecycle: `nrt_init`/`nrt_close`, the running [`Runtime`] (device, models'
//! memory, configuration), and the version facts of each generation. The environment
//! is read by `config`; errors and messages are `error`'s.
//!
//! Lifecycle (choices where the vendor is silent; README.md lists them too):
//! - Before the first `nrt_init`, calls return `NRT_UNINITIALIZED`; after `nrt_close`,
//!   `NRT_CLOSED` (the vendor header's codes). Exempt: version, status strings, the
//!   four core counts and instance info work at any time.
//! - A second `nrt_init` while initialised fails with `NRT_FAILURE` and changes nothing.
//! - `nrt_init` after `nrt_close` starts a fresh runtime (new device, sequence numbers
//!   from the start); handles from before the close stay dead.
//! - `nrt_close` first stops accepting calls, then lets the device complete everything
//!   already scheduled (`Device::shutdown`), then forgets every model, tensor and set.

// The generation libraries (`gen-*/src/lib.rs`) name these through `runtime`.
pub use crate::config::{set_generation, Generation};

use crate::config::{self, Config};
use crate::device::Device;
use crate::error::{warn, Failure};
use crate::model;
use crate::tensor::{self, MemoryAccount};
use neuron_sys::{
    nrt_framework_type_t, NRT_CLOSED, NRT_FAILURE, NRT_FRAMEWORK_TYPE_NO_FW,
    NRT_FRAMEWORK_TYPE_PRECHECK, NRT_STATUS, NRT_UNINITIALIZED,
};
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------
// Version facts

/// `(rt_major, rt_minor, rt_patch, rt_maintenance)` of the libnrt each SDK shipped.
pub fn version_numbers(g: Generation) -> (u64, u64, u64, u64) {
    match g {
        Generation::Sdk2_28 => (2, 30, 50, 0),
        Generation::Sdk2_29 => (2, 31, 24, 0),
        Generation::Sdk2_30 => (2, 32, 31, 0),
    }
}

/// The `rt_detail` text of `nrt_get_version`.
pub fn version_detail(g: Generation) -> String {
    let (a, b, c, d) = version_numbers(g);
    format!(
        "nrt-emu {} (software libnrt, no device): SDK {} async API, as libnrt {a}.{b}.{c}.{d}",
        env!("CARGO_PKG_VERSION"),
        g.as_str()
    )
}

// ---------------------------------------------------------------------------------------
// Core counts at any time

/// The visible core count now: the running runtime's, or what `nrt_init` would choose.
pub fn visible_cores() -> Result<u32, Failure> {
    if let Ok(rt) = current() {
        return Ok(rt.config.visible_cores);
    }
    config::visible_cores_from_env()
}

/// The total core count now: the running runtime's, or the environment's.
pub fn total_cores_now() -> Result<u32, Failure> {
    match current() {
        Ok(rt) => Ok(rt.config.total_cores),
        Err(_) => config::total_cores(),
    }
}

// ---------------------------------------------------------------------------------------
// The runtime and its lifecycle

/// The emulated runtime between `nrt_init` and `nrt_close`.
pub struct Runtime {
    /// The emulated device: XU queues, timelines, completion release.
    pub device: Device,
    /// What `nrt_init` read.
    pub config: Config,
    /// Device memory in use per core.
    pub memory: Arc<MemoryAccount>,
}

enum Phase {
    Uninitialized,
    Running(Arc<Runtime>),
    Closed,
}

static PHASE: RwLock<Phase> = RwLock::new(Phase::Uninitialized);
/// Serialises `nrt_init` and `nrt_close` against each other.
static LIFECYCLE: Mutex<()> = Mutex::new(());

/// The runtime if initialised: `NRT_UNINITIALIZED` before `nrt_init`, `NRT_CLOSED` after `nrt_close`.
pub fn current() -> Result<Arc<Runtime>, NRT_STATUS> {
    match &*PHASE.read() {
        Phase::Running(rt) => Ok(rt.clone()),
        Phase::Uninitialized => Err(NRT_UNINITIALIZED),
        Phase::Closed => Err(NRT_CLOSED),
    }
}

/// `nrt_init`.
pub fn init(framework: nrt_framework_type_t) -> Result<(), Failure> {
    let _l = LIFECYCLE.lock();
    if matches!(&*PHASE.read(), Phase::Running(_)) {
        return Err(Failure::new(
            NRT_FAILURE,
            "the runtime is already initialised (call nrt_close first)".into(),
        ));
    }
    if let Some(m) = config::generation_mismatch() {
        return Err(Failure::new(NRT_FAILURE, m));
    }
    if !(NRT_FRAMEWORK_TYPE_NO_FW..=NRT_FRAMEWORK_TYPE_PRECHECK).contains(&framework) {
        return Err(Failure::invalid(format!(
            "framework type {framework} is not a valid nrt_framework_type_t"
        )));
    }
    let config = Config::from_env(framework)?;
    if config::env("NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS").is_some_and(|v| v.trim() != "0") {
        warn("NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS is set: the legacy implicit async mode is not emulated; nrt_execute stays synchronous");
    }
    let memory = Arc::new(MemoryAccount::new(
        config.visible_cores,
        config.core_memory_bytes,
    ));
    let device = Device::new(&config)?;
    *PHASE.write() = Phase::Running(Arc::new(Runtime {
        device,
        config,
        memory,
    }));
    Ok(())
}

/// `nrt_close`: a no-op unless initialised.
pub fn close() {
    let _l = LIFECYCLE.lock();
    let rt = {
        let mut phase = PHASE.write();
        if !matches!(&*phase, Phase::Running(_)) {
            return;
        }
        match std::mem::replace(&mut *phase, Phase::Closed) {
            Phase::Running(rt) => rt,
            _ => return,
        }
    };
    rt.device.shutdown();
    model::clear_all();
    tensor::clear_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_per_generation() {
        assert_eq!(version_numbers(Generation::Sdk2_28).1, 30);
        assert_eq!(version_numbers(Generation::Sdk2_29).1, 31);
        assert_eq!(version_numbers(Generation::Sdk2_30).1, 32);
        assert!(version_detail(Generation::Sdk2_29).contains("SDK 2.29"));
        assert!(version_detail(Generation::Sdk2_29).len() < neuron_sys::RT_VERSION_DETAIL_LEN);
    }
}
