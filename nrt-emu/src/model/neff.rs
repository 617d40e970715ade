//! Recognising a real NEFF, so `nrt_load` can say "this needs a Neuron device" instead
//! of "garbage".
//!
//! A NEFF starts with a 1024-byte header whose `header_size` (u64 at offset 8) is 1024
//! and whose `data_size` (u64 at offset 16) is the length of the tarball that follows
//! (nrt-abi.md §3). The header has no magic number, so these two fields are the test.

/// The documented NEFF header size.
pub const NEFF_HEADER_SIZE: u64 = 1024;

/// What the first bytes of a buffer say about it being a NEFF.
#[derive(Debug, PartialEq, Eq)]
pub enum Sniff {
    /// A complete NEFF: `header_size == 1024` and `1024 + data_size == len`.
    Neff { name: String },
    /// Looks like a NEFF header but the length does not match it.
    TruncatedNeff { expected: u128, actual: u64 },
    /// Not a NEFF.
    NotNeff,
}

/// Classify `bytes`.
pub fn sniff(bytes: &[u8]) -> Sniff {
    let u64_at = |off: usize| -> Option<u64> {
        bytes
            .get(off..off + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let (Some(header_size), Some(data_size)) = (u64_at(8), u64_at(16)) else {
        return Sniff::NotNeff;
    };
    if header_size != NEFF_HEADER_SIZE {
        return Sniff::NotNeff;
    }
    let expected = NEFF_HEADER_SIZE as u128 + data_size as u128;
    let actual = bytes.len() as u64;
    if expected != actual as u128 {
        return Sniff::TruncatedNeff { expected, actual };
    }
    // The model name field (char[256] at offset 220), for the message.
    let name_field = &bytes[220..476];
    let end = name_field
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name_field.len());
    let name = String::from_utf8_lossy(&name_field[..end]).into_owned();
    Sniff::Neff { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neff(data: usize, name: &str) -> Vec<u8> {
        let mut v = vec![0u8; 1024 + data];
        v[8..16].copy_from_slice(&1024u64.to_le_bytes());
        v[16..24].copy_from_slice(&(data as u64).to_le_bytes());
        v[220..220 + name.len()].copy_from_slice(name.as_bytes());
        v
    }

    #[test]
    fn recognises_complete_and_cut_neffs() {
        assert_eq!(
            sniff(&neff(100, "resnet")),
            Sniff::Neff {
                name: "resnet".into()
            }
        );
        let cut = neff(100, "x");
        assert_eq!(
            sniff(&cut[..600]),
            Sniff::TruncatedNeff {
                expected: 1124,
                actual: 600
            }
        );
        assert_eq!(sniff(b"nrt-emu-model 1\nend\n"), Sniff::NotNeff);
        assert_eq!(sniff(b""), Sniff::NotNeff);
    }
}
