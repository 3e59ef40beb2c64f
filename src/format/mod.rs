//! Pure byte parsers: each takes a byte slice and returns typed data or a
//! typed error. Nothing here touches the file system, so each parser can be
//! fuzzed on its own.

pub mod ar;
pub mod cpio;
pub mod deb822;
pub mod marshal;
pub mod packed;
pub mod passwd;
pub mod pyc;
pub mod pysource;
pub mod rpmheader;
pub mod tar;
pub mod zip;
