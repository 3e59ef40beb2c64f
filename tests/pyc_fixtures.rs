//! pyvet's verdicts on the committed fixtures equal what the real
//! interpreters did with them (recorded by tests/fixtures/pyc/make.py), and
//! `--deep` tells tampered code from pristine code.

mod pyc_common;

use std::collections::BTreeMap;
use std::path::Path;

use pyc_common::{
    fixture_copy, fixture_interpreter, fixtures_dir, interpreter_versions, recorded_interpreter,
    skip, Row, DFILE_ROOT,
};
use pyvet::bytecode::deep::{check_all, Interpreters};
use pyvet::bytecode::judge::{judge, JudgeOptions, PycReport};
use pyvet::bytecode::Verdict;
use pyvet::cli::HashCheckMode;

fn mode(m: &str) -> HashCheckMode {
    match m {
        "default" => HashCheckMode::Default,
        "always" => HashCheckMode::Always,
        "never" => HashCheckMode::Never,
        other => panic!("unknown mode {other}"),
    }
}

fn judge_row(root: &Path, r: &Row) -> PycReport {
    let opts = JudgeOptions {
        mode: mode(&r.mode),
        source: None,
        pycache_prefix: None,
        deep: true,
        header_only: false,
    };
    judge(&root.join(&r.pyc), &opts).unwrap_or_else(|e| panic!("{}: {e}", r.pyc))
}

/// Verdicts under which CPython runs the pyc's code.
fn runs(v: Verdict) -> bool {
    matches!(
        v,
        Verdict::Valid | Verdict::UncheckedHash | Verdict::Sourceless
    )
}

#[test]
fn verdicts_match_the_interpreters() {
    let (tmp, rows) = fixture_copy();
    assert!(
        rows.len() > 400,
        "FIXTURES.tsv has only {} rows",
        rows.len()
    );
    let mut wrong = Vec::new();
    for r in &rows {
        let rep = judge_row(tmp.path(), r);
        if rep.verdict.as_str() != r.verdict || runs(rep.verdict) != r.used {
            wrong.push(format!(
                "{}: pyvet {} ({}), built as {}, {} {} it",
                r.pyc,
                rep.verdict.as_str(),
                rep.reason,
                r.verdict,
                r.oracle,
                if r.used { "used" } else { "did not use" }
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} disagree:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_verdict_is_covered() {
    let rows = pyc_common::rows(&fixtures_dir());
    for v in [
        "valid",
        "stale",
        "hash-mismatch",
        "unchecked-hash",
        "orphan",
        "sourceless",
        "foreign",
        "corrupt",
    ] {
        assert!(rows.iter().any(|r| r.verdict == v), "no fixture for {v}");
    }
}

#[test]
fn code_facts_of_pristine_pycs() {
    let (tmp, rows) = fixture_copy();
    let pristine: Vec<&Row> = rows.iter().filter(|r| r.case.contains("-opt")).collect();
    for r in &pristine {
        let rep = judge_row(tmp.path(), r);
        let module = r.source.as_deref().unwrap().splitn(3, '/').nth(2).unwrap();
        let expected_name = format!("{DFILE_ROOT}/{}/{}/{module}", r.interp, r.case);
        assert_eq!(
            rep.co_filename.as_deref(),
            Some(expected_name.as_str()),
            "{}",
            r.pyc
        );
        // Every module but nodoc has a docstring, which -OO strips.
        let doc = !r.case.starts_with("nodoc") && !r.case.ends_with("opt2");
        assert_eq!(rep.has_docstring, Some(doc), "{}", r.pyc);
        let level = &r.case[r.case.len() - 1..];
        let named = (r.interp != "py27" && level != "0").then_some(level);
        assert_eq!(rep.opt_level.as_deref(), named, "{}", r.pyc);
    }
    assert!(
        pristine.len() >= 380,
        "only {} pristine pycs",
        pristine.len()
    );
}

/// Deep-checks the pristine, tampered and swapped pycs of one fixture
/// interpreter with that very interpreter.
fn deep_for(id: &str, version: &str, root: &Path, rows: &[Row]) {
    let Some(py) = fixture_interpreter(id, version) else {
        skip(&format!(
            "--deep fixtures of {id}: Python {version} is not on this machine"
        ));
        return;
    };
    let mm: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let interps = Interpreters::discover(&[format!("{mm}={}", py.display())], None).unwrap();
    let mine: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.interp == id
                && (r.case.starts_with("doc-")
                    || r.case.starts_with("uni-")
                    || r.case == "tampered"
                    || r.case == "swapped")
        })
        .collect();
    let mut reports: Vec<PycReport> = mine.iter().map(|r| judge_row(root, r)).collect();
    for (r, rep) in mine.iter().zip(&reports) {
        assert_eq!(rep.verdict.as_str(), r.verdict, "{} before --deep", r.pyc);
    }
    check_all(&mut reports, &interps);
    for (r, rep) in mine.iter().zip(&reports) {
        let want = if r.case == "tampered" || r.case == "swapped" {
            Verdict::Diverges
        } else {
            rep_verdict(&r.verdict)
        };
        assert_eq!(rep.verdict, want, "{} with --deep: {}", r.pyc, rep.reason);
    }
}

fn rep_verdict(s: &str) -> Verdict {
    match s {
        "valid" => Verdict::Valid,
        "unchecked-hash" => Verdict::UncheckedHash,
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn deep_check_catches_tampered_and_swapped_code() {
    let (tmp, rows) = fixture_copy();
    let versions: BTreeMap<String, String> = interpreter_versions(tmp.path());
    for (id, version) in versions
        .iter()
        .filter(|(id, _)| id.as_str() != "py27" && id.as_str() != "py36")
    {
        deep_for(id, version, tmp.path(), &rows);
    }
}

#[test]
fn deep_check_of_36() {
    let (tmp, rows) = fixture_copy();
    if let Some(v) = interpreter_versions(tmp.path()).get("py36") {
        deep_for("py36", v, tmp.path(), &rows);
    }
}

#[test]
fn deep_without_interpreter_is_unverified() {
    let (tmp, rows) = fixture_copy();
    let r = rows
        .iter()
        .find(|r| r.interp == "py312" && r.case == "doc-timestamp-opt0")
        .unwrap();
    let mut reports = vec![judge_row(tmp.path(), r)];
    let interps = Interpreters::discover(&["3.12=/nonexistent/python3.12".into()], None).unwrap();
    check_all(&mut reports, &interps);
    assert_eq!(reports[0].verdict, Verdict::Unverified);
    assert!(
        reports[0].reason.contains("/nonexistent/python3.12"),
        "{}",
        reports[0].reason
    );
}

#[test]
fn deep_refuses_an_interpreter_of_another_version() {
    let (tmp, rows) = fixture_copy();
    let Some(py313) = recorded_interpreter(tmp.path(), "py313") else {
        skip("Python 3.13 is not on this machine");
        return;
    };
    let r = rows
        .iter()
        .find(|r| r.interp == "py312" && r.case == "doc-timestamp-opt0")
        .unwrap();
    let mut reports = vec![judge_row(tmp.path(), r)];
    let interps = Interpreters::discover(&[format!("3.12={}", py313.display())], None).unwrap();
    check_all(&mut reports, &interps);
    assert_eq!(reports[0].verdict, Verdict::Unverified);
    assert!(
        reports[0].reason.contains("not 3.12"),
        "{}",
        reports[0].reason
    );
}
