//! The pool's C API answers NULL and invalid arguments with a status and a message that
//! says what to do, and leaves outputs untouched when it refuses; and a pool created
//! through it (on the mock-free path: the emulator) serves, reports its cores and state,
//! and refuses a callback in reap mode.
mod emu_support;

use std::ffi::{c_void, CStr};
use std::ptr::{null, null_mut};

use emu_support::*;
use nrtq::ffi::config::*;
use nrtq::ffi::pool::*;
use nrtq::ffi::reap::nrtq_completion;
use nrtq::ffi::runtime::*;
use nrtq::ffi::status::nrtq_status::{self, *};
use nrtq::ffi::status::*;

fn last_error() -> String {
    // SAFETY: nrtq_last_error returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(nrtq_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn expect(status: nrtq_status, want: nrtq_status, mentions: &str) {
    assert_eq!(status, want, "{}", last_error());
    let msg = last_error();
    assert!(
        msg.contains(mentions),
        "message {msg:?} does not mention {mentions:?}"
    );
}

#[test]
fn every_pool_entry_point_answers_null_with_a_status() {
    let np = null_mut::<nrtq_pool>();
    let ncfg = null_mut::<nrtq_pool_config>();
    let any = 0x1000 as *mut c_void;
    let mut n = 0usize;
    let mut u = 0u32;
    let mut fd = 0;
    expect(nrtq_pool_config_new(null_mut()), NRTQ_ERR_NULL, "out");
    nrtq_pool_config_free(ncfg);
    expect(
        nrtq_pool_config_set_queue_config(ncfg, null()),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_pool_config_set_cores(ncfg, null(), 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(nrtq_pool_config_set_backlog(ncfg, 1), NRTQ_ERR_NULL, "cfg");
    expect(nrtq_pool_config_set_delivery(ncfg, 0), NRTQ_ERR_NULL, "cfg");
    expect(
        nrtq_pool_config_set_retry_safe(ncfg, true),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_pool_config_set_completion_threads(ncfg, 1),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_pool_config_set_completion_hook(ncfg, None, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_pool_config_set_core_left_callback(ncfg, None, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    let mut out = null_mut();
    expect(
        nrtq_pool_create(null(), c"m".as_ptr(), null(), &mut out),
        NRTQ_ERR_NULL,
        "rt",
    );
    expect(
        nrtq_pool_create_with_models(null(), null(), 0, null(), &mut out),
        NRTQ_ERR_NULL,
        "rt",
    );
    assert!(out.is_null(), "nothing written on refusal");
    expect(nrtq_pool_destroy(np, 0), NRTQ_ERR_NULL, "pool");
    expect(
        nrtq_pool_submit(np, any, any, None, 0, null_mut()),
        NRTQ_ERR_NULL,
        "pool",
    );
    expect(nrtq_pool_drain(np, 0), NRTQ_ERR_NULL, "pool");
    expect(
        nrtq_pool_reap(np, null_mut(), 0, &mut n),
        NRTQ_ERR_NULL,
        "pool",
    );
    expect(nrtq_pool_reap_fd(np, &mut fd), NRTQ_ERR_NULL, "pool");
    expect(
        nrtq_pool_errors(np, null_mut(), 0, &mut n, null_mut()),
        NRTQ_ERR_NULL,
        "pool",
    );
    expect(
        nrtq_pool_state(np, &mut u, null_mut(), null_mut()),
        NRTQ_ERR_NULL,
        "pool",
    );
    expect(nrtq_pool_stats(np, null_mut()), NRTQ_ERR_NULL, "pool");
    expect(
        nrtq_pool_cores(np, null_mut(), 0, &mut n, null_mut()),
        NRTQ_ERR_NULL,
        "pool",
    );
}

#[test]
fn pool_config_setters_check_their_values() {
    let mut cfg = null_mut();
    assert_eq!(nrtq_pool_config_new(&mut cfg), NRTQ_OK);
    expect(
        nrtq_pool_config_set_completion_threads(cfg, 0),
        NRTQ_ERR_INVALID,
        "1..=256",
    );
    expect(
        nrtq_pool_config_set_delivery(cfg, 7),
        NRTQ_ERR_INVALID,
        "nrtq_delivery",
    );
    expect(
        nrtq_pool_config_set_backlog(cfg, (1 << 24) + 1),
        NRTQ_ERR_INVALID,
        "2^24",
    );
    let twice = [1u32, 2, 1];
    expect(
        nrtq_pool_config_set_cores(cfg, twice.as_ptr(), 3),
        NRTQ_ERR_INVALID,
        "twice",
    );
    expect(
        nrtq_pool_config_set_cores(cfg, null(), 2),
        NRTQ_ERR_NULL,
        "cores",
    );
    assert_eq!(nrtq_pool_config_set_cores(cfg, null(), 0), NRTQ_OK);
    // A queue config carrying a hook of its own is refused: the pool installs its own.
    let mut q = null_mut();
    assert_eq!(nrtq_queue_config_new(&mut q), NRTQ_OK);
    assert_eq!(nrtq_pool_config_set_queue_config(cfg, q), NRTQ_OK);
    unsafe extern "C" fn hook(_: *const nrtq_completion, _: u64) {}
    assert_eq!(
        nrtq_queue_config_set_completion_hook(q, Some(hook), 0),
        NRTQ_OK
    );
    expect(
        nrtq_pool_config_set_queue_config(cfg, q),
        NRTQ_ERR_INVALID,
        "nrtq_pool_config_set_completion_hook",
    );
    nrtq_queue_config_free(q);
    nrtq_pool_config_free(cfg);
}

unsafe extern "C" fn on_done(_: *const nrtq_completion) {}

#[test]
fn a_pool_through_the_c_api_serves_and_refuses_what_it_cannot_do() {
    let _l = lock();
    let lib = std::ffi::CString::new(library().to_str().unwrap()).unwrap();
    let mut rt = null_mut();
    assert_eq!(
        nrtq_runtime_open(lib.as_ptr(), true, &mut rt),
        NRTQ_OK,
        "{}",
        last_error()
    );
    let mut out = null_mut();
    // Invalid creations first: each says what to do.
    expect(
        nrtq_pool_create(rt, c"".as_ptr(), null(), &mut out),
        NRTQ_ERR_INVALID,
        "model (NEFF) file",
    );
    expect(
        nrtq_pool_create(rt, c"/nonexistent.neff".as_ptr(), null(), &mut out),
        NRTQ_ERR_INVALID,
        "/nonexistent.neff",
    );
    expect(
        nrtq_pool_create_with_models(rt, null(), 0, null(), &mut out),
        NRTQ_ERR_INVALID,
        "at least one",
    );
    let nulls = [null_mut::<c_void>(); 2];
    expect(
        nrtq_pool_create_with_models(rt, nulls.as_ptr(), 2, null(), &mut out),
        NRTQ_ERR_NULL,
        "model 0",
    );
    assert!(out.is_null());
    // A reap-mode pool over both cores of the default instance, from a model file.
    let path = std::env::temp_dir().join(format!("nrtq-pool-ffi-{}.nrtm", std::process::id()));
    let bytes = nrt_emu::model::ModelSpec::add_model("add", nrt_emu::model::Dtype::F32, &[16])
        .time_ns(10_000)
        .to_bytes()
        .unwrap();
    std::fs::write(&path, bytes).unwrap();
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let mut cfg = null_mut();
    assert_eq!(nrtq_pool_config_new(&mut cfg), NRTQ_OK);
    assert_eq!(nrtq_pool_config_set_delivery(cfg, 1), NRTQ_OK);
    assert_eq!(
        nrtq_pool_create(rt, cpath.as_ptr(), cfg, &mut out),
        NRTQ_OK,
        "{}",
        last_error()
    );
    nrtq_pool_config_free(cfg);
    let pool = out;
    let io = Io::new(16, 1.0);
    let (input, output) = (io.inputs as *const c_void, io.outputs);
    expect(
        nrtq_pool_submit(pool, input, output, Some(on_done), 0, null_mut()),
        NRTQ_ERR_INVALID,
        "reap mode",
    );
    let mut ticket = 0u64;
    for k in 0..100 {
        assert_eq!(
            nrtq_pool_submit(pool, input, output, None, k, &mut ticket),
            NRTQ_OK
        );
    }
    assert_eq!(ticket, 100);
    assert_eq!(nrtq_pool_drain(pool, 10_000_000), NRTQ_OK);
    let mut buf = [nrtq_completion {
        ticket: 0,
        user_data: 0,
        status: NRTQ_OK,
        nrt_status: 0,
    }; 128];
    let mut n = 0usize;
    assert_eq!(nrtq_pool_reap(pool, buf.as_mut_ptr(), 128, &mut n), NRTQ_OK);
    assert_eq!(n, 100);
    assert!(buf[..n].iter().all(|c| c.status == NRTQ_OK));
    let (mut state, mut why) = (9u32, NRTQ_ERR_PANIC);
    assert_eq!(
        nrtq_pool_state(pool, &mut state, &mut why, null_mut()),
        NRTQ_OK
    );
    assert_eq!(
        (state, why),
        (nrtq_pool_state_t::NRTQ_POOL_SERVING as u32, NRTQ_OK)
    );
    let mut counts = nrtq_pool_counts {
        struct_size: 4,
        ..Default::default()
    };
    expect(
        nrtq_pool_stats(pool, &mut counts),
        NRTQ_ERR_INVALID,
        "sizeof(nrtq_pool_counts)",
    );
    counts.struct_size = 24; // an older, shorter struct: three fields
    assert_eq!(nrtq_pool_stats(pool, &mut counts), NRTQ_OK);
    assert_eq!(
        (counts.struct_size, counts.submitted, counts.completed),
        (24, 100, 100)
    );
    assert_eq!(counts.failed, 0, "beyond struct_size: untouched");
    let mut total = 0usize;
    assert_eq!(
        nrtq_pool_cores(pool, null_mut(), 0, &mut n, &mut total),
        NRTQ_OK
    );
    assert_eq!((n, total), (0, 2));
    let mut cores = [nrtq_pool_core::default(); 2];
    assert_eq!(
        nrtq_pool_cores(pool, cores.as_mut_ptr(), 2, &mut n, null_mut()),
        NRTQ_OK
    );
    assert_eq!(n, 2);
    assert_eq!(cores[0].routed + cores[1].routed, 100);
    assert!(cores.iter().all(|c| c.healthy == 1 && c.status == 0));
    assert_eq!(nrtq_pool_destroy(pool, 1_000_000), NRTQ_OK);
    assert_eq!(nrtq_runtime_close(rt), NRTQ_OK);
    let _ = std::fs::remove_file(&path);
}

/// A pool of pipelines through the C API: the pipeline setting, host-buffer submits with
/// their refusals (NULL pool, a plain pool, a wrong size, a callback in reap mode), and
/// outputs that are `a + b` element by element after a reap.
#[test]
fn a_pool_of_pipelines_through_the_c_api_takes_host_buffers() {
    use nrtq::ffi::pipeline::*;
    let _l = lock();
    expect(
        nrtq_pool_config_set_pipeline(null_mut(), null()),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_pool_submit_host(null(), null(), 0, null(), 0, None, 0, null_mut()),
        NRTQ_ERR_NULL,
        "pool",
    );
    let lib = std::ffi::CString::new(library().to_str().unwrap()).unwrap();
    let mut rt = null_mut();
    assert_eq!(nrtq_runtime_open(lib.as_ptr(), true, &mut rt), NRTQ_OK);
    const N: usize = 64;
    let path = std::env::temp_dir().join(format!("nrtq-pool-pipe-{}.nrtm", std::process::id()));
    let bytes =
        nrt_emu::model::ModelSpec::add_model("add", nrt_emu::model::Dtype::F32, &[N as u32])
            .time_ns(10_000)
            .to_bytes()
            .unwrap();
    std::fs::write(&path, bytes).unwrap();
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // A plain pool refuses host buffers, saying how to get a pool that takes them.
    let mut plain = null_mut();
    assert_eq!(
        nrtq_pool_create(rt, cpath.as_ptr(), null(), &mut plain),
        NRTQ_OK
    );
    expect(
        nrtq_pool_submit_host(plain, null(), 0, null(), 0, None, 0, null_mut()),
        NRTQ_ERR_INVALID,
        "pipeline",
    );
    assert_eq!(nrtq_pool_destroy(plain, -1), NRTQ_OK);

    let (mut cfg, mut pcfg) = (null_mut(), null_mut());
    assert_eq!(nrtq_pool_config_new(&mut cfg), NRTQ_OK);
    assert_eq!(nrtq_pipeline_config_new(&mut pcfg), NRTQ_OK);
    assert_eq!(nrtq_pool_config_set_pipeline(cfg, pcfg), NRTQ_OK);
    nrtq_pipeline_config_free(pcfg); // the pool config holds its own copy
    assert_eq!(nrtq_pool_config_set_delivery(cfg, 1), NRTQ_OK);
    let mut pool = null_mut();
    assert_eq!(
        nrtq_pool_create(rt, cpath.as_ptr(), cfg, &mut pool),
        NRTQ_OK,
        "{}",
        last_error()
    );
    nrtq_pool_config_free(cfg);
    const R: usize = 200;
    let a: Vec<Vec<f32>> = (0..R)
        .map(|k| (0..N).map(|i| (k + i) as f32).collect())
        .collect();
    let b: Vec<Vec<f32>> = (0..R)
        .map(|k| (0..N).map(|i| (k * i) as f32).collect())
        .collect();
    let mut out: Vec<Vec<f32>> = vec![vec![-1.0; N]; R];
    let buf = |name: &'static CStr, data: *mut c_void, size: usize| nrtq_host_buffer {
        name: name.as_ptr(),
        index: 0,
        data,
        size,
    };
    // A wrong size is refused, naming the tensor.
    let short = [
        buf(c"a", a[0].as_ptr() as *mut c_void, 4 * N - 4),
        buf(c"b", b[0].as_ptr() as *mut c_void, 4 * N),
    ];
    let o0 = [buf(c"out", out[0].as_mut_ptr().cast(), 4 * N)];
    expect(
        nrtq_pool_submit_host(pool, short.as_ptr(), 2, o0.as_ptr(), 1, None, 0, null_mut()),
        NRTQ_ERR_INVALID,
        "\"a\"",
    );
    let ins0 = [
        buf(c"a", a[0].as_ptr() as *mut c_void, 4 * N),
        buf(c"b", b[0].as_ptr() as *mut c_void, 4 * N),
    ];
    expect(
        nrtq_pool_submit_host(
            pool,
            ins0.as_ptr(),
            2,
            o0.as_ptr(),
            1,
            Some(on_done),
            0,
            null_mut(),
        ),
        NRTQ_ERR_INVALID,
        "reap mode",
    );
    for k in 0..R {
        let ins = [
            buf(c"a", a[k].as_ptr() as *mut c_void, 4 * N),
            buf(c"b", b[k].as_ptr() as *mut c_void, 4 * N),
        ];
        let outs = [buf(c"out", out[k].as_mut_ptr().cast(), 4 * N)];
        let mut ticket = 0;
        assert_eq!(
            nrtq_pool_submit_host(
                pool,
                ins.as_ptr(),
                2,
                outs.as_ptr(),
                1,
                None,
                k as u64,
                &mut ticket
            ),
            NRTQ_OK,
            "{}",
            last_error()
        );
        assert_eq!(ticket, k as u64 + 1);
    }
    assert_eq!(nrtq_pool_drain(pool, 30_000_000), NRTQ_OK);
    let mut done = vec![
        nrtq_completion {
            ticket: 0,
            user_data: 0,
            status: NRTQ_OK,
            nrt_status: 0,
        };
        R + 1
    ];
    let mut n = 0usize;
    assert_eq!(
        nrtq_pool_reap(pool, done.as_mut_ptr(), R + 1, &mut n),
        NRTQ_OK
    );
    assert_eq!(n, R, "each request reaped once");
    assert!(done[..n].iter().all(|c| c.status == NRTQ_OK));
    for k in 0..R {
        for i in 0..N {
            assert_eq!(out[k][i], a[k][i] + b[k][i], "request {k}, element {i}");
        }
    }
    assert_eq!(nrtq_pool_destroy(pool, -1), NRTQ_OK);
    nrtq_runtime_close(rt);
    let _ = std::fs::remove_file(&path);
}
