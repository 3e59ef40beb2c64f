//! Scenario tests of the bytecode, unowned and write-prediction checks, on
//! real roots: a stdlib subset packaged with rpmbuild and installed with
//! `rpm --root`, a sources-only package, modules imported by the real
//! interpreter, pycs made by `py_compile` of Python 3.11 and 3.12, and a
//! real wheel installed with `pip --root`. Every test runs `pyvet audit
//! --root R --format json` and asserts the exact set of (rule, path).
//!
//! Findings of the owned-file family (`rpm -V`'s view: a touched source is
//! also an mtime mismatch) belong to another check and are left out of the
//! sets compared here.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::audit::{finding, findings, json as audit, not_owned as found, s, set};
use common::rpmroot::{RpmRoot, PYTHON, STDLIB};
use common::run_stdout;

/// The other interpreter whose pycs are foreign in a 3.11 tree.
const PYTHON312: &str = "/root/.pyenv/versions/3.12.1/bin/python3.12";
/// The sources-only package of these scenarios.
const DEMO: &str = "pyvet-demo";
const DEMO_DIR: &str = "/usr/lib/python3.11/site-packages/pyvet_demo";
const DEMO_FILES: &[(&str, &str)] = &[
    (
        "/usr/lib/python3.11/site-packages/pyvet_demo/__init__.py",
        "\"\"\"A package for pyvet's scenarios.\"\"\"\n",
    ),
    (
        "/usr/lib/python3.11/site-packages/pyvet_demo/util.py",
        "def double(x):\n    return 2 * x\n",
    ),
    (
        "/usr/lib/python3.11/site-packages/pyvet_demo/other.py",
        "import json\n\nVALUE = json.dumps([1, 2])\n",
    ),
];

fn cache(dir: &str, module: &str) -> String {
    format!("{dir}/__pycache__/{module}.cpython-311.pyc")
}

/// Runs a Python snippet with an interpreter, bytecode writing allowed.
fn python(interpreter: &str, code: &str, args: &[&Path]) {
    run_stdout(
        Command::new(interpreter)
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .env_remove("PYTHONPYCACHEPREFIX")
            .args(["-c", code])
            .args(args),
    );
}

/// `py_compile.compile(src, cfile=dst, dfile=dfile or src)`.
fn py_compile(interpreter: &str, src: &Path, dst: &Path, dfile: Option<&str>) {
    py_compile_as(interpreter, src, dst, dfile, "TIMESTAMP");
}

/// `py_compile.compile` with a `PycInvalidationMode` (`TIMESTAMP`,
/// `CHECKED_HASH`, `UNCHECKED_HASH`).
fn py_compile_as(interpreter: &str, src: &Path, dst: &Path, dfile: Option<&str>, mode: &str) {
    let code = "import sys, py_compile\n\
                py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile=sys.argv[3] or None, doraise=True,\n\
                invalidation_mode=py_compile.PycInvalidationMode[sys.argv[4]])";
    let dfile = PathBuf::from(dfile.unwrap_or(""));
    python(interpreter, code, &[src, dst, &dfile, Path::new(mode)]);
}

/// The rule for a valid pyc a Python process wrote: root's, as these
/// scenarios run (CI runs as root), else the user's.
fn writer_rule(pyc: &Path) -> &'static str {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(pyc).unwrap().uid() {
        0 => "root-written-bytecode",
        _ => "user-written-bytecode",
    }
}

/// `--interpreter 3.11=PATH` for `--deep`: the python3.11 on PATH.
fn trusted_311() -> String {
    let out = run_stdout(Command::new("sh").args(["-c", "command -v python3.11"]));
    format!("3.11={}", String::from_utf8(out).unwrap().trim())
}

fn demo_root() -> RpmRoot {
    let r = RpmRoot::status_quo();
    r.install_sources_only(DEMO, DEMO_FILES);
    r
}

#[test]
fn untouched_root_has_no_findings() {
    let r = RpmRoot::status_quo();
    let report = audit(&r.root, &[]);
    assert_eq!(found(&report), set(&[]));
    assert_eq!(report["summary"]["python_trees"][0], STDLIB);
    // 8 sources, each compiled at levels 0, 1 and 2.
    assert_eq!(report["summary"]["pycs_judged"], 24);
    // Every optimisation level has its valid pyc: no write at -O or -OO either.
    let policy = r.root.parent().unwrap().join("all-levels.toml");
    std::fs::write(
        &policy,
        "name = \"all-levels\"\nbytecode = \"packaged\"\noptimization-levels = [0, 1, 2]\n",
    )
    .unwrap();
    let report = audit(&r.root, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(found(&report), set(&[]));
}

#[test]
fn a_touched_source_makes_its_pycs_stale_and_predicts_writes() {
    let r = RpmRoot::status_quo();
    // An explicit date: a plain `touch` in the second the root was built
    // would leave the mtime's seconds, and so the pyc, unchanged.
    run_stdout(
        Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(r.path("/usr/lib/python3.11/colorsys.py")),
    );
    let pyc = cache(STDLIB, "colorsys");
    let report = audit(&r.root, &[]);
    assert_eq!(found(&report), set(&[("bytecode-write-attempt", &pyc)]));
    let f = finding(&report, "bytecode-write-attempt", &pyc);
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["package"]["name"], "pyvet-stdlib-subset");
    let b = &f["evidence"]["bytecode"];
    assert_eq!(b["verdict"], "stale");
    assert_eq!(b["python"], "3.11");
    assert_eq!(b["source"], "/usr/lib/python3.11/colorsys.py");
    assert_eq!(b["source_package"], "pyvet-stdlib-subset");
    // At every level a policy says interpreters run at.
    let policy = r.root.parent().unwrap().join("all-levels.toml");
    std::fs::write(
        &policy,
        "name = \"all-levels\"\nbytecode = \"packaged\"\noptimization-levels = [0, 1, 2]\n",
    )
    .unwrap();
    let report = audit(&r.root, &["--policy", policy.to_str().unwrap()]);
    let dir = format!("{STDLIB}/__pycache__");
    assert_eq!(
        found(&report),
        set(&[
            ("bytecode-write-attempt", &pyc),
            (
                "bytecode-write-attempt",
                &format!("{dir}/colorsys.cpython-311.opt-1.pyc")
            ),
            (
                "bytecode-write-attempt",
                &format!("{dir}/colorsys.cpython-311.opt-2.pyc")
            ),
        ])
    );
}

#[test]
fn python_run_as_root_writes_exactly_the_pycs_predicted() {
    let r = demo_root();
    let before = audit(&r.root, &[]);
    let predicted = ["__init__", "util", "other"].map(|m| cache(DEMO_DIR, m));
    assert_eq!(
        found(&before),
        predicted
            .iter()
            .map(|p| ("bytecode-write-attempt".to_string(), p.clone()))
            .collect()
    );
    let b = &finding(&before, "bytecode-write-attempt", &predicted[1])["evidence"]["bytecode"];
    assert_eq!(b["verdict"], "missing");
    assert_eq!(b["source_package"], DEMO);

    // The real interpreter, as root, imports two of the three modules.
    let site = r.path("/usr/lib/python3.11/site-packages");
    python(
        PYTHON,
        "import sys; sys.path.insert(0, sys.argv[1]); import pyvet_demo.util",
        &[&site],
    );
    let written: BTreeSet<String> = std::fs::read_dir(r.path(&format!("{DEMO_DIR}/__pycache__")))
        .unwrap()
        .map(|e| {
            format!(
                "{DEMO_DIR}/__pycache__/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    assert_eq!(written, predicted[..2].iter().cloned().collect());

    let after = audit(&r.root, &[]);
    let mut expected: BTreeSet<(String, String)> = written
        .iter()
        .map(|p| (writer_rule(&r.path(p)).to_string(), p.clone()))
        .collect();
    expected.insert(("bytecode-write-attempt".into(), predicted[2].clone()));
    assert_eq!(found(&after), expected);
    let f = finding(&after, writer_rule(&r.path(&predicted[1])), &predicted[1]);
    assert_eq!(f["severity"], "warning");
    let uid = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(r.path(&predicted[1])).unwrap().uid()
    };
    assert_eq!(f["evidence"]["file"]["uid"], uid);
    let b = &f["evidence"]["bytecode"];
    assert_eq!(b["verdict"], "valid");
    assert_eq!(b["source"], format!("{DEMO_DIR}/util.py"));
    assert_eq!(b["source_package"], DEMO);
    assert!(
        b["after_install_secs"].as_i64().unwrap() >= 0,
        "written after the install: {b}"
    );
    // What Python wrote is the compilation of the source: --deep agrees.
    let deep = audit(&r.root, &["--deep", "--interpreter", &trusted_311()]);
    assert_eq!(found(&deep), expected);
    let b =
        &finding(&deep, writer_rule(&r.path(&predicted[1])), &predicted[1])["evidence"]["bytecode"];
    assert_eq!(b["verdict"], "valid");
    assert!(
        s(&b["reason"]).contains("code equals the compilation of the source"),
        "{b}"
    );
}

#[test]
fn tampering_is_reported_by_rule() {
    let r = RpmRoot::status_quo();
    let mut files = DEMO_FILES.to_vec();
    let extra: Vec<(String, &str)> = ["stale", "checked", "unchecked"]
        .iter()
        .map(|m| (format!("{DEMO_DIR}/{m}.py"), "X = 1\n"))
        .collect();
    files.extend(extra.iter().map(|(p, c)| (p.as_str(), *c)));
    r.install_sources_only(DEMO, &files);
    let scratch = tempfile::tempdir().unwrap();
    // A real module compiled by py_compile, moved to the legacy location.
    let evil = scratch.path().join("evil.py");
    std::fs::write(&evil, "import os\nos.environ['PWNED'] = '1'\n").unwrap();
    let evil_pyc = scratch.path().join("evil.pyc");
    py_compile(PYTHON, &evil, &evil_pyc, None);
    std::fs::rename(&evil_pyc, r.path("/usr/lib/python3.11/evil.pyc"))
        .or_else(|_| std::fs::copy(&evil_pyc, r.path("/usr/lib/python3.11/evil.pyc")).map(|_| ()))
        .unwrap();
    // A packaged pyc copied beside its source, and one whose source is gone.
    let keyword_pyc = r.path(&cache(STDLIB, "keyword"));
    std::fs::copy(&keyword_pyc, r.path("/usr/lib/python3.11/keyword.pyc")).unwrap();
    std::fs::copy(&keyword_pyc, r.path(&cache(STDLIB, "gone"))).unwrap();
    // Python 3.12's pyc under a 3.11 name.
    let demo = |m: &str| r.path(&format!("{DEMO_DIR}/{m}"));
    std::fs::create_dir(demo("__pycache__")).unwrap();
    py_compile(
        PYTHON312,
        &demo("util.py"),
        &r.path(&cache(DEMO_DIR, "util")),
        None,
    );
    // A pyc whose source changed since: timestamp, then checked hash.
    let compile_demo = |m: &str, mode: &str| {
        py_compile_as(
            PYTHON,
            &demo(&format!("{m}.py")),
            &r.path(&cache(DEMO_DIR, m)),
            None,
            mode,
        )
    };
    compile_demo("stale", "TIMESTAMP");
    run_stdout(
        Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(demo("stale.py")),
    );
    compile_demo("checked", "CHECKED_HASH");
    std::fs::write(demo("checked.py"), "X = 2\n").unwrap();
    // Used without any check against its source.
    compile_demo("unchecked", "UNCHECKED_HASH");
    // A real pyc cut short inside its header.
    let init_pyc = r.path(&cache(DEMO_DIR, "__init__"));
    compile_demo("__init__", "TIMESTAMP");
    let whole = std::fs::read(&init_pyc).unwrap();
    std::fs::write(&init_pyc, &whole[..10]).unwrap();
    // A valid pyc compiled for another path.
    py_compile(
        PYTHON,
        &demo("other.py"),
        &r.path(&cache(DEMO_DIR, "other")),
        Some("/build/pyvet_demo/other.py"),
    );
    // Unowned files of every kind.
    std::fs::write(
        r.path("/usr/lib/python3.11/site-packages/zz-evil.pth"),
        "import os; os.environ['PWNED'] = '1'\n",
    )
    .unwrap();
    std::fs::write(r.path("/usr/lib/python3.11/json/evil.py"), "x = 1\n").unwrap();
    std::fs::write(r.path("/usr/lib/python3.11/json/NOTES.txt"), "notes\n").unwrap();
    run_stdout(Command::new("mkfifo").arg(r.path("/usr/lib/python3.11/json/pipe")));
    // A package behind a link: the walk never descends into it.
    std::fs::create_dir_all(r.path("/srv/evilpkg")).unwrap();
    std::fs::write(r.path("/srv/evilpkg/__init__.py"), "x = 1\n").unwrap();
    std::os::unix::fs::symlink(
        "/srv/evilpkg",
        r.path("/usr/lib/python3.11/site-packages/evilpkg"),
    )
    .unwrap();

    let report = audit(&r.root, &[]);
    let util = cache(DEMO_DIR, "util");
    let other = cache(DEMO_DIR, "other");
    let init = cache(DEMO_DIR, "__init__");
    let gone = cache(STDLIB, "gone");
    assert_eq!(
        found(&report),
        set(&[
            ("sourceless-bytecode", "/usr/lib/python3.11/evil.pyc"),
            ("shadowed-bytecode", "/usr/lib/python3.11/keyword.pyc"),
            ("orphan-bytecode", &gone),
            ("foreign-bytecode", &util),
            ("bytecode-write-attempt", &util),
            ("misplaced-bytecode", &other),
            ("corrupt-bytecode", &init),
            ("bytecode-write-attempt", &init),
            ("stale-bytecode", &cache(DEMO_DIR, "stale")),
            ("bytecode-write-attempt", &cache(DEMO_DIR, "stale")),
            ("hash-mismatch-bytecode", &cache(DEMO_DIR, "checked")),
            ("bytecode-write-attempt", &cache(DEMO_DIR, "checked")),
            ("unchecked-hash-bytecode", &cache(DEMO_DIR, "unchecked")),
            (
                "unowned-pth",
                "/usr/lib/python3.11/site-packages/zz-evil.pth"
            ),
            ("unowned-module", "/usr/lib/python3.11/json/evil.py"),
            (
                "unowned-module",
                "/usr/lib/python3.11/site-packages/evilpkg",
            ),
            ("unowned-file", "/usr/lib/python3.11/json/NOTES.txt"),
            ("special-file", "/usr/lib/python3.11/json/pipe"),
        ])
    );
    let sev = |rule, path| s(&finding(&report, rule, path)["severity"]);
    assert_eq!(
        sev("sourceless-bytecode", "/usr/lib/python3.11/evil.pyc"),
        "error"
    );
    assert_eq!(
        sev("unowned-module", "/usr/lib/python3.11/json/evil.py"),
        "error"
    );
    assert_eq!(sev("misplaced-bytecode", &other), "error");
    let foreign = &finding(&report, "foreign-bytecode", &util)["evidence"]["bytecode"];
    assert_eq!(foreign["python"], "3.12");
    let moved = &finding(&report, "misplaced-bytecode", &other)["evidence"]["bytecode"];
    assert_eq!(moved["co_filename"], "/build/pyvet_demo/other.py");
    assert_eq!(moved["source_package"], DEMO);
    let pth = finding(
        &report,
        "unowned-pth",
        "/usr/lib/python3.11/site-packages/zz-evil.pth",
    );
    assert_eq!(
        pth["evidence"]["extra"]["imports"],
        "import os; os.environ['PWNED'] = '1'"
    );
    let fifo = finding(&report, "special-file", "/usr/lib/python3.11/json/pipe");
    assert_eq!(fifo["evidence"]["file"]["type"], "fifo");
}

#[test]
fn deep_catches_a_pyc_that_kept_its_header() {
    let r = RpmRoot::status_quo();
    let report = audit(&r.root, &["--deep"]);
    assert_eq!(
        found(&report),
        set(&[]),
        "packaged pycs are their sources' compilations"
    );
    // Another module's code behind colorsys's packaged header.
    let scratch = tempfile::tempdir().unwrap();
    let evil = scratch.path().join("colorsys.py");
    std::fs::write(&evil, "import os\nos.environ['PWNED'] = '1'\n").unwrap();
    let evil_pyc = scratch.path().join("evil.pyc");
    py_compile(
        PYTHON,
        &evil,
        &evil_pyc,
        Some("/usr/lib/python3.11/colorsys.py"),
    );
    let pyc = cache(STDLIB, "colorsys");
    let packaged = std::fs::read(r.path(&pyc)).unwrap();
    let mut tampered = packaged[..16].to_vec();
    tampered.extend_from_slice(&std::fs::read(&evil_pyc).unwrap()[16..]);
    std::fs::write(r.path(&pyc), tampered).unwrap();
    assert_eq!(
        found(&audit(&r.root, &[])),
        set(&[]),
        "the header still matches"
    );
    let report = audit(&r.root, &["--deep", "--interpreter", &trusted_311()]);
    assert_eq!(found(&report), set(&[("diverging-bytecode", &pyc)]));
    assert_eq!(
        finding(&report, "diverging-bytecode", &pyc)["severity"],
        "error"
    );
}

/// `pip install --root R --prefix /usr/local --no-deps --no-index` of the
/// committed six wheel (tests/fixtures/wheel/make.sh).
fn pip_install(root: &Path, extra: &[&str]) {
    let wheel = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wheel/six-1.16.0-py2.py3-none-any.whl");
    run_stdout(
        Command::new(PYTHON)
            .args(["-m", "pip", "install", "--root"])
            .arg(root)
            .args([
                "--prefix",
                "/usr/local",
                "--no-deps",
                "--no-index",
                "--disable-pip-version-check",
            ])
            .args(extra)
            .arg(&wheel),
    );
}

const PIP_SITE: &str = "/usr/local/lib/python3.11/site-packages";

#[test]
fn pip_wheel_files_are_owned_by_their_record() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    pip_install(&root, &[]);
    let site = PIP_SITE;
    assert!(root.join(&site[1..]).join("six.py").is_file());
    let report = audit(&root, &[]);
    assert_eq!(found(&report), set(&[]));
    assert_eq!(report["summary"]["pycs_judged"], 1);
    std::fs::write(root.join(&site[1..]).join("evil.py"), "x = 1\n").unwrap();
    let report = audit(&root, &[]);
    let evil = format!("{site}/evil.py");
    assert_eq!(found(&report), set(&[("unowned-module", &evil)]));
    assert_eq!(
        finding(&report, "unowned-module", &evil)["severity"],
        "warning"
    );
}

/// Installed without pycs, then imported as root: pip's files are not the
/// distribution's, so even under Debian's policy the pyc is root's write.
#[test]
fn pip_sources_imported_as_root_are_root_written_even_on_debian() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    pip_install(&root, &["--no-compile"]);
    let pyc = cache(PIP_SITE, "six");
    for policy in ["generic", "debian"] {
        let report = audit(&root, &["--policy", policy]);
        assert_eq!(found(&report), set(&[("bytecode-write-attempt", &pyc)]));
    }
    python(
        PYTHON,
        "import sys; sys.path.insert(0, sys.argv[1]); import six",
        &[&root.join(&PIP_SITE[1..])],
    );
    assert!(root.join(&pyc[1..]).is_file());
    for policy in ["generic", "debian"] {
        let report = audit(&root, &["--policy", policy]);
        let writer = writer_rule(&root.join(&pyc[1..]));
        assert_eq!(found(&report), set(&[(writer, &pyc)]));
        let b = &finding(&report, writer, &pyc)["evidence"]["bytecode"];
        assert_eq!(b["source_package"], "six");
    }
}

/// This machine's own stdlib: Debian's py3compile pycs are what the
/// distribution generates, never an error.
#[test]
fn host_stdlib_has_no_error_findings() {
    if !Path::new(STDLIB).is_dir() {
        eprintln!("HOST STDLIB {STDLIB} MISSING: host audit test skipped");
        return;
    }
    let report = audit(Path::new("/"), &[]);
    let errors: Vec<String> = findings(&report)
        .filter(|f| f["severity"] == "error" && s(&f["path"]).starts_with(&format!("{STDLIB}/")))
        .map(|f| format!("{} {}: {}", f["rule"], f["path"], f["message"]))
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    if report["policy"] == "debian" {
        let generated = findings(&report)
            .filter(|f| f["rule"] == "generated-bytecode" && s(&f["path"]).starts_with(STDLIB))
            .count();
        assert!(generated > 0, "Debian's stdlib pycs are generated-bytecode");
    }
}

#[test]
fn a_packaged_dont_write_marker_stops_the_prediction() {
    let r = RpmRoot::status_quo();
    let mut files = DEMO_FILES.to_vec();
    let marker = format!("{DEMO_DIR}/__pycache__/__dont_write_bytecode__");
    files.push((&marker, ""));
    r.install_sources_only(DEMO, &files);
    assert!(r.path(&marker).is_file());
    assert_eq!(found(&audit(&r.root, &[])), set(&[]));
}

/// The Debian layout, through the library: a synthetic dpkg manifest over
/// a temporary root whose pycs the real interpreter compiled, as
/// py3compile does (opt-0, the interpreter's own tag, installed paths).
#[test]
fn debian_generated_bytecode_and_what_stays_reported() {
    use pyvet::audit::{self, Context, Options};
    use pyvet::manifest::{Backend, FileEntry, FileKind, Manifest, Package, Source};
    use pyvet::tree::FsTree;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let dist = "/usr/lib/python3/dist-packages";
    let inside = |p: &str| root.join(p.trim_start_matches('/'));
    let write = |p: &str, text: &str| {
        std::fs::create_dir_all(inside(p).parent().unwrap()).unwrap();
        std::fs::write(inside(p), text).unwrap();
    };
    write("/usr/lib/python3.11/os.py", "import sys\n");
    write(&format!("{dist}/foo.py"), "def f():\n    assert f\n");
    write(&format!("{dist}/bar.py"), "X = 1\n");
    // Debian's sitecustomize.py is a link into /etc; imports follow it.
    write("/etc/python3.11/sitecustomize.py", "");
    std::os::unix::fs::symlink(
        "/etc/python3.11/sitecustomize.py",
        inside("/usr/lib/python3.11/sitecustomize.py"),
    )
    .unwrap();
    let compile = |src: &str, pyc: &str, opt: u8| {
        std::fs::create_dir_all(inside(pyc).parent().unwrap()).unwrap();
        let code = "import sys, py_compile\n\
                    py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile=sys.argv[3], optimize=int(sys.argv[4]), doraise=True)";
        let opt = PathBuf::from(opt.to_string());
        python(
            PYTHON,
            code,
            &[&inside(src), &inside(pyc), Path::new(src), &opt],
        );
    };
    let os_pyc = cache(STDLIB, "os");
    let foo_pyc = cache(dist, "foo");
    let foo_opt1 = format!("{dist}/__pycache__/foo.cpython-311.opt-1.pyc");
    compile("/usr/lib/python3.11/os.py", &os_pyc, 0);
    compile(&format!("{dist}/foo.py"), &foo_pyc, 0);
    compile(&format!("{dist}/foo.py"), &foo_opt1, 1);
    // Python 3.12's, in a tree only 3.11 (the root's interpreter) reads.
    let foo_312 = format!("{dist}/__pycache__/foo.cpython-312.pyc");
    py_compile(
        PYTHON312,
        &inside(&format!("{dist}/foo.py")),
        &inside(&foo_312),
        None,
    );
    let package = |name: &str, files: &[&str]| Package {
        name: name.into(),
        epoch: None,
        version: "1".into(),
        release: None,
        arch: None,
        source: Source {
            backend: Backend::Dpkg,
            file: "/var/lib/dpkg/status".into(),
        },
        install_time: None,
        files: files
            .iter()
            .map(|f| FileEntry::new(*f, FileKind::File))
            .collect(),
    };
    let manifest = Manifest {
        packages: vec![
            package(
                "libpython3.11-stdlib",
                &[
                    "/usr/lib/python3.11/os.py",
                    "/usr/lib/python3.11/sitecustomize.py",
                ],
            ),
            package(
                "python3-foo",
                &[&format!("{dist}/foo.py"), &format!("{dist}/bar.py")],
            ),
        ],
    };
    let tree = FsTree::new(root);
    let options = Options::default();
    let run = |policy: &str| -> BTreeSet<(String, String)> {
        let policy = pyvet::policy::builtin(policy).unwrap();
        let ctx = Context::new(&tree, &manifest, &policy, &options);
        audit::run(&ctx, Vec::new())
            .findings
            .iter()
            .map(|f| (f.rule.id.to_string(), f.path.display().to_string()))
            .collect()
    };
    // Who wrote the pycs: root, when the tests run as root.
    let writer = writer_rule(&inside(&foo_opt1));
    // py3compile runs as root: what a user compiled is that user's.
    let generated = match writer {
        "root-written-bytecode" => "generated-bytecode",
        user => user,
    };
    let bar_pyc = cache(dist, "bar");
    let site_pyc = cache(STDLIB, "sitecustomize");
    assert_eq!(
        run("debian"),
        set(&[
            (generated, &os_pyc),
            (generated, &foo_pyc),
            (writer, &foo_opt1),
            ("foreign-bytecode", &foo_312),
            ("bytecode-write-attempt", &bar_pyc),
            ("bytecode-write-attempt", &site_pyc),
        ])
    );
    // Where pycs are packaged, the same files were written by whoever ran Python.
    assert_eq!(
        run("fedora"),
        set(&[
            (writer, &os_pyc),
            (writer, &foo_pyc),
            (writer, &foo_opt1),
            ("foreign-bytecode", &foo_312),
            ("bytecode-write-attempt", &bar_pyc),
            ("bytecode-write-attempt", &site_pyc),
        ])
    );
}

/// Hostile entries are reported and never opened, followed out of the root
/// or read whole.
#[test]
fn hostile_entries_never_win() {
    use pyvet::audit::{self, Context, Options};
    use pyvet::manifest::Manifest;
    use pyvet::tree::FsTree;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let tree_dir = root.join("usr/local/lib/python3.11");
    std::fs::create_dir_all(tree_dir.join("__pycache__")).unwrap();
    // Bigger than any pyc pyvet reads (sparse: no disk used).
    let big = std::fs::File::create(tree_dir.join("big.pyc")).unwrap();
    big.set_len(65 << 20).unwrap();
    run_stdout(Command::new("mkfifo").arg(tree_dir.join("fifo.pyc")));
    // A .pth bigger than pyvet reads: it runs all the same.
    std::fs::create_dir(tree_dir.join("site-packages")).unwrap();
    let big_pth = std::fs::File::create(tree_dir.join("site-packages/big.pth")).unwrap();
    big_pth.set_len(2 << 20).unwrap();
    // A real pyc outside the root, linked to by an absolute host path.
    let outside = dir.path().join("outside.py");
    std::fs::write(&outside, "X = 1\n").unwrap();
    let outside_pyc = dir.path().join("outside.pyc");
    py_compile(PYTHON, &outside, &outside_pyc, None);
    std::os::unix::fs::symlink(&outside_pyc, tree_dir.join("out.pyc")).unwrap();
    // A link inside the root to a pyc: imported as is, as the file would be.
    std::os::unix::fs::symlink(
        "/usr/local/lib/python3.11/__pycache__/loop.cpython-311.pyc",
        tree_dir.join("linked.pyc"),
    )
    .unwrap();
    // A cache pyc whose source is a symlink loop.
    std::os::unix::fs::symlink("loop.py", tree_dir.join("loop.py")).unwrap();
    std::fs::copy(
        &outside_pyc,
        tree_dir.join("__pycache__/loop.cpython-311.pyc"),
    )
    .unwrap();

    let tree = FsTree::new(&root);
    // One package owning nothing here: ownership is in play, everything in
    // the tree is unowned.
    let mut manifest = Manifest::default();
    manifest.packages.push(pyvet::manifest::Package {
        name: "elsewhere".into(),
        epoch: None,
        version: "1".into(),
        release: None,
        arch: None,
        source: pyvet::manifest::Source {
            backend: pyvet::manifest::Backend::Directory,
            file: "/elsewhere".into(),
        },
        install_time: None,
        files: vec![pyvet::manifest::FileEntry::new(
            "/etc/elsewhere",
            pyvet::manifest::FileKind::File,
        )],
    });
    let policy = pyvet::policy::builtin("generic").unwrap();
    let options = Options::default();
    let ctx = Context::new(&tree, &manifest, &policy, &options);
    let report = audit::run(&ctx, Vec::new());
    let got: BTreeSet<(String, String)> = report
        .findings
        .iter()
        .map(|f| (f.rule.id.to_string(), f.path.display().to_string()))
        .collect();
    let t = "/usr/local/lib/python3.11";
    assert_eq!(
        got,
        set(&[
            // Judged by its header alone (zeros: no magic), never read whole.
            ("corrupt-bytecode", &format!("{t}/big.pyc")),
            ("special-file", &format!("{t}/fifo.pyc")),
            ("unowned-pth", &format!("{t}/site-packages/big.pth")),
            ("unreadable", &format!("{t}/site-packages/big.pth")),
            ("unowned-file", &format!("{t}/out.pyc")),
            ("sourceless-bytecode", &format!("{t}/linked.pyc")),
            ("unowned-module", &format!("{t}/loop.py")),
            (
                "unreadable",
                &format!("{t}/__pycache__/loop.cpython-311.pyc")
            ),
        ])
    );
    assert_eq!(
        report.summary.pycs_judged, 3,
        "big.pyc, loop's cache, linked.pyc"
    );
}

/// A bare build tree (no package database): ownership checks are skipped,
/// and said once; nothing is called unowned.
#[test]
fn a_bare_tree_is_not_reported_as_unowned() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("usr/lib/python3.11");
    std::fs::create_dir_all(lib.join("site-packages")).unwrap();
    std::fs::write(lib.join("mod.py"), "X = 1\n").unwrap();
    std::fs::write(lib.join("site-packages/x.pth"), "import os\n").unwrap();
    std::fs::write(lib.join("data.txt"), "d").unwrap();
    let report = audit(dir.path(), &[]);
    assert_eq!(found(&report), set(&[("no-manifest", "/")]));
}
