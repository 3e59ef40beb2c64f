//! `.rpm` package files (STUB).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpmFileError {
    #[error("truncated")]
    Truncated,
}

use std::path::Path;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// Parses a `.rpm` from memory: lead, signature header, main header (the payload is not read).
pub fn parse(
    bytes: &[u8],
    source: crate::manifest::Source,
) -> Result<crate::manifest::Package, RpmFileError> {
    let _ = (bytes, source);
    Err(RpmFileError::Truncated)
}

/// Reads the header of a `.rpm` package file.
pub fn read(path: &Path) -> Result<Manifest> {
    Err(Error::Usage(format!(
        "{}: not implemented yet",
        path.display()
    )))
}
