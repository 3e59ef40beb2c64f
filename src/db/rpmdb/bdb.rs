//! BerkeleyDB hash databases: rpm's `Packages` file before rpm 4.16.
//!
//! RHEL/CentOS up to 8, SLES up to 15 SP2 and older Fedora keep every
//! installed package's header as one value of a BerkeleyDB *hash* database.
//! Audit hosts rarely have libdb (and linking it to read attacker-written
//! files would be unwise), so this module reads the pages directly, the way
//! rpm's own read-only backend (`lib/backend/bdb_ro.c`) does: walk buckets
//! `0..=max_bucket`, follow each bucket's page chain, and reassemble values
//! that live on overflow page chains. The resulting order is the order
//! `rpm -qa` prints.
//!
//! Layout facts (BerkeleyDB `dbinc/db_page.h`, `dbinc/hash.h`): page 0 is the
//! hash metadata page; every other page starts with a 26-byte header
//! (`pgno`, `prev_pgno`, `next_pgno`, `entries`, `hf_offset`, `level`,
//! `type`) followed by `entries` 16-bit item offsets. Hash pages hold
//! alternating key and data items packed from the end of the page, so an
//! item's length is the distance to the previous item. All header fields are
//! in the byte order of the machine that wrote the file, which the magic
//! number reveals.

use std::ops::RangeInclusive;

use crate::limits;

/// One key/value pair of the `Packages` hash: rpm's header number and the
/// header blob (or why the blob could not be read).
#[derive(Debug)]
pub struct Record {
    pub key: u32,
    pub blob: BlobResult,
}

/// One value, or why it could not be read.
pub type BlobResult = Result<Vec<u8>, BdbError>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BdbError {
    #[error("file is {len} bytes, shorter than the {min}-byte metadata page")]
    TooShort { len: usize, min: usize },
    #[error(
        "magic number {found:#010x} is not BerkeleyDB hash ({HASH_MAGIC:#08x}, either byte order)"
    )]
    BadMagic { found: u32 },
    #[error("BerkeleyDB Btree, not a hash database (an rpm index file, not Packages?)")]
    Btree,
    #[error("hash version {version}, expected {}..={}", HASH_VERSIONS.start(), HASH_VERSIONS.end())]
    UnsupportedVersion { version: u32 },
    #[error("page size {pagesize}, expected a power of two in {MIN_PAGESIZE}..={MAX_PAGESIZE}")]
    BadPageSize { pagesize: u32 },
    #[error("database is encrypted (algorithm {alg})")]
    Encrypted { alg: u8 },
    #[error("last page number {last_pgno} but the file holds only {pages} pages")]
    LastPageBeyondFile { last_pgno: u32, pages: u64 },
    #[error("max bucket {max_bucket} exceeds the last page number {last_pgno}")]
    MaxBucketTooLarge { max_bucket: u32, last_pgno: u32 },
    #[error("bucket {bucket} maps past the page numbers (spare {spare})")]
    BucketOverflow { bucket: u32, spare: u32 },
    #[error("page {pgno} is out of range 1..={last_pgno}")]
    PageOutOfRange { pgno: u32, last_pgno: u32 },
    #[error("page {pgno} says it is page {found}")]
    PageNumberMismatch { pgno: u32, found: u32 },
    #[error("page {pgno} has type {found}, expected {expected}")]
    UnexpectedPageType {
        pgno: u32,
        expected: &'static str,
        found: u8,
    },
    #[error("page {pgno} claims {entries} entries, at most {max} fit")]
    BadEntryCount { pgno: u32, entries: u16, max: usize },
    #[error("page {pgno} item {index}: offset {offset} outside {min}..{max}")]
    BadItemOffset {
        pgno: u32,
        index: usize,
        offset: usize,
        min: usize,
        max: usize,
    },
    #[error("page {pgno} item {index}: key of type {item_type} and {len} bytes, expected a 4-byte inline header number (not rpm's Packages?)")]
    BadKey {
        pgno: u32,
        index: usize,
        item_type: u8,
        len: usize,
    },
    #[error("bucket page chain loops back to page {pgno}")]
    BucketChainLoop { pgno: u32 },
    #[error("overflow chain loops back to page {pgno}")]
    OverflowLoop { pgno: u32 },
    #[error("page {pgno} item {index}: off-page reference is {len} bytes, expected {OFFPAGE_LEN}")]
    OffpageItemLength { pgno: u32, index: usize, len: usize },
    #[error("page {pgno} item {index}: item type {item_type} (duplicates or unknown) is not used by rpm")]
    UnsupportedItemType {
        pgno: u32,
        index: usize,
        item_type: u8,
    },
    #[error("overflow chain ended after {got} of {expected} bytes")]
    OverflowChainShort { expected: u32, got: usize },
    #[error("overflow page {pgno} holds {used} bytes, expected 1..={max} with {remaining} still to read")]
    BadOverflowLength {
        pgno: u32,
        used: u16,
        remaining: usize,
        max: usize,
    },
    #[error("value of {len} bytes exceeds the limit of {max}")]
    ValueTooLarge { len: u64, max: u64 },
    #[error("values add up to more than the {file}-byte file ({total} bytes): overflow chains are shared")]
    MoreDataThanFile { total: u64, file: usize },
}

const HASH_MAGIC: u32 = 0x0006_1561;
const BTREE_MAGIC: u32 = 0x0005_3162;
/// rpm's `bdb_ro` accepts hash versions 8 (BerkeleyDB < 4.6) to 10.
const HASH_VERSIONS: RangeInclusive<u32> = 8..=10;
const MIN_PAGESIZE: u32 = 512;
const MAX_PAGESIZE: u32 = 65536;
/// rpm reads this much of page 0; the hash fields end well before it.
const META_LEN: usize = 512;

// Metadata page (DBMETA + HMETA) offsets.
const META_MAGIC: usize = 12;
const META_VERSION: usize = 16;
const META_PAGESIZE: usize = 20;
const META_ENCRYPT_ALG: usize = 24;
const META_LAST_PGNO: usize = 32;
const META_MAX_BUCKET: usize = 72;
const META_SPARES: usize = 96;
const NSPARES: usize = 32;

// Page header offsets.
const PAGE_HEADER_LEN: usize = 26;
const PAGE_PGNO: usize = 8;
const PAGE_NEXT_PGNO: usize = 16;
const PAGE_ENTRIES: usize = 20;
const PAGE_HF_OFFSET: usize = 22;
const PAGE_TYPE: usize = 25;

// Page types.
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
/// Also accepted for bucket pages by rpm's `bdb_ro`, so accepted here.
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;

// Hash item types (first byte of an item).
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
/// `H_OFFPAGE` item: type, 3 unused bytes, first overflow page, total length.
const OFFPAGE_LEN: usize = 12;
const OFFPAGE_PGNO: usize = 4;
const OFFPAGE_TLEN: usize = 8;
/// rpm keys `Packages` by a 4-byte header number.
const KEY_LEN: usize = 4;

#[derive(Debug, Clone, Copy)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        }
    }
    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Order::Little => u16::from_le_bytes(b),
            Order::Big => u16::from_be_bytes(b),
        }
    }
}

/// `N` bytes at `off`, if they are all inside `buf`.
fn bytes_at<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    buf.get(off..off.checked_add(N)?)?.try_into().ok()
}

struct Db<'a> {
    bytes: &'a [u8],
    order: Order,
    pagesize: usize,
    last_pgno: u32,
    max_bucket: u32,
    spares: [u32; NSPARES],
}

impl<'a> Db<'a> {
    fn open(bytes: &'a [u8]) -> Result<Self, BdbError> {
        let short = || BdbError::TooShort {
            len: bytes.len(),
            min: META_LEN,
        };
        if bytes.len() < META_LEN {
            return Err(short());
        }
        let raw = bytes_at::<4>(bytes, META_MAGIC).ok_or_else(short)?;
        let order = detect_order(raw)?;
        let u32_at = |off| {
            bytes_at::<4>(bytes, off)
                .map(|b| order.u32(b))
                .ok_or_else(short)
        };
        let version = u32_at(META_VERSION)?;
        if !HASH_VERSIONS.contains(&version) {
            return Err(BdbError::UnsupportedVersion { version });
        }
        let pagesize = u32_at(META_PAGESIZE)?;
        if !(MIN_PAGESIZE..=MAX_PAGESIZE).contains(&pagesize) || !pagesize.is_power_of_two() {
            return Err(BdbError::BadPageSize { pagesize });
        }
        let alg = bytes.get(META_ENCRYPT_ALG).copied().unwrap_or(0);
        if alg != 0 {
            return Err(BdbError::Encrypted { alg });
        }
        let last_pgno = u32_at(META_LAST_PGNO)?;
        let pages = bytes.len() as u64 / u64::from(pagesize);
        if u64::from(last_pgno) >= pages {
            return Err(BdbError::LastPageBeyondFile { last_pgno, pages });
        }
        let max_bucket = u32_at(META_MAX_BUCKET)?;
        if max_bucket > last_pgno {
            return Err(BdbError::MaxBucketTooLarge {
                max_bucket,
                last_pgno,
            });
        }
        let mut spares = [0u32; NSPARES];
        for (i, s) in spares.iter_mut().enumerate() {
            *s = u32_at(META_SPARES + 4 * i)?;
        }
        Ok(Db {
            bytes,
            order,
            pagesize: pagesize as usize,
            last_pgno,
            max_bucket,
            spares,
        })
    }

    fn u16_at(&self, page: &[u8], off: usize) -> u16 {
        // Callers pass offsets inside the page header or a checked index.
        bytes_at::<2>(page, off).map_or(0, |b| self.order.u16(b))
    }

    fn u32_at(&self, page: &[u8], off: usize) -> u32 {
        bytes_at::<4>(page, off).map_or(0, |b| self.order.u32(b))
    }

    /// Page `pgno`, checked to be in range and to carry its own number.
    fn page(&self, pgno: u32) -> Result<&'a [u8], BdbError> {
        let out_of_range = BdbError::PageOutOfRange {
            pgno,
            last_pgno: self.last_pgno,
        };
        if pgno == 0 || pgno > self.last_pgno {
            return Err(out_of_range);
        }
        let start = pgno as usize * self.pagesize;
        let page = self
            .bytes
            .get(start..start + self.pagesize)
            .ok_or(out_of_range)?;
        let found = self.u32_at(page, PAGE_PGNO);
        if found != pgno {
            return Err(BdbError::PageNumberMismatch { pgno, found });
        }
        Ok(page)
    }

    /// The first page of `bucket`: BerkeleyDB allocates buckets in doubling
    /// groups, and `spares[log2]` is the page offset of each group.
    fn bucket_page(&self, bucket: u32) -> Result<u32, BdbError> {
        let group = (u32::BITS - bucket.leading_zeros()) as usize;
        let spare = self.spares.get(group).copied().unwrap_or(u32::MAX);
        bucket
            .checked_add(spare)
            .ok_or(BdbError::BucketOverflow { bucket, spare })
    }
}

fn detect_order(raw: [u8; 4]) -> Result<Order, BdbError> {
    for order in [Order::Little, Order::Big] {
        match order.u32(raw) {
            HASH_MAGIC => return Ok(order),
            BTREE_MAGIC => return Err(BdbError::Btree),
            _ => {}
        }
    }
    Err(BdbError::BadMagic {
        found: u32::from_le_bytes(raw),
    })
}

/// Walks the whole hash, yielding every record except rpm's bookkeeping
/// record: key 0 holds the next free header number, not a header. Other
/// short values are kept: they fail header parsing and are reported, as rpm
/// reports them ("skipping h#").
pub fn records(bytes: &[u8]) -> Result<Vec<Record>, BdbError> {
    let db = Db::open(bytes)?;
    let mut walk = Walk {
        db: &db,
        bucket_seen: vec![false; db.last_pgno as usize + 1],
        overflow_stamp: vec![0; db.last_pgno as usize + 1],
        chains: 0,
        total: 0,
        out: Vec::new(),
    };
    for bucket in 0..=db.max_bucket {
        walk.bucket(bucket)?;
    }
    Ok(walk.out)
}

/// Every value of the BerkeleyDB hash database `Packages` (each an rpm header blob).
///
/// Fails on the first unreadable value; [`records`] reports them one by one.
pub fn blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, BdbError> {
    records(bytes)?.into_iter().map(|r| r.blob).collect()
}

struct Walk<'d, 'a> {
    db: &'d Db<'a>,
    bucket_seen: Vec<bool>,
    /// For each page, the number of the last overflow chain that used it.
    overflow_stamp: Vec<u32>,
    chains: u32,
    total: u64,
    out: Vec<Record>,
}

impl Walk<'_, '_> {
    fn bucket(&mut self, bucket: u32) -> Result<(), BdbError> {
        let mut pgno = self.db.bucket_page(bucket)?;
        loop {
            let page = self.db.page(pgno)?;
            if std::mem::replace(&mut self.bucket_seen[pgno as usize], true) {
                return Err(BdbError::BucketChainLoop { pgno });
            }
            let kind = page[PAGE_TYPE];
            if ![P_HASH_UNSORTED, P_HASHMETA, P_HASH].contains(&kind) {
                return Err(BdbError::UnexpectedPageType {
                    pgno,
                    expected: "a hash page (2, 8 or 13)",
                    found: kind,
                });
            }
            self.hash_page(pgno, page)?;
            match self.db.u32_at(page, PAGE_NEXT_PGNO) {
                0 => return Ok(()),
                next => pgno = next,
            }
        }
    }

    fn hash_page(&mut self, pgno: u32, page: &[u8]) -> Result<(), BdbError> {
        let entries = self.db.u16_at(page, PAGE_ENTRIES);
        let max = (self.db.pagesize - PAGE_HEADER_LEN) / 2;
        if usize::from(entries) > max {
            return Err(BdbError::BadEntryCount { pgno, entries, max });
        }
        let items = ItemIndex {
            db: self.db,
            pgno,
            page,
            entries: usize::from(entries),
        };
        // An odd trailing entry has no data item; rpm ignores it too.
        for pair in 0..items.entries / 2 {
            let (key_index, value_index) = (2 * pair, 2 * pair + 1);
            let key = items.item(key_index)?;
            let key = parse_key(self.db, pgno, key_index, key)?;
            let value = items.item(value_index)?;
            if key == 0 {
                continue;
            }
            let blob = self.value(pgno, value_index, value)?;
            self.out.push(Record { key, blob });
        }
        Ok(())
    }

    /// Resolves a data item. Errors confined to this value are returned
    /// inside `Ok` so the walk can go on; the outer error stops the walk.
    fn value(&mut self, pgno: u32, index: usize, item: &[u8]) -> Result<BlobResult, BdbError> {
        let blob = match item.first() {
            Some(&H_KEYDATA) => Ok(item[1..].to_vec()),
            Some(&H_OFFPAGE) => self.offpage(pgno, index, item),
            other => Err(BdbError::UnsupportedItemType {
                pgno,
                index,
                item_type: other.copied().unwrap_or(0),
            }),
        };
        if let Ok(b) = &blob {
            self.total += b.len() as u64;
            if self.total > self.db.bytes.len() as u64 {
                return Err(BdbError::MoreDataThanFile {
                    total: self.total,
                    file: self.db.bytes.len(),
                });
            }
        }
        Ok(blob)
    }

    fn offpage(&mut self, pgno: u32, index: usize, item: &[u8]) -> Result<Vec<u8>, BdbError> {
        if item.len() != OFFPAGE_LEN {
            return Err(BdbError::OffpageItemLength {
                pgno,
                index,
                len: item.len(),
            });
        }
        let first = self.db.u32_at(item, OFFPAGE_PGNO);
        let tlen = self.db.u32_at(item, OFFPAGE_TLEN);
        let max = limits::RPMDB_MAX_BLOB.min(self.db.bytes.len() as u64);
        if u64::from(tlen) > max {
            return Err(BdbError::ValueTooLarge {
                len: tlen.into(),
                max,
            });
        }
        self.chains += 1;
        self.overflow_chain(first, tlen)
    }

    /// Concatenates an overflow chain; each page's `hf_offset` says how many
    /// of its bytes (after the header) belong to the value.
    fn overflow_chain(&mut self, mut pgno: u32, tlen: u32) -> Result<Vec<u8>, BdbError> {
        let mut buf = Vec::with_capacity(tlen as usize);
        let max = self.db.pagesize - PAGE_HEADER_LEN;
        while buf.len() < tlen as usize {
            if pgno == 0 {
                return Err(BdbError::OverflowChainShort {
                    expected: tlen,
                    got: buf.len(),
                });
            }
            let page = self.db.page(pgno)?;
            let stamp = &mut self.overflow_stamp[pgno as usize];
            if std::mem::replace(stamp, self.chains) == self.chains {
                return Err(BdbError::OverflowLoop { pgno });
            }
            if page[PAGE_TYPE] != P_OVERFLOW {
                return Err(BdbError::UnexpectedPageType {
                    pgno,
                    expected: "an overflow page (7)",
                    found: page[PAGE_TYPE],
                });
            }
            let used = self.db.u16_at(page, PAGE_HF_OFFSET);
            let remaining = tlen as usize - buf.len();
            if used == 0 || usize::from(used) > max || usize::from(used) > remaining {
                return Err(BdbError::BadOverflowLength {
                    pgno,
                    used,
                    remaining,
                    max,
                });
            }
            buf.extend_from_slice(&page[PAGE_HEADER_LEN..PAGE_HEADER_LEN + usize::from(used)]);
            pgno = self.db.u32_at(page, PAGE_NEXT_PGNO);
        }
        Ok(buf)
    }
}

/// The item index of one hash page. Items are packed downwards from the end
/// of the page: item 0 ends at the page end, item `i` where item `i - 1` starts.
struct ItemIndex<'d, 'a, 'p> {
    db: &'d Db<'a>,
    pgno: u32,
    page: &'p [u8],
    entries: usize,
}

impl<'p> ItemIndex<'_, '_, 'p> {
    fn offset(&self, index: usize) -> usize {
        usize::from(self.db.u16_at(self.page, PAGE_HEADER_LEN + 2 * index))
    }

    fn item(&self, index: usize) -> Result<&'p [u8], BdbError> {
        let min = PAGE_HEADER_LEN + 2 * self.entries;
        let end = match index {
            0 => self.db.pagesize,
            _ => self.offset(index - 1),
        };
        let start = self.offset(index);
        if start < min || start >= end || end > self.db.pagesize {
            return Err(BdbError::BadItemOffset {
                pgno: self.pgno,
                index,
                offset: start,
                min,
                max: end.min(self.db.pagesize),
            });
        }
        Ok(&self.page[start..end])
    }
}

fn parse_key(db: &Db, pgno: u32, index: usize, item: &[u8]) -> Result<u32, BdbError> {
    match (item.first(), bytes_at::<KEY_LEN>(item, 1)) {
        (Some(&H_KEYDATA), Some(k)) if item.len() == 1 + KEY_LEN => Ok(db.order.u32(k)),
        _ => Err(BdbError::BadKey {
            pgno,
            index,
            item_type: item.first().copied().unwrap_or(0),
            len: item.len().saturating_sub(1),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal little-endian hash database built field by field, for
    /// exercising error paths the real fixtures do not reach.
    struct Builder {
        pagesize: usize,
        pages: Vec<Vec<u8>>,
    }

    impl Builder {
        fn new(pagesize: usize, npages: usize) -> Self {
            let mut pages = vec![vec![0u8; pagesize]; npages];
            let meta = &mut pages[0];
            meta[META_MAGIC..META_MAGIC + 4].copy_from_slice(&HASH_MAGIC.to_le_bytes());
            meta[META_VERSION..META_VERSION + 4].copy_from_slice(&9u32.to_le_bytes());
            meta[META_PAGESIZE..META_PAGESIZE + 4]
                .copy_from_slice(&(pagesize as u32).to_le_bytes());
            meta[META_LAST_PGNO..META_LAST_PGNO + 4]
                .copy_from_slice(&(npages as u32 - 1).to_le_bytes());
            // One bucket (0) on page 1.
            meta[META_SPARES..META_SPARES + 4].copy_from_slice(&1u32.to_le_bytes());
            for (i, p) in pages.iter_mut().enumerate().skip(1) {
                p[PAGE_PGNO..PAGE_PGNO + 4].copy_from_slice(&(i as u32).to_le_bytes());
            }
            Builder { pagesize, pages }
        }

        /// Puts items (already typed) on a hash page, packed from the end.
        fn hash_page(&mut self, pgno: usize, items: &[Vec<u8>], next: u32) {
            let ps = self.pagesize;
            let p = &mut self.pages[pgno];
            p[PAGE_TYPE] = P_HASH;
            p[PAGE_ENTRIES..PAGE_ENTRIES + 2].copy_from_slice(&(items.len() as u16).to_le_bytes());
            p[PAGE_NEXT_PGNO..PAGE_NEXT_PGNO + 4].copy_from_slice(&next.to_le_bytes());
            let mut end = ps;
            for (i, it) in items.iter().enumerate() {
                let start = end - it.len();
                p[start..end].copy_from_slice(it);
                let o = PAGE_HEADER_LEN + 2 * i;
                p[o..o + 2].copy_from_slice(&(start as u16).to_le_bytes());
                end = start;
            }
        }

        fn overflow_page(&mut self, pgno: usize, data: &[u8], next: u32) {
            let p = &mut self.pages[pgno];
            p[PAGE_TYPE] = P_OVERFLOW;
            p[PAGE_HF_OFFSET..PAGE_HF_OFFSET + 2]
                .copy_from_slice(&(data.len() as u16).to_le_bytes());
            p[PAGE_NEXT_PGNO..PAGE_NEXT_PGNO + 4].copy_from_slice(&next.to_le_bytes());
            p[PAGE_HEADER_LEN..PAGE_HEADER_LEN + data.len()].copy_from_slice(data);
        }

        fn bytes(&self) -> Vec<u8> {
            self.pages.concat()
        }
    }

    fn key(k: u32) -> Vec<u8> {
        let mut v = vec![H_KEYDATA];
        v.extend(k.to_le_bytes());
        v
    }

    fn inline(data: &[u8]) -> Vec<u8> {
        let mut v = vec![H_KEYDATA];
        v.extend(data);
        v
    }

    fn offpage(pgno: u32, len: u32) -> Vec<u8> {
        let mut v = vec![H_OFFPAGE, 0, 0, 0];
        v.extend(pgno.to_le_bytes());
        v.extend(len.to_le_bytes());
        v
    }

    #[test]
    fn inline_and_overflow_values_and_key_zero_skipped() {
        let mut b = Builder::new(512, 4);
        b.hash_page(
            1,
            &[
                key(0),
                inline(&[9, 9, 9, 9]),
                key(1),
                inline(b"small"),
                key(2),
                offpage(2, 600),
            ],
            0,
        );
        b.overflow_page(2, &[0xaa; 486], 3);
        b.overflow_page(3, &[0xbb; 114], 0);
        let recs = records(&b.bytes()).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            (recs[0].key, recs[0].blob.as_ref().unwrap().as_slice()),
            (1, &b"small"[..])
        );
        let big = recs[1].blob.as_ref().unwrap();
        assert_eq!((recs[1].key, big.len()), (2, 600));
        assert!(big[..486].iter().all(|&x| x == 0xaa) && big[486..].iter().all(|&x| x == 0xbb));
    }

    #[test]
    fn overflow_loop_is_a_per_record_error() {
        let mut b = Builder::new(512, 4);
        b.hash_page(1, &[key(1), offpage(2, 1500), key(2), inline(b"ok")], 0);
        b.overflow_page(2, &[1; 10], 3);
        b.overflow_page(3, &[2; 10], 2);
        let recs = records(&b.bytes()).unwrap();
        assert!(
            matches!(recs[0].blob, Err(BdbError::OverflowLoop { pgno: 2 })),
            "{recs:?}"
        );
        assert_eq!(recs[1].blob.as_ref().unwrap(), b"ok");
        assert!(matches!(
            blobs(&b.bytes()),
            Err(BdbError::OverflowLoop { .. })
        ));
    }

    #[test]
    fn zero_length_overflow_page_cannot_spin() {
        let mut b = Builder::new(512, 3);
        b.hash_page(1, &[key(1), offpage(2, 10)], 0);
        b.overflow_page(2, &[], 2);
        let recs = records(&b.bytes()).unwrap();
        assert!(matches!(
            recs[0].blob,
            Err(BdbError::BadOverflowLength {
                pgno: 2,
                used: 0,
                ..
            })
        ));
    }

    #[test]
    fn bucket_chain_loop_is_fatal() {
        let mut b = Builder::new(512, 3);
        b.hash_page(1, &[key(1), inline(b"a")], 2);
        b.hash_page(2, &[key(2), inline(b"b")], 1);
        assert!(matches!(
            records(&b.bytes()),
            Err(BdbError::BucketChainLoop { pgno: 1 })
        ));
    }

    #[test]
    fn shared_overflow_chains_cannot_multiply_memory() {
        let mut b = Builder::new(512, 4);
        let mut items = Vec::new();
        for k in 1..=10 {
            items.push(key(k));
            items.push(offpage(2, 972));
        }
        b.hash_page(1, &items, 0);
        b.overflow_page(2, &[1; 486], 3);
        b.overflow_page(3, &[1; 486], 0);
        assert!(matches!(
            records(&b.bytes()),
            Err(BdbError::MoreDataThanFile { .. })
        ));
    }

    #[test]
    fn header_checks() {
        let mut g = Builder::new(512, 2);
        g.hash_page(1, &[], 0);
        let good = g.bytes();
        assert!(records(&good).unwrap().is_empty());
        let mut be = good.clone();
        be[META_MAGIC..META_MAGIC + 4].copy_from_slice(&BTREE_MAGIC.to_be_bytes());
        assert!(matches!(records(&be), Err(BdbError::Btree)));
        let mut v = good.clone();
        v[META_VERSION] = 7;
        assert!(matches!(
            records(&v),
            Err(BdbError::UnsupportedVersion { version: 7 })
        ));
        let mut p = good.clone();
        p[META_PAGESIZE..META_PAGESIZE + 4].copy_from_slice(&768u32.to_le_bytes());
        assert!(matches!(
            records(&p),
            Err(BdbError::BadPageSize { pagesize: 768 })
        ));
        let mut l = good.clone();
        l[META_LAST_PGNO] = 2;
        assert!(matches!(
            records(&l),
            Err(BdbError::LastPageBeyondFile {
                last_pgno: 2,
                pages: 2
            })
        ));
        let mut k = Builder::new(512, 2);
        k.hash_page(1, &[inline(b"python"), inline(b"x")], 0);
        assert!(matches!(
            records(&k.bytes()),
            Err(BdbError::BadKey {
                len: 6,
                item_type: H_KEYDATA,
                ..
            })
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = crate::testutil::XorShift::new(0x9e37_79b9_7f4a_7c15u64);
        let mut next = || rng.next_u64();
        let mut b = Builder::new(512, 4);
        b.hash_page(1, &[key(1), offpage(2, 600), key(2), inline(b"x")], 0);
        b.overflow_page(2, &[0xaa; 486], 3);
        b.overflow_page(3, &[0xbb; 114], 0);
        let base = b.bytes();
        for _ in 0..20_000 {
            let mut m = base.clone();
            for _ in 0..(next() % 8 + 1) {
                let i = (next() % m.len() as u64) as usize;
                m[i] = next() as u8;
            }
            let cut = (next() % (m.len() as u64 + 1)) as usize;
            let _ = records(&m[..cut]);
            let _ = records(&m);
        }
    }
}
