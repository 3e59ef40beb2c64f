//! CPython's bytecode magic numbers: which interpreter wrote a `.pyc`.
//!
//! Every CPython release stamps its pycs with a 2-byte magic number followed
//! by `\r\n`, and refuses pycs with any other magic. The numbers come from
//! the comment history in CPython's `Lib/importlib/_bootstrap_external.py`
//! (since 3.14 `Include/internal/pycore_magic_number.h`); the release values
//! of 2.7 and 3.6–3.13 are cross-checked against `importlib.util.MAGIC_NUMBER`
//! of real interpreters by the tests. Pre-release magics are mapped to their
//! version by range, so that a pyc from an alpha can be named even though no
//! released interpreter accepts it.

use std::fmt;

/// The two bytes every CPython magic ends with.
pub const MAGIC_SUFFIX: [u8; 2] = *b"\r\n";

/// A CPython `major.minor` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PyVersion {
    pub major: u8,
    pub minor: u8,
}

impl PyVersion {
    pub const fn new(major: u8, minor: u8) -> Self {
        PyVersion { major, minor }
    }

    /// `sys.implementation.cache_tag` of this CPython: `cpython-311`.
    pub fn cache_tag(self) -> String {
        format!("cpython-{}{}", self.major, self.minor)
    }

    /// Parses a `cpython-3NN` cache tag (PEP 3147) back into a version.
    pub fn from_cache_tag(tag: &str) -> Option<PyVersion> {
        let digits = tag.strip_prefix("cpython-")?;
        if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (major, minor) = digits.split_at(1);
        Some(PyVersion::new(major.parse().ok()?, minor.parse().ok()?))
    }

    /// Parses `3.11` (as in `--interpreter 3.11=…` or `lib/python3.11`).
    pub fn parse(s: &str) -> Option<PyVersion> {
        let (major, minor) = s.split_once('.')?;
        let ok = |p: &str| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit());
        if !ok(major) || !ok(minor) {
            return None;
        }
        Some(PyVersion::new(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl fmt::Display for PyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// How a version lays out the header in front of the marshalled code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderLayout {
    /// Python 2: magic, 32-bit mtime (8 bytes).
    MagicMtime,
    /// 3.3 to 3.7a3: magic, mtime, source size (12 bytes).
    MagicMtimeSize,
    /// PEP 552 (3.7a4 on): magic, flags, then mtime + size or a source hash (16 bytes).
    Pep552,
}

impl HeaderLayout {
    /// Bytes before the marshalled code object.
    pub const fn size(self) -> usize {
        match self {
            HeaderLayout::MagicMtime => 8,
            HeaderLayout::MagicMtimeSize => 12,
            HeaderLayout::Pep552 => 16,
        }
    }
}

/// What a magic number says about the pyc that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MagicInfo {
    /// The 16-bit number (little-endian bytes 0–1 of the file).
    pub number: u16,
    pub version: PyVersion,
    /// True for the magic the final release of `version` writes and accepts.
    pub is_release: bool,
    pub layout: HeaderLayout,
}

/// One version's range of magics, pre-releases included, and its release magic.
struct MagicRange {
    version: PyVersion,
    first: u16,
    release: u16,
}

/// First magic of the PEP 552 16-byte header (3.7a4).
const PEP552_FIRST_MAGIC: u16 = 3392;

const RANGES: &[MagicRange] = &[
    MagicRange {
        version: PyVersion::new(2, 7),
        first: 62171,
        release: 62211,
    },
    MagicRange {
        version: PyVersion::new(3, 6),
        first: 3360,
        release: 3379,
    },
    MagicRange {
        version: PyVersion::new(3, 7),
        first: 3390,
        release: 3394,
    },
    MagicRange {
        version: PyVersion::new(3, 8),
        first: 3400,
        release: 3413,
    },
    MagicRange {
        version: PyVersion::new(3, 9),
        first: 3420,
        release: 3425,
    },
    MagicRange {
        version: PyVersion::new(3, 10),
        first: 3430,
        release: 3439,
    },
    MagicRange {
        version: PyVersion::new(3, 11),
        first: 3450,
        release: 3495,
    },
    MagicRange {
        version: PyVersion::new(3, 12),
        first: 3500,
        release: 3531,
    },
    MagicRange {
        version: PyVersion::new(3, 13),
        first: 3550,
        release: 3571,
    },
    // 3.14's final magic (3.14rc3) cannot be checked against an interpreter here.
    MagicRange {
        version: PyVersion::new(3, 14),
        first: 3600,
        release: 3627,
    },
];

/// Looks up the 4 magic bytes of a pyc. `None` for anything CPython 2.7 or
/// 3.6–3.14 (pre-releases included) never wrote.
pub fn lookup(magic: [u8; 4]) -> Option<MagicInfo> {
    if magic[2..] != MAGIC_SUFFIX {
        return None;
    }
    let number = u16::from_le_bytes([magic[0], magic[1]]);
    let range = RANGES
        .iter()
        .find(|r| (r.first..=r.release).contains(&number))?;
    let layout = if range.version.major == 2 {
        HeaderLayout::MagicMtime
    } else if number < PEP552_FIRST_MAGIC {
        HeaderLayout::MagicMtimeSize
    } else {
        HeaderLayout::Pep552
    };
    Some(MagicInfo {
        number,
        version: range.version,
        is_release: number == range.release,
        layout,
    })
}

/// The release magic of `version`, if it is one pyvet knows.
pub fn release_magic(version: PyVersion) -> Option<[u8; 4]> {
    let r = RANGES.iter().find(|r| r.version == version)?;
    let [a, b] = r.release.to_le_bytes();
    Some([a, b, MAGIC_SUFFIX[0], MAGIC_SUFFIX[1]])
}

/// Every version with a known release magic, oldest first.
pub fn known_versions() -> impl Iterator<Item = PyVersion> {
    RANGES.iter().map(|r| r.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(n: u16) -> [u8; 4] {
        let [a, b] = n.to_le_bytes();
        [a, b, b'\r', b'\n']
    }

    #[test]
    fn release_magics() {
        let cases = [
            (62211, (2, 7), 8),
            (3379, (3, 6), 12),
            (3394, (3, 7), 16),
            (3413, (3, 8), 16),
            (3425, (3, 9), 16),
            (3439, (3, 10), 16),
            (3495, (3, 11), 16),
            (3531, (3, 12), 16),
            (3571, (3, 13), 16),
            (3627, (3, 14), 16),
        ];
        for (n, (maj, min), hlen) in cases {
            let info = lookup(m(n)).unwrap();
            assert_eq!(info.version, PyVersion::new(maj, min), "{n}");
            assert!(info.is_release, "{n}");
            assert_eq!(info.layout.size(), hlen, "{n}");
            assert_eq!(release_magic(info.version), Some(m(n)));
        }
    }

    #[test]
    fn prereleases_and_unknowns() {
        let a4 = lookup(m(3392)).unwrap();
        assert_eq!(
            (a4.version, a4.is_release, a4.layout),
            (PyVersion::new(3, 7), false, HeaderLayout::Pep552)
        );
        let a1 = lookup(m(3390)).unwrap();
        assert_eq!(a1.layout, HeaderLayout::MagicMtimeSize);
        assert_eq!(lookup(m(3650)), None, "3.15 is not known");
        assert_eq!(lookup(m(3351)), None, "3.5 is not supported");
        assert_eq!(lookup(m(3440)), None, "gap between 3.10 and 3.11");
        assert_eq!(
            lookup([0xa7, 0x0d, 0x0d, 0x0a]).map(|i| i.number),
            Some(3495)
        );
        assert_eq!(
            lookup([0xa7, 0x0d, 0x0a, 0x0d]),
            None,
            "suffix must be \\r\\n"
        );
    }

    #[test]
    fn tags_and_versions() {
        assert_eq!(PyVersion::new(3, 11).cache_tag(), "cpython-311");
        assert_eq!(
            PyVersion::from_cache_tag("cpython-311"),
            Some(PyVersion::new(3, 11))
        );
        assert_eq!(
            PyVersion::from_cache_tag("cpython-36"),
            Some(PyVersion::new(3, 6))
        );
        assert_eq!(PyVersion::from_cache_tag("pypy39"), None);
        assert_eq!(PyVersion::from_cache_tag("cpython-3"), None);
        assert_eq!(PyVersion::from_cache_tag("cpython-3x1"), None);
        assert_eq!(PyVersion::parse("3.12"), Some(PyVersion::new(3, 12)));
        assert_eq!(PyVersion::parse("3."), None);
        assert_eq!(PyVersion::parse("3.1x"), None);
    }
}
