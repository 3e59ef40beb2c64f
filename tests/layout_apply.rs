//! `pyvet layout apply` against the layouts built independently: a real
//! stdlib subset compiled by the real interpreter (`compileall -o 0 -o 1 -o 2`),
//! converted once by pyvet and once by plain file operations as the
//! distributors' proposal describes; the `--split` lists packaged with
//! rpmbuild and checked with `pyvet subset` and `pyvet size`.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::prelude::*;
use common::rpmroot::{compile, stage_subset, PYTHON, STDLIB};

const LAYOUTS: [&str; 6] = [
    "status-quo",
    "py-opt0",
    "option1",
    "option1-full",
    "option2",
    "minimal",
];

/// `cp -a`: every copy shares one compile, as in a real build.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    common::run_stdout(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(to),
    );
}

fn pycs(dir: &Path) -> Vec<PathBuf> {
    common::files_with_suffix(dir, ".pyc")
}

/// The expected tree, by plain file operations.
fn expected(stage: &Path, layout: &str) {
    if layout == "status-quo" {
        return;
    }
    if layout.starts_with("option1") {
        // Option 1 ships sources only; option1-full keeps the pycs too.
        if layout == "option1" {
            for p in pycs(stage) {
                std::fs::remove_file(p).unwrap();
            }
        }
        for d in walkdir::WalkDir::new(stage).into_iter().map(|e| e.unwrap()) {
            if d.file_type().is_dir() && d.file_name() == "__pycache__" {
                std::fs::write(d.path().join("__dont_write_bytecode__"), b"").unwrap();
            }
        }
        return;
    }
    for p in pycs(stage) {
        if p.to_string_lossy().contains(".opt-") {
            std::fs::remove_file(p).unwrap();
        }
    }
    if layout == "py-opt0" {
        return;
    }
    for pyc in pycs(stage) {
        let cache = pyc.parent().unwrap();
        let dir = cache.parent().unwrap();
        let name = pyc.file_name().unwrap().to_string_lossy().to_string();
        let module = name.split('.').next().unwrap().to_string();
        std::fs::rename(&pyc, dir.join(format!("{module}.pyc"))).unwrap();
        let source = dir.join(format!("{module}.py"));
        if layout == "option2" {
            std::fs::create_dir_all(dir.join("__pysources__")).unwrap();
            let to = dir.join(format!("__pysources__/{module}.py.gz"));
            python_gzip(&source, &to);
        }
        std::fs::remove_file(source).unwrap();
        let _ = std::fs::remove_dir(cache);
    }
}

/// gzip by the interpreter's zlib: no name, mtime 0, XFL 2 (level 9), OS 255.
fn python_gzip(source: &Path, to: &Path) {
    let script = "import sys,zlib,struct,os\n\
        d=open(sys.argv[1],'rb').read()\n\
        c=zlib.compressobj(9,zlib.DEFLATED,-15)\n\
        o=b'\\x1f\\x8b\\x08\\x00\\x00\\x00\\x00\\x00\\x02\\xff'+c.compress(d)+c.flush()+struct.pack('<II',zlib.crc32(d),len(d))\n\
        open(sys.argv[2],'wb').write(o)\n\
        st=os.stat(sys.argv[1]); os.chmod(sys.argv[2],st.st_mode&0o7777); os.utime(sys.argv[2],ns=(st.st_atime_ns,st.st_mtime_ns))\n";
    common::run_stdout(
        Command::new(PYTHON)
            .args(["-c", script])
            .arg(source)
            .arg(to),
    );
}

/// One entry of a tree: kind, mode, mtime, and content.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    dir: bool,
    mode: u32,
    mtime: i64,
    bytes: Vec<u8>,
}

fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let bytes = if m.is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            let entry = Entry {
                dir: m.is_dir(),
                mode: m.permissions().mode(),
                mtime: if m.is_dir() { 0 } else { m.mtime() },
                bytes,
            };
            (rel, entry)
        })
        .collect()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Trees equal file for file (paths, kinds, modes, mtimes) and byte for
/// byte, except the deflate stream inside a `.gz`: pyvet's (pure-Rust,
/// the same on every machine) and the host zlib's are different valid
/// encodings, so there the 10-byte header, the trailer (CRC-32 and size)
/// and the decompressed bytes must be equal instead.
fn assert_same(ours: &BTreeMap<String, Entry>, theirs: &BTreeMap<String, Entry>, what: &str) {
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "{what}: paths"
    );
    for (path, a) in ours {
        let b = &theirs[path];
        assert_eq!(
            (a.dir, a.mode, a.mtime),
            (b.dir, b.mode, b.mtime),
            "{what}: {path}"
        );
        if path.ends_with(".gz") {
            assert_eq!(a.bytes[..10], b.bytes[..10], "{what}: {path} header");
            assert_eq!(
                a.bytes[a.bytes.len() - 8..],
                b.bytes[b.bytes.len() - 8..],
                "{what}: {path} trailer"
            );
            assert_eq!(gunzip(&a.bytes), gunzip(&b.bytes), "{what}: {path}");
        } else {
            assert!(a.bytes == b.bytes, "{what}: {path} differs");
        }
    }
}

fn pyvet() -> Command {
    Command::cargo_bin("pyvet").unwrap()
}

/// `pyvet layout apply --layout L [--split DIR] ROOT`: exit code, stdout, stderr.
fn apply(layout: &str, root: &Path, split: Option<&Path>) -> (i32, String, String) {
    let mut cmd = pyvet();
    cmd.args(["layout", "apply", "--layout", layout]);
    if let Some(s) = split {
        cmd.arg("--split").arg(s);
    }
    let out = cmd.arg(root).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The status-quo master every layout starts from.
fn master(dir: &Path) -> PathBuf {
    let m = dir.join("master");
    stage_subset(&m);
    compile(&m.join(&STDLIB[1..]), &[0, 1, 2]);
    m
}

#[test]
fn each_layout_equals_the_independently_built_tree_and_applying_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let master = master(dir.path());
    for layout in LAYOUTS {
        let ours = dir.path().join(format!("{layout}-pyvet"));
        let theirs = dir.path().join(format!("{layout}-expected"));
        copy_tree(&master, &ours);
        copy_tree(&master, &theirs);
        let (code, out, err) = apply(layout, &ours, None);
        assert_eq!(code, 0, "{layout}: {out}{err}");
        expected(&theirs, layout);
        let first = snapshot(&ours);
        assert_same(&first, &snapshot(&theirs), layout);
        let (code, out, err) = apply(layout, &ours, None);
        assert_eq!(code, 0, "{layout} again: {out}{err}");
        assert!(out.contains(": 0 changes\n"), "{layout} again: {out}");
        assert_eq!(first, snapshot(&ours), "{layout}: applied twice");
    }
    // Deterministic: a second conversion of another copy is byte-identical.
    let again = dir.path().join("option2-again");
    copy_tree(&master, &again);
    assert_eq!(apply("option2", &again, None).0, 0);
    assert_eq!(
        snapshot(&again),
        snapshot(&dir.path().join("option2-pyvet"))
    );
}

#[test]
fn a_tree_in_another_layout_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let master = master(dir.path());
    let root = dir.path().join("root");
    copy_tree(&master, &root);
    assert_eq!(apply("minimal", &root, None).0, 0);
    let before = snapshot(&root);
    // Sources are gone: no sources-beside layout can be made from minimal.
    let (code, _, err) = apply("py-opt0", &root, None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{STDLIB}/bisect.py: not a source")),
        "{err}"
    );
    // Minimal lacks the sources option 2 keeps: refused too.
    let (code, _, err) = apply("option2", &root, None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{STDLIB}/json/tool.py: neither status quo")),
        "{err}"
    );
    assert_eq!(before, snapshot(&root));

    // Half-converted by hand: one module moved, the rest status quo.
    let half = dir.path().join("half");
    copy_tree(&master, &half);
    let lib = half.join(&STDLIB[1..]);
    std::fs::rename(
        lib.join("__pycache__/keyword.cpython-311.pyc"),
        lib.join("keyword.pyc"),
    )
    .unwrap();
    let before = snapshot(&half);
    let (code, _, err) = apply("option2", &half, None);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("  /")).collect::<Vec<_>>(),
        [format!("  {STDLIB}/keyword.py: neither status quo (source and its opt-0 __pycache__ pyc) nor already in the layout")]
    );
    assert_eq!(before, snapshot(&half));
}

#[test]
fn a_symlink_out_of_the_build_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let master = master(dir.path());
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::os::unix::fs::symlink(master.join(&STDLIB[1..]), root.join("usr/lib/python3.11")).unwrap();
    let before = snapshot(&master);
    let out = pyvet()
        .args(["layout", "apply", "--layout", "minimal"])
        .arg(&root)
        .arg(STDLIB)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("resolves outside the build root"));
    assert_eq!(before, snapshot(&master));
}

/// Builds `name` (the `base` list) with a subpackage `name-ROLE` for each
/// other non-empty `--split` list, as a distributor's spec for the layout
/// would (rpmbuild rejects an empty `%files -f` file).
fn build_split(
    work: &Path,
    stage: &Path,
    split: &Path,
    name: &str,
) -> BTreeMap<&'static str, PathBuf> {
    let roles: Vec<&'static str> = ["pycache", "pysources"]
        .into_iter()
        .filter(|r| {
            std::fs::metadata(split.join(format!("{r}.files")))
                .unwrap()
                .len()
                > 0
        })
        .collect();
    let mut spec_text = format!(
        "Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: pyvet layout\nLicense: PSF-2.0\nBuildArch: noarch\n\
         %description\nA stdlib subset in one layout.\n"
    );
    for r in &roles {
        spec_text +=
            &format!("%package {r}\nSummary: {r}\n%description {r}\nThe {r} of the layout.\n");
    }
    spec_text += &format!(
        "%install\ncp -a {}/. %{{buildroot}}/\n%files -f base.files\n",
        stage.display()
    );
    for r in &roles {
        spec_text += &format!("%files {r} -f {r}.files\n");
    }
    let spec = work.join(format!("{name}.spec"));
    std::fs::write(&spec, spec_text).unwrap();
    let top = work.join("rpmbuild");
    common::run_stdout(
        Command::new("rpmbuild")
            .args(["-bb", "--quiet"])
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg("--define")
            .arg(format!("_builddir {}", split.display()))
            .args(["--define", "__os_install_post %{nil}"])
            .args(["--define", "_build_id_links none"])
            .arg(&spec),
    );
    std::iter::once(("base", String::new()))
        .chain(roles.iter().map(|r| (*r, format!("-{r}"))))
        .map(|(role, suffix)| {
            let rpm = top.join(format!("RPMS/noarch/{name}{suffix}-1.0-1.noarch.rpm"));
            assert!(rpm.is_file(), "{}", rpm.display());
            (role, rpm)
        })
        .collect()
}

/// Sum of the regular files' sizes in packages.
fn payload_bytes(rpms: &[&PathBuf]) -> u64 {
    let mut total = 0;
    for rpm in rpms {
        let out = common::run_stdout(
            Command::new("rpm")
                .args(["-qp", "--qf", "[%{FILESIZES} %{FILEMODES:perms}\\n]"])
                .arg(rpm),
        );
        for line in String::from_utf8(out).unwrap().lines() {
            let (size, perms) = line.split_once(' ').unwrap();
            if perms.starts_with('-') {
                total += size.parse::<u64>().unwrap();
            }
        }
    }
    total
}

fn subset_passes(minimal: &[&PathBuf], full: &[&PathBuf]) -> (i32, String) {
    let out = pyvet()
        .args(["subset", "--format", "json", "--minimal"])
        .args(minimal)
        .arg("--full")
        .args(full)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn split_packages_keep_the_subset_rule_and_size_predicts_them() {
    let dir = tempfile::tempdir().unwrap();
    let master = master(dir.path());
    let mut rpms = BTreeMap::new();
    for layout in LAYOUTS {
        let work = dir.path().join(layout);
        let stage = work.join("stage");
        let split = work.join("split");
        copy_tree(&master, &stage);
        let (code, out, err) = apply(layout, &stage, Some(&split));
        assert_eq!(code, 0, "{layout}: {out}{err}");
        rpms.insert(
            layout,
            build_split(&work, &stage, &split, &format!("stdlib-{layout}")),
        );
    }
    let r = |l: &str, role: &str| &rpms[l][role];
    // The proposal's promises, from the split lists.
    for (min, full) in [
        (
            vec![r("minimal", "base")],
            vec![r("option2", "base"), r("option2", "pysources")],
        ),
        (
            vec![r("py-opt0", "base"), r("py-opt0", "pycache")],
            vec![r("status-quo", "base"), r("status-quo", "pycache")],
        ),
        // Option 1 ⊆ option 1 with its pycs ⊇ status quo: the full install
        // is the status quo plus the markers.
        (
            vec![r("option1", "base")],
            vec![r("option1-full", "base"), r("option1-full", "pycache")],
        ),
        (
            vec![r("status-quo", "base"), r("status-quo", "pycache")],
            vec![r("option1-full", "base"), r("option1-full", "pycache")],
        ),
        (vec![r("status-quo", "base")], vec![r("option1", "base")]),
        (vec![r("option1-full", "base")], vec![r("option1", "base")]),
    ] {
        let (code, out) = subset_passes(&min, &full);
        assert_eq!(code, 0, "{min:?} ⊆ {full:?}: {out}");
    }
    // And pairs that must fail: minimal's pycs are not in status quo, nor
    // option 1's markers.
    assert_eq!(
        subset_passes(&[r("minimal", "base")], &[r("status-quo", "pycache")]).0,
        1
    );
    assert_eq!(
        subset_passes(
            &[r("option1", "base")],
            &[r("status-quo", "base"), r("status-quo", "pycache")]
        )
        .0,
        1
    );
    // Option 1 has no pycs, so no pycache subpackage: its list is written, empty.
    assert!(!rpms["option1"].contains_key("pycache"));
    let option1_split = dir.path().join("option1/split");
    for list in ["pycache.files", "pycache.install"] {
        assert_eq!(
            std::fs::read(option1_split.join(list)).unwrap(),
            b"",
            "{list}"
        );
    }

    // pyvet size on the status-quo tree against the built packages.
    let out = pyvet()
        .args(["size", "--format", "json"])
        .arg(&master)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let predicted: BTreeMap<String, u64> = v["layouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_string(),
                l["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let built: [(&str, Vec<&PathBuf>); 6] = [
        (
            "status-quo",
            vec![r("status-quo", "base"), r("status-quo", "pycache")],
        ),
        (
            "py-opt0",
            vec![r("py-opt0", "base"), r("py-opt0", "pycache")],
        ),
        ("option1", vec![r("option1", "base")]),
        (
            "option1-full",
            vec![r("option1-full", "base"), r("option1-full", "pycache")],
        ),
        (
            "option2",
            vec![r("option2", "base"), r("option2", "pysources")],
        ),
        ("minimal", vec![r("minimal", "base")]),
    ];
    for (layout, packages) in built {
        let actual = payload_bytes(&packages) as f64;
        let p = predicted[layout] as f64;
        assert!(
            (p - actual).abs() <= actual * 0.01,
            "{layout}: pyvet size says {p}, the packages hold {actual}"
        );
    }
}

#[test]
fn a_marker_finding_after_converting_fails_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let master = master(dir.path());
    let root = dir.path().join("root");
    copy_tree(&master, &root);
    // A source changed after compileall: its pyc records the old size.
    let keyword = root.join(&STDLIB[1..]).join("keyword.py");
    let mut text = std::fs::read(&keyword).unwrap();
    text.extend_from_slice(b"# changed after compileall\n");
    std::fs::write(&keyword, text).unwrap();
    let (code, out, err) = apply("option2", &root, None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "marker-source-mismatch  {STDLIB}/__pysources__/keyword.py.gz"
        )),
        "{out}"
    );
}

#[test]
fn a_pysources_that_is_not_a_directory_is_refused_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let master = master(dir.path());
    let root = dir.path().join("root");
    copy_tree(&master, &root);
    std::fs::write(root.join(&STDLIB[1..]).join("json/__pysources__"), b"").unwrap();
    let before = snapshot(&root);
    let (code, _, err) = apply("option2", &root, None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("  {STDLIB}/json/__pysources__: not a directory")),
        "{err}"
    );
    assert_eq!(before, snapshot(&root));
}

/// Every file below `dir`, as paths relative to it.
fn files_below(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// `python3.11 -c 'import NAME'` with `lib` first on the path and
/// PYTHONDONTWRITEBYTECODE unset, so the interpreter writes bytecode if it
/// will; returns the imported module's `__file__`.
fn import_from(lib: &Path, name: &str) -> String {
    let script = format!(
        "import sys; sys.path.insert(0, sys.argv[1]); import {name}; print({name}.__file__)"
    );
    let out = Command::new(PYTHON)
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .args(["-c", &script])
        .arg(lib)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `pyvet markers --format json --policy POLICY --root ROOT` exits 0 and
/// reports these rules.
fn marker_rules(root: &Path, policy: &str) -> Vec<String> {
    let out = pyvet()
        .args(["markers", "--format", "json", "--policy", policy, "--root"])
        .arg(root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{policy}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// Option 1 from a real `compileall -o 0 -o 1 -o 2` tree: sources and one
/// empty marker per `__pycache__`, no pyc, clean for `pyvet markers`. What
/// the marker does is CPython's to say, and stock CPython 3.11 does not
/// know it: importing from the tree as its owner writes the pyc beside the
/// marker (only an interpreter patched as the proposal asks would not).
/// `option1-full` keeps every pyc and adds the markers.
#[test]
fn option1_is_sources_and_markers_and_option1_full_keeps_the_pycs() {
    let dir = tempfile::tempdir().unwrap();
    let master = master(dir.path());
    let root = dir.path().join("option1");
    copy_tree(&master, &root);
    let (code, out, err) = apply("option1", &root, None);
    assert_eq!(code, 0, "{out}{err}");
    let lib = root.join(&STDLIB[1..]);
    assert_eq!(pycs(&root), Vec::<PathBuf>::new());
    let mut caches = 0;
    for d in walkdir::WalkDir::new(&lib).into_iter().map(|e| e.unwrap()) {
        if !d.file_type().is_dir() || d.file_name() == "__pycache__" {
            continue;
        }
        let cache = d.path().join("__pycache__");
        assert_eq!(
            files_below(&cache),
            ["__dont_write_bytecode__"],
            "{}",
            d.path().display()
        );
        assert_eq!(
            std::fs::metadata(cache.join("__dont_write_bytecode__"))
                .unwrap()
                .len(),
            0
        );
        caches += 1;
    }
    assert_eq!(caches, 2, "the stdlib directory and json/");
    assert_eq!(marker_rules(&root, "fedora-option1"), ["no-manifest"]);

    // Stock CPython ignores the marker: the import writes its pyc.
    assert_eq!(
        import_from(&lib, "colorsys"),
        lib.join("colorsys.py").display().to_string()
    );
    assert_eq!(
        files_below(&lib.join("__pycache__")),
        ["__dont_write_bytecode__", "colorsys.cpython-311.pyc"]
    );

    let full = dir.path().join("option1-full");
    copy_tree(&master, &full);
    let (code, out, err) = apply("option1-full", &full, None);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(pycs(&full).len(), pycs(&master).len());
    assert_eq!(pycs(&master).len(), 3 * 8, "opt 0, 1, 2 of each module");
    for d in ["", "json/"] {
        let marker = full
            .join(&STDLIB[1..])
            .join(d)
            .join("__pycache__/__dont_write_bytecode__");
        assert!(marker.is_file(), "{}", marker.display());
    }
    // Both option 1 policies take the full install as it is.
    for policy in ["fedora-option1", "fedora-option1-full"] {
        assert_eq!(marker_rules(&full, policy), ["no-manifest"], "{policy}");
    }
    // Option 1 made from the full install is option 1, file for file.
    let again = dir.path().join("option1-again");
    copy_tree(&full, &again);
    let pristine = dir.path().join("option1-pristine");
    copy_tree(&master, &pristine);
    assert_eq!(apply("option1", &again, None).0, 0);
    assert_eq!(apply("option1", &pristine, None).0, 0);
    // File for file, but for the markers' mtimes: each apply creates its
    // markers when it runs, and the two runs may fall in different seconds.
    let unstamped = |root: &Path| {
        let mut s = snapshot(root);
        for (path, e) in s.iter_mut() {
            if path.ends_with("__dont_write_bytecode__") {
                e.mtime = 0;
            }
        }
        s
    };
    assert_eq!(unstamped(&again), unstamped(&pristine));
}
