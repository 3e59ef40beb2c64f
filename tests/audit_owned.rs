//! Owned-file verification against the real verifiers: every scenario root
//! is built with rpmbuild and `rpm --root`, tampered with, and audited by
//! the real `pyvet` binary; the owned findings are asserted exactly, and
//! `pyvet audit --format rpm` must print the same lines as
//! `rpm --root R --dbpath /var/lib/rpm -V --nodeps --noscripts PACKAGE`.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::audit::{self, set};
use common::rpmroot::{self, RpmRoot};
use common::run_stdout;

/// The owned findings of `pyvet audit --format json`: (rule, path).
fn owned_findings(root: &Path) -> BTreeSet<(String, String)> {
    audit::owned(&audit::json(root, &[]))
        .iter()
        .map(audit::rule_path)
        .collect()
}

/// The full JSON of the one finding about `path`.
fn finding_for(root: &Path, path: &str) -> serde_json::Value {
    audit::owned(&audit::json(root, &[]))
        .into_iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no owned finding for {path}"))
}

fn pyvet_rpm_lines(root: &Path) -> BTreeSet<String> {
    String::from_utf8(audit::output(root, "rpm", &[]))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn rpm_verify(root: &Path, packages: &[&str]) -> BTreeSet<String> {
    let out = Command::new("rpm")
        .arg("--root")
        .arg(root)
        .args(["--dbpath", "/var/lib/rpm", "-V", "--nodeps", "--noscripts"])
        .args(packages)
        .output()
        .expect("rpm runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn lines(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Asserts the owned findings, and that pyvet's rpm lines are rpm's own.
fn assert_audit(r: &RpmRoot, findings: &[(&str, &str)], rpm_lines: &[&str]) {
    assert_eq!(owned_findings(&r.root), set(findings));
    let rpm = rpm_verify(&r.root, &[rpmroot::PACKAGE]);
    assert_eq!(rpm, lines(rpm_lines), "rpm -V itself");
    assert_eq!(
        pyvet_rpm_lines(&r.root),
        rpm,
        "pyvet --format rpm vs rpm -V"
    );
}

fn mtime_of(path: &Path) -> i64 {
    std::os::unix::fs::MetadataExt::mtime(&std::fs::symlink_metadata(path).unwrap())
}

/// `touch -d @SECS`: sets atime and mtime without changing content.
fn set_mtime(path: &Path, secs: i64) {
    run_stdout(
        Command::new("touch")
            .arg("-h")
            .arg("-d")
            .arg(format!("@{secs}"))
            .arg(path),
    );
}

const TOOL: &str = "/usr/lib/python3.11/json/tool.py";
const COLORSYS: &str = "/usr/lib/python3.11/colorsys.py";
const KEYWORD: &str = "/usr/lib/python3.11/keyword.py";
const BISECT: &str = "/usr/lib/python3.11/bisect.py";
const SCANNER: &str = "/usr/lib/python3.11/json/scanner.py";
const DECODER: &str = "/usr/lib/python3.11/json/decoder.py";

#[test]
fn untouched_root_has_no_owned_findings() {
    let r = RpmRoot::status_quo();
    assert_audit(&r, &[], &[]);
    let report = audit::json(&r.root, &[]);
    // Every file of the package was verified (sources, pycs, directories).
    let listed = run_stdout(Command::new("rpm").arg("--root").arg(&r.root).args([
        "--dbpath",
        "/var/lib/rpm",
        "-ql",
        rpmroot::PACKAGE,
    ]));
    let n = String::from_utf8(listed).unwrap().lines().count() as u64;
    assert_eq!(report["summary"]["files_checked"], n);
    assert!(report["summary"]["bytes_hashed"].as_u64().unwrap() > 0);
}

#[test]
fn edited_source() {
    let r = RpmRoot::status_quo();
    let p = r.path(TOOL);
    let mtime = mtime_of(&p);
    let mut text = std::fs::read(&p).unwrap();
    text.extend_from_slice(b"\nimport os; os.system('id')\n");
    std::fs::write(&p, text).unwrap();
    // The write may fall in the second rpm installed it: make it later.
    set_mtime(&p, mtime + 60);
    assert_audit(
        &r,
        &[("digest-mismatch", TOOL)],
        &["S.5....T.    /usr/lib/python3.11/json/tool.py"],
    );
    let f = finding_for(&r.root, TOOL);
    assert_eq!(f["package"]["name"], rpmroot::PACKAGE);
    assert_eq!(f["evidence"]["verify"]["result"], "S.5....T.");
    assert_eq!(
        f["evidence"]["verify"]["differs"],
        serde_json::json!(["size", "digest", "mtime"])
    );
    assert!(f["evidence"]["verify"]["expected"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(f["evidence"]["file"]["type"], "file");
}

#[test]
fn same_size_edit_keeping_the_mtime() {
    let r = RpmRoot::status_quo();
    let p = r.path(COLORSYS);
    let mtime = mtime_of(&p);
    let mut text = std::fs::read(&p).unwrap();
    let i = text.iter().position(|&b| b == b'e').unwrap();
    text[i] = b'E';
    std::fs::write(&p, text).unwrap();
    set_mtime(&p, mtime);
    assert_audit(
        &r,
        &[("digest-mismatch", COLORSYS)],
        &["..5......    /usr/lib/python3.11/colorsys.py"],
    );
}

#[test]
fn chmod() {
    let r = RpmRoot::status_quo();
    std::fs::set_permissions(r.path(COLORSYS), std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_audit(
        &r,
        &[("mode-mismatch", COLORSYS)],
        &[".M.......    /usr/lib/python3.11/colorsys.py"],
    );
    let f = finding_for(&r.root, COLORSYS);
    assert_eq!(f["evidence"]["verify"]["expected"]["mode"], "100644");
    assert_eq!(f["evidence"]["verify"]["actual"]["mode"], "100666");
}

#[test]
fn deleted_file() {
    let r = RpmRoot::status_quo();
    std::fs::remove_file(r.path(KEYWORD)).unwrap();
    assert_audit(
        &r,
        &[("missing", KEYWORD)],
        &["missing     /usr/lib/python3.11/keyword.py"],
    );
}

#[test]
fn file_replaced_by_a_symlink() {
    let r = RpmRoot::status_quo();
    let p = r.path(BISECT);
    std::fs::remove_file(&p).unwrap();
    symlink("colorsys.py", &p).unwrap();
    // rpm compares no mode for a symlink: only its target (none was
    // recorded, so `L`), owner, group and device. pyvet names the cause.
    assert_audit(
        &r,
        &[("type-mismatch", BISECT)],
        &["....L....    /usr/lib/python3.11/bisect.py"],
    );
    let f = finding_for(&r.root, BISECT);
    assert_eq!(f["evidence"]["verify"]["expected"]["type"], "file");
    assert_eq!(f["evidence"]["verify"]["actual"]["type"], "symlink");
}

#[test]
fn touched_source_mtime_only() {
    let r = RpmRoot::status_quo();
    let p = r.path(SCANNER);
    let mtime = mtime_of(&p);
    set_mtime(&p, mtime + 3600);
    assert_audit(
        &r,
        &[("mtime-mismatch", SCANNER)],
        &[".......T.    /usr/lib/python3.11/json/scanner.py"],
    );
    let f = finding_for(&r.root, SCANNER);
    assert_eq!(
        f["evidence"]["verify"]["actual"]["mtime"],
        (mtime + 3600).to_string()
    );
}

/// Appends a user and a group to the root's own etc/passwd and etc/group.
fn add_root_user(root: &Path, name: &str, id: u32) {
    std::fs::create_dir_all(root.join("etc")).unwrap();
    for (file, line) in [
        (
            "etc/passwd",
            format!("{name}:x:{id}:{id}::/nonexistent:/bin/false\n"),
        ),
        ("etc/group", format!("{name}:x:{id}:\n")),
    ] {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join(file))
            .unwrap();
        std::io::Write::write_all(&mut f, line.as_bytes()).unwrap();
    }
}

#[test]
fn chown_to_a_user_of_the_root() {
    let r = RpmRoot::status_quo();
    add_root_user(&r.root, "pyvetuser", 4321);
    std::os::unix::fs::chown(r.path(DECODER), Some(4321), Some(4321)).unwrap();
    assert_audit(
        &r,
        &[("owner-mismatch", DECODER)],
        &[".....UG..    /usr/lib/python3.11/json/decoder.py"],
    );
    let f = finding_for(&r.root, DECODER);
    assert_eq!(f["evidence"]["verify"]["expected"]["owner"], "root (0)");
    // The name comes from the root's etc/passwd (the host has no such user).
    assert_eq!(
        f["evidence"]["verify"]["actual"]["owner"],
        "pyvetuser (4321)"
    );
    assert_eq!(
        f["evidence"]["verify"]["actual"]["group"],
        "pyvetuser (4321)"
    );
}

/// A second package exercising what the stdlib subset does not: a
/// `%config` file, a `%config(missingok)` file, an owner named only in the
/// root's etc/passwd (`%attr`), file capabilities (`%caps`), a `%ghost`, a
/// `%verify(not ...)` file and a symlink. Its modules are real stdlib files.
struct Extras {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
}

const EXTRAS: &str = "pyvet-extras";
const X_DIR: &str = "/usr/lib/python3.11/pyvetextras";
const X_CONF: &str = "/etc/pyvet.conf";
const X_OPTIONAL: &str = "/etc/pyvet-optional.conf";
const X_OWNED: &str = "/usr/lib/python3.11/pyvetextras/owned.py";
const X_CAPPED: &str = "/usr/lib/python3.11/pyvetextras/capped.py";
const X_GHOST: &str = "/usr/lib/python3.11/pyvetextras/ghost.py";
const X_VOLATILE: &str = "/usr/lib/python3.11/pyvetextras/volatile.py";
const X_LINK: &str = "/usr/lib/python3.11/pyvetextras/link.py";

impl Extras {
    fn new() -> Extras {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        for (name, from) in [
            ("owned.py", "colorsys.py"),
            ("capped.py", "keyword.py"),
            ("volatile.py", "bisect.py"),
        ] {
            std::fs::copy(Path::new(rpmroot::STDLIB).join(from), src.join(name)).unwrap();
        }
        std::fs::write(src.join("pyvet.conf"), "[pyvet]\nlevel = strict\n").unwrap();
        std::fs::write(src.join("optional.conf"), "# optional\n").unwrap();
        let rpm = build_extras(dir.path(), &src);
        let root = dir.path().join("root");
        // The owner exists only in the root: rpm resolves it there.
        add_root_user(&root, "pyvetuser", 4321);
        rpmroot::install(&root, &rpm);
        Extras { _dir: dir, root }
    }

    fn path(&self, inside: &str) -> std::path::PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    fn assert_audit(&self, findings: &[(&str, &str)], rpm_lines: &[&str]) {
        assert_eq!(owned_findings(&self.root), set(findings));
        let rpm = rpm_verify(&self.root, &[EXTRAS]);
        assert_eq!(rpm, lines(rpm_lines), "rpm -V itself");
        assert_eq!(
            pyvet_rpm_lines(&self.root),
            rpm,
            "pyvet --format rpm vs rpm -V"
        );
    }
}

fn build_extras(work: &Path, src: &Path) -> std::path::PathBuf {
    let top = work.join("rpmbuild");
    let spec = work.join("extras.spec");
    let d = &X_DIR[1..];
    std::fs::write(
        &spec,
        format!(
            "Name: {EXTRAS}\nVersion: 2.0\nRelease: 1\nSummary: pyvet scenario\nLicense: PSF-2.0\nBuildArch: noarch\n\
             %description\nFile attributes for pyvet's owned-file tests.\n\
             %install\n\
             mkdir -p %{{buildroot}}/etc %{{buildroot}}/{d}\n\
             cp {s}/pyvet.conf {s}/optional.conf %{{buildroot}}/etc/\n\
             mv %{{buildroot}}/etc/optional.conf %{{buildroot}}{X_OPTIONAL}\n\
             cp {s}/owned.py {s}/capped.py {s}/volatile.py %{{buildroot}}/{d}/\n\
             ln -s owned.py %{{buildroot}}/{d}/link.py\n\
             %files\n\
             %config(noreplace) {X_CONF}\n\
             %config(missingok) {X_OPTIONAL}\n\
             %dir {X_DIR}\n\
             %attr(0640,pyvetuser,pyvetuser) {X_OWNED}\n\
             %caps(cap_net_raw=ep) {X_CAPPED}\n\
             %ghost {X_GHOST}\n\
             %verify(not md5 size mtime) {X_VOLATILE}\n\
             {X_LINK}\n",
            s = src.display()
        ),
    )
    .unwrap();
    rpmroot::rpmbuild(&top, &spec, &[]);
    let rpm = top.join(format!("RPMS/noarch/{EXTRAS}-2.0-1.noarch.rpm"));
    assert!(rpm.is_file());
    rpm
}

#[test]
fn extras_untouched_verify_clean_with_root_owner_and_caps() {
    let x = Extras::new();
    // rpm really applied the root's uid and the capability.
    let meta = std::fs::metadata(x.path(X_OWNED)).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 4321);
    assert!(!x.path(X_GHOST).exists());
    let caps = run_stdout(Command::new("getcap").arg(x.path(X_CAPPED)));
    assert!(String::from_utf8_lossy(&caps).contains("cap_net_raw=ep"));
    x.assert_audit(&[], &[]);
}

#[test]
fn extras_tampered() {
    let x = Extras::new();
    // %config edited: reported, marked `c`.
    let mtime = mtime_of(&x.path(X_CONF));
    std::fs::write(x.path(X_CONF), "[pyvet]\nlevel = lax\n").unwrap();
    set_mtime(&x.path(X_CONF), mtime + 60);
    // %config(missingok) removed, and the %ghost never existed: silent.
    std::fs::remove_file(x.path(X_OPTIONAL)).unwrap();
    // %verify(not md5 size mtime): content changes are not checked...
    std::fs::write(x.path(X_VOLATILE), "changed = True\n").unwrap();
    // ...but its mode still is.
    std::fs::set_permissions(x.path(X_VOLATILE), std::fs::Permissions::from_mode(0o600)).unwrap();
    // Capabilities dropped.
    run_stdout(Command::new("setcap").arg("-r").arg(x.path(X_CAPPED)));
    // Symlink retargeted.
    std::fs::remove_file(x.path(X_LINK)).unwrap();
    symlink("capped.py", x.path(X_LINK)).unwrap();
    // Owner changed to root (the package says pyvetuser).
    std::os::unix::fs::chown(x.path(X_OWNED), Some(0), None).unwrap();
    x.assert_audit(
        &[
            ("digest-mismatch", X_CONF),
            ("mode-mismatch", X_VOLATILE),
            ("caps-mismatch", X_CAPPED),
            ("link-mismatch", X_LINK),
            ("owner-mismatch", X_OWNED),
        ],
        &[
            "S.5....T.  c /etc/pyvet.conf",
            ".M.......    /usr/lib/python3.11/pyvetextras/volatile.py",
            "........P    /usr/lib/python3.11/pyvetextras/capped.py",
            "....L....    /usr/lib/python3.11/pyvetextras/link.py",
            ".....U...    /usr/lib/python3.11/pyvetextras/owned.py",
        ],
    );
    let f = finding_for(&x.root, X_CAPPED);
    assert_eq!(
        f["evidence"]["verify"]["expected"]["caps"],
        "cap_net_raw=ep"
    );
    assert_eq!(f["evidence"]["verify"]["actual"]["caps"], "none");
    let f = finding_for(&x.root, X_OWNED);
    assert_eq!(
        f["evidence"]["verify"]["expected"]["owner"],
        "pyvetuser (4321)"
    );
    assert_eq!(f["evidence"]["verify"]["actual"]["owner"], "root (0)");
}

/// Everything observable about one entry of a tree.
#[derive(Debug, PartialEq, Eq)]
struct Snap {
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: (i64, i64),
    atime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    /// SHA-256 of the content.
    content: Option<String>,
    link: Option<std::path::PathBuf>,
}

/// Every entry under `root` (symlinks not followed), read with O_NOATIME
/// so that taking the snapshot does not itself change access times.
fn snapshot(root: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Snap> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            let content = m.file_type().is_file().then(|| {
                let mut f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOATIME)
                    .open(e.path())
                    .unwrap();
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut f, &mut v).unwrap();
                pyvet::digest::Algo::Sha256.hash_bytes(&v).hex()
            });
            let snap = Snap {
                mode: m.mode(),
                uid: m.uid(),
                gid: m.gid(),
                size: m.size(),
                mtime: (m.mtime(), m.mtime_nsec()),
                // readlink(2) moves a symlink's atime and has no O_NOATIME:
                // the snapshot itself, like rpm -V, cannot avoid it.
                atime: if m.file_type().is_symlink() {
                    (0, 0)
                } else {
                    (m.atime(), m.atime_nsec())
                },
                ctime: (m.ctime(), m.ctime_nsec()),
                ino: m.ino(),
                content,
                link: m
                    .file_type()
                    .is_symlink()
                    .then(|| std::fs::read_link(e.path()).unwrap()),
            };
            (e.path().to_path_buf(), snap)
        })
        .collect()
}

/// A snapshot taken after a first listing of every directory: listing a
/// directory moves its atime once under relatime (neither walkdir nor a
/// directory read has O_NOATIME), as on any system whose trees were ever
/// listed. File atimes are not settled: reading a file must not move them.
fn settled_snapshot(root: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Snap> {
    snapshot(root);
    snapshot(root)
}

#[test]
fn audit_leaves_the_root_byte_and_metadata_identical() {
    let x = Extras::new();
    // Tampered, so that every code path (hashing mismatches, reading links,
    // caps, the root's passwd) runs.
    std::fs::write(x.path(X_CONF), "changed\n").unwrap();
    symlink(
        "owned.py",
        x.path("/usr/lib/python3.11/pyvetextras/extra-link.py"),
    )
    .unwrap();
    // Files' access times far in the past: under relatime any plain read
    // would now move them.
    for e in walkdir::WalkDir::new(&x.root) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            run_stdout(
                Command::new("touch")
                    .args(["-a", "-d", "@1000"])
                    .arg(e.path()),
            );
        }
    }
    let before = settled_snapshot(&x.root);
    assert!(before.contains_key(&x.path("/var/lib/rpm/rpmdb.sqlite")));
    for format in ["json", "rpm", "text", "sarif"] {
        audit::output(&x.root, format, &[]);
    }
    let after = snapshot(&x.root);
    let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert_eq!(added, Vec::<&std::path::PathBuf>::new(), "new files");
    for (path, snap) in &before {
        assert_eq!(Some(snap), after.get(path), "{} changed", path.display());
    }
}

/// Commits a copy of `from_db`'s package headers into `to_db` and dies
/// without closing, as a crashed rpm would: SQLite leaves the committed
/// transaction in `to_db-wal`, uncheckpointed.
fn commit_into_wal_and_crash(from_db: &Path, to_db: &Path) {
    let script = r#"
import os, sqlite3, sys
src = sqlite3.connect(sys.argv[1])
blobs = [r[0] for r in src.execute("SELECT blob FROM Packages ORDER BY hnum")]
src.close()
dst = sqlite3.connect(sys.argv[2], isolation_level=None)
assert dst.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
dst.execute("PRAGMA wal_autocheckpoint=0")
dst.execute("BEGIN")
for b in blobs:
    dst.execute("INSERT INTO Packages (blob) VALUES (?)", (b,))
dst.execute("COMMIT")
os._exit(0)
"#;
    run_stdout(
        Command::new(rpmroot::PYTHON)
            .args(["-c", script])
            .arg(from_db)
            .arg(to_db),
    );
}

#[test]
fn rpmdb_wal_pending_package_is_read_and_the_root_untouched() {
    let r = RpmRoot::status_quo();
    let x = Extras::new();
    let db = r.path("/var/lib/rpm/rpmdb.sqlite");
    commit_into_wal_and_crash(&x.path("/var/lib/rpm/rpmdb.sqlite"), &db);
    let wal = r.path("/var/lib/rpm/rpmdb.sqlite-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0, "no pending WAL");
    let before = settled_snapshot(&r.root);
    // The pending package is read: its files are verified (and missing,
    // since only its header was committed).
    let found = owned_findings(&r.root);
    assert_eq!(snapshot(&r.root), before, "the audit changed the root");
    let missing: BTreeSet<(String, String)> =
        [X_CONF, X_OWNED, X_CAPPED, X_VOLATILE, X_LINK, X_DIR]
            .iter()
            .map(|p| ("missing".to_string(), p.to_string()))
            .collect();
    assert_eq!(found, missing);
    // rpm, which applies the WAL itself, agrees (it may checkpoint: last).
    // The copied header is in Packages only, not in rpm's Name index, so
    // rpm finds it by walking every package (-a), not by name.
    assert_eq!(
        rpm_verify(&r.root, &["-a"]),
        lines(&[
            "missing   c /etc/pyvet.conf",
            "missing     /usr/lib/python3.11/pyvetextras",
            "missing     /usr/lib/python3.11/pyvetextras/capped.py",
            "missing     /usr/lib/python3.11/pyvetextras/link.py",
            "missing     /usr/lib/python3.11/pyvetextras/owned.py",
            "missing     /usr/lib/python3.11/pyvetextras/volatile.py",
        ])
    );
}
