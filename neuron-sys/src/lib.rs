//! Raw bindings to the AWS Neuron Runtime (`libnrt`) C ABI: types, constants,
//! function-pointer types per async generation, and a run-time loader. No logic beyond
//! loading: everything that decides anything lives in `nrtq` or `nrt-emu`.
#![allow(non_camel_case_types)]

pub mod status;
pub use status::*;
