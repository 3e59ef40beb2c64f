//! The `fedora` policy's pyc-only modules against a real python3-libs
//! header: the shared corpus's CBL-Mariner 2.0 rpmdb (Fedora-derived specs;
//! the only python3-libs header in the corpus, see its PROVENANCE.md).
//!
//! A module is pyc-only when the package owns bytecode of it (a legacy
//! `X.pyc` or a `__pycache__/X.*.pyc`) and no `X.py`; the policy's
//! `pyc-only` globs must match exactly those modules.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pyvet::bytecode::naming::{locate, PycLocation};
use pyvet::db::{load_input, LoadOptions};

const DB: &str = "rpmdb/sqlite/cbl-mariner-2.0/rpmdb.sqlite";

/// The modules (paths without suffix) the package ships as bytecode only.
fn pyc_only(files: &BTreeSet<PathBuf>) -> BTreeSet<PathBuf> {
    files
        .iter()
        .filter_map(|f| match locate(f, None) {
            PycLocation::Cache { source, .. } | PycLocation::Legacy { source }
                if f.extension().is_some_and(|e| e == "pyc") =>
            {
                Some(source)
            }
            _ => None,
        })
        .filter(|source| !files.contains(source))
        .map(|source| source.with_extension(""))
        .collect()
}

#[test]
fn fedora_pyc_only_modules_match_a_real_python3_libs_header() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (m, errors) = load_input(&corpus.join(DB), Path::new("/"), LoadOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let libs = m
        .packages
        .iter()
        .find(|p| p.name == "python3-libs")
        .expect("the header lists python3-libs");
    assert_eq!(libs.version, "3.9.9");
    let files: BTreeSet<PathBuf> = libs.files.iter().map(|f| f.path.to_path_buf()).collect();
    // What the issue claimed pyc-only ships its source here.
    for p in [
        "/usr/lib/python3.9/pydoc_data/topics.py",
        "/usr/lib/python3.9/encodings/cp1252.py",
        "/usr/lib/python3.9/encodings/__init__.py",
    ] {
        assert!(files.contains(Path::new(p)), "{p}");
    }
    let header = pyc_only(&files);
    let policy = pyvet::policy::builtin("fedora").unwrap();
    for module in &header {
        assert!(
            policy.pyc_only_globs.is_match(module),
            "{} is pyc-only in the header, not in the policy",
            module.display()
        );
    }
    // Every glob of the policy names a module the header ships pyc-only.
    for (pattern, glob) in policy.pyc_only.iter().zip(policy.pyc_only_globs.iter()) {
        assert!(
            header.iter().any(|m| glob.is_match(m)),
            "policy pyc-only {pattern:?} matches no pyc-only module of the header"
        );
    }
    assert_eq!(policy.pyc_only.is_empty(), header.is_empty());
}

/// The counting itself: a pyc without its source is pyc-only, with it not.
#[test]
fn pyc_only_counts_bytecode_without_source() {
    let files: BTreeSet<PathBuf> = [
        "/usr/lib/python3.9/a.py",
        "/usr/lib/python3.9/__pycache__/a.cpython-39.pyc",
        "/usr/lib/python3.9/__pycache__/b.cpython-39.opt-1.pyc",
        "/usr/lib/python3.9/c.pyc",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let want: BTreeSet<PathBuf> = ["/usr/lib/python3.9/b", "/usr/lib/python3.9/c"]
        .iter()
        .map(PathBuf::from)
        .collect();
    assert_eq!(pyc_only(&files), want);
}
