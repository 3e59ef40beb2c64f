//! rpm's SQLite package database (`rpmdb.sqlite`, rpm 4.16 and later: Fedora
//! 33+, RHEL 9, CBL-Mariner, ...).
//!
//! rpm keeps each header blob in `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`.
//! The audited tree must not change because pyvet looked at it, and SQLite
//! would change it: a normal open may create or delete `-wal`/`-shm` files
//! next to the database, and reads may move the file's atime. So SQLite
//! opens the file where it lies only with `immutable=1` (no locking, no
//! journals, nothing created) and only when reading it cannot move its
//! atime ([`read_keeps_atime`]: a `noatime` or read-only mount, or a
//! `relatime` one where the atime is already newer than mtime and ctime and
//! less than a day old). Otherwise, and whenever rpm left committed
//! transactions in a non-empty `-wal`, the database (and that `-wal`) is
//! copied, read with `O_NOATIME`, never through a symlink for the `-wal`,
//! into a private directory (mode 0700, outside the root, removed
//! afterwards); a copy with a `-wal` is opened normally so that SQLite
//! applies the pending transactions, as rpm itself would see them.
//!
//! The file may have been written by an attacker, so the connection follows
//! SQLite's advice for untrusted databases (defensive mode, untrusted schema,
//! cell size checks), and `Packages` must be a plain table: a view or
//! generated column could otherwise make one `SELECT` run without end.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::ops::ControlFlow;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::limits;

/// One row of `Packages`: rpm's header number and its blob (or why the row
/// is unusable).
#[derive(Debug)]
pub struct Record {
    pub hnum: i64,
    pub blob: Result<Vec<u8>, SqliteError>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    #[error("cannot open: {0}")]
    Open(#[source] rusqlite::Error),
    #[error("cannot stat: {0}")]
    Stat(#[source] std::io::Error),
    #[error("no Packages table (tables: {found})")]
    NoPackagesTable { found: String },
    #[error("Packages is {found}, expected a plain table")]
    PackagesNotATable { found: String },
    #[error("Packages column {column} is generated, expected stored data")]
    GeneratedColumn { column: String },
    #[error("Packages has more than {max} rows, more than the file has bytes")]
    TooManyRows { max: u64 },
    #[error("schema check failed: {0}")]
    Schema(#[source] rusqlite::Error),
    #[error("query on Packages failed: {0}")]
    Query(#[source] rusqlite::Error),
    #[error("row {row}: hnum is {found}, expected an integer")]
    HnumType { row: usize, found: &'static str },
    #[error("hnum {hnum}: blob is {found}, expected a blob")]
    BlobType { hnum: i64, found: &'static str },
    #[error("hnum {hnum}: blob of {len} bytes exceeds the limit of {max}")]
    BlobTooLarge { hnum: i64, len: usize, max: u64 },
    #[error("blobs add up to more than {max} bytes")]
    TooMuchData { max: u64 },
    #[error("cannot copy {} to a private directory: {source}", .path.display())]
    Copy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

const SELECT: &str = "SELECT hnum, blob FROM Packages ORDER BY hnum";
/// SQLite's `cache_size` for the scan; negative values are KiB.
const SCAN_CACHE_KIB: i64 = -64;
const LIST_TABLES: &str = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name";
const PACKAGES_KIND: &str =
    "SELECT type, coalesce(sql, '') FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE";
/// `hidden` is 2 or 3 for generated columns.
const GENERATED_COLUMNS: &str =
    "SELECT name FROM pragma_table_xinfo('Packages') WHERE hidden IN (2, 3)";

/// Every header blob of an `rpmdb.sqlite`, opened read-only and immutable.
///
/// Fails on the first unusable row; [`records`] reports them one by one.
pub fn blobs(path: &Path) -> Result<Vec<Vec<u8>>, SqliteError> {
    records(path)?.into_iter().map(|r| r.blob).collect()
}

/// Every row of `Packages` in `hnum` order, the order `rpm -qa` prints,
/// including rows committed to a pending `-wal`.
///
/// Only a private copy is opened; a FIFO or device is refused when copying.
pub fn records(path: &Path) -> Result<Vec<Record>, SqliteError> {
    let mut out = Vec::new();
    for_each_record(path, |hnum, blob| {
        out.push(Record {
            hnum,
            blob: blob.map(<[u8]>::to_vec),
        });
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// Streams the rows of `Packages` in `hnum` order to `visit`, each blob
/// borrowed from SQLite for the duration of the call: nothing but the
/// current row is held, however large the database. `visit` may stop early
/// with `ControlFlow::Break`. Same preconditions and limits as [`records`].
pub fn for_each_record<F>(path: &Path, mut visit: F) -> Result<(), SqliteError>
where
    F: FnMut(i64, Result<&[u8], SqliteError>) -> ControlFlow<()>,
{
    let (conn, max_rows, _copy) = open(path)?;
    check_schema(&conn)?;
    // One pass over the table never revisits a page: a page cache of a few
    // pages does as well as SQLite's default 2 MiB.
    conn.pragma_update(None, "cache_size", SCAN_CACHE_KIB)
        .map_err(SqliteError::Open)?;
    let mut stmt = conn.prepare(SELECT).map_err(SqliteError::Query)?;
    let mut rows = stmt.query([]).map_err(SqliteError::Query)?;
    let (mut count, mut total) = (0u64, 0u64);
    while let Some(row) = rows.next().map_err(SqliteError::Query)? {
        if count >= max_rows {
            return Err(SqliteError::TooManyRows { max: max_rows });
        }
        let hnum = match row.get_ref(0).map_err(SqliteError::Query)? {
            ValueRef::Integer(i) => i,
            other => {
                return Err(SqliteError::HnumType {
                    row: count as usize,
                    found: type_name(other),
                })
            }
        };
        count += 1;
        let blob = blob_of(hnum, row.get_ref(1).map_err(SqliteError::Query)?);
        if let Ok(b) = &blob {
            total += b.len() as u64;
            if total > limits::MAX_INPUT_FILE {
                return Err(SqliteError::TooMuchData {
                    max: limits::MAX_INPUT_FILE,
                });
            }
        }
        if visit(hnum, blob).is_break() {
            break;
        }
    }
    Ok(())
}

fn blob_of(hnum: i64, v: ValueRef<'_>) -> Result<&[u8], SqliteError> {
    let ValueRef::Blob(b) = v else {
        return Err(SqliteError::BlobType {
            hnum,
            found: type_name(v),
        });
    };
    if b.len() as u64 > limits::RPMDB_MAX_BLOB {
        return Err(SqliteError::BlobTooLarge {
            hnum,
            len: b.len(),
            max: limits::RPMDB_MAX_BLOB,
        });
    }
    Ok(b)
}

fn type_name(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "null",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

/// `Packages` must be a stored table: no view, virtual table or generated column.
fn check_schema(conn: &Connection) -> Result<(), SqliteError> {
    let kind: Option<(String, String)> = conn
        .query_row(PACKAGES_KIND, [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(SqliteError::Schema)?;
    let Some((kind, sql)) = kind else {
        return Err(SqliteError::NoPackagesTable {
            found: table_names(conn),
        });
    };
    if kind != "table" || sql.to_ascii_uppercase().starts_with("CREATE VIRTUAL") {
        let found = if kind == "table" {
            "a virtual table".into()
        } else {
            format!("a {kind}")
        };
        return Err(SqliteError::PackagesNotATable { found });
    }
    let generated: Option<String> = conn
        .query_row(GENERATED_COLUMNS, [], |r| r.get(0))
        .optional()
        .map_err(SqliteError::Schema)?;
    match generated {
        Some(column) => Err(SqliteError::GeneratedColumn { column }),
        None => Ok(()),
    }
}

fn table_names(conn: &Connection) -> String {
    let names: rusqlite::Result<Vec<String>> = conn
        .prepare(LIST_TABLES)
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    match names {
        Ok(n) if n.is_empty() => "none".into(),
        Ok(n) => n.join(", "),
        Err(e) => format!("unknown: {e}"),
    }
}

/// Opens `path` so that SQLite never writes, locks, or creates anything,
/// with SQLite's settings for databases of unknown origin.
fn open_immutable(path: &Path) -> Result<Connection, SqliteError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        Connection::open_with_flags(immutable_uri(path), flags).map_err(SqliteError::Open)?;
    harden(conn)
}

/// Opens the private copy so that SQLite replays its `-wal` (which needs a
/// writable directory for the `-shm` index: the private one).
fn open_applying_wal(path: &Path) -> Result<Connection, SqliteError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(SqliteError::Open)?;
    harden(conn)
}

/// SQLite's settings for databases of unknown origin.
fn harden(conn: Connection) -> Result<Connection, SqliteError> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(SqliteError::Open)?;
    conn.pragma_update(None, "trusted_schema", false)
        .map_err(SqliteError::Open)?;
    conn.pragma_update(None, "cell_size_check", true)
        .map_err(SqliteError::Open)?;
    Ok(conn)
}

/// `file:` URI for `path` with every byte outside RFC 3986's unreserved set
/// (and `/`) percent-encoded, so `?`, `#`, `%` and spaces in names are data.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            uri.push(char::from(b));
        } else {
            let _ = write!(uri, "%{b:02X}");
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}

/// Opens the database in place (immutable) when that changes nothing, else
/// a private copy. Also returns the most rows the files can hold (a stored
/// row takes at least one byte) and the copy, which must outlive the
/// connection.
fn open(path: &Path) -> Result<(Connection, u64, Option<PrivateCopy>), SqliteError> {
    if !wal_pending(path) && read_keeps_atime(path) {
        let meta = std::fs::metadata(path).map_err(|source| SqliteError::Copy {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_file() {
            return Ok((open_immutable(path)?, meta.len(), None));
        }
    }
    let copy = PrivateCopy::of(path)?;
    let conn = if copy.wal {
        open_applying_wal(&copy.db)?
    } else {
        open_immutable(&copy.db)?
    };
    Ok((conn, copy.bytes, Some(copy)))
}

/// Whether a non-empty `-wal` (committed transactions not yet in the main
/// file) lies beside the database.
fn wal_pending(path: &Path) -> bool {
    std::fs::symlink_metadata(with_suffix(path, "-wal")).is_ok_and(|m| m.is_file() && m.len() > 0)
}

/// Seconds after which `relatime` updates an atime anyway (the kernel's
/// `relatime_need_update`).
const RELATIME_WINDOW: i64 = 24 * 60 * 60;

/// Whether reading `path` now leaves its atime as it is: the filesystem is
/// mounted read-only or `noatime`, or `relatime` and the atime is newer
/// than both mtime and ctime and less than a day old. `strictatime` (and
/// anything unknown) says no.
pub fn read_keeps_atime(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut vfs = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a valid C string and a pointer to writable statvfs storage.
    if unsafe { libc::statvfs(c.as_ptr(), vfs.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: statvfs succeeded and filled the struct.
    let flags = unsafe { vfs.assume_init() }.f_flag;
    if flags & (libc::ST_RDONLY | libc::ST_NOATIME) != 0 {
        return true;
    }
    if flags & libc::ST_RELATIME == 0 {
        return false;
    }
    let atime = (meta.atime(), meta.atime_nsec());
    let newer =
        atime > (meta.mtime(), meta.mtime_nsec()) && atime > (meta.ctime(), meta.ctime_nsec());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    // A margin of a minute for the time the read itself takes.
    newer && now - meta.atime() < RELATIME_WINDOW - 60
}

/// The database (and its pending `-wal`) copied into a private directory,
/// removed when this is dropped.
struct PrivateCopy {
    _dir: tempfile::TempDir,
    db: PathBuf,
    /// A non-empty `-wal` was copied beside it.
    wal: bool,
    /// Bytes copied in all.
    bytes: u64,
}

impl PrivateCopy {
    fn of(path: &Path) -> Result<PrivateCopy, SqliteError> {
        let copy_err = |p: &Path| {
            let p = p.to_path_buf();
            move |source| SqliteError::Copy { path: p, source }
        };
        // tempfile creates the directory with mode 0700.
        let dir = tempfile::Builder::new()
            .prefix("pyvet-rpmdb-")
            .tempdir()
            .map_err(copy_err(path))?;
        let db = dir.path().join("rpmdb.sqlite");
        let mut bytes = copy_capped(path, &db, false).map_err(copy_err(path))?;
        let wal = with_suffix(path, "-wal");
        let pending = wal_pending(path);
        if pending {
            bytes += copy_capped(&wal, &with_suffix(&db, "-wal"), true).map_err(copy_err(&wal))?;
        }
        Ok(PrivateCopy {
            _dir: dir,
            db,
            wal: pending,
            bytes,
        })
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Copies a regular file of at most `limits::MAX_INPUT_FILE` bytes without
/// touching its atime (where the kernel allows `O_NOATIME`); `nofollow`
/// refuses a symlink.
fn copy_capped(from: &Path, to: &Path, nofollow: bool) -> std::io::Result<u64> {
    let base = libc::O_NONBLOCK | libc::O_CLOEXEC | if nofollow { libc::O_NOFOLLOW } else { 0 };
    let open = |extra: i32| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(base | extra)
            .open(from)
    };
    let src: File = match open(libc::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(0),
        r => r,
    }?;
    let meta = src.metadata()?;
    let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
    if !meta.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    let copied = std::io::copy(&mut src.take(limits::MAX_INPUT_FILE + 1), &mut dst)?;
    if copied > limits::MAX_INPUT_FILE {
        return Err(invalid(format!(
            "more than the limit of {} bytes",
            limits::MAX_INPUT_FILE
        )));
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets a file's atime and mtime (seconds).
    fn set_times(path: &Path, atime: i64, mtime: i64) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        let ts = |s| libc::timespec {
            tv_sec: s,
            tv_nsec: 0,
        };
        let times = [ts(atime), ts(mtime)];
        // SAFETY: a valid path and two timespecs.
        assert_eq!(
            unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) },
            0
        );
    }

    #[test]
    fn the_database_is_read_in_place_only_when_that_keeps_its_atime() {
        let (_d, db) = db_with("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        // Just written: the atime is not newer than mtime and ctime, so a
        // read would move it (under relatime and strictatime alike).
        set_times(&db, now - 100, now - 100);
        assert!(!read_keeps_atime(&db));
        let (_, _, copy) = open(&db).unwrap();
        assert!(
            copy.is_some(),
            "a read that moves the atime goes through a copy"
        );
        // Setting times moves ctime to now, so only an atime ahead of now is
        // newer than both: relatime leaves it, and the file is read in place.
        set_times(&db, now + 30, now - 100);
        let c = std::ffi::CString::new(db.as_os_str().as_encoded_bytes()).unwrap();
        let mut vfs = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: valid path and storage.
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), vfs.as_mut_ptr()) }, 0);
        // SAFETY: statvfs succeeded.
        let flags = unsafe { vfs.assume_init() }.f_flag;
        if flags & libc::ST_RELATIME == 0 {
            eprintln!("the temp directory is not mounted relatime: in-place case not tested");
            return;
        }
        assert!(read_keeps_atime(&db));
        let (conn, _, copy) = open(&db).unwrap();
        assert!(copy.is_none());
        check_schema(&conn).unwrap();
        drop(conn);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&db).unwrap().atime(), now + 30);
        // A day-old atime is updated by relatime all the same.
        set_times(&db, now - RELATIME_WINDOW - 5, now - 2 * RELATIME_WINDOW);
        assert!(!read_keeps_atime(&db));
        assert!(!read_keeps_atime(Path::new("/nonexistent/rpmdb.sqlite")));
    }

    #[test]
    fn uri_escapes_everything_that_is_not_plain() {
        assert_eq!(
            immutable_uri(Path::new("/tmp/a b/?x#y%z/rpmdb.sqlite")),
            "file:/tmp/a%20b/%3Fx%23y%25z/rpmdb.sqlite?mode=ro&immutable=1"
        );
    }

    #[test]
    fn wrong_column_types_are_typed_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("db");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB);
             INSERT INTO Packages VALUES (1, x'00000001');
             INSERT INTO Packages VALUES (2, 'text, not a blob');",
        )
        .unwrap();
        drop(c);
        let recs = records(&p).unwrap();
        assert_eq!(recs[0].blob.as_ref().unwrap(), &[0, 0, 0, 1]);
        assert!(matches!(
            recs[1].blob,
            Err(SqliteError::BlobType {
                hnum: 2,
                found: "text"
            })
        ));
    }

    fn db_with(sql: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("db");
        Connection::open(&p).unwrap().execute_batch(sql).unwrap();
        (d, p)
    }

    #[test]
    fn endless_view_is_refused_before_it_runs() {
        let (_d, p) = db_with(
            "CREATE VIEW Packages AS WITH RECURSIVE c(x) AS
               (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS hnum, x'' AS blob FROM c;",
        );
        let e = records(&p).unwrap_err();
        assert!(
            matches!(&e, SqliteError::PackagesNotATable { found } if found == "a view"),
            "{e}"
        );
    }

    #[test]
    fn generated_blob_column_is_refused() {
        let (_d, p) = db_with(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob AS (zeroblob(hnum)));
             INSERT INTO Packages VALUES (1);",
        );
        let e = records(&p).unwrap_err();
        assert!(
            matches!(&e, SqliteError::GeneratedColumn { column } if column == "blob"),
            "{e}"
        );
    }

    #[test]
    fn missing_table_names_the_tables_found() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("db");
        Connection::open(&p)
            .unwrap()
            .execute_batch("CREATE TABLE Names (x); CREATE TABLE Other (y);")
            .unwrap();
        let e = records(&p).unwrap_err();
        assert!(
            matches!(&e, SqliteError::NoPackagesTable { found } if found == "Names, Other"),
            "{e}"
        );
    }
}
