//! A streaming tar reader for `.deb` members and image layers, bounded in memory.
//!
//! The `tar` crate reads GNU long names and PAX headers into memory whatever
//! their declared size; in a compressed member that size costs an attacker
//! nothing. This reader reads headers one 512-byte block at a time, caps
//! every extension record (`MAX_PATH` for GNU long names/links,
//! `MAX_TAR_EXTENDED_HEADER` for PAX), and never holds file data unless the
//! caller asks for it with a cap.
//!
//! Accepted: v7, POSIX ustar (with `prefix`), GNU (`L`/`K` long names,
//! base-256 numbers) and PAX `x` records (`path`, `linkpath`, `size`,
//! `uid`, `gid`, `uname`, `gname`, `mtime`, `SCHILY.xattr.*`). PAX global
//! `g` records are read and ignored. Other entry types (sparse,
//! multi-volume, ...) are refused.

use std::io::{self, Read};

use crate::limits::{MAX_PATH, MAX_TAR_EXTENDED_HEADER};

/// Size of a tar header and of the unit data is padded to.
pub const BLOCK: usize = 512;

/// Header field positions (POSIX ustar).
mod field {
    use std::ops::Range;
    pub const NAME: Range<usize> = 0..100;
    pub const MODE: Range<usize> = 100..108;
    pub const UID: Range<usize> = 108..116;
    pub const GID: Range<usize> = 116..124;
    pub const SIZE: Range<usize> = 124..136;
    pub const MTIME: Range<usize> = 136..148;
    pub const CHKSUM: Range<usize> = 148..156;
    pub const TYPEFLAG: usize = 156;
    pub const LINKNAME: Range<usize> = 157..257;
    pub const MAGIC: Range<usize> = 257..263;
    pub const UNAME: Range<usize> = 265..297;
    pub const GNAME: Range<usize> = 297..329;
    pub const DEVMAJOR: Range<usize> = 329..337;
    pub const DEVMINOR: Range<usize> = 337..345;
    pub const PREFIX: Range<usize> = 345..500;
}

const USTAR_MAGIC: &[u8] = b"ustar\0";
/// Permission, setuid/setgid and sticky bits of a tar mode field.
const PERMISSION_BITS: u32 = 0o7777;
/// Marks a base-256 (GNU binary) numeric field.
const BASE256_FLAG: u8 = 0x80;

/// What a tar entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    File,
    HardLink,
    Symlink,
    CharDevice,
    BlockDevice,
    Dir,
    Fifo,
}

impl EntryType {
    fn from_flag(flag: u8) -> Option<Self> {
        Some(match flag {
            b'0' | b'\0' | b'7' => EntryType::File,
            b'1' => EntryType::HardLink,
            b'2' => EntryType::Symlink,
            b'3' => EntryType::CharDevice,
            b'4' => EntryType::BlockDevice,
            b'5' => EntryType::Dir,
            b'6' => EntryType::Fifo,
            _ => return None,
        })
    }

    /// The `st_mode` file-type bits for this entry (a hard link is a file).
    pub fn mode_bits(self) -> u32 {
        match self {
            EntryType::File | EntryType::HardLink => 0o100000,
            EntryType::Symlink => 0o120000,
            EntryType::CharDevice => 0o020000,
            EntryType::BlockDevice => 0o060000,
            EntryType::Dir => 0o040000,
            EntryType::Fifo => 0o010000,
        }
    }
}

/// One tar entry's metadata; names are raw bytes as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: Vec<u8>,
    pub kind: EntryType,
    /// Permission bits only (`0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: i64,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    pub link: Vec<u8>,
    /// `(major, minor)` of a character or block device.
    pub dev: (u64, u64),
    /// Extended attributes from PAX `SCHILY.xattr.NAME` records.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Why a tar stream was refused; `offset` is the header's position in the
/// decompressed stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TarError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("header at offset {offset}: stream ends inside the header or its data")]
    Truncated { offset: u64 },
    #[error("header at offset {offset}: checksum is {stored}, the header sums to {computed}")]
    BadChecksum {
        offset: u64,
        stored: u64,
        computed: u64,
    },
    #[error("header at offset {offset}: {field} field {value:?} is not a valid number")]
    BadNumber {
        offset: u64,
        field: &'static str,
        value: String,
    },
    #[error("header at offset {offset}: unsupported entry type {flag:?}")]
    UnsupportedType { offset: u64, flag: char },
    #[error(
        "header at offset {offset}: extension record is {size} bytes, more than the limit of {max}"
    )]
    ExtensionTooLarge { offset: u64, size: u64, max: u64 },
    #[error("header at offset {offset}: malformed PAX record: {why}")]
    BadPax { offset: u64, why: &'static str },
    #[error("header at offset {offset}: path is {len} bytes long, more than the limit of {max}")]
    PathTooLong { offset: u64, len: usize, max: usize },
    #[error("entry at offset {offset}: {size} bytes of data, more than the limit of {max}")]
    DataTooLarge { offset: u64, size: u64, max: u64 },
}

/// Overrides collected from GNU long-name and PAX records for the next entry.
#[derive(Debug, Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<i64>,
    uname: Option<Vec<u8>>,
    gname: Option<Vec<u8>>,
    xattrs: Vec<(String, Vec<u8>)>,
}

/// Reads entries from a tar stream one after the other.
pub struct Reader<R> {
    inner: R,
    /// Position in the stream (for error messages).
    offset: u64,
    /// Unread data and padding of the current entry.
    unread: u64,
    /// Data bytes of the current entry that `read_data` may return.
    data_left: u64,
    current_offset: u64,
    /// Where the current entry's data starts in the stream.
    data_offset: u64,
    done: bool,
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            offset: 0,
            unread: 0,
            data_left: 0,
            current_offset: 0,
            data_offset: 0,
            done: false,
        }
    }

    /// The next entry, or `None` at the end-of-archive block (or a clean
    /// end of stream at a header boundary).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        self.skip_unread()?;
        let mut pending = Pending::default();
        loop {
            if self.done {
                return Ok(None);
            }
            let header_offset = self.offset;
            let Some(header) = self.read_header()? else {
                self.done = true;
                return Ok(None);
            };
            let size = octal_or_base256(&header[field::SIZE], header_offset, "size")?;
            let flag = header[field::TYPEFLAG];
            match flag {
                b'L' => {
                    let data = self.read_extension(size, MAX_PATH as u64 + 1)?;
                    pending.path = Some(c_string(&data));
                }
                b'K' => {
                    let data = self.read_extension(size, MAX_PATH as u64 + 1)?;
                    pending.link = Some(c_string(&data));
                }
                b'x' => {
                    let data = self.read_extension(size, MAX_TAR_EXTENDED_HEADER)?;
                    apply_pax(&data, &mut pending, header_offset)?;
                }
                b'g' => {
                    self.read_extension(size, MAX_TAR_EXTENDED_HEADER)?;
                }
                _ => return self.entry(&header, header_offset, size, pending).map(Some),
            }
        }
    }

    /// Reads the current entry's data, refusing more than `max` bytes.
    pub fn read_data(&mut self, max: u64) -> Result<Vec<u8>, TarError> {
        if self.data_left > max {
            return Err(TarError::DataTooLarge {
                offset: self.current_offset,
                size: self.data_left,
                max,
            });
        }
        let mut data = Vec::new();
        let want = self.data_left;
        self.read_exact_into(want, &mut data)?;
        self.data_left = 0;
        self.unread -= want;
        Ok(data)
    }

    /// Streams the current entry's data (at most its size) without holding
    /// it in memory; whatever is left unread is skipped by `next_entry`.
    pub fn data(&mut self) -> DataReader<'_, R> {
        DataReader { tar: self }
    }

    /// The stream, positioned after whatever was read last.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Where the current entry's header starts in the stream.
    pub fn entry_offset(&self) -> u64 {
        self.current_offset
    }

    /// Where the current entry's data starts in the stream.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    fn entry(
        &mut self,
        header: &[u8; BLOCK],
        offset: u64,
        header_size: u64,
        pending: Pending,
    ) -> Result<Entry, TarError> {
        let flag = header[field::TYPEFLAG];
        let kind = EntryType::from_flag(flag).ok_or(TarError::UnsupportedType {
            offset,
            flag: flag as char,
        })?;
        let size = pending.size.unwrap_or(header_size);
        let path = pending.path.unwrap_or_else(|| header_path(header));
        if path.len() > MAX_PATH {
            return Err(TarError::PathTooLong {
                offset,
                len: path.len(),
                max: MAX_PATH,
            });
        }
        let number = |range, name| octal_or_base256(&header[range], offset, name);
        let entry = Entry {
            path,
            kind,
            mode: number(field::MODE, "mode")? as u32 & PERMISSION_BITS,
            uid: pending.uid.map_or_else(|| number(field::UID, "uid"), Ok)?,
            gid: pending.gid.map_or_else(|| number(field::GID, "gid"), Ok)?,
            size,
            mtime: match pending.mtime {
                Some(t) => t,
                None => i64::try_from(number(field::MTIME, "mtime")?).unwrap_or(i64::MAX),
            },
            uname: pending
                .uname
                .unwrap_or_else(|| c_string(&header[field::UNAME])),
            gname: pending
                .gname
                .unwrap_or_else(|| c_string(&header[field::GNAME])),
            link: pending
                .link
                .unwrap_or_else(|| c_string(&header[field::LINKNAME])),
            dev: device(header, kind, offset)?,
            xattrs: pending.xattrs,
        };
        let data = if kind == EntryType::File { size } else { 0 };
        self.current_offset = offset;
        self.data_offset = self.offset;
        self.data_left = data;
        self.unread = padded(data);
        Ok(entry)
    }

    /// Where the current entry's data, padding included, ends in the
    /// decompressed stream: how much must be read to get past it.
    pub fn entry_end(&self) -> u64 {
        self.offset.saturating_add(self.unread)
    }

    /// Reads one header block; `None` for a zero block or a clean EOF.
    fn read_header(&mut self) -> Result<Option<[u8; BLOCK]>, TarError> {
        let offset = self.offset;
        let mut block = [0u8; BLOCK];
        let mut filled = 0;
        while filled < BLOCK {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => return Err(TarError::Truncated { offset }),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.offset += BLOCK as u64;
        if block.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        verify_checksum(&block, offset)?;
        Ok(Some(block))
    }

    /// Reads an extension record's data (capped) and its padding.
    fn read_extension(&mut self, size: u64, max: u64) -> Result<Vec<u8>, TarError> {
        let offset = self.offset - BLOCK as u64;
        self.current_offset = offset;
        if size > max {
            return Err(TarError::ExtensionTooLarge { offset, size, max });
        }
        let mut data = Vec::new();
        self.read_exact_into(size, &mut data)?;
        self.unread = padded(size) - size;
        self.skip_unread()?;
        Ok(data)
    }

    fn read_exact_into(&mut self, n: u64, out: &mut Vec<u8>) -> Result<(), TarError> {
        let offset = self.current_offset;
        let got = (&mut self.inner).take(n).read_to_end(out)? as u64;
        self.offset += got;
        if got < n {
            return Err(TarError::Truncated { offset });
        }
        Ok(())
    }

    fn skip_unread(&mut self) -> Result<(), TarError> {
        let n = self.unread;
        let skipped = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.offset += skipped;
        self.unread = 0;
        self.data_left = 0;
        if skipped < n {
            return Err(TarError::Truncated {
                offset: self.current_offset,
            });
        }
        Ok(())
    }
}

impl<R: Read + io::Seek> Reader<R> {
    /// [`Reader::next_entry`], seeking past the current entry's unread data
    /// instead of reading it (indexing an archive on disk).
    pub fn next_entry_seeking(&mut self) -> Result<Option<Entry>, TarError> {
        if self.unread > 0 {
            let n = i64::try_from(self.unread).map_err(|_| TarError::Truncated {
                offset: self.current_offset,
            })?;
            self.inner.seek(io::SeekFrom::Current(n))?;
            self.offset += self.unread;
            self.unread = 0;
            self.data_left = 0;
        }
        self.next_entry()
    }
}

/// Reads the current entry's data; see [`Reader::data`].
pub struct DataReader<'a, R> {
    tar: &'a mut Reader<R>,
}

impl<R: Read> Read for DataReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let t = &mut *self.tar;
        let want = buf
            .len()
            .min(usize::try_from(t.data_left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = t.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                TarError::Truncated {
                    offset: t.current_offset,
                },
            ));
        }
        t.offset += n as u64;
        t.data_left -= n as u64;
        t.unread -= n as u64;
        Ok(n)
    }
}

/// The device numbers of a device entry (0, 0 for any other).
fn device(header: &[u8; BLOCK], kind: EntryType, offset: u64) -> Result<(u64, u64), TarError> {
    if !matches!(kind, EntryType::CharDevice | EntryType::BlockDevice) {
        return Ok((0, 0));
    }
    Ok((
        octal_or_base256(&header[field::DEVMAJOR], offset, "devmajor")?,
        octal_or_base256(&header[field::DEVMINOR], offset, "devminor")?,
    ))
}

/// `n` rounded up to a whole number of blocks.
fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// Bytes up to the first NUL.
fn c_string(field: &[u8]) -> Vec<u8> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

/// `prefix/name` for POSIX ustar headers, `name` otherwise (GNU tar uses
/// the prefix area for other data).
fn header_path(header: &[u8; BLOCK]) -> Vec<u8> {
    let name = c_string(&header[field::NAME]);
    let prefix = c_string(&header[field::PREFIX]);
    if &header[field::MAGIC] != USTAR_MAGIC || prefix.is_empty() {
        return name;
    }
    [prefix.as_slice(), b"/", name.as_slice()].concat()
}

/// Checks the header checksum: the unsigned byte sum with the checksum
/// field read as spaces (the historic signed sum is accepted too).
fn verify_checksum(block: &[u8; BLOCK], offset: u64) -> Result<(), TarError> {
    let stored = octal_or_base256(&block[field::CHKSUM], offset, "checksum")?;
    let spaces = field::CHKSUM.len() as u64 * u64::from(b' ');
    let outside = |i: &usize| !field::CHKSUM.contains(i);
    let unsigned: u64 = block
        .iter()
        .enumerate()
        .filter(|(i, _)| outside(i))
        .map(|(_, &b)| u64::from(b))
        .sum::<u64>()
        + spaces;
    let signed: i64 = block
        .iter()
        .enumerate()
        .filter(|(i, _)| outside(i))
        .map(|(_, &b)| i64::from(b as i8))
        .sum::<i64>()
        + spaces as i64;
    if stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed) {
        return Ok(());
    }
    Err(TarError::BadChecksum {
        offset,
        stored,
        computed: unsigned,
    })
}

/// Parses an octal field (blank/NUL padded) or a GNU base-256 field.
fn octal_or_base256(raw: &[u8], offset: u64, name: &'static str) -> Result<u64, TarError> {
    let bad = || TarError::BadNumber {
        offset,
        field: name,
        value: String::from_utf8_lossy(raw).into_owned(),
    };
    match raw.first() {
        Some(&b) if b == BASE256_FLAG => raw[1..]
            .iter()
            .try_fold(0u64, |acc, &b| {
                acc.checked_mul(256).map(|v| v | u64::from(b))
            })
            .ok_or_else(bad),
        Some(&b) if b & BASE256_FLAG != 0 => Err(bad()),
        _ => {
            let text = raw
                .iter()
                .skip_while(|&&b| b == b' ')
                .take_while(|&&b| b != b' ' && b != 0)
                .copied()
                .collect::<Vec<u8>>();
            let rest_ok = raw
                .iter()
                .skip_while(|&&b| b == b' ')
                .skip(text.len())
                .all(|&b| b == b' ' || b == 0);
            if !rest_ok || !text.iter().all(|b| (b'0'..=b'7').contains(b)) {
                return Err(bad());
            }
            text.iter()
                .try_fold(0u64, |acc, &b| {
                    acc.checked_mul(8).map(|v| v + u64::from(b - b'0'))
                })
                .ok_or_else(bad)
        }
    }
}

/// Applies PAX `x` records (`<len> <key>=<value>\n`) to the next entry.
fn apply_pax(mut data: &[u8], pending: &mut Pending, offset: u64) -> Result<(), TarError> {
    let bad = |why| TarError::BadPax { offset, why };
    while !data.is_empty() {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or(bad("no length"))?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(bad("length is not a number"))?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad("length does not match the record"));
        }
        let record = &data[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or(bad("no '=' in record"))?;
        apply_pax_record(&record[..eq], &record[eq + 1..], pending, offset)?;
        data = &data[len..];
    }
    Ok(())
}

fn apply_pax_record(
    key: &[u8],
    value: &[u8],
    p: &mut Pending,
    offset: u64,
) -> Result<(), TarError> {
    let number = || -> Result<u64, TarError> {
        std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(TarError::BadPax {
                offset,
                why: "numeric value is not a number",
            })
    };
    match key {
        b"path" => p.path = Some(value.to_vec()),
        b"linkpath" => p.link = Some(value.to_vec()),
        b"uname" => p.uname = Some(value.to_vec()),
        b"gname" => p.gname = Some(value.to_vec()),
        b"size" => p.size = Some(number()?),
        b"uid" => p.uid = Some(number()?),
        b"gid" => p.gid = Some(number()?),
        b"mtime" => p.mtime = Some(pax_time(value, offset)?),
        _ => {
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.".as_slice()) {
                let name = String::from_utf8_lossy(name).into_owned();
                p.xattrs.retain(|(n, _)| *n != name);
                p.xattrs.push((name, value.to_vec()));
            }
        }
    }
    Ok(())
}

/// A PAX time (`seconds[.fraction]`, possibly negative), cut to whole seconds.
fn pax_time(value: &[u8], offset: u64) -> Result<i64, TarError> {
    let text = std::str::from_utf8(value).unwrap_or("");
    let secs = text.split('.').next().unwrap_or("");
    secs.parse().map_err(|_| TarError::BadPax {
        offset,
        why: "mtime is not a number",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a ustar header with a valid checksum.
    fn header(name: &str, flag: u8, size: u64) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[field::MODE].copy_from_slice(b"0000644\0");
        h[field::UID].copy_from_slice(b"0001750\0");
        h[field::GID].copy_from_slice(b"0000000\0");
        if size < 1 << 33 {
            h[field::SIZE].copy_from_slice(format!("{size:011o}\0").as_bytes());
        } else {
            h[field::SIZE.start] = BASE256_FLAG;
            h[field::SIZE.end - 8..field::SIZE.end].copy_from_slice(&size.to_be_bytes());
        }
        h[field::MTIME].copy_from_slice(b"14524770400\0");
        h[field::TYPEFLAG] = flag;
        h[field::MAGIC].copy_from_slice(USTAR_MAGIC);
        h[263..265].copy_from_slice(b"00");
        h[field::UNAME][..4].copy_from_slice(b"user");
        h[field::CHKSUM].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[field::CHKSUM].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn with_data(h: [u8; BLOCK], data: &[u8]) -> Vec<u8> {
        let mut v = h.to_vec();
        v.extend(data);
        v.resize(
            v.len() + (padded(data.len() as u64) as usize - data.len()),
            0,
        );
        v
    }

    #[test]
    fn reads_entries_data_and_end() {
        let mut t = with_data(header("./a", b'0', 3), b"abc");
        t.extend(header("./d/", b'5', 0));
        t.extend([0u8; 1024]);
        let mut r = Reader::new(t.as_slice());
        let a = r.next_entry().unwrap().unwrap();
        assert_eq!(
            (a.path.as_slice(), a.kind, a.mode, a.uid, a.size, a.mtime),
            (&b"./a"[..], EntryType::File, 0o644, 1000, 3, 1_700_000_000)
        );
        assert_eq!(a.uname, b"user");
        assert_eq!(r.read_data(3).unwrap(), b"abc");
        let d = r.next_entry().unwrap().unwrap();
        assert_eq!(d.kind, EntryType::Dir);
        assert!(r.next_entry().unwrap().is_none());
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn entry_end_is_known_from_the_header_before_any_data_is_read() {
        // A header claiming 10 GiB, with none of the data behind it.
        let big_header = header("./big", b'0', 10 << 30);
        let mut r = Reader::new(big_header.as_slice());
        let big = r.next_entry().unwrap().unwrap();
        assert_eq!(big.size, 10 << 30);
        assert_eq!(r.entry_end(), BLOCK as u64 + (10 << 30));
        let mut t = with_data(header("./a", b'0', 700), &[7u8; 700]);
        t.extend(header("./d/", b'5', 0));
        let mut r = Reader::new(t.as_slice());
        r.next_entry().unwrap().unwrap();
        assert_eq!(r.entry_end(), 512 + 1024);
        r.next_entry().unwrap().unwrap();
        assert_eq!(r.entry_end(), 512 + 1024 + 512);
    }

    #[test]
    fn unread_data_is_skipped_and_data_cap_holds() {
        let mut t = with_data(header("./a", b'0', 700), &[7u8; 700]);
        t.extend(header("./b", b'0', 0));
        let mut r = Reader::new(t.as_slice());
        r.next_entry().unwrap();
        assert!(matches!(
            r.read_data(10),
            Err(TarError::DataTooLarge {
                size: 700,
                max: 10,
                ..
            })
        ));
        assert_eq!(r.next_entry().unwrap().unwrap().path, b"./b");
    }

    #[test]
    fn xattrs_streamed_data_and_offsets() {
        let rec = "44 SCHILY.xattr.security.selinux=lib_t:s0\0x\n";
        let mut t = with_data(
            header("./PaxHeaders/f", b'x', rec.len() as u64),
            rec.as_bytes(),
        );
        t.extend(with_data(header("./f", b'0', 5), b"hello"));
        t.extend(with_data(header("./g", b'0', 3), b"abc"));
        let mut r = Reader::new(t.as_slice());
        let f = r.next_entry().unwrap().unwrap();
        assert_eq!(
            f.xattrs,
            [("security.selinux".to_string(), b"lib_t:s0\0x".to_vec())]
        );
        assert_eq!((r.entry_offset(), r.data_offset()), (1024, 1536));
        let mut part = [0u8; 2];
        r.data().read_exact(&mut part).unwrap();
        assert_eq!(&part, b"he");
        // The rest of f is skipped; g's data is streamed whole.
        let g = r.next_entry().unwrap().unwrap();
        assert!(g.xattrs.is_empty());
        let mut all = Vec::new();
        r.data().read_to_end(&mut all).unwrap();
        assert_eq!(all, b"abc");
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn seeking_skips_data_without_reading_it() {
        let mut t = with_data(header("./f", b'0', 700), &[7u8; 700]);
        t.extend(with_data(header("./g", b'0', 3), b"abc"));
        let mut r = Reader::new(io::Cursor::new(t));
        assert_eq!(r.next_entry_seeking().unwrap().unwrap().path, b"./f");
        let g = r.next_entry_seeking().unwrap().unwrap();
        assert_eq!(
            (g.path.as_slice(), r.data_offset()),
            (&b"./g"[..], 512 + 1024 + 512)
        );
        assert_eq!(r.read_data(3).unwrap(), b"abc");
        assert!(r.next_entry_seeking().unwrap().is_none());
    }

    #[test]
    fn streamed_data_of_a_cut_entry_is_an_error() {
        let mut t = header("./f", b'0', 100).to_vec();
        t.extend(b"short");
        let mut r = Reader::new(t.as_slice());
        r.next_entry().unwrap().unwrap();
        let mut all = Vec::new();
        let e = r.data().read_to_end(&mut all).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn gnu_long_name_and_pax_records() {
        let long = "./".to_owned() + &"n".repeat(150);
        let mut t = with_data(
            header("././@LongLink", b'L', long.len() as u64 + 1),
            format!("{long}\0").as_bytes(),
        );
        t.extend(header("./short", b'0', 0));
        let pax = "19 path=./pax/name\n10 uid=42\n";
        t.extend(with_data(
            header("./PaxHeaders/x", b'x', pax.len() as u64),
            pax.as_bytes(),
        ));
        t.extend(header("./x", b'2', 0));
        let mut r = Reader::new(t.as_slice());
        assert_eq!(r.next_entry().unwrap().unwrap().path, long.as_bytes());
        let x = r.next_entry().unwrap().unwrap();
        assert_eq!(
            (x.path.as_slice(), x.uid, x.kind),
            (&b"./pax/name"[..], 42, EntryType::Symlink)
        );
    }

    #[test]
    fn oversized_extension_is_refused_before_reading_it() {
        let t = header("././@LongLink", b'L', 1 << 40);
        let mut r = Reader::new(&t[..]);
        assert!(matches!(
            r.next_entry(),
            Err(TarError::ExtensionTooLarge {
                size: 1099511627776,
                ..
            })
        ));
    }

    #[test]
    fn bad_checksum_truncation_and_types() {
        let mut h = header("./a", b'0', 0);
        h[0] = b'b';
        assert!(matches!(
            Reader::new(&h[..]).next_entry(),
            Err(TarError::BadChecksum { offset: 0, .. })
        ));
        let t = with_data(header("./a", b'0', 600), &[1u8; 600]);
        let mut r = Reader::new(&t[..700]);
        r.next_entry().unwrap();
        assert!(matches!(r.next_entry(), Err(TarError::Truncated { .. })));
        let h = header("./s", b'S', 0);
        assert!(matches!(
            Reader::new(&h[..]).next_entry(),
            Err(TarError::UnsupportedType { flag: 'S', .. })
        ));
        assert!(matches!(
            Reader::new(&h[..100]).next_entry(),
            Err(TarError::Truncated { offset: 0 })
        ));
    }

    #[test]
    fn numbers() {
        assert_eq!(octal_or_base256(b"0000644\0", 0, "m").unwrap(), 0o644);
        assert_eq!(octal_or_base256(b"   644 \0", 0, "m").unwrap(), 0o644);
        assert_eq!(octal_or_base256(b"\0\0\0\0", 0, "m").unwrap(), 0);
        assert_eq!(octal_or_base256(&[0x80, 0, 0, 1, 0], 0, "m").unwrap(), 256);
        assert!(octal_or_base256(b"0008", 0, "m").is_err());
        assert!(octal_or_base256(b"1 2", 0, "m").is_err());
        assert!(octal_or_base256(&[0xff, 0xff], 0, "m").is_err());
        assert!(octal_or_base256(&[0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0], 0, "m").is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = with_data(header("./a", b'0', 3), b"abc");
        let pax = "19 path=./pax/name\n";
        seed.extend(with_data(
            header("./P", b'x', pax.len() as u64),
            pax.as_bytes(),
        ));
        seed.extend(header("./x", b'1', 0));
        let mut rng = crate::testutil::XorShift::new(0x0bad_5eed_dead_beef);
        for _ in 0..3000 {
            let mut b = seed.clone();
            rng.mutate(&mut b, 3);
            b.truncate(rng.below(b.len() + 1));
            let mut r = Reader::new(b.as_slice());
            while let Ok(Some(_)) = r.next_entry() {
                let _ = r.read_data(1 << 20);
            }
        }
    }
}
