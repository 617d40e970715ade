//! What the emulated instance is, read from the environment: the generation being
//! emulated (the library's own, checked against `NRT_EMU_API`), the instance's cores and
//! which of them this process sees, and device memory per core. `nrt_init` reads it once
//! into a [`Config`]; the core-count calls read it before `nrt_init` too. The device's
//! own parameters (`NRT_EMU_QUEUE_DEPTH`, transfer costs, faults, trace) are read by
//! `device::config`.

pub use neuron_sys::Generation;

use crate::error::Failure;
use neuron_sys::{nrt_framework_type_t, NRT_INVALID, NRT_RESOURCE, NRT_STATUS};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Logical cores of the default emulated instance (a trn1.2xlarge: one device, two cores).
pub const DEFAULT_TOTAL_CORES: u32 = 2;

/// Device memory per logical core by default: 16 GiB, a trn1 NeuronCore's share of HBM.
pub const DEFAULT_CORE_MEMORY_MB: u64 = 16 * 1024;

/// Logical cores per emulated Neuron device (trn1: two NeuronCore-v2 per device).
pub const CORES_PER_DEVICE: u32 = 2;

/// The most cores one process can see: a sequence id carries its core in 8 bits
/// (bits 63..56), so core 256 of a process would have no id. An instance may have more
/// (`NRT_EMU_TOTAL_CORES` up to 4096); a process selects a window of them.
pub const MAX_VISIBLE_CORES: u32 = 256;

// ---------------------------------------------------------------------------------------
// Generation

/// 0 = not set by a library (in-process use: from `NRT_EMU_API`), else 1 + index in ALL.
static LIBRARY_GENERATION: AtomicU8 = AtomicU8::new(0);

/// Called once at load by each `libnrt.so` (a constructor in `gen-*/src/lib.rs`): the
/// generation this library implements, whatever the environment says.
pub fn set_generation(g: Generation) {
    let i = Generation::ALL.iter().position(|x| *x == g).unwrap_or(0);
    LIBRARY_GENERATION.store(i as u8 + 1, Ordering::Release);
}

/// The generation being emulated: the library's own, or (when the core is used
/// in-process, without a generation library) `NRT_EMU_API`, default 2.28.
pub fn generation() -> Generation {
    match LIBRARY_GENERATION.load(Ordering::Acquire) {
        0 => {
            static FROM_ENV: OnceLock<Generation> = OnceLock::new();
            *FROM_ENV.get_or_init(|| {
                std::env::var("NRT_EMU_API")
                    .ok()
                    .and_then(|v| Generation::from_name(v.trim()))
                    .unwrap_or(Generation::Sdk2_28)
            })
        }
        n => Generation::ALL[(n - 1) as usize],
    }
}

/// If this is a generation library and `NRT_EMU_API` names another generation, the
/// message for `nrt_init` (which then fails): the caller loaded the wrong file.
pub(crate) fn generation_mismatch() -> Option<String> {
    if LIBRARY_GENERATION.load(Ordering::Acquire) == 0 {
        return None;
    }
    let own = generation();
    let wanted = std::env::var("NRT_EMU_API").ok()?;
    let wanted = wanted.trim();
    match Generation::from_name(wanted) {
        Some(g) if g == own => None,
        Some(g) => Some(format!(
            "NRT_EMU_API={wanted} but this library emulates SDK {own}; load {} instead",
            sibling_library(g).display()
        )),
        None => Some(format!(
            "NRT_EMU_API={wanted} is not one of 2.28, 2.29, 2.30 (this library emulates SDK {own})"
        )),
    }
}

/// Where the build put the library of generation `g`, found from this library's own
/// path (`…/<profile>/{emu/<gen>,deps,}/…` → `…/<profile>/emu/<g>/libnrt.so.1`).
fn sibling_library(g: Generation) -> PathBuf {
    let fallback = PathBuf::from(format!("target/<profile>/emu/{g}/libnrt.so.1"));
    let Some(own) = own_library_path() else {
        return fallback;
    };
    let Some(dir) = own.parent() else {
        return fallback;
    };
    let name_of = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_owned);
    let profile = match (name_of(dir), dir.parent()) {
        (_, Some(up)) if name_of(up).as_deref() == Some("emu") => up.parent(),
        (Some(d), Some(up)) if d == "deps" => Some(up),
        _ => Some(dir),
    };
    profile.map_or(fallback, |p| {
        p.join("emu").join(g.as_str()).join("libnrt.so.1")
    })
}

fn own_library_path() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: Dl_info is plain data (pointers and integers); all-zero is a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let here = own_library_path as *const libc::c_void;
    // SAFETY: dladdr only inspects the address and fills `info`.
    if unsafe { libc::dladdr(here, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the dynamic loader.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes())))
}

// ---------------------------------------------------------------------------------------
// Cores and memory

/// What `nrt_init` read from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The emulated async generation.
    pub generation: Generation,
    /// Logical cores on the emulated instance (`NRT_EMU_TOTAL_CORES`, default 2).
    pub total_cores: u32,
    /// The instance-wide index of this process's core 0 (from `NEURON_RT_VISIBLE_CORES`).
    pub first_core: u32,
    /// Logical cores this process may use; API core indices run 0..visible_cores.
    pub visible_cores: u32,
    /// Device memory per logical core in bytes (`NRT_EMU_CORE_MEMORY_MB`).
    pub core_memory_bytes: u64,
    /// The framework `nrt_init` was called with.
    pub framework: nrt_framework_type_t,
}

impl Config {
    /// Read the environment (see README.md for every variable).
    pub fn from_env(framework: nrt_framework_type_t) -> Result<Config, Failure> {
        let total_cores = total_cores()?;
        let (first_core, visible_cores) = select_cores(
            env("NEURON_RT_VISIBLE_CORES").as_deref(),
            env("NEURON_RT_NUM_CORES").as_deref(),
            total_cores,
        )?;
        let mb = match env("NRT_EMU_CORE_MEMORY_MB") {
            None => DEFAULT_CORE_MEMORY_MB,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0 && n <= 1 << 24)
                .ok_or_else(|| {
                    Failure::invalid(format!("NRT_EMU_CORE_MEMORY_MB={v}: expected 1..16777216"))
                })?,
        };
        Ok(Config {
            generation: generation(),
            total_cores,
            first_core,
            visible_cores,
            core_memory_bytes: mb << 20,
            framework,
        })
    }
}

/// A variable's value; unset and empty both count as absent.
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Logical cores on the instance: `NRT_EMU_TOTAL_CORES` (1..=4096) or 2.
pub fn total_cores() -> Result<u32, Failure> {
    match env("NRT_EMU_TOTAL_CORES") {
        None => Ok(DEFAULT_TOTAL_CORES),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=4096).contains(n))
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "NRT_EMU_TOTAL_CORES={v}: expected a number from 1 to 4096"
                ))
            }),
    }
}

/// The cores this process gets: `(first, count)`, from `NEURON_RT_VISIBLE_CORES`
/// (which wins) or `NEURON_RT_NUM_CORES` (0 or unset: all), at most
/// [`MAX_VISIBLE_CORES`] of them (more is `NRT_RESOURCE`).
pub fn select_cores(
    visible: Option<&str>,
    num: Option<&str>,
    total: u32,
) -> Result<(u32, u32), Failure> {
    let (first, count) = select_any_cores(visible, num, total)?;
    if count > MAX_VISIBLE_CORES {
        return Err(Failure::new(
            NRT_RESOURCE,
            format!(
                "{count} cores would be visible, but one process can address at most {MAX_VISIBLE_CORES} (a sequence id carries its core in 8 bits): select at most {MAX_VISIBLE_CORES} of the instance's {total} with NEURON_RT_VISIBLE_CORES or NEURON_RT_NUM_CORES"
            ),
        ));
    }
    Ok((first, count))
}

fn select_any_cores(
    visible: Option<&str>,
    num: Option<&str>,
    total: u32,
) -> Result<(u32, u32), Failure> {
    if let Some(spec) = visible {
        return parse_visible_cores(spec, total).map_err(|(status, m)| {
            Failure::new(status, format!("NEURON_RT_VISIBLE_CORES={spec}: {m}"))
        });
    }
    if let Some(n) = num {
        let count: u32 = n.trim().parse().map_err(|_| {
            Failure::invalid(format!(
                "NEURON_RT_NUM_CORES={n}: expected a non-negative number"
            ))
        })?;
        if count > total {
            return Err(Failure::new(
                NRT_RESOURCE,
                format!("NEURON_RT_NUM_CORES={count} but the instance has {total} cores"),
            ));
        }
        return Ok((0, if count == 0 { total } else { count }));
    }
    Ok((0, total))
}

/// Parse `3`, `3,4,5`, `3-6` or `3-5,6`: the set must be contiguous and increasing and
/// inside the instance. Malformed text is `NRT_INVALID`; cores the instance does not
/// have are `NRT_RESOURCE` (they cannot be reserved).
pub fn parse_visible_cores(spec: &str, total: u32) -> Result<(u32, u32), (NRT_STATUS, String)> {
    let bad = |m: String| (NRT_INVALID, m);
    let mut cores: Vec<u32> = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        let num = |s: &str| -> Result<u32, (NRT_STATUS, String)> {
            s.trim()
                .parse::<u32>()
                .map_err(|_| bad(format!("'{s}' is not a core index")))
        };
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(part)?;
                (n, n)
            }
        };
        if hi < lo {
            return Err(bad(format!("range '{part}' runs backwards")));
        }
        if hi >= total {
            return Err((
                NRT_RESOURCE,
                format!("core {hi} does not exist: the instance has cores 0..{total}"),
            ));
        }
        for c in lo..=hi {
            if let Some(&last) = cores.last() {
                if c != last + 1 {
                    return Err(bad(format!(
                        "cores must be contiguous and increasing ({last} is followed by {c})"
                    )));
                }
            }
            cores.push(c);
        }
    }
    Ok((cores[0], cores.len() as u32))
}

/// `(family, size)` of the emulated instance: a trn1 sized by its core count
/// (2 → 2xlarge, 32 → 32xlarge, anything else → unknown size).
pub fn instance_kind(total_cores: u32) -> (u32, u32) {
    let size = match total_cores {
        2 => neuron_sys::NRT_INSTANCE_SIZE_2XL,
        32 => neuron_sys::NRT_INSTANCE_SIZE_32XL,
        _ => neuron_sys::NRT_INSTANCE_SIZE_UNKNOWN,
    };
    (neuron_sys::NRT_INSTANCE_TRN1, size)
}

/// The visible core count `nrt_init` would choose from the environment now.
pub fn visible_cores_from_env() -> Result<u32, Failure> {
    let total = total_cores()?;
    select_cores(
        env("NEURON_RT_VISIBLE_CORES").as_deref(),
        env("NEURON_RT_NUM_CORES").as_deref(),
        total,
    )
    .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_core_syntax() {
        assert_eq!(parse_visible_cores("3", 8), Ok((3, 1)));
        assert_eq!(parse_visible_cores("3,4,5,6", 8), Ok((3, 4)));
        assert_eq!(parse_visible_cores("3-6", 8), Ok((3, 4)));
        assert_eq!(parse_visible_cores("3-5,6", 8), Ok((3, 4)));
        assert_eq!(parse_visible_cores(" 0 - 1 ", 2), Ok((0, 2)));
        assert_eq!(parse_visible_cores("3,5,6", 8).unwrap_err().0, NRT_INVALID);
        assert_eq!(parse_visible_cores("4,3", 8).unwrap_err().0, NRT_INVALID);
        assert_eq!(parse_visible_cores("3,3", 8).unwrap_err().0, NRT_INVALID);
        assert_eq!(parse_visible_cores("6-3", 8).unwrap_err().0, NRT_INVALID);
        assert_eq!(parse_visible_cores("a", 8).unwrap_err().0, NRT_INVALID);
        assert_eq!(parse_visible_cores("", 8).unwrap_err().0, NRT_INVALID);
        assert_eq!(parse_visible_cores("1,", 8).unwrap_err().0, NRT_INVALID);
        assert_eq!(parse_visible_cores("2", 2).unwrap_err().0, NRT_RESOURCE);
    }

    #[test]
    fn core_selection_precedence() {
        assert_eq!(select_cores(None, None, 4), Ok((0, 4)));
        assert_eq!(select_cores(None, Some("0"), 4), Ok((0, 4)));
        assert_eq!(select_cores(None, Some("3"), 4), Ok((0, 3)));
        assert_eq!(
            select_cores(None, Some("5"), 4).unwrap_err().status,
            NRT_RESOURCE
        );
        assert_eq!(
            select_cores(None, Some("x"), 4).unwrap_err().status,
            NRT_INVALID
        );
        assert_eq!(
            select_cores(Some("1-2"), Some("1"), 4),
            Ok((1, 2)),
            "VISIBLE wins"
        );
    }

    #[test]
    fn a_process_sees_at_most_256_cores_of_a_larger_instance() {
        let too_many = |r: Result<(u32, u32), Failure>| {
            let f = r.expect_err("more than 256 visible");
            assert_eq!(f.status, NRT_RESOURCE);
            assert!(f.message.contains("at most 256"), "{}", f.message);
        };
        too_many(select_cores(None, None, 4096));
        too_many(select_cores(None, Some("257"), 4096));
        too_many(select_cores(Some("0-256"), None, 4096));
        assert_eq!(select_cores(None, None, 256), Ok((0, 256)));
        assert_eq!(select_cores(None, Some("256"), 4096), Ok((0, 256)));
        assert_eq!(select_cores(Some("3840-4095"), None, 4096), Ok((3840, 256)));
    }
}
