//! RPM header structure (STUB: helper A replaces this file; keep the entry points).

/// A parsed RPM header (index entries + data store).
#[derive(Debug, Clone)]
pub struct Header {
    _private: (),
}

impl Header {
    /// Parses the rpmdb form: `il`, `dl` (big-endian u32 each), index, data. No intro.
    pub fn parse(bytes: &[u8]) -> Result<Header, HeaderError> {
        let _ = bytes;
        Err(HeaderError::Unimplemented)
    }

    /// Parses the on-disk form that starts with the 8-byte intro `8e ad e8 01 00 00 00 00`;
    /// returns the header and how many bytes it took (without alignment padding).
    pub fn parse_with_intro(bytes: &[u8]) -> Result<(Header, usize), HeaderError> {
        let _ = bytes;
        Err(HeaderError::Unimplemented)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    #[error("not implemented")]
    Unimplemented,
}
