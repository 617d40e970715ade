//! The application's own clocks: wall time, process and per-thread CPU time, context
//! switches, and the latency samples' statistics.

pub mod clock;
pub mod latency;
pub mod threads;
