//! Raw bindings to the AWS Neuron Runtime (`libnrt`) C ABI: types, constants,
//! function-pointer types per async generation, and a run-time loader. No logic beyond
//! loading: everything that decides anything lives in `nrtq` or `nrt-emu`.
//!
//! - C enums are `u32` aliases with one `pub const` per value ([`status`], [`enums`]), so
//!   an unknown value from C is a number, never undefined behaviour.
//! - Structs are `#[repr(C)]` with the C names and field names ([`structs`]).
//! - Every C function has a function-pointer type `<c_name>_fn`: the
//!   generation-independent ones in [`core_fns`] (re-exported here), the async ones of
//!   SDK 2.28 only in [`gen_a`], those of SDK 2.29+ (and 2.30's events) only in [`gen_b`].
//! - [`Libnrt`] loads a library and decides which generation it implements; see
//!   [`loader`] for the search order and the detection method.
#![allow(non_camel_case_types)]

mod table;

pub mod core_fns;
pub mod enums;
pub mod gen_a;
pub mod gen_b;
pub mod loader;
pub mod seq;
pub mod status;
pub mod structs;

pub use core_fns::*;
pub use enums::*;
pub use loader::*;
pub use seq::*;
pub use status::*;
pub use structs::*;
