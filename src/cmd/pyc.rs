//! `pyvet pyc`: judge .pyc files the way CPython's import system would.

use std::path::PathBuf;

use crate::bytecode::deep::{self, Interpreters};
use crate::bytecode::judge::{judge, JudgeOptions, PycReport};
use crate::bytecode::Verdict;
use crate::cli::{Format, PycArgs};
use crate::cmd::{report_error, ExitCode};
use crate::render;

/// The environment variable CPython reads `sys.pycache_prefix` from.
const PYCACHE_PREFIX_ENV: &str = "PYTHONPYCACHEPREFIX";

pub fn run(args: &PycArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    let interpreters = if args.deep {
        Some(Interpreters::discover(&args.interpreter, None)?)
    } else {
        None
    };
    let prefix = pycache_prefix();
    let opts = JudgeOptions {
        mode: args.check_hash_based_pycs,
        source: args.source.as_deref(),
        pycache_prefix: prefix.as_deref(),
        deep: args.deep,
        header_only: false,
    };
    let mut failed = false;
    let mut reports: Vec<PycReport> = Vec::with_capacity(args.pycs.len());
    for pyc in &args.pycs {
        match judge(pyc, &opts) {
            Ok(r) => reports.push(r),
            Err(e) => {
                report_error(&e);
                failed = true;
            }
        }
    }
    if let Some(interpreters) = &interpreters {
        deep::check_all(&mut reports, interpreters);
    }
    let text = match args.format {
        Format::Json => render::pyc::json(&reports),
        Format::Text => render::pyc::text(&reports),
    };
    render::write_out(out, &text)?;
    Ok(if failed {
        ExitCode::Error
    } else if reports.iter().any(|r| r.verdict != Verdict::Valid) {
        ExitCode::Findings
    } else {
        ExitCode::Clean
    })
}

/// `sys.pycache_prefix` as CPython would set it from the environment
/// (made absolute; empty means unset).
fn pycache_prefix() -> Option<PathBuf> {
    let raw = std::env::var_os(PYCACHE_PREFIX_ENV).filter(|v| !v.is_empty())?;
    std::path::absolute(PathBuf::from(raw)).ok()
}
