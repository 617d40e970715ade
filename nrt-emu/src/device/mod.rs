//! The emulated device: per (core, XU, queue) timelines. CONTRACT STUB (owner: device engineer).

/// The device of one runtime instance.
pub struct Device {}
