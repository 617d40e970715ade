//! The search order of `Libnrt::load`. One test, steps in sequence, in its own binary:
//! it changes `NRTQ_LIBNRT` and the process's global symbol scope, which other tests in
//! the same process would otherwise see.

mod common;

use common::emu_library;
use neuron_sys::*;
use std::ffi::CString;

#[test]
fn search_order_and_the_error_naming_every_place() {
    // 1. Nothing anywhere: a nonexistent NRTQ_LIBNRT, no libnrt in the process, none on the
    //    search path, none under /opt/aws. Only meaningful where no libnrt is installed.
    let installed = std::path::Path::new(LIBNRT_VENDOR_PATH).exists()
        || std::env::var_os("LD_LIBRARY_PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|dir| dir.join(LIBNRT_SONAME).exists()));
    std::env::set_var(LIBNRT_ENV, "/nonexistent/dir/libnrt.so.1");
    if installed {
        eprintln!("NOTE: a libnrt is installed on this machine; the not-found step is skipped");
    } else {
        let err = Libnrt::load().unwrap_err();
        let places: Vec<&str> = err.tried().iter().map(|a| a.place.as_str()).collect();
        assert_eq!(
            places,
            [
                "symbols already in the process",
                "NRTQ_LIBNRT=/nonexistent/dir/libnrt.so.1",
                "libnrt.so.1 on the library search path",
                "/opt/aws/neuron/lib/libnrt.so.1",
            ]
        );
        let text = err.to_string();
        for place in &places {
            assert!(text.contains(place), "{text}");
        }
        assert!(text.contains("nrt_init is not defined"), "{text}");
        assert!(text.contains("No such file"), "{text}");
    }

    // 2. NRTQ_LIBNRT names a real library: it is used.
    let lib_2_30 = emu_library("2.30");
    std::env::set_var(LIBNRT_ENV, &lib_2_30);
    let lib = Libnrt::load().expect("load through NRTQ_LIBNRT");
    assert_eq!(lib.origin(), format!("NRTQ_LIBNRT={}", lib_2_30.display()));
    assert_eq!(lib.generation(), Some(Generation::Sdk2_30));

    // 3. A libnrt already in the process's global scope wins over NRTQ_LIBNRT.
    let lib_2_28 = CString::new(emu_library("2.28").to_str().unwrap()).unwrap();
    // SAFETY: the path is NUL-terminated; RTLD_GLOBAL puts the emulator's symbols in the
    // process scope, as linking with -lnrt would. The handle is deliberately leaked.
    let handle = unsafe { libc::dlopen(lib_2_28.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    assert!(!handle.is_null());
    let lib = Libnrt::load().expect("load from the process");
    assert_eq!(lib.origin(), "symbols already in the process");
    assert_eq!(
        lib.generation(),
        Some(Generation::Sdk2_28),
        "{}",
        lib.detection()
    );
    assert_eq!(lib.version.map(|v| v.rt_minor), Some(30));
}
