//! `pyvet audit --format sarif`: the report as a SARIF 2.1.0 log, for code
//! scanning dashboards.
//!
//! One run. `tool.driver.rules` is the whole rule registry (so a result's
//! `ruleIndex` is the rule's place in [`rules::ALL`]), each rule's default
//! level is its default severity, and a result's level is the severity the
//! policy gave it. Locations are URIs relative to the base id `ROOT`, which
//! `originalUriBaseIds` resolves to the audited root, so that the same
//! finding in two images has the same location. Path bytes are
//! percent-encoded as they are (RFC 3986 allows any octet), so a path that
//! is not UTF-8 keeps its exact bytes; the package and the evidence travel
//! in the result's property bag, as in `pyvet-audit/1`. Accepted findings
//! are results with an accepted external suppression.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::audit::rules::{self, Rule};
use crate::audit::{Finding, Report, Severity};

/// The `$schema` of the document: the OASIS errata 01 schema.
pub const SARIF_SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The base id every location is relative to.
pub const ROOT_BASE_ID: &str = "ROOT";

/// The SARIF log, pretty-printed.
pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&log(report)).expect("SARIF serialises");
    s.push('\n');
    s
}

/// The SARIF log as a JSON value.
pub fn log(report: &Report) -> Value {
    json!({
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [run(report)],
    })
}

fn run(report: &Report) -> Value {
    json!({
        "tool": {"driver": driver()},
        "originalUriBaseIds": {ROOT_BASE_ID: root_location(&report.root)},
        "invocations": [invocation(report)],
        "results": report
            .findings
            .iter()
            .map(result)
            .chain(report.accepted.iter().map(suppressed))
            .collect::<Vec<_>>(),
        "properties": {
            "schema": report.schema,
            "policy": report.policy,
            "summary": report.summary,
        },
    })
}

fn driver() -> Value {
    let mut d = Map::new();
    d.insert("name".into(), "pyvet".into());
    d.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    d.insert("semanticVersion".into(), env!("CARGO_PKG_VERSION").into());
    if let Some(uri) = information_uri() {
        d.insert("informationUri".into(), uri.into());
    }
    let rules: Vec<Value> = rules::ALL.iter().map(|r| rule(r)).collect();
    d.insert("rules".into(), rules.into());
    Value::Object(d)
}

/// The project's address, from Cargo.toml `repository` (else `homepage`);
/// none while neither is set.
fn information_uri() -> Option<&'static str> {
    [env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")]
        .into_iter()
        .find(|u| !u.is_empty())
}

fn rule(r: &Rule) -> Value {
    json!({
        "id": r.id,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.explanation},
        "defaultConfiguration": {"level": level(r.severity)},
        "help": {
            "text": format!("{}\n\nSee `pyvet audit --explain {}` and pyvet(1), RULES.", r.explanation, r.id),
        },
        "properties": {"family": r.family, "tags": [r.family]},
    })
}

/// SARIF's names for the severities.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn invocation(report: &Report) -> Value {
    let notes: Vec<Value> = report
        .errors
        .iter()
        .map(|e| json!({"level": "error", "message": {"text": e}}))
        .collect();
    json!({
        "executionSuccessful": report.errors.is_empty(),
        "toolExecutionNotifications": notes,
    })
}

fn result(f: &Finding) -> Value {
    let index = rules::ALL
        .iter()
        .position(|r| r.id == f.rule.id)
        .expect("every rule is registered");
    json!({
        "ruleId": f.rule.id,
        "ruleIndex": index,
        "level": level(f.severity),
        "message": {"text": f.message()},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": relative_uri(&f.path), "uriBaseId": ROOT_BASE_ID},
            },
        }],
        "properties": properties(f),
    })
}

/// An accepted finding: a result with an accepted external suppression
/// (the policy or the baseline), which dashboards show as such.
fn suppressed(a: &crate::policy::accept::AcceptedFinding) -> Value {
    let mut v = result(&a.finding);
    v["suppressions"] = json!([{
        "kind": "external",
        "status": "accepted",
        "justification": format!("{}: {}", a.accepted.by, a.accepted.reason),
    }]);
    v
}

/// The finding's package, evidence and (for a path that is not UTF-8) exact
/// path bytes, exactly as `pyvet-audit/1` writes them.
fn properties(f: &Finding) -> Value {
    let mut v = serde_json::to_value(f).expect("finding serialises");
    let mut props = Map::new();
    props.insert("path".into(), f.display_path().into());
    for key in ["path_bytes", "package", "evidence"] {
        if let Some(x) = v.get_mut(key).map(Value::take) {
            if !x.is_null() {
                props.insert(key.into(), x);
            }
        }
    }
    Value::Object(props)
}

/// Where `ROOT` is: a `file:` URI for an absolute root; for a relative one
/// (which has no URI without the working directory) only a description.
fn root_location(root: &str) -> Value {
    let description = json!({"text": format!("the audited root, {root}")});
    if !root.starts_with('/') {
        return json!({"description": description});
    }
    let mut uri = format!("file://{}", encode(root.as_bytes()));
    if !uri.ends_with('/') {
        uri.push('/');
    }
    json!({"uri": uri, "description": description})
}

/// A tree path as a URI relative to the root (`usr/lib/python3.11/os.py`);
/// the root itself is `.`.
pub fn relative_uri(path: &Path) -> String {
    let bytes = path.as_os_str().as_bytes();
    let start = bytes.iter().position(|&b| b != b'/').unwrap_or(bytes.len());
    match &bytes[start..] {
        [] => ".".to_string(),
        rest => encode(rest),
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved characters and `/`.
/// A `:` is encoded too, so that no first segment reads as a scheme.
fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn paths_become_relative_uris_with_their_exact_bytes() {
        let p = |b: &[u8]| relative_uri(Path::new(OsStr::from_bytes(b)));
        assert_eq!(p(b"/usr/lib/python3.11/os.py"), "usr/lib/python3.11/os.py");
        assert_eq!(p(b"/usr/lib/a b:c%\xff.pyc"), "usr/lib/a%20b%3Ac%25%FF.pyc");
        assert_eq!(p(b"/"), ".");
        assert_eq!(p(b"//srv/x"), "srv/x");
    }

    #[test]
    fn the_root_is_a_file_uri_ending_in_a_slash() {
        assert_eq!(root_location("/")["uri"], "file:///");
        assert_eq!(
            root_location("/srv/img one")["uri"],
            "file:///srv/img%20one/"
        );
        assert!(root_location("img").get("uri").is_none());
    }

    #[test]
    fn levels_are_sarif_names() {
        assert_eq!(level(Severity::Info), "note");
        assert_eq!(level(Severity::Warning), "warning");
        assert_eq!(level(Severity::Error), "error");
    }
}
