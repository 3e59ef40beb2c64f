//! marshal streams (STUB: helper E replaces this file; keep the entry points).

/// What pyvet needs from a module's top-level code object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFacts {
    pub co_filename: String,
    pub has_docstring: bool,
}

/// Reads the top-level code object of a pyc payload (after the header) for
/// CPython `(major, minor)`.
pub fn read_code_facts(payload: &[u8], version: (u8, u8)) -> Result<CodeFacts, MarshalError> {
    let _ = (payload, version);
    Err(MarshalError::Truncated)
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MarshalError {
    #[error("truncated")]
    Truncated,
}
