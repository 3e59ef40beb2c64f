//! pip RECORD reading, checked against Python's own `csv` module on the
//! RECORDs of every pyenv interpreter on this machine, against files on
//! disk, and on a fixture written by `csv.writer` (tests/fixtures/record).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyvet::db::record;
use pyvet::manifest::{Backend, FileKind, Package, Source};

mod common;

/// Python reading RECORDs its own way: `csv.reader`, `os.path.normpath`,
/// `hashlib`. Prints, per RECORD, its rows and the paths whose recorded
/// digest or size differs from the file on disk.
const PY_READ: &str = r#"
import base64, csv, hashlib, json, os, sys
def unhex_or_b64(algo, v):
    if len(v) == 2 * hashlib.new(algo).digest_size:  # hex, as some Debian RECORDs have
        return bytes.fromhex(v).hex()
    return base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)).hex()
out = []
for rec in sys.argv[1:]:
    base = os.path.dirname(os.path.dirname(os.path.abspath(rec)))
    rows, differ = [], []
    with open(rec, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if not row:
                continue
            p, h, s = row
            full = os.path.normpath(os.path.join(base, p)).replace("//", "/", 1)
            algo = hexd = None
            if h:
                algo, v = h.split("=", 1)
                hexd = unhex_or_b64(algo, v)
                if not os.path.isfile(full):
                    differ.append(full)
                else:
                    with open(full, "rb") as g:
                        data = g.read()
                    if hashlib.new(algo, data).hexdigest() != hexd or (s and int(s) != len(data)):
                        differ.append(full)
            rows.append([full, algo, hexd, int(s) if s else None])
    out.append({"rows": rows, "differ": differ})
json.dump(out, sys.stdout)
"#;

fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn python_reading(records: &[PathBuf]) -> Vec<serde_json::Value> {
    let out = Command::new(python())
        .arg("-c")
        .arg(PY_READ)
        .args(records)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().unwrap().clone()
}

/// pyvet's entries in the same shape as [`PY_READ`]'s rows.
fn rows_of(p: &Package) -> Vec<serde_json::Value> {
    p.files
        .iter()
        .map(|f| {
            serde_json::json!([
                f.path.to_str().unwrap(),
                f.digest.as_ref().map(|d| d.algo.name()),
                f.digest.as_ref().map(|d| d.hex()),
                f.size,
            ])
        })
        .collect()
}

/// The entries whose file is missing or whose digest or size differs from
/// the file on disk, by pyvet's hashing.
fn differing(p: &Package) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in &p.files {
        let Some(want) = &f.digest else { continue };
        let same = pyvet::fsutil::open_regular(&f.path).is_ok_and(|(mut file, meta)| {
            want.algo.hash_reader(&mut file).unwrap() == *want
                && f.size.map_or(true, |s| s == meta.len())
        });
        if !same {
            out.insert(f.path.to_str().unwrap().to_owned());
        }
    }
    out
}

/// Reads each RECORD with pyvet (root `/`) and with Python, and requires
/// the same rows and the same files found differing from the disk.
/// Returns (rows, rows with digests, files differing).
fn same_as_python(records: &[PathBuf]) -> (usize, usize, usize) {
    let reference = python_reading(records);
    assert_eq!(reference.len(), records.len());
    let (mut rows, mut with_digest, mut differ) = (0, 0, 0);
    for (rec, py) in records.iter().zip(&reference) {
        let m = record::read(rec, Path::new("/")).unwrap();
        let p = &m.packages[0];
        assert_eq!(p.source.backend, Backend::PipRecord);
        assert!(!p.name.is_empty() && !p.version.is_empty(), "{rec:?}");
        assert_eq!(&rows_of(p), py["rows"].as_array().unwrap(), "{rec:?}");
        let py_differ: BTreeSet<String> = py["differ"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        let ours = differing(p);
        assert_eq!(ours, py_differ, "{rec:?}");
        rows += p.files.len();
        with_digest += p.files.iter().filter(|f| f.digest.is_some()).count();
        differ += ours.len();
    }
    (rows, with_digest, differ)
}

fn pyenv_records() -> Option<Vec<PathBuf>> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
    let versions = root.join("versions");
    if !versions.is_dir() {
        eprintln!(
            "PYENV MISSING at {}: pyenv RECORD tests skipped",
            versions.display()
        );
        return None;
    }
    let mut out = Vec::new();
    for v in std::fs::read_dir(&versions).unwrap() {
        let lib = v.unwrap().path().join("lib");
        for py in std::fs::read_dir(&lib).into_iter().flatten() {
            let site = py.unwrap().path().join("site-packages");
            for d in std::fs::read_dir(&site).into_iter().flatten() {
                let rec = d.unwrap().path().join("RECORD");
                if rec.to_string_lossy().contains(".dist-info/") && rec.is_file() {
                    out.push(rec);
                }
            }
        }
    }
    out.sort();
    Some(out)
}

#[test]
fn every_pyenv_record_reads_as_python_reads_it_and_matches_the_disk_the_same_way() {
    let Some(records) = pyenv_records() else {
        return;
    };
    assert!(
        records.len() >= 9,
        "one pip per interpreter at least: {records:?}"
    );
    let (rows, with_digest, differ) = same_as_python(&records);
    eprintln!(
        "pyenv: {} RECORDs, {rows} rows, {with_digest} with digests, {differ} differing from disk",
        records.len()
    );
}

/// The RECORDs of this host's own Python library directories (Debian's
/// include hex digests, and scripts recorded where Debian does not put them).
#[test]
fn host_records_read_as_python_reads_them() {
    let records = record::find_records(Path::new("/"));
    let (rows, with_digest, differ) = same_as_python(&records);
    eprintln!(
        "host: {} RECORDs, {rows} rows, {with_digest} with digests, {differ} differing from disk",
        records.len()
    );
}

#[test]
fn name_and_version_come_from_metadata() {
    let Some(records) = pyenv_records() else {
        return;
    };
    let pip = records
        .iter()
        .find(|r| r.to_string_lossy().contains("/pip-"))
        .unwrap();
    let metadata = std::fs::read_to_string(pip.with_file_name("METADATA")).unwrap();
    let header = |k: &str| {
        metadata
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim()
            .to_owned()
    };
    let p = &record::read(pip, Path::new("/")).unwrap().packages[0];
    assert_eq!(p.name, header("Name:"));
    assert_eq!(p.version, header("Version:"));
    assert_eq!(p.name, "pip");
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/record/root")
}

const FIXTURE_RECORD: &str = "usr/lib/python3.12/site-packages/Odd_Names-2.0.dist-info/RECORD";

#[test]
fn csv_writer_quoting_reads_as_python_reads_it() {
    let root = fixture_dir();
    let rec = root.join(FIXTURE_RECORD);
    let m = record::read(&rec, &root).unwrap();
    let p = &m.packages[0];
    assert_eq!((p.name.as_str(), p.version.as_str()), ("odd-names", "2.0"));
    let paths: Vec<&str> = p.files.iter().map(|f| f.path.to_str().unwrap()).collect();
    let site = "/usr/lib/python3.12/site-packages";
    assert_eq!(
        paths,
        [
            format!("{site}/odd/comma,name.py"),
            format!("{site}/odd/quote\"name\".py"),
            format!("{site}/odd/new\nline.py"),
            format!("{site}/odd/both \",\" .py"),
            format!("{site}/odd/ünïcödé.py"),
            "/usr/bin/odd-tool".into(),
            format!("{site}/Odd_Names-2.0.dist-info/RECORD"),
        ]
    );
    assert_eq!(p.files[0].size, Some(11));
    assert_eq!(p.files.iter().filter(|f| f.digest.is_some()).count(), 6);
    assert!(p.files.iter().all(|f| f.kind == FileKind::Unknown));
}

#[test]
fn fixture_parse_equals_python_csv_reader() {
    let root = fixture_dir();
    let rec = root.join(FIXTURE_RECORD);
    let script = r#"
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    json.dump([r for r in csv.reader(f) if r], sys.stdout)
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(&rec)
        .output()
        .unwrap();
    assert!(out.status.success());
    let py: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    let bytes = std::fs::read(&rec).unwrap();
    let source = Source {
        backend: Backend::PipRecord,
        file: rec.clone(),
    };
    // Placed under /a/b/c: each path must be Python's field joined there.
    let p = record::parse(&bytes, Path::new("/a/b/c"), source).unwrap();
    assert_eq!(p.files.len(), py.len());
    for (f, row) in p.files.iter().zip(&py) {
        let want = Path::new("/a/b/c").join(&row[0]);
        let want = lexical(&want);
        assert_eq!(&*f.path, want);
        assert_eq!(
            f.size,
            (!row[2].is_empty()).then(|| row[2].parse().unwrap())
        );
        let hash = f.digest.as_ref().map(|d| {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d.bytes);
            format!("{}={b64}", d.algo.name())
        });
        assert_eq!(hash.unwrap_or_default(), row[1]);
    }
}

fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

#[test]
fn find_records_on_this_host_equals_a_python_glob() {
    let script = r#"
import glob, os, json, sys
pats = ["/usr/lib/python3*/site-packages", "/usr/lib64/python3*/site-packages",
        "/usr/local/lib/python3*/site-packages", "/usr/local/lib/python3*/dist-packages",
        "/usr/lib/python3/dist-packages", "/usr/local/lib64/python3*/site-packages"]
found = set()
for p in pats:
    for rec in glob.glob(p + "/*.dist-info/RECORD"):
        if os.path.isfile(rec):
            found.add(os.path.realpath(rec))
json.dump(sorted(found), sys.stdout)
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    let want: Vec<PathBuf> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record::find_records(Path::new("/")), want);
}

#[test]
fn find_records_stays_inside_the_root_and_dedupes() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let mk = |p: &str| {
        let d = root.join(p);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("RECORD"), b"x,,\n").unwrap();
    };
    mk("usr/lib/python3.12/site-packages/a-1.dist-info");
    mk("usr/lib/python3.12/site-packages/not-a.egg-info");
    mk("usr/lib/python2.7/site-packages/old-1.dist-info");
    mk("usr/local/lib/python3.11/dist-packages/b-2.dist-info");
    mk("opt/site/c-3.dist-info");
    // Outside the root: must never be found.
    let outside = t
        .path()
        .join("outside/python3.9/site-packages/evil-1.dist-info");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("RECORD"), b"x,,\n").unwrap();
    let link = |target: &str, at: &str| {
        std::os::unix::fs::symlink(target, root.join(at)).unwrap();
    };
    link("lib", "usr/lib64"); // the same RECORDs again
    std::fs::create_dir_all(root.join("usr/local/lib64/python3.10")).unwrap();
    link("/opt/site", "usr/local/lib64/python3.10/site-packages"); // absolute: inside the root
    link(
        t.path().join("outside").to_str().unwrap(),
        "usr/local/lib64/python3.9x",
    );
    let found = record::find_records(&root);
    let want: Vec<PathBuf> = [
        "opt/site/c-3.dist-info/RECORD",
        "usr/lib/python3.12/site-packages/a-1.dist-info/RECORD",
        "usr/local/lib/python3.11/dist-packages/b-2.dist-info/RECORD",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect();
    assert_eq!(found, want);
    // Paths land where the RECORD really is inside the root.
    let m = record::read(&found[0], &root).unwrap();
    assert_eq!(&*m.packages[0].files[0].path, Path::new("/opt/site/x"));
    assert_eq!(m.packages[0].name, "c");
}

#[test]
fn record_outside_the_root_is_a_usage_error() {
    let rec = fixture_dir().join(FIXTURE_RECORD);
    let e = record::read(&rec, Path::new("/nonexistent-root")).unwrap_err();
    assert!(matches!(e, pyvet::Error::Usage(_)), "{e}");
}

#[test]
fn record_climbing_above_root_is_an_error_naming_the_file() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("site/x-1.dist-info");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("RECORD"), b"ok,,\n../../../../x,,\n").unwrap();
    let e = record::read(&d.join("RECORD"), t.path()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&d.join("RECORD").display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains("line 2: path \"../../../../x\" climbs above / from \"/site\""),
        "{msg}"
    );
}

mod peak {
    //! Per-thread peak of live heap bytes, to show what one call allocates.
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LIVE: Cell<usize> = const { Cell::new(0) };
        static PEAK: Cell<usize> = const { Cell::new(0) };
    }

    pub struct Counting;

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let _ = LIVE.try_with(|live| {
                live.set(live.get() + l.size());
                let _ = PEAK.try_with(|p| p.set(p.get().max(live.get())));
            });
            System.alloc(l)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, l: Layout) {
            let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(l.size())));
            System.dealloc(ptr, l)
        }
    }

    /// Runs `f` and returns its result and the most bytes it had live at once.
    pub fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        let r = f();
        (r, PEAK.with(Cell::get) - base)
    }
}

#[global_allocator]
static ALLOC: peak::Counting = peak::Counting;

#[test]
fn a_100_mb_line_errors_at_the_line_cap_without_being_held() {
    const HUNDRED_MB: usize = 100 << 20;
    const FEW_MB: usize = 4 << 20;
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("x-1.dist-info");
    std::fs::create_dir(&d).unwrap();
    let rec = d.join("RECORD");
    let line = vec![b'a'; HUNDRED_MB];
    std::fs::write(&rec, &line).unwrap();

    let start = std::time::Instant::now();
    let (r, peak) = peak::measure(|| record::read(&rec, t.path()));
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.ends_with(&format!(
            "line 1: longer than the limit of {} bytes",
            pyvet::limits::MAX_LINE
        )),
        "{msg}"
    );
    assert!(peak < FEW_MB, "read() peaked at {peak} bytes");
    eprintln!(
        "100 MB line: read() peaked at {peak} bytes in {:?}",
        start.elapsed()
    );
    assert!(start.elapsed().as_secs() < 1, "{:?}", start.elapsed());

    let source = Source {
        backend: Backend::PipRecord,
        file: rec.clone(),
    };
    let (r, peak) = peak::measure(|| record::parse(&line, Path::new("/"), source));
    assert!(matches!(
        r,
        Err(record::RecordError::LineTooLong { line: 1, .. })
    ));
    assert!(peak < FEW_MB, "parse() peaked at {peak} bytes");
    eprintln!("100 MB line: parse() peaked at {peak} bytes beyond its input");
}
