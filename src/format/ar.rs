//! Unix `ar` archives (STUB: helper C replaces this file; keep the entry points).

/// One archive member: its name and where its data lies in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub data: std::ops::Range<usize>,
}

/// Lists the members of an `ar` archive held in memory.
pub fn parse(bytes: &[u8]) -> Result<Vec<Member>, ArError> {
    let _ = bytes;
    Err(ArError::Truncated)
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArError {
    #[error("truncated")]
    Truncated,
}
