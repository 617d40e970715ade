//! The description of an emulator model ([`ModelSpec`]): tensors, operations, simulated
//! time and fault lines, a builder to write one from Rust, and the validation every
//! model passes before it is loaded (the same checks whether it came from a file or
//! from the builder).

use super::dtype::Dtype;
use neuron_sys::NRT_TENSOR_NAME_MAX;

/// The largest tensor the format accepts, in bytes (1 TiB): large enough for any
/// emulated model, small enough that size arithmetic can never overflow.
pub const MAX_TENSOR_BYTES: u64 = 1 << 40;

/// The most dimensions a tensor may have.
pub const MAX_DIMS: usize = 8;

/// A named input or output tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<u32>,
}

impl TensorSpec {
    /// Number of elements (the product of the shape).
    pub fn elements(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// Size in bytes.
    pub fn bytes(&self) -> u64 {
        self.elements() * self.dtype.size() as u64
    }
}

/// What an operation computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OpKind {
    /// `dst = x + y`, element by element.
    Add,
    /// `dst = x - y`.
    Sub,
    /// `dst = x * y`.
    Mul,
    /// `dst = x * factor`.
    Scale(f64),
    /// `dst = x` (any type, including the ones without arithmetic).
    Copy,
    /// `dst[M,N] = x[M,K] · y[K,N]`.
    Matmul,
}

impl OpKind {
    /// The keyword after `op` in a model file.
    pub fn keyword(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Sub => "sub",
            OpKind::Mul => "mul",
            OpKind::Scale(_) => "scale",
            OpKind::Copy => "copy",
            OpKind::Matmul => "matmul",
        }
    }

    /// How many source tensors the operation reads.
    pub fn sources(self) -> usize {
        match self {
            OpKind::Add | OpKind::Sub | OpKind::Mul | OpKind::Matmul => 2,
            OpKind::Scale(_) | OpKind::Copy => 1,
        }
    }
}

/// One operation: its kind, the output it writes and the tensors it reads.
#[derive(Clone, Debug, PartialEq)]
pub struct OpSpec {
    pub kind: OpKind,
    pub dst: String,
    pub srcs: Vec<String>,
}

impl OpSpec {
    /// `dst = x + y`.
    pub fn add(dst: &str, x: &str, y: &str) -> OpSpec {
        OpSpec::new(OpKind::Add, dst, &[x, y])
    }
    /// `dst = x - y`.
    pub fn sub(dst: &str, x: &str, y: &str) -> OpSpec {
        OpSpec::new(OpKind::Sub, dst, &[x, y])
    }
    /// `dst = x * y`.
    pub fn mul(dst: &str, x: &str, y: &str) -> OpSpec {
        OpSpec::new(OpKind::Mul, dst, &[x, y])
    }
    /// `dst = x * factor`.
    pub fn scale(dst: &str, x: &str, factor: f64) -> OpSpec {
        OpSpec::new(OpKind::Scale(factor), dst, &[x])
    }
    /// `dst = x`.
    pub fn copy(dst: &str, x: &str) -> OpSpec {
        OpSpec::new(OpKind::Copy, dst, &[x])
    }
    /// `dst = x · y`.
    pub fn matmul(dst: &str, x: &str, y: &str) -> OpSpec {
        OpSpec::new(OpKind::Matmul, dst, &[x, y])
    }

    fn new(kind: OpKind, dst: &str, srcs: &[&str]) -> OpSpec {
        OpSpec {
            kind,
            dst: dst.to_string(),
            srcs: srcs.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A whole model. Build one with the chained setters, check it with
/// [`ModelSpec::validate`], and write it with [`ModelSpec::to_text`] (see `text.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    /// Simulated execution time of one request, in nanoseconds.
    pub time_ns: u64,
    /// Largest extra time added per execution (0 = none); see [`ModelSpec::sim_time_ns`].
    pub jitter_ns: u64,
    /// Seed of the jitter sequence.
    pub seed: u64,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub ops: Vec<OpSpec>,
    /// The text after `fault` on each fault line, in file order, uninterpreted here:
    /// the device layer owns their syntax (see the README's fault section).
    pub faults: Vec<String>,
}

impl ModelSpec {
    /// An empty model named `name` with a simulated time of 0.
    pub fn new(name: &str) -> ModelSpec {
        ModelSpec {
            name: name.to_string(),
            time_ns: 0,
            jitter_ns: 0,
            seed: 0,
            inputs: Vec::new(),
            outputs: Vec::new(),
            ops: Vec::new(),
            faults: Vec::new(),
        }
    }

    /// The standard add model: inputs `a`, `b` and output `out`, all `dtype` of
    /// `shape`; `out = a + b`.
    pub fn add_model(name: &str, dtype: Dtype, shape: &[u32]) -> ModelSpec {
        ModelSpec::new(name)
            .input("a", dtype, shape)
            .input("b", dtype, shape)
            .output("out", dtype, shape)
            .op(OpSpec::add("out", "a", "b"))
    }

    /// The standard matmul model: `y[m,n] = x[m,k] · w[k,n]`.
    pub fn matmul_model(name: &str, dtype: Dtype, m: u32, k: u32, n: u32) -> ModelSpec {
        ModelSpec::new(name)
            .input("x", dtype, &[m, k])
            .input("w", dtype, &[k, n])
            .output("y", dtype, &[m, n])
            .op(OpSpec::matmul("y", "x", "w"))
    }

    /// Set the simulated execution time in nanoseconds.
    pub fn time_ns(mut self, ns: u64) -> ModelSpec {
        self.time_ns = ns;
        self
    }

    /// Set the simulated execution time in microseconds.
    pub fn time_us(self, us: u64) -> ModelSpec {
        self.time_ns(us.saturating_mul(1000))
    }

    /// Add up to `max_ns` of deterministic jitter per execution, drawn from `seed`.
    pub fn jitter(mut self, max_ns: u64, seed: u64) -> ModelSpec {
        self.jitter_ns = max_ns;
        self.seed = seed;
        self
    }

    /// Declare an input tensor.
    pub fn input(mut self, name: &str, dtype: Dtype, shape: &[u32]) -> ModelSpec {
        self.inputs.push(TensorSpec {
            name: name.to_string(),
            dtype,
            shape: shape.to_vec(),
        });
        self
    }

    /// Declare an output tensor.
    pub fn output(mut self, name: &str, dtype: Dtype, shape: &[u32]) -> ModelSpec {
        self.outputs.push(TensorSpec {
            name: name.to_string(),
            dtype,
            shape: shape.to_vec(),
        });
        self
    }

    /// Append an operation (operations run in order).
    pub fn op(mut self, op: OpSpec) -> ModelSpec {
        self.ops.push(op);
        self
    }

    /// Append a fault line (the text after the `fault` keyword).
    pub fn fault(mut self, line: &str) -> ModelSpec {
        self.faults.push(line.trim().to_string());
        self
    }

    /// The file contents; fails with the validation message if the model is not valid.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        self.validate()?;
        Ok(self.to_text().into_bytes())
    }

    /// An input or output by name.
    pub fn tensor(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs
            .iter()
            .chain(self.outputs.iter())
            .find(|t| t.name == name)
    }

    /// Simulated time of the `nth` execution of this model (counted from 0): `time_ns`
    /// plus, when `jitter_ns > 0`, a value in `[0, jitter_ns]` that depends only on
    /// `seed` and `nth` (splitmix64 of `seed + nth`), so a run replays exactly.
    pub fn sim_time_ns(&self, nth: u64) -> u64 {
        if self.jitter_ns == 0 {
            return self.time_ns;
        }
        let r = splitmix64(self.seed.wrapping_add(nth));
        let extra = if self.jitter_ns == u64::MAX {
            r
        } else {
            r % (self.jitter_ns + 1)
        };
        self.time_ns.saturating_add(extra)
    }

    /// Check everything a loader relies on; the message names the offending item.
    pub fn validate(&self) -> Result<(), String> {
        check_name("model name", &self.name)?;
        let mut seen: Vec<&str> = Vec::new();
        for (kind, t) in self
            .inputs
            .iter()
            .map(|t| ("input", t))
            .chain(self.outputs.iter().map(|t| ("output", t)))
        {
            check_name(kind, &t.name)?;
            if seen.contains(&t.name.as_str()) {
                return Err(format!("tensor name '{}' is declared twice", t.name));
            }
            seen.push(&t.name);
            if t.shape.is_empty() || t.shape.len() > MAX_DIMS {
                return Err(format!(
                    "{kind} '{}': a shape has 1 to {MAX_DIMS} dimensions, not {}",
                    t.name,
                    t.shape.len()
                ));
            }
            if t.shape.contains(&0) {
                return Err(format!("{kind} '{}': a dimension of 0", t.name));
            }
            let bytes = t
                .shape
                .iter()
                .try_fold(t.dtype.size() as u64, |acc, &d| acc.checked_mul(d as u64));
            match bytes {
                Some(b) if b <= MAX_TENSOR_BYTES => {}
                _ => {
                    return Err(format!(
                        "{kind} '{}' is larger than {MAX_TENSOR_BYTES} bytes",
                        t.name
                    ))
                }
            }
        }
        for f in &self.faults {
            if f.is_empty() || f.contains('\n') {
                return Err("a fault line is empty or spans lines".to_string());
            }
        }
        self.validate_ops()
    }

    fn validate_ops(&self) -> Result<(), String> {
        // Outputs become readable once an earlier op has written them, so every value an
        // op reads is defined by this execution, never left over from the caller's buffer.
        let mut written: Vec<&str> = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let at = format!("op {} ({})", i + 1, op.kind.keyword());
            if op.srcs.len() != op.kind.sources() {
                return Err(format!(
                    "{at}: takes {} source tensor(s), not {}",
                    op.kind.sources(),
                    op.srcs.len()
                ));
            }
            let dst = self
                .outputs
                .iter()
                .find(|t| t.name == op.dst)
                .ok_or_else(|| format!("{at}: destination '{}' is not an output", op.dst))?;
            let mut srcs = Vec::new();
            for s in &op.srcs {
                let t = self
                    .tensor(s)
                    .ok_or_else(|| format!("{at}: source '{s}' is not a declared tensor"))?;
                let is_input = self.inputs.iter().any(|i| i.name == *s);
                if !is_input && !written.contains(&s.as_str()) {
                    return Err(format!(
                        "{at}: output '{s}' is read before any op has written it"
                    ));
                }
                if t.dtype != dst.dtype {
                    return Err(format!(
                        "{at}: '{s}' is {} but '{}' is {}",
                        t.dtype.name(),
                        dst.name,
                        dst.dtype.name()
                    ));
                }
                srcs.push(t);
            }
            if op.kind != OpKind::Copy && !dst.dtype.is_arithmetic() {
                return Err(format!(
                    "{at}: {} has no arithmetic in the emulator (only copy)",
                    dst.dtype.name()
                ));
            }
            if let OpKind::Scale(f) = op.kind {
                if !f.is_finite() {
                    return Err(format!("{at}: the factor must be a finite number"));
                }
            }
            if op.kind == OpKind::Matmul {
                check_matmul(&at, dst, srcs[0], srcs[1])?;
            } else {
                for s in &srcs {
                    if s.elements() != dst.elements() {
                        return Err(format!(
                            "{at}: '{}' has {} elements but '{}' has {}",
                            s.name,
                            s.elements(),
                            dst.name,
                            dst.elements()
                        ));
                    }
                }
            }
            written.push(&op.dst);
        }
        for o in &self.outputs {
            if !written.contains(&o.name.as_str()) {
                return Err(format!("output '{}' is never written by an op", o.name));
            }
        }
        Ok(())
    }
}

fn check_matmul(at: &str, dst: &TensorSpec, x: &TensorSpec, y: &TensorSpec) -> Result<(), String> {
    let dims = |t: &TensorSpec| -> Result<(u32, u32), String> {
        match t.shape[..] {
            [r, c] => Ok((r, c)),
            _ => Err(format!("{at}: '{}' must have 2 dimensions", t.name)),
        }
    };
    let (m, k) = dims(x)?;
    let (k2, n) = dims(y)?;
    let (dm, dn) = dims(dst)?;
    if k != k2 || dm != m || dn != n {
        return Err(format!(
            "{at}: shapes {m}x{k} · {k2}x{n} -> {dm}x{dn} do not match"
        ));
    }
    if dst.name == x.name || dst.name == y.name {
        return Err(format!("{at}: the destination may not also be a source"));
    }
    Ok(())
}

/// Names are one token of printable characters (so a file stays one item per word)
/// and fit `nrt_tensor_info_t.name` with its NUL.
fn check_name(kind: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() >= NRT_TENSOR_NAME_MAX {
        return Err(format!(
            "{kind} name '{name}' must be 1 to {} bytes",
            NRT_TENSOR_NAME_MAX - 1
        ));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '#')
    {
        return Err(format!(
            "{kind} name '{name}' may not contain spaces, control characters or '#'"
        ));
    }
    Ok(())
}

/// splitmix64 (Steele, Lea, Flood 2014): a fixed, well-mixed function of its input.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add() -> ModelSpec {
        ModelSpec::new("m")
            .input("a", Dtype::F32, &[4])
            .input("b", Dtype::F32, &[4])
            .output("out", Dtype::F32, &[4])
            .op(OpSpec::add("out", "a", "b"))
    }

    #[test]
    fn a_plain_add_is_valid() {
        add().validate().unwrap();
    }

    #[test]
    fn validation_names_the_problem() {
        let e = add().input("a", Dtype::F32, &[4]).validate().unwrap_err();
        assert!(e.contains("declared twice"), "{e}");
        let e = add()
            .output("never", Dtype::F32, &[4])
            .validate()
            .unwrap_err();
        assert!(e.contains("never written"), "{e}");
        let e = add().op(OpSpec::add("a", "a", "b")).validate().unwrap_err();
        assert!(e.contains("not an output"), "{e}");
        let e = ModelSpec::new("m")
            .input("a", Dtype::F32, &[2, 3])
            .input("b", Dtype::F32, &[2, 3])
            .output("c", Dtype::F32, &[2, 3])
            .op(OpSpec::matmul("c", "a", "b"))
            .validate()
            .unwrap_err();
        assert!(e.contains("do not match"), "{e}");
        let e = ModelSpec::new("m")
            .input("a", Dtype::Fp8E4, &[2])
            .output("c", Dtype::Fp8E4, &[2])
            .op(OpSpec::scale("c", "a", 2.0))
            .validate()
            .unwrap_err();
        assert!(e.contains("only copy"), "{e}");
        let e = ModelSpec::new("m")
            .input("a", Dtype::U8, &[u32::MAX, u32::MAX, u32::MAX])
            .validate()
            .unwrap_err();
        assert!(e.contains("larger than"), "{e}");
    }

    #[test]
    fn jitter_is_deterministic_and_bounded() {
        let m = add().time_ns(1000).jitter(500, 7);
        let a: Vec<u64> = (0..1000).map(|n| m.sim_time_ns(n)).collect();
        let b: Vec<u64> = (0..1000).map(|n| m.sim_time_ns(n)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&t| (1000..=1500).contains(&t)));
        assert!(a.iter().any(|&t| t != a[0]), "jitter varies");
        assert_eq!(add().time_ns(1000).sim_time_ns(5), 1000);
    }
}
