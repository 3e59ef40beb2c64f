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

/// An owned file replaced by a FIFO is reported as a type change, and
/// pyvet never opens it: a writer blocked in `open(O_WRONLY)` (which
/// returns only once a reader opens the FIFO) stays blocked throughout
/// the audit.
#[test]
fn an_owned_fifo_is_reported_and_never_opened() {
    let r = DpkgRoot::status_quo();
    let fifo = r.path(BISECT);
    std::fs::remove_file(&fifo).unwrap();
    common::mkfifo(&fifo);
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
    common::mkfifo(&status);
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
    common::mkfifo(&db);
    assert_input_error(&r.root, "rpmdb.sqlite");
}

#[test]
fn an_apk_database_fifo_is_an_input_error() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("usr/lib/python3.11")).unwrap();
    std::fs::create_dir_all(d.path().join("lib/apk/db")).unwrap();
    common::mkfifo(&d.path().join("lib/apk/db/installed"));
    assert_input_error(d.path(), "lib/apk/db/installed");
}

/// A `strictatime` tmpfs mounted for one test, unmounted when dropped.
struct StrictAtime {
    dir: tempfile::TempDir,
}

impl StrictAtime {
    fn mount() -> Option<StrictAtime> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "strictatime", "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(StrictAtime { dir })
    }
}

impl Drop for StrictAtime {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Every entry under `dir`, not following links (listing a directory
/// changes its atime here, so this runs before the atimes are set).
fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        if std::fs::symlink_metadata(&d).unwrap().is_dir() {
            for e in std::fs::read_dir(&d).unwrap() {
                todo.push(e.unwrap().path());
            }
        }
        out.push(d);
    }
    out.sort();
    out
}

/// The atime of each path (`lstat` reads no directory, so it changes none).
fn atimes(paths: &[std::path::PathBuf]) -> Vec<(i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    paths
        .iter()
        .map(|p| std::fs::symlink_metadata(p).unwrap())
        .map(|m| (m.atime(), m.atime_nsec()))
        .collect()
}

/// On a `strictatime` mount, where every read access updates an atime,
/// an audit changes no atime in the root: not of the audited trees, not of
/// the database's directories (`var/lib/dpkg/updates`, `info`), not of the
/// library directories searched for pip `RECORD`s.
#[test]
fn an_audit_changes_no_atime_on_a_strictatime_mount() {
    let Some(mnt) = StrictAtime::mount() else {
        eprintln!("SKIPPED: cannot mount a strictatime tmpfs here (CI runs as root)");
        return;
    };
    let r = DpkgRoot::status_quo();
    let root = mnt.dir.path().join("root");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(&r.root)
        .arg(&root)
        .status()
        .unwrap()
        .success();
    assert!(copied);
    let site = root.join("usr/local/lib/python3.11/site-packages/demo-1.0.dist-info");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("RECORD"), "demo-1.0.dist-info/RECORD,,\n").unwrap();
    // Old atimes, so that any access on this mount shows.
    let paths = entries(&root);
    let touched = std::process::Command::new("touch")
        .args(["-a", "-h", "-d", "2001-01-01"])
        .args(&paths)
        .status()
        .unwrap()
        .success();
    assert!(touched);
    let before = atimes(&paths);
    let (code, stderr) = audit_status(&root);
    assert!(matches!(code, Some(0 | 1)), "{stderr}");
    let after = atimes(&paths);
    let changed: Vec<_> = (0..paths.len())
        .filter(|&i| before[i] != after[i])
        .map(|i| paths[i].display().to_string())
        .collect();
    assert!(changed.is_empty(), "atimes changed: {changed:#?}");
}

/// A sourceless pyc padded past pyvet's read cap is still importable
/// (the unmarshaller stops at the end of the code object), so it keeps
/// its error rule: it is judged by its header, not dropped as unreadable.
#[test]
fn a_sourceless_pyc_padded_past_the_cap_is_still_an_error() {
    let r = DpkgRoot::status_quo();
    let dir = r.path("/usr/lib/python3.11");
    let scratch = tempfile::tempdir().unwrap();
    let src = scratch.path().join("evil.py");
    std::fs::write(&src, "print('evil ran')\n").unwrap();
    let pyc = dir.join("evil.pyc");
    let compiled = std::process::Command::new("python3.11")
        .args(["-c", "import py_compile,sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)"])
        .arg(&src)
        .arg(&pyc)
        .status()
        .unwrap()
        .success();
    assert!(compiled);
    let file = OpenOptions::new().write(true).open(&pyc).unwrap();
    file.set_len(70 << 20).unwrap();
    drop(file);
    // The premise: Python still runs it.
    let ran = std::process::Command::new("python3.11")
        .args([
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import evil",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "evil ran\n");
    let report = common::audit::json(&r.root, &[]);
    let f = common::audit::finding(
        &report,
        "sourceless-bytecode",
        "/usr/lib/python3.11/evil.pyc",
    );
    assert_eq!(f["severity"], "error", "{f}");
    let out = assert_cmd::Command::cargo_bin("pyvet")
        .unwrap()
        .args(["audit", "--no-progress", "--fail-on", "error", "--root"])
        .arg(&r.root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// A Python tree replaced by a symlink that does not lead to it inside the
/// root hides nothing: every file the package owns there is reported
/// `missing` (inside the root, the lookup loops or finds nothing), and the
/// audit fails. Where `/usr/lib` itself loops, the rpm and apk database
/// locations below it cannot be looked at either: that is an input error
/// (exit 2), beside the findings.
#[test]
fn a_python_tree_replaced_by_a_symlink_hides_no_owned_file() {
    let owned = |r: &DpkgRoot| -> Vec<String> {
        let out = std::process::Command::new("dpkg-query")
            .arg("--admindir")
            .arg(r.path("/var/lib/dpkg"))
            .args(["-L", common::dpkgroot::PACKAGE])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("/usr/lib/python3.11/") && l.ends_with(".py"))
            .map(str::to_string)
            .collect()
    };
    for (link, target, code) in [
        ("/usr/lib/python3.11", "/usr/lib/python3.11", 1),
        ("/usr/lib", "/usr/lib", 2),
        ("/usr/lib/python3.11", "../..", 1),
    ] {
        let r = DpkgRoot::status_quo();
        let files = owned(&r);
        assert!(files.len() >= 8, "{files:?}");
        let at = r.path(link);
        std::fs::rename(&at, r.path("/moved")).unwrap();
        std::os::unix::fs::symlink(target, &at).unwrap();
        let out = assert_cmd::Command::cargo_bin("pyvet")
            .unwrap()
            .args(["audit", "--no-progress", "--format", "json", "--root"])
            .arg(&r.root)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{link} -> {target}: {stderr}"
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for f in &files {
            common::audit::finding(&report, "missing", f);
        }
    }
}

/// `--format rpm` prints one line per finding whatever a name holds: a
/// pip RECORD row whose quoted name holds a newline, a CR and an ESC
/// cannot forge a verifier line (`S.5....T.  c /etc/fake_config`) or a
/// terminal escape.
#[test]
fn a_recorded_name_cannot_forge_rpm_format_lines() {
    let d = tempfile::tempdir().unwrap();
    let site = d.path().join("usr/local/lib/python3.11/site-packages");
    std::fs::create_dir_all(site.join("demo-1.0.dist-info")).unwrap();
    std::fs::write(
        site.join("demo-1.0.dist-info/RECORD"),
        "\"demo/x\nS.5....T.  c /etc/fake_config\r\x1b[2J\",sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n\
         demo-1.0.dist-info/RECORD,,\n",
    )
    .unwrap();
    let out = common::audit::output(d.path(), "rpm", &[]);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["missing     /usr/local/lib/python3.11/site-packages/demo/x\\nS.5....T.  c /etc/fake_config\\r\\u{1b}[2J"],
        "{text}"
    );
}

/// The text report doubles backslashes in paths: a file named with the
/// four characters `\xff` prints differently from one whose name holds
/// the byte 0xff (which prints as `\xff`).
#[test]
fn a_spelt_out_escape_does_not_pass_for_a_real_byte_in_text() {
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("usr/local/lib/python3.11");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("spelt\\xff.pyc"), "").unwrap();
    std::fs::write(tree.join(std::ffi::OsStr::from_bytes(b"byte\xff.pyc")), "").unwrap();
    let text = String::from_utf8(common::audit::output(d.path(), "text", &[])).unwrap();
    assert!(
        text.contains("/usr/local/lib/python3.11/spelt\\\\xff.pyc"),
        "{text}"
    );
    assert!(
        text.contains("/usr/local/lib/python3.11/byte\\xff.pyc"),
        "{text}"
    );
}

/// `renameat2(RENAME_EXCHANGE)`: swaps two names atomically.
fn exchange(a: &std::ffi::CStr, b: &std::ffi::CStr) -> bool {
    // SAFETY: both are NUL-terminated paths.
    unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        ) == 0
    }
}

/// A directory of the tree swapped, in a loop, with a symlink to a host
/// directory of the same shape never makes the audit list a host file:
/// every lookup is made beneath the root's descriptor, crossing no
/// symlink, so a swapped-in link fails the open instead of being followed.
/// Bounded: at most 30 audits or 40 seconds.
#[test]
fn a_directory_swapped_for_a_symlink_mid_walk_never_leaks_host_files() {
    use std::ffi::CString;
    use std::sync::atomic::{AtomicBool, Ordering};
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    let tree = root.join("usr/local/lib/python3.11");
    let host = d.path().join("host");
    for i in 0..200 {
        std::fs::create_dir_all(tree.join(format!("pkg/sub{i}"))).unwrap();
        std::fs::write(tree.join(format!("pkg/sub{i}/mod{i}.pyc")), "").unwrap();
        std::fs::create_dir_all(host.join(format!("sub{i}"))).unwrap();
        std::fs::write(host.join(format!("sub{i}/HOSTMARK{i}.pyc")), "").unwrap();
        std::fs::write(host.join(format!("HOSTMARK_top{i}.pyc")), "").unwrap();
    }
    std::os::unix::fs::symlink(&host, tree.join("swap")).unwrap();
    let a = CString::new(tree.join("pkg").into_os_string().into_encoded_bytes()).unwrap();
    let b = CString::new(tree.join("swap").into_os_string().into_encoded_bytes()).unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                swaps += u64::from(exchange(&a, &b));
            }
            swaps
        })
    };
    let started = std::time::Instant::now();
    let mut runs = 0;
    let mut leaked = Vec::new();
    let mut walked = 0;
    while runs < 30 && started.elapsed() < Duration::from_secs(40) {
        runs += 1;
        let out = assert_cmd::Command::cargo_bin("pyvet")
            .unwrap()
            .args([
                "audit",
                "--no-progress",
                "--format",
                "json",
                "--fail-on",
                "never",
                "--root",
            ])
            .arg(&root)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // The walk reports the tree's own (empty, sourceless) pycs when it
        // finds `pkg` a directory.
        walked += usize::from(text.contains("/mod"));
        if text.contains("HOSTMARK") {
            leaked.push(runs);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 100, "the swapper ran ({swaps} swaps)");
    assert!(walked > 0, "no run found pkg a directory");
    assert!(
        leaked.is_empty(),
        "host files listed in runs {leaked:?} of {runs}"
    );
}
