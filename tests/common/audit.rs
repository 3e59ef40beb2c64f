//! Running `pyvet audit` in integration tests and reading its
//! `pyvet-audit/1` JSON: one runner and one set of readers for every
//! scenario test.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

use pyvet::audit::rules::{self, Family};
use serde_json::Value;

/// `pyvet audit --fail-on never --format FORMAT --root ROOT EXTRA...`: its
/// stdout. It must exit 0 (never 2: an input error).
pub fn output(root: &Path, format: &str, extra: &[&str]) -> Vec<u8> {
    let out = assert_cmd::Command::cargo_bin("pyvet")
        .unwrap()
        .args(["audit", "--fail-on", "never", "--format", format, "--root"])
        .arg(root)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyvet audit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The report of `pyvet audit --format json`, parsed.
pub fn json(root: &Path, extra: &[&str]) -> Value {
    serde_json::from_slice(&output(root, "json", extra)).unwrap()
}

/// Every finding of a report.
pub fn findings(report: &Value) -> impl Iterator<Item = &Value> {
    report["findings"].as_array().unwrap().iter()
}

/// Whether a finding is of the owned-file family (from the registry).
pub fn is_owned(f: &Value) -> bool {
    rules::find(f["rule"].as_str().unwrap()).unwrap().family == Family::Owned
}

/// The owned-file findings.
pub fn owned(report: &Value) -> Vec<Value> {
    findings(report).filter(|f| is_owned(f)).cloned().collect()
}

/// The (rule, path) of every finding but the owned-file family's.
pub fn not_owned(report: &Value) -> BTreeSet<(String, String)> {
    findings(report)
        .filter(|f| !is_owned(f))
        .map(rule_path)
        .collect()
}

/// A finding's (rule, path).
pub fn rule_path(f: &Value) -> (String, String) {
    (s(&f["rule"]), s(&f["path"]))
}

/// The one finding of `rule` at `path`.
pub fn finding<'a>(report: &'a Value, rule: &str, path: &str) -> &'a Value {
    findings(report)
        .find(|f| f["rule"] == rule && f["path"] == path)
        .unwrap_or_else(|| panic!("no {rule} at {path}"))
}

/// A JSON string as a `String`.
pub fn s(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

/// (rule, path) pairs as the set the readers return.
pub fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(r, p)| (r.to_string(), p.to_string()))
        .collect()
}
