//! What each fuzz target feeds to pyvet, kept in one library so that every
//! target is a one-line `fuzz_target!` and the chains (database -> header
//! blob -> package) are written once.
//!
//! A target "passes" an input when the parser returns (`Ok` or a typed
//! error) without panicking, hanging or allocating without bound; libFuzzer
//! and the sanitizer watch for the rest. Error messages are rendered because
//! that is what a user sees, and rendering must not panic either.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use pyvet::format::rpmheader::Header;
use pyvet::manifest::{Backend, Source};

/// CPython versions the marshal target picks from with its first byte.
pub const MARSHAL_VERSIONS: [(u8, u8); 10] = [
    (2, 7),
    (3, 6),
    (3, 7),
    (3, 8),
    (3, 9),
    (3, 10),
    (3, 11),
    (3, 12),
    (3, 13),
    (3, 14),
];

fn source(backend: Backend) -> Source {
    Source {
        backend,
        file: PathBuf::from("/fuzz/input"),
    }
}

/// Renders an outcome the way the CLI would, so `Display` is exercised too.
fn consume<T, E: std::fmt::Display>(r: Result<T, E>) {
    match r {
        Ok(v) => {
            black_box(v);
        }
        Err(e) => {
            black_box(e.to_string());
        }
    }
}

/// One rpmdb value (no intro), then the package built from it.
pub fn rpm_header_blob(data: &[u8]) {
    match Header::parse(data) {
        Ok(h) => consume(pyvet::db::rpm::package_from_header(
            &h,
            source(Backend::RpmHeader),
        )),
        Err(e) => consume::<(), _>(Err(e)),
    }
}

/// A header with the 8-byte intro (as in `.rpm` files), then its package.
pub fn rpm_header_intro(data: &[u8]) {
    match Header::parse_with_intro(data) {
        Ok((h, used)) => {
            assert!(
                used <= data.len(),
                "header claims {used} of {} bytes",
                data.len()
            );
            consume(pyvet::db::rpm::package_from_header(
                &h,
                source(Backend::RpmHeader),
            ));
        }
        Err(e) => consume::<(), _>(Err(e)),
    }
}

/// Feeds every blob a database reader returned on to the header parser.
fn header_blobs<E: std::fmt::Display>(r: Result<Vec<Vec<u8>>, E>) {
    match r {
        Ok(blobs) => blobs.iter().for_each(|b| rpm_header_blob(b)),
        Err(e) => consume::<(), _>(Err(e)),
    }
}

/// A `.rpm` package: lead, signature header, main header.
pub fn rpm_file(data: &[u8]) {
    consume(pyvet::db::rpmfile::parse(data, source(Backend::RpmFile)));
}

/// A cpio stream as rpm writes payloads (newc, crc, stripped), every other
/// entry's data read under a cap; stripped entries index a small size table.
pub fn cpio(data: &[u8]) {
    let sizes = vec![0, 1, 11, 512, 1 << 20, 5 << 30];
    let mut r = pyvet::format::cpio::Reader::with_stripped_sizes(data, sizes);
    let mut n = 0u32;
    loop {
        match r.next_entry() {
            Ok(Some(e)) => {
                black_box(&e);
                if n % 2 == 0 {
                    consume(r.read_data(1 << 20));
                }
                n += 1;
            }
            Ok(None) => break,
            Err(e) => {
                black_box(e.to_string());
                break;
            }
        }
    }
}

/// A whole `.rpm` (written to a scratch file) opened as a package tree,
/// every file's content kept under small caps, then sized as `pyvet size`
/// does: header, payload decompression, cpio, tree and layout rules.
pub fn rpm_payload(data: &[u8]) {
    use pyvet::tree::package::{PackageFormat, PayloadLimits};
    let path = scratch_dir().join("package.rpm");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let limits = PayloadLimits {
        payload: 64 << 20,
        file: 1 << 20,
        kept: 16 << 20,
    };
    let all = |_: &Path| true;
    match pyvet::tree::PackageTree::open(&path, PackageFormat::Rpm, &all, &limits) {
        Ok(tree) => consume(pyvet::size::of_tree(&tree, Path::new("/"))),
        Err(e) => consume::<(), _>(Err(e)),
    }
}

/// A BerkeleyDB `Packages` hash database and every header in it.
pub fn bdb(data: &[u8]) {
    header_blobs(pyvet::db::rpmdb::bdb::blobs(data));
}

/// An NDB `Packages.db` and every header in it.
pub fn ndb(data: &[u8]) {
    header_blobs(pyvet::db::rpmdb::ndb::blobs(data));
}

/// An `rpmdb.sqlite` (written to a temporary file: SQLite reads paths) and
/// every header in it.
pub fn sqlite(data: &[u8]) {
    let dir = scratch_dir();
    let path = dir.join("rpmdb.sqlite");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    header_blobs(pyvet::db::rpmdb::sqlite::blobs(&path));
}

/// One scratch directory per process, removed when the process exits normally.
fn scratch_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("cannot create a scratch directory"))
        .path()
}

/// A deb822 document split into stanzas.
pub fn deb822(data: &[u8]) {
    consume(pyvet::format::deb822::parse(data));
}

/// A dpkg `status` file or one distroless `status.d/<pkg>` file. The
/// parser reads a stanza at a time: read through a buffer of a few bytes
/// (the first byte picks how many), so that lines and stanzas straddle
/// refills, it must say exactly what it says from the whole slice.
pub fn dpkg_status(data: &[u8]) {
    let whole = pyvet::db::dpkg::parse_status(data, source(Backend::Dpkg));
    let capacity = 1 + usize::from(data.first().copied().unwrap_or_default() % 16);
    let small = std::io::BufReader::with_capacity(capacity, data);
    let streamed = pyvet::db::dpkg::read_status_from(small, source(Backend::Dpkg));
    assert_eq!(whole, streamed, "read through a {capacity}-byte buffer");
    consume(whole);
    consume(pyvet::db::dpkg::parse_status(
        data,
        source(Backend::DpkgStatusD),
    ));
}

/// The per-package files under `info/`: `.list`, `.md5sums`, `.conffiles`.
pub fn dpkg_info(data: &[u8]) {
    consume(pyvet::db::dpkg::parse_list(data));
    consume(pyvet::db::dpkg::parse_md5sums(data));
    consume(pyvet::db::dpkg::parse_conffiles(data));
    consume(pyvet::db::dpkg::parse_diversions(data));
}

/// An `ar` archive; every member range must lie inside the input.
pub fn ar(data: &[u8]) {
    match pyvet::format::ar::parse(data) {
        Ok(members) => {
            for m in &members {
                assert!(
                    m.data.start <= m.data.end && m.data.end <= data.len(),
                    "member {:?} range {:?} outside {} bytes",
                    m.name,
                    m.data,
                    data.len()
                );
            }
        }
        Err(e) => consume::<(), _>(Err(e)),
    }
}

/// A whole `.deb`: ar, control and data tar members, every decompressor.
pub fn deb(data: &[u8]) {
    consume(pyvet::db::deb::parse(data, source(Backend::Deb)));
}

/// An apk `installed` database.
pub fn apk(data: &[u8]) {
    consume(pyvet::db::apk::parse(data, source(Backend::Apk)));
}

/// A pip `RECORD`, placed in a typical site-packages directory.
pub fn record(data: &[u8]) {
    let base = Path::new("/usr/lib/python3/site-packages");
    consume(pyvet::db::record::parse(
        data,
        base,
        source(Backend::PipRecord),
    ));
}

/// A `.pyc`: its header, then (for a known CPython) the code object after it.
pub fn pyc(data: &[u8]) {
    let header = match pyvet::format::pyc::PycHeader::parse(data) {
        Ok(h) => h,
        Err(e) => return consume::<(), _>(Err(e)),
    };
    if let (Some(known), Some(payload)) = (&header.python, data.get(header.size()..)) {
        let v = known.info.version;
        consume(pyvet::format::marshal::read_code_facts(
            payload,
            (v.major, v.minor),
        ));
    }
}

/// A marshal payload; the first byte picks the CPython version.
pub fn marshal(data: &[u8]) {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let version = MARSHAL_VERSIONS[usize::from(pick) % MARSHAL_VERSIONS.len()];
    consume(pyvet::format::marshal::read_code_facts(payload, version));
}

/// A `pyvet-manifest/1` JSON document (`pyvet subset` and `manifest` read them).
pub fn manifest_json(data: &[u8]) {
    let _ = black_box(pyvet::db::json::parse(data));
}

/// An `etc/passwd` or `etc/group` of an audited root; every name parsed is
/// looked up both ways, as the owned-file check does.
pub fn passwd(data: &[u8]) {
    match pyvet::format::passwd::IdDb::parse(data) {
        Ok(db) => {
            for line in data.split(|&b| b == b'\n').take(64) {
                let name = line.split(|&b| b == b':').next().unwrap_or_default();
                if let Some(id) = db.id(name) {
                    black_box(db.name(id));
                }
            }
            black_box(db.len());
        }
        Err(e) => consume::<(), _>(Err(e)),
    }
}

/// A container image's JSON documents: the same bytes read as an OCI index,
/// an image manifest, an image config and a `docker save` manifest.json.
pub fn image_json(data: &[u8]) {
    use pyvet::image::spec;
    consume(spec::parse_index(data));
    consume(spec::parse_manifest(data));
    if let Ok(c) = spec::parse_config(data, 1) {
        black_box(c.created_by());
        black_box(c.platform.to_string());
    }
    consume(spec::parse_docker_manifest(data));
}

/// A `__pysource__` metadata file.
pub fn pysource(data: &[u8]) {
    consume(pyvet::format::pysource::PySource::parse(data));
}

/// Decompressed bytes one zip input may use in all (the reader's own
/// per-member and total limits are far above what a fuzzer should spend).
const ZIP_FUZZ_BUDGET: u64 = 8 << 20;

/// A zip on the import path: its directory, every member read, then the
/// pycs judged as `zipimport` would, in the default and `always` modes.
pub fn zip(data: &[u8]) {
    use pyvet::bytecode::magic::PyVersion;
    use pyvet::bytecode::zipimport::judge_archive;
    use pyvet::cli::HashCheckMode;
    use pyvet::format::zip::{Archive, Budget};
    let archive = match Archive::parse(data) {
        Ok(a) => a,
        Err(e) => return consume::<(), _>(Err(e)),
    };
    let mut budget = Budget::new(ZIP_FUZZ_BUDGET);
    for m in &archive.members {
        black_box(m.escapes());
        if let Ok(bytes) = archive.read(m, &mut budget) {
            assert_eq!(bytes.len() as u64, m.size, "{}", m.display_name());
        }
    }
    let versions = [PyVersion::new(3, 11), PyVersion::new(3, 12)];
    for mode in [HashCheckMode::Default, HashCheckMode::Always] {
        let mut budget = Budget::new(ZIP_FUZZ_BUDGET);
        for r in judge_archive(&archive, &versions, mode, &mut budget) {
            consume(r.map(|r| (r.verdict, r.reason)));
        }
    }
}

/// A PyOxidizer packed resources file; each embedded bytecode is read as
/// marshalled code, as the audit reads it.
pub fn packed(data: &[u8]) {
    let Ok(p) = pyvet::format::packed::Packed::parse(data) else {
        return;
    };
    for r in &p.resources {
        for code in r.bytecode.iter().flatten() {
            consume(pyvet::format::marshal::read_code_facts(code, (3, 11)));
        }
        black_box((r.name, r.source, &r.package_data, &r.relative));
    }
    // What pyvet size makes of it: blobs lie in disjoint sections, so the
    // parts of any file that parses add up to it.
    let priced = pyvet::size::PackedSize::of(std::path::PathBuf::new(), data.len() as u64, &p);
    let held: u64 = priced.parts.iter().map(|x| x.bytes).sum();
    assert_eq!(held, data.len() as u64);
    black_box(priced);
}
