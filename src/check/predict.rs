//! The write-attempt prediction: where CPython, importing a source a package
//! owns, would find no valid pyc and try to write one.
//!
//! Run as root, that write lands in a system tree (and SELinux denies it
//! with an AVC on distributions that label it); run as a user it fails
//! silently and costs a compile at every start. Either way the layout, not
//! an attacker, is at fault, and this check says where before it happens.
//!
//! For every owned `.py` of the Python trees (not option 2's
//! `__pysources__`), every optimisation level the policy says interpreters
//! run at there, and every interpreter importing from
//! that tree, the pyc CPython reads (`cache_from_source`) is looked up in
//! the bytecode check's judgements: missing, stale, hash-mismatched or with
//! a bad header, the import recompiles and writes. Interpreters are taken
//! to run without `PYTHONPYCACHEPREFIX` (the default): pycs under a
//! `--pycache-prefix` tree are judged, but predictions are about
//! `__pycache__`. A directory whose
//! `__pycache__/__dont_write_bytecode__` marker exists is the layout that
//! forbids writes, and is not predicted.

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use super::bytecode::{Judged, Judgements};
use crate::audit::finding::BytecodeFacts;
use crate::audit::{rules, Context, Finding, Sink};
use crate::bytecode::magic::PyVersion;
use crate::bytecode::naming::{self, PYCACHE};
use crate::bytecode::Verdict;
use crate::tree::Kind;

/// The marker that tells the layout forbids writing bytecode beside it.
pub const DONT_WRITE_MARKER: &str = "__dont_write_bytecode__";

/// Predicts write attempts from the bytecode check's judgements.
pub fn check(ctx: &Context, sink: &Sink, judged: &Judgements) {
    let owned: Vec<&Path> = ctx.owners.iter().map(|(p, _)| p).collect();
    let mut sources: Vec<&Path> = owned
        .into_par_iter()
        .filter(|p| is_owned_source(ctx, p))
        .collect();
    sources.par_sort_unstable_by(|a, b| crate::manifest::cmp_paths(a, b));
    let findings: Vec<Finding> = sources
        .par_iter()
        .flat_map_iter(|s| predict_source(ctx, judged, s))
        .collect();
    sink.extend(findings);
}

/// An owned `.py` inside a Python tree that an import can reach: a file,
/// or a link to one.
fn is_owned_source(ctx: &Context, path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py")
        // Option 2's sources are shown in tracebacks, never imported.
        && !path.parent().and_then(Path::file_name).is_some_and(|d| d == super::markers::PYSOURCES)
        && ctx
            .python_trees
            .iter()
            .any(|t| path.strip_prefix(t).is_ok_and(importable))
        && ctx.inventory.get(path).is_some_and(|m| match m.kind {
            Kind::File => true,
            // Imports follow links (Debian's sitecustomize.py is one to /etc).
            Kind::Symlink => ctx.tree.stat(path).is_ok_and(|t| t.kind == Kind::File),
            _ => false,
        })
}

/// Whether a `.py`, relative to its Python tree, has a module name: no
/// directory or stem with a dot in it (`config-3.11-x86_64-linux-gnu/
/// python-config.py` is a script no import reaches, so CPython never caches
/// it).
fn importable(rel: &Path) -> bool {
    let Some(stem) = rel.file_stem() else {
        return false;
    };
    let dirs = rel.parent().into_iter().flat_map(Path::components);
    !stem.as_bytes().contains(&b'.')
        && dirs.into_iter().all(|c| match c {
            Component::Normal(n) => !n.as_bytes().contains(&b'.'),
            _ => false,
        })
}

/// One predicted write: which interpreter, at which level, writes which
/// pyc for which source, and why.
struct Attempt<'a> {
    source: &'a Path,
    pyc: PathBuf,
    version: PyVersion,
    opt: u8,
    why: String,
    /// The judgement of the pyc there, if there is one.
    judged: Option<&'a Judged>,
}

fn predict_source(ctx: &Context, judged: &Judgements, source: &Path) -> Vec<Finding> {
    if has_marker(ctx, source) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for &opt in &ctx.policy.expect_for(source).optimization_levels {
        for version in judged.interpreters_for(source) {
            let Some(pyc) = naming::cache_path(source, version, opt, None) else {
                continue;
            };
            let there = judged.get(&pyc);
            if let Some(why) = write_reason(ctx, there, &pyc) {
                out.push(finding(
                    ctx,
                    Attempt {
                        source,
                        pyc,
                        version,
                        opt,
                        why,
                        judged: there,
                    },
                ));
            }
        }
    }
    out
}

/// Whether `dir/__pycache__/__dont_write_bytecode__` exists beside `source`.
fn has_marker(ctx: &Context, source: &Path) -> bool {
    let Some(dir) = source.parent() else {
        return false;
    };
    let marker = dir.join(PYCACHE).join(DONT_WRITE_MARKER);
    ctx.inventory.contains(&marker)
}

/// Why the import would write `pyc`, or `None` when it would use it (or
/// would not write: an unreadable pyc, something other than a file there,
/// or a pyc whose header passes but whose code fails to load — then the
/// import fails instead).
fn write_reason(ctx: &Context, judged: Option<&Judged>, pyc: &Path) -> Option<String> {
    let Some(j) = judged else {
        return match ctx.inventory.get(pyc) {
            None => Some("no pyc: CPython compiles the source and writes one".into()),
            Some(_) => None,
        };
    };
    let report = j.outcome.as_ref().ok()?;
    match j.import? {
        Verdict::Valid | Verdict::UncheckedHash => None,
        Verdict::Corrupt if report.kind.is_some() => None,
        Verdict::Stale
        | Verdict::HashMismatch
        | Verdict::Corrupt
        | Verdict::UnknownMagic
        | Verdict::Foreign => Some(format!(
            "the pyc is not valid ({}): CPython recompiles and rewrites it",
            report.reason
        )),
        Verdict::Orphan | Verdict::Sourceless | Verdict::Diverges | Verdict::Unverified => None,
    }
}

fn finding(ctx: &Context, a: Attempt) -> Finding {
    let package = ctx
        .owners
        .of(a.source)
        .first()
        .map(|o| &ctx.manifest.packages[o.package]);
    let report = a.judged.and_then(|j| j.outcome.as_ref().ok());
    let dash_o = "O".repeat(a.opt as usize);
    let flags = if a.opt == 0 {
        String::new()
    } else {
        format!(" -{dash_o}")
    };
    let mut f = Finding::new(
        rules::BYTECODE_WRITE_ATTEMPT,
        &a.pyc,
        format!(
            "Python {}{flags} importing {} would try to write this pyc: {}",
            a.version,
            a.source.display(),
            a.why
        ),
    )
    .package(ctx.package_of(a.source));
    if let Some(j) = a.judged {
        f = f.file(&j.meta, ctx.selinux(&a.pyc));
    }
    f.evidence.bytecode = Some(Box::new(BytecodeFacts {
        // What the import decides, not what --deep made of it.
        verdict: a
            .judged
            .and_then(|j| j.import)
            .map_or("missing", Verdict::as_str),
        reason: a.why,
        python: Some(a.version.to_string()),
        kind: report.and_then(|r| r.kind),
        opt_level: (a.opt != 0).then(|| a.opt.to_string()),
        source: Some(a.source.to_path_buf()),
        source_package: package.map(|p| p.name.clone()),
        co_filename: report.and_then(|r| r.co_filename.clone()),
        after_install_secs: match (a.judged, package.and_then(|p| p.install_time)) {
            (Some(j), Some(t)) => Some(j.meta.mtime - t),
            _ => None,
        },
    }));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn importable_names() {
        let i = |p: &str| importable(Path::new(p));
        assert!(i("os.py"));
        assert!(i("json/decoder.py"));
        assert!(
            i("dist-packages/six.py"),
            "a sys.path entry itself may have a dash"
        );
        assert!(!i("config-3.11-x86_64-linux-gnu/python-config.py"));
        assert!(!i("x/a.b.py"));
    }
}
