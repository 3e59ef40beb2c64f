//! `pyvet audit` as a user runs it: `--explain`, usage errors, `--fail-on`,
//! the formats on real roots (a SARIF log valid against the official
//! schema), no colour or progress when piped, and every rule documented in
//! the manual and the README.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;
use pyvet::audit::rules;
use serde_json::Value;

fn pyvet() -> Command {
    Command::cargo_bin("pyvet").unwrap()
}

/// A root with an empty Python tree and no package database. Its report
/// is exactly one `no-manifest` finding (info).
fn bare_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("usr/lib/python3.11")).unwrap();
    d
}

fn audit(root: &std::path::Path, args: &[&str]) -> assert_cmd::assert::Assert {
    pyvet()
        .arg("audit")
        .arg("--root")
        .arg(root)
        .args(args)
        .assert()
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

#[test]
fn explain_prints_a_rules_explanation() {
    let a = pyvet()
        .args(["audit", "--explain", "sourceless-bytecode"])
        .assert()
        .code(0);
    let r = rules::SOURCELESS_BYTECODE;
    let want = format!(
        "sourceless-bytecode  (default: error)\n{}\n\n{}\n",
        r.summary, r.explanation
    );
    assert_eq!(stdout(&a), want);
}

#[test]
fn explain_all_lists_every_rule_once() {
    let a = pyvet().args(["audit", "--explain", "all"]).assert().code(0);
    let want: String = rules::ALL
        .iter()
        .map(|r| format!("{:<26} {:<8} {}\n", r.id, r.severity.as_str(), r.summary))
        .collect();
    assert_eq!(stdout(&a), want);
    assert_eq!(want.lines().count(), rules::ALL.len());
}

#[test]
fn explain_of_an_unknown_rule_is_a_usage_error() {
    pyvet()
        .args(["audit", "--explain", "no-such-rule"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "no rule \"no-such-rule\"; `pyvet audit --explain all` lists them",
        ));
}

#[test]
fn a_root_that_is_not_a_directory_is_a_usage_error() {
    pyvet()
        .args(["audit", "--root", "/nonexistent/pyvet-root"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "--root /nonexistent/pyvet-root: not a directory",
        ));
    let f = tempfile::NamedTempFile::new().unwrap();
    audit(f.path(), &[]).code(2).stdout("");
}

#[test]
fn an_unknown_format_or_fail_on_is_a_usage_error() {
    let d = bare_root();
    audit(d.path(), &["--format", "xml"]).code(2);
    audit(d.path(), &["--fail-on", "fatal"]).code(2);
}

/// The bare root's only finding is info: only `--fail-on info` fails.
#[test]
fn fail_on_sets_the_threshold() {
    let d = bare_root();
    audit(d.path(), &[]).code(0);
    for (fail_on, code) in [("info", 1), ("warning", 0), ("error", 0), ("never", 0)] {
        audit(d.path(), &["--fail-on", fail_on]).code(code);
    }
}

#[test]
fn a_bare_root_reports_no_manifest_as_info() {
    let d = bare_root();
    let v = audit_json(d.path());
    let findings: Vec<(&str, &str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
                f["path"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(findings, [("no-manifest", "info", "/")]);
    assert_eq!(v["schema"], "pyvet-audit/1");
    assert_eq!(v["root"], d.path().to_str().unwrap());
    assert_eq!(v["summary"]["by_severity"], serde_json::json!({"info": 1}));
}

fn audit_json(root: &std::path::Path) -> Value {
    let a = audit(root, &["--format", "json", "--fail-on", "never"]).code(0);
    serde_json::from_str(&stdout(&a)).unwrap()
}

/// The bare root's summary, down to the findings line.
fn bare_summary(root: &std::path::Path) -> String {
    format!(
        "pyvet audit of {}
  policy         generic
  python trees   /usr/lib/python3.11
  packages       0
  files checked  0
  bytes hashed   0
  pycs judged    0
  findings       1: 1 info
",
        root.display()
    )
}

const CLOSING: &str =
    "\nWhat a rule means: pyvet audit --explain RULE (e.g. --explain no-manifest; `all` lists every rule)\n";

/// By default the info is counted in the summary, not listed.
#[test]
fn text_is_plain_and_nothing_else_is_drawn_when_piped() {
    let d = bare_root();
    let want = format!(
        "{}  not listed     info  no-manifest  1  no package database, or a bare build tree: ownership checks skipped
                 run with -v (--show info) to list them
{CLOSING}",
        bare_summary(d.path())
    );
    for extra in [&[][..], &["--no-progress"][..], &["--show", "warning"][..]] {
        let a = audit(d.path(), extra).code(0).stderr("");
        assert_eq!(stdout(&a), want);
        assert!(!stdout(&a).contains("INFO ("));
    }
}

/// `-v` (or `--show info`) lists the info in full; nothing is counted apart.
#[test]
fn verbose_lists_the_infos() {
    let d = bare_root();
    let want = format!(
        "{}
INFO (1)
  no-manifest  /
    no package database found: ownership checks skipped, everything else checked
{CLOSING}",
        bare_summary(d.path())
    );
    for extra in [&["-v"][..], &["--verbose"][..], &["--show", "info"][..]] {
        let a = audit(d.path(), extra).code(0).stderr("");
        assert_eq!(stdout(&a), want, "{extra:?}");
    }
    // Only the text lists less: JSON has the info whatever --show says.
    let a = audit(d.path(), &["--format", "json", "--show", "error"]).code(0);
    let v: Value = serde_json::from_str(&stdout(&a)).unwrap();
    assert_eq!(v["findings"][0]["rule"], "no-manifest");
    audit(d.path(), &["-v", "--show", "error"]).code(2);
    audit(d.path(), &["--show", "debug"]).code(2);
}

/// `pyvet markers` prints the audit's report and takes the same flags.
#[test]
fn markers_counts_infos_unless_verbose() {
    let d = bare_root();
    let run = |extra: &[&str]| {
        let a = pyvet()
            .arg("markers")
            .arg("--root")
            .arg(d.path())
            .args(extra)
            .assert()
            .code(0);
        stdout(&a)
    };
    let quiet = run(&[]);
    assert!(
        quiet.contains("  not listed     info  no-manifest  1  "),
        "{quiet}"
    );
    assert!(!quiet.contains("INFO ("), "{quiet}");
    let full = run(&["-v"]);
    assert!(full.contains("\nINFO (1)\n  no-manifest  /\n"), "{full}");
    assert!(!full.contains("not listed"), "{full}");
}

#[test]
fn sarif_of_a_bare_root_is_valid() {
    let d = bare_root();
    let a = audit(d.path(), &["--format", "sarif", "--fail-on", "never"]).code(0);
    let doc = common::sarif::assert_valid(&stdout(&a));
    let run = &doc["runs"][0];
    let root_uri = format!("file://{}/", d.path().display());
    assert_eq!(run["originalUriBaseIds"]["ROOT"]["uri"], root_uri.as_str());
    let r = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "no-manifest")
        .unwrap();
    assert_eq!(r["level"], "note");
    let loc = &r["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(loc["uri"], ".");
    assert_eq!(loc["uriBaseId"], "ROOT");
}

/// A root built with rpmbuild and `rpm --root`, then tampered with (a
/// changed source, a removed one, a dropped sourceless pyc, an unowned
/// `.pth`): the real binary's SARIF log is valid and says exactly what its
/// JSON report says, finding for finding, and so does the text report.
#[test]
fn an_rpm_root_in_every_format_says_the_same() {
    let r = common::rpmroot::RpmRoot::status_quo();
    std::fs::write(r.path("/usr/lib/python3.11/json/decoder.py"), "import os\n").unwrap();
    std::fs::remove_file(r.path("/usr/lib/python3.11/keyword.py")).unwrap();
    std::fs::copy(
        r.path("/usr/lib/python3.11/__pycache__/colorsys.cpython-311.pyc"),
        r.path("/usr/lib/python3.11/evil.pyc"),
    )
    .unwrap();
    let site = r.path("/usr/local/lib/python3.11/site-packages");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("evil.pth"), "import os\n").unwrap();

    let a = audit(&r.root, &["--format", "json", "--fail-on", "never"]).code(0);
    let v: Value = serde_json::from_str(&stdout(&a)).unwrap();
    assert_eq!(v["summary"]["packages"], 1);
    let trees = serde_json::json!(["/usr/lib/python3.11", "/usr/local/lib/python3.11"]);
    assert_eq!(v["summary"]["python_trees"], trees);
    assert!(v["errors"].is_null(), "{v}");
    let findings = v["findings"].as_array().unwrap();
    assert!(findings.iter().all(|f| f["rule"] != "no-manifest"));

    let a = audit(&r.root, &["--format", "sarif", "--fail-on", "never"]).code(0);
    let doc = common::sarif::assert_valid(&stdout(&a));
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    for (res, f) in results.iter().zip(findings) {
        assert_eq!(sarif_summary(res), json_summary(f));
    }

    let a = audit(&r.root, &["--format", "text", "--fail-on", "never"]).code(0);
    let out = stdout(&a);
    let head = "\n  python trees   /usr/lib/python3.11\n                 /usr/local/lib/python3.11\n  packages       1\n";
    assert!(out.contains(head), "{out}");
    for f in findings {
        let line = format!(
            "\n  {}  {}\n",
            f["rule"].as_str().unwrap(),
            f["path"].as_str().unwrap()
        );
        assert!(out.contains(&line), "{line:?} not in {out}");
    }
}

/// (rule, level, path, message) of a SARIF result.
fn sarif_summary(r: &Value) -> (String, String, String, String) {
    let uri = &r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
    (
        r["ruleId"].as_str().unwrap().into(),
        r["level"].as_str().unwrap().into(),
        format!("/{}", uri.as_str().unwrap()),
        r["message"]["text"].as_str().unwrap().into(),
    )
}

/// The same of a `pyvet-audit/1` finding (plain paths only).
fn json_summary(f: &Value) -> (String, String, String, String) {
    let level = match f["severity"].as_str().unwrap() {
        "info" => "note",
        other => other,
    };
    (
        f["rule"].as_str().unwrap().into(),
        level.into(),
        f["path"].as_str().unwrap().into(),
        f["message"].as_str().unwrap().into(),
    )
}

/// Every rule, with its default severity and its summary as the registry
/// says them, in the man page's RULES section and the README's table.
#[test]
fn every_rule_is_in_the_man_page_and_the_readme() {
    let read =
        |f: &str| std::fs::read_to_string(format!("{}/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    // Back from roff to the registry's text: `\-` is `-`, `\e` a backslash,
    // and `\fBx\fR` is the registry's `x` in backquotes.
    let man = read("man/pyvet.1")
        .replace("\\-", "-")
        .replace("\\e", "\\")
        .replace("\\fB", "`")
        .replace("\\fR", "`");
    let readme = read("README.md");
    let mut missing = Vec::new();
    for r in rules::ALL {
        let sev = r.severity.as_str();
        let entry = format!(".TP\n.B {}\n({sev}) {}\n", r.id, r.summary);
        if !man.contains(&entry) {
            missing.push(format!("man/pyvet.1: {entry:?}"));
        }
        let row = format!("\n| `{}` | {sev} | {} |\n", r.id, r.summary);
        if !readme.contains(&row) {
            missing.push(format!("README.md: {row:?}"));
        }
    }
    assert!(missing.is_empty(), "undocumented rules: {missing:#?}");
}

/// Issue 14: auditing nothing is no pass. An empty root (no Python tree,
/// no database) is exit 2, saying where trees and databases were looked
/// for, for `audit` and `markers`; so is `--db none` on it.
#[test]
fn issue_14_an_empty_root_is_nothing_to_audit() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        &["audit"][..],
        &["markers"][..],
        &["audit", "--db", "none"][..],
    ] {
        let a = pyvet()
            .args(args)
            .arg("--root")
            .arg(d.path())
            .args(["--format", "json"])
            .assert()
            .code(2)
            .stdout("");
        let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
        assert!(err.contains("nothing to audit: no Python tree"), "{err}");
        assert!(err.contains("/usr/local/lib, /usr/local/lib64"), "{err}");
        if args.contains(&"none") {
            assert!(err.contains("--db none"), "{err}");
        } else {
            assert!(err.contains("dpkg in /var/lib/dpkg"), "{err}");
            assert!(
                err.contains("rpm in /usr/lib/sysimage/rpm, /var/lib/rpm"),
                "{err}"
            );
        }
    }
}

#[test]
fn issue_14_a_nonexistent_root_is_a_usage_error() {
    for command in ["audit", "markers"] {
        pyvet()
            .args([command, "--root", "/nonexistent/pyvet-root"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(
                "--root /nonexistent/pyvet-root: not a directory",
            ));
    }
}

/// A root whose dpkg database (made by `dpkg --root -i`) lists a package
/// with no Python in it, and no Python tree: one `no-python-tree` warning,
/// which fails the run at the default `--fail-on warning`, not at `error`.
#[test]
fn issue_14_databases_without_a_python_tree_warn() {
    let d = tempfile::tempdir().unwrap();
    let stage = d.path().join("stage");
    std::fs::create_dir_all(stage.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(stage.join("usr/share/doc/hello")).unwrap();
    std::fs::write(stage.join("usr/share/doc/hello/README"), "hello\n").unwrap();
    std::fs::write(
        stage.join("DEBIAN/control"),
        "Package: hello\nVersion: 1.0\nArchitecture: all\n\
         Maintainer: pyvet tests <pyvet@example.invalid>\nDescription: no Python\n",
    )
    .unwrap();
    let deb = d.path().join("hello.deb");
    common::run_stdout(
        std::process::Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(&stage)
            .arg(&deb),
    );
    let root = d.path().join("root");
    common::dpkgroot::install(&root, &deb);

    for command in ["audit", "markers"] {
        let a = pyvet()
            .args([command, "--format", "json", "--fail-on", "never", "--root"])
            .arg(&root)
            .assert()
            .code(0);
        let v: Value = serde_json::from_str(&stdout(&a)).unwrap();
        let findings: Vec<(&str, &str, &str)> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap(),
                    f["severity"].as_str().unwrap(),
                    f["path"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(findings, [("no-python-tree", "warning", "/")], "{command}");
        assert!(v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("looked for python3 and python3.X directories in /usr/local/lib"));
        for (fail_on, code) in [("warning", 1), ("error", 0)] {
            pyvet()
                .args([command, "--fail-on", fail_on, "--root"])
                .arg(&root)
                .assert()
                .code(code);
        }
    }
    // The text report says it too.
    let a = audit(&root, &["--fail-on", "never"]).code(0);
    assert!(stdout(&a).contains("no-python-tree  /"), "{}", stdout(&a));
}
