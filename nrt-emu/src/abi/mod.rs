//! The vendor-named C entry points. Each checks its arguments, catches panics and maps
//! errors to `NRT_STATUS`; the logic lives in the modules beside `abi`.

pub mod async_a;
pub mod async_b;
pub mod core;
pub mod emu;
