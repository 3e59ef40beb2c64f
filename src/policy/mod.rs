//! Policies: what a distribution (or a layout) expects of its Python trees,
//! and how severe each rule is there.
//!
//! The same unowned, valid opt-0 pyc is a root write on Fedora (where
//! packages ship their pycs) and exactly what Debian's `py3compile` leaves on
//! every system; the same owned `X.pyc` without `X.py` is a packaging
//! mistake in a status-quo tree and the whole point of the minimal layout.
//! So the audit's checks classify files; a [`Policy`] says which layout the
//! trees follow ([`Expect`], per path glob), what severity each rule has,
//! and which findings are accepted. The distribution is detected from the
//! root ([`detect`]); `--policy NAME|FILE` overrides it.
//!
//! The built-in policies are the files of `policies/`, compiled in: the
//! shipped files and the names `--policy` takes cannot drift apart.
//! `man/pyvet-policy.5` documents the format.

pub mod accept;
mod load;

pub use load::{load, parse, PolicyError};

use std::collections::BTreeMap;
use std::path::Path;

use globset::GlobMatcher;
use serde::Serialize;

use crate::audit::finding::Severity;
use crate::audit::rules::Rule;
use crate::tree::Tree;

/// A per-rule level, as policies write them (cargo-deny's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Not reported.
    Allow,
    /// Reported as information.
    Info,
    /// Reported as a warning.
    Warn,
    /// Reported as an error.
    Deny,
}

impl Level {
    /// The severity a finding gets, `None` when it is not reported.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Allow => None,
            Level::Info => Some(Severity::Info),
            Level::Warn => Some(Severity::Warning),
            Level::Deny => Some(Severity::Error),
        }
    }
}

/// Where a distribution's bytecode comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BytecodeOrigin {
    /// pycs are files of the packages (Fedora, RHEL, SUSE, Alpine's `-pyc`).
    Packaged,
    /// opt-0 pycs are written at install time by the distribution's tooling
    /// (Debian's `py3compile`) and no package lists them.
    Generated,
}

/// The layout a policy describes (the distributors' proposal's names); a label for reports,
/// the expectations themselves are spelled out in [`Expect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    StatusQuo,
    PyOpt0,
    Option1,
    Option2,
    /// Option 2 with the sources in a parallel tree under a pysource prefix.
    Option2Prefix,
    Minimal,
    Debian,
    Alpine,
    PycachePrefix,
    Custom,
}

/// Where a module's source is, in the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sources {
    /// Plain `X.py` beside its `__pycache__`.
    Py,
    /// `__pysources__/X.py[.gz|.xz|.bz2]` beside a legacy-location `X.pyc`.
    Pysources,
    /// A `__pysource__` metadata file naming the directory the sources are in.
    Pysource,
    /// `PREFIX/dir/X.py[.gz|.xz|.bz2]` for a legacy-location `dir/X.pyc`: a
    /// parallel tree mirroring absolute paths under the pysource prefix
    /// ([`Policy::pysource_prefix`], or `--pysource-prefix`).
    Prefix,
    /// No sources at all.
    None,
}

/// How a source in `__pysources__` may be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    /// `X.py`.
    None,
    /// `X.py.gz`.
    Gz,
    /// `X.py.xz`.
    Xz,
    /// `X.py.bz2`.
    Bz2,
}

impl Compression {
    pub const ALL: [Compression; 4] = [
        Compression::None,
        Compression::Gz,
        Compression::Xz,
        Compression::Bz2,
    ];

    /// The file name suffix after `.py` (`""`, `.gz`, ...).
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gz => ".gz",
            Compression::Xz => ".xz",
            Compression::Bz2 => ".bz2",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gz => "gz",
            Compression::Xz => "xz",
            Compression::Bz2 => "bz2",
        }
    }
}

/// A marker a layout may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Marker {
    /// `__pycache__/__dont_write_bytecode__` in every `__pycache__` whose
    /// parent has sources.
    DontWriteBytecode,
}

/// What a layout expects of the files under some path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Expect {
    /// Where sources are.
    pub sources: Sources,
    /// How sources in `__pysources__` (or a `__pysource__` directory) may be stored.
    pub compression: Vec<Compression>,
    /// Optimisation levels of the packaged `__pycache__` pycs; `None`: not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pycache: Option<Vec<u8>>,
    /// Whether packaged legacy-location `X.pyc` (sourceless) are expected.
    pub legacy_pycs: bool,
    /// Markers that must exist.
    pub markers: Vec<Marker>,
    /// Optimisation levels interpreters run with (`python3 -O` is 1): for
    /// each, a source without a valid pyc is a predicted write attempt.
    pub optimization_levels: Vec<u8>,
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            sources: Sources::Py,
            compression: vec![Compression::None],
            pycache: None,
            legacy_pycs: false,
            markers: Vec::new(),
            optimization_levels: vec![0],
        }
    }
}

/// The parts of [`Expect`] an `[[expect]]` entry changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExpectPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Sources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<Vec<Compression>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pycache: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_pycs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markers: Option<Vec<Marker>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimization_levels: Option<Vec<u8>>,
}

impl ExpectPatch {
    fn apply(&self, e: &mut Expect) {
        if let Some(v) = self.sources {
            e.sources = v;
        }
        if let Some(v) = &self.compression {
            e.compression.clone_from(v);
        }
        if let Some(v) = &self.pycache {
            e.pycache = Some(v.clone());
        }
        if let Some(v) = self.legacy_pycs {
            e.legacy_pycs = v;
        }
        if let Some(v) = &self.markers {
            e.markers.clone_from(v);
        }
        if let Some(v) = &self.optimization_levels {
            e.optimization_levels.clone_from(v);
        }
    }
}

/// Up to this many globs are matched one by one; more are compiled into
/// one set too (compiling costs more than a few matches).
const FEW_GLOBS: usize = 4;

/// Compiled path globs (`*` stays within one path component, `**` spans
/// any number).
#[derive(Clone, Default)]
pub struct Globs {
    each: Vec<GlobMatcher>,
    /// All of them as one automaton: a policy can list dozens of globs
    /// (the `fedora` pyc-only modules), asked about every pyc.
    set: globset::GlobSet,
}

impl std::fmt::Debug for Globs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.each.iter().map(|g| g.glob().glob()))
            .finish()
    }
}

impl Globs {
    /// The globs, matched one by one ([`Globs::iter`]) or, when there are
    /// more than a few, at once.
    pub fn new(each: Vec<GlobMatcher>) -> Self {
        let mut b = globset::GlobSetBuilder::new();
        if each.len() > FEW_GLOBS {
            for g in &each {
                b.add(g.glob().clone());
            }
        }
        // Globs that compiled alone compile together.
        let set = b.build().unwrap_or_default();
        Globs { each, set }
    }

    pub fn is_match(&self, path: &Path) -> bool {
        match self.each.len() > FEW_GLOBS {
            true => self.set.is_match(path),
            false => self.each.iter().any(|g| g.is_match(path)),
        }
    }

    /// Each glob, in the order of the patterns they were compiled from.
    pub fn iter(&self) -> impl Iterator<Item = &GlobMatcher> {
        self.each.iter()
    }

    /// Compiles one glob the way policies mean them.
    pub fn compile(pattern: &str) -> Result<GlobMatcher, globset::Error> {
        globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map(|g| g.compile_matcher())
    }
}

// Globs are derived from the patterns kept beside them.
impl PartialEq for Globs {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Globs {}

/// An `[[expect]]` entry: other expectations under some paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExpectEntry {
    /// Globs over paths inside the root.
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(flatten)]
    pub set: ExpectPatch,
    #[serde(skip)]
    pub globs: Globs,
    /// Where the entry is written (`FILE:LINE`), for reports.
    #[serde(skip)]
    pub at: String,
}

/// An `[[accept]]` entry: findings of `rule` at paths matching `path` are
/// accepted, for `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptEntry {
    pub rule: String,
    pub path: String,
    pub reason: String,
    /// When set, the finding must occur: its absence is an error, not a
    /// warning (the acceptance documents something the layout relies on).
    pub required: bool,
    #[serde(skip)]
    pub globs: Globs,
    #[serde(skip)]
    pub at: String,
}

/// The effective policy of one audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Policy {
    /// The policy's name (`fedora`, `debian`, a file's stem).
    pub name: String,
    /// What it is for, in a sentence.
    pub description: String,
    /// The layout it describes.
    pub layout: Layout,
    /// Where opt-0 bytecode comes from.
    pub bytecode: BytecodeOrigin,
    /// The root of the parallel source tree (`PYTHONPYSOURCEPREFIX`) where
    /// `sources = "prefix"` keeps sources; absolute, inside the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pysource_prefix: Option<std::path::PathBuf>,
    /// What is expected everywhere no `[[expect]]` entry says otherwise.
    #[serde(flatten)]
    pub defaults: Expect,
    /// Modules the distribution ships as bytecode only (generated ones),
    /// as globs over their paths without suffix
    /// (`/usr/lib*/python3*/pydoc_data/topics`): their legacy-location
    /// `X.pyc` is expected where the layout otherwise has none.
    pub pyc_only: Vec<String>,
    #[serde(skip)]
    pub pyc_only_globs: Globs,
    /// Expectations for some paths; the last matching entry wins.
    #[serde(rename = "expect", skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<ExpectEntry>,
    /// Accepted findings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<AcceptEntry>,
    /// Per-rule levels overriding each rule's default severity.
    pub rules: BTreeMap<String, Level>,
    /// Compiled in (`policies/`): its `[[expect]]` entries describe the
    /// distribution at large, so one root matching none of them is no news.
    #[serde(skip)]
    pub builtin: bool,
}

impl Policy {
    /// The severity of a finding of `rule`, `None` when the policy allows it.
    pub fn severity(&self, rule: &Rule) -> Option<Severity> {
        self.apply(rule, rule.severity)
    }

    /// The severity a finding ends with: the policy's level for its rule
    /// where it sets one, else what the check decided (`found`, usually the
    /// rule's default). `None`: the policy allows it, it is not reported.
    pub fn apply(&self, rule: &Rule, found: Severity) -> Option<Severity> {
        match self.rules.get(rule.id) {
            Some(l) => l.severity(),
            None => Some(found),
        }
    }

    /// Whether bytecode for sources the distribution owns is expected to be
    /// generated at install time rather than packaged.
    pub fn generates_bytecode(&self) -> bool {
        self.bytecode == BytecodeOrigin::Generated
    }

    /// What the layout expects at `path`: the defaults, changed by every
    /// `[[expect]]` entry matching it, in order.
    pub fn expect_for(&self, path: &Path) -> Expect {
        let mut e = self.defaults.clone();
        for o in self.overrides.iter().filter(|o| o.globs.is_match(path)) {
            o.set.apply(&mut e);
        }
        if self.is_pyc_only(path) {
            e.legacy_pycs = true;
        }
        e
    }

    /// Whether `path` is the bytecode of a module the policy lists as
    /// shipped pyc-only (its legacy `X.pyc`, or a `__pycache__` one).
    pub fn is_pyc_only(&self, path: &Path) -> bool {
        if self.pyc_only.is_empty() {
            return false;
        }
        let source = match crate::bytecode::naming::locate(path, None) {
            crate::bytecode::naming::PycLocation::Cache { source, .. }
            | crate::bytecode::naming::PycLocation::Legacy { source } => source,
            _ => return false,
        };
        self.pyc_only_globs.is_match(&source.with_extension(""))
    }

    /// The policy as TOML, as `pyvet policy show` prints it.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// The shipped policy files, by name.
const SHIPPED: &[(&str, &str)] = &[
    ("fedora", include_str!("../../policies/fedora.toml")),
    (
        "fedora-py-opt0",
        include_str!("../../policies/fedora-py-opt0.toml"),
    ),
    (
        "fedora-option1",
        include_str!("../../policies/fedora-option1.toml"),
    ),
    (
        "fedora-option1-full",
        include_str!("../../policies/fedora-option1-full.toml"),
    ),
    (
        "fedora-option2",
        include_str!("../../policies/fedora-option2.toml"),
    ),
    (
        "fedora-option2-prefix",
        include_str!("../../policies/fedora-option2-prefix.toml"),
    ),
    (
        "fedora-minimal",
        include_str!("../../policies/fedora-minimal.toml"),
    ),
    ("debian", include_str!("../../policies/debian.toml")),
    ("alpine", include_str!("../../policies/alpine.toml")),
    (
        "pycache-prefix",
        include_str!("../../policies/pycache-prefix.toml"),
    ),
    ("generic", include_str!("../../policies/generic.toml")),
];

/// The built-in policies, by name.
pub const BUILTIN: &[&str] = &[
    "fedora",
    "fedora-py-opt0",
    "fedora-option1",
    "fedora-option1-full",
    "fedora-option2",
    "fedora-option2-prefix",
    "fedora-minimal",
    "debian",
    "alpine",
    "pycache-prefix",
    "generic",
];

/// A built-in policy by name.
pub fn builtin(name: &str) -> Option<Policy> {
    let (_, text) = SHIPPED.iter().find(|(n, _)| *n == name)?;
    let label = format!("policies/{name}.toml");
    // The shipped files are checked by a test; a broken one is a build bug.
    let mut p = parse(text, Path::new(&label)).expect("shipped policies load");
    p.builtin = true;
    Some(p)
}

/// The text of a built-in policy file.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The distributions pyvet knows the defaults of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distro {
    /// RPM-based: Fedora, RHEL and rebuilds, SUSE, Mariner (pycs packaged).
    Rpm,
    /// Debian, Ubuntu and derivatives (pycs made by py3compile).
    Debian,
    /// Alpine (pycs in `-pyc` subpackages).
    Alpine,
    /// Nothing recognisable: packaged bytecode is assumed.
    Unknown,
}

impl Distro {
    /// The built-in policy for this distribution.
    pub fn policy(self) -> Policy {
        let name = match self {
            Distro::Rpm => "fedora",
            Distro::Debian => "debian",
            Distro::Alpine => "alpine",
            Distro::Unknown => "generic",
        };
        builtin(name).expect("every distro has a built-in policy")
    }
}

/// Detects the distribution of a root from `etc/os-release` (`ID`,
/// `ID_LIKE`) and, failing that, from which package databases exist.
pub fn detect(tree: &dyn Tree, has_rpm: bool, has_dpkg: bool, has_apk: bool) -> Distro {
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Ok(bytes) = tree.read(Path::new(p), 1 << 16) {
            if let Some(d) = from_os_release(&String::from_utf8_lossy(&bytes)) {
                return d;
            }
        }
    }
    match (has_rpm, has_dpkg, has_apk) {
        (_, true, _) => Distro::Debian,
        (true, _, _) => Distro::Rpm,
        (_, _, true) => Distro::Alpine,
        _ => Distro::Unknown,
    }
}

/// Reads `ID` and `ID_LIKE` from os-release text.
pub fn from_os_release(text: &str) -> Option<Distro> {
    let mut ids = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() == "ID" || k.trim() == "ID_LIKE" {
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            ids.extend(v.split_whitespace().map(str::to_ascii_lowercase));
        }
    }
    ids.iter().find_map(|id| match id.as_str() {
        "debian" | "ubuntu" => Some(Distro::Debian),
        "fedora" | "rhel" | "centos" | "suse" | "opensuse" | "sles" | "mariner" | "azurelinux"
        | "amzn" | "rocky" | "almalinux" | "ol" => Some(Distro::Rpm),
        "alpine" | "wolfi" | "chainguard" => Some(Distro::Alpine),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::rules;

    #[test]
    fn os_release_ids() {
        assert_eq!(
            from_os_release("NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n"),
            Some(Distro::Debian)
        );
        assert_eq!(
            from_os_release("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"),
            Some(Distro::Rpm)
        );
        assert_eq!(
            from_os_release("ID=opensuse-tumbleweed\nID_LIKE=\"opensuse suse\"\n"),
            Some(Distro::Rpm)
        );
        assert_eq!(from_os_release("ID=alpine\n"), Some(Distro::Alpine));
        assert_eq!(from_os_release("ID=plan9\n"), None);
    }

    #[test]
    fn levels_override_defaults() {
        let mut p = builtin("fedora").unwrap();
        assert_eq!(p.severity(rules::MISSING), Some(Severity::Error));
        p.rules.insert("missing".into(), Level::Allow);
        p.rules.insert("mtime-mismatch".into(), Level::Deny);
        assert_eq!(p.severity(rules::MISSING), None);
        assert_eq!(p.severity(rules::MTIME_MISMATCH), Some(Severity::Error));
        assert!(builtin("debian").unwrap().generates_bytecode());
    }

    #[test]
    fn every_shipped_policy_loads_and_is_built_in() {
        assert_eq!(SHIPPED.len(), BUILTIN.len());
        for name in BUILTIN {
            let p = builtin(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(p.name, *name);
            // What `policy show` prints loads back to the same policy.
            let again = parse(&p.to_toml(), Path::new("shown.toml"))
                .unwrap_or_else(|e| panic!("{name}: {e}\n{}", p.to_toml()));
            assert_eq!(again.to_toml(), p.to_toml(), "{name}");
            assert_eq!(again.defaults, p.defaults, "{name}");
        }
    }

    #[test]
    fn pyc_only_modules_expect_their_legacy_pyc() {
        let fedora = builtin_text("fedora").unwrap();
        // The fedora policy with its own list replaced by one module.
        let own = &fedora[..fedora.find("pyc-only = [").unwrap()];
        let text = format!("{own}\npyc-only = [\"/usr/lib*/python3*/pydoc_data/topics\"]\n");
        let p = parse(&text, Path::new("p.toml")).unwrap();
        let e = |s: &str| p.expect_for(Path::new(s)).legacy_pycs;
        assert!(e("/usr/lib/python3.11/pydoc_data/topics.pyc"));
        assert!(e(
            "/usr/lib64/python3.12/pydoc_data/__pycache__/topics.cpython-312.pyc"
        ));
        assert!(!e("/usr/lib/python3.11/pydoc_data/other.pyc"));
        assert!(!e("/usr/lib/python3.11/encodings/cp1252.pyc"));
        assert_eq!(p.pyc_only, ["/usr/lib*/python3*/pydoc_data/topics"]);
        let again = parse(&p.to_toml(), Path::new("shown.toml")).unwrap();
        assert_eq!(again.pyc_only, p.pyc_only);
    }

    #[test]
    fn expectations_by_path() {
        let p = builtin("fedora").unwrap();
        // Fedora ships pydoc_data/topics and the generated encodings
        // pyc-only (tests/policy_corpus.rs), nothing else.
        let e = |s: &str| p.expect_for(Path::new(s)).legacy_pycs;
        assert!(e("/usr/lib/python3.11/pydoc_data/topics.pyc"));
        assert!(e("/usr/lib64/python3.12/encodings/cp1252.pyc"));
        assert!(!e("/usr/lib64/python3.12/encodings/utf_8.pyc"));
        assert!(!e("/usr/lib/python3.11/pydoc_data/__init__.pyc"));
        let os = p.expect_for(Path::new("/usr/lib/python3.11/os.py"));
        assert!(!os.legacy_pycs);
        assert_eq!(os.pycache, Some(vec![0, 1, 2]));
        let min = builtin("fedora-minimal").unwrap();
        let e = min.expect_for(Path::new("/usr/lib/python3.11/os.pyc"));
        assert_eq!((e.sources, e.legacy_pycs), (Sources::None, true));
    }
}
