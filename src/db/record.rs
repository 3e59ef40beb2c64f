//! STUB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("truncated")]
    Truncated,
}

use std::path::Path;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// Parses a RECORD held in memory; `base` is the absolute directory that
/// RECORD paths are relative to (the one holding the `.dist-info`).
pub fn parse(
    bytes: &[u8],
    base: &std::path::Path,
    source: crate::manifest::Source,
) -> Result<crate::manifest::Package, RecordError> {
    let _ = (bytes, base, source);
    Err(RecordError::Truncated)
}

/// Reads a pip `RECORD`; paths are placed relative to the directory that
/// holds the `.dist-info`, with `root` stripped to make them absolute.
pub fn read(path: &Path, root: &Path) -> Result<Manifest> {
    let _ = root;
    Err(Error::Usage(format!(
        "{}: not implemented yet",
        path.display()
    )))
}

/// Finds every `*.dist-info/RECORD` in the Python library directories under `root`.
pub fn find_records(root: &Path) -> Vec<std::path::PathBuf> {
    let _ = root;
    Vec::new()
}
