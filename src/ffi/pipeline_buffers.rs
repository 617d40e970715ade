//! Reading a pipeline request's host-buffer arrays from C (kept out of the entry-point
//! file: a helper that reads through raw pointers is an `unsafe fn` outside the
//! raw-pointer allowance).
use super::out::opt_str;
use super::pipeline::nrtq_host_buffer;
use super::status::{fail_msg, nrtq_status};
use crate::queue::{HostInput, HostOutput, TensorRef};
use crate::status::Status;

/// `n` buffers of one side as (tensor, address, bytes).
///
/// # Safety
/// `bufs` is NULL or points to `n` buffers whose `name`s are NULL or NUL-terminated
/// strings alive for `'a`.
unsafe fn side<'a>(
    bufs: *const nrtq_host_buffer,
    n: usize,
    what: &str,
) -> Result<Vec<(TensorRef<'a>, *mut u8, usize)>, nrtq_status> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if bufs.is_null() {
        return Err(fail_msg(
            Status::NullArgument,
            &format!("argument `{what}s` is NULL with a non-zero count"),
        ));
    }
    // SAFETY: per this function's contract, `n` readable buffers.
    let list = unsafe { std::slice::from_raw_parts(bufs, n) };
    list.iter()
        .map(|b| {
            // SAFETY: per this function's contract, NULL or a NUL-terminated string.
            let tensor = match unsafe { opt_str(b.name) } {
                Ok(Some(name)) => TensorRef::Name(name),
                Ok(None) => TensorRef::Index(b.index as usize),
                Err(()) => {
                    return Err(fail_msg(
                        Status::InvalidArgument,
                        &format!("an {what} buffer's name is not valid UTF-8"),
                    ))
                }
            };
            Ok((tensor, b.data.cast::<u8>(), b.size))
        })
        .collect()
}

/// A request's inputs and outputs from their C arrays.
///
/// # Safety
/// Each array is NULL or holds its count of buffers, with names NULL or NUL-terminated
/// and alive for `'a`.
#[allow(clippy::type_complexity, reason = "the two sides of one request")]
pub(crate) unsafe fn host_buffers<'a>(
    inputs: *const nrtq_host_buffer,
    n_in: usize,
    outputs: *const nrtq_host_buffer,
    n_out: usize,
) -> Result<(Vec<HostInput<'a>>, Vec<HostOutput<'a>>), nrtq_status> {
    // SAFETY: per this function's contract.
    let ins = unsafe { side(inputs, n_in, "input") }?;
    // SAFETY: per this function's contract.
    let outs = unsafe { side(outputs, n_out, "output") }?;
    Ok((
        ins.into_iter()
            .map(|(tensor, data, len)| HostInput { tensor, data, len })
            .collect(),
        outs.into_iter()
            .map(|(tensor, data, len)| HostOutput { tensor, data, len })
            .collect(),
    ))
}
