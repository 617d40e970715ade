//! File-descriptor notifications: the 2.28 completion handle and the 2.30+ eventfds an
//! application registers.
//!
//! Every fd the device will write to later is its own duplicate (`F_DUPFD_CLOEXEC`), so
//! an application that closes its fd early can never make the device write into a
//! reused descriptor number; the duplicate keeps the same eventfd object alive and is
//! closed by the device once it is signalled (one-shot) or replaced (per XU).

use neuron_sys::{NRT_INVALID, NRT_RESOURCE, NRT_STATUS};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::raw::c_int;

/// Add 1 to an eventfd's counter (makes it readable). A full counter or a non-eventfd
/// error is ignored: the notification is a hint and the counters are the truth.
pub fn signal(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: `fd` is an open descriptor we own; the buffer is 8 readable bytes.
    unsafe {
        libc::write(
            fd.as_raw_fd(),
            (&one as *const u64).cast::<libc::c_void>(),
            8,
        )
    };
}

/// A private duplicate of a caller's fd, or `NRT_INVALID` when `fd` is not open.
pub fn dup_caller_fd(fd: c_int) -> Result<OwnedFd, NRT_STATUS> {
    if fd < 0 {
        return Err(NRT_INVALID);
    }
    // SAFETY: F_DUPFD_CLOEXEC on any integer is safe: an fd that is not open gives EBADF.
    let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if d < 0 {
        return Err(NRT_INVALID);
    }
    // SAFETY: `d` is a freshly created descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(d) })
}

/// A new completion handle: the fd handed to the caller (theirs to close) and the
/// device's duplicate of it (signalled at completion, then dropped).
pub fn completion_handle() -> Result<(c_int, OwnedFd), NRT_STATUS> {
    // SAFETY: eventfd takes two integers and returns a new descriptor or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(NRT_RESOURCE);
    }
    match dup_caller_fd(fd) {
        Ok(ours) => Ok((fd, ours)),
        Err(_) => {
            // SAFETY: `fd` was created above and is not handed out.
            unsafe { libc::close(fd) };
            Err(NRT_RESOURCE)
        }
    }
}
