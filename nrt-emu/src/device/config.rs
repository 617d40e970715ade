//! The device's parameters, read from the environment at `nrt_init`. Every default
//! is justified in `nrt-emu/ASYNC.md`.

use super::fault::{self, Fault};
use super::xu::Api;
use crate::error::Failure;

/// Requests accepted and not yet completed per XU instance before `NRT_QUEUE_FULL`.
pub const DEFAULT_QUEUE_DEPTH: u32 = 8;
/// Fixed cost of every transfer: descriptor setup and DMA start.
pub const DEFAULT_XFER_OVERHEAD_NS: u64 = 2_000;
/// Simulated host↔device bandwidth: 16 GB/s, a PCIe Gen4 x16 link in practice.
pub const DEFAULT_XFER_BYTES_PER_US: u64 = 16_000;
/// The largest `NRT_EMU_DMA_GBPS`: 1,000,000 GB/s, far beyond any link, so that only
/// nonsense is refused.
pub const MAX_DMA_GBPS: u64 = 1_000_000;
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
    /// See [`DEFAULT_XFER_BYTES_PER_US`] (`NRT_EMU_DMA_GBPS` × 1000, or
    /// `NRT_EMU_XFER_BYTES_PER_US`).
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
    /// on stderr and ignored, except `NRT_EMU_DMA_GBPS`: a bandwidth that is silently
    /// ignored would make every transfer figure wrong, so nonsense there fails
    /// `nrt_init` with `NRT_INVALID` and a message.
    pub fn from_env(api: Api, lncs: u32) -> Result<DeviceConfig, Failure> {
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
        // Empty counts as unset, as for the core's variables (`config::env`).
        if let Some(v) = std::env::var("NRT_EMU_DMA_GBPS")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            if std::env::var_os("NRT_EMU_XFER_BYTES_PER_US").is_some() {
                return Err(Failure::invalid(format!(
                    "NRT_EMU_DMA_GBPS={v:?} and NRT_EMU_XFER_BYTES_PER_US are both set: they are one setting, set only one"
                )));
            }
            c.xfer_bytes_per_us = parse_dma_gbps(&v)
                .map_err(|e| Failure::invalid(format!("NRT_EMU_DMA_GBPS={v:?}: {e}")))?;
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
        Ok(c)
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

/// The bytes per µs of a bandwidth written in GB/s (10^9 bytes per second, so 1 GB/s
/// is 1000 bytes per µs): a plain decimal number such as `16`, `0.5` or `1.25`, above 0
/// and at most [`MAX_DMA_GBPS`], with at most three decimals (the emulator's resolution
/// is 1 byte per µs, i.e. 0.001 GB/s). Parsed digit by digit, so `0.1` is exactly 100
/// bytes per µs, with no float rounding. The error says what was expected.
pub fn parse_dma_gbps(text: &str) -> Result<u64, String> {
    const EXPECTED: &str =
        "expected a bandwidth in GB/s above 0 and at most 1000000, with at most 3 decimals (e.g. 16, 0.5, 1.25)";
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !digits(whole) || !digits(frac) {
        return Err(format!("not a decimal number: {EXPECTED}"));
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 3 {
        return Err(format!("finer than 0.001 GB/s (1 byte per µs): {EXPECTED}"));
    }
    let whole: u64 = match whole.trim_start_matches('0') {
        "" => 0,
        w if w.len() > 7 => return Err(format!("too large: {EXPECTED}")),
        w => w
            .parse()
            .map_err(|_| format!("not a decimal number: {EXPECTED}"))?,
    };
    let milli: u64 = format!("{frac:0<3}").parse().unwrap_or(0);
    let per_us = whole * 1000 + milli;
    if per_us == 0 {
        return Err(format!("zero bandwidth: {EXPECTED}"));
    }
    if per_us > MAX_DMA_GBPS * 1000 {
        return Err(format!("too large: {EXPECTED}"));
    }
    Ok(per_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dma_gbps_is_read_exactly_and_nonsense_is_refused() {
        assert_eq!(parse_dma_gbps("16"), Ok(16_000));
        assert_eq!(parse_dma_gbps(" 0.5 "), Ok(500));
        assert_eq!(parse_dma_gbps("1.25"), Ok(1_250));
        assert_eq!(parse_dma_gbps("0.1"), Ok(100));
        assert_eq!(parse_dma_gbps("0.001"), Ok(1));
        assert_eq!(parse_dma_gbps("2."), Ok(2_000));
        assert_eq!(parse_dma_gbps(".5"), Ok(500));
        assert_eq!(parse_dma_gbps("0.2500"), Ok(250));
        assert_eq!(parse_dma_gbps("1000000"), Ok(1_000_000_000));
        for bad in [
            "",
            ".",
            "fast",
            "-1",
            "+1",
            "0",
            "0.000",
            "0.0004",
            "1.2345",
            "1e3",
            "nan",
            "inf",
            "1,5",
            "1000000.001",
            "99999999999999999999",
        ] {
            let e = parse_dma_gbps(bad).expect_err(bad);
            assert!(e.contains("expected a bandwidth in GB/s"), "{bad}: {e}");
        }
    }

    #[test]
    fn transfer_cost_rounds_up() {
        let c = DeviceConfig::new(Api::GenA, 1);
        assert_eq!(c.transfer_cost(0), 2_000);
        assert_eq!(c.transfer_cost(16), 2_001);
        assert_eq!(c.transfer_cost(17), 2_002);
        assert_eq!(c.transfer_cost(16_000), 3_000);
    }
}
