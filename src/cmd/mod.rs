//! The subcommands. Each returns an [`ExitCode`]; errors that stop the whole
//! command are returned as [`crate::Error`] and become exit code 2 in `main`.

pub mod audit;
pub mod layout;
pub mod manifest;
pub mod markers;
pub mod policy;
pub mod pyc;
pub mod size;
pub mod subset;

use crate::cli::{Cli, Command};

/// pyvet's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Nothing at or above the failing severity.
    Clean = 0,
    /// Findings at or above the failing severity.
    Findings = 1,
    /// Usage or input errors.
    Error = 2,
}

/// Runs one parsed command line, writing its report to `out`.
pub fn run(cli: Cli, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    match cli.command {
        Command::Audit(a) => audit::run(&a, out),
        Command::Manifest(a) => manifest::run(&a, out),
        Command::Pyc(a) => pyc::run(&a, out),
        Command::Subset(a) => subset::run(&a, out),
        Command::Size(a) => size::run(&a, out),
        Command::Policy(c) => policy::run(&c, out),
        Command::Markers(a) => markers::run(&a, out),
        Command::Layout(c) => layout::run(&c, out),
    }
}

/// Prints a non-fatal error the way every subcommand does.
pub(crate) fn report_error(e: &crate::Error) {
    eprintln!("pyvet: error: {e}");
}
