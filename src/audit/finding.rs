//! Findings are data: a rule, a severity, a path, the owning package when
//! known, and the evidence that supports them. Renderers turn them into
//! text, JSON, SARIF or rpm -V lines; nothing here knows about output.
//!
//! A report keeps every finding until it is sorted, and one deleted
//! package can make a million of them (`missing`, one per file), so a
//! finding is kept small: its path is a boxed `Path`, its package a shared
//! [`PackageRef`] (one per package, not a copy per finding), and what
//! follows from the rest is made when it is rendered, not stored: a
//! missing file's message and evidence follow from its package and its
//! attribute marker. Empty evidence costs no allocation.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use serde::ser::SerializeStruct;
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
pub struct EvidenceData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileFacts>,
    // The larger facts are boxed: most findings carry none of them.
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

/// A finding's evidence: derefs to [`EvidenceData`], stored only where it
/// says something of its own. None costs no allocation, and a file missing
/// from its package ([`Evidence::missing`]) shares one [`EvidenceData`]
/// per attribute marker; the first change through `DerefMut` gives the
/// finding a copy of its own.
#[derive(Clone, Default)]
pub struct Evidence(Repr);

#[derive(Clone, Default)]
enum Repr {
    #[default]
    Empty,
    /// `missing` with this attribute marker (one of [`ATTRS`]), nothing else.
    Missing(char),
    Own(Box<EvidenceData>),
}

/// The attribute markers `rpm -V` and `dpkg --verify` print.
const ATTRS: [char; 9] = [' ', 'c', 'd', 'm', 'n', 'g', 'l', 'r', 'a'];

static EMPTY: EvidenceData = EvidenceData {
    file: None,
    verify: None,
    bytecode: None,
    layer: None,
    extra: BTreeMap::new(),
};

/// A missing file's evidence, one per attribute marker of [`ATTRS`].
static MISSING: LazyLock<Vec<EvidenceData>> =
    LazyLock::new(|| ATTRS.iter().map(|&a| missing_data(a)).collect());

fn missing_data(attr: char) -> EvidenceData {
    EvidenceData {
        verify: Some(Box::new(VerifyFacts {
            result: "missing".into(),
            attr,
            differs: Vec::new(),
            unchecked: Vec::new(),
            expected: BTreeMap::new(),
            actual: BTreeMap::new(),
        })),
        ..EvidenceData::default()
    }
}

impl Evidence {
    /// A file that is not there, with its attribute marker: the verifier's
    /// `missing` result and nothing else.
    pub fn missing(attr: char) -> Self {
        match ATTRS.contains(&attr) {
            true => Evidence(Repr::Missing(attr)),
            false => Evidence(Repr::Own(Box::new(missing_data(attr)))),
        }
    }
}

impl Deref for Evidence {
    type Target = EvidenceData;
    fn deref(&self) -> &EvidenceData {
        match &self.0 {
            Repr::Empty => &EMPTY,
            Repr::Missing(attr) => {
                let i = ATTRS.iter().position(|a| a == attr).unwrap_or_default();
                &MISSING[i]
            }
            Repr::Own(data) => data,
        }
    }
}

impl DerefMut for Evidence {
    fn deref_mut(&mut self) -> &mut EvidenceData {
        if !matches!(self.0, Repr::Own(_)) {
            self.0 = Repr::Own(Box::new((**self).clone()));
        }
        match &mut self.0 {
            Repr::Own(data) => data,
            _ => unreachable!("made its own just above"),
        }
    }
}

impl PartialEq for Evidence {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Evidence {}

impl std::fmt::Debug for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

/// What a finding says, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Message {
    /// Most messages are fixed text, and cost nothing per finding.
    Text(Cow<'static, str>),
    /// `{nevra} installed it and it is not there`, from the finding's package.
    NotThere,
}

/// One finding.
///
/// Serialised as `pyvet-audit/1` has it: `rule` (its id), `severity`,
/// `path` (lossily where it is not UTF-8, and then exactly, base64, in
/// `path_bytes`), `package`, `message`, `evidence`.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    pub severity: Severity,
    /// The path inside the audited tree.
    pub path: Box<Path>,
    pub package: Option<Arc<PackageRef>>,
    /// One line saying what is wrong ([`Finding::message`]).
    message: Message,
    pub evidence: Evidence,
}

/// Findings are equal when they say the same, however it is stored.
impl PartialEq for Finding {
    fn eq(&self, other: &Self) -> bool {
        (
            self.rule.id,
            self.severity,
            &self.path,
            &self.package,
            &self.evidence,
        ) == (
            other.rule.id,
            other.severity,
            &other.path,
            &other.package,
            &other.evidence,
        ) && self.message() == other.message()
    }
}

impl Eq for Finding {}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.path.as_os_str().as_bytes();
        let utf8 = std::str::from_utf8(bytes).is_ok();
        let mut st = s.serialize_struct("Finding", 6 + usize::from(!utf8))?;
        st.serialize_field("rule", self.rule.id)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("path", &self.path.to_string_lossy())?;
        if !utf8 {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            st.serialize_field("path_bytes", &b64)?;
        }
        st.serialize_field("package", &self.package.as_deref())?;
        st.serialize_field("message", &self.message())?;
        st.serialize_field("evidence", &self.evidence)?;
        st.end()
    }
}

impl Finding {
    /// A finding with the rule's default severity; checks then add the
    /// package and evidence, and the policy may change the severity.
    pub fn new(
        rule: &'static Rule,
        path: impl Into<PathBuf>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Finding {
            rule,
            severity: rule.severity,
            path: path.into().into_boxed_path(),
            package: None,
            message: Message::Text(message.into()),
            evidence: Evidence::default(),
        }
    }

    /// A file `package` installed that is not there, with its attribute
    /// marker: message and evidence follow from these, made when rendered.
    pub fn not_there(
        rule: &'static Rule,
        path: impl Into<PathBuf>,
        package: Arc<PackageRef>,
        attr: char,
    ) -> Self {
        Finding {
            message: Message::NotThere,
            package: Some(package),
            evidence: Evidence::missing(attr),
            ..Finding::new(rule, path, "")
        }
    }

    /// One line saying what is wrong.
    pub fn message(&self) -> Cow<'_, str> {
        match &self.message {
            Message::Text(t) => Cow::Borrowed(t.as_ref()),
            Message::NotThere => {
                let nevra = self.package.as_deref().map_or("", |p| p.nevra.as_str());
                Cow::Owned(format!("{nevra} installed it and it is not there"))
            }
        }
    }

    pub fn package(mut self, p: Option<impl Into<Arc<PackageRef>>>) -> Self {
        self.package = p.map(Into::into);
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

    fn pkg() -> Arc<PackageRef> {
        Arc::new(PackageRef {
            name: "python3-libs".into(),
            nevra: "python3-libs-3.11.9-1.fc40.x86_64".into(),
            backend: "rpmdb-sqlite",
        })
    }

    #[test]
    fn a_finding_costs_tens_of_bytes_besides_its_path() {
        // Was 200 bytes inline, with a package, message and evidence of
        // its own on the heap: a million missing files took 1.4 GB.
        assert!(std::mem::size_of::<Finding>() <= 80);
        let f = Finding::not_there(rules::MISSING, "/usr/lib/python3.11/os.py", pkg(), 'c');
        assert!(matches!(f.evidence.0, Repr::Missing('c')));
        assert!(matches!(f.message, Message::NotThere));
        let g = Finding::new(rules::UNOWNED_MODULE, "/usr/lib/python3.11/x.py", "fixed");
        assert!(matches!(g.evidence.0, Repr::Empty));
        assert!(matches!(g.message, Message::Text(Cow::Borrowed(_))));
    }

    #[test]
    fn a_missing_file_renders_as_if_its_message_and_evidence_were_stored() {
        let p = "/usr/lib/python3.11/os.py";
        let compact = Finding::not_there(rules::MISSING, p, pkg(), 'c');
        let mut full = Finding::new(
            rules::MISSING,
            p,
            "python3-libs-3.11.9-1.fc40.x86_64 installed it and it is not there",
        )
        .package(Some(pkg()));
        full.evidence.verify = Some(Box::new(VerifyFacts {
            result: "missing".into(),
            attr: 'c',
            differs: vec![],
            unchecked: vec![],
            expected: BTreeMap::new(),
            actual: BTreeMap::new(),
        }));
        assert_eq!(compact.message(), full.message());
        assert_eq!(
            serde_json::to_string(&compact).unwrap(),
            serde_json::to_string(&full).unwrap()
        );
        assert_eq!(compact, full);
        // An unusual marker is stored, and says the same.
        let odd = Finding::not_there(rules::MISSING, p, pkg(), 'x');
        assert_eq!(odd.evidence.verify.as_ref().unwrap().attr, 'x');
    }

    #[test]
    fn shared_evidence_is_copied_before_it_changes() {
        let p = "/usr/lib/python3.11/os.py";
        let mut a = Finding::not_there(rules::MISSING, p, pkg(), ' ');
        let b = Finding::not_there(rules::MISSING, p, pkg(), ' ');
        a.evidence.extra.insert("note", "x".into());
        assert!(matches!(a.evidence.0, Repr::Own(_)));
        assert_eq!(a.evidence.verify, b.evidence.verify);
        assert!(b.evidence.extra.is_empty());
    }

    #[test]
    fn severities_order() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
    }
}
