//! `.deb` files read by pyvet, compared field by field with what dpkg-deb
//! (and GNU tar, for numeric ids and exact times) says about the same file.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyvet::db::deb::{self, DebError, Limits};
use pyvet::manifest::{Backend, FileEntry, FileFlags, FileKind, Package, Source};

fn fixtures() -> Vec<PathBuf> {
    let v = common::deb_fixtures();
    assert_eq!(
        v.len(),
        5,
        "fixtures missing: run tests/fixtures/deb/make.sh"
    );
    v
}

fn corpus_debs() -> Vec<PathBuf> {
    let Some(corpus) = common::corpus() else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = common::files_with_suffix(&corpus.join("deb"), "")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "deb" || e == "udeb"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no .deb in the corpus");
    v
}

fn read(path: &Path) -> Package {
    let mut m = deb::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(m.packages.len(), 1);
    m.packages.remove(0)
}

/// Undoes GNU tar's default "escape" quoting of names.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let next = b[i + 1];
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let Some(d) = octal {
            out.push(u8::from_str_radix(std::str::from_utf8(d).unwrap(), 8).unwrap());
            i += 4;
            continue;
        }
        out.push(match next {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            other => other,
        });
        i += 2;
    }
    out
}

/// `./usr/x/` → `/usr/x`, as pyvet spells archive paths.
fn normalise(raw: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let p = Path::new(std::ffi::OsStr::from_bytes(raw));
    Path::new("/").join(
        p.components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect::<PathBuf>(),
    )
}

/// One line of a `tar -tv` style listing.
#[derive(Debug)]
struct Listed {
    mode: String,
    owner: String,
    size: u64,
    time: String,
    path: PathBuf,
    symlink: Option<Vec<u8>>,
    hardlink: Option<PathBuf>,
}

/// Splits `mode owner size date time name...`.
fn parse_listing(out: &str) -> Vec<Listed> {
    out.lines()
        .map(|line| {
            let mut rest = line;
            let mut tok = Vec::new();
            for _ in 0..5 {
                rest = rest.trim_start_matches(' ');
                let end = rest.find(' ').unwrap();
                tok.push(&rest[..end]);
                rest = &rest[end..];
            }
            let name = &rest[1..];
            let (name, symlink, hardlink) = if let Some((n, t)) = name.split_once(" -> ") {
                (n, Some(unescape(t)), None)
            } else if let Some((n, t)) = name.split_once(" link to ") {
                (n, None, Some(normalise(&unescape(t))))
            } else {
                (name, None, None)
            };
            Listed {
                mode: tok[0].to_owned(),
                owner: tok[1].to_owned(),
                size: tok[2].parse().unwrap(),
                time: format!("{} {}", tok[3], tok[4]),
                path: normalise(&unescape(name)),
                symlink,
                hardlink,
            }
        })
        .collect()
}

fn dpkg_deb_contents(deb: &Path) -> Vec<Listed> {
    let (ok, out, err) = common::run(
        Command::new("dpkg-deb")
            .arg("-c")
            .arg(deb)
            .env("LC_ALL", "C")
            .env("TZ", "UTC"),
    );
    assert!(ok, "dpkg-deb -c {}: {err}", deb.display());
    parse_listing(&out)
}

/// GNU tar's listing of the data member with numeric ids and full times.
fn tar_numeric(deb: &Path) -> Vec<Listed> {
    let (ok, out, err) = common::run(
        Command::new("sh")
            .arg("-c")
            .arg("dpkg-deb --fsys-tarfile \"$1\" | tar -tv --numeric-owner --full-time")
            .arg("sh")
            .arg(deb)
            .env("LC_ALL", "C")
            .env("TZ", "UTC"),
    );
    assert!(ok, "tar listing of {}: {err}", deb.display());
    parse_listing(&out)
}

fn mode_string(f: &FileEntry) -> String {
    let mode = f.mode.unwrap();
    let kind = match (f.kind, mode & 0o170000) {
        (FileKind::Dir, _) => 'd',
        (FileKind::Symlink, _) => 'l',
        (FileKind::File, _) if f.link.is_some() => 'h',
        (FileKind::File, _) => '-',
        (_, 0o020000) => 'c',
        (_, 0o060000) => 'b',
        (_, 0o010000) => 'p',
        _ => '?',
    };
    let mut s = String::from(kind);
    for (shift, special, set, unset) in [
        (6, 0o4000, 's', 'S'),
        (3, 0o2000, 's', 'S'),
        (0, 0o1000, 't', 'T'),
    ] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => set,
            (false, true) => unset,
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    s
}

/// `YYYY-MM-DD HH:MM:SS` in UTC (days-to-civil from Howard Hinnant).
fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn path_bytes(p: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

/// Every entry equals `dpkg-deb -c` and `tar --numeric-owner --full-time`.
fn assert_entries_match_dpkg_deb(deb: &Path, pkg: &Package) {
    let names = dpkg_deb_contents(deb);
    let numeric = tar_numeric(deb);
    assert_eq!(pkg.files.len(), names.len(), "{}", deb.display());
    assert_eq!(pkg.files.len(), numeric.len(), "{}", deb.display());
    let sizes: HashMap<&Path, Option<u64>> = pkg.files.iter().map(|f| (&*f.path, f.size)).collect();
    for ((f, l), n) in pkg.files.iter().zip(&names).zip(&numeric) {
        let at = format!("{}: {}", deb.display(), f.path.display());
        assert_eq!(&*f.path, l.path, "{at}");
        assert_eq!(mode_string(f), l.mode, "{at}");
        let owner = format!(
            "{}/{}",
            f.user.as_deref().unwrap(),
            f.group.as_deref().unwrap()
        );
        assert_eq!(owner, l.owner, "{at}");
        assert_eq!(
            format!("{}/{}", f.uid.unwrap(), f.gid.unwrap()),
            n.owner,
            "{at}"
        );
        assert_eq!(utc(f.mtime.unwrap()), n.time, "{at}");
        match (&l.symlink, &l.hardlink) {
            (Some(target), _) => {
                assert_eq!(f.kind, FileKind::Symlink, "{at}");
                assert_eq!(
                    path_bytes(f.link.as_deref().unwrap()),
                    target.as_slice(),
                    "{at}"
                );
                assert_eq!(f.size, Some(l.size), "{at}");
            }
            (_, Some(target)) => {
                assert_eq!(f.link.as_deref(), Some(target.as_path()), "{at}");
                assert_eq!(l.size, 0, "tar stores no size for a hard link");
                assert_eq!(
                    f.size,
                    sizes[target.as_path()],
                    "{at}: hard link takes its target's size"
                );
            }
            _ => {
                assert_eq!(f.link, None, "{at}");
                assert_eq!(f.size, Some(l.size), "{at}");
            }
        }
    }
}

/// Package, Version and Architecture equal `dpkg-deb -f`.
fn assert_control_matches_dpkg_deb(deb: &Path, pkg: &Package) {
    let (ok, out, err) = common::run(Command::new("dpkg-deb").arg("-f").arg(deb).args([
        "Package",
        "Version",
        "Architecture",
    ]));
    assert!(ok, "{err}");
    let fields: HashMap<&str, &str> = out.lines().filter_map(|l| l.split_once(": ")).collect();
    let mut version = String::new();
    if let Some(e) = pkg.epoch {
        version.push_str(&format!("{e}:"));
    }
    version.push_str(&pkg.version);
    if let Some(r) = &pkg.release {
        version.push_str(&format!("-{r}"));
    }
    assert_eq!(fields["Package"], pkg.name);
    assert_eq!(fields["Version"], version);
    assert_eq!(Some(fields["Architecture"]), pkg.arch.as_deref());
    assert_eq!(pkg.source.backend, Backend::Deb);
}

/// Digests equal the control member's md5sums (read by `dpkg-deb -e`), and
/// exactly the conffiles carry the config flag.
fn assert_digests_and_conffiles(deb: &Path, pkg: &Package) {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = common::run(Command::new("dpkg-deb").arg("-e").arg(deb).arg(dir.path()));
    assert!(ok, "{err}");
    let md5sums = std::fs::read(dir.path().join("md5sums")).unwrap_or_default();
    let mut expected: HashMap<PathBuf, String> = HashMap::new();
    for line in md5sums.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let hash = std::str::from_utf8(&line[..32])
            .unwrap()
            .to_ascii_lowercase();
        expected.insert(normalise(&line[34..]), hash);
    }
    let conffiles = std::fs::read_to_string(dir.path().join("conffiles")).unwrap_or_default();
    let conffiles: Vec<&Path> = conffiles
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(Path::new)
        .collect();
    for f in &pkg.files {
        let want = expected.get(&*f.path).cloned();
        assert_eq!(
            f.digest.as_ref().map(|d| d.hex()),
            want,
            "{}: {}",
            deb.display(),
            f.path.display()
        );
        assert_eq!(
            f.flags.contains(FileFlags::CONFIG),
            conffiles.contains(&&*f.path),
            "{}: {}",
            deb.display(),
            f.path.display()
        );
    }
}

#[test]
fn fixtures_equal_dpkg_deb() {
    for deb in fixtures() {
        let pkg = read(&deb);
        assert_control_matches_dpkg_deb(&deb, &pkg);
        assert_entries_match_dpkg_deb(&deb, &pkg);
        assert_digests_and_conffiles(&deb, &pkg);
    }
}

#[test]
fn corpus_debs_equal_dpkg_deb() {
    for deb in corpus_debs() {
        let pkg = read(&deb);
        assert_control_matches_dpkg_deb(&deb, &pkg);
        assert_entries_match_dpkg_deb(&deb, &pkg);
        assert_digests_and_conffiles(&deb, &pkg);
    }
}

fn fixture(name: &str) -> PathBuf {
    fixtures()
        .into_iter()
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(name))
        .unwrap()
}

#[test]
fn fixture_details() {
    let gz = read(&fixture("pyvet-gz_"));
    assert_eq!(
        (
            gz.name.as_str(),
            gz.epoch,
            gz.version.as_str(),
            gz.release.as_deref()
        ),
        ("pyvet-gz", Some(1), "1.0", Some("1"))
    );
    let by_path = |p: &Package, path: &str| {
        p.files
            .iter()
            .find(|f| &*f.path == Path::new(path))
            .cloned()
            .unwrap()
    };
    let cafe = by_path(&gz, "/usr/share/pyvet-gz/café.txt");
    assert_eq!(
        cafe.digest.unwrap().hex(),
        format!("{:x}", md5_of(b"caf\xc3\xa9\n"))
    );
    let py = by_path(&gz, "/usr/lib/python3/dist-packages/pyvet_gz/__init__.py");
    assert_eq!(
        (py.kind, py.mode, py.size),
        (FileKind::File, Some(0o100644), Some(17))
    );
    let conf = by_path(&gz, "/etc/pyvet-gz.conf");
    assert!(conf.flags.contains(FileFlags::CONFIG));
    assert_eq!(conf.mode, Some(0o100640));
    let link = by_path(&gz, "/usr/bin/pyvet-gz-link");
    assert_eq!(
        (link.kind, link.link.as_deref()),
        (FileKind::Symlink, Some(Path::new("pyvet-gz")))
    );
    let hard = by_path(&gz, "/usr/bin/pyvet-gz-hard");
    assert_eq!(hard.link.as_deref(), Some(Path::new("/usr/bin/pyvet-gz")));
    assert_eq!(hard.size, by_path(&gz, "/usr/bin/pyvet-gz").size);
    assert_eq!(
        by_path(&gz, "/usr/share/pyvet-gz/empty-dir").kind,
        FileKind::Dir
    );
    let none = read(&fixture("pyvet-none_"));
    let setuid = by_path(&none, "/usr/share/pyvet-none/mode4755");
    assert_eq!(setuid.mode, Some(0o104755));
    assert_eq!((setuid.uid, setuid.gid), (Some(65534), Some(65534)));
    let ma = read(&fixture("pyvet-ma_"));
    assert_eq!(ma.arch.as_deref(), Some("amd64"));
}

fn md5_of(data: &[u8]) -> u128 {
    u128::from_str_radix(&pyvet::digest::Algo::Md5.hash_bytes(data).hex(), 16).unwrap()
}

fn src() -> Source {
    Source {
        backend: Backend::Deb,
        file: "test.deb".into(),
    }
}

/// Decompressed length of a member, as dpkg-deb produces it.
fn tar_len(deb: &Path, which: &str) -> u64 {
    let (ok, out, err) = common::run(
        Command::new("sh")
            .arg("-c")
            .arg(format!("dpkg-deb {which} \"$1\" | wc -c"))
            .arg("sh")
            .arg(deb),
    );
    assert!(ok, "{err}");
    out.trim().parse().unwrap()
}

#[test]
fn decompression_limits_give_typed_errors() {
    let deb = fixture("pyvet-xz_");
    let bytes = std::fs::read(&deb).unwrap();
    let data_len = tar_len(&deb, "--fsys-tarfile");
    let control_len = tar_len(&deb, "--ctrl-tarfile");
    let at = |control, data| deb::parse_with_limits(&bytes, src(), Limits { control, data });
    assert!(at(control_len, data_len).is_ok(), "exact sizes fit");
    match at(control_len, data_len / 2) {
        Err(DebError::TooLarge { member, limit }) => {
            assert_eq!((member.as_str(), limit), ("data.tar.xz", data_len / 2));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    match at(100, data_len) {
        Err(DebError::TooLarge { member, limit }) => {
            assert_eq!((member.as_str(), limit), ("control.tar.xz", 100));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

/// An ar archive built here from members of a real .deb (the ar format is
/// what is under test, not dpkg-deb's output).
fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut a = b"!<arch>\n".to_vec();
    for (name, data) in members {
        a.extend(
            format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                format!("{name}"),
                0,
                0,
                0,
                100644,
                data.len()
            )
            .bytes(),
        );
        a.extend(*data);
        if data.len() % 2 == 1 {
            a.push(b'\n');
        }
    }
    a
}

fn members_of(deb: &Path) -> HashMap<String, Vec<u8>> {
    let bytes = std::fs::read(deb).unwrap();
    pyvet::format::ar::parse(&bytes)
        .unwrap()
        .into_iter()
        .map(|m| (m.name, bytes[m.data].to_vec()))
        .collect()
}

#[test]
fn member_order_format_and_compression_are_checked() {
    let m = members_of(&fixture("pyvet-gz_"));
    let (bin, control, data) = (&m["debian-binary"], &m["control.tar.gz"], &m["data.tar.gz"]);
    let ok = ar(&[
        ("debian-binary", bin),
        ("_extra", b"x"),
        ("control.tar.gz", control),
        ("_more", b""),
        ("data.tar.gz", data),
    ]);
    assert_eq!(deb::parse(&ok, src()).unwrap().name, "pyvet-gz");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            ar(&[("debian-binary", bin), ("data.tar.gz", data)]),
            "UnexpectedMember",
        ),
        (ar(&[("control.tar.gz", control)]), "NotDebianBinary"),
        (
            ar(&[
                ("debian-binary", b"3.0\n"),
                ("control.tar.gz", control),
                ("data.tar.gz", data),
            ]),
            "UnsupportedFormat",
        ),
        (
            ar(&[
                ("debian-binary", bin),
                ("control.tar.gz", control),
                ("data.tar.bz2", b"BZh9"),
            ]),
            "UnsupportedCompression",
        ),
        (
            ar(&[("debian-binary", bin), ("control.tar.gz", control)]),
            "MissingMember",
        ),
        (
            ar(&[
                ("debian-binary", bin),
                ("control.tar.gz", data),
                ("data.tar.gz", data),
            ]),
            "NoControlFile",
        ),
        (
            ar(&[
                ("debian-binary", bin),
                ("control.tar.gz", b"not gzip"),
                ("data.tar.gz", data),
            ]),
            "Decompress",
        ),
    ];
    for (bytes, want) in cases {
        let e = deb::parse(&bytes, src()).unwrap_err();
        assert!(
            format!("{e:?}").starts_with(want),
            "expected {want}, got {e:?}"
        );
    }
}

#[test]
fn truncated_and_mutated_debs_never_panic() {
    let mut rng = common::XorShift::new(0x5851_f42d_4c95_7f2d);
    for deb in fixtures() {
        let bytes = std::fs::read(&deb).unwrap();
        for cut in (0..bytes.len()).step_by(13) {
            let _ = deb::parse(&bytes[..cut], src());
        }
        for _ in 0..300 {
            let mut b = bytes.clone();
            rng.mutate(&mut b, 4);
            let _ = deb::parse(&b, src());
        }
    }
}

#[test]
fn read_names_the_file_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken.deb");
    std::fs::write(&p, b"!<arch>\nshort").unwrap();
    let e = deb::read(&p).unwrap_err().to_string();
    assert!(e.contains("broken.deb") && e.contains("offset 8"), "{e}");
}

/// A zstd frame may declare any window up to 2 GiB, and the decoder
/// allocates it: a member asking for more than zstd's default 128 MiB is
/// refused before anything is decompressed.
#[test]
fn zstd_window_beyond_the_limit_is_refused() {
    let m = members_of(&fixture("pyvet-zst"));
    let (bin, control) = (&m["debian-binary"], &m["control.tar.zst"]);
    let tar = zstd::decode_all(&m["data.tar.zst"][..]).unwrap();
    let recompress = |window_log: u32| {
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.window_log(window_log).unwrap();
        e.long_distance_matching(true).unwrap();
        std::io::Write::write_all(&mut e, &tar).unwrap();
        e.finish().unwrap()
    };
    let deb = |data: &[u8]| {
        ar(&[
            ("debian-binary", bin),
            ("control.tar.zst", control),
            ("data.tar.zst", data),
        ])
    };
    let within = deb(&recompress(pyvet::limits::MAX_ZSTD_WINDOW_LOG));
    assert_eq!(deb::parse(&within, src()).unwrap().name, "pyvet-zst");
    let beyond = deb(&recompress(pyvet::limits::MAX_ZSTD_WINDOW_LOG + 1));
    let e = deb::parse(&beyond, src()).unwrap_err();
    assert!(e.to_string().contains("data.tar.zst"), "{e}");
}
