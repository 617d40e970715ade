//! Shared by the `core_*` tests: the emulator library of the generation under test
//! (`NRT_EMU_API`, default 2.28), loaded once per test process through `neuron-sys`,
//! a lock that serialises every test touching the runtime's global state, and helpers.
#![allow(dead_code)]

use neuron_sys::*;
use std::ffi::{c_void, CString};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The loaded library and a raw handle for the entry points `CoreFns` does not list.
pub struct Emu {
    pub lib: Libnrt,
    raw: usize,
    pub generation: Generation,
}

/// The library under test (loaded on first use).
pub fn emu() -> &'static Emu {
    static EMU: OnceLock<Emu> = OnceLock::new();
    EMU.get_or_init(|| {
        let name = nrt_emu::selected_generation();
        let path = nrt_emu::library_path(&name);
        let lib = Libnrt::load_path(&path).unwrap_or_else(|e| {
            panic!(
                "load {}: {e} (run `cargo build --workspace` first)",
                path.display()
            )
        });
        let c = CString::new(path.to_str().expect("utf-8 path")).unwrap();
        // SAFETY: RTLD_NOLOAD only returns the handle of the library already loaded above.
        let raw = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
        assert!(!raw.is_null(), "library is loaded");
        Emu {
            lib,
            raw: raw as usize,
            generation: Generation::from_name(&name).expect("NRT_EMU_API names a generation"),
        }
    })
}

impl Emu {
    /// The symbol `name` as the function type `T`; panics when it is not exported.
    ///
    /// # Safety
    /// `T` must be the `_fn` type of that C function.
    pub unsafe fn sym<T: Copy>(&self, name: &str) -> T {
        let c = CString::new(name).unwrap();
        // SAFETY: a live handle from dlopen; `c` is NUL-terminated.
        let p = unsafe { libc::dlsym(self.raw as *mut c_void, c.as_ptr()) };
        assert!(!p.is_null(), "{name} is exported");
        assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<*mut c_void>());
        // SAFETY: a function address, read as the caller-promised fn pointer type.
        unsafe { std::mem::transmute_copy(&p) }
    }
}

/// Serialises tests that init/close the runtime or change its environment (the
/// emulator's state is per process; `cargo test` runs a file's tests on threads).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// `nrt_init` now, `nrt_close` on drop (also when a test panics).
pub struct Session;

impl Session {
    pub fn start() -> Session {
        let e = emu();
        // SAFETY: valid arguments for the prototype.
        let s =
            unsafe { (e.lib.core.nrt_init)(NRT_FRAMEWORK_TYPE_NO_FW, c"".as_ptr(), c"".as_ptr()) };
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

/// The checked-in model file `name` (under `nrt-emu/models/`).
pub fn model_file(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Load `bytes` on `vnc`; the status and the handle.
pub fn load(bytes: &[u8], vnc: i32) -> (NRT_STATUS, *mut nrt_model_t) {
    let mut m: *mut nrt_model_t = std::ptr::null_mut();
    // SAFETY: a valid buffer and out-pointer.
    let s =
        unsafe { (emu().lib.core.nrt_load)(bytes.as_ptr().cast(), bytes.len(), vnc, -1, &mut m) };
    (s, m)
}

/// A device tensor of `size` bytes on `vnc`, asserting success.
pub fn device_tensor(vnc: i32, size: usize) -> *mut nrt_tensor_t {
    let mut t: *mut nrt_tensor_t = std::ptr::null_mut();
    // SAFETY: valid out-pointer and name.
    let s = unsafe {
        (emu().lib.core.nrt_tensor_allocate)(
            NRT_TENSOR_PLACEMENT_DEVICE,
            vnc,
            size,
            c"t".as_ptr(),
            &mut t,
        )
    };
    assert_eq!(s, NRT_SUCCESS, "allocate {size} bytes on core {vnc}");
    t
}

/// Write `data` at offset 0.
pub fn write(t: *mut nrt_tensor_t, data: &[u8]) {
    // SAFETY: a valid buffer of data.len() bytes.
    let s = unsafe { (emu().lib.core.nrt_tensor_write)(t, data.as_ptr().cast(), 0, data.len()) };
    assert_eq!(s, NRT_SUCCESS);
}

/// Read `len` bytes at offset 0.
pub fn read(t: *const nrt_tensor_t, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    // SAFETY: a valid buffer of len bytes.
    let s = unsafe { (emu().lib.core.nrt_tensor_read)(t, v.as_mut_ptr().cast(), 0, len) };
    assert_eq!(s, NRT_SUCCESS);
    v
}

/// A tensor set holding `entries`.
pub fn set_of(entries: &[(&str, *mut nrt_tensor_t)]) -> *mut nrt_tensor_set_t {
    let c = &emu().lib.core;
    let mut set: *mut nrt_tensor_set_t = std::ptr::null_mut();
    // SAFETY: valid out-pointer, names and handles.
    unsafe {
        assert_eq!((c.nrt_allocate_tensor_set)(&mut set), NRT_SUCCESS);
        for (name, t) in entries {
            let n = CString::new(*name).unwrap();
            assert_eq!(
                (c.nrt_add_tensor_to_tensor_set)(set, n.as_ptr(), *t),
                NRT_SUCCESS
            );
        }
    }
    set
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn to_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Run `f` with the environment variables set (None: removed), restoring them after.
pub fn with_env<R>(vars: &[(&str, Option<&str>)], f: impl FnOnce() -> R) -> R {
    let saved: Vec<(String, Option<String>)> = vars
        .iter()
        .map(|(k, _)| (k.to_string(), std::env::var(k).ok()))
        .collect();
    for (k, v) in vars {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    struct Restore(Vec<(String, Option<String>)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            for (k, v) in &self.0 {
                match v {
                    Some(v) => std::env::set_var(k, v),
                    None => std::env::remove_var(k),
                }
            }
        }
    }
    let _r = Restore(saved);
    f()
}
