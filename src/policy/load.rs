//! Loading a policy by name (built-in) or from a TOML file, strictly:
//! unknown keys, bad values and unknown rule ids are errors that name the
//! file and line, all reported at once where the file parses at all.

use std::path::{Path, PathBuf};

use super::{builtin, Policy};
use crate::audit::rules;

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{}: {}", .path.display(), .problems.join("; "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no built-in policy {0:?} (built in: {list}) and no such file", list = super::BUILTIN.join(", "))]
    Unknown(String),
}

/// Largest policy file read.
const MAX_POLICY_FILE: u64 = 1 << 20;

/// A built-in policy by name, else a TOML file by path.
pub fn load(spec: &str) -> Result<Policy, PolicyError> {
    if let Some(p) = builtin(spec) {
        return Ok(p);
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(PolicyError::Unknown(spec.into()));
    }
    let bytes = crate::fsutil::read_capped(path, MAX_POLICY_FILE).map_err(|e| PolicyError::Io {
        path: path.into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| PolicyError::Invalid {
        path: path.into(),
        problems: vec![format!("not UTF-8: {e}")],
    })?;
    parse(&text, path)
}

/// Parses policy text; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
    let invalid = |problems: Vec<String>| PolicyError::Invalid {
        path: path.into(),
        problems,
    };
    let policy: Policy = toml::from_str(text).map_err(|e| invalid(vec![toml_problem(text, &e)]))?;
    let problems: Vec<String> = policy
        .rules
        .keys()
        .filter(|id| rules::find(id).is_none())
        .map(|id| {
            let line = line_of(text, id).unwrap_or(0);
            format!("line {line}: unknown rule id {id:?} (pyvet audit --explain lists them)")
        })
        .collect();
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    Ok(policy)
}

/// `line N: message` from a TOML error's span.
fn toml_problem(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Level;

    #[test]
    fn a_file_policy_loads_strictly() {
        let p = parse(
            "name = \"site\"\nbytecode = \"generated\"\noptimization-levels = [0, 1]\n[rules]\nmtime-mismatch = \"allow\"\n",
            Path::new("site.toml"),
        )
        .unwrap();
        assert_eq!(p.rules["mtime-mismatch"], Level::Allow);
        assert_eq!(p.optimization_levels, [0, 1]);
        let e = parse(
            "name = \"x\"\nbytecode = \"packaged\"\ncolour = 1\n",
            Path::new("p.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("p.toml: line 3: unknown field `colour`"),
            "{e}"
        );
        let e = parse(
            "name = \"x\"\nbytecode = \"packaged\"\n[rules]\nno-such = \"deny\"\n",
            Path::new("p.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 4: unknown rule id \"no-such\""), "{e}");
        let e = parse(
            "name = \"x\"\nbytecode = \"sometimes\"\n",
            Path::new("p.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 2: unknown variant `sometimes`"), "{e}");
    }

    #[test]
    fn names_and_unknowns() {
        assert_eq!(load("debian").unwrap().name, "debian");
        assert!(matches!(
            load("no-such-policy"),
            Err(PolicyError::Unknown(_))
        ));
    }
}
