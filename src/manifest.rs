//! The manifest model: what a package manager says is installed.
//!
//! Every reader in [`crate::db`] produces the same [`Manifest`], so that the
//! audit, subset and size checks never care whether the data came from an
//! rpmdb, a `.deb`, an apk database or a pip `RECORD`.
//!
//! A Fedora-size rpmdb lists about 300,000 files and every audit holds them
//! all, so [`FileEntry`] is kept small (192 bytes plus its path): paths are
//! `Box<Path>` (no spare capacity word), owner names are shared thin
//! [`Name`]s (one allocation per distinct name, not per file), digests up
//! to SHA-256 are stored inline ([`crate::digest::DigestBytes`]), and the
//! path index ([`OwnerIndex`]) keeps owners in one flat array instead of a
//! `Vec` per path. `bench/manifest-big.sh` measures the result.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// Which kind of reader produced a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    RpmdbSqlite,
    RpmdbBdb,
    RpmdbNdb,
    RpmHeader,
    RpmFile,
    Dpkg,
    DpkgStatusD,
    Deb,
    Apk,
    PipRecord,
    PackedResources,
    Directory,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::RpmdbSqlite => "rpmdb-sqlite",
            Backend::RpmdbBdb => "rpmdb-bdb",
            Backend::RpmdbNdb => "rpmdb-ndb",
            Backend::RpmHeader => "rpm-header",
            Backend::RpmFile => "rpm-file",
            Backend::Dpkg => "dpkg",
            Backend::DpkgStatusD => "dpkg-status-d",
            Backend::Deb => "deb",
            Backend::Apk => "apk",
            Backend::PipRecord => "pip-record",
            Backend::PackedResources => "packed-resources",
            Backend::Directory => "directory",
        }
    }
}

/// Where a package's data was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub backend: Backend,
    #[serde(serialize_with = "crate::manifest::ser_path")]
    pub file: PathBuf,
}

/// A file's type as the package manager recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    /// Device nodes, FIFOs, sockets: `mode` tells which.
    Other,
    /// The source does not say (pip RECORD, md5sums-only dpkg data).
    Unknown,
}

impl FileKind {
    /// Classifies a full `st_mode` value (type bits included).
    pub fn from_mode(mode: u32) -> Self {
        match mode & 0o170000 {
            0o100000 => FileKind::File,
            0o040000 => FileKind::Dir,
            0o120000 => FileKind::Symlink,
            0 => FileKind::Unknown,
            _ => FileKind::Other,
        }
    }
}

/// RPM-style per-file flags; dpkg conffiles map to `config`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FileFlags(u32);

impl FileFlags {
    pub const CONFIG: FileFlags = FileFlags(1 << 0);
    pub const DOC: FileFlags = FileFlags(1 << 1);
    pub const MISSINGOK: FileFlags = FileFlags(1 << 3);
    pub const NOREPLACE: FileFlags = FileFlags(1 << 4);
    pub const GHOST: FileFlags = FileFlags(1 << 6);
    pub const LICENSE: FileFlags = FileFlags(1 << 7);
    pub const README: FileFlags = FileFlags(1 << 8);
    pub const ARTIFACT: FileFlags = FileFlags(1 << 12);

    const NAMES: [(FileFlags, &'static str); 8] = [
        (Self::CONFIG, "config"),
        (Self::DOC, "doc"),
        (Self::GHOST, "ghost"),
        (Self::MISSINGOK, "missingok"),
        (Self::NOREPLACE, "noreplace"),
        (Self::LICENSE, "license"),
        (Self::README, "readme"),
        (Self::ARTIFACT, "artifact"),
    ];

    /// Keeps only the bits pyvet knows; the values are RPM's `RPMFILE_*` bits.
    pub fn from_rpm(bits: u32) -> Self {
        let known = Self::NAMES.iter().fold(0, |acc, (f, _)| acc | f.0);
        FileFlags(bits & known)
    }
    pub fn bits(self) -> u32 {
        self.0
    }
    pub fn contains(self, other: FileFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn insert(&mut self, other: FileFlags) {
        self.0 |= other.0;
    }
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

impl std::ops::BitOr for FileFlags {
    type Output = FileFlags;
    fn bitor(self, rhs: FileFlags) -> FileFlags {
        FileFlags(self.0 | rhs.0)
    }
}

impl<'de> Deserialize<'de> for FileFlags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names: Vec<String> = Vec::deserialize(d)?;
        let mut flags = FileFlags::default();
        for n in names {
            let (f, _) = Self::NAMES
                .iter()
                .find(|(_, name)| *name == n)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown file flag {n:?}")))?;
            flags.insert(*f);
        }
        Ok(flags)
    }
}

impl Serialize for FileFlags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

/// RPM's per-file install state (`RPMTAG_FILESTATES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileState {
    Normal,
    Replaced,
    /// Not installed (`--excludedocs`, `--nodocs`, `%_netsharedpath`, ...): rpm -V skips it.
    NotInstalled,
    NetShared,
    WrongColor,
}

impl FileState {
    /// Maps RPM's `rpmfileState` values; unknown values give `None`.
    pub fn from_rpm(v: u8) -> Option<Self> {
        Some(match v {
            0 => FileState::Normal,
            1 => FileState::Replaced,
            2 => FileState::NotInstalled,
            3 => FileState::NetShared,
            4 => FileState::WrongColor,
            _ => return None,
        })
    }
}

/// A user or group name (or other short text a file entry carries),
/// shared by every entry that names it and held through one thin pointer:
/// 8 bytes in each [`FileEntry`] where a `String` takes 24 and an
/// `Arc<str>` 16. Derefs to `str`, so `f.user.as_deref()` is an
/// `Option<&str>`; see [`Names`] for the sharing.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Arc<String>);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Arc::new(s))
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Arc::new(s.to_owned()))
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

/// Hands out one shared [`Name`] per distinct name, so that 300,000 files
/// owned by `root` hold 300,000 pointers to one string.
#[derive(Debug, Default)]
pub struct Names {
    seen: HashMap<Box<[u8]>, Name>,
    /// The last name handed out: files in a row mostly share their owner.
    last: Option<Name>,
}

impl Names {
    /// The shared name for `raw` (invalid UTF-8 replaced, as `String::from_utf8_lossy` does).
    pub fn get(&mut self, raw: &[u8]) -> Name {
        // A replaced name never equals its raw bytes and takes the map path.
        if let Some(n) = self.last.as_ref().filter(|n| n.as_bytes() == raw) {
            return n.clone();
        }
        let n = match self.seen.get(raw) {
            Some(n) => n.clone(),
            None => {
                let n = Name::from(String::from_utf8_lossy(raw).into_owned());
                self.seen.insert(raw.into(), n.clone());
                n
            }
        };
        self.last = Some(n.clone());
        n
    }
}

/// One file as a package manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The path as the package manager spells it: absolute for installed
    /// files; source rpms list bare names (as `rpm -qpl` prints them). A
    /// dpkg file that another package or the admin diverts is at its
    /// divert-to path, where dpkg installed it.
    #[serde(serialize_with = "crate::manifest::ser_path")]
    pub path: Box<Path>,
    #[serde(rename = "type")]
    pub kind: FileKind,
    /// Full `st_mode` (type and permission bits) when known.
    pub mode: Option<u32>,
    pub user: Option<Name>,
    pub group: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub mtime: Option<i64>,
    pub digest: Option<Digest>,
    #[serde(serialize_with = "crate::manifest::ser_opt_path")]
    pub link: Option<Box<Path>>,
    pub flags: FileFlags,
    /// RPM's install state; `None` where the backend has no such notion.
    pub state: Option<FileState>,
    /// Device number of a device node (`st_rdev`), where recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdev: Option<u64>,
    /// File capabilities as `cap_to_text` writes them, where recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caps: Option<Name>,
    /// RPM's per-file `%verify` bits (`RPMVERIFY_*`); `None`: verify all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_flags: Option<u32>,
}

impl FileEntry {
    /// An entry with only a path and a kind; readers fill in what they know.
    pub fn new(path: impl Into<PathBuf>, kind: FileKind) -> Self {
        FileEntry {
            path: path.into().into_boxed_path(),
            kind,
            mode: None,
            user: None,
            group: None,
            uid: None,
            gid: None,
            size: None,
            mtime: None,
            digest: None,
            link: None,
            flags: FileFlags::default(),
            state: None,
            rdev: None,
            caps: None,
            verify_flags: None,
        }
    }
}

/// One installed (or packaged) package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    /// RPM release, Debian revision, apk `-rN`; `None` where there is none.
    pub release: Option<String>,
    pub arch: Option<String>,
    pub source: Source,
    /// Seconds since the epoch, when the backend records it.
    pub install_time: Option<i64>,
    pub files: Vec<FileEntry>,
}

impl Package {
    /// `name-[epoch:]version[-release][.arch]`, the way `rpm -q` prints it.
    pub fn nevra(&self) -> String {
        let mut s = self.name.clone();
        s.push('-');
        if let Some(e) = self.epoch {
            s.push_str(&format!("{e}:"));
        }
        s.push_str(&self.version);
        if let Some(r) = &self.release {
            s.push('-');
            s.push_str(r);
        }
        if let Some(a) = &self.arch {
            s.push('.');
            s.push_str(a);
        }
        s
    }
}

/// Everything one or more package sources say is installed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub packages: Vec<Package>,
}

/// A reference to one file entry inside a [`Manifest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub package: usize,
    pub file: usize,
}

impl Manifest {
    pub fn extend(&mut self, other: Manifest) {
        self.packages.extend(other.packages);
    }

    /// Indexes every path with all the entries that claim it (shared paths
    /// keep every owner, in manifest order).
    pub fn owners(&self) -> OwnerIndex<'_> {
        OwnerIndex::new(self)
    }

    pub fn entry(&self, o: Owner) -> (&Package, &FileEntry) {
        let p = &self.packages[o.package];
        (p, &p.files[o.file])
    }

    /// Every entry with its [`Owner`] reference, in manifest order.
    fn owned_entries(&self) -> impl Iterator<Item = (Owner, &FileEntry)> {
        self.packages.iter().enumerate().flat_map(|(pi, p)| {
            p.files.iter().enumerate().map(move |(fi, f)| {
                let o = Owner {
                    package: pi,
                    file: fi,
                };
                (o, f)
            })
        })
    }
}

/// A path as a hash key that equals and hashes as [`Path`] does (`/a//b`
/// is `/a/b`), but hashes a plain path's bytes in one go: `Path`'s own
/// `Hash` feeds the hasher one component at a time, which makes building
/// the index over 300,000 paths several times slower. The hasher stays
/// std's keyed SipHash: the paths come from untrusted databases.
#[derive(Debug, Clone, Copy)]
struct PathKey<'a>(&'a Path);

impl PartialEq for PathKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for PathKey<'_> {}

impl std::hash::Hash for PathKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        use std::os::unix::ffi::OsStrExt;
        let bytes = self.0.as_os_str().as_bytes();
        if is_plain(bytes) {
            h.write(bytes);
        } else {
            // Equal paths have equal components, and so equal rebuilt bytes.
            let rebuilt: PathBuf = self.0.components().collect();
            h.write(rebuilt.as_os_str().as_bytes());
        }
    }
}

/// Orders paths as [`Path`]'s `Ord` does (component by component), faster:
/// for plain paths that is byte order with `/` below every other byte.
pub fn cmp_paths(a: &Path, b: &Path) -> std::cmp::Ordering {
    use std::os::unix::ffi::OsStrExt;
    let (x, y) = (a.as_os_str().as_bytes(), b.as_os_str().as_bytes());
    if !(is_plain(x) && is_plain(y)) {
        return a.cmp(b);
    }
    let common = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    let rank = |s: &[u8]| {
        s.get(common)
            .map(|&c| if c == b'/' { 0 } else { u16::from(c) + 1 })
    };
    rank(x).cmp(&rank(y))
}

/// Whether `path` is `dir` or lies below it, as [`Path::starts_with`]
/// says, faster: for plain paths a byte prefix that ends at a `/` (a check
/// over every file of every package, where comparing components cost 30 ms
/// on a host of 721 packages).
pub fn is_under(path: &Path, dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
    if !(is_plain(p) && is_plain(d)) {
        return path.starts_with(dir);
    }
    p.starts_with(d) && (p.len() == d.len() || p[d.len()] == b'/')
}

/// Whether rebuilding `path` from its components gives back the same
/// bytes: no empty or `.` component after the first, no trailing `/`.
fn is_plain(path: &[u8]) -> bool {
    path.iter().enumerate().all(|(i, &b)| {
        b != b'/'
            || !matches!(
                path.get(i + 1..),
                Some([] | [b'/', ..] | [b'.'] | [b'.', b'/', ..])
            )
    })
}

/// Path → owners index over a [`Manifest`].
///
/// Paths compare as [`Path`]s do (`/a//b` is `/a/b`). Each distinct path
/// has a group number; the owners of group `g` are
/// `owners[starts[g]..starts[g + 1]]`. One flat array instead of a `Vec`
/// per path saves an allocation and 24 bytes per path, and the map is
/// keyed with std's SipHash: the paths come from untrusted databases, and a
/// hash an attacker can collide would turn building the index quadratic.
#[derive(Debug, Default)]
pub struct OwnerIndex<'m> {
    groups: HashMap<PathKey<'m>, usize>,
    starts: Vec<usize>,
    owners: Vec<Owner>,
}

impl<'m> OwnerIndex<'m> {
    /// Counts the owners of each path, then places them. The second pass
    /// looks each path up again rather than remembering its group: that
    /// would take a word per entry at the moment memory use peaks.
    fn new(m: &'m Manifest) -> Self {
        let mut groups: HashMap<PathKey<'m>, usize> = HashMap::new();
        let mut counts: Vec<usize> = Vec::new();
        for (_, f) in m.owned_entries() {
            let next = counts.len();
            let g = *groups.entry(PathKey(&f.path)).or_insert(next);
            if g == next {
                counts.push(0);
            }
            counts[g] += 1;
        }
        // counts becomes each group's next free slot.
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut at = 0;
        for c in counts.iter_mut() {
            starts.push(at);
            at += std::mem::replace(c, at);
        }
        starts.push(at);
        let mut owners = vec![
            Owner {
                package: 0,
                file: 0
            };
            at
        ];
        for (o, f) in m.owned_entries() {
            if let Some(&g) = groups.get(&PathKey(&f.path)) {
                owners[counts[g]] = o;
                counts[g] += 1;
            }
        }
        OwnerIndex {
            groups,
            starts,
            owners,
        }
    }

    fn group(&self, g: usize) -> &[Owner] {
        &self.owners[self.starts[g]..self.starts[g + 1]]
    }

    /// Every owner of `path`; empty if nothing owns it.
    pub fn of(&self, path: &Path) -> &[Owner] {
        self.groups
            .get(&PathKey(path))
            .map_or(&[], |&g| self.group(g))
    }

    pub fn is_owned(&self, path: &Path) -> bool {
        self.groups.contains_key(&PathKey(path))
    }

    /// How many distinct paths are owned.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every owned path with its owners, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&'m Path, &[Owner])> + '_ {
        self.groups.iter().map(|(p, &g)| (p.0, self.group(g)))
    }

    /// Drops every owner `keep` refuses; a path left with no owner is no
    /// longer owned.
    pub fn retain(&mut self, keep: impl Fn(&Owner) -> bool) {
        let mut write = 0;
        for g in 0..self.starts.len().saturating_sub(1) {
            // starts[g + 1] is still the original: it is rewritten next round.
            let (start, end) = (self.starts[g], self.starts[g + 1]);
            self.starts[g] = write;
            for i in start..end {
                if keep(&self.owners[i]) {
                    self.owners[write] = self.owners[i];
                    write += 1;
                }
            }
        }
        if let Some(last) = self.starts.last_mut() {
            *last = write;
        }
        self.owners.truncate(write);
        let starts = &self.starts;
        self.groups.retain(|_, g| starts[*g] < starts[*g + 1]);
    }

    /// Where some owners of a path satisfy `preferred`, drops its other
    /// owners; a path none of whose owners is preferred keeps them all.
    pub fn prefer(&mut self, preferred: impl Fn(&Owner) -> bool) {
        let mut write = 0;
        for g in 0..self.starts.len().saturating_sub(1) {
            let (start, end) = (self.starts[g], self.starts[g + 1]);
            let any = self.owners[start..end].iter().any(&preferred);
            self.starts[g] = write;
            for i in start..end {
                if !any || preferred(&self.owners[i]) {
                    self.owners[write] = self.owners[i];
                    write += 1;
                }
            }
        }
        if let Some(last) = self.starts.last_mut() {
            *last = write;
        }
        self.owners.truncate(write);
    }
}

pub(crate) fn ser_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

pub(crate) fn ser_opt_path<S: serde::Serializer, P: AsRef<Path>>(
    p: &Option<P>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => ser_path(p.as_ref(), s),
        None => s.serialize_none(),
    }
}

/// Joins a package path (absolute) under a root directory without ever
/// letting `..` or an absolute component escape it.
pub fn under_root(root: &Path, path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = root.to_path_buf();
    for c in path.components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_under_agrees_with_path_starts_with() {
        let cases = [
            ("/usr/lib/python3.11/os.py", "/usr/lib/python3.11"),
            ("/usr/lib/python3.11", "/usr/lib/python3.11"),
            ("/usr/lib/python3.110/os.py", "/usr/lib/python3.11"),
            ("/usr/lib/python3.1", "/usr/lib/python3.11"),
            ("/usr/lib/python3.11/os.py", "/"),
            ("/usr/lib//python3.11/os.py", "/usr/lib/python3.11"),
            ("/usr/lib/python3.11/./os.py", "/usr/lib/python3.11"),
            ("/usr/lib/python3.11/", "/usr/lib/python3.11"),
            ("/usr/lib/python3.11/os.py", "/usr/lib/python3.11/"),
            ("usr/lib/python3.11/os.py", "/usr/lib/python3.11"),
            ("/usr/lib/python3.11/os.py", "/usr/lib/python3.11/os.py/x"),
        ];
        for (p, d) in cases {
            assert_eq!(
                is_under(Path::new(p), Path::new(d)),
                Path::new(p).starts_with(d),
                "{p} under {d}"
            );
        }
    }

    use super::*;
    use crate::testutil::package;

    #[test]
    fn flags_keep_only_known_bits_and_name_them() {
        let f = FileFlags::from_rpm(1 | 2 | 1 << 6 | 1 << 30);
        assert_eq!(f.names().collect::<Vec<_>>(), ["config", "doc", "ghost"]);
    }

    #[test]
    fn kind_from_mode() {
        assert_eq!(FileKind::from_mode(0o100644), FileKind::File);
        assert_eq!(FileKind::from_mode(0o040755), FileKind::Dir);
        assert_eq!(FileKind::from_mode(0o120777), FileKind::Symlink);
        assert_eq!(FileKind::from_mode(0o010644), FileKind::Other);
    }

    #[test]
    fn under_root_drops_parent_components() {
        let p = under_root(Path::new("/r"), Path::new("/a/../../etc/passwd"));
        assert_eq!(p, Path::new("/r/a/etc/passwd"));
    }

    /// Every byte here is paid 300,000 times on a Fedora-size rpmdb: a new
    /// field or a wider type should be a decision, not an accident.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn file_entry_stays_small() {
        assert_eq!(std::mem::size_of::<FileEntry>(), 192);
        assert_eq!(std::mem::size_of::<Option<Name>>(), 8);
        assert_eq!(std::mem::size_of::<Option<Digest>>(), 48);
    }

    #[test]
    fn names_are_shared_and_lossy() {
        let mut names = Names::default();
        let a = names.get(b"root");
        let b = names.get(b"app");
        let c = names.get(b"root");
        assert!(Arc::ptr_eq(&a.0, &c.0), "one allocation per distinct name");
        assert!(!Arc::ptr_eq(&a.0, &b.0));
        assert_eq!((a.as_str(), b.as_str()), ("root", "app"));
        let bad = names.get(b"r\xffot");
        assert_eq!(bad.as_str(), "r\u{fffd}ot");
        assert!(Arc::ptr_eq(&bad.0, &names.get(b"r\xffot").0));
        assert_eq!(Some(a).as_deref(), Some("root"));
    }

    #[test]
    fn owners_keeps_every_owner_of_a_shared_path() {
        let src = Source {
            backend: Backend::Directory,
            file: "/x".into(),
        };
        let pkg = |n: &str| Package {
            name: n.into(),
            epoch: None,
            version: "1".into(),
            release: None,
            arch: None,
            source: src.clone(),
            install_time: None,
            files: vec![FileEntry::new("/usr/share/x", FileKind::Dir)],
        };
        let m = Manifest {
            packages: vec![pkg("a"), pkg("b")],
        };
        assert_eq!(m.owners().of(Path::new("/usr/share/x")).len(), 2);
    }

    #[test]
    fn path_keys_hash_and_compare_as_paths_do() {
        use std::collections::hash_map::RandomState;
        use std::hash::BuildHasher;
        let paths = [
            "",
            "/",
            "//",
            "/.",
            "/./",
            ".",
            "./",
            "./a",
            "././a",
            ".//a",
            "a",
            "a/",
            "a/.",
            "a/./b",
            "a//b",
            "a/b",
            "/a/b/",
            "/a/b/.",
            "/a/./b/",
            "/a/..",
            "/a/../b",
            "..",
            "/usr/lib/python3.11/os.py",
            "/usr//lib/python3.11/./os.py/",
            ".a/.b",
            "/.a",
            "a/.b/",
            "a/b..",
            "/a/.../b",
            "/a/b-c",
            "/a/b/c",
            "/a/b",
            "/a/b\u{e9}",
            "/a/b0",
        ];
        let state = RandomState::new();
        for a in paths {
            let (pa, ka) = (Path::new(a), PathKey(Path::new(a)));
            let rebuilt: PathBuf = pa.components().collect();
            if is_plain(a.as_bytes()) {
                assert_eq!(rebuilt.as_os_str(), pa.as_os_str(), "{a:?} is not plain");
            }
            for b in paths {
                let (pb, kb) = (Path::new(b), PathKey(Path::new(b)));
                assert_eq!(ka == kb, pa == pb, "{a:?} {b:?}");
                if pa == pb {
                    assert_eq!(state.hash_one(ka), state.hash_one(kb), "{a:?} {b:?}");
                }
                assert_eq!(cmp_paths(pa, pb), pa.cmp(pb), "{a:?} {b:?}");
            }
        }
        assert!(is_plain(b"/usr/lib/python3.11/os.py") && is_plain(b"./a"));
        assert!(!is_plain(b"a/") && !is_plain(b"a//b") && !is_plain(b"a/./b"));
    }

    #[test]
    fn owner_index_groups_in_manifest_order_and_prefers() {
        let m = Manifest {
            packages: vec![
                package("pip", Backend::PipRecord, &["/s/a.py", "/s/only-pip.py"]),
                package("rpm1", Backend::RpmdbSqlite, &["/s/b.py", "/s/a.py"]),
                package("rpm2", Backend::RpmdbSqlite, &["/s/a.py", "/s//b.py"]),
            ],
        };
        let o = |package, file| Owner { package, file };
        let mut index = m.owners();
        assert_eq!(index.len(), 3, "/s//b.py is /s/b.py, as Path compares");
        assert_eq!(index.of(Path::new("/s/a.py")), [o(0, 0), o(1, 1), o(2, 0)]);
        assert_eq!(index.of(Path::new("/s/b.py/")), [o(1, 0), o(2, 1)]);
        assert!(index.of(Path::new("/s/none.py")).is_empty());
        assert!(!index.is_owned(Path::new("/s")));
        index.prefer(|o| m.packages[o.package].source.backend != Backend::PipRecord);
        assert_eq!(index.of(Path::new("/s/a.py")), [o(1, 1), o(2, 0)]);
        assert_eq!(index.of(Path::new("/s/only-pip.py")), [o(0, 1)]);
        assert_eq!(index.of(Path::new("/s/b.py")), [o(1, 0), o(2, 1)]);
        let mut all: Vec<_> = index
            .iter()
            .map(|(p, os)| (p.to_owned(), os.len()))
            .collect();
        all.sort();
        assert_eq!(
            all,
            [
                (PathBuf::from("/s/a.py"), 2),
                (PathBuf::from("/s/b.py"), 2),
                (PathBuf::from("/s/only-pip.py"), 1)
            ]
        );
        OwnerIndex::default().prefer(|_| true);
    }
}
