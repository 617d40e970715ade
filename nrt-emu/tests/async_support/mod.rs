//! Shared helpers of the `async_*` tests: the emulator library of the generation under
//! test (`NRT_EMU_API`), loaded once per test binary through neuron-sys, a lock that
//! serialises tests (the runtime is per process), and small wrappers that hide which
//! generation's schedule calls are used.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use neuron_sys::*;
use nrt_emu::model::{Dtype, ModelSpec};
use nrt_emu::observe::{nrtemu_config_t, nrtemu_xu_stats_t};
use parking_lot::{Mutex, MutexGuard};
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

type GetXuStats = unsafe extern "C" fn(u32, u32, c_int, *mut nrtemu_xu_stats_t) -> NRT_STATUS;
type GetConfig = unsafe extern "C" fn(*mut nrtemu_config_t) -> NRT_STATUS;
type NoArgs = unsafe extern "C" fn() -> NRT_STATUS;
type OutU64 = unsafe extern "C" fn(*mut u64) -> NRT_STATUS;
type CompletionTime = unsafe extern "C" fn(u64, *mut u64, *mut u64) -> NRT_STATUS;

/// The loaded library and the emulator-only functions.
pub struct Emu {
    pub lib: Libnrt,
    pub gen: Generation,
    pub get_xu_stats: unsafe extern "C" fn(u32, u32, c_int, *mut nrtemu_xu_stats_t) -> NRT_STATUS,
    pub get_config: unsafe extern "C" fn(*mut nrtemu_config_t) -> NRT_STATUS,
    pub reset_stats: unsafe extern "C" fn() -> NRT_STATUS,
    pub thread_cpu_ns: unsafe extern "C" fn(*mut u64) -> NRT_STATUS,
    pub completion_time: unsafe extern "C" fn(u64, *mut u64, *mut u64) -> NRT_STATUS,
}

static LOCK: Mutex<()> = Mutex::new(());

/// Serialise a test: init/close and the environment are process-wide.
pub fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock()
}

/// The emulator library under test.
pub fn emu() -> &'static Emu {
    static EMU: OnceLock<Emu> = OnceLock::new();
    EMU.get_or_init(|| {
        let gen_name = nrt_emu::selected_generation();
        let path = nrt_emu::library_path(&gen_name);
        let lib = Libnrt::load_path(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run `cargo build --workspace` first)",
                path.display()
            )
        });
        let gen = lib.generation().expect("the emulator has an async API");
        assert_eq!(gen.to_string(), gen_name, "detected generation");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: the library is already loaded (RTLD_NOLOAD only returns its handle).
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
        assert!(!h.is_null(), "library handle");
        let sym = |name: &std::ffi::CStr| {
            // SAFETY: `h` is an open handle and `name` is NUL-terminated.
            let p = unsafe { libc::dlsym(h, name.as_ptr()) };
            assert!(!p.is_null(), "{name:?} is exported");
            p
        };
        // SAFETY: each symbol is the emulator function with exactly this prototype
        // (nrt_emu.h).
        unsafe {
            Emu {
                get_xu_stats: std::mem::transmute::<*mut c_void, GetXuStats>(sym(
                    c"nrtemu_get_xu_stats",
                )),
                get_config: std::mem::transmute::<*mut c_void, GetConfig>(sym(
                    c"nrtemu_get_config",
                )),
                reset_stats: std::mem::transmute::<*mut c_void, NoArgs>(sym(c"nrtemu_reset_stats")),
                thread_cpu_ns: std::mem::transmute::<*mut c_void, OutU64>(sym(
                    c"nrtemu_get_thread_cpu_ns",
                )),
                completion_time: std::mem::transmute::<*mut c_void, CompletionTime>(sym(
                    c"nrtemu_get_completion_time",
                )),
                lib,
                gen,
            }
        }
    })
}

/// Run `f` with the given `NRT_EMU_*` variables set for one `nrt_init` .. `nrt_close`.
pub struct Session;

impl Session {
    /// `nrt_init` with `vars` set (they are read at init and removed right after).
    pub fn start(vars: &[(&str, &str)]) -> Session {
        let e = emu();
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
        // SAFETY: valid framework value and NUL-terminated strings.
        let s =
            unsafe { (e.lib.core.nrt_init)(NRT_FRAMEWORK_TYPE_NO_FW, c"".as_ptr(), c"".as_ptr()) };
        for (k, _) in vars {
            std::env::remove_var(k);
        }
        assert_eq!(s, NRT_SUCCESS, "nrt_init");
        Session
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: no arguments.
        unsafe { (emu().lib.core.nrt_close)() };
    }
}

/// The generation-neutral XU kinds as the loaded generation numbers them.
pub fn xu_compute() -> nrta_xu_t {
    match emu().gen {
        Generation::Sdk2_28 => gen_a::NRTA_XU_COMPUTE,
        _ => gen_b::NRTA_XU_COMPUTE,
    }
}

/// The XU that runs tensor writes.
pub fn xu_write() -> nrta_xu_t {
    match emu().gen {
        Generation::Sdk2_28 => gen_a::NRTA_XU_TENSOR_WRITE,
        _ => gen_b::NRTA_XU_TENSOR_OP,
    }
}

pub fn is_gen_a() -> bool {
    emu().gen == Generation::Sdk2_28
}

pub fn has_events() -> bool {
    emu().gen == Generation::Sdk2_30
}

pub fn stats(lnc: u32, xu: nrta_xu_t, queue: c_int) -> nrtemu_xu_stats_t {
    let mut s = nrtemu_xu_stats_t {
        struct_size: std::mem::size_of::<nrtemu_xu_stats_t>() as u32,
        ..Default::default()
    };
    // SAFETY: `s` is writable and carries its size.
    let r = unsafe { (emu().get_xu_stats)(lnc, xu, queue, &mut s) };
    assert_eq!(r, NRT_SUCCESS, "nrtemu_get_xu_stats");
    s
}

pub fn config() -> nrtemu_config_t {
    let mut c = nrtemu_config_t {
        struct_size: std::mem::size_of::<nrtemu_config_t>() as u32,
        ..Default::default()
    };
    // SAFETY: `c` is writable and carries its size.
    assert_eq!(unsafe { (emu().get_config)(&mut c) }, NRT_SUCCESS);
    c
}

/// Load a model built with the emulator's Rust API.
pub fn load(spec: &ModelSpec) -> *mut nrt_model_t {
    let bytes = spec.to_bytes().expect("valid model");
    let mut m = std::ptr::null_mut();
    // SAFETY: `bytes` is alive for the call; `m` is writable.
    let s = unsafe { (emu().lib.core.nrt_load)(bytes.as_ptr().cast(), bytes.len(), 0, -1, &mut m) };
    assert_eq!(s, NRT_SUCCESS, "nrt_load");
    m
}

/// An f32 add model of `n` elements taking `time_ns`, with optional fault lines.
pub fn add_model(name: &str, n: u32, time_ns: u64, faults: &[&str]) -> ModelSpec {
    let mut s = ModelSpec::add_model(name, Dtype::F32, &[n]).time_ns(time_ns);
    for f in faults {
        s = s.fault(f);
    }
    s
}

/// A device tensor on core 0.
pub fn tensor(size: usize, name: &std::ffi::CStr) -> *mut nrt_tensor_t {
    let mut t = std::ptr::null_mut();
    // SAFETY: valid arguments; `t` is writable.
    let s = unsafe {
        (emu().lib.core.nrt_tensor_allocate)(
            NRT_TENSOR_PLACEMENT_DEVICE,
            0,
            size,
            name.as_ptr(),
            &mut t,
        )
    };
    assert_eq!(s, NRT_SUCCESS, "nrt_tensor_allocate");
    t
}

/// Tensors and sets for one execution of an add model with `n` elements: inputs a, b
/// filled with `a[i] = i`, `b[i] = 2i`; output "out".
pub struct AddIo {
    pub a: *mut nrt_tensor_t,
    pub b: *mut nrt_tensor_t,
    pub out: *mut nrt_tensor_t,
    pub inputs: *mut nrt_tensor_set_t,
    pub outputs: *mut nrt_tensor_set_t,
    pub n: usize,
}

impl AddIo {
    pub fn new(model: *mut nrt_model_t, n: usize) -> AddIo {
        let e = &emu().lib.core;
        // Names come from the model's tensor info, so the test follows the core's format.
        let mut info = std::ptr::null_mut();
        // SAFETY: valid model; `info` writable.
        assert_eq!(
            // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
            unsafe { (e.nrt_get_model_tensor_info)(model, &mut info) },
            NRT_SUCCESS
        );
        // SAFETY: the array holds tensor_count entries right after the count.
        let entries = unsafe {
            std::slice::from_raw_parts((*info).tensor_array.as_ptr(), (*info).tensor_count as usize)
        };
        let mut names_in = Vec::new();
        let mut name_out = None;
        for t in entries {
            // SAFETY: the name is a NUL-terminated array.
            let name = unsafe { std::ffi::CStr::from_ptr(t.name.as_ptr()) }.to_owned();
            if t.usage == NRT_TENSOR_USAGE_INPUT {
                names_in.push(name);
            } else {
                name_out = Some(name);
            }
        }
        // SAFETY: allocated by nrt_get_model_tensor_info, freed once.
        unsafe { (e.nrt_free_model_tensor_info)(info) };
        assert_eq!(names_in.len(), 2);
        let a = tensor(n * 4, &names_in[0]);
        let b = tensor(n * 4, &names_in[1]);
        let out = tensor(n * 4, name_out.as_ref().unwrap());
        let mut inputs = std::ptr::null_mut();
        let mut outputs = std::ptr::null_mut();
        // SAFETY: valid arguments throughout.
        unsafe {
            assert_eq!((e.nrt_allocate_tensor_set)(&mut inputs), NRT_SUCCESS);
            assert_eq!((e.nrt_allocate_tensor_set)(&mut outputs), NRT_SUCCESS);
            assert_eq!(
                (e.nrt_add_tensor_to_tensor_set)(inputs, names_in[0].as_ptr(), a),
                NRT_SUCCESS
            );
            assert_eq!(
                (e.nrt_add_tensor_to_tensor_set)(inputs, names_in[1].as_ptr(), b),
                NRT_SUCCESS
            );
            assert_eq!(
                (e.nrt_add_tensor_to_tensor_set)(outputs, name_out.unwrap().as_ptr(), out),
                NRT_SUCCESS
            );
        }
        let io = AddIo {
            a,
            b,
            out,
            inputs,
            outputs,
            n,
        };
        let av: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let bv: Vec<f32> = (0..n).map(|i| 2.0 * i as f32).collect();
        io.write(a, &av);
        io.write(b, &bv);
        io
    }

    pub fn write(&self, t: *mut nrt_tensor_t, v: &[f32]) {
        // SAFETY: `v` holds the bytes written; the tensor is live.
        let s = unsafe { (emu().lib.core.nrt_tensor_write)(t, v.as_ptr().cast(), 0, v.len() * 4) };
        assert_eq!(s, NRT_SUCCESS);
    }

    pub fn read_out(&self) -> Vec<f32> {
        let mut v = vec![0f32; self.n];
        // SAFETY: `v` has room for the bytes read; the tensor is live.
        let s = unsafe {
            (emu().lib.core.nrt_tensor_read)(self.out, v.as_mut_ptr().cast(), 0, self.n * 4)
        };
        assert_eq!(s, NRT_SUCCESS);
        v
    }
}

/// Where a scheduled request's status goes, whichever the generation.
pub struct Sched {
    pub tracker: *mut nrta_error_tracker_t,
}

impl Sched {
    /// 2.28: a tracker on core 0; 2.29+: nothing to set up.
    pub fn new() -> Sched {
        let mut tracker = std::ptr::null_mut();
        if let Some(a) = emu().lib.gen_a() {
            // SAFETY: `tracker` is writable.
            assert_eq!(
                // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
                unsafe { (a.nrta_error_tracker_create)(0, &mut tracker) },
                NRT_SUCCESS
            );
        }
        Sched { tracker }
    }

    /// Schedule an execution; `ret` is used in 2.29+ only.
    pub fn execute(
        &self,
        m: *mut nrt_model_t,
        io: &AddIo,
        ret: *mut NRT_STATUS,
    ) -> Result<nrta_seq_t, NRT_STATUS> {
        let mut seq = 0;
        // SAFETY: valid handles; `seq` and `ret` outlive the request (callers keep `ret`
        // alive until completion).
        let s = unsafe {
            match (emu().lib.gen_a(), emu().lib.gen_b()) {
                (Some(a), _) => {
                    (a.nrta_execute_schedule)(m, io.inputs, io.outputs, 0, self.tracker, &mut seq)
                }
                (_, Some(b)) => {
                    (b.nrta_execute_schedule)(m, io.inputs, io.outputs, 0, ret, &mut seq)
                }
                _ => unreachable!(),
            }
        };
        if s == NRT_SUCCESS {
            Ok(seq)
        } else {
            Err(s)
        }
    }

    /// Schedule a write of `buf` into `t` on queue `queue`.
    pub fn write(
        &self,
        t: *mut nrt_tensor_t,
        buf: &[u8],
        queue: c_int,
        ret: *mut NRT_STATUS,
    ) -> Result<nrta_seq_t, NRT_STATUS> {
        let mut seq = 0;
        // SAFETY: as in `execute`; `buf` outlives the request (the callers wait).
        let s = unsafe {
            match (emu().lib.gen_a(), emu().lib.gen_b()) {
                (Some(a), _) => (a.nrta_tensor_write)(
                    t,
                    buf.as_ptr().cast(),
                    0,
                    buf.len() as u64,
                    queue,
                    self.tracker,
                    &mut seq,
                ),
                (_, Some(b)) => (b.nrta_tensor_write)(
                    t,
                    buf.as_ptr().cast(),
                    0,
                    buf.len() as u64,
                    0,
                    queue,
                    ret,
                    &mut seq,
                ),
                _ => unreachable!(),
            }
        };
        if s == NRT_SUCCESS {
            Ok(seq)
        } else {
            Err(s)
        }
    }

    /// 2.28: the tracker's entries since the last call.
    pub fn errors(&self) -> Vec<nrta_error_t> {
        let a = emu().lib.gen_a().expect("2.28 only");
        let mut list = std::ptr::null();
        let mut n = 0usize;
        // SAFETY: live tracker; `list`/`n` writable.
        assert_eq!(
            // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
            unsafe { (a.nrta_error_tracker_get_list)(self.tracker, &mut list, &mut n) },
            NRT_SUCCESS
        );
        if n == 0 {
            return Vec::new();
        }
        // SAFETY: the tracker hands out `n` entries valid until the next call.
        unsafe { std::slice::from_raw_parts(list, n) }.to_vec()
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        if let Some(a) = emu().lib.gen_a() {
            // SAFETY: destroying our own tracker once.
            unsafe { (a.nrta_error_tracker_destroy)(self.tracker) };
        }
    }
}

/// The last completed id on (lnc, xu, queue).
pub fn last(lnc: u32, xu: nrta_xu_t, queue: c_int) -> nrta_seq_t {
    let mut s = 0;
    // SAFETY: `s` is writable.
    let r =
        unsafe { (emu().lib.asyncs.as_ref().unwrap().nrta_get_sequence())(lnc, xu, queue, &mut s) };
    assert_eq!(r, NRT_SUCCESS);
    s
}

/// Whether `seq` completed.
pub fn done(seq: nrta_seq_t) -> bool {
    let mut b = false;
    // SAFETY: `b` is writable.
    let r = unsafe { (emu().lib.asyncs.as_ref().unwrap().nrta_is_completed())(seq, &mut b) };
    assert_eq!(r, NRT_SUCCESS);
    b
}

/// Wait (polling, bounded) until `seq` completed.
pub fn wait(seq: nrta_seq_t) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done(seq) {
        assert!(
            std::time::Instant::now() < deadline,
            "request 0x{seq:x} never completed"
        );
        std::thread::yield_now();
    }
}

/// Whether `fd` is readable now.
pub fn readable(fd: c_int, timeout_ms: c_int) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    r == 1 && p.revents & libc::POLLIN != 0
}
