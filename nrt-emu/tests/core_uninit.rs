//! Calls before the first `nrt_init` of the process. Alone in its file so that no
//! other test has initialised the runtime in this process first.

mod core_support;
use core_support::emu;
use neuron_sys::*;

#[test]
fn before_init_calls_return_uninitialized_but_exempt_ones_work() {
    let _g = core_support::serial();
    let c = &emu().lib.core;
    let mut t: *mut nrt_tensor_t = std::ptr::null_mut();
    let mut set: *mut nrt_tensor_set_t = std::ptr::null_mut();
    let mut m: *mut nrt_model_t = std::ptr::null_mut();
    let bytes = core_support::model_file("add_f32.nrtm");
    // SAFETY: valid arguments for each prototype.
    unsafe {
        assert_eq!(
            (c.nrt_tensor_allocate)(NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, c"".as_ptr(), &mut t),
            NRT_UNINITIALIZED
        );
        assert!(t.is_null(), "out-pointer untouched on failure");
        assert_eq!((c.nrt_allocate_tensor_set)(&mut set), NRT_UNINITIALIZED);
        assert_eq!(
            (c.nrt_load)(bytes.as_ptr().cast(), bytes.len(), 0, -1, &mut m),
            NRT_UNINITIALIZED
        );
        // Exempt: version, counts, instance info, status strings.
        let mut n = 0u32;
        assert_eq!((c.nrt_get_total_vnc_count)(&mut n), NRT_SUCCESS);
        assert!(n >= 1);
        assert_eq!((c.nrt_get_visible_vnc_count)(&mut n), NRT_SUCCESS);
        let mut v = nrt_version_t::default();
        assert_eq!(
            (c.nrt_get_version)(&mut v, std::mem::size_of::<nrt_version_t>()),
            NRT_SUCCESS
        );
        assert_eq!(v.rt_major, 2);
        let mut info: nrt_instance_info_t = std::mem::zeroed();
        assert_eq!(
            (c.nrt_get_instance_info)(&mut info, std::mem::size_of::<nrt_instance_info_t>()),
            NRT_SUCCESS
        );
        assert_eq!(info.family, NRT_INSTANCE_TRN1);
        // nrt_close before init is a no-op: still uninitialised afterwards.
        (c.nrt_close)();
        assert_eq!((c.nrt_allocate_tensor_set)(&mut set), NRT_UNINITIALIZED);
    }
}
