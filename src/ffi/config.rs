//! Queue configuration: an opaque object with setters, so the API can grow without any
//! public struct changing.
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "C entry points only (see the ffi module docs)"
)]
use std::sync::Arc;
use std::time::Duration;

use super::completion::{nrtq_completion_fn, nrtq_completion_hook_fn, CTarget};
use super::ffi_boundary;
pub use super::handle::nrtq_queue_config;
use super::handle::{box_free, box_into_handle, queue_handle, try_box_mut};
use super::out::try_out;
use super::status::{fail_msg, nrtq_status};
use crate::queue::{Delivery, Queue, QueueConfig, WaitPolicy};
use crate::status::Status;

/// How a queue hands completions to the application.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum nrtq_delivery {
    /// Callbacks on the runtime's completion thread (default).
    NRTQ_DELIVERY_CALLBACK = 0,
    /// Completions wait in the queue for `nrtq_queue_reap`; `nrtq_queue_reap_fd` signals.
    NRTQ_DELIVERY_REAP = 1,
}

/// How the completion thread waits for a queue's requests.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum nrtq_wait_policy {
    /// Block on the runtime's notification (or sleep to the predicted completion where
    /// the runtime has none), spinning only when a completion is due within the spin
    /// window. Default.
    NRTQ_WAIT_BALANCED = 0,
    /// Sleep until just before each predicted completion, then spin: lowest notification
    /// latency, more CPU.
    NRTQ_WAIT_LOW_LATENCY = 1,
}

/// Pull mode: called on the completion thread whenever the queue has room for `room` more
/// requests (at creation, and after completions), with the queue and the `user_data` given
/// to `nrtq_queue_config_set_refill_callback`. It may call `nrtq_queue_submit` on this or
/// any queue; it must not destroy, wait on or drain a queue of the same runtime, nor close
/// the runtime (those return `NRTQ_ERR_WOULD_DEADLOCK`). Must not throw or unwind.
pub type nrtq_refill_fn =
    Option<unsafe extern "C" fn(queue: *mut super::queue::nrtq_queue, room: u32, user_data: u64)>;

/// Called once, on the completion thread, when the queue fails terminally: `status` is
/// `NRTQ_ERR_QUEUE_FAILED` (dead execution unit), `NRTQ_ERR_DEADLINE` or `NRTQ_ERR_PANIC`,
/// `nrt_status` the raw libnrt status behind it. Every request still in the queue completes
/// with that status. Same restrictions as `nrtq_refill_fn`.
pub type nrtq_fatal_fn = Option<
    unsafe extern "C" fn(
        queue: *mut super::queue::nrtq_queue,
        status: nrtq_status,
        nrt_status: u32,
        user_data: u64,
    ),
>;

/// Create a config with the defaults into `*out`. Free it with `nrtq_queue_config_free`.
/// Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_new(out: *mut *mut nrtq_queue_config) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let out = try_out!(out, "out");
        out.write(box_into_handle(QueueConfig::default()));
        nrtq_status::NRTQ_OK
    })
}

/// Free a config. NULL is accepted and ignored. The config must not be used afterwards.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_free(cfg: *mut nrtq_queue_config) {
    ffi_boundary!((), {
        // SAFETY: the header's contract: NULL or a live config from nrtq_queue_config_new
        // that the caller no longer uses.
        drop(unsafe { box_free(cfg) });
    })
}

/// Requests kept on the device at once, at least, 1–1024 (default 3; the vendor advises
/// 2–3 per execution unit). Once the queue has learned the model's device time it keeps
/// more, up to `nrtq_queue_config_set_max_depth`, when `depth` requests are too little
/// work to outlast the completion thread's wake-up. Returns `NRTQ_OK`, `NRTQ_ERR_NULL` or
/// `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_depth(
    cfg: *mut nrtq_queue_config,
    depth: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        if depth == 0 || depth > 1024 {
            return fail_msg(Status::InvalidArgument, "depth must be in 1..=1024");
        }
        cfg.depth = depth as usize;
        nrtq_status::NRTQ_OK
    })
}

/// Ceiling of the automatic depth, 1–1024 (default 16). The queue aims for enough
/// requests behind the one its completion thread waits for to outlast the thread's
/// measured wake-up (three times its p95 timer overshoot plus 20 µs of device time,
/// 50–500 µs), plus enough to gather ~300 µs of completions per wake-up; never fewer than
/// the depth, never more than this ceiling or than the runtime accepts (learned from
/// `NRT_QUEUE_FULL`). A value at or below the depth pins the queue at exactly the depth.
/// Returns `NRTQ_OK`, `NRTQ_ERR_NULL` or `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_max_depth(
    cfg: *mut nrtq_queue_config,
    max_depth: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        if max_depth == 0 || max_depth > 1024 {
            return fail_msg(Status::InvalidArgument, "max_depth must be in 1..=1024");
        }
        cfg.max_depth = max_depth as usize;
        nrtq_status::NRTQ_OK
    })
}

/// Requests the software backlog holds before `nrtq_queue_submit` returns
/// `NRTQ_BACKLOG_FULL`, 0–2^24 (default 1024). Returns `NRTQ_OK`, `NRTQ_ERR_NULL` or
/// `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_backlog(
    cfg: *mut nrtq_queue_config,
    backlog: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        if backlog > (1 << 24) {
            return fail_msg(Status::InvalidArgument, "backlog must be at most 2^24");
        }
        cfg.backlog = backlog as usize;
        nrtq_status::NRTQ_OK
    })
}

/// Delivery mode, an `nrtq_delivery` (default `NRTQ_DELIVERY_CALLBACK`). A completion
/// callback is never called in reap mode, so reap delivery together with a queue-wide
/// completion callback or hook is refused by `nrtq_queue_create` (`NRTQ_ERR_INVALID`), and
/// a per-request callback by `nrtq_queue_submit`. Returns `NRTQ_OK`, `NRTQ_ERR_NULL` or
/// `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_delivery(
    cfg: *mut nrtq_queue_config,
    delivery: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.delivery = match delivery {
            0 => Delivery::Callback,
            1 => Delivery::Reap,
            _ => return fail_msg(Status::InvalidArgument, "delivery is not an nrtq_delivery"),
        };
        nrtq_status::NRTQ_OK
    })
}

/// Wait policy, an `nrtq_wait_policy` (default `NRTQ_WAIT_BALANCED`). Returns `NRTQ_OK`,
/// `NRTQ_ERR_NULL` or `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_wait_policy(
    cfg: *mut nrtq_queue_config,
    policy: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.policy = match policy {
            0 => WaitPolicy::Balanced,
            1 => WaitPolicy::LowLatency,
            _ => return fail_msg(Status::InvalidArgument, "policy is not an nrtq_wait_policy"),
        };
        nrtq_status::NRTQ_OK
    })
}

/// Spin window in µs, 0–10000 (default 5): how close to a predicted completion the
/// completion thread spins instead of blocking (balanced policy), or how early it wakes to
/// spin (low-latency policy). Returns `NRTQ_OK`, `NRTQ_ERR_NULL` or `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_spin_us(
    cfg: *mut nrtq_queue_config,
    spin_us: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        if spin_us > 10_000 {
            return fail_msg(Status::InvalidArgument, "spin_us must be at most 10000");
        }
        cfg.spin = Duration::from_micros(spin_us.into());
        nrtq_status::NRTQ_OK
    })
}

/// Deadline in µs for one request on the device; a request held longer fails the queue
/// with `NRTQ_ERR_DEADLINE` (later submits are refused with `NRTQ_ERR_QUEUE_FAILED`). The
/// device may still hold such a request: see `nrtq_completion` for when its tensor sets
/// may be freed. 0 (the default) means no deadline. Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_deadline_us(
    cfg: *mut nrtq_queue_config,
    deadline_us: u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.deadline = (deadline_us > 0).then(|| Duration::from_micros(deadline_us));
        nrtq_status::NRTQ_OK
    })
}

/// How many recent failed requests `nrtq_queue_errors` can return (default 256; older ones
/// are dropped and counted). Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_error_log(
    cfg: *mut nrtq_queue_config,
    entries: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.error_log = entries as usize;
        nrtq_status::NRTQ_OK
    })
}

/// The queue-wide completion callback (callback mode), used for requests submitted with a
/// NULL callback; NULL removes it. It replaces a hook set by
/// `nrtq_queue_config_set_completion_hook` (a queue has one queue-wide callback), and vice
/// versa. See `nrtq_completion_fn` for the threading contract. A reap-mode queue refuses
/// it at `nrtq_queue_create`. Returns `NRTQ_OK` or `NRTQ_ERR_NULL` (`cfg`).
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_completion_callback(
    cfg: *mut nrtq_queue_config,
    callback: nrtq_completion_fn,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.on_complete = callback.map(|f| CTarget::Plain(f).into_hook());
        nrtq_status::NRTQ_OK
    })
}

/// The queue-wide completion callback with a `user_data` of its own (callback mode): `hook`
/// is called as `hook(completion, user_data)` for every request submitted with a NULL
/// callback, so it can be bound to an object (a C++ `this`, a cgo handle). NULL removes it.
/// It replaces a callback set by `nrtq_queue_config_set_completion_callback`, and vice
/// versa. `user_data` is not released by nrtq: keep what it refers to alive until every
/// queue created from this config has been destroyed. Same threading contract as
/// `nrtq_completion_fn`. A reap-mode queue refuses it at `nrtq_queue_create`. Returns
/// `NRTQ_OK` or `NRTQ_ERR_NULL` (`cfg`).
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_completion_hook(
    cfg: *mut nrtq_queue_config,
    hook: nrtq_completion_hook_fn,
    user_data: u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.on_complete = hook.map(|f| CTarget::WithData(f, user_data).into_hook());
        nrtq_status::NRTQ_OK
    })
}

/// Pull mode: the refill callback and its `user_data`; NULL removes it. See
/// `nrtq_refill_fn`. Returns `NRTQ_OK` or `NRTQ_ERR_NULL` (`cfg`).
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_refill_callback(
    cfg: *mut nrtq_queue_config,
    callback: nrtq_refill_fn,
    user_data: u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.on_refill = callback.map(|f| {
            Arc::new(move |q: &Queue, room: usize| {
                // SAFETY: the application's non-NULL callback, given the queue's own handle
                // (the pointer nrtq_queue_create returned) and plain integers.
                unsafe {
                    f(
                        queue_handle(q),
                        u32::try_from(room).unwrap_or(u32::MAX),
                        user_data,
                    )
                }
            }) as crate::queue::RefillHook
        });
        nrtq_status::NRTQ_OK
    })
}

/// The fatal-error callback and its `user_data`; NULL removes it. See `nrtq_fatal_fn`.
/// Returns `NRTQ_OK` or `NRTQ_ERR_NULL` (`cfg`).
#[no_mangle]
pub extern "C" fn nrtq_queue_config_set_fatal_callback(
    cfg: *mut nrtq_queue_config,
    callback: nrtq_fatal_fn,
    user_data: u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.on_fatal = callback.map(|f| {
            Arc::new(move |q: &Queue, s: Status, nrt: u32| {
                // SAFETY: the application's non-NULL callback, given the queue's handle and
                // plain values.
                unsafe { f(queue_handle(q), s.into(), nrt, user_data) }
            }) as crate::queue::FatalHook
        });
        nrtq_status::NRTQ_OK
    })
}
