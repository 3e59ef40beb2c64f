//! STUB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BdbError {
    #[error("truncated")]
    Truncated,
}

/// Every value of the BerkeleyDB hash database `Packages` (each an rpm header blob).
pub fn blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, BdbError> {
    let _ = bytes;
    Err(BdbError::Truncated)
}
