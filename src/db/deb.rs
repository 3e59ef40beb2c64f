//! `.deb` package files: what a package would install, read without
//! installing it.
//!
//! A `.deb` is an `ar` archive: `debian-binary` (`2.x`), then
//! `control.tar[.gz|.xz|.zst|.lzma]`, then `data.tar[...]`, with members
//! whose names start with `_` allowed in between, as dpkg-deb allows them.
//! `.bz2` members are refused with a typed error (no bzip2 decoder is
//! linked). Each tar stream is decompressed through a reader that stops
//! with [`DebError::TooLarge`] once the member's limit is passed; nothing
//! is truncated silently and no member is held in memory whole. The `xz`
//! decoder's memory is capped by [`MAX_DECODER_MEMORY`], zstd's window by
//! [`MAX_ZSTD_WINDOW_LOG`].
//!
//! File entries come from the data tar: paths `./usr/x` become `/usr/x`,
//! modes carry the file-type bits, owners keep both names and ids, digests
//! come from the control member's `md5sums`, and `conffiles` get
//! [`FileFlags::CONFIG`]. A hard link is a [`FileKind::File`] whose `link`
//! is the absolute path of the entry it links to and whose `size` is that
//! entry's size (tar stores 0 for it).

use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use super::dpkg::{self, control, DpkgError};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::format::ar::{self, ArError};
use crate::format::deb822;
use crate::format::tar::{self, Entry, EntryType, TarError};
use crate::fsutil;
use crate::limits::{
    MAX_CONTROL_DECOMPRESSED, MAX_DECODER_MEMORY, MAX_DECOMPRESSED, MAX_INPUT_FILE,
    MAX_ZSTD_WINDOW_LOG,
};
use crate::manifest::{Backend, FileEntry, FileFlags, FileKind, Manifest, Name, Package, Source};
use crate::tree::package::{Kept, KeptTooLarge, PayloadLimits};

/// Why a `.deb` was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DebError {
    #[error(transparent)]
    Ar(#[from] ArError),
    #[error("first member is {found:?}, expected \"debian-binary\"")]
    NotDebianBinary { found: String },
    #[error("debian-binary says format {found:?}, expected \"2.x\"")]
    UnsupportedFormat { found: String },
    #[error("member {found:?} found where {expected:?} was expected")]
    UnexpectedMember {
        found: String,
        expected: &'static str,
    },
    #[error("no {expected:?} member")]
    MissingMember { expected: &'static str },
    #[error("member {member:?}: compression {suffix:?} is not supported")]
    UnsupportedCompression { member: String, suffix: String },
    #[error("member {member:?} decompresses to more than {limit} bytes")]
    TooLarge { member: String, limit: u64 },
    #[error("member {member:?}: decompression failed: {source}")]
    Decompress {
        member: String,
        #[source]
        source: io::Error,
    },
    #[error("member {member:?}: {source}")]
    Tar {
        member: String,
        #[source]
        source: TarError,
    },
    #[error("control.tar has no 'control' file")]
    NoControlFile,
    #[error("control file: {0}")]
    Control(#[source] Box<DpkgError>),
    #[error("md5sums: {0}")]
    Md5sums(#[source] Box<DpkgError>),
    #[error("conffiles: {0}")]
    Conffiles(#[source] Box<DpkgError>),
    #[error("data.tar entry {path:?} has a '..' component")]
    UnsafePath { path: String },
    #[error(transparent)]
    Kept(#[from] KeptTooLarge),
}

/// Decompressed-size caps for the two tar members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub control: u64,
    pub data: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            control: MAX_CONTROL_DECOMPRESSED,
            data: MAX_DECOMPRESSED,
        }
    }
}

const DEBIAN_BINARY: &str = "debian-binary";
const CONTROL_TAR: &str = "control.tar";
const DATA_TAR: &str = "data.tar";
/// The only `.deb` format major version dpkg reads.
const FORMAT_PREFIX: &str = "2.";

/// Parses a `.deb` held in memory (ar + control/data tar, decompressed with limits).
pub fn parse(bytes: &[u8], source: Source) -> Result<Package, DebError> {
    parse_with_limits(bytes, source, Limits::default())
}

/// [`parse`] with explicit decompression limits.
pub fn parse_with_limits(
    bytes: &[u8],
    source: Source,
    limits: Limits,
) -> Result<Package, DebError> {
    let members = ar::parse(bytes)?;
    let (control_member, data_member) = locate_members(bytes, &members)?;
    let control = read_control(bytes, control_member, limits.control)?;
    let files = read_data(bytes, data_member, limits.data, &control)?;
    Ok(dpkg::package(control.record, source, files, None))
}

/// A `.deb`'s files, from its data tar, with the content of the regular
/// files `want` accepts (each at most `limits.file` bytes; larger ones are
/// left out), for a [`PackageTree`](crate::tree::PackageTree). A hard link
/// shares the content kept for the file it links to.
pub fn read_payload(
    path: &Path,
    want: &(dyn Fn(&Path) -> bool + Sync),
    limits: &PayloadLimits,
) -> Result<(Vec<FileEntry>, Kept)> {
    let bytes = fsutil::read_capped(path, MAX_INPUT_FILE)?;
    let err = |e| Error::format(path, e);
    let members = ar::parse(&bytes).map_err(|e| err(e.into()))?;
    let (control_member, data_member) = locate_members(&bytes, &members).map_err(err)?;
    let control = read_control(&bytes, control_member, MAX_CONTROL_DECOMPRESSED).map_err(err)?;
    let mut kept = Kept::new(limits.kept);
    let files =
        read_data_kept(&bytes, data_member, limits, &control, want, &mut kept).map_err(err)?;
    Ok((files, kept))
}

/// Reads a `.deb` package file.
pub fn read(path: &Path) -> Result<Manifest> {
    let bytes = fsutil::read_capped(path, MAX_INPUT_FILE)?;
    let source = Source {
        backend: Backend::Deb,
        file: path.to_path_buf(),
    };
    let package = parse(&bytes, source).map_err(|e| Error::format(path, e))?;
    Ok(Manifest {
        packages: vec![package],
    })
}

/// Checks `debian-binary` and finds the control and data members in the
/// order dpkg-deb requires, skipping `_`-prefixed members between them.
fn locate_members<'m>(
    bytes: &[u8],
    members: &'m [ar::Member],
) -> Result<(&'m ar::Member, &'m ar::Member), DebError> {
    let mut it = members.iter();
    let first = it.next().ok_or(DebError::MissingMember {
        expected: DEBIAN_BINARY,
    })?;
    if first.name != DEBIAN_BINARY {
        return Err(DebError::NotDebianBinary {
            found: first.name.clone(),
        });
    }
    let version = String::from_utf8_lossy(&bytes[first.data.clone()]);
    let version = version.trim_end();
    let minor = version.strip_prefix(FORMAT_PREFIX);
    if !minor.is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit())) {
        return Err(DebError::UnsupportedFormat {
            found: version.to_owned(),
        });
    }
    let mut next = |expected: &'static str| {
        let m = it
            .by_ref()
            .find(|m| !m.name.starts_with('_'))
            .ok_or(DebError::MissingMember { expected })?;
        match m.name.starts_with(expected) {
            true => Ok(m),
            false => Err(DebError::UnexpectedMember {
                found: m.name.clone(),
                expected,
            }),
        }
    };
    let control = next(CONTROL_TAR)?;
    let data = next(DATA_TAR)?;
    Ok((control, data))
}

/// Marks the point where a member's decompressed size passed its limit.
#[derive(Debug)]
pub(crate) struct LimitExceeded;

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompressed size limit exceeded")
    }
}

impl std::error::Error for LimitExceeded {}

/// Passes through at most `left` bytes; one byte more is an error, never a
/// silent end of stream.
pub(crate) struct Capped<R> {
    pub(crate) inner: R,
    pub(crate) left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(LimitExceeded)),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// A decompressing, capped reader over one member's bytes.
fn open_member<'a>(
    bytes: &'a [u8],
    member: &ar::Member,
    base: &str,
    limit: u64,
) -> Result<tar::Reader<Capped<Box<dyn Read + 'a>>>, DebError> {
    let data = &bytes[member.data.clone()];
    let suffix = member.name.strip_prefix(base).unwrap_or(&member.name);
    let decompress_err = |source| DebError::Decompress {
        member: member.name.clone(),
        source,
    };
    let xz = |stream: io::Result<liblzma::stream::Stream>| -> Result<Box<dyn Read + 'a>, DebError> {
        let stream = stream.map_err(decompress_err)?;
        Ok(Box::new(liblzma::read::XzDecoder::new_stream(data, stream)))
    };
    let reader: Box<dyn Read + 'a> = match suffix {
        "" => Box::new(data),
        ".gz" => Box::new(flate2::read::MultiGzDecoder::new(data)),
        ".xz" => xz(liblzma::stream::Stream::new_stream_decoder(
            MAX_DECODER_MEMORY,
            liblzma::stream::CONCATENATED,
        )
        .map_err(io::Error::from))?,
        ".lzma" => xz(
            liblzma::stream::Stream::new_lzma_decoder(MAX_DECODER_MEMORY).map_err(io::Error::from),
        )?,
        ".zst" => {
            let mut z = zstd::stream::read::Decoder::new(data).map_err(decompress_err)?;
            // The window is the decoder's buffer, sized by the frame header.
            z.window_log_max(MAX_ZSTD_WINDOW_LOG)
                .map_err(decompress_err)?;
            Box::new(z)
        }
        _ => {
            return Err(DebError::UnsupportedCompression {
                member: member.name.clone(),
                suffix: suffix.to_owned(),
            })
        }
    };
    Ok(tar::Reader::new(Capped {
        inner: reader,
        left: limit,
    }))
}

/// Turns a tar error into the `.deb` error that explains it.
fn tar_error(member: &ar::Member, limit: u64, e: TarError) -> DebError {
    let member = member.name.clone();
    match e {
        TarError::Io(e) if e.get_ref().is_some_and(|i| i.is::<LimitExceeded>()) => {
            DebError::TooLarge { member, limit }
        }
        TarError::Io(source) => DebError::Decompress { member, source },
        source => DebError::Tar { member, source },
    }
}

/// The next entry of a member's tar stream. An entry whose header puts its
/// data past the member's limit is refused at once: getting past that data
/// would fail anyway, but only after decompressing up to the limit (seconds
/// of work for a few hundred bytes of input).
fn next_entry<R: Read>(
    tar: &mut tar::Reader<R>,
    member: &ar::Member,
    limit: u64,
) -> Result<Option<Entry>, DebError> {
    let entry = tar.next_entry().map_err(|e| tar_error(member, limit, e))?;
    if entry.is_some() && tar.entry_end() > limit {
        return Err(DebError::TooLarge {
            member: member.name.clone(),
            limit,
        });
    }
    Ok(entry)
}

/// What the control member says.
struct Control {
    record: control::Record,
    md5sums: Vec<(PathBuf, Digest)>,
    conffiles: Vec<PathBuf>,
}

fn read_control(bytes: &[u8], member: &ar::Member, limit: u64) -> Result<Control, DebError> {
    let mut tar = open_member(bytes, member, CONTROL_TAR, limit)?;
    let err = |e| tar_error(member, limit, e);
    let (mut control, mut md5sums, mut conffiles) = (None, None, None);
    while let Some(entry) = next_entry(&mut tar, member, limit)? {
        if entry.kind != EntryType::File {
            continue;
        }
        let slot = match entry.path.strip_prefix(b"./").unwrap_or(&entry.path) {
            b"control" => &mut control,
            b"md5sums" => &mut md5sums,
            b"conffiles" => &mut conffiles,
            _ => continue,
        };
        *slot = Some(tar.read_data(limit).map_err(err)?);
    }
    let control = control.ok_or(DebError::NoControlFile)?;
    Ok(Control {
        record: control_record(&control)?,
        md5sums: match md5sums {
            Some(b) => dpkg::parse_md5sums(&b).map_err(|e| DebError::Md5sums(e.into()))?,
            None => Vec::new(),
        },
        conffiles: match conffiles {
            Some(b) => dpkg::parse_conffiles(&b).map_err(|e| DebError::Conffiles(e.into()))?,
            None => Vec::new(),
        },
    })
}

/// Checks the `control` file as dpkg-deb does: exactly one valid stanza.
fn control_record(bytes: &[u8]) -> Result<control::Record, DebError> {
    let check = || -> Result<control::Record, DpkgError> {
        let stanzas = deb822::parse(bytes)?;
        match stanzas.as_slice() {
            [one] => control::check_stanza(one, control::StanzaKind::Control),
            _ => Err(DpkgError::StanzaCount {
                found: stanzas.len(),
            }),
        }
    };
    check().map_err(|e| DebError::Control(Box::new(e)))
}

fn read_data_kept(
    bytes: &[u8],
    member: &ar::Member,
    limits: &PayloadLimits,
    control: &Control,
    want: &dyn Fn(&Path) -> bool,
    kept: &mut Kept,
) -> Result<Vec<FileEntry>, DebError> {
    let per_file = limits.file;
    let keep = |f: &FileEntry| f.kind == FileKind::File && want(&f.path);
    let mut files = Vec::new();
    let mut tar = open_member(bytes, member, DATA_TAR, limits.payload)?;
    walk_data(
        &mut tar,
        member,
        limits.payload,
        control,
        |tar, f, is_link| {
            if !keep(f) {
                return Ok(());
            }
            match (is_link, &f.link) {
                (true, Some(target)) => kept.link(&f.path, target),
                (false, _) if f.size.unwrap_or(0) <= per_file => {
                    let data = tar
                        .read_data(per_file)
                        .map_err(|e| tar_error(member, limits.payload, e))?;
                    kept.insert(&f.path, data)?;
                }
                _ => {}
            }
            Ok(())
        },
        &mut files,
    )?;
    size_hard_links(&mut files);
    Ok(files)
}

/// Walks the data tar: each entry becomes a [`FileEntry`] (digest and
/// conffile flag from the control member), shown to `visit` while its data
/// can still be read, then appended to `files`.
fn walk_data<R: Read>(
    tar: &mut tar::Reader<R>,
    member: &ar::Member,
    limit: u64,
    control: &Control,
    mut visit: impl FnMut(&mut tar::Reader<R>, &FileEntry, bool) -> Result<(), DebError>,
    files: &mut Vec<FileEntry>,
) -> Result<(), DebError> {
    let digests: std::collections::HashMap<&Path, &Digest> = control
        .md5sums
        .iter()
        .map(|(p, d)| (p.as_path(), d))
        .collect();
    while let Some(entry) = next_entry(tar, member, limit)? {
        let is_link = entry.kind == EntryType::HardLink;
        let mut f = file_entry(entry)?;
        f.digest = digests.get(&*f.path).map(|&d| d.clone());
        if control.conffiles.iter().any(|c| **c == *f.path) {
            f.flags.insert(FileFlags::CONFIG);
        }
        visit(tar, &f, is_link)?;
        files.push(f);
    }
    Ok(())
}

fn read_data(
    bytes: &[u8],
    member: &ar::Member,
    limit: u64,
    control: &Control,
) -> Result<Vec<FileEntry>, DebError> {
    let mut tar = open_member(bytes, member, DATA_TAR, limit)?;
    let mut files = Vec::new();
    walk_data(
        &mut tar,
        member,
        limit,
        control,
        |_, _, _| Ok(()),
        &mut files,
    )?;
    size_hard_links(&mut files);
    Ok(files)
}

/// Gives every hard link the size of the entry it links to.
fn size_hard_links(files: &mut [FileEntry]) {
    let sizes: std::collections::HashMap<PathBuf, Option<u64>> = files
        .iter()
        .filter(|f| f.link.is_none())
        .map(|f| (f.path.to_path_buf(), f.size))
        .collect();
    for f in files.iter_mut().filter(|f| f.kind == FileKind::File) {
        if let Some(size) = f.link.as_deref().and_then(|l| sizes.get(l)) {
            f.size = *size;
        }
    }
}

/// `./usr/x/` as stored in a tar becomes `/usr/x`; `..` is refused.
fn archive_path(raw: &[u8]) -> Result<PathBuf, DebError> {
    use std::os::unix::ffi::OsStrExt;
    let path = Path::new(std::ffi::OsStr::from_bytes(raw));
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                return Err(DebError::UnsafePath {
                    path: String::from_utf8_lossy(raw).into_owned(),
                })
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

fn name(raw: Vec<u8>) -> Option<Name> {
    (!raw.is_empty()).then(|| String::from_utf8_lossy(&raw).into_owned().into())
}

fn file_entry(e: Entry) -> Result<FileEntry, DebError> {
    use std::os::unix::ffi::OsStrExt;
    let kind = match e.kind {
        EntryType::File | EntryType::HardLink => FileKind::File,
        EntryType::Dir => FileKind::Dir,
        EntryType::Symlink => FileKind::Symlink,
        EntryType::CharDevice | EntryType::BlockDevice | EntryType::Fifo => FileKind::Other,
    };
    let link = match e.kind {
        EntryType::Symlink => Some(PathBuf::from(std::ffi::OsStr::from_bytes(&e.link))),
        EntryType::HardLink => Some(archive_path(&e.link)?),
        _ => None,
    };
    let mut f = FileEntry::new(archive_path(&e.path)?, kind);
    f.mode = Some(e.mode | e.kind.mode_bits());
    f.user = name(e.uname);
    f.group = name(e.gname);
    f.uid = u32::try_from(e.uid).ok();
    f.gid = u32::try_from(e.gid).ok();
    f.size = Some(e.size);
    f.mtime = Some(e.mtime);
    f.link = link.map(PathBuf::into_boxed_path);
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The crate `Error` wraps these; clippy refuses `Result`s whose error
    /// is over 128 bytes, and `Error::Format` adds a 24-byte path.
    #[test]
    fn error_types_stay_small() {
        use std::mem::size_of;
        assert!(size_of::<DebError>() <= 96, "{}", size_of::<DebError>());
        assert!(size_of::<DpkgError>() <= 96, "{}", size_of::<DpkgError>());
    }

    #[test]
    fn archive_paths() {
        assert_eq!(archive_path(b"./").unwrap(), Path::new("/"));
        assert_eq!(archive_path(b"./usr/bin/").unwrap(), Path::new("/usr/bin"));
        assert_eq!(archive_path(b"usr//x").unwrap(), Path::new("/usr/x"));
        assert!(matches!(
            archive_path(b"./usr/../../etc"),
            Err(DebError::UnsafePath { .. })
        ));
    }

    #[test]
    fn capped_reader_errors_past_the_limit_only() {
        let mut out = Vec::new();
        let mut r = Capped {
            inner: &b"abcd"[..],
            left: 4,
        };
        assert_eq!(r.read_to_end(&mut out).unwrap(), 4);
        let mut r = Capped {
            inner: &b"abcde"[..],
            left: 4,
        };
        let e = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(e.get_ref().unwrap().is::<LimitExceeded>());
    }
}
