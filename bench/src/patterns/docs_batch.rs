//! `docs-batch`: the pattern the vendor's async best-practices page shows — schedule
//! requests until the unit answers `NRT_QUEUE_FULL` (the example caps a batch at 8; we
//! allow up to [`MAX_BATCH`]), poll `nrta_get_sequence` with `usleep(1)` until the last
//! one completed, read the errors, and start the next batch. The device runs dry while
//! each batch is waited for and refilled, which is what this pattern costs.

use super::{usleep_1, Permits, RawContext, ThreadOutcome};
use crate::measure::clock::now_ns;
use crate::measure::latency::Notice;
use crate::raw::{status_text, Slot};
use neuron_sys::NRT_QUEUE_FULL;

/// The most requests one batch schedules (tensor sets per thread): above any sane queue
/// depth, so `NRT_QUEUE_FULL` is what ends a batch.
pub const MAX_BATCH: usize = 16;

/// One thread's loop.
pub fn run(
    ctx: &RawContext<'_>,
    ring: &[Slot],
    permits: &Permits,
) -> Result<ThreadOutcome, String> {
    let mut sub = ctx.rt.submitter(ctx.model)?;
    let mut out = ThreadOutcome::default();
    // A permit taken for a request the queue refused: it is scheduled in a later batch.
    let mut holding = false;
    loop {
        let mut batch: Vec<(u64, usize)> = Vec::new();
        for (i, slot) in ring.iter().enumerate() {
            if !holding {
                if !permits.take() {
                    break;
                }
                holding = true;
            }
            match sub.schedule(slot) {
                Ok(seq) => {
                    batch.push((seq, i));
                    holding = false;
                }
                Err(NRT_QUEUE_FULL) => break,
                Err(s) => return Err(format!("nrta_execute_schedule: {}", status_text(s))),
            }
        }
        let Some(&(last, _)) = batch.last() else {
            if holding {
                // Other threads filled the queue: wait as the example waits, then retry.
                usleep_1();
                continue;
            }
            break;
        };
        loop {
            let done = sub
                .completed()
                .map_err(|s| format!("nrta_get_sequence: {}", status_text(s)))?;
            if done >= last {
                break;
            }
            usleep_1();
        }
        let at_ns = now_ns();
        for &(seq, _) in &batch {
            out.notices.push(Notice {
                seq: Some(seq),
                at_ns,
            });
        }
        out.completed += batch.len() as u64;
        let retired: Vec<&Slot> = batch.iter().map(|&(_, i)| &ring[i]).collect();
        out.errors += sub.new_errors(&retired);
    }
    Ok(out)
}
