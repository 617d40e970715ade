//! `sync`: a plain `nrt_execute` loop. With several threads, each calls `nrt_execute`
//! on its own tensor sets; the runtime queues them on the one COMPUTE unit.

use super::{Permits, RawContext, ThreadOutcome};
use crate::measure::clock::now_ns;
use crate::measure::latency::Notice;
use crate::raw::{status_text, Slot};
use neuron_sys::NRT_SUCCESS;

/// One thread's loop.
pub fn run(
    ctx: &RawContext<'_>,
    ring: &[Slot],
    permits: &Permits,
) -> Result<ThreadOutcome, String> {
    let slot = ring.first().ok_or("sync needs one tensor set")?;
    let mut out = ThreadOutcome::default();
    while permits.take() {
        let s = ctx.rt.execute(ctx.model, slot);
        // The call returning is the moment this application learns of the completion.
        out.notices.push(Notice {
            seq: None,
            at_ns: now_ns(),
        });
        out.completed += 1;
        if s != NRT_SUCCESS {
            if out.errors == 0 {
                eprintln!("sync: nrt_execute returned {}", status_text(s));
            }
            out.errors += 1;
        }
    }
    Ok(out)
}
