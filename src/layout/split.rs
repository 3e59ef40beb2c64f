//! `--split DIR`: the file lists of the subpackages a distributor builds from
//! the converted tree, so that the subset rule holds by construction:
//! `base` is the minimal package (sources or legacy pycs, markers, and every
//! other file), `pycache` the `__pycache__` pycs, `pysources` the
//! `__pysources__` sources (and the pysource prefix tree of option 2's
//! prefix variant). A fuller package is `base` plus any of the others.
//!
//! Each list is written twice: `NAME.files` for rpm's `%files -f` (absolute
//! paths, `%dir` for directories the package owns) and `NAME.install` for
//! debhelper (one path per line, relative to the staging directory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The lists: role name → (path inside the build root, is a directory).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SplitLists(pub BTreeMap<&'static str, Vec<(PathBuf, bool)>>);

/// The roles, in the order they are written.
pub const ROLES: [&str; 3] = ["base", "pycache", "pysources"];

impl SplitLists {
    /// Sorts the tree-after-apply into the roles; everything under the
    /// pysource `prefix` is a source.
    pub fn of(after: &BTreeMap<PathBuf, bool>, prefix: Option<&Path>) -> SplitLists {
        let mut lists: BTreeMap<&'static str, Vec<(PathBuf, bool)>> =
            ROLES.iter().map(|r| (*r, Vec::new())).collect();
        for (path, &is_dir) in after {
            let sources = prefix.is_some_and(|x| path.starts_with(x));
            let roles = match sources {
                true => vec!["pysources"],
                false => roles(path, is_dir, after),
            };
            for role in roles {
                if let Some(l) = lists.get_mut(role) {
                    l.push((path.clone(), is_dir));
                }
            }
        }
        SplitLists(lists)
    }
}

/// Which lists a path belongs to. A `__pycache__` holding a marker is owned
/// by `base` (the marker is there), and by `pycache` when it holds pycs
/// (option 1's base alone has none: its `pycache` list is empty).
fn roles(path: &Path, is_dir: bool, after: &BTreeMap<PathBuf, bool>) -> Vec<&'static str> {
    let in_dir = |name: &str| path.components().any(|c| c.as_os_str() == name);
    if in_dir("__pysources__") {
        return vec!["pysources"];
    }
    let is_pycache_dir = is_dir && path.file_name().is_some_and(|n| n == "__pycache__");
    if is_pycache_dir {
        let marker = after.contains_key(&path.join("__dont_write_bytecode__"));
        return match (marker, holds_pycs(path, after)) {
            (true, true) => vec!["base", "pycache"],
            (true, false) => vec!["base"],
            (false, _) => vec!["pycache"],
        };
    }
    if is_cache_pyc(path) {
        return vec!["pycache"];
    }
    vec!["base"]
}

fn is_cache_pyc(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "__pycache__")
        && path.extension().is_some_and(|e| e == "pyc")
}

/// Whether a pyc lies below `dir` in the tree (its entries sort right after it).
fn holds_pycs(dir: &Path, after: &BTreeMap<PathBuf, bool>) -> bool {
    after
        .range(dir.to_path_buf()..)
        .skip(1)
        .take_while(|(p, _)| p.starts_with(dir))
        .any(|(p, is_dir)| !is_dir && is_cache_pyc(p))
}

/// rpm's `%files` line for one path: quoted when it holds a space or a
/// character rpm would glob or expand.
fn rpm_line(path: &Path, is_dir: bool) -> Option<String> {
    let s = path.to_str()?;
    if s.contains(['"', '\n', '%']) {
        return None;
    }
    let s = if s.contains([' ', '\t', '*', '?', '[', ']', '{', '}']) {
        format!("\"{s}\"")
    } else {
        s.to_string()
    };
    Some(if is_dir { format!("%dir {s}") } else { s })
}

/// Writes `DIR/ROLE.files` and `DIR/ROLE.install` for every role. A path
/// neither format can carry is an error, before anything is written.
pub fn write_split(dir: &Path, lists: &SplitLists) -> crate::Result<()> {
    let mut outputs = Vec::new();
    for (role, paths) in &lists.0 {
        let mut rpm = String::new();
        let mut deb = String::new();
        for (path, is_dir) in paths {
            let line = rpm_line(path, *is_dir).filter(|_| {
                path.to_str()
                    .is_some_and(|s| !s.contains(char::is_whitespace))
            });
            let Some(line) = line else {
                return Err(crate::Error::Usage(format!(
                    "{}: cannot be written to a %files or .install list",
                    path.display()
                )));
            };
            rpm.push_str(&line);
            rpm.push('\n');
            if !is_dir {
                deb.push_str(&path.to_string_lossy()[1..]);
                deb.push('\n');
            }
        }
        outputs.push((dir.join(format!("{role}.files")), rpm));
        outputs.push((dir.join(format!("{role}.install")), deb));
    }
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    for (path, text) in outputs {
        std::fs::write(&path, text).map_err(|e| crate::Error::io(&path, e))?;
    }
    Ok(())
}
