//! `poll-loop` and `spin-loop`: a hand-written refill loop keeping `depth` requests in
//! flight. Each pass schedules into every free tensor set, reads `nrta_get_sequence`
//! once, retires everything up to it, and if nothing finished either sleeps with
//! `usleep(1)` as the vendor's example does (poll-loop: cheap, but the sleep lasts tens
//! of µs and the unit can run dry) or polls again at once (spin-loop: the best latency a
//! hand-written loop gets, for a whole CPU).

use super::{usleep_1, Permits, RawContext, ThreadOutcome};
use crate::measure::clock::now_ns;
use crate::measure::latency::Notice;
use crate::raw::{status_text, Slot};
use neuron_sys::NRT_QUEUE_FULL;
use std::collections::VecDeque;

/// How the loop waits when nothing completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// `usleep(1)`.
    Sleep,
    /// Poll again at once.
    Spin,
}

/// One thread's loop over its `ring` (its length is the depth it keeps in flight).
pub fn run(
    ctx: &RawContext<'_>,
    ring: &[Slot],
    permits: &Permits,
    wait: Wait,
) -> Result<ThreadOutcome, String> {
    let mut sub = ctx.rt.submitter(ctx.model)?;
    let mut out = ThreadOutcome::default();
    let mut free: Vec<usize> = (0..ring.len().min(ctx.depth.max(1))).rev().collect();
    let mut in_flight: VecDeque<(u64, usize)> = VecDeque::new();
    let mut holding = false;
    loop {
        // Refill every free set.
        while let Some(&i) = free.last() {
            if !holding {
                if !permits.take() {
                    break;
                }
                holding = true;
            }
            match sub.schedule(&ring[i]) {
                Ok(seq) => {
                    free.pop();
                    in_flight.push_back((seq, i));
                    holding = false;
                }
                // Other threads hold the rest of the queue: retry after completions.
                Err(NRT_QUEUE_FULL) => break,
                Err(s) => return Err(format!("nrta_execute_schedule: {}", status_text(s))),
            }
        }
        if in_flight.is_empty() && !holding {
            break;
        }
        // One read of the counter retires everything up to it.
        let mut retired = 0usize;
        if !in_flight.is_empty() {
            let done = sub
                .completed()
                .map_err(|s| format!("nrta_get_sequence: {}", status_text(s)))?;
            let at_ns = now_ns();
            let mut slots: Vec<&Slot> = Vec::new();
            while let Some(&(seq, i)) = in_flight.front() {
                if seq > done {
                    break;
                }
                in_flight.pop_front();
                free.push(i);
                slots.push(&ring[i]);
                out.notices.push(Notice {
                    seq: Some(seq),
                    at_ns,
                });
                retired += 1;
            }
            if retired > 0 {
                out.completed += retired as u64;
                out.errors += sub.new_errors(&slots);
            }
        }
        if retired == 0 {
            match wait {
                Wait::Sleep => usleep_1(),
                Wait::Spin => std::hint::spin_loop(),
            }
        }
    }
    Ok(out)
}
