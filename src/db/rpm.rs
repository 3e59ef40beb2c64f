//! Turns one RPM header (from an rpmdb or a `.rpm`) into a [`Package`].
//!
//! rpm stores per-file data as parallel arrays (one value per file). The
//! arrays come from untrusted input, so every one must have exactly the file
//! count; a shorter or longer array is an error, never a silent misalignment
//! of one file's digest with another file's path.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::digest::{Algo, Digest};
use crate::format::rpmheader::{Header, HeaderError, Tag};
use crate::limits::MAX_PATH;
use crate::manifest::{FileEntry, FileFlags, FileKind, FileState, Name, Names, Package, Source};

/// rpm's default file digest algorithm when `FILEDIGESTALGO` is absent (MD5).
const DEFAULT_DIGEST_ALGO: u32 = 1;

/// Builds a package (NEVRA, install time, files) from a parsed header.
pub fn package_from_header(h: &Header, source: Source) -> Result<Package, HeaderError> {
    Ok(Package {
        name: required_string(h, Tag::NAME, "NAME")?,
        epoch: h.u32(Tag::EPOCH)?,
        version: required_string(h, Tag::VERSION, "VERSION")?,
        release: Some(required_string(h, Tag::RELEASE, "RELEASE")?),
        arch: h.string(Tag::ARCH)?.map(String::from),
        source,
        install_time: h.u32(Tag::INSTALLTIME)?.map(i64::from),
        files: files(h)?,
    })
}

fn required_string(h: &Header, tag: u32, name: &'static str) -> Result<String, HeaderError> {
    h.string(tag)?
        .map(String::from)
        .ok_or(HeaderError::MissingTag { tag, name })
}

/// The file list, in header order. A header without file tags (gpg-pubkey,
/// empty packages) has no files.
pub fn files(h: &Header) -> Result<Vec<FileEntry>, HeaderError> {
    let paths = paths(h)?;
    let n = paths.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let arrays = FileArrays::read(h, n)?;
    // Exactly `n` slots: collecting `Result`s would grow the Vec by
    // doubling and leave up to half of it unused for the whole audit.
    let mut files = Vec::with_capacity(n);
    for (i, path) in paths.into_iter().enumerate() {
        files.push(arrays.entry(i, path)?);
    }
    Ok(files)
}

/// Full paths from BASENAMES/DIRNAMES/DIRINDEXES, or legacy OLDFILENAMES,
/// byte for byte as rpm joins them. Source rpms have one empty DIRNAME, so
/// their "paths" are bare names (`foo.spec`), as `rpm -qpl` prints them.
fn paths(h: &Header) -> Result<Vec<PathBuf>, HeaderError> {
    let Some(basenames) = h.string_array(Tag::BASENAMES)? else {
        let old = h.string_array(Tag::OLDFILENAMES)?.unwrap_or_default();
        return old
            .iter()
            .enumerate()
            .map(|(i, p)| checked_path(i, &[p]))
            .collect();
    };
    let n = basenames.len();
    let dirnames = h
        .string_array(Tag::DIRNAMES)?
        .ok_or(HeaderError::MissingTag {
            tag: Tag::DIRNAMES,
            name: "DIRNAMES",
        })?;
    let indexes = h
        .u32_array(Tag::DIRINDEXES)?
        .ok_or(HeaderError::MissingTag {
            tag: Tag::DIRINDEXES,
            name: "DIRINDEXES",
        })?;
    exact_len(Tag::DIRINDEXES, n, indexes.len())?;
    basenames
        .iter()
        .zip(&indexes)
        .enumerate()
        .map(|(i, (base, &di))| {
            let dir = dirnames
                .get(di as usize)
                .ok_or(HeaderError::DirIndexOutOfRange {
                    file: i,
                    index: di,
                    dirs: dirnames.len(),
                })?;
            checked_path(i, &[dir, base])
        })
        .collect()
}

fn checked_path(file: usize, parts: &[&[u8]]) -> Result<PathBuf, HeaderError> {
    let len = parts.iter().map(|p| p.len()).sum();
    if len > MAX_PATH {
        return Err(HeaderError::PathTooLong {
            file,
            len,
            max: MAX_PATH,
        });
    }
    // One allocation of exactly the path's length: the manifest keeps it.
    let mut bytes = Vec::with_capacity(len);
    for p in parts {
        bytes.extend_from_slice(p);
    }
    Ok(PathBuf::from(OsString::from_vec(bytes)))
}

fn exact_len(tag: u32, expected: usize, actual: usize) -> Result<(), HeaderError> {
    if expected != actual {
        return Err(HeaderError::ArrayLength {
            tag,
            expected,
            actual,
        });
    }
    Ok(())
}

/// Reads an optional per-file array and checks its length.
fn per_file<T>(
    tag: u32,
    n: usize,
    v: Result<Option<Vec<T>>, HeaderError>,
) -> Result<Option<Vec<T>>, HeaderError> {
    let v = v?;
    if let Some(v) = &v {
        exact_len(tag, n, v.len())?;
    }
    Ok(v)
}

/// Every per-file array of a header, each absent or exactly one value per file.
struct FileArrays<'h> {
    algo: Option<Algo>,
    digests: Option<Vec<&'h [u8]>>,
    modes: Option<Vec<u16>>,
    users: Option<Vec<Name>>,
    groups: Option<Vec<Name>>,
    sizes: Option<Vec<u64>>,
    mtimes: Option<Vec<u32>>,
    flags: Option<Vec<u32>>,
    links: Option<Vec<&'h [u8]>>,
    states: Option<Vec<u8>>,
    rdevs: Option<Vec<u16>>,
    caps: Option<Vec<&'h [u8]>>,
    verify: Option<Vec<u32>>,
}

impl<'h> FileArrays<'h> {
    fn read(h: &'h Header, n: usize) -> Result<Self, HeaderError> {
        let algo_num = h.u32(Tag::FILEDIGESTALGO)?.unwrap_or(DEFAULT_DIGEST_ALGO);
        let long_sizes = per_file(Tag::LONGFILESIZES, n, h.u64_array(Tag::LONGFILESIZES))?;
        let sizes = match long_sizes {
            Some(s) => Some(s),
            None => per_file(Tag::FILESIZES, n, h.u32_array(Tag::FILESIZES))?
                .map(|v| v.into_iter().map(u64::from).collect()),
        };
        let states = h.u8_array(Tag::FILESTATES)?.map(<[u8]>::to_vec);
        let mut names = Names::default();
        let mut shared = |v: Option<Vec<&[u8]>>| {
            v.map(|v| v.into_iter().map(|raw| names.get(raw)).collect::<Vec<_>>())
        };
        let users = shared(per_file(
            Tag::FILEUSERNAME,
            n,
            h.string_array(Tag::FILEUSERNAME),
        )?);
        let groups = shared(per_file(
            Tag::FILEGROUPNAME,
            n,
            h.string_array(Tag::FILEGROUPNAME),
        )?);
        Ok(FileArrays {
            algo: Algo::from_rpm(algo_num),
            digests: per_file(Tag::FILEDIGESTS, n, h.string_array(Tag::FILEDIGESTS))?,
            modes: per_file(Tag::FILEMODES, n, h.u16_array(Tag::FILEMODES))?,
            users,
            groups,
            sizes,
            mtimes: per_file(Tag::FILEMTIMES, n, h.u32_array(Tag::FILEMTIMES))?,
            flags: per_file(Tag::FILEFLAGS, n, h.u32_array(Tag::FILEFLAGS))?,
            links: per_file(Tag::FILELINKTOS, n, h.string_array(Tag::FILELINKTOS))?,
            states: per_file(Tag::FILESTATES, n, Ok(states))?,
            rdevs: per_file(Tag::FILERDEVS, n, h.u16_array(Tag::FILERDEVS))?,
            caps: per_file(Tag::FILECAPS, n, h.string_array(Tag::FILECAPS))?,
            verify: per_file(Tag::FILEVERIFYFLAGS, n, h.u32_array(Tag::FILEVERIFYFLAGS))?,
        })
    }

    fn entry(&self, i: usize, path: PathBuf) -> Result<FileEntry, HeaderError> {
        let mode = at(&self.modes, i).map(u32::from);
        let kind = mode.map_or(FileKind::Unknown, FileKind::from_mode);
        let mut e = FileEntry::new(path, kind);
        e.mode = mode;
        e.user = name_at(&self.users, i);
        e.group = name_at(&self.groups, i);
        e.size = at(&self.sizes, i);
        e.mtime = at(&self.mtimes, i).map(i64::from);
        e.digest = self.digest(i)?;
        e.link = at(&self.links, i)
            .filter(|l| !l.is_empty())
            .map(|l| Path::new(OsStr::from_bytes(l)).into());
        e.flags = at(&self.flags, i)
            .map(FileFlags::from_rpm)
            .unwrap_or_default();
        e.state = at(&self.states, i).and_then(FileState::from_rpm);
        e.rdev = at(&self.rdevs, i).map(u64::from);
        e.caps = at(&self.caps, i)
            .filter(|c| !c.is_empty())
            .map(|c| Name::from(String::from_utf8_lossy(c).into_owned()));
        e.verify_flags = at(&self.verify, i);
        Ok(e)
    }

    /// The file's digest; none for an empty string (directories, symlinks,
    /// ghosts) or an algorithm pyvet cannot compute.
    fn digest(&self, i: usize) -> Result<Option<Digest>, HeaderError> {
        let hex = match self.digests.as_ref().and_then(|d| d.get(i)) {
            Some(hex) if !hex.is_empty() => *hex,
            _ => return Ok(None),
        };
        let Some(algo) = self.algo else {
            return Ok(None);
        };
        Digest::from_hex_bytes(algo, hex)
            .map(Some)
            .ok_or_else(|| HeaderError::BadDigest {
                file: i,
                algo: algo.name(),
                hex_len: algo.digest_len() * 2,
                value: String::from_utf8_lossy(hex).chars().take(160).collect(),
            })
    }
}

/// Value `i` of an optional per-file array.
fn at<T: Copy>(v: &Option<Vec<T>>, i: usize) -> Option<T> {
    v.as_ref().and_then(|v| v.get(i).copied())
}

/// Name `i` of an optional per-file name array (a shared pointer, no copy).
fn name_at(v: &Option<Vec<Name>>, i: usize) -> Option<Name> {
    v.as_ref().and_then(|v| v.get(i).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::rpmheader::synth::Build;
    use crate::format::rpmheader::DataType;
    use crate::manifest::Backend;

    fn source() -> Source {
        Source {
            backend: Backend::RpmHeader,
            file: "synthetic".into(),
        }
    }

    fn nevr() -> Build {
        Build::default()
            .string(Tag::NAME, "demo")
            .string(Tag::VERSION, "1.0")
            .string(Tag::RELEASE, "2")
    }

    /// Two files, /d/ (dir) and /d/x.py, with every per-file array.
    fn two_files() -> Build {
        nevr()
            .string(Tag::ARCH, "x86_64")
            .u32s(Tag::INSTALLTIME, &[1_700_000_123])
            .u32s(Tag::FILESIZES, &[4096, 5])
            .chars(Tag::FILESTATES, &[0, 2])
            .u16s(Tag::FILEMODES, &[0o40755, 0o100644])
            .u32s(Tag::FILEMTIMES, &[10, 20])
            .strings(Tag::FILEDIGESTS, &["", "900150983cd24fb0d6963f7d28e17f72"])
            .strings(Tag::FILELINKTOS, &["", ""])
            .u32s(Tag::FILEFLAGS, &[0, 1 | 16])
            .strings(Tag::FILEUSERNAME, &["root", "app"])
            .strings(Tag::FILEGROUPNAME, &["root", "app"])
            .u32s(Tag::DIRINDEXES, &[0, 1])
            .strings(Tag::BASENAMES, &["d", "x.py"])
            .strings(Tag::DIRNAMES, &["/", "/d/"])
    }

    fn package(b: &Build) -> Result<Package, HeaderError> {
        package_from_header(&Header::parse(&b.region()).unwrap(), source())
    }

    #[test]
    fn every_field_is_read() {
        let p = package(&two_files()).unwrap();
        assert_eq!(p.nevra(), "demo-1.0-2.x86_64");
        assert_eq!(p.install_time, Some(1_700_000_123));
        let [d, x] = &p.files[..] else {
            panic!("{:?}", p.files)
        };
        assert_eq!(&*d.path, Path::new("/d"));
        assert_eq!(
            (d.kind, d.digest.as_ref(), d.size),
            (FileKind::Dir, None, Some(4096))
        );
        assert_eq!(&*x.path, Path::new("/d/x.py"));
        assert_eq!(x.kind, FileKind::File);
        assert_eq!(
            x.digest,
            Some(Algo::Md5.hash_bytes(b"abc")),
            "absent algo = md5"
        );
        assert_eq!(
            (x.mode, x.mtime, x.size),
            (Some(0o100644), Some(20), Some(5))
        );
        assert_eq!(
            (x.user.as_deref(), x.group.as_deref()),
            (Some("app"), Some("app"))
        );
        assert_eq!(x.flags, FileFlags::CONFIG | FileFlags::NOREPLACE);
        assert_eq!(x.state, Some(FileState::NotInstalled));
        assert_eq!(x.link, None);
    }

    #[test]
    fn per_file_array_of_the_wrong_length_is_refused() {
        let b = two_files().u32s(Tag::FILEINODES, &[1]);
        assert!(
            package(&b).is_ok(),
            "arrays pyvet does not use are not checked"
        );
        let b = two_files().u16s(Tag::FILERDEVS, &[0]);
        assert!(package(&b).is_err(), "FILERDEVS is used by rpm -V parity");
        let short = nevr()
            .u32s(Tag::DIRINDEXES, &[0, 0])
            .strings(Tag::BASENAMES, &["a", "b"])
            .strings(Tag::DIRNAMES, &["/"])
            .u16s(Tag::FILEMODES, &[0o100644]);
        let e = package(&short).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::ArrayLength {
                    tag: Tag::FILEMODES,
                    expected: 2,
                    actual: 1
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn dir_index_must_name_a_directory() {
        let b = nevr()
            .u32s(Tag::DIRINDEXES, &[1])
            .strings(Tag::BASENAMES, &["a"])
            .strings(Tag::DIRNAMES, &["/"]);
        let e = package(&b).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::DirIndexOutOfRange {
                    file: 0,
                    index: 1,
                    dirs: 1
                }
            ),
            "{e:?}"
        );
        let missing = nevr()
            .strings(Tag::BASENAMES, &["a"])
            .strings(Tag::DIRNAMES, &["/"]);
        let e = package(&missing).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::MissingTag {
                    tag: Tag::DIRINDEXES,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn digests_by_algorithm() {
        let sha256 = Algo::Sha256.hash_bytes(b"abc").hex();
        let b = nevr()
            .u32s(Tag::DIRINDEXES, &[0])
            .strings(Tag::BASENAMES, &["a"])
            .strings(Tag::DIRNAMES, &["/"])
            .strings(Tag::FILEDIGESTS, &[&sha256])
            .u32s(Tag::FILEDIGESTALGO, &[8]);
        let f = &package(&b).unwrap().files[0];
        assert_eq!(f.digest, Some(Algo::Sha256.hash_bytes(b"abc")));

        let unknown = nevr()
            .u32s(Tag::DIRINDEXES, &[0])
            .strings(Tag::BASENAMES, &["a"])
            .strings(Tag::DIRNAMES, &["/"])
            .strings(Tag::FILEDIGESTS, &["00ff"])
            .u32s(Tag::FILEDIGESTALGO, &[99]);
        let files = package(&unknown).unwrap().files;
        assert_eq!(
            (files.len(), files[0].digest.as_ref()),
            (1, None),
            "file kept, no digest"
        );

        let bad = nevr()
            .u32s(Tag::DIRINDEXES, &[0])
            .strings(Tag::BASENAMES, &["a"])
            .strings(Tag::DIRNAMES, &["/"])
            .strings(Tag::FILEDIGESTS, &["zz"]);
        let e = package(&bad).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::BadDigest {
                    file: 0,
                    algo: "md5",
                    hex_len: 32,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn legacy_oldfilenames_and_long_sizes() {
        let b = nevr()
            .strings(Tag::OLDFILENAMES, &["/etc/a", "/etc/b"])
            .u32s(Tag::FILESIZES, &[1, 2])
            .u64s(Tag::LONGFILESIZES, &[5 << 32, 7]);
        let files = package(&b).unwrap().files;
        let got: Vec<_> = files
            .iter()
            .map(|f| (f.path.to_path_buf(), f.size))
            .collect();
        assert_eq!(
            got,
            [
                (PathBuf::from("/etc/a"), Some(5 << 32)),
                (PathBuf::from("/etc/b"), Some(7))
            ]
        );
        assert_eq!(files[0].kind, FileKind::Unknown, "no FILEMODES");
    }

    #[test]
    fn gpg_pubkey_has_no_files_and_no_arch() {
        let b = Build::default()
            .string(Tag::NAME, "gpg-pubkey")
            .string(Tag::VERSION, "fd431d51")
            .string(Tag::RELEASE, "4ae0493b");
        let p = package(&b).unwrap();
        assert_eq!(p.nevra(), "gpg-pubkey-fd431d51-4ae0493b");
        assert!(p.files.is_empty());
        assert_eq!(p.arch, None);
    }

    #[test]
    fn name_version_release_are_required() {
        let b = Build::default()
            .string(Tag::NAME, "x")
            .string(Tag::VERSION, "1");
        let e = package(&b).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::MissingTag {
                    tag: Tag::RELEASE,
                    ..
                }
            ),
            "{e:?}"
        );
        let b = nevr().raw(Tag::EPOCH, DataType::INT16, 1, vec![0, 1]);
        assert!(Header::parse(&b.region()).is_err(), "EPOCH must be INT32");
    }

    #[test]
    fn overlong_path_is_refused() {
        let long = "x".repeat(MAX_PATH);
        let b = nevr()
            .u32s(Tag::DIRINDEXES, &[0])
            .strings(Tag::BASENAMES, &[&long])
            .strings(Tag::DIRNAMES, &["/"]);
        let e = package(&b).unwrap_err();
        assert!(
            matches!(
                e,
                HeaderError::PathTooLong {
                    file: 0,
                    len: 4097,
                    max: 4096
                }
            ),
            "{e:?}"
        );
    }
}
