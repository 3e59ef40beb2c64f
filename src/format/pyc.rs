//! `.pyc` headers: the bytes in front of the marshalled code that tell
//! CPython which interpreter wrote the file and how to decide whether it
//! still matches its source.
//!
//! Three layouts exist: Python 2's 8 bytes (magic, mtime), the 12 bytes of
//! 3.3–3.7a3 (magic, mtime, size) and PEP 552's 16 bytes (magic, flags, then
//! mtime + size or an 8-byte source hash). An unknown magic is not an error
//! here: it is a fact about the file, reported as such.

use crate::bytecode::magic::{self, HeaderLayout, MagicInfo};

/// Bytes of the magic number.
const MAGIC_LEN: usize = 4;
/// PEP 552 flag: the pyc is hash-based.
pub const FLAG_HASH_BASED: u32 = 0b01;
/// PEP 552 flag: a hash-based pyc whose hash the importer checks.
pub const FLAG_CHECK_SOURCE: u32 = 0b10;
/// Every flag bit CPython accepts; any other set bit makes it refuse the pyc.
const KNOWN_FLAGS: u32 = FLAG_HASH_BASED | FLAG_CHECK_SOURCE;

/// How a pyc says it is to be validated against its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PycKind {
    /// Source mtime (truncated to 32 bits) and, from 3.3, size modulo 2^32.
    Timestamp {
        mtime: u32,
        source_size: Option<u32>,
    },
    /// SipHash of the source, checked by the importer (flags 0b11).
    CheckedHash { hash: [u8; 8] },
    /// SipHash of the source, not checked by default (flags 0b01).
    UncheckedHash { hash: [u8; 8] },
}

impl PycKind {
    /// The name used in reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            PycKind::Timestamp { .. } => "timestamp",
            PycKind::CheckedHash { .. } => "checked-hash",
            PycKind::UncheckedHash { .. } => "unchecked-hash",
        }
    }
}

/// A parsed .pyc header (PEP 552 16-byte form, 12-byte pre-3.7 form, or 2.7's 8 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PycHeader {
    /// The first four bytes, as found.
    pub magic: [u8; 4],
    /// What the magic says; `None` when no known CPython wrote it (and then
    /// nothing after the magic is interpreted).
    pub python: Option<KnownHeader>,
}

/// The header fields of a pyc whose magic is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHeader {
    pub info: MagicInfo,
    /// PEP 552 flags word (0 for the older layouts).
    pub flags: u32,
    pub kind: PycKind,
}

impl PycHeader {
    /// Parses the header at the start of a pyc file.
    ///
    /// Fails only when the file is too short for its layout or sets flag bits
    /// CPython rejects; an unknown magic gives `python: None`.
    pub fn parse(bytes: &[u8]) -> Result<PycHeader, PycError> {
        let magic: [u8; MAGIC_LEN] = bytes
            .get(..MAGIC_LEN)
            .and_then(|m| m.try_into().ok())
            .ok_or(PycError::Truncated {
                needed: MAGIC_LEN,
                actual: bytes.len(),
            })?;
        let Some(info) = magic::lookup(magic) else {
            return Ok(PycHeader {
                magic,
                python: None,
            });
        };
        let needed = info.layout.size();
        if bytes.len() < needed {
            return Err(PycError::Truncated {
                needed,
                actual: bytes.len(),
            });
        }
        let (flags, kind) = parse_fields(info.layout, bytes)?;
        Ok(PycHeader {
            magic,
            python: Some(KnownHeader { info, flags, kind }),
        })
    }

    /// Length of the header, i.e. where the marshalled code starts.
    pub fn size(&self) -> usize {
        self.python
            .as_ref()
            .map_or(MAGIC_LEN, |k| k.info.layout.size())
    }
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        word.copy_from_slice(src);
    }
    u32::from_le_bytes(word)
}

fn hash_at(bytes: &[u8], at: usize) -> [u8; 8] {
    let mut hash = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        hash.copy_from_slice(src);
    }
    hash
}

/// Reads the fields after the magic; `bytes` is at least `layout.size()` long.
fn parse_fields(layout: HeaderLayout, bytes: &[u8]) -> Result<(u32, PycKind), PycError> {
    Ok(match layout {
        HeaderLayout::MagicMtime => (
            0,
            PycKind::Timestamp {
                mtime: le32(bytes, 4),
                source_size: None,
            },
        ),
        HeaderLayout::MagicMtimeSize => (
            0,
            PycKind::Timestamp {
                mtime: le32(bytes, 4),
                source_size: Some(le32(bytes, 8)),
            },
        ),
        HeaderLayout::Pep552 => {
            let flags = le32(bytes, 4);
            if flags & !KNOWN_FLAGS != 0 {
                return Err(PycError::InvalidFlags { flags });
            }
            // CPython looks only at bit 0 to choose; bit 1 alone means timestamp.
            let kind = if flags & FLAG_HASH_BASED == 0 {
                PycKind::Timestamp {
                    mtime: le32(bytes, 8),
                    source_size: Some(le32(bytes, 12)),
                }
            } else if flags & FLAG_CHECK_SOURCE != 0 {
                PycKind::CheckedHash {
                    hash: hash_at(bytes, 8),
                }
            } else {
                PycKind::UncheckedHash {
                    hash: hash_at(bytes, 8),
                }
            };
            (flags, kind)
        }
    })
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PycError {
    #[error("truncated header: {needed} bytes needed, file has {actual}")]
    Truncated { needed: usize, actual: usize },
    #[error("invalid flags {flags:#x} (CPython accepts only bits 0 and 1)")]
    InvalidFlags { flags: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::magic::PyVersion;

    fn header(magic: u16, words: &[u32]) -> Vec<u8> {
        let mut v = magic.to_le_bytes().to_vec();
        v.extend_from_slice(b"\r\n");
        for w in words {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v
    }

    #[test]
    fn pep552_timestamp() {
        let h = PycHeader::parse(&header(3495, &[0, 1_700_000_000, 1234])).unwrap();
        let k = h.python.unwrap();
        assert_eq!(k.info.version, PyVersion::new(3, 11));
        assert_eq!(k.flags, 0);
        assert_eq!(
            k.kind,
            PycKind::Timestamp {
                mtime: 1_700_000_000,
                source_size: Some(1234)
            }
        );
    }

    #[test]
    fn pep552_hashes_and_flag_two() {
        let h = PycHeader::parse(&header(3571, &[3, 0x0403_0201, 0x0807_0605])).unwrap();
        assert_eq!(
            h.python.unwrap().kind,
            PycKind::CheckedHash {
                hash: [1, 2, 3, 4, 5, 6, 7, 8]
            }
        );
        let h = PycHeader::parse(&header(3571, &[1, 0, 0])).unwrap();
        assert_eq!(h.python.unwrap().kind.as_str(), "unchecked-hash");
        // Bit 1 without bit 0: CPython treats it as a timestamp pyc.
        let h = PycHeader::parse(&header(3571, &[2, 5, 6])).unwrap();
        let k = h.python.unwrap();
        assert_eq!(
            (k.flags, k.kind),
            (
                2,
                PycKind::Timestamp {
                    mtime: 5,
                    source_size: Some(6)
                }
            )
        );
    }

    #[test]
    fn invalid_flags_and_truncation() {
        let e = PycHeader::parse(&header(3531, &[4, 0, 0])).unwrap_err();
        assert!(matches!(e, PycError::InvalidFlags { flags: 4 }), "{e}");
        let e = PycHeader::parse(&header(3531, &[0, 0])).unwrap_err();
        assert!(
            matches!(
                e,
                PycError::Truncated {
                    needed: 16,
                    actual: 12
                }
            ),
            "{e}"
        );
        let e = PycHeader::parse(b"\x33\x0d").unwrap_err();
        assert!(
            matches!(
                e,
                PycError::Truncated {
                    needed: 4,
                    actual: 2
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn old_layouts() {
        let h = PycHeader::parse(&header(3379, &[7, 8])).unwrap();
        assert_eq!(h.size(), 12);
        assert_eq!(
            h.python.unwrap().kind,
            PycKind::Timestamp {
                mtime: 7,
                source_size: Some(8)
            }
        );
        let h = PycHeader::parse(&header(62211, &[9])).unwrap();
        assert_eq!(h.size(), 8);
        assert_eq!(
            h.python.unwrap().kind,
            PycKind::Timestamp {
                mtime: 9,
                source_size: None
            }
        );
    }

    #[test]
    fn unknown_magic_is_not_an_error() {
        let h = PycHeader::parse(&header(3650, &[0, 0, 0])).unwrap();
        assert_eq!(
            (h.python.clone(), h.size(), h.magic),
            (None, 4, [0x42, 0x0e, b'\r', b'\n'])
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = crate::testutil::XorShift::new(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let x = rng.next_u64();
            let len = (x % 24) as usize;
            let mut buf: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8).collect();
            if len >= 4 && x & 1 == 0 {
                // Steer half the inputs onto real magics.
                let real = [3379u16, 3394, 3495, 3571, 62211][(x >> 3) as usize % 5];
                buf[..4].copy_from_slice(&header(real, &[])[..4]);
            }
            if let Ok(h) = PycHeader::parse(&buf) {
                assert!(h.size() <= buf.len());
            }
        }
    }
}
