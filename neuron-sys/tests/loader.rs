//! The loader against the emulator's three libraries (built by `cargo build --workspace`)
//! and against a library that is not libnrt at all.

mod common;

use common::emu_library;
use neuron_sys::*;
use std::ffi::CString;
use std::path::Path;

/// Whether `name` is a dynamic symbol of the library at `path`, asked of the dynamic
/// loader directly rather than through `neuron-sys`.
fn exports(path: &Path, name: &str) -> bool {
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let c_name = CString::new(name).unwrap();
    // SAFETY: both strings are NUL-terminated; RTLD_LOCAL keeps the library out of the
    // process scope; the handle is only used for the dlsym below and deliberately leaked.
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!handle.is_null(), "dlopen {}", path.display());
    // SAFETY: the handle is open and the name NUL-terminated.
    !unsafe { libc::dlsym(handle, c_name.as_ptr()) }.is_null()
}

fn load(generation: &str) -> Libnrt {
    let path = emu_library(generation);
    Libnrt::load_path(&path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

#[test]
fn sdk_2_28_is_gen_a() {
    let lib = load("2.28");
    assert_eq!(
        lib.generation(),
        Some(Generation::Sdk2_28),
        "{}",
        lib.detection()
    );
    assert!(lib.gen_a().is_some() && lib.gen_b().is_none());
    assert!(
        lib.detection().contains("nrta_error_tracker_create"),
        "{}",
        lib.detection()
    );
    let version = lib.version.expect("nrt_get_version works before nrt_init");
    assert_eq!((version.rt_major, version.rt_minor), (2, 30));
    assert_eq!(lib.origin(), emu_library("2.28").display().to_string());
}

#[test]
fn sdk_2_29_is_gen_b_without_events_or_tracker() {
    let path = emu_library("2.29");
    let lib = load("2.29");
    assert_eq!(
        lib.generation(),
        Some(Generation::Sdk2_29),
        "{}",
        lib.detection()
    );
    let fns = lib.gen_b().expect("Gen B table");
    assert!(fns.events.is_none());
    assert!(lib.gen_a().is_none());
    for name in [
        "nrta_error_tracker_create",
        "nrta_error_tracker_destroy",
        "nrta_error_tracker_get_list",
        "nrta_get_completion_handle",
        "nrta_event_register_seq_id_completion",
        "nrta_event_register_xu_completion",
    ] {
        assert!(!exports(&path, name), "2.29 must not export {name}");
    }
    assert!(lib.detection().contains("NRT_3.0.0"), "{}", lib.detection());
    assert_eq!(lib.version.map(|v| (v.rt_major, v.rt_minor)), Some((2, 31)));
}

#[test]
fn sdk_2_30_is_gen_b_with_events_and_no_tracker() {
    let path = emu_library("2.30");
    let lib = load("2.30");
    assert_eq!(
        lib.generation(),
        Some(Generation::Sdk2_30),
        "{}",
        lib.detection()
    );
    let fns = lib.gen_b().expect("Gen B table");
    assert!(fns.events.is_some());
    for name in [
        "nrta_error_tracker_create",
        "nrta_error_tracker_destroy",
        "nrta_error_tracker_get_list",
        "nrta_get_completion_handle",
    ] {
        assert!(!exports(&path, name), "2.30 must not export {name}");
    }
    for name in [
        "nrta_event_register_seq_id_completion",
        "nrta_event_register_xu_completion",
    ] {
        assert!(exports(&path, name), "2.30 must export {name}");
    }
    let version = lib.version.expect("nrt_get_version");
    assert_eq!(version.rt_major, 2);
    assert!(
        version.rt_minor >= 32,
        "libnrt 2.{} is not SDK 2.30+",
        version.rt_minor
    );
}

#[test]
fn the_2_28_tracker_and_handle_exist_only_there() {
    let path = emu_library("2.28");
    for name in [
        "nrta_error_tracker_create",
        "nrta_error_tracker_destroy",
        "nrta_error_tracker_get_list",
        "nrta_get_completion_handle",
    ] {
        assert!(exports(&path, name), "2.28 must export {name}");
    }
    for name in [
        "nrta_event_register_seq_id_completion",
        "nrta_event_register_xu_completion",
    ] {
        assert!(!exports(&path, name), "2.28 must not export {name}");
    }
}

#[test]
fn all_generations_load_side_by_side() {
    // Different files with the same soname: each opens as its own library.
    let libs: Vec<Libnrt> = Generation::ALL.iter().map(|g| load(g.as_str())).collect();
    let found: Vec<Option<Generation>> = libs.iter().map(Libnrt::generation).collect();
    assert_eq!(found, Generation::ALL.map(Some).to_vec());
}

#[test]
fn a_library_that_is_not_libnrt_lists_every_missing_function() {
    // libc opens fine but defines none of the required functions: all of them are named
    // at once, not just the first.
    let err = Libnrt::load_path(Path::new("libc.so.6")).unwrap_err();
    let LoadError::Unusable {
        origin,
        problem: Problem::MissingSymbols(names),
        ..
    } = &err
    else {
        panic!("expected missing symbols, got {err:?}");
    };
    assert_eq!(origin, "libc.so.6");
    assert_eq!(names.as_slice(), CoreFns::SYMBOLS_REQUIRED);
    let text = err.to_string();
    for name in ["nrt_init", "nrt_execute", "nrt_tensor_allocate_slice"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn a_missing_path_is_not_found_with_the_loader_message() {
    let err = Libnrt::load_path(Path::new("/nonexistent/libnrt.so.1")).unwrap_err();
    assert!(matches!(err, LoadError::NotFound { .. }), "{err:?}");
    assert_eq!(err.tried().len(), 1);
    assert!(
        err.to_string().contains("/nonexistent/libnrt.so.1"),
        "{err}"
    );
    assert!(err.to_string().contains("No such file"), "{err}");
}
