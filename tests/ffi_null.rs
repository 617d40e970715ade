//! The C API answers NULL and invalid arguments with a status and a message, never a crash;
//! and every `extern "C"` entry point in src/ffi sits behind the panic boundary.
use std::ffi::{c_char, CStr};
use std::path::Path;

use nrtq::ffi::config::*;
use nrtq::ffi::diag::*;
use nrtq::ffi::queue::*;
use nrtq::ffi::reap::*;
use nrtq::ffi::runtime::*;
use nrtq::ffi::stats::*;
use nrtq::ffi::status::nrtq_status::{self, *};
use nrtq::ffi::status::*;

fn last_error() -> String {
    // SAFETY: nrtq_last_error returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(nrtq_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn expect(status: nrtq_status, want: nrtq_status, mentions: &str) {
    assert_eq!(status, want);
    let msg = last_error();
    assert!(
        msg.contains(mentions),
        "message {msg:?} does not mention {mentions:?}"
    );
}

#[test]
fn every_entry_point_answers_null_with_a_status() {
    let null_q = std::ptr::null_mut::<nrtq_queue>();
    let null_rt = std::ptr::null_mut::<nrtq_runtime>();
    let null_cfg = std::ptr::null_mut::<nrtq_queue_config>();
    let any = 0x1000 as *mut std::ffi::c_void;
    let mut out_rt = std::ptr::null_mut::<nrtq_runtime>();
    let mut out_q = std::ptr::null_mut();
    let mut n = 0usize;
    let mut t = 0u64;

    expect(
        nrtq_runtime_open(std::ptr::null(), false, std::ptr::null_mut()),
        NRTQ_ERR_NULL,
        "out",
    );
    expect(nrtq_runtime_close(null_rt), NRTQ_ERR_NULL, "rt");
    expect(
        nrtq_runtime_generation(null_rt, std::ptr::null_mut()),
        NRTQ_ERR_NULL,
        "rt",
    );
    expect(
        nrtq_runtime_version(null_rt, std::ptr::null_mut(), 0, std::ptr::null_mut()),
        NRTQ_ERR_NULL,
        "rt",
    );

    expect(
        nrtq_queue_config_new(std::ptr::null_mut()),
        NRTQ_ERR_NULL,
        "out",
    );
    nrtq_queue_config_free(null_cfg); // accepted and ignored
    expect(
        nrtq_queue_config_set_depth(null_cfg, 3),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_max_depth(null_cfg, 8),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_backlog(null_cfg, 3),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_delivery(null_cfg, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_wait_policy(null_cfg, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_spin_us(null_cfg, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_deadline_us(null_cfg, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_error_log(null_cfg, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_completion_callback(null_cfg, None),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_completion_hook(null_cfg, None, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_refill_callback(null_cfg, None, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );
    expect(
        nrtq_queue_config_set_fatal_callback(null_cfg, None, 0),
        NRTQ_ERR_NULL,
        "cfg",
    );

    expect(
        nrtq_queue_create(null_rt, any, std::ptr::null(), &mut out_q),
        NRTQ_ERR_NULL,
        "rt",
    );
    expect(nrtq_queue_destroy(null_q, 0), NRTQ_ERR_NULL, "q");
    expect(
        nrtq_queue_submit(null_q, any, any, None, 0, &mut t),
        NRTQ_ERR_NULL,
        "q",
    );
    expect(
        nrtq_queue_submit_timeout(null_q, any, any, None, 0, 0, &mut t),
        NRTQ_ERR_NULL,
        "q",
    );
    expect(nrtq_queue_wait(null_q, 1, 0), NRTQ_ERR_NULL, "q");
    expect(nrtq_queue_cancel(null_q, 1), NRTQ_ERR_NULL, "q");
    expect(nrtq_queue_drain(null_q, 0), NRTQ_ERR_NULL, "q");
    expect(
        nrtq_queue_failure(null_q, std::ptr::null_mut(), std::ptr::null_mut()),
        NRTQ_ERR_NULL,
        "q",
    );
    expect(
        nrtq_queue_reap_fd(null_q, std::ptr::null_mut()),
        NRTQ_ERR_NULL,
        "q",
    );
    expect(
        nrtq_queue_reap(null_q, std::ptr::null_mut(), 0, &mut n),
        NRTQ_ERR_NULL,
        "q",
    );
    expect(
        nrtq_queue_errors(
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
        nrtq_queue_stats(null_q, std::ptr::null_mut()),
        NRTQ_ERR_NULL,
        "q",
    );
    assert_eq!(nrtq_set_log_hook(None, 99, 0), NRTQ_ERR_INVALID);
    assert_eq!(nrtq_set_log_hook(None, 1, 0), NRTQ_OK);
    assert!(!nrtq_version().is_null());
    assert!(
        out_rt.is_null() && out_q.is_null(),
        "outputs are written only on success"
    );
    let _ = &mut out_rt;
}

#[test]
fn config_setters_check_values_and_outputs_stay_untouched_on_failure() {
    let mut cfg = std::ptr::null_mut();
    assert_eq!(nrtq_queue_config_new(&mut cfg), NRTQ_OK);
    expect(
        nrtq_queue_config_set_depth(cfg, 0),
        NRTQ_ERR_INVALID,
        "depth",
    );
    expect(
        nrtq_queue_config_set_depth(cfg, 5000),
        NRTQ_ERR_INVALID,
        "depth",
    );
    assert_eq!(nrtq_queue_config_set_depth(cfg, 2), NRTQ_OK);
    expect(
        nrtq_queue_config_set_max_depth(cfg, 0),
        NRTQ_ERR_INVALID,
        "max_depth",
    );
    expect(
        nrtq_queue_config_set_max_depth(cfg, 1025),
        NRTQ_ERR_INVALID,
        "max_depth",
    );
    assert_eq!(nrtq_queue_config_set_max_depth(cfg, 2), NRTQ_OK);
    expect(
        nrtq_queue_config_set_delivery(cfg, 7),
        NRTQ_ERR_INVALID,
        "delivery",
    );
    expect(
        nrtq_queue_config_set_wait_policy(cfg, 7),
        NRTQ_ERR_INVALID,
        "policy",
    );
    expect(
        nrtq_queue_config_set_spin_us(cfg, 1_000_000),
        NRTQ_ERR_INVALID,
        "spin_us",
    );
    expect(
        nrtq_queue_config_set_backlog(cfg, u32::MAX),
        NRTQ_ERR_INVALID,
        "backlog",
    );
    nrtq_queue_config_free(cfg);

    // A library that does not exist: every place tried is in the message, out untouched.
    let mut rt = std::ptr::dangling_mut::<nrtq_runtime>();
    let st = nrtq_runtime_open(c"/nonexistent/libnrt.so.1".as_ptr(), false, &mut rt);
    assert_eq!(st, NRTQ_ERR_LOAD);
    assert!(
        last_error().contains("/nonexistent/libnrt.so.1"),
        "{}",
        last_error()
    );
    assert_eq!(rt, std::ptr::dangling_mut::<nrtq_runtime>());
}

#[test]
fn status_strings_cover_every_code_and_tolerate_unknown_values() {
    for code in [
        0u32, 1, 2, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 200, 201, 202,
        203,
    ] {
        // SAFETY: nrtq_status_str always returns a static NUL-terminated string.
        let s = unsafe { CStr::from_ptr(nrtq_status_str(code)) }
            .to_str()
            .unwrap();
        assert!(s.starts_with("NRTQ_"), "{code}: {s}");
    }
    for code in [3u32, 99, 113, 199, 204, u32::MAX] {
        // SAFETY: as above.
        let s = unsafe { CStr::from_ptr(nrtq_status_str(code)) }
            .to_str()
            .unwrap();
        assert_eq!(s, "unknown nrtq status");
    }
    assert_eq!(nrtq_status::NRTQ_ERR_DEADLINE as u32, 203);
}

/// The `extern "C" fn` definitions of a source text: (name, body up to the next one).
fn entry_points(text: &str) -> Vec<(String, &str)> {
    let marker = "extern \"C\" fn ";
    let starts: Vec<usize> = text.match_indices(marker).map(|(i, _)| i).collect();
    let mut out = Vec::new();
    for (k, &i) in starts.iter().enumerate() {
        let after = &text[i + marker.len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let end = starts.get(k + 1).map_or(text.len(), |&j| j);
        let Some(open) = text[i..end].find('{') else {
            continue;
        };
        out.push((name, &text[i + open..end]));
    }
    out
}

fn ffi_sources() -> Vec<(std::path::PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    files
}

/// Every `extern "C" fn` in src/ffi has the panic boundary in its body (rustls-ffi#286).
#[test]
fn every_entry_point_is_behind_the_panic_boundary() {
    let mut checked = Vec::new();
    for (path, text) in ffi_sources() {
        for (name, body) in entry_points(&text) {
            if name.is_empty() {
                continue; // a function-pointer type such as `Option<unsafe extern "C" fn(…)>`
            }
            assert!(
                body.trim_start_matches('{')
                    .trim_start()
                    .starts_with("ffi_boundary!("),
                "{}: {name} does not start with ffi_boundary!",
                path.display()
            );
            checked.push(name);
        }
    }
    // Every function the header declares was among them.
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/nrtq.h"))
            .unwrap();
    let mut declared: Vec<String> = header
        .lines()
        .filter(|l| !l.trim_start().starts_with('*') && !l.starts_with("typedef"))
        .filter_map(|l| {
            let before_paren = &l[..l.find('(')?];
            let name = before_paren.rsplit([' ', '*']).next()?;
            name.starts_with("nrtq_").then(|| name.to_string())
        })
        .collect();
    declared.sort();
    checked.sort();
    assert_eq!(
        checked, declared,
        "entry points in src/ffi vs functions in nrtq.h"
    );
}

/// The files that allow `clippy::not_unsafe_ptr_arg_deref` hold C entry points only: no
/// other function there takes a raw pointer, so the allowance never covers a safe Rust
/// helper that reads or writes through one (those live in handle.rs and out.rs as
/// `unsafe fn`s, where the lint is not allowed).
#[test]
fn the_raw_pointer_allowance_covers_only_entry_points() {
    let mut allowed = 0;
    for (path, text) in ffi_sources() {
        if !text.contains("allow(\n    clippy::not_unsafe_ptr_arg_deref")
            && !text.contains("allow(clippy::not_unsafe_ptr_arg_deref")
        {
            continue;
        }
        allowed += 1;
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            !["handle.rs", "out.rs", "mod.rs", "completion.rs"].contains(&name.as_ref()),
            "{name} must not allow not_unsafe_ptr_arg_deref"
        );
        for (i, _) in text.match_indices("fn ") {
            let before = &text[..i];
            if before.ends_with("extern \"C\" ") || !before.ends_with(' ') {
                continue;
            }
            let signature = &text[i..i + text[i..].find('{').unwrap_or(text.len() - i)];
            assert!(
                !signature.contains("*const") && !signature.contains("*mut"),
                "{name}: a helper that takes a raw pointer sits under the allowance: {signature}"
            );
        }
    }
    assert!(
        allowed >= 4,
        "expected the entry-point files to carry the allowance"
    );
}

/// Stats honour the caller's `struct_size`: a shorter struct is written only that far, a
/// longer one only as far as the library knows, and `struct_size` says how far.
#[test]
fn stats_write_at_most_struct_size_bytes() {
    use nrtq::backend::mock::{MockConfig, MockDevice};
    let rt = nrtq::Runtime::with_device(MockDevice::new(MockConfig::default())).unwrap();
    let q = rt
        .create_queue(nrtq::Handle(1), nrtq::QueueConfig::default())
        .unwrap();
    let handle = q.as_ptr() as *const nrtq_queue;
    let mut buf = [0xABu8; std::mem::size_of::<nrtq_stats>() + 16];
    // An "old" caller that knows only struct_size and submitted (16 bytes).
    buf[..8].copy_from_slice(&16u64.to_ne_bytes());
    assert_eq!(nrtq_queue_stats(handle, buf.as_mut_ptr().cast()), NRTQ_OK);
    assert_eq!(&buf[8..16], &0u64.to_ne_bytes());
    assert!(
        buf[16..].iter().all(|&b| b == 0xAB),
        "wrote past struct_size"
    );
    assert_eq!(
        &buf[..8],
        &16u64.to_ne_bytes(),
        "struct_size written back: the 16 bytes filled"
    );
    // A "newer" caller whose struct is 16 bytes longer: the library fills its own size,
    // says so in struct_size, and leaves the fields it does not know untouched.
    let own = std::mem::size_of::<nrtq_stats>();
    buf.fill(0xAB);
    buf[..8].copy_from_slice(&(own as u64 + 16).to_ne_bytes());
    assert_eq!(nrtq_queue_stats(handle, buf.as_mut_ptr().cast()), NRTQ_OK);
    assert_eq!(&buf[..8], &(own as u64).to_ne_bytes());
    assert!(
        buf[own..].iter().all(|&b| b == 0xAB),
        "wrote past its own struct"
    );
    assert_eq!(&buf[8..16], &0u64.to_ne_bytes(), "submitted is filled");
    // A size that is not a whole number of fields: only whole fields, and says so.
    buf.fill(0xAB);
    buf[..8].copy_from_slice(&20u64.to_ne_bytes());
    assert_eq!(nrtq_queue_stats(handle, buf.as_mut_ptr().cast()), NRTQ_OK);
    assert_eq!(&buf[..8], &16u64.to_ne_bytes());
    assert!(buf[16..].iter().all(|&b| b == 0xAB));
    buf[..8].copy_from_slice(&4u64.to_ne_bytes());
    expect(
        nrtq_queue_stats(handle, buf.as_mut_ptr().cast()),
        NRTQ_ERR_INVALID,
        "struct_size",
    );
    let mut s = nrtq_stats {
        struct_size: std::mem::size_of::<nrtq_stats>() as u64,
        ..Default::default()
    };
    assert_eq!(nrtq_queue_stats(handle, &mut s), NRTQ_OK);
    assert_eq!(s.in_flight, 0);
    // Reap calls on a callback-mode queue are refused with a status.
    let mut fd = -1;
    expect(
        nrtq_queue_reap_fd(handle, &mut fd),
        NRTQ_ERR_WRONG_MODE,
        "callback mode",
    );
    assert_eq!(fd, -1);
    let mut n = 7usize;
    expect(
        nrtq_queue_reap(handle as *mut _, std::ptr::null_mut(), 4, &mut n),
        NRTQ_ERR_NULL,
        "out",
    );
    assert_eq!(n, 7);
    expect(
        nrtq_queue_wait(handle as *mut _, 5, 0),
        NRTQ_ERR_UNKNOWN_TICKET,
        "ticket 5",
    );
    let null_in = std::ptr::null();
    expect(
        nrtq_queue_submit(
            handle as *mut _,
            null_in,
            0x10 as *mut _,
            None,
            0,
            std::ptr::null_mut(),
        ),
        NRTQ_ERR_NULL,
        "input",
    );
    rt.destroy_queue(&q, std::time::Duration::from_secs(1))
        .unwrap();
    let _: *const c_char = nrtq_version();
}
