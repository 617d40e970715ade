//! Handles: which Rust value stands behind each opaque C type, how it is owned, and the
//! one way to turn a pointer from C into it (a NULL check and a cast in one step).
//!
//! In the spirit of rustls-ffi's `Castable`, every handle type names its Rust type and one
//! ownership kind, so the compiler refuses, say, to free an `Arc`-backed handle as a `Box`:
//!
//! | C type              | Rust value      | ownership | released by              |
//! |---------------------|-----------------|-----------|--------------------------|
//! | `nrtq_runtime`      | [`Runtime`]     | [`Boxed`] | `nrtq_runtime_close`     |
//! | `nrtq_queue_config` | [`QueueConfig`] | [`Boxed`] | `nrtq_queue_config_free` |
//! | `nrtq_queue`        | [`Shared`]      | [`Counted`] (`Arc`) | `nrtq_queue_destroy` |
//!
//! A queue is an `Arc` because the completion thread and the callbacks hold it too; the
//! pointer handed to C is `Arc::into_raw`, and the refill and fatal callbacks receive the
//! same pointer. Entry points use the `try_*!` macros below, which answer NULL with
//! `NRTQ_ERR_NULL` and a message naming the argument.
use std::sync::Arc;

use crate::queue::{Queue, QueueConfig, Shared};
use crate::runtime::Runtime;

// The opaque C handle types, declared here with their one ownership kind each (see
// `Castable` below), so that every entry-point file depends on this module and none the
// other way round.

/// A runtime: one loaded libnrt and the completion thread serving its queues.
///
/// Created by `nrtq_runtime_open`, released by `nrtq_runtime_close`, which consumes the
/// handle when it returns `NRTQ_OK` (it refuses while queues are open, leaving the handle
/// valid). The getters may be called from any thread concurrently; close must not race
/// with any other use of the handle. Only one runtime per process may be opened with
/// `init` = true at a time (see `nrtq_runtime_open`). Methods: `nrtq_runtime_open`,
/// `nrtq_runtime_close`, `nrtq_runtime_generation`, `nrtq_runtime_version`,
/// `nrtq_queue_create`.
pub struct nrtq_runtime {
    _private: [u8; 0],
}

/// An auto-refilling queue for one model on its logical core's COMPUTE execution unit.
///
/// Created by `nrtq_queue_create`, released by `nrtq_queue_destroy`, which consumes the
/// handle unless it refuses with `NRTQ_ERR_NULL` or `NRTQ_ERR_WOULD_DEADLOCK`. Every
/// function taking a queue may be called from any number of threads at once (submit is
/// designed for it), except that nothing may use the handle concurrently with or after the
/// destroy that consumes it.
/// Methods: `nrtq_queue_submit`, `nrtq_queue_submit_timeout`, `nrtq_queue_cancel`, `nrtq_queue_wait`,
/// `nrtq_queue_drain`, `nrtq_queue_reap`, `nrtq_queue_reap_fd`, `nrtq_queue_errors`,
/// `nrtq_queue_stats`, `nrtq_queue_failure`, `nrtq_queue_destroy`.
pub struct nrtq_queue {
    _private: [u8; 0],
}

/// Settings for `nrtq_queue_create`, built with setters.
///
/// Created by `nrtq_queue_config_new` with the defaults documented on each setter; released
/// by `nrtq_queue_config_free`. `nrtq_queue_create` copies it, so one config can create
/// several queues and be freed right after. Not safe for concurrent mutation.
pub struct nrtq_queue_config {
    _private: [u8; 0],
}

/// Ownership kind: the handle is a `Box::into_raw`, with exactly one owner.
pub(crate) enum Boxed {}
/// Ownership kind: the handle is an `Arc::into_raw` holding one strong count of its own.
pub(crate) enum Counted {}

/// Ties an opaque C handle type to the Rust value behind it and to its ownership kind.
pub(crate) trait Castable {
    /// The Rust value the handle points at.
    type Rust;
    /// [`Boxed`] or [`Counted`].
    type Ownership;
}

impl Castable for nrtq_runtime {
    type Rust = Runtime;
    type Ownership = Boxed;
}

impl Castable for nrtq_queue_config {
    type Rust = QueueConfig;
    type Ownership = Boxed;
}

impl Castable for nrtq_queue {
    type Rust = Shared;
    type Ownership = Counted;
}

/// A new boxed handle owning `value`.
pub(crate) fn box_into_handle<C: Castable<Ownership = Boxed>>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// The value behind a boxed handle, or `None` for NULL.
///
/// # Safety
/// `handle` is NULL or a live handle of type `C` from [`box_into_handle`], not yet freed,
/// and not mutated by anyone else during `'a`.
pub(crate) unsafe fn box_ref<'a, C: Castable<Ownership = Boxed>>(
    handle: *const C,
) -> Option<&'a C::Rust> {
    // SAFETY: per this function's contract, NULL or a live Box<C::Rust>.
    unsafe { handle.cast::<C::Rust>().as_ref() }
}

/// The value behind a boxed handle, mutably, or `None` for NULL.
///
/// # Safety
/// As for [`box_ref`], and no one else uses the handle at all during `'a`.
pub(crate) unsafe fn box_mut<'a, C: Castable<Ownership = Boxed>>(
    handle: *mut C,
) -> Option<&'a mut C::Rust> {
    // SAFETY: per this function's contract, NULL or a live Box<C::Rust> used only here.
    unsafe { handle.cast::<C::Rust>().as_mut() }
}

/// Take back ownership of a boxed handle's value (`None` for NULL); the handle dies.
///
/// # Safety
/// `handle` is NULL or a live handle from [`box_into_handle`] that nobody uses afterwards.
pub(crate) unsafe fn box_free<C: Castable<Ownership = Boxed>>(
    handle: *mut C,
) -> Option<Box<C::Rust>> {
    if handle.is_null() {
        return None;
    }
    // SAFETY: per this function's contract, a live Box<C::Rust> whose ownership returns here.
    Some(unsafe { Box::from_raw(handle.cast::<C::Rust>()) })
}

/// A new counted handle holding one strong count of `value`.
pub(crate) fn arc_into_handle<C: Castable<Ownership = Counted>>(value: Arc<C::Rust>) -> *mut C {
    Arc::into_raw(value).cast_mut().cast()
}

/// A new strong reference to the value behind a counted handle, or `None` for NULL.
///
/// # Safety
/// `handle` is NULL or a live handle of type `C` from [`arc_into_handle`] whose own count
/// has not been released.
pub(crate) unsafe fn arc_clone<C: Castable<Ownership = Counted>>(
    handle: *const C,
) -> Option<Arc<C::Rust>> {
    if handle.is_null() {
        return None;
    }
    let p = handle.cast::<C::Rust>();
    // SAFETY: per this function's contract the handle's own count is still held, so the
    // count is ≥ 1; incrementing it before from_raw yields an independent reference.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// Release the handle's own strong count; the handle dies (the value lives on while other
/// references remain).
///
/// # Safety
/// `handle` is a live, non-NULL handle from [`arc_into_handle`], released exactly once.
pub(crate) unsafe fn arc_release<C: Castable<Ownership = Counted>>(handle: *mut C) {
    // SAFETY: per this function's contract, the count taken by arc_into_handle, given back once.
    drop(unsafe { Arc::from_raw(handle.cast::<C::Rust>()) });
}

/// The queue behind a handle as an owned [`Queue`] (one reference-count increment).
///
/// # Safety
/// As for [`arc_clone`].
pub(crate) unsafe fn queue_from(handle: *const nrtq_queue) -> Option<Queue> {
    // SAFETY: forwarded contract.
    unsafe { arc_clone(handle) }.map(Queue)
}

/// The C handle of a queue (the pointer `nrtq_queue_create` returned for it), for the
/// callbacks that receive their queue.
pub(crate) fn queue_handle(q: &Queue) -> *mut nrtq_queue {
    q.as_ptr().cast_mut().cast()
}

/// `let rt = try_box_ref!(rt, "rt");`: the value behind a boxed handle, or return
/// `NRTQ_ERR_NULL` naming the argument.
macro_rules! try_box_ref {
    ($handle:expr, $name:literal) => {
        // SAFETY: the header's contract for every handle argument: NULL or a live handle
        // from its constructor, not yet released, and not mutated concurrently.
        match unsafe { $crate::ffi::handle::box_ref($handle) } {
            Some(value) => value,
            None => return $crate::ffi::status::null_argument($name),
        }
    };
}
pub(crate) use try_box_ref;

/// `let cfg = try_box_mut!(cfg, "cfg");`: as [`try_box_ref!`], mutably.
macro_rules! try_box_mut {
    ($handle:expr, $name:literal) => {
        // SAFETY: the header's contract for a config: NULL or a live handle from
        // nrtq_queue_config_new, not yet freed, and not used concurrently while mutated.
        match unsafe { $crate::ffi::handle::box_mut($handle) } {
            Some(value) => value,
            None => return $crate::ffi::status::null_argument($name),
        }
    };
}
pub(crate) use try_box_mut;

/// `let queue = try_queue!(q, "q");`: an owned [`Queue`] behind a queue handle, or return
/// `NRTQ_ERR_NULL` naming the argument.
macro_rules! try_queue {
    ($handle:expr, $name:literal) => {
        // SAFETY: the header's contract for a queue argument: NULL or a live handle from
        // nrtq_queue_create that nrtq_queue_destroy has not consumed.
        match unsafe { $crate::ffi::handle::queue_from($handle) } {
            Some(queue) => queue,
            None => return $crate::ffi::status::null_argument($name),
        }
    };
}
pub(crate) use try_queue;
