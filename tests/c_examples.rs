//! The nrtq C examples in examples-c/, built with the Makefile (pkg-config finds the
//! build tree's nrtq.pc) and run against the emulator generation `NRT_EMU_API` names.
//! Each program checks its own results and ends with a `PASS:` line; these tests also
//! check the figures they print.
mod build_tree;

use build_tree::*;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

fn build_examples() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| make_in("examples-c", "nrtq"));
}

/// Run one example on the selected generation; returns its stdout after asserting it passed.
fn run(program: &str, args: &[&str]) -> String {
    build_examples();
    let generation = nrt_emu::selected_generation();
    let out = example_command("examples-c", program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains(&format!("PASS: {program}")),
        "{program} on {generation} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn model(name: &str) -> String {
    root()
        .join("nrt-emu/models")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn server_with_producer_threads_verifies_every_output() {
    let out = run("nrtq_server", &[&model("add_f32.nrtm"), "4", "25"]);
    assert!(
        out.contains("callbacks 400, verified 400 of 400, wrong elements 0, failed 0"),
        "{out}"
    );
    let generation = nrt_emu::selected_generation().replace('.', "");
    assert!(
        out.contains(&format!("(async generation {generation})")),
        "{out}"
    );
}

#[test]
fn event_loop_reaps_through_epoll() {
    let out = run("nrtq_event_loop", &[&model("add_f32.nrtm"), "1000", "8"]);
    assert!(
        out.contains("requests 1000, reaped 1000, verified 1000"),
        "{out}"
    );
}

#[test]
fn errors_and_a_dying_unit_reach_the_application() {
    let out = run(
        "nrtq_errors",
        &[&model("add_f32_faults.nrtm"), &model("add_f32_dies.nrtm")],
    );
    assert!(
        out.contains("36 ok, 4 NRTQ_ERR_EXEC, 0 other; error log: 4 entries"),
        "{out}"
    );
    assert!(
        out.contains("fatal callback: NRTQ_ERR_QUEUE_FAILED"),
        "{out}"
    );
    assert!(out.contains("completions: 5 ok,"), "{out}");
}

/// `NRTQ_TRACE` and `NRT_EMU_TRACE` together: both files are valid Chrome trace-event JSON,
/// nrtq's has the life of every request (submitted, queued, on device, delivered), the
/// emulator's one slice per request, and the two share a clock: each request's "on device"
/// slice ends after the device finished it and soon after.
#[test]
fn queue_trace_lines_up_with_the_device_trace() {
    let dir = std::env::temp_dir().join(format!("nrtq-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ours, device) = (dir.join("nrtq.json"), dir.join("device.json"));
    build_examples();
    let generation = nrt_emu::selected_generation();
    let lib = nrt_emu::library_path(&generation);
    let out = Command::new(profile_dir().join("examples-c/nrtq_server"))
        .args([&model("add_f32.nrtm"), "1", "10"]) // one producer: 40 requests
        .env("LD_LIBRARY_PATH", lib.parent().unwrap())
        .env("NRT_EMU_API", &generation)
        .env("NRTQ_TRACE", &ours)
        .env("NRT_EMU_TRACE", &device)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let load = |p: &PathBuf| -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(p).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
        // Both trace-event forms: a bare array, or an object with "traceEvents".
        match v {
            serde_json::Value::Array(events) => events,
            serde_json::Value::Object(mut o) => match o.remove("traceEvents") {
                Some(serde_json::Value::Array(events)) => events,
                _ => panic!("{} has no traceEvents array", p.display()),
            },
            _ => panic!("{} is not a trace", p.display()),
        }
    };
    let (ours, device) = (load(&ours), load(&device));
    let named = |events: &[serde_json::Value], name: &str| -> Vec<serde_json::Value> {
        events
            .iter()
            .filter(|e| e["name"] == name)
            .cloned()
            .collect()
    };
    for stage in ["submitted", "queued", "on device", "delivered"] {
        assert_eq!(
            named(&ours, stage).len(),
            40,
            "nrtq trace: 40 '{stage}' events"
        );
    }
    let slices: Vec<&serde_json::Value> = device.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(slices.len(), 40, "device trace: one slice per request");

    // Requests complete in order on the one COMPUTE unit: pair them by position.
    let end = |e: &serde_json::Value| e["ts"].as_f64().unwrap() + e["dur"].as_f64().unwrap();
    let mut on_device = named(&ours, "on device");
    on_device.sort_by_key(|e| e["args"]["ticket"].as_u64().unwrap());
    let mut dev: Vec<f64> = slices.iter().map(|e| end(e)).collect();
    dev.sort_by(|a, b| a.partial_cmp(b).unwrap());
    for (ours, device_end) in on_device.iter().zip(dev) {
        let observed = end(ours);
        assert!(
            observed >= device_end - 1.0 && observed <= device_end + 50_000.0,
            "ticket {}: completion observed at {observed} µs, device ended at {device_end} µs",
            ours["args"]["ticket"]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pipeline_server_gets_host_buffers_back_checked_element_by_element() {
    let out = run("nrtq_pipeline_server", &[&model("add_f32.nrtm"), "4", "25"]);
    assert!(
        out.contains("callbacks 400, verified 400 of 400, wrong elements 0, failed 0"),
        "{out}"
    );
    assert!(
        out.contains("wrong size refused: NRTQ_ERR_INVALID"),
        "{out}"
    );
    for stage in ["write: 400 steps", "execute: 400 steps", "read: 400 steps"] {
        assert!(out.contains(stage), "{stage}: {out}");
    }
}

/// A pipeline's trace has one track per stage, and each stage's slices line up with the
/// emulator's slices of that unit: nrtq schedules a step before the unit starts it, and
/// sees it complete after the unit ended it (and soon after).
#[test]
fn pipeline_trace_has_a_track_per_stage_lined_up_with_the_device() {
    let dir = std::env::temp_dir().join(format!("nrtq-pipe-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ours, device) = (dir.join("nrtq.json"), dir.join("device.json"));
    build_examples();
    let generation = nrt_emu::selected_generation();
    let lib = nrt_emu::library_path(&generation);
    let out = Command::new(profile_dir().join("examples-c/nrtq_pipeline_server"))
        .args([&model("add_f32.nrtm"), "1", "10"]) // one client: 40 requests
        .env("LD_LIBRARY_PATH", lib.parent().unwrap())
        .env("NRT_EMU_API", &generation)
        .env("NRTQ_TRACE", &ours)
        .env("NRT_EMU_TRACE", &device)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let load = |p: &PathBuf| -> Vec<serde_json::Value> {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        match v {
            serde_json::Value::Array(events) => events,
            serde_json::Value::Object(mut o) => match o.remove("traceEvents") {
                Some(serde_json::Value::Array(events)) => events,
                _ => panic!("{} has no traceEvents", p.display()),
            },
            _ => panic!("{} is not a trace", p.display()),
        }
    };
    let (ours, device) = (load(&ours), load(&device));
    let end = |e: &serde_json::Value| e["ts"].as_f64().unwrap() + e["dur"].as_f64().unwrap();
    // The device's tracks by name ("compute q0", …): the units of each stage here.
    let track_name = |tid: &serde_json::Value| -> String {
        device
            .iter()
            .find(|e| e["ph"] == "M" && e["name"] == "thread_name" && &e["tid"] == tid)
            .map(|e| e["args"]["name"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let gen_a = generation == "2.28";
    let mut tids = Vec::new();
    for (stage, unit, per_request) in [
        ("write", if gen_a { "write q0" } else { "op q0" }, 2),
        ("execute", "compute q0", 1),
        ("read", if gen_a { "read q0" } else { "op q1" }, 1),
    ] {
        let mut mine: Vec<&serde_json::Value> = ours
            .iter()
            .filter(|e| e["ph"] == "X" && e["name"] == stage)
            .collect();
        assert_eq!(mine.len(), 40, "{stage}: one slice per request");
        let tid = mine[0]["tid"].clone();
        assert!(mine.iter().all(|e| e["tid"] == tid), "{stage}: one track");
        tids.push(tid);
        mine.sort_by_key(|e| e["args"]["ticket"].as_u64().unwrap());
        let mut dev: Vec<&serde_json::Value> = device
            .iter()
            .filter(|e| e["ph"] == "X" && track_name(&e["tid"]).ends_with(unit))
            .collect();
        assert_eq!(
            dev.len(),
            40 * per_request,
            "{stage}: device slices on {unit}"
        );
        dev.sort_by(|a, b| {
            a["ts"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["ts"].as_f64().unwrap())
        });
        for (k, m) in mine.iter().enumerate() {
            // The request's parts on the unit: its first started after nrtq scheduled
            // it; its last ended before nrtq saw it complete.
            let parts = &dev[k * per_request..(k + 1) * per_request];
            let (ts, seen) = (m["ts"].as_f64().unwrap(), end(m));
            let (first, last) = (
                parts[0]["ts"].as_f64().unwrap(),
                end(parts[per_request - 1]),
            );
            assert!(
                ts <= first + 1.0 && seen >= last - 1.0 && seen <= last + 50_000.0,
                "{stage} ticket {}: nrtq [{ts}, {seen}] µs, device [{first}, {last}] µs",
                m["args"]["ticket"]
            );
        }
    }
    tids.sort_by_key(|t| t.as_u64());
    tids.dedup();
    assert_eq!(tids.len(), 3, "three stage tracks");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pool_serves_on_every_core_and_survives_one_dying() {
    build_examples();
    let out = example_command("examples-c", "nrtq_pool")
        .args([&model("add_f32.nrtm"), "4000"])
        .env("NRT_EMU_TOTAL_CORES", "4")
        .env("NRT_EMU_FAULTS", "unrecoverable after=300 lnc=1")
        .output()
        .expect("run nrtq_pool");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains("PASS: nrtq_pool"),
        "nrtq_pool failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("pool on 4 cores"), "{stdout}");
    // NRT_EXEC_UNIT_UNRECOVERABLE is 101.
    assert!(
        stdout.contains("core 1 left: NRTQ_ERR_QUEUE_FAILED")
            && stdout.contains("(NRT_STATUS 101)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("delivered 4000 of 4000 exactly once"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cores serving 3 of 4, pool serving"),
        "{stdout}"
    );
    // What was on core 1's device when it died completes with the failure (at most what
    // the core held); everything else ran, with verified outputs, on the others.
    let failed: u64 = stdout
        .split(", failed ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no failed count in {stdout}"));
    // At most what the core held: a pipeline holds up to its device slots (64 by default).
    assert!((1..=64).contains(&failed), "{failed} failed:\n{stdout}");
    assert!(
        stdout.contains(&format!("verified {}, wrong elements 0", 4000 - failed)),
        "{stdout}"
    );
}
