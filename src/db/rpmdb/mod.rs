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
    let (records, mut issues) = extract(path, kind)?;
    let source = Source {
        backend: kind.backend(),
        file: path.to_path_buf(),
    };
    let parsed: Vec<(i64, Result<Package, FormatError>)> = records
        .into_par_iter()
        .map(|(key, blob)| (key, blob.and_then(|b| package_from_blob(&b, &source))))
        .collect();
    let mut manifest = Manifest::default();
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

/// Pulls the raw header blobs out of the container, in `rpm -qa` order.
fn extract(path: &Path, kind: Kind) -> Result<(Vec<RawRecord>, Vec<BlobIssue>)> {
    let fail = |e: FormatError| Error::format(path, e);
    let issues = Vec::new();
    let records: Vec<RawRecord> = match kind {
        Kind::Sqlite => {
            check_sqlite_file(path)?;
            sqlite::records(path)
                .map_err(|e| fail(e.into()))?
                .into_iter()
                .map(|r| (r.hnum, r.blob.map_err(FormatError::from)))
                .collect()
        }
        Kind::Bdb => {
            let bytes = fsutil::read_capped(path, limits::MAX_INPUT_FILE)?;
            bdb::records(&bytes)
                .map_err(|e| fail(e.into()))?
                .into_iter()
                .map(|r| (i64::from(r.key), r.blob.map_err(FormatError::from)))
                .collect()
        }
        Kind::Ndb => {
            let bytes = fsutil::read_capped(path, limits::MAX_INPUT_FILE)?;
            ndb::records(&bytes)
                .map_err(|e| fail(e.into()))?
                .into_iter()
                .map(|r| (i64::from(r.pkgidx), r.blob.map_err(FormatError::from)))
                .collect()
        }
    };
    Ok((records, issues))
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
