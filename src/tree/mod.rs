//! The one narrow interface through which the audit's checks read files.
//!
//! A check never touches the host filesystem: it asks a [`Tree`] for the
//! metadata, directory listings, link targets, extended attributes and
//! contents of paths *as seen inside the audited root* (absolute paths such as
//! `/usr/lib/python3.11/os.py`). [`FsTree`] serves them from a directory on
//! disk (`--root`); [`PackageTree`] serves a `.rpm` or `.deb` payload
//! without installing it; a container image read straight from its layer
//! tarballs would be another implementation, and no check changes for it.
//!
//! Every implementation keeps the promises the audit makes: nothing is
//! written, a symlink is never followed out of the root, a FIFO or device is
//! never opened, and reads are capped.

mod beneath;
pub(crate) mod fs;
pub mod package;
pub(crate) mod prefetch;

pub use fs::{FsTree, HEAD_LEN};
pub use package::PackageTree;
pub use prefetch::PrefetchJob;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What an entry is, as `lstat` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

impl Kind {
    /// Classifies the type bits of an `st_mode`.
    pub fn from_mode(mode: u32) -> Option<Kind> {
        Some(match mode & 0o170000 {
            0o100000 => Kind::File,
            0o040000 => Kind::Dir,
            0o120000 => Kind::Symlink,
            0o010000 => Kind::Fifo,
            0o140000 => Kind::Socket,
            0o020000 => Kind::CharDevice,
            0o060000 => Kind::BlockDevice,
            _ => return None,
        })
    }

    /// FIFOs, sockets and devices: never opened, always reported.
    pub fn is_special(self) -> bool {
        matches!(
            self,
            Kind::Fifo | Kind::Socket | Kind::CharDevice | Kind::BlockDevice
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
            Kind::CharDevice => "char-device",
            Kind::BlockDevice => "block-device",
        }
    }
}

/// The metadata of one entry (never following a final symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Full `st_mode`, type bits included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub ctime: i64,
    /// Device number for character and block devices (`st_rdev`).
    pub rdev: u64,
    pub nlink: u64,
}

/// One name in a directory listing, with its `lstat` metadata.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: OsString,
    pub meta: Meta,
}

/// Why a tree could not answer.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{}: no such file or directory", .0.display())]
    NotFound(PathBuf),
    #[error("{}: not a regular file ({})", .path.display(), .kind.as_str())]
    NotRegular { path: PathBuf, kind: Kind },
    #[error("{}: {} bytes, more than the limit of {max}", .path.display(), .size)]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    /// A package tree holds only the content a caller asked for.
    #[error("{}: content not read from the package", .0.display())]
    NotLoaded(PathBuf),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl TreeError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, TreeError::NotFound(_))
    }

    /// The path (with the tree's root) is longer than the system opens.
    pub fn is_name_too_long(&self) -> bool {
        matches!(self, TreeError::Io { source, .. } if source.raw_os_error() == Some(libc::ENAMETOOLONG))
    }

    pub(crate) fn io(path: &Path, e: std::io::Error) -> TreeError {
        if e.kind() == std::io::ErrorKind::NotFound {
            TreeError::NotFound(path.to_path_buf())
        } else {
            TreeError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    }
}

impl From<TreeError> for crate::Error {
    fn from(e: TreeError) -> Self {
        match e {
            TreeError::Io { path, source } => crate::Error::io(path, source),
            other => crate::Error::Usage(other.to_string()),
        }
    }
}

pub type TreeResult<T> = std::result::Result<T, TreeError>;

/// The first `n` bytes `r` yields; errors name `path`.
pub(crate) fn read_head(r: impl Read, n: usize, path: &Path) -> TreeResult<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    r.take(n as u64)
        .read_to_end(&mut head)
        .map_err(|e| TreeError::io(path, e))?;
    Ok(head)
}

/// Most symlinks followed while resolving one path (the kernel's limit).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Resolves `path` the way the kernel would in a chroot at the tree's root:
/// each component is looked up with `link_of`, which says whether it is a
/// symlink (`Some(target)`) or not (`None`), or fails (it does not exist);
/// an absolute target restarts at `/`, `..` never climbs above it, and more
/// than [`MAX_SYMLINK_HOPS`] links is `ELOOP`. Every tree resolves paths
/// with this one walk.
pub fn resolve_with(
    path: &Path,
    mut link_of: impl FnMut(&Path) -> TreeResult<Option<PathBuf>>,
) -> TreeResult<PathBuf> {
    use std::path::Component;
    let mut pending: Vec<PathBuf> = vec![path.to_path_buf()];
    let mut current = PathBuf::from("/");
    let mut hops = 0;
    while let Some(p) = pending.pop() {
        let comps: Vec<Component> = p.components().collect();
        for (i, c) in comps.iter().enumerate() {
            match c {
                Component::RootDir => current = PathBuf::from("/"),
                Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => {
                    current.pop();
                }
                Component::Normal(n) => {
                    let candidate = current.join(n);
                    let Some(target) = link_of(&candidate)? else {
                        current = candidate;
                        continue;
                    };
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(TreeError::io(
                            path,
                            std::io::Error::from_raw_os_error(libc::ELOOP),
                        ));
                    }
                    let rest: PathBuf = comps[i + 1..].iter().collect();
                    if !rest.as_os_str().is_empty() {
                        pending.push(rest);
                    }
                    pending.push(target);
                    break;
                }
            }
        }
    }
    Ok(current)
}

/// A file's first bytes (at most [`HEAD_LEN`], the longest pyc header) and
/// how many there are: what a tree that read a file whole keeps for the
/// checks that look only at a file's magic or header ([`Tree::head`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Head {
    bytes: [u8; HEAD_LEN],
    len: u8,
}

impl Head {
    /// The first bytes of `data` (of a file that starts with `data`).
    pub fn of(data: &[u8]) -> Head {
        let len = data.len().min(HEAD_LEN);
        let mut bytes = [0u8; HEAD_LEN];
        bytes[..len].copy_from_slice(&data[..len]);
        Head {
            bytes,
            len: len as u8,
        }
    }

    /// The first `n` bytes, or `None` when more were asked than are kept.
    pub fn get(&self, n: usize) -> Option<&[u8]> {
        let len = usize::from(self.len);
        (n <= HEAD_LEN).then(|| &self.bytes[..n.min(len)])
    }
}

/// A read-only view of a root filesystem. Paths are absolute and inside
/// the tree (`/usr/lib/...`); `..` never climbs above its `/`.
pub trait Tree: Sync {
    /// How the tree is named in reports (`/`, `/mnt/image`, `image.tar`).
    fn label(&self) -> String;

    /// `lstat`: never follows a final symlink.
    fn lstat(&self, path: &Path) -> TreeResult<Meta>;

    /// `stat`: follows symlinks, resolved inside the tree.
    fn stat(&self, path: &Path) -> TreeResult<Meta> {
        let resolved = self.resolve(path)?;
        self.lstat(&resolved)
    }

    /// The target of a symlink, as stored.
    fn read_link(&self, path: &Path) -> TreeResult<PathBuf>;

    /// The entries of a directory (not following a final symlink), sorted
    /// by name.
    fn read_dir(&self, path: &Path) -> TreeResult<Vec<Entry>>;

    /// An extended attribute (`security.selinux`, `security.capability`),
    /// `None` where there is none or the tree cannot have them.
    fn xattr(&self, path: &Path, name: &str) -> Option<Vec<u8>>;

    /// Opens a regular file for reading (never a FIFO or device; a final
    /// symlink is not followed). Also returns its metadata.
    fn open(&self, path: &Path) -> TreeResult<(Box<dyn Read + Send + '_>, Meta)>;

    /// Resolves every symlink in `path` the way the kernel would in a chroot
    /// at the tree's root. The result has no symlink component.
    fn resolve(&self, path: &Path) -> TreeResult<PathBuf>;

    /// Reads a whole regular file, refusing one larger than `max`.
    fn read(&self, path: &Path, max: u64) -> TreeResult<Vec<u8>> {
        let (r, meta) = self.open(path)?;
        if meta.size > max {
            return Err(TreeError::TooLarge {
                path: path.to_path_buf(),
                size: meta.size,
                max,
            });
        }
        let mut buf = Vec::with_capacity(meta.size as usize);
        // A file that grows while it is read is cut at the limit.
        r.take(max)
            .read_to_end(&mut buf)
            .map_err(|e| TreeError::io(path, e))?;
        Ok(buf)
    }

    /// The first bytes of a regular file (at most `n`; a final symlink is
    /// not followed): a pyc's header. A tree that already read the file
    /// (to hash it) may answer from what it kept.
    fn head(&self, path: &Path, n: usize) -> TreeResult<Vec<u8>> {
        let (r, _) = self.open(path)?;
        read_head(r, n, path)
    }

    /// The container image layer that introduced `path` (or removed it), for
    /// trees read from an image; `None` for any other tree.
    fn origin(&self, _path: &Path) -> Option<crate::audit::finding::LayerFacts> {
        None
    }

    /// Says which files [`Tree::digest`] will be asked for, so that a tree
    /// that can may start hashing them at once, beside whatever the
    /// caller does next. Nothing else changes: `digest` answers as it
    /// would have. Trees that cannot work ahead ignore it.
    fn prefetch(&self, _jobs: Vec<PrefetchJob>) {}

    /// Hashes a regular file, streaming.
    fn digest(
        &self,
        path: &Path,
        algo: crate::digest::Algo,
    ) -> TreeResult<(crate::digest::Digest, Meta)> {
        let (mut r, meta) = self.open(path)?;
        let d = algo
            .hash_reader(&mut r)
            .map_err(|e| TreeError::io(path, e))?;
        Ok((d, meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_mode() {
        assert_eq!(Kind::from_mode(0o100644), Some(Kind::File));
        assert_eq!(Kind::from_mode(0o010644), Some(Kind::Fifo));
        assert!(Kind::from_mode(0o010644).unwrap().is_special());
        assert_eq!(Kind::from_mode(0), None);
    }
}
