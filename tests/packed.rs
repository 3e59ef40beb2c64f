//! Scenario tests of PyOxidizer packed resources in a Python tree: the
//! fixture `tests/fixtures/packed/app.pyor` was written by PyOxidizer's own
//! writer (`python-packed-resources`) from bytecode python3.11 compiled
//! (`make.sh`); it is dropped, unowned, into the site-packages of a real
//! rpm-installed root.
//!
//! Its modules: `app` (package: source, opt-0 bytecode, a data file),
//! `app.good` (source, bytecode at 0, 1, 2 compiled from it),
//! `app.tampered` (source, bytecode compiled from other code),
//! `app.sourceless` (bytecode only).

mod common;

use std::collections::BTreeSet;

use common::audit::{finding, json as audit, not_owned, set};
use common::rpmroot::RpmRoot;
use python_packed_resources::load_resources;

const FIXTURE: &[u8] = include_bytes!("fixtures/packed/app.pyor");
const FILE: &str = "/usr/lib/python3.11/site-packages/app.pyor";

fn at(module: &str) -> String {
    format!("{FILE}/{module}")
}

/// A root with the status-quo subset and `bytes` as the unowned FILE.
fn root_with(bytes: &[u8]) -> RpmRoot {
    let r = RpmRoot::status_quo();
    let to = r.path(FILE);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(&to, bytes).unwrap();
    r
}

/// The findings of the packed check and the unowned one at FILE.
fn packed_findings(report: &serde_json::Value) -> BTreeSet<(String, String)> {
    not_owned(report)
        .into_iter()
        .filter(|(_, p)| p.starts_with(FILE))
        .collect()
}

/// pyvet's reader sees what PyOxidizer's own reader sees in the fixture.
#[test]
fn the_reference_reader_agrees() {
    let ours = pyvet::format::packed::Packed::parse(FIXTURE).unwrap();
    let theirs: Vec<_> = load_resources(FIXTURE)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ours.resources.len(), theirs.len());
    for (a, b) in ours.resources.iter().zip(&theirs) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.source, b.in_memory_source.as_deref());
        assert_eq!(a.bytecode[0], b.in_memory_bytecode.as_deref());
        assert_eq!(a.bytecode[1], b.in_memory_bytecode_opt1.as_deref());
        assert_eq!(a.bytecode[2], b.in_memory_bytecode_opt2.as_deref());
        assert_eq!(a.flags.package, b.is_python_package);
        let data = b.in_memory_package_resources.as_ref();
        assert_eq!(a.package_data.len(), data.map_or(0, |d| d.len()));
    }
}

#[test]
fn embedded_bytecode_is_judged_at_file_slash_module() {
    let r = root_with(FIXTURE);
    let report = audit(&r.root, &[]);
    assert_eq!(
        packed_findings(&report),
        set(&[
            ("unowned-module", FILE),
            ("sourceless-bytecode", &at("app.sourceless")),
            ("packed-unchecked-bytecode", &at("app")),
            ("packed-unchecked-bytecode", &at("app.good")),
            ("packed-unchecked-bytecode", &at("app.tampered")),
        ])
    );
    let f = finding(&report, "sourceless-bytecode", &at("app.sourceless"));
    assert_eq!(f["severity"], "error");
    assert_eq!(f["evidence"]["bytecode"]["python"], "3.11");
    assert_eq!(f["evidence"]["extra"]["packed-resources"], FILE, "{f}");
    assert_eq!(f["evidence"]["extra"]["module"], "app.sourceless");

    // --deep compiles each embedded source with the trusted python3.11 and
    // compares: only the tampered module's code is not its source's.
    let report = audit(&r.root, &["--deep"]);
    assert_eq!(
        packed_findings(&report),
        set(&[
            ("unowned-module", FILE),
            ("sourceless-bytecode", &at("app.sourceless")),
            ("diverging-bytecode", &at("app.tampered")),
        ])
    );
}

/// Hostile files are findings, never crashes: every truncation of the real
/// fixture in one root, each `packed-malformed` at its own file.
#[test]
fn truncations_are_malformed_findings() {
    let r = RpmRoot::status_quo();
    let dir = r.path("/usr/lib/python3.11/site-packages");
    std::fs::create_dir_all(&dir).unwrap();
    // Cuts shorter than the header are no candidates (too short to be one).
    let cuts: Vec<usize> = (pyvet::format::packed::HEADER_LEN..FIXTURE.len()).collect();
    for &cut in &cuts {
        std::fs::write(dir.join(format!("cut{cut}.pyor")), &FIXTURE[..cut]).unwrap();
    }
    let report = audit(&r.root, &[]);
    let malformed: BTreeSet<String> = not_owned(&report)
        .into_iter()
        .filter(|(rule, _)| rule == "packed-malformed")
        .map(|(_, p)| p)
        .collect();
    let want: BTreeSet<String> = cuts
        .iter()
        .map(|c| format!("/usr/lib/python3.11/site-packages/cut{c}.pyor"))
        .collect();
    assert_eq!(malformed, want);
}

/// `pyvet manifest` lists the modules; as an audit `--manifest` (where its
/// entries would all be "missing") it is a usage error.
#[test]
fn manifest_lists_it_and_audit_refuses_it_as_a_manifest() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/packed/app.pyor"
    );
    let out = assert_cmd::Command::cargo_bin("pyvet")
        .unwrap()
        .args(["manifest", "--db", "none", fixture])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("app.pyor-pyembed3  10 files  packed-resources:"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("pyvet")
        .unwrap()
        .args(["audit", "--manifest", fixture, "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("owns no files of the root"));
}
