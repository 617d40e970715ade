//! `nrtq-bench`: how busy libnrtq keeps an emulated NeuronCore, and at what CPU cost,
//! beside the loops users write by hand over the raw async API (issue 7).
//!
//! ```text
//! make bench                          # = cargo build --workspace --release
//!                                     #   cargo run --release -p nrtq-bench -- --out bench/results
//! nrtq-bench [--quick] [--out DIR] [--api 2.28,2.29,2.30] [--pattern sync,poll-loop,…]
//!            [--model-us 0,5,20,100,500] [--threads 1,4] [--idle-all] [--repeat N]
//! nrtq-bench --case SPEC --model FILE # one case, in a child process (the driver's use)
//! nrtq-bench --suite pipeline [--quick] [--api LIST] [--repeat N] [--out DIR]
//!                                     # host buffers through write → execute → read
//! ```
//!
//! Layout: [`plan`] (the sweep), [`driver`] (child processes, progress, output),
//! [`child`] (one case), [`patterns`] (the loops), [`raw`] and [`emu`] (the C edges:
//! libnrt, and the emulator's counters), [`measure`] (clocks, threads, latency),
//! [`report`] (CSV, markdown, SVG, targets), [`models`] (the model files).

mod child;
mod driver;
mod emu;
mod measure;
mod models;
mod patterns;
mod pipeline;
mod plan;
mod raw;
mod report;

use plan::{Case, Pattern, Selection, APIS, FULL_REPEAT, MODEL_US, QUICK_REPEAT, THREADS};
use std::path::PathBuf;

const USAGE: &str = "usage: nrtq-bench [--quick] [--out DIR] [--api LIST] [--pattern LIST] \
[--model-us LIST] [--threads LIST] [--idle-all]\n                  [--repeat N (runs per case, interleaved; default 3, 1 with --quick)]\n       nrtq-bench --case SPEC --model FILE
       nrtq-bench --suite pipeline [--quick] [--api LIST] [--repeat N] [--out DIR]";

fn list<T>(value: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(|s| parse(s.trim()).ok_or_else(|| format!("'{s}' is not valid here")))
        .collect()
}

/// The child side: one case, its result on stdout.
fn child_main(spec: &str, model: Option<String>) -> Result<(), String> {
    let case = Case::from_args(spec)?;
    let model = model.ok_or("--case needs --model FILE")?;
    let lib = std::env::var_os(neuron_sys::LIBNRT_ENV)
        .map(PathBuf::from)
        .ok_or("the driver sets NRTQ_LIBNRT for a case")?;
    let row = child::run(&case, &lib, std::path::Path::new(&model))?;
    println!("{}", row.to_line());
    Ok(())
}

fn main_inner() -> Result<bool, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    let mut quick = false;
    let mut idle_all = false;
    let mut out: Option<PathBuf> = None;
    let mut apis: Vec<String> = APIS.iter().map(|s| s.to_string()).collect();
    let mut patterns: Vec<Pattern> = Pattern::ALL.to_vec();
    let mut model_us: Option<Vec<u64>> = None;
    let mut threads: Vec<u32> = THREADS.to_vec();
    let mut repeat: Option<u32> = None;
    let mut case: Option<String> = None;
    let mut pipe_case: Option<String> = None;
    let mut suite: Option<String> = None;
    let mut model: Option<String> = None;
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or(format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--quick" => quick = true,
            "--idle-all" => idle_all = true,
            "--out" => out = Some(PathBuf::from(value()?)),
            "--api" => {
                apis = list(&value()?, |s| APIS.contains(&s).then(|| s.to_string()))?;
            }
            "--pattern" => patterns = list(&value()?, Pattern::parse)?,
            "--model-us" => model_us = Some(list(&value()?, |s| s.parse().ok())?),
            "--threads" => threads = list(&value()?, |s| s.parse().ok().filter(|&n| n > 0))?,
            "--repeat" => {
                let v = value()?;
                repeat = Some(v.parse().ok().filter(|&n| n > 0).ok_or(format!(
                    "--repeat needs a whole number of at least 1, not '{v}'"
                ))?)
            }
            "--case" => case = Some(value()?),
            "--pipe-case" => pipe_case = Some(value()?),
            "--suite" => suite = Some(value()?),
            "--model" => model = Some(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(true);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if let Some(spec) = case {
        child_main(&spec, model)?;
        return Ok(true);
    }
    if let Some(spec) = pipe_case {
        let c = pipeline::case::PipeCase::from_arg(&spec)?;
        let lib = driver::library_for(&c.api)?;
        println!("{}", pipeline::run_case(&c, &lib)?.to_line());
        return Ok(true);
    }
    let out = out.unwrap_or_else(|| {
        if quick {
            std::env::temp_dir().join("nrtq-bench-quick")
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results")
        }
    });
    let command = format!("nrtq-bench {}", args.join(" "));
    let repeat = repeat.unwrap_or(if quick { QUICK_REPEAT } else { FULL_REPEAT });
    match suite.as_deref() {
        None | Some("main") => {}
        Some("pipeline") => {
            return pipeline::run_suite(&apis, quick, repeat, &out, command.trim());
        }
        Some(other) => return Err(format!("unknown suite '{other}' (main, pipeline)\n{USAGE}")),
    }
    let sel = Selection {
        quick,
        apis,
        patterns,
        // Quick mode: the CPU floor and one realistic model time.
        model_us: model_us.unwrap_or_else(|| {
            if quick {
                vec![0, 20]
            } else {
                MODEL_US.to_vec()
            }
        }),
        threads,
        idle_all,
        repeat,
    };
    let (_, all_ok) = driver::run(&sel, &out, command.trim())?;
    Ok(all_ok)
}

fn main() {
    match main_inner() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("nrtq-bench: {e}");
            std::process::exit(2);
        }
    }
}
