//! `--image`: container images audited straight from their layers give
//! exactly the findings `--root` gives on the same image unpacked by the
//! real tool, plus the layer that introduced each path.
//!
//! Images are built at test time by real tools: Debian's own packages
//! (`apt-get download`, maintainer scripts stripped so nothing runs on the
//! host, installed with `dpkg --root --unpack`), the status-quo stdlib rpm
//! (`rpm --root`), a real apk `installed` database from the corpus; packed
//! into OCI layouts by `umoci`, into `docker save` archives by `skopeo`,
//! unpacked again by `umoci unpack`. Hostile layers are written by Python's
//! `tarfile` into OCI layouts whose documents the test writes itself.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{rpmroot::RpmRoot, run, run_stdout};
use pyvet::digest::Algo;
use serde_json::Value;

const PYVET: &str = env!("CARGO_BIN_EXE_pyvet");
/// The real Debian packages of the Debian image.
const DEBS: &[&str] = &[
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
];
const TAMPER: &str = "RUN tamper";

/// Debian's packages, downloaded once per target directory, maintainer
/// scripts stripped (they would run on the host with `--root`).
fn debs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image-debs");
    let stripped = dir.join("stripped");
    if !stripped.join("done").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&stripped).unwrap();
        run_stdout(
            Command::new("apt-get")
                .arg("download")
                .args(DEBS)
                .current_dir(&dir),
        );
        for deb in common::files_with_suffix(&dir, ".deb") {
            let name = deb.file_stem().unwrap().to_string_lossy().into_owned();
            let tree = stripped.join(&name);
            run_stdout(Command::new("dpkg-deb").arg("-R").arg(&deb).arg(&tree));
            for s in ["preinst", "postinst", "prerm", "postrm", "triggers"] {
                let _ = std::fs::remove_file(tree.join("DEBIAN").join(s));
            }
            run_stdout(
                Command::new("dpkg-deb")
                    .args(["--root-owner-group", "-b"])
                    .arg(&tree)
                    .arg(stripped.join(format!("{name}.deb"))),
            );
            std::fs::remove_dir_all(&tree).unwrap();
        }
        std::fs::write(stripped.join("done"), "").unwrap();
    }
    common::files_with_suffix(&stripped, ".deb")
}

fn dpkg_root(root: &Path) {
    common::dpkgroot::admin(root);
    run_stdout(
        Command::new("dpkg")
            .arg("--root")
            .arg(root)
            .args([
                "--force-not-root",
                "--force-depends",
                "--no-triggers",
                "--unpack",
            ])
            .args(debs()),
    );
}

/// An OCI layout `work/oci` (tag `base`): `base` as the first layer, then a
/// layer made by `tamper` on the unpacked first one.
fn layout(work: &Path, base: &Path, tamper: impl FnOnce(&Path)) -> PathBuf {
    let l = work.join("oci");
    let umoci = |args: &[&str]| {
        let mut c = Command::new("umoci");
        c.args(args).current_dir(work);
        run_stdout(&mut c);
    };
    umoci(&["init", "--layout", "oci"]);
    umoci(&["new", "--image", "oci:base"]);
    umoci(&["unpack", "--rootless", "--image", "oci:base", "b1"]);
    run_stdout(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", base.display()))
            .arg(work.join("b1/rootfs")),
    );
    umoci(&[
        "repack",
        "--image",
        "oci:base",
        "--history.created_by",
        "install",
        "b1",
    ]);
    umoci(&["unpack", "--rootless", "--image", "oci:base", "b2"]);
    tamper(&work.join("b2/rootfs"));
    umoci(&[
        "repack",
        "--image",
        "oci:base",
        "--history.created_by",
        TAMPER,
        "b2",
    ]);
    umoci(&["unpack", "--rootless", "--image", "oci:base", "unpacked"]);
    l
}

/// `pyvet audit --format json` with `args`; the document.
fn audit(args: &[&std::ffi::OsStr]) -> Value {
    let mut c = Command::new(PYVET);
    c.args([
        "audit",
        "--format",
        "json",
        "--no-progress",
        "--fail-on",
        "never",
    ]);
    c.args(args);
    let (ok, out, err) = run(&mut c);
    assert!(ok, "pyvet audit {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap()
}

fn audit_image(image: &Path) -> Value {
    audit(&["--image".as_ref(), image.as_os_str()])
}

fn audit_root(root: &Path) -> Value {
    audit(&["--root".as_ref(), root.as_os_str()])
}

/// Findings without what only an image has (the layer) or only a root on
/// disk has (a ctime the unpacking wrote).
fn comparable(doc: &Value) -> Vec<Value> {
    let mut fs = doc["findings"].as_array().unwrap().clone();
    for f in &mut fs {
        let ev = f["evidence"].as_object_mut().unwrap();
        ev.remove("layer");
        if let Some(file) = ev.get_mut("file").and_then(Value::as_object_mut) {
            file.remove("ctime");
        }
    }
    fs
}

fn finding<'a>(doc: &'a Value, rule: &str, path: &str) -> &'a Value {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule && f["path"] == path)
        .unwrap_or_else(|| panic!("no {rule} at {path} in {doc:#}"))
}

/// The OCI layout's layer digests, lowest first.
fn layer_digests(layout: &Path) -> Vec<String> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let m = blob(layout, index["manifests"][0]["digest"].as_str().unwrap());
    let m: Value = serde_json::from_slice(&m).unwrap();
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap()
}

fn sha256(data: &[u8]) -> String {
    let d = Algo::Sha256.hash_bytes(data);
    let hex: String = d.bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The same image as a tar of its OCI layout and as a `docker save` archive.
fn other_forms(work: &Path, layout: &Path) -> (PathBuf, PathBuf) {
    let tar = work.join("oci.tar");
    run_stdout(
        Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(layout)
            .arg("."),
    );
    let docker = work.join("docker.tar");
    run_stdout(
        Command::new("skopeo")
            .args(["copy", "--quiet"])
            .arg(format!("oci:{}:base", layout.display()))
            .arg(format!(
                "docker-archive:{}:pyvet/test:base",
                docker.display()
            )),
    );
    (tar, docker)
}

#[test]
fn debian_image_audits_as_its_unpacked_root_with_layers_named() {
    let work = tempfile::tempdir().unwrap();
    let base = work.path().join("base");
    dpkg_root(&base);
    let layout = layout(work.path(), &base, |r| {
        let stdlib = r.join("usr/lib/python3.11");
        // A pyc written by root, without its source; a stdlib file deleted
        // (a whiteout); an unowned .pth on the path.
        run_stdout(
            Command::new("python3.11")
                .args(["-c", "import py_compile,sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile='/usr/lib/python3.11/evil.py')"])
                .arg(stdlib.join("colorsys.py"))
                .arg(stdlib.join("evil.pyc")),
        );
        std::fs::remove_file(stdlib.join("bisect.py")).unwrap();
        let site = r.join("usr/local/lib/python3.11/dist-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("evil.pth"), "import os\n").unwrap();
    });
    let layers = layer_digests(&layout);
    assert_eq!(layers.len(), 2);
    let root = audit_root(&work.path().join("unpacked/rootfs"));
    let image = audit_image(&layout);
    assert_eq!(comparable(&image), comparable(&root));
    assert_eq!(image["summary"], root["summary"]);
    assert!(image.get("errors").is_none(), "{image:#}");
    let pyc = finding(
        &image,
        "sourceless-bytecode",
        "/usr/lib/python3.11/evil.pyc",
    );
    assert_eq!(
        pyc["evidence"]["layer"],
        serde_json::json!({"digest": layers[1], "created_by": TAMPER})
    );
    let pth = finding(
        &image,
        "unowned-pth",
        "/usr/local/lib/python3.11/dist-packages/evil.pth",
    );
    assert_eq!(pth["evidence"]["layer"]["digest"], layers[1].as_str());
    // A predicted write names a path no layer has: no layer to name.
    let absent = image["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/usr/lib/python3.11/__pycache__/colorsys.cpython-311.pyc")
        .expect("a write-attempt finding for colorsys");
    assert_eq!(absent["rule"], "bytecode-write-attempt");
    assert!(absent["evidence"].get("layer").is_none(), "{absent:#}");

    // The same image as an OCI tar and as a docker archive.
    let (tar, docker) = other_forms(work.path(), &layout);
    assert_eq!(audit_image(&tar)["findings"], image["findings"]);
    let d = audit_image(&docker);
    assert_eq!(comparable(&d), comparable(&root));
    let pyc = finding(&d, "sourceless-bytecode", "/usr/lib/python3.11/evil.pyc");
    assert_eq!(pyc["evidence"]["layer"]["created_by"], TAMPER);

    // `manifest --image` reads the image's dpkg database.
    let (ok, out, err) = run(Command::new(PYVET)
        .args(["manifest", "--format", "json", "--image"])
        .arg(&layout));
    assert!(ok, "{err}");
    let m: Value = serde_json::from_str(&out).unwrap();
    let mut names: Vec<&str> = m["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "libpython3.11-minimal",
            "libpython3.11-stdlib",
            "python3.11-minimal"
        ]
    );
    assert!(out.contains("\"/var/lib/dpkg/status\""), "{out}");
    assert!(
        err.contains("pyvet: image") && err.contains("base"),
        "{err}"
    );
}

#[test]
fn rpm_image_audits_as_its_unpacked_root() {
    let rpm = RpmRoot::status_quo();
    let work = tempfile::tempdir().unwrap();
    let layout = layout(work.path(), &rpm.root, |r| {
        let stdlib = r.join("usr/lib/python3.11");
        std::fs::write(stdlib.join("keyword.py"), "tampered = 1\n").unwrap();
        std::fs::remove_file(stdlib.join("colorsys.py")).unwrap();
    });
    let root = audit_root(&work.path().join("unpacked/rootfs"));
    let image = audit_image(&layout);
    assert_eq!(comparable(&image), comparable(&root));
    assert_eq!(image["summary"], root["summary"]);
    assert!(
        image["summary"]["packages"].as_u64().unwrap() >= 1,
        "{image:#}"
    );
    let layers = layer_digests(&layout);
    let unpacked = work.path().join("unpacked/rootfs");
    for f in image["findings"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        let exists = unpacked.join(&path[1..]).symlink_metadata().is_ok();
        // The tampered file and the one the second layer removed (once the
        // owned-file check reports it missing) name the second layer; a
        // predicted path no layer has names none.
        let want = match path {
            "/usr/lib/python3.11/keyword.py" | "/usr/lib/python3.11/colorsys.py" => {
                Value::from(layers[1].as_str())
            }
            _ if exists => Value::from(layers[0].as_str()),
            _ => Value::Null,
        };
        assert_eq!(f["evidence"]["layer"]["digest"], want, "{f:#}");
    }
    // The stale pyc of the tampered source came with the first layer.
    let stale = finding(
        &image,
        "bytecode-write-attempt",
        "/usr/lib/python3.11/__pycache__/keyword.cpython-311.pyc",
    );
    assert_eq!(
        stale["evidence"]["layer"],
        serde_json::json!({"digest": layers[0], "created_by": "install"})
    );
}

#[test]
fn apk_database_in_an_image() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let installed = corpus.join("apk/osv-scalibr/installed");
    let work = tempfile::tempdir().unwrap();
    let base = work.path().join("base");
    std::fs::create_dir_all(base.join("lib/apk/db")).unwrap();
    std::fs::copy(&installed, base.join("lib/apk/db/installed")).unwrap();
    let layout = layout(work.path(), &base, |_| {});
    let manifest = |args: &[&std::ffi::OsStr]| -> Value {
        let (ok, out, err) = run(Command::new(PYVET)
            .args(["manifest", "--format", "json"])
            .args(args));
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let from_image = manifest(&["--image".as_ref(), layout.as_os_str()]);
    let from_root = manifest(&[
        "--root".as_ref(),
        work.path().join("unpacked/rootfs").as_os_str(),
    ]);
    let names = |m: &Value| -> Vec<String> {
        m["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"],
                    p["files"].as_array().map_or(0, Vec::len)
                )
            })
            .collect()
    };
    assert!(!names(&from_image).is_empty());
    assert_eq!(names(&from_image), names(&from_root));
    assert_eq!(
        comparable(&audit_image(&layout)),
        comparable(&audit_root(&work.path().join("unpacked/rootfs")))
    );
}

#[test]
fn what_is_not_an_image_is_a_usage_error() {
    let d = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(Command::new(PYVET).args(["audit", "--image"]).arg(d.path()));
    assert!(
        !ok && err.contains("no index.json (OCI layout) or manifest.json"),
        "{err}"
    );
    let junk = d.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar at all, not even 512 bytes").unwrap();
    let (ok, _, err) = run(Command::new(PYVET).args(["manifest", "--image"]).arg(&junk));
    assert!(!ok && err.contains("junk.tar"), "{err}");
}

// --- hostile layouts ---------------------------------------------------------

/// Writes a layer tar with Python's `tarfile`: `script` builds it as `t`.
fn py_tar(work: &Path, name: &str, script: &str) -> Vec<u8> {
    let out = work.join(name);
    let code = format!(
        "import tarfile, io, sys\nt = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)\n\
         def add(name, data=b'', **kw):\n    i = tarfile.TarInfo(name); i.size = len(data)\n    \
         [setattr(i, k, v) for k, v in kw.items()]\n    t.addfile(i, io.BytesIO(data))\n{script}\nt.close()\n"
    );
    run_stdout(Command::new("python3").arg("-c").arg(code).arg(&out));
    std::fs::read(out).unwrap()
}

/// An OCI layout whose one layer is `blob` (as stored) with `diff_id`.
fn hostile_layout(work: &Path, blob: &[u8], diff_id: &str, size: Option<u64>) -> PathBuf {
    let l = work.join("hostile");
    let _ = std::fs::remove_dir_all(&l);
    std::fs::create_dir_all(l.join("blobs/sha256")).unwrap();
    let put = |data: &[u8]| -> String {
        let d = sha256(data);
        std::fs::write(l.join("blobs/sha256").join(&d[7..]), data).unwrap();
        d
    };
    let layer = put(blob);
    let config = serde_json::json!({"os": "linux", "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
    let config = serde_json::to_vec(&config).unwrap();
    let cd = put(&config);
    let manifest = serde_json::json!({"schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                    "size": size.unwrap_or(blob.len() as u64)}]});
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let md = put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType":
        "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len()}]});
    std::fs::write(l.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(l.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    l
}

fn open_err(layout: &Path, opts: &pyvet::image::OpenOptions) -> String {
    match pyvet::image::open(layout, opts) {
        Ok(_) => panic!("{} opened", layout.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_good_hand_made_layout_opens() {
    let work = tempfile::tempdir().unwrap();
    let tar = py_tar(
        work.path(),
        "ok.tar",
        "add('usr/', type=tarfile.DIRTYPE, mode=0o755)\nadd('usr/x.py', b'x = 1\\n', mode=0o644, uid=7, mtime=1234)\n\
         i = tarfile.TarInfo('usr/link'); i.type = tarfile.SYMTYPE; i.linkname = 'x.py'; t.addfile(i)\n\
         i = tarfile.TarInfo('usr/hard'); i.type = tarfile.LNKTYPE; i.linkname = 'usr/x.py'; t.addfile(i)\n\
         i = tarfile.TarInfo('usr/attr.py'); i.pax_headers = {'SCHILY.xattr.security.selinux': 'system_u:object_r:lib_t:s0'}; t.addfile(i, io.BytesIO(b''))",
    );
    let l = hostile_layout(work.path(), &tar, &sha256(&tar), None);
    let img = pyvet::image::open(&l, &Default::default()).unwrap();
    use pyvet::tree::Tree;
    let t = &img.tree;
    let m = t.lstat(Path::new("/usr/x.py")).unwrap();
    assert_eq!((m.mode, m.uid, m.mtime, m.size), (0o100644, 7, 1234, 6));
    assert_eq!(t.read(Path::new("/usr/hard"), 100).unwrap(), b"x = 1\n");
    assert_eq!(
        t.read_link(Path::new("/usr/link")).unwrap(),
        Path::new("x.py")
    );
    assert_eq!(
        t.resolve(Path::new("/usr/link")).unwrap(),
        Path::new("/usr/x.py")
    );
    assert_eq!(
        t.xattr(Path::new("/usr/attr.py"), "security.selinux")
            .unwrap(),
        b"system_u:object_r:lib_t:s0"
    );
    let names: Vec<_> = t
        .read_dir(Path::new("/usr"))
        .unwrap()
        .into_iter()
        .map(|e| e.name.into_string().unwrap())
        .collect();
    assert_eq!(names, ["attr.py", "hard", "link", "x.py"]);

    // The same layer compressed by gzip and by zstd reads the same.
    for tool in ["gzip", "zstd"] {
        let packed = run_stdout(Command::new(tool).arg("-c").arg(work.path().join("ok.tar")));
        let l = hostile_layout(work.path(), &packed, &sha256(&tar), None);
        let img = pyvet::image::open(&l, &Default::default()).unwrap();
        assert_eq!(
            img.tree.read(Path::new("/usr/hard"), 100).unwrap(),
            b"x = 1\n"
        );
        let (d, _) = img.tree.digest(Path::new("/usr/x.py"), Algo::Sha1).unwrap();
        assert_eq!(d, Algo::Sha1.hash_bytes(b"x = 1\n"));
    }
}

#[test]
fn layers_apply_whiteouts_opaque_dirs_and_replacements() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let low = py_tar(
        w,
        "low.tar",
        "add('a/b/c/bar', b'1')\nadd('a/keep', b'2')\nadd('d/x', b'3')\nadd('e/f', b'4')\n\
         i = tarfile.TarInfo('lib'); i.type = tarfile.SYMTYPE; i.linkname = 'usr/lib'; t.addfile(i)\n\
         add('usr/lib/big.bin', bytes(100000))",
    );
    let high = py_tar(
        w,
        "high.tar",
        "add('a/.wh..wh..opq')\nadd('a/b/c/foo', b'5')\nadd('d/.wh.x')\nadd('e', b'file now')\n\
         add('lib/new.py', b'y = 2\\n')",
    );
    // Two layers, written as the spec's own example describes them.
    let l = w.join("two");
    std::fs::create_dir_all(l.join("blobs/sha256")).unwrap();
    let put = |data: &[u8]| -> String {
        let d = sha256(data);
        std::fs::write(l.join("blobs/sha256").join(&d[7..]), data).unwrap();
        d
    };
    let (dl, dh) = (put(&low), put(&high));
    let config = serde_json::to_vec(&serde_json::json!({"os": "linux", "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": [dl, dh]},
        "history": [{"created_by": "low"}, {"created_by": "ENV x", "empty_layer": true}, {"created_by": "high"}]}))
    .unwrap();
    let cd = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2,
        "config": {"digest": cd, "size": config.len()},
        "layers": [{"digest": dl, "size": low.len()}, {"digest": dh, "size": high.len()}]}))
    .unwrap();
    let md = put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"digest": md, "size": manifest.len()}]});
    std::fs::write(l.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let img = pyvet::image::open(&l, &Default::default()).unwrap();
    use pyvet::tree::Tree;
    let t = &img.tree;
    let ls = |p: &str| -> Vec<String> {
        t.read_dir(Path::new(p))
            .unwrap()
            .into_iter()
            .map(|e| e.name.into_string().unwrap())
            .collect()
    };
    assert_eq!(ls("/a"), ["b"]);
    assert_eq!(ls("/a/b/c"), ["foo"]);
    assert!(ls("/d").is_empty());
    assert!(t.lstat(Path::new("/d/x")).unwrap_err().is_not_found());
    assert_eq!(t.read(Path::new("/e"), 100).unwrap(), b"file now");
    assert!(t.lstat(Path::new("/e/f")).is_err());
    // Written through the symlinked parent, as umoci unpack does.
    assert_eq!(ls("/usr/lib"), ["big.bin", "new.py"]);
    // A file the first pass only hashed is read again from its layer.
    assert_eq!(
        t.read(Path::new("/lib/big.bin"), 1 << 20).unwrap(),
        vec![0u8; 100000]
    );
    let origin = |p: &str| t.origin(Path::new(p)).unwrap();
    assert_eq!(
        (origin("/a/keep").digest, origin("/a/keep").created_by),
        (dh.clone(), Some("high".into()))
    );
    assert_eq!(origin("/d/x").digest, dh);
    assert_eq!(
        origin("/usr/lib/big.bin").created_by.as_deref(),
        Some("low")
    );
    assert_eq!(
        origin("/usr/lib/new.py").created_by.as_deref(),
        Some("high")
    );
}

#[test]
fn hostile_layers_are_refused_naming_layer_and_entry() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let opts = pyvet::image::OpenOptions::default();
    let good = py_tar(w, "good.tar", "add('a.py', b'x = 1\\n')");
    let layer = sha256(&good);

    // A blob that is not what its descriptor says.
    let mut bad = good.clone();
    let l = hostile_layout(w, &good, &layer, None);
    bad[600] ^= 1;
    std::fs::write(l.join("blobs/sha256").join(&layer[7..]), &bad).unwrap();
    let e = open_err(&l, &opts);
    assert!(
        e.contains(&format!("layer {layer}")) && e.contains("blob digest mismatch"),
        "{e}"
    );

    // The right blob but the wrong diff_id in the config.
    let l = hostile_layout(w, &good, &sha256(b"other"), None);
    let e = open_err(&l, &opts);
    assert!(e.contains("diff_id mismatch"), "{e}");

    // A truncated layer: the blob is shorter than its descriptor says.
    let cut = &good[..1000];
    let l = hostile_layout(w, cut, &sha256(cut), Some(good.len() as u64));
    let e = open_err(&l, &opts);
    assert!(e.contains("truncated") || e.contains("stream ends"), "{e}");

    // A tar cut in the middle of an entry.
    let l = hostile_layout(w, cut, &sha256(cut), None);
    let e = open_err(&l, &opts);
    assert!(
        e.contains("entry \"a.py\"") && e.contains("stream ends"),
        "{e}"
    );

    // Names escaping the root.
    for (name, why) in [
        ("../../etc/evil", "climbs out"),
        ("/etc/evil", "absolute name"),
    ] {
        let t = py_tar(w, "esc.tar", &format!("add({name:?}, b'x')"));
        let l = hostile_layout(w, &t, &sha256(&t), None);
        let e = open_err(&l, &opts);
        assert!(
            e.contains(&format!("entry {name:?}")) && e.contains(why),
            "{e}"
        );
    }

    // A decompression bomb: a small gzip of a big file of zeros.
    let t = py_tar(w, "bomb.tar", "add('zeros', bytes(8 << 20))");
    let gz = run_stdout(Command::new("gzip").arg("-9c").arg(w.join("bomb.tar")));
    assert!(gz.len() < 64 << 10);
    let l = hostile_layout(w, &gz, &sha256(&t), None);
    let small = pyvet::image::OpenOptions {
        max_decompressed: 1 << 20,
        ..Default::default()
    };
    let e = open_err(&l, &small);
    assert!(
        e.contains("decompression bomb") && e.contains("entry \"zeros\""),
        "{e}"
    );
    // Within the limit the same layer opens.
    assert!(pyvet::image::open(&l, &opts).is_ok());

    // An absurd entry count.
    let t = py_tar(w, "many.tar", "[add(f'f{i}') for i in range(3000)]");
    let l = hostile_layout(w, &t, &sha256(&t), None);
    let few = pyvet::image::OpenOptions {
        max_layer_entries: 1000,
        ..Default::default()
    };
    let e = open_err(&l, &few);
    assert!(
        e.contains("more than 1000 entries") && e.contains("entry \"f1000\""),
        "{e}"
    );
}

#[test]
fn several_images_need_a_choice() {
    let work = tempfile::tempdir().unwrap();
    let base = work.path().join("base");
    std::fs::create_dir_all(base.join("etc")).unwrap();
    let layout = layout(work.path(), &base, |_| {});
    run_stdout(
        Command::new("umoci")
            .args(["tag", "--image", "oci:base", "other"])
            .current_dir(work.path()),
    );
    // Both names point to the same manifest: two candidates, a choice needed.
    let (ok, _, err) = run(Command::new(PYVET).args(["audit", "--image"]).arg(&layout));
    // umoci records the platform it runs on, which is this host's.
    let host = pyvet::image::host_platform().to_string();
    assert!(
        !ok && err.contains("2 images match")
            && err.contains(&format!("base ({host})"))
            && err.contains(&format!("other ({host})")),
        "{err}"
    );
    let (ok, _, err) = run(Command::new(PYVET)
        .args([
            "audit",
            "--platform",
            "linux/s390x",
            "--image-ref",
            "base",
            "--image",
        ])
        .arg(&layout));
    assert!(
        !ok && err.contains("no image matches --platform linux/s390x"),
        "{err}"
    );
    let (_, _, err) = run(Command::new(PYVET)
        .args([
            "audit",
            "--fail-on",
            "never",
            "--image-ref",
            "other",
            "--image",
        ])
        .arg(&layout));
    assert!(
        err.contains("pyvet: image") && err.contains("other ("),
        "{err}"
    );
    let (ok, _, err) = run(Command::new(PYVET)
        .args(["audit", "--image-ref", "nope", "--image"])
        .arg(&layout));
    assert!(
        !ok && err.contains("no image matches --image-ref nope"),
        "{err}"
    );
}

#[test]
fn databases_are_copied_out_without_following_links_to_the_host() {
    // The image's /var/lib is a link to an absolute path that exists on the
    // host too: the copy must not write there, and must read the image's.
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let host_dir = tempfile::tempdir().unwrap();
    let target = host_dir.path().display().to_string();
    let status = "Package: imgpkg\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n";
    let t = py_tar(
        w,
        "links.tar",
        &format!(
            "i = tarfile.TarInfo('var/lib'); i.type = tarfile.SYMTYPE; i.linkname = {target:?}; t.addfile(i)\n\
             add({status_path:?}, {status:?}.encode())\n\
             add({list_path:?}, b'/usr/bin/x\\n')\n\
             i = tarfile.TarInfo({link_path:?}); i.type = tarfile.SYMTYPE; i.linkname = '/etc/passwd'; t.addfile(i)",
            status_path = format!("{}/dpkg/status", &target[1..]),
            list_path = format!("{}/dpkg/info/imgpkg.list", &target[1..]),
            link_path = format!("{}/dpkg/info/other.list", &target[1..]),
        ),
    );
    let l = hostile_layout(w, &t, &sha256(&t), None);
    let img = pyvet::image::open(&l, &Default::default()).unwrap();
    let (m, errors) = pyvet::image::load_manifest(
        &img.tree,
        pyvet::db::DbSelect::Auto,
        Default::default(),
        &[],
    )
    .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = m.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["imgpkg"]);
    assert_eq!(
        m.packages[0].source.file,
        Path::new(&target).join("dpkg/status")
    );
    let leaked: Vec<_> = std::fs::read_dir(host_dir.path()).unwrap().collect();
    assert!(leaked.is_empty(), "written on the host: {leaked:?}");
}

/// A layer whose blob or diff_id does not match: `pyvet audit --image`
/// fails naming the layer, and nothing read from the layer is reported
/// (the one pass keeps what it read until both digests are checked).
#[test]
fn a_layer_that_does_not_match_its_digests_reports_nothing_of_it() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let tar = py_tar(
        w,
        "pth.tar",
        "add('var/lib/dpkg/status', b'Package: x\\nStatus: install ok installed\\nVersion: 1\\n\\n')\n\
         add('var/lib/dpkg/info/x.list', b'/usr/lib/x\\n')\n\
         add('usr/lib/python3/dist-packages/evil.pth', b'import os\\n')",
    );
    let gz = run_stdout(Command::new("gzip").arg("-c").arg(w.join("pth.tar")));
    let audit_of = |l: &Path| {
        let mut c = Command::new(PYVET);
        c.args(["audit", "--format", "json", "--no-progress", "--fail-on"]);
        run(c.args(["never", "--image"]).arg(l))
    };
    let good = hostile_layout(w, &gz, &sha256(&tar), None);
    let (ok, out, err) = audit_of(&good);
    assert!(ok && out.contains("evil.pth"), "{err}");

    // The blob changed after its descriptor was written (same size).
    let layer = sha256(&gz);
    let mut swapped = gz.clone();
    swapped[4] ^= 1; // the gzip header's mtime: inflates all the same
    std::fs::write(good.join("blobs/sha256").join(&layer[7..]), &swapped).unwrap();
    let (ok, out, err) = audit_of(&good);
    assert!(!ok && !out.contains("evil.pth"), "{out}");
    assert!(
        err.contains(&format!("layer {layer}")) && err.contains("blob digest mismatch"),
        "{err}"
    );

    // The blob is what the manifest says; what it inflates to is not the
    // config's diff_id.
    let other = hostile_layout(w, &gz, &sha256(b"another tar"), None);
    let (ok, out, err) = audit_of(&other);
    assert!(!ok && !out.contains("evil.pth"), "{out}");
    assert!(err.contains("diff_id mismatch"), "{err}");

    // A `docker save` layer has no blob digest: its diff_id alone checks it.
    let docker = docker_dir(w, &tar);
    let (ok, out, err) = audit_of(&docker);
    assert!(ok && out.contains("evil.pth"), "{err}");
    let at = tar.windows(9).position(|x| x == b"import os").unwrap();
    let mut changed = tar.clone();
    changed[at + 8] = b'x';
    std::fs::write(docker.join("layer.tar"), &changed).unwrap();
    let (ok, out, err) = audit_of(&docker);
    assert!(!ok && !out.contains("evil.pth"), "{out}");
    assert!(
        err.contains(&format!("layer {}", sha256(&tar))) && err.contains("diff_id mismatch"),
        "{err}"
    );
}

/// A `docker save` archive, unpacked, whose one layer is `layer`.
fn docker_dir(work: &Path, layer: &[u8]) -> PathBuf {
    let d = work.join("docker");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("layer.tar"), layer).unwrap();
    let config = serde_json::json!({"os": "linux", "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]}});
    let config = serde_json::to_vec(&config).unwrap();
    let name = format!("{}.json", &sha256(&config)[7..]);
    std::fs::write(d.join(&name), &config).unwrap();
    let manifest =
        serde_json::json!([{"Config": name, "RepoTags": ["t:1"], "Layers": ["layer.tar"]}]);
    std::fs::write(
        d.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    d
}

/// A file the pass did not keep answers its digests and magic from the
/// pass; read again later, its layer is verified again, so a blob changed
/// on disk since the pass is refused rather than read.
#[test]
fn a_file_read_again_from_a_changed_blob_is_refused() {
    use pyvet::tree::Tree;
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let tar = py_tar(
        w,
        "bin.tar",
        "add('usr/bin/tool', b'\\x7fELF' + bytes(100))",
    );
    let l = hostile_layout(w, &tar, &sha256(&tar), None);
    let img = pyvet::image::open(&l, &Default::default()).unwrap();
    let tool = Path::new("/usr/bin/tool");
    let mut want = b"\x7fELF".to_vec();
    want.resize(104, 0);
    assert_eq!(img.tree.read(tool, 1000).unwrap(), want);

    let at = tar.windows(4).position(|x| x == b"\x7fELF").unwrap();
    let mut swapped = tar.clone();
    swapped[at + 1] = b'X';
    std::fs::write(l.join("blobs/sha256").join(&sha256(&tar)[7..]), &swapped).unwrap();
    assert_eq!(img.tree.head(tool, 4).unwrap(), b"\x7fELF");
    let (d, _) = img.tree.digest(tool, Algo::Md5).unwrap();
    assert_eq!(d, Algo::Md5.hash_bytes(&want));
    let e = img.tree.read(tool, 1000).unwrap_err().to_string();
    assert!(e.contains("blob digest mismatch"), "{e}");
}
