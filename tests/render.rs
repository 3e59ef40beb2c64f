//! Snapshot tests for the rendered manifest: the JSON schema is a public
//! interface, so any change to it must show up as a snapshot diff.

use pyvet::digest::{Algo, Digest};
use pyvet::manifest::{
    Backend, FileEntry, FileFlags, FileKind, FileState, Manifest, Package, Source,
};

fn sample() -> Manifest {
    let mut py = FileEntry::new("/usr/lib64/python3.12/os.py", FileKind::File);
    py.mode = Some(0o100644);
    py.user = Some("root".into());
    py.group = Some("root".into());
    py.size = Some(39_786);
    py.mtime = Some(1_700_000_000);
    py.digest = Digest::from_hex(
        Algo::Sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    py.state = Some(FileState::Normal);
    let mut doc = FileEntry::new("/usr/share/doc/python3/README", FileKind::File);
    doc.flags = FileFlags::DOC | FileFlags::README;
    doc.state = Some(FileState::NotInstalled);
    let mut link = FileEntry::new("/usr/bin/python3", FileKind::Symlink);
    link.mode = Some(0o120777);
    link.link = Some(std::path::Path::new("python3.12").into());
    Manifest {
        packages: vec![
            Package {
                name: "python3-libs".into(),
                epoch: Some(1),
                version: "3.12.1".into(),
                release: Some("1.fc40".into()),
                arch: Some("x86_64".into()),
                source: Source {
                    backend: Backend::RpmdbSqlite,
                    file: "/var/lib/rpm/rpmdb.sqlite".into(),
                },
                install_time: Some(1_700_000_100),
                files: vec![py, doc, link],
            },
            Package {
                name: "six".into(),
                epoch: None,
                version: "1.16.0".into(),
                release: None,
                arch: None,
                source: Source {
                    backend: Backend::PipRecord,
                    file: "/usr/lib/python3/site-packages/six-1.16.0.dist-info/RECORD".into(),
                },
                install_time: None,
                files: vec![],
            },
        ],
    }
}

#[test]
fn manifest_json() {
    insta::assert_snapshot!(pyvet::render::json::manifest(&sample()));
}

#[test]
fn manifest_text() {
    insta::assert_snapshot!(pyvet::render::text::manifest(&sample()));
}
