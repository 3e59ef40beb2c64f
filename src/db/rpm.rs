//! RPM header -> Package (STUB: helper A replaces this file; keep the entry points).

use crate::format::rpmheader::{Header, HeaderError};
use crate::manifest::{Package, Source};

/// Builds a package (NEVRA, install time, files) from a parsed header.
pub fn package_from_header(h: &Header, source: Source) -> Result<Package, HeaderError> {
    let _ = (h, source);
    Err(HeaderError::Unimplemented)
}
