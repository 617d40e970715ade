//! The model file format (`.nrtm`): a line-based text form of [`ModelSpec`].
//!
//! ```text
//! nrt-emu-model 1            <- magic and format version: always the first line
//! # a comment                <- '#' as the first non-blank character; blank lines too
//! name add_f32
//! time_ns 20000              <- simulated execution time
//! jitter_ns 0                <- optional: up to this much extra per execution
//! seed 0                     <- optional: seed of the jitter sequence
//! input a f32 16x16          <- name, dtype, shape (dimensions joined by 'x')
//! input b f32 16x16
//! output out f32 16x16
//! op add out a b             <- op kind, destination, sources (and a factor for scale)
//! fault <anything>           <- kept verbatim for the device layer
//! end                        <- required last line: a cut file is detected
//! ```
//! README.md documents each keyword; this module is the single implementation of it.

use super::dtype::Dtype;
use super::spec::{ModelSpec, OpKind, OpSpec, TensorSpec};
use super::LoadError;
use neuron_sys::NRT_UNSUPPORTED_NEFF_VERSION;
use std::fmt::Write as _;

/// The first word of every model file.
pub const MAGIC: &str = "nrt-emu-model";

/// The format version this emulator reads and writes.
pub const VERSION: u32 = 1;

impl ModelSpec {
    /// The model as file text (no validation: see [`ModelSpec::to_bytes`]).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail; the results are ignored on purpose.
        let _ = writeln!(s, "{MAGIC} {VERSION}");
        let _ = writeln!(s, "name {}", self.name);
        let _ = writeln!(s, "time_ns {}", self.time_ns);
        if self.jitter_ns != 0 {
            let _ = writeln!(s, "jitter_ns {}", self.jitter_ns);
            let _ = writeln!(s, "seed {}", self.seed);
        }
        for (kw, list) in [("input", &self.inputs), ("output", &self.outputs)] {
            for t in list {
                let _ = writeln!(
                    s,
                    "{kw} {} {} {}",
                    t.name,
                    t.dtype.name(),
                    shape_text(&t.shape)
                );
            }
        }
        for op in &self.ops {
            let _ = write!(s, "op {} {}", op.kind.keyword(), op.dst);
            for src in &op.srcs {
                let _ = write!(s, " {src}");
            }
            if let OpKind::Scale(f) = op.kind {
                // `{:?}` prints the shortest text that parses back to the same f64.
                let _ = write!(s, " {f:?}");
            }
            s.push('\n');
        }
        for f in &self.faults {
            let _ = writeln!(s, "fault {f}");
        }
        s.push_str("end\n");
        s
    }

    /// Parse and validate model file text.
    pub fn parse(bytes: &[u8]) -> Result<ModelSpec, LoadError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            LoadError::invalid(format!(
                "not an nrt-emu model: byte {} is not UTF-8 text",
                e.valid_up_to()
            ))
        })?;
        let mut lines = text.lines().enumerate();
        let first = lines.next().map(|(_, l)| l.trim()).unwrap_or("");
        let version = parse_magic(first)?;
        if version != VERSION {
            return Err(LoadError {
                status: NRT_UNSUPPORTED_NEFF_VERSION,
                message: format!(
                    "model format version {version} is not supported (this emulator reads version {VERSION})"
                ),
            });
        }
        let mut p = Parser {
            spec: ModelSpec::new(""),
            seen: Vec::new(),
        };
        let mut ended = false;
        for (i, raw) in lines {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |m: String| LoadError::invalid(format!("line {}: {m}", i + 1));
            if ended {
                return Err(at("content after 'end'".to_string()));
            }
            if line == "end" {
                ended = true;
                continue;
            }
            p.line(line).map_err(at)?;
        }
        if !ended {
            return Err(LoadError::invalid(
                "truncated model file: the final 'end' line is missing".to_string(),
            ));
        }
        for kw in ["name", "time_ns"] {
            if !p.seen.contains(&kw) {
                return Err(LoadError::invalid(format!("the '{kw}' line is missing")));
            }
        }
        p.spec.validate().map_err(LoadError::invalid)?;
        Ok(p.spec)
    }
}

fn parse_magic(first: &str) -> Result<u32, LoadError> {
    let mut words = first.split_whitespace();
    if words.next() != Some(MAGIC) {
        let shown: String = first.chars().take(40).collect();
        return Err(LoadError::invalid(format!(
            "not an nrt-emu model or NEFF: the first line must be '{MAGIC} {VERSION}', found '{shown}'"
        )));
    }
    match (words.next().map(str::parse::<u32>), words.next()) {
        (Some(Ok(v)), None) => Ok(v),
        _ => Err(LoadError::invalid(format!(
            "line 1: expected '{MAGIC} <version>', found '{first}'"
        ))),
    }
}

struct Parser {
    spec: ModelSpec,
    /// Keywords that may appear once and already did.
    seen: Vec<&'static str>,
}

impl Parser {
    fn line(&mut self, line: &str) -> Result<(), String> {
        let (kw, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let words: Vec<&str> = rest.split_whitespace().collect();
        match kw {
            "name" => {
                self.once("name")?;
                self.spec.name = one_word("name", &words)?.to_string();
            }
            "time_ns" => {
                self.once("time_ns")?;
                self.spec.time_ns = number("time_ns", one_word("time_ns", &words)?)?;
            }
            "jitter_ns" => {
                self.once("jitter_ns")?;
                self.spec.jitter_ns = number("jitter_ns", one_word("jitter_ns", &words)?)?;
            }
            "seed" => {
                self.once("seed")?;
                self.spec.seed = number("seed", one_word("seed", &words)?)?;
            }
            "input" | "output" => {
                let t = tensor(kw, &words)?;
                if kw == "input" {
                    self.spec.inputs.push(t);
                } else {
                    self.spec.outputs.push(t);
                }
            }
            "op" => self.spec.ops.push(op(&words)?),
            "fault" => {
                if rest.is_empty() {
                    return Err("'fault' needs a description".to_string());
                }
                self.spec.faults.push(rest.to_string());
            }
            other => return Err(format!("unknown keyword '{other}'")),
        }
        Ok(())
    }

    fn once(&mut self, kw: &'static str) -> Result<(), String> {
        if self.seen.contains(&kw) {
            return Err(format!("'{kw}' appears twice"));
        }
        self.seen.push(kw);
        Ok(())
    }
}

fn one_word<'a>(kw: &str, words: &[&'a str]) -> Result<&'a str, String> {
    match words {
        [w] => Ok(w),
        _ => Err(format!("'{kw}' takes exactly one value")),
    }
}

fn number(kw: &str, w: &str) -> Result<u64, String> {
    w.parse::<u64>()
        .map_err(|_| format!("'{kw}' needs a non-negative integer, not '{w}'"))
}

fn tensor(kw: &str, words: &[&str]) -> Result<TensorSpec, String> {
    let [name, dtype, shape] = words else {
        return Err(format!(
            "'{kw}' takes: <name> <dtype> <shape>, e.g. '{kw} x f32 4x4'"
        ));
    };
    let dtype = Dtype::from_name(dtype).ok_or_else(|| {
        let known: Vec<&str> = Dtype::ALL.iter().map(|d| d.name()).collect();
        format!("unknown dtype '{dtype}' (known: {})", known.join(", "))
    })?;
    let shape = shape
        .split('x')
        .map(|d| {
            d.parse::<u32>()
                .map_err(|_| format!("bad shape '{shape}': dimensions are integers joined by 'x'"))
        })
        .collect::<Result<Vec<u32>, String>>()?;
    Ok(TensorSpec {
        name: name.to_string(),
        dtype,
        shape,
    })
}

fn op(words: &[&str]) -> Result<OpSpec, String> {
    let Some((&kind, rest)) = words.split_first() else {
        return Err("'op' needs a kind: add, sub, mul, scale, copy or matmul".to_string());
    };
    let need = |n: usize| -> Result<(), String> {
        if rest.len() == n {
            Ok(())
        } else {
            Err(format!(
                "'op {kind}' takes {n} arguments, found {}",
                rest.len()
            ))
        }
    };
    let spec = match kind {
        "add" | "sub" | "mul" | "matmul" => {
            need(3)?;
            let k = match kind {
                "add" => OpKind::Add,
                "sub" => OpKind::Sub,
                "mul" => OpKind::Mul,
                _ => OpKind::Matmul,
            };
            OpSpec {
                kind: k,
                dst: rest[0].to_string(),
                srcs: vec![rest[1].to_string(), rest[2].to_string()],
            }
        }
        "copy" => {
            need(2)?;
            OpSpec::copy(rest[0], rest[1])
        }
        "scale" => {
            need(3)?;
            let f: f64 = rest[2]
                .parse()
                .map_err(|_| format!("'op scale' needs a number as factor, not '{}'", rest[2]))?;
            OpSpec::scale(rest[0], rest[1], f)
        }
        other => {
            return Err(format!(
                "unknown op '{other}' (known: add, sub, mul, scale, copy, matmul)"
            ))
        }
    };
    Ok(spec)
}

fn shape_text(shape: &[u32]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuron_sys::NRT_INVALID;

    fn sample() -> ModelSpec {
        ModelSpec::new("sample")
            .time_us(20)
            .jitter(300, 9)
            .input("x", Dtype::F32, &[2, 3])
            .input("w", Dtype::F32, &[3, 4])
            .output("y", Dtype::F32, &[2, 4])
            .output("z", Dtype::F32, &[2, 4])
            .op(OpSpec::matmul("y", "x", "w"))
            .op(OpSpec::scale("z", "y", 0.1))
            .fault("error every=3 code=1004")
    }

    #[test]
    fn text_round_trips() {
        let m = sample();
        let bytes = m.to_bytes().unwrap();
        assert_eq!(ModelSpec::parse(&bytes).unwrap(), m);
    }

    #[test]
    fn comments_and_blank_lines_are_ignored() {
        let text = "nrt-emu-model 1\n# hi\n\nname m\n  time_ns 5\ninput a u8 3\noutput b u8 3\nop copy b a\nend\n\n# trailing\n";
        let m = ModelSpec::parse(text.as_bytes()).unwrap();
        assert_eq!(m.time_ns, 5);
        assert_eq!(m.inputs[0].shape, vec![3]);
    }

    fn err(text: &str) -> LoadError {
        ModelSpec::parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let full = sample().to_text();
        let cut = &full[..full.len() - 4];
        let e = err(cut);
        assert_eq!(e.status, NRT_INVALID);
        assert!(e.message.contains("truncated"), "{}", e.message);

        let e = err("nrt-emu-model 2\nend\n");
        assert_eq!(e.status, NRT_UNSUPPORTED_NEFF_VERSION);
        assert!(e.message.contains("version 2"), "{}", e.message);

        let e = err("hello world\n");
        assert!(e.message.contains("first line"), "{}", e.message);

        let e = err("nrt-emu-model 1\nname m\ntime_ns 1\nbogus 3\nend\n");
        assert!(
            e.message.contains("line 4") && e.message.contains("bogus"),
            "{}",
            e.message
        );

        let e = err("nrt-emu-model 1\nname m\ntime_ns -1\nend\n");
        assert!(e.message.contains("time_ns"), "{}", e.message);

        let e = err("nrt-emu-model 1\nname m\nend\n");
        assert!(e.message.contains("time_ns"), "{}", e.message);

        let e = err("nrt-emu-model 1\nname m\ntime_ns 1\ninput a f99 3\nend\n");
        assert!(e.message.contains("unknown dtype 'f99'"), "{}", e.message);

        let e = err("nrt-emu-model 1\nname m\ntime_ns 1\nend\nname n\n");
        assert!(e.message.contains("after 'end'"), "{}", e.message);

        let e = ModelSpec::parse(&[0x6e, 0xff, 0xfe]).unwrap_err();
        assert!(e.message.contains("UTF-8"), "{}", e.message);
    }
}
