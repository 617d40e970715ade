//! Cross-check of every function-pointer type against the prototypes in the project's C
//! headers: for each function the C compiler is asked, at compile time, whether the
//! declared function's type is compatible with the Rust type spelled out in C
//! (`__builtin_types_compatible_p`, which also compares pointer constness). Runs for
//! `NRT_ASYNC_API_VERSION` 2 (`gen_a`) and 3 (`gen_b`).
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use neuron_sys::*;
use std::ffi::c_void;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A Rust type's spelling in C.
trait CType {
    fn c() -> String;
}

macro_rules! c_names {
    ($($rust:ty => $c:literal),* $(,)?) => { $(impl CType for $rust { fn c() -> String { $c.into() } })* };
}

// Integer aliases are transparent in Rust, so each integer maps to one C spelling; C
// treats an enum as compatible with its underlying `unsigned int`, and `int32_t` is `int`.
c_names! {
    () => "void", c_void => "void", bool => "_Bool", i8 => "char", u8 => "uint8_t",
    u16 => "uint16_t", i32 => "int", u32 => "uint32_t", i64 => "int64_t", u64 => "uint64_t",
    usize => "size_t",
    nrt_model_t => "nrt_model_t", nrt_tensor_t => "nrt_tensor_t",
    nrta_error_tracker_t => "nrta_error_tracker_t", nrt_cc_context_t => "nrt_cc_context_t",
    nrt_version_t => "nrt_version_t", nrt_instance_info_t => "nrt_instance_info_t",
    nrt_tensor_info_array_t => "nrt_tensor_info_array_t", nrt_model_info_t => "nrt_model_info_t",
    nrt_tensor_batch_t => "nrt_tensor_batch_t",
    nrt_tensor_device_allocation_info_t => "nrt_tensor_device_allocation_info_t",
    nrt_vnc_memory_stats_t => "nrt_vnc_memory_stats_t", nrt_cc_comm_t => "nrt_cc_comm_t",
    nrt_tensor_list_t => "nrt_tensor_list_t", nrta_error_t => "nrta_error_t",
    nrt_ucode_info => "nrt_ucode_info",
}

impl<T: CType> CType for *mut T {
    fn c() -> String {
        format!("{} *", T::c())
    }
}

impl<T: CType> CType for *const T {
    fn c() -> String {
        format!("const {} *", T::c())
    }
}

impl<F: CType> CType for Option<F> {
    fn c() -> String {
        F::c()
    }
}

macro_rules! c_fn_types {
    ($(($($arg:ident),*)),* $(,)?) => {$(
        impl<R: CType $(, $arg: CType)*> CType for unsafe extern "C" fn($($arg),*) -> R {
            fn c() -> String {
                let args: Vec<String> = vec![$($arg::c()),*];
                let args = if args.is_empty() { "void".to_string() } else { args.join(", ") };
                format!("{} (*)({})", R::c(), args)
            }
        }
    )*};
}
c_fn_types!(
    (),
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H),
    (A, B, C, D, E, F, G, H, I)
);

/// `(C function name, the Rust type in C)`.
type Protos = Vec<(&'static str, String)>;

macro_rules! protos {
    ($($name:ident : $ty:ty),* $(,)?) => { vec![$((stringify!($name), <$ty>::c())),*] };
}

fn core_protos() -> Protos {
    protos!(
        nrt_init: nrt_init_fn, nrt_close: nrt_close_fn, nrt_get_version: nrt_get_version_fn,
        nrt_get_status_as_str: nrt_get_status_as_str_fn,
        nrt_get_instance_info: nrt_get_instance_info_fn,
        nrt_get_total_vnc_count: nrt_get_total_vnc_count_fn,
        nrt_get_total_nc_count: nrt_get_total_nc_count_fn,
        nrt_get_visible_vnc_count: nrt_get_visible_vnc_count_fn,
        nrt_get_visible_nc_count: nrt_get_visible_nc_count_fn,
        nrt_host_device_id_get: nrt_host_device_id_get_fn,
        nrt_get_vnc_memory_stats: nrt_get_vnc_memory_stats_fn,
        nrt_load: nrt_load_fn, nrt_load_collectives: nrt_load_collectives_fn,
        nrt_unload: nrt_unload_fn, nrt_get_model_info: nrt_get_model_info_fn,
        nrt_get_model_vnc_count: nrt_get_model_vnc_count_fn,
        nrt_get_model_nc_count: nrt_get_model_nc_count_fn,
        nrt_get_model_instance_count: nrt_get_model_instance_count_fn,
        nrt_get_model_tensor_info: nrt_get_model_tensor_info_fn,
        nrt_free_model_tensor_info: nrt_free_model_tensor_info_fn,
        nrt_tensor_allocate: nrt_tensor_allocate_fn, nrt_tensor_free: nrt_tensor_free_fn,
        nrt_tensor_read: nrt_tensor_read_fn, nrt_tensor_write: nrt_tensor_write_fn,
        nrt_tensor_copy: nrt_tensor_copy_fn, nrt_tensor_memset: nrt_tensor_memset_fn,
        nrt_tensor_read_batch: nrt_tensor_read_batch_fn,
        nrt_tensor_write_batch: nrt_tensor_write_batch_fn,
        nrt_tensor_get_size: nrt_tensor_get_size_fn, nrt_tensor_get_va: nrt_tensor_get_va_fn,
        nrt_tensor_get_device_allocation_info: nrt_tensor_get_device_allocation_info_fn,
        nrt_tensor_allocate_empty: nrt_tensor_allocate_empty_fn,
        nrt_tensor_attach_buffer: nrt_tensor_attach_buffer_fn,
        nrt_tensor_allocate_slice: nrt_tensor_allocate_slice_fn,
        nrt_tensor_check_output_completion: nrt_tensor_check_output_completion_fn,
        nrt_tensor_reset_output_completion: nrt_tensor_reset_output_completion_fn,
        nrt_allocate_tensor_set: nrt_allocate_tensor_set_fn,
        nrt_destroy_tensor_set: nrt_destroy_tensor_set_fn,
        nrt_add_tensor_to_tensor_set: nrt_add_tensor_to_tensor_set_fn,
        nrt_get_tensor_from_tensor_set: nrt_get_tensor_from_tensor_set_fn,
        nrt_execute: nrt_execute_fn, nrt_execute_repeat: nrt_execute_repeat_fn,
        nrt_register_async_exec_callback: nrt_register_async_exec_callback_fn,
        nrt_async_drain_queued_execs: nrt_async_drain_queued_execs_fn,
        nrt_set_pool_eng_ucode: nrt_set_pool_eng_ucode_fn,
        nrta_is_completed: nrta_is_completed_fn, nrta_get_sequence: nrta_get_sequence_fn,
        nrta_cc_prepare: nrta_cc_prepare_fn,
    )
}

fn async_protos(api: u32) -> Protos {
    if api == 2 {
        use neuron_sys::gen_a::*;
        protos!(
            nrta_tensor_write: nrta_tensor_write_fn, nrta_tensor_read: nrta_tensor_read_fn,
            nrta_tensor_copy: nrta_tensor_copy_fn,
            nrta_execute_schedule: nrta_execute_schedule_fn,
            nrta_cc_schedule: nrta_cc_schedule_fn,
            nrta_get_completion_handle: nrta_get_completion_handle_fn,
            nrta_error_tracker_create: nrta_error_tracker_create_fn,
            nrta_error_tracker_destroy: nrta_error_tracker_destroy_fn,
            nrta_error_tracker_get_list: nrta_error_tracker_get_list_fn,
        )
    } else {
        use neuron_sys::gen_b::*;
        protos!(
            nrta_tensor_write: nrta_tensor_write_fn, nrta_tensor_read: nrta_tensor_read_fn,
            nrta_tensor_copy: nrta_tensor_copy_fn,
            nrta_execute_schedule: nrta_execute_schedule_fn,
            nrta_cc_schedule: nrta_cc_schedule_fn,
            nrta_event_register_seq_id_completion: nrta_event_register_seq_id_completion_fn,
            nrta_event_register_xu_completion: nrta_event_register_xu_completion_fn,
        )
    }
}

fn include_dir() -> PathBuf {
    match std::env::var_os("NRT_INCLUDE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../nrt-emu/include"),
    }
}

const HEADERS: [&str; 5] = [
    "nrt/nrt.h",
    "nrt/nrt_status.h",
    "nrt/nrt_version.h",
    "nrt/nrt_experimental.h",
    "nrt/nrt_async.h",
];

#[test]
fn rust_fn_types_match_the_c_prototypes() {
    let include = include_dir();
    if HEADERS.iter().any(|h| !include.join(h).exists()) {
        eprintln!(
            "NOTE: skipping the prototype cross-check: headers not written yet under {}",
            include.display()
        );
        return;
    }
    let apis: &[u32] = if std::env::var_os("NRT_INCLUDE_DIR").is_some() {
        &[2]
    } else {
        &[2, 3]
    };
    for &api in apis {
        let mut protos = core_protos();
        protos.extend(async_protos(api));
        let mut src =
            String::from("#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n");
        for h in HEADERS {
            writeln!(src, "#include <{h}>").unwrap();
        }
        for (name, c_type) in &protos {
            writeln!(
                src,
                "_Static_assert(__builtin_types_compatible_p(__typeof__(&{name}), {c_type}), \
                 \"{name}: the header's prototype differs from the Rust type {c_type}\");"
            )
            .unwrap();
        }
        let dir =
            std::env::temp_dir().join(format!("neuron-sys-c-protos-{}-{api}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let source = dir.join("protos.c");
        std::fs::write(&source, &src).unwrap();
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let out = Command::new(&cc)
            .args(["-std=gnu11", "-fsyntax-only"])
            .arg(format!("-DNRT_ASYNC_API_VERSION={api}"))
            .arg("-I")
            .arg(&include)
            .arg(&source)
            .output()
            .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "API {api}: prototypes differ between the C headers and neuron-sys:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "API {api}: {} prototypes agree with the C headers",
            protos.len()
        );
    }
}
