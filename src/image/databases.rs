//! Package databases of an image, read with the ordinary database readers.
//!
//! The readers need files (SQLite cannot read an rpmdb from memory), so the
//! databases, and only they, are copied out of the image into a private
//! temporary directory (mode 0700, removed afterwards) laid out as in the
//! image, symlinks included, so that `db::load_root` finds them exactly as
//! it would under `--root`. Paths the manifest reports are then made paths
//! inside the image again.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

use super::ImageTree;
use crate::db::{self, DbSelect, LoadOptions};
use crate::limits::MAX_INPUT_FILE;
use crate::manifest::Manifest;
use crate::tree::{Kind, Tree};

/// Where package managers keep their databases, as paths inside a root.
const DB_PATHS: [&str; 5] = [
    "/usr/lib/sysimage/rpm",
    "/var/lib/rpm",
    "/var/lib/dpkg",
    "/lib/apk/db/installed",
    "/usr/lib/apk/db/installed",
];
/// Deepest directory copied below a database location.
const MAX_DEPTH: usize = 4;

/// Loads every database of the image (as `load_root` does under a root)
/// plus `extra` inputs. Errors are returned as text naming image paths.
pub fn load_manifest(
    tree: &ImageTree,
    select: DbSelect,
    opts: LoadOptions,
    extra: &[PathBuf],
) -> crate::Result<(Manifest, Vec<String>)> {
    let dir = tempfile::Builder::new()
        .prefix("pyvet-image-")
        .tempdir()
        .map_err(|e| crate::Error::io(std::env::temp_dir(), e))?;
    let root = dir.path();
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| crate::Error::io(root, e))?;
    let mut copy = Copy {
        tree,
        root,
        depth: 0,
    };
    for p in DB_PATHS {
        copy.path(Path::new(p), true);
    }
    for record in tree.paths().filter(|p| is_record(p)) {
        copy.path(&record, true);
    }
    let db::Loaded {
        mut manifest,
        errors,
        ..
    } = db::load(root, select, extra, opts);
    for p in &mut manifest.packages {
        if let Ok(rest) = p.source.file.strip_prefix(root) {
            p.source.file = Path::new("/").join(rest);
        }
    }
    let shown = root.display().to_string();
    let errors = errors
        .iter()
        .map(|e| e.to_string().replace(&shown, ""))
        .collect();
    Ok((manifest, errors))
}

/// A pip `RECORD` where `load_root` looks for them.
fn is_record(p: &Path) -> bool {
    let parent = p.parent().and_then(Path::file_name).map(OsStr::as_bytes);
    let site = p
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .map(OsStr::as_bytes);
    p.file_name() == Some(OsStr::new("RECORD"))
        && parent.is_some_and(|n| n.ends_with(b".dist-info"))
        && matches!(site, Some(b"site-packages" | b"dist-packages"))
}

struct Copy<'a> {
    tree: &'a ImageTree,
    root: &'a Path,
    /// Symlinks followed so far (a cycle of links ends here).
    depth: usize,
}

/// A link target from directory `from` to `to` (both absolute inside the
/// image, `from` free of symlinks) that cannot leave the copy: one `..` per
/// component of `from`, then `to` from the root.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let ups = from
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    let mut p = PathBuf::new();
    for _ in 0..ups {
        p.push("..");
    }
    p.push(to.strip_prefix("/").unwrap_or(to));
    if p.as_os_str().is_empty() {
        p.push(".");
    }
    p
}

impl Copy<'_> {
    fn host(&self, path: &Path) -> PathBuf {
        crate::manifest::under_root(self.root, path)
    }

    /// Copies `path` and, when `whole`, everything below it. A symlink on
    /// the way is recreated (so that `load_root` sees `/var/lib/rpm` and
    /// `/usr/lib/sysimage/rpm` as one database) with a relative target that
    /// stays inside the copy, and the walk goes on at the link's target
    /// resolved inside the image: nothing is ever written through a link.
    fn path(&mut self, path: &Path, whole: bool) {
        let mut current = PathBuf::from("/");
        let comps: Vec<Component> = path.components().collect();
        for (i, c) in comps.iter().enumerate() {
            let Component::Normal(n) = c else { continue };
            let parent = current.clone();
            current.push(n);
            let Ok(meta) = self.tree.lstat(&current) else {
                return;
            };
            let last = i + 1 == comps.len();
            match meta.kind {
                Kind::Dir => {
                    self.mkdir(&current);
                    if last && whole {
                        self.below(&current, 0);
                    }
                }
                Kind::Symlink => {
                    let Ok(resolved) = self.tree.resolve(&current) else {
                        return;
                    };
                    if resolved.starts_with(&current) || self.depth > MAX_DEPTH {
                        return;
                    }
                    let _ = std::os::unix::fs::symlink(
                        relative(&parent, &resolved),
                        self.host(&current),
                    );
                    self.depth += 1;
                    self.path(&resolved, last && whole);
                    self.depth -= 1;
                    current = resolved;
                }
                Kind::File if last => self.file(&current),
                _ => return,
            }
        }
    }

    fn mkdir(&self, dir: &Path) {
        let _ = std::fs::DirBuilder::new()
            .mode(0o700)
            .create(self.host(dir));
    }

    /// Copies a directory's content; a symlink in it is copied as the file
    /// it names inside the image (never as a link the host would follow).
    fn below(&mut self, dir: &Path, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let Ok(entries) = self.tree.read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = dir.join(&e.name);
            match e.meta.kind {
                Kind::Dir => {
                    self.mkdir(&p);
                    self.below(&p, depth + 1);
                }
                Kind::File => self.file(&p),
                Kind::Symlink if self.tree.stat(&p).is_ok_and(|m| m.kind == Kind::File) => {
                    self.file(&p)
                }
                _ => {}
            }
        }
    }

    /// Writes a file of the image (a final symlink followed inside the
    /// image) at its path; `create_new` never follows an existing link.
    fn file(&mut self, path: &Path) {
        let Ok(real) = self.tree.resolve(path) else {
            return;
        };
        let Ok(data) = self.tree.read(&real, MAX_INPUT_FILE) else {
            return;
        };
        let host = self.host(path);
        if let Ok(mut f) = std::fs::File::create_new(&host) {
            let _ = f.write_all(&data);
        }
    }
}
