//! .pyc headers (STUB: helper E replaces this file; keep the entry points).

/// A parsed .pyc header (PEP 552 16-byte form, 12-byte pre-3.7 form, or 2.7's 8 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PycHeader {
    _private: (),
}

impl PycHeader {
    pub fn parse(bytes: &[u8]) -> Result<PycHeader, PycError> {
        let _ = bytes;
        Err(PycError::Truncated)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PycError {
    #[error("truncated")]
    Truncated,
}
