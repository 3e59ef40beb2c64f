//! Hashing owned files ahead of the checks that ask for their digests.
//!
//! Hashing every owned file is most of an audit's work, and it needs
//! nothing but the manifest: not the walk of the Python trees, not the
//! other check families. [`Prefetch::start`] hands the owned files to
//! threads of their own as soon as the manifest is known, largest first,
//! so that the walk, the checks that read no owned content and the hashing
//! overlap and every core stays busy to the end. The owned check then asks
//! [`super::FsTree::digest`] as before, which answers from here: at once
//! for a file already hashed, after a wait for one being hashed, and by
//! hashing it itself (so no core idles while work is left) for one no
//! prefetch thread has reached.
//!
//! A prefetch thread looks at a file exactly as [`super::FsTree`] does: the
//! file's directory is opened beneath the root with no symlink crossed,
//! the entry is `fstatat`ed without following it, and only a regular file
//! is opened (`O_NOFOLLOW | O_NONBLOCK`, so a FIFO swapped in after the
//! `fstatat` is neither waited on nor kept: `fstat` refuses it). Every
//! failure is left to the owned check, which repeats the lookup through the
//! tree and reports it in its own words; a prefetch thread only ever
//! records success. The file's capabilities are read from the open
//! descriptor (`fgetxattr`), which spares rpm -V's `P` column a lookup of
//! the whole host path.

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::beneath::Beneath;
use super::fs::{lstat_at, meta_from, HEAD_LEN};
use super::{Head, Kind, Meta};
use crate::digest::{Algo, Digest};

/// At most this many files are hashed ahead: past it (a hostile manifest
/// listing millions of paths) the owned check hashes the rest itself, and
/// the prefetch's memory stays bounded.
pub const MAX_PREFETCH: usize = 1 << 16;

/// How many directory descriptors a prefetch thread keeps open.
const DIRS_KEPT: usize = 256;

/// A file the owned check will hash.
#[derive(Debug, Clone)]
pub struct PrefetchJob {
    /// The tree path, as the manifest records it.
    pub path: PathBuf,
    pub algo: Algo,
    /// The recorded size, to hash the largest first (`None`: unknown, as
    /// for dpkg, whose files keep the manifest's order after the others).
    pub size: Option<u64>,
}

/// What hashing a file found.
#[derive(Debug, Clone)]
pub struct Hashed {
    pub digest: Digest,
    /// `fstat` of the open file.
    pub meta: Meta,
    pub head: Head,
    /// `security.capability`, read from the open file.
    pub caps: Option<Vec<u8>>,
}

const PENDING: u8 = 0;
/// Some thread is hashing it: wait for `done`.
const CLAIMED: u8 = 1;

struct Slot {
    state: AtomicU8,
    /// `None`: the prefetch failed; the tree looks again itself.
    done: OnceLock<Option<Hashed>>,
}

/// A file to hash (job `i` fills slot `i`): its directory (index into
/// `dirs`), its name.
struct Job {
    dir: u32,
    name: CString,
    algo: Algo,
}

/// The files being hashed ahead, shared with the prefetch threads.
pub(crate) struct Prefetch {
    beneath: Beneath,
    /// The jobs as given, until the first prefetch thread plans them.
    given: Mutex<Vec<PrefetchJob>>,
    plan: OnceLock<Plan>,
    next: AtomicUsize,
}

/// The jobs in hashing order, and where to find each path's result.
struct Plan {
    /// Tree directories, as the manifest spells them.
    dirs: Vec<PathBuf>,
    /// In hashing order.
    jobs: Vec<Job>,
    slots: Vec<Slot>,
    /// Tree path → slot and the algorithm it is hashed with.
    index: HashMap<OsString, (u32, Algo), foldhash::fast::RandomState>,
}

impl Plan {
    /// Orders `jobs` largest first (files of unknown size keep the
    /// manifest's order) and indexes them; a path given twice is hashed
    /// once, with the first algorithm asked.
    fn new(mut jobs: Vec<PrefetchJob>) -> Plan {
        jobs.truncate(MAX_PREFETCH);
        jobs.sort_by_key(|j| std::cmp::Reverse(j.size.unwrap_or(0)));
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut dir_ids: HashMap<OsString, u32, foldhash::fast::RandomState> = HashMap::default();
        let mut index =
            HashMap::with_capacity_and_hasher(jobs.len(), foldhash::fast::RandomState::default());
        let mut planned = Vec::with_capacity(jobs.len());
        for j in jobs {
            let (Some(parent), Some(name)) = (j.path.parent(), j.path.file_name()) else {
                continue;
            };
            let dir = match dir_ids.get(parent.as_os_str()) {
                Some(&d) => d,
                None => {
                    dirs.push(parent.to_path_buf());
                    let d = dirs.len() as u32 - 1;
                    dir_ids.insert(parent.as_os_str().to_os_string(), d);
                    d
                }
            };
            let Ok(name) = CString::new(name.as_bytes()) else {
                continue;
            };
            let slot = planned.len() as u32;
            match index.entry(j.path.into_os_string()) {
                std::collections::hash_map::Entry::Occupied(_) => continue,
                std::collections::hash_map::Entry::Vacant(v) => v.insert((slot, j.algo)),
            };
            planned.push(Job {
                dir,
                name,
                algo: j.algo,
            });
        }
        let slots = (0..planned.len())
            .map(|_| Slot {
                state: AtomicU8::new(PENDING),
                done: OnceLock::new(),
            })
            .collect();
        Plan {
            dirs,
            jobs: planned,
            slots,
            index,
        }
    }
}

impl Prefetch {
    /// Starts `threads` prefetch threads over `jobs`; the first of them
    /// orders and indexes the jobs, so that the caller goes on at once. A
    /// job's directory is opened as the manifest spells it: one reached
    /// through an in-root symlink (`/lib` on a merged-/usr system) fails
    /// that lookup, and its files are left to the tree, which resolves
    /// such links by hand.
    pub fn start(beneath: Beneath, jobs: Vec<PrefetchJob>, threads: usize) -> Arc<Prefetch> {
        let p = Arc::new(Prefetch {
            beneath,
            given: Mutex::new(jobs),
            plan: OnceLock::new(),
            next: AtomicUsize::new(0),
        });
        for _ in 0..threads {
            let p = Arc::clone(&p);
            // A thread that cannot be started leaves its share to the others
            // and to the owned check.
            let _ = std::thread::Builder::new()
                .name("pyvet-prefetch".into())
                .spawn(move || p.work());
        }
        p
    }

    /// The plan, made by whichever thread asks first.
    fn plan(&self) -> &Plan {
        self.plan.get_or_init(|| {
            let jobs = std::mem::take(&mut *self.given.lock().unwrap_or_else(|e| e.into_inner()));
            Plan::new(jobs)
        })
    }

    /// What hashing `path` with `algo` found: the prefetch's result, waited
    /// for while another thread hashes it, or hashed here and now by the
    /// caller when no thread has started it (work a prefetch thread then
    /// skips). `None`: not prefetched (or with another algorithm), or the
    /// prefetch failed; the caller looks at the file itself.
    pub fn take(&self, path: &Path, algo: Algo) -> Option<&Hashed> {
        let &(slot, a) = self.plan().index.get(path.as_os_str())?;
        if a != algo {
            return None;
        }
        self.claimed(slot as usize, None).as_ref()
    }

    /// What hashing `path` found, hashing it first if no thread has (for
    /// the head of a pyc: reading it is the start of hashing it).
    pub fn hashed(&self, path: &Path) -> Option<&Hashed> {
        let &(slot, _) = self.plan().index.get(path.as_os_str())?;
        self.claimed(slot as usize, None).as_ref()
    }

    /// What hashing `path` found, if some thread finished it.
    pub fn finished(&self, path: &Path) -> Option<&Hashed> {
        let plan = self.plan.get()?;
        let &(slot, _) = plan.index.get(path.as_os_str())?;
        plan.slots[slot as usize].done.get()?.as_ref()
    }

    /// Job `i`'s result: hashed here if this thread claims it first
    /// (through `dirs`, a prefetch thread's open directories), else
    /// waited for.
    fn claimed(&self, i: usize, dirs: Option<&mut HashMap<u32, OwnedFd>>) -> &Option<Hashed> {
        let plan = self.plan();
        let slot = &plan.slots[i];
        if slot
            .state
            .compare_exchange(PENDING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let mut own = HashMap::new();
            let done = self.hash(plan, &plan.jobs[i], dirs.unwrap_or(&mut own));
            let _ = slot.done.set(done);
        }
        // Another thread is hashing it: at most one file's hashing away,
        // so the wait yields rather than sleeps.
        loop {
            if let Some(done) = slot.done.get() {
                return done;
            }
            std::thread::yield_now();
        }
    }

    /// A prefetch thread: claims the next job until none is left.
    fn work(&self) {
        let mut dirs: HashMap<u32, OwnedFd> = HashMap::new();
        loop {
            let plan = self.plan();
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= plan.jobs.len() {
                return;
            }
            if plan.slots[i].state.load(Ordering::Acquire) == PENDING {
                self.claimed(i, Some(&mut dirs));
            }
        }
    }

    /// Hashes one job's file, `None` on any failure.
    fn hash(&self, plan: &Plan, job: &Job, dirs: &mut HashMap<u32, OwnedFd>) -> Option<Hashed> {
        if !dirs.contains_key(&job.dir) {
            if dirs.len() >= DIRS_KEPT {
                dirs.clear();
            }
            let fd = self
                .beneath
                .open(
                    &plan.dirs[job.dir as usize],
                    libc::O_PATH | libc::O_DIRECTORY,
                )
                .ok()?;
            dirs.insert(job.dir, fd);
        }
        let dir = dirs.get(&job.dir)?.as_raw_fd();
        if lstat_at(dir, &job.name).ok()?.kind != Kind::File {
            return None;
        }
        let file = open_at(dir, &job.name)?;
        let meta = meta_from(&file.metadata().ok()?);
        if meta.kind != Kind::File {
            return None;
        }
        let mut reader = &file;
        let mut head = [0u8; HEAD_LEN];
        let (digest, n) = job
            .algo
            .hash_stream(&mut reader, Some(meta.size), &mut head)
            .ok()?;
        Some(Hashed {
            digest,
            meta,
            head: Head::of(&head[..n]),
            caps: fgetxattr(&file, c"security.capability"),
        })
    }
}

/// Opens `name` in `dir` for reading: never through a final symlink, never
/// waiting on a FIFO, without touching its atime where the kernel allows.
fn open_at(dir: i32, name: &CStr) -> Option<File> {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    let open = |extra: i32| {
        // SAFETY: `dir` is open and `name` NUL-terminated.
        let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | extra) };
        // SAFETY: a non-negative descriptor was just opened and is ours.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let fd = match open(libc::O_NOATIME) {
        Some(fd) => fd,
        None if std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) => open(0)?,
        None => return None,
    };
    Some(File::from(fd))
}

/// `fgetxattr(2)`: an attribute of the open file, `None` where it has none.
fn fgetxattr(file: &File, name: &CStr) -> Option<Vec<u8>> {
    // SAFETY: the descriptor is open, `name` NUL-terminated, `buf` valid
    // for its length.
    super::fs::read_xattr(|buf| unsafe {
        libc::fgetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{FsTree, Tree, TreeError};
    use std::os::unix::fs::symlink;

    fn job(path: &str, algo: Algo, size: u64) -> PrefetchJob {
        PrefetchJob {
            path: PathBuf::from(path),
            algo,
            size: Some(size),
        }
    }

    fn mkfifo(p: &Path) {
        let c = CString::new(p.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }

    #[test]
    fn prefetched_digests_heads_and_caps_are_what_reading_gives() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("usr/lib64/python3.12/__pycache__")).unwrap();
        std::fs::write(d.path().join("usr/lib64/python3.12/os.py"), "import sys\n").unwrap();
        let pyc = d
            .path()
            .join("usr/lib64/python3.12/__pycache__/os.cpython-312.pyc");
        std::fs::write(&pyc, b"0123456789abcdefREST").unwrap();
        // Reached through an in-root symlink, as on Debian (/lib -> usr/lib).
        symlink("usr/lib64", d.path().join("lib64")).unwrap();
        let t = FsTree::new(d.path());
        let pyc_path = "/usr/lib64/python3.12/__pycache__/os.cpython-312.pyc";
        let linked = "/lib64/python3.12/os.py";
        t.prefetch(vec![
            job(linked, Algo::Sha256, 11),
            job(pyc_path, Algo::Md5, 20),
        ]);
        let (digest, meta) = t.digest(Path::new(pyc_path), Algo::Md5).unwrap();
        assert_eq!(digest, Algo::Md5.hash_bytes(b"0123456789abcdefREST"));
        assert_eq!((meta.kind, meta.size), (Kind::File, 20));
        // The audit reads one snapshot: the head is what hashing read.
        std::fs::write(&pyc, b"changed").unwrap();
        assert_eq!(
            t.head(Path::new(pyc_path), 16).unwrap(),
            b"0123456789abcdef"
        );
        assert_eq!(t.xattr(Path::new(pyc_path), "security.capability"), None);
        // Its directory reached through a link, the tree hashes it itself.
        let (digest, _) = t.digest(Path::new(linked), Algo::Sha256).unwrap();
        assert_eq!(digest, Algo::Sha256.hash_bytes(b"import sys\n"));
        // Asked with another algorithm, the file is read again.
        let (digest, _) = t.digest(Path::new(pyc_path), Algo::Sha1).unwrap();
        assert_eq!(digest, Algo::Sha1.hash_bytes(b"changed"));
    }

    #[test]
    fn what_the_prefetch_cannot_hash_is_looked_at_as_before() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("lib/real")).unwrap();
        mkfifo(&r.join("lib/fifo.py"));
        std::fs::write(r.join("lib/real/x.py"), "x").unwrap();
        symlink("real/x.py", r.join("lib/link.py")).unwrap();
        let t = FsTree::new(r);
        t.prefetch(vec![
            job("/lib/fifo.py", Algo::Sha256, 1),
            job("/lib/link.py", Algo::Sha256, 1),
            job("/lib/gone.py", Algo::Sha256, 1),
            job("/nodir/x.py", Algo::Sha256, 1),
        ]);
        // A FIFO is refused by type, never opened; a final symlink is not
        // followed; a missing file is missing: the tree's own errors.
        assert!(matches!(
            t.digest(Path::new("/lib/fifo.py"), Algo::Sha256),
            Err(TreeError::NotRegular {
                kind: Kind::Fifo,
                ..
            })
        ));
        assert!(matches!(
            t.digest(Path::new("/lib/link.py"), Algo::Sha256),
            Err(TreeError::NotRegular {
                kind: Kind::Symlink,
                ..
            })
        ));
        assert!(t
            .digest(Path::new("/lib/gone.py"), Algo::Sha256)
            .unwrap_err()
            .is_not_found());
        assert!(t
            .digest(Path::new("/nodir/x.py"), Algo::Sha256)
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn a_directory_swapped_for_a_link_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x.py"), "host").unwrap();
        std::fs::create_dir_all(d.path().join("lib")).unwrap();
        std::fs::write(d.path().join("lib/x.py"), "tree").unwrap();
        let t = FsTree::new(d.path());
        // Resolved when the prefetch starts, swapped before it runs.
        let p = Prefetch::start(
            Beneath::open_root(d.path()).unwrap(),
            vec![job("/lib/x.py", Algo::Sha256, 4)],
            0,
        );
        std::fs::rename(d.path().join("lib"), d.path().join("old")).unwrap();
        symlink(outside.path(), d.path().join("lib")).unwrap();
        assert!(p.take(Path::new("/lib/x.py"), Algo::Sha256).is_none());
        let host = Algo::Sha256.hash_bytes(b"host");
        assert!(!matches!(t.digest(Path::new("/lib/x.py"), Algo::Sha256), Ok((d, _)) if d == host));
    }

    #[test]
    fn each_file_is_hashed_once_whoever_asks_first() {
        let d = tempfile::tempdir().unwrap();
        let mut jobs = Vec::new();
        for i in 0..200 {
            std::fs::write(d.path().join(format!("{i}.py")), vec![b'a'; i * 97]).unwrap();
            jobs.push(job(&format!("/{i}.py"), Algo::Sha256, (i * 97) as u64));
        }
        let p = Prefetch::start(Beneath::open_root(d.path()).unwrap(), jobs, 2);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for i in (0..200).rev() {
                        let h = p
                            .take(Path::new(&format!("/{i}.py")), Algo::Sha256)
                            .unwrap();
                        assert_eq!(h.digest, Algo::Sha256.hash_bytes(&vec![b'a'; i * 97]));
                    }
                });
            }
        });
        assert!(p.plan().slots.iter().all(|s| s.done.get().is_some()));
    }

    #[test]
    fn at_most_max_prefetch_files_are_kept() {
        let d = tempfile::tempdir().unwrap();
        let jobs = (0..MAX_PREFETCH + 10)
            .map(|i| job(&format!("/{i}"), Algo::Md5, 0))
            .collect();
        let p = Prefetch::start(Beneath::open_root(d.path()).unwrap(), jobs, 0);
        assert_eq!(p.plan().jobs.len(), MAX_PREFETCH);
        assert_eq!(p.plan().index.len(), MAX_PREFETCH);
    }
}
