//! `pyvet subset` output: text, `pyvet-subset/1` JSON, JUnit XML, SARIF.

use serde::Serialize;

use crate::subset::{Outcome, Violation};

pub const SCHEMA: &str = "pyvet-subset/1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    result: &'static str,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

fn result(o: &Outcome) -> &'static str {
    if o.passed() {
        "pass"
    } else {
        "fail"
    }
}

pub fn json(o: &Outcome) -> String {
    let doc = Doc {
        schema: SCHEMA,
        result: result(o),
        outcome: o,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("subset report serialises");
    s.push('\n');
    s
}

/// One line per violation, then the verdict.
pub fn text(o: &Outcome) -> String {
    let mut s = String::new();
    for v in &o.violations {
        s.push_str(&format!(
            "{:<16} {}{}\n",
            v.rule.id,
            v.path.display(),
            detail(v)
        ));
    }
    let compare = serde_json::to_value(o.compare).expect("enum");
    let compare = compare.as_str().unwrap_or_default();
    if o.passed() {
        s.push_str(&format!(
            "PASS: all {} minimal-side paths are on the full side ({} paths), compared by {compare}\n",
            o.minimal_files, o.full_files
        ));
    } else {
        s.push_str(&format!(
            "FAIL: {} violations among {} minimal-side paths (full side: {} paths), compared by {compare}\n",
            o.violations.len(),
            o.minimal_files,
            o.full_files
        ));
    }
    s
}

fn detail(v: &Violation) -> String {
    let mut d = String::new();
    if !v.differs.is_empty() {
        d.push_str(&format!("  differs: {}", v.differs.join(", ")));
    }
    if let Some(m) = &v.minimal {
        d.push_str(&format!("  (minimal: {}", m.package));
        if let Some(f) = &v.full {
            d.push_str(&format!("; full: {}", f.package));
        }
        d.push(')');
    }
    d
}

/// JUnit XML: one failed case per violation; a passing case when none.
pub fn junit(o: &Outcome) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("pyvet subset");
    if o.passed() {
        suite.add_test_case(TestCase::new(
            format!(
                "{} minimal-side paths are in the full side",
                o.minimal_files
            ),
            TestCaseStatus::success(),
        ));
    }
    for v in &o.violations {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_type(v.rule.id);
        status.set_message(format!("{}{}", v.rule.summary, detail(v)));
        let mut case = TestCase::new(v.path.display().to_string(), status);
        case.set_classname(v.rule.id);
        suite.add_test_case(case);
    }
    let mut report = Report::new("pyvet");
    report.add_test_suite(suite);
    report.to_string().expect("junit serialises")
}

/// SARIF: the violations as results of the subset rules, through the
/// audit's SARIF renderer (one registry, one schema-checked writer).
pub fn sarif(o: &Outcome) -> String {
    let findings: Vec<_> = o.violations.iter().map(Violation::to_finding).collect();
    let mut summary = crate::audit::Summary {
        findings: findings.len(),
        ..Default::default()
    };
    for f in &findings {
        *summary.by_rule.entry(f.rule.id).or_insert(0) += 1;
        *summary.by_severity.entry(f.severity.as_str()).or_insert(0) += 1;
    }
    let report = crate::audit::Report {
        schema: SCHEMA,
        root: "/".into(),
        policy: format!("subset, compared by {}", compare_name(o)),
        summary,
        findings,
        accepted: Vec::new(),
        errors: Vec::new(),
    };
    crate::render::sarif::render(&report)
}

fn compare_name(o: &Outcome) -> String {
    serde_json::to_value(o.compare)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
