//! STUB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpkgError {
    #[error("truncated")]
    Truncated,
}

use std::path::Path;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// Parses a dpkg `status` document; only installed packages are kept.
pub fn parse_status(
    bytes: &[u8],
    source: crate::manifest::Source,
) -> Result<Vec<crate::manifest::Package>, DpkgError> {
    let _ = (bytes, source);
    Err(DpkgError::Truncated)
}

/// Parses an `info/<pkg>.list` file: one absolute path per line.
pub fn parse_list(bytes: &[u8]) -> Result<Vec<std::path::PathBuf>, DpkgError> {
    let _ = bytes;
    Err(DpkgError::Truncated)
}

/// Parses a `.md5sums` file: `<md5 hex>  <path without leading slash>` lines.
pub fn parse_md5sums(
    bytes: &[u8],
) -> Result<Vec<(std::path::PathBuf, crate::digest::Digest)>, DpkgError> {
    let _ = bytes;
    Err(DpkgError::Truncated)
}

/// Parses a `.conffiles` file: one absolute path per line (with optional flags).
pub fn parse_conffiles(bytes: &[u8]) -> Result<Vec<std::path::PathBuf>, DpkgError> {
    let _ = bytes;
    Err(DpkgError::Truncated)
}

/// Reads a dpkg admin directory: `status`, `info/`, and distroless `status.d/`.
pub fn read_admindir(dir: &Path) -> Result<Manifest> {
    Err(Error::Usage(format!(
        "{}: not implemented yet",
        dir.display()
    )))
}

/// Reads one `status` file (or one `status.d/<pkg>` stanza file); file
/// lists come from `info/` or the `.md5sums` beside it when present.
pub fn read_status_file(path: &Path) -> Result<Manifest> {
    Err(Error::Usage(format!(
        "{}: not implemented yet",
        path.display()
    )))
}
