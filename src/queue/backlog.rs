//! The backlog: accepted requests that wait, in ticket order, for room on the device.
//! Bounded, so a producer faster than the device hears "not now" instead of growing
//! memory without end.
use std::collections::VecDeque;

use super::request::Request;

/// Requests waiting for the device, oldest first.
pub(super) struct Backlog {
    items: VecDeque<Request>,
    cap: usize,
}

impl Backlog {
    pub(super) fn new(cap: usize) -> Backlog {
        Backlog {
            items: VecDeque::with_capacity(cap.min(4096)),
            cap,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(super) fn is_full(&self) -> bool {
        self.items.len() >= self.cap
    }

    /// At most half full: where blocked submitters are woken (once per half-backlog,
    /// not once per completion).
    pub(super) fn half_empty(&self) -> bool {
        self.items.len() <= self.cap / 2
    }

    pub(super) fn push_back(&mut self, r: Request) {
        self.items.push_back(r);
    }

    /// Put back a request the device refused for now; it keeps its place.
    pub(super) fn push_front(&mut self, r: Request) {
        self.items.push_front(r);
    }

    pub(super) fn pop_front(&mut self) -> Option<Request> {
        self.items.pop_front()
    }

    /// Take the request with this ticket out of the backlog, if it is there.
    pub(super) fn remove(&mut self, ticket: u64) -> Option<Request> {
        // Tickets are in increasing order: binary search.
        let i = self
            .items
            .binary_search_by_key(&ticket, |r| r.ticket)
            .ok()?;
        self.items.remove(i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::tests::req;
    use super::*;

    #[test]
    fn bounded_fifo_with_refusals_keeping_their_place() {
        let mut b = Backlog::new(4);
        for t in 1..=4 {
            b.push_back(req(t));
        }
        assert!(b.is_full() && !b.half_empty());
        let first = b.pop_front().unwrap();
        assert_eq!(first.ticket, 1);
        b.push_front(first);
        assert_eq!(b.pop_front().unwrap().ticket, 1);
        assert_eq!(b.pop_front().unwrap().ticket, 2);
        assert!(b.half_empty());
    }

    #[test]
    fn remove_finds_a_ticket_and_only_once() {
        let mut b = Backlog::new(8);
        for t in [3, 4, 7, 9] {
            b.push_back(req(t));
        }
        assert_eq!(b.remove(7).map(|r| r.ticket), Some(7));
        assert!(b.remove(7).is_none());
        assert!(b.remove(5).is_none());
        let rest: Vec<u64> = std::iter::from_fn(|| b.pop_front().map(|r| r.ticket)).collect();
        assert_eq!(rest, [3, 4, 9]);
    }
}
