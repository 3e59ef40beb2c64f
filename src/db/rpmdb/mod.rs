//! Installed RPM databases: what rpm says is installed in a tree.
//!
//! rpm has stored its package headers in three containers over the years:
//! BerkeleyDB hash (`Packages`, [`bdb`]), its own NDB format (`Packages.db`,
//! [`ndb`], SUSE) and SQLite (`rpmdb.sqlite`, [`sqlite`]). Each container
//! module only extracts the header blobs; this module turns blobs into
//! packages with the shared RPM header parser.
//!
//! One unreadable record must not hide every other package: rpm itself logs
//! an error for a bad header and moves on. [`read_with_errors`] returns the
//! packages it could read together with one [`BlobIssue`] per record it could
//! not; [`read`] keeps the skeleton's signature and prints the issues to
//! stderr. Damage to the container itself (bad magic, broken page chains,
//! a slot table that is not one) still fails the whole database.

pub mod bdb;
pub mod ndb;
pub mod sqlite;

use std::ops::ControlFlow;
use std::path::Path;

use rayon::prelude::*;

use crate::db::rpm::package_from_header;
use crate::error::{Error, FormatError, Result};
use crate::format::rpmheader::Header;
use crate::fsutil;
use crate::limits;
use crate::manifest::{Backend, Manifest, Package, Source};

/// The three rpmdb storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Bdb,
    Ndb,
}

impl Kind {
    fn backend(self) -> Backend {
        match self {
            Kind::Sqlite => Backend::RpmdbSqlite,
            Kind::Bdb => Backend::RpmdbBdb,
            Kind::Ndb => Backend::RpmdbNdb,
        }
    }
}

/// A record of a database that yielded no package, or a condition that
/// makes the result incomplete.
#[derive(Debug, thiserror::Error)]
#[error("{}{error}", record.map(|r| format!("record {r}: ")).unwrap_or_default())]
pub struct BlobIssue {
    /// The record's key in the database (SQLite `hnum`, BerkeleyDB key,
    /// NDB package index); `None` for database-wide conditions.
    pub record: Option<i64>,
    #[source]
    pub error: FormatError,
}

/// The first four bytes of a header with its 8-byte intro (as in `.rpm` files).
const HEADER_INTRO_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
/// Headers in files are padded to 8 bytes.
const HEADER_ALIGN: usize = 8;

/// Reads every package header in the database file `path`, failing on the
/// first record that cannot be read; [`read_with_errors`] keeps going.
pub fn read(path: &Path, kind: Kind) -> Result<Manifest> {
    let (manifest, mut issues) = read_with_errors(path, kind)?;
    match issues.pop() {
        None => Ok(manifest),
        Some(issue) => Err(Error::Record {
            path: path.to_path_buf(),
            issue: Box::new(issue),
        }),
    }
}

/// Reads every package header in `path`, returning the packages read and
/// one issue per record that could not be turned into a package.
pub fn read_with_errors(path: &Path, kind: Kind) -> Result<(Manifest, Vec<BlobIssue>)> {
    let source = Source {
        backend: kind.backend(),
        file: path.to_path_buf(),
    };
    let (parsed, mut issues) = match kind {
        Kind::Sqlite => (read_sqlite(path, &source)?, Vec::new()),
        Kind::Bdb => (parse_all(bdb_records(path)?, &source), Vec::new()),
        Kind::Ndb => (parse_all(ndb_records(path)?, &source), Vec::new()),
    };
    let mut manifest = Manifest {
        packages: Vec::with_capacity(parsed.len()),
    };
    for (key, r) in parsed {
        match r {
            Ok(p) => manifest.packages.push(p),
            Err(error) => issues.push(BlobIssue {
                record: Some(key),
                error,
            }),
        }
    }
    Ok((manifest, issues))
}

type RawRecord = (i64, std::result::Result<Vec<u8>, FormatError>);
type Parsed = Vec<(i64, std::result::Result<Package, FormatError>)>;

/// How many headers may wait between the SQLite reader and the parsers:
/// enough to keep every core busy, few enough that they never add up (a
/// 5,000-package rpmdb holds about 100 MB of header data).
const HEADERS_IN_FLIGHT: usize = 16;

/// A header checked on the reader thread, or why its row is unusable.
type CheckedRecord = (i64, std::result::Result<Header, FormatError>);

/// Streams an `rpmdb.sqlite`: one thread walks the table and checks each
/// header straight from SQLite's buffer (one copy of the blob, into the
/// [`Header`]), while the rayon pool turns the headers it hands over into
/// packages. Reading and parsing overlap and only [`HEADERS_IN_FLIGHT`]
/// headers exist at a time. Packages come back in `hnum` order, as
/// `rpm -qa` lists them.
fn read_sqlite(path: &Path, source: &Source) -> Result<Parsed> {
    check_sqlite_file(path)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<CheckedRecord>(HEADERS_IN_FLIGHT);
    let (mut parsed, walked) = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            sqlite::for_each_record(path, |hnum, blob| {
                let header = blob
                    .map_err(FormatError::from)
                    .and_then(|b| Ok(Header::parse(b)?));
                match tx.send((hnum, header)) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            })
        });
        let parsed: Vec<_> = rx
            .into_iter()
            .enumerate()
            .par_bridge()
            .map(|(seq, (key, header))| {
                let package = header.and_then(|h| Ok(package_from_header(&h, source.clone())?));
                (seq, key, package)
            })
            .collect();
        let walked = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (parsed, walked)
    });
    walked.map_err(|e| Error::format(path, FormatError::from(e)))?;
    parsed.sort_unstable_by_key(|(seq, _, _)| *seq);
    Ok(parsed.into_iter().map(|(_, key, p)| (key, p)).collect())
}

/// Parses blobs already in memory on every core, keeping their order.
fn parse_all(records: Vec<RawRecord>, source: &Source) -> Parsed {
    records
        .into_par_iter()
        .map(|(key, blob)| (key, blob.and_then(|b| package_from_blob(&b, source))))
        .collect()
}

/// The raw header blobs of a BerkeleyDB `Packages`, in `rpm -qa` order.
fn bdb_records(path: &Path) -> Result<Vec<RawRecord>> {
    let bytes = fsutil::read_capped(path, limits::MAX_INPUT_FILE)?;
    let records = bdb::records(&bytes).map_err(|e| Error::format(path, FormatError::from(e)))?;
    Ok(records
        .into_iter()
        .map(|r| (i64::from(r.key), r.blob.map_err(FormatError::from)))
        .collect())
}

/// The raw header blobs of an NDB `Packages.db`, in `rpm -qa` order.
fn ndb_records(path: &Path) -> Result<Vec<RawRecord>> {
    let bytes = fsutil::read_capped(path, limits::MAX_INPUT_FILE)?;
    let records = ndb::records(&bytes).map_err(|e| Error::format(path, FormatError::from(e)))?;
    Ok(records
        .into_iter()
        .map(|r| (i64::from(r.pkgidx), r.blob.map_err(FormatError::from)))
        .collect())
}

/// SQLite opens paths itself: refuse FIFOs, devices and oversized files first.
fn check_sqlite_file(path: &Path) -> Result<()> {
    let (_file, meta) = fsutil::open_regular(path)?;
    if meta.len() > limits::MAX_INPUT_FILE {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "file is {} bytes, more than the limit of {}",
                    meta.len(),
                    limits::MAX_INPUT_FILE
                ),
            ),
        ));
    }
    Ok(())
}

fn package_from_blob(blob: &[u8], source: &Source) -> std::result::Result<Package, FormatError> {
    let header = Header::parse(blob)?;
    Ok(package_from_header(&header, source.clone())?)
}

/// Reads a single header file (with or without the 8-byte intro).
pub fn read_header_file(path: &Path) -> Result<Manifest> {
    let bytes = fsutil::read_capped(path, limits::MAX_INPUT_FILE)?;
    let fail = |e: FormatError| Error::format(path, e);
    let header = if bytes.starts_with(&HEADER_INTRO_MAGIC) {
        let (header, used) = Header::parse_with_intro(&bytes).map_err(|e| fail(e.into()))?;
        check_trailing(&bytes, used).map_err(fail)?;
        header
    } else {
        Header::parse(&bytes).map_err(|e| fail(e.into()))?
    };
    let source = Source {
        backend: Backend::RpmHeader,
        file: path.to_path_buf(),
    };
    let package = package_from_header(&header, source).map_err(|e| fail(e.into()))?;
    Ok(Manifest {
        packages: vec![package],
    })
}

/// After a header only its alignment padding (zeros) may follow.
fn check_trailing(bytes: &[u8], used: usize) -> std::result::Result<(), FormatError> {
    let rest = bytes.get(used..).unwrap_or_default();
    if rest.len() < HEADER_ALIGN && rest.iter().all(|&b| b == 0) {
        return Ok(());
    }
    Err(FormatError::Other(format!(
        "{} bytes follow the {used}-byte header, expected at most {} zero bytes of padding",
        rest.len(),
        HEADER_ALIGN - 1
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_padding_rules() {
        assert!(check_trailing(&[1, 2, 3, 0, 0], 3).is_ok());
        assert!(check_trailing(&[1, 2, 3], 3).is_ok());
        assert!(check_trailing(&[1, 2, 3, 0, 7], 3).is_err());
        assert!(check_trailing(&[1; 20], 3).is_err());
    }

    #[test]
    fn issue_display_names_the_record() {
        let i = BlobIssue {
            record: Some(42),
            error: FormatError::Other("bad".into()),
        };
        assert_eq!(i.to_string(), "record 42: bad");
        let i = BlobIssue {
            record: None,
            error: FormatError::Other("wal".into()),
        };
        assert_eq!(i.to_string(), "wal");
    }
}
