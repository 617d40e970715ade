//! The hand-written ways to move host buffers through write → execute → read, written
//! as a user of the raw API would: [`run_sync`] (blocking calls on each thread) and
//! [`run_chain`] (one thread scheduling each step when its predecessor's counter moves).

use super::device::{Chain, Slot, Unit};
use crate::patterns::{usleep_1, Permits};
use crate::raw::status_text;
use neuron_sys::NRT_QUEUE_FULL;
use std::collections::VecDeque;

/// What a pattern's threads saw.
#[derive(Default, Debug)]
pub struct Tally {
    pub completed: u64,
    /// Steps reported failed, and outputs that were not twice their inputs.
    pub errors: u64,
}

impl Tally {
    fn absorb(&mut self, o: Tally) {
        self.completed += o.completed;
        self.errors += o.errors;
    }

    /// Counts one finished request, checking its output (the model doubles its input)
    /// at the first and last element: enough to catch a read that raced its execution.
    fn finish(&mut self, s: &Slot) {
        self.completed += 1;
        let n = s.host_in.len();
        let ok = [0, n - 1]
            .iter()
            .all(|&i| s.host_out[i] == 2.0 * s.host_in[i]);
        self.errors += u64::from(!ok);
    }
}

/// `by-hand-sync`: each thread owns one slot and, per request, writes its input, executes
/// and reads its output, each call blocking.
pub fn run_sync(chain: &Chain<'_>, slots: &mut [Slot], permits: &Permits) -> Result<Tally, String> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = slots
            .iter_mut()
            .map(|slot| {
                scope.spawn(move || -> Result<Tally, String> {
                    let mut t = Tally::default();
                    while permits.take() {
                        slot.host_out.fill(0.0);
                        chain.write_sync(slot)?;
                        chain.execute_sync(slot)?;
                        chain.read_sync(slot)?;
                        t.finish(slot);
                    }
                    Ok(t)
                })
            })
            .collect();
        let mut total = Tally::default();
        for h in handles {
            total.absorb(
                h.join()
                    .map_err(|_| "a sync thread panicked".to_string())??,
            );
        }
        Ok(total)
    })
}

/// How the chain waits when no counter moved.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    Sleep,
    Spin,
}

/// `by-hand-async`: one thread keeps every unit queued. Each pass reads the three
/// completed counters, moves every finished step's slot on to the next unit, schedules
/// reads, then executions, then writes of new requests into free slots until a unit
/// answers `NRT_QUEUE_FULL`, and waits when nothing moved.
pub fn run_chain(
    chain: &Chain<'_>,
    slots: &mut [Slot],
    permits: &Permits,
    poll: Poll,
) -> Result<Tally, String> {
    let mut t = Tally::default();
    let mut free: Vec<usize> = (0..slots.len()).rev().collect();
    // Per unit: the steps on it (id, slot), and the slots waiting for it.
    let mut on: [VecDeque<(u64, usize)>; 3] = Default::default();
    let mut waiting: [VecDeque<usize>; 3] = Default::default();
    let mut holding = false;
    loop {
        let mut moved = false;
        for unit in Unit::ALL {
            let u = unit as usize;
            if on[u].is_empty() {
                continue;
            }
            let done = chain.completed(unit)?;
            while let Some(&(seq, i)) = on[u].front() {
                if seq > done {
                    break;
                }
                on[u].pop_front();
                moved = true;
                if chain.failed(unit, &slots[i]) {
                    t.errors += 1;
                    t.completed += 1;
                    free.push(i);
                    continue;
                }
                match unit {
                    Unit::Write => waiting[Unit::Compute as usize].push_back(i),
                    Unit::Compute => waiting[Unit::Read as usize].push_back(i),
                    Unit::Read => {
                        t.finish(&slots[i]);
                        free.push(i);
                    }
                }
            }
        }
        for unit in [Unit::Read, Unit::Compute] {
            let u = unit as usize;
            while let Some(&i) = waiting[u].front() {
                match chain.schedule(unit, &mut slots[i]) {
                    Ok(seq) => {
                        waiting[u].pop_front();
                        on[u].push_back((seq, i));
                        moved = true;
                    }
                    Err(NRT_QUEUE_FULL) => break,
                    Err(s) => return Err(format!("{} step: {}", unit.name(), status_text(s))),
                }
            }
        }
        while let Some(&i) = free.last() {
            if !holding {
                if !permits.take() {
                    break;
                }
                holding = true;
            }
            slots[i].host_out.fill(0.0);
            match chain.schedule(Unit::Write, &mut slots[i]) {
                Ok(seq) => {
                    free.pop();
                    on[Unit::Write as usize].push_back((seq, i));
                    holding = false;
                    moved = true;
                }
                Err(NRT_QUEUE_FULL) => break,
                Err(s) => return Err(format!("write step: {}", status_text(s))),
            }
        }
        let idle = on.iter().all(VecDeque::is_empty) && waiting.iter().all(VecDeque::is_empty);
        if idle && !holding {
            return Ok(t);
        }
        if !moved {
            match poll {
                Poll::Sleep => usleep_1(),
                Poll::Spin => std::hint::spin_loop(),
            }
        }
    }
}
