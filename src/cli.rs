//! The command line, as data.
//!
//! Kept in the library (not in `main.rs`) so that tests can check every flag
//! is documented in `man/pyvet.1`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Audit installed Python trees against what the package manager says should be there.
#[derive(Debug, Parser)]
#[command(name = "pyvet", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print what the package databases (and any INPUT) say is installed.
    Manifest(ManifestArgs),
    /// Judge .pyc files the way CPython's import system would.
    Pyc(PycArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DbChoice {
    /// Every database found under the root.
    Auto,
    Rpm,
    Dpkg,
    Apk,
    /// pip `*.dist-info/RECORD` files in the Python library directories.
    Pip,
    /// No installed database; only the INPUTs.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ManifestArgs {
    /// Root of the tree whose installed databases are read.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Which installed databases to read under --root.
    #[arg(long, value_enum, default_value_t = DbChoice::Auto)]
    pub db: DbChoice,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Leave out rpm's gpg-pubkey pseudo-packages.
    #[arg(long)]
    pub skip_gpg_pubkey: bool,
    /// Database files or directories, .rpm, .deb, RECORD, apk installed files,
    /// dpkg admin dirs or status files, or directory trees (detected by content).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashCheckMode {
    /// Checked-hash pycs are checked, unchecked-hash ones are not (CPython's default).
    Default,
    /// Every hash-based pyc is checked against its source.
    Always,
    /// No hash-based pyc is checked.
    Never,
}

#[derive(Debug, clap::Args)]
pub struct PycArgs {
    /// The source to judge the pyc against (default: where CPython would look).
    #[arg(long, value_name = "FILE")]
    pub source: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// CPython's --check-hash-based-pycs mode.
    #[arg(long, value_enum, default_value_t = HashCheckMode::Default)]
    pub check_hash_based_pycs: HashCheckMode,
    /// Prove the bytecode is the compilation of its source with a trusted interpreter.
    #[arg(long)]
    pub deep: bool,
    /// A trusted interpreter for --deep, as VERSION=PATH (e.g. 3.12=/usr/bin/python3.12).
    #[arg(long, value_name = "VER=PATH")]
    pub interpreter: Vec<String>,
    /// The .pyc files to judge.
    #[arg(value_name = "PYC", required = true)]
    pub pycs: Vec<PathBuf>,
}
