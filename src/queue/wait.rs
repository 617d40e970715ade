//! Waiting for a ticket or for the whole queue, on the queue's condition variable. The
//! completion thread wakes waiters when the state they wait on changes; waiting from a
//! callback on the completion thread is refused, since only that thread could end it.
use std::time::Duration;

use super::handle::Queue;
use super::inner::Inner;
use crate::status::{Error, Result, Status};

impl Queue {
    pub(super) fn wait_for(
        &self,
        what: &str,
        timeout: Option<Duration>,
        mut cond: impl FnMut(&Inner) -> bool,
    ) -> Result<()> {
        let shared = &self.0;
        if shared.on_own_reactor() {
            return Err(Error::new(
                Status::WouldDeadlock,
                format!("{what} from a completion callback would wait for itself"),
            ));
        }
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut g = shared.inner.lock();
        while !cond(&g) {
            g.waiters += 1;
            let timed_out = match deadline {
                Some(d) => shared.cond.wait_until(&mut g, d).timed_out(),
                None => {
                    shared.cond.wait(&mut g);
                    false
                }
            };
            g.waiters -= 1;
            if timed_out && !cond(&g) {
                return Err(Error::new(Status::Timeout, format!("{what} timed out")));
            }
        }
        Ok(())
    }

    /// Wait until request `ticket` has completed and been delivered (its callback has
    /// returned, or it is ready to reap). `None` waits without limit.
    pub fn wait(&self, ticket: u64, timeout: Option<Duration>) -> Result<()> {
        {
            let g = self.0.inner.lock();
            if ticket == 0 || ticket >= g.next_ticket {
                return Err(Error::new(
                    Status::UnknownTicket,
                    format!("ticket {ticket} was not issued by queue {}", self.0.id),
                ));
            }
        }
        self.wait_for("wait", timeout, |g| !g.outstanding.contains(&ticket))
    }

    /// Wait until the backlog and the device are empty and every completion delivered.
    pub fn drain(&self, timeout: Option<Duration>) -> Result<()> {
        self.wait_for("drain", timeout, |g| {
            g.in_flight.is_empty()
                && g.backlog.is_empty()
                && g.fatal_pending.is_none()
                && g.outstanding.is_empty()
        })
    }
}
