//! nrtq's own status codes: the one result type of the core and (as integers) of the C API.
//!
//! Numbering (fixed ABI; a retired number is never reused):
//! - `0` success;
//! - `1..=99` "not now": nothing is wrong, retry later (backlog full, timed out);
//! - `100..=199` the call itself failed (bad argument, wrong state, libnrt refused);
//! - `200..=299` a request's final status, delivered with its completion.
//!
//! The raw libnrt `NRT_STATUS` behind an error always travels beside this code in its own
//! field (a completion's `nrt_status`), never folded into it.

/// The raw `NRT_STATUS` of libnrt (taken as an integer, so unknown values are harmless).
pub type NrtStatus = u32;

/// Generates, from the rows of `status_codes.rs`, the Rust [`Status`], the C-ABI
/// [`nrtq_status`], the conversions between them, the codes, the names, the descriptions
/// and the list of all statuses. build.rs reads the same rows to write the C enum.
macro_rules! status_table {
    (
        $(#[doc = $type_doc:literal])*
        enum {
            $(
                $(#[doc = $doc:literal])*
                $rust:ident = $c:ident = $code:literal => $desc:literal,
            )*
        }
    ) => {
        /// Every outcome nrtq reports (the rows of `src/status_codes.rs`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Status {
            $( $(#[doc = $doc])* $rust, )*
        }

        $(#[doc = $type_doc])*
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types, reason = "the C name, as the header spells it")]
        pub enum nrtq_status {
            $( $(#[doc = $doc])* $c = $code, )*
        }

        /// How many statuses there are.
        const STATUS_COUNT: usize = [$(stringify!($rust)),*].len();

        impl Status {
            /// The C value of this status (see the module doc for the numbering).
            pub const fn code(self) -> u32 {
                match self { $( Status::$rust => $code, )* }
            }

            /// Every status, in code order, for tables and tests.
            pub const fn all() -> [Status; STATUS_COUNT] {
                [$( Status::$rust, )*]
            }

            /// The C name and a one-line description, as static strings (no thread state).
            pub const fn describe(self) -> (&'static str, &'static str) {
                match self { $( Status::$rust => (stringify!($c), $desc), )* }
            }
        }

        impl From<Status> for nrtq_status {
            fn from(s: Status) -> nrtq_status {
                match s { $( Status::$rust => nrtq_status::$c, )* }
            }
        }

        impl From<nrtq_status> for Status {
            fn from(s: nrtq_status) -> Status {
                match s { $( nrtq_status::$c => Status::$rust, )* }
            }
        }
    };
}

include!("status_codes.rs");

impl Status {
    /// The status with C value `code`, if there is one (codes come from C as integers).
    pub fn from_code(code: u32) -> Option<Status> {
        Status::all().into_iter().find(|s| s.code() == code)
    }

    /// "Not now" statuses: nothing failed, the caller may retry.
    pub const fn is_retryable(self) -> bool {
        matches!(self, Status::BacklogFull | Status::Timeout)
    }
}

/// A raw libnrt status as people read it: its C name and number, "NRT_INVALID (2)", or
/// "unknown NRT_STATUS (4242)" for a number the ABI does not define.
pub fn nrt_status_text(nrt_status: NrtStatus) -> String {
    match neuron_sys::status_name(nrt_status) {
        Some(name) => format!("{name} ({nrt_status})"),
        None => format!("unknown NRT_STATUS ({nrt_status})"),
    }
}

/// A status with its human-readable detail: the error type of the core API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What happened, as a code.
    pub status: Status,
    /// The raw libnrt status behind it, or 0.
    pub nrt_status: NrtStatus,
    /// Details for people (goes to the thread-local last-error message in C).
    pub message: String,
}

impl Error {
    /// An error with a message and no raw libnrt status.
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            nrt_status: 0,
            message: message.into(),
        }
    }

    /// An error caused by a libnrt status.
    pub fn nrt(status: Status, nrt_status: NrtStatus, message: impl Into<String>) -> Error {
        Error {
            status,
            nrt_status,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Error {
    /// "NRTQ_ERR_RUNTIME: nrta_execute_schedule refused the request: NRT_INVALID (2)": the
    /// raw status appears once, by name. Messages should not embed it themselves; older
    /// ones that do ("... (NRT status 2)", "failed with NRT status 1") have that text
    /// replaced by the named form rather than repeated.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.status.describe().0)?;
        if self.nrt_status == 0 {
            return f.write_str(&self.message);
        }
        let named = nrt_status_text(self.nrt_status);
        let embedded_suffix = format!(" (NRT status {})", self.nrt_status);
        let embedded = format!("NRT status {}", self.nrt_status);
        if let Some(head) = self.message.strip_suffix(&embedded_suffix) {
            write!(f, "{head}: {named}")
        } else if let Some(at) = find_number(&self.message, &embedded) {
            let (head, tail) = self.message.split_at(at);
            write!(f, "{head}{named}{}", &tail[embedded.len()..])
        } else if self.message.contains(&named) {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {named}", self.message)
        }
    }
}

/// Where `needle` (text ending in a number) occurs in `text` as a whole number, not as the
/// start of a longer one ("NRT status 1" is not in "NRT status 10").
fn find_number(text: &str, needle: &str) -> Option<usize> {
    text.match_indices(needle).map(|(i, _)| i).find(|&i| {
        !text[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

impl std::error::Error for Error {}

/// Result of the core API.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_gives_unique_codes_and_round_trips() {
        let all = Status::all();
        for (i, s) in all.iter().enumerate() {
            assert_eq!(Status::from_code(s.code()), Some(*s));
            assert_eq!(nrtq_status::from(*s) as u32, s.code());
            assert_eq!(Status::from(nrtq_status::from(*s)), *s);
            assert!(s.describe().0.starts_with("NRTQ_"));
            assert!(all[..i].iter().all(|o| o.code() != s.code()), "{s:?}");
        }
        assert_eq!(Status::from_code(3), None);
    }

    #[test]
    fn the_raw_status_is_named_once() {
        let plain = Error::nrt(
            Status::Runtime,
            2,
            "nrta_execute_schedule refused the request",
        );
        assert_eq!(
            plain.to_string(),
            "NRTQ_ERR_RUNTIME: nrta_execute_schedule refused the request: NRT_INVALID (2)"
        );
        // Messages that still embed the number get the named form once, not twice.
        let embedded = Error::nrt(
            Status::Runtime,
            2,
            "nrta_execute_schedule refused the request (NRT status 2)",
        );
        assert_eq!(embedded.to_string(), plain.to_string());
        let inline = Error::nrt(Status::Runtime, 1, "nrt_init failed with NRT status 1");
        assert_eq!(
            inline.to_string(),
            "NRTQ_ERR_RUNTIME: nrt_init failed with NRT_FAILURE (1)"
        );
        let longer = Error::nrt(Status::Runtime, 1, "saw NRT status 10 before");
        assert_eq!(
            longer.to_string(),
            "NRTQ_ERR_RUNTIME: saw NRT status 10 before: NRT_FAILURE (1)"
        );
        let unknown = Error::nrt(Status::ExecError, 4242, "the device said no");
        assert!(unknown.to_string().ends_with(": unknown NRT_STATUS (4242)"));
        assert_eq!(
            Error::new(Status::Busy, "2 queues open").to_string(),
            "NRTQ_ERR_BUSY: 2 queues open"
        );
    }
}
