//! Hostile zips: the bounded zip reader and `zipimport` judgement on
//! archives an attacker shaped. Every zip starts as one Python's own
//! `zipfile` wrote; the hostile ones are then edited in place (a size, an
//! offset, a count), as an attacker would.
//!
//! Each must give a typed error or a finding naming the zip and member —
//! never a panic — and the bombs must be refused without allocating more
//! than a little beyond the input: a counting global allocator measures
//! the heap's high-water mark.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use assert_cmd::cargo::CommandCargoExt;
use pyvet::bytecode::magic::PyVersion;
use pyvet::bytecode::zipimport::judge_archive;
use pyvet::cli::HashCheckMode;
use pyvet::format::zip::{Archive, Budget, ZipError};

use common::rpmroot::PYTHON;
use common::{run_stdout, XorShift};

const MIB: usize = 1 << 20;
/// A refused bomb may grow the heap by at most this much.
const BOMB_HEAP: usize = MIB;

struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counters are
// plain atomics and never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// One test at a time: the counters are process-wide, and a test running
/// beside a measurement would count in it.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f`, returning its result and how far the heap grew above where it was.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// A zip written by Python's `zipfile`: each `(name, python expression
/// for the bytes)`, deflated.
fn python_zip(dir: &Path, file: &str, members: &[(&str, &str)]) -> Vec<u8> {
    let path = dir.join(file);
    let mut code = String::from("import sys, zipfile\n");
    code.push_str("with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n");
    for (name, expr) in members {
        code.push_str(&format!("    z.writestr({name:?}, {expr})\n"));
    }
    run_stdout(Command::new(PYTHON).args(["-c", &code]).arg(&path));
    std::fs::read(path).unwrap()
}

/// Offsets of every occurrence of `sig`.
fn find_all(data: &[u8], sig: &[u8]) -> Vec<usize> {
    data.windows(sig.len())
        .enumerate()
        .filter(|(_, w)| *w == sig)
        .map(|(i, _)| i)
        .collect()
}

fn put32(data: &mut [u8], at: usize, v: u32) {
    data[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put16(data: &mut [u8], at: usize, v: u16) {
    data[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

const CENTRAL: &[u8] = b"PK\x01\x02";
const EOCD: &[u8] = b"PK\x05\x06";
/// Offsets inside a central directory entry.
const CD_CSIZE: usize = 20;
const CD_SIZE: usize = 24;

fn only_member_error(data: &[u8]) -> ZipError {
    let a = Archive::parse(data).expect("the directory itself is sound");
    assert_eq!(a.members.len(), 1);
    a.read(&a.members[0], &mut Budget::default()).unwrap_err()
}

#[test]
fn a_member_declaring_more_than_the_limit_is_refused_before_inflating() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    // 80 MiB of zeros deflate to ~80 KB.
    let zip = python_zip(d.path(), "bomb.zip", &[("a.pyc", "bytes(80 << 20)")]);
    assert!(zip.len() < MIB);
    let (err, grew) = peak_growth(|| only_member_error(&zip));
    assert!(
        matches!(&err, ZipError::MemberTooLarge { name, size, .. } if name == "a.pyc" && *size == 80 << 20),
        "{err}"
    );
    assert!(err.is_bomb());
    assert!(grew < BOMB_HEAP, "grew {grew} bytes");
}

#[test]
fn a_member_inflating_past_its_declared_size_is_cut_there() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let mut zip = python_zip(d.path(), "liar.zip", &[("a.pyc", "bytes(32 << 20)")]);
    let cd = find_all(&zip, CENTRAL)[0];
    put32(&mut zip, cd + CD_SIZE, 100);
    let (err, grew) = peak_growth(|| only_member_error(&zip));
    assert_eq!(
        err,
        ZipError::SizeMismatch {
            name: "a.pyc".into(),
            declared: 100,
            actual: "more than 100".into()
        }
    );
    assert!(grew < BOMB_HEAP, "grew {grew} bytes");
}

#[test]
fn members_past_the_total_budget_are_refused() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let zip = python_zip(
        d.path(),
        "many.zip",
        &[("a.pyc", "bytes(4096)"), ("b.pyc", "bytes(4096)")],
    );
    let a = Archive::parse(&zip).unwrap();
    let mut budget = Budget::new(6000);
    assert_eq!(a.read(&a.members[0], &mut budget).unwrap().len(), 4096);
    let err = a.read(&a.members[1], &mut budget).unwrap_err();
    assert!(
        matches!(&err, ZipError::TotalTooLarge { name, .. } if name == "b.pyc"),
        "{err}"
    );
    assert!(err.is_bomb());
}

#[test]
fn overlapping_members_are_a_bomb() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let mut zip = python_zip(
        d.path(),
        "overlap.zip",
        &[("a.pyc", "b'a' * 1000"), ("b.pyc", "b'b' * 1000")],
    );
    // a.pyc's data now runs over b.pyc's local header, as in the
    // non-recursive bomb where every member shares one deflate stream.
    let cd = find_all(&zip, CENTRAL)[0];
    let csize = u32::from_le_bytes(zip[cd + CD_CSIZE..cd + CD_CSIZE + 4].try_into().unwrap());
    put32(&mut zip, cd + CD_CSIZE, csize + 40);
    let err = Archive::parse(&zip).unwrap_err();
    assert_eq!(
        err,
        ZipError::Overlap {
            name: "b.pyc".into(),
            other: "a.pyc".into()
        }
    );
    assert!(err.is_bomb());
    // Two directory entries for one local header.
    let zip = python_zip(d.path(), "one.zip", &[("a.pyc", "b'a' * 1000")]);
    let (cd, eocd) = (find_all(&zip, CENTRAL)[0], find_all(&zip, EOCD)[0]);
    let mut twice = zip[..eocd].to_vec();
    twice.extend_from_slice(&zip[cd..eocd]);
    twice.extend_from_slice(&zip[eocd..]);
    let e = twice.len() - 22;
    put16(&mut twice, e + 8, 2);
    put16(&mut twice, e + 10, 2);
    put32(&mut twice, e + 12, 2 * (eocd - cd) as u32);
    assert!(matches!(
        Archive::parse(&twice).unwrap_err(),
        ZipError::Overlap { .. }
    ));
}

#[test]
fn absurd_entry_counts_are_refused_without_allocating() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let zip = python_zip(d.path(), "count.zip", &[("a.pyc", "b'a'")]);
    let e = zip.len() - 22;
    let mut big = zip.clone();
    put16(&mut big, e + 8, 0xFFFE);
    put16(&mut big, e + 10, 0xFFFE);
    let (err, grew) = peak_growth(|| Archive::parse(&big).unwrap_err());
    assert!(
        matches!(err, ZipError::CountMismatch { count: 0xFFFE, .. }),
        "{err}"
    );
    assert!(grew < BOMB_HEAP, "grew {grew} bytes");
    let mut z64 = zip.clone();
    put16(&mut z64, e + 8, 0xFFFF);
    put16(&mut z64, e + 10, 0xFFFF);
    assert_eq!(Archive::parse(&z64).unwrap_err(), ZipError::Zip64);
}

#[test]
fn the_most_members_a_zip_can_declare_are_judged_in_one_pass() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("wide.zip");
    // 65 534 members, the most Python writes without zip64 (it switches
    // at 0xFFFF): pycs of a few bytes, each with a source member to look up.
    let code = "import sys, zipfile\n\
                with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
                \x20   for i in range(32767):\n\
                \x20       z.writestr(f'm{i}.py', b'')\n\
                \x20       z.writestr(f'm{i}.pyc', b'\\xa7\\r\\r\\n')\n";
    run_stdout(Command::new(PYTHON).args(["-c", code]).arg(&path));
    let zip = std::fs::read(&path).unwrap();
    let a = Archive::parse(&zip).unwrap();
    assert_eq!(a.members.len(), 0xFFFE);
    let judged = judge_archive(
        &a,
        &[PyVersion::new(3, 11)],
        HashCheckMode::Default,
        &mut Budget::default(),
    );
    assert_eq!(judged.len(), 32767);
    assert!(judged
        .iter()
        .all(|r| r.as_ref().unwrap().verdict == pyvet::bytecode::Verdict::Corrupt));
}

#[test]
fn truncated_and_mutated_zips_never_panic() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let zip = python_zip(
        d.path(),
        "small.zip",
        &[
            ("m.py", "b'x = 1\\n'"),
            (
                "m.pyc",
                "__import__('importlib.util').util.MAGIC_NUMBER + bytes(12) + __import__('marshal').dumps(compile('x = 1', 'm.py', 'exec'))",
            ),
            ("pkg/__init__.pyc", "b'\\xa7\\r\\r\\n' + bytes(12)"),
        ],
    );
    let versions = [PyVersion::new(3, 11)];
    let exercise = |data: &[u8]| {
        if let Ok(a) = Archive::parse(data) {
            for r in judge_archive(
                &a,
                &versions,
                HashCheckMode::Default,
                &mut Budget::default(),
            ) {
                let _ = r.map_err(|e| e.to_string());
            }
        }
    };
    exercise(&zip);
    // A cut anywhere: the end record or the directory is gone or short.
    for cut in 0..zip.len() {
        let r = Archive::parse(&zip[..cut]);
        assert!(r.is_err(), "a zip cut at {cut} of {} parsed", zip.len());
        exercise(&zip[..cut]);
    }
    let mut rng = XorShift::new(0x5eed_2b1d);
    for _ in 0..5000 {
        let mut m = zip.clone();
        let n = 1 + (rng.next_u64() % 8) as usize;
        rng.mutate(&mut m, n);
        exercise(&m);
    }
}

#[test]
fn a_truncated_central_directory_is_an_error() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let zip = python_zip(d.path(), "two.zip", &[("a.pyc", "b'a'"), ("b.pyc", "b'b'")]);
    let (cd, eocd) = (find_all(&zip, CENTRAL)[1], find_all(&zip, EOCD)[0]);
    // The second directory entry is cut out; the end record still counts it.
    let mut cut = zip[..cd + 10].to_vec();
    cut.extend_from_slice(&zip[eocd..]);
    let e = cut.len() - 22;
    let size =
        u32::from_le_bytes(cut[e + 12..e + 16].try_into().unwrap()) - (eocd - cd - 10) as u32;
    put32(&mut cut, e + 12, size);
    assert!(matches!(
        Archive::parse(&cut).unwrap_err(),
        ZipError::CountMismatch { count: 2, .. } | ZipError::TruncatedDirectory { index: 1 }
    ));
}

/// `pyvet audit --root R --format json`: the (rule, path) of every finding.
fn audit(root: &Path) -> Vec<(String, String)> {
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(["audit", "--format", "json", "--root"])
        .arg(root)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut f: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] != "no-manifest")
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    f.sort();
    f
}

fn root_with_zip(zip: &[u8]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("usr/lib")).unwrap();
    std::fs::write(d.path().join("usr/lib/python311.zip"), zip).unwrap();
    d
}

#[test]
fn the_audit_reports_bombs_and_escaping_names_at_the_zip_and_member() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let bomb = python_zip(
        d.path(),
        "bomb.zip",
        &[("json/decoder.pyc", "bytes(80 << 20)")],
    );
    let r = root_with_zip(&bomb);
    assert_eq!(
        audit(r.path()),
        [(
            "zip-bomb".to_string(),
            "/usr/lib/python311.zip/json/decoder.pyc".to_string()
        )]
    );
    let esc = python_zip(
        d.path(),
        "esc.zip",
        &[("../../etc/evil.pyc", "b'x'"), ("/abs.py", "b'y'")],
    );
    let r = root_with_zip(&esc);
    assert_eq!(
        audit(r.path()),
        [
            (
                "zip-malformed".to_string(),
                "/usr/lib/python311.zip".to_string()
            ),
            (
                "zip-malformed".to_string(),
                "/usr/lib/python311.zip".to_string()
            )
        ]
    );
    let r = root_with_zip(b"not a zip at all");
    assert_eq!(
        audit(r.path()),
        [(
            "zip-malformed".to_string(),
            "/usr/lib/python311.zip".to_string()
        )]
    );
}
