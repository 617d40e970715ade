//! Out-parameters, caller buffers and C strings: a pointer from C becomes a checked value
//! in one unsafe step (stating the header's contract), after which writing is safe.
//!
//! Every out-parameter is written only on success (the entry points write last).
use std::ffi::{c_char, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// A non-NULL out-parameter the caller promised is writable for the call.
pub(crate) struct Out<'a, T> {
    ptr: NonNull<T>,
    _call: PhantomData<&'a mut T>,
}

impl<'a, T> Out<'a, T> {
    /// `None` for NULL.
    ///
    /// # Safety
    /// `ptr` is NULL or valid and aligned for a write of one `T` during `'a`.
    pub(crate) unsafe fn new(ptr: *mut T) -> Option<Out<'a, T>> {
        NonNull::new(ptr).map(|ptr| Out {
            ptr,
            _call: PhantomData,
        })
    }

    /// Write the result (without reading or dropping what was there: C memory).
    pub(crate) fn write(self, value: T) {
        // SAFETY: `new`'s contract: valid and aligned for one write of T during 'a.
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

/// A caller buffer of `cap` elements; `(NULL, 0)` is an empty buffer.
pub(crate) struct OutSlice<'a, T> {
    ptr: *mut T,
    cap: usize,
    _call: PhantomData<&'a mut [T]>,
}

impl<'a, T> OutSlice<'a, T> {
    /// `None` when `ptr` is NULL but `cap` is not 0.
    ///
    /// # Safety
    /// `ptr` is NULL (with `cap` 0) or valid and aligned for writes of `cap` elements
    /// during `'a`.
    pub(crate) unsafe fn new(ptr: *mut T, cap: usize) -> Option<OutSlice<'a, T>> {
        (!ptr.is_null() || cap == 0).then_some(OutSlice {
            ptr,
            cap,
            _call: PhantomData,
        })
    }

    /// How many elements the buffer holds.
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Write `values` at the start of the buffer; panics (caught at the boundary) before
    /// writing past its end, which the callers rule out by sizing from
    /// [`Self::capacity`].
    pub(crate) fn write_prefix(&mut self, values: impl IntoIterator<Item = T>) {
        for (i, v) in values.into_iter().enumerate() {
            assert!(i < self.cap, "more values than the caller's buffer holds");
            // SAFETY: `new`'s contract: `cap` writable elements at `ptr`, non-NULL since
            // `i < cap` means cap > 0.
            unsafe { self.ptr.add(i).write(v) }
        }
    }
}

/// Copy `s` into a caller buffer as a NUL-terminated string, truncated to fit (nothing is
/// written into an empty buffer). Returns the full length, without the NUL.
pub(crate) fn copy_str_out(s: &str, mut buf: OutSlice<'_, c_char>) -> usize {
    if buf.capacity() > 0 {
        let n = s.len().min(buf.capacity() - 1);
        let bytes = s.as_bytes()[..n].iter().map(|&b| b as c_char);
        buf.write_prefix(bytes.chain(std::iter::once(0)));
    }
    s.len()
}

/// An optional UTF-8 string argument: `Ok(None)` for NULL, `Err(())` when not UTF-8.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string alive and unmodified during `'a`.
pub(crate) unsafe fn opt_str<'a>(p: *const c_char) -> Result<Option<&'a str>, ()> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: per this function's contract, non-NULL and NUL-terminated for 'a.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map(Some)
        .map_err(|_| ())
}

/// `let out = try_out!(out, "out");`: a required out-parameter, or return `NRTQ_ERR_NULL`
/// naming it.
macro_rules! try_out {
    ($ptr:expr, $name:literal) => {
        // SAFETY: the header's contract for every out-parameter: NULL or writable for the
        // call.
        match unsafe { $crate::ffi::out::Out::new($ptr) } {
            Some(out) => out,
            None => return $crate::ffi::status::null_argument($name),
        }
    };
}
pub(crate) use try_out;

/// `let out = opt_out!(out);`: an out-parameter that may be NULL (then nothing is written).
macro_rules! opt_out {
    ($ptr:expr) => {
        // SAFETY: the header's contract for optional out-parameters: NULL or writable for
        // the call.
        unsafe { $crate::ffi::out::Out::new($ptr) }
    };
}
pub(crate) use opt_out;

/// `let buf = try_out_slice!(out, cap, "out");`: a caller buffer; NULL with a non-zero
/// capacity returns `NRTQ_ERR_NULL`.
macro_rules! try_out_slice {
    ($ptr:expr, $cap:expr, $name:literal) => {
        // SAFETY: the header's contract for buffers: NULL with a capacity of 0, or
        // writable for that many elements during the call.
        match unsafe { $crate::ffi::out::OutSlice::new($ptr, $cap) } {
            Some(buf) => buf,
            None => {
                return $crate::ffi::status::fail_msg(
                    $crate::status::Status::NullArgument,
                    concat!("argument `", $name, "` is NULL with a non-zero capacity"),
                )
            }
        }
    };
}
pub(crate) use try_out_slice;

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(s: &str, len: usize) -> (usize, Vec<u8>) {
        let mut buf = vec![0x7fu8 as c_char; 8];
        // SAFETY: `buf` holds 8 writable elements and `len <= 8`.
        let out = unsafe { OutSlice::new(buf.as_mut_ptr(), len) }.unwrap();
        let n = copy_str_out(s, out);
        (n, buf.iter().map(|&c| c as u8).collect())
    }

    #[test]
    fn strings_are_truncated_to_fit_and_always_terminated() {
        assert_eq!(
            copy("2.30.5", 0),
            (6, vec![0x7f; 8]),
            "an empty buffer is untouched"
        );
        assert_eq!(copy("2.30.5", 4).1[..5], *b"2.3\0\x7f");
        assert_eq!(copy("2.30.5", 8).1[..8], *b"2.30.5\0\x7f");
    }

    #[test]
    fn a_null_buffer_is_only_empty() {
        // SAFETY: NULL with capacity 0 is the documented empty buffer; NULL with a
        // capacity is refused before any write.
        assert!(unsafe { OutSlice::<u64>::new(std::ptr::null_mut(), 0) }.is_some());
        // SAFETY: as above.
        assert!(unsafe { OutSlice::<u64>::new(std::ptr::null_mut(), 3) }.is_none());
        // SAFETY: NULL is accepted and gives no out-parameter.
        assert!(unsafe { Out::<u64>::new(std::ptr::null_mut()) }.is_none());
    }

    #[test]
    #[should_panic(expected = "more values than the caller's buffer holds")]
    fn writing_past_the_buffer_panics_before_the_write() {
        let mut buf = [0u64; 2];
        // SAFETY: `buf` holds 2 writable elements.
        let mut out = unsafe { OutSlice::new(buf.as_mut_ptr(), 2) }.unwrap();
        out.write_prefix([1, 2, 3]);
    }
}
