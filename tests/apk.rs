//! apk `installed` databases from the shared corpus: package counts and
//! NEVRAs as PROVENANCE.md records them, and every file, mode and checksum
//! compared with an independent, deliberately naive reading of the raw lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use pyvet::db::apk;
use pyvet::digest::Algo;
use pyvet::manifest::{Backend, FileKind, Package, Source};

mod common;

/// (corpus file, package count, NEVRAs PROVENANCE.md names for it).
/// The grype file (3 `P:` records) is not here: see
/// [`grype_fixture_is_refused_where_apk_refuses_it`].
const CASES: [(&str, usize, &[&str]); 5] = [
    (
        "apk/osv-scalibr/installed",
        15,
        &[
            "alpine-baselayout-3.4.3-r1",
            "alpine-baselayout-data-3.4.3-r1",
            "alpine-keys-2.4-r1",
        ],
    ),
    (
        "apk/osv-scalibr/single",
        1,
        &["alpine-baselayout-data-3.4.3-r1"],
    ),
    ("apk/osv-scalibr/no-origin", 1, &["pkgname-1.2.3"]),
    (
        "apk/syft/multiple-1/installed",
        4,
        &[
            "bash-5.2.21-r0",
            "busybox-binsh-1.36.1-r15",
            "musl-1.2.4_git20230717-r4",
        ],
    ),
    (
        "apk/syft/multiple-2/installed",
        14,
        &[
            "alpine-baselayout-data-3.2.0-r22",
            "musl-1.2.3-r0",
            "busybox-1.35.0-r17",
        ],
    ),
];

fn read(corpus: &Path, rel: &str) -> Vec<Package> {
    let m = apk::read(&corpus.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    m.packages
}

fn without_arch(p: &Package) -> String {
    match &p.release {
        Some(r) => format!("{}-{}-{r}", p.name, p.version),
        None => format!("{}-{}", p.name, p.version),
    }
}

#[test]
fn package_counts_and_nevras_match_provenance() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for (rel, count, nevras) in CASES {
        let pkgs = read(&corpus, rel);
        assert_eq!(pkgs.len(), count, "{rel}");
        let have: Vec<String> = pkgs.iter().map(without_arch).collect();
        for n in nevras {
            assert!(have.iter().any(|h| h == n), "{rel}: {n} not in {have:?}");
        }
        assert!(pkgs.iter().all(|p| p.source.backend == Backend::Apk));
        assert!(pkgs.iter().all(|p| p.source.file == corpus.join(rel)));
    }
}

/// What a naive reading of the raw lines says about one package.
#[derive(Default, Debug)]
struct Raw {
    name: String,
    version: String,
    arch: Option<String>,
    paths: Vec<String>,
    /// path → `Z:` value
    sums: HashMap<String, String>,
    /// path → `a:`/`M:` value
    acls: HashMap<String, String>,
}

fn naive(text: &str) -> Vec<Raw> {
    let mut out = vec![Raw::default()];
    let (mut dir, mut last) = (String::new(), String::new());
    for line in text.lines() {
        let cur = out.last_mut().unwrap();
        let Some((k, v)) = line.split_once(':') else {
            if !cur.name.is_empty() {
                out.push(Raw::default());
            }
            continue;
        };
        match k {
            "P" => cur.name = v.into(),
            "V" => cur.version = v.into(),
            "A" => cur.arch = Some(v.into()),
            "F" => {
                dir = format!("/{v}");
                cur.paths.push(dir.clone());
            }
            "R" => {
                last = format!("{dir}/{v}");
                cur.paths.push(last.clone());
            }
            "Z" => {
                cur.sums.insert(last.clone(), v.into());
            }
            "a" => {
                cur.acls.insert(last.clone(), v.into());
            }
            "M" => {
                cur.acls.insert(dir.clone(), v.into());
            }
            _ => {}
        }
    }
    out.retain(|r| !r.name.is_empty());
    out
}

#[test]
fn every_file_mode_and_checksum_matches_the_raw_lines() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut checked = 0;
    for (rel, _, _) in CASES {
        let text = std::fs::read_to_string(corpus.join(rel)).unwrap();
        let raw = naive(&text);
        let pkgs = read(&corpus, rel);
        assert_eq!(pkgs.len(), raw.len(), "{rel}");
        for (p, r) in pkgs.iter().zip(&raw) {
            assert_eq!(p.name, r.name);
            assert_eq!(without_arch(p), format!("{}-{}", r.name, r.version));
            assert_eq!(p.arch, r.arch);
            let paths: Vec<String> = p
                .files
                .iter()
                .map(|f| f.path.to_str().unwrap().to_owned())
                .collect();
            assert_eq!(paths, r.paths, "{rel} {}", p.name);
            for f in &p.files {
                let path = f.path.to_str().unwrap();
                let default = if f.kind == FileKind::Dir {
                    "0:0:755"
                } else {
                    "0:0:644"
                };
                let acl = r.acls.get(path).map_or(default, String::as_str);
                let shown = format!(
                    "{}:{}:{:o}",
                    f.uid.unwrap(),
                    f.gid.unwrap(),
                    f.mode.unwrap() & 0o7777
                );
                assert_eq!(shown, acl, "{rel} {path}");
                let sum = f.digest.as_ref().map(|d| {
                    assert_eq!(d.algo, Algo::Sha1);
                    format!(
                        "Q1{}",
                        base64::engine::general_purpose::STANDARD.encode(&d.bytes)
                    )
                });
                assert_eq!(sum.as_ref(), r.sums.get(path), "{rel} {path}");
                checked += 1;
            }
        }
    }
    // `cat <the five files> | grep -c '^[FR]:'`
    assert_eq!(checked, 539 - 11);
}

#[test]
fn hand_checked_facts() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let pkgs = read(&corpus, "apk/syft/multiple-1/installed");
    let musl = pkgs.iter().find(|p| p.name == "musl").unwrap();
    assert_eq!(musl.nevra(), "musl-1.2.4_git20230717-r4.x86_64");
    // `printf ld-musl-x86_64.so.1 | sha1sum`: apk's checksum of the symlink
    // /lib/libc.musl-x86_64.so.1 is that of its target string.
    let libc = musl
        .files
        .iter()
        .find(|f| &*f.path == Path::new("/lib/libc.musl-x86_64.so.1"))
        .unwrap();
    assert_eq!(
        libc.digest.as_ref().unwrap().hex(),
        "ef2277245372a40e26c61249af4a2ee82cec2552"
    );
    assert_eq!(libc.kind, FileKind::File);
    assert_eq!(libc.mode, Some(0o100777));
    // `grep -c '^R:'` per file, and the one package with no files at all.
    let files = |rel| {
        read(&corpus, rel)
            .iter()
            .flat_map(|p| p.files.iter())
            .filter(|f| f.kind == FileKind::File)
            .count()
    };
    assert_eq!(files("apk/osv-scalibr/installed"), 109);
    assert_eq!(files("apk/syft/multiple-2/installed"), 105);
    let bash = pkgs.iter().find(|p| p.name == "bash").unwrap();
    assert!(bash.files.is_empty());
    // osv-scalibr: `M:0:0:1777` on a directory keeps the sticky bit.
    let sticky = read(&corpus, "apk/osv-scalibr/installed")
        .iter()
        .flat_map(|p| p.files.clone())
        .filter(|f| f.mode == Some(0o041777))
        .count();
    assert_eq!(sticky, 3);
}

#[test]
fn reading_the_file_equals_parsing_its_bytes_and_detection_finds_it() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for (rel, _, _) in CASES {
        let path: PathBuf = corpus.join(rel);
        let bytes = std::fs::read(&path).unwrap();
        let source = Source {
            backend: Backend::Apk,
            file: path.clone(),
        };
        assert_eq!(apk::parse(&bytes, source).unwrap(), read(&corpus, rel));
        let (loaded, errors) = pyvet::db::load_input(&path, Path::new("/"), Default::default());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(loaded.packages, read(&corpus, rel), "{rel}");
    }
}

#[test]
fn truncated_corpus_files_never_panic() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for (rel, _, _) in CASES {
        let bytes = std::fs::read(corpus.join(rel)).unwrap();
        let source = Source {
            backend: Backend::Apk,
            file: rel.into(),
        };
        // Every cut of small files, ~1500 cuts of larger ones (bounded runtime).
        let step = (bytes.len() / 1500).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let _ = apk::parse(&bytes[..cut], source.clone());
        }
    }
}

/// grype's hand-edited fixture has `R:ko` in a record with no `F:` line.
/// apk-tools' `apk_db_fdb_read` refuses that ("FDB format error (line 40,
/// entry 'R')"), so no Alpine system can have it; pyvet refuses it too
/// rather than guess a directory. The record before it reads normally.
#[test]
fn grype_fixture_is_refused_where_apk_refuses_it() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let path = corpus.join("apk/grype/installed");
    let e = apk::read(&path).unwrap_err();
    assert!(
        matches!(
            &e,
            pyvet::Error::Format { source, .. } if matches!(
                **source,
                pyvet::error::FormatError::Apk(apk::ApkError::Orphan {
                    line: 40,
                    key: 'R',
                    needs: 'F'
                })
            )
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}: apk: line 40: `R:` line before any `F:` line",
            path.display()
        )
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches("\nP:").count() + usize::from(text.starts_with("P:")),
        3
    );
    let first: String = text.lines().take(30).map(|l| format!("{l}\n")).collect();
    let source = Source {
        backend: Backend::Apk,
        file: path.clone(),
    };
    let pkgs = apk::parse(first.as_bytes(), source).unwrap();
    assert_eq!(pkgs.len(), 1);
    assert_eq!(pkgs[0].nevra(), "libvncserver-0.9.9.x86_64");
    assert_eq!(pkgs[0].files.len(), 6);
}
