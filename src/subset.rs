//! The subset rule: every file of a minimal layout must exist, the same, in
//! the fuller one. Distributions promise that installing the minimal
//! package set never yields a file the full set would not have installed
//! identically; [`check`] proves it (or names each file that breaks it)
//! from two sets of manifests, whatever they were read from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audit::rules::{self, Rule};
use crate::manifest::{FileEntry, FileKind, Manifest};

/// How much of each file must be equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compare {
    /// The path exists on the full side.
    Path,
    /// ... with the same file type.
    Type,
    /// ... and the same content (digest, size).
    Digest,
    /// ... and the same mode, owner, group and link target (the default).
    Metadata,
}

/// One way the minimal side is not a subset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    #[serde(serialize_with = "ser_rule")]
    pub rule: &'static Rule,
    #[serde(serialize_with = "crate::manifest::ser_path")]
    pub path: PathBuf,
    /// The attributes that differ (`type`, `digest`, `size`, `mode`, `user`,
    /// `group`, `link`).
    pub differs: Vec<&'static str>,
    /// Which input each side's entry came from, and its values.
    pub minimal: Option<Side>,
    pub full: Option<Side>,
}

/// One side's view of a path, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    /// The package (`name-version-release.arch`) that lists the path.
    pub package: String,
    #[serde(rename = "type")]
    pub kind: FileKind,
    pub mode: Option<u32>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub size: Option<u64>,
    pub digest: Option<String>,
    #[serde(serialize_with = "crate::manifest::ser_opt_path")]
    pub link: Option<PathBuf>,
}

/// The outcome of one subset check.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub compare: Compare,
    /// Distinct paths on the minimal side.
    pub minimal_files: usize,
    /// Distinct paths on the full side.
    pub full_files: usize,
    pub violations: Vec<Violation>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

type Listed<'m> = (&'m FileEntry, String);

/// Checks that `minimal` is a file-wise subset of `full`.
pub fn check(minimal: &Manifest, full: &Manifest, compare: Compare) -> Outcome {
    let min = index(minimal);
    let full_idx = index(full);
    let mut violations = Vec::new();
    for (path, entries) in &min {
        violations.extend(conflict(path, entries, compare));
        let (entry, pkg) = &entries[0];
        let Some(candidates) = full_idx.get(path) else {
            violations.push(Violation {
                rule: rules::SUBSET_MISSING,
                path: path.to_path_buf(),
                differs: Vec::new(),
                minimal: Some(side(entry, pkg)),
                full: None,
            });
            continue;
        };
        let best = candidates
            .iter()
            .map(|(f, p)| (differences(entry, f, compare), f, p))
            .min_by_key(|(d, _, _)| d.len())
            .expect("an indexed path has an entry");
        if !best.0.is_empty() {
            violations.push(Violation {
                rule: rules::SUBSET_DIFFERS,
                path: path.to_path_buf(),
                differs: best.0,
                minimal: Some(side(entry, pkg)),
                full: Some(side(best.1, best.2)),
            });
        }
    }
    Outcome {
        compare,
        minimal_files: min.len(),
        full_files: full_idx.len(),
        violations,
    }
}

/// Every path with the entries (and their packages) listing it, sorted.
fn index(m: &Manifest) -> BTreeMap<&Path, Vec<Listed<'_>>> {
    let mut out: BTreeMap<&Path, Vec<Listed>> = BTreeMap::new();
    for p in &m.packages {
        let nevra = p.nevra();
        for f in &p.files {
            out.entry(&*f.path).or_default().push((f, nevra.clone()));
        }
    }
    out
}

/// A path listed twice on the minimal side with different content.
fn conflict(path: &Path, entries: &[Listed], compare: Compare) -> Option<Violation> {
    let (first, pkg) = &entries[0];
    entries[1..].iter().find_map(|(other, opkg)| {
        let d = differences(first, other, compare);
        (!d.is_empty()).then(|| Violation {
            rule: rules::SUBSET_CONFLICT,
            path: path.to_path_buf(),
            differs: d,
            minimal: Some(side(first, pkg)),
            full: Some(side(other, opkg)),
        })
    })
}

/// The attributes of `a` that `b` does not match at level `compare`.
/// An attribute one side does not record is not compared, except content:
/// a regular file whose digest cannot be compared is a difference, because
/// an unproven subset is not a subset.
pub fn differences(a: &FileEntry, b: &FileEntry, compare: Compare) -> Vec<&'static str> {
    let mut d = Vec::new();
    if compare >= Compare::Type && known(a.kind) && known(b.kind) && a.kind != b.kind {
        d.push("type");
        return d;
    }
    if compare >= Compare::Digest && is_file(a) && is_file(b) {
        if a.digest.is_none() || b.digest.is_none() || a.digest != b.digest {
            d.push("digest");
        }
        if differ(&a.size, &b.size) {
            d.push("size");
        }
    }
    if compare >= Compare::Metadata {
        if differ(&a.mode, &b.mode) {
            d.push("mode");
        }
        if differ(&a.user, &b.user) || (a.user.is_none() && differ(&a.uid, &b.uid)) {
            d.push("user");
        }
        if differ(&a.group, &b.group) || (a.group.is_none() && differ(&a.gid, &b.gid)) {
            d.push("group");
        }
        if differ(&a.link, &b.link) {
            d.push("link");
        }
    }
    d
}

fn known(k: FileKind) -> bool {
    k != FileKind::Unknown
}

/// A regular file, or an entry whose type is unknown but has content data.
fn is_file(e: &FileEntry) -> bool {
    e.kind == FileKind::File || (e.kind == FileKind::Unknown && e.digest.is_some())
}

fn differ<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    matches!((a, b), (Some(x), Some(y)) if x != y)
}

fn side(e: &FileEntry, package: &str) -> Side {
    Side {
        package: package.to_string(),
        kind: e.kind,
        mode: e.mode,
        user: e.user.as_deref().map(String::from),
        group: e.group.as_deref().map(String::from),
        size: e.size,
        digest: e.digest.as_ref().map(ToString::to_string),
        link: e.link.as_deref().map(Path::to_path_buf),
    }
}

impl Violation {
    /// The violation as an audit finding (for SARIF and text renderers).
    pub fn to_finding(&self) -> crate::audit::Finding {
        let mut message = self.rule.summary.to_string();
        if !self.differs.is_empty() {
            message.push_str(&format!(": {}", self.differs.join(", ")));
        }
        let mut f = crate::audit::Finding::new(self.rule, &self.path, message);
        if !self.differs.is_empty() {
            f = f.extra("differs", self.differs.join(","));
        }
        if let Some(m) = &self.minimal {
            f = f.extra("minimal_package", m.package.clone());
        }
        if let Some(full) = &self.full {
            f = f.extra("full_package", full.package.clone());
        }
        f
    }
}

fn ser_rule<S: serde::Serializer>(r: &&'static Rule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algo;
    use crate::manifest::Backend;

    fn file(path: &str, content: &[u8], mode: u32) -> FileEntry {
        let mut e = FileEntry::new(path, FileKind::File);
        e.digest = Some(Algo::Sha256.hash_bytes(content));
        e.size = Some(content.len() as u64);
        e.mode = Some(0o100000 | mode);
        e.user = Some("root".into());
        e
    }

    fn manifest(name: &str, files: Vec<FileEntry>) -> Manifest {
        let mut package = crate::testutil::package(name, Backend::Directory, &[]);
        package.files = files;
        Manifest {
            packages: vec![package],
        }
    }

    #[test]
    fn a_subset_passes_and_each_break_is_named() {
        let full = manifest(
            "full",
            vec![file("/a.pyc", b"A", 0o644), file("/b.py", b"B", 0o644)],
        );
        let ok = manifest("min", vec![file("/a.pyc", b"A", 0o644)]);
        assert!(check(&ok, &full, Compare::Metadata).passed());
        let bad = manifest(
            "min",
            vec![file("/a.pyc", b"X", 0o755), file("/evil.pyc", b"E", 0o644)],
        );
        let out = check(&bad, &full, Compare::Metadata);
        let got: Vec<_> = out
            .violations
            .iter()
            .map(|v| (v.rule.id, v.path.display().to_string(), v.differs.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "subset-differs",
                    "/a.pyc".to_string(),
                    vec!["digest", "mode"]
                ),
                ("subset-missing", "/evil.pyc".to_string(), vec![])
            ]
        );
        // Comparing paths only, the changed file passes.
        assert_eq!(check(&bad, &full, Compare::Path).violations.len(), 1);
    }

    #[test]
    fn minimal_inputs_that_disagree_conflict() {
        let mut m = manifest("one", vec![file("/x.pyc", b"1", 0o644)]);
        m.extend(manifest("two", vec![file("/x.pyc", b"2", 0o644)]));
        let full = manifest("full", vec![file("/x.pyc", b"1", 0o644)]);
        let out = check(&m, &full, Compare::Digest);
        assert_eq!(out.violations.len(), 1);
        assert_eq!(out.violations[0].rule.id, "subset-conflict");
    }

    #[test]
    fn content_that_cannot_be_compared_is_not_proven() {
        let mut no_digest = file("/a", b"A", 0o644);
        no_digest.digest = None;
        let full = manifest("full", vec![file("/a", b"A", 0o644)]);
        let out = check(&manifest("m", vec![no_digest]), &full, Compare::Digest);
        assert_eq!(out.violations[0].differs, ["digest"]);
    }
}
