//! Owned-file verification of dpkg-installed files against `dpkg --verify`:
//! a real `.deb` (dpkg-deb) installed with `dpkg --root`, tampered with,
//! audited by the real `pyvet` binary. dpkg records only MD5 sums, so pyvet
//! checks what dpkg checks and says which attributes it could not.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use common::audit;
use common::dpkgroot::{DpkgRoot, CONFFILE};

fn owned(root: &Path) -> Vec<serde_json::Value> {
    audit::owned(&audit::json(root, &[]))
}

fn assert_audit(r: &DpkgRoot, findings: &[(&str, &str)], dpkg_lines: &[&str]) {
    let got: BTreeSet<(String, String)> = owned(&r.root)
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = findings
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    let dpkg: BTreeSet<String> = r.dpkg_verify().into_iter().collect();
    let want: BTreeSet<String> = dpkg_lines.iter().map(|s| s.to_string()).collect();
    assert_eq!(dpkg, want, "dpkg --verify itself");
    let pyvet: BTreeSet<String> = String::from_utf8(audit::output(&r.root, "rpm", &[]))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(pyvet, dpkg, "pyvet --format rpm vs dpkg --verify");
}

const TOOL: &str = "/usr/lib/python3.11/json/tool.py";
const KEYWORD: &str = "/usr/lib/python3.11/keyword.py";
const BISECT: &str = "/usr/lib/python3.11/bisect.py";
const COLORSYS: &str = "/usr/lib/python3.11/colorsys.py";

#[test]
fn untouched_dpkg_root_verifies_clean() {
    let r = DpkgRoot::status_quo();
    assert!(r
        .path("/var/lib/dpkg/info/pyvet-stdlib-subset.md5sums")
        .is_file());
    assert_audit(&r, &[], &[]);
}

#[test]
fn dpkg_edited_source_and_conffile() {
    let r = DpkgRoot::status_quo();
    let p = r.path(TOOL);
    let mut text = std::fs::read(&p).unwrap();
    text.extend_from_slice(b"\nimport os\n");
    std::fs::write(&p, text).unwrap();
    std::fs::write(r.path(CONFFILE), "[pyvet]\nlevel = lax\n").unwrap();
    assert_audit(
        &r,
        &[("digest-mismatch", TOOL), ("digest-mismatch", CONFFILE)],
        &[
            "??5?????? c /etc/pyvet.conf",
            "??5??????   /usr/lib/python3.11/json/tool.py",
        ],
    );
    let f = owned(&r.root)
        .into_iter()
        .find(|f| f["path"] == TOOL)
        .unwrap();
    let v = &f["evidence"]["verify"];
    assert_eq!(v["result"], "??5??????");
    assert_eq!(v["differs"], serde_json::json!(["digest"]));
    assert_eq!(
        v["unchecked"],
        serde_json::json!(["size", "mode", "device", "link", "owner", "group", "mtime", "caps"])
    );
    assert!(v["expected"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("md5:"));
    assert_eq!(f["package"]["backend"], "dpkg");
}

#[test]
fn dpkg_deleted_file() {
    let r = DpkgRoot::status_quo();
    std::fs::remove_file(r.path(KEYWORD)).unwrap();
    assert_audit(
        &r,
        &[("missing", KEYWORD)],
        &["missing     /usr/lib/python3.11/keyword.py"],
    );
}

#[test]
fn dpkg_file_replaced_by_a_symlink() {
    let r = DpkgRoot::status_quo();
    std::fs::remove_file(r.path(BISECT)).unwrap();
    // Relative, so that dpkg (which follows it on the host) and pyvet
    // (which follows it inside the root) read the same file.
    symlink("colorsys.py", r.path(BISECT)).unwrap();
    assert_audit(
        &r,
        &[("type-mismatch", BISECT)],
        &["?M5??????   /usr/lib/python3.11/bisect.py"],
    );
}

#[test]
fn dpkg_cannot_see_a_chmod_and_neither_does_pyvet() {
    let r = DpkgRoot::status_quo();
    std::fs::set_permissions(r.path(COLORSYS), std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_audit(&r, &[], &[]);
}

/// `dpkg-divert --local --rename` moves a packaged module aside; dpkg then
/// verifies the package's file at its new name, and so must pyvet. What the
/// admin puts at the old name is owned by nobody.
#[test]
fn dpkg_local_diversion_is_verified_where_dpkg_put_the_file() {
    let r = DpkgRoot::status_quo();
    let moved = format!("{COLORSYS}.distrib");
    common::run_stdout(
        std::process::Command::new("dpkg-divert")
            .arg("--root")
            .arg(&r.root)
            .args(["--local", "--rename", "--divert", &moved, "--add", COLORSYS]),
    );
    assert!(r.path(&moved).is_file() && !r.path(COLORSYS).exists());
    assert_audit(&r, &[], &[]);

    std::fs::write(r.path(COLORSYS), "def rgb_to_hsv(r, g, b): pass\n").unwrap();
    let report = audit::json(&r.root, &[]);
    assert!(audit::owned(&report).is_empty());
    assert!(
        audit::not_owned(&report).contains(&("unowned-module".into(), COLORSYS.into())),
        "{:?}",
        audit::not_owned(&report)
    );

    // dpkg looks the MD5 up under the diverted-to name, where it has none,
    // so it checks only that the file exists (verify.c, db-fsys-digest.c).
    // pyvet knows the package's digest for it and checks it.
    std::fs::write(r.path(&moved), "tampered = True\n").unwrap();
    assert_eq!(r.dpkg_verify(), Vec::<String>::new());
    let rpm = String::from_utf8(audit::output(&r.root, "rpm", &[])).unwrap();
    assert_eq!(rpm, format!("??5??????   {moved}\n"));

    std::fs::remove_file(r.path(&moved)).unwrap();
    assert_audit(
        &r,
        &[("missing", &moved)],
        &["missing     /usr/lib/python3.11/colorsys.py.distrib"],
    );
}
