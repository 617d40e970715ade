//! The raw libnrt API as the hand-written patterns use it: one loaded library, the
//! runtime, one model with a ring of tensor sets per thread, and a generation-neutral
//! way to schedule on the COMPUTE unit and learn what completed.
//!
//! This is the bench's only C edge besides the emulator counters: every `unsafe` call
//! into libnrt is here. The patterns above it are the loops a user would write.

use neuron_sys::{
    gen_a, gen_b, nrt_model_t, nrt_tensor_info_array_t, nrt_tensor_info_t, nrt_tensor_set_t,
    nrt_tensor_t, nrta_error_t, nrta_error_tracker_t, nrta_seq_t, AsyncFns, Generation, Libnrt,
    NRT_FRAMEWORK_TYPE_NO_FW, NRT_STATUS, NRT_SUCCESS, NRT_TENSOR_PLACEMENT_DEVICE,
    NRT_TENSOR_USAGE_INPUT,
};
use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// A status as text, for error messages.
pub fn status_text(s: NRT_STATUS) -> String {
    match neuron_sys::status_name(s) {
        Some(name) => format!("{name} ({s})"),
        None => format!("status {s}"),
    }
}

fn check(what: &str, s: NRT_STATUS) -> Result<(), String> {
    if s == NRT_SUCCESS {
        Ok(())
    } else {
        Err(format!("{what} failed: {}", status_text(s)))
    }
}

/// The loaded library and an initialised runtime.
pub struct Runtime {
    pub lib: Libnrt,
    pub generation: Generation,
    /// Where the library was loaded from (libnrtq loads the same one).
    pub path: std::path::PathBuf,
}

impl Runtime {
    /// Loads the library at `path`, checks it is generation `api`, and calls `nrt_init`.
    pub fn open(path: &Path, api: &str) -> Result<Runtime, String> {
        let lib = Libnrt::load_path(path).map_err(|e| e.to_string())?;
        let generation = lib
            .generation()
            .ok_or_else(|| format!("{} has no explicit async API", path.display()))?;
        if generation.as_str() != api {
            return Err(format!(
                "{} is SDK {generation}, not {api} ({})",
                path.display(),
                lib.detection()
            ));
        }
        // SAFETY: nrt_init takes two NUL-terminated strings, which the literals are.
        let s =
            unsafe { (lib.core.nrt_init)(NRT_FRAMEWORK_TYPE_NO_FW, c"".as_ptr(), c"".as_ptr()) };
        check("nrt_init", s)?;
        Ok(Runtime {
            lib,
            generation,
            path: path.to_path_buf(),
        })
    }

    /// The COMPUTE unit's number in this generation.
    pub fn compute_xu(&self) -> u32 {
        match self.generation {
            Generation::Sdk2_28 => gen_a::NRTA_XU_COMPUTE,
            _ => gen_b::NRTA_XU_COMPUTE,
        }
    }

    /// The last completed id on the COMPUTE unit of core 0 (`nrta_get_sequence`).
    pub fn last_completed(&self) -> Result<nrta_seq_t, NRT_STATUS> {
        let Some(asyncs) = &self.lib.asyncs else {
            return Err(neuron_sys::NRT_FAILURE);
        };
        let mut seq: nrta_seq_t = 0;
        // SAFETY: `seq` is a writable out-pointer.
        let s = unsafe { (asyncs.nrta_get_sequence())(0, self.compute_xu(), 0, &mut seq) };
        if s == NRT_SUCCESS {
            Ok(seq)
        } else {
            Err(s)
        }
    }

    /// Loads a model file onto logical core 0.
    pub fn load(&self, bytes: &[u8]) -> Result<Model, String> {
        let mut model: *mut nrt_model_t = std::ptr::null_mut();
        // SAFETY: `bytes` is readable for its length; `model` is a writable out-pointer.
        let s = unsafe {
            (self.lib.core.nrt_load)(bytes.as_ptr().cast(), bytes.len(), 0, -1, &mut model)
        };
        check("nrt_load", s)?;
        let mut info: *mut nrt_tensor_info_array_t = std::ptr::null_mut();
        // SAFETY: `model` was just loaded; `info` is a writable out-pointer.
        let s = unsafe { (self.lib.core.nrt_get_model_tensor_info)(model, &mut info) };
        check("nrt_get_model_tensor_info", s)?;
        let mut tensors = Vec::new();
        // SAFETY: on success the runtime returned an array of `tensor_count` entries that
        // stays valid until nrt_free_model_tensor_info, called below after copying.
        unsafe {
            let count = (*info).tensor_count as usize;
            let first: *const nrt_tensor_info_t = std::ptr::addr_of!((*info).tensor_array).cast();
            for i in 0..count {
                let t = &*first.add(i);
                let name = CStr::from_ptr(t.name.as_ptr()).to_owned();
                tensors.push(TensorDesc {
                    name,
                    size: t.size,
                    input: t.usage == NRT_TENSOR_USAGE_INPUT,
                });
            }
            (self.lib.core.nrt_free_model_tensor_info)(info);
        }
        Ok(Model {
            ptr: model,
            tensors,
        })
    }

    /// Allocates `count` pairs of input and output sets for `model`, inputs filled.
    pub fn ring(&self, model: &Model, count: usize) -> Result<Vec<Slot>, String> {
        (0..count).map(|_| self.slot(model)).collect()
    }

    fn slot(&self, model: &Model) -> Result<Slot, String> {
        let core = &self.lib.core;
        let mut slot = Slot {
            input: std::ptr::null_mut(),
            output: std::ptr::null_mut(),
            tensors: Vec::new(),
            status: AtomicU32::new(NRT_SUCCESS),
        };
        // SAFETY: out-pointers are writable fields of `slot`.
        check("nrt_allocate_tensor_set", unsafe {
            (core.nrt_allocate_tensor_set)(&mut slot.input)
        })?;
        // SAFETY: as above.
        check("nrt_allocate_tensor_set", unsafe {
            (core.nrt_allocate_tensor_set)(&mut slot.output)
        })?;
        for desc in &model.tensors {
            let mut t: *mut nrt_tensor_t = std::ptr::null_mut();
            // SAFETY: the name is NUL-terminated and `t` is a writable out-pointer.
            check("nrt_tensor_allocate", unsafe {
                (core.nrt_tensor_allocate)(
                    NRT_TENSOR_PLACEMENT_DEVICE,
                    0,
                    desc.size,
                    desc.name.as_ptr(),
                    &mut t,
                )
            })?;
            slot.tensors.push(t);
            if desc.input {
                // Inputs hold a recognisable, finite pattern (a float 1.0 per 4 bytes).
                let data: Vec<u8> = (0..desc.size)
                    .map(|i| [0u8, 0, 0x80, 0x3f][i % 4])
                    .collect();
                // SAFETY: `t` is a live tensor of `desc.size` bytes and `data` as long.
                check("nrt_tensor_write", unsafe {
                    (core.nrt_tensor_write)(t, data.as_ptr().cast(), 0, data.len())
                })?;
            }
            let set = if desc.input { slot.input } else { slot.output };
            // SAFETY: the set and tensor are live; the name is NUL-terminated.
            check("nrt_add_tensor_to_tensor_set", unsafe {
                (core.nrt_add_tensor_to_tensor_set)(set, desc.name.as_ptr(), t)
            })?;
        }
        Ok(slot)
    }

    /// Frees a ring.
    pub fn free_ring(&self, ring: Vec<Slot>) {
        for mut slot in ring {
            // SAFETY: each pointer came from the matching allocate call and is freed once;
            // no request using the slot is in flight (the pattern drained).
            unsafe {
                (self.lib.core.nrt_destroy_tensor_set)(&mut slot.input);
                (self.lib.core.nrt_destroy_tensor_set)(&mut slot.output);
                for mut t in slot.tensors.drain(..) {
                    (self.lib.core.nrt_tensor_free)(&mut t);
                }
            }
        }
    }

    /// A scheduler for one thread (in 2.28 it owns an error tracker).
    pub fn submitter<'r>(&'r self, model: &'r Model) -> Result<Submitter<'r>, String> {
        let mut tracker: *mut nrta_error_tracker_t = std::ptr::null_mut();
        if let Some(AsyncFns::GenA(a)) = &self.lib.asyncs {
            // SAFETY: `tracker` is a writable out-pointer.
            check("nrta_error_tracker_create", unsafe {
                (a.nrta_error_tracker_create)(0, &mut tracker)
            })?;
        }
        Ok(Submitter {
            rt: self,
            model,
            tracker,
            seen_errors: HashSet::new(),
        })
    }

    /// `nrt_execute`, blocking.
    pub fn execute(&self, model: &Model, slot: &Slot) -> NRT_STATUS {
        // SAFETY: the model and both sets are live for the call.
        unsafe { (self.lib.core.nrt_execute)(model.ptr, slot.input, slot.output) }
    }

    /// Unloads the model and closes the runtime.
    pub fn close(self, model: Model) {
        // SAFETY: the model is live and nothing is in flight on it.
        unsafe { (self.lib.core.nrt_unload)(model.ptr) };
        // SAFETY: nrt_close takes no arguments.
        unsafe { (self.lib.core.nrt_close)() };
    }
}

/// One input or output of a model.
pub struct TensorDesc {
    pub name: CString,
    pub size: usize,
    pub input: bool,
}

/// A loaded model.
pub struct Model {
    ptr: *mut nrt_model_t,
    pub tensors: Vec<TensorDesc>,
}

impl Model {
    /// The `nrt_model_t *`, as libnrtq takes it (`void *`).
    pub fn as_void(&self) -> *mut std::ffi::c_void {
        self.ptr.cast()
    }
}

// SAFETY: the model handle is a process-global runtime object; the runtime accepts it
// from any thread (the patterns' threads schedule on it concurrently, as the issue asks).
unsafe impl Sync for Model {}
// SAFETY: as above.
unsafe impl Send for Model {}

/// One request's tensor sets, and the status word the 2.29+ runtime writes at completion.
pub struct Slot {
    input: *mut nrt_tensor_set_t,
    output: *mut nrt_tensor_set_t,
    tensors: Vec<*mut nrt_tensor_t>,
    status: AtomicU32,
}

// SAFETY: the sets and tensors are runtime objects usable from any thread; a slot is used
// by one thread at a time (its ring's owner), and `status` is atomic.
unsafe impl Send for Slot {}
// SAFETY: as above.
unsafe impl Sync for Slot {}

impl Slot {
    /// The input set's address (libnrtq takes `void *`), as an integer that can cross
    /// threads.
    pub fn input_addr(&self) -> usize {
        self.input as usize
    }

    /// The output set's address, likewise.
    pub fn output_addr(&self) -> usize {
        self.output as usize
    }

    /// The final status of the last request scheduled with this slot (2.29+), once its
    /// completion has been observed through `nrta_get_sequence`.
    pub fn status(&self) -> NRT_STATUS {
        self.status.load(Ordering::Acquire)
    }
}

/// Schedules on COMPUTE queue 0 of core 0 from one thread and reads completions.
pub struct Submitter<'r> {
    rt: &'r Runtime,
    model: &'r Model,
    tracker: *mut nrta_error_tracker_t,
    seen_errors: HashSet<u64>,
}

/// What a status word holds before the runtime wrote it: not a defined code.
const UNWRITTEN: NRT_STATUS = 0xdead_beef;

impl Submitter<'_> {
    /// `nrta_execute_schedule`: the new sequence id, or the status (`NRT_QUEUE_FULL`
    /// when the unit has no room).
    pub fn schedule(&self, slot: &Slot) -> Result<nrta_seq_t, NRT_STATUS> {
        let mut seq: nrta_seq_t = 0;
        let s = match &self.rt.lib.asyncs {
            // SAFETY: model and sets are live until the request completes (the pattern
            // reuses a slot only after seeing it complete); the tracker is this thread's.
            Some(AsyncFns::GenA(a)) => unsafe {
                (a.nrta_execute_schedule)(
                    self.model.ptr,
                    slot.input,
                    slot.output,
                    0,
                    self.tracker,
                    &mut seq,
                )
            },
            Some(AsyncFns::GenB(b)) => {
                slot.status.store(UNWRITTEN, Ordering::Relaxed);
                // SAFETY: as above; `slot.status` outlives the request (the ring outlives
                // the run) and the runtime writes it once, as an int.
                unsafe {
                    (b.nrta_execute_schedule)(
                        self.model.ptr,
                        slot.input,
                        slot.output,
                        0,
                        slot.status.as_ptr(),
                        &mut seq,
                    )
                }
            }
            None => neuron_sys::NRT_FAILURE,
        };
        if s == NRT_SUCCESS {
            Ok(seq)
        } else {
            Err(s)
        }
    }

    /// The last completed id on the COMPUTE unit (`nrta_get_sequence`).
    pub fn completed(&self) -> Result<nrta_seq_t, NRT_STATUS> {
        self.rt.last_completed()
    }

    /// Errors of completed requests found since the last call: 2.28 reads this thread's
    /// tracker (whether the tracker clears on read is the runtime's choice, so entries
    /// are counted once by sequence id); 2.29+ reads the statuses of `retired` slots.
    pub fn new_errors(&mut self, retired: &[&Slot]) -> u64 {
        match &self.rt.lib.asyncs {
            Some(AsyncFns::GenA(a)) => {
                let mut list: *const nrta_error_t = std::ptr::null();
                let mut count = 0usize;
                // SAFETY: the tracker is live; both out-pointers are writable.
                let s =
                    unsafe { (a.nrta_error_tracker_get_list)(self.tracker, &mut list, &mut count) };
                if s != NRT_SUCCESS || list.is_null() {
                    return 0;
                }
                let mut new = 0;
                for i in 0..count {
                    // SAFETY: the tracker owns `count` entries at `list` until its next call.
                    let e = unsafe { &*list.add(i) };
                    if self.seen_errors.insert(e.seq_id) {
                        new += 1;
                    }
                }
                new
            }
            _ => retired
                .iter()
                .filter(|slot| slot.status() != NRT_SUCCESS)
                .count() as u64,
        }
    }
}

impl Drop for Submitter<'_> {
    fn drop(&mut self) {
        if let Some(AsyncFns::GenA(a)) = &self.rt.lib.asyncs {
            if !self.tracker.is_null() {
                // SAFETY: created in `Runtime::submitter`, destroyed once here.
                unsafe { (a.nrta_error_tracker_destroy)(self.tracker) };
            }
        }
    }
}
