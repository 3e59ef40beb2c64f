//! Owned-file verification for the managers without a verifier of their
//! own to compare with: pip `RECORD` (a real `pip install --root` of the
//! pip wheel CPython bundles) and directory manifests (a reference copy of
//! the stdlib subset, `--manifest DIR`).

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::audit;
use common::run_stdout;

fn owned(root: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    audit::owned(&audit::json(root, extra))
}

fn summary(fs: &[serde_json::Value]) -> BTreeSet<(String, String, String)> {
    fs.iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["path"].as_str().unwrap().into(),
                f["evidence"]["verify"]["result"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// The pip wheel CPython 3.12 bundles for ensurepip, installed by that
/// Python's pip under `root` (prefix /usr/local): pip writes the RECORD.
fn pip_root() -> (tempfile::TempDir, PathBuf) {
    let py = Path::new("/root/.pyenv/versions/3.12.1/bin/python");
    let bundled = py
        .parent()
        .unwrap()
        .join("../lib/python3.12/ensurepip/_bundled");
    let wheel = std::fs::read_dir(&bundled)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .expect("bundled pip wheel");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    run_stdout(
        Command::new(py)
            .args(["-m", "pip", "install", "--ignore-installed", "--root"])
            .arg(&root)
            .args([
                "--prefix",
                "/usr/local",
                "--no-index",
                "--no-deps",
                "--no-compile",
                "--disable-pip-version-check",
                "-q",
            ])
            .arg(wheel)
            .env("PIP_FIND_LINKS", ""),
    );
    (dir, root)
}

const SITE: &str = "/usr/local/lib/python3.12/site-packages";

#[test]
fn pip_record_untouched_and_tampered() {
    let (_d, root) = pip_root();
    assert_eq!(summary(&owned(&root, &[])), set(&[]));
    let at = |p: &str| root.join(SITE.trim_start_matches('/')).join(p);
    // Same size, other content.
    let init = at("pip/__init__.py");
    let mut text = std::fs::read(&init).unwrap();
    let i = text.iter().position(|&b| b == b'_').unwrap();
    text[i] = b'X';
    std::fs::write(&init, &text).unwrap();
    // Longer.
    let main = at("pip/__main__.py");
    let mut text = std::fs::read(&main).unwrap();
    text.extend_from_slice(b"\nprint('hi')\n");
    std::fs::write(&main, &text).unwrap();
    // Gone, and replaced by a directory.
    std::fs::remove_file(at("pip/py.typed")).unwrap();
    std::fs::remove_file(at("pip/_internal/main.py")).unwrap();
    std::fs::create_dir(at("pip/_internal/main.py")).unwrap();
    // A mode change: RECORD has no modes, so nothing to report.
    std::fs::set_permissions(
        at("pip/_internal/exceptions.py"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let fs = owned(&root, &[]);
    assert_eq!(
        summary(&fs),
        set(&[
            (
                "digest-mismatch",
                &format!("{SITE}/pip/__init__.py"),
                ".?5??????"
            ),
            (
                "digest-mismatch",
                &format!("{SITE}/pip/__main__.py"),
                "S?5??????"
            ),
            ("missing", &format!("{SITE}/pip/py.typed"), "missing"),
            (
                "type-mismatch",
                &format!("{SITE}/pip/_internal/main.py"),
                "?M???????"
            ),
        ])
    );
    let f = fs
        .iter()
        .find(|f| f["path"] == format!("{SITE}/pip/__main__.py"))
        .unwrap();
    assert_eq!(f["package"]["backend"], "pip-record");
    assert!(f["evidence"]["verify"]["expected"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(
        f["evidence"]["verify"]["unchecked"],
        serde_json::json!(["mode", "device", "link", "owner", "group", "mtime", "caps"])
    );
}

/// `cp -a`: keeps modes, owners and times.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    run_stdout(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(to),
    );
}

#[test]
fn directory_manifest_untouched_and_tampered() {
    let d = tempfile::tempdir().unwrap();
    let reference = d.path().join("reference");
    common::rpmroot::stage_subset(&reference);
    let root = d.path().join("root");
    copy_tree(&reference, &root);
    let args = ["--db", "none", "--manifest", reference.to_str().unwrap()];
    assert_eq!(summary(&owned(&root, &args)), set(&[]));
    let p = |s: &str| root.join(s.trim_start_matches('/'));
    std::fs::set_permissions(
        p("/usr/lib/python3.11/colorsys.py"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::os::unix::fs::chown(p("/usr/lib/python3.11/bisect.py"), None, Some(4321)).unwrap();
    std::fs::remove_file(p("/usr/lib/python3.11/json/tool.py")).unwrap();
    std::os::unix::fs::symlink("decoder.py", p("/usr/lib/python3.11/json/tool.py")).unwrap();
    assert_eq!(
        summary(&owned(&root, &args)),
        set(&[
            (
                "mode-mismatch",
                "/usr/lib/python3.11/colorsys.py",
                ".M......."
            ),
            (
                "group-mismatch",
                "/usr/lib/python3.11/bisect.py",
                "......G.."
            ),
            (
                "type-mismatch",
                "/usr/lib/python3.11/json/tool.py",
                "....L...."
            ),
        ])
    );
}
