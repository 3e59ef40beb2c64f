//! Accepted findings: a policy's `[[accept]]` entries and a baseline (a
//! previous `pyvet audit --format json` report).
//!
//! A distribution adopting pyvet has findings it knows about and will fix
//! later; failing every run on them teaches people to ignore the tool. So
//! accepted findings are reported apart, with why they are accepted, and do
//! not fail the run: only new ones do. An acceptance that no longer matches
//! anything is itself reported (`accepted-gone`), so that a baseline shrinks
//! as findings are fixed instead of silently accepting their return.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Policy;
use crate::audit::rules::{self, Family};
use crate::audit::Finding;

/// Why a finding is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acceptance {
    /// What accepted it: `policy FILE:LINE` or `baseline FILE`.
    pub by: String,
    pub reason: String,
}

/// A finding that an acceptance covers: reported, never failing the run.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    pub accepted: Acceptance,
}

/// The findings of a previous report, by rule and path.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub file: PathBuf,
    /// (rule id, path) of every finding the report had, accepted or not.
    pub entries: Vec<(String, String)>,
}

/// Largest baseline report read.
const MAX_BASELINE: u64 = 256 << 20;

#[derive(serde::Deserialize)]
struct ReportIn {
    schema: String,
    #[serde(default)]
    findings: Vec<FindingIn>,
    #[serde(default)]
    accepted: Vec<FindingIn>,
}

#[derive(serde::Deserialize)]
struct FindingIn {
    rule: String,
    path: String,
}

impl Baseline {
    /// Reads a `pyvet-audit/1` JSON report.
    pub fn load(path: &Path) -> crate::Result<Baseline> {
        // The read error names the path already.
        let bytes = crate::fsutil::read_capped(path, MAX_BASELINE)
            .map_err(|e| crate::Error::Usage(format!("--baseline {e}")))?;
        let bad =
            |why: String| crate::Error::Usage(format!("--baseline {}: {why}", path.display()));
        let r: ReportIn = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if r.schema != crate::audit::SCHEMA {
            return Err(bad(format!(
                "schema {:?}, not {:?}",
                r.schema,
                crate::audit::SCHEMA
            )));
        }
        let entries = r
            .findings
            .into_iter()
            .chain(r.accepted)
            // A gone acceptance is about the baseline, not a finding to keep.
            .filter(|f| f.rule != rules::ACCEPTED_GONE.id)
            .map(|f| (f.rule, f.path))
            .collect();
        Ok(Baseline {
            file: path.to_path_buf(),
            entries,
        })
    }
}

/// What acceptance made of a run's findings.
#[derive(Debug, Default)]
pub struct Split {
    /// Not accepted: these decide the exit code.
    pub kept: Vec<Finding>,
    pub accepted: Vec<AcceptedFinding>,
    /// `accepted-gone` findings for acceptances that matched nothing.
    pub gone: Vec<Finding>,
}

/// Sorts `findings` into kept and accepted, by the policy's `[[accept]]`
/// entries first, then the baseline.
/// Acceptances of rules outside `ran` (families no check ran) are never gone.
pub fn split(
    findings: Vec<Finding>,
    policy: &Policy,
    baseline: Option<&Baseline>,
    ran: &[Family],
) -> Split {
    let checked = |rule: &str| rules::find(rule).is_some_and(|r| ran.contains(&r.family));
    let mut used_entries = vec![false; policy.accept.len()];
    let mut base: BTreeMap<(String, String), bool> = baseline
        .map(|b| b.entries.iter().map(|e| (e.clone(), false)).collect())
        .unwrap_or_default();
    let mut out = Split::default();
    if policy.accept.is_empty() && baseline.is_none() {
        // Nothing to accept: the findings stay where they are, not copied.
        out.kept = findings;
        return out;
    }
    for f in findings {
        match accept_one(&f, policy, &mut used_entries, baseline, &mut base) {
            Some(accepted) => out.accepted.push(AcceptedFinding {
                finding: f,
                accepted,
            }),
            None => out.kept.push(f),
        }
    }
    for (e, used) in policy.accept.iter().zip(&used_entries) {
        if !used && checked(&e.rule) {
            let mut f = Finding::new(
                rules::ACCEPTED_GONE,
                &e.path,
                format!(
                    "policy {} accepts {} here ({}), and no such finding occurs",
                    e.at, e.rule, e.reason
                ),
            )
            .extra("accepted-rule", e.rule.clone())
            .extra("accepted-by", format!("policy {}", e.at));
            if e.required {
                f.severity = crate::audit::Severity::Error;
            }
            out.gone.push(f);
        }
    }
    if let Some(b) = baseline {
        for ((rule, path), used) in base {
            if !used && checked(&rule) {
                out.gone.push(
                    Finding::new(
                        rules::ACCEPTED_GONE,
                        path,
                        format!(
                            "baseline {} has {rule} here, and it no longer occurs",
                            b.file.display()
                        ),
                    )
                    .extra("accepted-rule", rule)
                    .extra("accepted-by", format!("baseline {}", b.file.display())),
                );
            }
        }
    }
    out
}

fn accept_one(
    f: &Finding,
    policy: &Policy,
    used: &mut [bool],
    baseline: Option<&Baseline>,
    base: &mut BTreeMap<(String, String), bool>,
) -> Option<Acceptance> {
    // The audit's own reports about acceptances are never accepted.
    if f.rule == rules::ACCEPTED_GONE {
        return None;
    }
    let entry = policy
        .accept
        .iter()
        .position(|e| e.rule == f.rule.id && e.globs.is_match(&f.path));
    if let Some(i) = entry {
        used[i] = true;
        let e = &policy.accept[i];
        return Some(Acceptance {
            by: format!("policy {}", e.at),
            reason: e.reason.clone(),
        });
    }
    let b = baseline?;
    let seen = base.get_mut(&(f.rule.id.to_string(), f.display_path()))?;
    *seen = true;
    Some(Acceptance {
        by: format!("baseline {}", b.file.display()),
        reason: "in the baseline report".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_entries_and_baseline_accept_and_report_what_is_gone() {
        let policy = super::super::parse(
            "name = \"p\"\n\n[[accept]]\nrule = \"stale-bytecode\"\npath = \"/usr/lib/python3.11/__pycache__/*.pyc\"\nreason = \"rebuilt next release\"\n\n[[accept]]\nrule = \"missing\"\npath = \"/usr/lib/python3.11/gone.py\"\nreason = \"removed on purpose\"\nrequired = true\n",
            Path::new("p.toml"),
        )
        .unwrap();
        let baseline = Baseline {
            file: "old.json".into(),
            entries: vec![
                ("unowned-file".into(), "/usr/lib/python3.11/x.txt".into()),
                (
                    "unowned-file".into(),
                    "/usr/lib/python3.11/fixed.txt".into(),
                ),
            ],
        };
        let findings = vec![
            Finding::new(
                rules::STALE_BYTECODE,
                "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc",
                "x",
            ),
            Finding::new(rules::UNOWNED_FILE, "/usr/lib/python3.11/x.txt", "x"),
            Finding::new(rules::UNOWNED_FILE, "/usr/lib/python3.11/new.txt", "x"),
        ];
        let s = split(
            findings,
            &policy,
            Some(&baseline),
            crate::check::AUDIT.families,
        );
        let ids = |fs: &[Finding]| -> Vec<(String, String)> {
            fs.iter()
                .map(|f| (f.rule.id.to_string(), f.display_path()))
                .collect()
        };
        assert_eq!(
            ids(&s.kept),
            [("unowned-file".into(), "/usr/lib/python3.11/new.txt".into())]
        );
        let acc: Vec<_> = s
            .accepted
            .iter()
            .map(|a| (a.finding.display_path(), a.accepted.by.clone()))
            .collect();
        assert_eq!(
            acc,
            [
                (
                    "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc".to_string(),
                    "policy p.toml:3".to_string()
                ),
                (
                    "/usr/lib/python3.11/x.txt".into(),
                    "baseline old.json".into()
                ),
            ]
        );
        assert_eq!(
            ids(&s.gone),
            [
                ("accepted-gone".into(), "/usr/lib/python3.11/gone.py".into()),
                (
                    "accepted-gone".into(),
                    "/usr/lib/python3.11/fixed.txt".into()
                ),
            ]
        );
        assert_eq!(s.gone[0].severity, crate::audit::Severity::Error);
        assert_eq!(s.gone[1].severity, crate::audit::Severity::Warning);
        // `pyvet markers` runs no unowned or owned check: nothing is gone.
        let s = split(
            Vec::new(),
            &policy,
            Some(&baseline),
            crate::check::MARKERS.families,
        );
        assert!(s.gone.is_empty());
    }
}
