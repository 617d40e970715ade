//! Opaque handles handed to C (`nrt_model_t*`, `nrt_tensor_t*`, `nrt_tensor_set_t*`).
//!
//! A handle is not the address of a Rust object: it is a number from one process-wide
//! counter, never reused, that looks like an aligned pointer. Each kind of object keeps
//! its own [`Registry`] from handle to object. So a freed handle, a handle of another
//! kind, or any foreign pointer is simply not found — answered with `NRT_INVALID` — and
//! the emulator never dereferences a pointer it did not check.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Handles start high enough never to collide with small integers cast to pointers,
/// and step by 16 so they are as aligned as a malloc'd pointer.
static NEXT: AtomicUsize = AtomicUsize::new(0x7e_0000_1000);

fn next_handle() -> usize {
    NEXT.fetch_add(16, Ordering::Relaxed)
}

/// Live objects of one kind, by handle.
pub struct Registry<T> {
    live: Mutex<BTreeMap<usize, Arc<T>>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Registry<T> {
    /// An empty registry (usable in a `static`).
    pub const fn new() -> Self {
        Registry {
            live: Mutex::new(BTreeMap::new()),
        }
    }

    /// Register `value` under a fresh handle.
    pub fn insert(&self, value: Arc<T>) -> usize {
        let h = next_handle();
        self.live.lock().insert(h, value);
        h
    }

    /// The object behind `handle`, if it is live.
    pub fn get(&self, handle: usize) -> Option<Arc<T>> {
        self.live.lock().get(&handle).cloned()
    }

    /// Unregister `handle`; the object lives on while other `Arc`s hold it.
    pub fn remove(&self, handle: usize) -> Option<Arc<T>> {
        self.live.lock().remove(&handle)
    }

    /// Unregister everything (at `nrt_close`), returning the objects so the caller can
    /// drop them outside the lock.
    pub fn clear(&self) -> Vec<Arc<T>> {
        std::mem::take(&mut *self.live.lock())
            .into_values()
            .collect()
    }

    /// Number of live objects.
    pub fn len(&self) -> usize {
        self.live.lock().len()
    }

    /// Whether no object is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every live object with its handle (a snapshot).
    pub fn snapshot(&self) -> Vec<(usize, Arc<T>)> {
        self.live
            .lock()
            .iter()
            .map(|(h, v)| (*h, v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_never_reused() {
        let r: Registry<u32> = Registry::new();
        let a = r.insert(Arc::new(1));
        assert_eq!(*r.get(a).unwrap(), 1);
        r.remove(a);
        let b = r.insert(Arc::new(2));
        assert_ne!(a, b);
        assert!(r.get(a).is_none());
        assert_eq!(b % 16, 0);
    }
}
