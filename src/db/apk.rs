//! Alpine's installed-package database, `lib/apk/db/installed`.
//!
//! Alpine systems have no other record of what apk installed, so this is
//! where pyvet learns which files belong to which package and what their
//! checksums were. The file holds records separated by blank lines; each
//! line is a one-letter key, a colon and a value (apk-tools' "FDB" format,
//! read by `apk_db_fdb_read` in its `src/database.c`). The keys used here:
//!
//! | key | meaning |
//! |-----|---------|
//! | `P` | package name |
//! | `V` | version; a trailing `-rN` is the release, as apk writes it |
//! | `A` | architecture |
//! | `F` | a directory, relative to `/`; later `M` and `R` lines refer to it |
//! | `M` | `uid:gid:mode` of the last `F` (apk's default: `0:0:755`) |
//! | `R` | a file name inside the last `F` |
//! | `a` | `uid:gid:mode` of the last `R` (apk's default: `0:0:644`) |
//! | `Z` | checksum of the last `R` |
//! | `f` | package flags; `S` means `Z` holds SHA-256 cut to 160 bits |
//!
//! Other keys are ignored (their lines are still length-checked).
//!
//! What apk does not record, and so neither does the manifest:
//! - File types. A symlink is an `R` like any file (its mode is usually
//!   `777`) and its `Z` is the SHA-1 of the link target *string*, not of a
//!   file. Every `R` becomes a [`FileKind::File`]; a checker must allow a
//!   symlink on disk whose target hashes to the recorded digest.
//! - Per-file size and mtime, and the install time (`t:` is the build time,
//!   which the manifest model has no field for).
//! - Digests of packages flagged `f:S`: pyvet has no truncated-SHA-256
//!   algorithm, so those files get no digest rather than a wrong one.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::db::lines::{self, LineSink, TooLong};
use crate::digest::{Algo, Digest};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::limits::{MAX_PATH, MAX_TEXT_DB_ENTRIES};
use crate::manifest::{Backend, FileEntry, FileKind, Manifest, Package, Source};

/// What is wrong with an apk `installed` database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApkError {
    #[error("line {line}: longer than the limit of {max} bytes")]
    LineTooLong { line: usize, max: usize },
    #[error("line {line}: expected `K:value`, found {found:?}")]
    BadLine { line: usize, found: String },
    #[error("line {line}: `{key}:` line before any `{needs}:` line")]
    Orphan { line: usize, key: char, needs: char },
    #[error("line {line}: bad checksum {value:?}: {why}")]
    BadChecksum {
        line: usize,
        value: String,
        why: &'static str,
    },
    #[error("line {line}: bad `{key}:` value {value:?}: expected uid:gid:octal-mode (mode at most 7777)")]
    BadAcl {
        line: usize,
        key: char,
        value: String,
    },
    #[error("line {line}: bad path {path:?}: {why}")]
    BadPath {
        line: usize,
        path: String,
        why: &'static str,
    },
    #[error("line {line}: the `{key}:` value is not UTF-8")]
    NotUtf8 { line: usize, key: char },
    #[error("the record starting at line {line} has no `{key}:` line")]
    MissingField { line: usize, key: char },
    #[error("line {line}: more than {max} file entries")]
    TooManyEntries { line: usize, max: usize },
}

impl From<TooLong> for ApkError {
    fn from(t: TooLong) -> Self {
        ApkError::LineTooLong {
            line: t.line,
            max: t.max,
        }
    }
}

/// apk's ownership and permissions when a record has no `M:` / `a:` line.
const DEFAULT_DIR_MODE: u32 = 0o755;
const DEFAULT_FILE_MODE: u32 = 0o644;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
/// apk keeps only the permission bits of a mode (`mode & 07777`).
const PERMISSION_BITS: u32 = 0o7777;
/// The package flag saying `Z:` holds the first 160 bits of a SHA-256.
const FLAG_SHA256_160: u8 = b'S';

/// Parses an apk `installed` database held in memory.
pub fn parse(bytes: &[u8], source: Source) -> Result<Vec<Package>, ApkError> {
    let mut p = Parser::new(source);
    lines::feed_slice(bytes, &mut p)?;
    p.finish()
}

/// Reads an apk `installed` database, one line at a time.
pub fn read(path: &Path) -> Result<Manifest> {
    let source = Source {
        backend: Backend::Apk,
        file: path.to_path_buf(),
    };
    let (file, _) = fsutil::open_regular(path)?;
    let mut p = Parser::new(source);
    lines::feed_reader(BufReader::new(file), &mut p).map_err(|e| e.at(path))?;
    let packages = p.finish().map_err(|e| Error::format(path, e))?;
    Ok(Manifest { packages })
}

/// The package being read.
struct Record {
    start: usize,
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    files: Vec<FileEntry>,
    /// Directory path (as written, without a trailing `/`) to its entry.
    dirs: HashMap<Vec<u8>, usize>,
    /// The last `F`: its path as written and its entry.
    dir: Option<(Vec<u8>, usize)>,
    /// The entry of the last `R` in the current directory.
    file: Option<usize>,
    sha256_160: bool,
}

impl Record {
    fn new(start: usize) -> Self {
        Record {
            start,
            name: None,
            version: None,
            arch: None,
            files: Vec::new(),
            dirs: HashMap::new(),
            dir: None,
            file: None,
            sha256_160: false,
        }
    }
}

struct Parser {
    source: Source,
    packages: Vec<Package>,
    record: Option<Record>,
    entries: usize,
}

impl LineSink for Parser {
    type Error = ApkError;

    fn line(&mut self, number: usize, text: &[u8]) -> Result<(), ApkError> {
        let line = lines::content(text);
        // apk ends a record at any line shorter than `K:`.
        if line.len() < 2 {
            return self.end_record();
        }
        if line[1] != b':' {
            return Err(ApkError::BadLine {
                line: number,
                found: String::from_utf8_lossy(line).into_owned(),
            });
        }
        let record = self.record.get_or_insert_with(|| Record::new(number));
        let (key, value) = (line[0], &line[2..]);
        match key {
            b'F' | b'R' => {
                self.entries += 1;
                if self.entries > MAX_TEXT_DB_ENTRIES {
                    return Err(ApkError::TooManyEntries {
                        line: number,
                        max: MAX_TEXT_DB_ENTRIES,
                    });
                }
                if key == b'F' {
                    directory(record, number, value)
                } else {
                    file(record, number, value)
                }
            }
            _ => field(record, number, key, value),
        }
    }
}

impl Parser {
    fn new(source: Source) -> Self {
        Parser {
            source,
            packages: Vec::new(),
            record: None,
            entries: 0,
        }
    }

    fn end_record(&mut self) -> Result<(), ApkError> {
        let Some(r) = self.record.take() else {
            return Ok(());
        };
        let missing = |key| ApkError::MissingField { line: r.start, key };
        let name = r.name.ok_or_else(|| missing('P'))?;
        let full_version = r.version.ok_or_else(|| missing('V'))?;
        let (version, release) = split_release(&full_version);
        let mut files = r.files;
        if r.sha256_160 {
            files.iter_mut().for_each(|f| f.digest = None);
        }
        self.packages.push(Package {
            name,
            epoch: None,
            version: version.to_owned(),
            release: release.map(str::to_owned),
            arch: r.arch,
            source: self.source.clone(),
            install_time: None,
            files,
        });
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<Package>, ApkError> {
        self.end_record()?;
        Ok(self.packages)
    }
}

/// Handles the keys that are not `F` or `R`.
fn field(r: &mut Record, line: usize, key: u8, value: &[u8]) -> Result<(), ApkError> {
    let text = || {
        std::str::from_utf8(value)
            .map(str::to_owned)
            .map_err(|_| ApkError::NotUtf8 {
                line,
                key: key as char,
            })
    };
    match key {
        b'P' => r.name = Some(text()?),
        b'V' => r.version = Some(text()?),
        b'A' => r.arch = Some(text()?),
        b'f' => r.sha256_160 |= value.contains(&FLAG_SHA256_160),
        b'M' => {
            let (_, idx) = r.dir.as_ref().ok_or(ApkError::Orphan {
                line,
                key: 'M',
                needs: 'F',
            })?;
            set_acl(&mut r.files[*idx], S_IFDIR, line, 'M', value)?;
        }
        b'a' => {
            let idx = r.file.ok_or(ApkError::Orphan {
                line,
                key: 'a',
                needs: 'R',
            })?;
            set_acl(&mut r.files[idx], S_IFREG, line, 'a', value)?;
        }
        b'Z' => {
            let idx = r.file.ok_or(ApkError::Orphan {
                line,
                key: 'Z',
                needs: 'R',
            })?;
            let digest = parse_checksum(value).map_err(|why| ApkError::BadChecksum {
                line,
                value: String::from_utf8_lossy(value).into_owned(),
                why,
            })?;
            r.files[idx].digest = Some(digest);
        }
        _ => {}
    }
    Ok(())
}

/// `F:usr/lib`: starts a directory; apk requires the package name first.
fn directory(r: &mut Record, line: usize, value: &[u8]) -> Result<(), ApkError> {
    if r.name.is_none() {
        return Err(ApkError::Orphan {
            line,
            key: 'F',
            needs: 'P',
        });
    }
    let mut name = value;
    while let Some(s) = name.strip_suffix(b"/") {
        name = s;
    }
    let bad = |why| ApkError::BadPath {
        line,
        path: String::from_utf8_lossy(value).into_owned(),
        why,
    };
    if !name.is_empty() {
        name.split(|&b| b == b'/')
            .try_for_each(check_component)
            .map_err(bad)?;
    }
    let idx = match r.dirs.get(name) {
        Some(&idx) => idx,
        None => {
            let path = absolute(&[name]).map_err(bad)?;
            let mut entry = FileEntry::new(path, FileKind::Dir);
            apply_acl(&mut entry, S_IFDIR, 0, 0, DEFAULT_DIR_MODE);
            r.files.push(entry);
            r.dirs.insert(name.to_vec(), r.files.len() - 1);
            r.files.len() - 1
        }
    };
    r.dir = Some((name.to_vec(), idx));
    r.file = None;
    Ok(())
}

/// `R:name`: a file in the current directory.
fn file(r: &mut Record, line: usize, value: &[u8]) -> Result<(), ApkError> {
    let (dir, _) = r.dir.as_ref().ok_or(ApkError::Orphan {
        line,
        key: 'R',
        needs: 'F',
    })?;
    let bad = |why| ApkError::BadPath {
        line,
        path: String::from_utf8_lossy(value).into_owned(),
        why,
    };
    if value.contains(&b'/') {
        return Err(bad("a file name may not contain `/`"));
    }
    check_component(value).map_err(bad)?;
    let path = absolute(&[dir, value]).map_err(bad)?;
    let mut entry = FileEntry::new(path, FileKind::File);
    apply_acl(&mut entry, S_IFREG, 0, 0, DEFAULT_FILE_MODE);
    r.files.push(entry);
    r.file = Some(r.files.len() - 1);
    Ok(())
}

/// One path component as apk would create it: no empty, `.`, `..` or NUL.
fn check_component(c: &[u8]) -> Result<(), &'static str> {
    match c {
        b"" => Err("empty path component"),
        b"." | b".." => Err("`.` or `..` path component"),
        _ if c.contains(&0) => Err("NUL byte in path"),
        _ => Ok(()),
    }
}

/// `/` followed by the non-empty parts joined with `/`.
fn absolute(parts: &[&[u8]]) -> Result<PathBuf, &'static str> {
    let mut bytes = Vec::new();
    for p in parts.iter().filter(|p| !p.is_empty()) {
        bytes.push(b'/');
        bytes.extend_from_slice(p);
    }
    if bytes.is_empty() {
        bytes.push(b'/');
    }
    if bytes.len() > MAX_PATH {
        return Err("longer than PATH_MAX");
    }
    Ok(PathBuf::from(OsStr::from_bytes(&bytes)))
}

/// Parses `uid:gid:mode[:xattr-checksum]` into `entry` (the xattr checksum is ignored).
fn set_acl(
    entry: &mut FileEntry,
    kind_bits: u32,
    line: usize,
    key: char,
    value: &[u8],
) -> Result<(), ApkError> {
    let (uid, gid, mode) = parse_acl(value).ok_or_else(|| ApkError::BadAcl {
        line,
        key,
        value: String::from_utf8_lossy(value).into_owned(),
    })?;
    apply_acl(entry, kind_bits, uid, gid, mode);
    Ok(())
}

fn apply_acl(entry: &mut FileEntry, kind_bits: u32, uid: u32, gid: u32, mode: u32) {
    entry.uid = Some(uid);
    entry.gid = Some(gid);
    entry.mode = Some(kind_bits | mode);
}

fn parse_acl(value: &[u8]) -> Option<(u32, u32, u32)> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.splitn(4, ':');
    let number = |s: Option<&str>, radix| {
        let s = s.filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))?;
        u32::from_str_radix(s, radix).ok()
    };
    let uid = number(parts.next(), 10)?;
    let gid = number(parts.next(), 10)?;
    let mode = number(parts.next(), 8).filter(|m| m & !PERMISSION_BITS == 0)?;
    Some((uid, gid, mode))
}

/// Splits apk's `-rN` package release off a version.
pub fn split_release(v: &str) -> (&str, Option<&str>) {
    if let Some(i) = v.rfind("-r") {
        let digits = &v[i + 2..];
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return (&v[..i], Some(&v[i + 1..]));
        }
    }
    (v, None)
}

/// Base64 length of a 20-byte digest (padded), and of the 12 bytes that
/// turn it into a SHA-256 in apk's `Q1` compatibility form.
const B64_SHA1: usize = 28;
const B64_SHA256_TAIL: usize = 16;

/// Decodes a `Z:` checksum the way apk-tools' `apk_blob_pull_digest` does:
/// 32 hex digits are MD5 (old apk); `Q1`/`Q2` + base64 and `X1`/`X2` + hex
/// are SHA-1/SHA-256, where a `1`-tagged value long enough for SHA-256 is one.
pub fn parse_checksum(value: &[u8]) -> Result<Digest, &'static str> {
    if !value.is_ascii() {
        return Err("not ASCII");
    }
    let text = std::str::from_utf8(value).map_err(|_| "not ASCII")?;
    let (tag, body) = (text.get(..2).ok_or("too short")?, &text[2..]);
    match tag {
        "Q1" | "Q2" => base64_digest(tag, body),
        "X1" | "X2" => hex_digest(tag, body),
        _ if text.as_bytes()[0].is_ascii_hexdigit() => {
            Digest::from_hex(Algo::Md5, text).ok_or("expected 32 hex digits (MD5)")
        }
        _ => Err("unknown checksum type (expected Q1, Q2, X1, X2 or MD5 hex)"),
    }
}

fn base64_digest(tag: &str, body: &str) -> Result<Digest, &'static str> {
    let engine = base64::engine::general_purpose::STANDARD;
    let decode = |s: &str| engine.decode(s).map_err(|_| "invalid base64");
    let (algo, bytes) = match (tag, body.len()) {
        ("Q1", B64_SHA1) => (Algo::Sha1, decode(body)?),
        ("Q1", n) if n == B64_SHA1 + B64_SHA256_TAIL => {
            let mut bytes = decode(&body[..B64_SHA1])?;
            bytes.extend(decode(&body[B64_SHA1..])?);
            (Algo::Sha256, bytes)
        }
        ("Q2", _) => (Algo::Sha256, decode(body)?),
        _ => return Err("wrong length for a Q1 (SHA-1) checksum"),
    };
    if bytes.len() != algo.digest_len() {
        return Err("wrong digest length");
    }
    Ok(Digest {
        algo,
        bytes: bytes.into(),
    })
}

fn hex_digest(tag: &str, body: &str) -> Result<Digest, &'static str> {
    let algo = match (tag, body.len()) {
        ("X1", 40) => Algo::Sha1,
        ("X1", 64) | ("X2", _) => Algo::Sha256,
        _ => return Err("wrong length for an X1 (SHA-1) checksum"),
    };
    Digest::from_hex(algo, body).ok_or("expected hex digits of the digest's length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Source {
        Source {
            backend: Backend::Apk,
            file: "/lib/apk/db/installed".into(),
        }
    }

    fn one(db: &str) -> Package {
        let mut v = parse(db.as_bytes(), src()).unwrap();
        assert_eq!(v.len(), 1);
        v.pop().unwrap()
    }

    #[test]
    fn release_is_split_like_apk() {
        assert_eq!(split_release("5.2.21-r0"), ("5.2.21", Some("r0")));
        assert_eq!(
            split_release("1.2.4_git20230717-r4"),
            ("1.2.4_git20230717", Some("r4"))
        );
        assert_eq!(split_release("0.9.9"), ("0.9.9", None));
        assert_eq!(split_release("1.0-rc1"), ("1.0-rc1", None));
        assert_eq!(split_release("1.0-r"), ("1.0-r", None));
    }

    #[test]
    fn checksums_of_every_form() {
        // sha1("ld-musl-x86_64.so.1"), as apk writes it for that symlink.
        let d = parse_checksum(b"Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=").unwrap();
        assert_eq!(d, Algo::Sha1.hash_bytes(b"ld-musl-x86_64.so.1"));
        let sha256 = Algo::Sha256.hash_bytes(b"abc");
        let b64 = base64::engine::general_purpose::STANDARD.encode(&sha256.bytes);
        assert_eq!(
            parse_checksum(format!("Q2{b64}").as_bytes()).unwrap(),
            sha256
        );
        assert_eq!(
            parse_checksum(format!("X2{}", sha256.hex()).as_bytes()).unwrap(),
            sha256
        );
        assert_eq!(
            parse_checksum(format!("X1{}", sha256.hex()).as_bytes()).unwrap(),
            sha256
        );
        // apk's Q1 form of a SHA-256: the first 20 bytes, then the last 12.
        let e = base64::engine::general_purpose::STANDARD;
        let q1 = format!(
            "Q1{}{}",
            e.encode(&sha256.bytes[..20]),
            e.encode(&sha256.bytes[20..])
        );
        assert_eq!(parse_checksum(q1.as_bytes()).unwrap(), sha256);
        let md5 = Algo::Md5.hash_bytes(b"");
        assert_eq!(parse_checksum(md5.hex().as_bytes()).unwrap(), md5);
    }

    #[test]
    fn bad_checksums_are_refused() {
        let q1_multibyte = format!("Q1{}é{}", "A".repeat(27), "A".repeat(15));
        assert!(parse_checksum(q1_multibyte.as_bytes()).is_err());
        for bad in [
            "",
            "Q",
            "Q1",
            "Q1abc",
            "Q3AAAA",
            "Z1AAAA",
            "d41d8cd9",
            "Q1!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(parse_checksum(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn files_dirs_modes_and_digests() {
        let p = one(
            "C:Q1x\nP:musl\nV:1.2.4-r4\nA:x86_64\nt:1699271358\n\
             F:lib\nM:0:0:1777\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1+zEJiG53Cxy7DkV5oZQqeWnzybY=\n\
             R:libc.musl-x86_64.so.1\na:0:0:777\nZ:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=\n\
             F:etc/apk\nR:arch\n",
        );
        assert_eq!(p.nevra(), "musl-1.2.4-r4.x86_64");
        assert_eq!(p.install_time, None);
        let paths: Vec<_> = p.files.iter().map(|f| f.path.to_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "/lib",
                "/lib/ld-musl-x86_64.so.1",
                "/lib/libc.musl-x86_64.so.1",
                "/etc/apk",
                "/etc/apk/arch"
            ]
        );
        let modes: Vec<_> = p.files.iter().map(|f| f.mode.unwrap()).collect();
        assert_eq!(modes, [0o041777, 0o100755, 0o100777, 0o040755, 0o100644]);
        assert_eq!(p.files[0].kind, FileKind::Dir);
        assert_eq!(p.files[2].kind, FileKind::File);
        assert_eq!(
            p.files[2].digest,
            Some(Algo::Sha1.hash_bytes(b"ld-musl-x86_64.so.1"))
        );
        assert_eq!(p.files[4].digest, None);
        assert!(p.files.iter().all(|f| f.uid == Some(0) && f.gid == Some(0)));
    }

    #[test]
    fn repeated_directory_is_one_entry_and_root_dir_is_slash() {
        let p = one("P:x\nV:1\nF:usr\nR:a\nF:\nR:b\nF:usr/\nR:c\n");
        let paths: Vec<_> = p.files.iter().map(|f| f.path.to_str().unwrap()).collect();
        assert_eq!(paths, ["/usr", "/usr/a", "/", "/b", "/usr/c"]);
    }

    #[test]
    fn acl_with_xattr_checksum_and_other_owners() {
        let p = one("P:x\nV:1\nF:var/mail\nM:0:12:2775\nR:f\na:1000:1001:4755:Q1AAAAAAAAAAAAAAAAAAAAAAAAA=\n");
        assert_eq!(
            (p.files[0].gid, p.files[0].mode),
            (Some(12), Some(0o042775))
        );
        assert_eq!(
            (p.files[1].uid, p.files[1].gid, p.files[1].mode),
            (Some(1000), Some(1001), Some(0o104755))
        );
    }

    #[test]
    fn truncated_sha256_flag_drops_digests() {
        let p = one("P:x\nV:1\nf:S\nF:a\nR:b\nZ:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=\n");
        assert_eq!(p.files[1].digest, None);
    }

    #[test]
    fn records_split_on_short_lines_and_eof() {
        let v = parse(b"P:a\nV:1\n\n\nP:b\nV:2-r1\nx\nP:c\nV:3", src()).unwrap();
        let n: Vec<_> = v.iter().map(|p| p.nevra()).collect();
        assert_eq!(n, ["a-1", "b-2-r1", "c-3"]);
    }

    fn err(db: &str) -> String {
        parse(db.as_bytes(), src()).unwrap_err().to_string()
    }

    #[test]
    fn typed_errors_with_line_numbers() {
        assert_eq!(
            err("P:x\nV:1\nR:f\n"),
            "line 3: `R:` line before any `F:` line"
        );
        assert_eq!(
            err("P:x\nV:1\nF:a\nZ:Q1\n"),
            "line 4: `Z:` line before any `R:` line"
        );
        assert_eq!(
            err("P:x\nV:1\nF:a\nR:b\nF:c\na:0:0:644\n"),
            "line 6: `a:` line before any `R:` line"
        );
        assert_eq!(err("F:a\n"), "line 1: `F:` line before any `P:` line");
        assert_eq!(
            err("P:x\nV:1\nM:0:0:755\n"),
            "line 3: `M:` line before any `F:` line"
        );
        assert!(err("P:x\nV:1\nF:a\nR:b\nZ:Q1abc\n").starts_with("line 5: bad checksum \"Q1abc\""));
        assert!(err("P:x\nV:1\nF:a\nM:0:0:8\n").starts_with("line 4: bad `M:` value \"0:0:8\""));
        assert!(err("P:x\nV:1\nF:a\nM:0:0:17777\n").starts_with("line 4: bad `M:`"));
        assert!(err("P:x\nV:1\nF:a\nR:b\na:x:0:644\n").starts_with("line 5: bad `a:`"));
        assert!(err("P:x\nV:1\nF:a/../etc\n").starts_with("line 3: bad path \"a/../etc\""));
        assert!(err("P:x\nV:1\nF:a\nR:../b\n").starts_with("line 4: bad path"));
        assert!(err("P:x\nV:1\nF:a\nR:..\n").starts_with("line 4: bad path"));
        assert_eq!(
            err("P:x\nV:1\nPx\n"),
            "line 3: expected `K:value`, found \"Px\""
        );
        assert_eq!(
            err("P:x\n\nV:1\n"),
            "the record starting at line 1 has no `V:` line"
        );
        assert_eq!(
            err("P:x\nV:1\n\nV:2\nA:y\n"),
            "the record starting at line 4 has no `P:` line"
        );
    }

    #[test]
    fn non_utf8_name_is_refused_but_paths_may_be_any_bytes() {
        let e = parse(b"P:\xff\nV:1\n", src()).unwrap_err();
        assert_eq!(e.to_string(), "line 1: the `P:` value is not UTF-8");
        let v = parse(b"P:x\nV:1\nF:a\nR:\xff\n", src()).unwrap();
        assert_eq!(v[0].files[1].path.as_os_str().as_bytes(), b"/a/\xff");
    }

    #[test]
    fn over_long_line_is_refused() {
        let mut db = b"P:x\nV:1\nT:".to_vec();
        db.extend(vec![b'y'; crate::limits::MAX_LINE]);
        let e = parse(&db, src()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "line 3: longer than the limit of {} bytes",
                crate::limits::MAX_LINE
            )
        );
    }

    #[test]
    fn random_and_truncated_input_never_panics() {
        let base = b"C:Q1z0MwWQKfva+S+q7XmOBYFfQgW/k=\nP:libvncserver\nV:0.9.9-r2\nA:x86_64\nF:usr\nF:usr/lib\nM:0:0:755\nR:libvncclient.so.1\na:0:0:777\nZ:Q1quyp/JcSPFQhtQFjMUYdMwRvAWM=\nf:S\n\nP:b\nV:1\n";
        for cut in 0..base.len() {
            let _ = parse(&base[..cut], src());
        }
        let mut rng = crate::testutil::XorShift::new(0x2545_f491_4f6c_dd1d);
        let alphabet = b"PVFRZaMf:\n0123/=Q.x";
        for _ in 0..2000 {
            let len = rng.below(200);
            let mut buf = rng.bytes_from(alphabet, len);
            if len > 0 {
                rng.mutate(&mut buf, len / 2);
            }
            let _ = parse(&buf, src());
        }
    }
}
