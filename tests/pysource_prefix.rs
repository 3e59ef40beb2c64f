//! Option 2's prefix variant (`PYTHONPYSOURCEPREFIX` in the distributors'
//! proposal): the opt-0 pyc at the source's place, made by the real
//! interpreter (`compileall -b`), and each source copied by `cp -p` to the
//! same absolute path under a prefix directory. What stock CPython does with
//! such a tree is asked of python3.11 itself; pyvet's pairing both ways, the
//! strict policy form, `layout apply --layout option2-prefix` with its split
//! packages (rpmbuild, `pyvet subset`, `pyvet size`) and an `rpm --root`
//! install are checked on the same subset of the stdlib.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

use common::audit::{self, set};
use common::rpmroot::{compile, install, stage_subset, PYTHON, STDLIB, SUBSET};
use common::{run, run_stdout};

/// The shipped policy's prefix.
const PREFIX: &str = "/usr/share/python3-sources";
const POLICY: &str = "fedora-option2-prefix";

fn inside(root: &Path, p: &str) -> PathBuf {
    root.join(p.trim_start_matches('/'))
}

fn legacy_pyc(rel: &str) -> String {
    format!("{STDLIB}/{rel}c")
}

/// Where the prefix keeps the source of `STDLIB/rel`.
fn mirrored(rel: &str) -> String {
    format!("{PREFIX}{STDLIB}/{rel}")
}

/// `pyvet ARGS --format json --root ROOT`: exit code and report.
fn pyvet(args: &[&str], root: &Path) -> (i32, Value, String) {
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(args)
        .args(["--format", "json", "--root"])
        .arg(root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), json, stderr)
}

/// `pyvet markers ARGS`, its (rule, path) set.
fn markers(root: &Path, args: &[&str]) -> BTreeSet<(String, String)> {
    let mut all = vec!["markers"];
    all.extend_from_slice(args);
    let (code, report, stderr) = pyvet(&all, root);
    assert!(matches!(code, 0 | 1), "{args:?}: {stderr}");
    audit::findings(&report).map(audit::rule_path).collect()
}

fn bare() -> BTreeSet<(String, String)> {
    set(&[("no-manifest", "/")])
}

/// `compileall -b` of the subset in `root` (legacy-location pycs), then
/// every source moved to its mirrored path by `cp -p` (mode and mtime kept,
/// as a package build copies) and removed.
fn prefix_tree(root: &Path, extra: &[&str]) {
    stage_subset(root);
    run_stdout(
        Command::new(PYTHON)
            .args([
                "-m",
                "compileall",
                "-q",
                "-f",
                "-b",
                "-o",
                "0",
                "-d",
                STDLIB,
            ])
            .args(extra)
            .arg(inside(root, STDLIB)),
    );
    for rel in SUBSET {
        let from = inside(root, &format!("{STDLIB}/{rel}"));
        let to = inside(root, &mirrored(rel));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        run_stdout(Command::new("cp").arg("-p").arg(&from).arg(&to));
        std::fs::remove_file(from).unwrap();
    }
}

/// Stock CPython has no pysource prefix: the legacy pycs import sourceless
/// (the source tree plays no part, with or without the variable), write
/// nothing, and a traceback through them shows no source line. The line is
/// what the prefix tree holds, at PREFIX + co_filename, for a traceback
/// printer that looks there (linecache does not by itself).
#[test]
fn stock_cpython_imports_the_legacy_pycs_and_ignores_the_prefix() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    stage_subset(&root);
    let lib = inside(&root, STDLIB);
    // co_filename is the tree's own path here (-d), so that no host file
    // answers linecache for it once the sources are gone.
    run_stdout(
        Command::new(PYTHON)
            .args(["-m", "compileall", "-q", "-f", "-b", "-o", "0", "-d"])
            .arg(&lib)
            .arg(&lib),
    );
    let prefix = d.path().join("prefix");
    for rel in SUBSET {
        let to = prefix.join(lib.join(rel).strip_prefix("/").unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::rename(lib.join(rel), to).unwrap();
    }
    let script = "import sys, os, traceback, linecache\n\
        sys.path.insert(0, sys.argv[1])\n\
        import json.decoder\n\
        print(json.decoder.__file__)\n\
        print(type(json.decoder.__loader__).__name__)\n\
        print(hasattr(sys, 'pysource_prefix'))\n\
        try:\n    json.loads('x')\n\
        except ValueError as e:\n\
        \x20   f = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.endswith('decoder.py')][-1]\n\
        \x20   print(f.filename)\n\
        \x20   print(repr(f.line))\n\
        \x20   print(linecache.getline(sys.argv[2] + f.filename, f.lineno).strip())\n";
    let ask = |with_variable: bool| {
        let mut cmd = Command::new(PYTHON);
        cmd.env_remove("PYTHONDONTWRITEBYTECODE");
        if with_variable {
            cmd.env("PYTHONPYSOURCEPREFIX", &prefix);
        }
        let out = run_stdout(cmd.args(["-c", script]).arg(&lib).arg(&prefix));
        String::from_utf8(out).unwrap()
    };
    let plain = ask(false);
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines[0], lib.join("json/decoder.pyc").to_str().unwrap());
    assert_eq!(lines[1], "SourcelessFileLoader");
    assert_eq!(lines[2], "False", "no sys.pysource_prefix in stock CPython");
    assert_eq!(lines[3], lib.join("json/decoder.py").to_str().unwrap());
    assert_eq!(lines[4], "''", "no source line in the traceback");
    assert!(
        lines[5].starts_with("raise JSONDecodeError("),
        "the prefix tree holds the line: {}",
        lines[5]
    );
    // The variable changes nothing, and no bytecode was written.
    assert_eq!(ask(true), plain);
    let written: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.ends_with("__pycache__"))
        .collect();
    assert_eq!(written, Vec::<PathBuf>::new());
}

#[test]
fn a_prefix_tree_is_clean_and_every_pairing_failure_is_named() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    prefix_tree(&root, &[]);
    assert_eq!(markers(&root, &["--policy", POLICY]), bare());
    // The flag makes the prefix a place sources can be under another policy.
    let flag = ["--policy", "fedora-option2", "--pysource-prefix", PREFIX];
    assert_eq!(markers(&root, &flag), bare());
    // Without a prefix, option 2 finds no source for any pyc.
    let mut want = bare();
    for rel in SUBSET {
        want.insert(("marker-source-missing".into(), legacy_pyc(rel)));
    }
    assert_eq!(markers(&root, &["--policy", "fedora-option2"]), want);

    // A pyc without its source, a source without its pyc, a mirrored
    // directory with no counterpart, a plain source shadowing its pyc, a
    // source edited after compiling, one only touched (CPython compares
    // the mtime a timestamp pyc records).
    std::fs::remove_file(inside(&root, &mirrored("keyword.py"))).unwrap();
    std::fs::write(inside(&root, &mirrored("extra.py")), "x = 1\n").unwrap();
    let ghost = format!("{PREFIX}{STDLIB}/ghost");
    std::fs::create_dir_all(inside(&root, &ghost)).unwrap();
    std::fs::write(inside(&root, &format!("{ghost}/a.py")), "a = 1\n").unwrap();
    std::fs::write(inside(&root, &format!("{STDLIB}/bisect.py")), "x = 1\n").unwrap();
    let scanner = inside(&root, &mirrored("json/scanner.py"));
    let mut text = std::fs::read(&scanner).unwrap();
    let mtime = std::fs::metadata(&scanner).unwrap().modified().unwrap();
    text.extend_from_slice(b"# one more line\n");
    std::fs::write(&scanner, text).unwrap();
    // Same mtime back: only the recorded size tells.
    std::fs::File::options()
        .write(true)
        .open(&scanner)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    run_stdout(
        Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(inside(&root, &mirrored("colorsys.py"))),
    );
    let got = markers(&root, &["--policy", POLICY]);
    assert_eq!(
        got,
        set(&[
            ("no-manifest", "/"),
            ("marker-source-missing", &legacy_pyc("keyword.py")),
            ("marker-source-orphan", &mirrored("extra.py")),
            ("marker-source-orphan", &ghost),
            ("marker-source-shadowed", "/usr/lib/python3.11/bisect.py"),
            ("marker-source-mismatch", &mirrored("json/scanner.py")),
            ("marker-source-mismatch", &mirrored("colorsys.py")),
        ])
    );
    let (code, report, _) = pyvet(&["markers", "--policy", POLICY], &root);
    assert_eq!(code, 1);
    let why = |rule: &str, p: &str| audit::s(&audit::finding(&report, rule, p)["message"]);
    assert!(
        why("marker-source-mismatch", &mirrored("json/scanner.py")).contains("pyc source size"),
        "{report}"
    );
    assert!(
        why("marker-source-mismatch", &mirrored("colorsys.py")).contains("pyc mtime"),
        "{report}"
    );
    assert!(
        why("marker-source-missing", &legacy_pyc("keyword.py"))
            .contains(&format!("nothing at {}", mirrored("keyword.py"))),
        "{report}"
    );
    // The whole audit reports them too; a prefix that is not there is exit 2.
    let (_, report, stderr) = pyvet(&["audit", "--fail-on", "never", "--policy", POLICY], &root);
    let all = audit::not_owned(&report);
    for f in &got {
        assert!(all.contains(f), "{f:?} not in the audit: {stderr}");
    }
    let (code, _, stderr) = pyvet(&["audit", "--pysource-prefix", "/usr/share/nowhere"], &root);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("/usr/share/nowhere: no such directory"),
        "{stderr}"
    );
}

/// Hash-based pycs record the source's hash, not its mtime: a copy that
/// lost the mtime is still the source, a same-size edit is not.
#[test]
fn hash_based_pycs_are_paired_by_hash() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    prefix_tree(&root, &["--invalidation-mode", "checked-hash"]);
    run_stdout(
        Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(inside(&root, &mirrored("bisect.py"))),
    );
    assert_eq!(markers(&root, &["--policy", POLICY]), bare());
    let p = inside(&root, &mirrored("json/decoder.py"));
    let mut text = std::fs::read(&p).unwrap();
    let i = text.iter().position(|&b| b == b'(').unwrap();
    text[i] = b'[';
    std::fs::write(&p, text).unwrap();
    assert_eq!(
        markers(&root, &["--policy", POLICY]),
        set(&[
            ("no-manifest", "/"),
            ("marker-source-mismatch", &mirrored("json/decoder.py")),
        ])
    );
}

/// `sources = "prefix"` in a policy file, loaded strictly: every problem
/// with its line.
#[test]
fn a_prefix_policy_file_loads_strictly() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    prefix_tree(&root, &[]);
    let good = d.path().join("site.toml");
    std::fs::write(
        &good,
        "name = \"site\"\nlayout = \"option2-prefix\"\npysource-prefix = \"/usr/share/python3-sources\"\n\
         sources = \"prefix\"\nlegacy-pycs = true\npycache = []\n",
    )
    .unwrap();
    let check = |file: &Path| {
        run(Command::cargo_bin("pyvet")
            .unwrap()
            .args(["policy", "check"])
            .arg(file))
    };
    let (ok, out, err) = check(&good);
    assert!(ok, "{out}{err}");
    assert!(out.contains("ok (policy site)"), "{out}");
    assert_eq!(
        markers(&root, &["--policy", good.to_str().unwrap()]),
        bare()
    );

    let bad = d.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\nlayout = \"option2-prefix\"\npysource-prefx = \"/usr/share/python3-sources\"\n\
         sources = \"prefix\"\n\n[[expect]]\npaths = [\"/usr/lib/python3*/site-packages/**\"]\nsources = \"prefx\"\n",
    )
    .unwrap();
    let (ok, _, err) = check(&bad);
    assert!(!ok);
    let file = format!("pyvet: error: {}", bad.display());
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            format!("{file}: line 3: unknown key `pysource-prefx` in the policy"),
            format!("{file}: line 4: `sources = \"prefix\"` needs a top-level `pysource-prefix`: the root of the source tree"),
            format!("{file}: line 8: bad value \"prefx\" for `sources`: one of py, pysources, pysource, prefix, none"),
        ],
        "{err}"
    );
    std::fs::write(
        &bad,
        "name = \"bad\"\nsources = \"prefix\"\npysource-prefix = \"usr/share/../src\"\n",
    )
    .unwrap();
    let (ok, _, err) = check(&bad);
    assert!(!ok);
    assert_eq!(
        err.trim(),
        format!("{file}: line 3: `pysource-prefix` \"usr/share/../src\" is not an absolute path without . or .. components")
    );
}

/// One entry of a tree: kind, mode, mtime, bytes.
type Snapshot = BTreeMap<String, (bool, u32, i64, Vec<u8>)>;

fn snapshot(root: &Path) -> Snapshot {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let bytes = match m.is_file() {
                true => std::fs::read(e.path()).unwrap(),
                false => Vec::new(),
            };
            let mtime = if m.is_dir() { 0 } else { m.mtime() };
            (rel, (m.is_dir(), m.permissions().mode(), mtime, bytes))
        })
        .collect()
}

fn cp_a(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    run_stdout(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(to),
    );
}

/// `pyvet layout apply --layout L [--split DIR] ROOT`.
fn apply(layout: &str, root: &Path, split: Option<&Path>) -> (i32, String) {
    let mut cmd = Command::cargo_bin("pyvet").unwrap();
    cmd.args(["layout", "apply", "--layout", layout]);
    if let Some(s) = split {
        cmd.arg("--split").arg(s);
    }
    let out = cmd.arg(root).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

/// rpmbuild of a converted stage: `name` from `base.files`, and
/// `name-pysources` from `pysources.files` when that list is not empty.
fn build_split(work: &Path, stage: &Path, split: &Path, name: &str) -> Vec<PathBuf> {
    let sources = std::fs::metadata(split.join("pysources.files"))
        .unwrap()
        .len()
        > 0;
    let mut spec = format!(
        "Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: pyvet layout\nLicense: PSF-2.0\nBuildArch: noarch\n\
         %description\nA stdlib subset in one layout.\n"
    );
    if sources {
        spec += "%package pysources\nSummary: sources\n%description pysources\nThe sources.\n";
    }
    spec += &format!(
        "%install\ncp -a {}/. %{{buildroot}}/\n%files -f base.files\n",
        stage.display()
    );
    if sources {
        spec += "%files pysources -f pysources.files\n";
    }
    std::fs::create_dir_all(work).unwrap();
    let spec_path = work.join(format!("{name}.spec"));
    std::fs::write(&spec_path, spec).unwrap();
    let top = work.join("rpmbuild");
    common::rpmroot::rpmbuild(&top, &spec_path, &[("_builddir", split.to_str().unwrap())]);
    let mut rpms = vec![top.join(format!("RPMS/noarch/{name}-1.0-1.noarch.rpm"))];
    if sources {
        rpms.push(top.join(format!("RPMS/noarch/{name}-pysources-1.0-1.noarch.rpm")));
    }
    rpms
}

fn subset(minimal: &[&PathBuf], full: &[&PathBuf]) -> (i32, String) {
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(["subset", "--format", "json", "--minimal"])
        .args(minimal)
        .arg("--full")
        .args(full)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Regular-file bytes and file count of packages, as `rpm -qp` lists them.
fn payload(rpms: &[&PathBuf]) -> (u64, u64) {
    let mut total = (0, 0);
    for rpm in rpms {
        let out = run_stdout(
            Command::new("rpm")
                .args(["-qp", "--qf", "[%{FILESIZES} %{FILEMODES:perms}\\n]"])
                .arg(rpm),
        );
        for line in String::from_utf8(out).unwrap().lines() {
            let (size, perms) = line.split_once(' ').unwrap();
            if perms.starts_with('-') {
                total.0 += size.parse::<u64>().unwrap();
                total.1 += 1;
            }
        }
    }
    total
}

#[test]
fn layout_apply_makes_option2_prefix_and_its_packages_keep_the_subset_rule() {
    let d = tempfile::tempdir().unwrap();
    let master = d.path().join("master");
    stage_subset(&master);
    compile(&inside(&master, STDLIB), &[0, 1, 2]);

    // pyvet's conversion equals the one by plain file operations.
    let ours = d.path().join("ours");
    let theirs = d.path().join("theirs");
    cp_a(&master, &ours);
    cp_a(&master, &theirs);
    let split = d.path().join("split");
    let (code, out) = apply("option2-prefix", &ours, Some(&split));
    assert_eq!(code, 0, "{out}");
    for pyc in common::files_with_suffix(&theirs, ".pyc") {
        let name = pyc.file_name().unwrap().to_string_lossy().to_string();
        let cache = pyc.parent().unwrap();
        let dir = cache.parent().unwrap();
        let module = name.split('.').next().unwrap().to_string();
        if name.contains(".opt-") {
            std::fs::remove_file(&pyc).unwrap();
            continue;
        }
        std::fs::rename(&pyc, dir.join(format!("{module}.pyc"))).unwrap();
        let source = dir.join(format!("{module}.py"));
        let at = Path::new("/").join(source.strip_prefix(&theirs).unwrap());
        let to = theirs
            .join(&PREFIX[1..])
            .join(at.strip_prefix("/").unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        run_stdout(Command::new("cp").arg("-p").arg(&source).arg(&to));
        std::fs::remove_file(source).unwrap();
    }
    walkdir::WalkDir::new(&theirs)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.ends_with("__pycache__"))
        .collect::<Vec<_>>()
        .into_iter()
        .for_each(|p| std::fs::remove_dir(p).unwrap());
    // Directories `mkdir -p` made: pyvet makes them 0755 too.
    let ours_snap = snapshot(&ours);
    let theirs_snap = snapshot(&theirs);
    assert_eq!(
        ours_snap.keys().collect::<Vec<_>>(),
        theirs_snap.keys().collect::<Vec<_>>()
    );
    for (path, a) in &ours_snap {
        let b = &theirs_snap[path];
        if a.0 {
            assert!(b.0, "{path}");
        } else {
            assert_eq!(a, b, "{path}");
        }
    }
    assert!(ours
        .join(&PREFIX[1..])
        .join("usr/lib/python3.11/json/decoder.py")
        .is_file());
    assert_eq!(markers(&ours, &["--policy", POLICY]), bare());
    // Twice changes nothing.
    let (code, out) = apply("option2-prefix", &ours, None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(": 0 changes\n"), "{out}");
    assert_eq!(snapshot(&ours), ours_snap);
    // The split lists: the prefix tree is the sources subpackage's.
    let sources_list = std::fs::read_to_string(split.join("pysources.files")).unwrap();
    assert!(
        sources_list.contains(&format!("%dir {PREFIX}\n")),
        "{sources_list}"
    );
    assert!(
        sources_list.contains(&format!("{}\n", mirrored("json/tool.py"))),
        "{sources_list}"
    );
    let base_list = std::fs::read_to_string(split.join("base.files")).unwrap();
    assert!(!base_list.contains(PREFIX), "{base_list}");

    // Packages: option2-prefix's base and sources, and minimal's base.
    let prefix_rpms = build_split(
        &d.path().join("work-prefix"),
        &ours,
        &split,
        "stdlib-prefix",
    );
    let minimal = d.path().join("minimal");
    let minimal_split = d.path().join("minimal-split");
    cp_a(&master, &minimal);
    assert_eq!(apply("minimal", &minimal, Some(&minimal_split)).0, 0);
    let minimal_rpms = build_split(
        &d.path().join("work-minimal"),
        &minimal,
        &minimal_split,
        "stdlib-minimal",
    );
    let full: Vec<&PathBuf> = prefix_rpms.iter().collect();
    let (code, out) = subset(&[&minimal_rpms[0]], &full);
    assert_eq!(code, 0, "minimal ⊆ option2-prefix: {out}");
    // The base is minimal's, file for file; the sources alone are not.
    let (code, out) = subset(&[&prefix_rpms[0]], &[&minimal_rpms[0]]);
    assert_eq!(code, 0, "option2-prefix base ⊆ minimal: {out}");
    assert_eq!(subset(&[&prefix_rpms[1]], &[&minimal_rpms[0]]).0, 1);

    // pyvet size of the status-quo tree prices the layout as built.
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(["size", "--format", "json"])
        .arg(&master)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let layout = v["layouts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "option2-prefix")
        .unwrap_or_else(|| panic!("{v}"));
    let built = payload(&full);
    assert_eq!(
        (
            layout["bytes"].as_u64().unwrap(),
            layout["files"].as_u64().unwrap()
        ),
        built
    );

    // Installed with rpm: the audit of the root under the policy is clean.
    let root = d.path().join("installed");
    for rpm in &prefix_rpms {
        install(&root, rpm);
    }
    let report = audit::json(&root, &["--policy", POLICY]);
    assert_eq!(audit::not_owned(&report), set(&[]), "{report}");
    assert_eq!(audit::owned(&report), Vec::<Value>::new());
    assert_eq!(markers(&root, &["--policy", POLICY]), BTreeSet::new());
    // A source tampered with after install: rpm's view and the pairing's.
    let tool = inside(&root, &mirrored("json/tool.py"));
    let mut text = std::fs::read(&tool).unwrap();
    text.extend_from_slice(b"print('hello')\n");
    std::fs::write(&tool, text).unwrap();
    let report = audit::json(&root, &["--policy", POLICY]);
    assert_eq!(
        audit::not_owned(&report),
        set(&[("marker-source-mismatch", &mirrored("json/tool.py"))])
    );
    assert!(audit::owned(&report)
        .iter()
        .any(|f| f["rule"] == "digest-mismatch" && f["path"] == mirrored("json/tool.py")));
}

/// The source tree goes where the build root says, never through a link:
/// a symlinked `usr/share` (to a directory outside the build root) is
/// refused before anything is written, and nothing appears outside.
#[test]
fn a_symlink_where_the_source_tree_goes_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    stage_subset(&root);
    compile(&inside(&root, STDLIB), &[0, 1, 2]);
    let outside = d.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("usr/share")).unwrap();
    let before = snapshot(&root);
    let (code, out) = apply("option2-prefix", &root, None);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("  /usr/share: not a directory"), "{out}");
    assert_eq!(snapshot(&root), before);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}
