//! A pure-Rust device for unit tests of the engine: an XU with a computed timeline (each
//! request ends at max(its arrival, the previous end) + service time), a bounded hardware
//! queue (`NRT_QUEUE_FULL`), deterministic faults, and either timed completion (no
//! notification: the engine predicts and polls, as on SDK 2.29) or manual completion
//! (tests release requests one by one and a bell rings, as on SDK 2.30).
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use neuron_sys::{NRT_EXEC_UNIT_UNRECOVERABLE, NRT_INVALID, NRT_SUCCESS};

use super::{
    ChainModel, Channel, Device, DeviceSlot, Generation, Handle, Memory, ModelIo, Notify, Op,
    Outcome, Refusal, TensorSpec, Unit,
};
use crate::status::{Error, NrtStatus, Result, Status};
use crate::sys::{self, EventFd};

/// How a mock XU behaves.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Simulated time per request.
    pub service: Duration,
    /// Requests the hardware queue holds (completed ones excluded); more → `NRT_QUEUE_FULL`.
    pub hw_depth: usize,
    /// When true, requests complete only through [`MockXu::release`].
    pub manual: bool,
    /// Every Nth request (by sequence number) completes with `error_code` (0: never).
    pub error_every: u64,
    /// The status injected by `error_every`.
    pub error_code: NrtStatus,
    /// After this many accepted requests the XU dies: later schedules return
    /// `NRT_EXEC_UNIT_UNRECOVERABLE`, and what was still running completes with it.
    pub dead_after: Option<u64>,
    /// This sequence number never completes (nor does anything after it).
    pub hang_at: Option<u64>,
    /// Schedule calls for this sequence number fail at submit time with `NRT_INVALID`.
    pub reject_at: Option<u64>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            service: Duration::from_micros(10),
            hw_depth: 8,
            manual: false,
            error_every: 0,
            error_code: 1004,
            dead_after: None,
            hang_at: None,
            reject_at: None,
        }
    }
}

/// The state of one mock XU, shared between its channel and the test.
pub struct MockXu {
    cfg: MockConfig,
    state: Mutex<XuState>,
    bell: EventFd,
}

#[derive(Default)]
struct XuState {
    issued: u64,
    completed: u64,
    /// (seq, end time in ns) of requests not yet completed, in order.
    running: VecDeque<(u64, u64)>,
    last_end: u64,
    statuses: HashMap<u64, NrtStatus>,
    dead: bool,
    schedule_calls: u64,
    status_reads: HashMap<u64, u32>,
    /// The most requests the XU held at once.
    high_water: usize,
}

impl MockXu {
    fn advance(&self, st: &mut XuState) {
        if self.cfg.manual {
            return;
        }
        let now = sys::now_ns();
        while let Some(&(seq, end)) = st.running.front() {
            if end > now || self.cfg.hang_at.is_some_and(|h| seq >= h) {
                break;
            }
            st.running.pop_front();
            st.completed = seq;
        }
    }

    /// Complete up to `n` running requests now (manual mode) and ring the bell.
    pub fn release(&self, n: usize) -> usize {
        let mut st = self.state.lock();
        let mut done = 0;
        while done < n {
            let Some((seq, _)) = st.running.pop_front() else {
                break;
            };
            st.completed = seq;
            done += 1;
        }
        drop(st);
        if done > 0 {
            self.bell.ring();
        }
        done
    }

    /// Requests accepted so far.
    pub fn issued(&self) -> u64 {
        self.state.lock().issued
    }

    /// Requests accepted but not completed.
    pub fn running(&self) -> usize {
        self.state.lock().running.len()
    }

    /// The most requests the XU held at once (accepted, not completed).
    pub fn high_water(&self) -> usize {
        self.state.lock().high_water
    }

    /// Schedule calls made (accepted or not).
    pub fn schedule_calls(&self) -> u64 {
        self.state.lock().schedule_calls
    }

    /// The largest number of times any one request's status was read (must be ≤ 1).
    pub fn max_status_reads(&self) -> u32 {
        self.state
            .lock()
            .status_reads
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }
}

/// A device whose every channel is a fresh [`MockXu`] with the same configuration.
pub struct MockDevice {
    cfg: MockConfig,
    xus: Mutex<Vec<Arc<MockXu>>>,
}

impl MockDevice {
    /// A mock device whose channels behave as `cfg` says.
    pub fn new(cfg: MockConfig) -> Arc<MockDevice> {
        Arc::new(MockDevice {
            cfg,
            xus: Mutex::new(Vec::new()),
        })
    }

    /// The XU behind the `i`th channel opened.
    pub fn xu(&self, i: usize) -> Arc<MockXu> {
        self.xus.lock()[i].clone()
    }
}

impl Device for MockDevice {
    fn open_channel(&self, _model: Handle, _depth: usize) -> Result<Box<dyn Channel>> {
        let bell =
            EventFd::new().map_err(|e| Error::new(Status::Resource, format!("eventfd: {e}")))?;
        let xu = Arc::new(MockXu {
            cfg: self.cfg.clone(),
            state: Mutex::new(XuState::default()),
            bell,
        });
        self.xus.lock().push(xu.clone());
        Ok(Box::new(MockChannel { xu }))
    }

    fn open_unit(&self, model: Handle, _unit: Unit, depth: usize) -> Result<Box<dyn Channel>> {
        self.open_channel(model, depth)
    }

    /// Every mock model takes one 4-byte input "x" and gives one 4-byte output "y".
    fn model_io(&self, _model: Handle) -> Result<ModelIo> {
        let one = |name: &str| TensorSpec {
            name: name.into(),
            bytes: 4,
        };
        Ok(ModelIo {
            inputs: vec![one("x")],
            outputs: vec![one("y")],
        })
    }

    fn alloc_slots(&self, chain: &[ChainModel], count: usize) -> Result<Box<dyn Memory>> {
        // Distinct fake handles: the mock moves no bytes.
        let mut next = 0x1000usize;
        let mut fake = || {
            next += 16;
            Handle(next)
        };
        let slots = (0..count)
            .map(|_| DeviceSlot {
                sets: chain.iter().map(|_| (fake(), fake())).collect(),
                inputs: chain[0].io.inputs.iter().map(|_| fake()).collect(),
                outputs: chain[chain.len() - 1]
                    .io
                    .outputs
                    .iter()
                    .map(|_| fake())
                    .collect(),
            })
            .collect();
        Ok(Box::new(MockMemory(slots)))
    }

    fn generation(&self) -> Generation {
        Generation::Mock
    }

    fn version(&self) -> String {
        "mock 0".into()
    }
}

struct MockMemory(Vec<DeviceSlot>);

impl Memory for MockMemory {
    fn slot(&self, i: usize) -> &DeviceSlot {
        &self.0[i]
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

struct MockChannel {
    xu: Arc<MockXu>,
}

impl Channel for MockChannel {
    fn schedule(
        &mut self,
        _op: &Op,
        _part: usize,
        _slot: usize,
    ) -> std::result::Result<u64, Refusal> {
        let xu = &self.xu;
        let mut st = xu.state.lock();
        st.schedule_calls += 1;
        xu.advance(&mut st);
        if st.dead {
            return Err(Refusal::DeadUnit(NRT_EXEC_UNIT_UNRECOVERABLE));
        }
        if st.running.len() >= xu.cfg.hw_depth {
            return Err(Refusal::Full);
        }
        let seq = st.issued + 1;
        if xu.cfg.reject_at == Some(seq) {
            return Err(Refusal::Other(NRT_INVALID));
        }
        if xu.cfg.dead_after.is_some_and(|n| st.issued >= n) {
            // The XU dies now: what it still held completes with the fatal status.
            st.dead = true;
            let held: Vec<u64> = st.running.drain(..).map(|(s, _)| s).collect();
            for s in held {
                st.statuses.insert(s, NRT_EXEC_UNIT_UNRECOVERABLE);
                st.completed = s;
            }
            drop(st);
            xu.bell.ring();
            return Err(Refusal::DeadUnit(NRT_EXEC_UNIT_UNRECOVERABLE));
        }
        st.issued = seq;
        let start = st.last_end.max(sys::now_ns());
        let end = start + xu.cfg.service.as_nanos() as u64;
        st.last_end = end;
        st.running.push_back((seq, end));
        st.high_water = st.high_water.max(st.running.len());
        if seq.checked_rem(xu.cfg.error_every) == Some(0) {
            st.statuses.insert(seq, xu.cfg.error_code);
        }
        Ok(seq)
    }

    fn completed(&mut self) -> std::result::Result<u64, NrtStatus> {
        let mut st = self.xu.state.lock();
        self.xu.advance(&mut st);
        Ok(st.completed)
    }

    fn status(&mut self, seq: u64, _slot: usize) -> Outcome {
        let mut st = self.xu.state.lock();
        *st.status_reads.entry(seq).or_default() += 1;
        Outcome::from_raw(st.statuses.get(&seq).copied().unwrap_or(NRT_SUCCESS))
    }

    fn notify(&mut self, _seq: u64) -> Notify {
        if self.xu.cfg.manual {
            Notify::Bell(self.xu.bell.raw())
        } else {
            Notify::Predict
        }
    }
}
