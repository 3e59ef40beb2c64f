//! `pyvet audit --format rpm`: the owned-file findings exactly as the
//! package manager's own verifier prints them, so that the two can be
//! compared line by line.
//!
//! rpm-owned files print as `rpm -V` does (lib/verify.c `verifyHeader`):
//! `S.5....T.  c /path`, or `missing   c /path`. rpm prints nothing for a
//! file whose nine columns all passed, even where pyvet has a finding (a
//! `%ghost` file whose type changed), and neither does this renderer.
//! dpkg-owned files print as
//! `dpkg --verify` does (src/main/verify.c `verify_output_rpm`):
//! `??5?????? c /path`, one space narrower than rpm's.

use crate::audit::finding::VerifyFacts;
use crate::audit::{Finding, Report};

/// Backends whose files print in dpkg's format.
const DPKG_BACKENDS: [&str; 3] = ["dpkg", "dpkg-status-d", "deb"];

/// One line per owned-file finding, sorted by path.
pub fn render(report: &Report) -> String {
    let mut lines: Vec<(&std::path::Path, String)> = report
        .findings
        .iter()
        .filter_map(|f| line(f).map(|l| (&*f.path, l)))
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, l)| l + "\n").collect()
}

/// The verifier's line for a finding, if it would print one.
pub fn line(f: &Finding) -> Option<String> {
    let v = f.evidence.verify.as_ref()?;
    // Escaped: a name holding a newline must not forge a verifier line.
    let path = crate::audit::finding::text_path(&f.path);
    let dpkg = f
        .package
        .as_ref()
        .is_some_and(|p| DPKG_BACKENDS.contains(&p.backend));
    if v.result == "missing" {
        let why = v
            .actual
            .get("error")
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Some(format!("missing   {} {path}{why}", v.attr));
    }
    if dpkg {
        return Some(format!("{} {} {path}", v.result, v.attr));
    }
    rpm_prints(v).then(|| format!("{}  {} {path}", v.result, v.attr))
}

/// rpm prints a line only when a column differs.
fn rpm_prints(v: &VerifyFacts) -> bool {
    v.result.chars().any(|c| c != '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::finding::PackageRef;
    use crate::audit::rules;
    use std::collections::BTreeMap;

    fn finding(backend: &'static str, result: &str, attr: char, error: Option<&str>) -> Finding {
        let mut f = Finding::new(rules::DIGEST_MISMATCH, "/usr/lib/python3.11/os.py", "x");
        f.package = Some(std::sync::Arc::new(PackageRef {
            name: "p".into(),
            nevra: "p-1-1.noarch".into(),
            backend,
        }));
        let mut actual = BTreeMap::new();
        if let Some(e) = error {
            actual.insert("error", e.to_string());
        }
        f.evidence.verify = Some(Box::new(VerifyFacts {
            result: result.into(),
            attr,
            differs: vec![],
            unchecked: vec![],
            expected: BTreeMap::new(),
            actual,
        }));
        f
    }

    #[test]
    fn rpm_and_dpkg_lines() {
        let l = |b, r, a, e| line(&finding(b, r, a, e)).unwrap_or_default();
        assert_eq!(
            l("rpmdb-sqlite", "S.5....T.", 'c', None),
            "S.5....T.  c /usr/lib/python3.11/os.py"
        );
        assert_eq!(
            l("rpmdb-sqlite", "missing", ' ', None),
            "missing     /usr/lib/python3.11/os.py"
        );
        assert_eq!(
            l("rpmdb-sqlite", "missing", ' ', Some("Permission denied")),
            "missing     /usr/lib/python3.11/os.py (Permission denied)"
        );
        assert_eq!(l("rpmdb-sqlite", ".........", ' ', None), "");
        assert_eq!(
            l("dpkg", "??5??????", ' ', None),
            "??5??????   /usr/lib/python3.11/os.py"
        );
        assert_eq!(
            l("dpkg", "missing", 'c', None),
            "missing   c /usr/lib/python3.11/os.py"
        );
    }
}
