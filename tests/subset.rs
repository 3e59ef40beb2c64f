//! `pyvet subset` on real packages: the layouts of a real stdlib subset,
//! compiled by the real interpreter, rearranged with plain file operations
//! as the distributors' proposal describes, and packaged with rpmbuild.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::prelude::*;
use common::rpmroot::{build_rpm, compile, stage_subset, STDLIB};

/// Every `*.pyc` below `dir`.
fn pycs(dir: &Path) -> Vec<PathBuf> {
    common::files_with_suffix(dir, ".pyc")
}

/// A status-quo staging tree (sources + opt 0, 1, 2 pycs).
fn status_quo(stage: &Path) {
    stage_subset(stage);
    compile(&stage.join(&STDLIB[1..]), &[0, 1, 2]);
}

/// Drops the opt-1 and opt-2 pycs.
fn to_py_opt0(stage: &Path) {
    for p in pycs(stage) {
        if p.to_string_lossy().contains(".opt-") {
            std::fs::remove_file(p).unwrap();
        }
    }
}

/// Adds an empty `__dont_write_bytecode__` to every `__pycache__`: from the
/// status quo, option 1 with its pycs (option1-full).
fn add_markers(stage: &Path) {
    for d in walkdir::WalkDir::new(stage).into_iter().map(|e| e.unwrap()) {
        if d.file_type().is_dir() && d.file_name() == "__pycache__" {
            std::fs::write(d.path().join("__dont_write_bytecode__"), b"").unwrap();
        }
    }
}

/// Option 1: sources only, with the markers.
fn to_option1(stage: &Path) {
    for p in pycs(stage) {
        std::fs::remove_file(p).unwrap();
    }
    add_markers(stage);
}

/// Option 2 (`keep_sources`) or minimal: the opt-0 pyc moves to the source's
/// place; option 2 keeps the source gzipped in `__pysources__/`.
fn to_sourceless(stage: &Path, keep_sources: bool) {
    to_py_opt0(stage);
    for pyc in pycs(stage) {
        let cache = pyc.parent().unwrap();
        let dir = cache.parent().unwrap();
        let name = pyc.file_name().unwrap().to_string_lossy().to_string();
        let module = name.split('.').next().unwrap().to_string();
        std::fs::rename(&pyc, dir.join(format!("{module}.pyc"))).unwrap();
        let source = dir.join(format!("{module}.py"));
        if keep_sources {
            std::fs::create_dir_all(dir.join("__pysources__")).unwrap();
            let gz = common::run_stdout(Command::new("gzip").args(["-9", "-n", "-c"]).arg(&source));
            std::fs::write(dir.join(format!("__pysources__/{module}.py.gz")), gz).unwrap();
        }
        std::fs::remove_file(source).unwrap();
        let _ = std::fs::remove_dir(cache);
    }
}

/// Option 2's prefix variant: the opt-0 pyc moves to the source's place,
/// the source (`cp -p`) to the same path under `/usr/share/python3-sources`.
fn to_prefix(stage: &Path) {
    to_py_opt0(stage);
    for pyc in pycs(stage) {
        let cache = pyc.parent().unwrap();
        let dir = cache.parent().unwrap();
        let name = pyc.file_name().unwrap().to_string_lossy().to_string();
        let module = name.split('.').next().unwrap().to_string();
        std::fs::rename(&pyc, dir.join(format!("{module}.pyc"))).unwrap();
        let source = dir.join(format!("{module}.py"));
        let to = stage
            .join("usr/share/python3-sources")
            .join(source.strip_prefix(stage).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        common::run_stdout(Command::new("cp").arg("-p").arg(&source).arg(&to));
        std::fs::remove_file(source).unwrap();
        let _ = std::fs::remove_dir(cache);
    }
}

struct Layouts {
    _dir: tempfile::TempDir,
    rpms: std::collections::HashMap<&'static str, PathBuf>,
}

/// `cp -a`: the layouts share one compile, so a pyc's header (the
/// source's mtime) is the same in each, as in a real build.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    common::run_stdout(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(to),
    );
}

fn layouts() -> Layouts {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master");
    status_quo(&master);
    let mut rpms = std::collections::HashMap::new();
    type Make = fn(&Path);
    let all: [(&str, Make); 7] = [
        ("status-quo", |_| {}),
        ("option1-full", add_markers),
        ("py-opt0", to_py_opt0),
        ("option1", to_option1),
        ("option2", |s| to_sourceless(s, true)),
        ("option2-prefix", to_prefix),
        ("minimal", |s| to_sourceless(s, false)),
    ];
    for (name, make) in all {
        let work = dir.path().join(name);
        let stage = work.join("stage");
        copy_tree(&master, &stage);
        make(&stage);
        rpms.insert(name, build_rpm(&work, &stage, &format!("stdlib-{name}")));
    }
    Layouts { _dir: dir, rpms }
}

fn subset(minimal: &Path, full: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(["subset", "--format", "json", "--minimal"])
        .arg(minimal)
        .arg("--full")
        .arg(full)
        .args(extra)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v)
}

fn violations(v: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["rule"].as_str().unwrap().to_string(),
                x["path"].as_str().unwrap().to_string(),
                x["differs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn the_promised_pairs_pass_and_breaks_are_named() {
    let l = layouts();
    for (min, full) in [
        ("minimal", "option2"),
        ("minimal", "option2-prefix"),
        ("py-opt0", "status-quo"),
        ("option1", "option1-full"),
        ("py-opt0", "option1-full"),
    ] {
        let (code, v) = subset(&l.rpms[min], &l.rpms[full], &[]);
        assert_eq!(
            (code, v["result"].as_str()),
            (0, Some("pass")),
            "{min} ⊆ {full}: {v}"
        );
    }
    // The full side without the markers: each marker is missing there.
    let (code, v) = subset(&l.rpms["option1"], &l.rpms["status-quo"], &[]);
    assert_eq!(code, 1);
    let missing: Vec<_> = violations(&v).into_iter().map(|(r, p, _)| (r, p)).collect();
    assert_eq!(
        missing,
        [
            (
                "subset-missing".to_string(),
                format!("{STDLIB}/__pycache__/__dont_write_bytecode__")
            ),
            (
                "subset-missing".to_string(),
                format!("{STDLIB}/json/__pycache__/__dont_write_bytecode__")
            ),
        ]
    );
    // Minimal is not a subset of status quo: its pycs sit in the legacy location.
    let (code, _) = subset(&l.rpms["minimal"], &l.rpms["status-quo"], &[]);
    assert_eq!(code, 1);
}

#[test]
fn an_altered_or_added_file_on_the_minimal_side_is_named() {
    let l = layouts();
    let dir = tempfile::tempdir().unwrap();
    let stage = dir.path().join("stage");
    copy_tree(&l._dir.path().join("master"), &stage);
    to_sourceless(&stage, false);
    let lib = stage.join(&STDLIB[1..]);
    // One pyc recompiled from other code, one sourceless module added, one mode changed.
    std::fs::write(
        lib.join("keyword.pyc"),
        std::fs::read(lib.join("bisect.pyc")).unwrap(),
    )
    .unwrap();
    std::fs::copy(lib.join("colorsys.pyc"), lib.join("evil.pyc")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        lib.join("json/tool.pyc"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let bad = build_rpm(dir.path(), &stage, "stdlib-minimal-tampered");
    let (code, v) = subset(&bad, &l.rpms["option2"], &[]);
    assert_eq!(code, 1);
    let s = |x: &str| x.to_string();
    assert_eq!(
        violations(&v),
        [
            (s("subset-missing"), format!("{STDLIB}/evil.pyc"), vec![]),
            (
                s("subset-differs"),
                format!("{STDLIB}/json/tool.pyc"),
                vec![s("mode")]
            ),
            (
                s("subset-differs"),
                format!("{STDLIB}/keyword.pyc"),
                vec![s("digest"), s("size")]
            ),
        ]
    );
    // Compared by path only, only the added file remains.
    let (_, v) = subset(&bad, &l.rpms["option2"], &["--compare", "path"]);
    assert_eq!(violations(&v).len(), 1);
}

#[test]
fn junit_names_each_violation_as_a_failed_case() {
    let l = layouts();
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(["subset", "--format", "junit", "--minimal"])
        .arg(&l.rpms["option1"])
        .arg("--full")
        .arg(&l.rpms["status-quo"])
        .output()
        .unwrap();
    let xml = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        xml.contains(r#"tests="2" skipped="0" failures="2""#),
        "{xml}"
    );
    assert!(xml.contains(&format!(
        r#"<testcase name="{STDLIB}/json/__pycache__/__dont_write_bytecode__" classname="subset-missing">"#
    )), "{xml}");
}

/// Sum of file sizes and count of files (and symlinks) below `dir`.
fn bytes_and_files(dir: &Path) -> (u64, u64) {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .fold((0, 0), |(b, n), e| (b + e.metadata().unwrap().len(), n + 1))
}

#[test]
fn size_predicts_the_layouts_built_from_the_same_tree() {
    let l = layouts();
    let base = l._dir.path();
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(["size", "--format", "json"])
        .arg(base.join("master"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "pyvet-size/1");
    for (layout, built) in [
        ("status-quo", "status-quo"),
        ("py-opt0", "py-opt0"),
        ("option1", "option1"),
        ("option1-full", "option1-full"),
        ("option2", "option2"),
        ("minimal", "minimal"),
    ] {
        let predicted = v["layouts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == layout)
            .unwrap();
        let (bytes, files) = bytes_and_files(&base.join(built).join("stage"));
        assert_eq!(
            predicted["files"].as_u64().unwrap(),
            files,
            "{layout} file count"
        );
        let p = predicted["bytes"].as_u64().unwrap() as f64;
        // Exact but for option 2, whose sources are gzipped by another deflate.
        let tolerance = if layout == "option2" { 0.01 } else { 0.0 };
        assert!(
            (p - bytes as f64).abs() <= bytes as f64 * tolerance,
            "{layout}: predicted {p} bytes, built {bytes}"
        );
    }
}

/// `pyvet size --format json INPUT`, its layouts as (name, bytes, blocks, files).
fn size_json(input: &Path) -> Vec<(String, u64, u64, u64)> {
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(["size", "--format", "json"])
        .arg(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::size_layouts(&v)
}

/// What rpm says a built package holds: the sum of its regular files' and
/// symlinks' `FILESIZES`, and their count.
fn rpm_bytes_and_files(rpm: &Path) -> (u64, u64) {
    let out = common::run_stdout(
        Command::new("rpm")
            .args(["-qp", "--qf", "[%{FILEMODES:octal} %{FILESIZES}\n]"])
            .arg(rpm),
    );
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("40"))
        .map(|l| l.split(' ').nth(1).unwrap().parse::<u64>().unwrap())
        .fold((0, 0), |(b, n), size| (b + size, n + 1))
}

#[test]
fn size_of_a_package_is_the_size_of_its_tree() {
    let l = layouts();
    let master = size_json(&l._dir.path().join("master"));
    let packaged = size_json(&l.rpms["status-quo"]);
    assert_eq!(
        packaged, master,
        "status-quo.rpm against the tree it was built from"
    );
    // Each layout predicted from the status-quo package against the
    // package of that layout, as rpm itself lists it.
    for (name, bytes, _, files) in &packaged {
        let (built_bytes, built_files) = rpm_bytes_and_files(&l.rpms[name.as_str()]);
        assert_eq!(*files, built_files, "{name} file count");
        let off = (*bytes as f64 - built_bytes as f64).abs() / built_bytes as f64;
        assert!(
            off <= 0.01,
            "{name}: predicted {bytes} bytes, rpm lists {built_bytes}"
        );
        if name != "option2" {
            assert_eq!(*bytes, built_bytes, "{name}: exact but for option 2's gzip");
        }
    }
    // Inputs add up: the package twice is twice the tree.
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(["size", "--format", "json"])
        .arg(&l.rpms["status-quo"])
        .arg(l._dir.path().join("master"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["layouts"][0]["bytes"].as_u64().unwrap(), 2 * master[0].1);
}

/// The payload rpmbuild wrote (newc: no file here reaches 4 GiB), as rpm's
/// own `rpm2cpio` decompresses it, read entry by entry: the paths `rpm -qpl`
/// lists, in order, each file's data as long as its header says.
#[test]
fn the_cpio_reader_reads_what_rpmbuild_writes() {
    let l = layouts();
    let rpm = &l.rpms["status-quo"];
    let payload = common::run_stdout(Command::new("rpm2cpio").arg(rpm));
    let listed = common::run_stdout(Command::new("rpm").arg("-qpl").arg(rpm));
    let mut r = pyvet::format::cpio::Reader::new(&payload[..]);
    let mut names = String::new();
    while let Some(e) = r.next_entry().unwrap() {
        assert!(e.name.starts_with(b"./"), "{:?}", e.name);
        if e.mode & 0o170000 == 0o100000 {
            assert_eq!(r.read_data(1 << 24).unwrap().len() as u64, e.size);
        }
        names.push_str(&String::from_utf8_lossy(&e.name[1..]));
        names.push('\n');
    }
    assert_eq!(names, String::from_utf8(listed).unwrap());
}

/// The status-quo tree packaged with every payload compressor rpmbuild
/// offers: each one pyvet reads gives the tree's figures; bzip2 (no decoder
/// linked) is a typed error naming the package.
#[test]
fn size_reads_every_rpm_payload_compressor() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master");
    status_quo(&master);
    let tree = size_json(&master);
    for (io, compressor) in [
        ("w9.gzdio", "gzip"),
        ("w6.xzdio", "xz"),
        ("w6.lzdio", "lzma"),
        ("w19.zstdio", "zstd"),
        ("w.ufdio", "(none)"),
        ("w9.bzdio", "bzip2"),
    ] {
        let work = dir.path().join(io);
        std::fs::create_dir_all(&work).unwrap();
        let rpm = common::rpmroot::build_rpm_with(
            &work,
            &master,
            "stdlib-compressed",
            &[("_binary_payload", io)],
        );
        let said = common::run_stdout(
            Command::new("rpm")
                .args(["-qp", "--qf", "%{PAYLOADCOMPRESSOR}"])
                .arg(&rpm),
        );
        assert_eq!(String::from_utf8(said).unwrap(), compressor, "{io}");
        if compressor == "bzip2" {
            let out = Command::cargo_bin("pyvet")
                .unwrap()
                .arg("size")
                .arg(&rpm)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!(
                    "{}: RPM package: payload compressor \"bzip2\" is not supported",
                    rpm.display()
                )),
                "{err}"
            );
            continue;
        }
        assert_eq!(size_json(&rpm), tree, "{compressor}");
    }
}

/// Every third-party rpm of the shared corpus that this machine's rpm can
/// read (rpm-rs's, rpmlint's, rpm's own test packages, createrepo_c's: gzip,
/// xz, zstd and uncompressed payloads, newc and stripped cpio, v4 and v6,
/// source rpms): pyvet's status-quo figures are rpm's own, the sum of
/// `LONGFILESIZES` and the count of the files and symlinks it lists, `%ghost`s aside.
#[test]
fn size_of_corpus_rpms_agrees_with_rpm() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let rpms = common::files_with_suffix(&corpus.join("rpm"), ".rpm");
    let mut compared = 0;
    for rpm in &rpms {
        let (ok, listed, _) = common::run(
            Command::new("rpm")
                .args([
                    "-qp",
                    "--qf",
                    "[%{FILEMODES:octal} %{LONGFILESIZES} %{FILEFLAGS}\n]",
                ])
                .arg(rpm),
        );
        if !ok {
            eprintln!("rpm cannot read {}: not compared", rpm.display());
            continue;
        }
        const GHOST: u64 = 1 << 6;
        let (bytes, files) = listed
            .lines()
            .map(|l| l.split(' ').collect::<Vec<_>>())
            .filter(|f| !f[0].starts_with("40"))
            .filter(|f| f[2].parse::<u64>().unwrap() & GHOST == 0)
            .fold((0, 0), |(b, n), f| {
                (b + f[1].parse::<u64>().unwrap(), n + 1)
            });
        let sizes = size_json(rpm);
        assert_eq!(
            (sizes[0].1, sizes[0].3),
            (bytes, files),
            "{}",
            rpm.display()
        );
        compared += 1;
    }
    assert!(
        compared * 10 >= rpms.len() * 9,
        "{compared} of {} compared",
        rpms.len()
    );
}

/// Anything but a directory, a package or a packed resources file is a
/// usage error naming it.
#[test]
fn size_refuses_what_is_neither_a_tree_nor_a_package() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.rpm");
    std::fs::write(&text, "not a package\n").unwrap();
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .arg("size")
        .arg(&text)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "pyvet: error: {}: neither a directory, a .rpm or .deb package, nor a \
             PyOxidizer packed resources file (pyvet size reads a status-quo tree, \
             package or packed file)\n",
            text.display()
        )
    );
}

/// A `.deb` built by `dpkg-deb --build` from the same status-quo tree (plus
/// the conffile the helper always ships) costs what the tree costs.
#[test]
fn size_of_a_deb_is_the_size_of_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master");
    status_quo(&master);
    let stage = dir.path().join("stage");
    copy_tree(&master, &stage);
    let conffile = stage.join(&common::dpkgroot::CONFFILE[1..]);
    std::fs::create_dir_all(conffile.parent().unwrap()).unwrap();
    std::fs::write(&conffile, "[pyvet]\n").unwrap();
    let deb = common::dpkgroot::build_deb(dir.path(), &stage);
    let tree = size_json(&master);
    let packaged = size_json(&deb);
    for (t, p) in tree.iter().zip(&packaged) {
        let conf = 8;
        assert_eq!(
            (p.0.as_str(), p.1, p.2, p.3),
            (t.0.as_str(), t.1 + conf, t.2 + 1, t.3 + 1),
            "{}",
            t.0
        );
    }
}

#[test]
fn sarif_is_valid_and_names_each_violation() {
    let l = layouts();
    let out = Command::cargo_bin("pyvet")
        .unwrap()
        .args(["subset", "--format", "sarif", "--minimal"])
        .arg(&l.rpms["option1"])
        .arg("--full")
        .arg(&l.rpms["status-quo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = common::sarif::assert_valid(&String::from_utf8(out.stdout).unwrap());
    let results: Vec<_> = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(results, ["subset-missing", "subset-missing"]);
}

/// A `.deb` of one built layout's stage, made by `dpkg-deb --build`.
fn deb_of(l: &Layouts, layout: &str, work: &Path) -> PathBuf {
    let stage = work.join("stage");
    copy_tree(&l._dir.path().join(layout).join("stage"), &stage);
    let conf = stage.join(&common::dpkgroot::CONFFILE[1..]);
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(conf, "# pyvet scenario\n").unwrap();
    common::dpkgroot::build_deb(work, &stage)
}

#[test]
fn a_dpkg_deb_pair_keeps_the_promise_too() {
    let l = layouts();
    let dir = tempfile::tempdir().unwrap();
    let minimal = deb_of(&l, "minimal", &dir.path().join("minimal"));
    let option2 = deb_of(&l, "option2", &dir.path().join("option2"));
    let status_quo = deb_of(&l, "status-quo", &dir.path().join("status-quo"));
    // Every file is proven but the conffile: dpkg's md5sums leave conffiles
    // out (as dh_md5sums does), so its content has no digest to compare,
    // and an unproven file is not a subset.
    let (code, v) = subset(&minimal, &option2, &[]);
    assert_eq!(code, 1);
    let conf = common::dpkgroot::CONFFILE.to_string();
    assert_eq!(
        violations(&v),
        [(
            "subset-differs".to_string(),
            conf,
            vec!["digest".to_string()]
        )]
    );
    // Minimal's legacy-location pycs are not in the status-quo package.
    let (code, v) = subset(&minimal, &status_quo, &[]);
    assert_eq!(code, 1);
    assert!(violations(&v)
        .iter()
        .any(|(r, p, _)| r == "subset-missing" && p == &format!("{STDLIB}/keyword.pyc")));
}
