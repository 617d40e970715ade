//! The requests on the device and the slots they occupy. A slot names the channel's
//! per-request storage, which the backend may use until the request is retired; a
//! request holds its slot from schedule until it is retired or abandoned, so the number
//! of slots ([`QueueConfig::slots`](super::QueueConfig::slots)) bounds what the queue
//! ever puts on the device.
use super::inner::Inner;
use super::request::Request;
use crate::status::{NrtStatus, NRT_QUEUE_FULL};

/// A request on the device.
pub(super) struct Flight {
    pub(super) req: Request,
    pub(super) seq: u64,
    pub(super) slot: usize,
    pub(super) sched_ns: u64,
}

impl Inner {
    /// Put `req` on the device. On refusal, gives the request back with the raw status.
    pub(super) fn schedule(
        &mut self,
        req: Request,
        now: u64,
    ) -> std::result::Result<(), (Request, NrtStatus)> {
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => return Err((req, NRT_QUEUE_FULL)),
        };
        match self.channel().schedule(&req.work, slot) {
            Ok(seq) => {
                self.in_flight.push_back(Flight {
                    req,
                    seq,
                    slot,
                    sched_ns: now,
                });
                self.blocked_full = false;
                Ok(())
            }
            Err(st) => {
                self.free_slots.push(slot);
                if st == NRT_QUEUE_FULL {
                    self.queue_full += 1;
                    self.hw_cap = self.in_flight.len().max(1);
                    self.since_probe = 0;
                }
                Err((req, st))
            }
        }
    }
}
