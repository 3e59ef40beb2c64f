//! The layout: packaged files against what the policy expects at their path.
//!
//! A status-quo tree that ships an `X.pyc` without `X.py` is broken, a
//! minimal tree that ships anything else is; which one the audit is looking
//! at is the policy's to say ([`crate::policy::Expect`], per path glob).
//! Only packaged files are judged here (unowned files are the other checks'
//! business), except by `pyvet markers` on a bare build tree (no manifest,
//! or nothing owned in it: [`Context::is_bare`]), where every file is taken
//! as what the package will ship. Also here: the policy's `[[expect]]`
//! entries that matched no path (`policy-unmatched`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rayon::prelude::*;

use super::markers::{PYSOURCE, PYSOURCES};
use crate::audit::{rules, Context, Finding, Sink};
use crate::bytecode::naming::{self, PycLocation, BYTECODE_SUFFIX, PYCACHE, SOURCE_SUFFIX};
use crate::policy::{Expect, Sources};
use crate::tree::{Kind, Meta};

/// Judges every packaged source and pyc, then reports unmatched entries.
pub fn check(ctx: &Context, sink: &Sink) {
    judge_all(ctx, sink, false);
}

/// [`check`] for `pyvet markers`, which runs without the bytecode and
/// unowned checks: on a bare build tree (nothing owned) every file is taken
/// as what the packages will ship. (In the whole audit those checks already
/// report every file of a bare tree.)
pub fn check_build_tree(ctx: &Context, sink: &Sink) {
    judge_all(ctx, sink, true);
}

fn judge_all(ctx: &Context, sink: &Sink, build_tree: bool) {
    let findings: Vec<Finding> = ctx
        .inventory
        .entries
        .par_iter()
        .filter(|(p, m)| {
            m.kind == Kind::File && ((build_tree && ctx.is_bare(p)) || ctx.owners.is_owned(p))
        })
        .filter(|(p, _)| !p.components().any(|c| c.as_os_str() == PYSOURCES))
        // The pysource prefix tree holds sources for tracebacks, not imports.
        .filter(|(p, _)| !ctx.pysource_prefix().is_some_and(|x| p.starts_with(x)))
        .filter_map(|(p, m)| judge(ctx, p, m))
        .collect();
    sink.extend(findings);
    sink.extend(unmatched(ctx));
}

fn judge(ctx: &Context, path: &Path, meta: &Meta) -> Option<Finding> {
    let name = path.file_name()?.as_bytes();
    let e = ctx.policy.expect_for(path);
    let why = if name.ends_with(SOURCE_SUFFIX.as_bytes()) {
        source_problem(ctx, path, &e)?
    } else if name.ends_with(BYTECODE_SUFFIX.as_bytes()) {
        pyc_problem(ctx, path, &e)?
    } else {
        return None;
    };
    Some(
        Finding::new(
            rules::LAYOUT_UNEXPECTED,
            path,
            format!("policy {}: {why}", ctx.policy.name),
        )
        .package(ctx.package_of(path))
        .file(meta, ctx.selinux(path)),
    )
}

/// A plain source where the layout has none. One beside its `X.pyc` under
/// option 2 is the marker check's `marker-source-shadowed`.
fn source_problem(ctx: &Context, path: &Path, e: &Expect) -> Option<String> {
    match e.sources {
        Sources::Py => None,
        Sources::None => Some("the layout ships no sources here".into()),
        Sources::Pysources | Sources::Pysource => {
            let pyc = path.with_extension("pyc");
            let beside = path.parent().is_some_and(|d| {
                ctx.inventory.contains(&d.join(PYSOURCES))
                    || ctx.inventory.contains(&d.join(PYSOURCE))
            });
            (!(beside && ctx.inventory.contains(&pyc))).then(|| {
                "the layout keeps sources in __pysources__ (or where __pysource__ says), not beside the bytecode".into()
            })
        }
        Sources::Prefix => {
            // Beside its pyc, with the prefix tree there, it is `marker-source-shadowed`.
            let pyc = path.with_extension("pyc");
            let mirrored = ctx
                .pysource_prefix()
                .zip(path.parent())
                .is_some_and(|(x, d)| {
                    ctx.tree
                        .stat(&naming::mirrored(x, d))
                        .is_ok_and(|m| m.kind == Kind::Dir)
                });
            (!(mirrored && ctx.inventory.contains(&pyc))).then(|| {
                let at = ctx.pysource_prefix().map_or_else(
                    || "no pysource prefix is set".to_string(),
                    |x| format!("at its mirrored path under {}", x.display()),
                );
                format!("the layout keeps sources in the pysource prefix tree ({at}), not beside the bytecode")
            })
        }
    }
}

fn pyc_problem(ctx: &Context, path: &Path, e: &Expect) -> Option<String> {
    let prefix = ctx
        .options
        .pycache_prefixes
        .iter()
        .find(|p| path.starts_with(p));
    match naming::locate(path, prefix.map(|p| p.as_path())) {
        PycLocation::Cache { opt, prefixed: false, .. } => {
            let levels = e.pycache.as_ref()?;
            let level: u8 = opt.as_deref().map_or(Some(0), |o| o.parse().ok())?;
            (!levels.contains(&level)).then(|| match levels.is_empty() {
                true => "the layout ships no __pycache__ bytecode here".to_string(),
                false => format!("the layout ships __pycache__ pycs at optimisation levels {levels:?} only, this is opt-{level}"),
            })
        }
        PycLocation::Legacy { .. } if path.parent().and_then(Path::file_name) != Some(OsStr::new(PYCACHE)) => {
            (!e.legacy_pycs).then(|| {
                "a legacy-location pyc: the layout ships bytecode in __pycache__ beside each source".into()
            })
        }
        _ => None,
    }
}

/// `[[expect]]` entries of a policy file whose globs matched no path.
fn unmatched(ctx: &Context) -> Vec<Finding> {
    if ctx.policy.builtin {
        return Vec::new();
    }
    ctx.policy
        .overrides
        .iter()
        .filter(|o| {
            !ctx.inventory
                .entries
                .iter()
                .any(|(p, _)| o.globs.is_match(p))
        })
        .map(|o| {
            Finding::new(
                rules::POLICY_UNMATCHED,
                o.paths.first().map_or("/", String::as_str),
                format!(
                    "policy {}: [[expect]] paths {:?} matched no path of the audited trees",
                    o.at, o.paths
                ),
            )
        })
        .collect()
}
