//! The loader against small shared libraries compiled here with `cc`, each exporting a
//! chosen set of libnrt names, version nodes and `nrt_get_version` answer. They are only
//! loaded, never called (apart from `nrt_get_version`), so they exercise exactly what the
//! emulator cannot show: contradictions, missing names, a library without version nodes.

use neuron_sys::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const GEN_A_ONLY: [&str; 4] = [
    "nrta_error_tracker_create",
    "nrta_error_tracker_destroy",
    "nrta_error_tracker_get_list",
    "nrta_get_completion_handle",
];

struct Fake {
    name: &'static str,
    symbols: Vec<&'static str>,
    rt_minor: u64,
    /// Put `nrta_*` under `NRT_3.0.0` (and the rest under `NRT_2.0.0`).
    version_node_3: bool,
}

impl Fake {
    fn new(name: &'static str, rt_minor: u64, version_node_3: bool) -> Self {
        Self {
            name,
            symbols: CoreFns::SYMBOLS_REQUIRED.to_vec(),
            rt_minor,
            version_node_3,
        }
    }

    fn with(mut self, names: &[&'static str]) -> Self {
        self.symbols.extend_from_slice(names);
        self
    }

    fn without(mut self, names: &[&str]) -> Self {
        self.symbols.retain(|s| !names.contains(s));
        self
    }

    /// Compiles the library into a folder of its own.
    fn build(&self) -> Built {
        let dir = std::env::temp_dir().join(format!(
            "neuron-sys-fake-{}-{}",
            std::process::id(),
            self.name
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut src = String::from("#include <stdint.h>\n#include <string.h>\n");
        for s in self.symbols.iter().filter(|s| **s != "nrt_get_version") {
            // Never called: only its presence matters.
            writeln!(src, "int {s}(void) {{ return 1; }}").unwrap();
        }
        if self.symbols.contains(&"nrt_get_version") {
            writeln!(
                src,
                "int nrt_get_version(uint64_t *v, unsigned long size) {{\n\
                 \x20   if (size < 32) return 2;\n    memset(v, 0, size);\n\
                 \x20   v[0] = 2; v[1] = {}; return 0;\n}}",
                self.rt_minor
            )
            .unwrap();
        }
        let source = dir.join(format!("{}.c", self.name));
        let library = dir.join(format!("{}.so", self.name));
        std::fs::write(&source, src).unwrap();
        let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
        cc.args(["-shared", "-fPIC", "-o"])
            .arg(&library)
            .arg(&source);
        if self.version_node_3 {
            let map = dir.join(format!("{}.map", self.name));
            std::fs::write(
                &map,
                "NRT_2.0.0 { global: nrt_*; local: *; };\nNRT_3.0.0 { global: nrta_*; } NRT_2.0.0;\n",
            )
            .unwrap();
            cc.arg(format!("-Wl,--version-script={}", map.display()));
        }
        let out = cc.output().expect("run the C compiler");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Built { dir, library }
    }
}

/// A compiled fake library; its folder is deleted on drop (a library already loaded
/// stays mapped after its file is gone).
struct Built {
    dir: PathBuf,
    library: PathBuf,
}

impl std::ops::Deref for Built {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.library
    }
}

impl Drop for Built {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn gen_a_required() -> Vec<&'static str> {
    gen_a::Fns::SYMBOLS_REQUIRED.to_vec()
}

fn gen_b_required() -> Vec<&'static str> {
    gen_b::Fns::SYMBOLS_REQUIRED.to_vec()
}

#[test]
fn detects_each_generation() {
    let a = Fake::new("gen_a", 30, false)
        .with(&gen_a_required())
        .build();
    let lib = Libnrt::load_path(&a).unwrap();
    assert_eq!(lib.generation(), Some(Generation::Sdk2_28));
    assert!(lib.gen_a().is_some());

    let b = Fake::new("gen_b", 31, true).with(&gen_b_required()).build();
    let lib = Libnrt::load_path(&b).unwrap();
    assert_eq!(
        lib.generation(),
        Some(Generation::Sdk2_29),
        "{}",
        lib.detection()
    );
    assert!(
        lib.detection().contains("has version node NRT_3.0.0"),
        "{}",
        lib.detection()
    );
    assert!(lib.gen_b().unwrap().events.is_none());

    let events = gen_b::EventFns::SYMBOLS_REQUIRED;
    let b30 = Fake::new("gen_b_events", 32, true)
        .with(&gen_b_required())
        .with(events)
        .build();
    let lib = Libnrt::load_path(&b30).unwrap();
    assert_eq!(lib.generation(), Some(Generation::Sdk2_30));
    assert!(lib.gen_b().unwrap().events.is_some());
}

#[test]
fn gen_b_without_version_nodes_is_still_gen_b() {
    let b = Fake::new("gen_b_unversioned", 31, false)
        .with(&gen_b_required())
        .build();
    let lib = Libnrt::load_path(&b).unwrap();
    assert_eq!(lib.generation(), Some(Generation::Sdk2_29));
    assert!(
        lib.detection().contains("no NRT_3.0.0"),
        "{}",
        lib.detection()
    );
}

#[test]
fn no_async_api() {
    let sync = Fake::new("sync_only", 29, false).build();
    let lib = Libnrt::load_path(&sync).unwrap();
    assert_eq!(lib.generation(), None);
    assert!(lib.asyncs.is_none());
}

#[test]
fn symbols_and_version_disagreeing_is_an_error_naming_both() {
    // Gen A's tracker, but libnrt 2.31 (SDK 2.29).
    let bad = Fake::new("gen_a_as_2_31", 31, false)
        .with(&gen_a_required())
        .build();
    let err = Libnrt::load_path(&bad).unwrap_err();
    let LoadError::Unusable {
        problem: Problem::GenerationMismatch { symbols, version },
        ..
    } = &err
    else {
        panic!("expected a generation mismatch, got {err:?}");
    };
    assert!(symbols.contains("nrta_error_tracker_create"), "{symbols}");
    assert!(version.contains("2.31"), "{version}");
    let text = err.to_string();
    assert!(text.contains(symbols) && text.contains(version), "{text}");

    // The tracker exported at version node NRT_3.0.0: the symbols contradict each other.
    let bad = Fake::new("gen_a_at_node_3", 30, true)
        .with(&gen_a_required())
        .build();
    assert!(matches!(
        Libnrt::load_path(&bad),
        Err(LoadError::Unusable {
            problem: Problem::GenerationMismatch { .. },
            ..
        })
    ));
}

#[test]
fn every_missing_name_is_reported_at_once() {
    let broken = Fake::new("gen_a_broken", 30, false)
        .with(&gen_a_required())
        .without(&[
            "nrt_execute",
            "nrt_tensor_memset",
            "nrta_get_completion_handle",
        ])
        .build();
    let err = Libnrt::load_path(&broken).unwrap_err();
    let LoadError::Unusable {
        problem: Problem::MissingSymbols(names),
        ..
    } = &err
    else {
        panic!("expected missing symbols, got {err:?}");
    };
    assert_eq!(
        names,
        &[
            "nrt_tensor_memset",
            "nrt_execute",
            "nrta_get_completion_handle"
        ]
    );
    assert!(err.to_string().contains("3 required function(s)"), "{err}");
}

#[test]
fn one_event_function_without_the_other_is_reported() {
    let half = Fake::new("gen_b_half_events", 32, true)
        .with(&gen_b_required())
        .with(&["nrta_event_register_seq_id_completion"])
        .build();
    let err = Libnrt::load_path(&half).unwrap_err();
    assert!(
        matches!(&err, LoadError::Unusable { problem: Problem::MissingSymbols(n), .. }
            if n == &["nrta_event_register_xu_completion"]),
        "{err:?}"
    );
}

#[test]
fn gen_a_names_never_fill_a_gen_b_table() {
    // Tracker gone but the completion handle left behind: Gen B, and the stray Gen A
    // function is simply not part of the table.
    let b = Fake::new("gen_b_stray", 31, true)
        .with(&gen_b_required())
        .with(&GEN_A_ONLY[3..])
        .build();
    let lib = Libnrt::load_path(&b).unwrap();
    assert_eq!(lib.generation(), Some(Generation::Sdk2_29));
    assert!(lib.gen_a().is_none());
}
