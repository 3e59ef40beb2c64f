//! Issue 14: real trees never break pyvet. A directory nest thousands of
//! levels deep is legal on ext4 and tmpfs (deeper than PATH_MAX, reachable
//! only through directory descriptors) and used to overflow the audit's
//! stack: one `mkdir` loop blinded the auditor. Every walk now stops
//! `MAX_TREE_DEPTH` levels down and says where (the audit as a
//! `tree-too-deep` finding, the tools that must see a tree whole as an
//! error or refusal naming the directory), and what sits beside the nest
//! is still audited.
//!
//! Nests are built through directory descriptors (`mkdirat`/`openat`) and
//! removed with `rm -rf` before the temporary directory is dropped: Rust's
//! `remove_dir_all` (which `TempDir` uses) holds a descriptor per level.

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::audit::{finding, findings, s};
use common::rpmroot::PYTHON;
use pyvet::limits::MAX_TREE_DEPTH;
use serde_json::Value;

const TREE: &str = "usr/lib/python3.11";
/// The whole run of pyvet on a nest (debug build included).
const BUDGET: Duration = Duration::from_secs(60);

/// `parent/name/name/...`, `depth` directories, removed when dropped
/// (before the temporary directory holding it, which is declared first).
struct Nest {
    parent: PathBuf,
    name: String,
}

fn cstr(s: &[u8]) -> CString {
    CString::new(s).unwrap()
}

fn check(r: libc::c_int, what: &str) {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
}

impl Nest {
    fn build(parent: &Path, name: &str, depth: usize) -> Nest {
        let n = cstr(name.as_bytes());
        // SAFETY: valid C strings; every descriptor opened is closed.
        unsafe {
            let mut fd = libc::open(
                cstr(parent.as_os_str().as_bytes()).as_ptr(),
                libc::O_DIRECTORY | libc::O_RDONLY,
            );
            check(fd, "open parent");
            for _ in 0..depth {
                check(libc::mkdirat(fd, n.as_ptr(), 0o755), "mkdirat");
                let next = libc::openat(fd, n.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY);
                check(next, "openat");
                libc::close(fd);
                fd = next;
            }
            libc::close(fd);
        }
        Nest {
            parent: parent.to_path_buf(),
            name: name.to_string(),
        }
    }

    /// The host path `levels` directories down (1: the top).
    fn at(&self, levels: usize) -> PathBuf {
        let mut p = self.parent.clone();
        for _ in 0..levels {
            p.push(&self.name);
        }
        p
    }
}

impl Drop for Nest {
    /// `rm -rf`, which walks through descriptors too (Rust's
    /// `remove_dir_all` recurses, a descriptor a level).
    fn drop(&mut self) {
        let ok = Command::new("rm")
            .arg("-rf")
            .arg(self.at(1))
            .status()
            .is_ok_and(|s| s.success());
        if !std::thread::panicking() {
            assert!(
                ok && !self.at(1).exists(),
                "nest left at {}",
                self.at(1).display()
            );
        }
    }
}

/// A temporary root on tmpfs where there is one: ext4 takes ten times as
/// long to make and remove 100,000 directories (half a minute to remove).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    match tempfile::Builder::new()
        .prefix("pyvet-deep-")
        .tempdir_in(shm)
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("deep.rs: no tmpfs at {} ({e}): nests go to the default temporary directory, slowly", shm.display());
            tempfile::tempdir().unwrap()
        }
    }
}

/// A Python tree with one module and a sourceless `evil.pyc` (compiled by
/// the real interpreter, its source then removed) beside where the nest
/// goes.
fn python_tree(root: &Path) -> PathBuf {
    let tree = root.join(TREE);
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("os.py"), "sep = '/'\n").unwrap();
    std::fs::write(tree.join("evil.py"), "print('owned')\n").unwrap();
    let out = Command::new(PYTHON)
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .args([
            "-c",
            "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2])",
        ])
        .arg(tree.join("evil.py"))
        .arg(tree.join("evil.pyc"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(tree.join("evil.py")).unwrap();
    tree
}

/// Runs pyvet; it must end by itself (an exit code, not a signal) in time.
fn pyvet(args: &[&std::ffi::OsStr]) -> Output {
    let start = Instant::now();
    let out = Command::new(assert_cmd::cargo::cargo_bin("pyvet"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some(),
        "pyvet {args:?} was killed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        start.elapsed() < BUDGET,
        "pyvet {args:?} took {:?}",
        start.elapsed()
    );
    out
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// `pyvet audit --root ROOT --format json`: exit 1 (the finding is an
/// error), no input error, and the report.
fn audit(root: &Path) -> Value {
    let out = pyvet(&[
        os("audit"),
        os("--root"),
        root.as_os_str(),
        os("--format"),
        os("json"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.get("errors").is_none(), "{}", report["errors"]);
    report
}

/// The tree path `levels` directories of `name` below the Python tree.
fn inside(name: &str, levels: usize) -> String {
    format!("/{TREE}{}", format!("/{name}").repeat(levels))
}

#[test]
fn an_audit_stops_at_the_depth_bound_and_still_sees_what_is_beside_the_nest() {
    for depth in [3_000, 100_000] {
        let d = scratch();
        let tree = python_tree(d.path());
        let start = Instant::now();
        let _nest = Nest::build(&tree, "d", depth);
        eprintln!("{depth} levels built in {:?}", start.elapsed());
        let report = audit(d.path());
        let deep = finding(&report, "tree-too-deep", &inside("d", MAX_TREE_DEPTH));
        assert_eq!(deep["severity"], "error");
        assert_eq!(
            s(&deep["evidence"]["extra"]["depth-limit"]),
            MAX_TREE_DEPTH.to_string()
        );
        assert_eq!(deep["evidence"]["file"]["type"], "dir");
        // One finding for the nest, none below where the walk stopped.
        let nested: Vec<_> = findings(&report)
            .filter(|f| s(&f["path"]).starts_with(&inside("d", 1)))
            .map(|f| s(&f["rule"]))
            .collect();
        assert_eq!(nested, ["tree-too-deep"], "depth {depth}");
        finding(&report, "sourceless-bytecode", &format!("/{TREE}/evil.pyc"));
    }
}

#[test]
fn a_path_longer_than_path_max_is_a_finding_where_it_could_not_be_opened() {
    let d = scratch();
    let tree = python_tree(d.path());
    let name = "x".repeat(255);
    let nest = Nest::build(&tree, &name, 20);
    // The first directory whose host path the kernel refuses.
    let levels = (1..=20)
        .find(|&l| nest.at(l).as_os_str().len() >= libc::PATH_MAX as usize)
        .unwrap();
    let report = audit(d.path());
    let f = finding(&report, "tree-too-deep", &inside(&name, levels));
    assert!(s(&f["message"]).contains("PATH_MAX"), "{}", f["message"]);
    finding(&report, "sourceless-bytecode", &format!("/{TREE}/evil.pyc"));
}

/// What stderr says, with the path it must name once.
fn says_once(out: &Output, path: &str, cause: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(path).count(), 1, "{err}");
    assert_eq!(err.matches(cause).count(), 1, "{err}");
}

#[test]
fn size_markers_and_layout_apply_end_cleanly_on_a_nest() {
    let d = scratch();
    let tree = python_tree(d.path());
    let nest = Nest::build(&tree, "d", 100_000);
    let bound = nest.at(MAX_TREE_DEPTH);
    let bound = bound.to_str().unwrap();

    // pyvet size prices a whole tree or nothing: an error naming where.
    let out = pyvet(&[os("size"), tree.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    says_once(&out, &format!("{bound}:"), "as deep as pyvet walks");

    // pyvet markers reports it as the audit does.
    let out = pyvet(&[
        os("markers"),
        os("--root"),
        d.path().as_os_str(),
        os("--format"),
        os("json"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    finding(&report, "tree-too-deep", &inside("d", MAX_TREE_DEPTH));

    // pyvet layout apply refuses a tree it cannot judge whole, and
    // changes nothing.
    let out = pyvet(&[
        os("layout"),
        os("apply"),
        d.path().as_os_str(),
        os("--layout"),
        os("option1"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    says_once(
        &out,
        &format!("{}:", inside("d", MAX_TREE_DEPTH)),
        "as deep as pyvet walks",
    );
    assert!(tree.join("evil.pyc").exists() && tree.join("os.py").exists());
    assert!(!tree.join("__pycache__").exists(), "layout apply wrote");
}
