//! STUB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NdbError {
    #[error("truncated")]
    Truncated,
}

/// Every header blob of an NDB `Packages.db`.
pub fn blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, NdbError> {
    let _ = bytes;
    Err(NdbError::Truncated)
}
