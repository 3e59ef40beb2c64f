//! Policies: what a distribution (or a layout) expects of its Python trees,
//! and how severe each rule is there.
//!
//! The same unowned, valid opt-0 pyc is a root write on Fedora (where
//! packages ship their pycs) and exactly what Debian's `py3compile` leaves on
//! every system. So the audit's checks classify files; a [`Policy`] decides
//! what the distribution expects and what severity each rule has. The
//! distribution is detected from the root ([`detect`]); `--policy NAME|FILE`
//! overrides it.

mod load;

pub use load::{load, PolicyError};

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::audit::finding::Severity;
use crate::audit::rules::Rule;
use crate::tree::Tree;

/// A per-rule level, as policies write them (cargo-deny's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Not reported.
    Allow,
    /// Reported as information.
    Info,
    /// Reported as a warning.
    Warn,
    /// Reported as an error.
    Deny,
}

impl Level {
    /// The severity a finding gets, `None` when it is not reported.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Allow => None,
            Level::Info => Some(Severity::Info),
            Level::Warn => Some(Severity::Warning),
            Level::Deny => Some(Severity::Error),
        }
    }
}

/// Where a distribution's bytecode comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BytecodeOrigin {
    /// pycs are files of the packages (Fedora, RHEL, SUSE, Alpine's `-pyc`).
    Packaged,
    /// opt-0 pycs are written at install time by the distribution's tooling
    /// (Debian's `py3compile`) and no package lists them.
    Generated,
}

/// The effective policy of one audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Policy {
    /// The policy's name (`fedora`, `debian`, a file's stem).
    pub name: String,
    /// What it is for, in a sentence.
    #[serde(default)]
    pub description: String,
    /// Where opt-0 bytecode comes from.
    pub bytecode: BytecodeOrigin,
    /// Optimisation levels interpreters run with (`python3 -O` is 1): for
    /// each, a source without a valid pyc is a predicted write attempt.
    #[serde(default = "default_opt_levels")]
    pub optimization_levels: Vec<u8>,
    /// Per-rule levels overriding each rule's default severity.
    #[serde(default)]
    pub rules: BTreeMap<String, Level>,
}

fn default_opt_levels() -> Vec<u8> {
    vec![0]
}

impl Policy {
    /// The severity of a finding of `rule`, `None` when the policy allows it.
    pub fn severity(&self, rule: &Rule) -> Option<Severity> {
        match self.rules.get(rule.id) {
            Some(l) => l.severity(),
            None => Some(rule.severity),
        }
    }

    /// The severity a finding ends with: the policy's level for its rule
    /// where it sets one, else what the check decided (`found`, usually the
    /// rule's default). `None`: the policy allows it, it is not reported.
    pub fn apply(&self, rule: &Rule, found: Severity) -> Option<Severity> {
        match self.rules.get(rule.id) {
            Some(l) => l.severity(),
            None => Some(found),
        }
    }

    /// Whether bytecode for sources the distribution owns is expected to be
    /// generated at install time rather than packaged.
    pub fn generates_bytecode(&self) -> bool {
        self.bytecode == BytecodeOrigin::Generated
    }
}

/// The distributions pyvet knows the defaults of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distro {
    /// RPM-based: Fedora, RHEL and rebuilds, SUSE, Mariner (pycs packaged).
    Rpm,
    /// Debian, Ubuntu and derivatives (pycs made by py3compile).
    Debian,
    /// Alpine (pycs in `-pyc` subpackages).
    Alpine,
    /// Nothing recognisable: packaged bytecode is assumed.
    Unknown,
}

/// The built-in policies, by name.
pub const BUILTIN: &[&str] = &["fedora", "debian", "alpine", "generic"];

/// A built-in policy by name.
pub fn builtin(name: &str) -> Option<Policy> {
    let (bytecode, description) = match name {
        "fedora" => (
            BytecodeOrigin::Packaged,
            "Fedora, RHEL, SUSE: every pyc is a file of its package",
        ),
        "debian" => (
            BytecodeOrigin::Generated,
            "Debian, Ubuntu: opt-0 pycs are written by py3compile at install and listed by no package",
        ),
        "alpine" => (
            BytecodeOrigin::Packaged,
            "Alpine: pycs are files of the -pyc subpackages",
        ),
        "generic" => (
            BytecodeOrigin::Packaged,
            "No distribution recognised: pycs are expected to be packaged",
        ),
        _ => return None,
    };
    Some(Policy {
        name: name.into(),
        description: description.into(),
        bytecode,
        optimization_levels: default_opt_levels(),
        rules: BTreeMap::new(),
    })
}

impl Distro {
    /// The built-in policy for this distribution.
    pub fn policy(self) -> Policy {
        let name = match self {
            Distro::Rpm => "fedora",
            Distro::Debian => "debian",
            Distro::Alpine => "alpine",
            Distro::Unknown => "generic",
        };
        builtin(name).expect("every distro has a built-in policy")
    }
}

/// Detects the distribution of a root from `etc/os-release` (`ID`,
/// `ID_LIKE`) and, failing that, from which package databases exist.
pub fn detect(tree: &dyn Tree, has_rpm: bool, has_dpkg: bool, has_apk: bool) -> Distro {
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Ok(bytes) = tree.read(Path::new(p), 1 << 16) {
            if let Some(d) = from_os_release(&String::from_utf8_lossy(&bytes)) {
                return d;
            }
        }
    }
    match (has_rpm, has_dpkg, has_apk) {
        (_, true, _) => Distro::Debian,
        (true, _, _) => Distro::Rpm,
        (_, _, true) => Distro::Alpine,
        _ => Distro::Unknown,
    }
}

/// Reads `ID` and `ID_LIKE` from os-release text.
pub fn from_os_release(text: &str) -> Option<Distro> {
    let mut ids = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() == "ID" || k.trim() == "ID_LIKE" {
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            ids.extend(v.split_whitespace().map(str::to_ascii_lowercase));
        }
    }
    ids.iter().find_map(|id| match id.as_str() {
        "debian" | "ubuntu" => Some(Distro::Debian),
        "fedora" | "rhel" | "centos" | "suse" | "opensuse" | "sles" | "mariner" | "azurelinux"
        | "amzn" | "rocky" | "almalinux" | "ol" => Some(Distro::Rpm),
        "alpine" | "wolfi" | "chainguard" => Some(Distro::Alpine),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::rules;

    #[test]
    fn os_release_ids() {
        assert_eq!(
            from_os_release("NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n"),
            Some(Distro::Debian)
        );
        assert_eq!(
            from_os_release("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"),
            Some(Distro::Rpm)
        );
        assert_eq!(
            from_os_release("ID=opensuse-tumbleweed\nID_LIKE=\"opensuse suse\"\n"),
            Some(Distro::Rpm)
        );
        assert_eq!(from_os_release("ID=alpine\n"), Some(Distro::Alpine));
        assert_eq!(from_os_release("ID=plan9\n"), None);
    }

    #[test]
    fn levels_override_defaults() {
        let mut p = builtin("fedora").unwrap();
        assert_eq!(p.severity(rules::MISSING), Some(Severity::Error));
        p.rules.insert("missing".into(), Level::Allow);
        p.rules.insert("mtime-mismatch".into(), Level::Deny);
        assert_eq!(p.severity(rules::MISSING), None);
        assert_eq!(p.severity(rules::MTIME_MISMATCH), Some(Severity::Error));
        assert!(builtin("debian").unwrap().generates_bytecode());
        for name in BUILTIN {
            assert!(builtin(name).is_some());
        }
    }
}
