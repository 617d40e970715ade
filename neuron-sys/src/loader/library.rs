//! A `dlopen` handle and symbol lookup through it: the only place this crate calls the
//! dynamic loader.

use std::ffi::{c_void, CStr, CString};

/// An open shared object (or the process itself), never closed: function pointers taken
/// from it are `Copy` and may outlive any owner, so `dlclose` could never be proven safe.
/// The cost is one library mapping kept for the life of the process.
#[derive(Debug)]
pub(crate) struct Library {
    handle: *mut c_void,
}

// SAFETY: the handle is only passed to dlsym/dlvsym, which glibc documents as MT-Safe, and
// it is never closed, so it stays valid on every thread.
unsafe impl Send for Library {}
// SAFETY: as above; `&Library` allows lookups only.
unsafe impl Sync for Library {}

/// The text of the loader's last error on this thread, or a fallback.
fn last_dl_error() -> String {
    // SAFETY: dlerror takes no arguments; it returns NULL or a NUL-terminated string that
    // stays valid until the next dl* call on this thread, and it is copied at once.
    let message = unsafe { libc::dlerror() };
    if message.is_null() {
        "unknown dynamic-loader error".to_string()
    } else {
        // SAFETY: non-NULL, NUL-terminated, valid until the next dl* call (none in between).
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Library {
    /// The global symbol scope of the process (`dlopen(NULL)`): the program and every
    /// library loaded with global visibility.
    pub(crate) fn process() -> Result<Self, String> {
        // SAFETY: dlopen(NULL) opens no new object; it returns a handle to the main
        // program's scope or NULL.
        let handle = unsafe { libc::dlopen(std::ptr::null(), libc::RTLD_NOW) };
        if handle.is_null() {
            Err(last_dl_error())
        } else {
            Ok(Self { handle })
        }
    }

    /// Opens `name` (a path, or a bare name looked up on the search path) with local
    /// visibility, so its symbols do not leak into the process scope searched first.
    pub(crate) fn open(name: &str) -> Result<Self, String> {
        let c_name = CString::new(name).map_err(|_| "the name contains a NUL byte".to_string())?;
        // SAFETY: c_name is NUL-terminated; dlopen runs the object's initialisers, which is
        // what loading a library means.
        let handle = unsafe { libc::dlopen(c_name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            Err(last_dl_error())
        } else {
            Ok(Self { handle })
        }
    }

    /// The address of `name` (its default version), or NULL.
    pub(crate) fn symbol(&self, name: &CStr) -> *mut c_void {
        // SAFETY: the handle is open (never closed) and name is NUL-terminated.
        unsafe { libc::dlsym(self.handle, name.as_ptr()) }
    }

    /// The address of `name` at ELF version node `version`, or NULL.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    pub(crate) fn versioned_symbol(&self, name: &CStr, version: &CStr) -> *mut c_void {
        // SAFETY: the handle is open and both strings are NUL-terminated.
        unsafe { libc::dlvsym(self.handle, name.as_ptr(), version.as_ptr()) }
    }

    /// Without glibc's `dlvsym` no version can be asked for: report "not found".
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    pub(crate) fn versioned_symbol(&self, _name: &CStr, _version: &CStr) -> *mut c_void {
        std::ptr::null_mut()
    }
}
