//! Tensors and tensor sets through the built library: transfers, bounds, slices,
//! attached buffers, batches, sets, and handles that are freed or foreign.

mod core_support;
use core_support::*;
use neuron_sys::*;
use std::ffi::c_void;

fn c() -> &'static CoreFns {
    &emu().lib.core
}

fn read_at(t: *const nrt_tensor_t, off: usize, len: usize) -> (NRT_STATUS, Vec<u8>) {
    let mut v = vec![0xEEu8; len];
    // SAFETY: valid buffer of len bytes.
    let s = unsafe { (c().nrt_tensor_read)(t, v.as_mut_ptr().cast(), off, len) };
    (s, v)
}

fn write_at(t: *mut nrt_tensor_t, off: usize, data: &[u8]) -> NRT_STATUS {
    // SAFETY: valid buffer.
    unsafe { (c().nrt_tensor_write)(t, data.as_ptr().cast(), off, data.len()) }
}

fn alloc(
    placement: nrt_tensor_placement_t,
    vnc: i32,
    size: usize,
) -> (NRT_STATUS, *mut nrt_tensor_t) {
    let mut t: *mut nrt_tensor_t = std::ptr::null_mut();
    // SAFETY: valid out-pointer.
    let s = unsafe { (c().nrt_tensor_allocate)(placement, vnc, size, c"x".as_ptr(), &mut t) };
    (s, t)
}

#[test]
fn read_write_bounds_and_memset() {
    let _g = serial();
    let _s = Session::start();
    let t = device_tensor(0, 16);
    assert_eq!(read_at(t, 0, 16).1, vec![0; 16], "memory starts zeroed");
    assert_eq!(write_at(t, 4, &[1, 2, 3, 4]), NRT_SUCCESS);
    assert_eq!(read_at(t, 3, 6).1, vec![0, 1, 2, 3, 4, 0]);
    assert_eq!(write_at(t, 13, &[9, 9, 9, 9]), NRT_INVALID, "past the end");
    assert_eq!(read_at(t, 16, 1).0, NRT_INVALID);
    assert_eq!(
        read_at(t, 16, 0).0,
        NRT_SUCCESS,
        "an empty range at the end is fine"
    );
    let mut b = [0u8; 1];
    // SAFETY: offset+size overflows usize; must be refused before any access.
    let s = unsafe { (c().nrt_tensor_read)(t, b.as_mut_ptr().cast(), usize::MAX, 2) };
    assert_eq!(s, NRT_INVALID);
    assert_eq!(
        read_at(t, 0, 16).1,
        vec![0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0],
        "failed writes changed nothing"
    );
    // SAFETY: valid handle.
    unsafe {
        assert_eq!((c().nrt_tensor_memset)(t, 2, 0x1AB, 4), NRT_SUCCESS);
        assert_eq!((c().nrt_tensor_memset)(t, 15, 0, 2), NRT_INVALID);
        assert_eq!((c().nrt_tensor_memset)(t, u64::MAX, 0, 1), NRT_INVALID);
        assert_eq!((c().nrt_tensor_get_size)(t), 16);
    }
    assert_eq!(
        read_at(t, 0, 8).1,
        vec![0, 0, 0xAB, 0xAB, 0xAB, 0xAB, 3, 4],
        "memset uses (unsigned char)value"
    );
}

#[test]
fn copy_between_tensors() {
    let _g = serial();
    let _s = Session::start();
    let (a, b, other) = (
        device_tensor(0, 8),
        device_tensor(0, 8),
        device_tensor(1, 8),
    );
    let (_, host) = alloc(NRT_TENSOR_PLACEMENT_HOST, -1, 8);
    write(a, &[1, 2, 3, 4, 5, 6, 7, 8]);
    // SAFETY: handles from the library.
    unsafe {
        assert_eq!((c().nrt_tensor_copy)(a, 2, b, 0, 4), NRT_SUCCESS);
        assert_eq!(read(b, 8), vec![3, 4, 5, 6, 0, 0, 0, 0]);
        assert_eq!(
            (c().nrt_tensor_copy)(a, 0, other, 0, 8),
            NRT_INVALID,
            "device copies stay on one core"
        );
        assert_eq!(
            (c().nrt_tensor_copy)(a, 0, host, 0, 8),
            NRT_SUCCESS,
            "device to host"
        );
        assert_eq!(
            (c().nrt_tensor_copy)(host, 0, other, 0, 8),
            NRT_SUCCESS,
            "host to any core"
        );
        assert_eq!(read(other, 8), vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            (c().nrt_tensor_copy)(a, 5, b, 0, 4),
            NRT_INVALID,
            "source range"
        );
        assert_eq!(
            (c().nrt_tensor_copy)(a, 0, b, 5, 4),
            NRT_INVALID,
            "destination range"
        );
        assert_eq!(
            (c().nrt_tensor_copy)(a, 0, a, 1, 7),
            NRT_SUCCESS,
            "overlap within one tensor"
        );
        assert_eq!(read(a, 8), vec![1, 1, 2, 3, 4, 5, 6, 7]);
    }
}

#[test]
fn placements_and_sizes() {
    let _g = serial();
    let _s = Session::start();
    assert_eq!(
        alloc(NRT_TENSOR_PLACEMENT_DEVICE, 0, 0).0,
        NRT_INVALID,
        "size 0"
    );
    assert_eq!(
        alloc(NRT_TENSOR_PLACEMENT_DEVICE, -1, 8).0,
        NRT_INVALID,
        "device needs a core"
    );
    assert_eq!(
        alloc(NRT_TENSOR_PLACEMENT_DEVICE, 2, 8).0,
        NRT_INVALID,
        "core 2 of 2"
    );
    assert_eq!(alloc(7, 0, 8).0, NRT_INVALID, "unknown placement");
    assert_eq!(alloc(NRT_TENSOR_PLACEMENT_HOST, -1, 8).0, NRT_SUCCESS);
    assert_eq!(alloc(NRT_TENSOR_PLACEMENT_HOST, 5, 8).0, NRT_INVALID);
    let want_virtual = if emu().generation == Generation::Sdk2_30 {
        NRT_INVALID
    } else {
        NRT_SUCCESS
    };
    assert_eq!(
        alloc(NRT_TENSOR_PLACEMENT_VIRTUAL, -1, 8).0,
        want_virtual,
        "VIRTUAL was removed in SDK 2.30"
    );
    let (_, d) = alloc(NRT_TENSOR_PLACEMENT_DEVICE, 1, 100);
    let (_, h) = alloc(NRT_TENSOR_PLACEMENT_HOST, -1, 100);
    let info = c().nrt_tensor_get_device_allocation_info.unwrap();
    let mut ai = nrt_tensor_device_allocation_info_t {
        physical_address: 0,
        size: 0,
        hbm_index: -1,
    };
    // SAFETY: valid handles and out-pointer.
    unsafe {
        assert_eq!(info(d, &mut ai), NRT_SUCCESS);
        assert_eq!((ai.size, ai.hbm_index), (100, 0));
        assert_eq!(ai.physical_address, (c().nrt_tensor_get_va)(d) as u64);
        assert_eq!(info(h, &mut ai), NRT_INVALID, "not a device tensor");
    }
}

#[test]
fn slices_share_storage_and_outlive_their_source() {
    let _g = serial();
    let _s = Session::start();
    let mut src = device_tensor(0, 32);
    let mut slice: *mut nrt_tensor_t = std::ptr::null_mut();
    // SAFETY: valid handles and out-pointers.
    unsafe {
        assert_eq!(
            (c().nrt_tensor_allocate_slice)(src, 8, 16, c"s".as_ptr(), &mut slice),
            NRT_SUCCESS
        );
        assert_eq!((c().nrt_tensor_get_size)(slice), 16);
        assert_eq!(
            (c().nrt_tensor_get_va)(slice) as usize,
            (c().nrt_tensor_get_va)(src) as usize + 8
        );
        let mut bad: *mut nrt_tensor_t = std::ptr::null_mut();
        assert_eq!(
            (c().nrt_tensor_allocate_slice)(src, 20, 16, std::ptr::null(), &mut bad),
            NRT_INVALID
        );
        assert_eq!(
            (c().nrt_tensor_allocate_slice)(src, 0, 0, std::ptr::null(), &mut bad),
            NRT_INVALID
        );
        assert!(bad.is_null());
    }
    assert_eq!(write_at(slice, 0, &[7; 16]), NRT_SUCCESS);
    assert_eq!(
        read_at(src, 6, 4).1,
        vec![0, 0, 7, 7],
        "writes through the slice show in the source"
    );
    assert_eq!(
        write_at(slice, 1, &[1; 16]),
        NRT_INVALID,
        "bounded by the slice"
    );
    // SAFETY: a live handle.
    unsafe { (c().nrt_tensor_free)(&mut src) };
    assert!(src.is_null(), "free sets the handle to NULL");
    assert_eq!(
        read_at(slice, 0, 16).1,
        vec![7; 16],
        "storage lives while a slice does"
    );
}

#[test]
fn empty_tensors_and_attached_buffers() {
    let _g = serial();
    let _s = Session::start();
    let mut t: *mut nrt_tensor_t = std::ptr::null_mut();
    let mut buf = vec![5u8; 64];
    // SAFETY: valid arguments; `buf` outlives the tensor (freed below).
    unsafe {
        assert_eq!(
            (c().nrt_tensor_allocate_empty)(c"e".as_ptr(), &mut t),
            NRT_SUCCESS
        );
        assert_eq!((c().nrt_tensor_get_size)(t), 0);
        assert!((c().nrt_tensor_get_va)(t).is_null());
        assert_eq!(read_at(t, 0, 1).0, NRT_INVALID);
        assert_eq!(
            (c().nrt_tensor_attach_buffer)(t, std::ptr::null_mut(), 8),
            NRT_INVALID
        );
        assert_eq!(
            (c().nrt_tensor_attach_buffer)(t, buf.as_mut_ptr().cast(), 64),
            NRT_SUCCESS
        );
        assert_eq!((c().nrt_tensor_get_va)(t), buf.as_mut_ptr() as *mut c_void);
        assert_eq!((c().nrt_tensor_get_size)(t), 64);
    }
    assert_eq!(write_at(t, 60, &[1, 2, 3, 4]), NRT_SUCCESS);
    assert_eq!(
        &buf[58..],
        &[5, 5, 1, 2, 3, 4],
        "the caller's buffer is the storage"
    );
    // SAFETY: a live handle; the buffer is not freed by the runtime.
    unsafe { (c().nrt_tensor_free)(&mut t) };
    assert_eq!(buf[60], 1);
}

#[test]
fn batches_are_checked_whole_before_any_transfer() {
    let _g = serial();
    let _s = Session::start();
    let (a, b) = (device_tensor(0, 16), device_tensor(1, 16));
    let (mut x, mut y, mut z) = ([1u8; 4], [2u8; 8], [3u8; 4]);
    let ops_a = [
        nrt_tensor_batch_op_t {
            offset: 0,
            size: 4,
            buffer: x.as_mut_ptr().cast(),
        },
        nrt_tensor_batch_op_t {
            offset: 8,
            size: 8,
            buffer: y.as_mut_ptr().cast(),
        },
    ];
    let ops_b = [nrt_tensor_batch_op_t {
        offset: 12,
        size: 4,
        buffer: z.as_mut_ptr().cast(),
    }];
    let batches = [
        nrt_tensor_batch_t {
            tensor: a,
            ops: ops_a.as_ptr(),
            num_ops: 2,
        },
        nrt_tensor_batch_t {
            tensor: b,
            ops: ops_b.as_ptr(),
            num_ops: 1,
        },
    ];
    let wb = c().nrt_tensor_write_batch.unwrap();
    let rb = c().nrt_tensor_read_batch.unwrap();
    // SAFETY: every pointer is valid for its size.
    unsafe {
        assert_eq!(wb(batches.as_ptr(), 2, false), NRT_SUCCESS);
        assert_eq!(
            read(a, 16),
            [1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2]
        );
        assert_eq!(read(b, 16)[12..], [3, 3, 3, 3]);
        let (mut p, mut q) = ([0u8; 4], [0u8; 4]);
        let rops = [
            nrt_tensor_batch_op_t {
                offset: 6,
                size: 4,
                buffer: p.as_mut_ptr().cast(),
            },
            nrt_tensor_batch_op_t {
                offset: 0,
                size: 4,
                buffer: q.as_mut_ptr().cast(),
            },
        ];
        let rbatch = [nrt_tensor_batch_t {
            tensor: a,
            ops: rops.as_ptr(),
            num_ops: 2,
        }];
        assert_eq!(rb(rbatch.as_ptr(), 1, true), NRT_SUCCESS);
        assert_eq!((p, q), ([0, 0, 2, 2], [1, 1, 1, 1]));

        // The second batch's op is out of range: nothing of the first is written either.
        let mut w = [9u8; 4];
        let good = [nrt_tensor_batch_op_t {
            offset: 0,
            size: 4,
            buffer: w.as_mut_ptr().cast(),
        }];
        let bad = [nrt_tensor_batch_op_t {
            offset: 14,
            size: 4,
            buffer: w.as_mut_ptr().cast(),
        }];
        let mixed = [
            nrt_tensor_batch_t {
                tensor: a,
                ops: good.as_ptr(),
                num_ops: 1,
            },
            nrt_tensor_batch_t {
                tensor: b,
                ops: bad.as_ptr(),
                num_ops: 1,
            },
        ];
        assert_eq!(wb(mixed.as_ptr(), 2, false), NRT_INVALID);
        assert_eq!(read(a, 4), [1, 1, 1, 1], "unchanged");
        let null_buf = [nrt_tensor_batch_op_t {
            offset: 0,
            size: 4,
            buffer: std::ptr::null_mut(),
        }];
        let nb = [nrt_tensor_batch_t {
            tensor: a,
            ops: null_buf.as_ptr(),
            num_ops: 1,
        }];
        assert_eq!(wb(nb.as_ptr(), 1, false), NRT_INVALID);
        let no_ops = [nrt_tensor_batch_t {
            tensor: a,
            ops: std::ptr::null(),
            num_ops: 1,
        }];
        assert_eq!(rb(no_ops.as_ptr(), 1, false), NRT_INVALID);
        assert_eq!(
            rb(std::ptr::null(), 0, false),
            NRT_SUCCESS,
            "an empty batch list"
        );
    }
}

#[test]
fn tensor_sets_map_names_to_tensors() {
    let _g = serial();
    let _s = Session::start();
    let (t1, t2) = (device_tensor(0, 4), device_tensor(0, 4));
    let mut set = set_of(&[("in", t1)]);
    let get = |name: &std::ffi::CStr| {
        let mut out: *mut nrt_tensor_t = 0x1234 as *mut nrt_tensor_t;
        // SAFETY: valid arguments.
        let s = unsafe { (c().nrt_get_tensor_from_tensor_set)(set, name.as_ptr(), &mut out) };
        (s, out)
    };
    assert_eq!(get(c"in"), (NRT_SUCCESS, t1));
    assert_eq!(
        get(c"nope"),
        (NRT_FAILURE, 0x1234 as *mut nrt_tensor_t),
        "absent: NRT_FAILURE, untouched"
    );
    // SAFETY: valid arguments.
    unsafe {
        assert_eq!(
            (c().nrt_add_tensor_to_tensor_set)(set, c"in".as_ptr(), t2),
            NRT_SUCCESS
        );
        assert_eq!(get(c"in").1, t2, "add replaces");
        let mut dead = device_tensor(0, 4);
        let d = dead;
        (c().nrt_tensor_free)(&mut dead);
        assert_eq!(
            (c().nrt_add_tensor_to_tensor_set)(set, c"d".as_ptr(), d),
            NRT_INVALID,
            "freed tensor"
        );
        (c().nrt_destroy_tensor_set)(&mut set);
        assert!(set.is_null(), "destroy sets the handle to NULL");
        (c().nrt_destroy_tensor_set)(&mut set); // NULL: harmless
    }
    assert_eq!(read(t2, 4), vec![0; 4], "the set's tensors survive it");
}

#[test]
fn freed_and_foreign_handles_are_refused() {
    let _g = serial();
    let _s = Session::start();
    let mut t = device_tensor(0, 8);
    let stale = t;
    // SAFETY: a live handle.
    unsafe { (c().nrt_tensor_free)(&mut t) };
    let mut local = [0u64; 64];
    let foreign = local.as_mut_ptr() as *mut nrt_tensor_t;
    let set = set_of(&[]);
    for (what, h) in [
        ("freed", stale),
        ("foreign", foreign),
        ("a set, not a tensor", set as *mut nrt_tensor_t),
        ("small integer", 8 as *mut nrt_tensor_t),
    ] {
        assert_eq!(read_at(h, 0, 1).0, NRT_INVALID, "{what}");
        assert_eq!(write_at(h, 0, &[1]), NRT_INVALID, "{what}");
        // SAFETY: the emulator only looks handles up.
        unsafe {
            assert_eq!((c().nrt_tensor_get_size)(h), 0, "{what}");
            assert!((c().nrt_tensor_get_va)(h).is_null(), "{what}");
            assert_eq!((c().nrt_tensor_memset)(h, 0, 0, 1), NRT_INVALID, "{what}");
            let mut copy = h;
            (c().nrt_tensor_free)(&mut copy);
            assert!(copy.is_null());
        }
    }
    assert_eq!(local, [0u64; 64], "foreign memory was never written");
}

#[test]
fn memcpy_to_device_only_targets_tensor_memory() {
    let _g = serial();
    let _s = Session::start();
    let t = device_tensor(0, 16);
    let f: unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> NRT_STATUS =
        // SAFETY: the prototype of nrt_memcpy_to_device.
        unsafe { emu().sym("nrt_memcpy_to_device") };
    let src = [4u8, 5, 6];
    // SAFETY: get_va returns the tensor's memory; the others are refused.
    unsafe {
        let va = (c().nrt_tensor_get_va)(t) as *mut u8;
        assert_eq!(f(va.add(10).cast(), src.as_ptr().cast(), 3), NRT_SUCCESS);
        assert_eq!(
            f(va.add(14).cast(), src.as_ptr().cast(), 3),
            NRT_INVALID,
            "runs past the tensor"
        );
        let mut mine = [0u8; 3];
        assert_eq!(
            f(mine.as_mut_ptr().cast(), src.as_ptr().cast(), 3),
            NRT_INVALID,
            "not device memory"
        );
        assert_eq!(mine, [0; 3]);
    }
    assert_eq!(read_at(t, 9, 5).1, vec![0, 4, 5, 6, 0]);
}
