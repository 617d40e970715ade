//! The SDK 2.28 error tracker (`nrta_error_tracker_*`): a per-core list of
//! `{seq_id, error_code}` for requests that failed after they were accepted.
//!
//! Choices where the vendor is silent (also in `nrt-emu/ASYNC.md`):
//! - `get_list` is get-and-clear: it hands out the entries recorded since the previous
//!   call, in completion order (per XU that is sequence order).
//! - The returned array stays valid until the next `get_list` or `destroy` of that
//!   tracker; call `get_list` on one tracker from one thread at a time.
//! - At most [`CAPACITY`] entries wait between two `get_list` calls; later ones are
//!   dropped (counted, with a warning on stderr the first time).
//! - A tracker records only requests scheduled with it; it is bound to one logical core
//!   and a schedule call on another core with it is refused with `NRT_INVALID`.
//! - A destroyed tracker that in-flight requests still name is kept alive by them and
//!   simply no longer reachable.

use neuron_sys::{nrta_error_t, nrta_error_tracker_t, nrta_seq_t, NRT_STATUS};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Entries a tracker holds between two `get_list` calls.
pub const CAPACITY: usize = 65536;

/// One error tracker.
pub struct Tracker {
    lnc: u32,
    inner: Mutex<Lists>,
}

#[derive(Default)]
struct Lists {
    /// Recorded since the last `get_list`.
    pending: Vec<nrta_error_t>,
    /// What the last `get_list` handed out; its buffer is what the caller reads.
    handed_out: Vec<nrta_error_t>,
    dropped: u64,
}

impl Tracker {
    /// The logical core this tracker belongs to.
    pub fn lnc(&self) -> u32 {
        self.lnc
    }

    /// Record a failed request.
    pub fn record(&self, seq: nrta_seq_t, status: NRT_STATUS) {
        let mut l = self.inner.lock();
        if l.pending.len() >= CAPACITY {
            if l.dropped == 0 {
                eprintln!(
                    "nrt-emu: error tracker of core {} is full ({CAPACITY} entries not yet \
                     fetched with nrta_error_tracker_get_list); dropping later errors",
                    self.lnc
                );
            }
            l.dropped += 1;
            return;
        }
        l.pending.push(nrta_error_t {
            seq_id: seq,
            error_code: u64::from(status),
        });
    }

    /// Get-and-clear: the entries since the previous call, as a pointer that stays
    /// valid until the next call or the tracker's destruction, and their count.
    pub fn take(&self) -> (*const nrta_error_t, usize) {
        let mut l = self.inner.lock();
        let l = &mut *l;
        l.handed_out.clear();
        std::mem::swap(&mut l.handed_out, &mut l.pending);
        (l.handed_out.as_ptr(), l.handed_out.len())
    }

    /// Entries dropped because the tracker was full.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().dropped
    }
}

fn registry() -> &'static Mutex<HashMap<usize, Arc<Tracker>>> {
    static REG: OnceLock<Mutex<HashMap<usize, Arc<Tracker>>>> = OnceLock::new();
    REG.get_or_init(Default::default)
}

/// Create a tracker for core `lnc`; the returned handle is what C sees.
pub fn create(lnc: u32) -> *mut nrta_error_tracker_t {
    let t = Arc::new(Tracker {
        lnc,
        inner: Mutex::new(Lists::default()),
    });
    let handle = Arc::as_ptr(&t) as *mut nrta_error_tracker_t;
    registry().lock().insert(handle as usize, t);
    handle
}

/// The tracker behind a handle, if it is live (a freed or foreign pointer is `None`,
/// never dereferenced).
pub fn lookup(handle: *const nrta_error_tracker_t) -> Option<Arc<Tracker>> {
    registry().lock().get(&(handle as usize)).cloned()
}

/// Forget a handle; `false` when it was not live.
pub fn destroy(handle: *const nrta_error_tracker_t) -> bool {
    registry().lock().remove(&(handle as usize)).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_and_clear_and_lookup() {
        let h = create(1);
        let t = lookup(h).unwrap();
        assert_eq!(t.lnc(), 1);
        t.record(5, 1004);
        t.record(9, 1002);
        let (p, n) = t.take();
        assert_eq!(n, 2);
        // SAFETY: `take` returned a pointer to `n` entries that live until the next take.
        let got = unsafe { std::slice::from_raw_parts(p, n) };
        assert_eq!(got[1].seq_id, 9);
        assert_eq!(got[0].error_code, 1004);
        assert_eq!(t.take().1, 0);
        assert!(destroy(h));
        assert!(lookup(h).is_none());
        assert!(!destroy(h));
    }
}
