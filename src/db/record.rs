//! pip's `*.dist-info/RECORD` files as manifests.
//!
//! Whatever pip (or any PEP 376 / PEP 627 installer) puts on disk is in no
//! system package database; the `RECORD` beside the package's metadata is
//! the only list of those files, with their digests and sizes. Its rows are
//! `path,algo=urlsafe-base64-nopad,size`, written with Python's `csv`
//! module (default dialect: `"` quotes, doubled inside, commas and even
//! newlines allowed inside quotes), usually with `\r\n` line ends. The file
//! itself and `.pyc` files are listed with empty digest and size. Digests
//! written in hex instead of base64, as some Debian packages have them, are
//! accepted too.
//!
//! Paths are relative to the directory holding the `.dist-info` and may climb
//! out of it (`../../../bin/pip`); they are normalised lexically, and one
//! that climbs above `/` is an error. RECORD does not say file types, so
//! every entry is [`FileKind::Unknown`].

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use crate::db::lines::{self, LineSink, TooLong};
use crate::digest::{Algo, Digest};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::limits::{MAX_PATH, MAX_TEXT_DB_ENTRIES, RECORD_MAX_FIELD};
use crate::manifest::{Backend, FileEntry, FileKind, Manifest, Package, Source};

/// What is wrong with a `RECORD` file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("line {line}: longer than the limit of {max} bytes")]
    LineTooLong { line: usize, max: usize },
    #[error("line {line}: new-line character seen in unquoted field")]
    NewlineInUnquotedField { line: usize },
    #[error("line {line}: field larger than the limit of {max} bytes")]
    FieldTooLong { line: usize, max: usize },
    #[error("line {line}: expected {expected} fields (path, hash, size), found {found}")]
    FieldCount {
        line: usize,
        expected: usize,
        found: usize,
    },
    #[error("line {line}: bad path {path:?}: {why}")]
    BadPath {
        line: usize,
        path: String,
        why: &'static str,
    },
    #[error("line {line}: path {path:?} climbs above / from {base:?}")]
    ClimbsAboveRoot {
        line: usize,
        path: String,
        base: PathBuf,
    },
    #[error("line {line}: unsupported digest algorithm {algo:?}")]
    UnsupportedAlgo { line: usize, algo: String },
    #[error("line {line}: bad digest {value:?}: {why}")]
    BadDigest {
        line: usize,
        value: String,
        why: &'static str,
    },
    #[error("line {line}: bad size {value:?}: expected a decimal number of bytes")]
    BadSize { line: usize, value: String },
    #[error("line {line}: more than {max} rows")]
    TooManyEntries { line: usize, max: usize },
}

impl From<TooLong> for RecordError {
    fn from(t: TooLong) -> Self {
        RecordError::LineTooLong {
            line: t.line,
            max: t.max,
        }
    }
}

/// A RECORD row has exactly these columns (PEP 376).
const COLUMNS: usize = 3;
/// pip writes digests as URL-safe base64 without padding; padding is tolerated.
const DIGEST_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const DIST_INFO: &str = ".dist-info";

/// Parses a RECORD held in memory; `base` is the absolute directory that
/// RECORD paths are relative to (the one holding the `.dist-info`). Name and
/// version come from the `name-version.dist-info` directory of `source.file`
/// (empty when it is not named that way; [`read`] prefers `METADATA`).
pub fn parse(bytes: &[u8], base: &Path, source: Source) -> Result<Package, RecordError> {
    let mut p = Parser::new(base);
    lines::feed_slice(bytes, &mut p)?;
    let files = p.finish()?;
    let (name, version) = name_version_from_dir(&source.file);
    Ok(package(name, version, source, files))
}

/// Reads a pip `RECORD`; paths are placed relative to the directory that
/// holds the `.dist-info`, with `root` stripped to make them absolute.
/// Name and version come from the `METADATA` beside it when it is readable.
pub fn read(path: &Path, root: &Path) -> Result<Manifest> {
    let (root, record) = (lexical_absolute(root)?, lexical_absolute(path)?);
    let base = base_in_root(&record, &root)?;
    let (file, _) = fsutil::open_regular(path)?;
    let mut p = Parser::new(&base);
    lines::feed_reader(BufReader::new(file), &mut p).map_err(|e| e.at(path))?;
    let files = p.finish().map_err(|e| Error::format(path, e))?;
    let source = Source {
        backend: Backend::PipRecord,
        file: path.to_path_buf(),
    };
    let (name, version) =
        metadata_name_version(&root, &record).unwrap_or_else(|| name_version_from_dir(&record));
    Ok(Manifest {
        packages: vec![package(name, version, source, files)],
    })
}

fn package(name: String, version: String, source: Source, files: Vec<FileEntry>) -> Package {
    Package {
        name,
        epoch: None,
        version,
        release: None,
        arch: None,
        source,
        install_time: None,
        files,
    }
}

/// The absolute form of `p` with `.` and `..` resolved lexically.
fn lexical_absolute(p: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(p).map_err(|e| Error::io(p, e))?;
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    Ok(out)
}

/// The RECORD's grandparent directory as seen inside `root`.
fn base_in_root(record: &Path, root: &Path) -> Result<PathBuf> {
    let site = record.parent().and_then(Path::parent);
    let rel = site
        .and_then(|s| s.strip_prefix(root).ok())
        .ok_or_else(|| {
            Error::Usage(format!(
                "{}: a RECORD must be in a .dist-info directory under the root {}",
                record.display(),
                root.display()
            ))
        })?;
    Ok(Path::new("/").join(rel))
}

/// `name-version.dist-info` → (`name`, `version`), split at the first `-`
/// as `importlib.metadata` does; otherwise the directory name and "".
fn name_version_from_dir(record: &Path) -> (String, String) {
    let dir = record
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = dir.strip_suffix(DIST_INFO).unwrap_or(&dir);
    match stem.split_once('-') {
        Some((n, v)) if dir.ends_with(DIST_INFO) => (n.to_owned(), v.to_owned()),
        _ => (stem.to_owned(), String::new()),
    }
}

/// `Name:` and `Version:` from the headers of the `METADATA` beside `record`,
/// opened through `root` so that a symlink cannot lead out of it.
fn metadata_name_version(root: &Path, record: &Path) -> Option<(String, String)> {
    let inside = Path::new("/").join(record.strip_prefix(root).ok()?);
    let metadata = fsutil::resolve_in_root(root, &inside.parent()?.join("METADATA"))?;
    let (file, _) = fsutil::open_regular(&metadata).ok()?;
    let mut r = BufReader::new(file);
    let (mut name, mut version) = (None, None);
    let mut buf = Vec::new();
    while lines::next_line(&mut r, &mut buf).ok()? {
        lines::check_len(0, &buf).ok()?;
        let line = std::str::from_utf8(&buf)
            .ok()?
            .trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break; // end of the headers
        }
        if let Some((key, value)) = line.split_once(':') {
            let slot = match key.to_ascii_lowercase().as_str() {
                "name" => &mut name,
                "version" => &mut version,
                _ => continue,
            };
            slot.get_or_insert_with(|| value.trim().to_owned());
        }
        if name.is_some() && version.is_some() {
            break;
        }
    }
    Some((name?, version?))
}

/// Python library directories holding `.dist-info`s, as `(parent, leaf)`:
/// every `parent/python3*/leaf`.
const LIB_DIRS: [(&str, &str); 5] = [
    ("/usr/lib", "site-packages"),
    ("/usr/lib64", "site-packages"),
    ("/usr/local/lib", "site-packages"),
    ("/usr/local/lib", "dist-packages"),
    ("/usr/local/lib64", "site-packages"),
];
/// Debian's directory for its own Python 3 packages.
const DEBIAN_DIST_PACKAGES: &str = "/usr/lib/python3/dist-packages";
const PYTHON3_PREFIX: &[u8] = b"python3";

/// Finds every `*.dist-info/RECORD` in the Python library directories under
/// `root`, resolving symlinks as if `root` were `/` (none leads out of it).
/// Sorted, each resolved file once.
pub fn find_records(root: &Path) -> Vec<PathBuf> {
    let mut sites: Vec<PathBuf> = vec![PathBuf::from(DEBIAN_DIST_PACKAGES)];
    for (parent, leaf) in LIB_DIRS {
        for name in dir_names(root, Path::new(parent)) {
            if name.as_bytes().starts_with(PYTHON3_PREFIX) {
                sites.push(Path::new(parent).join(name).join(leaf));
            }
        }
    }
    let mut found = BTreeSet::new();
    for site in sites {
        for name in dir_names(root, &site) {
            if !name.as_bytes().ends_with(DIST_INFO.as_bytes()) {
                continue;
            }
            let record = site.join(&name).join("RECORD");
            if let Some(host) = fsutil::resolve_in_root(root, &record) {
                if host.is_file() {
                    found.insert(host);
                }
            }
        }
    }
    found.into_iter().collect()
}

/// The names in directory `dir` (a path inside `root`); none if it is missing.
fn dir_names(root: &Path, dir: &Path) -> Vec<std::ffi::OsString> {
    let Some(host) = fsutil::resolve_in_root(root, dir) else {
        return Vec::new();
    };
    match fsutil::list_dir(&host) {
        Ok(entries) => entries.into_iter().map(|e| e.name).collect(),
        Err(_) => Vec::new(),
    }
}

/// Python `csv` reader states (CPython's `Modules/_csv.c`, default dialect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuotedField,
    QuoteInQuotedField,
    EatCrnl,
}

const QUOTE: u8 = b'"';
const DELIMITER: u8 = b',';

/// RECORD rows to file entries.
struct Parser {
    base: PathBuf,
    state: State,
    field: Vec<u8>,
    row: Vec<Vec<u8>>,
    row_line: usize,
    files: Vec<FileEntry>,
}

impl LineSink for Parser {
    type Error = RecordError;

    fn line(&mut self, number: usize, text: &[u8]) -> Result<(), RecordError> {
        if self.state == State::StartRecord {
            self.row_line = number;
        }
        for &c in text {
            self.char(c, number)?;
        }
        // The end of the line, as Python's reader sees it after each line.
        if self.end_of_line() {
            self.emit()?;
        }
        Ok(())
    }
}

impl Parser {
    fn new(base: &Path) -> Self {
        Parser {
            base: base.to_path_buf(),
            state: State::StartRecord,
            field: Vec::new(),
            row: Vec::new(),
            row_line: 0,
            files: Vec::new(),
        }
    }

    /// One character of the csv state machine.
    fn char(&mut self, c: u8, line: usize) -> Result<(), RecordError> {
        let newline = c == b'\n' || c == b'\r';
        match self.state {
            State::StartRecord if newline => self.state = State::EatCrnl,
            State::StartRecord | State::StartField => {
                if newline {
                    self.save_field(line)?;
                    self.state = State::EatCrnl;
                } else if c == QUOTE {
                    self.state = State::InQuotedField;
                } else if c == DELIMITER {
                    self.save_field(line)?;
                    self.state = State::StartField;
                } else {
                    self.add(c, line)?;
                    self.state = State::InField;
                }
            }
            State::InField | State::QuoteInQuotedField if newline => {
                self.save_field(line)?;
                self.state = State::EatCrnl;
            }
            State::InField | State::QuoteInQuotedField if c == DELIMITER => {
                self.save_field(line)?;
                self.state = State::StartField;
            }
            State::QuoteInQuotedField if c == QUOTE => {
                self.add(c, line)?;
                self.state = State::InQuotedField;
            }
            State::InQuotedField if c == QUOTE => self.state = State::QuoteInQuotedField,
            State::InField | State::InQuotedField => self.add(c, line)?,
            // Not strict: a character after a closing quote joins the field.
            State::QuoteInQuotedField => {
                self.add(c, line)?;
                self.state = State::InField;
            }
            State::EatCrnl if newline => {}
            State::EatCrnl => return Err(RecordError::NewlineInUnquotedField { line }),
        }
        Ok(())
    }

    /// Python's end-of-line step; true when it completes a row.
    fn end_of_line(&mut self) -> bool {
        match self.state {
            State::InQuotedField => false,
            State::StartRecord | State::EatCrnl => {
                self.state = State::StartRecord;
                true
            }
            State::StartField | State::InField | State::QuoteInQuotedField => {
                self.row.push(std::mem::take(&mut self.field));
                self.state = State::StartRecord;
                true
            }
        }
    }

    fn add(&mut self, c: u8, line: usize) -> Result<(), RecordError> {
        if self.field.len() >= RECORD_MAX_FIELD {
            return Err(RecordError::FieldTooLong {
                line,
                max: RECORD_MAX_FIELD,
            });
        }
        self.field.push(c);
        Ok(())
    }

    /// Ends a field; a row with more than [`COLUMNS`] is refused at once.
    fn save_field(&mut self, line: usize) -> Result<(), RecordError> {
        self.row.push(std::mem::take(&mut self.field));
        if self.row.len() > COLUMNS {
            return Err(RecordError::FieldCount {
                line,
                expected: COLUMNS,
                found: self.row.len(),
            });
        }
        Ok(())
    }

    /// Turns the completed row into an entry; blank lines give no row.
    fn emit(&mut self) -> Result<(), RecordError> {
        let row = std::mem::take(&mut self.row);
        let line = self.row_line;
        if row.is_empty() {
            return Ok(());
        }
        let [path, hash, size]: [Vec<u8>; COLUMNS] =
            row.try_into()
                .map_err(|r: Vec<Vec<u8>>| RecordError::FieldCount {
                    line,
                    expected: COLUMNS,
                    found: r.len(),
                })?;
        if self.files.len() >= MAX_TEXT_DB_ENTRIES {
            return Err(RecordError::TooManyEntries {
                line,
                max: MAX_TEXT_DB_ENTRIES,
            });
        }
        let mut entry = FileEntry::new(self.place(&path, line)?, FileKind::Unknown);
        entry.digest = parse_hash(&hash, line)?;
        entry.size = parse_size(&size, line)?;
        self.files.push(entry);
        Ok(())
    }

    /// A row's path made absolute against `base` and normalised lexically.
    fn place(&self, path: &[u8], line: usize) -> Result<PathBuf, RecordError> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        let bad = |why| RecordError::BadPath {
            line,
            path: shown(),
            why,
        };
        if path.is_empty() {
            return Err(bad("empty path"));
        }
        if path.contains(&0) {
            return Err(bad("NUL byte in path"));
        }
        let start = if path.starts_with(b"/") {
            Path::new("/")
        } else {
            &self.base
        };
        let joined = start.join(OsStr::from_bytes(path));
        let mut out = PathBuf::from("/");
        for c in joined.components() {
            match c {
                Component::Normal(n) => out.push(n),
                Component::ParentDir if !out.pop() => {
                    return Err(RecordError::ClimbsAboveRoot {
                        line,
                        path: shown(),
                        base: self.base.clone(),
                    })
                }
                _ => {}
            }
        }
        if out.as_os_str().len() > MAX_PATH {
            return Err(bad("longer than PATH_MAX"));
        }
        Ok(out)
    }

    /// The file's end: Python yields a row cut inside quotes as it stands.
    fn finish(mut self) -> Result<Vec<FileEntry>, RecordError> {
        if self.state == State::InQuotedField {
            self.row.push(std::mem::take(&mut self.field));
            self.emit()?;
        }
        Ok(self.files)
    }
}

/// `algo=urlsafe-base64` → a digest; empty → none.
fn parse_hash(field: &[u8], line: usize) -> Result<Option<Digest>, RecordError> {
    if field.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(field);
    let bad = |why| RecordError::BadDigest {
        line,
        value: text.clone().into_owned(),
        why,
    };
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| bad("expected algo=value"))?;
    let algo = Algo::from_name(name).ok_or_else(|| RecordError::UnsupportedAlgo {
        line,
        algo: name.to_owned(),
    })?;
    if let Some(d) = hex_digest(algo, value) {
        return Ok(Some(d));
    }
    let bytes = DIGEST_BASE64
        .decode(value)
        .map_err(|_| bad("neither URL-safe base64 nor hex"))?;
    if bytes.len() != algo.digest_len() {
        return Err(bad("wrong length for the algorithm"));
    }
    Ok(Some(Digest {
        algo,
        bytes: bytes.into(),
    }))
}

/// Some installers write hex instead of base64 (Debian 12's python3-blinker
/// 1.5 and python3-distro 1.8.0 RECORDs do). Unambiguous: hex of a digest is
/// `2n` characters, its base64 only `ceil(4n/3)`.
fn hex_digest(algo: Algo, value: &str) -> Option<Digest> {
    if value.len() != 2 * algo.digest_len() {
        return None;
    }
    Digest::from_hex(algo, value)
}

fn parse_size(field: &[u8], line: usize) -> Result<Option<u64>, RecordError> {
    if field.is_empty() {
        return Ok(None);
    }
    let bad = || RecordError::BadSize {
        line,
        value: String::from_utf8_lossy(field).into_owned(),
    };
    if !field.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/usr/lib/python3.11/site-packages";

    fn src() -> Source {
        Source {
            backend: Backend::PipRecord,
            file: format!("{BASE}/six-1.16.0.dist-info/RECORD").into(),
        }
    }

    fn rows(text: &[u8]) -> Result<Package, RecordError> {
        parse(text, Path::new(BASE), src())
    }

    fn paths(p: &Package) -> Vec<String> {
        p.files
            .iter()
            .map(|f| f.path.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn pip_rows_with_crlf() {
        let p = rows(
            b"six.py,sha256=i4NC_FLXplWqTK6J4J9uDj8kdGy4HeFTXz0qj11wIr0,34549\r\n\
              six-1.16.0.dist-info/RECORD,,\r\n\
              ../../../bin/x,sha256=i4NC_FLXplWqTK6J4J9uDj8kdGy4HeFTXz0qj11wIr0,1\r\n\
              __pycache__/six.cpython-311.pyc,,\r\n",
        )
        .unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("six", "1.16.0"));
        assert_eq!(
            paths(&p),
            [
                format!("{BASE}/six.py"),
                format!("{BASE}/six-1.16.0.dist-info/RECORD"),
                "/usr/bin/x".into(),
                format!("{BASE}/__pycache__/six.cpython-311.pyc"),
            ]
        );
        let d = p.files[0].digest.as_ref().unwrap();
        assert_eq!(d.algo, Algo::Sha256);
        assert_eq!(
            d.hex(),
            "8b8342fc52d7a655aa4cae89e09f6e0e3f24746cb81de1535f3d2a8f5d7022bd"
        );
        assert_eq!(p.files[0].size, Some(34549));
        assert_eq!((p.files[1].digest.as_ref(), p.files[1].size), (None, None));
        assert!(p.files.iter().all(|f| f.kind == FileKind::Unknown));
    }

    #[test]
    fn quoted_fields_like_python_csv() {
        let p = rows(
            b"\"a,b.py\",,\n\"say \"\"hi\"\".py\",,\n\"multi\nline\",,\n\"x\"y,,\nabsolute/./c/../d,,\n/etc/x,,\n",
        )
        .unwrap();
        assert_eq!(
            paths(&p),
            [
                format!("{BASE}/a,b.py"),
                format!("{BASE}/say \"hi\".py"),
                format!("{BASE}/multi\nline"),
                format!("{BASE}/xy"),
                format!("{BASE}/absolute/d"),
                "/etc/x".into(),
            ]
        );
    }

    #[test]
    fn row_cut_inside_quotes_at_end_of_file_is_kept() {
        // Python's reader (strict=False) yields ['a', '', 'b\n'] here.
        let e = rows(b"a,,\"b\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: bad size \"b\\n\": expected a decimal number of bytes"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = |t: &[u8]| rows(t).unwrap_err().to_string();
        assert_eq!(
            err(b"a,,\n../../../../../../x,,\n"),
            format!("line 2: path \"../../../../../../x\" climbs above / from \"{BASE}\"")
        );
        assert_eq!(
            err(b"a,,\nb,,,\n"),
            "line 2: expected 3 fields (path, hash, size), found 4"
        );
        assert_eq!(
            err(b"a,\n"),
            "line 1: expected 3 fields (path, hash, size), found 2"
        );
        assert_eq!(
            err(b"a,blake2b=AAAA,1\n"),
            "line 1: unsupported digest algorithm \"blake2b\""
        );
        assert_eq!(
            err(b"a,sha256=AAAA,1\n"),
            "line 1: bad digest \"sha256=AAAA\": wrong length for the algorithm"
        );
        assert_eq!(
            err(b"a,sha256,1\n"),
            "line 1: bad digest \"sha256\": expected algo=value"
        );
        assert_eq!(
            err(b"a,sha256=!!,1\n"),
            "line 1: bad digest \"sha256=!!\": neither URL-safe base64 nor hex"
        );
        assert_eq!(
            err(b"a,,-1\n"),
            "line 1: bad size \"-1\": expected a decimal number of bytes"
        );
        assert_eq!(
            err(b"a,,99999999999999999999\n"),
            "line 1: bad size \"99999999999999999999\": expected a decimal number of bytes"
        );
        assert_eq!(err(b",,\n"), "line 1: bad path \"\": empty path");
        assert_eq!(
            err(b"a\rb,,\n"),
            "line 1: new-line character seen in unquoted field"
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_last_line_may_lack_newline() {
        let p = rows(b"\r\na,,\n\nb,,").unwrap();
        assert_eq!(paths(&p), [format!("{BASE}/a"), format!("{BASE}/b")]);
    }

    #[test]
    fn hex_digest_is_accepted_where_it_cannot_be_base64() {
        let hex = Algo::Sha256.hash_bytes(b"abc");
        let p = rows(format!("a,sha256={},3\n", hex.hex()).as_bytes()).unwrap();
        assert_eq!(p.files[0].digest.as_ref(), Some(&hex));
        // 64 characters are base64 for SHA-384 (48 bytes), never hex.
        let sha384 = Algo::Sha384.hash_bytes(b"abc");
        let b64 = DIGEST_BASE64.encode(&sha384.bytes);
        assert_eq!(b64.len(), 64);
        let p = rows(format!("a,sha384={b64},3\n").as_bytes()).unwrap();
        assert_eq!(p.files[0].digest, Some(sha384));
    }

    #[test]
    fn padded_digest_is_accepted() {
        let p = rows(b"a,md5=1B2M2Y8AsgTpgAmY7PhCfg==,0\n").unwrap();
        assert_eq!(p.files[0].digest, Some(Algo::Md5.hash_bytes(b"")));
    }

    #[test]
    fn name_from_odd_directories() {
        let n = |p: &str| name_version_from_dir(Path::new(p));
        assert_eq!(
            n("/x/zope.interface-5.4.0.dist-info/RECORD"),
            ("zope.interface".into(), "5.4.0".into())
        );
        assert_eq!(
            n("/x/weird.dist-info/RECORD"),
            ("weird".into(), String::new())
        );
        assert_eq!(n("/x/RECORD"), ("x".into(), String::new()));
    }

    #[test]
    fn over_long_field_and_line_are_refused() {
        let mut t = b"\"".to_vec();
        t.extend(vec![b'a'; RECORD_MAX_FIELD + 1]);
        let e = rows(&t).unwrap_err();
        assert!(
            matches!(e, RecordError::FieldTooLong { line: 1, .. }),
            "{e}"
        );
        let mut t = b"\"".to_vec();
        for _ in 0..(RECORD_MAX_FIELD / 100 + 1) {
            t.extend([b'a'; 99]);
            t.push(b'\n');
        }
        let e = rows(&t).unwrap_err();
        assert!(matches!(e, RecordError::FieldTooLong { .. }), "{e}");
        let long = vec![b'a'; crate::limits::MAX_LINE + 1];
        let e = rows(&long).unwrap_err();
        assert!(matches!(e, RecordError::LineTooLong { line: 1, .. }), "{e}");
    }

    #[test]
    fn random_and_truncated_input_never_panics() {
        let base = b"six.py,sha256=i4NC_FLXplWqTK6J4J9uDj8kdGy4HeFTXz0qj11wIr0,34549\r\n\"a,\"\"b\",,\n../x,,\r\n";
        for cut in 0..base.len() {
            let _ = rows(&base[..cut]);
        }
        let mut rng = crate::testutil::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let alphabet = b",\"\r\n=./sha256Aa0";
        for _ in 0..3000 {
            let len = rng.below(120);
            let mut buf = rng.bytes_from(alphabet, len);
            if len > 0 {
                rng.mutate(&mut buf, len / 4);
            }
            let _ = rows(&buf);
        }
    }
}
