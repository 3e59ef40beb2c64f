//! `.rpm` package files and RPM headers, checked against the real `rpm`.
//!
//! The fixtures in `tests/fixtures/rpm/` are built by `make.sh` with the real
//! rpmbuild; the corpus files come from public projects. Expected values come
//! from `rpm -qp` at test time, so these tests need `rpm` installed (CI has it).

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyvet::db::rpm::package_from_header;
use pyvet::db::rpmfile;
use pyvet::digest::Algo;
use pyvet::format::rpmheader::{Header, HeaderError, Tag};
use pyvet::manifest::{Backend, FileEntry, FileFlags, FileKind, Package, Source};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rpm")
        .join(name)
}

const FIXTURES: [(&str, Algo); 3] = [
    ("pyvet-fixture-digest1.rpm", Algo::Md5),
    ("pyvet-fixture-digest8.rpm", Algo::Sha256),
    ("pyvet-fixture-digest10.rpm", Algo::Sha512),
];

fn read_one(path: &Path) -> Package {
    let mut m = rpmfile::read(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.packages.len(), 1, "{}", path.display());
    m.packages.remove(0)
}

/// `rpm -qp` with signature and digest checks off (corpus keys are not imported).
fn rpm_query(path: &Path, args: &[&str]) -> Vec<u8> {
    common::run_stdout(
        Command::new("rpm")
            .args(["-qp", "--nosignature", "--nodigest"])
            .args(args)
            .arg(path)
            .env("LC_ALL", "C"),
    )
}

fn lines(out: &[u8]) -> Vec<&[u8]> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("rpm printed non-UTF-8 where a number or name was expected")
}

/// Undoes the `\xHH` escaping `rpm --dump` applies to non-ASCII path bytes.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let hex = field.get(i + 2..i + 4).and_then(|h| {
            let h = std::str::from_utf8(h).ok()?;
            u8::from_str_radix(h, 16).ok()
        });
        match (field.get(i..i + 2), hex) {
            (Some(b"\\x"), Some(b)) => {
                out.push(b);
                i += 4;
            }
            _ => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

/// One line of `rpm -qp --dump`:
/// path size mtime digest mode owner group isconfig isdoc rdev symlink.
fn check_dump_line(line: &[u8], f: &FileEntry) {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    assert_eq!(fields.len(), 11, "unexpected --dump line {:?}", text(line));
    let what = f.path.display();
    assert_eq!(
        f.path.as_os_str().as_bytes(),
        unescape(fields[0]).as_slice()
    );
    assert_eq!(
        f.size,
        Some(text(fields[1]).parse().unwrap()),
        "size {what}"
    );
    assert_eq!(
        f.mtime,
        Some(text(fields[2]).parse().unwrap()),
        "mtime {what}"
    );
    let digest = text(fields[3]);
    match &f.digest {
        Some(d) => assert_eq!(d.hex(), digest, "digest {what}"),
        None => assert!(digest.bytes().all(|b| b == b'0'), "digest {what}: {digest}"),
    }
    let mode = u32::from_str_radix(text(fields[4]), 8).unwrap();
    assert_eq!(f.mode, Some(mode), "mode {what}");
    assert_eq!(f.user.as_deref(), Some(text(fields[5])), "owner {what}");
    assert_eq!(f.group.as_deref(), Some(text(fields[6])), "group {what}");
    let is = |flag| if f.flags.contains(flag) { "1" } else { "0" };
    assert_eq!(is(FileFlags::CONFIG), text(fields[7]), "isconfig {what}");
    assert_eq!(is(FileFlags::DOC), text(fields[8]), "isdoc {what}");
    let link = f.link.as_ref().map(|l| l.as_os_str().as_bytes().to_vec());
    let expected_link = (fields[10] != b"X").then(|| unescape(fields[10]));
    assert_eq!(link, expected_link, "symlink {what}");
}

#[test]
fn fixtures_match_rpm_dump_field_by_field() {
    for (name, _) in FIXTURES {
        let path = fixture(name);
        let pkg = read_one(&path);
        let dump = rpm_query(&path, &["--dump"]);
        let dump = lines(&dump);
        assert_eq!(dump.len(), pkg.files.len(), "{name}: file count");
        for (line, f) in dump.iter().zip(&pkg.files) {
            check_dump_line(line, f);
        }
        let flags = rpm_query(&path, &["--qf", "[%{FILEFLAGS}\n]"]);
        let flags: Vec<FileFlags> = lines(&flags)
            .iter()
            .map(|l| FileFlags::from_rpm(text(l).parse().unwrap()))
            .collect();
        let ours: Vec<FileFlags> = pkg.files.iter().map(|f| f.flags).collect();
        assert_eq!(ours, flags, "{name}: FILEFLAGS");
    }
}

#[test]
fn fixtures_nevra_matches_rpm() {
    for (name, _) in FIXTURES {
        let path = fixture(name);
        let pkg = read_one(&path);
        let qf = "%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH}";
        let out = rpm_query(&path, &["--qf", qf]);
        let ours = format!(
            "{} {} {} {} {}",
            pkg.name,
            pkg.epoch.unwrap_or(0),
            pkg.version,
            pkg.release.as_deref().unwrap(),
            pkg.arch.as_deref().unwrap()
        );
        assert_eq!(ours, text(&out), "{name}");
    }
}

fn file<'a>(pkg: &'a Package, path: &str) -> &'a FileEntry {
    let want = Path::new(OsStr::new(path));
    pkg.files
        .iter()
        .find(|f| &*f.path == want)
        .unwrap_or_else(|| panic!("{path} missing from {}", pkg.nevra()))
}

/// What the spec in `tests/fixtures/rpm/` says, independent of rpm's output.
#[test]
fn fixtures_carry_what_the_spec_declares() {
    for (name, algo) in FIXTURES {
        let path = fixture(name);
        let pkg = read_one(&path);
        assert_eq!(pkg.nevra(), "pyvet-fixture-3:1.2-4.noarch");
        assert_eq!(
            pkg.source,
            Source {
                backend: Backend::RpmFile,
                file: path.clone()
            }
        );
        // A package file is not installed: no install time, no file states.
        assert_eq!(pkg.install_time, None);
        assert!(pkg.files.iter().all(|f| f.state.is_none()));
        assert_eq!(pkg.files.len(), 16);

        let py = file(&pkg, "/usr/lib/pyvet-fixture/pkg/mod.py");
        assert_eq!(py.kind, FileKind::File);
        assert_eq!(py.digest, Some(algo.hash_bytes(b"VALUE = 42\n")), "{name}");
        assert_eq!(py.size, Some(11));
        assert_eq!(py.mtime, Some(1_700_000_000));

        let empty = file(&pkg, "/usr/lib/pyvet-fixture/pkg/empty");
        assert_eq!(empty.digest, Some(algo.hash_bytes(b"")));
        let cafe = file(&pkg, "/usr/lib/pyvet-fixture/pkg/caf\u{e9}.txt");
        assert_eq!(cafe.digest, Some(algo.hash_bytes("caf\u{e9}\n".as_bytes())));

        let a = file(&pkg, "/usr/lib/pyvet-fixture/pkg/hardlink-a");
        let b = file(&pkg, "/usr/lib/pyvet-fixture/pkg/hardlink-b");
        assert_eq!((a.digest.as_ref(), a.size), (b.digest.as_ref(), b.size));

        let dir = file(&pkg, "/usr/lib/pyvet-fixture");
        assert_eq!(
            (dir.kind, dir.mode, dir.digest.as_ref()),
            (FileKind::Dir, Some(0o40755), None)
        );

        let link = file(&pkg, "/usr/lib/pyvet-fixture/pkg/link-to-mod");
        assert_eq!(link.kind, FileKind::Symlink);
        assert_eq!(link.link.as_deref(), Some(Path::new("mod.py")));
        assert_eq!(link.digest, None);

        let conf = file(&pkg, "/etc/pyvet-fixture/app.conf");
        assert_eq!(conf.flags, FileFlags::CONFIG | FileFlags::NOREPLACE);
        let private = file(&pkg, "/etc/pyvet-fixture/private.conf");
        assert_eq!(private.mode, Some(0o100640));
        assert_eq!(private.user.as_deref(), Some("nobody"));
        assert_eq!(private.group.as_deref(), Some("nogroup"));
        assert_eq!(private.flags, FileFlags::CONFIG);

        let doc = file(&pkg, "/usr/share/doc/pyvet-fixture/README");
        assert_eq!(doc.flags, FileFlags::DOC);
        let lic = file(&pkg, "/usr/share/licenses/pyvet-fixture/LICENSE");
        assert_eq!(lic.flags, FileFlags::LICENSE);

        let ghost = file(&pkg, "/var/lib/pyvet-fixture/state.db");
        assert_eq!(ghost.flags, FileFlags::GHOST);
        assert_eq!(ghost.digest, None);
        assert_eq!(ghost.kind, FileKind::File);

        // Above 4 GiB rpm stores LONGFILESIZES (INT64) instead of FILESIZES.
        let big = file(&pkg, "/var/lib/pyvet-fixture/big.img");
        assert_eq!(big.size, Some(5 << 30));
        assert_eq!(big.flags, FileFlags::GHOST);
    }
}

/// The committed fixtures are what `make.sh` builds with the real rpmbuild:
/// a live build reads to the same packages (only the source path differs).
#[test]
fn committed_fixtures_match_a_live_rpmbuild() {
    let dir = tempfile::tempdir().unwrap();
    common::run_stdout(Command::new("sh").arg(fixture("make.sh")).arg(dir.path()));
    for (name, _) in FIXTURES {
        let mut live = read_one(&dir.path().join(name));
        live.source.file = fixture(name);
        assert_eq!(live, read_one(&fixture(name)), "{name}");
    }
}

#[test]
fn read_and_parse_agree() {
    let path = fixture("pyvet-fixture-digest8.rpm");
    let bytes = std::fs::read(&path).unwrap();
    let source = Source {
        backend: Backend::RpmFile,
        file: path.clone(),
    };
    assert_eq!(rpmfile::parse(&bytes, source).unwrap(), read_one(&path));
}

/// A file cut anywhere inside its headers is an error from `read`, never a
/// panic, and `read` does not need the payload: a file cut right after the
/// main header still reads.
#[test]
fn read_needs_exactly_the_headers() {
    let bytes = std::fs::read(fixture("pyvet-fixture-digest8.rpm")).unwrap();
    let header_end = headers_len(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.rpm");
    std::fs::write(&cut, &bytes[..header_end]).unwrap();
    assert_eq!(read_one(&cut).files.len(), 16);
    for len in [0, 10, 96, 100, 112, header_end / 2, header_end - 1] {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let err = rpmfile::read(&cut).unwrap_err().to_string();
        assert!(err.contains("cut.rpm"), "{err}");
    }
}

/// Lead + signature header + padding + main header, from the lengths in the file.
fn headers_len(bytes: &[u8]) -> usize {
    let sig = Header::signature_size_with_intro(&bytes[96..112]).unwrap();
    let main_at = 96 + sig.div_ceil(8) * 8;
    main_at + Header::size_with_intro(&bytes[main_at..main_at + 16]).unwrap()
}

fn corpus_rpms() -> Option<Vec<PathBuf>> {
    let root = common::corpus()?;
    let rpms = common::files_with_suffix(&root.join("rpm"), ".rpm");
    assert!(
        rpms.len() >= 50,
        "corpus has only {} .rpm files",
        rpms.len()
    );
    Some(rpms)
}

#[test]
fn corpus_rpms_parse_with_rpms_nevra_and_file_list() {
    let Some(rpms) = corpus_rpms() else { return };
    for path in rpms {
        let pkg = read_one(&path);
        let nevra = rpm_query(&path, &["--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}"]);
        let ours = format!(
            "{}-{}-{}.{}",
            pkg.name,
            pkg.version,
            pkg.release.as_deref().unwrap_or(""),
            pkg.arch.as_deref().unwrap_or("(none)")
        );
        assert_eq!(ours.as_bytes(), nevra.as_slice(), "{}", path.display());

        let listed = rpm_query(&path, &["-l"]);
        let mut expected = lines(&listed);
        if expected == [b"(contains no files)".as_slice()] {
            expected.clear();
        }
        let ours: Vec<&[u8]> = pkg
            .files
            .iter()
            .map(|f| f.path.as_os_str().as_bytes())
            .collect();
        assert_eq!(ours, expected, "{}", path.display());
    }
}

/// Every per-file field of every corpus package against `rpm --qf`.
#[test]
fn corpus_rpms_file_fields_match_rpm() {
    let Some(rpms) = corpus_rpms() else { return };
    let qf = "[%{LONGFILESIZES}\t%{FILEMTIMES}\t%{FILEMODES}\t%{FILEFLAGS}\t\
              %{FILEDIGESTS}\t%{FILEUSERNAME}\t%{FILEGROUPNAME}\t%{FILELINKTOS}\n]";
    let mut checked = 0;
    for path in rpms {
        let pkg = read_one(&path);
        let out = rpm_query(&path, &["--qf", qf]);
        let rows = lines(&out);
        assert_eq!(rows.len(), pkg.files.len(), "{}", path.display());
        for (row, f) in rows.iter().zip(&pkg.files) {
            let c: Vec<&[u8]> = row.split(|&b| b == b'\t').collect();
            let what = format!("{}: {}", path.display(), f.path.display());
            assert_eq!(f.size, Some(text(c[0]).parse().unwrap()), "{what}");
            assert_eq!(f.mtime, Some(text(c[1]).parse().unwrap()), "{what}");
            assert_eq!(f.mode, Some(text(c[2]).parse().unwrap()), "{what}");
            let flags = FileFlags::from_rpm(text(c[3]).parse().unwrap());
            assert_eq!(f.flags, flags, "{what}");
            let digest = f.digest.as_ref().map(|d| d.hex()).unwrap_or_default();
            assert_eq!(digest.as_bytes(), c[4], "{what}");
            assert_eq!(f.user.as_deref().unwrap().as_bytes(), c[5], "{what}");
            assert_eq!(f.group.as_deref().unwrap().as_bytes(), c[6], "{what}");
            let link = f.link.as_ref().map(|l| l.as_os_str().as_bytes());
            assert_eq!(link.unwrap_or_default(), c[7], "{what}");
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} files compared");
}

/// go-rpmdb's `blob.bin`: one rpmdb value (no intro) of a Fedora 35 package.
/// Its header structure is sound, but DIRINDEXES is `[0, 1, 2, 4]` with only
/// four DIRNAMES (go-rpmdb's test expects InstalledFiles() to fail on it):
/// the NEVRA tags read fine and building the package is the typed error.
#[test]
fn go_rpmdb_blob_parses_but_its_file_list_is_refused() {
    let Some(root) = common::corpus() else { return };
    let bytes = std::fs::read(root.join("rpmdb/header-blobs/go-rpmdb-blob.bin")).unwrap();
    let h = Header::parse(&bytes).unwrap();
    assert_eq!(h.region_tag(), Some(Tag::HEADERIMMUTABLE));
    let nevra: Vec<String> = [Tag::NAME, Tag::VERSION, Tag::RELEASE, Tag::ARCH]
        .iter()
        .map(|&t| h.string(t).unwrap().unwrap().into_owned())
        .collect();
    assert_eq!(
        nevra,
        ["publicsuffix-list-dafsa", "20210518", "2.fc35", "noarch"]
    );
    assert_eq!(h.u32(Tag::EPOCH).unwrap(), None);
    assert_eq!(
        h.u32_array(Tag::DIRINDEXES).unwrap(),
        Some(vec![0, 1, 2, 4])
    );
    let source = Source {
        backend: Backend::RpmHeader,
        file: "blob.bin".into(),
    };
    let err = package_from_header(&h, source).unwrap_err();
    assert!(
        matches!(
            err,
            HeaderError::DirIndexOutOfRange {
                file: 3,
                index: 4,
                dirs: 4
            }
        ),
        "{err:?}"
    );
}

/// Per-file fields of installed headers, one tab-separated line per file.
const INSTALLED_QF: &str = "[%{=NAME}\t%{=EPOCHNUM}\t%{=INSTALLTIME}\t%{FILENAMES}\t\
    %{FILESTATES}\t%{FILEDIGESTS}\t%{FILEMODES}\t%{LONGFILESIZES}\t%{FILEMTIMES}\t\
    %{FILEFLAGS}\t%{FILEUSERNAME}\t%{FILEGROUPNAME}\t%{FILELINKTOS}\n]";

/// Our side of [`INSTALLED_QF`].
fn installed_lines(pkg: &Package) -> Vec<Vec<u8>> {
    pkg.files
        .iter()
        .map(|f| {
            let mut l = format!(
                "{}\t{}\t{}\t",
                pkg.name,
                pkg.epoch.unwrap_or(0),
                pkg.install_time.unwrap()
            )
            .into_bytes();
            l.extend_from_slice(f.path.as_os_str().as_bytes());
            let state = f.state.map(|s| s as u8).unwrap();
            let digest = f.digest.as_ref().map(|d| d.hex()).unwrap_or_default();
            let rest = format!(
                "\t{state}\t{digest}\t{}\t{}\t{}\t{}\t{}\t{}\t",
                f.mode.unwrap(),
                f.size.unwrap(),
                f.mtime.unwrap(),
                f.flags.bits(),
                f.user.as_deref().unwrap(),
                f.group.as_deref().unwrap()
            );
            l.extend_from_slice(rest.as_bytes());
            l.extend_from_slice(
                f.link
                    .as_ref()
                    .map_or(&[][..], |p| p.as_os_str().as_bytes()),
            );
            l
        })
        .collect()
}

/// Real installed headers, as `rpmdb --exportdb` writes them (intro + header,
/// back to back), read with `parse_with_intro`: every file of every package
/// (install state, digest, mode, size, mtime, flags, owner, link) equals
/// what `rpm -qa` says from the same database.
#[test]
fn corpus_installed_headers_match_rpm_qa() {
    let Some(root) = common::corpus() else { return };
    for (db, backend) in [
        ("rpmdb/bdb/rhel-scancode/Packages", "bdb_ro"),
        ("rpmdb/sqlite/cbl-mariner-2.0/rpmdb.sqlite", "sqlite"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let src = root.join(db);
        std::fs::copy(&src, dir.path().join(src.file_name().unwrap())).unwrap();
        let rpm = |prog: &str, args: &[&str]| {
            common::run_stdout(
                Command::new(prog)
                    .arg("--dbpath")
                    .arg(dir.path())
                    .args(["--define", &format!("_db_backend {backend}")])
                    .args(args)
                    .env("LC_ALL", "C"),
            )
        };
        let export = rpm("rpmdb", &["--exportdb"]);
        let mut ours = Vec::new();
        let mut at = 0;
        let mut headers = 0;
        while at < export.len() {
            let (h, used) = Header::parse_with_intro(&export[at..]).unwrap();
            at += used;
            headers += 1;
            let source = Source {
                backend: Backend::RpmHeader,
                file: src.clone(),
            };
            ours.extend(installed_lines(&package_from_header(&h, source).unwrap()));
        }
        let theirs = rpm("rpm", &["-qa", "--qf", INSTALLED_QF]);
        let mut theirs: Vec<Vec<u8>> = lines(&theirs)
            .into_iter()
            .filter(|l| !l.windows(6).any(|w| w == b"(none)"))
            .map(<[u8]>::to_vec)
            .collect();
        ours.sort();
        theirs.sort();
        assert!(
            headers >= 100 && ours.len() > 7000,
            "{db}: {headers} headers"
        );
        assert_eq!(ours.len(), theirs.len(), "{db}");
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(
                String::from_utf8_lossy(a),
                String::from_utf8_lossy(b),
                "{db}"
            );
        }
    }
}
