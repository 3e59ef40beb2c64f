//! Finding package data on disk and turning it into a [`Manifest`].
//!
//! Inputs are recognised by content, never by name: a file called `Packages`
//! may be a BerkeleyDB hash, a Btree index renamed by mistake, or anything
//! else. [`detect`] looks at magic numbers and structure and says which
//! reader applies; [`load_input`] and [`load_root`] dispatch to it.

pub mod apk;
pub mod deb;
pub mod dir;
pub mod dpkg;
pub mod json;
pub(crate) mod lines;
pub mod packed;
pub mod record;
pub mod rpm;
pub mod rpmdb;
pub mod rpmfile;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::manifest::Manifest;

/// What an input turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    RpmdbSqlite,
    RpmdbBdb,
    RpmdbNdb,
    /// A single RPM header: with the 8-byte intro, or an rpmdb blob without.
    RpmHeader,
    RpmFile,
    /// A dpkg admin directory (`status`, `info/`, `status.d/`).
    DpkgAdminDir,
    /// A dpkg `status` file, or one distroless `status.d/<pkg>` stanza file.
    DpkgStatus,
    Deb,
    ApkInstalled,
    PipRecord,
    /// A `pyvet-manifest/1` JSON document.
    ManifestJson,
    /// A PyOxidizer packed resources file (`pyembed\x03`).
    PackedResources,
    Directory,
}

/// Which installed databases `load_root` looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbSelect {
    Auto,
    Rpm,
    Dpkg,
    Apk,
    Pip,
    None,
}

/// Options that change what the readers keep.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Drop rpm's `gpg-pubkey` pseudo-packages.
    pub skip_gpg_pubkey: bool,
}

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const RPM_LEAD_MAGIC: &[u8] = &[0xed, 0xab, 0xee, 0xdb];
const RPM_HEADER_MAGIC: &[u8] = &[0x8e, 0xad, 0xe8, 0x01];
const NDB_MAGIC: &[u8] = b"RpmP";
const AR_MAGIC: &[u8] = b"!<arch>\n";
const BDB_HASH_MAGIC: u32 = 0x0006_1561;
const BDB_BTREE_MAGIC: u32 = 0x0005_3162;

/// Recognises an input by its content.
pub fn detect(path: &Path) -> Result<InputKind> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Ok(detect_dir(path));
    }
    let (file, _) = fsutil::open_regular(path)?;
    let mut head = Vec::with_capacity(4096);
    file.take(4096)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    detect_bytes(&head, meta.len()).ok_or_else(|| Error::Unrecognised {
        path: path.to_path_buf(),
        why: describe_head(&head),
    })
}

fn describe_head(head: &[u8]) -> String {
    if head.is_empty() {
        return "the file is empty".into();
    }
    let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("unknown content starting with {}", shown.join(" "))
}

/// Recognises a file from its first bytes (`head`) and its total length.
pub fn detect_bytes(head: &[u8], len: u64) -> Option<InputKind> {
    if head.starts_with(SQLITE_MAGIC) {
        return Some(InputKind::RpmdbSqlite);
    }
    if head.starts_with(RPM_LEAD_MAGIC) {
        return Some(InputKind::RpmFile);
    }
    if head.starts_with(RPM_HEADER_MAGIC) {
        return Some(InputKind::RpmHeader);
    }
    if head.starts_with(NDB_MAGIC) {
        return Some(InputKind::RpmdbNdb);
    }
    if crate::format::packed::is_packed(head) {
        return Some(InputKind::PackedResources);
    }
    if head.starts_with(AR_MAGIC) {
        return Some(InputKind::Deb);
    }
    if let Some(m) = head.get(12..16) {
        let m: [u8; 4] = m.try_into().ok()?;
        let (le, be) = (u32::from_le_bytes(m), u32::from_be_bytes(m));
        if [le, be]
            .iter()
            .any(|&v| v == BDB_HASH_MAGIC || v == BDB_BTREE_MAGIC)
        {
            return Some(InputKind::RpmdbBdb);
        }
    }
    if is_bare_header_blob(head, len) {
        return Some(InputKind::RpmHeader);
    }
    detect_text(head)
}

/// An rpmdb header blob starts with big-endian index count and data length,
/// and its size is exactly 8 + 16 * count + length.
fn is_bare_header_blob(head: &[u8], len: u64) -> bool {
    let (Some(il), Some(dl)) = (head.get(0..4), head.get(4..8)) else {
        return false;
    };
    let il = u32::from_be_bytes(il.try_into().unwrap()) as u64;
    let dl = u32::from_be_bytes(dl.try_into().unwrap()) as u64;
    il > 0 && 8 + 16 * il + dl == len
}

fn detect_text(head: &[u8]) -> Option<InputKind> {
    if json::looks_like(head) {
        return Some(InputKind::ManifestJson);
    }
    let text = std::str::from_utf8(head).ok().or_else(|| {
        // The 4 KiB cut may split a UTF-8 sequence; judge the valid prefix.
        std::str::from_utf8(&head[..head.len().saturating_sub(3)]).ok()
    })?;
    let first = text.lines().map(str::trim_end).find(|l| !l.is_empty())?;
    if first.starts_with("Package:") || first.starts_with("Package :") {
        return Some(InputKind::DpkgStatus);
    }
    if first.len() > 2 && first.as_bytes()[1] == b':' && first.as_bytes()[0].is_ascii_alphabetic() {
        // apk records are single-letter keys; dpkg stanza keys are words.
        return Some(InputKind::ApkInstalled);
    }
    if looks_like_record(text) {
        return Some(InputKind::PipRecord);
    }
    None
}

/// A RECORD line is `path,algo=digest,size` or `path,,`.
fn looks_like_record(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.is_empty()).peekable();
    lines.peek().is_some()
        && lines.take(3).all(|l| {
            let cols: Vec<&str> = l.rsplitn(3, ',').collect();
            cols.len() == 3 && (cols[1].is_empty() || cols[1].contains('='))
        })
}

fn detect_dir(dir: &Path) -> InputKind {
    let has = |n: &str| dir.join(n).exists();
    if has("rpmdb.sqlite") || has("Packages.db") || has("Packages") {
        // Resolved to the concrete backend in `read_rpmdb_dir`.
        return InputKind::RpmdbSqlite;
    }
    if has("status") || has("status.d") {
        return InputKind::DpkgAdminDir;
    }
    if has("installed") && !has("info") {
        return InputKind::ApkInstalled;
    }
    InputKind::Directory
}

/// Reads one input given on the command line. `root` is the tree the input
/// describes (used to place pip RECORD paths). Records that could not be
/// read are returned beside the packages that could.
pub fn load_input(path: &Path, root: &Path, opts: LoadOptions) -> (Manifest, Vec<Error>) {
    match read_input(path, root) {
        Ok((m, errors)) => (filter(m, opts), errors),
        Err(e) => (Manifest::default(), vec![e]),
    }
}

fn read_input(path: &Path, root: &Path) -> Result<(Manifest, Vec<Error>)> {
    let kind = detect(path)?;
    let is_dir = path.is_dir();
    let m = match kind {
        _ if is_dir && kind == InputKind::RpmdbSqlite => return read_rpmdb_dir(path),
        InputKind::RpmdbSqlite => return read_rpmdb(path, rpmdb::Kind::Sqlite),
        InputKind::RpmdbBdb => return read_rpmdb(path, rpmdb::Kind::Bdb),
        InputKind::RpmdbNdb => return read_rpmdb(path, rpmdb::Kind::Ndb),
        InputKind::ApkInstalled if is_dir => apk::read(&path.join("installed"))?,
        InputKind::RpmHeader => rpmdb::read_header_file(path)?,
        InputKind::RpmFile => rpmfile::read(path)?,
        InputKind::DpkgAdminDir => dpkg::read_admindir(path)?,
        InputKind::DpkgStatus => dpkg::read_status_file(path)?,
        InputKind::Deb => deb::read(path)?,
        InputKind::ApkInstalled => apk::read(path)?,
        InputKind::PipRecord => record::read(path, root)?,
        InputKind::ManifestJson => json::read(path)?,
        InputKind::PackedResources => packed::read(path)?,
        InputKind::Directory => dir::read(path)?,
    };
    Ok((m, Vec::new()))
}

/// Reads an rpmdb file, keeping the records that parse and an error for each
/// that does not (rpm itself reports a bad header and goes on).
fn read_rpmdb(path: &Path, kind: rpmdb::Kind) -> Result<(Manifest, Vec<Error>)> {
    let (m, issues) = rpmdb::read_with_errors(path, kind)?;
    let errors = issues
        .into_iter()
        .map(|issue| Error::Record {
            path: path.to_path_buf(),
            issue: Box::new(issue),
        })
        .collect();
    Ok((m, errors))
}

fn filter(mut m: Manifest, opts: LoadOptions) -> Manifest {
    if opts.skip_gpg_pubkey {
        m.packages.retain(|p| p.name != "gpg-pubkey");
    }
    m
}

/// Reads an rpmdb directory, choosing the backend the way rpm itself
/// prefers: SQLite, then NDB, then BerkeleyDB.
pub fn read_rpmdb_dir(dir: &Path) -> Result<(Manifest, Vec<Error>)> {
    for (name, kind) in [
        ("rpmdb.sqlite", rpmdb::Kind::Sqlite),
        ("Packages.db", rpmdb::Kind::Ndb),
        ("Packages", rpmdb::Kind::Bdb),
    ] {
        let p = dir.join(name);
        if present(&p) {
            return read_rpmdb(&p, kind);
        }
    }
    Err(Error::Unrecognised {
        path: dir.to_path_buf(),
        why: "no rpmdb.sqlite, Packages.db or Packages".into(),
    })
}

/// Where each package manager keeps its database, as seen inside a root.
const RPMDB_DIRS: [&str; 2] = ["/usr/lib/sysimage/rpm", "/var/lib/rpm"];
const DPKG_DIR: &str = "/var/lib/dpkg";
const APK_DBS: [&str; 2] = ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"];

/// Reads every installed database found under `root`.
///
/// One unreadable database (or one hostile `RECORD`) must not hide the
/// others: each failure is returned beside whatever could be read.
pub fn load_root(root: &Path, select: DbSelect, opts: LoadOptions) -> (Manifest, Vec<Error>) {
    let (m, errors, _) = read_root(root, select, opts);
    (m, errors)
}

/// [`load_root`], and how many databases it found (one that holds no
/// package, or does not parse, counts all the same).
fn read_root(root: &Path, select: DbSelect, opts: LoadOptions) -> (Manifest, Vec<Error>, usize) {
    let mut m = Manifest::default();
    let (found, mut errors) = locate(root, select);
    let databases = found.len();
    for (backend, path) in found {
        let read = match backend {
            DbSelect::Rpm => read_rpmdb_dir(&path),
            DbSelect::Dpkg => whole(dpkg::read_admindir(&path)),
            DbSelect::Apk => whole(apk::read(&path)),
            _ => whole(record::read(&path, root)),
        };
        match read {
            Ok((part, errs)) => {
                m.extend(part);
                errors.extend(errs);
            }
            Err(e) => errors.push(e),
        }
    }
    (filter(m, opts), errors, databases)
}

/// Where [`load_root`] looks for databases, for messages saying it found
/// none.
pub fn looked_for(select: DbSelect) -> String {
    let want = |s: DbSelect| select == DbSelect::Auto || select == s;
    let mut places = Vec::new();
    if want(DbSelect::Rpm) {
        places.push(format!("rpm in {}", RPMDB_DIRS.join(", ")));
    }
    if want(DbSelect::Dpkg) {
        places.push(format!("dpkg in {DPKG_DIR} (status, status.d)"));
    }
    if want(DbSelect::Apk) {
        places.push(format!("apk in {}", APK_DBS.join(", ")));
    }
    if want(DbSelect::Pip) {
        places.push("pip RECORDs in lib*/python3*/{site,dist}-packages".into());
    }
    if places.is_empty() {
        return "no package database (--db none reads none)".into();
    }
    format!("no package database: looked for {}", places.join("; "))
}

/// Every database `select` asks for that exists under `root`, and an
/// error for each location where something is that cannot be read safely.
fn locate(root: &Path, select: DbSelect) -> (Vec<(DbSelect, PathBuf)>, Vec<Error>) {
    let want = |s: DbSelect| select == DbSelect::Auto || select == s;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    if want(DbSelect::Rpm) {
        let (dirs, errs) = unique_resolved(root, &RPMDB_DIRS);
        out.extend(dirs.into_iter().map(|d| (DbSelect::Rpm, d)));
        errors.extend(errs);
    }
    if want(DbSelect::Dpkg) {
        match locate_one(root, Path::new(DPKG_DIR)) {
            Ok(Some(dir)) if present(&dir.join("status")) || present(&dir.join("status.d")) => {
                out.push((DbSelect::Dpkg, dir))
            }
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if want(DbSelect::Apk) {
        let (dbs, errs) = unique_resolved(root, &APK_DBS);
        out.extend(dbs.into_iter().map(|d| (DbSelect::Apk, d)));
        errors.extend(errs);
    }
    if want(DbSelect::Pip) {
        out.extend(
            record::find_records(root)
                .into_iter()
                .map(|r| (DbSelect::Pip, r)),
        );
    }
    (out, errors)
}

/// What [`load`] read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub manifest: Manifest,
    /// Every error beside it (one unreadable input never hides the others).
    pub errors: Vec<Error>,
    /// How many installed databases were found under the root, readable
    /// or not, with packages or without.
    pub databases: usize,
}

/// Every installed database under `root` (as `select` says) and every
/// input: one manifest, and every error beside it.
pub fn load(root: &Path, select: DbSelect, inputs: &[PathBuf], opts: LoadOptions) -> Loaded {
    let mut out = Loaded::default();
    if select != DbSelect::None {
        let (m, errs, databases) = read_root(root, select, opts);
        out.manifest.extend(m);
        out.errors.extend(errs);
        out.databases = databases;
    }
    for input in inputs {
        let (m, errs) = load_input(input, root, opts);
        out.manifest.extend(m);
        out.errors.extend(errs);
    }
    out
}

/// A reader that reads all or nothing has no partial errors.
fn whole(r: Result<Manifest>) -> Result<(Manifest, Vec<Error>)> {
    r.map(|m| (m, Vec::new()))
}

/// Resolves candidate locations inside `root`, keeping existing ones once
/// (`/var/lib/rpm` is often a symlink to `/usr/lib/sysimage/rpm`), and an
/// error for each that is there but cannot be read safely.
fn unique_resolved(root: &Path, candidates: &[&str]) -> (Vec<PathBuf>, Vec<Error>) {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut errors = Vec::new();
    for c in candidates {
        let p = match locate_one(root, Path::new(c)) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let usable = if p.is_dir() {
            ["rpmdb.sqlite", "Packages.db", "Packages"]
                .iter()
                .any(|n| present(&p.join(n)))
        } else {
            true
        };
        if usable && !out.contains(&p) {
            out.push(p);
        }
    }
    (out, errors)
}

/// Whether a host path names an entry of any type (not following a final
/// symlink): a database replaced by a FIFO or a link is *there*, and its
/// reader refuses it with an error, rather than being taken for none.
pub(crate) fn present(host: &Path) -> bool {
    std::fs::symlink_metadata(host).is_ok()
}

/// Where a database location (`/var/lib/dpkg`) is on the host: `None` when
/// nothing is there, an error when something is there that cannot be
/// resolved inside the root: a symlink loop, or a link whose target is
/// not in the root (`var/lib/dpkg -> /var/lib/dpkg` is a loop in the root,
/// `-> /nonexistent` dangles). Either would otherwise silently read as "no
/// database", and the audit would pass with nothing checked. A location
/// whose parent directory does not exist is simply not there.
fn locate_one(root: &Path, path: &Path) -> Result<Option<PathBuf>> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(None);
    };
    let link_of = |candidate: &Path| {
        crate::tree::fs::host_link(&crate::manifest::under_root(root, candidate), path)
    };
    let parent = match crate::tree::resolve_with(parent, link_of) {
        Ok(p) => p,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let host = crate::manifest::under_root(root, &parent.join(name));
    match std::fs::symlink_metadata(&host) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
        Ok(m) if !m.file_type().is_symlink() => return Ok(Some(host)),
        Ok(_) => {}
    }
    match crate::tree::resolve_with(&parent.join(name), link_of) {
        Ok(p) => Ok(Some(crate::manifest::under_root(root, &p))),
        Err(e) => {
            let cause = match e {
                crate::tree::TreeError::Io { source, .. } => source.to_string(),
                _ => "its target is not in the root".into(),
            };
            Err(Error::Unreadable {
                path: path.to_path_buf(),
                why: format!("a package database location, but a symlink that does not resolve inside the root: {cause}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(
            detect_bytes(b"SQLite format 3\0....", 100),
            Some(InputKind::RpmdbSqlite)
        );
        assert_eq!(
            detect_bytes(&[0xed, 0xab, 0xee, 0xdb, 3, 0], 100),
            Some(InputKind::RpmFile)
        );
        assert_eq!(
            detect_bytes(b"RpmP\0\0\0\0", 100),
            Some(InputKind::RpmdbNdb)
        );
        assert_eq!(
            detect_bytes(b"!<arch>\ndebian-binary", 100),
            Some(InputKind::Deb)
        );
        let mut bdb = vec![0u8; 16];
        bdb[12..16].copy_from_slice(&BDB_HASH_MAGIC.to_be_bytes());
        assert_eq!(detect_bytes(&bdb, 4096), Some(InputKind::RpmdbBdb));
    }

    #[test]
    fn bare_header_blob_needs_exact_length() {
        let mut b = vec![0, 0, 0, 1, 0, 0, 0, 4];
        b.extend([0u8; 20]);
        assert_eq!(detect_bytes(&b, 28), Some(InputKind::RpmHeader));
        assert_eq!(detect_bytes(&b, 29), None);
    }

    #[test]
    fn text_databases() {
        assert_eq!(
            detect_bytes(b"\nPackage: bash\nStatus: install ok installed\n", 50),
            Some(InputKind::DpkgStatus)
        );
        assert_eq!(
            detect_bytes(b"C:Q1abc=\nP:musl\nV:1.2\n", 30),
            Some(InputKind::ApkInstalled)
        );
        assert_eq!(
            detect_bytes(b"six.py,sha256=abc,123\nsix-1.16.dist-info/RECORD,,\n", 60),
            Some(InputKind::PipRecord)
        );
        assert_eq!(detect_bytes(b"hello world\n", 12), None);
    }
}
