//! Scenario tests of zips on the import path, on real roots: a stdlib
//! subset byte-compiled by the real interpreter (`compileall -b`, the
//! legacy layout `zipimport` reads), zipped by `python3.11 -m zipfile -c`,
//! placed as `/usr/lib/python311.zip`, packaged with rpmbuild and installed
//! with `rpm --root`; then tampered with through Python's own `zipfile`.
//!
//! Each verdict is also checked against the real `zipimport`: a fresh
//! interpreter imports the module from the zip and says whether it ran the
//! pyc or the source (`__file__` names the member it loaded).
//!
//! Findings of the owned-file family (the tampered zip's digest) belong to
//! another check and are left out of the sets compared here.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::audit::{finding, json as audit, not_owned as found, set};
use common::rpmroot::{self, RpmRoot, PYTHON, STDLIB, SUBSET};
use common::run_stdout;

/// Where the zipped stdlib goes: `getpath`'s zip landmark for 3.11.
const ZIP: &str = "/usr/lib/python311.zip";
/// The package holding it.
const ZIPPED: &str = "pyvet-stdlib-zipped";

fn member(name: &str) -> String {
    format!("{ZIP}/{name}")
}

/// The status-quo subset in `/usr/lib/python3.11` plus the same subset
/// zipped as `/usr/lib/python311.zip`, pycs made with `invalidation`
/// (`timestamp` or `checked-hash`), one rpm, installed with `rpm --root`.
fn zipped_root(invalidation: &str) -> Zipped {
    zipped_root_in(invalidation, "UTC")
}

/// [`zipped_root`], the zip written by `zipfile` running in time zone `tz`
/// (its MS-DOS times are that zone's local time).
fn zipped_root_in(invalidation: &str, tz: &str) -> Zipped {
    let dir = tempfile::tempdir().unwrap();
    let stage = dir.path().join("stage");
    rpmroot::stage_subset(&stage);
    rpmroot::compile(&stage.join(&STDLIB[1..]), &[0, 1, 2]);
    let zsrc = dir.path().join("zsrc");
    rpmroot::stage_subset(&zsrc);
    let lib = zsrc.join(&STDLIB[1..]);
    run_stdout(
        Command::new(PYTHON)
            .args(["-m", "compileall", "-q", "-f", "-b", "-d", ZIP])
            .args(["--invalidation-mode", invalidation])
            .arg(&lib),
    );
    let zip = stage.join(&ZIP[1..]);
    let top: BTreeSet<&str> = SUBSET
        .iter()
        .map(|f| f.split('/').next().unwrap())
        .collect();
    let mut cmd = Command::new(PYTHON);
    cmd.current_dir(&lib)
        .env("TZ", tz)
        .args(["-m", "zipfile", "-c"])
        .arg(&zip);
    for t in top {
        cmd.arg(t);
        if t.ends_with(".py") {
            cmd.arg(format!("{t}c"));
        }
    }
    run_stdout(&mut cmd);
    let rpm = rpmroot::build_rpm(dir.path(), &stage, ZIPPED);
    let root = dir.path().join("root");
    rpmroot::install(&root, &rpm);
    assert!(rpm.is_file());
    Zipped { _dir: dir, root }
}

/// A root made by [`zipped_root`].
struct Zipped {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// A path inside a root.
fn at(root: &Path, inside: &str) -> PathBuf {
    root.join(inside.trim_start_matches('/'))
}

/// Rewrites the installed zip with Python's `zipfile`: `append` is added
/// to the member `edit`'s bytes (keeping its directory entry, so its time
/// stays), and the pyc `py_compile` makes of `extra_source` is added as
/// `extra` (without its source).
fn tamper(root: &Path, edit: Option<&str>, append: &str, extra: Option<(&str, &str)>) {
    let work = root.parent().unwrap().join("tamper");
    std::fs::create_dir_all(&work).unwrap();
    let code = r#"
import os, py_compile, shutil, sys, zipfile
zpath, work, edit, append, extra, extra_src = sys.argv[1:7]
old = os.path.join(work, "old.zip")
shutil.copy(zpath, old)
with zipfile.ZipFile(old) as zin, zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zout:
    for info in zin.infolist():
        data = zin.read(info)
        if info.filename == edit:
            data += append.encode()
        zout.writestr(info, data)
    if extra:
        src = os.path.join(work, "extra.py")
        with open(src, "w") as f:
            f.write(extra_src)
        pyc = py_compile.compile(src, cfile=os.path.join(work, "extra.pyc"), doraise=True)
        zout.write(pyc, extra)
"#;
    let (extra, extra_src) = extra.unwrap_or(("", ""));
    run_stdout(
        Command::new(PYTHON)
            .args(["-c", code])
            .arg(at(root, ZIP))
            .arg(&work)
            .args([edit.unwrap_or(""), append, extra, extra_src]),
    );
}

/// What the real `zipimport` loads for `module` from the root's zip: the
/// member name `__file__` ends with (`json/decoder.pyc` or `.py`).
fn zipimport_loads(root: &Path, module: &str) -> String {
    zipimport_loads_in(root, module, "UTC")
}

/// [`zipimport_loads`] with the interpreter in time zone `tz`.
fn zipimport_loads_in(root: &Path, module: &str, tz: &str) -> String {
    let code = "import importlib, sys\n\
                sys.path.insert(0, sys.argv[1])\n\
                m = importlib.import_module(sys.argv[2])\n\
                print(m.__file__[len(sys.argv[1]) + 1:])";
    let out = run_stdout(
        Command::new(PYTHON)
            .env("TZ", tz)
            .args(["-I", "-S", "-B", "-c", code])
            .arg(at(root, ZIP))
            .arg(module),
    );
    // The last line: the module itself may print.
    let out = String::from_utf8(out).unwrap();
    out.lines().last().unwrap_or_default().to_string()
}

#[test]
fn zipped_stdlib_audits_clean_and_zipimport_uses_its_pycs() {
    let r = zipped_root("timestamp");
    let report = audit(&r.root, &[]);
    assert_eq!(found(&report), set(&[]));
    // 24 pycs in the tree (8 sources, 3 levels) and 8 in the zip.
    assert_eq!(report["summary"]["pycs_judged"], 32);
    for (module, member) in [
        ("colorsys", "colorsys.pyc"),
        ("json", "json/__init__.pyc"),
        ("json.decoder", "json/decoder.pyc"),
    ] {
        assert_eq!(zipimport_loads(&r.root, module), member, "{module}");
    }
}

#[test]
fn a_zip_written_in_another_time_zone_audits_clean() {
    // UTC+05:30 (India's, as a POSIX TZ string: no tzdata needed).
    // zipimport in UTC finds every timestamp pyc stale and compiles the
    // source; in that zone it uses the pycs.
    let tz = "IST-5:30";
    let r = zipped_root_in("timestamp", tz);
    assert_eq!(zipimport_loads_in(&r.root, "colorsys", tz), "colorsys.pyc");
    assert_eq!(
        zipimport_loads_in(&r.root, "colorsys", "UTC"),
        "colorsys.py"
    );
    // pyvet cannot know the zone of the interpreter: the pycs are current
    // in one, so nothing is reported.
    assert_eq!(found(&audit(&r.root, &[])), set(&[]));
}

#[test]
fn a_tampered_source_member_and_a_sourceless_member_are_found() {
    let r = zipped_root("timestamp");
    tamper(
        &r.root,
        Some("json/decoder.py"),
        "\nimport os\n",
        Some(("evil.pyc", "print('pwned')\n")),
    );
    let report = audit(&r.root, &[]);
    let decoder = member("json/decoder.pyc");
    let evil = member("evil.pyc");
    assert_eq!(
        found(&report),
        set(&[("stale-bytecode", &decoder), ("sourceless-bytecode", &evil)])
    );
    let f = finding(&report, "stale-bytecode", &decoder);
    assert_eq!(f["package"]["name"], ZIPPED);
    assert_eq!(
        f["evidence"]["bytecode"]["source"],
        member("json/decoder.py")
    );
    assert_eq!(f["evidence"]["extra"]["zip"], ZIP);
    assert_eq!(f["evidence"]["extra"]["member"], "json/decoder.pyc");
    let f = finding(&report, "sourceless-bytecode", &evil);
    assert_eq!(f["severity"], "error");
    assert_eq!(f["evidence"]["bytecode"]["python"], "3.11");
    // The real zipimport agrees: the stale pyc is skipped for the edited
    // source, the sourceless one is run as is.
    assert_eq!(zipimport_loads(&r.root, "json.decoder"), "json/decoder.py");
    assert_eq!(zipimport_loads(&r.root, "evil"), "evil.pyc");
    assert_eq!(zipimport_loads(&r.root, "colorsys"), "colorsys.pyc");
}

#[test]
fn a_checked_hash_member_whose_source_changed_is_a_hash_mismatch() {
    let r = zipped_root("checked-hash");
    assert_eq!(found(&audit(&r.root, &[])), set(&[]));
    assert_eq!(zipimport_loads(&r.root, "keyword"), "keyword.pyc");
    tamper(&r.root, Some("keyword.py"), "\n# edited\n", None);
    let report = audit(&r.root, &[]);
    let pyc = member("keyword.pyc");
    assert_eq!(found(&report), set(&[("hash-mismatch-bytecode", &pyc)]));
    let b = &finding(&report, "hash-mismatch-bytecode", &pyc)["evidence"]["bytecode"];
    assert_eq!(b["kind"], "checked-hash");
    assert_eq!(b["verdict"], "hash-mismatch");
    assert_eq!(zipimport_loads(&r.root, "keyword"), "keyword.py");
}

#[test]
fn an_unowned_zip_named_by_an_unowned_pth_is_found() {
    let r = RpmRoot::status_quo();
    let site = r.path("/usr/lib/python3.11/site-packages");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::create_dir_all(r.path("/opt")).unwrap();
    // A relative line, climbing out of the site directory, as site.py joins it.
    std::fs::write(
        site.join("evil.pth"),
        "# payload\n../../../../opt/payload.zip\n",
    )
    .unwrap();
    let src = r.root.parent().unwrap().join("payload");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("payload.py"), "print('pwned')\n").unwrap();
    run_stdout(
        Command::new(PYTHON)
            .current_dir(&src)
            .args(["-m", "zipfile", "-c"])
            .arg(r.path("/opt/payload.zip"))
            .arg("payload.py"),
    );
    let report = audit(&r.root, &[]);
    assert_eq!(
        found(&report),
        set(&[
            ("unowned-pth", "/usr/lib/python3.11/site-packages/evil.pth"),
            ("unowned-module", "/opt/payload.zip"),
        ])
    );
    let f = finding(&report, "unowned-module", "/opt/payload.zip");
    assert_eq!(f["severity"], "error");
    assert_eq!(
        f["evidence"]["extra"]["on-path"],
        "named by /usr/lib/python3.11/site-packages/evil.pth"
    );
}

#[test]
fn an_unowned_default_zip_is_found_with_its_members() {
    let r = RpmRoot::status_quo();
    let src: PathBuf = r.root.parent().unwrap().join("z");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("sitecustomize.py"), "print('pwned')\n").unwrap();
    run_stdout(
        Command::new(PYTHON)
            .args(["-m", "py_compile"])
            .arg(src.join("sitecustomize.py")),
    );
    let pyc = src.join("__pycache__/sitecustomize.cpython-311.pyc");
    std::fs::rename(&pyc, src.join("sitecustomize.pyc")).unwrap();
    std::fs::remove_file(src.join("sitecustomize.py")).unwrap();
    run_stdout(
        Command::new(PYTHON)
            .current_dir(&src)
            .args(["-m", "zipfile", "-c"])
            .arg(r.path(ZIP))
            .arg("sitecustomize.pyc"),
    );
    let report = audit(&r.root, &[]);
    assert_eq!(
        found(&report),
        set(&[
            ("unowned-module", ZIP),
            ("sourceless-bytecode", &member("sitecustomize.pyc")),
        ])
    );
}
