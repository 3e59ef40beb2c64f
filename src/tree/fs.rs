//! [`FsTree`]: a root directory on disk (`--root DIR`, or `/`).
//!
//! Tree paths are resolved inside the root the way the kernel resolves them
//! in a chroot at it: a symlink in a parent directory is followed, an
//! absolute target restarts at the root and `..` stops there. A final
//! symlink is never followed by `lstat`, `open` or `xattr`. Resolved parent
//! directories are cached, so the cost per file is one `lstat` and, for
//! files that are read, one `open`.
//!
//! Lookups of resolved paths are made beneath the root's descriptor and
//! cross no symlink at all (`beneath`): a directory swapped for a link
//! while the audit runs fails the lookup, and is never followed out of the
//! root. `lgetxattr` alone still goes by host path (no `*at` form reads
//! the attributes of an entry itself); it reads attributes, never content.
//! An owned file hashed ahead (`prefetch`) has its capabilities read from
//! the descriptor its hashing opened.

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use super::beneath::Beneath;
use super::prefetch::{Prefetch, PrefetchJob};
use super::{Entry, Head, Kind, Meta, Tree, TreeError, TreeResult};

/// A directory on disk seen as a root filesystem.
pub struct FsTree {
    root: PathBuf,
    /// The root held open: every lookup is made beneath it, crossing no
    /// symlink (see `beneath`); the error it failed with, if it did.
    beneath: Result<Beneath, i32>,
    /// Tree directory → the same directory with every symlink resolved.
    resolved: RwLock<ByBytes<PathBuf>>,
    /// What listing a directory found for each of its entries: the audit
    /// walks every tree first, and its checks then ask for the same
    /// metadata again (a second `lstat` per file, a third for a pyc's
    /// source). The tree is audited as one snapshot.
    listed: RwLock<ByBytes<Listed>>,
    /// Owned files being hashed ahead ([`Tree::prefetch`]).
    prefetch: OnceLock<Arc<Prefetch>>,
}

/// A cache keyed by tree paths, hashed and compared as bytes: hashing a
/// `Path` parses its components, which cost more than the lookup it
/// served. Paths spelt differently (`a//b`) only miss the cache.
type ByBytes<V> = HashMap<OsString, V, foldhash::fast::RandomState>;

/// How many leading bytes of a hashed file are kept: the longest pyc header
/// (PEP 552's), which the bytecode check reads after the owned check hashed
/// the file.
pub const HEAD_LEN: usize = crate::bytecode::magic::HeaderLayout::Pep552.size();

/// Longest tree path whose directories are cached as they resolve: the
/// kernel looks up no longer path (`PATH_MAX`), so past it only the plain
/// walk runs, and it fails as the lookup would.
const MAX_CACHED_PATH: usize = libc::PATH_MAX as usize;

/// What the tree learnt about a listed entry.
struct Listed {
    meta: Meta,
    /// The first bytes, once the file was read whole to hash it.
    head: OnceLock<Head>,
}

impl FsTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let beneath = Beneath::open_root(&root).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO));
        FsTree {
            root,
            beneath,
            resolved: RwLock::new(ByBytes::default()),
            listed: RwLock::new(ByBytes::default()),
            prefetch: OnceLock::new(),
        }
    }

    /// The root directory on the host.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The open root, or why it could not be opened.
    fn beneath(&self) -> std::io::Result<&Beneath> {
        self.beneath
            .as_ref()
            .map_err(|&e| std::io::Error::from_raw_os_error(e))
    }

    /// `path` with its parent directory resolved and its final name kept:
    /// a tree path with no symlink before its last component.
    fn nofollow(&self, path: &Path) -> TreeResult<PathBuf> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok(PathBuf::from("/"));
        };
        Ok(self.resolve_dir(parent)?.join(name))
    }

    /// `lstat` of a resolved path, beneath the root.
    fn lstat_resolved(&self, resolved: &Path) -> std::io::Result<Meta> {
        self.beneath()?.at(resolved, lstat_at)
    }

    /// `readlink` of a resolved path, beneath the root.
    fn readlink_resolved(&self, resolved: &Path) -> std::io::Result<PathBuf> {
        self.beneath()?.at(resolved, |dir, name| {
            let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
            // SAFETY: `buf` has the length passed; `name` is NUL-terminated.
            let n =
                unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            buf.truncate(n as usize);
            Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
        })
    }

    /// Opens a resolved path beneath the root, without touching its atime
    /// where the kernel allows (`O_NOATIME` needs ownership, else `EPERM`).
    fn open_resolved(&self, resolved: &Path, flags: i32) -> std::io::Result<File> {
        let b = self.beneath()?;
        let fd = match b.open(resolved, flags | libc::O_NOATIME) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => b.open(resolved, flags)?,
            r => r?,
        };
        Ok(File::from(fd))
    }

    /// The host path of a tree path that has no symlink component.
    fn host(&self, resolved: &Path) -> PathBuf {
        crate::manifest::under_root(&self.root, resolved)
    }

    /// The host path of `path`, its parent resolved, its final name kept.
    fn host_nofollow(&self, path: &Path) -> TreeResult<PathBuf> {
        Ok(self.host(&self.nofollow(path)?))
    }

    /// [`Tree::resolve`] of a directory, cached: each directory is resolved
    /// once, from its parent's resolution and one look at its own entry.
    /// The walk starts at the deepest ancestor already resolved (a walk
    /// listing a directory has resolved its parent: one lookup, where
    /// asking for every ancestor made a nest's walk cubic) and goes down
    /// iteratively (a hostile manifest path of thousands of components
    /// costs a loop, not a deep recursion); only directories that resolved
    /// are cached.
    fn resolve_dir(&self, dir: &Path) -> TreeResult<PathBuf> {
        use std::path::Component;
        let cached = |p: &Path| {
            self.resolved
                .read()
                .expect("lock")
                .get(p.as_os_str())
                .cloned()
        };
        if let Some(r) = cached(dir) {
            return Ok(r);
        }
        let mut names = dir.components();
        let plain = names.next() == Some(Component::RootDir)
            && names.all(|c| matches!(c, Component::Normal(_)))
            && dir.as_os_str().len() <= MAX_CACHED_PATH;
        if !plain {
            return self.resolve_uncached(dir);
        }
        let (mut asked, mut current) = dir
            .ancestors()
            .skip(1)
            .find_map(|a| Some((a.to_path_buf(), cached(a)?)))
            .unwrap_or_else(|| (PathBuf::from("/"), PathBuf::from("/")));
        let done = asked.components().count();
        for name in dir.components().skip(done) {
            asked.push(name);
            current = self.follow(current.join(name), dir)?;
            self.resolved
                .write()
                .expect("lock")
                .insert(asked.clone().into_os_string(), current.clone());
        }
        Ok(current)
    }

    /// Walks `path` component by component on the host, following symlinks
    /// inside the root.
    fn resolve_uncached(&self, path: &Path) -> TreeResult<PathBuf> {
        super::resolve_with(path, |candidate| self.link_of(candidate, path))
    }

    /// `candidate` (its parents resolved) resolved: itself, or where it
    /// leads if it is a symlink. Errors name `asked`.
    fn follow(&self, candidate: PathBuf, asked: &Path) -> TreeResult<PathBuf> {
        match self.link_of(&candidate, asked)? {
            None => Ok(candidate),
            Some(_) => self
                .resolve_uncached(&candidate)
                .map_err(|e| naming(e, asked)),
        }
    }

    /// Whether `resolved` (a tree path without symlinked parents) is a
    /// symlink, and its target. An entry the walk listed as anything else
    /// needs no second look. Errors name `asked`.
    fn link_of(&self, resolved: &Path, asked: &Path) -> TreeResult<Option<PathBuf>> {
        match self.listed.read().expect("lock").get(resolved.as_os_str()) {
            Some(l) if l.meta.kind != Kind::Symlink => return Ok(None),
            _ => {}
        }
        let meta = self
            .lstat_resolved(resolved)
            .map_err(|e| TreeError::io(asked, e))?;
        if meta.kind != Kind::Symlink {
            return Ok(None);
        }
        self.readlink_resolved(resolved)
            .map(Some)
            .map_err(|e| TreeError::io(asked, e))
    }
}

/// `e` naming `path` (the path a caller asked about) instead of the
/// directory or link target it was found at.
fn naming(e: TreeError, path: &Path) -> TreeError {
    match e {
        TreeError::NotFound(_) => TreeError::NotFound(path.to_path_buf()),
        TreeError::Io { source, .. } => TreeError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    }
}

/// Whether the host file `host` is a symlink, and its target; errors name
/// `path`, the tree path being resolved.
pub(crate) fn host_link(host: &Path, path: &Path) -> TreeResult<Option<PathBuf>> {
    let meta = std::fs::symlink_metadata(host).map_err(|e| TreeError::io(path, e))?;
    if !meta.file_type().is_symlink() {
        return Ok(None);
    }
    std::fs::read_link(host)
        .map(Some)
        .map_err(|e| TreeError::io(path, e))
}

/// Converts `std::fs::Metadata` (from `lstat` or `fstat`).
pub(crate) fn meta_from(m: &std::fs::Metadata) -> Meta {
    let mode = m.mode();
    Meta {
        // A type the kernel never reports is read as a file so it is
        // still checked; `mode` keeps the truth.
        kind: Kind::from_mode(mode).unwrap_or(Kind::File),
        mode,
        uid: m.uid(),
        gid: m.gid(),
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
        ctime: m.ctime(),
        rdev: m.rdev(),
        nlink: m.nlink(),
    }
}

impl FsTree {
    /// Opens a regular file (see [`Tree::open`]).
    ///
    /// The entry is `lstat`ed first (from the walk's listing where it has
    /// one), so that a FIFO or device is refused without being opened:
    /// opening a FIFO, even with `O_NONBLOCK`, releases a writer blocked
    /// in `open(2)`. Whatever replaces the entry between the two calls is
    /// still refused after `fstat`, and `O_NONBLOCK` keeps that open from
    /// hanging.
    fn open_file(&self, path: &Path) -> TreeResult<(File, Meta)> {
        let kind = self.lstat(path)?.kind;
        if kind != Kind::File {
            return Err(TreeError::NotRegular {
                path: path.to_path_buf(),
                kind,
            });
        }
        let resolved = self.nofollow(path)?;
        let file = self
            .open_resolved(&resolved, libc::O_RDONLY | libc::O_NONBLOCK)
            .map_err(|e| TreeError::io(path, e))?;
        let m = file.metadata().map_err(|e| TreeError::io(path, e))?;
        let meta = meta_from(&m);
        if meta.kind != Kind::File {
            return Err(TreeError::NotRegular {
                path: path.to_path_buf(),
                kind: meta.kind,
            });
        }
        Ok((file, meta))
    }
}

impl Tree for FsTree {
    fn label(&self) -> String {
        self.root.display().to_string()
    }

    fn lstat(&self, path: &Path) -> TreeResult<Meta> {
        if let Some(l) = self.listed.read().expect("lock").get(path.as_os_str()) {
            return Ok(l.meta);
        }
        let resolved = self.nofollow(path)?;
        self.lstat_resolved(&resolved)
            .map_err(|e| TreeError::io(path, e))
    }

    fn read_link(&self, path: &Path) -> TreeResult<PathBuf> {
        let resolved = self.nofollow(path)?;
        self.readlink_resolved(&resolved)
            .map_err(|e| TreeError::io(path, e))
    }

    fn read_dir(&self, path: &Path) -> TreeResult<Vec<Entry>> {
        let dir = self.resolve_dir(path)?;
        let mut out = self
            .open_resolved(&dir, libc::O_RDONLY | libc::O_DIRECTORY)
            .and_then(|f| Dir::new(f)?.entries())
            .map_err(|e| TreeError::io(path, e))?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        let mut listed = self.listed.write().expect("lock");
        for e in &out {
            let head = OnceLock::new();
            listed.insert(
                path.join(&e.name).into_os_string(),
                Listed { meta: e.meta, head },
            );
        }
        Ok(out)
    }

    fn xattr(&self, path: &Path, name: &str) -> Option<Vec<u8>> {
        if name == "security.capability" {
            if let Some(h) = self.prefetch.get().and_then(|p| p.finished(path)) {
                return h.caps.clone();
            }
        }
        let host = self.host_nofollow(path).ok()?;
        lgetxattr(&host, name)
    }

    fn open(&self, path: &Path) -> TreeResult<(Box<dyn Read + Send + '_>, Meta)> {
        let (file, meta) = self.open_file(path)?;
        Ok((Box::new(file), meta))
    }

    fn head(&self, path: &Path, n: usize) -> TreeResult<Vec<u8>> {
        if let Some(l) = self.listed.read().expect("lock").get(path.as_os_str()) {
            if let Some(bytes) = l.head.get().and_then(|h| h.get(n)) {
                return Ok(bytes.to_vec());
            }
        }
        let prefetched = self.prefetch.get().and_then(|p| p.hashed(path));
        if let Some(bytes) = prefetched.and_then(|h| h.head.get(n)) {
            return Ok(bytes.to_vec());
        }
        let (file, _) = self.open_file(path)?;
        super::read_head(file, n, path)
    }

    /// Starts hashing `jobs` on threads of their own, one per core: see
    /// the `prefetch` module. Asked twice, the second list is ignored.
    fn prefetch(&self, jobs: Vec<PrefetchJob>) {
        if self.prefetch.get().is_some() || jobs.is_empty() {
            return;
        }
        let Ok(beneath) = self.beneath().and_then(Beneath::try_clone) else {
            return;
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let p = Prefetch::start(beneath, jobs, threads);
        let _ = self.prefetch.set(p);
    }

    /// Hashes a file in as few system calls as its size allows, keeping
    /// its first bytes for [`Tree::head`].
    fn digest(
        &self,
        path: &Path,
        algo: crate::digest::Algo,
    ) -> TreeResult<(crate::digest::Digest, Meta)> {
        if let Some(h) = self.prefetch.get().and_then(|p| p.take(path, algo)) {
            return Ok((h.digest.clone(), h.meta));
        }
        let (mut file, meta) = self.open_file(path)?;
        let mut head = [0u8; HEAD_LEN];
        let (d, n) = algo
            .hash_stream(&mut file, Some(meta.size), &mut head)
            .map_err(|e| TreeError::io(path, e))?;
        if let Some(l) = self.listed.read().expect("lock").get(path.as_os_str()) {
            // Kept as this read saw the file, which is what reading the
            // head again would see (a file replaced since keeps the first).
            let _ = l.head.set(Head::of(&head[..n]));
        }
        Ok((d, meta))
    }

    /// The parent comes from the cache of resolved directories, so only a
    /// final symlink costs a walk (a path of a package outside the walked
    /// trees used to cost one `lstat` per component).
    fn resolve(&self, path: &Path) -> TreeResult<PathBuf> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return self.resolve_uncached(path);
        };
        let parent = self.resolve_dir(parent).map_err(|e| naming(e, path))?;
        self.follow(parent.join(name), path)
    }
}

/// Lists a directory opened with `O_NOATIME` (so listing never changes
/// the directory's atime where the kernel allows), each entry `fstatat`ed
/// relative to it without following symlinks.
pub(crate) fn list_dir(host: &Path) -> std::io::Result<Vec<Entry>> {
    let open = |extra: i32| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC | extra)
            .open(host)
    };
    let file = match open(libc::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(0)?,
        r => r?,
    };
    Dir::new(file)?.entries()
}

/// A `DIR *` that is closed when dropped.
struct Dir(std::ptr::NonNull<libc::DIR>);

impl Dir {
    fn new(file: File) -> std::io::Result<Dir> {
        use std::os::fd::IntoRawFd;
        let fd = file.into_raw_fd();
        // SAFETY: `fd` is an open directory descriptor we own; on success
        // the DIR owns it, on failure we close it.
        let dir = unsafe { libc::fdopendir(fd) };
        match std::ptr::NonNull::new(dir) {
            Some(d) => Ok(Dir(d)),
            None => {
                let e = std::io::Error::last_os_error();
                // SAFETY: fdopendir failed, so `fd` is still ours to close.
                unsafe { libc::close(fd) };
                Err(e)
            }
        }
    }

    fn entries(&self) -> std::io::Result<Vec<Entry>> {
        // SAFETY: the DIR is open for the life of `self`.
        let fd = unsafe { libc::dirfd(self.0.as_ptr()) };
        let mut out = Vec::new();
        loop {
            // readdir returns NULL at the end and on error; errno tells which.
            // SAFETY: errno is thread-local; the DIR is valid.
            unsafe { *libc::__errno_location() = 0 };
            let ent = unsafe { libc::readdir64(self.0.as_ptr()) };
            if ent.is_null() {
                let e = std::io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(0) | None => Ok(out),
                    _ => Err(e),
                };
            }
            // SAFETY: d_name is NUL-terminated within the dirent readdir returned.
            let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            let meta = match lstat_at(fd, name) {
                Ok(m) => m,
                // Gone between readdir and fstatat: it is not there any more.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            out.push(Entry {
                name: OsStr::from_bytes(name.to_bytes()).to_os_string(),
                meta,
            });
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: the DIR was opened by fdopendir and is closed once.
        unsafe { libc::closedir(self.0.as_ptr()) };
    }
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: the entry itself.
pub(crate) fn lstat_at(dir: i32, name: &std::ffi::CStr) -> std::io::Result<Meta> {
    let mut st = std::mem::MaybeUninit::<libc::stat64>::uninit();
    // SAFETY: `dir` is open, `name` NUL-terminated, `st` writable.
    let r = unsafe {
        libc::fstatat64(
            dir,
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fstatat succeeded, so `st` is initialised.
    Ok(meta_from_stat(&unsafe { st.assume_init() }))
}

/// Converts a raw `stat64`.
fn meta_from_stat(st: &libc::stat64) -> Meta {
    let mode = st.st_mode;
    Meta {
        kind: Kind::from_mode(mode).unwrap_or(Kind::File),
        mode,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u64,
        mtime: st.st_mtime,
        mtime_nsec: st.st_mtime_nsec,
        ctime: st.st_ctime,
        rdev: st.st_rdev,
        nlink: st.st_nlink,
    }
}

/// `lgetxattr(2)`: the attribute of the entry itself, never of a link target.
fn lgetxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = CString::new(OsStr::new(name).as_bytes()).ok()?;
    // SAFETY: both strings are NUL-terminated and `buf` is valid for its length.
    read_xattr(|buf| unsafe {
        libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
    })
}

/// An extended attribute read by `get` (one of the `getxattr(2)` calls
/// into the buffer it is given), `None` where there is none. Most files
/// have none and most attributes are short: the first try uses the stack,
/// and a buffer found too small (`ERANGE`) grows up to 64 KiB, the
/// kernel's limit for a value.
pub(crate) fn read_xattr(mut get: impl FnMut(&mut [u8]) -> libc::ssize_t) -> Option<Vec<u8>> {
    let mut small = [0u8; 64];
    let mut r = get(&mut small);
    if r >= 0 {
        return Some(small[..r as usize].to_vec());
    }
    let mut buf = vec![0u8; 256];
    while std::io::Error::last_os_error().raw_os_error() == Some(libc::ERANGE)
        && buf.len() <= 1 << 16
    {
        r = get(&mut buf);
        if r >= 0 {
            buf.truncate(r as usize);
            return Some(buf);
        }
        buf.resize(buf.len() * 4, 0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, FsTree) {
        let d = tempfile::tempdir().unwrap();
        let t = FsTree::new(d.path());
        (d, t)
    }

    #[test]
    fn parent_symlinks_resolve_inside_the_root() {
        let (d, t) = tree();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/lib64/python3.12")).unwrap();
        std::fs::write(r.join("usr/lib64/python3.12/os.py"), "x").unwrap();
        symlink("/usr/lib64", r.join("usr/lib")).unwrap();
        let m = t.lstat(Path::new("/usr/lib/python3.12/os.py")).unwrap();
        assert_eq!((m.kind, m.size), (Kind::File, 1));
        assert_eq!(
            t.resolve(Path::new("/usr/lib/python3.12/os.py")).unwrap(),
            Path::new("/usr/lib64/python3.12/os.py")
        );
        // The final symlink is not followed by lstat.
        assert_eq!(t.lstat(Path::new("/usr/lib")).unwrap().kind, Kind::Symlink);
    }

    #[test]
    fn resolving_through_cached_parents_agrees_with_the_full_walk() {
        let (d, t) = tree();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/lib64/python3.12/json")).unwrap();
        std::fs::write(r.join("usr/lib64/python3.12/json/x.py"), "x").unwrap();
        symlink("/usr/lib64", r.join("usr/lib")).unwrap();
        symlink("json/x.py", r.join("usr/lib64/python3.12/y.py")).unwrap();
        symlink("../lib/python3.12/json", r.join("usr/lib64/j")).unwrap();
        let paths = [
            "/usr/lib/python3.12/json/x.py",
            "/usr/lib/python3.12/y.py",
            "/usr/lib64/j/x.py",
            "/usr/lib/../lib64/./j",
            "/usr/lib/python3.12",
        ];
        // First from scratch, then with every parent from the cache, then
        // after a listing, from what the listing saw.
        for round in 0..3 {
            if round == 2 {
                t.read_dir(Path::new("/usr/lib64/python3.12")).unwrap();
            }
            for p in paths {
                let p = Path::new(p);
                assert_eq!(
                    t.resolve(p).unwrap(),
                    t.resolve_uncached(p).unwrap(),
                    "{p:?}"
                );
            }
        }
        assert_eq!(
            t.resolve(Path::new("/usr/lib/python3.12/y.py")).unwrap(),
            Path::new("/usr/lib64/python3.12/json/x.py")
        );
        // A missing path is named as asked, not where its parent led.
        let missing = Path::new("/usr/lib/nothing/here.py");
        match t.resolve(missing) {
            Err(TreeError::NotFound(p)) => assert_eq!(p, missing),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_path_of_thousands_of_components_is_refused_without_deep_recursion() {
        let (d, t) = tree();
        std::fs::create_dir_all(d.path().join("a/a/a")).unwrap();
        let deep = PathBuf::from(format!("/{}x.py", "a/".repeat(20_000)));
        let shallow = PathBuf::from(format!("/{}x.py", "a/".repeat(200)));
        // A small stack: a recursion per component would overflow it.
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn_scoped(s, || {
                    for p in [&deep, &shallow] {
                        assert!(t.resolve(p).is_err(), "{}", p.display());
                        assert!(t.lstat(p).is_err());
                        assert!(t.open(p).is_err());
                    }
                })
                .unwrap()
                .join()
                .unwrap();
        });
        // Only what resolved is cached: the three directories that exist.
        assert!(t.resolved.read().unwrap().len() <= 3);
    }

    #[test]
    fn a_link_out_of_the_root_stays_in_it() {
        let (d, t) = tree();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        symlink(outside.path(), d.path().join("escape")).unwrap();
        symlink("../../../../..", d.path().join("up")).unwrap();
        assert!(t.lstat(&Path::new("/escape").join("secret")).is_err());
        assert!(t.open(Path::new("/escape/secret")).is_err());
        assert_eq!(t.resolve(Path::new("/up")).unwrap(), Path::new("/"));
    }

    #[test]
    fn listing_keeps_the_directory_atime_and_stats_entries_without_following() {
        let (d, t) = tree();
        std::fs::create_dir(d.path().join("dir")).unwrap();
        std::fs::write(d.path().join("dir/a"), "12345").unwrap();
        symlink("/nowhere", d.path().join("dir/l")).unwrap();
        let old = libc::timespec {
            tv_sec: 1_000_000_000,
            tv_nsec: 0,
        };
        let times = [old, old];
        let c = CString::new(d.path().join("dir").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path and two timespecs.
        assert_eq!(
            unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) },
            0
        );
        let entries = t.read_dir(Path::new("/dir")).unwrap();
        let got: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.name.to_string_lossy().to_string(),
                    e.meta.kind,
                    e.meta.size,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), Kind::File, 5),
                ("l".to_string(), Kind::Symlink, 8)
            ]
        );
        let atime = std::fs::metadata(d.path().join("dir")).unwrap().atime();
        assert_eq!(atime, 1_000_000_000, "listing moved the directory's atime");
        assert!(t.read_dir(Path::new("/dir/a")).is_err());
    }

    #[test]
    fn open_refuses_fifos_and_final_symlinks() {
        let (d, t) = tree();
        let fifo = CString::new(d.path().join("fifo").as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        std::fs::write(d.path().join("f"), "data").unwrap();
        symlink("/f", d.path().join("link")).unwrap();
        assert!(matches!(
            t.open(Path::new("/fifo")),
            Err(TreeError::NotRegular {
                kind: Kind::Fifo,
                ..
            })
        ));
        assert!(t.open(Path::new("/link")).is_err());
        assert_eq!(t.read(Path::new("/f"), 10).unwrap(), b"data");
        assert!(matches!(
            t.read(Path::new("/f"), 3),
            Err(TreeError::TooLarge { .. })
        ));
        let names: Vec<_> = t
            .read_dir(Path::new("/"))
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["f", "fifo", "link"]);
    }

    #[test]
    fn a_hashed_file_keeps_its_head_for_later_reads() {
        use crate::digest::Algo;
        let (d, t) = tree();
        let pyc = d.path().join("m.pyc");
        std::fs::write(&pyc, b"0123456789abcdefREST").unwrap();
        std::fs::write(d.path().join("other"), b"xyz").unwrap();
        t.read_dir(Path::new("/")).unwrap();
        let (digest, meta) = t.digest(Path::new("/m.pyc"), Algo::Sha256).unwrap();
        assert_eq!(digest, Algo::Sha256.hash_bytes(b"0123456789abcdefREST"));
        assert_eq!(meta.size, 20);
        // The audit reads one snapshot: the head is what hashing read.
        std::fs::write(&pyc, b"changed").unwrap();
        assert_eq!(
            t.head(Path::new("/m.pyc"), 16).unwrap(),
            b"0123456789abcdef"
        );
        assert_eq!(t.head(Path::new("/m.pyc"), 4).unwrap(), b"0123");
        // A file never hashed is read.
        assert_eq!(t.head(Path::new("/other"), 16).unwrap(), b"xyz");
        assert!(t
            .head(Path::new("/missing"), 16)
            .unwrap_err()
            .is_not_found());
    }
}
