//! The audit's checks, one module per rule family. Every family has the
//! same entry point, `check(ctx, sink)`: it reads files only through
//! `ctx.tree`, and pushes findings into `sink`.

pub mod bytecode;
pub mod owned;
pub mod predict;
pub mod unowned;

use crate::audit::{rules, Context, Finding, Sink};

/// Runs every family.
pub fn run_all(ctx: &Context, sink: &Sink) {
    if ctx.manifest.packages.is_empty() {
        sink.push(Finding::new(
            rules::NO_MANIFEST,
            "/",
            "no package database found: ownership checks skipped, everything else checked",
        ));
    }
    owned::check(ctx, sink);
    unowned::check(ctx, sink);
    // The prediction reuses the bytecode check's judgements.
    let judged = bytecode::check(ctx, sink);
    predict::check(ctx, sink, &judged);
}
