//! The pipeline C API: every entry point answers NULL and invalid arguments with a status
//! and a message; and, on the emulator of the generation `NRT_EMU_API` names, a pipeline
//! made and driven through C calls alone (reap delivery) gives correct outputs, reports a
//! failed request's stage, per-stage stats, and refuses buffers that do not fit.
mod emu_support;

use std::ffi::{c_void, CStr, CString};

use emu_support::{add_model, library, lock, unload};
use nrtq::ffi::completion::nrtq_completion;
use nrtq::ffi::config::*;
use nrtq::ffi::pipeline::nrtq_stage::*;
use nrtq::ffi::pipeline::*;
use nrtq::ffi::queue::*;
use nrtq::ffi::reap::*;
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
fn every_pipeline_entry_point_answers_null_and_bad_values_with_a_status() {
    let null_q = std::ptr::null_mut::<nrtq_queue>();
    let null_pc = std::ptr::null_mut::<nrtq_pipeline_config>();
    let mut n = 0usize;
    let mut t = 0u64;
    expect(
        nrtq_pipeline_config_new(std::ptr::null_mut()),
        NRTQ_ERR_NULL,
        "out",
    );
    nrtq_pipeline_config_free(null_pc);
    expect(
        nrtq_pipeline_config_set_slots(null_pc, 0, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_pipeline_config_link(null_pc, 1, c"x".as_ptr(), c"y".as_ptr()),
        NRTQ_ERR_NULL,
        "cfg",
    );
    let mut pc = std::ptr::null_mut();
    assert_eq!(nrtq_pipeline_config_new(&mut pc), NRTQ_OK);
    expect(
        nrtq_pipeline_config_set_slots(pc, 5000, 0),
        NRTQ_ERR_INVALID,
        "4096",
    );
    expect(
        nrtq_pipeline_config_link(pc, 0, c"x".as_ptr(), c"y".as_ptr()),
        NRTQ_ERR_INVALID,
        "model 0",
    );
    expect(
        nrtq_pipeline_config_link(pc, 1, std::ptr::null(), c"y".as_ptr()),
        NRTQ_ERR_NULL,
        "input",
    );
    let mut out_q = std::ptr::null_mut();
    let model = 0x1000 as *mut c_void;
    expect(
        nrtq_pipeline_create(
            std::ptr::null(),
            &model,
            1,
            std::ptr::null(),
            pc,
            &mut out_q,
        ),
        NRTQ_ERR_NULL,
        "rt",
    );
    nrtq_pipeline_config_free(pc);
    expect(
        nrtq_queue_submit_host(
            null_q,
            std::ptr::null(),
            0,
            std::ptr::null(),
            0,
            None,
            0,
            &mut t,
        ),
        NRTQ_ERR_NULL,
        "q",
    );
    expect(
        nrtq_queue_submit_host_timeout(
            null_q,
            std::ptr::null(),
            0,
            std::ptr::null(),
            0,
            None,
            0,
            0,
            &mut t,
        ),
        NRTQ_ERR_NULL,
        "q",
    );
    expect(
        nrtq_queue_stage_errors(
            null_q,
            std::ptr::null_mut(),
            0,
            &mut n,
            std::ptr::null_mut(),
        ),
        NRTQ_ERR_NULL,
        "q",
    );
    expect(
        nrtq_queue_stage_stats(null_q, std::ptr::null_mut(), 0, &mut n),
        NRTQ_ERR_NULL,
        "q",
    );
    assert_eq!((n, t), (0, 0), "outputs untouched on failure");
}

fn host(name: Option<&CStr>, index: u32, data: *mut f32, floats: usize) -> nrtq_host_buffer {
    nrtq_host_buffer {
        name: name.map_or(std::ptr::null(), CStr::as_ptr),
        index,
        data: data.cast(),
        size: floats * 4,
    }
}

#[test]
fn a_pipeline_through_the_c_api_reaps_outputs_stages_and_refusals() {
    let _g = lock();
    let is_gen_a = emu_support::generation() == "2.28";
    let target = if is_gen_a {
        "xu=read queue=0"
    } else {
        "xu=op queue=1"
    };
    std::env::set_var("NRT_EMU_FAULTS", format!("error seq=3 code=1004 {target}"));
    let path = CString::new(library().to_str().unwrap()).unwrap();
    let mut rt = std::ptr::null_mut();
    let st = nrtq_runtime_open(path.as_ptr(), true, &mut rt);
    std::env::remove_var("NRT_EMU_FAULTS");
    assert_eq!(st, NRTQ_OK, "{}", last_error());
    const N: usize = 256;
    let m = add_model(N as u32, 10_000, &[]);

    let mut qc = std::ptr::null_mut();
    assert_eq!(nrtq_queue_config_new(&mut qc), NRTQ_OK);
    assert_eq!(nrtq_queue_config_set_delivery(qc, 1), NRTQ_OK);
    let mut q = std::ptr::null_mut();
    let models = [m.cast::<c_void>()];
    expect(
        nrtq_pipeline_create(rt, models.as_ptr(), 0, qc, std::ptr::null(), &mut q),
        NRTQ_ERR_INVALID,
        "n_models",
    );
    assert_eq!(
        nrtq_pipeline_create(rt, models.as_ptr(), 1, qc, std::ptr::null(), &mut q),
        NRTQ_OK,
        "{}",
        last_error()
    );
    nrtq_queue_config_free(qc);

    // Ten requests: a[i] = k + i, b[i] = 2i; out = a + b. Inputs by name, the output by
    // index.
    let mut bufs: Vec<[Vec<f32>; 3]> = (0..10)
        .map(|k| {
            [
                (0..N).map(|i| k as f32 + i as f32).collect(),
                (0..N).map(|i| 2.0 * i as f32).collect(),
                vec![-1.0; N],
            ]
        })
        .collect();
    for (k, [a, b, out]) in bufs.iter_mut().enumerate() {
        let ins = [
            host(Some(c"a"), 0, a.as_mut_ptr(), N),
            host(Some(c"b"), 0, b.as_mut_ptr(), N),
        ];
        let outs = [host(None, 0, out.as_mut_ptr(), N)];
        let mut t = 0;
        let st =
            nrtq_queue_submit_host(q, ins.as_ptr(), 2, outs.as_ptr(), 1, None, k as u64, &mut t);
        assert_eq!((st, t), (NRTQ_OK, k as u64 + 1), "{}", last_error());
    }
    // Refusals name the tensor and sizes; nothing is accepted.
    let (a, b, out) = (
        bufs[0][0].as_mut_ptr(),
        bufs[0][1].as_mut_ptr(),
        bufs[0][2].as_mut_ptr(),
    );
    let outs = [host(None, 0, out, N)];
    let short = [host(Some(c"a"), 0, a, 3), host(Some(c"b"), 0, b, N)];
    expect(
        nrtq_queue_submit_host(
            q,
            short.as_ptr(),
            2,
            outs.as_ptr(),
            1,
            None,
            0,
            std::ptr::null_mut(),
        ),
        NRTQ_ERR_INVALID,
        "input \"a\" is given 12 bytes; the model expects 1024 bytes",
    );
    let unknown = [host(Some(c"c"), 0, a, N), host(Some(c"b"), 0, b, N)];
    expect(
        nrtq_queue_submit_host(
            q,
            unknown.as_ptr(),
            2,
            outs.as_ptr(),
            1,
            None,
            0,
            std::ptr::null_mut(),
        ),
        NRTQ_ERR_INVALID,
        "no input named \"c\"",
    );
    expect(
        nrtq_queue_submit_host(
            q,
            std::ptr::null(),
            2,
            outs.as_ptr(),
            1,
            None,
            0,
            std::ptr::null_mut(),
        ),
        NRTQ_ERR_NULL,
        "inputs",
    );
    extern "C" fn never(_: *const nrtq_completion) {}
    let good = [host(Some(c"a"), 0, a, N), host(Some(c"b"), 0, b, N)];
    expect(
        nrtq_queue_submit_host(
            q,
            good.as_ptr(),
            2,
            outs.as_ptr(),
            1,
            Some(never),
            0,
            std::ptr::null_mut(),
        ),
        NRTQ_ERR_INVALID,
        "reap mode",
    );

    assert_eq!(nrtq_queue_drain(q, 30_000_000), NRTQ_OK, "{}", last_error());
    let mut got = vec![
        nrtq_completion {
            ticket: 0,
            user_data: 0,
            status: NRTQ_OK,
            nrt_status: 0
        };
        16
    ];
    let mut n = 0usize;
    assert_eq!(
        nrtq_queue_reap(q, got.as_mut_ptr(), got.len(), &mut n),
        NRTQ_OK
    );
    assert_eq!(n, 10);
    for c in &got[..n] {
        let [a, _, out] = &bufs[c.user_data as usize];
        if c.ticket == 3 {
            assert_eq!((c.status, c.nrt_status), (NRTQ_ERR_EXEC, 1004));
            continue;
        }
        assert_eq!(c.status, NRTQ_OK, "{c:?}");
        for i in 0..N {
            assert_eq!(out[i], a[i] + 2.0 * i as f32, "ticket {} [{i}]", c.ticket);
        }
    }
    let mut errs = [nrtq_stage_error {
        completion: got[0],
        stage: NRTQ_STAGE_NONE,
        reserved: 0,
    }; 4];
    assert_eq!(
        nrtq_queue_stage_errors(q, errs.as_mut_ptr(), 4, &mut n, std::ptr::null_mut()),
        NRTQ_OK
    );
    assert_eq!(n, 1);
    assert_eq!(
        (errs[0].completion.ticket, errs[0].stage),
        (3, NRTQ_STAGE_READ)
    );
    let mut stages = [nrtq_stage_stats::default(); 2];
    assert_eq!(
        nrtq_queue_stage_stats(q, stages.as_mut_ptr(), 2, &mut n),
        NRTQ_OK
    );
    assert_eq!(n, 3, "three stages, two written");
    assert_eq!(
        (
            stages[0].stage,
            stages[0].retired,
            stages[1].stage,
            stages[1].retired
        ),
        (NRTQ_STAGE_WRITE as u32, 10, NRTQ_STAGE_EXECUTE as u32, 10)
    );
    assert_eq!(nrtq_queue_destroy(q, 10_000_000), NRTQ_OK);
    unload(m);
    assert_eq!(nrtq_runtime_close(rt), NRTQ_OK);
}
