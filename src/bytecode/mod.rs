//! CPython's bytecode rules: which interpreter wrote a pyc ([`magic`]), what
//! source it belongs to ([`naming`]), the source hash of hash-based pycs
//! ([`hash`]), whether the import system would use it ([`accept`]), the
//! whole judgement of one file ([`judge`]) and, opt-in, proof that its code
//! is the compilation of its source by a trusted interpreter ([`deep`]).
//!
//! This is where pyvet decides whether a `.pyc` an attacker could have
//! written would run in place of the source a package manager vouches for.

pub mod accept;
pub mod deep;
pub mod hash;
pub mod judge;
pub mod magic;
pub mod naming;
pub mod zipimport;

use serde::Serialize;

/// What pyvet concludes about one pyc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// CPython would use it for that source.
    Valid,
    /// Timestamp or size do not match the source: CPython recompiles.
    Stale,
    /// A checked hash does not match the source: CPython recompiles.
    HashMismatch,
    /// Would be used without checking it against the source.
    UncheckedHash,
    /// Never imported (cache pyc without source, or a name CPython never reads).
    Orphan,
    /// Legacy location without source: imported as is.
    Sourceless,
    /// Written by another Python than the one its name or tree belongs to.
    Foreign,
    /// No known CPython writes this magic.
    UnknownMagic,
    /// Truncated or malformed.
    Corrupt,
    /// `--deep`: the code is not the compilation of the source.
    Diverges,
    /// `--deep`: no trusted interpreter could check it.
    Unverified,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Stale => "stale",
            Verdict::HashMismatch => "hash-mismatch",
            Verdict::UncheckedHash => "unchecked-hash",
            Verdict::Orphan => "orphan",
            Verdict::Sourceless => "sourceless",
            Verdict::Foreign => "foreign",
            Verdict::UnknownMagic => "unknown-magic",
            Verdict::Corrupt => "corrupt",
            Verdict::Diverges => "diverges",
            Verdict::Unverified => "unverified",
        }
    }

    /// Whether CPython would execute the pyc's code (so `--deep` matters).
    pub fn code_would_run(self) -> bool {
        matches!(self, Verdict::Valid | Verdict::UncheckedHash)
    }
}
