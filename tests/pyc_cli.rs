//! `pyvet pyc` on the command line: output formats, exit codes, errors.

mod pyc_common;

use assert_cmd::Command;
use pyc_common::{fixture_copy, recorded_interpreter, skip};

fn pyvet() -> Command {
    let mut c = Command::cargo_bin("pyvet").unwrap();
    c.env_remove("PYTHONPYCACHEPREFIX");
    c
}

#[test]
fn valid_pyc_exits_zero_with_one_text_line() {
    let (tmp, _) = fixture_copy();
    let pyc = tmp
        .path()
        .join("py312/doc-timestamp-opt0/__pycache__/doc.cpython-312.pyc");
    let out = pyvet()
        .arg("pyc")
        .arg(&pyc)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let fields: Vec<&str> = text.trim_end().split("  ").collect();
    assert_eq!(
        fields[..4],
        [pyc.to_str().unwrap(), "valid", "3.12", "timestamp"],
        "{text}"
    );
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn json_document_and_findings_exit_one() {
    let (tmp, _) = fixture_copy();
    let stale = tmp
        .path()
        .join("py311/stale-mtime/__pycache__/doc.cpython-311.pyc");
    let checked = tmp
        .path()
        .join("py311/doc-checked-hash-opt2/__pycache__/doc.cpython-311.opt-2.pyc");
    let out = pyvet()
        .args(["pyc", "--format", "json"])
        .arg(&stale)
        .arg(&checked)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["schema"], "pyvet-pyc/1");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    let s = &files[0];
    assert_eq!(s["path"], stale.to_str().unwrap());
    assert_eq!(
        (
            s["verdict"].as_str(),
            s["python"].as_str(),
            s["magic"].as_u64(),
            s["kind"].as_str()
        ),
        (Some("stale"), Some("3.11"), Some(3495), Some("timestamp"))
    );
    assert_eq!(s["mtime"], 1_700_000_000);
    assert_eq!(
        s["source"],
        tmp.path()
            .join("py311/stale-mtime/doc.py")
            .to_str()
            .unwrap()
    );
    assert_eq!(s["source_exists"], true);
    assert_eq!(s["co_filename"], "/pyvet-fixtures/py311/stale-mtime/doc.py");
    assert_eq!(s["has_docstring"], true);
    assert_eq!(
        s["reason"],
        "pyc mtime 1700000000 != source mtime 1700000001"
    );
    let c = &files[1];
    assert_eq!(
        (
            c["verdict"].as_str(),
            c["kind"].as_str(),
            c["opt_level"].as_str(),
            c["has_docstring"].as_bool()
        ),
        (Some("valid"), Some("checked-hash"), Some("2"), Some(false))
    );
    assert_eq!(c["hash"].as_str().map(str::len), Some(16));
}

#[test]
fn hash_mode_flag_changes_the_verdict() {
    let (tmp, _) = fixture_copy();
    let pyc = tmp
        .path()
        .join("py313/unchecked-modified/__pycache__/doc.cpython-313.pyc");
    let run = |mode: &str| {
        let out = pyvet()
            .args(["pyc", "--check-hash-based-pycs", mode])
            .arg(&pyc)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, text) = run("default");
    assert_eq!(code, Some(1));
    assert!(text.contains("  unchecked-hash  3.13  unchecked-hash  unchecked-hash pyc: used without checking (its hash does NOT match the source)"), "{text}");
    let (code, text) = run("always");
    assert_eq!(code, Some(1));
    assert!(text.contains("  hash-mismatch  "), "{text}");
}

#[test]
fn explicit_source_is_used() {
    let (tmp, _) = fixture_copy();
    let pyc = tmp
        .path()
        .join("py310/orphan/__pycache__/doc.cpython-310.pyc");
    pyvet()
        .arg("pyc")
        .arg(&pyc)
        .assert()
        .code(1)
        .stdout(predicates::str::contains("  orphan  "));
    let other = tmp.path().join("py310/doc-timestamp-opt0/doc.py");
    pyvet()
        .arg("pyc")
        .arg("--source")
        .arg(&other)
        .arg(&pyc)
        .assert()
        .code(0)
        .stdout(predicates::str::contains("  valid  "));
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let (tmp, _) = fixture_copy();
    let good = tmp
        .path()
        .join("py39/doc-timestamp-opt0/__pycache__/doc.cpython-39.pyc");
    let missing = tmp.path().join("nope.cpython-39.pyc");
    pyvet()
        .arg("pyc")
        .arg(&missing)
        .arg(&good)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nope.cpython-39.pyc"))
        .stdout(predicates::str::contains("  valid  "));
}

#[test]
fn usage_errors_exit_two() {
    pyvet().arg("pyc").assert().code(2);
    pyvet()
        .args(["pyc", "--deep", "--interpreter", "3.12", "x.pyc"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("VERSION=PATH"));
    pyvet()
        .args(["pyc", "--check-hash-based-pycs", "sometimes", "x.pyc"])
        .assert()
        .code(2);
}

#[test]
fn fifo_is_refused_quickly() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("x.pyc");
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    pyvet()
        .arg("pyc")
        .arg(&p)
        .timeout(std::time::Duration::from_secs(10))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a regular file"));
}

#[test]
fn pycache_prefix_from_the_environment() {
    let (tmp, _) = fixture_copy();
    let src_dir = tmp.path().join("py312/doc-timestamp-opt0");
    let prefix = tmp.path().join("prefix");
    let rel = src_dir.strip_prefix("/").unwrap();
    std::fs::create_dir_all(prefix.join(rel)).unwrap();
    let pyc = prefix.join(rel).join("doc.cpython-312.pyc");
    std::fs::copy(src_dir.join("__pycache__/doc.cpython-312.pyc"), &pyc).unwrap();
    pyvet()
        .arg("pyc")
        .arg(&pyc)
        .assert()
        .code(1)
        .stdout(predicates::str::contains("  orphan  "));
    pyvet()
        .env("PYTHONPYCACHEPREFIX", &prefix)
        .arg("pyc")
        .arg(&pyc)
        .assert()
        .code(0)
        .stdout(predicates::str::contains("  valid  "));
}

#[test]
fn deep_on_the_command_line() {
    let (tmp, _) = fixture_copy();
    let Some(py) = recorded_interpreter(tmp.path(), "py312") else {
        skip("Python 3.12 is not on this machine: pyvet pyc --deep not run");
        return;
    };
    let tampered = tmp
        .path()
        .join("py312/tampered/__pycache__/doc.cpython-312.pyc");
    let pristine = tmp
        .path()
        .join("py312/doc-timestamp-opt1/__pycache__/doc.cpython-312.opt-1.pyc");
    pyvet().arg("pyc").arg(&tampered).assert().code(0);
    let interp = format!("3.12={}", py.display());
    let out = pyvet()
        .args(["pyc", "--deep", "--interpreter", &interp])
        .arg(&tampered)
        .arg(&pristine)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("  diverges  ") && lines[0].contains("module.co_consts[0]"),
        "{text}"
    );
    assert!(
        lines[1].contains("  valid  ") && lines[1].contains("code equals the compilation"),
        "{text}"
    );
}

/// The helper's report of a difference holds the source's text; it must
/// reach pyvet even where the interpreter's stdout is ASCII (3.6 in the C locale).
#[test]
fn deep_reports_non_ascii_differences_in_the_c_locale() {
    let (tmp, _) = fixture_copy();
    let Some(py) = recorded_interpreter(tmp.path(), "py36") else {
        skip("Python 3.6 is not on this machine: C-locale --deep check not run");
        return;
    };
    let pyc = tmp
        .path()
        .join("py36/uni-timestamp-opt0/__pycache__/uni.cpython-36.pyc");
    let data = std::fs::read(&pyc).unwrap();
    let (from, to) = ("caf\u{e9}".as_bytes(), "cAf\u{e9}".as_bytes());
    let at = data
        .windows(from.len())
        .position(|w| w == from)
        .expect("café in the payload");
    let mut tampered = data.clone();
    tampered[at..at + from.len()].copy_from_slice(to);
    std::fs::write(&pyc, tampered).unwrap();
    let interp = format!("3.6={}", py.display());
    pyvet()
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .args(["pyc", "--deep", "--interpreter", &interp])
        .arg(&pyc)
        .assert()
        .code(1)
        .stdout(predicates::str::contains("  diverges  "))
        .stdout(predicates::str::contains(
            "'na\u{ef}ve cAf\u{e9} \u{2603} \u{1f600}' != 'na\u{ef}ve caf\u{e9}",
        ));
}
