//! The audit's checks, one module per rule family. Every family has the
//! same entry point, `check(ctx, sink)`: it reads files only through
//! `ctx.tree`, and pushes findings into `sink`.

pub mod bytecode;
pub mod layout;
pub mod markers;
pub mod owned;
pub mod packed;
pub mod predict;
pub mod unowned;
pub mod zipped;

use crate::audit::rules::{self, Family};
use crate::audit::{Context, Finding, Sink};

/// A set of check families to run, and the rule families they report (an
/// acceptance of a rule no check ran is not reported gone).
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    pub run: fn(&Context, &Sink),
    pub families: &'static [Family],
}

/// `pyvet audit`: everything.
pub const AUDIT: Checks = Checks {
    run: run_all,
    families: &[
        Family::Owned,
        Family::Unowned,
        Family::Bytecode,
        Family::Prediction,
        Family::Marker,
        Family::Zipped,
        Family::Audit,
    ],
};

/// `pyvet markers`: the layout families.
pub const MARKERS: Checks = Checks {
    run: run_markers,
    families: &[Family::Marker, Family::Audit],
};

/// Runs every family. Hashing every owned file is most of an audit's
/// work: the other families run beside it, the bytecode check among them
/// (an owned pyc's header comes from hashing it, which the tree does once
/// for whichever check asks first), and the prediction after the bytecode
/// check, whose judgements it reuses.
pub fn run_all(ctx: &Context, sink: &Sink) {
    no_manifest(ctx, sink);
    no_python_tree(ctx, sink);
    rayon::join(
        || {
            owned::check(ctx, sink);
            crate::timing::phase("owned files verified");
        },
        || {
            unowned::check(ctx, sink);
            zipped::check(ctx, sink);
            packed::check(ctx, sink);
            markers::check(ctx, sink);
            layout::check(ctx, sink);
            let judged = bytecode::check(ctx, sink);
            predict::check(ctx, sink, &judged);
            crate::timing::phase("other families checked");
        },
    );
}

/// Runs the layout families only (`pyvet markers`).
pub fn run_markers(ctx: &Context, sink: &Sink) {
    no_manifest(ctx, sink);
    no_python_tree(ctx, sink);
    markers::check(ctx, sink);
    layout::check_build_tree(ctx, sink);
}

/// Says once that ownership checks are skipped: everywhere (no manifest),
/// or in each bare build tree.
fn no_manifest(ctx: &Context, sink: &Sink) {
    if ctx.manifest.packages.is_empty() {
        sink.push(Finding::new(
            rules::NO_MANIFEST,
            "/",
            "no package database found: ownership checks skipped, everything else checked",
        ));
        return;
    }
    for t in &ctx.bare_trees {
        sink.push(Finding::new(
            rules::NO_MANIFEST,
            t,
            "no manifest owns a file in this tree (a bare build tree): \
             ownership checks skipped here, everything else checked",
        ));
    }
}

/// Says that nothing was audited: no Python tree (nor default-path zip).
fn no_python_tree(ctx: &Context, sink: &Sink) {
    if ctx.audits_nothing() {
        sink.push(Finding::new(
            rules::NO_PYTHON_TREE,
            "/",
            format!("nothing audited: {}", crate::audit::walk::looked_for()),
        ));
    }
}
