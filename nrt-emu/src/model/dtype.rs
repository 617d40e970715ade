//! Element types of model tensors: their names in the model file, their `nrt_dtype_t`
//! codes (the SDK 2.28 hardware codes), their sizes, and conversion of one element to
//! and from the wide value the operations compute in.

use neuron_sys::nrt_dtype_t;

/// An element type a model file may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    F32,
    F16,
    Bf16,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    /// `NRT_DTYPE_FP32R`: its meaning is undocumented, so only `copy` accepts it.
    Fp32r,
    Fp8E3,
    Fp8E4,
    Fp8E5,
}

/// One element widened for arithmetic: floats in `f64`, integers in `i128`, so every
/// value of every supported type is exact before the operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Wide {
    Float(f64),
    Int(i128),
}

impl Dtype {
    /// Every type, in the order the model-format documentation lists them.
    pub const ALL: [Dtype; 15] = [
        Dtype::F32,
        Dtype::F16,
        Dtype::Bf16,
        Dtype::I8,
        Dtype::U8,
        Dtype::I16,
        Dtype::U16,
        Dtype::I32,
        Dtype::U32,
        Dtype::I64,
        Dtype::U64,
        Dtype::Fp32r,
        Dtype::Fp8E3,
        Dtype::Fp8E4,
        Dtype::Fp8E5,
    ];

    /// The spelling in a model file.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
            Dtype::I8 => "i8",
            Dtype::U8 => "u8",
            Dtype::I16 => "i16",
            Dtype::U16 => "u16",
            Dtype::I32 => "i32",
            Dtype::U32 => "u32",
            Dtype::I64 => "i64",
            Dtype::U64 => "u64",
            Dtype::Fp32r => "fp32r",
            Dtype::Fp8E3 => "fp8_e3",
            Dtype::Fp8E4 => "fp8_e4",
            Dtype::Fp8E5 => "fp8_e5",
        }
    }

    /// Parse a model-file spelling.
    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The `nrt_dtype_t` value reported by `nrt_get_model_tensor_info`.
    pub fn code(self) -> nrt_dtype_t {
        use neuron_sys as s;
        match self {
            Dtype::F32 => s::NRT_DTYPE_FLOAT32,
            Dtype::F16 => s::NRT_DTYPE_FLOAT16,
            Dtype::Bf16 => s::NRT_DTYPE_BFLOAT16,
            Dtype::I8 => s::NRT_DTYPE_INT8,
            Dtype::U8 => s::NRT_DTYPE_UINT8,
            Dtype::I16 => s::NRT_DTYPE_INT16,
            Dtype::U16 => s::NRT_DTYPE_UINT16,
            Dtype::I32 => s::NRT_DTYPE_INT32,
            Dtype::U32 => s::NRT_DTYPE_UINT32,
            Dtype::I64 => s::NRT_DTYPE_INT64,
            Dtype::U64 => s::NRT_DTYPE_UINT64,
            Dtype::Fp32r => s::NRT_DTYPE_FP32R,
            Dtype::Fp8E3 => s::NRT_DTYPE_FP8_E3,
            Dtype::Fp8E4 => s::NRT_DTYPE_FP8_E4,
            Dtype::Fp8E5 => s::NRT_DTYPE_FP8_E5,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::I8 | Dtype::U8 | Dtype::Fp8E3 | Dtype::Fp8E4 | Dtype::Fp8E5 => 1,
            Dtype::F16 | Dtype::Bf16 | Dtype::I16 | Dtype::U16 => 2,
            Dtype::F32 | Dtype::Fp32r | Dtype::I32 | Dtype::U32 => 4,
            Dtype::I64 | Dtype::U64 => 8,
        }
    }

    /// Whether arithmetic (everything but `copy`) is defined for this type. The FP8
    /// encodings and FP32R are declared by the vendor without a documented bit layout,
    /// so the emulator moves them but never computes on them.
    pub fn is_arithmetic(self) -> bool {
        !matches!(
            self,
            Dtype::Fp32r | Dtype::Fp8E3 | Dtype::Fp8E4 | Dtype::Fp8E5
        )
    }

    /// Whether elements widen to [`Wide::Float`].
    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F16 | Dtype::Bf16)
    }

    /// Decode the element at the start of `bytes` (little-endian, as on the device's host).
    /// `bytes` must hold at least `self.size()` bytes; callers slice by element.
    pub fn load(self, bytes: &[u8]) -> Wide {
        let b = bytes;
        match self {
            Dtype::F32 => Wide::Float(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64),
            Dtype::F16 => Wide::Float(f16_to_f32(u16::from_le_bytes([b[0], b[1]])) as f64),
            Dtype::Bf16 => Wide::Float(bf16_to_f32(u16::from_le_bytes([b[0], b[1]])) as f64),
            Dtype::I8 => Wide::Int(b[0] as i8 as i128),
            Dtype::U8 => Wide::Int(b[0] as i128),
            Dtype::I16 => Wide::Int(i16::from_le_bytes([b[0], b[1]]) as i128),
            Dtype::U16 => Wide::Int(u16::from_le_bytes([b[0], b[1]]) as i128),
            Dtype::I32 => Wide::Int(i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i128),
            Dtype::U32 => Wide::Int(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i128),
            Dtype::I64 => {
                Wide::Int(i64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as i128)
            }
            Dtype::U64 => {
                Wide::Int(u64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as i128)
            }
            // Never reached: the model loader refuses arithmetic on these types.
            Dtype::Fp32r | Dtype::Fp8E3 | Dtype::Fp8E4 | Dtype::Fp8E5 => Wide::Int(0),
        }
    }

    /// Encode `value` into the start of `out`. Floats round to nearest-even (through f32
    /// for the 16-bit types); integers wrap to the type's width, as two's-complement
    /// hardware would; a float stored into an integer type truncates toward zero and
    /// saturates.
    pub fn store(self, value: Wide, out: &mut [u8]) {
        let (lo, hi) = self.int_range();
        let as_int = |v: Wide| match v {
            Wide::Int(i) => i,
            // `as` truncates toward zero and maps NaN to 0; the clamp saturates.
            Wide::Float(f) => (f as i128).clamp(lo, hi),
        };
        let as_float = |v: Wide| match v {
            Wide::Float(f) => f,
            Wide::Int(i) => i as f64,
        };
        match self {
            Dtype::F32 => out[..4].copy_from_slice(&(as_float(value) as f32).to_le_bytes()),
            Dtype::F16 => {
                out[..2].copy_from_slice(&f32_to_f16(as_float(value) as f32).to_le_bytes())
            }
            Dtype::Bf16 => {
                out[..2].copy_from_slice(&f32_to_bf16(as_float(value) as f32).to_le_bytes())
            }
            Dtype::I8 | Dtype::U8 => out[0] = as_int(value) as u8,
            Dtype::I16 | Dtype::U16 => {
                out[..2].copy_from_slice(&(as_int(value) as u16).to_le_bytes())
            }
            Dtype::I32 | Dtype::U32 => {
                out[..4].copy_from_slice(&(as_int(value) as u32).to_le_bytes())
            }
            Dtype::I64 | Dtype::U64 => {
                out[..8].copy_from_slice(&(as_int(value) as u64).to_le_bytes())
            }
            Dtype::Fp32r | Dtype::Fp8E3 | Dtype::Fp8E4 | Dtype::Fp8E5 => {}
        }
    }
}

impl Dtype {
    /// The smallest and largest value of an integer type (the whole `i128` range for
    /// the others, where it is unused).
    fn int_range(self) -> (i128, i128) {
        match self {
            Dtype::I8 => (i8::MIN as i128, i8::MAX as i128),
            Dtype::U8 => (0, u8::MAX as i128),
            Dtype::I16 => (i16::MIN as i128, i16::MAX as i128),
            Dtype::U16 => (0, u16::MAX as i128),
            Dtype::I32 => (i32::MIN as i128, i32::MAX as i128),
            Dtype::U32 => (0, u32::MAX as i128),
            Dtype::I64 => (i64::MIN as i128, i64::MAX as i128),
            Dtype::U64 => (0, u64::MAX as i128),
            _ => (i128::MIN, i128::MAX),
        }
    }
}

/// IEEE binary16 to binary32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    if exp == 0 {
        // Zero or subnormal: man × 2^-24, exact in f32.
        let v = man as f32 * (1.0 / 16_777_216.0);
        return if sign != 0 { -v } else { v };
    }
    let bits = if exp == 0x1f {
        sign | 0x7f80_0000 | (man << 13)
    } else {
        sign | ((exp + 112) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

/// IEEE binary32 to binary16, round to nearest, ties to even; overflow gives infinity.
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        // Infinity stays infinity; NaN stays a quiet NaN.
        let nan = if man != 0 {
            0x200 | (man >> 13) as u16
        } else {
            0
        };
        return sign | 0x7c00 | nan;
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal result: shift the 24-bit significand down to units of 2^-24.
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let kept = m >> shift;
        let rest = m & ((1 << shift) - 1);
        let half = 1 << (shift - 1);
        let up = rest > half || (rest == half && kept & 1 == 1);
        return sign | (kept + up as u32) as u16;
    }
    let kept = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    // A carry out of the significand correctly bumps the exponent (up to infinity).
    let up = rest > 0x1000 || (rest == 0x1000 && kept & 1 == 1);
    sign | (kept + up as u32) as u16
}

/// bfloat16 to binary32 (exact: bf16 is the top half of an f32).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// binary32 to bfloat16, round to nearest, ties to even.
pub fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((b >> 16) & 1);
    (b.wrapping_add(round) >> 16) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trips_every_finite_value() {
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            if f.is_nan() {
                assert!(f16_to_f32(f32_to_f16(f)).is_nan());
            } else {
                assert_eq!(f32_to_f16(f), h, "h={h:#06x} f={f}");
            }
        }
    }

    #[test]
    fn f16_rounds_to_nearest_even() {
        // 1 + 2^-11 is halfway between 1 and the next f16 (1 + 2^-10): ties to even (1).
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even).
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        assert_eq!(f32_to_f16(65520.0), 0x7c00, "rounds up to infinity");
        assert_eq!(f32_to_f16(65519.0), 0x7bff);
        assert_eq!(f32_to_f16(2f32.powi(-24)), 0x0001);
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0x0000, "tie to even zero");
    }

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        assert_eq!(
            f32_to_bf16(f32::from_bits(0x3f80_8000)),
            0x3f80,
            "tie to even"
        );
        assert_eq!(
            f32_to_bf16(f32::from_bits(0x3f81_8000)),
            0x3f82,
            "tie to even"
        );
        assert_eq!(bf16_to_f32(0x4049), f32::from_bits(0x4049_0000));
    }

    #[test]
    fn integers_wrap_to_width() {
        let mut out = [0u8; 8];
        Dtype::U8.store(Wide::Int(300), &mut out);
        assert_eq!(out[0], 44);
        Dtype::I16.store(Wide::Int(-1), &mut out);
        assert_eq!(Dtype::I16.load(&out), Wide::Int(-1));
        assert_eq!(Dtype::U16.load(&out), Wide::Int(65535));
        Dtype::U8.store(Wide::Float(300.7), &mut out);
        assert_eq!(out[0], 255, "a float saturates into an integer type");
        Dtype::I8.store(Wide::Float(-2.9), &mut out);
        assert_eq!(out[0] as i8, -2, "and truncates toward zero");
    }
}
