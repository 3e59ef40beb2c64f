//! Hostile input: pyvet reads files an attacker may have written, so no
//! parser may panic, hang or allocate without bound on any input.
//!
//! Two kinds of proof live here:
//! - every real file of the third-party corpus (and of the committed
//!   fixtures) is cut short at every length (small files) or at a few hundred
//!   points (large ones) and fed to its parser: each cut must give a result
//!   or a typed error, without a panic, within a time budget;
//! - four bombs from the hostile-input issue (a 10 GiB zstd member in a tiny
//!   `.deb`, an RPM header claiming 2^31 index entries, a marshal stream
//!   nested 100 000 deep, a RECORD with a 100 MB line) must each be refused
//!   within a second without allocating more than a few MiB beyond the input.
//!
//! Allocation is measured, not guessed: a counting global allocator tracks
//! live and peak heap bytes, and the peak resident set (VmHWM, reset through
//! `/proc/self/clear_refs`) catches what C libraries allocate with `malloc`.
//! Every test here holds [`SERIAL`] so that the process-wide counters see one
//! test at a time.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyvet::format::rpmheader::Header;
use pyvet::manifest::{Backend, Source};

const MIB: usize = 1 << 20;
/// A bomb must be refused within this long (debug build included).
const BOMB_TIME: Duration = Duration::from_secs(1);
/// ... and without the heap growing by more than this beyond the input.
const BOMB_HEAP: usize = 4 * MIB;
/// ... nor the resident set (which also sees C `malloc`s) by more than this.
const BOMB_RSS: usize = 16 * MIB;
/// A parse that takes longer than this is treated as a hang.
const HANG_LIMIT: Duration = Duration::from_secs(20);
/// Stack of the threads parsers run on here: Rust's default for spawned
/// threads (test threads, rayon workers), smaller than the main thread's.
const PARSER_STACK: usize = 2 * MIB;

// ---------------------------------------------------------------------------
// Measuring allocation.

/// The system allocator, counting live bytes and their high-water mark.
struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(by: usize) {
    LIVE.fetch_sub(by, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are
// plain atomics and never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Held by every test, so the counters above measure one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    // A failed test poisons the lock; the others must still run.
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one call cost.
#[derive(Debug)]
struct Cost {
    elapsed: Duration,
    /// Highest heap use above the level when the call started.
    heap: usize,
    /// Growth of the peak resident set, where the kernel lets us reset it.
    rss: Option<usize>,
}

/// Reads a `kB` field of `/proc/self/status`, in bytes.
fn proc_status_bytes(field: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak resident set to the current one (Linux `clear_refs` 5)
/// and returns the current one.
fn reset_rss_peak() -> Option<usize> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    proc_status_bytes("VmRSS:")
}

/// Runs `f` on a fresh thread with a [`PARSER_STACK`] stack, measuring it;
/// panics (naming `what`) if it panics or does not finish within [`HANG_LIMIT`].
fn measure<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> (T, Cost) {
    let rss_before = reset_rss_peak();
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let value = on_parser_thread(what, HANG_LIMIT, f);
    let elapsed = start.elapsed();
    let heap = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let rss = rss_before.and_then(|b| Some(proc_status_bytes("VmHWM:")?.saturating_sub(b)));
    (value, Cost { elapsed, heap, rss })
}

fn on_parser_thread<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(PARSER_STACK)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("cannot spawn a parser thread");
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no answer within {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the parser panicked"),
    }
}

/// Asserts a bomb was refused quickly and cheaply.
fn assert_cheap(what: &str, cost: &Cost) {
    eprintln!("{what}: {cost:?}");
    assert!(
        cost.elapsed < BOMB_TIME,
        "{what}: took {:?}, limit {BOMB_TIME:?}",
        cost.elapsed
    );
    assert!(
        cost.heap <= BOMB_HEAP,
        "{what}: heap grew by {} bytes, limit {BOMB_HEAP}",
        cost.heap
    );
    if let Some(rss) = cost.rss {
        assert!(
            rss <= BOMB_RSS,
            "{what}: resident set grew by {rss} bytes, limit {BOMB_RSS}"
        );
    }
}

#[test]
fn measurement_sees_heap_and_resident_growth() {
    let _serial = serial();
    let size = 32 * MIB;
    let (v, cost) = measure("32 MiB", move || {
        let v = vec![1u8; size];
        std::hint::black_box(v.len())
    });
    assert_eq!(v, size);
    // The counters are process-wide: the test harness freeing the previous
    // test's captured output during the measurement lowers the peak a little.
    assert!(cost.heap >= size - MIB, "{cost:?}");
    if let Some(rss) = cost.rss {
        assert!(rss >= size - MIB, "{cost:?}");
    }
}

fn source(backend: Backend) -> Source {
    Source {
        backend,
        file: PathBuf::from("/hostile/input"),
    }
}

/// The committed fixtures directory, `tests/fixtures`.
fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

fn hostile_fixture(name: &str) -> PathBuf {
    fixtures().join("hostile").join(name)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// The parsers, by the kind of file they read.

/// One way of reading a file; a file may be fed to several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parser {
    /// An rpmdb header blob (no intro), then the package built from it.
    RpmHeaderBlob,
    /// The header after a `.rpm` lead (the signature header, with intro).
    RpmHeaderAfterLead,
    RpmFile,
    /// A `.rpm` read whole (payload included) as a package tree, then sized.
    RpmPayload,
    Bdb,
    Ndb,
    Sqlite,
    Deb822,
    DpkgStatus,
    DpkgList,
    DpkgMd5sums,
    DpkgConffiles,
    Ar,
    Deb,
    Apk,
    Record,
    Pyc,
    /// A marshal stream (no pyc header) written by CPython `major.minor`.
    Marshal(u8, u8),
}

/// Bytes of the `.rpm` lead that precedes the signature header.
const RPM_LEAD_LEN: usize = 96;

/// Which parsers read the file at `rel` (a path relative to the corpus or
/// fixtures root); empty for files that are not parser input.
fn parsers_for(rel: &Path) -> Vec<Parser> {
    use Parser::*;
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let under = |dir: &str| rel.components().any(|c| c.as_os_str() == dir);
    if under("expected") || name.ends_with(".md") || name.ends_with(".sh") {
        return vec![];
    }
    match name {
        "Packages" => return vec![Bdb],
        "Packages.db" => return vec![Ndb],
        "rpmdb.sqlite" => return vec![Sqlite],
        "RECORD" => return vec![Record],
        _ => {}
    }
    if let Some(v) = marshal_version(name) {
        return vec![Marshal(v.0, v.1)];
    }
    let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or_default();
    match ext {
        "rpm" => vec![RpmFile, RpmHeaderAfterLead, RpmPayload],
        "deb" | "udeb" => vec![Deb, Ar],
        "pyc" => vec![Pyc],
        "list" => vec![DpkgList],
        "conffiles" => vec![DpkgConffiles],
        "md5sums" => vec![DpkgMd5sums],
        _ if name == "md5sums" => vec![DpkgMd5sums],
        _ if under("header-blobs") => vec![RpmHeaderBlob],
        _ if under("apk") => vec![Apk],
        _ if under("dpkg") => vec![DpkgStatus, Deb822],
        _ => vec![],
    }
}

/// `3.11-nest.bin` was written by CPython 3.11's marshal.
fn marshal_version(name: &str) -> Option<(u8, u8)> {
    let (version, _) = name.strip_suffix(".bin")?.split_once('-')?;
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn consume<T, E: std::fmt::Display>(r: Result<T, E>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            // The message is what a user sees; rendering it must work too.
            assert!(!e.to_string().is_empty(), "an error with an empty message");
            None
        }
    }
}

/// A `.pyc`: its header, then (for a known CPython) the code object after it.
fn pyc_then_marshal(bytes: &[u8]) {
    let Some(header) = consume(pyvet::format::pyc::PycHeader::parse(bytes)) else {
        return;
    };
    if let (Some(known), Some(payload)) = (&header.python, bytes.get(header.size()..)) {
        let v = known.info.version;
        consume(pyvet::format::marshal::read_code_facts(
            payload,
            (v.major, v.minor),
        ));
    }
}

fn header_blobs<E: std::fmt::Display>(r: Result<Vec<Vec<u8>>, E>) {
    for blob in consume(r).unwrap_or_default() {
        if let Some(h) = consume(Header::parse(&blob)) {
            consume(pyvet::db::rpm::package_from_header(
                &h,
                source(Backend::RpmdbBdb),
            ));
        }
    }
}

/// Feeds `bytes` to `parser`. Parse errors are fine; an `Err` here means a
/// result broke an invariant (a member range outside the input, ...).
fn run(parser: Parser, bytes: &[u8], scratch: &Path) -> Result<(), String> {
    use pyvet::db::{apk, deb, dpkg, record, rpmdb, rpmfile};
    match parser {
        Parser::RpmHeaderBlob => {
            if let Some(h) = consume(Header::parse(bytes)) {
                consume(pyvet::db::rpm::package_from_header(
                    &h,
                    source(Backend::RpmHeader),
                ));
            }
        }
        Parser::RpmHeaderAfterLead => {
            let after = bytes.get(RPM_LEAD_LEN..).unwrap_or_default();
            if let Some((_, used)) = consume(Header::parse_with_intro(after)) {
                if used > after.len() {
                    return Err(format!("header used {used} of {} bytes", after.len()));
                }
            }
        }
        Parser::RpmFile => {
            consume(rpmfile::parse(bytes, source(Backend::RpmFile)));
        }
        Parser::RpmPayload => {
            use pyvet::tree::package::{PackageFormat, PayloadLimits};
            let path = scratch.join("package.rpm");
            std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
            let all = |_: &Path| true;
            let limits = PayloadLimits::default();
            let tree = pyvet::tree::PackageTree::open(&path, PackageFormat::Rpm, &all, &limits);
            if let Some(tree) = consume(tree) {
                consume(pyvet::size::of_tree(&tree, Path::new("/")));
            }
        }
        Parser::Bdb => header_blobs(rpmdb::bdb::blobs(bytes)),
        Parser::Ndb => header_blobs(rpmdb::ndb::blobs(bytes)),
        Parser::Sqlite => {
            let path = scratch.join("rpmdb.sqlite");
            std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
            header_blobs(rpmdb::sqlite::blobs(&path));
        }
        Parser::Deb822 => {
            consume(pyvet::format::deb822::parse(bytes));
        }
        Parser::DpkgStatus => {
            consume(dpkg::parse_status(bytes, source(Backend::Dpkg)));
        }
        Parser::DpkgList => {
            consume(dpkg::parse_list(bytes));
        }
        Parser::DpkgMd5sums => {
            consume(dpkg::parse_md5sums(bytes));
        }
        Parser::DpkgConffiles => {
            consume(dpkg::parse_conffiles(bytes));
        }
        Parser::Ar => {
            for m in consume(pyvet::format::ar::parse(bytes)).unwrap_or_default() {
                if m.data.start > m.data.end || m.data.end > bytes.len() {
                    return Err(format!(
                        "member {:?} at {:?} of {}",
                        m.name,
                        m.data,
                        bytes.len()
                    ));
                }
            }
        }
        Parser::Deb => {
            consume(deb::parse(bytes, source(Backend::Deb)));
        }
        Parser::Apk => {
            consume(apk::parse(bytes, source(Backend::Apk)));
        }
        Parser::Record => {
            let base = Path::new("/usr/lib/python3/site-packages");
            consume(record::parse(bytes, base, source(Backend::PipRecord)));
        }
        Parser::Pyc => pyc_then_marshal(bytes),
        Parser::Marshal(major, minor) => {
            consume(pyvet::format::marshal::read_code_facts(
                bytes,
                (major, minor),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Truncated real files.

/// Files up to this size are cut at every length.
const SMALL_FILE: usize = 4096;
/// Larger files get this many evenly spaced cuts at most ...
const MAX_CUTS: usize = 300;
/// ... and at least this many ...
const MIN_CUTS: usize = 40;
/// ... so that about this many bytes are parsed per file in all.
const BYTES_PER_FILE: usize = 256 * MIB;
/// Every prefix and suffix cut this close to either end (headers, trailers).
const EDGE: usize = 64;

/// Where to cut a file of `len` bytes.
fn cut_points(len: usize) -> Vec<usize> {
    if len <= SMALL_FILE {
        return (0..=len).collect();
    }
    let n = (2 * BYTES_PER_FILE / len).clamp(MIN_CUTS, MAX_CUTS);
    let mut cuts: Vec<usize> = (0..=n).map(|i| i * len / n).collect();
    cuts.extend(0..EDGE);
    cuts.extend(len - EDGE..len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Every file under `root` with the parsers that read it.
fn inputs_under(root: &Path, skip: &[&str]) -> Vec<(PathBuf, Vec<Parser>)> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.expect("cannot walk the corpus");
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir stays under its root");
        if skip.iter().any(|s| rel.starts_with(s)) {
            continue;
        }
        let parsers = parsers_for(rel);
        if !parsers.is_empty() {
            out.push((entry.path().to_path_buf(), parsers));
        }
    }
    out
}

/// Feeds every prefix from `cut_points` of `path` to `parser` on one
/// parser thread; fails on a panic, a broken invariant or a slow cut.
fn survive_prefixes(path: &Path, parser: Parser, per_cut: Duration) -> usize {
    let bytes = Arc::new(read(path));
    let cuts = cut_points(bytes.len());
    let n = cuts.len();
    let (tx, rx) = mpsc::channel();
    let worker_bytes = Arc::clone(&bytes);
    let scratch = tempfile::tempdir().expect("cannot create a scratch directory");
    let scratch_path = scratch.path().to_path_buf();
    std::thread::Builder::new()
        .stack_size(PARSER_STACK)
        .spawn(move || {
            for cut in cuts {
                let outcome = run(parser, &worker_bytes[..cut], &scratch_path);
                if tx.send((cut, outcome)).is_err() {
                    return;
                }
            }
        })
        .expect("cannot spawn a parser thread");
    let what = |cut: &str| format!("{parser:?} on {} cut at {cut}", path.display());
    let mut last = None;
    for _ in 0..n {
        match rx.recv_timeout(per_cut) {
            Ok((cut, Ok(()))) => last = Some(cut),
            Ok((cut, Err(broken))) => panic!("{}: {broken}", what(&cut.to_string())),
            Err(e) => panic!(
                "{}: {}",
                what(&format!("the one after {last:?}")),
                match e {
                    mpsc::RecvTimeoutError::Timeout => format!("no answer within {per_cut:?}"),
                    mpsc::RecvTimeoutError::Disconnected => "the parser panicked".into(),
                }
            ),
        }
    }
    n
}

/// A parse of any prefix of a real file (debug build) must end within this.
const PER_CUT: Duration = Duration::from_secs(10);

#[test]
fn every_parser_survives_every_truncation_of_real_files() {
    let _serial = serial();
    let mut inputs = Vec::new();
    if let Some(corpus) = common::corpus() {
        inputs.extend(inputs_under(&corpus, &[]));
    }
    // The bombs have their own tests below; cutting them proves nothing more.
    inputs.extend(inputs_under(&fixtures(), &["hostile/bomb-10g-zstd.deb"]));
    assert!(!inputs.is_empty(), "no input files found");
    let start = Instant::now();
    let mut parses = 0;
    for (path, parsers) in &inputs {
        for &parser in parsers {
            parses += survive_prefixes(path, parser, PER_CUT);
        }
    }
    eprintln!(
        "{} files, {parses} truncated parses in {:?}",
        inputs.len(),
        start.elapsed()
    );
}

#[test]
fn cut_points_cover_small_files_fully_and_large_files_sparsely() {
    let _serial = serial();
    assert_eq!(cut_points(3), vec![0, 1, 2, 3]);
    assert_eq!(cut_points(SMALL_FILE).len(), SMALL_FILE + 1);
    let big = cut_points(4 * MIB);
    assert!(big.len() <= MAX_CUTS + 2 * EDGE + 1, "{}", big.len());
    assert_eq!((big[0], big[EDGE - 1]), (0, EDGE - 1));
    assert_eq!(big.last(), Some(&(4 * MIB)));
    assert!(big.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn corpus_files_are_routed_to_their_parsers() {
    let _serial = serial();
    use Parser::*;
    let p = |s: &str| parsers_for(Path::new(s));
    assert_eq!(p("rpmdb/bdb/x/Packages"), vec![Bdb]);
    assert_eq!(p("rpmdb/ndb/x/Packages.db"), vec![Ndb]);
    assert_eq!(p("rpmdb/sqlite/x/rpmdb.sqlite"), vec![Sqlite]);
    assert_eq!(p("rpmdb/header-blobs/a.bin"), vec![RpmHeaderBlob]);
    assert_eq!(
        p("rpm/x/a-1-1.x86_64.rpm"),
        vec![RpmFile, RpmHeaderAfterLead, RpmPayload]
    );
    assert_eq!(p("deb/x/a_1_all.udeb"), vec![Deb, Ar]);
    assert_eq!(p("dpkg/x/status.d/foo"), vec![DpkgStatus, Deb822]);
    assert_eq!(p("dpkg/x/status.d/foo.md5sums"), vec![DpkgMd5sums]);
    assert_eq!(p("dpkg/x/extract/md5sums"), vec![DpkgMd5sums]);
    assert_eq!(p("dpkg/x/info/a.conffiles"), vec![DpkgConffiles]);
    assert_eq!(p("apk/x/installed"), vec![Apk]);
    assert_eq!(p("hostile/record/RECORD"), vec![Record]);
    assert_eq!(p("hostile/pyc/3.11.pyc"), vec![Pyc]);
    assert_eq!(p("hostile/marshal/3.11-nest.bin"), vec![Marshal(3, 11)]);
    assert_eq!(p("expected/files.tsv"), vec![]);
    assert_eq!(p("PROVENANCE.md"), vec![]);
}

// ---------------------------------------------------------------------------
// Bomb 1: a tiny .deb whose zstd data member decompresses to 10 GiB.

const TEN_GIB: u64 = 10 << 30;

/// Proves the fixture is what it claims: a small `.deb` whose data member
/// holds a tar entry of 10 GiB (read from the tar header, not decompressed).
fn assert_is_ten_gib_bomb(deb: &[u8]) {
    assert!(deb.len() < MIB, "the bomb is {} bytes", deb.len());
    let members = pyvet::format::ar::parse(deb).expect("the bomb is a valid ar archive");
    let data = members
        .iter()
        .find(|m| m.name == "data.tar.zst")
        .expect("the bomb has a data.tar.zst member");
    let member = deb
        .get(data.data.clone())
        .expect("member inside the archive");
    // The headers come first; the 10 GiB of data behind them is never read.
    let mut head = vec![0u8; TAR_HEADERS_READ * TAR_BLOCK];
    zstd::stream::read::Decoder::new(member)
        .expect("zstd member")
        .read_exact(&mut head)
        .expect("the first tar headers");
    let sizes: Vec<u64> = head.chunks(TAR_BLOCK).map(tar_size).collect();
    assert_eq!(sizes, [0, 0, 0, 0, TEN_GIB], "entry sizes");
}

const TAR_BLOCK: usize = 512;
/// `./`, `./usr/`, `./usr/share/`, `./usr/share/bomb/`, then the big file.
const TAR_HEADERS_READ: usize = 5;

/// The size field of a tar header: octal digits, or GNU base-256 when the
/// first byte has its top bit set (how tar writers store 8 GiB and more).
fn tar_size(header: &[u8]) -> u64 {
    let field = &header[124..136];
    if field[0] & 0x80 != 0 {
        return field[1..].iter().fold(0, |n, &b| n << 8 | u64::from(b));
    }
    field
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |n, &b| n * 8 + u64::from(b - b'0'))
}

#[test]
fn deb_zstd_member_of_10_gib_is_refused_quickly() {
    let _serial = serial();
    let path = hostile_fixture("bomb-10g-zstd.deb");
    let deb = read(&path);
    let (result, cost) = measure("deb bomb", move || {
        pyvet::db::deb::parse(&deb, source(Backend::Deb)).map_err(|e| e.to_string())
    });
    let err = result.expect_err("a 10 GiB member must be refused");
    eprintln!("deb bomb refused: {err}");
    assert_cheap("deb bomb", &cost);
    // Reading it from disk names the file in the error.
    let e = pyvet::db::deb::read(&path).expect_err("read must refuse it too");
    assert!(
        e.to_string().contains("bomb-10g-zstd.deb"),
        "error does not name the file: {e}"
    );
}

#[test]
fn deb_bomb_fixture_really_holds_10_gib() {
    let _serial = serial();
    let deb = read(&hostile_fixture("bomb-10g-zstd.deb"));
    assert_is_ten_gib_bomb(&deb);
}

// ---------------------------------------------------------------------------
// Bomb 2: an RPM header claiming 2^31 index entries.

const HEADER_INTRO: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];

/// A header blob of `il` index entries and `dl` data bytes (as claimed),
/// followed by `body` bytes of zeros.
fn header_claiming(il: u32, dl: u32, body: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + body);
    v.extend_from_slice(&il.to_be_bytes());
    v.extend_from_slice(&dl.to_be_bytes());
    v.resize(8 + body, 0);
    v
}

#[test]
fn rpm_header_claiming_2_pow_31_entries_is_refused() {
    let _serial = serial();
    for (il, dl) in [
        (1u32 << 31, 0u32),
        (1 << 31, 1 << 31),
        (u32::MAX, u32::MAX),
        (1, u32::MAX),
    ] {
        let what = format!("header il={il} dl={dl}");
        let blob = header_claiming(il, dl, 4096);
        let (r, cost) = measure(&what, move || {
            Header::parse(&blob).map(drop).map_err(|e| e.to_string())
        });
        let err = r.expect_err(&what);
        assert_cheap(&what, &cost);
        eprintln!("{what}: {err}");

        let mut with_intro = HEADER_INTRO.to_vec();
        with_intro.extend(header_claiming(il, dl, 4096));
        let (r, cost) = measure(&what, move || {
            Header::parse_with_intro(&with_intro)
                .map(drop)
                .map_err(|e| e.to_string())
        });
        r.expect_err(&what);
        assert_cheap(&what, &cost);
    }
}

/// Offset of the main header in a `.rpm`: after the lead, the signature
/// header (16 bytes per index entry, its data) and padding to 8 bytes.
fn main_header_offset(rpm: &[u8]) -> usize {
    let be = |at: usize| u32::from_be_bytes(rpm[at..at + 4].try_into().unwrap()) as usize;
    let sig = RPM_LEAD_LEN + HEADER_INTRO.len();
    let end = sig + 8 + 16 * be(sig) + be(sig + 4);
    end.next_multiple_of(8)
}

#[test]
fn rpm_file_whose_headers_claim_2_pow_31_entries_is_refused() {
    let _serial = serial();
    let Some(corpus) = common::corpus() else {
        return;
    };
    let real = read(&corpus.join("rpm/rpm-rs/RPMS/v4/rpm-empty-0-0.x86_64.rpm"));
    let main = main_header_offset(&real);
    assert_eq!(
        real[main..main + 8],
        HEADER_INTRO,
        "main header not where expected"
    );
    // The signature header, then the main header, claims 2^31 entries.
    for at in [RPM_LEAD_LEN + HEADER_INTRO.len(), main + HEADER_INTRO.len()] {
        let mut rpm = real.clone();
        rpm[at..at + 4].copy_from_slice(&(1u32 << 31).to_be_bytes());
        let what = format!(".rpm with il=2^31 at {at}");
        let (r, cost) = measure(&what, move || {
            pyvet::db::rpmfile::parse(&rpm, source(Backend::RpmFile))
                .map(drop)
                .map_err(|e| e.to_string())
        });
        let err = r.expect_err(&what);
        eprintln!("{what}: {err}");
        assert_cheap(&what, &cost);
    }
}

// ---------------------------------------------------------------------------
// Bomb 3: a marshal stream nested 100 000 deep.

const NEST_MARKER: &[u8] = b"PYVET_NEST_HERE";
const TYPE_TUPLE: u8 = b'(';
const TYPE_NONE: u8 = b'N';
const FLAG_REF: u8 = 0x80;

/// Replaces the string object `PYVET_NEST_HERE` in a real marshal stream
/// with `depth` one-element tuples around `None`, keeping its FLAG_REF so
/// that back-references later in the stream keep their numbers.
fn nest_at_marker(stream: &[u8], depth: usize) -> Vec<u8> {
    let at = stream
        .windows(NEST_MARKER.len())
        .position(|w| w == NEST_MARKER)
        .expect("marker in the stream");
    let len = NEST_MARKER.len();
    // Short strings (3.4+): type, 1-byte length. Others: type, 4-byte length.
    let start = if at >= 2
        && usize::from(stream[at - 1]) == len
        && b"zZ".contains(&(stream[at - 2] & !FLAG_REF))
    {
        at - 2
    } else {
        let n = u32::from_le_bytes(stream[at - 4..at].try_into().unwrap());
        assert_eq!(n as usize, len, "marker length");
        at - 5
    };
    let flag = stream[start] & FLAG_REF;
    let mut out = stream[..start].to_vec();
    for i in 0..depth {
        out.push(TYPE_TUPLE | if i == 0 { flag } else { 0 });
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.push(TYPE_NONE);
    out.extend_from_slice(&stream[at + len..]);
    out
}

/// The marshal fixtures, with the CPython version that wrote each.
fn marshal_fixtures() -> Vec<((u8, u8), Vec<u8>)> {
    let dir = hostile_fixture("marshal");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter_map(|p| {
            let v = marshal_version(p.file_name()?.to_str()?)?;
            Some((v, read(&p)))
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 2,
        "marshal fixtures missing in {}",
        dir.display()
    );
    out
}

#[test]
fn marshal_fixtures_parse_with_their_docstring() {
    let _serial = serial();
    for (version, stream) in marshal_fixtures() {
        let facts = pyvet::format::marshal::read_code_facts(&stream, version)
            .unwrap_or_else(|e| panic!("{version:?}: {e}"));
        assert_eq!(facts.co_filename, "/hostile/nest.py", "{version:?}");
        assert!(facts.has_docstring, "{version:?}");
    }
}

#[test]
fn marshal_nested_100_000_deep_is_refused() {
    let _serial = serial();
    for (version, stream) in marshal_fixtures() {
        let what = format!("marshal {version:?} nested 100000 deep");
        let bomb = nest_at_marker(&stream, 100_000);
        let (r, cost) = measure(&what, move || {
            pyvet::format::marshal::read_code_facts(&bomb, version).map_err(|e| e.to_string())
        });
        let err = r.expect_err(&what);
        eprintln!("{what}: {err}");
        assert_cheap(&what, &cost);
    }
}

#[test]
fn marshal_nested_just_under_the_cap_fits_a_thread_stack() {
    let _serial = serial();
    // The code object and its constants tuple take two levels themselves.
    let depth = pyvet::limits::MARSHAL_MAX_DEPTH - 4;
    for (version, stream) in marshal_fixtures() {
        let what = format!("marshal {version:?} nested {depth} deep");
        let deep = nest_at_marker(&stream, depth);
        let (r, _) = measure(&what, move || {
            pyvet::format::marshal::read_code_facts(&deep, version).map_err(|e| e.to_string())
        });
        let facts = r.unwrap_or_else(|e| panic!("{what}: {e}"));
        // The first constant is now a tuple, not a docstring.
        assert!(!facts.has_docstring, "{what}");
        assert_eq!(facts.co_filename, "/hostile/nest.py", "{what}");
    }
}

// ---------------------------------------------------------------------------
// Bomb 4: a 100 MB line in a text database.

const LONG_LINE: usize = 100 * 1000 * 1000;

/// `prefix`, then `LONG_LINE` bytes of `a`, then `suffix`.
fn long_line(prefix: &str, suffix: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(prefix.len() + LONG_LINE + suffix.len());
    v.extend_from_slice(prefix.as_bytes());
    v.resize(prefix.len() + LONG_LINE, b'a');
    v.extend_from_slice(suffix.as_bytes());
    v
}

type TextParser = fn(&[u8]) -> Result<(), String>;

fn text_parsers() -> Vec<(&'static str, &'static str, &'static str, TextParser)> {
    use pyvet::db::{apk, dpkg, record};
    fn s<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<(), String> {
        r.map(drop).map_err(|e| e.to_string())
    }
    vec![
        ("RECORD", "demo/", ",sha256=AAAA,1\n", |b| {
            s(record::parse(
                b,
                Path::new("/usr/lib/python3/site-packages"),
                source(Backend::PipRecord),
            ))
        }),
        ("apk installed", "P:demo\nV:1\nF:usr/lib\nR:", "\n\n", |b| {
            s(apk::parse(b, source(Backend::Apk)))
        }),
        (
            "dpkg status",
            "Package: demo\nStatus: install ok installed\nDescription: ",
            "\n\n",
            |b| s(dpkg::parse_status(b, source(Backend::Dpkg))),
        ),
        ("deb822", "Package: demo\nDescription: ", "\n", |b| {
            s(pyvet::format::deb822::parse(b))
        }),
        ("dpkg .list", "/usr/", "\n", |b| s(dpkg::parse_list(b))),
        (
            "dpkg .md5sums",
            "d41d8cd98f00b204e9800998ecf8427e  usr/",
            "\n",
            |b| s(dpkg::parse_md5sums(b)),
        ),
        ("dpkg .conffiles", "/etc/", "\n", |b| {
            s(dpkg::parse_conffiles(b))
        }),
    ]
}

#[test]
fn text_database_with_a_100_mb_line_is_refused() {
    let _serial = serial();
    for (what, prefix, suffix, parse) in text_parsers() {
        let input = Arc::new(long_line(prefix, suffix));
        let worker = Arc::clone(&input);
        let (r, cost) = measure(what, move || parse(&worker));
        let err = r.expect_err(what);
        eprintln!("{what} with a 100 MB line: {}", &err[..err.len().min(300)]);
        assert_cheap(what, &cost);
    }
}

/// Longest path in any manifest (Linux PATH_MAX), one more than allowed.
const TOO_LONG_PATH: usize = pyvet::limits::MAX_PATH + 1;

#[test]
fn paths_longer_than_path_max_are_refused() {
    let _serial = serial();
    let long = "a".repeat(TOO_LONG_PATH);
    let record = format!("{long},,\n");
    let list = format!("/{long}\n");
    let r = pyvet::db::record::parse(
        record.as_bytes(),
        Path::new("/site"),
        source(Backend::PipRecord),
    );
    assert!(r.is_err(), "RECORD accepted a {TOO_LONG_PATH}-byte path");
    assert!(
        pyvet::db::dpkg::parse_list(list.as_bytes()).is_err(),
        ".list accepted a long path"
    );
}

// ---------------------------------------------------------------------------
// rpm payloads, read whole by `pyvet size PKG` through a `PackageTree`.

/// A small real rpm built by rpmbuild (a newc payload, gzip'd as rpmbuild
/// does here): the file's bytes, where its payload starts, and the payload
/// decompressed.
fn small_rpm(dir: &Path) -> (Vec<u8>, usize, Vec<u8>) {
    let stage = dir.join("stage");
    let lib = stage.join(&common::rpmroot::STDLIB[1..]);
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("mod.py"), "VALUE = 42\n").unwrap();
    let rpm = common::rpmroot::build_rpm(dir, &stage, "pyvet-hostile-payload");
    let bytes = std::fs::read(rpm).unwrap();
    let (_, at) = pyvet::db::rpmfile::parse_header(&bytes).unwrap();
    let at = at as usize;
    assert_eq!(
        bytes[at..at + 2],
        [0x1f, 0x8b],
        "rpmbuild here writes gzip payloads"
    );
    let mut cpio = Vec::new();
    flate2::read::GzDecoder::new(&bytes[at..])
        .read_to_end(&mut cpio)
        .unwrap();
    (bytes, at, cpio)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_at(data, flate2::Compression::fast())
}

fn gzip_at(data: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), level);
    std::io::Write::write_all(&mut enc, data).unwrap();
    enc.finish().unwrap()
}

/// Where the header of the payload's `mod.py` entry starts.
fn mod_py_header(cpio: &[u8]) -> usize {
    let name = b"./usr/lib/python3.11/mod.py\0";
    let at = cpio.windows(name.len()).position(|w| w == name).unwrap();
    at - 110
}

/// Opens `rpm` as a package tree (keeping every file) and returns the
/// payload error, after checking the error names the package and cost little.
fn refused_payload(what: &str, rpm: PathBuf) -> pyvet::db::rpmfile::payload::PayloadError {
    use pyvet::tree::package::{PackageFormat, PayloadLimits};
    let path = rpm.clone();
    let (e, cost) = measure(what, move || {
        let all = |_: &Path| true;
        pyvet::tree::PackageTree::open(&path, PackageFormat::Rpm, &all, &PayloadLimits::default())
            .map(|_| ())
            .unwrap_err()
    });
    assert_cheap(what, &cost);
    let pyvet::Error::Format { path, source } = e else {
        panic!("{what}: {e:?}")
    };
    assert_eq!(path, rpm, "{what}: the error names the package");
    match *source {
        pyvet::error::FormatError::RpmPayload(p) => p,
        other => panic!("{what}: {other:?}"),
    }
}

fn write_rpm(dir: &Path, head: &[u8], payload: &[u8]) -> PathBuf {
    let p = dir.join("hostile.rpm");
    std::fs::write(&p, [head, payload].concat()).unwrap();
    p
}

#[test]
fn rpm_payload_cut_short_is_refused() {
    use pyvet::db::rpmfile::payload::PayloadError;
    use pyvet::format::cpio::CpioError;
    let _serial = serial();
    let d = tempfile::tempdir().unwrap();
    let (bytes, at, _) = small_rpm(d.path());
    let payload_len = bytes.len() - at;
    for keep in [0, 1, 20, payload_len / 2, payload_len - 8, payload_len - 1] {
        let rpm = write_rpm(d.path(), &bytes[..at], &bytes[at..at + keep]);
        let e = refused_payload(&format!("payload cut at {keep}"), rpm);
        assert!(
            matches!(
                e,
                PayloadError::Decompress(_)
                    | PayloadError::Cpio(CpioError::Truncated { .. } | CpioError::NoTrailer { .. })
            ),
            "cut at {keep}: {e:?}"
        );
    }
}

#[test]
fn rpm_payload_entry_claiming_4_gib_is_refused() {
    use pyvet::db::rpmfile::payload::PayloadError;
    let _serial = serial();
    let d = tempfile::tempdir().unwrap();
    let (bytes, at, mut cpio) = small_rpm(d.path());
    let filesize = mod_py_header(&cpio) + 6 + 6 * 8;
    cpio[filesize..filesize + 8].copy_from_slice(b"ffffffff");
    let rpm = write_rpm(d.path(), &bytes[..at], &gzip(&cpio));
    let e = refused_payload("cpio entry of 2^32 - 1 bytes", rpm);
    let PayloadError::SizeMismatch {
        path,
        header,
        payload,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(path, Path::new("/usr/lib/python3.11/mod.py"));
    assert_eq!((header, payload), (11, 0xffff_ffff));
}

#[test]
fn rpm_payload_name_length_bomb_is_refused() {
    use pyvet::db::rpmfile::payload::PayloadError;
    use pyvet::format::cpio::CpioError;
    let _serial = serial();
    let d = tempfile::tempdir().unwrap();
    let (bytes, at, mut cpio) = small_rpm(d.path());
    let header = mod_py_header(&cpio);
    let namesize = header + 6 + 11 * 8;
    cpio[namesize..namesize + 8].copy_from_slice(b"ffffffff");
    let rpm = write_rpm(d.path(), &bytes[..at], &gzip(&cpio));
    let e = refused_payload("cpio name of 4 GiB", rpm);
    assert!(
        matches!(
            e,
            PayloadError::Cpio(CpioError::NameSize { offset, size: 0xffff_ffff, max: 4097 })
                if offset == header as u64
        ),
        "{e:?}"
    );
}

/// The real payload followed by 5 GiB of zeros (5120 concatenated gzip
/// members of 1 MiB each, 5 MB on disk): refused after reading 64 KiB of them.
#[test]
fn rpm_payload_decompression_bomb_is_refused() {
    use pyvet::db::rpmfile::payload::PayloadError;
    let _serial = serial();
    let d = tempfile::tempdir().unwrap();
    let (bytes, at, _) = small_rpm(d.path());
    let member = gzip_at(&vec![0u8; MIB], flate2::Compression::best());
    let mut payload = bytes[at..].to_vec();
    for _ in 0..5120 {
        payload.extend(&member);
    }
    let rpm = write_rpm(d.path(), &bytes[..at], &payload);
    let e = refused_payload("payload of 5 GiB", rpm);
    assert!(
        matches!(e, PayloadError::Trailing { max } if max == pyvet::limits::MAX_PAYLOAD_TRAILING),
        "{e:?}"
    );
}

/// `pyvet size bomb.deb` reads the data tar through the same capped stream:
/// the 10 GiB entry is refused from its header, the package named.
#[test]
fn deb_bomb_as_a_package_tree_is_refused_quickly() {
    use pyvet::tree::package::{PackageFormat, PayloadLimits};
    let _serial = serial();
    let path = hostile_fixture("bomb-10g-zstd.deb");
    let p = path.clone();
    let (e, cost) = measure("deb bomb as a tree", move || {
        let all = |_: &Path| true;
        pyvet::tree::PackageTree::open(&p, PackageFormat::Deb, &all, &PayloadLimits::default())
            .map(|_| ())
            .unwrap_err()
    });
    assert_cheap("deb bomb as a tree", &cost);
    let pyvet::Error::Format {
        path: named,
        source,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(named, path);
    assert!(
        matches!(
            *source,
            pyvet::error::FormatError::Deb(pyvet::db::deb::DebError::TooLarge { .. })
        ),
        "{source:?}"
    );
}

/// Random damage to real payloads (the fixture's stripped cpio, rpmbuild's
/// newc one), re-gzip'd so that it reaches the cpio reader: 1000 mutants
/// each, every one a result or a typed error naming the package.
#[test]
fn rpm_payload_mutants_never_panic() {
    use pyvet::tree::package::{PackageFormat, PayloadLimits};
    let _serial = serial();
    let d = tempfile::tempdir().unwrap();
    let (built, built_at, built_cpio) = small_rpm(d.path());
    let fixture = read(&fixtures().join("rpm/pyvet-fixture-digest8.rpm"));
    let (_, fixture_at) = pyvet::db::rpmfile::parse_header(&fixture).unwrap();
    let fixture_at = fixture_at as usize;
    let mut fixture_cpio = Vec::new();
    flate2::read::GzDecoder::new(&fixture[fixture_at..])
        .read_to_end(&mut fixture_cpio)
        .unwrap();
    let limits = PayloadLimits {
        payload: 64 * MIB as u64,
        ..PayloadLimits::default()
    };
    let mut rng = common::XorShift::new(0x5eed_c910);
    for (head, cpio) in [
        (&built[..built_at], built_cpio),
        (&fixture[..fixture_at], fixture_cpio),
    ] {
        for round in 0..1000 {
            let mut m = cpio.clone();
            rng.mutate(&mut m, 1 + round % 8);
            let rpm = write_rpm(d.path(), head, &gzip(&m));
            let all = |_: &Path| true;
            let what = format!("mutant {round}");
            let r = on_parser_thread(&what, HANG_LIMIT, move || {
                pyvet::tree::PackageTree::open(&rpm, PackageFormat::Rpm, &all, &limits)
                    .map(|t| pyvet::size::of_tree(&t, Path::new("/")).is_ok())
                    .map_err(|e| e.to_string())
            });
            if let Err(e) = r {
                assert!(e.contains("hostile.rpm"), "{what}: {e}");
            }
        }
    }
}
