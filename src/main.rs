//! The `pyvet` binary: parse the command line, run, map the outcome to an
//! exit code (0 clean, 1 findings, 2 usage or input errors).

use clap::Parser;

fn main() -> std::process::ExitCode {
    pyvet::timing::phase("started");
    let cli = match pyvet::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(cli, &mut out) {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => {
            // Plain Display: pyvet's errors say their path and cause in
            // it, so the alternate form (every source appended) said each
            // cause twice.
            eprintln!("pyvet: error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(cli: pyvet::cli::Cli, out: &mut dyn std::io::Write) -> anyhow::Result<pyvet::cmd::ExitCode> {
    Ok(pyvet::cmd::run(cli, out)?)
}
