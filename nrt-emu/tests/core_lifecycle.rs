//! Runtime lifecycle, version, status strings, instance info and core selection,
//! through the built `libnrt.so` of the generation under test.

mod core_support;
use core_support::{emu, serial, with_env, Session};
use neuron_sys::*;
use std::ffi::CStr;

fn init() -> NRT_STATUS {
    // SAFETY: valid arguments.
    unsafe { (emu().lib.core.nrt_init)(NRT_FRAMEWORK_TYPE_NO_FW, c"".as_ptr(), c"".as_ptr()) }
}

fn close() {
    // SAFETY: no arguments.
    unsafe { (emu().lib.core.nrt_close)() }
}

fn new_set() -> (NRT_STATUS, *mut nrt_tensor_set_t) {
    let mut s: *mut nrt_tensor_set_t = std::ptr::null_mut();
    // SAFETY: valid out-pointer.
    let st = unsafe { (emu().lib.core.nrt_allocate_tensor_set)(&mut s) };
    (st, s)
}

fn counts() -> (u32, u32) {
    let c = &emu().lib.core;
    let (mut total, mut visible) = (0u32, 0u32);
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!((c.nrt_get_total_vnc_count)(&mut total), NRT_SUCCESS);
        assert_eq!((c.nrt_get_visible_vnc_count)(&mut visible), NRT_SUCCESS);
    }
    (total, visible)
}

const CORE_VARS: [&str; 3] = [
    "NEURON_RT_VISIBLE_CORES",
    "NEURON_RT_NUM_CORES",
    "NRT_EMU_TOTAL_CORES",
];

fn clean_env<R>(extra: &[(&str, Option<&str>)], f: impl FnOnce() -> R) -> R {
    let mut vars: Vec<(&str, Option<&str>)> = CORE_VARS.iter().map(|k| (*k, None)).collect();
    for (k, v) in extra {
        vars.retain(|(x, _)| x != k);
        vars.push((k, *v));
    }
    with_env(&vars, f)
}

#[test]
fn init_close_reinit_and_lifecycle_codes() {
    let _g = serial();
    clean_env(&[], || {
        assert_eq!(init(), NRT_SUCCESS);
        assert_eq!(
            init(),
            NRT_FAILURE,
            "second init while initialised is refused"
        );
        let t = core_support::device_tensor(0, 64);
        let (st, set) = new_set();
        assert_eq!(st, NRT_SUCCESS);
        close();
        let (st, _) = new_set();
        assert_eq!(st, NRT_CLOSED, "after close");
        let mut buf = [0u8; 4];
        // SAFETY: valid buffer; the handle is dead but is only looked up.
        let r = unsafe { (emu().lib.core.nrt_tensor_read)(t, buf.as_mut_ptr().cast(), 0, 4) };
        assert_eq!(r, NRT_CLOSED);
        close(); // a second close is harmless

        assert_eq!(init(), NRT_SUCCESS, "init after close starts afresh");
        // SAFETY: as above.
        let r = unsafe { (emu().lib.core.nrt_tensor_read)(t, buf.as_mut_ptr().cast(), 0, 4) };
        assert_eq!(r, NRT_INVALID, "handles from before the close stay dead");
        let mut got: *mut nrt_tensor_t = std::ptr::null_mut();
        // SAFETY: valid arguments; the set handle is dead.
        let r = unsafe {
            (emu().lib.core.nrt_get_tensor_from_tensor_set)(set, c"x".as_ptr(), &mut got)
        };
        assert_eq!(r, NRT_INVALID);
        close();
    });
}

#[test]
fn invalid_framework_is_refused() {
    let _g = serial();
    let c = &emu().lib.core;
    for fw in [NRT_FRAMEWORK_TYPE_INVALID, 6, u32::MAX] {
        // SAFETY: valid arguments (NULL strings are allowed by the emulator).
        let s = unsafe { (c.nrt_init)(fw, std::ptr::null(), std::ptr::null()) };
        assert_eq!(s, NRT_INVALID, "framework {fw}");
    }
    // SAFETY: NULL version strings are accepted.
    let s = unsafe {
        (c.nrt_init)(
            NRT_FRAMEWORK_TYPE_PYTORCH,
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(s, NRT_SUCCESS);
    close();
}

#[test]
fn version_matches_the_generation() {
    let _g = serial();
    let c = &emu().lib.core;
    let mut v = nrt_version_t::default();
    // SAFETY: valid out-pointer and size.
    let s = unsafe { (c.nrt_get_version)(&mut v, std::mem::size_of::<nrt_version_t>()) };
    assert_eq!(s, NRT_SUCCESS);
    let minor = match emu().generation {
        Generation::Sdk2_28 => 30,
        Generation::Sdk2_29 => 31,
        Generation::Sdk2_30 => 32,
    };
    assert_eq!((v.rt_major, v.rt_minor), (2, minor));
    // SAFETY: the emulator NUL-terminates rt_detail.
    let detail = unsafe { CStr::from_ptr(v.rt_detail.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    assert!(detail.contains("nrt-emu"), "{detail}");
    assert!(
        detail.contains(&format!("SDK {}", emu().generation)),
        "{detail}"
    );
    if emu().lib.asyncs.is_some() {
        assert_eq!(
            emu().lib.generation(),
            Some(emu().generation),
            "{}",
            emu().lib.detection()
        );
    }

    // A smaller (older) struct gets only the fields that fit.
    let mut small = [0xAAu8; 12];
    // SAFETY: 12 writable bytes are passed as the size.
    let s = unsafe { (c.nrt_get_version)(small.as_mut_ptr().cast(), 12) };
    assert_eq!(s, NRT_SUCCESS);
    assert_eq!(u64::from_le_bytes(small[..8].try_into().unwrap()), 2);
    assert_eq!(&small[8..12], &(minor as u32).to_le_bytes());
    // SAFETY: size 0 is refused before any write.
    assert_eq!(unsafe { (c.nrt_get_version)(&mut v, 0) }, NRT_INVALID);
}

#[test]
fn every_status_has_a_string() {
    let f = emu()
        .lib
        .core
        .nrt_get_status_as_str
        .expect("nrt-emu exports nrt_get_status_as_str");
    let mut known = 0;
    for code in 0..2000u32 {
        // SAFETY: any number is a valid argument; the result is a static C string.
        let s = unsafe { CStr::from_ptr(f(code)) }
            .to_str()
            .unwrap()
            .to_owned();
        match status_name(code) {
            Some(name) => {
                known += 1;
                assert!(s.starts_with(&format!("{name}: ")), "{code}: {s}");
            }
            None => assert_eq!(s, "unknown NRT_STATUS", "{code}"),
        }
    }
    assert_eq!(known, 28, "every code of nrt-abi.md §2.1");
}

#[test]
fn instance_info_and_total_cores() {
    let _g = serial();
    let c = &emu().lib.core;
    let info = || {
        // SAFETY: zeroed is a valid nrt_instance_info_t.
        let mut i: nrt_instance_info_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer and size.
        let s = unsafe {
            (c.nrt_get_instance_info)(&mut i, std::mem::size_of::<nrt_instance_info_t>())
        };
        assert_eq!(s, NRT_SUCCESS);
        i
    };
    clean_env(&[], || {
        let i = info();
        assert_eq!(
            (i.family, i.size),
            (NRT_INSTANCE_TRN1, NRT_INSTANCE_SIZE_2XL)
        );
        // SAFETY: NUL-terminated by the emulator.
        let arch = unsafe { CStr::from_ptr(i.arch_name.as_ptr()) };
        assert_eq!(arch.to_str().unwrap(), "trn1");
        assert_eq!(counts(), (2, 2), "the documented default instance");
    });
    clean_env(&[("NRT_EMU_TOTAL_CORES", Some("32"))], || {
        assert_eq!(info().size, NRT_INSTANCE_SIZE_32XL);
        assert_eq!(counts(), (32, 32));
        assert_eq!(init(), NRT_SUCCESS);
        assert_eq!(counts(), (32, 32));
        close();
    });
    clean_env(&[("NRT_EMU_TOTAL_CORES", Some("0"))], || {
        let mut n = 0;
        // SAFETY: valid out-pointer.
        assert_eq!(unsafe { (c.nrt_get_total_vnc_count)(&mut n) }, NRT_INVALID);
        assert_eq!(init(), NRT_INVALID);
    });
}

#[test]
fn visible_cores_follow_the_environment() {
    let _g = serial();
    let total = Some("8");
    type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<u32, NRT_STATUS>);
    let cases: &[Case] = &[
        (None, None, Ok(8)),
        (Some("3"), None, Ok(1)),
        (Some("3,4,5,6"), None, Ok(4)),
        (Some("3-6"), None, Ok(4)),
        (Some("3-5,6"), None, Ok(4)),
        (Some("2-3"), Some("1"), Ok(2)), // VISIBLE_CORES wins over NUM_CORES
        (None, Some("3"), Ok(3)),
        (None, Some("0"), Ok(8)),
        (Some("3,5,6"), None, Err(NRT_INVALID)), // not contiguous
        (Some("6-3"), None, Err(NRT_INVALID)),
        (Some("x"), None, Err(NRT_INVALID)),
        (Some("7-8"), None, Err(NRT_RESOURCE)), // core 8 does not exist
        (None, Some("9"), Err(NRT_RESOURCE)),
    ];
    for (visible, num, want) in cases {
        clean_env(
            &[
                ("NRT_EMU_TOTAL_CORES", total),
                ("NEURON_RT_VISIBLE_CORES", *visible),
                ("NEURON_RT_NUM_CORES", *num),
            ],
            || {
                let mut n = 0u32;
                // SAFETY: valid out-pointer.
                let before = unsafe { (emu().lib.core.nrt_get_visible_vnc_count)(&mut n) };
                let st = init();
                match want {
                    Ok(count) => {
                        assert_eq!(
                            (before, n),
                            (NRT_SUCCESS, *count),
                            "{visible:?} {num:?} before init"
                        );
                        assert_eq!(st, NRT_SUCCESS, "{visible:?} {num:?}");
                        assert_eq!(counts(), (8, *count));
                        // Core indices are relative: the last visible core is count-1.
                        let mut t: *mut nrt_tensor_t = std::ptr::null_mut();
                        // SAFETY: valid out-pointer.
                        let beyond = unsafe {
                            (emu().lib.core.nrt_tensor_allocate)(
                                NRT_TENSOR_PLACEMENT_DEVICE,
                                *count as i32,
                                8,
                                std::ptr::null(),
                                &mut t,
                            )
                        };
                        assert_eq!(beyond, NRT_INVALID);
                        core_support::device_tensor(*count as i32 - 1, 8);
                        close();
                    }
                    Err(code) => {
                        assert_eq!(before, *code, "{visible:?} {num:?} before init");
                        assert_eq!(st, *code, "{visible:?} {num:?}");
                    }
                }
            },
        );
    }
}

/// An instance may have up to 4096 cores, but a sequence id carries its core in 8 bits,
/// so one process sees at most 256 of them; every core it sees really executes.
#[test]
fn a_process_sees_at_most_256_cores_and_runs_on_the_last_one() {
    let _g = serial();
    clean_env(&[("NRT_EMU_TOTAL_CORES", Some("4096"))], || {
        let mut n = 0;
        // SAFETY: valid out-pointer.
        let st = unsafe { (emu().lib.core.nrt_get_visible_vnc_count)(&mut n) };
        assert_eq!(st, NRT_RESOURCE, "4096 visible cores");
        assert_eq!(init(), NRT_RESOURCE);
    });
    for (visible, num) in [(Some("3840-4095"), None), (None, Some("256"))] {
        clean_env(
            &[
                ("NRT_EMU_TOTAL_CORES", Some("4096")),
                ("NEURON_RT_VISIBLE_CORES", visible),
                ("NEURON_RT_NUM_CORES", num),
            ],
            || {
                assert_eq!(init(), NRT_SUCCESS, "{visible:?} {num:?}");
                assert_eq!(counts(), (4096, 256));
                let (st, m) = core_support::load(&core_support::model_file("add_f32.nrtm"), 255);
                assert_eq!(st, NRT_SUCCESS);
                let a = core_support::device_tensor(255, 4096);
                let b = core_support::device_tensor(255, 4096);
                let out = core_support::device_tensor(255, 4096);
                core_support::write(a, &core_support::f32_bytes(&[1.5; 1024]));
                core_support::write(b, &core_support::f32_bytes(&[2.0; 1024]));
                let ins = core_support::set_of(&[("a", a), ("b", b)]);
                let outs = core_support::set_of(&[("out", out)]);
                // SAFETY: live handles from this session.
                let st = unsafe { (emu().lib.core.nrt_execute)(m, ins, outs) };
                assert_eq!(st, NRT_SUCCESS, "nrt_execute on core 255");
                assert_eq!(
                    core_support::to_f32(&core_support::read(out, 4096)),
                    vec![3.5; 1024]
                );
                close();
            },
        );
    }
}

#[test]
fn nrt_emu_api_naming_another_generation_fails_init() {
    let _g = serial();
    let own = emu().generation;
    let other = Generation::ALL.into_iter().find(|g| *g != own).unwrap();
    with_env(&[("NRT_EMU_API", Some(other.as_str()))], || {
        assert_eq!(init(), NRT_FAILURE);
    });
    with_env(&[("NRT_EMU_API", Some("9.99"))], || {
        assert_eq!(init(), NRT_FAILURE)
    });
    with_env(&[("NRT_EMU_API", Some(own.as_str()))], || {
        assert_eq!(init(), NRT_SUCCESS);
        close();
    });
}

#[test]
fn memory_stats_count_device_tensors() {
    let _g = serial();
    clean_env(&[("NRT_EMU_CORE_MEMORY_MB", Some("1"))], || {
        let _s = Session::start();
        let f = emu().lib.core.nrt_get_vnc_memory_stats.expect("exported");
        let stats = || {
            let mut st = nrt_vnc_memory_stats_t {
                bytes_used: 0,
                bytes_limit: 0,
            };
            let mut n = 0usize;
            // SAFETY: valid out-pointers and size.
            let s = unsafe {
                f(
                    1,
                    &mut st,
                    std::mem::size_of::<nrt_vnc_memory_stats_t>(),
                    &mut n,
                )
            };
            assert_eq!((s, n), (NRT_SUCCESS, 16));
            (st.bytes_used, st.bytes_limit)
        };
        assert_eq!(stats(), (0, 1 << 20));
        let mut t = core_support::device_tensor(1, 1000);
        assert_eq!(stats(), (1000, 1 << 20));
        let mut big: *mut nrt_tensor_t = std::ptr::null_mut();
        // SAFETY: valid out-pointer.
        let s = unsafe {
            (emu().lib.core.nrt_tensor_allocate)(
                NRT_TENSOR_PLACEMENT_DEVICE,
                1,
                1 << 20,
                std::ptr::null(),
                &mut big,
            )
        };
        assert_eq!(s, NRT_RESOURCE, "beyond the per-core limit");
        // SAFETY: a live handle.
        unsafe { (emu().lib.core.nrt_tensor_free)(&mut t) };
        assert!(t.is_null());
        assert_eq!(stats(), (0, 1 << 20));
    });
}

/// Back-to-back init/close cycles: `nrt_close` must stop the release thread even when the
/// thread is between reading its wake-up word and sleeping on it (a lost wake-up there once
/// hung `nrt_close` for ever). A watchdog turns a hang into a failure.
#[test]
fn init_close_cycles_never_hang() {
    let _g = serial();
    clean_env(&[], || {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let cycles = std::thread::spawn(move || {
            for _ in 0..500 {
                assert_eq!(init(), NRT_SUCCESS);
                close();
            }
            done_tx.send(()).unwrap();
        });
        assert!(
            done_rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .is_ok(),
            "nrt_close hung within 500 init/close cycles"
        );
        cycles.join().unwrap();
    });
}
