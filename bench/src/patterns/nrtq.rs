//! `nrtq-callback`, `nrtq-callback-ll`, `nrtq-reap` and `nrtq-refill`: the same work
//! through libnrtq's C API, called as a C program would.

use crate::child::Measured;
use crate::emu::Emu;
use crate::plan::Case;
use crate::raw::{Model, Runtime};

/// Runs an nrtq pattern: warm-up, measured run, idle window.
pub fn measure(case: &Case, _rt: &Runtime, _model: &Model, _emu: &Emu) -> Result<Measured, String> {
    Err(format!(
        "{}: libnrtq's C API (src/ffi) is not available in this build yet",
        case.pattern
    ))
}
