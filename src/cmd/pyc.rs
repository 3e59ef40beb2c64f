//! `pyvet pyc` (STUB: to be replaced).

use crate::cli::PycArgs;
use crate::cmd::ExitCode;

pub fn run(_args: &PycArgs, _out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    Err(crate::Error::Usage(
        "pyvet pyc is not implemented yet".into(),
    ))
}
