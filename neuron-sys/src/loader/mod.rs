//! Loading libnrt at run time with `dlopen`/`dlsym`, and deciding which generation of the
//! explicit async API it implements.
//!
//! **Search order** ([`Libnrt::load`]):
//! 1. the symbols already in the process (`dlopen(NULL)`), which count only if `nrt_init`
//!    resolves there (the application linked libnrt, or loaded it globally);
//! 2. the path in `NRTQ_LIBNRT`, if set;
//! 3. `libnrt.so.1` on the dynamic loader's normal search path;
//! 4. `/opt/aws/neuron/lib/libnrt.so.1`.
//!
//! A place that does not open is recorded and the search goes on. A library that opens
//! but is unusable (required functions missing, or its generation cannot be decided
//! consistently) ends the search with an error: quietly taking another libnrt instead
//! would hide the broken one.
//!
//! **Generation detection**: see the crate docs and README — symbols first (tracker →
//! SDK 2.28; none → Gen B, with 2.30 iff the event functions exist), then a cross-check
//! with `nrt_get_version` (libnrt 2.30 ⇒ Gen A, ≥ 2.31 ⇒ Gen B). A disagreement is a
//! [`LoadError`], never a guess. Generation-specific functions are resolved only into
//! that generation's types ([`crate::gen_a::Fns`] or [`crate::gen_b::Fns`]).
//!
//! **Lifetime**: the library is never `dlclose`d. The function pointers are `Copy` and may
//! outlive the [`Libnrt`], so no moment exists when closing is provably safe; the cost is
//! one mapping for the life of the process.

mod core_table;
mod detect;
mod error;
mod library;

pub use core_table::CoreFns;
pub use error::{Attempt, LoadError, Problem};

use crate::core_fns::{nrta_get_sequence_fn, nrta_is_completed_fn};
use crate::structs::nrt_version_t;
use crate::table::Resolver;
use crate::{gen_a, gen_b, NRT_SUCCESS};
use library::Library;
use std::fmt;
use std::path::Path;

/// The environment variable naming a libnrt to load (step 2 of the search).
pub const LIBNRT_ENV: &str = "NRTQ_LIBNRT";
/// The soname looked up on the normal search path (step 3).
pub const LIBNRT_SONAME: &str = "libnrt.so.1";
/// The vendor's install location (step 4).
pub const LIBNRT_VENDOR_PATH: &str = "/opt/aws/neuron/lib/libnrt.so.1";

/// A published generation of the explicit async API (`nrta_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Generation {
    /// SDK 2.28 (libnrt 2.30.x): error tracker, completion handle ([`crate::gen_a`]).
    Sdk2_28,
    /// SDK 2.29 (libnrt 2.31.x): per-request status, no notification ([`crate::gen_b`]).
    Sdk2_29,
    /// SDK 2.30 and later (libnrt 2.32+): as 2.29 plus eventfd registration ([`crate::gen_b`]).
    Sdk2_30,
}

impl Generation {
    /// All generations, oldest first.
    pub const ALL: [Generation; 3] = [Self::Sdk2_28, Self::Sdk2_29, Self::Sdk2_30];

    /// The SDK release name: "2.28", "2.29" or "2.30".
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sdk2_28 => "2.28",
            Self::Sdk2_29 => "2.29",
            Self::Sdk2_30 => "2.30",
        }
    }

    /// The generation named "2.28", "2.29" or "2.30" (as `NRT_EMU_API` spells them).
    pub fn from_name(name: &str) -> Option<Generation> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The async entry points of the loaded generation.
#[derive(Clone, Copy, Debug)]
pub enum AsyncFns {
    /// SDK 2.28.
    GenA(gen_a::Fns),
    /// SDK 2.29+; `events` is `Some` on 2.30+.
    GenB(gen_b::Fns),
}

impl AsyncFns {
    /// `nrta_is_completed`, which has one prototype in every generation.
    pub fn nrta_is_completed(&self) -> nrta_is_completed_fn {
        match self {
            AsyncFns::GenA(f) => f.nrta_is_completed,
            AsyncFns::GenB(f) => f.nrta_is_completed,
        }
    }

    /// `nrta_get_sequence`; its `xu` argument uses this generation's numbering.
    pub fn nrta_get_sequence(&self) -> nrta_get_sequence_fn {
        match self {
            AsyncFns::GenA(f) => f.nrta_get_sequence,
            AsyncFns::GenB(f) => f.nrta_get_sequence,
        }
    }
}

/// The note for the application when `NRTQ_LIBNRT` is set but the process already has a
/// libnrt (`nrt_init` resolves in its global symbols), which search step 1 takes first so
/// that the application and its users share one runtime; `None` otherwise. Only states
/// the fact: what to do with it (log it, show it) is the caller's choice.
pub fn env_library_ignored() -> Option<String> {
    let value = std::env::var_os(LIBNRT_ENV)?;
    let process = Library::process().ok()?;
    if process.symbol(c"nrt_init").is_null() {
        return None;
    }
    Some(format!(
        "{LIBNRT_ENV}={} was not used: the process already has a libnrt loaded (nrt_init \
         resolves in its global symbols), and that one is used so that the application \
         and nrtq share one runtime; unset {LIBNRT_ENV}, or load the library you want \
         instead of linking libnrt",
        value.to_string_lossy()
    ))
}

/// A loaded libnrt: its function tables, where it came from and which generation it is.
#[derive(Debug)]
pub struct Libnrt {
    /// The generation-independent functions.
    pub core: CoreFns,
    /// The explicit async API, `None` when the library has none.
    pub asyncs: Option<AsyncFns>,
    /// What `nrt_get_version` reported at load time, if it succeeded.
    pub version: Option<nrt_version_t>,
    generation: Option<Generation>,
    origin: String,
    detection: String,
    notes: Vec<String>,
    // Kept so the handle visibly belongs to the table; never closed (see the module docs).
    _library: Library,
}

impl Libnrt {
    /// Finds and loads libnrt in the documented order (module docs).
    pub fn load() -> Result<Libnrt, LoadError> {
        let mut tried = Vec::new();

        let place = "symbols already in the process".to_string();
        match Library::process() {
            Ok(process) if !process.symbol(c"nrt_init").is_null() => {
                let mut lib = Self::from_library(process, place, tried)?;
                lib.notes.extend(env_library_ignored());
                return Ok(lib);
            }
            Ok(_) => tried.push(Attempt {
                place,
                failure: "nrt_init is not defined there".into(),
            }),
            Err(e) => tried.push(Attempt { place, failure: e }),
        }

        match std::env::var_os(LIBNRT_ENV) {
            None => tried.push(Attempt {
                place: LIBNRT_ENV.to_string(),
                failure: "not set".into(),
            }),
            Some(value) => {
                let place = format!("{LIBNRT_ENV}={}", value.to_string_lossy());
                match value.to_str() {
                    None => tried.push(Attempt {
                        place,
                        failure: "the path is not valid UTF-8".into(),
                    }),
                    Some(path) => match Library::open(path) {
                        Ok(lib) => return Self::from_library(lib, place, tried),
                        Err(e) => tried.push(Attempt { place, failure: e }),
                    },
                }
            }
        }

        for (name, place) in [
            (
                LIBNRT_SONAME,
                format!("{LIBNRT_SONAME} on the library search path"),
            ),
            (LIBNRT_VENDOR_PATH, LIBNRT_VENDOR_PATH.to_string()),
        ] {
            match Library::open(name) {
                Ok(lib) => return Self::from_library(lib, place, tried),
                Err(e) => tried.push(Attempt { place, failure: e }),
            }
        }
        Err(LoadError::NotFound { tried })
    }

    /// Loads the library at `path` only.
    pub fn load_path(path: &Path) -> Result<Libnrt, LoadError> {
        let place = path.display().to_string();
        let Some(name) = path.to_str() else {
            return Err(LoadError::NotFound {
                tried: vec![Attempt {
                    place,
                    failure: "the path is not valid UTF-8".into(),
                }],
            });
        };
        match Library::open(name) {
            Ok(lib) => Self::from_library(lib, place, Vec::new()),
            Err(failure) => Err(LoadError::NotFound {
                tried: vec![Attempt { place, failure }],
            }),
        }
    }

    /// Resolves every table of an opened library and decides its generation.
    fn from_library(
        lib: Library,
        origin: String,
        tried: Vec<Attempt>,
    ) -> Result<Libnrt, LoadError> {
        let lookup = |name: &std::ffi::CStr| lib.symbol(name);
        let mut resolver = Resolver::new(&lookup);
        let core = CoreFns::resolve(&mut resolver);

        let present = |name: &str| !resolver.address(name).is_null();
        let execute_schedule = present("nrta_execute_schedule");
        let tracker = present("nrta_error_tracker_create");
        let events = present("nrta_event_register_seq_id_completion");
        let version_node_3 = !lib
            .versioned_symbol(c"nrta_execute_schedule", c"NRT_3.0.0")
            .is_null();

        // Every required name of the core and of the generation the symbols point to is
        // collected before failing, so one error lists them all.
        let asyncs = if !execute_schedule {
            None
        } else if tracker {
            gen_a::Fns::resolve(&mut resolver).map(AsyncFns::GenA)
        } else {
            let event_fns = if events {
                gen_b::EventFns::resolve(&mut resolver)
            } else {
                None
            };
            gen_b::Fns::resolve(&mut resolver, event_fns).map(AsyncFns::GenB)
        };
        let (Some(core), true) = (core, resolver.missing.is_empty()) else {
            return Err(LoadError::Unusable {
                tried,
                origin,
                problem: Problem::MissingSymbols(resolver.missing),
            });
        };

        let mut version = nrt_version_t::default();
        // SAFETY: nrt_get_version is documented as callable before nrt_init; `version` is a
        // live, writable nrt_version_t and its exact size is passed.
        let status =
            unsafe { (core.nrt_get_version)(&mut version, std::mem::size_of::<nrt_version_t>()) };
        let version = (status == NRT_SUCCESS).then_some(version);

        let evidence = detect::Evidence {
            execute_schedule,
            tracker,
            version_node_3,
            events,
            version: version.map(|v| (v.rt_major, v.rt_minor)).ok_or(status),
        };
        match detect::detect(&evidence) {
            Ok((generation, detection)) => Ok(Libnrt {
                core,
                asyncs,
                version,
                generation,
                origin,
                detection,
                notes: Vec::new(),
                _library: lib,
            }),
            Err(d) => Err(LoadError::Unusable {
                tried,
                origin,
                problem: Problem::GenerationMismatch {
                    symbols: d.symbols,
                    version: d.version,
                },
            }),
        }
    }

    /// The async generation, or `None` when the library has no explicit async API.
    pub fn generation(&self) -> Option<Generation> {
        self.generation
    }

    /// Where the library came from (the search step, or the path given).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Facts about the search the application should hear of (e.g. `NRTQ_LIBNRT` set but
    /// not used, see [`env_library_ignored`]); empty when there are none.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// How the generation was decided, in words.
    pub fn detection(&self) -> &str {
        &self.detection
    }

    /// `gen_a` entry points, if this is an SDK 2.28 library.
    pub fn gen_a(&self) -> Option<&gen_a::Fns> {
        match &self.asyncs {
            Some(AsyncFns::GenA(f)) => Some(f),
            _ => None,
        }
    }

    /// `gen_b` entry points, if this is an SDK 2.29+ library.
    pub fn gen_b(&self) -> Option<&gen_b::Fns> {
        match &self.asyncs {
            Some(AsyncFns::GenB(f)) => Some(f),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Libnrt>();
        shareable::<AsyncFns>();
        shareable::<LoadError>();
    }
}
