//! Issue 14: PATH arguments mean what the help says. A root whose Python
//! tree dpkg installed (`dpkg --root`), with a bare build tree elsewhere in
//! it (the stdlib subset compiled by `python3.11 -m compileall`, with the
//! `__dont_write_bytecode__` markers fedora-option1 requires): given as a
//! PATH, the build tree replaces the discovered trees in `audit` and
//! `markers`, is reported once as `no-manifest` and gets no ownership
//! finding, while its bytecode is still judged; `--also-discovered` audits
//! both, and the discovered trees keep every ownership finding, also the
//! `/usr/local` tree nothing owns that an attacker could have made.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

use common::audit::{findings, rule_path, s};
use common::dpkgroot::DpkgRoot;
use common::rpmroot::{stage_subset, PYTHON, STDLIB};
use common::run_stdout;

/// Where the build tree sits in the root.
const BUILD: &str = "/build/usr/lib/python3.11";
/// The tree dpkg installed.
const OWNED: &str = STDLIB;
/// A tree nothing owns, as pip or an attacker makes one.
const LOCAL: &str = "/usr/local/lib/python3.11";

struct Scenario {
    r: DpkgRoot,
}

impl Scenario {
    /// The dpkg root, an unowned module in its owned tree, an unowned
    /// `.pth` in `/usr/local`, and the build tree.
    fn new() -> Scenario {
        let r = DpkgRoot::status_quo();
        std::fs::write(r.path(&format!("{OWNED}/evil.py")), "import os\n").unwrap();
        let site = r.path(&format!("{LOCAL}/site-packages"));
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("evil.pth"), "import os\n").unwrap();
        build_tree(&r.path("/build"));
        Scenario { r }
    }

    /// `pyvet COMMAND --policy fedora-option1 --format json ARGS`: exit code and report.
    fn run(&self, command: &str, args: &[&str]) -> (i32, Value) {
        let out = Command::cargo_bin("pyvet")
            .unwrap()
            .args([command, "--policy", "fedora-option1", "--format", "json"])
            .args(["--fail-on", "never", "--root"])
            .arg(&self.r.root)
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{command} {args:?}: {e}; stderr: {stderr}"));
        (out.status.code().unwrap(), report)
    }
}

/// The stdlib subset under `prefix`, byte-compiled by the real interpreter
/// with its path in the root as co_filename, a `__dont_write_bytecode__`
/// in each `__pycache__`, and a sourceless `evil.pyc` (compiled, then its
/// source removed).
fn build_tree(prefix: &Path) {
    stage_subset(prefix);
    let tree = prefix.join(&STDLIB[1..]);
    std::fs::write(tree.join("evil.py"), "import os\n").unwrap();
    run_stdout(
        Command::new(PYTHON)
            .args(["-m", "compileall", "-q", "-b", "-d", BUILD])
            .arg(tree.join("evil.py")),
    );
    std::fs::remove_file(tree.join("evil.py")).unwrap();
    run_stdout(
        Command::new(PYTHON)
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .args(["-m", "compileall", "-q", "-f", "-d", BUILD])
            .arg(&tree),
    );
    for dir in [tree.clone(), tree.join("json")] {
        std::fs::write(dir.join("__pycache__/__dont_write_bytecode__"), "").unwrap();
    }
}

fn trees(report: &Value) -> Vec<String> {
    report["summary"]["python_trees"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect()
}

fn found(report: &Value) -> BTreeSet<(String, String)> {
    findings(report).map(rule_path).collect()
}

/// The findings inside `tree`.
fn within(report: &Value, tree: &str) -> BTreeSet<(String, String)> {
    found(report)
        .into_iter()
        .filter(|(_, p)| Path::new(p).starts_with(tree))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    common::audit::set(items)
}

fn evil_pyc() -> String {
    format!("{BUILD}/evil.pyc")
}

/// Ownership findings a bare tree must never get.
fn is_ownership(rule: &str) -> bool {
    rule.starts_with("unowned-") || rule == "marker-invalid" || rule == "marker-written-bytecode"
}

#[test]
fn issue_14_a_build_tree_given_as_path_replaces_discovery_in_audit() {
    let sc = Scenario::new();
    let (code, report) = sc.run("audit", &[BUILD]);
    assert_eq!(code, 0);
    assert_eq!(trees(&report), [BUILD]);
    assert_eq!(
        report["summary"]["packages"], 0,
        "no package owns the build tree"
    );
    // Once no-manifest, at the tree; the bytecode check still runs there.
    assert_eq!(
        found(&report),
        pairs(&[("no-manifest", BUILD), ("sourceless-bytecode", &evil_pyc())])
    );
}

#[test]
fn issue_14_a_build_tree_given_as_path_replaces_discovery_in_markers() {
    let sc = Scenario::new();
    let (code, report) = sc.run("markers", &[BUILD]);
    assert_eq!(code, 0);
    assert_eq!(trees(&report), [BUILD]);
    // Valid markers nothing owns: no marker-invalid, whatever databases
    // the root holds. The legacy pyc is no option 1 layout.
    assert_eq!(
        found(&report),
        pairs(&[("no-manifest", BUILD), ("layout-unexpected", &evil_pyc())])
    );
}

#[test]
fn issue_14_also_discovered_audits_both_and_keeps_ownership_findings() {
    let sc = Scenario::new();
    let (_, report) = sc.run("audit", &["--also-discovered", BUILD]);
    assert_eq!(trees(&report), [OWNED, LOCAL, BUILD]);
    assert_eq!(
        within(&report, BUILD),
        pairs(&[("no-manifest", BUILD), ("sourceless-bytecode", &evil_pyc())])
    );
    let all = found(&report);
    for want in [
        ("unowned-module", format!("{OWNED}/evil.py")),
        ("unowned-pth", format!("{LOCAL}/site-packages/evil.pth")),
    ] {
        let want = (want.0.to_string(), want.1);
        assert!(all.contains(&want), "{want:?} not in {all:#?}");
    }
    let no_manifest: Vec<_> = all.iter().filter(|(r, _)| r == "no-manifest").collect();
    assert_eq!(no_manifest.len(), 1, "{all:#?}");

    // markers too: the discovered tree's markers are checked, the build
    // tree's ownership is not.
    let (_, report) = sc.run("markers", &["--also-discovered", BUILD]);
    assert_eq!(trees(&report), [OWNED, LOCAL, BUILD]);
    assert!(within(&report, OWNED).contains(&(
        "marker-missing".to_string(),
        format!("{OWNED}/__pycache__/__dont_write_bytecode__")
    )));
    assert!(!within(&report, BUILD).iter().any(|(r, _)| is_ownership(r)));
}

/// A tree nothing owns that discovery finds is no bare build tree: naming
/// it, or a directory inside it, keeps its ownership findings, and without
/// PATHs it is audited beside the owned tree as before.
#[test]
fn issue_14_an_unowned_discovered_tree_is_never_bare() {
    let sc = Scenario::new();
    let pth = (
        "unowned-pth".to_string(),
        format!("{LOCAL}/site-packages/evil.pth"),
    );
    let site = format!("{LOCAL}/site-packages");
    for args in [&[][..], &[LOCAL][..], &[site.as_str()][..]] {
        let (_, report) = sc.run("audit", args);
        let all = found(&report);
        assert!(all.contains(&pth), "{args:?}: {all:#?}");
        assert!(
            !all.iter().any(|(r, _)| r == "no-manifest"),
            "{args:?}: {all:#?}"
        );
    }
    let (_, report) = sc.run("audit", &[]);
    assert_eq!(trees(&report), [OWNED, LOCAL]);
}

/// A PATH spelled through a symlinked parent (`/lib` -> `usr/lib`) is the
/// tree dpkg installed, audited under dpkg's spelling: its files are
/// owned, not a bare tree's.
#[test]
fn issue_14_a_path_through_a_symlink_is_the_owned_tree() {
    let sc = Scenario::new();
    std::os::unix::fs::symlink("usr/lib", sc.r.path("/lib")).unwrap();
    let (_, report) = sc.run("audit", &["/lib/python3.11"]);
    assert_eq!(trees(&report), [OWNED]);
    assert_eq!(report["summary"]["packages"], 1);
    let all = found(&report);
    assert!(!all.iter().any(|(r, _)| r == "no-manifest"), "{all:#?}");
    assert!(all.contains(&("unowned-module".to_string(), format!("{OWNED}/evil.py"))));
}

#[test]
fn issue_14_a_path_that_is_no_directory_is_a_usage_error() {
    let sc = Scenario::new();
    for command in ["audit", "markers"] {
        let out = Command::cargo_bin("pyvet")
            .unwrap()
            .args([command, "--root"])
            .arg(&sc.r.root)
            .arg("/build/usr/lib/python3.12")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("/build/usr/lib/python3.12: no such directory under"),
            "{stderr}"
        );
    }
}
