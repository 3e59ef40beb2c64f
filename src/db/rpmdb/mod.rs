//! Installed RPM databases (STUB).
pub mod bdb;
pub mod ndb;
pub mod sqlite;

use std::path::Path;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// The three rpmdb storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Bdb,
    Ndb,
}

/// Reads every package header in the database file `path`.
pub fn read(path: &Path, kind: Kind) -> Result<Manifest> {
    let _ = kind;
    Err(Error::Usage(format!(
        "{}: rpmdb reader not implemented yet",
        path.display()
    )))
}

/// Reads a single header file (with or without the 8-byte intro).
pub fn read_header_file(path: &Path) -> Result<Manifest> {
    Err(Error::Usage(format!(
        "{}: header reader not implemented yet",
        path.display()
    )))
}
