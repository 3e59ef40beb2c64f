//! dpkg databases read by pyvet, compared with what `dpkg-query` says about
//! the same data: corpus status files, distroless `status.d/` trees, a
//! scratch root with packages really installed by dpkg, and this host.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyvet::db::dpkg;
use pyvet::digest::Algo;
use pyvet::manifest::{Backend, FileFlags, FileKind, Package, Source};

/// `dpkg-query` statuses whose files are on disk (see `db::dpkg`'s docs).
const ON_DISK: [&str; 6] = [
    "half-installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
    "installed",
];

type Row = (String, String, String);

fn version_string(p: &Package) -> String {
    let mut v = String::new();
    if let Some(e) = p.epoch {
        v.push_str(&format!("{e}:"));
    }
    v.push_str(&p.version);
    if let Some(r) = &p.release {
        v.push_str(&format!("-{r}"));
    }
    v
}

fn rows(packages: &[Package]) -> BTreeSet<Row> {
    packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                version_string(p),
                p.arch.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// `dpkg-query -W` on an admin directory: (success, on-disk rows, stderr).
fn dpkg_query_w(admindir: &Path) -> (bool, BTreeSet<Row>, String) {
    let (ok, out, err) = common::run(
        Command::new("dpkg-query")
            .arg("--admindir")
            .arg(admindir)
            .arg("-W")
            .arg("-f")
            .arg("${db:Status-Status}\\t${Package}\\t${Version}\\t${Architecture}\\n"),
    );
    let rows = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ON_DISK
                .contains(&f[0])
                .then(|| (f[1].to_owned(), f[2].to_owned(), f[3].to_owned()))
        })
        .collect();
    (ok, rows, err)
}

/// An empty admin directory as dpkg wants it, with `status` given.
fn admindir_with(status: &[u8]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for sub in ["info", "updates"] {
        std::fs::create_dir(d.path().join(sub)).unwrap();
    }
    std::fs::write(d.path().join("status"), status).unwrap();
    std::fs::write(d.path().join("available"), b"").unwrap();
    d
}

fn is_status_like(p: &Path) -> bool {
    let name = p.file_name().unwrap().to_str().unwrap();
    !name.ends_with("md5sums") && !name.ends_with(".conffiles") && !name.ends_with(".list")
}

fn src(file: &Path) -> Source {
    Source {
        backend: Backend::Dpkg,
        file: file.to_path_buf(),
    }
}

/// The number after "near line" in a dpkg error.
fn dpkg_line(stderr: &str) -> Option<usize> {
    let rest = stderr.split("near line ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The number after "line " in a pyvet error.
fn pyvet_line(msg: &str) -> Option<usize> {
    let rest = msg.split("line ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// How dpkg and pyvet word the same reason for refusing a status file.
const SAME_REASON: [(&str, &str); 5] = [
    ("may not be empty string", "may not be empty"),
    ("must be followed by colon", "must be followed by ':'"),
    (
        "syntax error after reference to package",
        "syntax error after reference to package",
    ),
    (
        "second (error) word in 'Status' field",
        "second (error) word in 'Status' field",
    ),
    ("missing final newline", "no final newline"),
];

#[test]
fn corpus_status_files_equal_dpkg_query() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (mut agreed, mut refused) = (0, 0);
    for file in common::files_with_suffix(&corpus.join("dpkg"), "")
        .into_iter()
        .filter(|p| is_status_like(p))
    {
        let bytes = std::fs::read(&file).unwrap();
        let admin = admindir_with(&bytes);
        let (ok, expected, stderr) = dpkg_query_w(admin.path());
        let got = dpkg::parse_status(&bytes, src(&file));
        if ok {
            let got = got.unwrap_or_else(|e| {
                panic!("{}: dpkg-query accepts it, pyvet says {e}", file.display())
            });
            assert_eq!(rows(&got), expected, "{}", file.display());
            agreed += 1;
        } else {
            let e = got.expect_err(&format!(
                "{}: dpkg-query refuses it ({stderr}), pyvet accepts it",
                file.display()
            ));
            let (ours, theirs) = (pyvet_line(&e.to_string()), dpkg_line(&stderr));
            eprintln!(
                "{}: pyvet {e} | dpkg-query {}",
                file.display(),
                stderr.trim()
            );
            let (ours, theirs) = (ours.expect("pyvet names the line"), theirs.unwrap());
            let same_reason = SAME_REASON
                .iter()
                .find(|(d, _)| stderr.contains(d))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: add dpkg's reason to SAME_REASON: {stderr}",
                        file.display()
                    )
                });
            assert!(
                e.to_string().contains(same_reason.1),
                "{}: {e} vs {stderr}",
                file.display()
            );
            // dpkg counts the lines it has finished; pyvet names the line
            // where the offending field or stanza starts.
            assert!(
                ours <= theirs + 1,
                "{}: pyvet line {ours}, dpkg line {theirs}",
                file.display()
            );
            refused += 1;
        }
    }
    eprintln!("{agreed} status files agree with dpkg-query, {refused} refused by both");
    assert!(
        agreed >= 15 && refused >= 5,
        "{agreed} agreed, {refused} refused"
    );
}

/// `<md5>  <path>` lines, read independently of pyvet.
fn md5sums_of(path: &Path) -> HashMap<PathBuf, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (hash, p) = l.split_once("  ").unwrap();
            (Path::new("/").join(p), hash.to_owned())
        })
        .collect()
}

fn digests(p: &Package) -> HashMap<PathBuf, String> {
    p.files
        .iter()
        .filter_map(|f| Some((f.path.to_path_buf(), f.digest.as_ref()?.hex())))
        .collect()
}

#[test]
fn corpus_distroless_status_d() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let admin = corpus.join("dpkg/syft/image-distroless-deb/var/lib/dpkg");
    let m = dpkg::read_admindir(&admin).unwrap();
    assert_eq!(
        rows(&m.packages),
        BTreeSet::from([("libsqlite3-0".into(), "3.34.1-3".into(), "arm64".into())])
    );
    let p = &m.packages[0];
    assert_eq!(p.source.backend, Backend::DpkgStatusD);
    assert_eq!(p.install_time, None);
    assert_eq!(
        digests(p),
        md5sums_of(&admin.join("status.d/libsqlite3-0.md5sums"))
    );
    assert!(p.files.iter().all(|f| f.kind == FileKind::File));

    // A status.d file with a Status-less stanza (installed) and a
    // config-files one (dropped), next to its own .md5sums.
    let admin = corpus.join("dpkg/osv-scalibr");
    let m = dpkg::read_admindir(&admin).unwrap();
    assert_eq!(
        rows(&m.packages),
        BTreeSet::from([("foo".into(), "1.2.3".into(), "amd64".into())])
    );
    assert_eq!(
        digests(&m.packages[0]),
        md5sums_of(&admin.join("status.d/foo.md5sums"))
    );

    // One status.d file read on its own.
    let single = corpus.join("dpkg/syft/var/lib/dpkg/status.d/single");
    let m = dpkg::read_status_file(&single).unwrap();
    assert_eq!(
        rows(&m.packages),
        BTreeSet::from([("apt".into(), "1.8.2".into(), "amd64".into())])
    );
    assert_eq!(m.packages[0].source.backend, Backend::DpkgStatusD);
}

#[test]
fn corpus_broken_status_d_names_file_and_line() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let e = dpkg::read_admindir(&corpus.join("dpkg/syft/var/lib/dpkg")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("status.d/corrupt") && msg.contains("line 5") && msg.contains("Insterface"),
        "{msg}"
    );
}

#[test]
fn corpus_status_with_info_dir() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // dpkg-query refuses this status (an empty Package field); so does pyvet,
    // naming the file.
    let admin = corpus.join("dpkg/syft/image-dpkg/var/lib/dpkg");
    let msg = dpkg::read_admindir(&admin).unwrap_err().to_string();
    assert!(
        msg.contains("image-dpkg/var/lib/dpkg/status") && msg.contains("line 1"),
        "{msg}"
    );
    // With that stanza removed, the info/ files apply.
    let status = std::fs::read_to_string(admin.join("status")).unwrap();
    let fixed = status.replacen("Package:\n\n", "", 1) + "\n"; // the file lacks its final newline
    let copy = admindir_with(fixed.as_bytes());
    for f in ["libpam-runtime.md5sums", "libpam-runtime.conffiles"] {
        std::fs::copy(admin.join("info").join(f), copy.path().join("info").join(f)).unwrap();
    }
    let (ok, expected, err) = dpkg_query_w(copy.path());
    assert!(ok, "{err}");
    let m = dpkg::read_admindir(copy.path()).unwrap();
    assert_eq!(rows(&m.packages), expected);
    let pam = &m.packages[0];
    let md5 = md5sums_of(&admin.join("info/libpam-runtime.md5sums"));
    let ours = digests(pam);
    for (path, hash) in &md5 {
        assert_eq!(ours.get(path), Some(hash));
    }
    let conffiles = std::fs::read_to_string(admin.join("info/libpam-runtime.conffiles")).unwrap();
    for c in conffiles.lines().filter(|l| !l.trim().is_empty()) {
        let f = pam
            .files
            .iter()
            .find(|f| &*f.path == Path::new(c.trim()))
            .unwrap();
        assert!(f.flags.contains(FileFlags::CONFIG), "{c}");
    }
}

fn dpkg_in_root(root: &Path, args: &[&str]) {
    let (ok, _, err) = common::run(
        Command::new("dpkg")
            .arg("--root")
            .arg(root)
            .args([
                "--force-not-root",
                "--force-script-chrootless",
                "--log=/dev/null",
            ])
            .args(args),
    );
    assert!(ok, "dpkg {args:?}: {err}");
}

/// `dpkg-query -L`: the package's paths in `.list` order.
fn dpkg_query_l(admindir: &Path, package: &str) -> Vec<PathBuf> {
    dpkg_query_l_diverted(admindir, package).0
}

/// `dpkg-query -L`'s paths with diversions applied, and which paths moved.
fn dpkg_query_l_diverted(
    admindir: &Path,
    package: &str,
) -> (Vec<PathBuf>, BTreeMap<PathBuf, PathBuf>) {
    let (ok, out, err) = common::run(
        Command::new("dpkg-query")
            .env("LC_ALL", "C")
            .arg("--admindir")
            .arg(admindir)
            .arg("-L")
            .arg(package),
    );
    assert!(ok, "dpkg-query -L {package}: {err}");
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut moved = BTreeMap::new();
    for l in out.lines().filter(|l| !l.is_empty()) {
        // dpkg-query notes a diversion after the path it applies to; the
        // package's file is then at the divert-to path (unless this package
        // made the diversion: "package diverts others to").
        let diverted = ["diverted by ", "locally diverted to: "]
            .iter()
            .any(|p| l.starts_with(p));
        if diverted {
            let to = PathBuf::from(l.split_once(" to: ").unwrap().1);
            let from = std::mem::replace(paths.last_mut().unwrap(), to.clone());
            moved.insert(from, to);
        } else if !l.starts_with("package diverts others to: ") {
            paths.push(PathBuf::from(l));
        }
    }
    (paths, moved)
}

/// The name dpkg files a package under in `info/`: `name:arch` for
/// Multi-Arch: same packages, `name` otherwise.
fn query_name(admin: &Path, p: &Package) -> String {
    let qualified = format!("{}:{}", p.name, p.arch.as_deref().unwrap_or_default());
    if admin.join(format!("info/{qualified}.list")).exists() {
        qualified
    } else {
        p.name.clone()
    }
}

#[test]
fn scratch_root_installed_by_dpkg_equals_dpkg_query() {
    let root = tempfile::tempdir().unwrap();
    let admin = root.path().join("var/lib/dpkg");
    std::fs::create_dir_all(&admin).unwrap();
    let init = admindir_with(b"");
    for f in ["status", "available"] {
        std::fs::copy(init.path().join(f), admin.join(f)).unwrap();
    }
    for d in ["info", "updates"] {
        std::fs::create_dir(admin.join(d)).unwrap();
    }
    let debs: Vec<String> = common::deb_fixtures()
        .iter()
        .map(|p| p.to_str().unwrap().to_owned())
        .collect();
    let mut args = vec!["-i"];
    args.extend(debs.iter().map(String::as_str));
    dpkg_in_root(root.path(), &args);
    dpkg_in_root(root.path(), &["-r", "pyvet-zst"]);

    let m = dpkg::read_admindir(&admin).unwrap();
    let (ok, expected, err) = dpkg_query_w(&admin);
    assert!(ok, "{err}");
    assert_eq!(rows(&m.packages), expected);
    let names: BTreeSet<&str> = m.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["pyvet-gz", "pyvet-ma", "pyvet-none", "pyvet-xz"]),
        "config-files pyvet-zst is dropped"
    );

    for p in &m.packages {
        let q = query_name(&admin, p);
        let paths: Vec<PathBuf> = p.files.iter().map(|f| f.path.to_path_buf()).collect();
        assert_eq!(paths, dpkg_query_l(&admin, &q), "{q}");
        let list = admin.join(format!("info/{q}.list"));
        assert_eq!(
            p.install_time,
            Some(std::fs::metadata(&list).unwrap().mtime()),
            "{q}"
        );
        let md5 = md5sums_of(&admin.join(format!("info/{q}.md5sums")));
        for f in &p.files {
            let on_disk = root.path().join(f.path.strip_prefix("/").unwrap());
            let is_conf = f.path.extension().is_some_and(|e| e == "conf");
            assert_eq!(
                f.flags.contains(FileFlags::CONFIG),
                is_conf,
                "{}",
                f.path.display()
            );
            match &f.digest {
                Some(d) => {
                    assert_eq!(f.kind, FileKind::File);
                    assert_eq!(
                        d.hex(),
                        Algo::Md5
                            .hash_bytes(&std::fs::read(&on_disk).unwrap())
                            .hex(),
                        "{}",
                        f.path.display()
                    );
                    assert!(
                        is_conf || md5.get(&*f.path) == Some(&d.hex()),
                        "{}",
                        f.path.display()
                    );
                }
                None => {
                    assert_eq!(f.kind, FileKind::Unknown, "{}", f.path.display());
                    assert!(!md5.contains_key(&*f.path));
                }
            }
        }
    }
}

#[test]
fn status_and_status_d_are_both_read() {
    let admin = admindir_with(b"Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nMaintainer: m\nDescription: d\n");
    let status_d = admin.path().join("status.d");
    std::fs::create_dir(&status_d).unwrap();
    std::fs::write(
        status_d.join("b"),
        b"Package: b\nVersion: 2\nArchitecture: amd64\n",
    )
    .unwrap();
    std::fs::write(
        status_d.join("b.md5sums"),
        b"d41d8cd98f00b204e9800998ecf8427e  usr/share/b/empty\n",
    )
    .unwrap();
    let m = dpkg::read_admindir(admin.path()).unwrap();
    let got: Vec<(&str, Backend, usize)> = m
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.source.backend, p.files.len()))
        .collect();
    assert_eq!(
        got,
        [("a", Backend::Dpkg, 0), ("b", Backend::DpkgStatusD, 1)]
    );
    assert_eq!(
        &*m.packages[1].files[0].path,
        Path::new("/usr/share/b/empty")
    );
}

#[test]
fn updates_journal_overrides_status_like_dpkg() {
    let status = b"Package: a\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\nMaintainer: m\nDescription: d\n\nPackage: b\nStatus: install ok installed\nVersion: 2.0\nArchitecture: all\nMaintainer: m\nDescription: d\n";
    let admin = admindir_with(status);
    std::fs::write(
        admin.path().join("updates/0000"),
        b"Package: a\nStatus: install ok unpacked\nVersion: 1.1\nArchitecture: all\nMaintainer: m\nDescription: d\n",
    )
    .unwrap();
    std::fs::write(
        admin.path().join("updates/0001"),
        b"Package: b\nStatus: deinstall ok config-files\nVersion: 2.0\nArchitecture: all\nMaintainer: m\nDescription: d\n",
    )
    .unwrap();
    std::fs::write(admin.path().join("updates/tmp.i"), b"garbage").unwrap();
    let (ok, expected, err) = dpkg_query_w(admin.path());
    assert!(ok, "{err}");
    let m = dpkg::read_admindir(admin.path()).unwrap();
    assert_eq!(rows(&m.packages), expected);
    assert_eq!(
        rows(&m.packages),
        BTreeSet::from([("a".into(), "1.1".into(), "all".into())])
    );
}

#[test]
fn host_dpkg_database_equals_dpkg_query() {
    let admin = Path::new("/var/lib/dpkg");
    if !admin.join("status").is_file() {
        eprintln!("NO DPKG DATABASE at {}: host test skipped", admin.display());
        return;
    }
    let m = dpkg::read_admindir(admin).unwrap();
    let (ok, expected, err) = dpkg_query_w(admin);
    assert!(ok, "{err}");
    assert_eq!(rows(&m.packages), expected);
    let mut checked_lists = 0;
    for (i, p) in m.packages.iter().enumerate() {
        let stems = [
            p.name.clone(),
            format!("{}:{}", p.name, p.arch.clone().unwrap_or_default()),
        ];
        let Some(list) = stems
            .iter()
            .map(|s| admin.join(format!("info/{s}.list")))
            .find(|l| l.exists())
        else {
            continue;
        };
        let ours: BTreeSet<&Path> = p.files.iter().map(|f| &*f.path).collect();
        let stem = list.file_stem().unwrap().to_str().unwrap();
        // Where dpkg put each listed file: asked of dpkg-query only for a
        // package with a path that is not where it is listed.
        let mut moved: Option<BTreeMap<PathBuf, PathBuf>> = None;
        let mut placed = |path: &Path| -> PathBuf {
            if ours.contains(path) {
                return path.to_path_buf();
            }
            let m = moved.get_or_insert_with(|| dpkg_query_l_diverted(admin, stem).1);
            m.get(path).cloned().unwrap_or_else(|| path.to_path_buf())
        };
        let text = std::fs::read(&list).unwrap();
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            use std::os::unix::ffi::OsStrExt;
            let line = line.strip_suffix(b"/").unwrap_or(line);
            let path = placed(Path::new(std::ffi::OsStr::from_bytes(line)));
            assert!(
                ours.contains(path.as_path()),
                "{}: {} missing",
                p.name,
                path.display()
            );
        }
        let md5 = list.with_extension("md5sums");
        if md5.exists() {
            let ours = digests(p);
            for (path, hash) in md5sums_of(&md5) {
                let path = placed(&path);
                assert_eq!(
                    ours.get(&path),
                    Some(&hash),
                    "{}: {}",
                    p.name,
                    path.display()
                );
            }
        }
        if i % 25 == 0 {
            let paths: Vec<PathBuf> = p.files.iter().map(|f| f.path.to_path_buf()).collect();
            assert_eq!(paths, dpkg_query_l(admin, stem), "{stem}");
        }
        checked_lists += 1;
    }
    eprintln!(
        "{} host packages, {checked_lists} .list files checked",
        m.packages.len()
    );
    assert!(checked_lists > 0);
}
