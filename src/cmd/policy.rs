//! `pyvet policy check FILE...` and `pyvet policy show NAME|FILE`: policies
//! are edited by hand, so checking one gives every problem with its line
//! at once, and showing one prints what an audit will actually use.

use crate::cli::PolicyCommand;
use crate::cmd::ExitCode;
use crate::policy::{self, PolicyError};
use crate::render;

pub fn run(cmd: &PolicyCommand, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    match cmd {
        PolicyCommand::Check { files } => check(files, out),
        PolicyCommand::Show { policy } => show(policy, out),
    }
}

/// Exit 0 when every file loads, else 2 with every problem on stderr.
fn check(files: &[std::path::PathBuf], out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    let mut code = ExitCode::Clean;
    for f in files {
        // A read error names the file already.
        let loaded = crate::fsutil::read_capped(f, 1 << 20)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                String::from_utf8(b).map_err(|e| format!("{}: not UTF-8: {e}", f.display()))
            })
            .and_then(|text| policy::parse(&text, f).map_err(|e| e.to_string()));
        match loaded {
            Ok(p) => render::write_out(out, &format!("{}: ok (policy {})\n", f.display(), p.name))?,
            Err(e) => {
                for line in e.lines() {
                    eprintln!("pyvet: error: {line}");
                }
                code = ExitCode::Error;
            }
        }
    }
    Ok(code)
}

fn show(spec: &str, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    if spec == "all" {
        let list: String = policy::BUILTIN.iter().map(|n| format!("{n}\n")).collect();
        render::write_out(out, &list)?;
        return Ok(ExitCode::Clean);
    }
    let p = policy::load(spec).map_err(|e: PolicyError| crate::Error::Usage(e.to_string()))?;
    render::write_out(out, &p.to_toml())?;
    Ok(ExitCode::Clean)
}
