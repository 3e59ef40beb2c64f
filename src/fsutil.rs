//! Careful file access for trees pyvet audits.
//!
//! Audited trees may contain FIFOs (opening one blocks forever), device
//! nodes, and symlinks that point out of `--root`. Everything pyvet opens goes
//! through here: opens are non-blocking, never update atime where the kernel
//! allows, refuse anything but regular files, and cap how much is read.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Opens `path` for reading if (and only if) it is a regular file.
///
/// `O_NONBLOCK` makes opening a FIFO return at once, and the `fstat` after
/// opening refuses it before anything is read. `O_NOATIME` is tried first and
/// dropped when the kernel refuses it (it needs file ownership).
pub fn open_regular(path: &Path) -> Result<(File, Metadata)> {
    let open = |extra: i32| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | extra)
            .open(path)
    };
    let file = match open(libc::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(0),
        r => r,
    }
    .map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    Ok((file, meta))
}

/// Opens a regular file for reading no more than `max` bytes, refusing
/// one larger than that: a file that grows while it is read is cut at the
/// limit, never read unbounded. For readers that stream a file.
pub fn open_capped(path: &Path, max: u64) -> Result<(std::io::Take<File>, Metadata)> {
    let (file, meta) = open_regular(path)?;
    if meta.len() > max {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("file is {} bytes, more than the limit of {max}", meta.len()),
            ),
        ));
    }
    Ok((file.take(max), meta))
}

/// Reads a whole regular file, refusing files larger than `max` bytes.
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>> {
    let (mut file, meta) = open_capped(path, max)?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut buf).map_err(|e| Error::io(path, e))?;
    Ok(buf)
}

/// `path` made plain without looking at the disk (`os.path.normpath` of
/// an absolute path): `.` and empty components dropped, `..` climbing,
/// never above `/`.
pub fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The entries of host directory `dir`, each with its `lstat` metadata,
/// sorted by name. The directory is opened with `O_NOATIME` and
/// `O_NOFOLLOW` (`std::fs::read_dir` uses neither: listing a database's
/// directories changed their atimes on a `strictatime` mount).
pub fn list_dir(dir: &Path) -> std::io::Result<Vec<crate::tree::Entry>> {
    let mut entries = crate::tree::fs::list_dir(dir)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Resolves `path` (absolute, as seen from inside `root`) to a host path,
/// following symlinks the way the kernel would inside a chroot at `root`:
/// absolute link targets restart at `root`, and `..` never climbs above it.
///
/// Returns `None` when a component does not exist or links loop.
pub fn resolve_in_root(root: &Path, path: &Path) -> Option<PathBuf> {
    let resolved = crate::tree::resolve_with(path, |candidate| {
        crate::tree::fs::host_link(&crate::manifest::under_root(root, candidate), path)
    })
    .ok()?;
    Some(crate::manifest::under_root(root, &resolved))
}

/// A `walkdir` error as the path it happened at and its cause alone: its
/// own Display names the path too, so wrapping it in a path-naming error
/// said the path twice.
pub fn walk_error(e: walkdir::Error, start: &Path) -> (PathBuf, std::io::Error) {
    let path = e.path().unwrap_or(start).to_path_buf();
    let text = e.to_string();
    let cause = e
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other(text));
    (path, cause)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn fifo_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fifo");
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = read_capped(&p, 100).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn oversized_file_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big");
        std::fs::write(&p, [0u8; 100]).unwrap();
        assert!(read_capped(&p, 99).is_err());
        assert_eq!(read_capped(&p, 100).unwrap().len(), 100);
    }

    #[test]
    fn absolute_symlink_stays_inside_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("usr/lib/sysimage/rpm")).unwrap();
        std::fs::create_dir_all(root.join("var/lib")).unwrap();
        symlink("/usr/lib/sysimage/rpm", root.join("var/lib/rpm")).unwrap();
        symlink("../../../../../etc", root.join("var/lib/escape")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/var/lib/rpm")).unwrap(),
            root.join("usr/lib/sysimage/rpm")
        );
        // `..` stops at the root: /etc inside the root, which does not exist.
        assert!(resolve_in_root(root, Path::new("/var/lib/escape")).is_none());
        std::fs::create_dir(root.join("etc")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/var/lib/escape")).unwrap(),
            root.join("etc")
        );
    }

    #[test]
    fn symlink_loop_gives_none() {
        let d = tempfile::tempdir().unwrap();
        symlink("/b", d.path().join("a")).unwrap();
        symlink("/a", d.path().join("b")).unwrap();
        assert!(resolve_in_root(d.path(), Path::new("/a")).is_none());
    }
}
