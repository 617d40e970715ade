//! Every generation-independent `nrt_*` entry point is exported by the library under
//! the vendor's version node `NRT_2.0.0`, so binaries linked against the vendor's
//! libnrt bind to it.

mod core_support;
use std::ffi::CString;

#[test]
fn core_symbols_are_exported_under_nrt_2_0_0() {
    let e = core_support::emu();
    let path = nrt_emu::library_path(&nrt_emu::selected_generation());
    let c = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: the library is already loaded; NOLOAD only fetches its handle.
    let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    assert!(!h.is_null());
    let mut missing = Vec::new();
    for name in nrt_emu::abi::core::CORE_SYMBOLS {
        let n = CString::new(*name).unwrap();
        // SAFETY: a live handle and NUL-terminated names.
        let p = unsafe { libc::dlvsym(h, n.as_ptr(), c"NRT_2.0.0".as_ptr()) };
        if p.is_null() {
            missing.push(*name);
        }
    }
    assert!(missing.is_empty(), "not exported as NRT_2.0.0: {missing:?}");
    assert_eq!(nrt_emu::abi::core::CORE_SYMBOLS.len(), 57);
    // And the loader found the optional ones the emulator provides.
    assert!(e.lib.core.nrt_get_status_as_str.is_some());
    assert!(e.lib.core.nrt_tensor_read_batch.is_some());
}
