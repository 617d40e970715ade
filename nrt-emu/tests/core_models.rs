//! Models through the built library: loading the checked-in files, tensor info layout,
//! synchronous execution with outputs checked element by element, and refusals
//! (garbage, truncated, NEFF, wrong sets).

mod core_support;
use core_support::*;
use neuron_sys::*;
use nrt_emu::model::{Dtype, ModelSpec, OpSpec};
use std::ffi::CStr;
use std::time::Instant;

fn execute(
    m: *mut nrt_model_t,
    ins: *mut nrt_tensor_set_t,
    outs: *mut nrt_tensor_set_t,
) -> NRT_STATUS {
    // SAFETY: handles from the library (or deliberately dead ones, only looked up).
    unsafe { (emu().lib.core.nrt_execute)(m, ins, outs) }
}

#[test]
fn add_f32_computes_a_plus_b_element_by_element() {
    let _g = serial();
    let _s = Session::start();
    let (st, m) = load(&model_file("add_f32.nrtm"), 0);
    assert_eq!(st, NRT_SUCCESS);
    let n = 1024;
    let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 100.0).collect();
    let b: Vec<f32> = (0..n).map(|i| (i as f32).sqrt()).collect();
    let (ta, tb, tout) = (
        device_tensor(0, 4 * n),
        device_tensor(0, 4 * n),
        device_tensor(0, 4 * n),
    );
    write(ta, &f32_bytes(&a));
    write(tb, &f32_bytes(&b));
    let ins = set_of(&[("a", ta), ("b", tb)]);
    let outs = set_of(&[("out", tout)]);
    let t0 = Instant::now();
    assert_eq!(execute(m, ins, outs), NRT_SUCCESS);
    let took = t0.elapsed();
    let out = to_f32(&read(tout, 4 * n));
    for i in 0..n {
        assert_eq!(out[i], a[i] + b[i], "element {i}");
    }
    assert!(
        took.as_micros() >= 20,
        "a 20 µs model takes at least 20 µs, took {took:?}"
    );

    // The output completion counter counts executions that wrote the tensor.
    let check = emu().lib.core.nrt_tensor_check_output_completion.unwrap();
    let reset = emu().lib.core.nrt_tensor_reset_output_completion.unwrap();
    // SAFETY: a live tensor handle.
    unsafe {
        assert_eq!(check(tout, 0, 1), NRT_SUCCESS);
        assert_eq!(check(tout, 1000, 2), NRT_TIMEOUT);
        assert_eq!(reset(tout), NRT_SUCCESS);
        assert_eq!(check(tout, 0, 1), NRT_TIMEOUT);
        assert_eq!(check(ta, 0, 1), NRT_TIMEOUT, "an input is never completed");
    }
}

#[test]
fn tensor_info_has_the_vendor_layout() {
    let _g = serial();
    let _s = Session::start();
    let c = &emu().lib.core;
    let (st, m) = load(&model_file("matmul_f32.nrtm"), -1);
    assert_eq!(st, NRT_SUCCESS);
    let mut info: *mut nrt_tensor_info_array_t = std::ptr::null_mut();
    // SAFETY: valid handle and out-pointer; the array is read within its count.
    unsafe {
        assert_eq!((c.nrt_get_model_tensor_info)(m, &mut info), NRT_SUCCESS);
        assert!(!info.is_null());
        assert_eq!((*info).tensor_count, 3);
        let base = info as *const u8;
        let want = [
            ("x", NRT_TENSOR_USAGE_INPUT, vec![64u32, 128]),
            ("w", NRT_TENSOR_USAGE_INPUT, vec![128, 32]),
            ("y", NRT_TENSOR_USAGE_OUTPUT, vec![64, 32]),
        ];
        for (i, (name, usage, shape)) in want.iter().enumerate() {
            // Entry i sits at 8 + 296*i, as the C flexible array member puts it.
            let e = &*(base.add(8 + 296 * i) as *const nrt_tensor_info_t);
            assert_eq!(CStr::from_ptr(e.name.as_ptr()).to_str().unwrap(), *name);
            assert_eq!(e.usage, *usage);
            assert_eq!(e.dtype, NRT_DTYPE_FLOAT32);
            assert_eq!(e.ndim as usize, shape.len());
            assert_eq!(
                std::slice::from_raw_parts(e.shape, e.ndim as usize),
                &shape[..]
            );
            assert_eq!(e.size, 4 * shape.iter().product::<u32>() as usize);
        }
        assert_eq!((c.nrt_free_model_tensor_info)(info), NRT_SUCCESS);
        assert_eq!(
            (c.nrt_free_model_tensor_info)(info),
            NRT_INVALID,
            "second free refused"
        );
        let mut local = 0u64;
        assert_eq!(
            (c.nrt_free_model_tensor_info)(&mut local as *mut u64 as *mut nrt_tensor_info_array_t),
            NRT_INVALID,
            "a foreign pointer is refused, not freed"
        );
    }
}

#[test]
fn matmul_and_chain_models_compute_exactly() {
    let _g = serial();
    let _s = Session::start();
    let (st, m) = load(&model_file("matmul_f32.nrtm"), 1);
    assert_eq!(st, NRT_SUCCESS);
    let (mm, k, n) = (64usize, 128usize, 32usize);
    let x: Vec<f32> = (0..mm * k)
        .map(|i| ((i * 7) % 13) as f32 * 0.25 - 1.0)
        .collect();
    let w: Vec<f32> = (0..k * n)
        .map(|i| ((i * 5) % 11) as f32 * 0.125 - 0.5)
        .collect();
    let (tx, tw, ty) = (
        device_tensor(1, 4 * mm * k),
        device_tensor(1, 4 * k * n),
        device_tensor(1, 4 * mm * n),
    );
    write(tx, &f32_bytes(&x));
    write(tw, &f32_bytes(&w));
    assert_eq!(
        execute(m, set_of(&[("x", tx), ("w", tw)]), set_of(&[("y", ty)])),
        NRT_SUCCESS
    );
    let y = to_f32(&read(ty, 4 * mm * n));
    for i in 0..mm {
        for j in 0..n {
            // The documented rule: accumulate in f64, round once.
            let acc: f64 = (0..k)
                .map(|p| x[i * k + p] as f64 * w[p * n + j] as f64)
                .sum();
            assert_eq!(y[i * n + j], acc as f32, "y[{i}][{j}]");
        }
    }

    let (st, c) = load(&model_file("chain_f32.nrtm"), 0);
    assert_eq!(st, NRT_SUCCESS);
    let a: Vec<f32> = (0..16).map(|i| i as f32 - 3.5).collect();
    let b: Vec<f32> = (0..16).map(|i| 2.0 - i as f32 * 0.75).collect();
    let ts: Vec<*mut nrt_tensor_t> = (0..6).map(|_| device_tensor(0, 64)).collect();
    write(ts[0], &f32_bytes(&a));
    write(ts[1], &f32_bytes(&b));
    let outs = set_of(&[
        ("sum", ts[2]),
        ("diff", ts[3]),
        ("prod", ts[4]),
        ("half", ts[5]),
    ]);
    assert_eq!(
        execute(c, set_of(&[("a", ts[0]), ("b", ts[1])]), outs),
        NRT_SUCCESS
    );
    let (sum, diff, prod, half) = (
        to_f32(&read(ts[2], 64)),
        to_f32(&read(ts[3], 64)),
        to_f32(&read(ts[4], 64)),
        to_f32(&read(ts[5], 64)),
    );
    for i in 0..16 {
        assert_eq!(sum[i], a[i] + b[i]);
        assert_eq!(diff[i], a[i] - b[i]);
        assert_eq!(prod[i], (a[i] + b[i]) * (a[i] - b[i]));
        assert_eq!(half[i], prod[i] * 0.5);
    }
}

#[test]
fn models_written_by_the_rust_api_load_and_run() {
    let _g = serial();
    let _s = Session::start();
    let spec = ModelSpec::new("i32_ops")
        .time_us(1)
        .input("p", Dtype::I32, &[4])
        .input("q", Dtype::I32, &[4])
        .output("r", Dtype::I32, &[4])
        .op(OpSpec::mul("r", "p", "q"))
        .op(OpSpec::sub("r", "r", "q"));
    let (st, m) = load(&spec.to_bytes().unwrap(), 0);
    assert_eq!(st, NRT_SUCCESS);
    let i32s = |v: &[i32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let (tp, tq, tr) = (
        device_tensor(0, 16),
        device_tensor(0, 16),
        device_tensor(0, 16),
    );
    write(tp, &i32s(&[3, -4, i32::MAX, 0]));
    write(tq, &i32s(&[5, 6, 2, -9]));
    assert_eq!(
        execute(m, set_of(&[("p", tp), ("q", tq)]), set_of(&[("r", tr)])),
        NRT_SUCCESS
    );
    let r: Vec<i32> = read(tr, 16)
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(
        r,
        vec![10, -30, i32::MAX.wrapping_mul(2).wrapping_sub(2), 9],
        "integers wrap"
    );
}

#[test]
fn bad_files_are_refused_with_the_right_code() {
    let _g = serial();
    let _s = Session::start();
    let good = model_file("add_f32.nrtm");
    let mut neff = vec![0u8; 1024 + 64];
    neff[8..16].copy_from_slice(&1024u64.to_le_bytes());
    neff[16..24].copy_from_slice(&64u64.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>, NRT_STATUS)> = vec![
        (
            "garbage",
            (0..200u32).map(|i| (i * 37 % 251) as u8).collect(),
            NRT_INVALID,
        ),
        (
            "truncated model",
            good[..good.len() - 5].to_vec(),
            NRT_INVALID,
        ),
        (
            "first line only",
            b"nrt-emu-model 1\n".to_vec(),
            NRT_INVALID,
        ),
        (
            "future format",
            b"nrt-emu-model 7\nend\n".to_vec(),
            NRT_UNSUPPORTED_NEFF_VERSION,
        ),
        ("a real NEFF", neff.clone(), NRT_UNSUPPORTED_NEFF_VERSION),
        ("a truncated NEFF", neff[..700].to_vec(), NRT_INVALID),
        (
            "bad fault rule",
            String::from_utf8(good.clone())
                .unwrap()
                .replace("end\n", "fault boom\nend\n")
                .into_bytes(),
            NRT_INVALID,
        ),
    ];
    for (what, bytes, code) in cases {
        let (st, m) = load(&bytes, 0);
        assert_eq!(st, code, "{what}");
        assert!(m.is_null(), "{what}: out-pointer untouched");
    }
    assert_eq!(load(&good, 2).0, NRT_LOAD_NOT_ENOUGH_NC, "core 2 of 2");
    assert_eq!(load(&good, -2).0, NRT_INVALID);
    let mut m: *mut nrt_model_t = std::ptr::null_mut();
    // SAFETY: valid buffer and out-pointer; vnc_count 3 is refused.
    let st = unsafe { (emu().lib.core.nrt_load)(good.as_ptr().cast(), good.len(), 0, 3, &mut m) };
    assert_eq!(st, NRT_INVALID);
}

#[test]
fn model_info_placement_and_unload() {
    let _g = serial();
    let _s = Session::start();
    let c = &emu().lib.core;
    let bytes = model_file("add_f32_0us.nrtm");
    let vnc_of = |m: *mut nrt_model_t| {
        let mut info = nrt_model_info_t::default();
        let mut n = 0usize;
        // SAFETY: valid out-pointers.
        let s = unsafe {
            (c.nrt_get_model_info)(
                m,
                &mut info,
                std::mem::size_of::<nrt_model_info_t>(),
                &mut n,
            )
        };
        assert_eq!((s, n), (NRT_SUCCESS, 4));
        info.vnc
    };
    let (_, m0) = load(&bytes, -1);
    let (_, m1) = load(&bytes, -1);
    let (_, m2) = load(&bytes, 1);
    assert_eq!(
        (vnc_of(m0), vnc_of(m1), vnc_of(m2)),
        (0, 1, 1),
        "-1 picks the least loaded core"
    );
    let mut count = 0u32;
    // SAFETY: valid handle and out-pointer.
    unsafe {
        assert_eq!(
            (c.nrt_get_model_vnc_count.unwrap())(m0, &mut count),
            NRT_SUCCESS
        );
        assert_eq!(count, 1);
        assert_eq!((c.nrt_unload)(m0), NRT_SUCCESS);
        assert_eq!((c.nrt_unload)(m0), NRT_INVALID, "second unload");
    }
    let t = device_tensor(0, 4096);
    let ins = set_of(&[("a", t), ("b", t)]);
    let outs = set_of(&[("out", device_tensor(0, 4096))]);
    assert_eq!(execute(m0, ins, outs), NRT_INVALID, "unloaded model");
    assert_eq!(
        execute(m1, ins, outs),
        NRT_SUCCESS,
        "a tensor may be two inputs"
    );
}

#[test]
fn execute_checks_names_sizes_and_liveness() {
    let _g = serial();
    let _s = Session::start();
    let (_, m) = load(&model_file("add_f32_0us.nrtm"), 0);
    let ok = device_tensor(0, 4096);
    let small = device_tensor(0, 4092);
    let out = device_tensor(0, 4096);
    let outs = set_of(&[("out", out)]);
    assert_eq!(
        execute(m, set_of(&[("a", ok)]), outs),
        NRT_INVALID,
        "missing input b"
    );
    assert_eq!(
        execute(m, set_of(&[("a", ok), ("B", ok)]), outs),
        NRT_INVALID,
        "names are case-sensitive"
    );
    assert_eq!(
        execute(m, set_of(&[("a", ok), ("b", small)]), outs),
        NRT_INVALID,
        "wrong size"
    );
    assert_eq!(
        execute(m, set_of(&[("a", ok), ("b", ok)]), set_of(&[])),
        NRT_INVALID,
        "missing output"
    );
    let mut dead = device_tensor(0, 4096);
    let ins = set_of(&[("a", ok), ("b", dead)]);
    // SAFETY: a live handle.
    unsafe { (emu().lib.core.nrt_tensor_free)(&mut dead) };
    assert_eq!(
        execute(m, ins, outs),
        NRT_INVALID,
        "freed tensor in the set"
    );
    assert_eq!(
        execute(m, outs, outs),
        NRT_INVALID,
        "output set lacks a and b"
    );
    let extra = set_of(&[("a", ok), ("b", ok), ("unused", small)]);
    assert_eq!(
        execute(m, extra, outs),
        NRT_SUCCESS,
        "extra names are ignored"
    );
}

#[test]
fn fault_rules_in_a_model_file_reach_nrt_execute() {
    let _g = serial();
    let _s = Session::start();
    let (st, m) = load(&model_file("add_f32_faults.nrtm"), 0);
    assert_eq!(st, NRT_SUCCESS);
    let t = device_tensor(0, 4096);
    let (ins, outs) = (
        set_of(&[("a", t), ("b", t)]),
        set_of(&[("out", device_tensor(0, 4096))]),
    );
    let codes: Vec<NRT_STATUS> = (0..20).map(|_| execute(m, ins, outs)).collect();
    for (i, c) in codes.iter().enumerate() {
        let want = if (i + 1) % 10 == 0 {
            NRT_EXEC_COMPLETED_WITH_ERR
        } else {
            NRT_SUCCESS
        };
        assert_eq!(*c, want, "execution {}", i + 1);
    }
}
