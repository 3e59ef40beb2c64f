//! Findings are data: a rule, a severity, a path, the owning package when
//! known, and the evidence that supports them. Renderers turn them into
//! text, JSON, SARIF or rpm -V lines; nothing here knows about output.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use super::rules::Rule;
use crate::tree::Meta;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The package a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageRef {
    pub name: String,
    /// `name-[epoch:]version-release.arch`.
    pub nevra: String,
    /// The backend that reported it (`rpmdb-sqlite`, `dpkg`, `pip-record`, ...).
    pub backend: &'static str,
}

impl PackageRef {
    pub fn of(p: &crate::manifest::Package) -> Self {
        PackageRef {
            name: p.name.clone(),
            nevra: p.nevra(),
            backend: p.source.backend.as_str(),
        }
    }
}

/// The file as found (what `lstat` said), with its SELinux label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFacts {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub ctime: i64,
    /// `security.selinux`, so a finding can be matched with AVC denials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux: Option<String>,
}

impl FileFacts {
    pub fn from_meta(meta: &Meta, selinux: Option<String>) -> Self {
        FileFacts {
            kind: meta.kind.as_str(),
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
            size: meta.size,
            mtime: meta.mtime,
            ctime: meta.ctime,
            selinux,
        }
    }
}

/// The rpm -V view of an owned file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyFacts {
    /// rpm's 9-column result (`S.5....T.`), `missing` for a missing file.
    pub result: String,
    /// rpm's attribute marker (`c` config, `d` doc, `g` ghost, `l` license,
    /// `r` readme, `a` artifact, ` ` none).
    pub attr: char,
    /// The attributes that differ (`size`, `mode`, `digest`, ...).
    pub differs: Vec<&'static str>,
    /// Attributes the manifest cannot check (dpkg has no sizes, modes, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<&'static str>,
    /// Expected and actual value per differing attribute.
    pub expected: BTreeMap<&'static str, String>,
    pub actual: BTreeMap<&'static str, String>,
}

/// What the bytecode module concluded about a pyc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BytecodeFacts {
    pub verdict: &'static str,
    pub reason: String,
    pub python: Option<String>,
    /// `timestamp`, `checked-hash`, `unchecked-hash`.
    pub kind: Option<&'static str>,
    pub opt_level: Option<String>,
    /// The source CPython judges it against.
    #[serde(serialize_with = "ser_opt_tree_path")]
    pub source: Option<PathBuf>,
    /// The package owning that source.
    pub source_package: Option<String>,
    pub co_filename: Option<String>,
    /// Seconds between the owning package's install time and the pyc's mtime
    /// (positive: written after the install).
    pub after_install_secs: Option<i64>,
}

/// A container image layer that introduced the path (issue: images).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerFacts {
    pub digest: String,
    pub created_by: Option<String>,
}

/// Everything a finding rests on. Absent parts are left out of JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileFacts>,
    // The larger facts are boxed: most findings carry none of them, and a
    // report of 200,000 findings keeps every one in memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Box<VerifyFacts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytecode: Option<Box<BytecodeFacts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<Box<LayerFacts>>,
    /// Anything else, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<&'static str, String>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(serialize_with = "ser_rule")]
    pub rule: &'static Rule,
    pub severity: Severity,
    /// The path inside the audited tree; not UTF-8 paths are written
    /// lossily here and exactly in `path_bytes` (base64).
    #[serde(serialize_with = "ser_tree_path")]
    pub path: PathBuf,
    #[serde(
        skip_serializing_if = "is_utf8_path",
        serialize_with = "ser_path_bytes",
        rename = "path_bytes"
    )]
    #[serde(default)]
    pub path_bytes: PathBytes,
    pub package: Option<PackageRef>,
    /// One line saying what is wrong.
    pub message: String,
    pub evidence: Evidence,
}

/// Marker type so that `path_bytes` is derived from `path` when serialised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathBytes(pub Option<Vec<u8>>);

fn is_utf8_path(p: &PathBytes) -> bool {
    p.0.is_none()
}

fn ser_path_bytes<S: Serializer>(p: &PathBytes, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    let b = p.0.as_deref().unwrap_or_default();
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
}

impl Finding {
    /// A finding with the rule's default severity; checks then add the
    /// package and evidence, and the policy may change the severity.
    pub fn new(rule: &'static Rule, path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        let path = path.into();
        let bytes = path.as_os_str().as_bytes();
        let path_bytes = match std::str::from_utf8(bytes) {
            Ok(_) => PathBytes(None),
            Err(_) => PathBytes(Some(bytes.to_vec())),
        };
        Finding {
            rule,
            severity: rule.severity,
            path,
            path_bytes,
            package: None,
            message: message.into(),
            evidence: Evidence::default(),
        }
    }

    pub fn package(mut self, p: Option<PackageRef>) -> Self {
        self.package = p;
        self
    }

    pub fn file(mut self, meta: &Meta, selinux: Option<String>) -> Self {
        self.evidence.file = Some(FileFacts::from_meta(meta, selinux));
        self
    }

    pub fn extra(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.evidence.extra.insert(key, value.into());
        self
    }

    /// The path as text: lossless where it is UTF-8, `\xNN` escapes where not.
    pub fn display_path(&self) -> String {
        display_path(&self.path)
    }
}

/// A tree path as text; bytes that are not UTF-8 become `\xNN`.
pub fn display_path(p: &std::path::Path) -> String {
    let bytes = p.as_os_str().as_bytes();
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes
            .utf8_chunks()
            .flat_map(|c| {
                let mut s = c.valid().to_string();
                for b in c.invalid() {
                    s.push_str(&format!("\\x{b:02x}"));
                }
                [s]
            })
            .collect(),
    }
}

fn ser_rule<S: Serializer>(r: &&'static Rule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.id)
}

fn ser_tree_path<S: Serializer>(p: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

fn ser_opt_tree_path<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => ser_tree_path(p, s),
        None => s.serialize_none(),
    }
}

/// A tree path for a line-oriented text report (`--format text`, `rpm`):
/// bytes that are not UTF-8 become `\xNN`, a backslash `\\`, and control
/// characters their escapes (`\n`, `\u{1b}`), all in one pass. A name can
/// then neither forge a line or a terminal escape, nor pass for another
/// name: `\xff` spelt out and a real 0xff byte print differently.
pub fn text_path(p: &std::path::Path) -> String {
    let mut s = String::new();
    for chunk in p.as_os_str().as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                c if c.is_control() => s.extend(c.escape_default()),
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::rules;

    #[test]
    fn text_paths_cannot_forge_lines_or_pass_for_other_names() {
        let t = |b: &[u8]| text_path(std::path::Path::new(OsStr::from_bytes(b)));
        assert_eq!(t(b"/a\n/S.5....T.  c x"), "/a\\n/S.5....T.  c x");
        assert_eq!(t(b"/a\n"), "/a\\n");
        assert_eq!(t(b"/a\x1b[2J\r"), "/a\\u{1b}[2J\\r");
        assert_eq!(t(b"/\xffevil"), "/\\xffevil");
        assert_eq!(t(b"/\\xffevil"), "/\\\\xffevil");
        assert_ne!(t(b"/\xff"), t(b"/\\xff"));
    }
    use std::ffi::OsStr;

    #[test]
    fn non_utf8_paths_are_kept_exactly() {
        let p = PathBuf::from(OsStr::from_bytes(b"/usr/lib/python3.11/\xffevil.pyc"));
        let f = Finding::new(rules::SOURCELESS_BYTECODE, p, "x");
        assert_eq!(f.display_path(), "/usr/lib/python3.11/\\xffevil.pyc");
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["rule"], "sourceless-bytecode");
        assert_eq!(v["severity"], "error");
        assert_eq!(v["path_bytes"], "L3Vzci9saWIvcHl0aG9uMy4xMS//ZXZpbC5weWM=");
        let ok = Finding::new(rules::MISSING, "/usr/bin/x", "x");
        assert!(serde_json::to_value(&ok)
            .unwrap()
            .get("path_bytes")
            .is_none());
    }

    #[test]
    fn severities_order() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
    }
}
