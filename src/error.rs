//! The crate-wide error type.
//!
//! Every parser has its own typed error enum (in its module); this module
//! wraps them together with the file they came from, so that every error a
//! user sees names the file and what was wrong with it.

use std::path::PathBuf;

/// A parse error from one of the format or database parsers, without a path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    #[error("RPM header: {0}")]
    RpmHeader(#[from] crate::format::rpmheader::HeaderError),
    #[error("RPM package: {0}")]
    RpmFile(#[from] crate::db::rpmfile::RpmFileError),
    #[error("RPM package: {0}")]
    RpmPayload(#[from] crate::db::rpmfile::payload::PayloadError),
    #[error("BerkeleyDB: {0}")]
    Bdb(#[from] crate::db::rpmdb::bdb::BdbError),
    #[error("NDB: {0}")]
    Ndb(#[from] crate::db::rpmdb::ndb::NdbError),
    #[error("SQLite rpmdb: {0}")]
    Sqlite(#[from] crate::db::rpmdb::sqlite::SqliteError),
    #[error("dpkg: {0}")]
    Dpkg(#[from] crate::db::dpkg::DpkgError),
    #[error("deb822: {0}")]
    Deb822(#[from] crate::format::deb822::Deb822Error),
    #[error(".deb: {0}")]
    Deb(#[from] crate::db::deb::DebError),
    #[error("ar archive: {0}")]
    Ar(#[from] crate::format::ar::ArError),
    #[error("apk: {0}")]
    Apk(#[from] crate::db::apk::ApkError),
    #[error("RECORD: {0}")]
    Record(#[from] crate::db::record::RecordError),
    #[error(".pyc: {0}")]
    Pyc(#[from] crate::format::pyc::PycError),
    #[error("packed resources: {0}")]
    Packed(#[from] crate::format::packed::PackedError),
    #[error("marshal: {0}")]
    Marshal(#[from] crate::format::marshal::MarshalError),
    #[error("{0}")]
    Other(String),
}

/// An error that stops one input from being read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused an operation on `path`.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The content of `path` is not what its format requires.
    #[error("{}: {source}", path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: Box<FormatError>,
    },
    /// One record of a database could not be read; the others were.
    #[error("{}: {issue}", path.display())]
    Record {
        path: PathBuf,
        #[source]
        issue: Box<crate::db::rpmdb::BlobIssue>,
    },
    /// The input could not be recognised as any supported format.
    #[error("{}: not a recognised package database, package file or tree: {why}", path.display())]
    Unrecognised { path: PathBuf, why: String },
    /// Something is at `path` that cannot be read safely (a database
    /// location that is a dangling or looping symlink).
    #[error("{}: {why}", path.display())]
    Unreadable { path: PathBuf, why: String },
    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a parse error with the file it came from.
    pub fn format(path: impl Into<PathBuf>, source: impl Into<FormatError>) -> Self {
        Error::Format {
            path: path.into(),
            source: Box::new(source.into()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
