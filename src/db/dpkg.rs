//! The dpkg database: `/var/lib/dpkg/status` with `info/<pkg>.list`,
//! `.md5sums` and `.conffiles`, pending `updates/`, and the `status.d/`
//! directory that distroless images carry instead (one file of stanzas per
//! package, with `<pkg>.md5sums` beside it and no `.list`).
//!
//! Which packages count: only those whose files are (or may partly be) on
//! disk, i.e. `Status` says `half-installed`, `unpacked`, `half-configured`,
//! `triggers-awaited`, `triggers-pending` or `installed`. `half-installed`
//! is kept because dpkg has started writing (or not finished removing) its
//! files and still keeps its `.list`; `config-files` (only conffiles left)
//! and `not-installed` are dropped. A `status.d/` stanza without `Status` is
//! installed (distroless writes none); in `status` it means not installed.
//!
//! What each file entry says:
//! - paths from the `.list` have [`FileKind::Unknown`]: dpkg records no file
//!   types, and the admin directory alone does not tell where the root is;
//! - a path in `.md5sums` is a regular file ([`FileKind::File`]) with that
//!   MD5; md5sums paths missing from the `.list` (or with no `.list`, as in
//!   distroless) are added;
//! - conffiles (`Conffiles:` field, or `info/<pkg>.conffiles`) get
//!   [`FileFlags::CONFIG`] and, from the field, their MD5; obsolete conffiles
//!   are left out, as they are no longer in the package's file list
//!   (`dpkg -L` does not show them either).
//!
//! Diversions (`diversions` in the admin directory, written by
//! `dpkg-divert`) move a file: a package's file at a diverted path is
//! installed at the divert-to path instead, unless the package is the one
//! that made the diversion. Such entries are listed where the file is, which
//! is where `dpkg --verify` checks it; the diverted path itself belongs to
//! the diverting package (or, for a `--local` diversion, to nobody).
//!
//! `install_time` is the `.list` file's mtime (what `dpkg-query` shows as
//! `db-fsys:Last-Modified`), or `None` without a `.list`. Versions are split
//! as dpkg splits them: epoch before the first `:` (`0` and absent are both
//! `None`), revision after the last `-`.

pub mod control;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use self::control::{check_instances, check_stanza, Conffile, PkgStatus, Record, StanzaKind};
use crate::digest::{Algo, Digest};
use crate::error::{Error, Result};
use crate::format::deb822::{self, Deb822Error};
use crate::fsutil;
use crate::limits::{MAX_INPUT_FILE, MAX_LINE, MAX_PATH};
use crate::manifest::{Backend, FileEntry, FileFlags, FileKind, Manifest, Package, Source};

/// Why dpkg data was refused; `line` numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpkgError {
    #[error(transparent)]
    Syntax(#[from] Deb822Error),
    #[error("line {line}: invalid package name {name:?} in '{field}' field: {why}")]
    InvalidName {
        line: usize,
        field: &'static str,
        name: String,
        why: String,
    },
    #[error("line {line}: package '{package}' has no '{field}' field")]
    MissingField {
        line: usize,
        package: String,
        field: &'static str,
    },
    #[error("line {line}: package '{package}': {word} word in 'Status' field {value:?} {why}")]
    InvalidStatus {
        line: usize,
        package: String,
        word: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("line {line}: package '{package}': '{field}' value {value:?}: {why}")]
    InvalidVersion {
        line: usize,
        package: String,
        field: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("line {line}: package '{package}': '{field}' field: {why}")]
    InvalidRelation {
        line: usize,
        package: String,
        field: &'static str,
        why: String,
    },
    #[error(
        "line {line}: package '{package}': '{field}' is {value:?}, expected one of {expected}"
    )]
    InvalidWord {
        line: usize,
        package: String,
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("line {line}: package '{package}': 'Conffiles' line {text:?}: {why}")]
    InvalidConffile {
        line: usize,
        package: String,
        text: String,
        why: &'static str,
    },
    #[error("line {line}: package '{package}' has status {status} but {why}")]
    InconsistentStatus {
        line: usize,
        package: String,
        status: &'static str,
        why: &'static str,
    },
    #[error("line {line}: package '{package}' is installed again (also at line {other}) and the instances cannot be co-installed")]
    NonCoinstallable {
        line: usize,
        package: String,
        other: usize,
    },
    #[error("expected one stanza, found {found}")]
    StanzaCount { found: usize },
    #[error("line {line}: empty path")]
    EmptyPath { line: usize },
    #[error("line {line}: path {path:?} is not absolute")]
    RelativePath { line: usize, path: String },
    #[error("line {line}: path is {len} bytes long, more than the limit of {max}")]
    PathTooLong { line: usize, len: usize, max: usize },
    /// `len` is where reading stopped: the line is at least that long.
    #[error("line {line}: longer than the limit of {max} bytes")]
    LineTooLong { line: usize, len: usize, max: usize },
    #[error("line {line}: no final newline")]
    MissingFinalNewline { line: usize },
    #[error(
        "line {line}: diversion entry cut short: expected a divert-to path and a package name"
    )]
    TruncatedDiversion { line: usize },
    #[error("line {line}: {why}: {text:?}")]
    BadMd5sumsLine {
        line: usize,
        why: &'static str,
        text: String,
    },
    /// Reading failed part-way (a document parsed as it is read).
    #[error("read error: {why}")]
    Read { why: String },
}

/// Separators md5sum(1) writes between the hash and the path (text, binary mode).
const MD5SUMS_SEPARATORS: [&[u8]; 2] = [b"  ", b" *"];
/// How much of a `status` file is read at a time.
const READ_BUFFER: usize = 64 * 1024;
/// The `DEBIAN/conffiles` flag prefix dpkg 1.20+ understands.
const CONFFILES_FLAG_PREFIX: &str = "remove-on-upgrade ";

/// Parses a dpkg `status` document; only packages with files on disk are
/// kept. Their file lists hold only their conffiles: the rest is in `info/`.
pub fn parse_status(bytes: &[u8], source: Source) -> Result<Vec<Package>, DpkgError> {
    read_status_from(bytes, source)
}

/// [`parse_status`] from a reader, a stanza at a time: what it costs is
/// the packages kept, not the size of the document.
pub fn read_status_from<R: BufRead>(reader: R, source: Source) -> Result<Vec<Package>, DpkgError> {
    let mut stanzas = deb822::read_stanzas(reader);
    let records = parse_records(&mut stanzas, StanzaKind::Status, Keep::OnDisk);
    if let Some(e) = stanzas.take_io_error() {
        return Err(DpkgError::Read { why: e.to_string() });
    }
    Ok(records?
        .into_iter()
        .map(|r| {
            let files = merge_files(None, Vec::new(), &r.conffiles, &[]);
            package(r, source.clone(), files, None)
        })
        .collect())
}

/// Which records a parse keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Every one (dpkg's journal replaces records where they stand).
    All,
    /// Those whose files are (or may partly be) on disk.
    OnDisk,
}

/// Checks every stanza of a document, then the instances against each
/// other (as dpkg does, in that order), and keeps the records `keep` says.
/// Records no instance check needs are dropped as they are read.
fn parse_records<R: BufRead>(
    stanzas: &mut deb822::Stanzas<R>,
    kind: StanzaKind,
    keep: Keep,
) -> Result<Vec<Record>, DpkgError> {
    let mut records = Vec::new();
    for s in stanzas {
        let r = check_stanza(&s?, kind)?;
        if keep == Keep::All || r.status != PkgStatus::NotInstalled {
            records.push(r);
        }
    }
    check_instances(&records)?;
    if keep == Keep::OnDisk {
        records.retain(|r| r.status.files_on_disk());
    }
    records.shrink_to_fit();
    Ok(records)
}

/// A checked control record and its files as a package (also used for `.deb`).
pub(crate) fn package(
    r: Record,
    source: Source,
    files: Vec<FileEntry>,
    time: Option<i64>,
) -> Package {
    Package {
        name: r.name,
        epoch: r.version.epoch,
        version: r.version.upstream,
        release: r.version.revision,
        arch: r.arch,
        source,
        install_time: time,
        files,
    }
}

/// Splits a file into numbered lines; the flag says whether the line ended
/// in `\n`. An over-long line is cut short (see [`deb822::Lines`]).
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8], bool)> {
    deb822::Lines::new(bytes)
        .enumerate()
        .map(|(i, l)| (i + 1, l.text, l.terminated))
}

fn check_line_len(line: usize, text: &[u8]) -> Result<(), DpkgError> {
    if text.len() > MAX_LINE {
        return Err(DpkgError::LineTooLong {
            line,
            len: text.len(),
            max: MAX_LINE,
        });
    }
    Ok(())
}

fn check_path_len(line: usize, path: &[u8]) -> Result<(), DpkgError> {
    if path.len() > MAX_PATH {
        return Err(DpkgError::PathTooLong {
            line,
            len: path.len(),
            max: MAX_PATH,
        });
    }
    Ok(())
}

/// Parses an `info/<pkg>.list` file: one absolute path per line.
///
/// As dpkg: every line must end in a newline, one trailing `/` is dropped,
/// and an empty path is an error. A relative path (dpkg never writes one)
/// is refused too.
pub fn parse_list(bytes: &[u8]) -> Result<Vec<PathBuf>, DpkgError> {
    lines(bytes)
        .map(|(line, text, terminated)| {
            whole_line(line, text, terminated)?;
            absolute_path(line, text.strip_suffix(b"/").unwrap_or(text))
        })
        .collect()
}

/// A line as dpkg's own lists need it: within the limit, ending in `\n`.
fn whole_line(line: usize, text: &[u8], terminated: bool) -> Result<(), DpkgError> {
    check_line_len(line, text)?;
    if !terminated {
        return Err(DpkgError::MissingFinalNewline { line });
    }
    Ok(())
}

/// A non-empty absolute path within the limit (dpkg never writes another).
fn absolute_path(line: usize, path: &[u8]) -> Result<PathBuf, DpkgError> {
    check_path_len(line, path)?;
    match path.first() {
        None => Err(DpkgError::EmptyPath { line }),
        Some(b'/') => Ok(PathBuf::from(OsStr::from_bytes(path))),
        Some(_) => Err(DpkgError::RelativePath {
            line,
            path: String::from_utf8_lossy(path).into_owned(),
        }),
    }
}

/// Parses a `.md5sums` file: `<md5 hex>  <path without leading slash>` lines.
///
/// md5sum's binary-mode `<hex> *<path>` is accepted too, and so are paths
/// that already start with `/` or `./`; empty lines are skipped.
pub fn parse_md5sums(bytes: &[u8]) -> Result<Vec<(PathBuf, Digest)>, DpkgError> {
    let hex_len = Algo::Md5.digest_len() * 2;
    let mut out = Vec::new();
    for (line, text, _) in lines(bytes) {
        check_line_len(line, text)?;
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |why| DpkgError::BadMd5sumsLine {
            line,
            why,
            text: String::from_utf8_lossy(text).into_owned(),
        };
        let digest = text
            .get(..hex_len)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| Digest::from_hex(Algo::Md5, h))
            .ok_or_else(|| bad("does not start with 32 hex digits"))?;
        let sep = text.get(hex_len..hex_len + 2).unwrap_or_default();
        if !MD5SUMS_SEPARATORS.contains(&sep) {
            return Err(bad("the hash is not followed by two spaces"));
        }
        let path = text.get(hex_len + 2..).unwrap_or_default();
        let path = path.strip_prefix(b"./").unwrap_or(path);
        let path = path.strip_prefix(b"/").unwrap_or(path);
        if path.is_empty() {
            return Err(bad("no path after the hash"));
        }
        check_path_len(line, path)?;
        out.push((Path::new("/").join(OsStr::from_bytes(path)), digest));
    }
    Ok(out)
}

/// Parses a `.conffiles` file: one absolute path per line (with optional flags).
///
/// The `remove-on-upgrade` flag dpkg 1.20+ allows before the path is
/// dropped; blank lines are skipped and surrounding blanks trimmed, as
/// dpkg-deb does when it builds a package.
pub fn parse_conffiles(bytes: &[u8]) -> Result<Vec<PathBuf>, DpkgError> {
    let mut out = Vec::new();
    for (line, text, _) in lines(bytes) {
        check_line_len(line, text)?;
        let text = String::from_utf8_lossy(text);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        // A remove-on-upgrade conffile is one dpkg deletes: the package does
        // not install it, and `dpkg-query -L` does not list it.
        let (path, removed) = match text.strip_prefix(CONFFILES_FLAG_PREFIX) {
            Some(p) => (p, true),
            None => (text, false),
        };
        check_path_len(line, path.as_bytes())?;
        if !path.starts_with('/') {
            return Err(DpkgError::RelativePath {
                line,
                path: path.to_owned(),
            });
        }
        if !removed {
            out.push(PathBuf::from(path));
        }
    }
    Ok(out)
}

/// One `diversions` entry: packages other than `by` install `from` at `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    pub from: PathBuf,
    pub to: PathBuf,
    /// The diverting package; `None` for a local diversion (`:` in the file).
    pub by: Option<String>,
}

/// Parses a `diversions` file: entries of three lines (diverted path,
/// divert-to path, diverting package or `:`), as `dpkg-divert` writes it.
///
/// As for `.list` files, every line must end in a newline and paths must be
/// absolute; an entry cut short is an error naming its first line.
pub fn parse_diversions(bytes: &[u8]) -> Result<Vec<Diversion>, DpkgError> {
    let mut lines = lines(bytes).map(|(line, text, terminated)| {
        whole_line(line, text, terminated)?;
        Ok((line, text))
    });
    let mut out = Vec::new();
    while let Some(first) = lines.next() {
        let (line, from) = first?;
        let mut rest = || {
            lines
                .next()
                .unwrap_or(Err(DpkgError::TruncatedDiversion { line }))
        };
        let (to_line, to) = rest()?;
        let (_, by) = rest()?;
        out.push(Diversion {
            from: absolute_path(line, from)?,
            to: absolute_path(to_line, to)?,
            by: (by != b":").then(|| String::from_utf8_lossy(by).into_owned()),
        });
    }
    Ok(out)
}

/// Moves every diverted file to where dpkg installed it (its
/// `namenodetouse`): a diversion applies to every package but the one that
/// made it.
pub fn apply_diversions(packages: &mut [Package], diversions: &[Diversion]) {
    if diversions.is_empty() {
        return;
    }
    let by_path: HashMap<&Path, &Diversion> =
        diversions.iter().map(|d| (d.from.as_path(), d)).collect();
    for p in packages {
        for f in &mut p.files {
            match by_path.get(&*f.path) {
                Some(d) if d.by.as_deref() != Some(p.name.as_str()) => {
                    f.path = d.to.clone().into_boxed_path();
                }
                _ => {}
            }
        }
    }
}

/// Reads `diversions` beside a `status` file, if there is one, and applies it.
fn divert(packages: &mut [Package], dir: &Path) -> Result<()> {
    let path = dir.join("diversions");
    let path = path.exists().then_some(path);
    if let Some(d) = read_optional(path, parse_diversions)? {
        apply_diversions(packages, &d);
    }
    Ok(())
}

/// Builds a package's file entries from its `.list` (if any), `.md5sums`,
/// `Conffiles:` field and `.conffiles` file, in `.list` order.
fn merge_files(
    list: Option<Vec<PathBuf>>,
    md5sums: Vec<(PathBuf, Digest)>,
    conffiles: &[Conffile],
    conffile_paths: &[PathBuf],
) -> Vec<FileEntry> {
    let mut files: Vec<FileEntry> = list
        .unwrap_or_default()
        .into_iter()
        .map(|p| FileEntry::new(p, FileKind::Unknown))
        .collect();
    let mut index: HashMap<PathBuf, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.to_path_buf(), i))
        .collect();
    let mut entry = |files: &mut Vec<FileEntry>, path: &Path| -> usize {
        *index.entry(path.to_path_buf()).or_insert_with(|| {
            files.push(FileEntry::new(path, FileKind::File));
            files.len() - 1
        })
    };
    for (path, digest) in md5sums {
        let i = entry(&mut files, &path);
        files[i].kind = FileKind::File;
        files[i].digest = Some(digest);
    }
    for c in conffiles
        .iter()
        .filter(|c| !c.obsolete && !c.remove_on_upgrade)
    {
        let i = entry(&mut files, &c.path);
        let f = &mut files[i];
        f.kind = FileKind::File;
        f.flags.insert(FileFlags::CONFIG);
        if f.digest.is_none() {
            f.digest = Digest::from_hex(Algo::Md5, &c.hash);
        }
    }
    for path in conffile_paths {
        let i = entry(&mut files, path);
        files[i].kind = FileKind::File;
        files[i].flags.insert(FileFlags::CONFIG);
    }
    files
}

/// Where a package's file lists may be found.
#[derive(Debug, Clone, Copy)]
struct FileSources<'a> {
    /// `info/` of the admin directory.
    info: Option<&'a Path>,
    /// `status.d/` and the name of the stanza file, for `<name>.md5sums`.
    status_d: Option<(&'a Path, &'a str)>,
    /// The stanza file holds only this package: its own `.md5sums` applies.
    sole_package: bool,
}

impl FileSources<'_> {
    /// `info/` base names for a package: `name:arch` first for Multi-Arch: same.
    /// The name is checked by then; an invalid architecture (which could
    /// hold `/` or `..`) is never made part of a path.
    fn info_stems(r: &Record) -> Vec<String> {
        let qualified = r
            .arch
            .as_ref()
            .filter(|a| control::is_valid_arch(a))
            .map(|a| format!("{}:{a}", r.name));
        let plain = Some(r.name.clone());
        let order = if r.multi_arch_same {
            [qualified, plain]
        } else {
            [plain, qualified]
        };
        order.into_iter().flatten().collect()
    }

    fn info_file(&self, r: &Record, ext: &str) -> Option<PathBuf> {
        let info = self.info?;
        Self::info_stems(r)
            .into_iter()
            .map(|stem| info.join(format!("{stem}.{ext}")))
            .find(|p| p.exists())
    }

    fn md5sums_file(&self, r: &Record) -> Option<PathBuf> {
        if let Some(p) = self.info_file(r, "md5sums") {
            return Some(p);
        }
        let (dir, file) = self.status_d?;
        let own = dir.join(format!("{}.md5sums", r.name));
        let beside = dir.join(format!("{file}.md5sums"));
        if own.exists() {
            Some(own)
        } else {
            (self.sole_package && beside.exists()).then_some(beside)
        }
    }
}

fn read_text(path: &Path) -> Result<Vec<u8>> {
    fsutil::read_capped(path, MAX_INPUT_FILE)
}

/// Reads and parses an optional file with `parse`.
fn read_optional<T>(
    path: Option<PathBuf>,
    parse: impl Fn(&[u8]) -> Result<T, DpkgError>,
) -> Result<Option<T>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let bytes = read_text(&path)?;
    parse(&bytes).map(Some).map_err(|e| Error::format(&path, e))
}

/// Turns one checked record into a package with its files.
fn attach_files(r: Record, source: &Source, sources: FileSources) -> Result<Package> {
    let list_path = sources.info_file(&r, "list");
    let install_time = match &list_path {
        Some(p) => Some(std::fs::metadata(p).map_err(|e| Error::io(p, e))?.mtime()),
        None => None,
    };
    let list = read_optional(list_path, parse_list)?;
    let md5sums = read_optional(sources.md5sums_file(&r), parse_md5sums)?.unwrap_or_default();
    let conffile_paths =
        read_optional(sources.info_file(&r, "conffiles"), parse_conffiles)?.unwrap_or_default();
    let files = merge_files(list, md5sums, &r.conffiles, &conffile_paths);
    Ok(package(r, source.clone(), files, install_time))
}

/// Parses one document as it is read (a stanza at a time), refusing it
/// with the file's path on error.
fn records_of(path: &Path, kind: StanzaKind, keep: Keep) -> Result<Vec<Record>> {
    let (file, _) = fsutil::open_capped(path, MAX_INPUT_FILE)?;
    let mut stanzas = deb822::read_stanzas(BufReader::with_capacity(READ_BUFFER, file));
    let records = parse_records(&mut stanzas, kind, keep);
    if let Some(e) = stanzas.take_io_error() {
        return Err(Error::io(path, e));
    }
    records.map_err(|e| Error::format(path, e))
}

/// dpkg's journal: the entries of `updates/` (`0000`, ...), in name order.
fn journal(updates: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fsutil::list_dir(updates) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .map(|e| e.name)
        .filter(|n| !n.is_empty() && n.as_bytes().iter().all(u8::is_ascii_digit))
        .map(|n| updates.join(n))
        .collect()
}

/// Applies dpkg's journal: each entry replaces the record of the same
/// package (and architecture, for Multi-Arch: same).
fn apply_updates(records: &mut Vec<Record>, journal: &[PathBuf]) -> Result<()> {
    for path in journal {
        let update = records_of(path, StanzaKind::Status, Keep::All)?;
        if update.len() != 1 {
            let e = DpkgError::StanzaCount {
                found: update.len(),
            };
            return Err(Error::format(path, e));
        }
        for u in update {
            let same = |r: &Record| {
                r.name == u.name && (r.arch == u.arch || !(r.multi_arch_same && u.multi_arch_same))
            };
            match records.iter().position(same) {
                Some(i) => records[i] = u,
                None => records.push(u),
            }
        }
    }
    Ok(())
}

/// Reads a `status` file, its `updates/` journal and the `info/` lists.
/// The records are checked first, all of them, then the lists read.
/// Without a journal, a record whose files are not on disk is dropped as
/// it is read; with one, every record is kept until the journal has
/// replaced what it replaces, where it stands.
fn read_status(path: &Path, info: Option<&Path>, updates: Option<&Path>) -> Result<Vec<Package>> {
    let journal = updates.map(journal).unwrap_or_default();
    let keep = if journal.is_empty() {
        Keep::OnDisk
    } else {
        Keep::All
    };
    let mut records = records_of(path, StanzaKind::Status, keep)?;
    apply_updates(&mut records, &journal)?;
    let source = Source {
        backend: Backend::Dpkg,
        file: path.to_path_buf(),
    };
    let sources = FileSources {
        info,
        status_d: None,
        sole_package: false,
    };
    records.retain(|r| r.status.files_on_disk());
    // Made once at its size: a vector grown as packages come holds up to
    // twice what it needs while the records are still held too.
    let mut packages = Vec::with_capacity(records.len());
    for r in records {
        packages.push(attach_files(r, &source, sources)?);
    }
    Ok(packages)
}

/// Reads one distroless `status.d/<name>` file.
fn read_status_d_file(path: &Path, info: Option<&Path>) -> Result<Vec<Package>> {
    let records = records_of(path, StanzaKind::StatusD, Keep::All)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let file = path.file_name().and_then(OsStr::to_str).unwrap_or_default();
    let sources = FileSources {
        info,
        status_d: Some((dir, file)),
        sole_package: records.len() == 1,
    };
    let source = Source {
        backend: Backend::DpkgStatusD,
        file: path.to_path_buf(),
    };
    records
        .into_iter()
        .filter(|r| r.status.files_on_disk())
        .map(|r| attach_files(r, &source, sources))
        .collect()
}

/// Reads every stanza file in `status.d/`, in name order, skipping
/// `.md5sums` files, hidden files and anything that is not a regular file.
fn read_status_d(dir: &Path, info: Option<&Path>) -> Result<Vec<Package>> {
    let mut paths: Vec<PathBuf> = fsutil::list_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .into_iter()
        .filter(|e| e.meta.kind == crate::tree::Kind::File)
        .map(|e| dir.join(e.name))
        .filter(|p| {
            let name = p.file_name().map(OsStr::as_bytes).unwrap_or_default();
            !name.starts_with(b".") && !name.ends_with(b".md5sums")
        })
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        out.extend(read_status_d_file(&p, info)?);
    }
    Ok(out)
}

/// Reads a dpkg admin directory: `status`, `info/`, and distroless `status.d/`.
pub fn read_admindir(dir: &Path) -> Result<Manifest> {
    let status = dir.join("status");
    let status_d = dir.join("status.d");
    let info = dir.join("info");
    let info = info.is_dir().then_some(info.as_path());
    // Not following a final link: a `status` that is a dangling or looping
    // symlink is there, and reading it (O_NOFOLLOW) says what it is.
    let has_status = super::present(&status);
    if !has_status && !status_d.is_dir() {
        return Err(Error::Unrecognised {
            path: dir.to_path_buf(),
            why: "no dpkg 'status' file or 'status.d' directory".into(),
        });
    }
    let mut m = Manifest::default();
    if has_status {
        m.packages
            .extend(read_status(&status, info, Some(&dir.join("updates")))?);
    }
    if status_d.is_dir() {
        m.packages.extend(read_status_d(&status_d, info)?);
    }
    divert(&mut m.packages, dir)?;
    Ok(m)
}

/// Reads one `status` file (or one `status.d/<pkg>` stanza file); file
/// lists come from `info/` or the `.md5sums` beside it when present.
///
/// A file counts as a `status.d/` file when its directory is called
/// `status.d` or a `<file>.md5sums` lies beside it.
pub fn read_status_file(path: &Path) -> Result<Manifest> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default();
    let mut md5sums = name.to_os_string();
    md5sums.push(".md5sums");
    let in_status_d =
        dir.file_name() == Some(OsStr::new("status.d")) || dir.join(&md5sums).is_file();
    let packages = if in_status_d {
        read_status_d_file(path, None)?
    } else {
        let info = dir.join("info");
        let updates = dir.join("updates");
        let mut packages = read_status(
            path,
            info.is_dir().then_some(info.as_path()),
            updates.is_dir().then_some(updates.as_path()),
        )?;
        divert(&mut packages, dir)?;
        packages
    };
    Ok(Manifest { packages })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Source {
        Source {
            backend: Backend::Dpkg,
            file: "/x/status".into(),
        }
    }

    const STATUS: &str = "\
Package: keep
Status: install ok installed
Version: 1:2.0-3
Architecture: amd64
Conffiles:
 /etc/keep.conf 0123456789abcdef0123456789abcdef
 /etc/old.conf 0123456789abcdef0123456789abcdef obsolete

Package: gone
Status: deinstall ok config-files
Version: 1.0

Package: half
Status: install reinstreq half-installed

Package: sel
Status: install ok not-installed
";

    #[test]
    fn status_keeps_packages_with_files_on_disk() {
        let p = parse_status(STATUS.as_bytes(), src()).unwrap();
        let names: Vec<_> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["keep", "half"]);
        let k = &p[0];
        assert_eq!(k.epoch, Some(1));
        assert_eq!(k.version, "2.0");
        assert_eq!(k.release.as_deref(), Some("3"));
        assert_eq!(k.arch.as_deref(), Some("amd64"));
        assert_eq!(k.files.len(), 1);
        assert_eq!(&*k.files[0].path, Path::new("/etc/keep.conf"));
        assert!(k.files[0].flags.contains(FileFlags::CONFIG));
        assert_eq!(
            k.files[0].digest.as_ref().unwrap().hex(),
            "0123456789abcdef0123456789abcdef"
        );
    }

    #[test]
    fn status_errors_carry_the_line() {
        let e = parse_status(b"Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: install ok installed\nVersion: 1\nDepends: x [i386]\n", src())
            .unwrap_err();
        assert!(
            matches!(
                e,
                DpkgError::MissingField {
                    line: 2,
                    field: "Version",
                    ..
                }
            ),
            "{e}"
        );
        let e = parse_status(
            b"Package: b\nStatus: install ok installed\nVersion: 1\nDepends: x [i386]\n",
            src(),
        )
        .unwrap_err();
        assert!(
            matches!(e, DpkgError::InvalidRelation { line: 4, .. }),
            "{e}"
        );
    }

    #[test]
    fn list_parsing() {
        let l = parse_list(b"/.\n/usr/\n/usr/bin/a b\n").unwrap();
        assert_eq!(
            l,
            [
                Path::new("/."),
                Path::new("/usr"),
                Path::new("/usr/bin/a b")
            ]
        );
        assert_eq!(parse_list(b"/a\n\n"), Err(DpkgError::EmptyPath { line: 2 }));
        assert_eq!(
            parse_list(b"/a\n/b"),
            Err(DpkgError::MissingFinalNewline { line: 2 })
        );
        assert!(matches!(
            parse_list(b"a\n"),
            Err(DpkgError::RelativePath { line: 1, .. })
        ));
        assert_eq!(parse_list(b"").unwrap(), Vec::<PathBuf>::new());
        let long = [b"/".as_slice(), &[b'a'; MAX_PATH], b"\n"].concat();
        assert!(matches!(
            parse_list(&long),
            Err(DpkgError::PathTooLong { line: 1, .. })
        ));
    }

    #[test]
    fn md5sums_parsing() {
        let m = parse_md5sums(
            b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/x\n\nD41D8CD98F00B204E9800998ECF8427E *./usr/y z\nd41d8cd98f00b204e9800998ecf8427e  /abs",
        )
        .unwrap();
        let paths: Vec<_> = m.iter().map(|(p, _)| p.to_str().unwrap()).collect();
        assert_eq!(paths, ["/usr/bin/x", "/usr/y z", "/abs"]);
        assert_eq!(m[1].1.hex(), "d41d8cd98f00b204e9800998ecf8427e");
        for bad in [
            &b"d41d8cd98f00b204e9800998ecf8427  usr/x\n"[..],
            b"d41d8cd98f00b204e9800998ecf8427e usr/x\n",
            b"d41d8cd98f00b204e9800998ecf8427e  \n",
        ] {
            assert!(
                matches!(
                    parse_md5sums(bad),
                    Err(DpkgError::BadMd5sumsLine { line: 1, .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn conffiles_file_parsing() {
        let c = parse_conffiles(b"/etc/a\n\n  /etc/b  \nremove-on-upgrade /etc/c\n").unwrap();
        assert_eq!(c, [Path::new("/etc/a"), Path::new("/etc/b")]);
        assert!(matches!(
            parse_conffiles(b"etc/a\n"),
            Err(DpkgError::RelativePath { line: 1, .. })
        ));
    }

    #[test]
    fn merge_marks_kinds_digests_and_config() {
        let d = Digest::from_hex(Algo::Md5, "d41d8cd98f00b204e9800998ecf8427e").unwrap();
        let files = merge_files(
            Some(vec!["/usr".into(), "/usr/a".into(), "/etc/c".into()]),
            vec![
                ("/usr/a".into(), d.clone()),
                ("/usr/extra".into(), d.clone()),
            ],
            &[],
            &["/etc/c".into()],
        );
        let got: Vec<_> = files
            .iter()
            .map(|f| {
                (
                    f.path.to_str().unwrap(),
                    f.kind,
                    f.digest.is_some(),
                    f.flags.contains(FileFlags::CONFIG),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/usr", FileKind::Unknown, false, false),
                ("/usr/a", FileKind::File, true, false),
                ("/etc/c", FileKind::File, false, true),
                ("/usr/extra", FileKind::File, true, false),
            ]
        );
    }

    #[test]
    fn invalid_architecture_never_becomes_part_of_a_path() {
        let d = tempfile::tempdir().unwrap();
        let info = d.path().join("info");
        // With `Architecture: /../escape`, `info/a:/../escape.list` would
        // resolve to `info/escape.list` through the directory `info/a:`.
        std::fs::create_dir_all(info.join("a:")).unwrap();
        std::fs::write(info.join("escape.list"), "/etc/shadow\n").unwrap();
        let status = "Package: a\nStatus: install ok installed\nVersion: 1\nMulti-Arch: same\nArchitecture: /../escape\n";
        std::fs::write(d.path().join("status"), status).unwrap();
        let m = read_admindir(d.path()).unwrap();
        assert_eq!(m.packages[0].arch.as_deref(), Some("/../escape"));
        assert!(m.packages[0].files.is_empty(), "{:?}", m.packages[0].files);
        assert!(
            info.join("a:/../escape.list").is_file(),
            "the trap is armed"
        );
    }

    /// As dpkg-divert writes them: one by a package, one `--local`.
    const DIVERSIONS: &[u8] =
        b"/usr/bin/pg_config\n/usr/bin/pg_config.libpq-dev\npostgresql-common\n/x/a.py\n/x/a.py.distrib\n:\n";

    #[test]
    fn diversions_parse_in_threes() {
        let d = parse_diversions(DIVERSIONS).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].to, Path::new("/usr/bin/pg_config.libpq-dev"));
        assert_eq!(d[0].by.as_deref(), Some("postgresql-common"));
        assert_eq!(
            (d[1].from.as_path(), d[1].by.as_deref()),
            (Path::new("/x/a.py"), None)
        );
        assert_eq!(parse_diversions(b""), Ok(vec![]));
        let cut = &DIVERSIONS[..DIVERSIONS.len() - 1];
        assert_eq!(
            parse_diversions(cut),
            Err(DpkgError::MissingFinalNewline { line: 6 })
        );
        assert_eq!(
            parse_diversions(b"/a\n/b\n"),
            Err(DpkgError::TruncatedDiversion { line: 1 })
        );
        assert!(matches!(
            parse_diversions(b"/a\nb\n:\n"),
            Err(DpkgError::RelativePath { line: 2, .. })
        ));
    }

    #[test]
    fn a_diversion_moves_every_package_file_but_the_diverters() {
        let d = parse_diversions(DIVERSIONS).unwrap();
        let pkg = |name: &str, paths: &[&str]| crate::testutil::package(name, Backend::Dpkg, paths);
        let mut ps = [
            pkg("libpq-dev", &["/usr/bin/pg_config", "/usr/bin/other"]),
            pkg("postgresql-common", &["/usr/bin/pg_config"]),
            pkg("a", &["/x/a.py"]),
        ];
        apply_diversions(&mut ps, &d);
        let paths: Vec<Vec<&Path>> = ps
            .iter()
            .map(|p| p.files.iter().map(|f| &*f.path).collect())
            .collect();
        assert_eq!(
            paths,
            [
                vec![
                    Path::new("/usr/bin/pg_config.libpq-dev"),
                    Path::new("/usr/bin/other")
                ],
                vec![Path::new("/usr/bin/pg_config")],
                vec![Path::new("/x/a.py.distrib")],
            ]
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::testutil::XorShift::new(0x1234_5678_9abc_def1);
        let seeds: [&[u8]; 4] = [
            STATUS.as_bytes(),
            b"d41d8cd98f00b204e9800998ecf8427e  usr/x\n",
            b"/a\n/b/\n",
            DIVERSIONS,
        ];
        for seed in seeds {
            for _ in 0..1500 {
                let mut b = seed.to_vec();
                rng.mutate(&mut b, 3);
                b.truncate(rng.below(b.len() + 1));
                let _ = parse_status(&b, src());
                let _ = parse_md5sums(&b);
                let _ = parse_list(&b);
                let _ = parse_conffiles(&b);
                let _ = parse_diversions(&b);
            }
        }
    }
}
