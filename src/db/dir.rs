//! Directory trees as manifests.
//!
//! A tree unpacked somewhere (a container layer, a reference install) can
//! stand for "what should be there": every entry in it becomes a
//! [`FileEntry`] as if the directory were `/`, with its full `st_mode`,
//! owner, mtime, link target, and for regular files size and SHA-256.
//!
//! The walk never follows symlinks (a link pointing out of the tree is
//! recorded, not entered) and opens files only through
//! [`fsutil::open_regular`], so a FIFO or device node in the tree is listed
//! but never opened. A file replaced between the walk and the hashing (a
//! different inode) is an error, as is any entry that cannot be read: a
//! manifest with silently missing digests would let changed content pass.
//! Owner *names* are left out: the host's user database is not the tree's.
//!
//! The walk itself is sequential (`walkdir`, iterative, bounded at
//! [`MAX_TREE_DEPTH`]: a deeper directory is an error naming it): on a warm cache it costs what
//! `find` costs, and the `ignore` crate's parallel walker measured no faster
//! on `/usr` here; only the hashing runs in parallel.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::digest::Algo;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::limits::MAX_TREE_DEPTH;
use crate::manifest::{Backend, FileEntry, FileKind, Manifest, Package, Source};

/// The version every directory package gets: a tree has none.
const DIRECTORY_VERSION: &str = "0";

/// One walked entry: where it is on the host, and which inode it was.
struct Walked {
    host: PathBuf,
    dev: u64,
    ino: u64,
    entry: FileEntry,
}

/// Walks `dir` and records every entry as if `dir` were `/`.
pub fn read(dir: &Path) -> Result<Manifest> {
    let mut walked = walk(dir)?;
    walked.par_iter_mut().try_for_each(hash_if_regular)?;
    Ok(Manifest {
        packages: vec![Package {
            name: package_name(dir)?,
            epoch: None,
            version: DIRECTORY_VERSION.into(),
            release: None,
            arch: None,
            source: Source {
                backend: Backend::Directory,
                file: dir.to_path_buf(),
            },
            install_time: None,
            files: walked.into_iter().map(|w| w.entry).collect(),
        }],
    })
}

/// The directory's own name; `/` for the root.
fn package_name(dir: &Path) -> Result<String> {
    let abs = std::path::absolute(dir).map_err(|e| Error::io(dir, e))?;
    Ok(abs
        .file_name()
        .map_or_else(|| "/".into(), |n| n.to_string_lossy().into_owned()))
}

/// Lists every entry under `dir` (itself included, as `/`), sorted by name
/// within each directory, without following symlinks.
fn walk(dir: &Path) -> Result<Vec<Walked>> {
    let mut out = Vec::new();
    for item in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .max_depth(MAX_TREE_DEPTH)
    {
        let item = item.map_err(|e| {
            let (path, cause) = fsutil::walk_error(e, dir);
            Error::io(path, cause)
        })?;
        let host = item.path().to_path_buf();
        if item.file_type().is_dir() && item.depth() == MAX_TREE_DEPTH {
            // A manifest with a silently unread subtree would let what is
            // below pass.
            let why = crate::audit::walk::Unwalkable::TooDeep.cause();
            return Err(Error::io(host, std::io::Error::other(why)));
        }
        let meta = item.metadata().map_err(|e| Error::io(&host, e.into()))?;
        let rel = host.strip_prefix(dir).unwrap_or(Path::new(""));
        let mut entry = FileEntry::new(Path::new("/").join(rel), FileKind::from_mode(meta.mode()));
        entry.mode = Some(meta.mode());
        entry.uid = Some(meta.uid());
        entry.gid = Some(meta.gid());
        entry.mtime = Some(meta.mtime());
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&host).map_err(|e| Error::io(&host, e))?;
            entry.link = Some(target.into_boxed_path());
        }
        out.push(Walked {
            host,
            dev: meta.dev(),
            ino: meta.ino(),
            entry,
        });
    }
    Ok(out)
}

/// Fills in size and SHA-256 of a regular file, from the same open file.
fn hash_if_regular(w: &mut Walked) -> Result<()> {
    if w.entry.kind != FileKind::File {
        return Ok(());
    }
    let (mut file, meta) = fsutil::open_regular(&w.host)?;
    if (meta.dev(), meta.ino()) != (w.dev, w.ino) {
        return Err(Error::io(
            &w.host,
            std::io::Error::other("replaced by another file during the walk"),
        ));
    }
    let digest = Algo::Sha256
        .hash_reader(&mut file)
        .map_err(|e| Error::io(&w.host, e))?;
    w.entry.size = Some(meta.len());
    w.entry.digest = Some(digest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn small_tree() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/abc"), b"abc").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("out")).unwrap();
        let m = read(d.path()).unwrap();
        let p = &m.packages[0];
        assert_eq!(p.version, "0");
        assert_eq!(p.source.backend, Backend::Directory);
        assert_eq!(
            p.name,
            d.path().file_name().unwrap().to_string_lossy().as_ref()
        );
        let got: Vec<_> = p
            .files
            .iter()
            .map(|f| (f.path.as_os_str().as_bytes().to_vec(), f.kind))
            .collect();
        assert_eq!(
            got,
            [
                (b"/".to_vec(), FileKind::Dir),
                (b"/out".to_vec(), FileKind::Symlink),
                (b"/sub".to_vec(), FileKind::Dir),
                (b"/sub/abc".to_vec(), FileKind::File),
            ]
        );
        assert_eq!(p.files[1].link.as_deref(), Some(Path::new("/etc/passwd")));
        assert_eq!(p.files[1].digest, None);
        assert_eq!(p.files[3].digest, Some(Algo::Sha256.hash_bytes(b"abc")));
        assert_eq!(p.files[3].size, Some(3));
        assert_eq!(p.files[2].size, None);
    }

    #[test]
    fn root_directory_is_named_slash() {
        assert_eq!(package_name(Path::new("/")).unwrap(), "/");
        assert_eq!(package_name(Path::new("/usr/lib/")).unwrap(), "lib");
    }

    #[test]
    fn missing_directory_is_an_io_error_naming_it() {
        let e = read(Path::new("/nonexistent/pyvet-test")).unwrap_err();
        assert!(
            matches!(e, Error::Io { ref path, .. } if path == Path::new("/nonexistent/pyvet-test")),
            "{e}"
        );
    }

    #[test]
    fn a_nest_past_the_depth_bound_is_an_error_naming_where_the_walk_stopped() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/".repeat(MAX_TREE_DEPTH + 2))).unwrap();
        let e = read(d.path()).unwrap_err();
        let bound = d.path().join("a/".repeat(MAX_TREE_DEPTH));
        let bound = bound.to_str().unwrap().trim_end_matches('/');
        assert_eq!(
            e.to_string(),
            format!(
                "{bound}: {}",
                crate::audit::walk::Unwalkable::TooDeep.cause()
            )
        );
    }
}
