//! The bytecode check: every `.pyc` in the audited trees is judged once, the
//! way CPython's import system would ([`crate::bytecode::judge`]), through
//! the tree.
//!
//! A pyc a package installed is verified by its digest (the owned check);
//! here only what the package data cannot see is reported for it: with
//! `--deep`, code that is not the compilation of its source. A pyc nothing
//! owns is reported by what the import system would do with it: import it
//! as is (sourceless), ignore it (orphan, shadowed, stale, foreign, corrupt),
//! use it unchecked, or use it — and then who wrote it matters (root, a
//! user, or the distribution's own install-time compilation on Debian).
//!
//! The judgements are returned, so that the write-attempt prediction
//! ([`super::predict`]) reuses them instead of judging every pyc twice.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::audit::finding::BytecodeFacts;
use crate::audit::rules::{self, Rule};
use crate::audit::walk::{is_python_dir, python_tree_of};
use crate::audit::{Context, Finding, Sink};
use crate::bytecode::deep::{self, Interpreters};
use crate::bytecode::judge::{judge_in, JudgeOptions, PycReport};
use crate::bytecode::magic::PyVersion;
use crate::bytecode::naming::{self, PycLocation};
use crate::bytecode::Verdict;
use crate::manifest::Backend;
use crate::tree::{Kind, Meta, Tree};

/// Prefixes whose `lib*/python3.X` directories are installed interpreters.
const INTERPRETER_PREFIXES: [&str; 2] = ["/usr", "/usr/local"];
/// Library directory names under them.
const LIB_DIRS: [&str; 2] = ["lib", "lib64"];
/// The file that makes a `python3.X` directory a standard library.
const STDLIB_MARKER: &str = "os.py";

/// One pyc as judged.
#[derive(Debug)]
pub struct Judged {
    pub path: PathBuf,
    pub meta: Meta,
    /// The judgement, or why the pyc could not be judged.
    pub outcome: Result<PycReport, String>,
    /// What the import system decides, before `--deep` refines the verdict.
    pub import: Option<Verdict>,
}

/// Every pyc of the audit, judged once, by path.
#[derive(Debug, Default)]
pub struct Judgements {
    items: Vec<Judged>,
    index: HashMap<PathBuf, usize>,
    /// The interpreters installed in the root (a `lib*/python3.X` with `os.py`).
    pub root_interpreters: Vec<PyVersion>,
}

impl Judgements {
    /// The judgement of a pyc, when one was made.
    pub fn get(&self, path: &Path) -> Option<&Judged> {
        self.index.get(path).map(|&i| &self.items[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Judged> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The interpreters that import from the Python tree holding `path`: the
    /// tree's own `python3.X`, or for a version-less tree
    /// (`/usr/lib/python3/dist-packages`) every interpreter of the root.
    pub fn interpreters_for(&self, path: &Path) -> Vec<PyVersion> {
        let own = python_tree_of(path)
            .and_then(|t| t.file_name().and_then(OsStr::to_str).map(str::to_string))
            .and_then(|n| PyVersion::parse(n.strip_prefix("python")?));
        match own {
            Some(v) => vec![v],
            None => self.root_interpreters.clone(),
        }
    }
}

/// Whether the bytecode check judges this inventory entry: a `*.pyc` that
/// is a regular file, or a symlink to one inside the root (the import
/// system follows links). CPython 3 never reads `.pyo`.
pub fn is_judged(tree: &dyn Tree, path: &Path, meta: &Meta) -> bool {
    let named = path
        .file_name()
        .is_some_and(|n| n.as_bytes().ends_with(naming::BYTECODE_SUFFIX.as_bytes()));
    named
        && match meta.kind {
            Kind::File => true,
            Kind::Symlink => tree.stat(path).is_ok_and(|m| m.kind == Kind::File),
            _ => false,
        }
}

/// Judges every pyc of the inventory (in parallel), deep-checks those whose
/// code would run when `--deep` was asked for, and reports.
pub fn check(ctx: &Context, sink: &Sink) -> Judgements {
    let mut judged = judge_all(ctx, sink);
    if ctx.options.deep {
        deep_check(ctx, sink, &mut judged);
    }
    let findings: Vec<Finding> = judged
        .items
        .par_iter()
        .flat_map_iter(|j| findings_for(ctx, &judged, j))
        .collect();
    sink.extend(findings);
    judged
}

/// Judges every pyc of the inventory once.
pub fn judge_all(ctx: &Context, sink: &Sink) -> Judgements {
    let items: Vec<Judged> = ctx
        .inventory
        .entries
        .par_iter()
        .filter(|(p, m)| is_judged(ctx.tree, p, m))
        .map(|(p, m)| {
            sink.counters.add_pyc();
            judge_one(ctx, p, m)
        })
        .collect();
    let index = items
        .iter()
        .enumerate()
        .map(|(i, j)| (j.path.clone(), i))
        .collect();
    Judgements {
        items,
        index,
        root_interpreters: root_interpreters(ctx.tree),
    }
}

fn judge_one(ctx: &Context, path: &Path, meta: &Meta) -> Judged {
    let prefix = ctx
        .options
        .pycache_prefixes
        .iter()
        .find(|p| path.starts_with(p));
    let opts = JudgeOptions {
        mode: ctx.options.hash_mode,
        source: None,
        pycache_prefix: prefix.map(PathBuf::as_path),
        deep: ctx.options.deep,
        // A pyc a package owns is verified by its digest; the write
        // prediction needs only its header against the source.
        header_only: ctx.owners.is_owned(path),
    };
    let outcome = judge_in(ctx.tree, path, &opts).map_err(|e| e.to_string());
    Judged {
        path: path.to_path_buf(),
        meta: *meta,
        import: outcome.as_ref().ok().map(|r| r.verdict),
        outcome,
    }
}

/// Versions of the `lib*/python3.X` directories holding `os.py` under
/// `/usr` and `/usr/local`.
pub fn root_interpreters(tree: &dyn Tree) -> Vec<PyVersion> {
    let mut out = Vec::new();
    for prefix in INTERPRETER_PREFIXES {
        for lib in LIB_DIRS {
            let dir = Path::new(prefix).join(lib);
            let Ok(entries) = tree.read_dir(&dir) else {
                continue;
            };
            for e in entries.iter().filter(|e| is_python_dir(&e.name)) {
                let has_os = tree
                    .stat(&dir.join(&e.name).join(STDLIB_MARKER))
                    .is_ok_and(|m| m.kind == Kind::File);
                let version = e
                    .name
                    .to_str()
                    .and_then(|n| PyVersion::parse(n.strip_prefix("python")?));
                if let (true, Some(v)) = (has_os, version) {
                    out.push(v);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Runs `--deep` over every pyc whose code would run, owned or not.
fn deep_check(ctx: &Context, sink: &Sink, judged: &mut Judgements) {
    let interpreters = match &ctx.interpreters {
        Some(i) => i.clone(),
        None => match Interpreters::discover(&ctx.options.interpreters, None) {
            Ok(i) => i,
            Err(e) => return sink.error(e),
        },
    };
    let runs = |j: &Judged| j.import.is_some_and(Verdict::code_would_run);
    let mut batch: Vec<PycReport> = Vec::new();
    let mut slots = Vec::new();
    for (i, j) in judged.items.iter_mut().enumerate() {
        if runs(j) {
            if let Ok(r) = std::mem::replace(&mut j.outcome, Err(String::new())) {
                batch.push(r);
                slots.push(i);
            }
        }
    }
    deep::check_all(&mut batch, &interpreters);
    for (mut r, i) in batch.into_iter().zip(slots) {
        r.deep = None;
        judged.items[i].outcome = Ok(r);
    }
}

/// What decides the rule of an unowned pyc, gathered from its judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Traits {
    /// What the import system decides.
    verdict: Verdict,
    /// A legacy `X.pyc` beside an existing `X.py`.
    beside_source: bool,
    /// `co_filename` names another file than the source.
    misplaced: bool,
    /// A package owns the source.
    source_owned: bool,
    /// Opt-0, the interpreter's own tag, a source of the distribution's, and
    /// the policy generates bytecode.
    generated: bool,
    uid: u32,
}

/// The rule for an unowned pyc (`None`: nothing to report).
fn rule_for(t: Traits) -> Option<&'static Rule> {
    Some(match t.verdict {
        Verdict::Sourceless => rules::SOURCELESS_BYTECODE,
        Verdict::Orphan if t.beside_source => rules::SHADOWED_BYTECODE,
        Verdict::Orphan => rules::ORPHAN_BYTECODE,
        Verdict::Stale => rules::STALE_BYTECODE,
        Verdict::HashMismatch => rules::HASH_MISMATCH_BYTECODE,
        Verdict::UncheckedHash => rules::UNCHECKED_HASH_BYTECODE,
        Verdict::Foreign => rules::FOREIGN_BYTECODE,
        Verdict::Corrupt | Verdict::UnknownMagic => rules::CORRUPT_BYTECODE,
        Verdict::Valid if t.misplaced => rules::MISPLACED_BYTECODE,
        // The unowned source is reported itself (unowned-module).
        Verdict::Valid if !t.source_owned => return None,
        // py3compile runs from maintainer scripts, as root.
        Verdict::Valid if t.generated && t.uid == 0 => rules::GENERATED_BYTECODE,
        Verdict::Valid if t.uid == 0 => rules::ROOT_WRITTEN_BYTECODE,
        Verdict::Valid => rules::USER_WRITTEN_BYTECODE,
        Verdict::Diverges | Verdict::Unverified => return None,
    })
}

/// The rule `--deep` adds, for any pyc whose code would run.
fn deep_rule(r: &PycReport) -> Option<&'static Rule> {
    match r.verdict {
        Verdict::Diverges => Some(rules::DIVERGING_BYTECODE),
        Verdict::Unverified => Some(rules::UNVERIFIED_BYTECODE),
        _ => None,
    }
}

fn findings_for(ctx: &Context, judged: &Judgements, j: &Judged) -> Vec<Finding> {
    let owned = ctx.owners.is_owned(&j.path);
    let report = match &j.outcome {
        Ok(r) => r,
        Err(_) if owned => return Vec::new(),
        Err(why) => {
            return vec![Finding::new(rules::UNREADABLE, &j.path, why.clone())
                .file(&j.meta, ctx.selinux(&j.path))]
        }
    };
    let mut out = Vec::new();
    if let (false, Some(import)) = (owned, j.import) {
        let stray = stray_tag(judged, j, &locate(ctx, &j.path));
        match (import, stray) {
            (
                Verdict::Valid | Verdict::Stale | Verdict::HashMismatch | Verdict::UncheckedHash,
                Some(why),
            ) => out.push(finding(ctx, j, report, rules::FOREIGN_BYTECODE, Some(why))),
            _ => out.extend(
                rule_for(traits(ctx, judged, j, report, import))
                    .filter(|&rule| !layout_expects(ctx, &j.path, rule))
                    .map(|rule| finding(ctx, j, report, rule, None)),
            ),
        }
    }
    out.extend(deep_rule(report).map(|rule| finding(ctx, j, report, rule, None)));
    out
}

/// Whether a bare build tree (nothing is owned yet) has a sourceless pyc
/// where the policy's layout ships them (minimal, option 2).
fn layout_expects(ctx: &Context, pyc: &Path, rule: &Rule) -> bool {
    rule == rules::SOURCELESS_BYTECODE && ctx.is_bare(pyc) && ctx.policy.expect_for(pyc).legacy_pycs
}

/// Why a cache pyc of a version-less tree (`/usr/lib/python3/dist-packages`)
/// is no installed interpreter's: its tag names a CPython the root does not
/// have (a leftover of a removed python3.X, or a copy from elsewhere).
fn stray_tag(judged: &Judgements, j: &Judged, location: &PycLocation) -> Option<String> {
    let PycLocation::Cache {
        version: Some(t),
        tag,
        ..
    } = location
    else {
        return None;
    };
    let ours = judged.interpreters_for(&j.path);
    if ours.is_empty() || ours.contains(t) {
        return None;
    }
    let ours: Vec<String> = ours.iter().map(ToString::to_string).collect();
    Some(format!(
        "cache tag {tag} is Python {t}'s, and the root's interpreters are {}: none reads it",
        ours.join(", ")
    ))
}

fn traits(ctx: &Context, judged: &Judgements, j: &Judged, r: &PycReport, v: Verdict) -> Traits {
    let location = locate(ctx, &j.path);
    let source = location.source();
    let own_tag = match &location {
        PycLocation::Cache {
            version: Some(t),
            opt: None,
            ..
        } => judged.interpreters_for(&j.path).contains(t),
        _ => false,
    };
    Traits {
        verdict: v,
        beside_source: matches!(location, PycLocation::Legacy { .. }) && r.source_exists,
        misplaced: source.is_some_and(|s| misplaced(ctx.tree, s, r.co_filename_bytes.as_deref())),
        source_owned: source.is_some_and(|s| ctx.owners.is_owned(s)),
        generated: own_tag
            && ctx.policy.generates_bytecode()
            && source.is_some_and(|s| owned_by_distribution(ctx, s)),
        uid: j.meta.uid,
    }
}

/// Whether a package database (not a pip `RECORD`) owns `source`: the
/// distribution's install-time compilation covers only its own packages.
fn owned_by_distribution(ctx: &Context, source: &Path) -> bool {
    ctx.owners
        .of(source)
        .iter()
        .any(|o| ctx.manifest.packages[o.package].source.backend != Backend::PipRecord)
}

fn locate(ctx: &Context, pyc: &Path) -> PycLocation {
    let prefix = ctx
        .options
        .pycache_prefixes
        .iter()
        .find(|p| pyc.starts_with(p));
    naming::locate(pyc, prefix.map(PathBuf::as_path))
}

/// Whether `co_filename` names another file than `source`, both taken as
/// paths inside the root. Names the same file: a spelling through a
/// symlinked directory (`/usr/lib64` for `/usr/lib`); the root's own host
/// location before the path (a host Python importing from a mounted root
/// records `/mnt/root/usr/lib/...`); a relative name the source path ends
/// with, compiled in place from a parent directory (`cd /usr/lib/x &&
/// python -m compileall lib/...`, as some postinst scripts do).
fn misplaced(tree: &dyn Tree, source: &Path, co_filename: Option<&[u8]>) -> bool {
    let Some(name) = co_filename else {
        return false;
    };
    let named = Path::new(OsStr::from_bytes(name));
    if named == source {
        return false;
    }
    if !named.is_absolute() {
        return !source.ends_with(named);
    }
    let named = inside_root(tree, named);
    match (tree.resolve(&named), tree.resolve(source)) {
        (Ok(a), Ok(b)) => a != b,
        _ => true,
    }
}

/// A host path under the tree's root directory, as a path inside the tree;
/// other paths as they are.
fn inside_root(tree: &dyn Tree, host: &Path) -> PathBuf {
    let label = tree.label();
    let root = Path::new(&label);
    match host.strip_prefix(root) {
        Ok(rest) if root.is_absolute() && root != Path::new("/") => Path::new("/").join(rest),
        _ => host.to_path_buf(),
    }
}

/// A finding of `rule` about `j`; `stray` says why no installed
/// interpreter reads it, when the tree's interpreters decide that.
fn finding(
    ctx: &Context,
    j: &Judged,
    r: &PycReport,
    rule: &'static Rule,
    stray: Option<String>,
) -> Finding {
    let mut facts = facts(ctx, j, r);
    // A rule about the import's verdict shows it, not what --deep made of it.
    if deep_rule(r) != Some(rule) {
        facts.verdict = j.import.unwrap_or(r.verdict).as_str();
    }
    if let Some(why) = stray {
        facts.verdict = Verdict::Foreign.as_str();
        facts.reason = why;
    }
    let mut f = Finding::new(rule, &j.path, format!("{}: {}", rule.summary, facts.reason))
        .package(ctx.package_of(&j.path))
        .file(&j.meta, ctx.selinux(&j.path));
    f.evidence.bytecode = Some(Box::new(facts));
    // What the judgement could not look at (a pyc over the read cap is
    // judged by its header alone) is part of the evidence.
    if !r.warnings.is_empty() {
        f.evidence.extra.insert("note", r.warnings.join("; "));
    }
    f
}

/// The evidence: the judgement, and when the pyc was written relative to
/// the install of its source's package.
fn facts(ctx: &Context, j: &Judged, r: &PycReport) -> BytecodeFacts {
    let source = locate(ctx, &j.path).source().map(Path::to_path_buf);
    let package = source
        .as_deref()
        .and_then(|s| ctx.owners.of(s).first())
        .map(|o| &ctx.manifest.packages[o.package]);
    BytecodeFacts {
        verdict: r.verdict.as_str(),
        reason: r.reason.clone(),
        python: r.python.clone(),
        kind: r.kind,
        opt_level: r.opt_level.clone(),
        source,
        source_package: package.map(|p| p.name.clone()),
        co_filename: r.co_filename.clone(),
        after_install_secs: package
            .and_then(|p| p.install_time)
            .map(|t| j.meta.mtime - t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(verdict: Verdict) -> Traits {
        Traits {
            verdict,
            beside_source: false,
            misplaced: false,
            source_owned: true,
            generated: false,
            uid: 0,
        }
    }

    #[test]
    fn rules_by_verdict() {
        let id = |t: Traits| rule_for(t).map(|r| r.id);
        assert_eq!(id(t(Verdict::Sourceless)), Some("sourceless-bytecode"));
        assert_eq!(id(t(Verdict::Orphan)), Some("orphan-bytecode"));
        let shadowed = Traits {
            beside_source: true,
            ..t(Verdict::Orphan)
        };
        assert_eq!(id(shadowed), Some("shadowed-bytecode"));
        assert_eq!(id(t(Verdict::Stale)), Some("stale-bytecode"));
        assert_eq!(id(t(Verdict::HashMismatch)), Some("hash-mismatch-bytecode"));
        assert_eq!(
            id(t(Verdict::UncheckedHash)),
            Some("unchecked-hash-bytecode")
        );
        assert_eq!(id(t(Verdict::Foreign)), Some("foreign-bytecode"));
        assert_eq!(id(t(Verdict::UnknownMagic)), Some("corrupt-bytecode"));
        assert_eq!(id(t(Verdict::Corrupt)), Some("corrupt-bytecode"));
    }

    #[test]
    fn valid_pycs_by_who_wrote_them() {
        let id = |t: Traits| rule_for(t).map(|r| r.id);
        let valid = t(Verdict::Valid);
        assert_eq!(id(valid), Some("root-written-bytecode"));
        assert_eq!(
            id(Traits { uid: 1000, ..valid }),
            Some("user-written-bytecode")
        );
        let generated = Traits {
            generated: true,
            ..valid
        };
        assert_eq!(id(generated), Some("generated-bytecode"));
        assert_eq!(
            id(Traits {
                uid: 1000,
                ..generated
            }),
            Some("user-written-bytecode"),
            "the distribution's tooling runs as root"
        );
        // Compiled elsewhere beats every other reading of a valid pyc.
        let moved = Traits {
            misplaced: true,
            ..generated
        };
        assert_eq!(id(moved), Some("misplaced-bytecode"));
        // A valid cache of an unowned source: the source is the finding.
        let unowned = Traits {
            source_owned: false,
            ..valid
        };
        assert_eq!(id(unowned), None);
    }

    #[test]
    fn misplaced_compares_paths_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/lib64/python3.11")).unwrap();
        std::fs::write(r.join("usr/lib64/python3.11/m.py"), "").unwrap();
        std::os::unix::fs::symlink("lib64", r.join("usr/lib")).unwrap();
        let tree = crate::tree::FsTree::new(r);
        let src = Path::new("/usr/lib64/python3.11/m.py");
        let m = |name: &str| misplaced(&tree, src, Some(name.as_bytes()));
        assert!(!m("/usr/lib64/python3.11/m.py"));
        assert!(!m("/usr/lib/python3.11/m.py"), "same file through a link");
        assert!(m("/usr/lib/python3.11/n.py"));
        assert!(m("/tmp/build/m.py"));
        assert!(!m("python3.11/m.py"), "compiled in place from /usr/lib64");
        assert!(m("build/python3.11/m.py"));
        assert!(m("n.py"));
        // Compiled by a host Python importing from the root: the root's
        // host location, then the path inside it.
        assert!(!m(&r.join("usr/lib/python3.11/m.py").to_string_lossy()));
        assert!(m(&r.join("usr/lib/python3.11/n.py").to_string_lossy()));
        assert!(!misplaced(&tree, src, None));
    }

    #[test]
    fn root_interpreters_are_stdlib_dirs() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for (dir, os) in [
            ("usr/lib/python3.11", true),
            ("usr/lib/python3.12", false),
            ("usr/local/lib/python3.13", true),
            ("usr/lib/python3", true),
        ] {
            std::fs::create_dir_all(r.join(dir)).unwrap();
            if os {
                std::fs::write(r.join(dir).join("os.py"), "").unwrap();
            }
        }
        let tree = crate::tree::FsTree::new(r);
        let found = root_interpreters(&tree);
        assert_eq!(found, [PyVersion::new(3, 11), PyVersion::new(3, 13)]);
        let j = Judgements {
            root_interpreters: found,
            ..Judgements::default()
        };
        assert_eq!(
            j.interpreters_for(Path::new("/usr/lib/python3/dist-packages/six.py")),
            [PyVersion::new(3, 11), PyVersion::new(3, 13)]
        );
        assert_eq!(
            j.interpreters_for(Path::new("/usr/lib64/python3.12/site-packages/x.py")),
            [PyVersion::new(3, 12)]
        );
    }
}
