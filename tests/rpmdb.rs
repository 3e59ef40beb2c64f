//! Installed rpm databases: the container readers against real databases
//! from the shared corpus and against databases written by the real tools
//! (rpm, libdb's `db_load`), compared with what `rpm` itself reports.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use pyvet::db::rpmdb::{bdb, ndb, sqlite, Kind};

/// Every rpmdb of the corpus with the number of headers PROVENANCE.md states.
const CORPUS_DBS: [(&str, Kind, usize); 8] = [
    (
        "rpmdb/sqlite/cbl-mariner-2.0/rpmdb.sqlite",
        Kind::Sqlite,
        129,
    ),
    ("rpmdb/sqlite/fedora36-tzdata/rpmdb.sqlite", Kind::Sqlite, 1),
    ("rpmdb/bdb/rhel-scancode/Packages", Kind::Bdb, 101),
    ("rpmdb/bdb/rhel8-libuuid/Packages", Kind::Bdb, 1),
    ("rpmdb/bdb/ubi7-tzdata/Packages", Kind::Bdb, 1),
    ("rpmdb/bdb/syft-small/Packages", Kind::Bdb, 1),
    ("rpmdb/bdb/scalibr-epoch/Packages", Kind::Bdb, 1),
    ("rpmdb/ndb/sle15-bci/Packages.db", Kind::Ndb, 35),
];

fn blobs_of(path: &Path, kind: Kind) -> Vec<Vec<u8>> {
    let read = || std::fs::read(path).unwrap();
    match kind {
        Kind::Sqlite => sqlite::blobs(path).unwrap(),
        Kind::Bdb => bdb::blobs(&read()).unwrap(),
        Kind::Ndb => ndb::blobs(&read()).unwrap(),
    }
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(b[off..off + 4].try_into().unwrap())
}

/// `NAME-VERSION-RELEASE.ARCH` straight from a blob's index, with a decoder
/// written here (independent of the crate's header parser). A missing tag
/// prints as `(none)`, like rpm's query format.
fn nvra(blob: &[u8]) -> String {
    let il = be32(blob, 0) as usize;
    let data = 8 + 16 * il;
    let tag = |want: u32| {
        (0..il)
            .map(|i| 8 + 16 * i)
            .find(|&e| be32(blob, e) == want)
            .map(|e| {
                let start = data + be32(blob, e + 8) as usize;
                let len = blob[start..].iter().position(|&b| b == 0).unwrap();
                String::from_utf8_lossy(&blob[start..start + len]).into_owned()
            })
            .unwrap_or_else(|| "(none)".into())
    };
    format!("{}-{}-{}.{}", tag(1000), tag(1001), tag(1002), tag(1022))
}

/// Runs `rpm -qa --qf` on a private copy of the database: rpm writes lock,
/// `-shm` and `-wal` files next to whatever it opens.
fn rpm_qa(db: &Path, kind: Kind, qf: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (name, backend) = match kind {
        Kind::Sqlite => ("rpmdb.sqlite", "sqlite"),
        Kind::Bdb => ("Packages", "bdb_ro"),
        Kind::Ndb => panic!("Debian's rpm has no ndb backend"),
    };
    std::fs::copy(db, dir.path().join(name)).unwrap();
    let out = Command::new("rpm")
        .arg("--dbpath")
        .arg(dir.path())
        .args(["--define", &format!("_db_backend {backend}")])
        .args(["-qa", "--qf", qf])
        .output()
        .expect("rpm must be installed (CI installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

const QF_NVRA: &str = "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n";

#[test]
fn every_corpus_db_yields_the_documented_number_of_headers() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for (rel, kind, want) in CORPUS_DBS {
        let blobs = blobs_of(&corpus.join(rel), kind);
        assert_eq!(blobs.len(), want, "{rel}");
        for (i, b) in blobs.iter().enumerate() {
            let (il, dl) = (be32(b, 0) as usize, be32(b, 4) as usize);
            assert_eq!(8 + 16 * il + dl, b.len(), "{rel} blob {i}: il {il} dl {dl}");
        }
    }
}

#[test]
fn bdb_and_sqlite_order_and_nevras_equal_rpm_qa() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for (rel, kind, _) in CORPUS_DBS.iter().filter(|d| d.1 != Kind::Ndb) {
        let path = corpus.join(rel);
        let ours: Vec<String> = blobs_of(&path, *kind).iter().map(|b| nvra(b)).collect();
        assert_eq!(ours, rpm_qa(&path, *kind, QF_NVRA), "{rel}");
    }
}

#[test]
fn rhel_bdb_has_two_gpg_pubkeys() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let blobs = blobs_of(&corpus.join("rpmdb/bdb/rhel-scancode/Packages"), Kind::Bdb);
    let keys = blobs
        .iter()
        .filter(|b| nvra(b).starts_with("gpg-pubkey-"))
        .count();
    assert_eq!(keys, 2);
}

/// Debian's rpm cannot read NDB; go-rpmdb's expected list (transcribed in
/// the corpus) is the reference, row by row and in order.
#[test]
fn ndb_nevras_equal_go_rpmdb_expected_list() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let tsv = std::fs::read_to_string(
        corpus.join("expected/sle15-bci-Packages.db.go-rpmdb-expected.tsv"),
    )
    .unwrap();
    let expected: Vec<String> = tsv
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            format!("{}-{}-{}.{}", c[2], c[3], c[4], c[5])
        })
        .collect();
    assert_eq!(expected.len(), 35);
    let blobs = blobs_of(&corpus.join("rpmdb/ndb/sle15-bci/Packages.db"), Kind::Ndb);
    let ours: Vec<String> = blobs.iter().map(|b| nvra(b)).collect();
    assert_eq!(ours, expected);
}

#[test]
fn btree_renamed_to_packages_is_refused_as_btree() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let bytes =
        std::fs::read(corpus.join("rpmdb/bdb/edge-preflight-fail-list-pkg/Packages")).unwrap();
    let e = bdb::blobs(&bytes).unwrap_err();
    assert!(matches!(e, bdb::BdbError::Btree), "{e:?}");
    assert_eq!(
        e.to_string(),
        "BerkeleyDB Btree, not a hash database (an rpm index file, not Packages?)"
    );
}

#[test]
fn sqlite_without_packages_table_is_refused() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let e = sqlite::blobs(&corpus.join("rpmdb/sqlite/edge-claircore-no-packages/rpmdb.sqlite"))
        .unwrap_err();
    assert!(
        matches!(&e, sqlite::SqliteError::NoPackagesTable { found } if found == "not_packages"),
        "{e:?}"
    );
}

/// Cuts and flips bytes of the real BerkeleyDB and NDB files; every outcome
/// must be a value or a typed error, never a panic or a hang.
#[test]
fn damaged_corpus_dbs_never_panic() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (rel, kind) in [
        ("rpmdb/bdb/syft-small/Packages", Kind::Bdb),
        ("rpmdb/bdb/scalibr-epoch/Packages", Kind::Bdb),
        ("rpmdb/bdb/rhel8-libuuid/Packages", Kind::Bdb),
        ("rpmdb/ndb/sle15-bci/Packages.db", Kind::Ndb),
    ] {
        let base = std::fs::read(corpus.join(rel)).unwrap();
        let parse = |b: &[u8]| match kind {
            Kind::Bdb => bdb::records(b).map(|r| r.len()).map_err(|e| e.to_string()),
            _ => ndb::records(b).map(|r| r.len()).map_err(|e| e.to_string()),
        };
        let full = parse(&base).unwrap();
        for cut in (0..base.len()).step_by(base.len() / 300 + 1) {
            if let Ok(n) = parse(&base[..cut]) {
                assert!(n <= full, "{rel} cut at {cut}: {n} records of {full}");
            }
        }
        for _ in 0..300 {
            let mut m = base.clone();
            for _ in 0..(next() % 16 + 1) {
                // Most structure sits in the first pages; aim half the hits there.
                let span = if next() % 2 == 0 {
                    8192.min(m.len())
                } else {
                    m.len()
                };
                let i = (next() % span as u64) as usize;
                m[i] = next() as u8;
            }
            let _ = parse(&m);
        }
    }
}

/// Names, sizes and modification times of everything in `dir`.
fn listing(dir: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                (m.len(), m.modified().unwrap()),
            )
        })
        .collect()
}

/// A SQLite database in WAL mode with one committed row still only in its
/// `-wal` file (copied while the writer keeps it open).
fn db_with_pending_wal(dir: &Path) -> PathBuf {
    let src = tempfile::tempdir().unwrap();
    let db = src.path().join("rpmdb.sqlite");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
         INSERT INTO Packages (blob) VALUES (x'0000000000000000');",
    )
    .unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    c.execute(
        "INSERT INTO Packages (blob) VALUES (x'0000000100000000')",
        [],
    )
    .unwrap();
    let dest = dir.join("rpmdb.sqlite");
    std::fs::copy(&db, &dest).unwrap();
    std::fs::copy(
        src.path().join("rpmdb.sqlite-wal"),
        dir.join("rpmdb.sqlite-wal"),
    )
    .unwrap();
    drop(c);
    dest
}

#[test]
fn sqlite_read_leaves_the_db_directory_untouched() {
    let root = tempfile::tempdir().unwrap();
    for name in [
        "plain",
        "with space",
        "q?mark",
        "hash#sign",
        "per%25cent",
        "a?b#c%d e",
    ] {
        let dir = root.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        let db = db_with_pending_wal(&dir);
        let before = listing(&dir);
        assert!(before.contains_key("rpmdb.sqlite-wal"), "{before:?}");
        let recs = sqlite::records(&db).unwrap();
        // Only the checkpointed row is visible; the WAL row is reported, not read.
        assert_eq!(recs.len(), 1, "{name}");
        assert_eq!(recs[0].hnum, 1);
        let pending = sqlite::wal_pending(&db).expect("wal reported");
        assert!(pending.to_string().contains("uncheckpointed"), "{pending}");
        let (m, issues) = pyvet::db::rpmdb::read_with_errors(&db, Kind::Sqlite).unwrap();
        assert!(m.packages.is_empty());
        assert!(issues.iter().any(|i| i.record.is_none()), "{issues:?}");
        assert_eq!(listing(&dir), before, "{name}: directory changed");
    }
}

#[test]
fn sqlite_read_of_a_corpus_copy_creates_nothing() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rpmdb.sqlite");
    std::fs::copy(
        corpus.join("rpmdb/sqlite/fedora36-tzdata/rpmdb.sqlite"),
        &db,
    )
    .unwrap();
    let before = listing(dir.path());
    assert_eq!(sqlite::blobs(&db).unwrap().len(), 1);
    assert_eq!(listing(dir.path()), before);
}

#[test]
fn fifo_named_like_a_database_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rpmdb.sqlite");
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    for kind in [Kind::Sqlite, Kind::Bdb, Kind::Ndb] {
        let e = pyvet::db::rpmdb::read_with_errors(&p, kind).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
