//! A caller's host buffer that an asynchronous transfer reads or writes later, on the
//! release thread, when the request completes.
//!
//! The async API documents that the caller keeps such memory alive (and, for a write,
//! unchanged) until the request completes; this type carries that promise from the
//! schedule call, where the pointer arrives, to the release, where it is used.

/// `len` bytes at `ptr` in the application's address space.
pub struct HostBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the buffer is plain bytes owned by the application, which promised (the
// documented contract of the schedule calls) that it stays valid until completion and
// that nothing else touches it meanwhile; the release thread is its only user here.
unsafe impl Send for HostBuf {}

impl HostBuf {
    /// Wrap a caller buffer.
    ///
    /// # Safety
    /// `ptr` must be non-NULL and valid for reads and writes of `len` bytes from now
    /// until the request that holds this value has been released or dropped, and no one
    /// else may access those bytes in that time.
    pub unsafe fn new(ptr: *mut u8, len: usize) -> HostBuf {
        HostBuf { ptr, len }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes, to copy into a tensor.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: guaranteed by the contract of `new` for the life of `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes, to fill from a tensor.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: guaranteed by the contract of `new` for the life of `self`; `&mut self`
        // makes this the only live view.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// An `NRT_STATUS *` of a Gen B schedule call, written once when the request completes.
pub struct StatusSlot(*mut neuron_sys::NRT_STATUS);

// SAFETY: the caller keeps the status variable alive until completion (documented
// contract of the 2.29+ schedule calls) and only reads it after observing completion;
// the release thread writes it exactly once.
unsafe impl Send for StatusSlot {}

impl StatusSlot {
    /// Wrap a caller's status pointer.
    ///
    /// # Safety
    /// `ptr` must be non-NULL, aligned and writable until the request is released or
    /// dropped.
    pub unsafe fn new(ptr: *mut neuron_sys::NRT_STATUS) -> StatusSlot {
        StatusSlot(ptr)
    }

    /// Store the final status (volatile: another thread reads it through a plain load
    /// after seeing the completion counter, which is published after this store).
    pub fn store(self, status: neuron_sys::NRT_STATUS) {
        // SAFETY: guaranteed by the contract of `new`; `self` is consumed, so the write
        // happens exactly once.
        unsafe { std::ptr::write_volatile(self.0, status) };
    }
}
