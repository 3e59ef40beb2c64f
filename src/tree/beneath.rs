//! Opening tree paths relative to the root's directory descriptor, so that
//! no symlink is crossed on the way, not even one swapped in mid-audit.
//!
//! [`super::FsTree`] resolves in-root symlinks by hand into paths that have
//! none. Opening such a path by its host name (`ROOT/usr/lib/...`) would let
//! the kernel follow a symlink that an attacker exchanged for a directory
//! between the resolution and the open (`renameat2(RENAME_EXCHANGE)` in a
//! loop), and the audit would list host files as the tree's. Here every
//! component is looked up beneath the root's descriptor with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`: a symlink anywhere
//! fails the open with `ELOOP` instead. Kernels older than 5.6 have no
//! `openat2`; there each directory is opened with `openat(O_NOFOLLOW)`
//! relative to the one before, which keeps the same promise at one system
//! call per component.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once `openat2` answered `ENOSYS`: from then on, the component walk.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// The root directory of a tree, held open.
#[derive(Debug)]
pub(crate) struct Beneath {
    root: OwnedFd,
}

impl Beneath {
    /// Opens `root` (following symlinks: the root itself is what the user
    /// named) as an `O_PATH` descriptor.
    pub fn open_root(root: &Path) -> io::Result<Beneath> {
        let c = cstring(root.as_os_str())?;
        // SAFETY: `c` is a valid NUL-terminated path.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        owned(fd).map(|root| Beneath { root })
    }

    /// A second handle on the same root, for another thread to own.
    pub fn try_clone(&self) -> io::Result<Beneath> {
        Ok(Beneath {
            root: self.root.try_clone()?,
        })
    }

    /// Opens `resolved`, an absolute tree path with no symlink component
    /// (`/` is the root itself), with `flags` (`O_CLOEXEC` is added). A
    /// symlink at any component, the last included, is `ELOOP`.
    pub fn open(&self, resolved: &Path, flags: i32) -> io::Result<OwnedFd> {
        let rel = relative(resolved)?;
        if !NO_OPENAT2.load(Ordering::Relaxed) {
            match openat2(self.root.as_raw_fd(), &rel, flags) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    NO_OPENAT2.store(true, Ordering::Relaxed);
                }
                r => return r,
            }
        }
        self.open_by_components(resolved, flags)
    }

    /// The parent directory of `resolved` as an `O_PATH` descriptor, and the
    /// final name, for the `*at` calls that look at an entry itself
    /// (`fstatat`, `readlinkat`). The root has no parent: `None`.
    pub fn parent(&self, resolved: &Path) -> io::Result<Option<(OwnedFd, CString)>> {
        let (Some(parent), Some(name)) = (resolved.parent(), resolved.file_name()) else {
            return Ok(None);
        };
        let fd = self.open(parent, libc::O_PATH | libc::O_DIRECTORY)?;
        Ok(Some((fd, cstring(name)?)))
    }

    /// Runs an `*at` call on the entry `resolved` itself: `f(dirfd, name)`
    /// with its parent directory's descriptor (the root and `.` for `/`).
    pub fn at<T>(
        &self,
        resolved: &Path,
        f: impl FnOnce(i32, &CStr) -> io::Result<T>,
    ) -> io::Result<T> {
        match self.parent(resolved)? {
            Some((dir, name)) => f(dir.as_raw_fd(), &name),
            None => f(self.root.as_raw_fd(), c"."),
        }
    }

    /// The same lookup without `openat2`: each directory opened with
    /// `O_NOFOLLOW` relative to the one before.
    fn open_by_components(&self, resolved: &Path, flags: i32) -> io::Result<OwnedFd> {
        let names: Vec<&OsStr> = resolved
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        let Some((last, dirs)) = names.split_last() else {
            let dot = c".";
            return openat(self.root.as_raw_fd(), dot, flags);
        };
        let mut dir: Option<OwnedFd> = None;
        for name in dirs {
            let at = dir
                .as_ref()
                .map_or(self.root.as_raw_fd(), |d| d.as_raw_fd());
            let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
            dir = Some(openat(at, &cstring(name)?, flags)?);
        }
        let at = dir
            .as_ref()
            .map_or(self.root.as_raw_fd(), |d| d.as_raw_fd());
        openat(at, &cstring(last)?, flags | libc::O_NOFOLLOW)
    }
}

/// The tree path relative to the root, as `openat2` takes it (`.` for `/`).
/// A `..` is refused: resolved paths have none, and `RESOLVE_BENEATH`
/// would refuse an escape anyway.
fn relative(resolved: &Path) -> io::Result<CString> {
    let mut out: Vec<u8> = Vec::new();
    for c in resolved.components() {
        match c {
            Component::Normal(n) => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(n.as_bytes());
            }
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(io::Error::from_raw_os_error(libc::EXDEV))
            }
        }
    }
    if out.is_empty() {
        out.push(b'.');
    }
    CString::new(out).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `openat2(dirfd, path, {flags | O_CLOEXEC, 0, BENEATH | NO_SYMLINKS})`.
fn openat2(dirfd: i32, path: &CStr, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: open_how is plain integers; all zeros is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `path` is NUL-terminated and `how` a valid open_how of the
    // size passed; the kernel writes nothing through either.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    owned(r as i32)
}

fn openat(dirfd: i32, name: &CStr, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated; `dirfd` is an open descriptor.
    owned(unsafe { libc::openat(dirfd, name.as_ptr(), flags | libc::O_CLOEXEC) })
}

/// A descriptor a system call returned, or its error.
fn owned(fd: i32) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the call succeeded, so `fd` is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn opens(b: &Beneath, p: &str, flags: i32) -> Result<(), Option<i32>> {
        b.open(Path::new(p), flags)
            .map(drop)
            .map_err(|e| e.raw_os_error())
    }

    #[test]
    fn no_symlink_is_crossed_anywhere_on_the_path() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("usr/lib")).unwrap();
        std::fs::write(d.path().join("usr/lib/f"), "x").unwrap();
        symlink("/etc", d.path().join("usr/escape")).unwrap();
        symlink("lib", d.path().join("usr/inside")).unwrap();
        let b = Beneath::open_root(d.path()).unwrap();
        let r = libc::O_RDONLY;
        assert_eq!(opens(&b, "/usr/lib/f", r), Ok(()));
        assert_eq!(opens(&b, "/", r | libc::O_DIRECTORY), Ok(()));
        assert_eq!(opens(&b, "/usr/escape/passwd", r), Err(Some(libc::ELOOP)));
        assert_eq!(opens(&b, "/usr/inside/f", r), Err(Some(libc::ELOOP)));
        assert_eq!(opens(&b, "/usr/inside", r), Err(Some(libc::ELOOP)));
        assert_eq!(opens(&b, "/usr/../etc", r), Err(Some(libc::EXDEV)));
        assert_eq!(opens(&b, "/usr/nothing", r), Err(Some(libc::ENOENT)));
        // The component walk keeps the same promises (a symlinked
        // directory fails `O_DIRECTORY | O_NOFOLLOW` with ENOTDIR).
        for (p, want) in [
            ("/usr/lib/f", Ok(())),
            ("/usr/escape/passwd", Err(Some(libc::ENOTDIR))),
            ("/usr/inside", Err(Some(libc::ELOOP))),
        ] {
            let got = b
                .open_by_components(Path::new(p), r)
                .map(drop)
                .map_err(|e| e.raw_os_error());
            assert_eq!(got, want, "{p}");
        }
    }
}
