//! rpm's NDB package database (`Packages.db`), the default on SUSE since
//! SLE 15 SP3 / openSUSE; Debian's and Fedora's rpm cannot read it.
//!
//! The format is rpm's own (`lib/backend/ndb/rpmpkg.c`), all integers
//! little-endian: a 32-byte header (`RpmP`, version 0, generation, number of
//! slot pages) shares the first 4096-byte page with the slot table; each
//! 16-byte slot (`Slot`, package index, block offset, block count) points at a
//! blob made of 16-byte blocks: a head (`BlbS`, package index, timestamp,
//! length), the header blob, zero padding, and a tail (Adler-32 of everything
//! before it, length again, `BlbE`). Packages are listed in block-offset
//! order, the order `rpm -qa` uses.
//!
//! What is checked: the header magic and version, that the file is a whole
//! number of blocks (rpm refuses it otherwise), every slot's magic, that each
//! used slot's blob lies after the slot pages and inside the file and does not
//! overlap the previous blob, and for each blob the head magic, package index,
//! length against block count, tail length, tail magic and the Adler-32
//! checksum. rpm verifies the checksum only when it moves or deletes a blob;
//! pyvet verifies it on every read, so a tampered blob is reported.

use crate::limits;

/// One used slot: rpm's package index and its header blob (or why it could
/// not be read).
#[derive(Debug)]
pub struct Record {
    pub pkgidx: u32,
    pub blob: Result<Vec<u8>, NdbError>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NdbError {
    #[error("file is {len} bytes, shorter than {min}")]
    TooShort { len: usize, min: usize },
    #[error("magic {found:02x?} is not \"RpmP\"")]
    BadMagic { found: [u8; 4] },
    #[error("version {version}, expected {PKGDB_VERSION}")]
    UnsupportedVersion { version: u32 },
    #[error("file is {len} bytes, not a whole number of {BLK_LEN}-byte blocks")]
    NotBlockAligned { len: usize },
    #[error(
        "header says {slotnpages} slot pages, the file holds {pages} pages (at least 1 needed)"
    )]
    BadSlotPageCount { slotnpages: u32, pages: usize },
    #[error("slot {slot}: magic {found:02x?} is not \"Slot\"")]
    BadSlotMagic { slot: usize, found: [u8; 4] },
    #[error("slot {slot}: package index 0 with a blob at block {blkoff}")]
    ZeroPkgidx { slot: usize, blkoff: u32 },
    #[error("package {pkgidx}: slot holds {blkcnt} blocks, expected at least {min}")]
    TooFewBlocks { pkgidx: u32, blkcnt: u32, min: u32 },
    #[error("package {pkgidx}: blob at block {blkoff} lies in the slot pages (blobs start at block {min})")]
    BlobInSlotPages { pkgidx: u32, blkoff: u32, min: u64 },
    #[error(
        "package {pkgidx}: blob at blocks {blkoff}+{blkcnt} ends past the file's {fileblks} blocks"
    )]
    BlobBeyondFile {
        pkgidx: u32,
        blkoff: u32,
        blkcnt: u32,
        fileblks: u64,
    },
    #[error("package {pkgidx}: blob at block {blkoff} overlaps the previous blob, which ends at block {prev_end}")]
    Overlap {
        pkgidx: u32,
        blkoff: u32,
        prev_end: u64,
    },
    #[error("package {pkgidx}: blob head magic {found:02x?} is not \"BlbS\"")]
    BadHeadMagic { pkgidx: u32, found: [u8; 4] },
    #[error("package {pkgidx}: blob head names package {found}")]
    PkgidxMismatch { pkgidx: u32, found: u32 },
    #[error("package {pkgidx}: blob length {len} needs {expected} blocks, slot says {blkcnt}")]
    LengthMismatch {
        pkgidx: u32,
        len: u32,
        expected: u64,
        blkcnt: u32,
    },
    #[error("package {pkgidx}: blob length {len} exceeds the limit of {max}")]
    BlobTooLarge { pkgidx: u32, len: u32, max: u64 },
    #[error("package {pkgidx}: blob tail says length {tail}, head says {head}")]
    TailLengthMismatch { pkgidx: u32, head: u32, tail: u32 },
    #[error("package {pkgidx}: blob tail magic {found:02x?} is not \"BlbE\"")]
    BadTailMagic { pkgidx: u32, found: [u8; 4] },
    #[error("package {pkgidx}: Adler-32 is {computed:#010x}, the blob tail says {stored:#010x}")]
    ChecksumMismatch {
        pkgidx: u32,
        stored: u32,
        computed: u32,
    },
}

const PKGDB_MAGIC: [u8; 4] = *b"RpmP";
const PKGDB_VERSION: u32 = 0;
const PKGDB_HEADER_LEN: usize = 32;
const HDR_VERSION: usize = 4;
const HDR_SLOTNPAGES: usize = 12;

const PAGE_LEN: usize = 4096;
const SLOT_LEN: usize = 16;
const SLOT_MAGIC: [u8; 4] = *b"Slot";
const SLOT_PKGIDX: usize = 4;
const SLOT_BLKOFF: usize = 8;
const SLOT_BLKCNT: usize = 12;
const BLK_LEN: usize = 16;

const BLOB_HEAD_MAGIC: [u8; 4] = *b"BlbS";
const BLOB_TAIL_MAGIC: [u8; 4] = *b"BlbE";
/// Head: magic, package index, timestamp, length.
const BLOB_HEAD_LEN: usize = 16;
const HEAD_PKGIDX: usize = 4;
const HEAD_LEN: usize = 12;
/// Tail: Adler-32, length, magic.
const BLOB_TAIL_LEN: usize = 12;
const TAIL_LEN: usize = 4;
const TAIL_MAGIC: usize = 8;

fn u32_at(buf: &[u8], off: usize) -> u32 {
    magic_at(buf, off).map_or(0, u32::from_le_bytes)
}

fn magic_at(buf: &[u8], off: usize) -> Option<[u8; 4]> {
    buf.get(off..off.checked_add(4)?)?.try_into().ok()
}

/// Blocks a blob of `len` bytes occupies, head and tail included.
fn blocks_for(len: u32) -> u64 {
    (BLOB_HEAD_LEN as u64 + u64::from(len) + BLOB_TAIL_LEN as u64).div_ceil(BLK_LEN as u64)
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    index: usize,
    pkgidx: u32,
    blkoff: u32,
    blkcnt: u32,
}

/// Every used slot's blob, in block-offset order.
pub fn records(bytes: &[u8]) -> Result<Vec<Record>, NdbError> {
    let slotnpages = check_header(bytes)?;
    let slots = read_slots(bytes, slotnpages)?;
    let fileblks = (bytes.len() / BLK_LEN) as u64;
    let first_blob = (slotnpages * PAGE_LEN / BLK_LEN) as u64;
    let mut prev_end = first_blob;
    let mut out = Vec::with_capacity(slots.len());
    for s in slots {
        let blob = place(s, first_blob, fileblks, prev_end).and_then(|end| {
            prev_end = end;
            read_blob(bytes, s)
        });
        out.push(Record {
            pkgidx: s.pkgidx,
            blob,
        });
    }
    Ok(out)
}

/// Every header blob of an NDB `Packages.db`.
///
/// Fails on the first unreadable blob; [`records`] reports them one by one.
pub fn blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, NdbError> {
    records(bytes)?.into_iter().map(|r| r.blob).collect()
}

/// Checks the file header; returns the number of slot pages.
fn check_header(bytes: &[u8]) -> Result<usize, NdbError> {
    if bytes.len() < PAGE_LEN {
        return Err(NdbError::TooShort {
            len: bytes.len(),
            min: PAGE_LEN,
        });
    }
    let found = magic_at(bytes, 0).unwrap_or_default();
    if found != PKGDB_MAGIC {
        return Err(NdbError::BadMagic { found });
    }
    let version = u32_at(bytes, HDR_VERSION);
    if version != PKGDB_VERSION {
        return Err(NdbError::UnsupportedVersion { version });
    }
    if bytes.len() % BLK_LEN != 0 {
        return Err(NdbError::NotBlockAligned { len: bytes.len() });
    }
    let slotnpages = u32_at(bytes, HDR_SLOTNPAGES);
    let pages = bytes.len() / PAGE_LEN;
    if slotnpages == 0 || slotnpages as usize > pages {
        return Err(NdbError::BadSlotPageCount { slotnpages, pages });
    }
    Ok(slotnpages as usize)
}

/// Reads the used slots (block offset 0 marks a free slot), sorted by block offset.
fn read_slots(bytes: &[u8], slotnpages: usize) -> Result<Vec<Slot>, NdbError> {
    let table = &bytes[..slotnpages * PAGE_LEN];
    let mut slots = Vec::new();
    // The file header occupies the room of the first two slots.
    for (index, raw) in table
        .chunks_exact(SLOT_LEN)
        .enumerate()
        .skip(PKGDB_HEADER_LEN / SLOT_LEN)
    {
        let found = magic_at(raw, 0).unwrap_or_default();
        if found != SLOT_MAGIC {
            return Err(NdbError::BadSlotMagic { slot: index, found });
        }
        let blkoff = u32_at(raw, SLOT_BLKOFF);
        if blkoff != 0 {
            slots.push(Slot {
                index,
                pkgidx: u32_at(raw, SLOT_PKGIDX),
                blkoff,
                blkcnt: u32_at(raw, SLOT_BLKCNT),
            });
        }
    }
    slots.sort_by_key(|s| s.blkoff);
    Ok(slots)
}

/// Checks where a slot's blob lies; returns its end block.
fn place(s: Slot, first_blob: u64, fileblks: u64, prev_end: u64) -> Result<u64, NdbError> {
    let Slot {
        index,
        pkgidx,
        blkoff,
        blkcnt,
    } = s;
    if pkgidx == 0 {
        return Err(NdbError::ZeroPkgidx {
            slot: index,
            blkoff,
        });
    }
    let min = blocks_for(0) as u32;
    if blkcnt < min {
        return Err(NdbError::TooFewBlocks {
            pkgidx,
            blkcnt,
            min,
        });
    }
    if u64::from(blkoff) < first_blob {
        return Err(NdbError::BlobInSlotPages {
            pkgidx,
            blkoff,
            min: first_blob,
        });
    }
    let end = u64::from(blkoff) + u64::from(blkcnt);
    if end > fileblks {
        return Err(NdbError::BlobBeyondFile {
            pkgidx,
            blkoff,
            blkcnt,
            fileblks,
        });
    }
    if u64::from(blkoff) < prev_end {
        return Err(NdbError::Overlap {
            pkgidx,
            blkoff,
            prev_end,
        });
    }
    Ok(end)
}

/// Reads and verifies one blob whose block range `place` has checked.
fn read_blob(bytes: &[u8], s: Slot) -> Result<Vec<u8>, NdbError> {
    let pkgidx = s.pkgidx;
    let start = s.blkoff as usize * BLK_LEN;
    let area = &bytes[start..start + s.blkcnt as usize * BLK_LEN];
    let found = magic_at(area, 0).unwrap_or_default();
    if found != BLOB_HEAD_MAGIC {
        return Err(NdbError::BadHeadMagic { pkgidx, found });
    }
    let found = u32_at(area, HEAD_PKGIDX);
    if found != pkgidx {
        return Err(NdbError::PkgidxMismatch { pkgidx, found });
    }
    let len = u32_at(area, HEAD_LEN);
    if u64::from(len) > limits::RPMDB_MAX_BLOB {
        return Err(NdbError::BlobTooLarge {
            pkgidx,
            len,
            max: limits::RPMDB_MAX_BLOB,
        });
    }
    let expected = blocks_for(len);
    if expected != u64::from(s.blkcnt) {
        return Err(NdbError::LengthMismatch {
            pkgidx,
            len,
            expected,
            blkcnt: s.blkcnt,
        });
    }
    check_tail(area, pkgidx, len)?;
    Ok(area[BLOB_HEAD_LEN..BLOB_HEAD_LEN + len as usize].to_vec())
}

fn check_tail(area: &[u8], pkgidx: u32, len: u32) -> Result<(), NdbError> {
    let tail_at = area.len() - BLOB_TAIL_LEN;
    let tail = &area[tail_at..];
    let tail_len = u32_at(tail, TAIL_LEN);
    if tail_len != len {
        return Err(NdbError::TailLengthMismatch {
            pkgidx,
            head: len,
            tail: tail_len,
        });
    }
    let found = magic_at(tail, TAIL_MAGIC).unwrap_or_default();
    if found != BLOB_TAIL_MAGIC {
        return Err(NdbError::BadTailMagic { pkgidx, found });
    }
    let stored = u32_at(tail, 0);
    let computed = adler32(&area[..tail_at]);
    if stored != computed {
        return Err(NdbError::ChecksumMismatch {
            pkgidx,
            stored,
            computed,
        });
    }
    Ok(())
}

/// Adler-32 (RFC 1950), as rpm computes it over a blob's head, data and padding.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    /// Largest run before `s2` could overflow a u32 (zlib's NMAX).
    const NMAX: usize = 5552;
    let (mut s1, mut s2) = (1u32, 0u32);
    for chunk in data.chunks(NMAX) {
        for &b in chunk {
            s1 += u32::from(b);
            s2 += s1;
        }
        s1 %= MOD;
        s2 %= MOD;
    }
    (s2 << 16) | s1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_known_values() {
        // RFC 1950 / zlib reference values.
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(&[0xff; 100_000]), {
            let (mut a, mut b) = (1u64, 0u64);
            for _ in 0..100_000 {
                a = (a + 0xff) % 65521;
                b = (b + a) % 65521;
            }
            ((b << 16) | a) as u32
        });
    }

    /// Builds an NDB file the way rpmpkg.c lays one out (one slot page).
    fn build(blobs: &[(u32, &[u8])]) -> Vec<u8> {
        let mut f = vec![0u8; PAGE_LEN];
        f[..4].copy_from_slice(&PKGDB_MAGIC);
        f[HDR_SLOTNPAGES..HDR_SLOTNPAGES + 4].copy_from_slice(&1u32.to_le_bytes());
        for s in (PKGDB_HEADER_LEN..PAGE_LEN).step_by(SLOT_LEN) {
            f[s..s + 4].copy_from_slice(&SLOT_MAGIC);
        }
        for (i, (pkgidx, data)) in blobs.iter().enumerate() {
            let blkoff = (f.len() / BLK_LEN) as u32;
            let blkcnt = blocks_for(data.len() as u32) as u32;
            let mut area = Vec::new();
            area.extend(BLOB_HEAD_MAGIC);
            area.extend(pkgidx.to_le_bytes());
            area.extend(0u32.to_le_bytes());
            area.extend((data.len() as u32).to_le_bytes());
            area.extend(*data);
            area.resize(blkcnt as usize * BLK_LEN - BLOB_TAIL_LEN, 0);
            let sum = adler32(&area);
            area.extend(sum.to_le_bytes());
            area.extend((data.len() as u32).to_le_bytes());
            area.extend(BLOB_TAIL_MAGIC);
            f.extend(area);
            let s = PKGDB_HEADER_LEN + i * SLOT_LEN;
            f[s + 4..s + 8].copy_from_slice(&pkgidx.to_le_bytes());
            f[s + 8..s + 12].copy_from_slice(&blkoff.to_le_bytes());
            f[s + 12..s + 16].copy_from_slice(&blkcnt.to_le_bytes());
        }
        f
    }

    #[test]
    fn reads_blobs_in_block_order() {
        let mut f = build(&[(7, b"first blob"), (3, b"second, longer blob....")]);
        // Swap the two slots: the slot table order must not matter.
        let (a, b) = (PKGDB_HEADER_LEN, PKGDB_HEADER_LEN + SLOT_LEN);
        let first: Vec<u8> = f[a..b].to_vec();
        f.copy_within(b..b + SLOT_LEN, a);
        f[b..b + SLOT_LEN].copy_from_slice(&first);
        let recs = records(&f).unwrap();
        let got: Vec<(u32, &[u8])> = recs
            .iter()
            .map(|r| (r.pkgidx, r.blob.as_ref().unwrap().as_slice()))
            .collect();
        assert_eq!(
            got,
            [
                (7, &b"first blob"[..]),
                (3, &b"second, longer blob...."[..])
            ]
        );
    }

    #[test]
    fn tampered_blob_is_a_per_record_error() {
        let mut f = build(&[(1, b"aaaa"), (2, b"bbbb")]);
        // First blob's data starts right after the slot page and its head.
        f[PAGE_LEN + BLOB_HEAD_LEN] ^= 1;
        let recs = records(&f).unwrap();
        assert!(matches!(
            recs[0].blob,
            Err(NdbError::ChecksumMismatch { pkgidx: 1, .. })
        ));
        assert_eq!(recs[1].blob.as_ref().unwrap(), b"bbbb");
    }

    #[test]
    fn overlapping_and_out_of_file_slots() {
        let mut f = build(&[(1, b"aaaa"), (2, b"bbbb")]);
        let s2 = PKGDB_HEADER_LEN + SLOT_LEN;
        let first = (PAGE_LEN / BLK_LEN) as u32;
        f[s2 + 8..s2 + 12].copy_from_slice(&first.to_le_bytes());
        let recs = records(&f).unwrap();
        assert!(recs[0].blob.is_ok());
        assert!(matches!(
            recs[1].blob,
            Err(NdbError::Overlap { pkgidx: 2, .. })
        ));
        f[s2 + 8..s2 + 12].copy_from_slice(&1000u32.to_le_bytes());
        let recs = records(&f).unwrap();
        assert!(matches!(
            recs[1].blob,
            Err(NdbError::BlobBeyondFile {
                pkgidx: 2,
                blkoff: 1000,
                ..
            })
        ));
    }

    #[test]
    fn header_errors() {
        let f = build(&[]);
        assert!(records(&f).unwrap().is_empty());
        assert!(matches!(records(&f[..100]), Err(NdbError::TooShort { .. })));
        let mut v = f.clone();
        v[HDR_VERSION] = 1;
        assert!(matches!(
            records(&v),
            Err(NdbError::UnsupportedVersion { version: 1 })
        ));
        let mut n = f.clone();
        n[HDR_SLOTNPAGES] = 2;
        assert!(matches!(
            records(&n),
            Err(NdbError::BadSlotPageCount {
                slotnpages: 2,
                pages: 1
            })
        ));
        let mut s = f.clone();
        s[PAGE_LEN - SLOT_LEN] = b'X';
        assert!(matches!(
            records(&s),
            Err(NdbError::BadSlotMagic { slot: 255, .. })
        ));
        let mut a = f.clone();
        a.push(0);
        assert!(matches!(records(&a), Err(NdbError::NotBlockAligned { .. })));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = crate::testutil::XorShift::new(0x2545_f491_4f6c_dd1du64);
        let mut next = || rng.next_u64();
        let base = build(&[(1, &[7u8; 300]), (2, b"x"), (3, &[1u8; 40])]);
        for _ in 0..5_000 {
            let mut m = base.clone();
            for _ in 0..(next() % 8 + 1) {
                // Aim most mutations at the slots and blobs, not the empty slot page.
                let i = match next() % 2 {
                    0 => (next() % 96) as usize,
                    _ => PAGE_LEN + (next() % (m.len() - PAGE_LEN) as u64) as usize,
                };
                m[i] = next() as u8;
            }
            let cut = (next() % (m.len() as u64 + 1)) as usize;
            let _ = records(&m[..cut]);
            let _ = records(&m);
        }
    }
}
