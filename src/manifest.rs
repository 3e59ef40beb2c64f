//! The manifest model: what a package manager says is installed.
//!
//! Every reader in [`crate::db`] produces the same [`Manifest`], so that the
//! audit, subset and size checks never care whether the data came from an
//! rpmdb, a `.deb`, an apk database or a pip `RECORD`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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

/// One file as a package manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The path as the package manager spells it: absolute for installed
    /// files; source rpms list bare names (as `rpm -qpl` prints them).
    #[serde(serialize_with = "crate::manifest::ser_path")]
    pub path: PathBuf,
    #[serde(rename = "type")]
    pub kind: FileKind,
    /// Full `st_mode` (type and permission bits) when known.
    pub mode: Option<u32>,
    pub user: Option<String>,
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub mtime: Option<i64>,
    pub digest: Option<Digest>,
    #[serde(serialize_with = "crate::manifest::ser_opt_path")]
    pub link: Option<PathBuf>,
    pub flags: FileFlags,
    /// RPM's install state; `None` where the backend has no such notion.
    pub state: Option<FileState>,
    /// Device number of a device node (`st_rdev`), where recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdev: Option<u64>,
    /// File capabilities as `cap_to_text` writes them, where recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caps: Option<String>,
    /// RPM's per-file `%verify` bits (`RPMVERIFY_*`); `None`: verify all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_flags: Option<u32>,
}

impl FileEntry {
    /// An entry with only a path and a kind; readers fill in what they know.
    pub fn new(path: impl Into<PathBuf>, kind: FileKind) -> Self {
        FileEntry {
            path: path.into(),
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

    /// Maps every path to all the entries that claim it (shared paths keep every owner).
    pub fn owners(&self) -> HashMap<&Path, Vec<Owner>> {
        let total = self.packages.iter().map(|p| p.files.len()).sum();
        let mut map: HashMap<&Path, Vec<Owner>> = HashMap::with_capacity(total);
        for (pi, p) in self.packages.iter().enumerate() {
            for (fi, f) in p.files.iter().enumerate() {
                map.entry(f.path.as_path()).or_default().push(Owner {
                    package: pi,
                    file: fi,
                });
            }
        }
        map
    }

    pub fn entry(&self, o: Owner) -> (&Package, &FileEntry) {
        let p = &self.packages[o.package];
        (p, &p.files[o.file])
    }
}

pub(crate) fn ser_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

pub(crate) fn ser_opt_path<S: serde::Serializer>(
    p: &Option<PathBuf>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => ser_path(p, s),
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
    use super::*;

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
        assert_eq!(m.owners()[Path::new("/usr/share/x")].len(), 2);
    }
}
