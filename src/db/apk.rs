//! STUB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApkError {
    #[error("truncated")]
    Truncated,
}

use std::path::Path;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// Parses an apk `installed` database held in memory.
pub fn parse(
    bytes: &[u8],
    source: crate::manifest::Source,
) -> Result<Vec<crate::manifest::Package>, ApkError> {
    let _ = (bytes, source);
    Err(ApkError::Truncated)
}

/// Reads an apk `installed` database.
pub fn read(path: &Path) -> Result<Manifest> {
    Err(Error::Usage(format!(
        "{}: not implemented yet",
        path.display()
    )))
}
