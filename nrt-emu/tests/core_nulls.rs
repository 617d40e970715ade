//! NULL for every pointer argument of every `nrt_*` entry point the library exports:
//! each answers with a status (or, for functions without one, a documented fallback),
//! never a crash, and writes nothing.

mod core_support;
use core_support::*;
use neuron_sys::*;
use std::ffi::{c_char, c_int, c_void};
use std::ptr::{null, null_mut};

macro_rules! f {
    ($name:literal: $ty:ty) => {{
        #[allow(unused_unsafe)] // used both inside and outside unsafe blocks
        // SAFETY: the type is the C prototype of that function (nrt-abi.md §4).
        let p: $ty = unsafe { emu().sym($name) };
        p
    }};
}

#[test]
fn every_pointer_argument_may_be_null() {
    let _g = serial();
    let _s = Session::start();
    let bytes = model_file("add_f32_0us.nrtm");
    let (_, m) = load(&bytes, 0);
    let t = device_tensor(0, 4096);
    let set = set_of(&[("a", t), ("b", t), ("out", t)]);
    let mut u32v = 0u32;
    let mut usz = 0usize;
    let mut buf = [0u8; 64];
    let b = buf.as_mut_ptr() as *mut c_void;
    let name = c"a".as_ptr();
    let mut tp: *mut nrt_tensor_t = null_mut();
    let mut mp: *mut nrt_model_t = null_mut();
    let mut vp: *mut c_void = null_mut();
    let mut info_p: *mut nrt_tensor_info_array_t = null_mut();
    let mut fd: c_int = 0;
    let inv = NRT_INVALID;

    // SAFETY: every call passes valid pointers except the one NULL under test.
    let results: Vec<(&str, NRT_STATUS, NRT_STATUS)> = unsafe {
        vec![
            (
                "get_version",
                f!("nrt_get_version": nrt_get_version_fn)(null_mut(), 224),
                inv,
            ),
            (
                "instance_info",
                f!("nrt_get_instance_info": nrt_get_instance_info_fn)(null_mut(), 32),
                inv,
            ),
            (
                "total_vnc",
                f!("nrt_get_total_vnc_count": nrt_get_total_vnc_count_fn)(null_mut()),
                inv,
            ),
            (
                "total_nc",
                f!("nrt_get_total_nc_count": nrt_get_total_nc_count_fn)(null_mut()),
                inv,
            ),
            (
                "visible_vnc",
                f!("nrt_get_visible_vnc_count": nrt_get_visible_vnc_count_fn)(null_mut()),
                inv,
            ),
            (
                "visible_nc",
                f!("nrt_get_visible_nc_count": nrt_get_visible_nc_count_fn)(null_mut()),
                inv,
            ),
            (
                "host_device_id",
                f!("nrt_host_device_id_get": nrt_host_device_id_get_fn)(0, null_mut()),
                inv,
            ),
            (
                "rid_map count",
                f!("nrt_host_device_id_rid_map_get": unsafe extern "C" fn(*mut u32, *mut u32) -> NRT_STATUS)(
                    null_mut(),
                    b.cast(),
                ),
                inv,
            ),
            (
                "rid_map table",
                f!("nrt_host_device_id_rid_map_get": unsafe extern "C" fn(*mut u32, *mut u32) -> NRT_STATUS)(
                    &mut u32v,
                    null_mut(),
                ),
                inv,
            ),
            (
                "hbm addr",
                f!("nrt_get_hbm_mmap_va": unsafe extern "C" fn(c_int, c_int, *mut *mut c_void, *mut usize) -> NRT_STATUS)(
                    0,
                    0,
                    null_mut(),
                    &mut usz,
                ),
                inv,
            ),
            (
                "hbm size",
                f!("nrt_get_hbm_mmap_va": unsafe extern "C" fn(c_int, c_int, *mut *mut c_void, *mut usize) -> NRT_STATUS)(
                    0,
                    0,
                    &mut vp,
                    null_mut(),
                ),
                inv,
            ),
            (
                "mem stats",
                f!("nrt_get_vnc_memory_stats": nrt_get_vnc_memory_stats_fn)(
                    0,
                    null_mut(),
                    16,
                    &mut usz,
                ),
                inv,
            ),
            (
                "mem stats out",
                f!("nrt_get_vnc_memory_stats": nrt_get_vnc_memory_stats_fn)(
                    0,
                    b.cast(),
                    16,
                    null_mut(),
                ),
                inv,
            ),
            (
                "efa va",
                f!("nrt_get_attached_efa_bdf": unsafe extern "C" fn(*const c_void, *mut c_char, *mut usize) -> NRT_STATUS)(
                    null(),
                    b.cast(),
                    &mut usz,
                ),
                inv,
            ),
            (
                "efa buf",
                f!("nrt_get_attached_efa_bdf": unsafe extern "C" fn(*const c_void, *mut c_char, *mut usize) -> NRT_STATUS)(
                    b,
                    null_mut(),
                    &mut usz,
                ),
                inv,
            ),
            (
                "efa len",
                f!("nrt_get_attached_efa_bdf": unsafe extern "C" fn(*const c_void, *mut c_char, *mut usize) -> NRT_STATUS)(
                    b,
                    b.cast(),
                    null_mut(),
                ),
                inv,
            ),
            (
                "dmabuf",
                f!("nrt_get_dmabuf_fd": unsafe extern "C" fn(u64, u64, *mut c_int) -> NRT_STATUS)(
                    0,
                    0,
                    null_mut(),
                ),
                inv,
            ),
            (
                "load bytes",
                f!("nrt_load": nrt_load_fn)(null(), bytes.len(), 0, -1, &mut mp),
                inv,
            ),
            (
                "load out",
                f!("nrt_load": nrt_load_fn)(bytes.as_ptr().cast(), bytes.len(), 0, -1, null_mut()),
                inv,
            ),
            (
                "load_coll bytes",
                f!("nrt_load_collectives": nrt_load_collectives_fn)(
                    null(),
                    bytes.len(),
                    0,
                    -1,
                    0,
                    1,
                    &mut mp,
                ),
                inv,
            ),
            (
                "load_coll out",
                f!("nrt_load_collectives": nrt_load_collectives_fn)(
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    0,
                    -1,
                    0,
                    1,
                    null_mut(),
                ),
                inv,
            ),
            ("unload", f!("nrt_unload": nrt_unload_fn)(null_mut()), inv),
            (
                "model_info model",
                f!("nrt_get_model_info": nrt_get_model_info_fn)(null(), b.cast(), 4, &mut usz),
                inv,
            ),
            (
                "model_info info",
                f!("nrt_get_model_info": nrt_get_model_info_fn)(m, null_mut(), 4, &mut usz),
                inv,
            ),
            (
                "model_info out",
                f!("nrt_get_model_info": nrt_get_model_info_fn)(m, b.cast(), 4, null_mut()),
                inv,
            ),
            (
                "model_vnc model",
                f!("nrt_get_model_vnc_count": nrt_get_model_vnc_count_fn)(null(), &mut u32v),
                inv,
            ),
            (
                "model_vnc out",
                f!("nrt_get_model_vnc_count": nrt_get_model_vnc_count_fn)(m, null_mut()),
                inv,
            ),
            (
                "model_nc model",
                f!("nrt_get_model_nc_count": nrt_get_model_nc_count_fn)(null(), &mut u32v),
                inv,
            ),
            (
                "model_nc out",
                f!("nrt_get_model_nc_count": nrt_get_model_nc_count_fn)(m, null_mut()),
                inv,
            ),
            (
                "instances model",
                f!("nrt_get_model_instance_count": nrt_get_model_instance_count_fn)(
                    null_mut(),
                    &mut u32v,
                ),
                inv,
            ),
            (
                "instances out",
                f!("nrt_get_model_instance_count": nrt_get_model_instance_count_fn)(m, null_mut()),
                inv,
            ),
            (
                "tensor_info model",
                f!("nrt_get_model_tensor_info": nrt_get_model_tensor_info_fn)(
                    null_mut(),
                    &mut info_p,
                ),
                inv,
            ),
            (
                "tensor_info out",
                f!("nrt_get_model_tensor_info": nrt_get_model_tensor_info_fn)(m, null_mut()),
                inv,
            ),
            (
                "free_tensor_info",
                f!("nrt_free_model_tensor_info": nrt_free_model_tensor_info_fn)(null_mut()),
                inv,
            ),
            (
                "allocate out",
                f!("nrt_tensor_allocate": nrt_tensor_allocate_fn)(
                    NRT_TENSOR_PLACEMENT_DEVICE,
                    0,
                    8,
                    name,
                    null_mut(),
                ),
                inv,
            ),
            (
                "read tensor",
                f!("nrt_tensor_read": nrt_tensor_read_fn)(null(), b, 0, 1),
                inv,
            ),
            (
                "read buf",
                f!("nrt_tensor_read": nrt_tensor_read_fn)(t, null_mut(), 0, 1),
                inv,
            ),
            (
                "write tensor",
                f!("nrt_tensor_write": nrt_tensor_write_fn)(null_mut(), b, 0, 1),
                inv,
            ),
            (
                "write buf",
                f!("nrt_tensor_write": nrt_tensor_write_fn)(t, null(), 0, 1),
                inv,
            ),
            (
                "copy src",
                f!("nrt_tensor_copy": nrt_tensor_copy_fn)(null(), 0, t, 0, 1),
                inv,
            ),
            (
                "copy dst",
                f!("nrt_tensor_copy": nrt_tensor_copy_fn)(t, 0, null_mut(), 0, 1),
                inv,
            ),
            (
                "memset",
                f!("nrt_tensor_memset": nrt_tensor_memset_fn)(null_mut(), 0, 0, 1),
                inv,
            ),
            (
                "read_batch",
                f!("nrt_tensor_read_batch": nrt_tensor_read_batch_fn)(null(), 1, false),
                inv,
            ),
            (
                "write_batch",
                f!("nrt_tensor_write_batch": nrt_tensor_write_batch_fn)(null(), 1, false),
                inv,
            ),
            (
                "alloc_info tensor",
                f!("nrt_tensor_get_device_allocation_info": nrt_tensor_get_device_allocation_info_fn)(
                    null(),
                    b.cast(),
                ),
                inv,
            ),
            (
                "alloc_info out",
                f!("nrt_tensor_get_device_allocation_info": nrt_tensor_get_device_allocation_info_fn)(
                    t,
                    null_mut(),
                ),
                inv,
            ),
            (
                "allocate_empty out",
                f!("nrt_tensor_allocate_empty": nrt_tensor_allocate_empty_fn)(name, null_mut()),
                inv,
            ),
            (
                "attach tensor",
                f!("nrt_tensor_attach_buffer": nrt_tensor_attach_buffer_fn)(null_mut(), b, 8),
                inv,
            ),
            (
                "attach buffer",
                f!("nrt_tensor_attach_buffer": nrt_tensor_attach_buffer_fn)(t, null_mut(), 8),
                inv,
            ),
            (
                "slice source",
                f!("nrt_tensor_allocate_slice": nrt_tensor_allocate_slice_fn)(
                    null(),
                    0,
                    1,
                    name,
                    &mut tp,
                ),
                inv,
            ),
            (
                "slice out",
                f!("nrt_tensor_allocate_slice": nrt_tensor_allocate_slice_fn)(
                    t,
                    0,
                    1,
                    name,
                    null_mut(),
                ),
                inv,
            ),
            (
                "check completion",
                f!("nrt_tensor_check_output_completion": nrt_tensor_check_output_completion_fn)(
                    null(),
                    0,
                    0,
                ),
                inv,
            ),
            (
                "reset completion",
                f!("nrt_tensor_reset_output_completion": nrt_tensor_reset_output_completion_fn)(
                    null_mut(),
                ),
                inv,
            ),
            (
                "memcpy dest",
                f!("nrt_memcpy_to_device": unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> NRT_STATUS)(
                    null_mut(),
                    b,
                    1,
                ),
                inv,
            ),
            (
                "memcpy src",
                f!("nrt_memcpy_to_device": unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> NRT_STATUS)(
                    (emu().lib.core.nrt_tensor_get_va)(t),
                    null(),
                    1,
                ),
                inv,
            ),
            (
                "allocate set",
                f!("nrt_allocate_tensor_set": nrt_allocate_tensor_set_fn)(null_mut()),
                inv,
            ),
            (
                "add set",
                f!("nrt_add_tensor_to_tensor_set": nrt_add_tensor_to_tensor_set_fn)(
                    null_mut(),
                    name,
                    t,
                ),
                inv,
            ),
            (
                "add name",
                f!("nrt_add_tensor_to_tensor_set": nrt_add_tensor_to_tensor_set_fn)(set, null(), t),
                inv,
            ),
            (
                "add tensor",
                f!("nrt_add_tensor_to_tensor_set": nrt_add_tensor_to_tensor_set_fn)(
                    set,
                    name,
                    null_mut(),
                ),
                inv,
            ),
            (
                "get set",
                f!("nrt_get_tensor_from_tensor_set": nrt_get_tensor_from_tensor_set_fn)(
                    null_mut(),
                    name,
                    &mut tp,
                ),
                inv,
            ),
            (
                "get name",
                f!("nrt_get_tensor_from_tensor_set": nrt_get_tensor_from_tensor_set_fn)(
                    set,
                    null(),
                    &mut tp,
                ),
                inv,
            ),
            (
                "get out",
                f!("nrt_get_tensor_from_tensor_set": nrt_get_tensor_from_tensor_set_fn)(
                    set,
                    name,
                    null_mut(),
                ),
                inv,
            ),
            (
                "execute model",
                f!("nrt_execute": nrt_execute_fn)(null_mut(), set, set),
                inv,
            ),
            (
                "execute inputs",
                f!("nrt_execute": nrt_execute_fn)(m, null(), set),
                inv,
            ),
            (
                "execute outputs",
                f!("nrt_execute": nrt_execute_fn)(m, set, null_mut()),
                inv,
            ),
            (
                "repeat model",
                f!("nrt_execute_repeat": nrt_execute_repeat_fn)(null_mut(), set, set, 1),
                inv,
            ),
            (
                "repeat inputs",
                f!("nrt_execute_repeat": nrt_execute_repeat_fn)(m, null(), set, 1),
                inv,
            ),
            (
                "repeat outputs",
                f!("nrt_execute_repeat": nrt_execute_repeat_fn)(m, set, null_mut(), 1),
                inv,
            ),
            (
                "async callback",
                f!("nrt_register_async_exec_callback": nrt_register_async_exec_callback_fn)(
                    None,
                    null_mut(),
                ),
                inv,
            ),
            (
                "trace_stop",
                f!("nrt_trace_stop": unsafe extern "C" fn(*const c_char) -> NRT_STATUS)(null()),
                inv,
            ),
            (
                "ucode",
                f!("nrt_set_pool_eng_ucode": nrt_set_pool_eng_ucode_fn)(null()),
                inv,
            ),
            (
                "all_gather in",
                f!("nrt_all_gather": unsafe extern "C" fn(i32, u32, u32, u32, *mut c_void, *mut c_void) -> NRT_STATUS)(
                    0,
                    0,
                    1,
                    4,
                    null_mut(),
                    b,
                ),
                inv,
            ),
            (
                "all_gather out",
                f!("nrt_all_gather": unsafe extern "C" fn(i32, u32, u32, u32, *mut c_void, *mut c_void) -> NRT_STATUS)(
                    0,
                    0,
                    1,
                    4,
                    b,
                    null_mut(),
                ),
                inv,
            ),
            (
                "dmabuf (valid fd ptr)",
                f!("nrt_get_dmabuf_fd": unsafe extern "C" fn(u64, u64, *mut c_int) -> NRT_STATUS)(
                    0, 0, &mut fd,
                ),
                NRT_FAILURE,
            ),
        ]
    };
    for (what, got, want) in &results {
        assert_eq!(got, want, "{what}");
    }
    assert_eq!(buf, [0u8; 64], "no call wrote through a pointer");
    assert!(tp.is_null() && mp.is_null() && vp.is_null() && info_p.is_null());

    // Functions without a status: documented fallbacks.
    // SAFETY: NULL arguments are what is under test.
    unsafe {
        assert_eq!((emu().lib.core.nrt_tensor_get_size)(null()), 0);
        assert!((emu().lib.core.nrt_tensor_get_va)(null()).is_null());
        (emu().lib.core.nrt_tensor_free)(null_mut());
        let mut nt: *mut nrt_tensor_t = null_mut();
        (emu().lib.core.nrt_tensor_free)(&mut nt);
        (emu().lib.core.nrt_destroy_tensor_set)(null_mut());
        let mut ns: *mut nrt_tensor_set_t = null_mut();
        (emu().lib.core.nrt_destroy_tensor_set)(&mut ns);
        let nccl = f!("nrt_get_libnccl_net": unsafe extern "C" fn(*mut c_int, *mut c_char, usize) -> *mut c_void);
        assert!(nccl(null_mut(), null_mut(), 0).is_null());
        let mut err = 0;
        let mut msg = [0 as c_char; 8];
        assert!(nccl(&mut err, msg.as_mut_ptr(), msg.len()).is_null());
        assert_eq!(err, 1);
        assert_eq!(msg[7], 0, "message truncated with a NUL");
    }
    // The valid objects still work after all that.
    assert_eq!(read(t, 4), vec![0; 4]);
}
