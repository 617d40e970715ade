//! nrt-emu: a software `libnrt`.
//!
//! The vendor's C ABI and documented behaviour over an emulated device: a timeline per
//! execution unit with computed timing, injectable faults and counters. See README.md
//! in this folder for the model format, the generations and every documented choice.

pub mod export;
