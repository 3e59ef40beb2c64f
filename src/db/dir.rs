//! Directory trees as manifests (STUB).

use std::path::Path;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// Walks `dir` and records every entry as if `dir` were `/`.
pub fn read(dir: &Path) -> Result<Manifest> {
    Err(Error::Usage(format!(
        "{}: not implemented yet",
        dir.display()
    )))
}
