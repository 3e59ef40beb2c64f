//! The command line, as data.
//!
//! Kept in the library (not in `main.rs`) so that the man pages and shell
//! completions are generated from it (`cargo run --example gen-docs`) and
//! tests can check the committed ones have not drifted.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Audit installed Python trees against what the package manager says should be there.
#[derive(Debug, Parser)]
#[command(
    name = "pyvet",
    version,
    long_version = long_version(),
    about,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `pyvet --version` prints: the version, then the CPython versions
/// whose bytecode pyvet knows (from the magic-number table).
pub fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let versions: Vec<String> = crate::bytecode::magic::known_versions()
            .map(|v| v.to_string())
            .collect();
        format!(
            "{}\nsupported CPython versions: {}",
            env!("CARGO_PKG_VERSION"),
            versions.join(" ")
        )
    })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit Python trees against their package manifests (this host by default).
    ///
    /// Audits the Python trees under the root against what the package managers
    /// say should be there, with the rules listed under RULES in pyvet(1); see
    /// AUDIT there.
    Audit(AuditArgs),
    /// Print what the package databases (and any INPUT) say is installed.
    ///
    /// Prints what the installed package databases under the root, and each
    /// INPUT, say is installed. An INPUT is recognised by content: an rpmdb
    /// (SQLite, BerkeleyDB or NDB) file or directory, a single RPM header, a .rpm
    /// or .deb file, a dpkg admin directory or status file (including distroless
    /// status.d), an apk installed database, a pip RECORD file, or any other
    /// directory, which is walked and hashed as if it were /.
    Manifest(ManifestArgs),
    /// Judge .pyc files the way CPython's import system would.
    ///
    /// Reports, for each PYC, its Python version, magic number, invalidation
    /// mode, header fields, expected source, code-object filename, docstring
    /// presence and a verdict: valid, stale, hash-mismatch, unchecked-hash,
    /// orphan, sourceless, foreign, unknown-magic, corrupt, and with --deep also
    /// diverges and unverified.
    Pyc(PycArgs),
    /// Prove that a minimal layout is a file-wise subset of a fuller one.
    ///
    /// Proves that installing the minimal side's packages yields a file-wise
    /// subset of installing the full side's; see SUBSET in pyvet(1).
    Subset(SubsetArgs),
    /// Size and file count of every layout, from a status-quo tree.
    ///
    /// Prints the bytes, 4 KiB blocks and files of every layout (status quo,
    /// py-opt0, option 1, option 1 with its pycs, option 2, minimal) computed
    /// from a status-quo tree; see SIZE in pyvet(1).
    Size(SizeArgs),
    /// Validate a policy file, or print the effective policy.
    ///
    /// A policy NAME is looked up as /etc/pyvet/policies/NAME.toml, then
    /// /usr/share/pyvet/policies/NAME.toml, then among the built-ins; see
    /// pyvet-policy(5).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Check the layout markers and what the policy's layout expects.
    ///
    /// Runs only the layout checks of audit: the markers
    /// (__pycache__/__dont_write_bytecode__, __pysources__/, __pysource__) and
    /// what the policy's layout expects of each packaged file (rules marker-* and
    /// layout-unexpected). Each PATH is a tree inside --root, checked in place of
    /// the discovered ones (default: the trees audit discovers, every
    /// /usr/lib*/python3.X, /usr/local/lib*/python3.X and the trees the databases
    /// install into). Meant for a build root in CI: without a package database, or
    /// in a PATH tree no database owns a file of (a bare build tree), the ownership
    /// parts are skipped, said once as no-manifest. The report is the audit's
    /// (pyvet-audit/1 JSON, SARIF, text) and so are the exit status and
    /// --fail-on.
    Markers(MarkersArgs),
    /// Make a layout in a build root (this command writes to BUILDROOT).
    #[command(subcommand)]
    Layout(LayoutCommand),
}

#[derive(Debug, Subcommand)]
pub enum LayoutCommand {
    /// Turn a status-quo build tree into a layout, then check its markers.
    Apply(LayoutApplyArgs),
}

#[derive(Debug, clap::Args)]
pub struct LayoutApplyArgs {
    /// The layout to make (with the matching shipped Fedora policy).
    #[arg(
        long,
        value_enum,
        value_name = "NAME",
        required_unless_present = "policy",
        conflicts_with = "policy"
    )]
    pub layout: Option<LayoutName>,
    /// A policy naming the layout: a built-in name or a TOML file.
    #[arg(long, value_name = "NAME|FILE")]
    pub policy: Option<String>,
    /// Write rpm `%files -f` and debhelper `.install` lists of the subpackages into DIR.
    #[arg(long, value_name = "DIR")]
    pub split: Option<PathBuf>,
    /// The build root (written to).
    #[arg(value_name = "BUILDROOT")]
    pub buildroot: PathBuf,
    /// Trees to convert, as paths inside BUILDROOT (default: every usr/lib*/python3*).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// The layouts of [`crate::layout::LAYOUTS`], by the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutName {
    /// Sources and `__pycache__` pycs at opt 0, 1 and 2 (changes nothing).
    StatusQuo,
    /// Sources and opt-0 `__pycache__` pycs.
    PyOpt0,
    /// Sources and a `__pycache__/__dont_write_bytecode__` marker beside each: no pyc.
    Option1,
    /// Option 1 with its pycs: sources, markers and the pycs at opt 0, 1 and 2.
    Option1Full,
    /// Legacy-location opt-0 pycs, sources compressed in `__pysources__`.
    Option2,
    /// Legacy-location opt-0 pycs, sources at their mirrored paths under the policy's
    /// pysource prefix (`/usr/share/python3-sources`).
    Option2Prefix,
    /// Legacy-location opt-0 pycs only.
    Minimal,
}

impl LayoutName {
    /// The shipped policy describing the layout.
    pub fn policy(self) -> &'static str {
        let name = self.to_possible_value();
        name.and_then(|n| crate::layout::policy_of(n.get_name()))
            .unwrap_or("fedora")
    }
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Load FILE strictly and report every problem with its line (exit 0 valid, 2 not).
    ///
    /// Loads each policy FILE strictly and prints "FILE: ok (policy NAME)" for a
    /// good one; for a bad one, prints every problem (unknown key, bad value, bad
    /// glob, unknown rule id) with its line on standard error, and exits 2.
    Check {
        /// The policy files.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the effective policy as TOML (`all` lists the built-in names).
    ///
    /// Prints the effective policy, a built-in NAME or a FILE, as TOML: every key
    /// with its value, defaults included (all lists the built-in names). See
    /// pyvet-policy(5).
    Show {
        /// A policy name, a policy file, or `all`.
        #[arg(value_name = "NAME|FILE|all")]
        policy: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct MarkersArgs {
    /// Root of the tree (a build root in CI; never written to).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Which installed databases to read under --root.
    #[arg(long, value_enum, default_value_t = DbChoice::Auto)]
    pub db: DbChoice,
    /// A policy: a built-in name or a TOML file (default: detected from the root).
    #[arg(long, value_name = "NAME|FILE")]
    pub policy: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = MarkersFormat::Text)]
    pub format: MarkersFormat,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub show: ShowArgs,
    /// The parallel source tree (PYTHONPYSOURCEPREFIX, inside the root) holding the
    /// sources of legacy-location pycs at their mirrored paths; overrides the policy's
    /// pysource-prefix.
    #[arg(long, value_name = "DIR")]
    pub pysource_prefix: Option<PathBuf>,
    /// With PATHs: check the discovered trees too, not only the PATHs.
    #[arg(long, requires = "paths")]
    pub also_discovered: bool,
    /// Trees to check, as paths inside the root, in place of the discovered ones
    /// (default: the discovered Python trees; see --also-discovered).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarkersFormat {
    Text,
    /// `pyvet-audit/1` JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
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
    /// Read a container image instead of --root: an OCI image layout (directory or tar)
    /// or a `docker save` archive. Nothing is unpacked.
    #[arg(long, value_name = "PATH", conflicts_with = "root")]
    pub image: Option<PathBuf>,
    /// With --image: the image to read, by its org.opencontainers.image.ref.name
    /// (or repo:tag in a docker archive).
    #[arg(long, value_name = "NAME", requires = "image")]
    pub image_ref: Option<String>,
    /// With --image: the platform to read, as OS/ARCH[/VARIANT] (default: the host's).
    #[arg(long, value_name = "OS/ARCH", requires = "image")]
    pub platform: Option<String>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// A summary, then findings by severity.
    Text,
    /// `pyvet-audit/1` JSON.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// The owned-file results as `rpm -V` (and `dpkg --verify`) print them.
    Rpm,
}

/// Which findings the text report lists in full; the others are counted
/// per rule in its summary. The JSON, SARIF and rpm reports list all.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct ShowArgs {
    /// Text report: list the findings at or above this severity in full, count the
    /// others per rule in the summary.
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = Show::Warning)]
    pub show: Show,
    /// Text report: list every finding, infos too (--show info).
    #[arg(short, long, conflicts_with = "show")]
    pub verbose: bool,
}

impl ShowArgs {
    /// The lowest severity listed in full.
    pub fn lowest(&self) -> crate::audit::Severity {
        use crate::audit::Severity;
        match (self.verbose, self.show) {
            (true, _) | (false, Show::Info) => Severity::Info,
            (false, Show::Warning) => Severity::Warning,
            (false, Show::Error) => Severity::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Show {
    Error,
    #[default]
    Warning,
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Error,
    /// Never exit 1 for findings.
    Never,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Root of the tree to audit (never written to, never chrooted into).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Read a container image instead of --root: an OCI image layout (directory or tar)
    /// or a `docker save` archive. Nothing is unpacked.
    #[arg(long, value_name = "PATH", conflicts_with = "root")]
    pub image: Option<PathBuf>,
    /// With --image: the image to read, by its org.opencontainers.image.ref.name
    /// (or repo:tag in a docker archive).
    #[arg(long, value_name = "NAME", requires = "image")]
    pub image_ref: Option<String>,
    /// With --image: the platform to read, as OS/ARCH[/VARIANT] (default: the host's).
    #[arg(long, value_name = "OS/ARCH", requires = "image")]
    pub platform: Option<String>,
    /// Which installed databases to read under --root.
    #[arg(long, value_enum, default_value_t = DbChoice::Auto)]
    pub db: DbChoice,
    /// A further manifest (database, .rpm, .deb, RECORD, ...) whose files count as owned.
    /// A PyOxidizer packed resources file (a host path inside --root) is the manifest
    /// of its modules: they are audited, beside the trees, as a PATH naming it audits them.
    #[arg(long = "manifest", value_name = "INPUT")]
    pub manifests: Vec<PathBuf>,
    /// A policy: a built-in name (fedora, fedora-py-opt0, fedora-option1, fedora-option1-full,
    /// fedora-option2, fedora-option2-prefix, fedora-minimal, debian, alpine, pycache-prefix, generic)
    /// or a TOML file.
    /// Default: detected from the root's os-release and databases.
    #[arg(long, value_name = "NAME|FILE")]
    pub policy: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub show: ShowArgs,
    /// A PYTHONPYCACHEPREFIX tree (inside the root) whose pycs are judged too.
    #[arg(long, value_name = "DIR")]
    pub pycache_prefix: Vec<PathBuf>,
    /// The parallel source tree (PYTHONPYSOURCEPREFIX, inside the root) holding the
    /// sources of legacy-location pycs at their mirrored paths; overrides the policy's
    /// pysource-prefix.
    #[arg(long, value_name = "DIR")]
    pub pysource_prefix: Option<PathBuf>,
    /// CPython's --check-hash-based-pycs mode.
    #[arg(long, value_enum, default_value_t = HashCheckMode::Default)]
    pub check_hash_based_pycs: HashCheckMode,
    /// Prove the bytecode that would run is the compilation of its source.
    #[arg(long)]
    pub deep: bool,
    /// A trusted interpreter for --deep, as VERSION=PATH.
    #[arg(long, value_name = "VER=PATH")]
    pub interpreter: Vec<String>,
    /// Accept the findings of a previous `--format json` report: only new ones fail.
    #[arg(long, value_name = "REPORT.json")]
    pub baseline: Option<PathBuf>,
    /// Print what a rule means and exit (`all` lists every rule).
    #[arg(long, value_name = "RULE|all")]
    pub explain: Option<String>,
    /// Never show a progress bar (it shows only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// With PATHs: audit the discovered trees too, not only the PATHs.
    #[arg(long, requires = "paths")]
    pub also_discovered: bool,
    /// Trees to audit, as paths inside the root, in place of the discovered ones
    /// (default: the discovered trees; see --also-discovered). A PATH may also be a
    /// PyOxidizer packed resources file, wherever it lies (/opt/app/app.packed):
    /// its resources are audited.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareLevel {
    /// The path exists on the full side.
    Path,
    /// ... with the same file type.
    Type,
    /// ... and the same content.
    Digest,
    /// ... and the same mode, owner, group and link target.
    Metadata,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SubsetFormat {
    Text,
    /// `pyvet-subset/1` JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML: each violation a failed test case.
    Junit,
}

#[derive(Debug, clap::Args)]
pub struct SubsetArgs {
    /// The minimal side: anything `pyvet manifest` reads, a pyvet-manifest/1
    /// JSON, or pkg:NAME for a package installed under --root.
    #[arg(long, value_name = "INPUT", required = true, num_args = 1..)]
    pub minimal: Vec<String>,
    /// The full side, as for --minimal.
    #[arg(long, value_name = "INPUT", required = true, num_args = 1..)]
    pub full: Vec<String>,
    /// How much of each file must be equal.
    #[arg(long, value_enum, default_value_t = CompareLevel::Metadata)]
    pub compare: CompareLevel,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SubsetFormat::Text)]
    pub format: SubsetFormat,
    /// Root whose installed databases pkg:NAME inputs come from.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SizeFormat {
    Text,
    /// `pyvet-size/1` JSON.
    Json,
    /// A bar chart.
    Svg,
}

#[derive(Debug, clap::Args)]
pub struct SizeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = SizeFormat::Text)]
    pub format: SizeFormat,
    /// Status-quo trees (sources and their pycs at opt 0, 1 and 2), packages
    /// (.rpm, .deb) holding one, or PyOxidizer packed resources files; sizes add up.
    #[arg(value_name = "TREE-or-PACKAGE", required = true)]
    pub trees: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--layout NAME` takes the names and policies of `layout::LAYOUTS`.
    #[test]
    fn layout_names_are_the_layouts() {
        let names: Vec<(String, &str)> = LayoutName::value_variants()
            .iter()
            .map(|l| {
                let v = l.to_possible_value().unwrap();
                (v.get_name().to_string(), l.policy())
            })
            .collect();
        let want: Vec<(String, &str)> = crate::layout::LAYOUTS
            .iter()
            .map(|(l, p)| (l.to_string(), *p))
            .collect();
        assert_eq!(names, want);
    }
}
