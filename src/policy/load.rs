//! Loading a policy by name (built-in) or from a TOML file, strictly.
//!
//! serde stops at the first problem, and a policy author fixing a file one
//! error per run is the failure cargo-deny's two-phase loading avoids. So
//! the file is parsed into a `toml_edit` document, which keeps every key's
//! and value's byte span, and walked by hand: every unknown key, bad value,
//! bad glob and unknown rule id is collected with its line, and all of
//! them are reported at once.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{ImDocument, Item, Table, TableLike, Value};

use super::{
    AcceptEntry, BytecodeOrigin, Compression, Expect, ExpectEntry, ExpectPatch, Globs, Layout,
    Level, Marker, Policy, Sources,
};
use crate::audit::rules;

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Every problem of the file, each `line N: reason`.
    #[error("{}", .problems.iter().map(|p| format!("{}: {p}", .path.display())).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no built-in policy {0:?} (built in: {list}) and no such file", list = super::BUILTIN.join(", "))]
    Unknown(String),
}

/// Largest policy file read.
const MAX_POLICY_FILE: u64 = 1 << 20;

/// Where a policy NAME is looked up as `NAME.toml` before the built-ins:
/// the administrator's overrides, then the policies the package installed.
pub const SEARCH_DIRS: &[&str] = &["/etc/pyvet/policies", "/usr/share/pyvet/policies"];

/// A policy by name (`NAME.toml` in the search directories (`SEARCH_DIRS`), else built in), else a
/// TOML file by path.
pub fn load(spec: &str) -> Result<Policy, PolicyError> {
    load_searching(spec, SEARCH_DIRS)
}

/// [`load`] with the search directories given (tests use temp dirs).
pub fn load_searching<D: AsRef<Path>>(spec: &str, dirs: &[D]) -> Result<Policy, PolicyError> {
    if is_name(spec) {
        for dir in dirs {
            let file = dir.as_ref().join(format!("{spec}.toml"));
            if !file.is_file() {
                continue;
            }
            // The packaged copy of a built-in is the built-in (and keeps
            // what only built-ins do); anything else is a policy file.
            let same = super::builtin_text(spec)
                .is_some_and(|t| std::fs::read(&file).is_ok_and(|b| b == t.as_bytes()));
            return match same {
                true => Ok(super::builtin(spec).expect("builtin_text implies builtin")),
                false => load_file(&file),
            };
        }
    }
    if let Some(p) = super::builtin(spec) {
        return Ok(p);
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(PolicyError::Unknown(spec.into()));
    }
    load_file(path)
}

/// A policy name, as opposed to a path: no separator, no `.toml`, not hidden.
fn is_name(spec: &str) -> bool {
    !spec.is_empty()
        && !spec.starts_with('.')
        && !spec.contains('/')
        && !spec.ends_with(".toml")
        && spec
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A policy TOML file, strictly.
fn load_file(path: &Path) -> Result<Policy, PolicyError> {
    let bytes = crate::fsutil::read_capped(path, MAX_POLICY_FILE).map_err(|e| PolicyError::Io {
        path: path.into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| PolicyError::Invalid {
        path: path.into(),
        problems: vec![format!("not UTF-8: {e}")],
    })?;
    parse(&text, path)
}

/// Parses policy text; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
    let doc = ImDocument::parse(text).map_err(|e| PolicyError::Invalid {
        path: path.into(),
        problems: vec![match e.span() {
            Some(s) => format!("line {}: {}", line_at(text, s.start), e.message().trim()),
            None => e.message().trim().to_string(),
        }],
    })?;
    let mut w = Walker {
        text,
        file: path.display().to_string(),
        problems: Vec::new(),
    };
    let policy = w.policy(doc.as_table());
    match policy {
        Some(p) if w.problems.is_empty() => Ok(p),
        _ => {
            w.problems.sort_by_key(|(line, _)| *line);
            Err(PolicyError::Invalid {
                path: path.into(),
                problems: w
                    .problems
                    .into_iter()
                    .map(|(line, msg)| format!("line {line}: {msg}"))
                    .collect(),
            })
        }
    }
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Keys of the top level (besides those of [`EXPECT_KEYS`]).
const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "layout",
    "bytecode",
    "pysource-prefix",
    "rules",
    "expect",
    "accept",
    "pyc-only",
];
/// Keys that set an expectation, at the top level or in `[[expect]]`.
const EXPECT_KEYS: &[&str] = &[
    "sources",
    "compression",
    "pycache",
    "legacy-pycs",
    "markers",
    "optimization-levels",
];
const ENTRY_KEYS: &[&str] = &["paths", "reason"];
const ACCEPT_KEYS: &[&str] = &["rule", "path", "reason", "required"];
/// Highest optimisation level CPython has (`-OO`).
const MAX_OPT: i64 = 2;

struct Walker<'t> {
    text: &'t str,
    file: String,
    problems: Vec<(usize, String)>,
}

impl Walker<'_> {
    fn problem(&mut self, span: Option<Range<usize>>, msg: String) {
        let line = span.map_or(1, |s| line_at(self.text, s.start));
        self.problems.push((line, msg));
    }

    fn at(&self, span: Option<Range<usize>>) -> String {
        format!(
            "{}:{}",
            self.file,
            span.map_or(1, |s| line_at(self.text, s.start))
        )
    }

    /// Reports keys of `t` not in any of `allowed`.
    fn unknown_keys(&mut self, t: &dyn TableLike, allowed: &[&[&str]], what: &str) {
        for (k, _) in t.iter() {
            if !allowed.iter().any(|a| a.contains(&k)) {
                let span = t.key(k).and_then(|k| k.span());
                self.problem(span, format!("unknown key `{k}` in {what}"));
            }
        }
    }

    fn policy(&mut self, top: &Table) -> Option<Policy> {
        self.unknown_keys(top, &[TOP_KEYS, EXPECT_KEYS], "the policy");
        let name = self.string(top, "name", true);
        let description = self.string(top, "description", false).unwrap_or_default();
        let layout = self.enumerated(top, "layout", LAYOUTS);
        let bytecode = self.enumerated(top, "bytecode", ORIGINS);
        let pysource_prefix = self.prefix(top);
        let mut defaults = Expect::default();
        self.patch(top).apply(&mut defaults);
        let rules = self.rules(top);
        let (pyc_only, pyc_only_globs) = self.pyc_only(top);
        // A bad prefix is its own problem, not also a missing one.
        let has_prefix = top.contains_key("pysource-prefix");
        let overrides = self.expect_entries(top, has_prefix);
        if !has_prefix {
            self.prefix_needed(top);
        }
        let accept = self.accept_entries(top);
        Some(Policy {
            name: name?,
            description,
            layout: layout.unwrap_or(Layout::Custom),
            bytecode: bytecode.unwrap_or(BytecodeOrigin::Packaged),
            pysource_prefix,
            defaults,
            pyc_only,
            pyc_only_globs,
            overrides,
            accept,
            rules,
            builtin: false,
        })
    }

    /// `pysource-prefix`: an absolute path without `.` or `..` components.
    fn prefix(&mut self, top: &Table) -> Option<PathBuf> {
        let s = self.string(top, "pysource-prefix", false)?;
        let clean = crate::format::pysource::clean_absolute(&s);
        if clean.is_none() {
            let span = top.get("pysource-prefix").and_then(Item::span);
            self.problem(
                span,
                format!(
                    "`pysource-prefix` {s:?} is not an absolute path without . or .. components"
                ),
            );
        }
        clean
    }

    /// `sources = "prefix"` in `t` without a `pysource-prefix` is a problem.
    fn prefix_needed(&mut self, t: &dyn TableLike) {
        let Some((k, item)) = t.get_key_value("sources") else {
            return;
        };
        if item.as_str() == Some("prefix") {
            self.problem(
                k.span(),
                "`sources = \"prefix\"` needs a top-level `pysource-prefix`: the root of the source tree".into(),
            );
        }
    }

    /// A string value; a missing required one is a problem.
    fn string(&mut self, t: &dyn TableLike, key: &str, required: bool) -> Option<String> {
        let Some((k, item)) = t.get_key_value(key) else {
            if required {
                self.problem(None, format!("missing key `{key}`"));
            }
            return None;
        };
        match item.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.problem(k.span(), format!("`{key}` must be a string"));
                None
            }
        }
    }

    /// A string from a closed list.
    fn enumerated<T: Copy>(
        &mut self,
        t: &dyn TableLike,
        key: &str,
        names: &[(&str, T)],
    ) -> Option<T> {
        let (k, item) = t.get_key_value(key)?;
        let span = item.span().or_else(|| k.span());
        self.one_of(item.as_value(), span, key, names)
    }

    fn one_of<T: Copy>(
        &mut self,
        v: Option<&Value>,
        span: Option<Range<usize>>,
        key: &str,
        names: &[(&str, T)],
    ) -> Option<T> {
        let s = v.and_then(Value::as_str);
        if let Some(found) = s.and_then(|s| names.iter().find(|(n, _)| *n == s)) {
            return Some(found.1);
        }
        let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        let got = s.map_or_else(|| "a non-string".to_string(), |s| format!("{s:?}"));
        self.problem(
            span,
            format!("bad value {got} for `{key}`: one of {}", list.join(", ")),
        );
        None
    }

    /// An array of strings from a closed list.
    fn enumerated_list<T: Copy>(
        &mut self,
        t: &dyn TableLike,
        key: &str,
        names: &[(&str, T)],
    ) -> Option<Vec<T>> {
        let (k, item) = t.get_key_value(key)?;
        let Some(array) = item.as_array() else {
            self.problem(k.span(), format!("`{key}` must be an array"));
            return None;
        };
        let mut out = Vec::new();
        for v in array.iter() {
            out.extend(self.one_of(Some(v), v.span(), key, names));
        }
        Some(out)
    }

    fn levels(&mut self, t: &dyn TableLike, key: &str) -> Option<Vec<u8>> {
        let (k, item) = t.get_key_value(key)?;
        let Some(array) = item.as_array() else {
            self.problem(k.span(), format!("`{key}` must be an array of 0, 1, 2"));
            return None;
        };
        let mut out = Vec::new();
        for v in array.iter() {
            match v.as_integer() {
                Some(n @ 0..=MAX_OPT) => out.push(n as u8),
                _ => self.problem(
                    v.span(),
                    format!(
                        "bad optimisation level {} in `{key}`: 0, 1 or 2",
                        v.to_string().trim()
                    ),
                ),
            }
        }
        Some(out)
    }

    fn boolean(&mut self, t: &dyn TableLike, key: &str) -> Option<bool> {
        let (k, item) = t.get_key_value(key)?;
        let b = item.as_bool();
        if b.is_none() {
            self.problem(k.span(), format!("`{key}` must be true or false"));
        }
        b
    }

    /// The expectation keys of a table.
    fn patch(&mut self, t: &dyn TableLike) -> ExpectPatch {
        ExpectPatch {
            sources: self.enumerated(t, "sources", SOURCES),
            compression: self.enumerated_list(t, "compression", COMPRESSIONS),
            pycache: self.levels(t, "pycache"),
            legacy_pycs: self.boolean(t, "legacy-pycs"),
            markers: self.enumerated_list(t, "markers", MARKERS),
            optimization_levels: self.levels(t, "optimization-levels"),
        }
    }

    fn rules(&mut self, top: &Table) -> BTreeMap<String, Level> {
        let mut out = BTreeMap::new();
        let Some((k, item)) = top.get_key_value("rules") else {
            return out;
        };
        let Some(t) = item.as_table_like() else {
            self.problem(k.span(), "`rules` must be a table".into());
            return out;
        };
        for (id, v) in t.iter() {
            let kspan = t.key(id).and_then(|k| k.span());
            if rules::find(id).is_none() {
                self.problem(
                    kspan.clone(),
                    format!("unknown rule id {id:?} (pyvet audit --explain all lists them)"),
                );
            }
            let span = v.span().or(kspan);
            if let Some(level) = self.one_of(v.as_value(), span, id, LEVELS) {
                out.insert(id.to_string(), level);
            }
        }
        out
    }

    /// The tables of an array of tables `key` (`[[key]]`).
    fn tables<'d>(&mut self, top: &'d Table, key: &str) -> Vec<&'d Table> {
        let Some((k, item)) = top.get_key_value(key) else {
            return Vec::new();
        };
        match item {
            Item::ArrayOfTables(a) => a.iter().collect(),
            _ => {
                self.problem(k.span(), format!("`{key}` must be written [[{key}]]"));
                Vec::new()
            }
        }
    }

    fn expect_entries(&mut self, top: &Table, has_prefix: bool) -> Vec<ExpectEntry> {
        let mut out = Vec::new();
        for t in self.tables(top, "expect") {
            self.unknown_keys(t, &[ENTRY_KEYS, EXPECT_KEYS], "[[expect]]");
            if !has_prefix {
                self.prefix_needed(t);
            }
            let at = self.at(t.span());
            let (paths, globs) = self.globs(t, t.span());
            let reason = self.string(t, "reason", false).unwrap_or_default();
            let set = self.patch(t);
            out.push(ExpectEntry {
                paths,
                reason,
                set,
                globs,
                at,
            });
        }
        out
    }

    /// `pyc-only = [globs]`: module paths without suffix, compiled.
    fn pyc_only(&mut self, top: &Table) -> (Vec<String>, Globs) {
        let Some((k, item)) = top.get_key_value("pyc-only") else {
            return (Vec::new(), Globs::default());
        };
        let Some(array) = item.as_array() else {
            self.problem(
                k.span(),
                "`pyc-only` must be an array of module path globs".into(),
            );
            return (Vec::new(), Globs::default());
        };
        let (mut pats, mut globs) = (Vec::new(), Vec::new());
        for v in array.iter() {
            let Some(s) = v.as_str() else {
                self.problem(
                    v.span(),
                    "`pyc-only` must be an array of module path globs".into(),
                );
                continue;
            };
            if s.ends_with(".py") || s.ends_with(".pyc") {
                self.problem(
                    v.span(),
                    format!("bad module path {s:?} in `pyc-only`: no .py or .pyc suffix"),
                );
                continue;
            }
            if let Some(g) = self.glob(s, v.span()) {
                pats.push(s.to_string());
                globs.push(g);
            }
        }
        (pats, Globs::new(globs))
    }

    /// `paths = [globs]`, compiled; a bad glob is a problem.
    fn globs(&mut self, t: &Table, span: Option<Range<usize>>) -> (Vec<String>, Globs) {
        let Some((k, item)) = t.get_key_value("paths") else {
            self.problem(span, "[[expect]] without `paths`".into());
            return (Vec::new(), Globs::default());
        };
        let Some(array) = item.as_array() else {
            self.problem(k.span(), "`paths` must be an array of globs".into());
            return (Vec::new(), Globs::default());
        };
        let mut pats = Vec::new();
        let mut globs = Vec::new();
        for v in array.iter() {
            let Some(s) = v.as_str() else {
                self.problem(v.span(), "`paths` must be an array of globs".into());
                continue;
            };
            if let Some(g) = self.glob(s, v.span()) {
                pats.push(s.to_string());
                globs.push(g);
            }
        }
        (pats, Globs::new(globs))
    }

    fn glob(&mut self, s: &str, span: Option<Range<usize>>) -> Option<globset::GlobMatcher> {
        if !s.starts_with('/') {
            self.problem(
                span,
                format!("bad glob {s:?}: paths inside the root start with /"),
            );
            return None;
        }
        match Globs::compile(s) {
            Ok(g) => Some(g),
            Err(e) => {
                self.problem(span, format!("bad glob {s:?}: {}", e.kind()));
                None
            }
        }
    }

    fn accept_entries(&mut self, top: &Table) -> Vec<AcceptEntry> {
        let mut out = Vec::new();
        for t in self.tables(top, "accept") {
            self.unknown_keys(t, &[ACCEPT_KEYS], "[[accept]]");
            let at = self.at(t.span());
            let rule = self.string(t, "rule", false);
            if rule.is_none() && !t.contains_key("rule") {
                self.problem(t.span(), "[[accept]] without `rule`".into());
            }
            if let (Some(r), Some((k, _))) = (&rule, t.get_key_value("rule")) {
                if rules::find(r).is_none() {
                    self.problem(k.span(), format!("unknown rule id {r:?} in [[accept]]"));
                }
            }
            let path = self.string(t, "path", false);
            let globs = match t.get_key_value("path") {
                Some((_, item)) => path
                    .as_deref()
                    .and_then(|p| self.glob(p, item.span()))
                    .map(|g| Globs::new(vec![g])),
                None => {
                    self.problem(t.span(), "[[accept]] without `path`".into());
                    None
                }
            };
            let reason = self.string(t, "reason", false);
            if !reason.as_deref().is_some_and(|r| !r.trim().is_empty()) {
                self.problem(
                    t.span(),
                    "[[accept]] without a `reason`: say why it is accepted".into(),
                );
            }
            let required = self.boolean(t, "required").unwrap_or(false);
            if let (Some(rule), Some(path), Some(globs), Some(reason)) = (rule, path, globs, reason)
            {
                out.push(AcceptEntry {
                    rule,
                    path,
                    reason,
                    required,
                    globs,
                    at,
                });
            }
        }
        out
    }
}

const LAYOUTS: &[(&str, Layout)] = &[
    ("status-quo", Layout::StatusQuo),
    ("py-opt0", Layout::PyOpt0),
    ("option1", Layout::Option1),
    ("option2", Layout::Option2),
    ("option2-prefix", Layout::Option2Prefix),
    ("minimal", Layout::Minimal),
    ("debian", Layout::Debian),
    ("alpine", Layout::Alpine),
    ("pycache-prefix", Layout::PycachePrefix),
    ("custom", Layout::Custom),
];
const ORIGINS: &[(&str, BytecodeOrigin)] = &[
    ("packaged", BytecodeOrigin::Packaged),
    ("generated", BytecodeOrigin::Generated),
];
const SOURCES: &[(&str, Sources)] = &[
    ("py", Sources::Py),
    ("pysources", Sources::Pysources),
    ("pysource", Sources::Pysource),
    ("prefix", Sources::Prefix),
    ("none", Sources::None),
];
const COMPRESSIONS: &[(&str, Compression)] = &[
    ("none", Compression::None),
    ("gz", Compression::Gz),
    ("xz", Compression::Xz),
    ("bz2", Compression::Bz2),
];
const MARKERS: &[(&str, Marker)] = &[("dont-write-bytecode", Marker::DontWriteBytecode)];
const LEVELS: &[(&str, Level)] = &[
    ("allow", Level::Allow),
    ("info", Level::Info),
    ("warn", Level::Warn),
    ("deny", Level::Deny),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// `/etc` overrides `/usr/share`, which overrides the built-ins; a
    /// packaged copy of a built-in is the built-in; paths are never searched.
    #[test]
    fn names_are_searched_in_etc_then_share_then_built_in() {
        let etc = tempfile::tempdir().unwrap();
        let share = tempfile::tempdir().unwrap();
        let dirs = [etc.path(), share.path()];
        let own = |name: &str, desc: &str| {
            format!("name = \"{name}\"\ndescription = \"{desc}\"\n")
                + "layout = \"custom\"\nbytecode = \"packaged\"\n"
        };
        std::fs::write(share.path().join("site.toml"), own("site", "share")).unwrap();
        let p = load_searching("site", &dirs).unwrap();
        assert_eq!((p.description.as_str(), p.builtin), ("share", false));
        std::fs::write(etc.path().join("site.toml"), own("site", "etc")).unwrap();
        assert_eq!(load_searching("site", &dirs).unwrap().description, "etc");

        let generic = crate::policy::builtin_text("generic").unwrap();
        std::fs::write(share.path().join("generic.toml"), generic).unwrap();
        assert!(load_searching("generic", &dirs).unwrap().builtin);
        std::fs::write(etc.path().join("generic.toml"), own("generic", "mine")).unwrap();
        let p = load_searching("generic", &dirs).unwrap();
        assert_eq!((p.description.as_str(), p.builtin), ("mine", false));

        assert!(load_searching("debian", &dirs).unwrap().builtin);
        assert!(matches!(
            load_searching("nothing", &dirs),
            Err(PolicyError::Unknown(n)) if n == "nothing"
        ));
        // A spec with a separator or `.toml` is a path, not a name.
        assert!(!is_name("./site") && !is_name("site.toml") && !is_name(".."));
    }

    fn problems(text: &str) -> Vec<String> {
        match parse(text, Path::new("p.toml")) {
            Err(PolicyError::Invalid { problems, .. }) => problems,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_file_policy_loads() {
        let p = parse(
            "name = \"site\"\nbytecode = \"generated\"\noptimization-levels = [0, 1]\n[rules]\nmtime-mismatch = \"allow\"\n",
            Path::new("site.toml"),
        )
        .unwrap();
        assert_eq!(p.rules["mtime-mismatch"], Level::Allow);
        assert_eq!(p.defaults.optimization_levels, [0, 1]);
        assert_eq!(p.layout, Layout::Custom);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "\
name = \"x\"
bytecode = \"sometimes\"
colour = 1
sources = \"pysources\"
compression = [\"gz\", \"zip\"]
optimization-levels = [0, 3]

[[expect]]
paths = [\"/usr/lib/python3*/[oops\"]
legacy-pycs = \"yes\"

[[accept]]
rule = \"no-such-rule\"
path = \"relative/*.pyc\"

[rules]
no-such = \"deny\"
missing = \"loud\"
";
        assert_eq!(
            problems(text),
            [
                "line 2: bad value \"sometimes\" for `bytecode`: one of packaged, generated",
                "line 3: unknown key `colour` in the policy",
                "line 5: bad value \"zip\" for `compression`: one of none, gz, xz, bz2",
                "line 6: bad optimisation level 3 in `optimization-levels`: 0, 1 or 2",
                "line 9: bad glob \"/usr/lib/python3*/[oops\": unclosed character class; missing ']'",
                "line 10: `legacy-pycs` must be true or false",
                "line 12: [[accept]] without a `reason`: say why it is accepted",
                "line 13: unknown rule id \"no-such-rule\" in [[accept]]",
                "line 14: bad glob \"relative/*.pyc\": paths inside the root start with /",
                "line 17: unknown rule id \"no-such\" (pyvet audit --explain all lists them)",
                "line 18: bad value \"loud\" for `missing`: one of allow, info, warn, deny",
            ]
        );
        let e = parse(text, Path::new("p.toml")).unwrap_err().to_string();
        assert!(e.starts_with("p.toml: line 2: bad value"), "{e}");
        assert_eq!(e.lines().count(), 11);
    }

    #[test]
    fn syntax_errors_name_their_line() {
        assert_eq!(
            problems("name = \"x\"\n\nbytecode = \n"),
            ["line 3: invalid string\nexpected `\"`, `'`"]
        );
        assert_eq!(
            problems("description = \"\"\n"),
            ["line 1: missing key `name`"]
        );
    }

    /// Every key and value the loader knows is in pyvet-policy(5).
    #[test]
    fn every_key_and_value_is_documented() {
        let man =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/pyvet-policy.5"))
                .unwrap()
                .replace("\\-", "-");
        let keys = [TOP_KEYS, EXPECT_KEYS, ENTRY_KEYS, ACCEPT_KEYS].concat();
        let values: Vec<&str> = LAYOUTS
            .iter()
            .map(|v| v.0)
            .chain(ORIGINS.iter().map(|v| v.0))
            .chain(SOURCES.iter().map(|v| v.0))
            .chain(COMPRESSIONS.iter().map(|v| v.0))
            .chain(MARKERS.iter().map(|v| v.0))
            .chain(LEVELS.iter().map(|v| v.0))
            .collect();
        let missing: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| !man.contains(&format!(".BR {k} ")) && !man.contains(&format!("[[{k}]]")))
            .chain(values.into_iter().filter(|v| {
                !man.contains(&format!(".B {v}\n")) && !man.contains(&format!(".BR {v} "))
            }))
            .collect();
        assert!(
            missing.is_empty(),
            "undocumented in man/pyvet-policy.5: {missing:?}"
        );
    }

    #[test]
    fn names_and_unknowns() {
        assert_eq!(load("debian").unwrap().name, "debian");
        assert!(matches!(
            load("no-such-policy"),
            Err(PolicyError::Unknown(_))
        ));
    }
}
