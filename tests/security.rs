//! Regression tests for what an attacker's reading of pyvet found (issue
//! 17): each pins one promise of the audit against a tree made hostile with
//! the real tools (`dpkg --root`, `mkfifo`, `mknod`).

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use common::dpkgroot::DpkgRoot;

const BISECT: &str = "/usr/lib/python3.11/bisect.py";

/// `mkfifo(3)`.
fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// An owned file replaced by a FIFO is reported as a type change, and
/// pyvet never opens it: a writer blocked in `open(O_WRONLY)` (which
/// returns only once a reader opens the FIFO) stays blocked throughout
/// the audit.
#[test]
fn an_owned_fifo_is_reported_and_never_opened() {
    let r = DpkgRoot::status_quo();
    let fifo = r.path(BISECT);
    std::fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo);
    let (tx, rx) = mpsc::channel();
    let writer_path = fifo.clone();
    std::thread::spawn(move || {
        let opened = OpenOptions::new().write(true).open(&writer_path).is_ok();
        let _ = tx.send(opened);
    });
    // The writer is blocked before the audit starts.
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    let report = common::audit::json(&r.root, &[]);
    let f = common::audit::finding(&report, "type-mismatch", BISECT);
    assert_eq!(f["evidence"]["verify"]["actual"]["type"], "fifo", "{f}");
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "pyvet opened the FIFO (the blocked writer was released)"
    );
    // Release the writer ourselves, so that the thread ends.
    let _reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
}

/// An owned file replaced by a character device (`/dev/zero`'s numbers,
/// which would never end if read) is a type change, and the audit ends.
#[test]
fn an_owned_char_device_is_reported_and_not_read() {
    let r = DpkgRoot::status_quo();
    let dev = r.path(BISECT);
    std::fs::remove_file(&dev).unwrap();
    let made = std::process::Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "5"])
        .status()
        .unwrap()
        .success();
    if !made {
        eprintln!("SKIPPED: mknod needs CAP_MKNOD (CI runs as root)");
        return;
    }
    let report = common::audit::json(&r.root, &[]);
    let f = common::audit::finding(&report, "type-mismatch", BISECT);
    assert_eq!(
        f["evidence"]["verify"]["actual"]["type"], "char-device",
        "{f}"
    );
}

/// `pyvet audit --root ROOT --format json`: exit code and stderr, within
/// a time limit (a FIFO read as a database must not hang the audit).
fn audit_status(root: &Path) -> (Option<i32>, String) {
    let out = assert_cmd::Command::cargo_bin("pyvet")
        .unwrap()
        .args(["audit", "--no-progress", "--format", "json", "--root"])
        .arg(root)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A database that is there but cannot be read safely is an input error
/// naming it (exit 2), never "no package database" and a pass.
fn assert_input_error(root: &Path, names: &str) {
    let (code, stderr) = audit_status(root);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(names),
        "stderr should name {names}: {stderr}"
    );
}

#[test]
fn a_dpkg_status_fifo_is_an_input_error() {
    let r = DpkgRoot::status_quo();
    let status = r.path("/var/lib/dpkg/status");
    std::fs::remove_file(&status).unwrap();
    mkfifo(&status);
    assert_input_error(&r.root, "var/lib/dpkg/status");
}

#[test]
fn a_dpkg_admin_dir_linked_out_of_the_root_is_an_input_error() {
    for target in [
        "/var/lib/dpkg",
        "../../../../../../var/lib/dpkg",
        "/nonexistent",
    ] {
        let r = DpkgRoot::status_quo();
        let admin = r.path("/var/lib/dpkg");
        std::fs::rename(&admin, r.path("/var/lib/dpkg.moved")).unwrap();
        std::os::unix::fs::symlink(target, &admin).unwrap();
        assert_input_error(&r.root, "/var/lib/dpkg");
    }
}

#[test]
fn an_rpmdb_fifo_is_an_input_error() {
    let r = common::rpmroot::RpmRoot::status_quo();
    let db = r.path("/var/lib/rpm/rpmdb.sqlite");
    assert!(
        db.is_file(),
        "rpm --dbpath /var/lib/rpm writes rpmdb.sqlite"
    );
    std::fs::remove_file(&db).unwrap();
    mkfifo(&db);
    assert_input_error(&r.root, "rpmdb.sqlite");
}

#[test]
fn an_apk_database_fifo_is_an_input_error() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("usr/lib/python3.11")).unwrap();
    std::fs::create_dir_all(d.path().join("lib/apk/db")).unwrap();
    mkfifo(&d.path().join("lib/apk/db/installed"));
    assert_input_error(d.path(), "lib/apk/db/installed");
}
