//! A streaming cpio reader for rpm payloads, bounded in memory.
//!
//! rpm writes its payload as SVR4 "newc" cpio (`070701`; `070702`, the
//! same with a data checksum, is read too) and, since rpm 4.12, switches to
//! a stripped form (`07070X` followed by an 8-hex-digit index into the
//! header's file list) when a package holds a file of 4 GiB or more: every
//! attribute, the size included, then comes from the header. The reader
//! learns those sizes from the caller ([`Reader::with_stripped_sizes`]).
//!
//! Why not a crate: the `cpio` and `cpio-archive` crates size the name buffer
//! from the header's 8-hex-digit `namesize` (up to 4 GiB) before reading it,
//! `cpio_reader` needs the whole archive in memory, and none reads rpm's
//! stripped entries. This reader checks `namesize` against
//! [`MAX_PATH`] first, never holds file data unless asked with a cap, and
//! reports every problem with the entry's offset in the stream.
//!
//! Layout (all numbers 8 ASCII hex digits): a 110-byte header, the NUL-
//! terminated name, padding to a multiple of 4 bytes, the data, padding to a
//! multiple of 4; the archive ends with an entry named `TRAILER!!!`. A
//! stripped entry is `07070X`, its index, padding to 4, then the data.

use std::io::{self, Read};

use crate::limits::MAX_PATH;

/// `newc` magic.
pub const NEWC_MAGIC: &[u8; 6] = b"070701";
/// `newc` with a data checksum.
pub const CRC_MAGIC: &[u8; 6] = b"070702";
/// rpm's stripped header: the magic and a file index only.
pub const STRIPPED_MAGIC: &[u8; 6] = b"07070X";
/// The name of the entry that ends an archive.
pub const TRAILER: &[u8] = b"TRAILER!!!";
/// Size of a `newc` header: magic and 13 hex fields.
const NEWC_HEADER: usize = 6 + 13 * 8;
/// Size of a stripped header: magic and the index.
const STRIPPED_HEADER: usize = 6 + 8;
/// Names and data start at multiples of this.
const ALIGN: u64 = 4;

/// The fields of a `newc` header, in order.
const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// One archive entry's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as stored (rpm writes `./usr/...`); empty for a stripped entry.
    pub name: Vec<u8>,
    /// For a stripped entry: its index in the header's file list.
    pub index: Option<u32>,
    pub ino: u32,
    /// Full `st_mode` (0 for a stripped entry: the header has it).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    /// Data bytes that follow the header.
    pub size: u64,
    pub rdev_major: u32,
    pub rdev_minor: u32,
}

/// Why a cpio stream was refused; `offset` is the header's position in the
/// (decompressed) stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CpioError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("header at offset {offset}: stream ends inside the header, its name or its data")]
    Truncated { offset: u64 },
    #[error("offset {offset}: stream ends before the TRAILER!!! entry")]
    NoTrailer { offset: u64 },
    #[error("header at offset {offset}: magic {found:?}, expected 070701, 070702 or 07070X")]
    BadMagic { offset: u64, found: String },
    #[error("header at offset {offset}: {field} field {value:?} is not 8 hex digits")]
    BadNumber {
        offset: u64,
        field: &'static str,
        value: String,
    },
    #[error("header at offset {offset}: name of {size} bytes (with its NUL), limit is {max}")]
    NameSize { offset: u64, size: u32, max: usize },
    #[error("header at offset {offset}: name is not NUL-terminated where namesize says")]
    NameNotTerminated { offset: u64 },
    #[error("header at offset {offset}: stripped entry (07070X) but no header file sizes given")]
    StrippedWithoutHeader { offset: u64 },
    #[error(
        "header at offset {offset}: stripped entry names file {index}, the header lists {files}"
    )]
    StrippedIndex {
        offset: u64,
        index: u32,
        files: usize,
    },
    #[error("entry at offset {offset}: data of {size} bytes, more than the limit of {max}")]
    DataTooLarge { offset: u64, size: u64, max: u64 },
    #[error(
        "entry at offset {offset}: data sums to {computed:#x}, the 070702 header says {stored:#x}"
    )]
    BadChecksum {
        offset: u64,
        stored: u32,
        computed: u32,
    },
}

/// Reads entries from a cpio stream one after the other.
pub struct Reader<R> {
    inner: R,
    /// Bytes consumed so far.
    offset: u64,
    /// Data bytes of the current entry not yet read.
    data_left: u64,
    /// Where the current entry started, for messages.
    current_offset: u64,
    /// The current entry's `070702` checksum, if it has one.
    checksum: Option<u32>,
    /// Sizes by header index, for stripped entries.
    stripped_sizes: Option<Vec<u64>>,
    done: bool,
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            offset: 0,
            data_left: 0,
            current_offset: 0,
            checksum: None,
            stripped_sizes: None,
            done: false,
        }
    }

    /// A reader that accepts rpm's stripped entries, taking each one's size
    /// from `sizes` (the header's file sizes, by index).
    pub fn with_stripped_sizes(inner: R, sizes: Vec<u64>) -> Self {
        Reader {
            stripped_sizes: Some(sizes),
            ..Reader::new(inner)
        }
    }

    /// The next entry, or `None` after the `TRAILER!!!` entry. A stream that
    /// ends without one is truncated.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, CpioError> {
        if self.done {
            return Ok(None);
        }
        self.skip_data()?;
        let offset = self.offset;
        let mut magic = [0u8; 6];
        if !self.fill(&mut magic)? {
            return Err(CpioError::NoTrailer { offset });
        }
        let entry = match &magic {
            m if m == NEWC_MAGIC || m == CRC_MAGIC => self.newc(offset, m == CRC_MAGIC)?,
            m if m == STRIPPED_MAGIC => self.stripped(offset)?,
            _ => {
                return Err(CpioError::BadMagic {
                    offset,
                    found: String::from_utf8_lossy(&magic).into_owned(),
                })
            }
        };
        self.current_offset = offset;
        if entry.index.is_none() && entry.name == TRAILER {
            self.done = true;
            self.data_left = 0;
            return Ok(None);
        }
        self.data_left = entry.size;
        Ok(Some(entry))
    }

    /// Reads the current entry's data, refusing more than `max` bytes.
    pub fn read_data(&mut self, max: u64) -> Result<Vec<u8>, CpioError> {
        if self.data_left > max {
            return Err(CpioError::DataTooLarge {
                offset: self.current_offset,
                size: self.data_left,
                max,
            });
        }
        let mut data = Vec::new();
        let want = self.data_left;
        let got = (&mut self.inner).take(want).read_to_end(&mut data)?;
        self.offset += got as u64;
        self.data_left -= got as u64;
        if self.data_left > 0 {
            return Err(CpioError::Truncated {
                offset: self.current_offset,
            });
        }
        if let Some(stored) = self.checksum {
            let computed = data.iter().fold(0u32, |s, &b| s.wrapping_add(u32::from(b)));
            if computed != stored {
                return Err(CpioError::BadChecksum {
                    offset: self.current_offset,
                    stored,
                    computed,
                });
            }
        }
        Ok(data)
    }

    /// The underlying stream, positioned after what was read (after the
    /// trailer's header once [`Reader::next_entry`] returned `None`).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Where the current entry's data, padding included, ends in the stream:
    /// how much must be read to get past it.
    pub fn entry_end(&self) -> u64 {
        let end = self.offset.saturating_add(self.data_left);
        end.saturating_add(pad(end))
    }

    fn newc(&mut self, offset: u64, crc: bool) -> Result<Entry, CpioError> {
        let mut raw = [0u8; NEWC_HEADER - 6];
        if !self.fill(&mut raw)? {
            return Err(CpioError::Truncated { offset });
        }
        let mut v = [0u32; 13];
        for (i, (field, chunk)) in FIELDS.iter().zip(raw.chunks_exact(8)).enumerate() {
            v[i] = hex(chunk, offset, field)?;
        }
        let namesize = v[11];
        if namesize == 0 || namesize as usize > MAX_PATH + 1 {
            return Err(CpioError::NameSize {
                offset,
                size: namesize,
                max: MAX_PATH + 1,
            });
        }
        let mut name = vec![0u8; namesize as usize];
        if !self.fill(&mut name)? {
            return Err(CpioError::Truncated { offset });
        }
        if name.pop() != Some(0) || name.contains(&0) {
            return Err(CpioError::NameNotTerminated { offset });
        }
        self.align(offset)?;
        self.checksum = crc.then_some(v[12]);
        Ok(Entry {
            name,
            index: None,
            ino: v[0],
            mode: v[1],
            uid: v[2],
            gid: v[3],
            nlink: v[4],
            mtime: v[5],
            size: u64::from(v[6]),
            rdev_major: v[9],
            rdev_minor: v[10],
        })
    }

    fn stripped(&mut self, offset: u64) -> Result<Entry, CpioError> {
        let mut raw = [0u8; STRIPPED_HEADER - 6];
        if !self.fill(&mut raw)? {
            return Err(CpioError::Truncated { offset });
        }
        let index = hex(&raw, offset, "index")?;
        let sizes = self
            .stripped_sizes
            .as_ref()
            .ok_or(CpioError::StrippedWithoutHeader { offset })?;
        let size = *sizes.get(index as usize).ok_or(CpioError::StrippedIndex {
            offset,
            index,
            files: sizes.len(),
        })?;
        self.align(offset)?;
        self.checksum = None;
        Ok(Entry {
            name: Vec::new(),
            index: Some(index),
            ino: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            nlink: 0,
            mtime: 0,
            size,
            rdev_major: 0,
            rdev_minor: 0,
        })
    }

    /// Skips what is left of the current entry's data and its padding.
    fn skip_data(&mut self) -> Result<(), CpioError> {
        let want = self.data_left;
        let got = io::copy(&mut (&mut self.inner).take(want), &mut io::sink())?;
        self.offset += got;
        self.data_left -= got;
        if self.data_left > 0 {
            return Err(CpioError::Truncated {
                offset: self.current_offset,
            });
        }
        let offset = self.current_offset;
        self.align(offset)
    }

    /// Reads the padding up to the next multiple of [`ALIGN`].
    fn align(&mut self, offset: u64) -> Result<(), CpioError> {
        let mut buf = [0u8; ALIGN as usize];
        let n = pad(self.offset) as usize;
        if !self.fill(&mut buf[..n])? {
            return Err(CpioError::Truncated { offset });
        }
        Ok(())
    }

    /// Fills `buf` completely: `false` when the stream ends first.
    fn fill(&mut self, buf: &mut [u8]) -> Result<bool, CpioError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => return Ok(false),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.offset += buf.len() as u64;
        Ok(true)
    }
}

/// Bytes of padding after `at` to reach the next multiple of [`ALIGN`].
fn pad(at: u64) -> u64 {
    (ALIGN - at % ALIGN) % ALIGN
}

/// One 8-hex-digit field (either case, as cpio writers differ).
fn hex(raw: &[u8], offset: u64, field: &'static str) -> Result<u32, CpioError> {
    let bad = || CpioError::BadNumber {
        offset,
        field,
        value: String::from_utf8_lossy(raw).into_owned(),
    };
    if raw.len() != 8 || !raw.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let s = std::str::from_utf8(raw).map_err(|_| bad())?;
    u32::from_str_radix(s, 16).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `newc` header as GNU cpio and rpm write it (real archives, from
    /// rpmbuild, are read in `db::rpmfile::payload`'s tests and tests/subset.rs).
    fn header(magic: &[u8; 6], name: &[u8], size: u32, namesize: Option<u32>) -> Vec<u8> {
        let mut h = magic.to_vec();
        let namesize = namesize.unwrap_or(name.len() as u32 + 1);
        for v in [1, 0o100644, 0, 0, 1, 0, size, 0, 0, 0, 0, namesize, 0] {
            h.extend(format!("{v:08x}").as_bytes());
        }
        h.extend(name);
        h.push(0);
        while h.len() % 4 != 0 {
            h.push(0);
        }
        h
    }

    fn archive(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut a = Vec::new();
        for (name, data) in entries {
            a.extend(header(NEWC_MAGIC, name, data.len() as u32, None));
            a.extend(*data);
            while a.len() % 4 != 0 {
                a.push(0);
            }
        }
        a.extend(header(NEWC_MAGIC, TRAILER, 0, None));
        a
    }

    #[test]
    fn entries_data_and_trailer() {
        let a = archive(&[(b"./a", b"12345"), (b"./dir", b""), (b"./b", b"xy")]);
        let mut r = Reader::new(&a[..]);
        assert_eq!(r.next_entry().unwrap().unwrap().name, b"./a");
        // Data left unread is skipped.
        assert_eq!(r.next_entry().unwrap().unwrap().name, b"./dir");
        let b = r.next_entry().unwrap().unwrap();
        assert_eq!(r.read_data(2).unwrap(), b"xy");
        assert_eq!(b.mode, 0o100644);
        assert!(r.next_entry().unwrap().is_none());
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let a = archive(&[(b"./a", b"12345")]);
        for len in 0..a.len() {
            let mut r = Reader::new(&a[..len]);
            let res = (|| {
                while r.next_entry()?.is_some() {
                    r.read_data(10)?;
                }
                Ok::<_, CpioError>(())
            })();
            assert!(
                matches!(
                    res,
                    Err(CpioError::Truncated { .. } | CpioError::NoTrailer { .. })
                ),
                "prefix {len}: {res:?}"
            );
        }
    }

    #[test]
    fn name_size_is_checked_before_reading() {
        let h = header(NEWC_MAGIC, b"x", 0, Some(0xffff_ffff));
        let e = Reader::new(&h[..]).next_entry().unwrap_err();
        assert!(
            matches!(
                e,
                CpioError::NameSize {
                    offset: 0,
                    size: 0xffff_ffff,
                    ..
                }
            ),
            "{e:?}"
        );
        let h = header(NEWC_MAGIC, b"x", 0, Some(0));
        assert!(matches!(
            Reader::new(&h[..]).next_entry(),
            Err(CpioError::NameSize { size: 0, .. })
        ));
        // namesize one short: the byte it ends on is not the NUL.
        let h = header(NEWC_MAGIC, b"xyz", 0, Some(3));
        assert!(matches!(
            Reader::new(&h[..]).next_entry(),
            Err(CpioError::NameNotTerminated { offset: 0 })
        ));
    }

    #[test]
    fn data_is_read_only_under_the_cap() {
        let mut a = header(NEWC_MAGIC, b"./big", 0xffff_ffff, None);
        a.extend(b"abc");
        let mut r = Reader::new(&a[..]);
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!(e.size, 0xffff_ffff);
        assert_eq!(r.entry_end(), 0xffff_ffff + 116 + 1);
        assert!(matches!(
            r.read_data(1 << 20),
            Err(CpioError::DataTooLarge {
                size: 0xffff_ffff,
                ..
            })
        ));
        assert!(matches!(
            r.next_entry(),
            Err(CpioError::Truncated { offset: 0 })
        ));
    }

    #[test]
    fn bad_magic_and_numbers() {
        let mut h = header(NEWC_MAGIC, b"x", 0, None);
        h[5] = b'7';
        assert!(matches!(
            Reader::new(&h[..]).next_entry(),
            Err(CpioError::BadMagic { offset: 0, .. })
        ));
        let mut h = header(NEWC_MAGIC, b"x", 0, None);
        h[6 + 6 * 8] = b'g';
        assert!(matches!(
            Reader::new(&h[..]).next_entry(),
            Err(CpioError::BadNumber {
                field: "filesize",
                ..
            })
        ));
    }

    #[test]
    fn crc_entries_are_checked_when_read() {
        let mut good = header(CRC_MAGIC, b"./a", 3, None);
        // check field: the sum of the data bytes.
        let at = 6 + 12 * 8;
        let sum = u32::from(b'a') + u32::from(b'b') + u32::from(b'c');
        good[at..at + 8].copy_from_slice(format!("{sum:08x}").as_bytes());
        let mut a = good.clone();
        a.extend(b"abc\0");
        let mut r = Reader::new(&a[..]);
        r.next_entry().unwrap();
        assert_eq!(r.read_data(3).unwrap(), b"abc");
        let mut a = good;
        a.extend(b"abd\0");
        let mut r = Reader::new(&a[..]);
        r.next_entry().unwrap();
        assert!(matches!(r.read_data(3), Err(CpioError::BadChecksum { .. })));
    }

    #[test]
    fn stripped_entries_take_their_size_from_the_header() {
        let mut a = b"07070X00000001".to_vec();
        a.extend([0, 0]);
        a.extend(b"hello\0\0\0");
        a.extend(header(NEWC_MAGIC, TRAILER, 0, None));
        let e = Reader::new(&a[..]).next_entry().unwrap_err();
        assert!(matches!(e, CpioError::StrippedWithoutHeader { offset: 0 }));
        let mut r = Reader::with_stripped_sizes(&a[..], vec![9, 5]);
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.index, e.size), (Some(1), 5));
        assert_eq!(r.read_data(5).unwrap(), b"hello");
        assert!(r.next_entry().unwrap().is_none());
        let mut r = Reader::with_stripped_sizes(&a[..], vec![9]);
        assert!(matches!(
            r.next_entry(),
            Err(CpioError::StrippedIndex {
                index: 1,
                files: 1,
                ..
            })
        ));
    }
}
