//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared third-party corpus: `$PYVET_CORPUS`, else `../shared/corpus`
/// next to the crate. `None` (with a loud message) when it is missing, so
/// that corpus tests skip visibly instead of failing on a checkout without it.
pub fn corpus() -> Option<PathBuf> {
    let path = std::env::var_os("PYVET_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
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

/// Every regular file under `dir` whose name ends with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    out
}

/// Runs a command and returns its stdout; panics with stderr if it fails.
pub fn run_stdout(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs a command; returns (success, stdout, stderr).
pub fn run(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `.deb` fixtures built by `tests/fixtures/deb/make.sh`, sorted.
pub fn deb_fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deb");
    files_with_suffix(&dir, ".deb")
}

/// xorshift64: a small deterministic PRNG, so any failing input replays.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Overwrites `n` random positions of `buf` (non-empty) with random bytes.
    pub fn mutate(&mut self, buf: &mut [u8], n: usize) {
        for _ in 0..n {
            let i = (self.next_u64() % buf.len() as u64) as usize;
            buf[i] = (self.next_u64() >> 32) as u8;
        }
    }
}
pub mod audit;
pub mod dpkgroot;
pub mod rpmroot;
pub mod sarif;

/// `mkfifo(1)`: a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// The layouts of a `pyvet size --format json` report, in its order: name,
/// bytes, blocks and files.
pub fn size_layouts(doc: &serde_json::Value) -> Vec<(String, u64, u64, u64)> {
    doc["layouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let n = |k: &str| l[k].as_u64().unwrap();
            (
                l["name"].as_str().unwrap().to_owned(),
                n("bytes"),
                n("blocks"),
                n("files"),
            )
        })
        .collect()
}
