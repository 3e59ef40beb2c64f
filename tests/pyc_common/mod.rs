//! Shared helpers for the pyc tests: the committed fixtures (copied to a
//! temporary directory with their recorded mtimes, since git keeps none)
//! and the interpreters on this machine.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Every fixture source's mtime unless FIXTURES.tsv says otherwise (make.py's EPOCH).
pub const EPOCH: u64 = 1_700_000_000;
/// make.py pins co_filename under this root.
pub const DFILE_ROOT: &str = "/pyvet-fixtures";

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pyc")
}

/// One row of FIXTURES.tsv.
#[derive(Debug, Clone)]
pub struct Row {
    pub interp: String,
    pub case: String,
    pub pyc: String,
    pub source: Option<String>,
    pub source_mtime: u64,
    pub mode: String,
    pub verdict: String,
    pub used: bool,
    pub oracle: String,
}

pub fn rows(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("FIXTURES.tsv")).expect("FIXTURES.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 9, "bad FIXTURES.tsv line {l:?}");
            Row {
                interp: f[0].into(),
                case: f[1].into(),
                pyc: f[2].into(),
                source: (f[3] != "-").then(|| f[3].to_string()),
                source_mtime: f[4].parse().unwrap(),
                mode: f[5].into(),
                verdict: f[6].into(),
                used: f[7] == "yes",
                oracle: f[8].into(),
            }
        })
        .collect()
}

/// INTERPRETERS.tsv: fixture interpreter id → exact version.
pub fn interpreter_versions(dir: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("INTERPRETERS.tsv")).expect("INTERPRETERS.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A private copy of the fixtures with every source's mtime set as recorded.
pub fn fixture_copy() -> (tempfile::TempDir, Vec<Row>) {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures_dir();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(&src).unwrap();
        let dest = tmp.path().join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
            if dest.extension().is_some_and(|e| e == "py") {
                set_mtime(&dest, EPOCH);
            }
        }
    }
    let rows = rows(tmp.path());
    for r in &rows {
        if let Some(s) = &r.source {
            set_mtime(&tmp.path().join(s), r.source_mtime);
        }
    }
    (tmp, rows)
}

pub fn set_mtime(path: &Path, secs: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

fn pyenv_root() -> PathBuf {
    if let Some(r) = std::env::var_os("PYENV_ROOT") {
        return r.into();
    }
    if let Ok(out) = std::process::Command::new("pyenv").arg("root").output() {
        if out.status.success() {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".pyenv")
}

/// Every CPython on this machine: pyenv's versions and /usr/bin/python3.*,
/// as (label, path, "X.Y").
pub fn all_interpreters() -> Vec<(String, PathBuf, String)> {
    let mut found = Vec::new();
    if let Ok(dir) = std::fs::read_dir(pyenv_root().join("versions")) {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let py = e.path().join("bin/python");
            let mm: Vec<&str> = name.split('.').take(2).collect();
            if py.exists() && mm.len() == 2 && mm.iter().all(|p| p.parse::<u8>().is_ok()) {
                found.push((format!("pyenv {name}"), py, mm.join(".")));
            }
        }
    }
    for minor in 6..=14 {
        let p = PathBuf::from(format!("/usr/bin/python3.{minor}"));
        if p.exists() {
            found.push((p.display().to_string(), p, format!("3.{minor}")));
        }
    }
    found.sort();
    found
}

/// The interpreter `id` that built the fixtures in `dir`, if this machine
/// has that exact version.
pub fn recorded_interpreter(dir: &Path, id: &str) -> Option<PathBuf> {
    fixture_interpreter(id, interpreter_versions(dir).get(id)?)
}

/// The interpreter that made fixture `id` (exact version), if present.
pub fn fixture_interpreter(id: &str, version: &str) -> Option<PathBuf> {
    let p = if id.starts_with("debian") {
        PathBuf::from(format!("/usr/bin/python{}", version.rsplit_once('.')?.0))
    } else {
        pyenv_root()
            .join("versions")
            .join(version)
            .join("bin/python")
    };
    let out = std::process::Command::new(&p)
        .args(["-c", "import sys; sys.stdout.write(sys.version.split()[0])"])
        .output()
        .ok()?;
    (String::from_utf8_lossy(&out.stdout) == version).then_some(p)
}

/// Prints the loud notice a skipped interpreter-dependent check must give.
pub fn skip(what: &str) {
    eprintln!("PYVET PYC TEST SKIPPED: {what}");
}
