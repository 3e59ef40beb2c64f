//! Issue 14: `pyvet size` on real stdlibs. Debian's `/usr/lib/python3.11`
//! holds relative symlinks (`_sysconfigdata__linux_x86_64-linux-gnu.py ->
//! _sysconfigdata__x86_64-linux-gnu.py`) that size used to open, and fail
//! on, with an error naming `/` plus the link and saying its cause twice.
//! A link is priced as the link it is in every layout, never followed; a
//! FIFO as its inode, never opened; and every error names its path once
//! and its cause once.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::rpmroot::compile;
use serde_json::Value;

const STDLIB: &str = "/usr/lib/python3.11";
const LINK: &str = "_sysconfigdata__linux_x86_64-linux-gnu.py";
const TARGET: &str = "_sysconfigdata__x86_64-linux-gnu.py";

fn pyvet(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("pyvet"))
        .args(args)
        .output()
        .unwrap()
}

/// `pyvet size --format json DIR`: (layout, bytes, blocks, files), which
/// must succeed.
fn sizes(dir: &Path) -> Vec<(String, u64, u64, u64)> {
    let out = pyvet(&[
        "size".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        dir.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "pyvet size {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    common::size_layouts(&doc)
}

/// `find DIR -mindepth 1 ! -type d`: how many entries, and their `lstat`
/// sizes summed.
fn find_non_dirs(dir: &Path) -> (u64, u64) {
    let out = common::run_stdout(Command::new("find").arg(dir).args([
        "-mindepth",
        "1",
        "!",
        "-type",
        "d",
        "-printf",
        "%s\\n",
    ]));
    let sizes: Vec<u64> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    (sizes.len() as u64, sizes.iter().sum())
}

#[test]
fn debians_stdlib_is_priced_links_included() {
    let stdlib = Path::new(STDLIB);
    if !stdlib.join(LINK).is_symlink() {
        eprintln!(
            "size.rs: SKIPPED: {} is not Debian's stdlib with its in-tree links",
            stdlib.display()
        );
        return;
    }
    let got = sizes(stdlib);
    // The status quo is the tree as it is: every entry but a directory, a
    // link by its own size, as find sees it.
    let (count, bytes) = find_non_dirs(stdlib);
    let (name, b, _, files) = &got[0];
    assert_eq!((name.as_str(), *b, *files), ("status-quo", bytes, count));
}

/// A small stdlib-like tree: real modules compiled at every level.
fn small_stdlib(root: &Path) -> PathBuf {
    let lib = root.join("lib/python3.11");
    std::fs::create_dir_all(&lib).unwrap();
    for m in [TARGET, "abc.py", "keyword.py"] {
        let real = Path::new(STDLIB).join(m);
        match std::fs::read(&real) {
            Ok(data) => std::fs::write(lib.join(m), data).unwrap(),
            Err(_) => std::fs::write(lib.join(m), format!("NAME = {m:?}\n")).unwrap(),
        }
    }
    compile(&lib, &[0, 1, 2]);
    lib
}

#[test]
fn an_in_tree_link_and_a_fifo_count_as_themselves_in_every_layout() {
    let d = tempfile::tempdir().unwrap();
    let lib = small_stdlib(d.path());
    let before = sizes(&lib);
    common::run_stdout(Command::new("ln").args(["-s", TARGET]).arg(lib.join(LINK)));
    common::run_stdout(Command::new("mkfifo").arg(lib.join("pipe.py")));
    let after = sizes(&lib);
    assert_eq!(before.len(), pyvet::layout::LAYOUTS.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.0, b.0);
        // The link: its target's length, one block as size counts them,
        // one file; the FIFO: one file of nothing.
        let delta = (a.1 - b.1, a.2 - b.2, a.3 - b.3);
        assert_eq!(delta, (TARGET.len() as u64, 1, 2), "layout {}", a.0);
    }
}

/// Says stderr names `path` once and `cause` once.
fn once(out: &Output, path: &str, cause: &str) {
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(path).count(), 1, "{path} in {err}");
    assert_eq!(err.matches(cause).count(), 1, "{cause} in {err}");
}

#[test]
fn errors_name_the_path_once_and_the_cause_once() {
    use std::ffi::OsStr;
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("missing");
    let (m, root) = (missing.as_os_str(), d.path().as_os_str());
    let enoent = "No such file or directory";
    let o = OsStr::new;
    for args in [
        vec![o("size"), m],
        vec![o("audit"), o("--root"), root, o("--baseline"), m],
        vec![o("audit"), o("--image"), m],
        vec![o("policy"), o("check"), m],
    ] {
        once(&pyvet(&args), missing.to_str().unwrap(), enoent);
    }

    // A source over the size limit, named by its full path (pyvet size
    // walked the directory as `/` and named `/big.py`).
    let lib = d.path().join("lib/python3.11");
    std::fs::create_dir_all(lib.join("__pycache__")).unwrap();
    let big = std::fs::File::create(lib.join("big.py")).unwrap();
    big.set_len(pyvet::limits::MAX_SOURCE_FILE + 1).unwrap();
    std::fs::write(lib.join("__pycache__/big.cpython-311.pyc"), b"").unwrap();
    let out = pyvet(&[o("size"), lib.as_os_str()]);
    once(
        &out,
        lib.join("big.py").to_str().unwrap(),
        "more than the limit",
    );
}

#[test]
fn a_python_2_tree_is_priced_as_it_is_and_said_to_be() {
    let d = tempfile::tempdir().unwrap();
    let lib = d.path().join("lib/python2.7");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("m.py"), "x = 1\n").unwrap();
    std::fs::write(lib.join("m.pyo"), b"\x03\xf3\r\n").unwrap();
    let out = pyvet(&["size".as_ref(), lib.as_os_str()]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "pyvet: warning: {}: Python 2 bytecode",
            lib.display()
        )),
        "{err}"
    );
    let all = sizes(&lib);
    assert!(all
        .iter()
        .all(|l| (l.1, l.2, l.3) == (all[0].1, all[0].2, all[0].3)));
}
