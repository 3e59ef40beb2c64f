//! A bounded reader of zip archives, for the zips CPython imports from
//! (`lib/python3XY.zip`, zips named in `.pth` files).
//!
//! It reads what `zipimport` reads (`Lib/zipimport.py`, `_read_directory`
//! and `_get_data`): the end-of-central-directory record, found within the
//! last 64 KiB + 22 bytes; the central directory, whose offsets are relative
//! to where the archive starts (data may be prepended, as in self-extracting
//! zips); each member's local header, for where its data begins; stored or
//! deflated data. Unlike `zipimport` it trusts nothing it reads:
//!
//! - every offset and length is checked against the input before use, and
//!   an entry count must fit in the central directory's size before
//!   anything is allocated for it ([`ZIP_MAX_ENTRIES`] at most);
//! - members whose bytes overlap another's (the classic non-recursive zip
//!   bomb, where thousands of entries share one deflate stream) or the
//!   central directory make the whole archive an error;
//! - a member is inflated only up to the size the directory declares, which
//!   must be at most [`ZIP_MAX_MEMBER`], and the members read through one
//!   [`Budget`] at most [`ZIP_MAX_TOTAL`] bytes together; a member whose data
//!   inflates to another size, or fails its CRC-32, is an error;
//! - names are kept as bytes; one that escapes the archive (absolute,
//!   `..`, a NUL) is flagged ([`Member::escapes`]) for the caller to report.
//!
//! Zip64, encryption and methods other than stored and deflate are refused
//! by name, as `zipimport` (before 3.13) refuses them.

use std::collections::HashMap;
use std::io::Read;

use crate::limits::{ZIP_MAX_ENTRIES, ZIP_MAX_MEMBER, ZIP_MAX_TOTAL};

/// `PK\x05\x06`: end of central directory record.
const EOCD_SIGNATURE: [u8; 4] = *b"PK\x05\x06";
/// `PK\x01\x02`: central directory file header.
const CENTRAL_SIGNATURE: [u8; 4] = *b"PK\x01\x02";
/// `PK\x03\x04`: local file header.
const LOCAL_SIGNATURE: [u8; 4] = *b"PK\x03\x04";
/// Fixed part of the end of central directory record.
const EOCD_SIZE: usize = 22;
/// Fixed part of a central directory file header.
const CENTRAL_SIZE: usize = 46;
/// Fixed part of a local file header.
const LOCAL_SIZE: usize = 30;
/// Longest archive comment: the record is searched for within this many
/// bytes (plus its own size) of the end.
const MAX_COMMENT: usize = 0xFFFF;
/// General purpose flag: the member is encrypted.
const FLAG_ENCRYPTED: u16 = 0x1;
/// General purpose flag: the name is UTF-8 (otherwise cp437).
pub const FLAG_UTF8: u16 = 0x800;
/// Compression method: stored.
pub const METHOD_STORED: u16 = 0;
/// Compression method: deflate.
pub const METHOD_DEFLATE: u16 = 8;
/// A 16-bit or 32-bit field holding this says "see the zip64 record".
const ZIP64_U16: u16 = 0xFFFF;
const ZIP64_U32: u32 = 0xFFFF_FFFF;

/// Why an archive or a member cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZipError {
    #[error("no end of central directory record: not a zip, or truncated")]
    NoEndRecord,
    #[error("zip64 archive (pyvet reads zips without zip64 records only)")]
    Zip64,
    #[error("multi-disk archive")]
    MultiDisk,
    #[error("central directory at {offset} (+{size} bytes) lies outside the {len}-byte file")]
    DirectoryOutOfBounds { offset: u64, size: u64, len: u64 },
    #[error("{count} entries cannot fit in a {size}-byte central directory")]
    CountMismatch { count: u64, size: u64 },
    #[error("{count} entries, more than the limit of {max}")]
    TooManyEntries { count: u64, max: u64 },
    #[error("central directory truncated at entry {index}")]
    TruncatedDirectory { index: usize },
    #[error("bad central directory signature at entry {index}")]
    BadCentralSignature { index: usize },
    #[error("member {name}: local header at {offset} out of bounds or bad signature")]
    BadLocalHeader { name: String, offset: u64 },
    #[error("member {name}: local header names it {local}")]
    LocalNameMismatch { name: String, local: String },
    #[error("member {name}: data ({size} bytes at {offset}) runs past the end of the archive")]
    DataOutOfBounds {
        name: String,
        offset: u64,
        size: u64,
    },
    #[error(
        "member {name} overlaps member {other}: a zip bomb's shared data, or a corrupt archive"
    )]
    Overlap { name: String, other: String },
    #[error("member {name} overlaps the central directory")]
    OverlapsDirectory { name: String },
    #[error("member {name} is encrypted")]
    Encrypted { name: String },
    #[error(
        "member {name}: compression method {method} (zipimport reads only stored and deflate)"
    )]
    UnsupportedMethod { name: String, method: u16 },
    #[error("member {name}: declares {size} bytes uncompressed, more than the limit of {max}")]
    MemberTooLarge { name: String, size: u64, max: u64 },
    #[error("member {name}: the members read exceed {max} bytes together")]
    TotalTooLarge { name: String, max: u64 },
    #[error("member {name}: stored data of {compressed} bytes declares {size} bytes")]
    StoredSizeMismatch {
        name: String,
        compressed: u64,
        size: u64,
    },
    #[error("member {name}: inflates to {actual} bytes, the directory says {declared}")]
    SizeMismatch {
        name: String,
        declared: u64,
        actual: String,
    },
    #[error("member {name}: deflate stream is corrupt ({why})")]
    Inflate { name: String, why: String },
    #[error("member {name}: CRC-32 {actual:08x}, the directory says {declared:08x}")]
    Crc {
        name: String,
        declared: u32,
        actual: u32,
    },
}

impl ZipError {
    /// The member the error is about, when it is about one.
    pub fn member(&self) -> Option<&str> {
        use ZipError::*;
        match self {
            BadLocalHeader { name, .. }
            | LocalNameMismatch { name, .. }
            | DataOutOfBounds { name, .. }
            | Overlap { name, .. }
            | OverlapsDirectory { name }
            | Encrypted { name }
            | UnsupportedMethod { name, .. }
            | MemberTooLarge { name, .. }
            | TotalTooLarge { name, .. }
            | StoredSizeMismatch { name, .. }
            | SizeMismatch { name, .. }
            | Inflate { name, .. }
            | Crc { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Whether the error is about decompressed size (a bomb), not structure.
    pub fn is_bomb(&self) -> bool {
        matches!(
            self,
            ZipError::Overlap { .. }
                | ZipError::MemberTooLarge { .. }
                | ZipError::TotalTooLarge { .. }
                | ZipError::TooManyEntries { .. }
        )
    }
}

/// One member, from its central directory entry and local header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The name as stored (bytes; UTF-8 when [`FLAG_UTF8`] is set, cp437
    /// otherwise, which is the same for ASCII).
    pub name: Vec<u8>,
    pub flags: u16,
    pub method: u16,
    /// MS-DOS time and date (local time of whoever wrote the zip).
    pub dos_time: u16,
    pub dos_date: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    /// Uncompressed size, as the directory declares it.
    pub size: u64,
    /// Absolute offset of the local header in the input.
    pub header_offset: u64,
    /// Absolute offset of the member's data in the input.
    pub data_offset: u64,
}

impl Member {
    /// The name for messages (lossy UTF-8).
    pub fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// Whether the name would leave the archive if extracted: absolute,
    /// with a `..` component, a backslash-separated path, or a NUL.
    pub fn escapes(&self) -> bool {
        let n = &self.name;
        n.is_empty()
            || n[0] == b'/'
            || n.contains(&0)
            || n.contains(&b'\\')
            || n.split(|&b| b == b'/').any(|c| c == b"..")
    }

    pub fn is_dir(&self) -> bool {
        self.name.last() == Some(&b'/')
    }
}

/// A parsed archive over its bytes. Members are in directory order.
#[derive(Debug)]
pub struct Archive<'a> {
    data: &'a [u8],
    pub members: Vec<Member>,
    /// Index of each name's last member, for lookups by name.
    by_name: HashMap<Vec<u8>, usize>,
}

/// Decompressed bytes left for one archive's reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    left: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            left: ZIP_MAX_TOTAL,
        }
    }
}

impl Budget {
    /// A budget of `bytes` (at most [`ZIP_MAX_TOTAL`]).
    pub fn new(bytes: u64) -> Self {
        Budget {
            left: bytes.min(ZIP_MAX_TOTAL),
        }
    }

    /// Bytes still allowed.
    pub fn left(&self) -> u64 {
        self.left
    }
}

fn u16_at(d: &[u8], at: usize) -> u16 {
    d.get(at..at + 2)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    d.get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The fields of the end of central directory record.
struct EndRecord {
    /// Where the record starts in the input.
    position: usize,
    count: u64,
    dir_size: u64,
    dir_offset: u64,
}

/// Finds the end record: at the very end, or (with a comment) the last
/// signature within the last 64 KiB + 22 bytes, as `zipimport` does.
fn end_record(data: &[u8]) -> Result<EndRecord, ZipError> {
    if data.len() < EOCD_SIZE {
        return Err(ZipError::NoEndRecord);
    }
    let start = data.len().saturating_sub(MAX_COMMENT + EOCD_SIZE);
    let position = data[start..data.len() - EOCD_SIZE + 4]
        .windows(4)
        .rposition(|w| w == EOCD_SIGNATURE)
        .map(|p| start + p)
        .ok_or(ZipError::NoEndRecord)?;
    let r = &data[position..];
    let (disk, dir_disk) = (u16_at(r, 4), u16_at(r, 6));
    let (on_disk, count) = (u16_at(r, 8), u16_at(r, 10));
    let (dir_size, dir_offset) = (u32_at(r, 12), u32_at(r, 16));
    if count == ZIP64_U16 || dir_size == ZIP64_U32 || dir_offset == ZIP64_U32 {
        return Err(ZipError::Zip64);
    }
    if disk != 0 || dir_disk != 0 || on_disk != count {
        return Err(ZipError::MultiDisk);
    }
    Ok(EndRecord {
        position,
        count: count.into(),
        dir_size: dir_size.into(),
        dir_offset: dir_offset.into(),
    })
}

impl<'a> Archive<'a> {
    /// Parses the directory and every local header, checking bounds,
    /// counts and overlaps. Reads no member data.
    pub fn parse(data: &'a [u8]) -> Result<Archive<'a>, ZipError> {
        let end = end_record(data)?;
        let len = data.len() as u64;
        // Bytes before the archive proper (zipimport's arc_offset).
        let prepended = (end.position as u64)
            .checked_sub(end.dir_offset + end.dir_size)
            .ok_or(ZipError::DirectoryOutOfBounds {
                offset: end.dir_offset,
                size: end.dir_size,
                len,
            })?;
        if end.count > ZIP_MAX_ENTRIES {
            return Err(ZipError::TooManyEntries {
                count: end.count,
                max: ZIP_MAX_ENTRIES,
            });
        }
        if end.count * CENTRAL_SIZE as u64 > end.dir_size {
            return Err(ZipError::CountMismatch {
                count: end.count,
                size: end.dir_size,
            });
        }
        let dir_start = (prepended + end.dir_offset) as usize;
        let dir = &data[dir_start..dir_start + end.dir_size as usize];
        let mut members = Vec::with_capacity(end.count as usize);
        let mut at = 0;
        for index in 0..end.count as usize {
            let (m, used) = central_entry(dir, at, index, prepended)?;
            at += used;
            members.push(local_header(data, m)?);
        }
        let by_name = members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        let archive = Archive {
            data,
            members,
            by_name,
        };
        archive.check_overlaps(dir_start as u64, end.position as u64)?;
        Ok(archive)
    }

    /// No two members' header-and-data ranges, nor a member and the
    /// directory (up to the end record), may share a byte.
    fn check_overlaps(&self, dir_start: u64, dir_end: u64) -> Result<(), ZipError> {
        let mut spans: Vec<(u64, u64, usize)> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.header_offset, m.data_offset + m.compressed_size, i))
            .collect();
        spans.sort_unstable();
        for w in spans.windows(2) {
            if w[1].0 < w[0].1 {
                return Err(ZipError::Overlap {
                    name: self.members[w[1].2].display_name(),
                    other: self.members[w[0].2].display_name(),
                });
            }
        }
        match spans.iter().find(|s| s.0 < dir_end && dir_start < s.1) {
            Some(s) => Err(ZipError::OverlapsDirectory {
                name: self.members[s.2].display_name(),
            }),
            None => Ok(()),
        }
    }

    /// The member named exactly `name`, if any (the last one, as
    /// `zipimport`'s dictionary keeps the last entry of a duplicate name).
    pub fn find(&self, name: &[u8]) -> Option<&Member> {
        self.by_name.get(name).map(|&i| &self.members[i])
    }

    /// Decompresses one member, checking its declared size against the
    /// limits and the budget first, and its size and CRC-32 after.
    pub fn read(&self, m: &Member, budget: &mut Budget) -> Result<Vec<u8>, ZipError> {
        let name = Member::display_name;
        if m.flags & FLAG_ENCRYPTED != 0 {
            return Err(ZipError::Encrypted { name: name(m) });
        }
        if m.size > ZIP_MAX_MEMBER {
            return Err(ZipError::MemberTooLarge {
                name: name(m),
                size: m.size,
                max: ZIP_MAX_MEMBER,
            });
        }
        budget.left = budget
            .left
            .checked_sub(m.size)
            .ok_or_else(|| ZipError::TotalTooLarge {
                name: name(m),
                max: ZIP_MAX_TOTAL,
            })?;
        // In bounds: checked by parse.
        let raw = &self.data[m.data_offset as usize..(m.data_offset + m.compressed_size) as usize];
        let out = match m.method {
            METHOD_STORED if m.compressed_size != m.size => {
                return Err(ZipError::StoredSizeMismatch {
                    name: name(m),
                    compressed: m.compressed_size,
                    size: m.size,
                })
            }
            METHOD_STORED => raw.to_vec(),
            METHOD_DEFLATE => inflate(raw, m)?,
            method => {
                return Err(ZipError::UnsupportedMethod {
                    name: name(m),
                    method,
                })
            }
        };
        let mut crc = flate2::Crc::new();
        crc.update(&out);
        if crc.sum() != m.crc32 {
            return Err(ZipError::Crc {
                name: name(m),
                declared: m.crc32,
                actual: crc.sum(),
            });
        }
        Ok(out)
    }
}

/// Inflates exactly `m.size` bytes (one more is read to see a longer stream).
fn inflate(raw: &[u8], m: &Member) -> Result<Vec<u8>, ZipError> {
    // Capacity from the declared size, which the caller capped.
    let mut out = Vec::with_capacity(m.size as usize);
    flate2::read::DeflateDecoder::new(raw)
        .take(m.size + 1)
        .read_to_end(&mut out)
        .map_err(|e| ZipError::Inflate {
            name: m.display_name(),
            why: e.to_string(),
        })?;
    if out.len() as u64 != m.size {
        let actual = match out.len() as u64 > m.size {
            true => format!("more than {}", m.size),
            false => out.len().to_string(),
        };
        return Err(ZipError::SizeMismatch {
            name: m.display_name(),
            declared: m.size,
            actual,
        });
    }
    Ok(out)
}

/// One central directory entry at `at` of `dir`; returns it (offsets made
/// absolute with `prepended`) and how many bytes it used.
fn central_entry(
    dir: &[u8],
    at: usize,
    index: usize,
    prepended: u64,
) -> Result<(Member, usize), ZipError> {
    let e = dir
        .get(at..at + CENTRAL_SIZE)
        .ok_or(ZipError::TruncatedDirectory { index })?;
    if e[..4] != CENTRAL_SIGNATURE {
        return Err(ZipError::BadCentralSignature { index });
    }
    let name_len = usize::from(u16_at(e, 28));
    let extra_len = usize::from(u16_at(e, 30));
    let comment_len = usize::from(u16_at(e, 32));
    let used = CENTRAL_SIZE + name_len + extra_len + comment_len;
    let name = dir
        .get(at + CENTRAL_SIZE..at + CENTRAL_SIZE + name_len)
        .filter(|_| at + used <= dir.len())
        .ok_or(ZipError::TruncatedDirectory { index })?;
    let (csize, size, offset) = (u32_at(e, 20), u32_at(e, 24), u32_at(e, 42));
    if csize == ZIP64_U32 || size == ZIP64_U32 || offset == ZIP64_U32 {
        return Err(ZipError::Zip64);
    }
    let member = Member {
        name: name.to_vec(),
        flags: u16_at(e, 8),
        method: u16_at(e, 10),
        dos_time: u16_at(e, 12),
        dos_date: u16_at(e, 14),
        crc32: u32_at(e, 16),
        compressed_size: csize.into(),
        size: size.into(),
        header_offset: prepended + u64::from(offset),
        data_offset: 0,
    };
    Ok((member, used))
}

/// Reads the member's local header: its signature, its name (which must
/// be the directory's), and where the data starts; the data must lie
/// inside the input.
fn local_header(data: &[u8], mut m: Member) -> Result<Member, ZipError> {
    let bad = |m: &Member| ZipError::BadLocalHeader {
        name: m.display_name(),
        offset: m.header_offset,
    };
    let start = usize::try_from(m.header_offset).map_err(|_| bad(&m))?;
    let h = match data.get(start..start.saturating_add(LOCAL_SIZE)) {
        Some(h) if h[..4] == LOCAL_SIGNATURE => h,
        _ => return Err(bad(&m)),
    };
    let name_len = usize::from(u16_at(h, 26));
    let extra_len = usize::from(u16_at(h, 28));
    let name_at = start + LOCAL_SIZE;
    let local_name = data
        .get(name_at..name_at + name_len)
        .ok_or_else(|| bad(&m))?;
    if local_name != m.name.as_slice() {
        return Err(ZipError::LocalNameMismatch {
            name: m.display_name(),
            local: String::from_utf8_lossy(local_name).into_owned(),
        });
    }
    m.data_offset = (name_at + name_len + extra_len) as u64;
    if m.data_offset + m.compressed_size > data.len() as u64 {
        return Err(ZipError::DataOutOfBounds {
            name: m.display_name(),
            offset: m.data_offset,
            size: m.compressed_size,
        });
    }
    Ok(m)
}

/// Seconds since the epoch of an MS-DOS date and time read as UTC,
/// normalised the way C's `mktime` normalises out-of-range fields (month 0
/// is December of the year before; day 0 the last of the month before), as
/// `zipimport._parse_dostime` gets them.
pub fn dos_time_utc(date: u16, time: u16) -> i64 {
    let year = i64::from(date >> 9) + 1980;
    let month = i64::from((date >> 5) & 0xF);
    let day = i64::from(date & 0x1F);
    let (hour, min, sec) = (
        i64::from(time >> 11),
        i64::from((time >> 5) & 0x3F),
        i64::from(time & 0x1F) * 2,
    );
    // Month 1..=12 from any month number, carrying into the year.
    let m0 = month - 1;
    let (y, m) = (year + m0.div_euclid(12), m0.rem_euclid(12) + 1);
    let days = days_from_civil(y, m, 1) + day - 1;
    days * 86_400 + hour * 3600 + min * 60 + sec
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times() {
        // 1980-01-01 00:00:00
        assert_eq!(dos_time_utc((1 << 5) | 1, 0), 315_532_800);
        // 2024-02-29 13:45:58: date (44 << 9 | 2 << 5 | 29), time (13 << 11 | 45 << 5 | 29)
        assert_eq!(
            dos_time_utc((44 << 9) | (2 << 5) | 29, (13 << 11) | (45 << 5) | 29),
            1_709_214_358
        );
        // Month 0, day 0: 1979-11-30, as mktime normalises it.
        assert_eq!(dos_time_utc(0, 0), 312_768_000);
    }

    #[test]
    fn not_a_zip() {
        assert_eq!(Archive::parse(b"").unwrap_err(), ZipError::NoEndRecord);
        assert_eq!(
            Archive::parse(&[0u8; 100]).unwrap_err(),
            ZipError::NoEndRecord
        );
    }

    #[test]
    fn empty_archive() {
        let mut z = EOCD_SIGNATURE.to_vec();
        z.extend_from_slice(&[0; 18]);
        assert!(Archive::parse(&z).unwrap().members.is_empty());
    }

    #[test]
    fn escaping_names() {
        let m = |n: &[u8]| Member {
            name: n.to_vec(),
            flags: 0,
            method: 0,
            dos_time: 0,
            dos_date: 0,
            crc32: 0,
            compressed_size: 0,
            size: 0,
            header_offset: 0,
            data_offset: 0,
        };
        assert!(m(b"../x.py").escapes());
        assert!(m(b"a/../../x.py").escapes());
        assert!(m(b"/etc/x.py").escapes());
        assert!(m(b"a\\x.py").escapes());
        assert!(m(b"").escapes());
        assert!(!m(b"json/decoder.pyc").escapes());
        assert!(!m(b"a..b/x.py").escapes());
    }
}
