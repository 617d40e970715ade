//! Shared helpers of the `emu_*` tests: the emulator's libnrt of the generation under test
//! (`NRT_EMU_API`), a lock serialising the tests of one binary (libnrt's state is per
//! process), models built with the emulator's Rust API, tensor sets for them, and
//! (in `completions`) ways to watch what a queue completes.
#![allow(dead_code, reason = "each test binary uses a different subset")]

mod completions;
#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub use completions::*;

use std::ffi::{CStr, CString};
use std::path::PathBuf;
use std::sync::OnceLock;

use neuron_sys::*;
use nrt_emu::model::{Dtype, ModelSpec};
use nrtq::{Handle, OpenOptions, Runtime, Work};
use parking_lot::{Mutex, MutexGuard};

static LOCK: Mutex<()> = Mutex::new(());

/// Serialise a test: nrt_init/nrt_close and the environment are process-wide.
pub fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock()
}

/// The emulator library of the generation under test.
pub fn library() -> PathBuf {
    let p = nrt_emu::library_path(&nrt_emu::selected_generation());
    assert!(
        p.exists(),
        "{} missing: run `cargo build --workspace` first",
        p.display()
    );
    p
}

/// The same library loaded through neuron-sys, for model and tensor calls.
pub fn lib() -> &'static Libnrt {
    static LIB: OnceLock<Libnrt> = OnceLock::new();
    LIB.get_or_init(|| Libnrt::load_path(&library()).expect("load the emulator"))
}

/// An nrtq runtime over the emulator that called nrt_init (with `vars` set during init).
pub fn open(vars: &[(&str, &str)]) -> Runtime {
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let rt = Runtime::open(&OpenOptions {
        library: Some(library()),
        init: true,
    });
    for (k, _) in vars {
        std::env::remove_var(k);
    }
    rt.expect("nrtq runtime over the emulator")
}

/// Load an f32 add model of `n` elements taking `time_ns`, with optional fault lines.
pub fn add_model(n: u32, time_ns: u64, faults: &[&str]) -> *mut nrt_model_t {
    let mut spec = ModelSpec::add_model("add", Dtype::F32, &[n]).time_ns(time_ns);
    for f in faults {
        spec = spec.fault(f);
    }
    let bytes = spec.to_bytes().expect("valid model");
    let mut m = std::ptr::null_mut();
    // SAFETY: `bytes` is alive for the call; `m` is writable.
    let s = unsafe { (lib().core.nrt_load)(bytes.as_ptr().cast(), bytes.len(), 0, -1, &mut m) };
    assert_eq!(s, NRT_SUCCESS, "nrt_load");
    m
}

pub fn unload(m: *mut nrt_model_t) {
    // SAFETY: a model from nrt_load, unloaded once.
    assert_eq!(unsafe { (lib().core.nrt_unload)(m) }, NRT_SUCCESS);
}

fn tensor(bytes: usize, name: &CStr) -> *mut nrt_tensor_t {
    let mut t = std::ptr::null_mut();
    // SAFETY: valid arguments; `t` writable.
    let s = unsafe {
        (lib().core.nrt_tensor_allocate)(
            NRT_TENSOR_PLACEMENT_DEVICE,
            0,
            bytes,
            name.as_ptr(),
            &mut t,
        )
    };
    assert_eq!(s, NRT_SUCCESS, "nrt_tensor_allocate");
    t
}

/// One execution's tensors for the add model: a[i] = k + i, b[i] = 2i, out.
pub struct Io {
    pub k: f32,
    pub n: usize,
    pub tensors: [*mut nrt_tensor_t; 3],
    pub inputs: *mut nrt_tensor_set_t,
    pub outputs: *mut nrt_tensor_set_t,
}

// SAFETY: the pointers are libnrt handles usable from any thread; tests hand an Io to one
// request at a time.
unsafe impl Send for Io {}
// SAFETY: as above; shared use only reads the handles.
unsafe impl Sync for Io {}

impl Io {
    pub fn new(n: usize, k: f32) -> Io {
        let c = &lib().core;
        let names = [c"a", c"b", c"out"];
        let tensors = names.map(|nm| tensor(n * 4, nm));
        let (mut inputs, mut outputs) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: valid arguments throughout; the tensors outlive the sets (freed in Drop).
        unsafe {
            assert_eq!((c.nrt_allocate_tensor_set)(&mut inputs), NRT_SUCCESS);
            assert_eq!((c.nrt_allocate_tensor_set)(&mut outputs), NRT_SUCCESS);
            assert_eq!(
                (c.nrt_add_tensor_to_tensor_set)(inputs, c"a".as_ptr(), tensors[0]),
                NRT_SUCCESS
            );
            assert_eq!(
                (c.nrt_add_tensor_to_tensor_set)(inputs, c"b".as_ptr(), tensors[1]),
                NRT_SUCCESS
            );
            assert_eq!(
                (c.nrt_add_tensor_to_tensor_set)(outputs, c"out".as_ptr(), tensors[2]),
                NRT_SUCCESS
            );
        }
        let io = Io {
            k,
            n,
            tensors,
            inputs,
            outputs,
        };
        let a: Vec<f32> = (0..n).map(|i| k + i as f32).collect();
        let b: Vec<f32> = (0..n).map(|i| 2.0 * i as f32).collect();
        io.write(0, &a);
        io.write(1, &b);
        io.write(2, &vec![-1.0; n]);
        io
    }

    fn write(&self, which: usize, v: &[f32]) {
        // SAFETY: the buffer holds v.len()*4 bytes, the tensor as many.
        let s = unsafe {
            (lib().core.nrt_tensor_write)(self.tensors[which], v.as_ptr().cast(), 0, v.len() * 4)
        };
        assert_eq!(s, NRT_SUCCESS);
    }

    pub fn work(&self) -> Work {
        Work {
            input: Handle(self.inputs as usize),
            output: Handle(self.outputs as usize),
        }
    }

    /// Whether `out` holds a + b.
    pub fn output_ok(&self) -> bool {
        let mut out = vec![0f32; self.n];
        // SAFETY: the buffer holds n*4 bytes, the tensor as many.
        let s = unsafe {
            (lib().core.nrt_tensor_read)(self.tensors[2], out.as_mut_ptr().cast(), 0, self.n * 4)
        };
        s == NRT_SUCCESS
            && out
                .iter()
                .enumerate()
                .all(|(i, &o)| o == self.k + 3.0 * i as f32)
    }

    /// Reset the output to -1 so the next check sees fresh results.
    pub fn clear_output(&self) {
        self.write(2, &vec![-1.0; self.n]);
    }
}

impl Drop for Io {
    fn drop(&mut self) {
        let c = &lib().core;
        // SAFETY: sets and tensors from this Io, each freed once, sets first.
        unsafe {
            (c.nrt_destroy_tensor_set)(&mut self.inputs);
            (c.nrt_destroy_tensor_set)(&mut self.outputs);
            for t in &mut self.tensors {
                (c.nrt_tensor_free)(t);
            }
        }
    }
}

/// The generation name as nrtq reports it.
pub fn generation() -> String {
    nrt_emu::selected_generation()
}

pub fn cstring(s: &str) -> CString {
    CString::new(s).unwrap()
}
