//! The device over a real (or emulated) libnrt, loaded through `neuron-sys`: runtime
//! init/close, version, and per-generation channels ([`gen_a`], [`gen_b`]).
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use neuron_sys::{nrt_model_info_t, Generation, Libnrt, NRT_FRAMEWORK_TYPE_NO_FW};

use super::gen_a::GenA;
use super::gen_b::GenB;
use super::memory::NrtMemory;
use super::tensors::{Checked, ModelTensors};
use super::{
    ChainModel, Channel, Device, Generation as AsyncGeneration, Handle, Memory, ModelIo, Unit,
};
use crate::log::{log, Level};
use crate::status::{Error, Result, Status};

/// A loaded libnrt and what nrtq set up on it.
pub struct NrtDevice {
    lib: Libnrt,
    generation: Generation,
    /// nrtq called `nrt_init`, so it calls `nrt_close` at shutdown.
    owns_init: AtomicBool,
}

impl NrtDevice {
    /// Load libnrt (from `path`, or by `neuron-sys`'s search order) and, if `init`, call
    /// `nrt_init` for the caller.
    pub fn load(path: Option<&Path>, init: bool) -> Result<Arc<NrtDevice>> {
        let lib = match path {
            Some(p) => Libnrt::load_path(p),
            None => Libnrt::load(),
        }
        .map_err(|e| Error::new(Status::LoadFailed, e.to_string()))?;
        let Some(generation) = lib.generation() else {
            return Err(Error::new(
                Status::Unsupported,
                format!(
                    "libnrt from {} has no explicit async API ({})",
                    lib.origin(),
                    lib.detection()
                ),
            ));
        };
        log!(
            Level::Info,
            "libnrt from {}: async generation {generation} ({})",
            lib.origin(),
            lib.detection()
        );
        let dev = NrtDevice {
            lib,
            generation,
            owns_init: AtomicBool::new(false),
        };
        if init {
            // SAFETY: nrt_init takes a framework value and two NUL-terminated strings, which
            // the C-string literals are.
            let st = unsafe {
                (dev.lib.core.nrt_init)(NRT_FRAMEWORK_TYPE_NO_FW, c"".as_ptr(), c"".as_ptr())
            };
            if st != 0 {
                return Err(Error::nrt(
                    Status::Runtime,
                    st,
                    format!("nrt_init failed with NRT status {st}"),
                ));
            }
            dev.owns_init.store(true, Ordering::SeqCst);
        }
        Ok(Arc::new(dev))
    }

    /// The logical core `model` is loaded on.
    fn model_lnc(&self, model: Handle) -> Result<u32> {
        let mut info = nrt_model_info_t::default();
        let mut written = 0usize;
        // SAFETY: `model` is the caller's nrt_model_t pointer (checked non-NULL by the
        // caller; libnrt validates it); `info` and `written` are live and writable, and
        // the size passed is that of `info`.
        let st = unsafe {
            (self.lib.core.nrt_get_model_info)(
                model.0 as *const neuron_sys::nrt_model_t,
                &mut info,
                std::mem::size_of::<nrt_model_info_t>(),
                &mut written,
            )
        };
        if st != 0 {
            return Err(Error::nrt(
                Status::Runtime,
                st,
                format!("nrt_get_model_info failed with NRT status {st}"),
            ));
        }
        Ok(info.vnc)
    }
}

impl Device for NrtDevice {
    fn open_channel(&self, model: Handle, depth: usize) -> Result<Box<dyn Channel>> {
        self.open_unit(model, Unit::Compute, depth)
    }

    fn open_unit(&self, model: Handle, unit: Unit, depth: usize) -> Result<Box<dyn Channel>> {
        if model.0 == 0 {
            return Err(Error::new(Status::NullArgument, "model is NULL"));
        }
        let lnc = self.model_lnc(model)?;
        match (&self.lib.asyncs, self.generation) {
            (Some(neuron_sys::AsyncFns::GenA(f)), _) => Ok(Box::new(Checked::new(
                GenA::open(*f, model, lnc, unit)?,
                self.lib.core,
                model,
            ))),
            (Some(neuron_sys::AsyncFns::GenB(f)), g) => {
                let events = match (&f.events, g) {
                    (Some(ev), Generation::Sdk2_30) => Some(*ev),
                    _ => None,
                };
                Ok(Box::new(Checked::new(
                    GenB::open(*f, model, lnc, unit, depth, events),
                    self.lib.core,
                    model,
                )))
            }
            (None, _) => Err(Error::new(
                Status::Unsupported,
                "libnrt has no explicit async API",
            )),
        }
    }

    fn model_io(&self, model: Handle) -> Result<ModelIo> {
        if model.0 == 0 {
            return Err(Error::new(Status::NullArgument, "model is NULL"));
        }
        ModelTensors::learn(self.lib.core, model)
            .map(|t| t.io())
            .ok_or_else(|| {
                Error::new(
                    Status::Runtime,
                    "nrt_get_model_tensor_info refused to describe the model",
                )
            })
    }

    fn alloc_slots(&self, chain: &[ChainModel], count: usize) -> Result<Box<dyn Memory>> {
        let first = chain
            .first()
            .ok_or_else(|| Error::new(Status::InvalidArgument, "a pipeline needs a model"))?;
        let lnc = self.model_lnc(first.model)?;
        Ok(Box::new(NrtMemory::allocate(
            self.lib.core,
            lnc,
            chain,
            count,
        )?))
    }

    fn generation(&self) -> AsyncGeneration {
        self.generation.into()
    }

    fn version(&self) -> String {
        match &self.lib.version {
            Some(v) => format!(
                "{}.{}.{}.{}",
                v.rt_major, v.rt_minor, v.rt_patch, v.rt_maintenance
            ),
            None => "unknown".into(),
        }
    }

    fn owns_runtime(&self) -> bool {
        self.owns_init.load(Ordering::SeqCst)
    }

    fn visible_cores(&self) -> Result<u32> {
        let mut n = 0u32;
        // SAFETY: `n` is a live, writable u32.
        let st = unsafe { (self.lib.core.nrt_get_visible_vnc_count)(&mut n) };
        if st != 0 {
            return Err(Error::nrt(
                Status::Runtime,
                st,
                format!(
                    "nrt_get_visible_vnc_count failed with NRT status {st}; is libnrt initialised?"
                ),
            ));
        }
        Ok(n)
    }

    fn load_model(&self, neff: &[u8], lnc: u32) -> Result<Handle> {
        let mut model = std::ptr::null_mut();
        // SAFETY: `neff` is alive for the call and its length is passed with it; `model`
        // is a live out-pointer. One core from `lnc`.
        let st = unsafe {
            (self.lib.core.nrt_load)(neff.as_ptr().cast(), neff.len(), lnc as i32, 1, &mut model)
        };
        if st != 0 || model.is_null() {
            return Err(Error::nrt(
                Status::Runtime,
                st,
                format!("nrt_load on logical core {lnc} failed with NRT status {st}"),
            ));
        }
        Ok(Handle(model as usize))
    }

    fn unload_model(&self, model: Handle) {
        // SAFETY: a model this device loaded, unloaded once (by the pool that loaded it).
        let st = unsafe { (self.lib.core.nrt_unload)(model.0 as *mut neuron_sys::nrt_model_t) };
        if st != 0 {
            log!(Level::Warn, "nrt_unload failed with NRT status {st}");
        }
    }

    fn shutdown(&self) {
        if self.owns_init.swap(false, Ordering::SeqCst) {
            // SAFETY: nrt_close takes no arguments; nrtq called nrt_init, and every queue
            // (hence every use of the runtime by nrtq) is gone.
            unsafe { (self.lib.core.nrt_close)() };
        }
    }
}
