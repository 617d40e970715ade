//! Running a model's operations on byte buffers: the arithmetic behind `nrt_execute`.
//!
//! Every element is widened ([`Wide`]) before the operation: floats to `f64`, integers
//! to `i128`. For `f32` that gives exactly the IEEE single-precision result of add, sub
//! and mul (the f64 result rounded once is correctly rounded, since 53 ≥ 2·24+2);
//! integers wrap to their width like two's-complement hardware. `matmul` accumulates in
//! the wide type and rounds once at the end, so its float results can differ in the
//! last bit from a device that accumulates in f32; tests compare against the same rule.

use super::dtype::{Dtype, Wide};
use super::spec::{ModelSpec, OpKind, TensorSpec};

/// Compute every output of a validated `spec` from its inputs (in declaration order,
/// each exactly `bytes()` long); returns the outputs in declaration order.
pub fn run(spec: &ModelSpec, inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut outputs: Vec<Vec<u8>> = spec
        .outputs
        .iter()
        .map(|t| vec![0u8; t.bytes() as usize])
        .collect();
    for op in &spec.ops {
        let dst_index = index_of(&spec.outputs, &op.dst);
        let dst_spec = &spec.outputs[dst_index];
        // Sources are copied out first so an op may read the output it writes.
        let srcs: Vec<(&TensorSpec, Vec<u8>)> = op
            .srcs
            .iter()
            .map(|name| {
                if let Some(t) = spec.inputs.iter().position(|t| t.name == *name) {
                    (&spec.inputs[t], inputs[t].clone())
                } else {
                    let o = index_of(&spec.outputs, name);
                    (&spec.outputs[o], outputs[o].clone())
                }
            })
            .collect();
        let dst = &mut outputs[dst_index];
        match op.kind {
            OpKind::Copy => dst.copy_from_slice(&srcs[0].1),
            OpKind::Matmul => matmul(
                dst_spec.dtype,
                srcs[0].0,
                &srcs[0].1,
                srcs[1].0,
                &srcs[1].1,
                dst,
            ),
            OpKind::Scale(f) => unary(dst_spec.dtype, &srcs[0].1, dst, |x| scale(x, f)),
            OpKind::Add | OpKind::Sub | OpKind::Mul => {
                binary(dst_spec.dtype, &srcs[0].1, &srcs[1].1, dst, |x, y| {
                    arith(op.kind, x, y)
                })
            }
        }
    }
    outputs
}

fn index_of(list: &[TensorSpec], name: &str) -> usize {
    list.iter()
        .position(|t| t.name == name)
        .expect("validated model names only declared tensors")
}

/// `f32` fast path: the same results as the wide path (see the module comment), without
/// the per-element type dispatch, since the compute runs on the device's release thread
/// and its time delays the completion.
fn f32s(b: &[u8]) -> impl Iterator<Item = f32> + '_ {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

fn unary(dtype: Dtype, x: &[u8], out: &mut [u8], f: impl Fn(Wide) -> Wide) {
    if dtype == Dtype::F32 {
        for (o, a) in out.chunks_exact_mut(4).zip(f32s(x)) {
            let Wide::Float(r) = f(Wide::Float(a as f64)) else {
                return;
            };
            o.copy_from_slice(&(r as f32).to_le_bytes());
        }
        return;
    }
    let sz = dtype.size();
    for (o, a) in out.chunks_exact_mut(sz).zip(x.chunks_exact(sz)) {
        dtype.store(f(dtype.load(a)), o);
    }
}

fn binary(dtype: Dtype, x: &[u8], y: &[u8], out: &mut [u8], f: impl Fn(Wide, Wide) -> Wide) {
    if dtype == Dtype::F32 {
        for ((o, a), b) in out.chunks_exact_mut(4).zip(f32s(x)).zip(f32s(y)) {
            let Wide::Float(r) = f(Wide::Float(a as f64), Wide::Float(b as f64)) else {
                return;
            };
            o.copy_from_slice(&(r as f32).to_le_bytes());
        }
        return;
    }
    let sz = dtype.size();
    for ((o, a), b) in out
        .chunks_exact_mut(sz)
        .zip(x.chunks_exact(sz))
        .zip(y.chunks_exact(sz))
    {
        dtype.store(f(dtype.load(a), dtype.load(b)), o);
    }
}

fn arith(kind: OpKind, x: Wide, y: Wide) -> Wide {
    match (x, y) {
        (Wide::Float(a), Wide::Float(b)) => Wide::Float(match kind {
            OpKind::Add => a + b,
            OpKind::Sub => a - b,
            _ => a * b,
        }),
        (Wide::Int(a), Wide::Int(b)) => Wide::Int(match kind {
            OpKind::Add => a.wrapping_add(b),
            OpKind::Sub => a.wrapping_sub(b),
            _ => a.wrapping_mul(b),
        }),
        // One dtype per op (validated), so the two sides always widen alike.
        _ => Wide::Int(0),
    }
}

fn scale(x: Wide, f: f64) -> Wide {
    match x {
        Wide::Float(a) => Wide::Float(a * f),
        Wide::Int(a) => Wide::Float(a as f64 * f),
    }
}

fn matmul(dtype: Dtype, xs: &TensorSpec, x: &[u8], ys: &TensorSpec, y: &[u8], out: &mut [u8]) {
    let (m, k) = (xs.shape[0] as usize, xs.shape[1] as usize);
    let n = ys.shape[1] as usize;
    let sz = dtype.size();
    let xv: Vec<Wide> = x.chunks_exact(sz).map(|e| dtype.load(e)).collect();
    let yv: Vec<Wide> = y.chunks_exact(sz).map(|e| dtype.load(e)).collect();
    for i in 0..m {
        for j in 0..n {
            let mut acc = if dtype.is_float() {
                Wide::Float(0.0)
            } else {
                Wide::Int(0)
            };
            for p in 0..k {
                let prod = arith(OpKind::Mul, xv[i * k + p], yv[p * n + j]);
                acc = arith(OpKind::Add, acc, prod);
            }
            dtype.store(acc, &mut out[(i * n + j) * sz..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::OpSpec;
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
    fn to_f32s(b: &[u8]) -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn elementwise_chain() {
        let m = ModelSpec::new("m")
            .input("a", Dtype::F32, &[3])
            .input("b", Dtype::F32, &[3])
            .output("s", Dtype::F32, &[3])
            .output("d", Dtype::F32, &[3])
            .output("p", Dtype::F32, &[3])
            .op(OpSpec::add("s", "a", "b"))
            .op(OpSpec::sub("d", "a", "b"))
            .op(OpSpec::mul("p", "s", "d"))
            .op(OpSpec::scale("p", "p", 0.5));
        m.validate().unwrap();
        let a = [1.5f32, -2.0, 0.1];
        let b = [0.25f32, 4.0, 0.2];
        let out = run(&m, &[f32s(&a), f32s(&b)]);
        for i in 0..3 {
            assert_eq!(to_f32s(&out[0])[i], a[i] + b[i]);
            assert_eq!(to_f32s(&out[1])[i], a[i] - b[i]);
            let p = ((a[i] + b[i]) * (a[i] - b[i])) as f64 * 0.5;
            assert_eq!(to_f32s(&out[2])[i], p as f32);
        }
    }

    #[test]
    fn matmul_2x3_by_3x2() {
        let m = ModelSpec::new("m")
            .input("x", Dtype::I32, &[2, 3])
            .input("w", Dtype::I32, &[3, 2])
            .output("y", Dtype::I32, &[2, 2])
            .op(OpSpec::matmul("y", "x", "w"));
        m.validate().unwrap();
        let i32s = |v: &[i32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let out = run(
            &m,
            &[i32s(&[1, 2, 3, 4, 5, 6]), i32s(&[7, 8, 9, 10, 11, 12])],
        );
        let y: Vec<i32> = out[0]
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(y, vec![58, 64, 139, 154]);
    }
}
