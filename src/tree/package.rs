//! A package file (`.rpm`, `.deb`) seen as the tree it would install.
//!
//! Commands that take a tree (`pyvet size`) can then take a package without
//! installing it. The metadata of every entry comes from the package (the
//! rpm header, the `.deb`'s data tar); directories the package does not
//! list but its paths imply (`/usr`, `/usr/lib`) appear as `0755 root`
//! directories. File *content* is held only for the regular files a caller
//! asked for with a predicate (e.g. `.py` sources, which `pyvet size`
//! compresses), each capped at [`PayloadLimits::file`] and all together at
//! [`PayloadLimits::kept`]; opening any other file is
//! [`TreeError::NotLoaded`]. rpm `%ghost` files are not in a payload and
//! not in the tree.
//!
//! Owners: rpm records names only, so `uid`/`gid` are 0 for `root` and
//! [`UNKNOWN_ID`] otherwise; a `.deb` records both.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Entry, Kind, Meta, Tree, TreeError, TreeResult};
use crate::error::Result;
use crate::fsutil::lexical;
use crate::limits::{MAX_DECOMPRESSED, MAX_PACKAGE_TREE_CONTENT, MAX_SOURCE_FILE};
use crate::manifest::{FileEntry, FileKind};

/// The id given to an owner known only by a name other than `root`.
pub const UNKNOWN_ID: u32 = u32::MAX;

/// Mode of a directory a package implies but does not list.
const IMPLIED_DIR_MODE: u32 = 0o040755;

/// How much of a payload may be decompressed and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadLimits {
    /// Decompressed payload (cpio archive or data tar).
    pub payload: u64,
    /// Content of one kept file; a larger wanted file is left out.
    pub file: u64,
    /// Content of all kept files together.
    pub kept: u64,
}

impl Default for PayloadLimits {
    fn default() -> Self {
        PayloadLimits {
            payload: MAX_DECOMPRESSED,
            file: MAX_SOURCE_FILE,
            kept: MAX_PACKAGE_TREE_CONTENT,
        }
    }
}

/// The files a caller wanted hold more than [`PayloadLimits::kept`].
#[derive(Debug, thiserror::Error)]
#[error("the files asked for hold more than {max} bytes")]
pub struct KeptTooLarge {
    pub max: u64,
}

/// Content kept from a payload, by path; hard links share it.
#[derive(Debug, Default)]
pub struct Kept {
    files: HashMap<PathBuf, Arc<[u8]>>,
    held: u64,
    max: u64,
}

impl Kept {
    pub fn new(max: u64) -> Self {
        Kept {
            max,
            ..Kept::default()
        }
    }

    /// Keeps `data` for `path`, refusing to hold more than the limit in all.
    pub fn insert(&mut self, path: &Path, data: Vec<u8>) -> std::result::Result<(), KeptTooLarge> {
        self.held = self.held.saturating_add(data.len() as u64);
        if self.held > self.max {
            return Err(KeptTooLarge { max: self.max });
        }
        self.files.insert(path.to_path_buf(), data.into());
        Ok(())
    }

    /// Gives `path` the content kept for `from`, if any (a hard link).
    pub fn link(&mut self, path: &Path, from: &Path) {
        if let Some(d) = self.files.get(from).cloned() {
            self.files.insert(path.to_path_buf(), d);
        }
    }

    /// Drops `path`'s content (it was read only for its hard links).
    pub fn remove(&mut self, path: &Path) {
        self.files.remove(path);
    }

    pub fn get(&self, path: &Path) -> Option<&Arc<[u8]>> {
        self.files.get(path)
    }
}

/// One entry of the tree.
#[derive(Debug, Clone)]
struct Node {
    meta: Meta,
    /// A symlink's target, as stored.
    link: Option<PathBuf>,
}

/// A package's payload as a read-only [`Tree`].
#[derive(Debug)]
pub struct PackageTree {
    label: String,
    nodes: HashMap<PathBuf, Node>,
    /// Directory -> its entries' names, sorted.
    children: HashMap<PathBuf, Vec<OsString>>,
    kept: Kept,
}

/// The package formats a [`PackageTree`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFormat {
    Rpm,
    Deb,
}

impl PackageFormat {
    /// Recognises a package file by its first bytes (rpm's lead magic, the
    /// `ar` magic of a `.deb`); `None` for any other regular file. A path
    /// that cannot be opened, or is not a regular file, is an error naming it.
    pub fn sniff(path: &Path) -> Result<Option<PackageFormat>> {
        let (file, _) = crate::fsutil::open_regular(path)?;
        let mut magic = Vec::with_capacity(8);
        file.take(8)
            .read_to_end(&mut magic)
            .map_err(|e| crate::Error::io(path, e))?;
        Ok(match magic.as_slice() {
            [0xed, 0xab, 0xee, 0xdb, ..] => Some(PackageFormat::Rpm),
            b"!<arch>\n" => Some(PackageFormat::Deb),
            _ => None,
        })
    }
}

impl PackageTree {
    /// Reads the package at `path`, keeping the content of the regular files
    /// `want` accepts.
    pub fn open(
        path: &Path,
        format: PackageFormat,
        want: &(dyn Fn(&Path) -> bool + Sync),
        limits: &PayloadLimits,
    ) -> Result<PackageTree> {
        let (files, kept) = match format {
            PackageFormat::Rpm => crate::db::rpmfile::payload::read(path, want, limits)?,
            PackageFormat::Deb => crate::db::deb::read_payload(path, want, limits)?,
        };
        Ok(Self::from_files(path.display().to_string(), &files, kept))
    }

    /// Builds the tree from a package's file list and the content kept.
    pub fn from_files(label: String, files: &[FileEntry], mut kept: Kept) -> PackageTree {
        // Kept content is found under the tree's spelling of each path.
        kept.files = std::mem::take(&mut kept.files)
            .into_iter()
            .filter_map(|(p, d)| Some((absolute(&p)?, d)))
            .collect();
        let mut nodes: BTreeMap<PathBuf, Node> = BTreeMap::new();
        nodes.insert(PathBuf::from("/"), implied_dir());
        for f in files {
            let Some(path) = absolute(&f.path) else {
                continue;
            };
            // A directory present has its parents: stop there (a path of
            // 2,000 components cost 2,000 copies of its prefixes per file).
            for dir in path.ancestors().skip(1) {
                if nodes.contains_key(dir) {
                    break;
                }
                nodes.insert(dir.to_path_buf(), implied_dir());
            }
            nodes.insert(path, node(f));
        }
        let mut children: HashMap<PathBuf, Vec<OsString>> = HashMap::new();
        for path in nodes.keys() {
            if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
                children
                    .entry(parent.to_path_buf())
                    .or_default()
                    .push(name.to_os_string());
            }
        }
        for names in children.values_mut() {
            names.sort();
        }
        PackageTree {
            label,
            nodes: nodes.into_iter().collect(),
            children,
            kept,
        }
    }

    fn node(&self, path: &Path) -> TreeResult<&Node> {
        self.nodes
            .get(path)
            .ok_or_else(|| TreeError::NotFound(path.to_path_buf()))
    }

    /// `path` with its parent resolved and its final name kept (lstat's view).
    fn nofollow(&self, path: &Path) -> TreeResult<PathBuf> {
        let path = lexical(path);
        match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) => Ok(self.resolve(parent)?.join(name)),
            _ => Ok(path),
        }
    }
}

/// A package path made absolute and plain (`usr/x` and `/usr/./x` are `/usr/x`).
fn absolute(p: &Path) -> Option<PathBuf> {
    let path = lexical(&Path::new("/").join(p));
    (path != Path::new("/")).then_some(path)
}

fn implied_dir() -> Node {
    Node {
        meta: Meta {
            kind: Kind::Dir,
            mode: IMPLIED_DIR_MODE,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            mtime_nsec: 0,
            ctime: 0,
            rdev: 0,
            nlink: 1,
        },
        link: None,
    }
}

fn id(numeric: Option<u32>, name: Option<&str>) -> u32 {
    numeric.unwrap_or(match name {
        Some("root") | None => 0,
        Some(_) => UNKNOWN_ID,
    })
}

fn node(f: &FileEntry) -> Node {
    let kind = match f.mode.and_then(Kind::from_mode) {
        Some(k) => k,
        None => match f.kind {
            FileKind::Dir => Kind::Dir,
            FileKind::Symlink => Kind::Symlink,
            _ => Kind::File,
        },
    };
    let type_bits = match kind {
        Kind::File => 0o100000,
        Kind::Dir => 0o040000,
        Kind::Symlink => 0o120000,
        _ => 0,
    };
    let link = (kind == Kind::Symlink)
        .then(|| f.link.as_deref().map(Path::to_path_buf).unwrap_or_default());
    // lstat's size of a symlink is its target's length (tar records 0).
    let size = match &link {
        Some(l) => l.as_os_str().len() as u64,
        None => f.size.unwrap_or(0),
    };
    let mtime = f.mtime.unwrap_or(0);
    Node {
        meta: Meta {
            kind,
            mode: f.mode.unwrap_or(type_bits | 0o644),
            uid: id(f.uid, f.user.as_deref()),
            gid: id(f.gid, f.group.as_deref()),
            size,
            mtime,
            mtime_nsec: 0,
            ctime: mtime,
            rdev: f.rdev.unwrap_or(0),
            nlink: 1,
        },
        link,
    }
}

impl Tree for PackageTree {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn lstat(&self, path: &Path) -> TreeResult<Meta> {
        let p = self.nofollow(path)?;
        self.node(&p).map(|n| n.meta)
    }

    fn read_link(&self, path: &Path) -> TreeResult<PathBuf> {
        let p = self.nofollow(path)?;
        self.node(&p)?
            .link
            .clone()
            .ok_or_else(|| TreeError::io(path, std::io::Error::from_raw_os_error(libc::EINVAL)))
    }

    fn read_dir(&self, path: &Path) -> TreeResult<Vec<Entry>> {
        let dir = self.resolve(path)?;
        if self.node(&dir)?.meta.kind != Kind::Dir {
            return Err(TreeError::io(
                path,
                std::io::Error::from_raw_os_error(libc::ENOTDIR),
            ));
        }
        let names = self.children.get(&dir).map(Vec::as_slice).unwrap_or(&[]);
        names
            .iter()
            .map(|name| {
                Ok(Entry {
                    name: name.clone(),
                    meta: self.node(&dir.join(name))?.meta,
                })
            })
            .collect()
    }

    fn xattr(&self, _path: &Path, _name: &str) -> Option<Vec<u8>> {
        None
    }

    fn open(&self, path: &Path) -> TreeResult<(Box<dyn Read + Send + '_>, Meta)> {
        let p = self.nofollow(path)?;
        let meta = self.node(&p)?.meta;
        if meta.kind != Kind::File {
            return Err(TreeError::NotRegular {
                path: path.to_path_buf(),
                kind: meta.kind,
            });
        }
        match self.kept.get(&p) {
            Some(data) => Ok((Box::new(std::io::Cursor::new(data.clone())), meta)),
            None => Err(TreeError::NotLoaded(path.to_path_buf())),
        }
    }

    /// As for a directory tree, a file over `max` is [`TreeError::TooLarge`]
    /// (judged from its recorded size, whether or not its content was kept).
    fn read(&self, path: &Path, max: u64) -> TreeResult<Vec<u8>> {
        let p = self.nofollow(path)?;
        let meta = self.node(&p)?.meta;
        if meta.kind == Kind::File && meta.size > max {
            return Err(TreeError::TooLarge {
                path: path.to_path_buf(),
                size: meta.size,
                max,
            });
        }
        let (mut r, _) = self.open(path)?;
        let mut buf = Vec::new();
        r.read_to_end(&mut buf)
            .map_err(|e| TreeError::io(path, e))?;
        Ok(buf)
    }

    fn resolve(&self, path: &Path) -> TreeResult<PathBuf> {
        super::resolve_with(path, |candidate| {
            let node = self
                .nodes
                .get(candidate)
                .ok_or_else(|| TreeError::NotFound(path.to_path_buf()))?;
            Ok(node.link.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, mode: u32, size: u64) -> FileEntry {
        let mut f = FileEntry::new(path, FileKind::from_mode(mode));
        f.mode = Some(mode);
        f.size = Some(size);
        f.user = Some("root".into());
        f
    }

    fn tree() -> PackageTree {
        let mut link = file("/usr/lib/py/alias", 0o120777, 4);
        link.link = Some(Path::new("m.py").into());
        let mut up = file("/usr/lib/py/up", 0o120777, 0);
        up.link = Some(Path::new("../../../../../etc").into());
        let mut lp = file("/usr/lib/py/loop", 0o120777, 0);
        lp.link = Some(Path::new("loop").into());
        let files = vec![
            file("/usr/lib/py", 0o040755, 0),
            file("/usr/lib/py/m.py", 0o100644, 6),
            file("/usr/lib/py/data.bin", 0o100644, 3),
            link,
            up,
            lp,
            file("/etc/x.conf", 0o100600, 1),
        ];
        let mut kept = Kept::new(100);
        kept.insert(Path::new("/usr/lib/py/m.py"), b"x = 1\n".to_vec())
            .unwrap();
        PackageTree::from_files("t.rpm".into(), &files, kept)
    }

    #[test]
    fn implied_directories_listing_and_metadata() {
        let t = tree();
        let names = |p: &str| -> Vec<String> {
            t.read_dir(Path::new(p))
                .unwrap()
                .into_iter()
                .map(|e| e.name.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names("/"), ["etc", "usr"]);
        assert_eq!(names("/usr/lib"), ["py"]);
        assert_eq!(
            names("/usr/lib/py"),
            ["alias", "data.bin", "loop", "m.py", "up"]
        );
        let usr = t.lstat(Path::new("/usr")).unwrap();
        assert_eq!((usr.kind, usr.mode), (Kind::Dir, 0o040755));
        let conf = t.lstat(Path::new("/etc/x.conf")).unwrap();
        assert_eq!((conf.kind, conf.mode, conf.size), (Kind::File, 0o100600, 1));
        let alias = t.lstat(Path::new("/usr/lib/py/alias")).unwrap();
        assert_eq!((alias.kind, alias.size), (Kind::Symlink, 4));
        assert!(t.lstat(Path::new("/nope")).unwrap_err().is_not_found());
    }

    #[test]
    fn only_kept_content_opens() {
        let t = tree();
        assert_eq!(
            t.read(Path::new("/usr/lib/py/m.py"), 100).unwrap(),
            b"x = 1\n"
        );
        assert!(matches!(
            t.read(Path::new("/usr/lib/py/m.py"), 5),
            Err(TreeError::TooLarge {
                size: 6,
                max: 5,
                ..
            })
        ));
        assert!(matches!(
            t.open(Path::new("/usr/lib/py/data.bin")),
            Err(TreeError::NotLoaded(_))
        ));
        // Too large is said from the recorded size, kept or not.
        assert!(matches!(
            t.read(Path::new("/usr/lib/py/data.bin"), 2),
            Err(TreeError::TooLarge {
                size: 3,
                max: 2,
                ..
            })
        ));
        // A final symlink is not followed; stat follows it.
        assert!(matches!(
            t.open(Path::new("/usr/lib/py/alias")),
            Err(TreeError::NotRegular {
                kind: Kind::Symlink,
                ..
            })
        ));
        assert_eq!(t.stat(Path::new("/usr/lib/py/alias")).unwrap().size, 6);
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let t = tree();
        assert_eq!(
            t.resolve(Path::new("/usr/lib/py/alias")).unwrap(),
            Path::new("/usr/lib/py/m.py")
        );
        // `..` stops at `/`: the link lands on the package's /etc.
        assert_eq!(
            t.resolve(Path::new("/usr/lib/py/up/x.conf")).unwrap(),
            Path::new("/etc/x.conf")
        );
        let e = t.resolve(Path::new("/usr/lib/py/loop")).unwrap_err();
        assert!(e.to_string().contains("symbolic links"), "{e}");
        assert_eq!(
            t.read_link(Path::new("/usr/lib/py/alias")).unwrap(),
            Path::new("m.py")
        );
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    /// The `.deb` fixtures (dpkg-deb, every data.tar compression): the tree
    /// dpkg would install, a hard link sharing its target's content, and
    /// only the wanted content kept.
    #[test]
    fn debs_as_trees() {
        let in_bin = |p: &Path| p.starts_with("/usr/bin");
        for (name, pkg) in [
            ("pyvet-gz_1.0-1_all.deb", "pyvet-gz"),
            ("pyvet-xz_2.0_all.deb", "pyvet-xz"),
            ("pyvet-zst_3.0-1.1_all.deb", "pyvet-zst"),
            ("pyvet-none_0.1_all.deb", "pyvet-none"),
        ] {
            let path = fixture("deb").join(name);
            assert_eq!(
                PackageFormat::sniff(&path).unwrap(),
                Some(PackageFormat::Deb)
            );
            let t = PackageTree::open(
                &path,
                PackageFormat::Deb,
                &in_bin,
                &PayloadLimits::default(),
            )
            .unwrap();
            let bin = format!("/usr/bin/{pkg}");
            let data = t.read(Path::new(&bin), 1 << 20).unwrap();
            assert!(data.starts_with(b"#!"), "{name}");
            let hard = t.read(Path::new(&format!("{bin}-hard")), 1 << 20).unwrap();
            assert_eq!(hard, data, "{name}: the hard link shares the content");
            let link = t.lstat(Path::new(&format!("{bin}-link"))).unwrap();
            assert_eq!((link.kind, link.size), (Kind::Symlink, pkg.len() as u64));
            let conf = t.lstat(Path::new(&format!("/etc/{pkg}.conf"))).unwrap();
            assert_eq!(
                (conf.mode, conf.size, conf.uid),
                (0o100640, 12, 0),
                "{name}"
            );
            assert!(matches!(
                t.open(Path::new(&format!("/etc/{pkg}.conf"))),
                Err(TreeError::NotLoaded(_))
            ));
            let setuid = t
                .lstat(Path::new(&format!("/usr/share/{pkg}/mode4755")))
                .unwrap();
            assert_eq!(setuid.mode, 0o104755, "{name}");
        }
    }

    #[test]
    fn rpm_fixture_as_a_tree() {
        let path = fixture("rpm/pyvet-fixture-digest8.rpm");
        assert_eq!(
            PackageFormat::sniff(&path).unwrap(),
            Some(PackageFormat::Rpm)
        );
        assert_eq!(PackageFormat::sniff(&fixture("rpm/make.sh")).unwrap(), None);
        let e = PackageFormat::sniff(&fixture("rpm/absent.rpm")).unwrap_err();
        assert!(e.to_string().contains("absent.rpm"), "{e}");
        let py = |p: &Path| p.extension().is_some_and(|e| e == "py");
        let t =
            PackageTree::open(&path, PackageFormat::Rpm, &py, &PayloadLimits::default()).unwrap();
        let pkg = Path::new("/usr/lib/pyvet-fixture/pkg");
        let names: Vec<_> = t
            .read_dir(pkg)
            .unwrap()
            .into_iter()
            .map(|e| e.name.into_string().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "__init__.py",
                "café.txt",
                "empty",
                "hardlink-a",
                "hardlink-b",
                "link-to-mod",
                "mod.py"
            ]
        );
        assert!(t.read(&pkg.join("link-to-mod"), 100).is_err());
        assert_eq!(t.stat(&pkg.join("link-to-mod")).unwrap().size, 11);
        assert_eq!(
            t.read(&t.resolve(&pkg.join("link-to-mod")).unwrap(), 100)
                .unwrap(),
            b"VALUE = 42\n"
        );
        let private = t
            .lstat(Path::new("/etc/pyvet-fixture/private.conf"))
            .unwrap();
        assert_eq!(
            (private.mode, private.uid),
            (0o100640, UNKNOWN_ID),
            "owned by nobody"
        );
        // %ghost files are not part of the tree; their directory is.
        assert!(t
            .read_dir(Path::new("/var/lib/pyvet-fixture"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn kept_content_is_capped_in_all() {
        let mut k = Kept::new(10);
        k.insert(Path::new("/a"), vec![0; 6]).unwrap();
        k.link(Path::new("/b"), Path::new("/a"));
        assert_eq!(k.get(Path::new("/b")).unwrap().len(), 6);
        assert!(matches!(
            k.insert(Path::new("/c"), vec![0; 5]),
            Err(KeptTooLarge { max: 10 })
        ));
    }
}
