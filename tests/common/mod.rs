//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The third-party corpus (`$PYVET_CORPUS`, else `../shared/corpus` beside
/// the crate). `None`, with a loud message, when it is missing.
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

/// Runs a command; returns (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
