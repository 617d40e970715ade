//! The async schedule calls of every generation, on Rust values: the checks a schedule
//! call makes before anything is accepted (all synchronous, all `NRT_INVALID` with a
//! message), and the hand-over to the device. The `abi::async_a`/`async_b` shims only
//! turn C pointers into the values taken here.
//!
//! Synchronous checks: NULL or dead handles, out-of-range offsets and sizes, a core,
//! XU or queue that does not exist, a 2.28 tracker of another core, tensors of two
//! different cores in one copy, tensor sets that do not match the model. Everything
//! else is reported when the request completes.

use super::exec::Transfer;
use super::hostmem::{HostBuf, StatusSlot};
use super::request::Report;
use super::tracker::Tracker;
use super::xu::XuKind;
use super::Device;
use crate::error::Failure;
use crate::model::Model;
use crate::tensor::Tensor;
use neuron_sys::{nrt_tensor_set_t, nrta_seq_t, NRT_INVALID};
use std::os::raw::c_int;
use std::sync::Arc;

/// Which logical core performs a tensor operation.
#[derive(Clone, Copy)]
pub enum Core {
    /// 2.28: the tensor's own core (core 0 for host memory).
    OfTensor,
    /// 2.29+: the `lnc_idx` argument.
    Given(c_int),
}

/// How the request reports its final status.
pub enum Reporter {
    /// 2.28: a tracker (or none).
    Tracker(Option<Arc<Tracker>>),
    /// 2.29+: the caller's `NRT_STATUS *` (or none).
    Status(Option<StatusSlot>),
}

/// The core a request runs on, and its report, checking a tracker's core.
fn resolve(
    core: Core,
    natural: Option<u32>,
    device: &Device,
    rep: Reporter,
) -> Result<(u32, Report), Failure> {
    let lnc = match core {
        Core::OfTensor => natural.unwrap_or(0),
        Core::Given(l) => u32::try_from(l)
            .ok()
            .filter(|&l| l < device.config().lncs)
            .ok_or_else(|| {
                Failure::invalid(format!("lnc_idx {l} is not a visible logical core"))
            })?,
    };
    let report = match rep {
        Reporter::Tracker(None) | Reporter::Status(None) => Report::Discard,
        Reporter::Tracker(Some(t)) => {
            if t.lnc() != lnc {
                return Err(Failure::invalid(format!(
                    "the error tracker belongs to logical core {} but the request runs on core {lnc}",
                    t.lnc()
                )));
            }
            Report::Tracker(t)
        }
        Reporter::Status(Some(s)) => Report::Status(s),
    };
    Ok((lnc, report))
}

fn queue_of(queue: c_int) -> Result<u32, Failure> {
    u32::try_from(queue).map_err(|_| Failure::invalid(format!("queue {queue} does not exist")))
}

fn range(t: &Tensor, offset: u64, size: u64, what: &str) -> Result<(), Failure> {
    match offset.checked_add(size) {
        Some(end) if end <= t.size() as u64 => Ok(()),
        _ => Err(Failure::invalid(format!(
            "{what}: bytes [{offset}, {offset}+{size}) lie outside the {}-byte tensor",
            t.size()
        ))),
    }
}

fn schedule_error(s: neuron_sys::NRT_STATUS, what: &str) -> Failure {
    if s == NRT_INVALID {
        Failure::invalid(format!("{what}: the core, XU or queue does not exist"))
    } else {
        Failure::status_only(s)
    }
}

/// `nrta_tensor_write`: `buf` (its length is the size) into `tensor` at `offset`.
pub fn tensor_write(
    device: &Device,
    tensor: &Tensor,
    offset: u64,
    buf: HostBuf,
    core: Core,
    queue: c_int,
    rep: Reporter,
) -> Result<nrta_seq_t, Failure> {
    let size = buf.len() as u64;
    range(tensor, offset, size, "nrta_tensor_write")?;
    let (lnc, report) = resolve(core, tensor.lnc(), device, rep)?;
    let t = Transfer::Write {
        dst: tensor.view(),
        offset,
        buf,
    };
    device
        .schedule_transfer(XuKind::TensorWrite, lnc, queue_of(queue)?, t, report)
        .map_err(|s| schedule_error(s, "nrta_tensor_write"))
}

/// `nrta_tensor_read`: `tensor` at `offset` into `buf`.
pub fn tensor_read(
    device: &Device,
    tensor: &Tensor,
    offset: u64,
    buf: HostBuf,
    core: Core,
    queue: c_int,
    rep: Reporter,
) -> Result<nrta_seq_t, Failure> {
    let size = buf.len() as u64;
    range(tensor, offset, size, "nrta_tensor_read")?;
    let (lnc, report) = resolve(core, tensor.lnc(), device, rep)?;
    let t = Transfer::Read {
        src: tensor.view(),
        offset,
        buf,
    };
    device
        .schedule_transfer(XuKind::TensorRead, lnc, queue_of(queue)?, t, report)
        .map_err(|s| schedule_error(s, "nrta_tensor_read"))
}

/// `nrta_tensor_copy`: two device tensors must share a core (as `nrt_tensor_copy`).
#[allow(clippy::too_many_arguments, reason = "mirrors the C call")]
pub fn tensor_copy(
    device: &Device,
    src: &Tensor,
    src_offset: u64,
    dst: &Tensor,
    dst_offset: u64,
    size: u64,
    core: Core,
    queue: c_int,
    rep: Reporter,
) -> Result<nrta_seq_t, Failure> {
    range(src, src_offset, size, "nrta_tensor_copy source")?;
    range(dst, dst_offset, size, "nrta_tensor_copy destination")?;
    if let (Some(a), Some(b)) = (src.lnc(), dst.lnc()) {
        if a != b {
            return Err(Failure::invalid(format!(
                "nrta_tensor_copy: source on core {a} and destination on core {b}; device tensors must share a core"
            )));
        }
    }
    let (lnc, report) = resolve(core, src.lnc().or(dst.lnc()), device, rep)?;
    let t = Transfer::Copy {
        src: src.view(),
        src_offset,
        dst: dst.view(),
        dst_offset,
        len: size,
    };
    device
        .schedule_transfer(XuKind::TensorOp, lnc, queue_of(queue)?, t, report)
        .map_err(|s| schedule_error(s, "nrta_tensor_copy"))
}

/// `nrta_execute_schedule`: one execution on the model's COMPUTE unit (queue 0).
pub fn execute(
    device: &Device,
    model: &Arc<Model>,
    inputs: *const nrt_tensor_set_t,
    outputs: *mut nrt_tensor_set_t,
    queue: c_int,
    rep: Reporter,
) -> Result<nrta_seq_t, Failure> {
    let queue = queue_of(queue)?;
    if queue != 0 {
        return Err(Failure::invalid(format!(
            "nrta_execute_schedule: queue must be 0 (got {queue})"
        )));
    }
    let (_, report) = resolve(Core::OfTensor, Some(model.lnc()), device, rep)?;
    let bound = model.bind_checked(inputs, outputs)?;
    device
        .schedule_execute(model, bound, queue, report, false)
        .map_err(|s| schedule_error(s, "nrta_execute_schedule"))
}
