//! Which Python trees an audit covers, and what is in them.
//!
//! A Python tree is a `lib*/python3.X` or `lib*/python3` directory that a
//! manifest installs into (stdlib, `site-packages`, `dist-packages`,
//! `lib-dynload` all live below one), every `usr/local/lib*/python3.*`, and
//! whatever the command line names. Each is walked once through the
//! [`Tree`], never following a symlink, into an [`Inventory`] that every
//! check shares.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use crate::manifest::Manifest;
use crate::tree::{Kind, Meta, Tree, TreeError};

/// Library directory names a Python tree may sit in.
const LIB_DIRS: [&str; 4] = ["lib", "lib64", "lib32", "libx32"];
/// Library directories searched for `python3*` trees even when no manifest
/// owns a file there: a Python tree nothing installed (a bare build tree, or
/// one an attacker made) is audited like any other.
const LOCAL_PARENTS: [&str; 8] = [
    "/usr/local/lib",
    "/usr/local/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib32",
    "/usr/libx32",
    "/lib",
    "/lib64",
];

/// Where discovery looks for Python trees, for messages saying that it
/// found none.
pub fn looked_for() -> String {
    format!(
        "no Python tree: looked for python3 and python3.X directories in {} \
         and the trees the package databases install into",
        LOCAL_PARENTS.join(", ")
    )
}

/// Whether a directory name is `python3` or `python3.X`.
pub fn is_python_dir(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b == b"python3"
        || b.strip_prefix(b"python3.")
            .is_some_and(|v| !v.is_empty() && v.iter().all(u8::is_ascii_digit))
}

/// The Python tree a path lies in (`/usr/lib/python3.11`), if any.
pub fn python_tree_of(path: &Path) -> Option<PathBuf> {
    let mut prefix = PathBuf::new();
    let mut prev_lib = false;
    for c in path.components() {
        let Component::Normal(n) = c else {
            prefix.push(c);
            continue;
        };
        if prev_lib && is_python_dir(n) {
            prefix.push(n);
            return Some(prefix);
        }
        prev_lib = LIB_DIRS.iter().any(|l| OsStr::new(l) == n);
        prefix.push(n);
    }
    None
}

/// Finds the trees to audit: those the manifest installs into, the local
/// ones that exist, then `extra` (command-line paths). Trees that resolve to
/// the same directory (`lib64` → `lib`) are walked once, under the first
/// spelling found (the manifest's).
pub fn discover(tree: &dyn Tree, manifest: &Manifest, extra: &[PathBuf]) -> Vec<PathBuf> {
    // The manifest's spellings first, so that a tree reached through a
    // symlinked parent (`/lib` -> `/usr/lib`) is walked under the paths the
    // package manager records, and owners are found.
    let mut candidates: BTreeSet<PathBuf> = BTreeSet::new();
    for p in &manifest.packages {
        for f in &p.files {
            if let Some(t) = python_tree_of(&f.path) {
                candidates.insert(t);
            }
        }
    }
    let mut ordered: Vec<PathBuf> = candidates.into_iter().collect();
    for parent in LOCAL_PARENTS {
        // A parent that is itself a symlink is scanned under its target.
        if tree.resolve(Path::new(parent)).ok().as_deref() != Some(Path::new(parent)) {
            continue;
        }
        if let Ok(entries) = tree.read_dir(Path::new(parent)) {
            for e in entries {
                if is_python_dir(&e.name) && e.meta.kind == Kind::Dir {
                    ordered.push(Path::new(parent).join(&e.name));
                }
            }
        }
    }
    distinct(tree, ordered.into_iter().chain(extra.iter().cloned()))
}

/// The candidates that are directories, each directory once under its
/// first spelling, without those inside another (walked as part of it).
pub fn distinct(tree: &dyn Tree, candidates: impl IntoIterator<Item = PathBuf>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for c in candidates {
        let Ok(resolved) = tree.resolve(&c) else {
            continue;
        };
        if !tree.lstat(&resolved).is_ok_and(|m| m.kind == Kind::Dir) {
            continue;
        }
        if seen.insert(resolved) {
            out.push(c);
        }
    }
    // A tree inside another is walked as part of it.
    let all = out.clone();
    out.retain(|t| !all.iter().any(|o| o != t && t.starts_with(o)));
    out
}

/// The Python trees the manifest installs into that are not a directory
/// inside the root: replaced by a symlink that loops or leads out of it
/// (`usr/lib/python3.11 -> /usr/lib/python3.11`), or gone. Their packages
/// are still verified, so that every owned file there is reported
/// (`missing`, as the lookup fails inside the root) rather than the
/// trees silently dropping out of the audit.
pub fn unresolved_trees(tree: &dyn Tree, manifest: &Manifest) -> Vec<PathBuf> {
    let mut candidates: BTreeSet<PathBuf> = BTreeSet::new();
    for p in &manifest.packages {
        for f in &p.files {
            if let Some(t) = python_tree_of(&f.path) {
                candidates.insert(t);
            }
        }
    }
    candidates
        .into_iter()
        .filter(|t| {
            let dir = tree
                .resolve(t)
                .and_then(|r| tree.lstat(&r))
                .is_ok_and(|m| m.kind == Kind::Dir);
            !dir
        })
        .collect()
}

/// `path` under the spelling discovery uses for the directory it names:
/// `/lib64/python3.12/x` is `/usr/lib64/python3.12/x` when `/lib64` links
/// to `/usr/lib64` and the manifest spells the tree so. Owners are looked
/// up by path, so a tree walked under another spelling would look unowned.
pub fn respell(tree: &dyn Tree, path: &Path, discovered: &[PathBuf]) -> PathBuf {
    let Ok(real) = tree.resolve(path) else {
        return path.to_path_buf();
    };
    discovered
        .iter()
        .find_map(|d| {
            let rest = real.strip_prefix(tree.resolve(d).ok()?).ok()?;
            Some(if rest.as_os_str().is_empty() {
                d.clone()
            } else {
                d.join(rest)
            })
        })
        .unwrap_or_else(|| path.to_path_buf())
}

/// Every entry found in the audited trees, with its `lstat` metadata.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Sorted by path.
    pub entries: Vec<(PathBuf, Meta)>,
    index: HashMap<PathBuf, usize>,
    /// Directories that could not be listed, with why.
    pub errors: Vec<TreeError>,
}

impl Inventory {
    /// Walks each tree (in parallel, directory by directory).
    pub fn walk(tree: &dyn Tree, roots: &[PathBuf]) -> Inventory {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for root in roots {
            match tree.lstat(root) {
                Ok(m) => {
                    entries.push((root.clone(), m));
                    walk_dir(tree, root, &mut entries, &mut errors);
                }
                Err(e) => errors.push(e),
            }
        }
        entries.sort_by(|a, b| crate::manifest::cmp_paths(&a.0, &b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (p.clone(), i))
            .collect();
        Inventory {
            entries,
            index,
            errors,
        }
    }

    /// The metadata of a path found by the walk.
    pub fn get(&self, path: &Path) -> Option<&Meta> {
        self.index.get(path).map(|&i| &self.entries[i].1)
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.index.contains_key(path)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Lists `dir`, then its subdirectories in parallel. Symlinks to
/// directories are entries, never descended into.
fn walk_dir(
    tree: &dyn Tree,
    dir: &Path,
    out: &mut Vec<(PathBuf, Meta)>,
    errors: &mut Vec<TreeError>,
) {
    let listing = match tree.read_dir(dir) {
        Ok(l) => l,
        Err(e) => {
            errors.push(e);
            return;
        }
    };
    let mut subdirs = Vec::new();
    for e in listing {
        let p = dir.join(&e.name);
        if e.meta.kind == Kind::Dir {
            subdirs.push(p.clone());
        }
        out.push((p, e.meta));
    }
    let parts: Vec<_> = subdirs
        .par_iter()
        .map(|d| {
            let mut o = Vec::new();
            let mut e = Vec::new();
            walk_dir(tree, d, &mut o, &mut e);
            (o, e)
        })
        .collect();
    for (o, e) in parts {
        out.extend(o);
        errors.extend(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_tree_names() {
        let t = |p: &str| python_tree_of(Path::new(p));
        assert_eq!(
            t("/usr/lib/python3.11/os.py"),
            Some(PathBuf::from("/usr/lib/python3.11"))
        );
        assert_eq!(
            t("/usr/lib/python3/dist-packages/six.py"),
            Some(PathBuf::from("/usr/lib/python3"))
        );
        assert_eq!(
            t("/usr/local/lib64/python3.12/site-packages/x.py"),
            Some(PathBuf::from("/usr/local/lib64/python3.12"))
        );
        assert_eq!(t("/usr/share/python3.11/x"), None);
        assert_eq!(t("/usr/lib/python3.x/x"), None);
        assert_eq!(t("/usr/lib/python2.7/x.py"), None);
    }

    #[test]
    fn unowned_trees_are_discovered_once() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/lib/python3.13/json")).unwrap();
        std::fs::create_dir_all(r.join("usr/local/lib/python3.11")).unwrap();
        std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
        let t = crate::tree::FsTree::new(r);
        let found = discover(&t, &Manifest::default(), &[]);
        assert_eq!(
            found,
            [
                PathBuf::from("/usr/local/lib/python3.11"),
                PathBuf::from("/usr/lib/python3.13")
            ]
        );
    }

    #[test]
    fn walk_lists_without_following_links() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/lib/python3.11/json")).unwrap();
        std::fs::write(r.join("usr/lib/python3.11/json/x.py"), "").unwrap();
        std::os::unix::fs::symlink("/etc", r.join("usr/lib/python3.11/etc")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/passwd"), "").unwrap();
        let t = crate::tree::FsTree::new(r);
        let inv = Inventory::walk(&t, &[PathBuf::from("/usr/lib/python3.11")]);
        let paths: Vec<_> = inv
            .entries
            .iter()
            .map(|e| e.0.display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "/usr/lib/python3.11",
                "/usr/lib/python3.11/etc",
                "/usr/lib/python3.11/json",
                "/usr/lib/python3.11/json/x.py"
            ]
        );
        assert_eq!(
            inv.get(Path::new("/usr/lib/python3.11/etc")).unwrap().kind,
            Kind::Symlink
        );
    }
}
