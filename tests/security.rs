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
    assert_eq!(f["evidence"]["verify"]["actual"]["type"], "char-device", "{f}");
}
