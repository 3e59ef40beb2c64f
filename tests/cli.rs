//! The binary as a user runs it: exit codes, errors naming files, and the
//! manual documenting every flag.

use assert_cmd::Command;
use predicates::prelude::*;

fn pyvet() -> Command {
    Command::cargo_bin("pyvet").unwrap()
}

#[test]
fn unknown_flag_is_a_usage_error() {
    pyvet()
        .args(["manifest", "--no-such-flag"])
        .assert()
        .code(2);
}

#[test]
fn missing_input_names_the_file_and_exits_2() {
    pyvet()
        .args(["manifest", "--db", "none", "/nonexistent/pyvet-input"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/pyvet-input"));
}

#[test]
fn unrecognised_input_names_the_file_and_exits_2() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("junk");
    std::fs::write(&p, b"\x00\x01\x02 not a database").unwrap();
    pyvet()
        .args(["manifest", "--db", "none"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("junk").and(predicate::str::contains("not a recognised")));
}

#[test]
fn empty_root_gives_an_empty_manifest() {
    let d = tempfile::tempdir().unwrap();
    let out = pyvet()
        .args(["manifest", "--format", "json", "--root"])
        .arg(d.path())
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema"], "pyvet-manifest/1");
    assert_eq!(v["packages"].as_array().unwrap().len(), 0);
}

/// Every long option clap knows must appear in the manual.
#[test]
fn every_flag_is_in_the_man_page() {
    use clap::CommandFactory;
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/pyvet.1")).unwrap();
    let man = man.replace("\\-", "-");
    let cmd = pyvet::cli::Cli::command();
    let mut missing = Vec::new();
    for sub in cmd.get_subcommands() {
        assert!(
            man.contains(&format!("pyvet {}", sub.get_name())),
            "{}",
            sub.get_name()
        );
        for arg in sub.get_arguments() {
            if let Some(long) = arg.get_long() {
                if !man.contains(&format!("--{long}")) {
                    missing.push(format!("{} --{long}", sub.get_name()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented flags: {missing:?}");
}

#[test]
fn root_that_is_not_a_directory_is_a_usage_error() {
    pyvet()
        .args(["manifest", "--root", "/nonexistent/root"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--root /nonexistent/root"));
}

/// One hostile RECORD is reported and the rest of the root is still read.
#[test]
fn a_bad_database_does_not_hide_the_others() {
    let d = tempfile::tempdir().unwrap();
    let sp = d.path().join("usr/lib/python3.12/site-packages");
    for (name, record) in [
        ("good-1.0", "good.py,,\n"),
        ("bad-1.0", "../../../../../../etc/evil.py,,\n"),
    ] {
        let di = sp.join(format!("{name}.dist-info"));
        std::fs::create_dir_all(&di).unwrap();
        std::fs::write(di.join("RECORD"), record).unwrap();
    }
    let assert = pyvet()
        .args(["manifest", "--db", "pip", "--root"])
        .arg(d.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad-1.0.dist-info/RECORD"));
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(out.starts_with("good-1.0  1 files  pip-record:"), "{out}");
}

/// Issue 14: sizing nothing is no answer. An empty tree is exit 2, and so
/// is a mistyped one; a tree with one file is sized.
#[test]
fn issue_14_size_of_an_empty_tree_is_a_usage_error() {
    let d = tempfile::tempdir().unwrap();
    pyvet()
        .arg("size")
        .arg(d.path())
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("no file to size"));
    pyvet()
        .arg("size")
        .arg(d.path().join("typo"))
        .assert()
        .code(2)
        .stdout("");
    std::fs::write(d.path().join("x.py"), "x = 1\n").unwrap();
    pyvet().arg("size").arg(d.path()).assert().code(0);
}
