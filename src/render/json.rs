//! JSON output. Each document carries a `schema` name with a version.

use serde::Serialize;

use crate::manifest::{Manifest, Package};

/// The `pyvet-manifest/1` document.
#[derive(Serialize)]
struct ManifestDoc<'a> {
    schema: &'static str,
    packages: &'a [Package],
}

pub const MANIFEST_SCHEMA: &str = "pyvet-manifest/1";

pub fn manifest(m: &Manifest) -> String {
    let doc = ManifestDoc {
        schema: MANIFEST_SCHEMA,
        packages: &m.packages,
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("manifest serialises");
    s.push('\n');
    s
}
