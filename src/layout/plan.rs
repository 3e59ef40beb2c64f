//! Judging every module of a tree and planning the moves, before any write.
//!
//! Option 2's prefix variant also reads and writes the parallel source tree
//! (the tree mirrored under the pysource prefix, inside the build root): its
//! sources count as the modules' converted sources, and the directories it
//! needs are made one by one, never through a symlink.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Target;
use crate::bytecode::naming;
use crate::limits::MAX_TREE_DEPTH;
use crate::policy::{Compression, Layout};

/// One module of the tree that is neither status quo nor in the target layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Path inside the build root.
    pub path: PathBuf,
    pub why: String,
}

/// One write, on host paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    MkDir(PathBuf),
    /// Write `source` compressed to `to`, with the source's mode and times.
    Compress {
        source: PathBuf,
        to: PathBuf,
        how: Compression,
    },
    /// Move an opt-0 pyc to the legacy location (rename: mode and mtime kept).
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    /// An empty `__dont_write_bytecode__`, mode 0644.
    Marker(PathBuf),
    Remove(PathBuf),
    /// Removed only when nothing is left in it.
    RmDirIfEmpty(PathBuf),
}

/// Everything `apply` will do, and the tree as it will be afterwards.
#[derive(Debug, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Paths inside the build root after the plan has run, with whether each is a directory.
    pub after: BTreeMap<PathBuf, bool>,
}

/// One module's files in one directory.
#[derive(Debug, Default)]
struct Module {
    source: Option<PathBuf>,
    cache: BTreeMap<u8, PathBuf>,
    legacy: Option<PathBuf>,
    pysrc: Option<(PathBuf, Compression)>,
    /// Its source under the pysource prefix.
    prefixed: Option<(PathBuf, Compression)>,
}

/// One package directory (not a `__pycache__` or `__pysources__`).
#[derive(Debug, Default)]
struct Dir {
    modules: BTreeMap<String, Module>,
    marker: bool,
    /// Entries of `__pycache__` that are not pycs of a module (besides the marker).
    pycache_other: usize,
    pycache_exists: bool,
}

/// Plans `target` for the trees (host paths, resolved inside `root`, itself canonical).
pub fn plan(root: &Path, trees: &[PathBuf], target: &Target) -> Result<Plan, super::LayoutError> {
    let mut p = Plan::default();
    let mut refusals = Vec::new();
    let mut dirs: BTreeMap<PathBuf, Dir> = BTreeMap::new();
    let mut tags: BTreeMap<String, PathBuf> = BTreeMap::new();
    for tree in trees {
        for e in bounded_walk(tree) {
            let Some(e) = walked(root, tree, e, &mut refusals) else {
                continue;
            };
            let is_dir = e.file_type().is_dir();
            p.after.insert(inside(root, e.path()), is_dir);
            if !is_dir {
                classify(
                    root,
                    e.path(),
                    e.file_type().is_file(),
                    &mut dirs,
                    &mut tags,
                    &mut refusals,
                );
            } else if e.file_name() == "__pycache__" {
                if let Some(d) = e.path().parent() {
                    dirs.entry(d.to_path_buf()).or_default().pycache_exists = true;
                }
            }
        }
    }
    if let Some(prefix) = &target.prefix {
        for tree in trees {
            walk_prefixed(root, prefix, tree, &mut p, &mut dirs, &mut refusals);
        }
    }
    if tags.len() > 1 {
        refusals.push(Refusal {
            path: inside(
                root,
                tags.values().nth(1).map(PathBuf::as_path).unwrap_or(root),
            ),
            why: format!(
                "pycs of more than one interpreter ({}); apply one tree per interpreter",
                tags.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    for (dir, d) in &dirs {
        plan_dir(root, dir, d, target, &mut p, &mut refusals);
    }
    if !refusals.is_empty() {
        return Err(super::LayoutError::Refused(refusals));
    }
    Ok(p)
}

/// Path inside the build root.
fn inside(root: &Path, host: &Path) -> PathBuf {
    Path::new("/").join(host.strip_prefix(root).unwrap_or(host))
}

/// Host path of a path inside the build root.
fn host(root: &Path, inside: &Path) -> PathBuf {
    crate::manifest::under_root(root, inside)
}

/// Reads the part of the prefix tree that mirrors `tree`, if there is one:
/// its sources are the converted sources of their modules.
fn walk_prefixed(
    root: &Path,
    prefix: &Path,
    tree: &Path,
    p: &mut Plan,
    dirs: &mut BTreeMap<PathBuf, Dir>,
    refusals: &mut Vec<Refusal>,
) {
    let mirror = host(root, &naming::mirrored(prefix, &inside(root, tree)));
    if std::fs::symlink_metadata(&mirror).is_err() {
        return;
    }
    // `root` is canonical: a mirror that canonicalizes elsewhere has a symlink on its way.
    if mirror.canonicalize().ok().as_ref() != Some(&mirror) {
        refusals.push(Refusal {
            path: inside(root, &mirror),
            why: "the source tree's directory is reached through a symlink or is not a directory"
                .into(),
        });
        return;
    }
    for e in bounded_walk(&mirror) {
        let Some(e) = walked(root, &mirror, e, refusals) else {
            continue;
        };
        let at = inside(root, e.path());
        p.after.insert(at.clone(), e.file_type().is_dir());
        let (Some(name), Some(parent)) = (e.file_name().to_str(), at.parent()) else {
            continue;
        };
        let Some(((module, how), counterpart)) = pysources_name(name)
            .filter(|_| !e.file_type().is_dir())
            .zip(naming::unmirrored(prefix, parent))
        else {
            continue;
        };
        let m = dirs
            .entry(host(root, &counterpart))
            .or_default()
            .modules
            .entry(module.to_string())
            .or_default();
        if e.file_type().is_file() {
            m.prefixed = Some((e.path().to_path_buf(), how));
        } else {
            refusals.push(Refusal {
                path: at,
                why: "not a regular file (pyvet layout apply moves only regular files)".into(),
            });
        }
    }
}

/// Plans every missing directory down to `at` (inside the build root),
/// top-down; those under `prefix` are the tree's (listed in `after`).
/// False, with a refusal, when one on the way is not a real directory.
fn ensure_dir(
    root: &Path,
    prefix: &Path,
    at: &Path,
    p: &mut Plan,
    refusals: &mut Vec<Refusal>,
) -> bool {
    let mut ancestors: Vec<&Path> = at.ancestors().filter(|a| a.parent().is_some()).collect();
    ancestors.reverse();
    for a in ancestors {
        let listed = a.starts_with(prefix);
        match p.after.get(a) {
            Some(true) => continue,
            Some(false) => {
                refusals.push(Refusal {
                    path: a.to_path_buf(),
                    why: "not a directory".into(),
                });
                return false;
            }
            None => {}
        }
        let h = host(root, a);
        match std::fs::symlink_metadata(&h) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                refusals.push(Refusal {
                    path: a.to_path_buf(),
                    why: "not a directory (a symlink or a file where the source tree goes)".into(),
                });
                return false;
            }
            Err(_) => {
                let mk = Action::MkDir(h);
                if !p.actions.contains(&mk) {
                    p.actions.push(mk);
                }
            }
        }
        if listed {
            p.after.insert(a.to_path_buf(), true);
        }
    }
    true
}

/// Files `pyvet layout apply` moves or rewrites must be regular files.
fn classify(
    root: &Path,
    path: &Path,
    regular: bool,
    dirs: &mut BTreeMap<PathBuf, Dir>,
    tags: &mut BTreeMap<String, PathBuf>,
    refusals: &mut Vec<Refusal>,
) {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(OsStr::to_str))
    else {
        return;
    };
    let parent_name = parent.file_name().and_then(OsStr::to_str).unwrap_or("");
    let pkg = parent.parent();
    let mut kind_ok = |m: &mut Module, set: &mut dyn FnMut(&mut Module)| {
        if regular {
            set(m);
        } else {
            refusals.push(Refusal {
                path: inside(root, path),
                why: "not a regular file (pyvet layout apply moves only regular files)".into(),
            });
        }
    };
    match (parent_name, pkg) {
        ("__pycache__", Some(pkg)) => {
            let d = dirs.entry(pkg.to_path_buf()).or_default();
            if name == "__dont_write_bytecode__" {
                d.marker = true;
                return;
            }
            let Some((module, tag, level)) = cache_name(name) else {
                d.pycache_other += 1;
                return;
            };
            tags.entry(tag.to_string())
                .or_insert_with(|| path.to_path_buf());
            let m = d.modules.entry(module.to_string()).or_default();
            kind_ok(m, &mut |m| {
                m.cache.insert(level, path.to_path_buf());
            });
        }
        ("__pysources__", Some(pkg)) => {
            let Some((module, how)) = pysources_name(name) else {
                return;
            };
            let m = dirs
                .entry(pkg.to_path_buf())
                .or_default()
                .modules
                .entry(module.to_string())
                .or_default();
            kind_ok(m, &mut |m| m.pysrc = Some((path.to_path_buf(), how)));
        }
        _ => {
            let d = dirs.entry(parent.to_path_buf()).or_default();
            if let Some(module) = name.strip_suffix(".py").filter(|m| !m.is_empty()) {
                let m = d.modules.entry(module.to_string()).or_default();
                kind_ok(m, &mut |m| m.source = Some(path.to_path_buf()));
            } else if let Some(module) = name
                .strip_suffix(".pyc")
                .filter(|m| !m.is_empty() && !m.contains('.'))
            {
                let m = d.modules.entry(module.to_string()).or_default();
                kind_ok(m, &mut |m| m.legacy = Some(path.to_path_buf()));
            }
        }
    }
}

/// `X.cpython-311.pyc` → (X, cpython-311, 0); `X.cpython-311.opt-2.pyc` → (X, cpython-311, 2).
fn cache_name(name: &str) -> Option<(&str, &str, u8)> {
    let stem = name.strip_suffix(".pyc")?;
    let (stem, level) = match stem.rsplit_once(".opt-") {
        Some((s, l)) => (s, l.parse::<u8>().ok().filter(|l| (1..=2).contains(l))?),
        None => (stem, 0),
    };
    let (module, tag) = stem.rsplit_once('.')?;
    (!module.is_empty() && !module.contains('.') && tag.starts_with("cpython-"))
        .then_some((module, tag, level))
}

/// `X.py[.gz|.xz|.bz2]` → (X, compression).
fn pysources_name(name: &str) -> Option<(&str, Compression)> {
    Compression::ALL.into_iter().find_map(|c| {
        let m = name.strip_suffix(c.suffix())?.strip_suffix(".py")?;
        (!m.is_empty()).then_some((m, c))
    })
}

fn plan_dir(
    root: &Path,
    dir: &Path,
    d: &Dir,
    t: &Target,
    p: &mut Plan,
    refusals: &mut Vec<Refusal>,
) {
    let cache_dir = dir.join("__pycache__");
    // A `__pycache__` or `__pysources__` that is not a directory (a file, a
    // symlink) would make a write fail half-way: refuse it now.
    for special in ["__pycache__", "__pysources__"] {
        let at = inside(root, &dir.join(special));
        if p.after.get(&at) == Some(&false) {
            refusals.push(Refusal {
                path: at,
                why: "not a directory".into(),
            });
            return;
        }
    }
    let mut cache_left = d.pycache_other + usize::from(d.marker);
    let mut has_sources = false;
    let mut pysources_made = false;
    for (name, m) in &d.modules {
        let at = |f: &str| inside(root, &dir.join(f));
        let refuse = |why: &str, refusals: &mut Vec<Refusal>| {
            refusals.push(Refusal {
                path: at(&format!("{name}.py")),
                why: why.to_string(),
            })
        };
        let status_quo =
            m.source.is_some() && m.legacy.is_none() && m.pysrc.is_none() && m.prefixed.is_none();
        if !t.sourceless() {
            if !status_quo {
                refuse(
                    "not a source with __pycache__ pycs (status quo) as this layout expects",
                    refusals,
                );
                continue;
            }
            has_sources = true;
            for (level, pyc) in &m.cache {
                if !t.keeps_cache(Some(*level)) {
                    remove(root, pyc, p);
                } else {
                    cache_left += 1;
                }
            }
            continue;
        }
        let converted = m.source.is_none()
            && m.cache.is_empty()
            && m.legacy.is_some()
            && match (&m.pysrc, &m.prefixed, t.layout) {
                (None, None, Layout::Minimal) => true,
                (Some((_, c)), None, Layout::Option2)
                | (None, Some((_, c)), Layout::Option2Prefix) => t.accepted.contains(c),
                _ => false,
            };
        if converted {
            continue;
        }
        let (Some(source), Some(pyc0), true) = (&m.source, m.cache.get(&0), status_quo) else {
            refuse(
                "neither status quo (source and its opt-0 __pycache__ pyc) nor already in the layout",
                refusals,
            );
            continue;
        };
        let legacy = dir.join(format!("{name}.pyc"));
        p.actions.push(Action::Rename {
            from: pyc0.clone(),
            to: legacy.clone(),
        });
        p.after.remove(&inside(root, pyc0));
        p.after.insert(inside(root, &legacy), false);
        for (level, pyc) in &m.cache {
            if *level != 0 {
                remove(root, pyc, p);
            }
        }
        if let (Layout::Option2Prefix, Some(prefix)) = (t.layout, &t.prefix) {
            let mirror = naming::mirrored(prefix, &inside(root, dir));
            if !ensure_dir(root, prefix, &mirror, p, refusals) {
                continue;
            }
            let to = host(root, &mirror).join(format!("{name}.py{}", t.compression.suffix()));
            p.actions.push(Action::Compress {
                source: source.clone(),
                to: to.clone(),
                how: t.compression,
            });
            p.after.insert(inside(root, &to), false);
        }
        if t.layout == Layout::Option2 {
            let ps = dir.join("__pysources__");
            if !pysources_made && !p.after.contains_key(&inside(root, &ps)) {
                p.actions.push(Action::MkDir(ps.clone()));
                p.after.insert(inside(root, &ps), true);
            }
            pysources_made = true;
            let to = ps.join(format!("{name}.py{}", t.compression.suffix()));
            p.actions.push(Action::Compress {
                source: source.clone(),
                to: to.clone(),
                how: t.compression,
            });
            p.after.insert(inside(root, &to), false);
        }
        remove(root, source, p);
    }
    if t.markers && has_sources && !d.marker {
        if !d.pycache_exists {
            p.actions.push(Action::MkDir(cache_dir.clone()));
            p.after.insert(inside(root, &cache_dir), true);
        }
        let marker = cache_dir.join("__dont_write_bytecode__");
        p.actions.push(Action::Marker(marker.clone()));
        p.after.insert(inside(root, &marker), false);
        cache_left += 1;
    }
    if d.pycache_exists && cache_left == 0 {
        p.actions.push(Action::RmDirIfEmpty(cache_dir.clone()));
        p.after.remove(&inside(root, &cache_dir));
    }
}

fn remove(root: &Path, path: &Path, p: &mut Plan) {
    p.actions.push(Action::Remove(path.to_path_buf()));
    p.after.remove(&inside(root, path));
}

impl Plan {
    /// Runs the plan: directories first, then new files, renames, removals,
    /// and last the `__pycache__` directories left empty.
    pub fn run(&self) -> crate::Result<()> {
        let rank = |a: &Action| match a {
            Action::MkDir(_) => 0,
            Action::Compress { .. } => 1,
            Action::Rename { .. } => 2,
            Action::Marker(_) => 3,
            Action::Remove(_) => 4,
            Action::RmDirIfEmpty(_) => 5,
        };
        let mut actions: Vec<&Action> = self.actions.iter().collect();
        actions.sort_by_key(|a| rank(a));
        for a in actions {
            act(a)?;
        }
        Ok(())
    }
}

fn act(a: &Action) -> crate::Result<()> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| crate::Error::io(p, e)
    };
    match a {
        Action::MkDir(d) => {
            std::fs::DirBuilder::new()
                .mode(0o755)
                .create(d)
                .map_err(io(d))?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).map_err(io(d))
        }
        Action::Compress { source, to, how } => compress(source, to, *how),
        Action::Rename { from, to } => {
            if std::fs::symlink_metadata(to).is_ok() {
                return Err(crate::Error::Usage(format!(
                    "{}: already exists",
                    to.display()
                )));
            }
            std::fs::rename(from, to).map_err(io(from))
        }
        Action::Marker(m) => {
            let f = new_file(m)?;
            f.set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(io(m))
        }
        Action::Remove(f) => std::fs::remove_file(f).map_err(io(f)),
        Action::RmDirIfEmpty(d) => match std::fs::remove_dir(d) {
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => Ok(()),
            r => r.map_err(io(d)),
        },
    }
}

/// A new file; never through a symlink or over an existing file.
fn new_file(path: &Path) -> crate::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| crate::Error::io(path, e))
}

/// Writes `source` compressed, deterministically: gzip with no name, mtime 0,
/// OS "unknown" and the pure-Rust deflate at level 9 (the same bytes on every
/// machine); xz preset 9; bzip2 level 9. The new file gets the source's mode
/// and times.
fn compress(source: &Path, to: &Path, how: Compression) -> crate::Result<()> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| crate::Error::io(p, e)
    };
    let mut input = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(source)
        .map_err(io(source))?;
    let meta = input.metadata().map_err(io(source))?;
    if !meta.is_file() {
        return Err(crate::Error::Usage(format!(
            "{}: not a regular file",
            source.display()
        )));
    }
    let out = new_file(to)?;
    let mut out = std::io::BufWriter::new(out);
    let copied = match how {
        Compression::None => std::io::copy(&mut input, &mut out).map(|_| ()),
        Compression::Gz => {
            let mut enc = flate2::GzBuilder::new()
                .mtime(0)
                .operating_system(255)
                .write(&mut out, flate2::Compression::best());
            std::io::copy(&mut input, &mut enc).and_then(|_| enc.finish().map(|_| ()))
        }
        Compression::Xz => {
            let mut enc = liblzma::write::XzEncoder::new(&mut out, 9);
            std::io::copy(&mut input, &mut enc).and_then(|_| enc.finish().map(|_| ()))
        }
        Compression::Bz2 => {
            let mut enc = bzip2::write::BzEncoder::new(&mut out, bzip2::Compression::best());
            std::io::copy(&mut input, &mut enc).and_then(|_| enc.finish().map(|_| ()))
        }
    };
    copied.and_then(|_| out.flush()).map_err(io(to))?;
    let out = out
        .into_inner()
        .map_err(|e| crate::Error::io(to, e.into_error()))?;
    out.set_permissions(std::fs::Permissions::from_mode(
        meta.permissions().mode() & 0o7777,
    ))
    .map_err(io(to))?;
    let times = std::fs::FileTimes::new()
        .set_accessed(meta.accessed().map_err(io(source))?)
        .set_modified(meta.modified().map_err(io(source))?);
    out.set_times(times).map_err(io(to))
}

/// An entry of a [`bounded_walk`] of `start`: `None`, with a refusal, for
/// one that could not be read. A directory at the depth bound is an entry
/// and a refusal: what is below it was not judged, so nothing may move.
fn walked(
    root: &Path,
    start: &Path,
    e: walkdir::Result<walkdir::DirEntry>,
    refusals: &mut Vec<Refusal>,
) -> Option<walkdir::DirEntry> {
    let e = match e {
        Ok(e) => e,
        Err(err) => {
            let (path, cause) = crate::fsutil::walk_error(err, start);
            refusals.push(Refusal {
                path: inside(root, &path),
                why: format!("cannot read: {cause}"),
            });
            return None;
        }
    };
    if e.file_type().is_dir() && e.depth() == MAX_TREE_DEPTH {
        refusals.push(Refusal {
            path: inside(root, e.path()),
            why: crate::audit::walk::Unwalkable::TooDeep.cause(),
        });
    }
    Some(e)
}

/// A walk of `dir` in name order that follows no symlink and stops
/// [`MAX_TREE_DEPTH`] levels down (a directory there is a refusal).
fn bounded_walk(dir: &Path) -> walkdir::IntoIter {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .max_depth(MAX_TREE_DEPTH)
        .into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_are_parsed_as_importlib_names_them() {
        assert_eq!(
            cache_name("os.cpython-311.pyc"),
            Some(("os", "cpython-311", 0))
        );
        assert_eq!(
            cache_name("os.cpython-311.opt-2.pyc"),
            Some(("os", "cpython-311", 2))
        );
        assert_eq!(cache_name("os.cpython-311.opt-3.pyc"), None);
        assert_eq!(cache_name("os.pyc"), None);
        assert_eq!(cache_name("a.b.cpython-311.pyc"), None);
        assert_eq!(cache_name("os.pypy-73.pyc"), None);
        assert_eq!(cache_name(".cpython-311.pyc"), None);
    }

    #[test]
    fn pysources_names_carry_their_compression() {
        assert_eq!(pysources_name("os.py"), Some(("os", Compression::None)));
        assert_eq!(pysources_name("os.py.gz"), Some(("os", Compression::Gz)));
        assert_eq!(pysources_name("os.py.xz"), Some(("os", Compression::Xz)));
        assert_eq!(pysources_name("os.py.bz2"), Some(("os", Compression::Bz2)));
        assert_eq!(pysources_name(".py.gz"), None);
        assert_eq!(pysources_name("os.txt"), None);
    }
}
