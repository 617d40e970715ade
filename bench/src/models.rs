//! The benchmark's model files, written with the emulator's model API: one small
//! element-wise add per model time, so the emulated device spends exactly the model time
//! per request and the emulator's own arithmetic stays negligible.

use nrt_emu::model::{Dtype, ModelSpec, OpSpec};
use std::path::{Path, PathBuf};

/// Elements per tensor: 64 f32 (256 bytes), small enough that computing the output at
/// release costs the emulator's thread well under a microsecond.
const ELEMENTS: u32 = 64;

/// The model file text for `model_us`.
pub fn bytes(model_us: u64) -> Result<Vec<u8>, String> {
    ModelSpec::new(&format!("bench_add_{model_us}us"))
        .time_us(model_us)
        .input("a", Dtype::F32, &[ELEMENTS])
        .input("b", Dtype::F32, &[ELEMENTS])
        .output("out", Dtype::F32, &[ELEMENTS])
        .op(OpSpec::add("out", "a", "b"))
        .to_bytes()
}

/// Writes the model for `model_us` into `dir` and returns its path.
pub fn write(dir: &Path, model_us: u64) -> Result<PathBuf, String> {
    let path = dir.join(format!("bench_add_{model_us}us.nrtm"));
    std::fs::write(&path, bytes(model_us)?)
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}
