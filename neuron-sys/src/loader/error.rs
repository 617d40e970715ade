//! Why no usable libnrt was loaded, listing every place tried.

use std::fmt;

/// One place the loader looked, and what happened there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The place, in words (e.g. "NRTQ_LIBNRT=/x/libnrt.so.1").
    pub place: String,
    /// Why it did not give a library (the loader's own message where there is one).
    pub failure: String,
}

/// What was wrong with a library that did open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Required functions it does not export, all of them.
    MissingSymbols(Vec<&'static str>),
    /// The exported symbols and `nrt_get_version` imply different async generations.
    GenerationMismatch {
        /// What the symbols say.
        symbols: String,
        /// What the version (or the other symbol evidence) says.
        version: String,
    },
}

/// The error of [`crate::Libnrt::load`] and [`crate::Libnrt::load_path`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Nothing opened: every place and why it failed.
    NotFound {
        /// Every place tried, in order.
        tried: Vec<Attempt>,
    },
    /// A library opened at `origin` but cannot be used safely. The search stops there
    /// rather than silently falling back to another libnrt.
    Unusable {
        /// The places tried before it, in order.
        tried: Vec<Attempt>,
        /// Where the library came from.
        origin: String,
        /// What is wrong with it.
        problem: Problem,
    },
}

impl LoadError {
    /// Every place tried before the search ended.
    pub fn tried(&self) -> &[Attempt] {
        match self {
            LoadError::NotFound { tried } | LoadError::Unusable { tried, .. } => tried,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound { tried } => {
                write!(f, "no libnrt could be loaded; tried:")?;
                for attempt in tried {
                    write!(f, "\n  - {}: {}", attempt.place, attempt.failure)?;
                }
                Ok(())
            }
            LoadError::Unusable {
                tried,
                origin,
                problem,
            } => {
                match problem {
                    Problem::MissingSymbols(names) => write!(
                        f,
                        "the libnrt from {origin} lacks {} required function(s): {}",
                        names.len(),
                        names.join(", ")
                    )?,
                    Problem::GenerationMismatch { symbols, version } => write!(
                        f,
                        "cannot tell which async API generation the libnrt from {origin} \
                         implements: {symbols}, but {version}"
                    )?,
                }
                if !tried.is_empty() {
                    write!(f, "; tried before it:")?;
                    for attempt in tried {
                        write!(f, "\n  - {}: {}", attempt.place, attempt.failure)?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {}
