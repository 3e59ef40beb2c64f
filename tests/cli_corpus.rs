//! Every file of the third-party corpus through the real binary: each is
//! read (exit 0) or refused with an error naming it (exit 2); nothing panics.

mod common;

use assert_cmd::Command;

/// The corpus files pyvet must refuse (exit 2), and why. Every other file
/// must be read cleanly (exit 0).
const REFUSED: [(&str, &str); 20] = [
    // Negative fixtures of their upstream projects.
    ("rpmdb/bdb/edge-preflight-fail-list-pkg/Packages", "Btree"),
    (
        "rpmdb/sqlite/edge-claircore-no-packages/rpmdb.sqlite",
        "no Packages table",
    ),
    ("rpmdb/header-blobs/go-rpmdb-blob.bin", "directory index 4"),
    // apk-tools refuses it too: `R:` before any `F:`.
    ("apk/grype/installed", "line 40"),
    // dpkg-query refuses these, for the same reasons.
    ("dpkg/syft/var/lib/opkg/status", "Status"),
    (
        "dpkg/syft/image-dpkg/var/lib/dpkg/status",
        "may not be empty",
    ),
    (
        "dpkg/syft/var/lib/dpkg/status.d/multiple",
        "may not be empty",
    ),
    ("dpkg/syft/var/lib/dpkg/status.d/doc-examples", "Depends"),
    (
        "dpkg/syft/var/lib/dpkg/status.d/corrupt",
        "not a recognised",
    ),
    // Not manifests on their own: read beside a status file or admin dir.
    ("dpkg/osv-scalibr/status.d/foo.md5sums", "not a recognised"),
    (
        "dpkg/scancode/files-md5sums/python-tenacity-doc/control.tar.xz-extract/md5sums",
        "not a recognised",
    ),
    (
        "dpkg/syft/image-distroless-deb/var/lib/dpkg/status.d/libsqlite3-0.md5sums",
        "not a recognised",
    ),
    (
        "dpkg/syft/image-dpkg/var/lib/dpkg/info/libpam-runtime.conffiles",
        "not a recognised",
    ),
    (
        "dpkg/syft/image-dpkg/var/lib/dpkg/info/libpam-runtime.md5sums",
        "not a recognised",
    ),
    ("dpkg/syft/info/zlib1g.md5sums", "not a recognised"),
    ("dpkg/trivy/tar.md5sums", "not a recognised"),
    (
        "rpmdb/sqlite/cbl-mariner-2.0/rpmdb.sqlite-shm",
        "not a recognised",
    ),
    (
        "rpmdb/sqlite/cbl-mariner-2.0/rpmdb.sqlite-wal",
        "the file is empty",
    ),
    (
        "rpmdb/sqlite/fedora36-tzdata/rpmdb.sqlite-shm",
        "not a recognised",
    ),
    (
        "rpmdb/sqlite/fedora36-tzdata/rpmdb.sqlite-wal",
        "the file is empty",
    ),
];

#[test]
fn every_corpus_file_is_read_or_refused_by_name() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut seen = 0;
    for entry in walkdir::WalkDir::new(&corpus).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(&corpus).unwrap();
        if !entry.file_type().is_file()
            || rel.starts_with("expected")
            || rel.extension().is_some_and(|e| e == "md")
        {
            continue;
        }
        seen += 1;
        let out = Command::cargo_bin("pyvet")
            .unwrap()
            .args(["manifest", "--db", "none", "--format", "json"])
            .arg(entry.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        assert!(!stderr.contains("panicked"), "{}: {stderr}", rel.display());
        let refused = REFUSED.iter().find(|(f, _)| rel == std::path::Path::new(f));
        match refused {
            Some((_, why)) => {
                assert_eq!(code, Some(2), "{}: {stderr}", rel.display());
                let path = entry.path().to_string_lossy();
                assert!(
                    stderr.contains(&*path) && stderr.contains(why),
                    "{}: expected an error naming the file and {why:?}: {stderr}",
                    rel.display()
                );
            }
            None => assert_eq!(code, Some(0), "{}: {stderr}", rel.display()),
        }
        if code == Some(0) {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["schema"], "pyvet-manifest/1");
        }
    }
    assert!(seen > 100, "only {seen} corpus files found");
}
