//! Deciding which generation of the explicit async API a library implements, from what
//! it exports and what `nrt_get_version` says. Pure logic over the evidence, so every
//! combination is unit-tested without a library.
//!
//! The method (`nrt-abi.md` §1):
//! 1. no `nrta_execute_schedule` → no explicit async API;
//! 2. `nrta_error_tracker_create` exported → SDK 2.28 (Gen A);
//! 3. otherwise → Gen B (SDK 2.29+); `nrta_execute_schedule` at version node `NRT_3.0.0`
//!    confirms it, and is a contradiction if the tracker is exported too;
//! 4. Gen B with `nrta_event_register_seq_id_completion` → SDK 2.30+, else SDK 2.29;
//! 5. the libnrt version must agree: 2.30 is Gen A, 2.31 and later Gen B, anything older
//!    predates the explicit async API. A disagreement is an error naming both findings.

use super::Generation;
use crate::status::NRT_STATUS;

/// What was observed in one library.
#[derive(Clone, Debug)]
pub(crate) struct Evidence {
    /// `nrta_execute_schedule` resolves (default version).
    pub execute_schedule: bool,
    /// `nrta_error_tracker_create` resolves.
    pub tracker: bool,
    /// `dlvsym(h, "nrta_execute_schedule", "NRT_3.0.0")` resolves.
    pub version_node_3: bool,
    /// `nrta_event_register_seq_id_completion` resolves.
    pub events: bool,
    /// `(rt_major, rt_minor)` from `nrt_get_version`, or the status it failed with.
    pub version: Result<(u64, u64), NRT_STATUS>,
}

/// The two findings that did not agree, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Disagreement {
    pub symbols: String,
    pub version: String,
}

/// The generation the libnrt version implies: `Ok(None)` for a runtime older than the
/// explicit async API.
fn generation_of_version(major: u64, minor: u64) -> Option<Generation> {
    match (major, minor) {
        (2, 30) => Some(Generation::Sdk2_28),
        (2, 31) => Some(Generation::Sdk2_29),
        (2, m) if m >= 32 => Some(Generation::Sdk2_30),
        (m, _) if m > 2 => Some(Generation::Sdk2_30),
        _ => None,
    }
}

fn is_gen_a(generation: Option<Generation>) -> Option<bool> {
    generation.map(|g| g == Generation::Sdk2_28)
}

/// The generation (or `None` for no explicit async API) and how it was decided.
pub(crate) fn detect(e: &Evidence) -> Result<(Option<Generation>, String), Disagreement> {
    let (by_symbols, mut how) = if !e.execute_schedule {
        (
            None,
            "nrta_execute_schedule is not exported: no explicit async API".to_string(),
        )
    } else if e.tracker {
        if e.version_node_3 {
            return Err(Disagreement {
                symbols: "nrta_error_tracker_create is exported (SDK 2.28)".into(),
                version: "nrta_execute_schedule has version node NRT_3.0.0 (SDK 2.29+)".into(),
            });
        }
        (
            Some(Generation::Sdk2_28),
            "nrta_error_tracker_create is exported: SDK 2.28 (Gen A)".to_string(),
        )
    } else {
        let node = if e.version_node_3 {
            "nrta_execute_schedule has version node NRT_3.0.0 and "
        } else {
            "nrta_execute_schedule has no NRT_3.0.0 version node, but "
        };
        let (generation, events) = if e.events {
            (
                Generation::Sdk2_30,
                "nrta_event_register_seq_id_completion is exported: SDK 2.30+",
            )
        } else {
            (
                Generation::Sdk2_29,
                "nrta_event_register_seq_id_completion is not: SDK 2.29",
            )
        };
        (
            Some(generation),
            format!("{node}the error tracker is not exported: Gen B; {events}"),
        )
    };

    match e.version {
        Err(status) => how.push_str(&format!(
            "; not cross-checked: nrt_get_version failed with status {status}"
        )),
        Ok((major, minor)) => {
            let by_version = generation_of_version(major, minor);
            let version_words = match by_version {
                None => format!("libnrt {major}.{minor} predates the explicit async API"),
                Some(Generation::Sdk2_28) => format!("libnrt {major}.{minor} is SDK 2.28 (Gen A)"),
                Some(g) => format!("libnrt {major}.{minor} is Gen B (SDK {g})"),
            };
            // The cross-check is on the ABI shape (none / Gen A / Gen B); 2.29 versus
            // 2.30 is decided by the event symbols alone, since that is what can be called.
            if is_gen_a(by_symbols) != is_gen_a(by_version) {
                return Err(Disagreement {
                    symbols: how,
                    version: version_words,
                });
            }
            how.push_str(&format!("; agrees with nrt_get_version: {version_words}"));
            if by_symbols.is_some() && by_symbols != by_version {
                how.push_str(&format!(
                    " (the event symbols, not the version, decide {})",
                    by_symbols.map(|g| g.to_string()).unwrap_or_default()
                ));
            }
        }
    }
    Ok((by_symbols, how))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(
        execute_schedule: bool,
        tracker: bool,
        version_node_3: bool,
        events: bool,
        version: Result<(u64, u64), NRT_STATUS>,
    ) -> Evidence {
        Evidence {
            execute_schedule,
            tracker,
            version_node_3,
            events,
            version,
        }
    }

    #[test]
    fn gen_a_from_tracker_and_version_2_30() {
        let (g, how) = detect(&evidence(true, true, false, false, Ok((2, 30)))).unwrap();
        assert_eq!(g, Some(Generation::Sdk2_28));
        assert!(how.contains("nrta_error_tracker_create"), "{how}");
        assert!(how.contains("libnrt 2.30"), "{how}");
    }

    #[test]
    fn gen_b_without_and_with_events() {
        let (g, _) = detect(&evidence(true, false, true, false, Ok((2, 31)))).unwrap();
        assert_eq!(g, Some(Generation::Sdk2_29));
        let (g, how) = detect(&evidence(true, false, true, true, Ok((2, 32)))).unwrap();
        assert_eq!(g, Some(Generation::Sdk2_30));
        assert!(how.contains("NRT_3.0.0"), "{how}");
        // Without the version node the absent tracker still decides Gen B.
        let (g, how) = detect(&evidence(true, false, false, true, Ok((2, 34)))).unwrap();
        assert_eq!(g, Some(Generation::Sdk2_30));
        assert!(how.contains("no NRT_3.0.0"), "{how}");
    }

    #[test]
    fn no_async_api() {
        let (g, _) = detect(&evidence(false, false, false, false, Ok((2, 29)))).unwrap();
        assert_eq!(g, None);
    }

    #[test]
    fn disagreements_are_errors_naming_both() {
        // Tracker symbols but a Gen B version.
        let d = detect(&evidence(true, true, false, false, Ok((2, 31)))).unwrap_err();
        assert!(d.symbols.contains("SDK 2.28"), "{d:?}");
        assert!(d.version.contains("2.31"), "{d:?}");
        // Gen B symbols but a Gen A version.
        let d = detect(&evidence(true, false, true, true, Ok((2, 30)))).unwrap_err();
        assert!(d.version.contains("Gen A"), "{d:?}");
        // Async symbols on a runtime older than the async API.
        assert!(detect(&evidence(true, true, false, false, Ok((2, 29)))).is_err());
        // No async symbols on a runtime that must have them.
        assert!(detect(&evidence(false, false, false, false, Ok((2, 31)))).is_err());
        // Tracker exported and NRT_3.0.0 node: the symbols contradict each other.
        assert!(detect(&evidence(true, true, true, false, Ok((2, 30)))).is_err());
    }

    #[test]
    fn failed_version_call_is_said_not_hidden() {
        let (g, how) = detect(&evidence(true, false, true, false, Err(13))).unwrap();
        assert_eq!(g, Some(Generation::Sdk2_29));
        assert!(how.contains("not cross-checked"), "{how}");
    }

    #[test]
    fn events_decide_2_29_versus_2_30_and_say_so() {
        let (g, how) = detect(&evidence(true, false, true, false, Ok((2, 33)))).unwrap();
        assert_eq!(g, Some(Generation::Sdk2_29));
        assert!(how.contains("event symbols"), "{how}");
    }
}
