//! Pools: one model on many NeuronCores behind one submit (see `nrtq_pool`).
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "C entry points only (see the ffi module docs)"
)]
use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use super::completion::{
    nrtq_completion, nrtq_completion_fn, nrtq_completion_hook_fn, to_c, CTarget,
};
use super::handle::{box_free, box_into_handle, nrtq_queue_config, nrtq_runtime, Boxed, Castable};
use super::handle::{try_box_mut, try_box_ref};
use super::out::{opt_out, opt_str, try_out, try_out_slice, Out};
use super::pipeline::{nrtq_host_buffer, nrtq_pipeline_config};
use super::pipeline_buffers::host_buffers;
use super::reap::{errors_into, reap_fd_into, reap_into};
use super::status::{fail, fail_msg, nrtq_status};
use super::{check_null, ffi_boundary, timeout_from_us};
use crate::backend::{Handle, Work};
use crate::pool::{Pool, PoolConfig, PoolModel, PoolState};
use crate::queue::{Callback, Delivery};
use crate::status::Status;

/// A pool: one model on a set of NeuronCores behind one submit.
///
/// Each core runs an nrtq queue that pulls from the pool's backlog as its device makes
/// room; a submit finding the backlog empty goes straight to the core expected to finish
/// it soonest (its requests outstanding × its learned device time), so a slow or busy
/// core gets less. When a core's execution unit dies, the core leaves the pool (the
/// core-left callback says which and why) and the pool serves on with the others:
/// requests that never reached the dead core's device run elsewhere; those that had
/// complete with its status, or run again elsewhere when the pool was marked
/// retry-safe. Every accepted request completes exactly once. When the last core is
/// gone the pool fails terminally (`nrtq_pool_state`), completing what it held.
///
/// Created by `nrtq_pool_create` or `nrtq_pool_create_with_models`, released by
/// `nrtq_pool_destroy`, which consumes the handle unless it refuses with `NRTQ_ERR_NULL`
/// or `NRTQ_ERR_WOULD_DEADLOCK`. Every other function may be called from any number of
/// threads at once. Methods: `nrtq_pool_submit`, `nrtq_pool_drain`, `nrtq_pool_reap`,
/// `nrtq_pool_reap_fd`, `nrtq_pool_errors`, `nrtq_pool_state`, `nrtq_pool_stats`,
/// `nrtq_pool_cores`, `nrtq_pool_destroy`.
pub struct nrtq_pool {
    _private: [u8; 0],
}

/// Settings for a pool, built with setters. Created by `nrtq_pool_config_new` with the
/// defaults documented on each setter, released by `nrtq_pool_config_free`; the create
/// functions copy it. Not safe for concurrent mutation.
pub struct nrtq_pool_config {
    _private: [u8; 0],
}

/// A pool's settings and the cores to load its model on.
pub(crate) struct PoolSettings {
    cfg: PoolConfig,
    cores: Option<Vec<u32>>,
}

impl Castable for nrtq_pool {
    type Rust = Pool;
    type Ownership = Boxed;
}

impl Castable for nrtq_pool_config {
    type Rust = PoolSettings;
    type Ownership = Boxed;
}

/// Called once, on a completion thread, when core `core` (its index in the pool: the
/// order of the core list or of the models given) leaves the pool: `status` is
/// `NRTQ_ERR_QUEUE_FAILED` (dead execution unit), `NRTQ_ERR_DEADLINE` or
/// `NRTQ_ERR_PANIC`, `nrt_status` the raw libnrt status. The same restrictions as a
/// completion callback (it must not destroy, wait on or drain the pool; must not throw).
pub type nrtq_core_left_fn =
    Option<unsafe extern "C" fn(core: u32, status: nrtq_status, nrt_status: u32, user_data: u64)>;

/// Where a pool is in its life (`nrtq_pool_state`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum nrtq_pool_state_t {
    /// At least one core serves.
    NRTQ_POOL_SERVING = 0,
    /// Every core has left: submits are refused with `NRTQ_ERR_QUEUE_FAILED`.
    NRTQ_POOL_FAILED = 1,
    /// Being destroyed.
    NRTQ_POOL_CLOSED = 2,
}

/// Pool-wide counters. `struct_size` works as in `nrtq_stats`: set it to
/// `sizeof(nrtq_pool_counts)`; the library fills only whole fields within it and writes
/// back how many bytes it filled. Fields are only ever appended.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nrtq_pool_counts {
    /// In: the size of this struct as the caller knows it. Out: the bytes filled.
    pub struct_size: u64,
    /// Requests accepted.
    pub submitted: u64,
    /// Requests delivered, any status.
    pub completed: u64,
    /// Delivered with an error other than cancellation.
    pub failed: u64,
    /// Delivered as cancelled.
    pub cancelled: u64,
    /// Requests moved off a failed core to another.
    pub rerouted: u64,
    /// Of those, requests that had reached the failed core's device (retry-safe pools).
    pub retried: u64,
    /// In the pool backlog now.
    pub backlog: u64,
    /// On the cores now.
    pub outstanding: u64,
    /// Cores still serving.
    pub cores_alive: u64,
    /// Cores at creation.
    pub cores: u64,
}

/// One core of a pool (`nrtq_pool_cores`). Fixed layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nrtq_pool_core {
    /// Index in the pool.
    pub index: u32,
    /// 1 while the core serves, 0 once it has left.
    pub healthy: u32,
    /// Why it left (`NRTQ_OK` while healthy).
    pub status: u32,
    /// The raw libnrt status behind `status`.
    pub nrt_status: u32,
    /// Requests the pool handed to this core (re-runs included).
    pub routed: u64,
    /// Requests on the core now.
    pub outstanding: u64,
    /// Requests the core's queue completed, any status.
    pub completed: u64,
    /// The core's learned device time per request, ns (0 before it is learned).
    pub device_ns: u64,
}

/// Create a pool config with the defaults into `*out`. Free it with
/// `nrtq_pool_config_free`. Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_pool_config_new(out: *mut *mut nrtq_pool_config) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let out = try_out!(out, "out");
        out.write(box_into_handle(PoolSettings {
            cfg: PoolConfig::default(),
            cores: None,
        }));
        nrtq_status::NRTQ_OK
    })
}

/// Free a pool config. NULL is accepted and ignored.
#[no_mangle]
pub extern "C" fn nrtq_pool_config_free(cfg: *mut nrtq_pool_config) {
    ffi_boundary!((), {
        // SAFETY: the header's contract: NULL or a live config from nrtq_pool_config_new
        // that the caller no longer uses.
        drop(unsafe { box_free(cfg) });
    })
}

/// The settings of each core's queue (depth, wait policy, deadline…), copied from
/// `queue_cfg` (default: `nrtq_queue_config_new`'s). Its delivery mode is ignored (the
/// pool's applies). Refused with `NRTQ_ERR_INVALID` when it carries a completion, refill
/// or fatal callback: the pool installs its own on each core (use the pool's completion
/// hook and core-left callback instead). Returns `NRTQ_OK`, `NRTQ_ERR_NULL` or
/// `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_pool_config_set_queue_config(
    cfg: *mut nrtq_pool_config,
    queue_cfg: *const nrtq_queue_config,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        let q = try_box_ref!(queue_cfg, "queue_cfg");
        if q.on_complete.is_some() || q.on_refill.is_some() || q.on_fatal.is_some() {
            return fail_msg(
                Status::InvalidArgument,
                "the queue config carries a completion, refill or fatal callback; the pool \
                 installs its own on each core: remove them and use \
                 nrtq_pool_config_set_completion_hook / nrtq_pool_config_set_core_left_callback",
            );
        }
        cfg.cfg.queue = q.clone();
        nrtq_status::NRTQ_OK
    })
}

/// The logical cores `nrtq_pool_create` loads the model on: `cores[0..n]`, each at most
/// once. `(NULL, 0)` (the default) means every core the process sees. Ignored by
/// `nrtq_pool_create_with_models`. Returns `NRTQ_OK`, `NRTQ_ERR_NULL` (`cfg`, or `cores`
/// with `n` > 0) or `NRTQ_ERR_INVALID` (a core listed twice, or more than 4096).
#[no_mangle]
pub extern "C" fn nrtq_pool_config_set_cores(
    cfg: *mut nrtq_pool_config,
    cores: *const u32,
    n: usize,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        if n == 0 {
            cfg.cores = None;
            return nrtq_status::NRTQ_OK;
        }
        check_null!(cores, "cores");
        if n > 4096 {
            return fail_msg(Status::InvalidArgument, "more than 4096 cores listed");
        }
        // SAFETY: the header's contract: `cores` points to `n` readable u32 values.
        let list = unsafe { std::slice::from_raw_parts(cores, n) }.to_vec();
        let mut sorted = list.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return fail_msg(
                Status::InvalidArgument,
                "a core is listed twice: list each logical core once",
            );
        }
        cfg.cores = Some(list);
        nrtq_status::NRTQ_OK
    })
}

/// Requests the pool backlog holds before `nrtq_pool_submit` says `NRTQ_BACKLOG_FULL`,
/// at most 2^24 (default 4096). Returns `NRTQ_OK`, `NRTQ_ERR_NULL` or `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_pool_config_set_backlog(
    cfg: *mut nrtq_pool_config,
    backlog: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        if backlog > (1 << 24) {
            return fail_msg(Status::InvalidArgument, "backlog must be at most 2^24");
        }
        cfg.cfg.backlog = backlog as usize;
        nrtq_status::NRTQ_OK
    })
}

/// Delivery mode, an `nrtq_delivery` (default `NRTQ_DELIVERY_CALLBACK`). In reap mode
/// completions wait in the pool for `nrtq_pool_reap`, and a completion hook or a
/// per-request callback is refused. Returns `NRTQ_OK`, `NRTQ_ERR_NULL` or
/// `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_pool_config_set_delivery(
    cfg: *mut nrtq_pool_config,
    delivery: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.cfg.delivery = match delivery {
            0 => Delivery::Callback,
            1 => Delivery::Reap,
            _ => return fail_msg(Status::InvalidArgument, "delivery is not an nrtq_delivery"),
        };
        nrtq_status::NRTQ_OK
    })
}

/// Host buffers in, host buffers out: each core's queue becomes a pipeline with the
/// settings of `pipeline` (copied; slots and links as for `nrtq_pipeline_create`), and
/// requests come through `nrtq_pool_submit_host` instead of `nrtq_pool_submit`. NULL goes
/// back to the default (cores take tensor sets). Returns `NRTQ_OK` or `NRTQ_ERR_NULL`
/// (`cfg`).
#[no_mangle]
pub extern "C" fn nrtq_pool_config_set_pipeline(
    cfg: *mut nrtq_pool_config,
    pipeline: *const nrtq_pipeline_config,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.cfg.pipeline = if pipeline.is_null() {
            None
        } else {
            Some(try_box_ref!(pipeline, "pipeline").clone())
        };
        nrtq_status::NRTQ_OK
    })
}

/// Mark the pool's requests safe to run twice (default false): a request that was on a
/// core's device when the core died then runs again on another core instead of
/// completing with the core's failure. Each request is still delivered exactly once.
/// Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_pool_config_set_retry_safe(
    cfg: *mut nrtq_pool_config,
    retry_safe: bool,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.cfg.retry_safe = retry_safe;
        nrtq_status::NRTQ_OK
    })
}

/// Completion threads serving the pool's cores, 1–256 (default 1: the runtime's own
/// thread serves every core). More split the cores between them, round robin; the extra
/// threads belong to the pool and stop when it is destroyed. Returns `NRTQ_OK`,
/// `NRTQ_ERR_NULL` or `NRTQ_ERR_INVALID`.
#[no_mangle]
pub extern "C" fn nrtq_pool_config_set_completion_threads(
    cfg: *mut nrtq_pool_config,
    threads: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        if threads == 0 || threads > 256 {
            return fail_msg(
                Status::InvalidArgument,
                "completion threads must be in 1..=256",
            );
        }
        cfg.cfg.completion_threads = threads as usize;
        nrtq_status::NRTQ_OK
    })
}

/// The pool-wide completion hook (callback mode), called as `hook(completion,
/// user_data)` for requests submitted with a NULL callback; NULL removes it. The
/// completion's `ticket` is the pool ticket. Runs on a completion thread; the same
/// contract as `nrtq_completion_fn` (it may submit to the pool; it must not destroy,
/// wait on or drain it). Returns `NRTQ_OK` or `NRTQ_ERR_NULL` (`cfg`).
#[no_mangle]
pub extern "C" fn nrtq_pool_config_set_completion_hook(
    cfg: *mut nrtq_pool_config,
    hook: nrtq_completion_hook_fn,
    user_data: u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.cfg.on_complete = hook.map(|f| CTarget::WithData(f, user_data).into_hook());
        nrtq_status::NRTQ_OK
    })
}

/// The core-left callback and its `user_data` (see `nrtq_core_left_fn`); NULL removes
/// it. Returns `NRTQ_OK` or `NRTQ_ERR_NULL` (`cfg`).
#[no_mangle]
pub extern "C" fn nrtq_pool_config_set_core_left_callback(
    cfg: *mut nrtq_pool_config,
    callback: nrtq_core_left_fn,
    user_data: u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        cfg.cfg.on_core_left = callback.map(|f| {
            Arc::new(move |core: usize, s: Status, nrt: u32| {
                // SAFETY: the application's non-NULL callback, given plain values.
                unsafe { f(core as u32, s.into(), nrt, user_data) }
            }) as crate::pool::CoreLeftHook
        });
        nrtq_status::NRTQ_OK
    })
}

fn settings(cfg: Option<&PoolSettings>) -> (PoolConfig, Option<Vec<u32>>) {
    match cfg {
        Some(s) => (s.cfg.clone(), s.cores.clone()),
        None => (PoolConfig::default(), None),
    }
}

fn create(
    rt: &crate::runtime::Runtime,
    model: PoolModel,
    cfg: PoolConfig,
    out: super::out::Out<'_, *mut nrtq_pool>,
) -> nrtq_status {
    if cfg.delivery == Delivery::Reap && cfg.on_complete.is_some() {
        return fail_msg(
            Status::InvalidArgument,
            "a completion hook is never called in reap mode: remove it or use callback delivery",
        );
    }
    match rt.create_pool(model, cfg) {
        Ok(p) => {
            out.write(box_into_handle::<nrtq_pool>(p));
            nrtq_status::NRTQ_OK
        }
        Err(e) => fail(e),
    }
}

/// Create a pool that loads the model file `path` (a NEFF) on each core of the config's
/// core list (default: every core the process sees) and unloads it at destroy.
///
/// - `rt`: the runtime (non-NULL); `cfg`: settings (copied), or NULL for the defaults.
/// - `out`: receives the pool. Release it with `nrtq_pool_destroy`.
///
/// Returns `NRTQ_OK`; `NRTQ_ERR_NULL`; `NRTQ_ERR_INVALID` (the file cannot be read, the
/// path is not UTF-8, reap delivery with a completion hook, or the process sees no core);
/// `NRTQ_ERR_RUNTIME` (`nrt_load` failed on a core: the message names it and the
/// `NRT_STATUS`; nothing is left loaded); `NRTQ_ERR_RESOURCE`.
#[no_mangle]
pub extern "C" fn nrtq_pool_create(
    rt: *const nrtq_runtime,
    path: *const c_char,
    cfg: *const nrtq_pool_config,
    out: *mut *mut nrtq_pool,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let runtime = try_box_ref!(rt, "rt");
        check_null!(path, "path");
        let out = try_out!(out, "out");
        // SAFETY: the header's contract: a NUL-terminated string alive for the call.
        let path = match unsafe { opt_str(path) } {
            Ok(Some(p)) if !p.is_empty() => PathBuf::from(p),
            _ => {
                return fail_msg(
                    Status::InvalidArgument,
                    "path is empty or not UTF-8: pass the model (NEFF) file's path",
                )
            }
        };
        // SAFETY: the header's contract: NULL or a live config.
        let (cfg, cores) = settings(unsafe { super::handle::box_ref(cfg) });
        create(runtime, PoolModel::File { path, cores }, cfg, out)
    })
}

/// Create a pool over models the application loaded: `models[0..n]`, one
/// `nrt_model_t *` per core (the same model on different cores), kept loaded by the
/// application until the pool is destroyed. Core `i` of the pool is `models[i]`. The
/// config's core list is ignored. Returns as `nrtq_pool_create`, with `NRTQ_ERR_NULL`
/// also for a NULL model and `NRTQ_ERR_INVALID` for `n` = 0.
#[no_mangle]
pub extern "C" fn nrtq_pool_create_with_models(
    rt: *const nrtq_runtime,
    models: *const *mut c_void,
    n: usize,
    cfg: *const nrtq_pool_config,
    out: *mut *mut nrtq_pool,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let runtime = try_box_ref!(rt, "rt");
        let out = try_out!(out, "out");
        if n == 0 {
            return fail_msg(
                Status::InvalidArgument,
                "n is 0: pass at least one loaded model (one per core)",
            );
        }
        check_null!(models, "models");
        // SAFETY: the header's contract: `models` points to `n` readable pointers.
        let list = unsafe { std::slice::from_raw_parts(models, n) };
        let handles: Vec<Handle> = list.iter().map(|&m| Handle(m as usize)).collect();
        // SAFETY: the header's contract: NULL or a live config.
        let (cfg, _) = settings(unsafe { super::handle::box_ref(cfg) });
        create(runtime, PoolModel::Loaded(handles), cfg, out)
    })
}

/// Destroy a pool: refuse new work, complete its backlog as `NRTQ_ERR_CANCELLED`,
/// destroy each core's queue (waiting up to `timeout_us` each, negative: no limit, for
/// what its device holds), deliver every completion, unload the models
/// `nrtq_pool_create` loaded, stop the pool's extra completion threads, and release the
/// handle. The handle is consumed unless this returns `NRTQ_ERR_NULL` or
/// `NRTQ_ERR_WOULD_DEADLOCK` (from a callback on a completion thread). Returns `NRTQ_OK`,
/// or `NRTQ_TIMEOUT` when requests had to be abandoned on a device (they complete as
/// `NRTQ_ERR_CANCELLED` with raw status `NRT_TIMEOUT`).
#[no_mangle]
pub extern "C" fn nrtq_pool_destroy(pool: *mut nrtq_pool, timeout_us: i64) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        let timeout =
            timeout_from_us(timeout_us).unwrap_or(std::time::Duration::from_secs(u32::MAX as u64));
        let result = p.destroy(timeout);
        if let Err(e) = &result {
            if e.status == Status::WouldDeadlock {
                return fail(e.clone());
            }
        }
        // SAFETY: the handle from nrtq_pool_create*, consumed here exactly once.
        drop(unsafe { box_free(pool) });
        match result {
            Ok(()) => nrtq_status::NRTQ_OK,
            Err(e) => fail(e),
        }
    })
}

/// Submit one execution of the pool's model on (`input`, `output`), tensor sets usable
/// on every core of the pool; never blocks. `callback`: called once with this request's
/// completion, or NULL for the pool's completion hook (callback mode; refused with
/// `NRTQ_ERR_INVALID` in reap mode). `out_ticket` (may be NULL): the pool ticket.
///
/// Returns `NRTQ_OK` (the request completes exactly once); `NRTQ_BACKLOG_FULL` (not
/// now); `NRTQ_ERR_QUEUE_FAILED` (every core has left; recreate the pool);
/// `NRTQ_ERR_CLOSED` (being destroyed); `NRTQ_ERR_RUNTIME` (libnrt refused the request
/// at once; nothing accepted); `NRTQ_ERR_INVALID`; `NRTQ_ERR_NULL`. Safe from any thread,
/// including callbacks.
#[no_mangle]
pub extern "C" fn nrtq_pool_submit(
    pool: *const nrtq_pool,
    input: *const c_void,
    output: *mut c_void,
    callback: nrtq_completion_fn,
    user_data: u64,
    out_ticket: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        check_null!(input, "input");
        check_null!(output, "output");
        let out_ticket = opt_out!(out_ticket);
        let work = Work {
            input: Handle(input as usize),
            output: Handle(output as usize),
        };
        submit_with(p, callback, out_ticket, |cb| p.submit(work, user_data, cb))
    })
}

/// The shared end of both pool submits: a callback is refused in reap mode (it would never
/// run), then `submit` runs with the C callback wrapped, and the ticket is written out.
fn submit_with(
    p: &Pool,
    callback: nrtq_completion_fn,
    out_ticket: Option<Out<'_, u64>>,
    submit: impl FnOnce(Option<Callback>) -> crate::status::Result<u64>,
) -> nrtq_status {
    if callback.is_some() && p.reap_fd().is_some() {
        return fail_msg(
            Status::InvalidArgument,
            "a completion callback is never called in reap mode: pass NULL, or create the \
             pool with callback delivery",
        );
    }
    match submit(callback.map(|f| CTarget::Plain(f).into_callback())) {
        Ok(t) => {
            if let Some(o) = out_ticket {
                o.write(t);
            }
            nrtq_status::NRTQ_OK
        }
        Err(e) => fail(e),
    }
}

/// A pool of pipelines (`nrtq_pool_config_set_pipeline`): submit one request carrying
/// host buffers, `inputs[0..n_in]` for the model's inputs and `outputs[0..n_out]` for its
/// outputs, each named by `name` or `index` and of exactly the tensor's size (otherwise
/// `NRTQ_ERR_INVALID`, nothing accepted, and `nrtq_last_error()` names the tensor). Routed
/// like `nrtq_pool_submit`; on its core the inputs are written, the model runs and the
/// outputs are read into `outputs` before the request completes (callback or reap, once).
///
/// **Buffer reuse**: as for `nrtq_queue_submit_host`: the buffers belong to the request
/// until it is delivered. A request moved off a core that died (it never reached that
/// device, or the pool is retry-safe) is written again from `inputs` on another core, so
/// inputs must stay unchanged until delivery.
///
/// Returns `NRTQ_OK`, `NRTQ_BACKLOG_FULL`, `NRTQ_ERR_QUEUE_FAILED` (every core has left),
/// `NRTQ_ERR_CLOSED`, `NRTQ_ERR_INVALID` (buffers that do not fit; a pool without a
/// pipeline configuration; a callback in reap mode), `NRTQ_ERR_NULL`. Safe from any
/// thread, including callbacks.
#[no_mangle]
pub extern "C" fn nrtq_pool_submit_host(
    pool: *const nrtq_pool,
    inputs: *const nrtq_host_buffer,
    n_in: usize,
    outputs: *const nrtq_host_buffer,
    n_out: usize,
    callback: nrtq_completion_fn,
    user_data: u64,
    out_ticket: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        let out_ticket = opt_out!(out_ticket);
        // SAFETY: the header's contract for the arrays: `n` buffers each, names NULL or
        // NUL-terminated, alive for the call.
        let (ins, outs) = match unsafe { host_buffers(inputs, n_in, outputs, n_out) } {
            Ok(v) => v,
            Err(st) => return st,
        };
        submit_with(p, callback, out_ticket, |cb| {
            // SAFETY: the header's contract for the buffers themselves: valid, and
            // untouched by the caller, until the request is delivered.
            unsafe { p.submit_host(&ins, &outs, user_data, cb) }
        })
    })
}

/// Wait up to `timeout_us` (negative: no limit) until every request accepted so far has
/// been delivered. Returns `NRTQ_OK`, `NRTQ_TIMEOUT`, `NRTQ_ERR_NULL` or
/// `NRTQ_ERR_WOULD_DEADLOCK` (from a callback on a completion thread).
#[no_mangle]
pub extern "C" fn nrtq_pool_drain(pool: *const nrtq_pool, timeout_us: i64) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        match p.drain(timeout_from_us(timeout_us)) {
            Ok(()) => nrtq_status::NRTQ_OK,
            Err(e) => fail(e),
        }
    })
}

/// Reap mode: move up to `cap` completions, oldest first, into `out[0..*count]`; never
/// blocks. Each completion is returned exactly once. Returns `NRTQ_OK`, `NRTQ_ERR_NULL`
/// (`pool`, `count`, or `out` with `cap` > 0) or `NRTQ_ERR_WRONG_MODE` (callback mode).
#[no_mangle]
pub extern "C" fn nrtq_pool_reap(
    pool: *const nrtq_pool,
    out: *mut nrtq_completion,
    cap: usize,
    count: *mut usize,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        let count = try_out!(count, "count");
        let out = try_out_slice!(out, cap, "out");
        reap_into(out, count, |buf| p.reap(buf))
    })
}

/// Reap mode: a descriptor readable while completions wait (a hint: after it fires, call
/// `nrtq_pool_reap` until it returns 0). Owned by the pool (never close it); valid until
/// the pool is destroyed. Returns `NRTQ_OK`, `NRTQ_ERR_NULL` or `NRTQ_ERR_WRONG_MODE`.
#[no_mangle]
pub extern "C" fn nrtq_pool_reap_fd(pool: *const nrtq_pool, fd: *mut c_int) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        let fd = try_out!(fd, "fd");
        reap_fd_into(fd, p.reap_fd(), "pool")
    })
}

/// Drain up to `cap` of the pool's most recent failed completions (oldest first) into
/// `out[0..*count]`; `*dropped` (may be NULL) receives how many were dropped because the
/// log was full. Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_pool_errors(
    pool: *const nrtq_pool,
    out: *mut nrtq_completion,
    cap: usize,
    count: *mut usize,
    dropped: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        let count = try_out!(count, "count");
        let out = try_out_slice!(out, cap, "out");
        let dropped = opt_out!(dropped);
        errors_into(out, count, dropped, |buf| p.errors(buf), to_c)
    })
}

/// Where the pool is in its life: writes an `nrtq_pool_state_t` to `*state`, and, when
/// it has failed, the last core's status and raw libnrt status to `*status` and
/// `*nrt_status` (`NRTQ_OK` and 0 otherwise; both may be NULL). Returns `NRTQ_OK` or
/// `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_pool_state(
    pool: *const nrtq_pool,
    state: *mut u32,
    status: *mut nrtq_status,
    nrt_status: *mut u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        let state = try_out!(state, "state");
        let (s, st, raw) = match p.state() {
            PoolState::Serving => (nrtq_pool_state_t::NRTQ_POOL_SERVING, Status::Ok, 0),
            PoolState::Failed { status, nrt_status } => {
                (nrtq_pool_state_t::NRTQ_POOL_FAILED, status, nrt_status)
            }
            PoolState::Closed => (nrtq_pool_state_t::NRTQ_POOL_CLOSED, Status::Ok, 0),
        };
        state.write(s as u32);
        if let Some(o) = opt_out!(status) {
            o.write(st.into());
        }
        if let Some(o) = opt_out!(nrt_status) {
            o.write(raw);
        }
        nrtq_status::NRTQ_OK
    })
}

/// Fill `*stats` and write back `stats->struct_size` (see `nrtq_pool_counts`). Returns
/// `NRTQ_OK`, `NRTQ_ERR_NULL`, or `NRTQ_ERR_INVALID` when `struct_size` is below 8.
#[no_mangle]
pub extern "C" fn nrtq_pool_stats(
    pool: *const nrtq_pool,
    stats: *mut nrtq_pool_counts,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        check_null!(stats, "stats");
        // SAFETY: non-NULL; the first field is readable by contract (the caller set it).
        let size = unsafe { std::ptr::addr_of!((*stats).struct_size).read_unaligned() };
        if size < 8 {
            return fail_msg(
                Status::InvalidArgument,
                "stats->struct_size is smaller than 8: set it to sizeof(nrtq_pool_counts)",
            );
        }
        let s = p.stats();
        let filled = (size as usize).min(std::mem::size_of::<nrtq_pool_counts>()) / 8 * 8;
        let full = nrtq_pool_counts {
            struct_size: filled as u64,
            submitted: s.submitted,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            rerouted: s.rerouted,
            retried: s.retried,
            backlog: s.backlog,
            outstanding: s.outstanding,
            cores_alive: s.cores_alive,
            cores: s.cores,
        };
        // SAFETY: the caller's struct has at least `size` writable bytes; we copy
        // `filled <= size` bytes from a live local at least that long.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&full as *const nrtq_pool_counts).cast::<u8>(),
                stats.cast::<u8>(),
                filled,
            )
        };
        nrtq_status::NRTQ_OK
    })
}

/// List the pool's cores with their health: up to `cap` entries into `out[0..*count]`,
/// in pool order; `*total` (may be NULL) receives how many cores the pool has, so
/// `(NULL, 0)` asks for the size. Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_pool_cores(
    pool: *const nrtq_pool,
    out: *mut nrtq_pool_core,
    cap: usize,
    count: *mut usize,
    total: *mut usize,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let p = try_box_ref!(pool, "pool");
        let count = try_out!(count, "count");
        let mut out = try_out_slice!(out, cap, "out");
        let total = opt_out!(total);
        let cores = p.cores();
        let n = cores.len().min(cap);
        out.write_prefix(cores[..n].iter().map(|c| {
            let (st, raw) = c.failure.unwrap_or((Status::Ok, 0));
            nrtq_pool_core {
                index: c.index as u32,
                healthy: c.healthy as u32,
                status: st.code(),
                nrt_status: raw,
                routed: c.routed,
                outstanding: c.outstanding,
                completed: c.queue.completed,
                device_ns: c.device_ns,
            }
        }));
        count.write(n);
        if let Some(t) = total {
            t.write(cores.len());
        }
        nrtq_status::NRTQ_OK
    })
}
