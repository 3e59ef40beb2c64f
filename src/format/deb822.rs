//! deb822 stanzas (STUB: helper C replaces this file; keep the entry points).

/// One stanza: fields in file order, continuation lines joined with `\n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    pub fields: Vec<(String, String)>,
    /// 1-based line number where the stanza starts (for error messages).
    pub line: usize,
}

/// Splits a deb822 document (dpkg `status`, `control`, `status.d/*`) into stanzas.
pub fn parse(bytes: &[u8]) -> Result<Vec<Stanza>, Deb822Error> {
    let _ = bytes;
    Err(Deb822Error::Truncated)
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Deb822Error {
    #[error("truncated")]
    Truncated,
}
