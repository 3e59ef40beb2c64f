//! `pyvet-manifest/1` documents (what `pyvet manifest --format json`
//! prints) read back as manifests, so that a manifest captured once (from a
//! build, an image, another host) can stand in for its source.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::limits::MAX_INPUT_FILE;
use crate::manifest::{Manifest, Package};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    schema: String,
    packages: Vec<Package>,
}

/// Parses a `pyvet-manifest/1` document.
pub fn parse(bytes: &[u8]) -> std::result::Result<Manifest, String> {
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if doc.schema != crate::render::json::MANIFEST_SCHEMA {
        return Err(format!(
            "schema {:?}, expected {:?}",
            doc.schema,
            crate::render::json::MANIFEST_SCHEMA
        ));
    }
    for p in &doc.packages {
        for f in &p.files {
            if f.path.as_os_str().len() > crate::limits::MAX_PATH {
                return Err(format!("a path of {} is too long", p.name));
            }
        }
    }
    Ok(Manifest {
        packages: doc.packages,
    })
}

/// Reads a `pyvet-manifest/1` file.
pub fn read(path: &Path) -> Result<Manifest> {
    let bytes = crate::fsutil::read_capped(path, MAX_INPUT_FILE)?;
    parse(&bytes).map_err(|e| {
        Error::format(
            path,
            crate::error::FormatError::Other(format!("pyvet-manifest/1: {e}")),
        )
    })
}

/// Whether a file's first bytes look like a pyvet manifest document.
pub fn looks_like(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    text.trim_start().starts_with('{') && text.contains("\"pyvet-manifest/1\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Algo;
    use crate::manifest::{Backend, FileEntry, FileFlags, FileKind, Source};

    #[test]
    fn round_trips_what_pyvet_manifest_prints() {
        let mut f = FileEntry::new("/usr/lib/python3.11/os.py", FileKind::File);
        f.digest = Some(Algo::Sha256.hash_bytes(b"x"));
        f.flags = FileFlags::CONFIG | FileFlags::GHOST;
        f.mode = Some(0o100644);
        f.uid = Some(0);
        let m = Manifest {
            packages: vec![Package {
                name: "p".into(),
                epoch: Some(1),
                version: "2".into(),
                release: Some("3".into()),
                arch: None,
                source: Source {
                    backend: Backend::RpmdbSqlite,
                    file: "/var/lib/rpm/rpmdb.sqlite".into(),
                },
                install_time: Some(5),
                files: vec![f],
            }],
        };
        let text = crate::render::json::manifest(&m);
        assert!(looks_like(text.as_bytes()));
        assert_eq!(parse(text.as_bytes()).unwrap(), m);
        assert!(parse(br#"{"schema":"other/1","packages":[]}"#).is_err());
        assert!(parse(br#"{"schema":"pyvet-manifest/1","packages":[],"x":1}"#).is_err());
    }
}
