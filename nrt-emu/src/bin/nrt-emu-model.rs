//! `nrt-emu-model`: write and check nrt-emu model files (`.nrtm`).
//!
//! ```text
//! nrt-emu-model add    [--dtype f32] [--shape 1024] [common] [-o FILE]
//! nrt-emu-model matmul [--dtype f32] [--m 64 --k 128 --n 32] [common] [-o FILE]
//! nrt-emu-model custom --input NAME:DTYPE:SHAPE... --output NAME:DTYPE:SHAPE...
//!                      --op 'KIND DST SRC...'... [common] [-o FILE]
//! nrt-emu-model check FILE...
//! common: --name NAME --time-us N | --time-ns N  --jitter-ns N --seed S
//!         --fault 'RULE' (repeatable; syntax in nrt-emu/ASYNC.md)
//! ```
//! Without `-o` the model goes to stdout. Every model is validated before it is written.

use nrt_emu::model::{Dtype, ModelSpec};
use std::process::ExitCode;

const USAGE: &str = "usage:
  nrt-emu-model add    [--dtype f32] [--shape 1024] [options] [-o FILE]
  nrt-emu-model matmul [--dtype f32] [--m 64] [--k 128] [--n 32] [options] [-o FILE]
  nrt-emu-model custom --input NAME:DTYPE:SHAPE ... --output NAME:DTYPE:SHAPE ...
                       --op 'KIND DST SRC...' ... [options] [-o FILE]
  nrt-emu-model check FILE...
options:
  --name NAME          model name (default: the subcommand)
  --time-us N          simulated execution time in microseconds (default 0)
  --time-ns N          the same in nanoseconds
  --jitter-ns N        add up to N ns per execution, deterministic (default 0)
  --seed S             seed of the jitter sequence (default 0)
  --fault 'RULE'       a fault rule, e.g. 'error every=10 code=1004' (repeatable)
  -o FILE              write to FILE instead of stdout
shapes are dimensions joined by 'x' (16x16); dtypes: f32 f16 bf16 i8 u8 i16 u16 i32 u32
i64 u64 fp32r fp8_e3 fp8_e4 fp8_e5; op kinds: add sub mul scale copy matmul.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nrt-emu-model: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(USAGE.to_string());
    };
    if cmd == "check" {
        return check(rest);
    }
    if cmd == "-h" || cmd == "--help" {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = Options::parse(rest)?;
    let name = opts.name.clone().unwrap_or_else(|| cmd.clone());
    let dtype = match &opts.dtype {
        Some(d) => Dtype::from_name(d).ok_or_else(|| format!("unknown dtype '{d}'"))?,
        None => Dtype::F32,
    };
    let mut spec = match cmd.as_str() {
        "add" => {
            let shape = parse_shape(opts.shape.as_deref().unwrap_or("1024"))?;
            ModelSpec::add_model(&name, dtype, &shape)
        }
        "matmul" => ModelSpec::matmul_model(&name, dtype, opts.m, opts.k, opts.n),
        "custom" => custom(&name, &opts)?,
        other => return Err(format!("unknown command '{other}'\n{USAGE}")),
    };
    spec = spec.time_ns(opts.time_ns).jitter(opts.jitter_ns, opts.seed);
    for f in &opts.faults {
        spec = spec.fault(f);
    }
    let bytes = spec.to_bytes()?;
    match &opts.out {
        Some(path) => std::fs::write(path, &bytes).map_err(|e| format!("{path}: {e}")),
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| e.to_string())
        }
    }
}

/// Validate files the way `nrt_load` does and print a one-line summary of each.
fn check(files: &[String]) -> Result<(), String> {
    if files.is_empty() {
        return Err("check: name at least one file".into());
    }
    let mut bad = 0;
    for f in files {
        let summary = std::fs::read(f)
            .map_err(|e| e.to_string())
            .and_then(|b| nrt_emu::device::parse_model(&b).map_err(|e| e.message));
        match summary {
            Ok(m) => println!(
                "{f}: ok: model '{}', {} input(s), {} output(s), {} op(s), {} ns{}{}",
                m.name,
                m.inputs.len(),
                m.outputs.len(),
                m.ops.len(),
                m.time_ns,
                if m.jitter_ns > 0 {
                    format!(" + up to {} ns jitter", m.jitter_ns)
                } else {
                    String::new()
                },
                if m.faults.is_empty() {
                    String::new()
                } else {
                    format!(", {} fault rule(s)", m.faults.len())
                },
            ),
            Err(e) => {
                bad += 1;
                println!("{f}: INVALID: {e}");
            }
        }
    }
    if bad > 0 {
        return Err(format!("{bad} invalid file(s)"));
    }
    Ok(())
}

/// A custom model: the tensors and ops are given in the file syntax, so the one parser
/// that `nrt_load` uses checks them.
fn custom(name: &str, o: &Options) -> Result<ModelSpec, String> {
    let mut text = format!("nrt-emu-model 1\nname {name}\ntime_ns 0\n");
    for (kw, list) in [("input", &o.inputs), ("output", &o.outputs)] {
        for t in list {
            let parts: Vec<&str> = t.split(':').collect();
            let [n, d, s] = parts[..] else {
                return Err(format!("--{kw} '{t}': expected NAME:DTYPE:SHAPE"));
            };
            text.push_str(&format!("{kw} {n} {d} {s}\n"));
        }
    }
    for op in &o.ops {
        text.push_str(&format!("op {op}\n"));
    }
    text.push_str("end\n");
    ModelSpec::parse(text.as_bytes()).map_err(|e| e.message)
}

fn parse_shape(s: &str) -> Result<Vec<u32>, String> {
    s.split('x')
        .map(|d| d.parse::<u32>().map_err(|_| format!("bad shape '{s}'")))
        .collect()
}

#[derive(Default)]
struct Options {
    name: Option<String>,
    dtype: Option<String>,
    shape: Option<String>,
    m: u32,
    k: u32,
    n: u32,
    time_ns: u64,
    jitter_ns: u64,
    seed: u64,
    faults: Vec<String>,
    inputs: Vec<String>,
    outputs: Vec<String>,
    ops: Vec<String>,
    out: Option<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            m: 64,
            k: 128,
            n: 32,
            ..Default::default()
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            let num = |v: String| -> Result<u64, String> {
                v.parse::<u64>()
                    .map_err(|_| format!("{flag}: '{v}' is not a non-negative integer"))
            };
            let dim = |v: String| -> Result<u32, String> {
                v.parse::<u32>()
                    .map_err(|_| format!("{flag}: '{v}' is not a dimension"))
            };
            match flag.as_str() {
                "--name" => o.name = Some(value()?),
                "--dtype" => o.dtype = Some(value()?),
                "--shape" => o.shape = Some(value()?),
                "--m" => o.m = dim(value()?)?,
                "--k" => o.k = dim(value()?)?,
                "--n" => o.n = dim(value()?)?,
                "--time-us" => o.time_ns = num(value()?)?.saturating_mul(1000),
                "--time-ns" => o.time_ns = num(value()?)?,
                "--jitter-ns" => o.jitter_ns = num(value()?)?,
                "--seed" => o.seed = num(value()?)?,
                "--fault" => o.faults.push(value()?),
                "--input" => o.inputs.push(value()?),
                "--output" => o.outputs.push(value()?),
                "--op" => o.ops.push(value()?),
                "-o" | "--out" => o.out = Some(value()?),
                other => return Err(format!("unknown option '{other}'\n{USAGE}")),
            }
        }
        Ok(o)
    }
}
