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
//!   [`loader`] for the details.
//!
//! # Search order
//! The process's own symbols (only if `nrt_init` resolves there), then `NRTQ_LIBNRT`, then
//! `libnrt.so.1` on the loader's search path, then `/opt/aws/neuron/lib/libnrt.so.1`. A
//! failed load lists every place tried and why; a library that opens but lacks required
//! functions is reported with all of the missing names at once.
//!
//! # Generation detection
//! 1. No `nrta_execute_schedule` → no explicit async API.
//! 2. `nrta_error_tracker_create` exported → SDK 2.28 (Gen A).
//! 3. Otherwise Gen B (confirmed by `nrta_execute_schedule` at version node `NRT_3.0.0`,
//!    which contradicts a present tracker); SDK 2.30+ iff
//!    `nrta_event_register_seq_id_completion` resolves, else SDK 2.29.
//! 4. Cross-check with `nrt_get_version` (callable before `nrt_init`): libnrt 2.30 ⇒ Gen A,
//!    2.31+ ⇒ Gen B. Any disagreement is a [`LoadError`] naming both findings, never a guess.
//!
//! The library is never `dlclose`d, since the `Copy` function pointers may outlive any owner.
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
