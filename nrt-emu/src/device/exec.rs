//! The kinds of request the device runs — model executions and tensor transfers —
//! turned into timeline entries: their cost, their effect and their fault rules. Both
//! async generations and sync `nrt_execute` come through here.

use super::fault::{self, Fault};
use super::hostmem::HostBuf;
use super::request::{Report, SyncSlot};
use super::xu::XuKind;
use super::{Device, Submit};
use crate::model::{Bound, Model};
use crate::tensor::TensorView;
use neuron_sys::{nrta_seq_t, NRT_INVALID, NRT_STATUS, NRT_SUCCESS};
use std::sync::Arc;

/// A transfer the abi layer has checked (bounds, placement, core).
pub enum Transfer {
    /// Host buffer -> tensor bytes `[offset, offset + len)`.
    Write {
        /// Destination.
        dst: TensorView,
        /// Byte offset in the tensor.
        offset: u64,
        /// Source (its length is the transfer size).
        buf: HostBuf,
    },
    /// Tensor bytes -> host buffer.
    Read {
        /// Source.
        src: TensorView,
        /// Byte offset in the tensor.
        offset: u64,
        /// Destination (its length is the transfer size).
        buf: HostBuf,
    },
    /// Tensor -> tensor.
    Copy {
        /// Source.
        src: TensorView,
        /// Byte offset in the source.
        src_offset: u64,
        /// Destination.
        dst: TensorView,
        /// Byte offset in the destination.
        dst_offset: u64,
        /// Bytes.
        len: u64,
    },
}

/// The fault rules of a model file, parsed. A malformed rule makes every execution of
/// the model fail to schedule with `NRT_INVALID` and a message on stderr, since running
/// without the faults a test asked for would pass it for the wrong reason.
pub fn model_faults(model: &Model) -> Result<Vec<Fault>, NRT_STATUS> {
    model
        .fault_lines()
        .iter()
        .map(|l| {
            fault::parse_rule(l).map_err(|e| {
                eprintln!("nrt-emu: model {}: bad fault line `{l}`: {e}", model.name());
                NRT_INVALID
            })
        })
        .collect()
}

fn offset(v: u64) -> Result<usize, NRT_STATUS> {
    usize::try_from(v).map_err(|_| NRT_INVALID)
}

impl Device {
    /// Schedule one execution of `model` on its core's COMPUTE unit. The simulated
    /// cost is `model.sim_time_ns(n)` with `n` the request's sequence number on that
    /// unit (so a jittered model is deterministic per number).
    pub fn schedule_execute(
        &self,
        model: &Arc<Model>,
        bound: Bound,
        queue: u32,
        report: Report,
        unbounded: bool,
    ) -> Result<nrta_seq_t, NRT_STATUS> {
        let faults = model_faults(model)?;
        let keep = model.clone();
        self.submit(Submit {
            kind: XuKind::Compute,
            lnc: model.lnc(),
            queue,
            cost: &|n| model.sim_time_ns(n - 1),
            // The model stays alive until its request completes, even if unloaded.
            work: Box::new(move || {
                let _model = &keep;
                bound.run()
            }),
            report,
            model_faults: &faults,
            label: &|| format!("execute {}", model.name()).into(),
            unbounded,
        })
    }

    /// Sync `nrt_execute`: an execution on the same COMPUTE timeline as the async ones
    /// (it takes a sequence number and shows in the counters), waited for here. It is
    /// not refused for a full queue, but it is for a dead unit.
    pub fn execute_blocking(&self, model: &Arc<Model>, bound: Bound) -> NRT_STATUS {
        let slot = Arc::new(SyncSlot::default());
        match self.schedule_execute(model, bound, 0, Report::Blocking(slot.clone()), true) {
            Ok(_) => slot.wait(),
            Err(e) => e,
        }
    }

    /// When a synchronous `nrt_tensor_write` (`to_device`) or `nrt_tensor_read` of
    /// `bytes` on core `lnc`, starting now, is done: synchronous copies in one direction
    /// of a core's host link take turns (four threads copying at once share the
    /// bandwidth, as on a device), each for the transfer's emulated cost. They do not
    /// occupy an async unit's timeline or take a sequence number (ASYNC.md).
    pub fn sync_transfer_end(&self, lnc: u32, to_device: bool, bytes: u64) -> u64 {
        let cost = self.config().transfer_cost(bytes);
        let link = &self.shared.sync_links[lnc as usize % self.shared.sync_links.len()];
        let mut free_at = link[usize::from(!to_device)].lock();
        let end = (*free_at).max(super::clock::now_ns()) + cost;
        *free_at = end;
        end
    }

    /// Schedule a checked transfer on core `lnc`'s unit for `kind`, queue `queue`.
    pub fn schedule_transfer(
        &self,
        kind: XuKind,
        lnc: u32,
        queue: u32,
        t: Transfer,
        report: Report,
    ) -> Result<nrta_seq_t, NRT_STATUS> {
        let (bytes, name) = match &t {
            Transfer::Write { buf, .. } => (buf.len() as u64, "write"),
            Transfer::Read { buf, .. } => (buf.len() as u64, "read"),
            Transfer::Copy { len, .. } => (*len, "copy"),
        };
        let cost = self.config().transfer_cost(bytes);
        let work = move || -> NRT_STATUS {
            let r = match t {
                Transfer::Write {
                    dst,
                    offset: o,
                    buf,
                } => offset(o).and_then(|o| dst.write(o, buf.as_slice())),
                Transfer::Read {
                    src,
                    offset: o,
                    mut buf,
                } => offset(o).and_then(|o| src.read(o, buf.as_mut_slice())),
                Transfer::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    len,
                } => offset(src_offset).and_then(|so| {
                    let d = offset(dst_offset)?;
                    src.copy_to(so, &dst, d, offset(len)?)
                }),
            };
            r.err().unwrap_or(NRT_SUCCESS)
        };
        self.submit(Submit {
            kind,
            lnc,
            queue,
            cost: &|_| cost,
            work: Box::new(work),
            report,
            model_faults: &[],
            label: &|| name.into(),
            unbounded: false,
        })
    }
}
