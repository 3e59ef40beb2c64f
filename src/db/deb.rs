//! STUB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DebError {
    #[error("truncated")]
    Truncated,
}

use std::path::Path;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// Parses a `.deb` held in memory (ar + control/data tar, decompressed with limits).
pub fn parse(
    bytes: &[u8],
    source: crate::manifest::Source,
) -> Result<crate::manifest::Package, DebError> {
    let _ = (bytes, source);
    Err(DebError::Truncated)
}

/// Reads a `.deb` package file.
pub fn read(path: &Path) -> Result<Manifest> {
    Err(Error::Usage(format!(
        "{}: not implemented yet",
        path.display()
    )))
}
