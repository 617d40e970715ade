//! One point of the pipeline suite: a pattern moving host buffers through write →
//! execute → read, a model time, and how long each transfer takes against it. The
//! driver and the child share this definition through [`PipeCase::to_arg`] and
//! [`PipeCase::from_arg`].

/// How an application moves a request's host buffers through the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PipePattern {
    /// What most servers do today: per request, a blocking `nrt_tensor_write`, a
    /// blocking `nrt_execute`, a blocking `nrt_tensor_read`, on each of `threads` threads.
    ByHandSync,
    /// The best hand-written raw chain: one thread schedules each step on its unit the
    /// moment it sees the step before complete (reading the three counters), keeping
    /// every unit queued, and sleeps with `usleep(1)` when nothing moved.
    ByHandAsync,
    /// The same chain busy-polling: the lowest latency by hand, for a whole CPU.
    ByHandAsyncSpin,
    /// An nrtq pipeline: host buffers handed to `submit_host`; nrtq chains the steps.
    NrtqPipeline,
    /// A plain nrtq queue on device tensor sets filled once (no transfers at all): the
    /// CPU reference for a pipeline at the same model time.
    NrtqQueue,
}

impl PipePattern {
    pub const ALL: [PipePattern; 5] = [
        PipePattern::ByHandSync,
        PipePattern::ByHandAsync,
        PipePattern::ByHandAsyncSpin,
        PipePattern::NrtqPipeline,
        PipePattern::NrtqQueue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PipePattern::ByHandSync => "by-hand-sync",
            PipePattern::ByHandAsync => "by-hand-async",
            PipePattern::ByHandAsyncSpin => "by-hand-async-spin",
            PipePattern::NrtqPipeline => "nrtq-pipeline",
            PipePattern::NrtqQueue => "nrtq-queue",
        }
    }

    pub fn parse(s: &str) -> Option<PipePattern> {
        PipePattern::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Threads the pattern is measured with: the synchronous loop on 1 and 4 (the issue's
    /// "1 and 4 threads"), the chains on the one thread they are written for.
    pub fn threads(self) -> &'static [u32] {
        match self {
            PipePattern::ByHandSync => &[1, 4],
            _ => &[1],
        }
    }
}

/// The suite's emulated host link: 0.1 GB/s (100 bytes per µs). Slow on purpose: the
/// emulator copies real bytes on its own thread, and at 16 GB/s a 1.5-ms transfer would
/// be 24 MB of copying per request, more host CPU than the emulated time. At 0.1 GB/s the
/// largest transfer of the sweep (150% of 1 ms) is 150 kB.
pub const DMA_GBPS: &str = "0.1";
/// The same bandwidth in bytes per µs, to size the tensors.
pub const BYTES_PER_US: u64 = 100;
/// The emulator's fixed cost per transfer (its default `NRT_EMU_XFER_OVERHEAD_NS`).
pub const XFER_OVERHEAD_NS: u64 = 2_000;

/// Model times of the sweep, µs.
pub const MODEL_US: [u64; 2] = [100, 1000];
/// Transfer time per request on each DMA unit, as % of the model time.
pub const XFER_PCT: [u64; 4] = [10, 50, 90, 150];

/// One point of the sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipeCase {
    pub pattern: PipePattern,
    pub api: String,
    pub model_us: u64,
    pub xfer_pct: u64,
    pub threads: u32,
    /// Submitting time, ms (then everything drains).
    pub wall_ms: u64,
    /// Which run of the case, from 1.
    pub run: u32,
}

impl PipeCase {
    /// Bytes of the input (and of the output) that make one transfer take `xfer_pct`% of
    /// the model time at [`BYTES_PER_US`], counting the fixed overhead; whole f32s.
    pub fn tensor_bytes(&self) -> usize {
        let target_ns = self.model_us * 1000 * self.xfer_pct / 100;
        let bytes = target_ns.saturating_sub(XFER_OVERHEAD_NS) * BYTES_PER_US / 1000;
        (bytes.max(4) / 4 * 4) as usize
    }

    /// Emulated time of one transfer of [`PipeCase::tensor_bytes`], ns.
    pub fn xfer_ns(&self) -> u64 {
        XFER_OVERHEAD_NS + (self.tensor_bytes() as u64 * 1000).div_ceil(BYTES_PER_US)
    }

    /// The most requests per second the pattern can reach: one per slowest stage (for
    /// `nrtq-queue`, which moves no data, one per model time).
    pub fn bound_per_s(&self) -> f64 {
        let slowest = match self.pattern {
            PipePattern::NrtqQueue => self.model_us * 1000,
            _ => (self.model_us * 1000).max(self.xfer_ns()),
        };
        1e9 / slowest as f64
    }

    pub fn label(&self) -> String {
        format!(
            "{:<18} api {} model {:>4} µs xfer {:>3}% threads {} run {}",
            self.pattern.name(),
            self.api,
            self.model_us,
            self.xfer_pct,
            self.threads,
            self.run
        )
    }

    pub fn to_arg(&self) -> String {
        format!(
            "pattern={},api={},model_us={},xfer_pct={},threads={},wall_ms={},run={}",
            self.pattern.name(),
            self.api,
            self.model_us,
            self.xfer_pct,
            self.threads,
            self.wall_ms,
            self.run
        )
    }

    pub fn from_arg(spec: &str) -> Result<PipeCase, String> {
        let mut c = PipeCase {
            pattern: PipePattern::ByHandSync,
            api: String::new(),
            model_us: 0,
            xfer_pct: 0,
            threads: 0,
            wall_ms: 0,
            run: 1,
        };
        let mut seen = 0u32;
        for item in spec.split(',') {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}' is not key=value"))?;
            let num = || {
                v.parse::<u64>()
                    .map_err(|_| format!("{k}: '{v}' is not a number"))
            };
            match k {
                "pattern" => {
                    c.pattern = PipePattern::parse(v).ok_or(format!("unknown pattern {v}"))?
                }
                "api" => c.api = v.to_string(),
                "model_us" => c.model_us = num()?,
                "xfer_pct" => c.xfer_pct = num()?,
                "threads" => c.threads = num()? as u32,
                "wall_ms" => c.wall_ms = num()?,
                "run" => c.run = num()? as u32,
                _ => return Err(format!("unknown key {k}")),
            }
            seen += 1;
        }
        if seen < 7 || c.threads == 0 || c.model_us == 0 || c.xfer_pct == 0 || c.run == 0 {
            return Err(format!("incomplete or zero pipeline case: {spec}"));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(model_us: u64, xfer_pct: u64) -> PipeCase {
        PipeCase {
            pattern: PipePattern::ByHandAsync,
            api: "2.30".into(),
            model_us,
            xfer_pct,
            threads: 1,
            wall_ms: 500,
            run: 2,
        }
    }

    #[test]
    fn round_trips_and_refuses_incomplete_specs() {
        let c = case(1000, 150);
        assert_eq!(PipeCase::from_arg(&c.to_arg()).unwrap(), c);
        assert!(PipeCase::from_arg("pattern=by-hand-sync,api=2.30").is_err());
        assert!(PipeCase::from_arg(&c.to_arg().replace("xfer_pct=150", "xfer_pct=0")).is_err());
    }

    #[test]
    fn tensors_are_sized_so_a_transfer_takes_its_share_of_the_model_time() {
        for model_us in MODEL_US {
            for pct in XFER_PCT {
                let c = case(model_us, pct);
                let want = model_us * 1000 * pct / 100;
                // Within one f32 (40 ns at 100 B/µs) of the target.
                assert!(
                    c.xfer_ns().abs_diff(want) <= 40,
                    "{} vs {want}",
                    c.xfer_ns()
                );
                let slowest = (model_us * 1000).max(want);
                assert!((c.bound_per_s() - 1e9 / slowest as f64).abs() < 1.0);
            }
        }
    }
}
