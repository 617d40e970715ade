//! nrt-abi.md §4.6: synchronous execution on the emulated COMPUTE timeline, and the
//! legacy implicit-async helpers (the implicit mode itself is not emulated).

use super::models::live_model;
use crate::abi::{guard, need_runtime, non_null};
use crate::error::Failure;
use neuron_sys::*;
use parking_lot::Mutex;
use std::ffi::{c_int, c_void};

/// `nrt_execute`: bind the sets (errors are synchronous `NRT_INVALID`), then run as one
/// request on the model core's COMPUTE unit — the same timeline and counters as async
/// requests — and block until it completes; returns the execution's status.
///
/// # Safety
/// Handles are only looked up.
pub unsafe extern "C" fn nrt_execute(
    model: *mut nrt_model_t,
    input_set: *const nrt_tensor_set_t,
    output_set: *mut nrt_tensor_set_t,
) -> NRT_STATUS {
    guard("nrt_execute", || execute(model, input_set, output_set))
}

fn execute(
    model: *mut nrt_model_t,
    input_set: *const nrt_tensor_set_t,
    output_set: *mut nrt_tensor_set_t,
) -> Result<(), Failure> {
    let m = live_model(model)?;
    non_null(input_set, "input_set")?;
    non_null(output_set, "output_set")?;
    let rt = need_runtime()?;
    let bound = m.bind_checked(input_set, output_set)?;
    match rt.device.execute_blocking(&m, bound) {
        NRT_SUCCESS => Ok(()),
        s => Err(Failure::new(
            s,
            format!(
                "model '{}' completed with {}",
                m.name(),
                status_name(s).unwrap_or("an unknown status")
            ),
        )),
    }
}

/// `nrt_execute_repeat`: `repeat_count` 1 is [`nrt_execute`]; more needs a NEFF
/// compiled for repetition, which no emulator model is (`NRT_FAILURE`).
///
/// # Safety
/// Handles are only looked up.
pub unsafe extern "C" fn nrt_execute_repeat(
    model: *mut nrt_model_t,
    input_set: *const nrt_tensor_set_t,
    output_set: *mut nrt_tensor_set_t,
    repeat_count: c_int,
) -> NRT_STATUS {
    guard("nrt_execute_repeat", || match repeat_count {
        1 => execute(model, input_set, output_set),
        n if n < 1 => Err(Failure::invalid(format!("repeat_count {n} is below 1"))),
        _ => {
            live_model(model)?;
            Err(Failure::new(
                NRT_FAILURE,
                "repeated execution needs a NEFF compiled for it; nrt-emu models run once per call"
                    .into(),
            ))
        }
    })
}

/// The registered legacy callback and its parameter, kept but never called: the
/// implicit async mode is not emulated, so no execution is ever asynchronous.
static ASYNC_CALLBACK: Mutex<Option<(usize, usize)>> = Mutex::new(None);

/// `nrt_register_async_exec_callback`: stored, replacing any earlier one; `NRT_INVALID`
/// for a NULL callback.
///
/// # Safety
/// No pointer is dereferenced.
pub unsafe extern "C" fn nrt_register_async_exec_callback(
    callback: NRT_ASYNC_EXEC_STATUS_CALLBACK,
    params: *mut c_void,
) -> NRT_STATUS {
    guard("nrt_register_async_exec_callback", || {
        let Some(cb) = callback else {
            return Err(Failure::invalid("callback is NULL"));
        };
        need_runtime()?;
        *ASYNC_CALLBACK.lock() = Some((cb as usize, params as usize));
        Ok(())
    })
}

/// `nrt_async_drain_queued_execs`: nothing is ever queued in the (unemulated) implicit
/// mode, so this returns at once for a visible core.
///
/// # Safety
/// No pointer arguments.
pub unsafe extern "C" fn nrt_async_drain_queued_execs(vnc: i32) -> NRT_STATUS {
    guard("nrt_async_drain_queued_execs", || {
        visible_core(vnc)?;
        Ok(())
    })
}

pub(super) fn visible_core(vnc: i32) -> Result<u32, Failure> {
    let rt = need_runtime()?;
    if vnc < 0 || vnc as u32 >= rt.config.visible_cores {
        return Err(Failure::invalid(format!(
            "core {vnc} is not visible (0..{})",
            rt.config.visible_cores
        )));
    }
    Ok(vnc as u32)
}

// The prototypes are checked against neuron-sys at compile time.
const _: nrt_execute_fn = nrt_execute;
const _: nrt_execute_repeat_fn = nrt_execute_repeat;
const _: nrt_register_async_exec_callback_fn = nrt_register_async_exec_callback;
const _: nrt_async_drain_queued_execs_fn = nrt_async_drain_queued_execs;
