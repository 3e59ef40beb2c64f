//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The third-party corpus (`$PYVET_CORPUS`, default `../shared/corpus`), or
/// `None` after saying loudly that the tests needing it are skipped.
#[allow(dead_code)] // not every test binary uses every helper
pub fn corpus() -> Option<PathBuf> {
    let path = std::env::var_os("PYVET_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus")));
    if path.is_dir() {
        Some(path)
    } else {
        eprintln!(
            "PYVET CORPUS MISSING at {}: corpus tests skipped",
            path.display()
        );
        None
    }
}

/// The committed fixtures directory, `tests/fixtures`.
#[allow(dead_code)]
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}
