//! CPython's decision, for a pyc that has a source: use the bytecode, or
//! recompile. Mirrors `SourceLoader.get_code` in
//! `Lib/importlib/_bootstrap_external.py` (3.6–3.14) and `check_compiled_module`
//! in Python 2.7's `import.c`. Pure: the caller stats and hashes the source.

use crate::bytecode::hash::source_hash;
use crate::bytecode::magic::PyVersion;
use crate::bytecode::Verdict;
use crate::cli::HashCheckMode;
use crate::format::pyc::{KnownHeader, PycKind};

/// Mask CPython applies to mtime (3.7+) and size (3.3+) before comparing.
const U32_MASK: i64 = 0xFFFF_FFFF;
/// Nanoseconds per second.
const NANOS: f64 = 1e-9;

/// The source's `os.stat()` as the import system uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceStat {
    /// `st_mtime` seconds (`tv_sec`, floored).
    pub mtime_sec: i64,
    /// `st_mtime` nanoseconds (`tv_nsec`).
    pub mtime_nsec: i64,
    pub size: u64,
}

impl SourceStat {
    /// `int(os.stat(path).st_mtime)`: Python computes the float
    /// `sec + nsec * 1e-9` (which can round up to the next second) and
    /// truncates it toward zero.
    pub fn python_mtime(&self) -> i64 {
        (self.mtime_sec as f64 + self.mtime_nsec as f64 * NANOS).trunc() as i64
    }
}

/// What the importer decides, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub reason: String,
}

fn decision(verdict: Verdict, reason: impl Into<String>) -> Decision {
    Decision {
        verdict,
        reason: reason.into(),
    }
}

/// Whether deciding needs the source's bytes (to hash them).
pub fn needs_source_bytes(header: &KnownHeader, mode: HashCheckMode) -> bool {
    match header.kind {
        PycKind::Timestamp { .. } => false,
        // An unchecked pyc's hash is compared anyway, to say whether it still matches.
        PycKind::UncheckedHash { .. } => true,
        PycKind::CheckedHash { .. } => mode != HashCheckMode::Never,
    }
}

/// Decides for a pyc whose source exists. `source` is the source's bytes
/// when [`needs_source_bytes`] said so.
pub fn decide(
    header: &KnownHeader,
    magic: [u8; 4],
    stat: SourceStat,
    source: Option<&[u8]>,
    mode: HashCheckMode,
) -> Decision {
    let version = header.info.version;
    let hash_matches = |hash: [u8; 8]| source.map(|s| source_hash(magic, version, s) == hash);
    match header.kind {
        PycKind::Timestamp { mtime, source_size } => timestamp(version, mtime, source_size, stat),
        PycKind::CheckedHash { hash } if mode == HashCheckMode::Never => decision(
            Verdict::UncheckedHash,
            format!(
                "checked-hash pyc, but --check-hash-based-pycs never: used without checking{}",
                match_note(hash_matches(hash))
            ),
        ),
        PycKind::UncheckedHash { hash } if mode != HashCheckMode::Always => decision(
            Verdict::UncheckedHash,
            format!(
                "unchecked-hash pyc: used without checking{}",
                match_note(hash_matches(hash))
            ),
        ),
        PycKind::CheckedHash { hash } | PycKind::UncheckedHash { hash } => match hash_matches(hash)
        {
            Some(true) => decision(Verdict::Valid, "source hash matches"),
            Some(false) => decision(
                Verdict::HashMismatch,
                format!(
                    "pyc hash {} != source hash {}",
                    hex(&hash),
                    hex(&source
                        .map(|s| source_hash(magic, version, s))
                        .unwrap_or_default())
                ),
            ),
            None => decision(
                Verdict::Corrupt,
                "source bytes were not provided to check the hash",
            ),
        },
    }
}

fn match_note(matches: Option<bool>) -> &'static str {
    match matches {
        Some(true) => " (its hash matches the source now)",
        Some(false) => " (its hash does NOT match the source)",
        None => "",
    }
}

/// `_validate_timestamp_pyc` (3.7+), the 3.6 header check, or 2.7's.
fn timestamp(version: PyVersion, mtime: u32, size: Option<u32>, stat: SourceStat) -> Decision {
    let (want_mtime, got_mtime) = if version.major == 2 {
        // 2.7 sign-extends the stored long and compares it with tv_sec.
        (stat.mtime_sec, i64::from(mtime as i32))
    } else if version < PyVersion::new(3, 7) {
        // 3.6 compares the stored u32 with int(st_mtime), unmasked.
        (stat.python_mtime(), i64::from(mtime))
    } else {
        (stat.python_mtime() & U32_MASK, i64::from(mtime))
    };
    if want_mtime != got_mtime {
        return decision(
            Verdict::Stale,
            format!("pyc mtime {got_mtime} != source mtime {want_mtime}"),
        );
    }
    let want_size = (stat.size as i64) & U32_MASK;
    match size {
        Some(s) if i64::from(s) != want_size => decision(
            Verdict::Stale,
            format!("pyc source size {s} != source size {want_size}"),
        ),
        _ => decision(Verdict::Valid, "mtime and size match the source"),
    }
}

/// Lower-case hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pyc::PycHeader;

    fn hdr(magic: u16, flags: u32, a: u32, b: u32) -> (KnownHeader, [u8; 4]) {
        let mut v = magic.to_le_bytes().to_vec();
        v.extend_from_slice(b"\r\n");
        for w in [flags, a, b] {
            v.extend_from_slice(&w.to_le_bytes());
        }
        let h = PycHeader::parse(&v).unwrap();
        (h.python.unwrap(), h.magic)
    }

    fn stat(sec: i64, nsec: i64, size: u64) -> SourceStat {
        SourceStat {
            mtime_sec: sec,
            mtime_nsec: nsec,
            size,
        }
    }

    #[test]
    fn python_mtime_rounds_like_a_double() {
        assert_eq!(
            stat(1_700_000_000, 999_999_999, 0).python_mtime(),
            1_700_000_001
        );
        assert_eq!(
            stat(1_700_000_000, 999_999_000, 0).python_mtime(),
            1_700_000_000
        );
        // -1.5 s is stored as tv_sec -2, tv_nsec 5e8; int(-1.5) is -1.
        assert_eq!(stat(-2, 500_000_000, 0).python_mtime(), -1);
    }

    #[test]
    fn timestamps() {
        let (h, m) = hdr(3495, 0, 1000, 20);
        let d = |s| decide(&h, m, s, None, HashCheckMode::Default).verdict;
        assert_eq!(d(stat(1000, 5, 20)), Verdict::Valid);
        assert_eq!(d(stat(1001, 0, 20)), Verdict::Stale);
        assert_eq!(d(stat(1000, 0, 21)), Verdict::Stale);
        assert_eq!(
            d(stat(1000 + (1 << 32), 0, 20 + (1 << 32))),
            Verdict::Valid,
            "3.7+ masks both"
        );
        let (h36, m36) = hdr(3379, 1000, 20, 0);
        assert_eq!(
            decide(
                &h36,
                m36,
                stat(1000 + (1 << 32), 0, 20),
                None,
                HashCheckMode::Default
            )
            .verdict,
            Verdict::Stale,
            "3.6 does not mask mtime"
        );
    }

    #[test]
    fn python2_sign_extends() {
        let mut v = 62211u16.to_le_bytes().to_vec();
        v.extend_from_slice(b"\r\n");
        v.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        let h = PycHeader::parse(&v).unwrap();
        let k = h.python.unwrap();
        assert_eq!(
            decide(&k, h.magic, stat(-1, 0, 3), None, HashCheckMode::Default).verdict,
            Verdict::Valid
        );
        assert_eq!(
            decide(
                &k,
                h.magic,
                stat(0xFFFF_FFFF, 0, 3),
                None,
                HashCheckMode::Default
            )
            .verdict,
            Verdict::Stale
        );
    }

    #[test]
    fn hash_modes() {
        let src = b"x = 1\n";
        let magic = [0xa7, 0x0d, 0x0d, 0x0a];
        let good = source_hash(magic, PyVersion::new(3, 11), src);
        let word = |i: usize| u32::from_le_bytes(good[i..i + 4].try_into().unwrap());
        let st = stat(0, 0, 6);
        let (checked, m) = hdr(3495, 3, word(0), word(4));
        let (unchecked, _) = hdr(3495, 1, word(0), word(4));
        let (bad, _) = hdr(3495, 3, word(0) ^ 1, word(4));
        let v = |h: &KnownHeader, mode| decide(h, m, st, Some(src), mode).verdict;
        assert_eq!(v(&checked, HashCheckMode::Default), Verdict::Valid);
        assert_eq!(v(&bad, HashCheckMode::Default), Verdict::HashMismatch);
        assert_eq!(v(&bad, HashCheckMode::Always), Verdict::HashMismatch);
        assert_eq!(v(&bad, HashCheckMode::Never), Verdict::UncheckedHash);
        assert_eq!(
            v(&unchecked, HashCheckMode::Default),
            Verdict::UncheckedHash
        );
        assert_eq!(v(&unchecked, HashCheckMode::Always), Verdict::Valid);
        let r = decide(&bad, m, st, Some(src), HashCheckMode::Never).reason;
        assert!(r.contains("does NOT match"), "{r}");
    }
}
