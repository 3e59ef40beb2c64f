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
    let mut rng = common::XorShift::new(0x1234_5678_9abc_def1);
    let mut next = move || rng.next_u64();
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
        // The checkpointed row and the one still in the WAL: a private copy
        // of both is opened, so SQLite applies the pending transaction.
        assert_eq!(recs.len(), 2, "{name}");
        assert_eq!((recs[0].hnum, recs[1].hnum), (1, 2));
        let (m, issues) = pyvet::db::rpmdb::read_with_errors(&db, Kind::Sqlite).unwrap();
        assert!(m.packages.is_empty());
        // Both blobs are too short to be headers: one issue per record.
        assert!(issues.iter().all(|i| i.record.is_some()), "{issues:?}");
        assert_eq!(issues.len(), 2, "{issues:?}");
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

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rpmdb")
        .join(rel)
}

/// Fixtures made by `tests/fixtures/rpmdb/make.sh`: rpm's own SQLite db and
/// the same header blobs stored by libdb in both byte orders.
const FIXTURE_DBS: [(&str, Kind); 3] = [
    ("sqlite/rpmdb.sqlite", Kind::Sqlite),
    ("bdb-le-512/Packages", Kind::Bdb),
    ("bdb-be-1024/Packages", Kind::Bdb),
];

#[test]
fn libdb_written_hashes_hold_rpms_blobs_in_both_byte_orders() {
    let rows: BTreeMap<i64, Vec<u8>> = sqlite::records(&fixture("sqlite/rpmdb.sqlite"))
        .unwrap()
        .into_iter()
        .map(|r| (r.hnum, r.blob.unwrap()))
        .collect();
    assert_eq!(rows.len(), 3);
    for rel in ["bdb-le-512/Packages", "bdb-be-1024/Packages"] {
        let recs = bdb::records(&std::fs::read(fixture(rel)).unwrap()).unwrap();
        let got: BTreeMap<i64, Vec<u8>> = recs
            .into_iter()
            .map(|r| (i64::from(r.key), r.blob.unwrap()))
            .collect();
        assert_eq!(got, rows, "{rel}");
    }
}

#[test]
fn fixture_order_and_nevras_equal_rpm_qa() {
    for (rel, kind) in FIXTURE_DBS {
        let path = fixture(rel);
        let ours: Vec<String> = blobs_of(&path, kind).iter().map(|b| nvra(b)).collect();
        assert_eq!(ours, rpm_qa(&path, kind, QF_NVRA), "{rel}");
    }
}

/// One package as `rpm -qa --qf` reports it (the fields of `--dump`, plus
/// NEVRA, install time, file flags and file states), tab-separated so that
/// paths with spaces survive. `LONGFILESIZES` falls back to `FILESIZES` in
/// rpm, so it covers headers with either tag.
#[derive(Debug, PartialEq)]
struct RpmView {
    nevra: (String, Option<u32>, String, Option<String>, Option<String>),
    install_time: Option<i64>,
    files: Vec<FileView>,
}

/// path, size, mtime, digest, mode, user, group, flags, link, state.
type FileView = (
    String,
    Option<u64>,
    Option<i64>,
    Option<String>,
    Option<u32>,
    Option<String>,
    Option<String>,
    u32,
    Option<String>,
    Option<u8>,
);

const QF_FULL: &str = concat!(
    "@\\t%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n",
    "[%{FILENAMES}\\t%{LONGFILESIZES}\\t%{FILEMTIMES}\\t%{FILEDIGESTS}\\t%{FILEMODES:octal}",
    "\\t%{FILEUSERNAME}\\t%{FILEGROUPNAME}\\t%{FILEFLAGS}\\t%{FILELINKTOS}\\t%{FILESTATES}\\n]"
);

fn none_if(s: &str, none: &str) -> Option<String> {
    (s != none).then(|| s.to_string())
}

fn rpm_view(db: &Path, kind: Kind) -> Vec<RpmView> {
    let mut out: Vec<RpmView> = Vec::new();
    for line in rpm_qa(db, kind, QF_FULL) {
        let c: Vec<&str> = line.split('\t').collect();
        if c[0] == "@" {
            out.push(RpmView {
                nevra: (
                    c[1].into(),
                    c[2].parse().ok(),
                    c[3].into(),
                    none_if(c[4], "(none)"),
                    none_if(c[5], "(none)"),
                ),
                install_time: c[6].parse().ok(),
                files: Vec::new(),
            });
            continue;
        }
        let flags = pyvet::manifest::FileFlags::from_rpm(c[7].parse().unwrap()).bits();
        out.last_mut().unwrap().files.push((
            c[0].into(),
            c[1].parse().ok(),
            c[2].parse().ok(),
            none_if(c[3], ""),
            u32::from_str_radix(c[4], 8).ok(),
            Some(c[5].into()),
            Some(c[6].into()),
            flags,
            none_if(c[8], ""),
            c[9].parse().ok(),
        ));
    }
    out
}

fn state_number(s: pyvet::manifest::FileState) -> u8 {
    use pyvet::manifest::FileState::*;
    match s {
        Normal => 0,
        Replaced => 1,
        NotInstalled => 2,
        NetShared => 3,
        WrongColor => 4,
    }
}

fn pyvet_view(db: &Path, kind: Kind) -> Vec<RpmView> {
    let (m, issues) = pyvet::db::rpmdb::read_with_errors(db, kind).unwrap();
    assert!(issues.is_empty(), "{}: {issues:?}", db.display());
    m.packages
        .iter()
        .map(|p| RpmView {
            nevra: (
                p.name.clone(),
                p.epoch,
                p.version.clone(),
                p.release.clone(),
                p.arch.clone(),
            ),
            install_time: p.install_time,
            files: p
                .files
                .iter()
                .map(|f| {
                    assert_eq!(
                        f.kind,
                        pyvet::manifest::FileKind::from_mode(f.mode.unwrap())
                    );
                    (
                        f.path.to_string_lossy().into_owned(),
                        f.size,
                        f.mtime,
                        f.digest.as_ref().map(|d| d.hex()),
                        f.mode,
                        f.user.as_deref().map(String::from),
                        f.group.as_deref().map(String::from),
                        f.flags.bits(),
                        f.link.as_ref().map(|l| l.to_string_lossy().into_owned()),
                        f.state.map(state_number),
                    )
                })
                .collect(),
        })
        .collect()
}

fn assert_same_as_rpm(db: &Path, kind: Kind) {
    let (ours, rpm) = (pyvet_view(db, kind), rpm_view(db, kind));
    assert_eq!(ours.len(), rpm.len(), "{}", db.display());
    for (o, r) in ours.iter().zip(&rpm) {
        assert_eq!(o.nevra, r.nevra, "{}", db.display());
        assert_eq!(o.install_time, r.install_time, "{:?}", o.nevra);
        assert_eq!(o.files.len(), r.files.len(), "{:?}", o.nevra);
        for (of, rf) in o.files.iter().zip(&r.files) {
            assert_eq!(of, rf, "{:?}", o.nevra);
        }
    }
}

#[test]
fn fixture_manifests_equal_rpm_field_by_field() {
    for (rel, kind) in FIXTURE_DBS {
        assert_same_as_rpm(&fixture(rel), kind);
    }
    // The --excludedocs install left its doc file "not installed" (state 2).
    let (m, _) =
        pyvet::db::rpmdb::read_with_errors(&fixture("sqlite/rpmdb.sqlite"), Kind::Sqlite).unwrap();
    let docs = m.packages.iter().find(|p| p.name == "pyvet-docs").unwrap();
    let states: Vec<_> = docs
        .files
        .iter()
        .map(|f| (f.path.to_str().unwrap(), f.state))
        .collect();
    use pyvet::manifest::FileState::{Normal, NotInstalled};
    assert_eq!(
        states,
        [
            ("/usr/share/doc/pyvet-docs/guide.txt", Some(NotInstalled)),
            ("/usr/share/pyvet-docs/data.txt", Some(Normal)),
        ]
    );
}

#[test]
fn corpus_manifests_equal_rpm_field_by_field() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for (rel, kind, _) in CORPUS_DBS.iter().filter(|d| d.1 != Kind::Ndb) {
        assert_same_as_rpm(&corpus.join(rel), *kind);
    }
}

/// Facts the upstream projects' own tests assert about these databases.
#[test]
fn corpus_manifests_match_upstream_facts() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let read = |rel: &str, kind| {
        let (m, issues) = pyvet::db::rpmdb::read_with_errors(&corpus.join(rel), kind).unwrap();
        assert!(issues.is_empty(), "{rel}: {issues:?}");
        m
    };
    let m = read("rpmdb/sqlite/cbl-mariner-2.0/rpmdb.sqlite", Kind::Sqlite);
    let curl = m.packages.iter().find(|p| p.name == "curl").unwrap();
    assert_eq!(curl.nevra(), "curl-7.76.0-6.cm2.x86_64");
    assert_eq!(curl.install_time, Some(1643279454));
    let paths: Vec<&str> = curl
        .files
        .iter()
        .map(|f| f.path.to_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/usr/bin/curl",
            "/usr/bin/curl-config",
            "/usr/share/licenses/curl",
            "/usr/share/licenses/curl/COPYING",
            "/usr/share/man/man1/curl-config.1.gz",
            "/usr/share/man/man1/curl.1.gz",
        ]
    );
    let m = read("rpmdb/bdb/rhel8-libuuid/Packages", Kind::Bdb);
    assert_eq!(m.packages.len(), 1);
    assert_eq!(m.packages[0].nevra(), "libuuid-2.32.1-42.el8_8.x86_64");
    assert_eq!(m.packages[0].files.len(), 7);
    let m = read("rpmdb/bdb/scalibr-epoch/Packages", Kind::Bdb);
    assert_eq!(m.packages[0].nevra(), "hello-1:0.0.1-rls.x86_64");
    assert_eq!(m.packages[0].epoch, Some(1));
    let m = read("rpmdb/ndb/sle15-bci/Packages.db", Kind::Ndb);
    let tsv = std::fs::read_to_string(
        corpus.join("expected/sle15-bci-Packages.db.go-rpmdb-expected.tsv"),
    )
    .unwrap();
    let rows: Vec<Vec<&str>> = tsv
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(m.packages.len(), rows.len());
    for (p, c) in m.packages.iter().zip(&rows) {
        assert_eq!(p.epoch, c[1].parse().ok(), "{}", p.name);
        assert_eq!(
            (
                p.name.as_str(),
                p.version.as_str(),
                p.release.as_deref(),
                p.arch.as_deref()
            ),
            (c[2], c[3], Some(c[4]), Some(c[5]))
        );
        assert_eq!(p.source.backend, pyvet::manifest::Backend::RpmdbNdb);
    }
}

#[test]
fn single_header_files_with_and_without_intro() {
    let rows = sqlite::blobs(&fixture("sqlite/rpmdb.sqlite")).unwrap();
    let (db, _) =
        pyvet::db::rpmdb::read_with_errors(&fixture("sqlite/rpmdb.sqlite"), Kind::Sqlite).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, blob) in rows.iter().enumerate() {
        let bare = dir.path().join(format!("bare{i}"));
        std::fs::write(&bare, blob).unwrap();
        let intro = dir.path().join(format!("intro{i}"));
        let mut with = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
        with.extend(blob);
        std::fs::write(&intro, &with).unwrap();
        for p in [&bare, &intro] {
            let m = pyvet::db::rpmdb::read_header_file(p).unwrap();
            let mut want = db.packages[i].clone();
            want.source = pyvet::manifest::Source {
                backend: pyvet::manifest::Backend::RpmHeader,
                file: p.clone(),
            };
            assert_eq!(m.packages, [want]);
        }
    }
}

#[test]
fn rpmdb_directory_is_found_by_content() {
    let (m, errors) = pyvet::db::read_rpmdb_dir(&fixture("bdb-be-1024")).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = m.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["pyvet-demo", "pyvet-lib", "pyvet-docs"]);
    assert!(m
        .packages
        .iter()
        .all(|p| p.source.backend == pyvet::manifest::Backend::RpmdbBdb));
}

/// The literal `rpm -qa --dump` lines (path size mtime digest mode owner
/// group isconfig isdoc rdev symlink) rebuilt from pyvet's manifest. The
/// fixture paths have no spaces, so the dump's space separation is unambiguous.
#[test]
fn fixture_files_equal_rpm_dump() {
    for (rel, kind) in FIXTURE_DBS {
        let path = fixture(rel);
        let (m, _) = pyvet::db::rpmdb::read_with_errors(&path, kind).unwrap();
        let ours: Vec<String> = m
            .packages
            .iter()
            .flat_map(|p| &p.files)
            .map(|f| {
                let flag = |x| u8::from(f.flags.contains(x));
                format!(
                    "{} {} {} {} 0{:o} {} {} {} {} 0 {}",
                    f.path.display(),
                    f.size.unwrap(),
                    f.mtime.unwrap(),
                    f.digest.as_ref().map_or("0".repeat(64), |d| d.hex()),
                    f.mode.unwrap(),
                    f.user.as_deref().unwrap(),
                    f.group.as_deref().unwrap(),
                    flag(pyvet::manifest::FileFlags::CONFIG),
                    flag(pyvet::manifest::FileFlags::DOC),
                    f.link
                        .as_ref()
                        .map_or("X".into(), |l| l.display().to_string()),
                )
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let name = path.file_name().unwrap();
        std::fs::copy(&path, dir.path().join(name)).unwrap();
        let backend = if kind == Kind::Sqlite {
            "sqlite"
        } else {
            "bdb_ro"
        };
        let out = common::run_stdout(Command::new("rpm").arg("--dbpath").arg(dir.path()).args([
            "--define",
            &format!("_db_backend {backend}"),
            "-qa",
            "--dump",
        ]));
        let rpm: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(ours, rpm, "{rel}");
    }
}

/// Builds the fixture packages with this machine's rpmbuild and registers
/// them with `rpm -i --justdb` in a scratch root: whatever the installed rpm
/// writes today, pyvet must read the way rpm does.
#[test]
fn live_justdb_install_reads_like_rpm() {
    let tmp = tempfile::tempdir().unwrap();
    let topdir = format!("_topdir {}", tmp.path().join("build").display());
    for spec in ["pyvet-demo", "pyvet-lib", "pyvet-docs"] {
        common::run_stdout(
            Command::new("rpmbuild")
                .args(["-bb", "--quiet", "--define", &topdir])
                .arg(fixture(&format!("specs/{spec}.spec"))),
        );
    }
    let rpms = common::files_with_suffix(&tmp.path().join("build/RPMS"), ".rpm");
    assert_eq!(rpms.len(), 3);
    let root = tmp.path().join("root");
    let rpm = |args: &[&str], files: &[PathBuf]| {
        common::run_stdout(
            Command::new("rpm")
                .arg("--root")
                .arg(&root)
                .args(["--dbpath", "/var/lib/rpm"])
                .args(args)
                .args(files),
        )
    };
    rpm(&["--initdb"], &[]);
    rpm(
        &["-i", "--justdb", "--nodeps", "--noscripts", "--ignoresize"],
        &rpms,
    );
    let db = root.join("var/lib/rpm/rpmdb.sqlite");
    assert_same_as_rpm(&db, Kind::Sqlite);
    let (m, _) = pyvet::db::rpmdb::read_with_errors(&db, Kind::Sqlite).unwrap();
    assert_eq!(m.packages.len(), 3);
}

/// The `.rpm` fixtures of the header parser's tests carry MD5, SHA-256 and
/// SHA-512 file digests; registered in an rpmdb, each reads like rpm says.
#[test]
fn installed_headers_with_each_digest_algorithm_read_like_rpm() {
    let rpm_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rpm");
    for (file, algo) in [
        ("pyvet-fixture-digest1.rpm", pyvet::digest::Algo::Md5),
        ("pyvet-fixture-digest8.rpm", pyvet::digest::Algo::Sha256),
        ("pyvet-fixture-digest10.rpm", pyvet::digest::Algo::Sha512),
    ] {
        let root = tempfile::tempdir().unwrap();
        let rpm = |args: &[&str]| {
            common::run_stdout(
                Command::new("rpm")
                    .arg("--root")
                    .arg(root.path())
                    .args(["--dbpath", "/var/lib/rpm", "--nosignature"])
                    .args(args)
                    .arg(rpm_dir.join(file)),
            )
        };
        common::run_stdout(Command::new("rpm").arg("--root").arg(root.path()).args([
            "--dbpath",
            "/var/lib/rpm",
            "--initdb",
        ]));
        rpm(&["-i", "--justdb", "--nodeps", "--noscripts", "--ignoresize"]);
        let db = root.path().join("var/lib/rpm/rpmdb.sqlite");
        assert_same_as_rpm(&db, Kind::Sqlite);
        let (m, _) = pyvet::db::rpmdb::read_with_errors(&db, Kind::Sqlite).unwrap();
        let digests: Vec<_> = m.packages[0]
            .files
            .iter()
            .filter_map(|f| f.digest.as_ref())
            .collect();
        assert!(!digests.is_empty(), "{file}");
        assert!(digests.iter().all(|d| d.algo == algo), "{file}");
    }
}
