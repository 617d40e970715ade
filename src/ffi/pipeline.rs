//! Pipelines: a queue whose requests bring host buffers. Create one with
//! `nrtq_pipeline_create`, submit with `nrtq_queue_submit_host`; waiting, draining,
//! reaping, stats and destroy are the queue's own functions.
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "C entry points only (see the ffi module docs)"
)]
use std::ffi::{c_char, c_void};

use super::completion::{nrtq_completion, nrtq_completion_fn, to_c, CTarget};
use super::handle::{
    arc_into_handle, box_free, box_into_handle, nrtq_queue, nrtq_queue_config, nrtq_runtime,
    try_box_mut, try_box_ref, try_queue, Boxed, Castable,
};
use super::out::{opt_out, opt_str, try_out, try_out_slice, Out};
use super::pipeline_buffers::host_buffers;
use super::reap::errors_into;
use super::status::{fail, fail_msg, nrtq_status};
use super::{ffi_boundary, timeout_from_us};
use crate::backend::Handle;
use crate::queue::{
    Delivery, HostInput, HostOutput, Link, PipelineConfig, QueueConfig, Stage, TensorKey,
};
use crate::status::Status;

/// Settings of a pipeline beside its queue settings, built with setters: device slots
/// and the bindings of chained models.
///
/// Created by `nrtq_pipeline_config_new`, released by `nrtq_pipeline_config_free`.
/// `nrtq_pipeline_create` copies it. Not safe for concurrent mutation.
pub struct nrtq_pipeline_config {
    _private: [u8; 0],
}

impl Castable for nrtq_pipeline_config {
    type Rust = PipelineConfig;
    type Ownership = Boxed;
}

/// A stage of a pipeline: where a request was when it failed.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum nrtq_stage {
    /// No stage: success, a plain queue, or a request that never left the backlog.
    NRTQ_STAGE_NONE = 0,
    /// The input writes (host → device).
    NRTQ_STAGE_WRITE = 1,
    /// The model execution(s).
    NRTQ_STAGE_EXECUTE = 2,
    /// The output reads (device → host).
    NRTQ_STAGE_READ = 3,
}

fn stage_to_c(s: Option<Stage>) -> nrtq_stage {
    match s {
        None => nrtq_stage::NRTQ_STAGE_NONE,
        Some(Stage::Write) => nrtq_stage::NRTQ_STAGE_WRITE,
        Some(Stage::Execute) => nrtq_stage::NRTQ_STAGE_EXECUTE,
        Some(Stage::Read) => nrtq_stage::NRTQ_STAGE_READ,
    }
}

/// One host buffer of a pipeline request: `size` bytes at `data` for the model tensor
/// named `name`, or, when `name` is NULL, the tensor at position `index` of the model's
/// inputs (or outputs). `size` must equal the tensor's size.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrtq_host_buffer {
    /// The tensor's name (NUL-terminated), or NULL to use `index`.
    pub name: *const c_char,
    /// The tensor's position when `name` is NULL.
    pub index: u32,
    /// The host memory: read by the input writes, written by the output reads.
    pub data: *mut c_void,
    /// Its size in bytes.
    pub size: usize,
}

/// A failed request of a pipeline with the stage it failed at (see
/// `nrtq_queue_stage_errors`). Fixed layout; it will not grow.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrtq_stage_error {
    /// The request's completion, as delivered.
    pub completion: nrtq_completion,
    /// Where it was: the stage whose unit reported the error (`nrt_status` is that
    /// unit's raw status), or where it stood when the queue failed.
    pub stage: nrtq_stage,
    /// Zero.
    pub reserved: u32,
}

/// One stage's figures (see `nrtq_queue_stage_stats`). Fixed layout; it will not grow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nrtq_stage_stats {
    /// The stage, an `nrtq_stage` value.
    pub stage: u32,
    /// Zero.
    pub reserved: u32,
    /// Requests on its unit now.
    pub in_flight: u64,
    /// Requests whose previous step is done, waiting for room on its unit.
    pub waiting: u64,
    /// Steps it has completed.
    pub retired: u64,
    /// Time its unit held at least one of the queue's requests, as nrtq saw it, ns.
    pub busy_ns: u64,
    /// Time from entering the stage to leaving it, median, ns.
    pub latency_p50_ns: u64,
    /// Time from entering the stage to leaving it, 99th percentile, ns.
    pub latency_p99_ns: u64,
    /// The time per step nrtq has learned for the unit, ns (0 until learned).
    pub predicted_ns: u64,
}

/// Create a pipeline config with the defaults into `*out` (automatic slots, no links).
/// Free it with `nrtq_pipeline_config_free`. Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_pipeline_config_new(out: *mut *mut nrtq_pipeline_config) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let out = try_out!(out, "out");
        out.write(box_into_handle(PipelineConfig::default()));
        nrtq_status::NRTQ_OK
    })
}

/// Free a pipeline config. NULL is accepted and ignored.
#[no_mangle]
pub extern "C" fn nrtq_pipeline_config_free(cfg: *mut nrtq_pipeline_config) {
    ffi_boundary!((), {
        // SAFETY: the header's contract: NULL or a live config from
        // nrtq_pipeline_config_new that the caller no longer uses.
        drop(unsafe { box_free(cfg) });
    })
}

/// Device slots: each request holds one (an input and output tensor set per model, on the
/// models' core) from leaving the backlog until it completes. `slots` = 0 (default) picks
/// three stages times the queue's depth ceiling, capped at `max_slots` (0: 64). More slots
/// keep more requests between stages; the device memory is slots × the models' tensors.
/// Returns `NRTQ_OK`, `NRTQ_ERR_NULL`, or `NRTQ_ERR_INVALID` above 4096.
#[no_mangle]
pub extern "C" fn nrtq_pipeline_config_set_slots(
    cfg: *mut nrtq_pipeline_config,
    slots: u32,
    max_slots: u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        if slots > 4096 || max_slots > 4096 {
            return fail_msg(
                Status::InvalidArgument,
                "slots and max_slots must be at most 4096 (0: automatic / default cap)",
            );
        }
        cfg.slots = slots as usize;
        cfg.max_slots = max_slots as usize;
        nrtq_status::NRTQ_OK
    })
}

/// Model chains: bind input `input` of model `model` (1 or more, its position in the
/// array given to `nrtq_pipeline_create`) to output `output` of model `model - 1`, by
/// name. The tensor stays on the device: model `model`'s input set holds that output
/// tensor itself. A chained input without a link is bound to the previous model's output
/// of the same name. Checked by `nrtq_pipeline_create`. Returns `NRTQ_OK`,
/// `NRTQ_ERR_NULL`, or `NRTQ_ERR_INVALID` (model 0, or a name that is not UTF-8).
#[no_mangle]
pub extern "C" fn nrtq_pipeline_config_link(
    cfg: *mut nrtq_pipeline_config,
    model: u32,
    input: *const c_char,
    output: *const c_char,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let cfg = try_box_mut!(cfg, "cfg");
        if model == 0 {
            return fail_msg(
                Status::InvalidArgument,
                "model 0 takes its inputs from the host; links bind models 1 and later",
            );
        }
        // SAFETY: the header's contract: NULL or a NUL-terminated string.
        let (Ok(input), Ok(output)) = (unsafe { opt_str(input) }, unsafe { opt_str(output) })
        else {
            return fail_msg(Status::InvalidArgument, "a tensor name is not valid UTF-8");
        };
        let (Some(input), Some(output)) = (input, output) else {
            return super::status::null_argument("input/output");
        };
        cfg.links.push(Link {
            model: model as usize,
            input: TensorKey::Name(input.into()),
            output: TensorKey::Name(output.into()),
        });
        nrtq_status::NRTQ_OK
    })
}

/// Create a pipeline over `models[0..n_models]` (`nrt_model_t *`, loaded on one core and
/// kept loaded until the queue is destroyed): each request writes its input buffers to the
/// first model's inputs, runs the models in order (each one's inputs bound to the
/// previous one's outputs on the device), and reads the last model's outputs into its
/// output buffers. nrtq allocates the device memory (see
/// `nrtq_pipeline_config_set_slots`) and frees it at destroy.
///
/// The result is a queue: submit with `nrtq_queue_submit_host`; wait, drain, reap,
/// errors, stats, failure, cancel and destroy are the queue's functions, with the same
/// promises (submit never blocks, every request completes exactly once, in ticket order).
/// `nrtq_queue_submit` (tensor sets) is refused on a pipeline.
///
/// - `qcfg`: queue settings (copied), or NULL for the defaults;
/// - `pcfg`: pipeline settings (copied), or NULL for the defaults.
///
/// Returns `NRTQ_OK`, `NRTQ_ERR_NULL` (rt, models, a model, out), `NRTQ_ERR_INVALID` (no
/// model, a chained input bound to nothing or of another size, a bad link, reap delivery
/// with a completion callback), `NRTQ_ERR_RESOURCE` (device memory), `NRTQ_ERR_RUNTIME`.
#[no_mangle]
pub extern "C" fn nrtq_pipeline_create(
    rt: *const nrtq_runtime,
    models: *const *mut c_void,
    n_models: usize,
    qcfg: *const nrtq_queue_config,
    pcfg: *const nrtq_pipeline_config,
    out: *mut *mut nrtq_queue,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let runtime = try_box_ref!(rt, "rt");
        let out = try_out!(out, "out");
        if models.is_null() {
            return super::status::null_argument("models");
        }
        if n_models == 0 || n_models > 64 {
            return fail_msg(
                Status::InvalidArgument,
                "n_models must be 1..=64: a pipeline runs one model or a chain",
            );
        }
        // SAFETY: the header's contract: `models` points to `n_models` model pointers.
        let list = unsafe { std::slice::from_raw_parts(models, n_models) };
        let handles: Vec<Handle> = list.iter().map(|&m| Handle(m as usize)).collect();
        let qcfg = if qcfg.is_null() {
            QueueConfig::default()
        } else {
            try_box_ref!(qcfg, "qcfg").clone()
        };
        if qcfg.delivery == Delivery::Reap && qcfg.on_complete.is_some() {
            return fail_msg(
                Status::InvalidArgument,
                "a completion callback is never called in reap mode: remove it or use \
                 callback delivery",
            );
        }
        let pcfg = if pcfg.is_null() {
            PipelineConfig::default()
        } else {
            try_box_ref!(pcfg, "pcfg").clone()
        };
        match runtime.create_pipeline(&handles, qcfg, &pcfg) {
            Ok(q) => {
                out.write(arc_into_handle(q.0));
                nrtq_status::NRTQ_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Submit one pipeline request: `inputs[0..n_in]` are written to the first model's
/// inputs, the model(s) run, and the last model's outputs are read into
/// `outputs[0..n_out]`. Every model input and output must be given exactly once (by name
/// or index) with exactly its size: otherwise `NRTQ_ERR_INVALID`, nothing is accepted, and
/// `nrtq_last_error()` names the tensor with the expected and given sizes.
///
/// Never blocks: the request goes to the input-write unit at once when a device slot and
/// room are free, else into the backlog (full: `NRTQ_BACKLOG_FULL`). `callback` (callback
/// delivery only; NULL: the queue-wide hook, if any) runs once the outputs are in host
/// memory, or with the request's error: a failed request's stage is in
/// `nrtq_queue_stage_errors`. `*ticket` (optional) receives the ticket.
///
/// **Buffer reuse**: the host buffers belong to the request until it completes (its
/// callback runs, or it is reaped). Until then inputs must not change and outputs must not
/// be read or written. At completion all of them may be reused: the writes are done and
/// the outputs are in place (on success), including after an error of the request's own
/// (`NRTQ_ERR_EXEC`, `NRTQ_ERR_RUNTIME`) and after `NRTQ_ERR_CANCELLED` with `nrt_status`
/// 0. One exception, as for tensor sets (see `nrtq_completion`): a request the pipeline
/// gave up on while it was on a unit may still be copied to or from by that unit; reuse
/// or free its buffers only after `nrtq_runtime_close` returns. Those are the requests
/// completed with `NRTQ_ERR_DEADLINE`, `NRTQ_ERR_PANIC`, `NRTQ_ERR_CANCELLED` with
/// `nrt_status` `NRT_TIMEOUT` (5), or `NRTQ_ERR_QUEUE_FAILED` at the stage whose unit
/// died (`nrtq_queue_stage_errors` gives the stage). When a unit dies, the other units
/// finish what they hold first, so requests on them complete safely (with
/// `NRTQ_ERR_QUEUE_FAILED` at their own stage if a step remained, or normally).
///
/// Returns `NRTQ_OK`, `NRTQ_BACKLOG_FULL`, `NRTQ_ERR_QUEUE_FAILED`, `NRTQ_ERR_CLOSED`,
/// `NRTQ_ERR_INVALID` (buffers that do not fit; a plain queue; a callback in reap mode),
/// `NRTQ_ERR_NULL`, `NRTQ_ERR_RUNTIME` (libnrt refused the first write at once). Safe from
/// any thread, including from callbacks.
#[no_mangle]
pub extern "C" fn nrtq_queue_submit_host(
    q: *mut nrtq_queue,
    inputs: *const nrtq_host_buffer,
    n_in: usize,
    outputs: *const nrtq_host_buffer,
    n_out: usize,
    callback: nrtq_completion_fn,
    user_data: u64,
    ticket: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        // SAFETY: the header's contract for the arrays: `n` buffers each, names NULL or
        // NUL-terminated, alive for the call.
        let (ins, outs) = match unsafe { host_buffers(inputs, n_in, outputs, n_out) } {
            Ok(v) => v,
            Err(st) => return st,
        };
        submit_host(
            &queue,
            ins,
            outs,
            callback,
            user_data,
            None,
            opt_out!(ticket),
        )
    })
}

/// Like `nrtq_queue_submit_host`, but when the backlog is full waits up to `timeout_us`
/// (negative: no limit) for room before returning `NRTQ_BACKLOG_FULL`. From a callback on
/// the completion thread it never waits.
#[no_mangle]
pub extern "C" fn nrtq_queue_submit_host_timeout(
    q: *mut nrtq_queue,
    inputs: *const nrtq_host_buffer,
    n_in: usize,
    outputs: *const nrtq_host_buffer,
    n_out: usize,
    callback: nrtq_completion_fn,
    user_data: u64,
    timeout_us: i64,
    ticket: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        // SAFETY: as in nrtq_queue_submit_host.
        let (ins, outs) = match unsafe { host_buffers(inputs, n_in, outputs, n_out) } {
            Ok(v) => v,
            Err(st) => return st,
        };
        submit_host(
            &queue,
            ins,
            outs,
            callback,
            user_data,
            Some(timeout_us),
            opt_out!(ticket),
        )
    })
}

/// What both host submits do once the queue and the arrays are checked.
fn submit_host(
    queue: &crate::queue::Queue,
    ins: Vec<HostInput>,
    outs: Vec<HostOutput>,
    callback: nrtq_completion_fn,
    user_data: u64,
    timeout_us: Option<i64>,
    ticket: Option<Out<'_, u64>>,
) -> nrtq_status {
    if callback.is_some() && queue.0.config().delivery == Delivery::Reap {
        return fail_msg(
            Status::InvalidArgument,
            "a completion callback is never called in reap mode: pass NULL, or create the \
             pipeline with callback delivery",
        );
    }
    let callback = callback.map(|f| CTarget::Plain(f).into_callback());
    // SAFETY: the header's contract: each buffer holds `size` bytes and belongs to the
    // request until it completes.
    let result = unsafe {
        match timeout_us {
            None => queue.submit_host(&ins, &outs, user_data, callback),
            Some(t) => {
                let t =
                    timeout_from_us(t).unwrap_or(std::time::Duration::from_secs(u32::MAX as u64));
                queue.submit_host_timeout(&ins, &outs, user_data, callback, t)
            }
        }
    };
    match result {
        Ok(t) => {
            if let Some(out) = ticket {
                out.write(t);
            }
            nrtq_status::NRTQ_OK
        }
        Err(e) => fail(e),
    }
}

/// Drain up to `cap` of the most recent failed requests (oldest first) into `out`, each
/// with the stage it failed at, and their number into `*count`. This is the same log as
/// `nrtq_queue_errors` (each error is returned once, by one of the two), and independent
/// of delivery. `*dropped` (optional) receives how many errors the log had to drop.
/// Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_queue_stage_errors(
    q: *mut nrtq_queue,
    out: *mut nrtq_stage_error,
    cap: usize,
    count: *mut usize,
    dropped: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        let count = try_out!(count, "count");
        let out = try_out_slice!(out, cap, "out");
        let dropped = opt_out!(dropped);
        errors_into(
            out,
            count,
            dropped,
            |buf| queue.errors(buf),
            |c| nrtq_stage_error {
                completion: to_c(c),
                stage: stage_to_c(c.stage),
                reserved: 0,
            },
        )
    })
}

/// Per-stage figures, in plan order (a pipeline: write, execute, read; a plain queue: one
/// execute stage), into `out[0..cap]`; `*count` receives the number of stages (which may
/// exceed `cap`: only `cap` are written). Returns `NRTQ_OK` or `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_queue_stage_stats(
    q: *const nrtq_queue,
    out: *mut nrtq_stage_stats,
    cap: usize,
    count: *mut usize,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        let count = try_out!(count, "count");
        let mut out = try_out_slice!(out, cap, "out");
        let stages = queue.stage_stats();
        out.write_prefix(stages.iter().take(cap).map(|s| nrtq_stage_stats {
            stage: stage_to_c(Some(s.stage)) as u32,
            reserved: 0,
            in_flight: s.in_flight,
            waiting: s.waiting,
            retired: s.retired,
            busy_ns: s.busy_ns,
            latency_p50_ns: s.latency_p50_ns,
            latency_p99_ns: s.latency_p99_ns,
            predicted_ns: s.predicted_ns,
        }));
        count.write(stages.len());
        nrtq_status::NRTQ_OK
    })
}
