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

use crate::limits::MAX_TREE_DEPTH;
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

/// The Python trees the manifest installs into, as it spells them.
fn manifest_trees(manifest: &Manifest) -> BTreeSet<PathBuf> {
    manifest
        .packages
        .iter()
        .flat_map(|p| &p.files)
        .filter_map(|f| python_tree_of(&f.path))
        .collect()
}

/// Finds the trees to audit: those the manifest installs into, then the
/// local ones that exist. Trees that resolve to the same directory
/// (`lib64` → `lib`) are walked once, under the first spelling found (the
/// manifest's).
pub fn discover(tree: &dyn Tree, manifest: &Manifest) -> Vec<PathBuf> {
    // The manifest's spellings first, so that a tree reached through a
    // symlinked parent (`/lib` -> `/usr/lib`) is walked under the paths the
    // package manager records, and owners are found.
    let mut ordered: Vec<PathBuf> = manifest_trees(manifest).into_iter().collect();
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
    distinct(tree, ordered)
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
    manifest_trees(manifest)
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
    /// Directories found but not looked into: nested too deep, or with a
    /// path too long to open. What is below them was not seen.
    pub unwalked: Vec<Unwalked>,
}

/// A directory the walk found and did not list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwalked {
    pub path: PathBuf,
    pub why: Unwalkable,
}

/// Why a directory was not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unwalkable {
    /// It lies [`MAX_TREE_DEPTH`] levels below the top of its tree.
    TooDeep,
    /// Its path is longer than the tree can open (`ENAMETOOLONG`).
    PathTooLong,
}

impl Unwalkable {
    /// Why, without the path (for callers that name it).
    pub fn cause(self) -> String {
        match self {
            Unwalkable::TooDeep => format!(
                "{MAX_TREE_DEPTH} directories below the top of its tree, as deep as pyvet \
                 walks: its contents were not read"
            ),
            Unwalkable::PathTooLong => {
                "path longer than the system can open (PATH_MAX): its contents were not read"
                    .to_string()
            }
        }
    }
}

impl std::fmt::Display for Unwalked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.why.cause())
    }
}

impl Inventory {
    /// Walks each tree level by level, each level's directories listed in
    /// parallel; directories [`MAX_TREE_DEPTH`] levels down are not listed
    /// (see [`Inventory::unwalked`]). Iterative: no depth costs stack.
    pub fn walk(tree: &dyn Tree, roots: &[PathBuf]) -> Inventory {
        let mut walk = Walk::default();
        let mut level = Vec::new();
        for root in roots {
            match tree.lstat(root) {
                Ok(m) => {
                    walk.entries.push((root.clone(), m));
                    level.push(root.clone());
                }
                Err(e) => walk.errors.push(e),
            }
        }
        let mut depth = 0;
        while !level.is_empty() {
            depth += 1;
            level = walk.list(tree, &level, depth);
        }
        let Walk {
            mut entries,
            errors,
            unwalked,
        } = walk;
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
            unwalked,
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

/// What the walk found so far.
#[derive(Default)]
struct Walk {
    entries: Vec<(PathBuf, Meta)>,
    errors: Vec<TreeError>,
    unwalked: Vec<Unwalked>,
}

impl Walk {
    /// Lists one level's directories in parallel and returns the next
    /// level: their subdirectories, `depth` levels below the top, those at
    /// [`MAX_TREE_DEPTH`] set aside unlisted. Symlinks to directories are
    /// entries, never descended into.
    fn list(&mut self, tree: &dyn Tree, level: &[PathBuf], depth: usize) -> Vec<PathBuf> {
        let listings: Vec<_> = level.par_iter().map(|d| tree.read_dir(d)).collect();
        let mut next = Vec::new();
        for (dir, listing) in level.iter().zip(listings) {
            let listing = match listing {
                Ok(l) => l,
                Err(e) if e.is_name_too_long() => {
                    self.unwalked.push(Unwalked {
                        path: dir.clone(),
                        why: Unwalkable::PathTooLong,
                    });
                    continue;
                }
                Err(e) => {
                    self.errors.push(e);
                    continue;
                }
            };
            for e in listing {
                let p = dir.join(&e.name);
                if e.meta.kind == Kind::Dir && depth >= MAX_TREE_DEPTH {
                    self.unwalked.push(Unwalked {
                        path: p.clone(),
                        why: Unwalkable::TooDeep,
                    });
                } else if e.meta.kind == Kind::Dir {
                    next.push(p.clone());
                }
                self.entries.push((p, e.meta));
            }
        }
        next
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
        let found = discover(&t, &Manifest::default());
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

    #[test]
    fn the_walk_stops_at_the_depth_bound_and_says_where() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("usr/lib/python3.11");
        let nest = top.join("a/".repeat(MAX_TREE_DEPTH + 3));
        std::fs::create_dir_all(&nest).unwrap();
        std::fs::write(top.join("b.py"), "").unwrap();
        let t = crate::tree::FsTree::new(d.path());
        // A small stack: the walk costs none per level.
        let inv = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn_scoped(s, || {
                    Inventory::walk(&t, &[PathBuf::from("/usr/lib/python3.11")])
                })
                .unwrap()
                .join()
                .unwrap()
        });
        let bound = format!("/usr/lib/python3.11{}", "/a".repeat(MAX_TREE_DEPTH));
        assert_eq!(
            inv.unwalked,
            [Unwalked {
                path: PathBuf::from(&bound),
                why: Unwalkable::TooDeep
            }]
        );
        assert!(inv.errors.is_empty());
        // The directory at the bound is an entry; nothing below it is.
        assert!(inv.contains(Path::new(&bound)));
        assert_eq!(inv.len(), 1 + MAX_TREE_DEPTH + 1);
        assert!(inv.contains(Path::new("/usr/lib/python3.11/b.py")));
    }
}
