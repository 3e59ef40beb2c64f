//! Directory trees as manifests, compared entry by entry with GNU `find`
//! and `sha256sum` on a tree holding every awkward kind of entry.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use pyvet::db::dir;
use pyvet::manifest::{FileEntry, FileKind};

/// Long enough for a debug build on a busy machine, short next to "forever".
const NO_HANG: Duration = Duration::from_secs(60);
const NOBODY: u32 = 65534;

fn mknod(path: &Path, mode: u32, dev: u64) -> bool {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    unsafe { libc::mknod(c.as_ptr(), mode, dev as libc::dev_t) == 0 }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Files, dirs, symlinks in and out of the tree, a FIFO, maybe a device,
/// an unreadable file, an empty file, odd names and a hard link.
fn awkward_tree(root: &Path) {
    chmod(root, 0o755);
    let w = |rel: &str, data: &[u8]| std::fs::write(root.join(rel), data).unwrap();
    std::fs::create_dir_all(root.join("d/sub")).unwrap();
    w("a.txt", b"hello\n");
    w("empty", b"");
    w("exec", b"#!/bin/sh\n");
    chmod(&root.join("exec"), 0o4755);
    w("unreadable", b"secret\n");
    chmod(&root.join("unreadable"), 0o000);
    w("d/sub/deep.bin", &[0u8, 1, 2, 255]);
    chmod(&root.join("d/sub"), 0o750);
    std::fs::write(root.join(OsStr::from_bytes(b"bad\xffname")), b"x").unwrap();
    w("new\nline", b"y");
    std::fs::hard_link(root.join("a.txt"), root.join("hard")).unwrap();
    symlink("/etc/passwd", root.join("out")).unwrap();
    symlink("../..", root.join("d/up")).unwrap();
    symlink("nowhere", root.join("dangling")).unwrap();
    symlink("d", root.join("linkdir")).unwrap();
    assert!(mknod(&root.join("fifo"), libc::S_IFIFO | 0o644, 0));
    // A character device (1,3 = /dev/null) where the container allows it.
    if !mknod(
        &root.join("null"),
        libc::S_IFCHR | 0o666,
        libc::makedev(1, 3),
    ) {
        eprintln!("mknod of a device refused here: tree has no device node");
    }
}

/// `dir::read` on another thread, failing the test if it does not return.
fn read_without_hanging(root: &Path) -> Vec<FileEntry> {
    let (tx, rx) = mpsc::channel();
    let r = root.to_path_buf();
    std::thread::spawn(move || tx.send(dir::read(&r)).unwrap());
    let m = rx
        .recv_timeout(NO_HANG)
        .expect("dir::read hung (a FIFO opened?)")
        .unwrap();
    assert_eq!(m.packages.len(), 1);
    m.packages.into_iter().next().unwrap().files
}

/// What `find -printf` says about one entry.
#[derive(Debug)]
struct Found {
    perms: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    link: Vec<u8>,
    kind: u8,
}

fn find(root: &Path) -> BTreeMap<Vec<u8>, Found> {
    let out = Command::new("find")
        .arg(root)
        .args(["-printf", r"%P\0%m\0%U\0%G\0%s\0%T@\0%l\0%y\0"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let fields: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
    let text = |b: &[u8]| std::str::from_utf8(b).unwrap().to_owned();
    let mut map = BTreeMap::new();
    for f in fields.chunks_exact(8) {
        let mut path = b"/".to_vec();
        path.extend_from_slice(f[0]);
        let secs = text(f[5]);
        map.insert(
            path,
            Found {
                perms: u32::from_str_radix(&text(f[1]), 8).unwrap(),
                uid: text(f[2]).parse().unwrap(),
                gid: text(f[3]).parse().unwrap(),
                size: text(f[4]).parse().unwrap(),
                mtime: secs.split('.').next().unwrap().parse().unwrap(),
                link: f[6].to_vec(),
                kind: f[7][0],
            },
        );
    }
    map
}

/// `find -printf %y` letters to the file-type bits of `st_mode`.
fn type_bits(y: u8) -> u32 {
    match y {
        b'f' => 0o100000,
        b'd' => 0o040000,
        b'l' => 0o120000,
        b'p' => 0o010000,
        b'c' => 0o020000,
        b'b' => 0o060000,
        b's' => 0o140000,
        other => panic!("find type {}", other as char),
    }
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::fs::File::open(path).unwrap())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[test]
fn every_entry_matches_find_and_sha256sum() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    awkward_tree(root);
    let ours = read_without_hanging(root);
    let found = find(root);
    let ours_paths: Vec<&[u8]> = ours.iter().map(|f| f.path.as_os_str().as_bytes()).collect();
    let found_paths: Vec<&[u8]> = found.keys().map(Vec::as_slice).collect();
    let mut sorted = ours_paths.clone();
    sorted.sort();
    assert_eq!(sorted, found_paths, "same entries as find");
    assert!(
        !ours_paths.iter().any(|p| p.starts_with(b"/linkdir/")),
        "symlink followed"
    );

    let mut hashed = 0;
    for f in &ours {
        let want = &found[f.path.as_os_str().as_bytes()];
        let p = f.path.display();
        let mode = f.mode.unwrap();
        assert_eq!(mode & 0o7777, want.perms, "{p}");
        assert_eq!(mode & 0o170000, type_bits(want.kind), "{p}");
        assert_eq!(f.kind, FileKind::from_mode(mode), "{p}");
        assert_eq!((f.uid, f.gid), (Some(want.uid), Some(want.gid)), "{p}");
        assert_eq!(f.mtime, Some(want.mtime), "{p}");
        let link = (want.kind == b'l').then(|| PathBuf::from(OsStr::from_bytes(&want.link)));
        assert_eq!(f.link.as_deref(), link.as_deref(), "{p}");
        if want.kind == b'f' {
            assert_eq!(f.size, Some(want.size), "{p}");
            let host = root.join(f.path.strip_prefix("/").unwrap());
            assert_eq!(f.digest.as_ref().unwrap().hex(), sha256sum(&host), "{p}");
            hashed += 1;
        } else {
            assert_eq!((f.size, &f.digest), (None, &None), "{p}");
        }
    }
    // a.txt, empty, exec, unreadable (root reads it), deep.bin, bad\xffname, new\nline, hard
    assert_eq!(hashed, 8);
    let kinds = |k| ours.iter().filter(|f| f.kind == k).count();
    assert_eq!(kinds(FileKind::Symlink), 4);
    assert!(kinds(FileKind::Other) >= 1, "the FIFO");
}

#[test]
fn command_line_reads_the_tree_without_hanging() {
    let t = tempfile::tempdir().unwrap();
    awkward_tree(t.path());
    let out = assert_cmd::Command::cargo_bin("pyvet")
        .unwrap()
        .args(["manifest", "--db", "none", "--format", "json"])
        .arg(t.path())
        .timeout(NO_HANG)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = doc["packages"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), find(t.path()).len());
    assert_eq!(doc["packages"][0]["source"]["backend"], "directory");
}

/// As root every file is readable, so the unreadable case is run as
/// `nobody`: the read must fail, naming the file, instead of producing a
/// manifest with a silently missing digest.
#[test]
fn unreadable_file_is_an_error_naming_it() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    chmod(root, 0o755);
    std::fs::write(root.join("ok"), b"fine").unwrap();
    std::fs::write(root.join("secret"), b"no").unwrap();
    chmod(&root.join("secret"), 0o600);
    let is_root = unsafe { libc::geteuid() } == 0;
    if !is_root {
        let e = dir::read(root).unwrap_err().to_string();
        assert!(
            e.contains("secret") && e.contains("Permission denied"),
            "{e}"
        );
        return;
    }
    std::os::unix::fs::chown(root.join("secret"), Some(0), Some(0)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pyvet"))
        .args(["manifest", "--db", "none"])
        .arg(root)
        .uid(NOBODY)
        .gid(NOBODY)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("cannot run pyvet as nobody ({e}): unreadable-file check skipped");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let secret = root.join("secret");
    assert!(
        stderr.contains(&format!("{}: Permission denied", secret.display())),
        "{stderr}"
    );
}
