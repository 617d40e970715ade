//! nrt-emu: a software `libnrt`.
//!
//! The vendor's C ABI and documented behaviour over an emulated device: a timeline per
//! execution unit with computed timing, injectable faults and counters. See README.md
//! in this folder for the model format, the generations and every documented choice.
//!
//! Layers: `abi` holds the vendor-named entry points (argument checks, status codes);
//! `runtime`, `model`, `tensor` and `device` hold the logic; `export` turns entry points
//! into the symbols of one generation's `libnrt.so`.

pub mod abi;
pub mod device;
pub mod export;
pub mod model;
pub mod observe;
pub mod runtime;
pub mod tensor;
