//! What CPython's `zipimport` (the pure-Python one of 3.8 and later,
//! `Lib/zipimport.py`) does with the pycs of a zip on `sys.path`. Pure: it
//! works on a parsed [`Archive`], never on files.
//!
//! `zipimport` differs from the file system importer in ways that decide
//! what runs:
//! - it never reads `__pycache__`: for module `X` it tries `X/__init__.pyc`,
//!   `X/__init__.py`, `X.pyc`, `X.py`, in that order, so a legacy `X.pyc`
//!   beside `X.py` is used (on the file system it is shadowed);
//! - a timestamp pyc is checked against its source member's MS-DOS time
//!   (local time, read back with `time.mktime`, equal within one second)
//!   and uncompressed size; a stale one is skipped for the source;
//! - a hash-based pyc is checked (when `check_source` is set or the mode is
//!   `always`, and the mode is not `never`) against the SipHash of the
//!   source member's bytes; a mismatch is skipped for the source;
//! - a pyc without its source member is imported as is, unchecked;
//! - a bad magic or bad flags are skipped; a header shorter than 16 bytes
//!   or code that does not unmarshal fails the import.
//!
//! The MS-DOS time holds no time zone, and the interpreter reading the zip
//! may run in any: a timestamp pyc counts as current when some whole
//! quarter-hour UTC offset between −12:00 and +14:00 makes the times equal.

use std::collections::HashSet;

use crate::bytecode::hash::source_hash;
use crate::bytecode::magic::{self, PyVersion};
use crate::bytecode::naming::{BYTECODE_SUFFIX, SOURCE_SUFFIX};
use crate::bytecode::Verdict;
use crate::cli::HashCheckMode;
use crate::format::marshal;
use crate::format::pyc::{PycHeader, PycKind};
use crate::format::zip::{dos_time_utc, Archive, Budget, Member, ZipError};

/// `zipimport._eq_mtime`: times within this many seconds are equal.
const MTIME_SLACK: i64 = 1;
/// Time zones are whole quarter hours apart.
const TZ_STEP: i64 = 900;
/// Westernmost and easternmost UTC offsets in use.
const TZ_MIN: i64 = -12 * 3600;
const TZ_MAX: i64 = 14 * 3600;
/// `zipimport` compares the source size modulo 2^32.
const U32_MASK: u64 = 0xFFFF_FFFF;

/// The judgement of one pyc member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberReport {
    /// The member's name inside the zip (bytes, as stored).
    pub name: Vec<u8>,
    pub verdict: Verdict,
    pub reason: String,
    /// The interpreter the magic belongs to.
    pub python: Option<PyVersion>,
    /// `timestamp`, `checked-hash`, `unchecked-hash`.
    pub kind: Option<&'static str>,
    /// The source member it is checked against, when the zip has one.
    pub source: Option<Vec<u8>>,
    pub co_filename: Option<String>,
}

/// One member looked at: judged, or unreadable.
pub type Outcome = Result<MemberReport, ZipError>;

/// Judges every pyc member `zipimport` could import, for an interpreter of
/// one of `versions`. Members with a duplicate name are judged once (the
/// last, which `zipimport`'s table keeps); names that are no module path
/// (`__pycache__/x.cpython-311.pyc`, dotted directories) are never imported
/// and not judged.
pub fn judge_archive(
    archive: &Archive,
    versions: &[PyVersion],
    mode: HashCheckMode,
    budget: &mut Budget,
) -> Vec<Outcome> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for m in archive.members.iter().rev() {
        if !seen.insert(m.name.as_slice()) || module_path(&m.name).is_none() {
            continue;
        }
        out.push(judge_member(archive, m, versions, mode, budget));
    }
    out.reverse();
    out
}

/// `a/b/c.pyc` -> `a/b/c`, when every part could be a module name.
pub fn module_path(name: &[u8]) -> Option<&[u8]> {
    let stem = name.strip_suffix(BYTECODE_SUFFIX.as_bytes())?;
    stem.split(|&b| b == b'/')
        .all(|part| !part.is_empty() && !part.contains(&b'.') && !part.contains(&b'\\'))
        .then_some(stem)
}

fn report(m: &Member, verdict: Verdict, reason: impl Into<String>) -> MemberReport {
    MemberReport {
        name: m.name.clone(),
        verdict,
        reason: reason.into(),
        python: None,
        kind: None,
        source: None,
        co_filename: None,
    }
}

/// Judges one pyc member.
pub fn judge_member(
    archive: &Archive,
    m: &Member,
    versions: &[PyVersion],
    mode: HashCheckMode,
    budget: &mut Budget,
) -> Outcome {
    let data = archive.read(m, budget)?;
    let stem = &m.name[..m.name.len() - BYTECODE_SUFFIX.len()];
    let source_name = [stem, SOURCE_SUFFIX.as_bytes()].concat();
    let source = archive.find(&source_name);
    let mut r = report(m, Verdict::Corrupt, "");
    r.source = source.map(|s| s.name.clone());
    let Some(magic) = data.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
        return Ok(with(r, Verdict::Corrupt, "shorter than a magic number"));
    };
    let Some(info) = magic::lookup(magic) else {
        let why = format!("magic {magic:02x?} is not one CPython writes: zipimport skips it");
        return Ok(with(r, Verdict::UnknownMagic, why));
    };
    r.python = Some(info.version);
    // With no interpreter known to read the zip, any release magic may be its.
    let ours = versions.is_empty() || versions.contains(&info.version);
    if !info.is_release || !ours {
        let ours: Vec<String> = versions.iter().map(ToString::to_string).collect();
        let why = format!(
            "magic {} is Python {}'s{}, the zip is read by {}: zipimport skips it",
            info.number,
            info.version,
            if info.is_release {
                ""
            } else {
                " (pre-release)"
            },
            ours.join(", ")
        );
        return Ok(with(r, Verdict::Foreign, why));
    }
    let header = match PycHeader::parse(&data) {
        Ok(h) => h,
        Err(e) => return Ok(with(r, Verdict::Corrupt, format!("{e}: import fails"))),
    };
    let Some(known) = header.python else {
        return Ok(with(r, Verdict::Corrupt, "header does not parse"));
    };
    r.kind = Some(known.kind.as_str());
    let (verdict, reason) = match source {
        None => (
            Verdict::Sourceless,
            "no source member beside it: zipimport imports it as is, without any check".into(),
        ),
        Some(src) => against_source(archive, known.kind, magic, info.version, src, mode, budget)?,
    };
    r = with(r, verdict, reason);
    if verdict.code_would_run() || verdict == Verdict::Sourceless {
        let v = (info.version.major, info.version.minor);
        match marshal::read_code_facts(&data[header_size(&data, &known)..], v) {
            Ok(f) => r.co_filename = Some(f.co_filename),
            Err(e) => {
                let why =
                    format!("header accepted, but the code does not load ({e}): import fails");
                return Ok(with(r, Verdict::Corrupt, why));
            }
        }
    }
    Ok(r)
}

fn header_size(data: &[u8], known: &crate::format::pyc::KnownHeader) -> usize {
    known.info.layout.size().min(data.len())
}

fn with(mut r: MemberReport, verdict: Verdict, reason: impl Into<String>) -> MemberReport {
    r.verdict = verdict;
    r.reason = reason.into();
    r
}

/// `_unmarshal_code`'s check of a pyc against its source member.
fn against_source(
    archive: &Archive,
    kind: PycKind,
    magic: [u8; 4],
    version: PyVersion,
    src: &Member,
    mode: HashCheckMode,
    budget: &mut Budget,
) -> Result<(Verdict, String), ZipError> {
    let checked = |check_source: bool| {
        mode != HashCheckMode::Never && (check_source || mode == HashCheckMode::Always)
    };
    let (hash, check) = match kind {
        PycKind::Timestamp { mtime, source_size } => {
            return Ok(timestamp(mtime, source_size, src));
        }
        PycKind::CheckedHash { hash } => (hash, checked(true)),
        PycKind::UncheckedHash { hash } => (hash, checked(false)),
    };
    if !check {
        return Ok((
            Verdict::UncheckedHash,
            format!(
                "{} pyc: zipimport uses it without checking its source (--check-hash-based-pycs {})",
                kind.as_str(),
                mode_name(mode)
            ),
        ));
    }
    let source = archive.read(src, budget)?;
    let want = source_hash(magic, version, &source);
    Ok(if want == hash {
        (Verdict::Valid, "source hash matches".into())
    } else {
        (
            Verdict::HashMismatch,
            format!(
                "pyc hash {} != source member hash {}: zipimport skips it for the source",
                hex(&hash),
                hex(&want)
            ),
        )
    })
}

fn mode_name(mode: HashCheckMode) -> &'static str {
    match mode {
        HashCheckMode::Default => "default",
        HashCheckMode::Always => "always",
        HashCheckMode::Never => "never",
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The timestamp check: mtime within a second in some time zone, size
/// equal modulo 2^32.
fn timestamp(mtime: u32, size: Option<u32>, src: &Member) -> (Verdict, String) {
    if let Some(s) = size {
        if u64::from(s) != src.size & U32_MASK {
            return (
                Verdict::Stale,
                format!(
                    "pyc source size {s} != source member size {}: zipimport skips it for the source",
                    src.size
                ),
            );
        }
    }
    let local = dos_time_utc(src.dos_date, src.dos_time);
    match zone_offset(i64::from(mtime), local) {
        Some(0) => (Verdict::Valid, "mtime and size match the source member".into()),
        Some(off) => (
            Verdict::Valid,
            format!(
                "mtime and size match the source member when its time is read at UTC{}",
                utc_offset(off)
            ),
        ),
        None => (
            Verdict::Stale,
            format!(
                "pyc mtime {mtime} matches the source member's time ({} read as UTC) at no UTC offset: zipimport skips it for the source",
                local
            ),
        ),
    }
}

/// The UTC offset (east positive) at which the zip's local `dos` time is
/// within [`MTIME_SLACK`] of `mtime`, preferring UTC itself.
fn zone_offset(mtime: i64, dos: i64) -> Option<i64> {
    let delta = dos - mtime;
    let nearest = (delta as f64 / TZ_STEP as f64).round() as i64 * TZ_STEP;
    ((delta - nearest).abs() <= MTIME_SLACK && (TZ_MIN..=TZ_MAX).contains(&nearest))
        .then_some(nearest)
}

fn utc_offset(off: i64) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs();
    format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths() {
        assert_eq!(module_path(b"json/decoder.pyc"), Some(&b"json/decoder"[..]));
        assert_eq!(
            module_path(b"json/__init__.pyc"),
            Some(&b"json/__init__"[..])
        );
        assert_eq!(
            module_path(b"json/__pycache__/decoder.cpython-311.pyc"),
            None
        );
        assert_eq!(module_path(b"six-1.0.dist-info/x.pyc"), None);
        assert_eq!(module_path(b"json/decoder.py"), None);
        assert_eq!(module_path(b"/x.pyc"), None);
        assert_eq!(module_path(b".pyc"), None);
    }

    #[test]
    fn zone_offsets() {
        assert_eq!(zone_offset(1000, 1000), Some(0));
        assert_eq!(zone_offset(1001, 1000), Some(0), "DOS times have 2 s steps");
        assert_eq!(zone_offset(1000, 1002), None);
        assert_eq!(zone_offset(1000, 1000 + 3600), Some(3600));
        assert_eq!(zone_offset(1000, 1000 - 5 * 3600 - 1), Some(-5 * 3600));
        assert_eq!(zone_offset(1000, 1000 + 5 * 3600 + 450), None);
        assert_eq!(zone_offset(1000, 1000 + 15 * 3600), None, "no such zone");
        assert_eq!(utc_offset(-5 * 3600 - 1800), "-05:30");
        assert_eq!(utc_offset(3600), "+01:00");
    }
}
