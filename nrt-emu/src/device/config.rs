//! The device's parameters, read from the environment at `nrt_init`. Every default
//! is justified in `nrt-emu/ASYNC.md`.

use super::fault::{self, Fault};
use super::xu::Api;

/// Requests accepted and not yet completed per XU instance before `NRT_QUEUE_FULL`.
pub const DEFAULT_QUEUE_DEPTH: u32 = 8;
/// Fixed cost of every transfer: descriptor setup and DMA start.
pub const DEFAULT_XFER_OVERHEAD_NS: u64 = 2_000;
/// Simulated host↔device bandwidth: 16 GB/s, a PCIe Gen4 x16 link in practice.
pub const DEFAULT_XFER_BYTES_PER_US: u64 = 16_000;
/// How long before a deadline the release thread stops sleeping and spins. On the
/// 2-vCPU VMs this project runs on, an absolute timed wait with 1-ns slack overshoots by
/// ~23 µs at the median and ~55 µs at p99 (measured, see ASYNC.md): 30 µs puts the
/// median release within a few µs of its deadline while spinning at most ~30 µs per
/// completion (requests closer together than that keep the thread spinning, as a
/// polling device driver would).
pub const DEFAULT_SPIN_NS: u64 = 30_000;
/// Trace events kept in memory.
pub const DEFAULT_TRACE_MAX: usize = 1_000_000;

/// Device parameters.
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// Which API shape (decides XU numbering and queue counts).
    pub api: Api,
    /// Logical cores.
    pub lncs: u32,
    /// See [`DEFAULT_QUEUE_DEPTH`] (`NRT_EMU_QUEUE_DEPTH`).
    pub queue_depth: u32,
    /// See [`DEFAULT_XFER_OVERHEAD_NS`] (`NRT_EMU_XFER_OVERHEAD_NS`).
    pub xfer_overhead_ns: u64,
    /// See [`DEFAULT_XFER_BYTES_PER_US`] (`NRT_EMU_XFER_BYTES_PER_US`).
    pub xfer_bytes_per_us: u64,
    /// See [`DEFAULT_SPIN_NS`] (`NRT_EMU_SPIN_NS`).
    pub spin_ns: u64,
    /// Fault rules from `NRT_EMU_FAULTS`.
    pub faults: Vec<Fault>,
    /// `NRT_EMU_TRACE`: where to write the trace at close.
    pub trace: Option<std::path::PathBuf>,
    /// `NRT_EMU_TRACE_MAX`.
    pub trace_max: usize,
}

impl DeviceConfig {
    /// Defaults for `lncs` cores of generation `api`, no faults, no trace.
    pub fn new(api: Api, lncs: u32) -> DeviceConfig {
        DeviceConfig {
            api,
            lncs,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            xfer_overhead_ns: DEFAULT_XFER_OVERHEAD_NS,
            xfer_bytes_per_us: DEFAULT_XFER_BYTES_PER_US,
            spin_ns: DEFAULT_SPIN_NS,
            faults: Vec::new(),
            trace: None,
            trace_max: DEFAULT_TRACE_MAX,
        }
    }

    /// Defaults overridden by the `NRT_EMU_*` variables. A malformed value is reported
    /// on stderr and ignored (`nrt_init` has no way to say more than a status).
    pub fn from_env(api: Api, lncs: u32) -> DeviceConfig {
        let mut c = DeviceConfig::new(api, lncs);
        fn num(name: &str, min: u64, max: u64) -> Option<u64> {
            let v = std::env::var(name).ok()?;
            match v.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    eprintln!("nrt-emu: ignoring {name}={v:?}: expected a number in {min}..={max}");
                    None
                }
            }
        }
        if let Some(n) = num("NRT_EMU_QUEUE_DEPTH", 1, 1 << 20) {
            c.queue_depth = n as u32;
        }
        if let Some(n) = num("NRT_EMU_XFER_OVERHEAD_NS", 0, 1 << 40) {
            c.xfer_overhead_ns = n;
        }
        if let Some(n) = num("NRT_EMU_XFER_BYTES_PER_US", 1, 1 << 40) {
            c.xfer_bytes_per_us = n;
        }
        if let Some(n) = num("NRT_EMU_SPIN_NS", 0, 10_000_000) {
            c.spin_ns = n;
        }
        if let Some(n) = num("NRT_EMU_TRACE_MAX", 0, 1 << 32) {
            c.trace_max = n as usize;
        }
        if let Ok(spec) = std::env::var("NRT_EMU_FAULTS") {
            match fault::parse_env(&spec) {
                Ok(f) => c.faults = f,
                Err(e) => eprintln!("nrt-emu: ignoring NRT_EMU_FAULTS: {e}"),
            }
        }
        c.trace = std::env::var_os("NRT_EMU_TRACE")
            .filter(|p| !p.is_empty())
            .map(Into::into);
        c
    }

    /// Simulated cost of moving `bytes`: the fixed overhead plus the bytes at the
    /// simulated bandwidth, rounded up to whole nanoseconds.
    pub fn transfer_cost(&self, bytes: u64) -> u64 {
        let per = u128::from(self.xfer_bytes_per_us);
        let ns = (u128::from(bytes) * 1000).div_ceil(per);
        self.xfer_overhead_ns
            .saturating_add(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_cost_rounds_up() {
        let c = DeviceConfig::new(Api::GenA, 1);
        assert_eq!(c.transfer_cost(0), 2_000);
        assert_eq!(c.transfer_cost(16), 2_001);
        assert_eq!(c.transfer_cost(17), 2_002);
        assert_eq!(c.transfer_cost(16_000), 3_000);
    }
}
