//! Layout markers and policy-driven layouts, on trees made by the real
//! interpreter: the stdlib subset compiled by `compileall` (`-b` for the
//! legacy locations of option 2 and minimal, `--invalidation-mode` for
//! hash-based pycs), sources moved into `__pysources__` and compressed by
//! Python's own gzip, lzma and bz2 modules, markers made by plain file
//! operations, packaged with rpmbuild and installed with `rpm --root` where
//! ownership matters, and left bare (a build root, no manifest) where not.
//! Every test asserts the exact set of (rule, path); findings of the
//! owned-file family (`rpm -V`'s view of a tampered file) belong to another
//! check and are left out of sets taken from `pyvet audit`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

use common::audit::{self, set};
use common::rpmroot::{build_rpm, install, stage_subset, PYTHON, STDLIB, SUBSET};
use common::run_stdout;

/// The directories of the subset with sources.
const DIRS: [&str; 2] = ["/usr/lib/python3.11", "/usr/lib/python3.11/json"];

fn pyvet(args: &[&str], root: &Path) -> (Option<i32>, Value, String) {
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(args)
        .args(["--format", "json", "--root"])
        .arg(root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}; stderr: {stderr}"));
    (out.status.code(), json, stderr)
}

/// `pyvet markers --policy POLICY`, its (rule, path) set.
fn markers(root: &Path, policy: &str) -> BTreeSet<(String, String)> {
    let (code, report, stderr) = pyvet(&["markers", "--policy", policy], root);
    assert!(matches!(code, Some(0 | 1)), "{stderr}");
    found(&report)
}

/// `pyvet audit --policy POLICY`, its (rule, path) set without the
/// owned-file family.
fn audit(root: &Path, policy: &str) -> BTreeSet<(String, String)> {
    let (code, report, stderr) = pyvet(&["audit", "--policy", policy], root);
    assert!(matches!(code, Some(0 | 1)), "{stderr}");
    audit::not_owned(&report)
}

fn found(report: &Value) -> BTreeSet<(String, String)> {
    audit::findings(report).map(audit::rule_path).collect()
}

fn bare() -> BTreeSet<(String, String)> {
    set(&[("no-manifest", "/")])
}

fn inside(root: &Path, p: &str) -> PathBuf {
    root.join(p.trim_start_matches('/'))
}

/// `compileall` of the stdlib dir of `root`, recording installed paths.
fn compileall(root: &Path, extra: &[&str]) {
    run_stdout(
        Command::new(PYTHON)
            .args(["-m", "compileall", "-q", "-f", "-d", STDLIB])
            .args(extra)
            .arg(inside(root, STDLIB)),
    );
}

/// Compresses `path` into `path.EXT` with Python's own module, removing it.
fn compress(path: &Path, ext: &str) {
    run_stdout(Command::new(PYTHON).args([
        "-c",
        "import sys, os, gzip, lzma, bz2\n\
         m = {'gz': gzip, 'xz': lzma, 'bz2': bz2}[sys.argv[1]]\n\
         p = sys.argv[2]\n\
         data = open(p, 'rb').read()\n\
         open(p + '.' + sys.argv[1], 'wb').write(m.compress(data))\n\
         os.remove(p)",
        ext,
        path.to_str().unwrap(),
    ]));
}

/// The module's path in `__pysources__`, from its path in the subset.
fn pysources_path(rel: &str) -> String {
    let p = Path::new(STDLIB).join(rel);
    let dir = p.parent().unwrap().join("__pysources__");
    dir.join(p.file_name().unwrap()).display().to_string()
}

fn legacy_pyc(rel: &str) -> String {
    format!("{STDLIB}/{}c", rel)
}

/// A bare option 2 build root: legacy-location opt-0 pycs made by
/// `compileall -b`, every source moved into its `__pysources__`.
fn option2_tree(dir: &Path) -> PathBuf {
    let root = dir.join("option2");
    stage_subset(&root);
    compileall(&root, &["-b", "-o", "0"]);
    for rel in SUBSET {
        let to = inside(&root, &pysources_path(rel));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::rename(inside(&root, &format!("{STDLIB}/{rel}")), to).unwrap();
    }
    root
}

/// A bare minimal build root: `compileall -b`, then no sources.
fn minimal_tree(dir: &Path) -> PathBuf {
    let root = dir.join("minimal");
    stage_subset(&root);
    compileall(&root, &["-b", "-o", "0"]);
    for rel in SUBSET {
        std::fs::remove_file(inside(&root, &format!("{STDLIB}/{rel}"))).unwrap();
    }
    root
}

/// Packages a staged tree with rpmbuild and installs it into a new root.
fn packaged(dir: &Path, stage: &Path, name: &str) -> PathBuf {
    let work = dir.join(format!("work-{name}"));
    std::fs::create_dir_all(&work).unwrap();
    let rpm = build_rpm(&work, stage, name);
    let root = dir.join(format!("root-{name}"));
    install(&root, &rpm);
    root
}

#[test]
fn a_bare_option2_tree_is_clean_and_every_pysources_failure_is_named() {
    let d = tempfile::tempdir().unwrap();
    let root = option2_tree(d.path());
    assert_eq!(markers(&root, "fedora-option2"), bare());

    // Compressed sources as the policy allows them are checked decompressed.
    compress(&inside(&root, &pysources_path("colorsys.py")), "gz");
    compress(&inside(&root, &pysources_path("json/decoder.py")), "xz");
    assert_eq!(markers(&root, "fedora-option2"), bare());

    // A pyc without its source, a source without its pyc, a plain source
    // shadowing a pyc, a source of another size than the pyc records.
    std::fs::remove_file(inside(&root, &pysources_path("keyword.py"))).unwrap();
    std::fs::write(inside(&root, &pysources_path("extra.py")), "x = 1\n").unwrap();
    std::fs::write(inside(&root, &format!("{STDLIB}/bisect.py")), "x = 1\n").unwrap();
    let scanner = inside(&root, &pysources_path("json/scanner.py"));
    let mut text = std::fs::read(&scanner).unwrap();
    text.extend_from_slice(b"# one more line\n");
    std::fs::write(&scanner, text).unwrap();
    assert_eq!(
        markers(&root, "fedora-option2"),
        set(&[
            ("no-manifest", "/"),
            ("marker-source-missing", &legacy_pyc("keyword.py")),
            ("marker-source-orphan", &pysources_path("extra.py")),
            ("marker-source-shadowed", "/usr/lib/python3.11/bisect.py"),
            ("marker-source-mismatch", &pysources_path("json/scanner.py")),
        ])
    );
}

#[test]
fn compression_is_what_the_policy_allows_and_bombs_and_corruption_are_findings() {
    let d = tempfile::tempdir().unwrap();
    let root = option2_tree(d.path());
    compress(&inside(&root, &pysources_path("colorsys.py")), "bz2");
    // fedora-option2 allows plain, gz and xz sources only.
    let bz2 = format!("{}.bz2", pysources_path("colorsys.py"));
    assert_eq!(
        markers(&root, "fedora-option2"),
        set(&[("no-manifest", "/"), ("marker-source-invalid", &bz2)])
    );
    // A policy allowing bz2: the decompressed source has the size recorded.
    let policy = d.path().join("bz2.toml");
    std::fs::write(
        &policy,
        "name = \"bz2\"\nlayout = \"option2\"\nsources = \"pysources\"\ncompression = [\"none\", \"bz2\"]\nlegacy-pycs = true\npycache = []\n",
    )
    .unwrap();
    assert_eq!(markers(&root, policy.to_str().unwrap()), bare());

    // A gzip bomb in place of a source: 64 MiB of zeros, made by gzip itself.
    let tool = inside(&root, &pysources_path("json/tool.py"));
    std::fs::write(&tool, vec![b'#'; 64 << 20]).unwrap();
    compress(&tool, "gz");
    // A truncated xz stream.
    let enc = inside(&root, &pysources_path("json/encoder.py"));
    compress(&enc, "xz");
    let xz = PathBuf::from(format!("{}.xz", enc.display()));
    let bytes = std::fs::read(&xz).unwrap();
    std::fs::write(&xz, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(
        markers(&root, "fedora-option2"),
        set(&[
            ("no-manifest", "/"),
            ("marker-source-invalid", &bz2),
            (
                "marker-source-bomb",
                &format!("{}.gz", pysources_path("json/tool.py"))
            ),
            (
                "marker-source-invalid",
                &format!("{}.xz", pysources_path("json/encoder.py"))
            ),
        ])
    );
}

#[test]
fn hash_based_pycs_are_checked_against_the_source_hash() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("hashed");
    stage_subset(&root);
    compileall(
        &root,
        &["-b", "-o", "0", "--invalidation-mode", "checked-hash"],
    );
    for rel in SUBSET {
        let to = inside(&root, &pysources_path(rel));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::rename(inside(&root, &format!("{STDLIB}/{rel}")), to).unwrap();
    }
    assert_eq!(markers(&root, "fedora-option2"), bare());
    // Same size, other content: only the hash tells.
    let p = inside(&root, &pysources_path("colorsys.py"));
    let mut text = std::fs::read(&p).unwrap();
    let i = text.iter().position(|&b| b == b'(').unwrap();
    text[i] = b'[';
    std::fs::write(&p, text).unwrap();
    compress(&p, "gz");
    assert_eq!(
        markers(&root, "fedora-option2"),
        set(&[
            ("no-manifest", "/"),
            (
                "marker-source-mismatch",
                &format!("{}.gz", pysources_path("colorsys.py"))
            ),
        ])
    );
}

#[test]
fn pysource_metadata_points_at_the_sources() {
    let d = tempfile::tempdir().unwrap();
    let root = option2_tree(d.path());
    // json keeps its sources elsewhere, as its __pysource__ says.
    let elsewhere = "/usr/share/python3.11-sources/json";
    std::fs::create_dir_all(inside(&root, "/usr/share/python3.11-sources")).unwrap();
    std::fs::rename(
        inside(&root, "/usr/lib/python3.11/json/__pysources__"),
        inside(&root, elsewhere),
    )
    .unwrap();
    let meta = inside(&root, "/usr/lib/python3.11/json/__pysource__");
    std::fs::write(
        &meta,
        format!("# where json's sources are\ndirectory = {elsewhere}\n"),
    )
    .unwrap();
    assert_eq!(markers(&root, "fedora-option2"), bare());
    std::fs::remove_file(inside(&root, &format!("{elsewhere}/scanner.py"))).unwrap();
    assert_eq!(
        markers(&root, "fedora-option2"),
        set(&[
            ("no-manifest", "/"),
            ("marker-source-missing", &legacy_pyc("json/scanner.py")),
        ])
    );
    let json_meta = "/usr/lib/python3.11/json/__pysource__";
    for bad in [
        "directory = /usr/share/nowhere\n".to_string(),
        "directory = ../sources\n".into(),
        format!("directory = {elsewhere}\nprefix = /x\n"),
    ] {
        std::fs::write(&meta, bad).unwrap();
        assert_eq!(
            markers(&root, "fedora-option2"),
            set(&[("no-manifest", "/"), ("marker-pysource-invalid", json_meta)])
        );
    }
    // Without the metadata file, the policy wants sources in __pysources__.
    std::fs::remove_file(&meta).unwrap();
    let mut want = bare();
    for m in ["__init__", "decoder", "encoder", "tool"] {
        want.insert((
            "marker-source-missing".into(),
            format!("{STDLIB}/json/{m}.pyc"),
        ));
    }
    want.insert((
        "marker-source-missing".into(),
        legacy_pyc("json/scanner.py"),
    ));
    assert_eq!(markers(&root, "fedora-option2"), want);
}

#[test]
fn the_policy_decides_whether_an_owned_sourceless_pyc_is_expected() {
    let d = tempfile::tempdir().unwrap();
    let stage = minimal_tree(d.path());
    // The whole audit of the bare build tree: its sourceless pycs are what
    // the layout ships, and ownership checks are skipped, said once.
    let (_, report, _) = pyvet(
        &["audit", "--policy", "fedora-minimal", "/usr/lib/python3.11"],
        &stage,
    );
    assert_eq!(found(&report), bare());
    assert_eq!(report["findings"][0]["severity"], "info");
    let root = packaged(d.path(), &stage, "pyvet-minimal");
    // Under the minimal layout, owned legacy-location pycs are the layout.
    assert_eq!(audit(&root, "fedora-minimal"), set(&[]));
    assert_eq!(markers(&root, "fedora-minimal"), set(&[]));
    // Under the status quo every one of them is a packaging mistake.
    let every: Vec<(&str, String)> = SUBSET
        .iter()
        .map(|rel| ("layout-unexpected", legacy_pyc(rel)))
        .collect();
    let want: BTreeSet<(String, String)> = every
        .iter()
        .map(|(r, p)| (r.to_string(), p.clone()))
        .collect();
    assert_eq!(audit(&root, "fedora"), want);
    // And a plain source in the minimal layout is not what it ships.
    let bare_stage = d.path().join("minimal-with-source");
    stage_subset(&bare_stage);
    compileall(&bare_stage, &["-b", "-o", "0"]);
    std::fs::remove_file(inside(&bare_stage, "/usr/lib/python3.11/bisect.py")).unwrap();
    let got = markers(&bare_stage, "fedora-minimal");
    assert!(got.contains(&(
        "layout-unexpected".to_string(),
        "/usr/lib/python3.11/colorsys.py".to_string()
    )));
    assert!(!got.contains(&(
        "layout-unexpected".to_string(),
        "/usr/lib/python3.11/bisect.py".to_string()
    )));
    assert_eq!(got.len(), 1 + SUBSET.len() - 1, "{got:?}");
}

/// Option 1: sources and, in each `__pycache__` of a directory with
/// sources, the empty marker, all packaged.
fn option1_root(dir: &Path) -> PathBuf {
    let stage = dir.join("option1");
    stage_subset(&stage);
    for d in DIRS {
        let cache = inside(&stage, &format!("{d}/__pycache__"));
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("__dont_write_bytecode__"), "").unwrap();
    }
    packaged(dir, &stage, "pyvet-option1")
}

#[test]
fn option1_markers_forbid_writes_and_must_be_there() {
    let d = tempfile::tempdir().unwrap();
    let root = option1_root(d.path());
    assert_eq!(audit(&root, "fedora-option1"), set(&[]));
    assert_eq!(markers(&root, "fedora-option1"), set(&[]));

    // Imported by the real interpreter, which (3.11 has no notion of the
    // marker) writes a pyc: nothing the interpreter should have written.
    run_stdout(
        Command::new(PYTHON)
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .args([
                "-c",
                "import sys; sys.path.insert(0, sys.argv[1]); import colorsys",
                inside(&root, STDLIB).to_str().unwrap(),
            ]),
    );
    let pyc = "/usr/lib/python3.11/__pycache__/colorsys.cpython-311.pyc";
    assert!(inside(&root, pyc).is_file());
    assert_eq!(
        markers(&root, "fedora-option1"),
        set(&[("marker-written-bytecode", pyc)])
    );
    let got = audit(&root, "fedora-option1");
    assert!(
        got.contains(&("marker-written-bytecode".into(), pyc.into())),
        "{got:?}"
    );
    std::fs::remove_file(inside(&root, pyc)).unwrap();

    // A missing marker is a finding under option 1, and under the status
    // quo it is not (there CPython writing is predicted instead).
    let json_marker = "/usr/lib/python3.11/json/__pycache__/__dont_write_bytecode__";
    std::fs::remove_file(inside(&root, json_marker)).unwrap();
    assert_eq!(
        markers(&root, "fedora-option1"),
        set(&[("marker-missing", json_marker)])
    );
    assert_eq!(markers(&root, "fedora"), set(&[]));
    let predicted = audit(&root, "fedora");
    assert!(predicted.contains(&(
        "bytecode-write-attempt".into(),
        "/usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc".into()
    )));
    assert!(!predicted
        .iter()
        .any(|(_, p)| p == "/usr/lib/python3.11/__pycache__/colorsys.cpython-311.pyc"));

    // Put back by hand at its packaged path: the marker again.
    std::fs::write(inside(&root, json_marker), "").unwrap();
    assert_eq!(markers(&root, "fedora-option1"), set(&[]));

    // Not owned, not empty, not a file, not in a __pycache__, or beside no
    // sources: not the marker.
    let local = "/usr/lib/python3.11/site-packages/local";
    std::fs::create_dir_all(inside(&root, &format!("{local}/__pycache__"))).unwrap();
    std::fs::write(inside(&root, &format!("{local}/__init__.py")), "").unwrap();
    let unowned = format!("{local}/__pycache__/__dont_write_bytecode__");
    std::fs::write(inside(&root, &unowned), "").unwrap();
    let top_marker = "/usr/lib/python3.11/__pycache__/__dont_write_bytecode__";
    std::fs::write(inside(&root, top_marker), "no\n").unwrap();
    std::fs::create_dir_all(inside(&root, "/usr/lib/python3.11/data/__pycache__")).unwrap();
    let no_sources = "/usr/lib/python3.11/data/__pycache__/__dont_write_bytecode__";
    std::fs::create_dir(inside(&root, no_sources)).unwrap();
    let outside = "/usr/lib/python3.11/json/__dont_write_bytecode__";
    std::fs::write(inside(&root, outside), "").unwrap();
    let (_, report, _) = pyvet(&["markers", "--policy", "fedora-option1"], &root);
    assert_eq!(
        found(&report),
        set(&[
            ("marker-invalid", &unowned),
            ("marker-invalid", top_marker),
            ("marker-invalid", no_sources),
            ("marker-invalid", outside),
        ])
    );
    let messages: BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        BTreeSet::from([
            "nothing owns it",
            "3 bytes, not empty",
            "a dir, not a regular file; nothing owns it; the directory above its __pycache__ has no sources",
            "not in a __pycache__ directory: CPython never looks for it here; nothing owns it",
        ])
    );
}

#[test]
fn markers_json_has_the_audit_shape_and_sarif_works() {
    let d = tempfile::tempdir().unwrap();
    let root = minimal_tree(d.path());
    let (code, report, _) = pyvet(&["markers", "--policy", "fedora"], &root);
    assert_eq!(code, Some(1));
    assert_eq!(report["schema"], "pyvet-audit/1");
    assert_eq!(report["policy"], "fedora");
    assert_eq!(report["summary"]["findings"], 1 + SUBSET.len());
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args([
            "markers",
            "--policy",
            "fedora-minimal",
            "--format",
            "sarif",
            "--root",
        ])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "info only");
    let sarif = common::sarif::assert_valid(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "no-manifest");
}

/// FIFOs where markers and sources go, a `__pysource__` that is a link
/// out of the root or a FIFO: reported, never opened, never followed.
#[test]
fn hostile_markers_never_win() {
    let d = tempfile::tempdir().unwrap();
    let root = option2_tree(d.path());
    let fifo = |p: &str| run_stdout(Command::new("mkfifo").arg(inside(&root, p)));
    // A FIFO in place of a source, and in place of the option 1 marker.
    std::fs::remove_file(inside(&root, &pysources_path("keyword.py"))).unwrap();
    let keyword_gz = format!("{}.gz", pysources_path("keyword.py"));
    fifo(&keyword_gz);
    std::fs::create_dir_all(inside(&root, "/usr/lib/python3.11/__pycache__")).unwrap();
    let marker = "/usr/lib/python3.11/__pycache__/__dont_write_bytecode__";
    fifo(marker);
    // json's __pysource__: a link to the host's /etc, then a FIFO.
    std::fs::create_dir_all(inside(&root, "/usr/share")).unwrap();
    std::fs::rename(
        inside(&root, "/usr/lib/python3.11/json/__pysources__"),
        inside(&root, "/usr/share/json-sources"),
    )
    .unwrap();
    let meta = inside(&root, "/usr/lib/python3.11/json/__pysource__");
    std::os::unix::fs::symlink("/etc/passwd", &meta).unwrap();
    let json_meta = "/usr/lib/python3.11/json/__pysource__";
    let mut want = set(&[
        ("no-manifest", "/"),
        ("marker-source-missing", &legacy_pyc("keyword.py")),
        ("marker-source-orphan", &keyword_gz),
        ("marker-invalid", marker),
        ("marker-pysource-invalid", json_meta),
    ]);
    assert_eq!(markers(&root, "fedora-option2"), want);
    std::fs::remove_file(&meta).unwrap();
    fifo(json_meta);
    assert_eq!(markers(&root, "fedora-option2"), want);
    // A directory named in __pysource__ through a link out of the root is
    // looked up inside the root.
    std::fs::remove_file(&meta).unwrap();
    std::os::unix::fs::symlink("/usr", inside(&root, "/srcs")).unwrap();
    std::fs::write(&meta, "directory = /srcs/share/json-sources\n").unwrap();
    want.remove(&("marker-pysource-invalid".to_string(), json_meta.to_string()));
    assert_eq!(markers(&root, "fedora-option2"), want);
}
