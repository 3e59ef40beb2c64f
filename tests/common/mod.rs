//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared third-party corpus: `$PYVET_CORPUS`, else `../shared/corpus`
/// beside the crate. `None` (after a loud message) when it is missing.
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
