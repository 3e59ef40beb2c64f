//! pyvet's bytecode knowledge checked against every interpreter on this
//! machine: magic numbers, `importlib.util.source_hash`, code facts of each
//! interpreter's own stdlib pycs, and the fixture generator's reproducibility.
//! A missing interpreter skips only its own checks, loudly.

mod common;

mod pyc_common;

use std::path::Path;
use std::process::Command;

use pyc_common::{all_interpreters, fixture_interpreter, fixtures_dir, interpreter_versions, skip};
use pyvet::bytecode::hash::source_hash;
use pyvet::bytecode::judge::{judge, JudgeOptions};
use pyvet::bytecode::magic::{self, PyVersion};
use pyvet::bytecode::Verdict;
use pyvet::cli::HashCheckMode;

fn python(py: &Path, code: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        py.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn version_of(label: &str, mm: &str) -> PyVersion {
    PyVersion::parse(mm).unwrap_or_else(|| panic!("{label}: bad version {mm}"))
}

#[test]
fn magic_numbers_match_every_interpreter() {
    const MAGIC: &str = "import sys\ntry:\n    from importlib.util import MAGIC_NUMBER as m\nexcept ImportError:\n    import imp; m = imp.get_magic()\nsys.stdout.write(''.join('%02x' % b for b in bytearray(m)))";
    let interps = all_interpreters();
    assert!(
        !interps.is_empty() || std::env::var_os("CI").is_none(),
        "no interpreters"
    );
    for (label, py, mm) in &interps {
        let hex = python(py, MAGIC, &[]);
        let bytes: Vec<u8> = (0..4)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let info = magic::lookup(bytes.clone().try_into().unwrap())
            .unwrap_or_else(|| panic!("{label}: magic {hex} unknown"));
        assert_eq!(info.version, version_of(label, mm), "{label}");
        assert!(
            info.is_release,
            "{label}: {hex} should be the release magic"
        );
        assert_eq!(
            magic::release_magic(info.version).unwrap().to_vec(),
            bytes,
            "{label}"
        );
    }
    for v in [
        "2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13",
    ] {
        if !interps.iter().any(|(_, _, mm)| mm == v) {
            skip(&format!("no Python {v}: its magic was not cross-checked"));
        }
    }
}

/// Inputs of every length class SipHash treats differently, plus random ones.
fn hash_inputs() -> Vec<Vec<u8>> {
    let mut rng = common::XorShift::new(0x243F_6A88_85A3_08D3);
    let mut next = move || rng.next_u64();
    let mut inputs: Vec<Vec<u8>> = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 1000, 4096,
        100_000,
    ]
    .iter()
    .map(|&n| (0..n).map(|_| next() as u8).collect())
    .collect();
    for _ in 0..40 {
        let n = (next() % 3000) as usize;
        inputs.push((0..n).map(|_| next() as u8).collect());
    }
    inputs.push(b"x = 1\n".to_vec());
    inputs.push(
        "# -*- coding: utf-8 -*-\nNAME = 'caf\u{e9} \u{2603}'\n"
            .as_bytes()
            .to_vec(),
    );
    inputs
}

#[test]
fn source_hash_matches_every_interpreter() {
    const HASHES: &str = "import sys, struct, importlib.util as u\ndata = open(sys.argv[1], 'rb').read()\nat = 0\nwhile at < len(data):\n    (n,) = struct.unpack_from('<I', data, at)\n    print(u.source_hash(data[at + 4:at + 4 + n]).hex())\n    at += 4 + n";
    let inputs = hash_inputs();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("inputs");
    let mut blob = Vec::new();
    for i in &inputs {
        blob.extend_from_slice(&(i.len() as u32).to_le_bytes());
        blob.extend_from_slice(i);
    }
    std::fs::write(&file, blob).unwrap();
    let interps = all_interpreters();
    for minor in 7..=13 {
        let mm = format!("3.{minor}");
        let mine: Vec<_> = interps.iter().filter(|(_, _, v)| *v == mm).collect();
        if mine.is_empty() {
            skip(&format!("no Python {mm}: source_hash not compared"));
        }
        for (label, py, _) in mine {
            let version = version_of(label, &mm);
            let magic = magic::release_magic(version).unwrap();
            let theirs: Vec<String> = python(py, HASHES, &[file.to_str().unwrap()])
                .lines()
                .map(str::to_string)
                .collect();
            assert_eq!(theirs.len(), inputs.len(), "{label}");
            for (input, want) in inputs.iter().zip(&theirs) {
                let ours: String = source_hash(magic, version, input)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(&ours, want, "{label}: source_hash of {} bytes", input.len());
            }
        }
    }
}

/// For each interpreter's own top-level stdlib pycs: pyvet reads every one,
/// finds them valid, and its docstring fact agrees with the source's AST.
#[test]
fn stdlib_pycs_of_every_interpreter() {
    const EXPECT: &str = r#"import ast, os, sys
lib = os.path.dirname(os.__file__)
cache = os.path.join(lib, "__pycache__")
for name in sorted(os.listdir(cache)):
    parts = name.split(".")
    if len(parts) < 3 or parts[-1] != "pyc" or "." in parts[0]:
        continue
    src = os.path.join(lib, parts[0] + ".py")
    if not os.path.exists(src):
        continue
    try:
        body = ast.parse(open(src, "rb").read()).body
    except SyntaxError:
        continue
    first = body[0] if body else None
    text = (str,) if sys.version_info[0] == 3 else (str, unicode)
    const = lambda n: getattr(n, "value", getattr(n, "s", None))
    doc = isinstance(first, ast.Expr) and isinstance(const(first.value), text) and not parts[-2].startswith("opt-2")
    assign = (isinstance(first, ast.Assign) and len(first.targets) == 1 and getattr(first.targets[0], "id", "") == "__doc__"
              and isinstance(const(first.value), text))
    print("%s\t%d" % (os.path.join(cache, name), doc or assign))
"#;
    let py3 = all_interpreters()
        .into_iter()
        .filter(|(l, _, mm)| version_of(l, mm) >= PyVersion::new(3, 6));
    for (label, py, mm) in py3 {
        let out = python(&py, EXPECT, &[]);
        let opts = JudgeOptions {
            mode: HashCheckMode::Default,
            source: None,
            pycache_prefix: None,
            deep: false,
            header_only: false,
        };
        let mut n = 0;
        for line in out.lines() {
            let (pyc, doc) = line.split_once('\t').unwrap();
            let rep = judge(Path::new(pyc), &opts).unwrap();
            assert_eq!(rep.verdict, Verdict::Valid, "{label} {pyc}: {}", rep.reason);
            assert_eq!(rep.python.as_deref(), Some(mm.as_str()), "{pyc}");
            assert_eq!(rep.has_docstring, Some(doc == "1"), "{label} {pyc}");
            n += 1;
        }
        assert!(n > 100, "{label}: only {n} stdlib pycs checked");
    }
}

/// make.py, rerun, reproduces the committed fixtures of every interpreter
/// whose exact version is on this machine.
#[test]
fn fixture_generator_is_reproducible() {
    let committed = fixtures_dir();
    let versions = interpreter_versions(&committed);
    let present: Vec<&String> = versions
        .iter()
        .filter(|(id, v)| fixture_interpreter(id, v).is_some())
        .map(|(id, _)| id)
        .collect();
    if present.is_empty() {
        skip("none of the fixture interpreters is on this machine: make.py not rerun");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Ok(out) = Command::new("python3")
        .arg(committed.join("make.py"))
        .arg("--out")
        .arg(tmp.path())
        .output()
    else {
        skip("no python3 to run make.py with");
        return;
    };
    assert!(
        out.status.success(),
        "make.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let regenerated = interpreter_versions(tmp.path());
    let rows_of = |dir: &Path, id: &str| -> Vec<String> {
        std::fs::read_to_string(dir.join("FIXTURES.tsv"))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with(&format!("{id}\t")))
            .map(str::to_string)
            .collect()
    };
    for id in present {
        if regenerated.get(id) != versions.get(id) {
            skip(&format!(
                "{id}: make.py found another version than the fixtures'"
            ));
            continue;
        }
        assert_eq!(
            rows_of(tmp.path(), id),
            rows_of(&committed, id),
            "FIXTURES.tsv rows of {id}"
        );
        for entry in walkdir::WalkDir::new(committed.join(id)) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                let rel = entry.path().strip_prefix(&committed).unwrap();
                let again = std::fs::read(tmp.path().join(rel))
                    .unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
                assert!(
                    again == std::fs::read(entry.path()).unwrap(),
                    "{} differs when regenerated",
                    rel.display()
                );
            }
        }
    }
}
