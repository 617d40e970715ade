//! The CI slice of the soak (issue 10): `tests/soak/nrtq_soak.c`, a client written from
//! `include/nrtq.h` alone, runs 1,000,000 requests on the generation `NRT_EMU_API` names
//! (`make test` runs every generation) with random faults, destroys mid-stream and
//! recreated queues, and checks exactly-once, per-queue order, statuses and prompt waits on
//! failed queues. Its seed is printed; `SOAK_SEED=<seed>` replays a failure, and
//! `SOAK_REQUESTS` changes the size. `make soak` is the full run (10^7 requests).
mod build_tree;

use build_tree::*;
use std::process::Command;
use std::time::Instant;

#[test]
fn soak_slice_of_a_million_requests_keeps_every_promise() {
    let profile = profile_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let generation = nrt_emu::selected_generation();
    let build = Command::new("make")
        .args([
            "-s",
            "-C",
            "tests/soak",
            &format!("PROFILE={profile}"),
            &format!("API={generation}"),
        ])
        .current_dir(root())
        .output()
        .expect("run make");
    assert!(
        build.status.success(),
        "make -C tests/soak failed (run `cargo build --workspace` first):\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let lib = nrt_emu::library_path(&generation);
    let requests = std::env::var("SOAK_REQUESTS").unwrap_or_else(|_| "1000000".into());
    let started = Instant::now();
    let out = Command::new(profile_dir().join("soak/nrtq_soak"))
        .env("LD_LIBRARY_PATH", lib.parent().unwrap())
        .env("NRT_EMU_API", &generation)
        .env("SOAK_REQUESTS", &requests)
        .output()
        .expect("run nrtq_soak");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "{stdout}\n(soak slice on {generation}: {:?})",
        started.elapsed()
    );
    assert!(
        out.status.success() && stdout.contains("PASS: nrtq_soak"),
        "nrtq_soak on {generation} failed ({}); replay with the seed printed above:\n{stdout}\n\
         --- first violations:\n{stderr}",
        out.status
    );
}
