//! Pure parsers for the JSON documents of an image: an OCI image index
//! (`index.json`), an OCI (or Docker v2) image manifest, an image config
//! and a `docker save` `manifest.json`.
//!
//! No I/O: each takes bytes and returns typed data or a [`SpecError`], so
//! each can be fuzzed alone. Unknown fields are ignored (the specs allow
//! extensions); what pyvet relies on is checked: digests are well formed,
//! counts are bounded, and every layer has a diff_id.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::limits::{MAX_IMAGE_JSON, MAX_IMAGE_LAYERS, MAX_INDEX_ENTRIES};

/// The one digest algorithm pyvet verifies blobs with.
pub const SHA256_PREFIX: &str = "sha256:";

/// The annotation naming an image in an index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Media types of documents an index may point to.
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    #[error("{what}: not valid JSON of the expected shape: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: {size} bytes, more than the limit of {max}")]
    TooLarge {
        what: &'static str,
        size: usize,
        max: u64,
    },
    #[error("{what}: {count} entries, more than the limit of {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{what}: digest {digest:?} is not sha256:<64 lowercase hex digits>")]
    BadDigest { what: &'static str, digest: String },
    #[error("config: {layers} layers but {diff_ids} diff_ids")]
    DiffIdCount { layers: usize, diff_ids: usize },
    #[error("{what}: {why}")]
    Invalid { what: &'static str, why: String },
}

/// A content-addressed reference to a blob.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// The hex part of the (already checked) sha256 digest.
    pub fn hex(&self) -> &str {
        &self.digest[SHA256_PREFIX.len()..]
    }

    /// The `org.opencontainers.image.ref.name` annotation.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(REF_NAME).map(String::as_str)
    }

    /// Whether it points to another index rather than an image manifest.
    pub fn is_index(&self) -> bool {
        self.media_type == MEDIA_OCI_INDEX || self.media_type == MEDIA_DOCKER_LIST
    }
}

/// What an image runs on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) if !v.is_empty() => write!(f, "/{v}"),
            _ => Ok(()),
        }
    }
}

/// `index.json` (or a nested image index).
#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// An image manifest: its config and its layers, lowest first.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// The parts of an image config pyvet uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `architecture`, `os` and `variant`, at the top level of the config.
    #[serde(flatten)]
    pub platform: Platform,
    pub rootfs: RootFs,
    #[serde(default)]
    pub history: Vec<History>,
}

impl Config {
    /// The `created_by` of each layer, lowest first: history entries
    /// marked `empty_layer` made no layer and are skipped. `None` for every
    /// layer when the history does not line up with the layers.
    pub fn created_by(&self) -> Vec<Option<String>> {
        let real: Vec<&History> = self.history.iter().filter(|h| !h.empty_layer).collect();
        if real.len() != self.rootfs.diff_ids.len() {
            return vec![None; self.rootfs.diff_ids.len()];
        }
        real.iter().map(|h| h.created_by.clone()).collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct History {
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub empty_layer: bool,
}

/// One image of a `docker save` archive's `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerImage {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(default)]
    pub layers: Vec<String>,
}

fn json<'a, T: Deserialize<'a>>(what: &'static str, data: &'a [u8]) -> Result<T, SpecError> {
    if data.len() as u64 > MAX_IMAGE_JSON {
        return Err(SpecError::TooLarge {
            what,
            size: data.len(),
            max: MAX_IMAGE_JSON,
        });
    }
    serde_json::from_slice(data).map_err(|source| SpecError::Json { what, source })
}

/// Checks `sha256:<64 lowercase hex>`.
pub fn check_digest(what: &'static str, digest: &str) -> Result<(), SpecError> {
    let ok = digest.strip_prefix(SHA256_PREFIX).is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(SpecError::BadDigest {
            what,
            digest: digest.chars().take(100).collect(),
        })
    }
}

fn bounded(what: &'static str, count: usize, max: usize) -> Result<(), SpecError> {
    if count > max {
        return Err(SpecError::TooMany { what, count, max });
    }
    Ok(())
}

/// Parses an OCI image index.
pub fn parse_index(data: &[u8]) -> Result<Index, SpecError> {
    let index: Index = json("index", data)?;
    bounded("index", index.manifests.len(), MAX_INDEX_ENTRIES)?;
    for d in &index.manifests {
        check_digest("index", &d.digest)?;
    }
    Ok(index)
}

/// Parses an image manifest.
pub fn parse_manifest(data: &[u8]) -> Result<Manifest, SpecError> {
    let m: Manifest = json("manifest", data)?;
    bounded("manifest layers", m.layers.len(), MAX_IMAGE_LAYERS)?;
    check_digest("manifest config", &m.config.digest)?;
    for l in &m.layers {
        check_digest("manifest layer", &l.digest)?;
    }
    Ok(m)
}

/// Parses an image config; `layers` is how many layers the manifest lists.
pub fn parse_config(data: &[u8], layers: usize) -> Result<Config, SpecError> {
    let c: Config = json("config", data)?;
    bounded("config diff_ids", c.rootfs.diff_ids.len(), MAX_IMAGE_LAYERS)?;
    bounded("config history", c.history.len(), MAX_INDEX_ENTRIES)?;
    for d in &c.rootfs.diff_ids {
        check_digest("config diff_id", d)?;
    }
    if c.rootfs.diff_ids.len() != layers {
        return Err(SpecError::DiffIdCount {
            layers,
            diff_ids: c.rootfs.diff_ids.len(),
        });
    }
    Ok(c)
}

/// Parses a `docker save` `manifest.json`.
pub fn parse_docker_manifest(data: &[u8]) -> Result<Vec<DockerImage>, SpecError> {
    let images: Vec<DockerImage> = json("manifest.json", data)?;
    bounded("manifest.json", images.len(), MAX_INDEX_ENTRIES)?;
    for i in &images {
        bounded("manifest.json layers", i.layers.len(), MAX_IMAGE_LAYERS)?;
        for name in std::iter::once(&i.config).chain(&i.layers) {
            check_member_name(name)?;
        }
    }
    Ok(images)
}

/// A name inside an archive must stay inside it: relative, no `..`.
pub fn check_member_name(name: &str) -> Result<(), SpecError> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.split('/').any(|c| c == "..")
        || name.contains('\0');
    if bad {
        return Err(SpecError::Invalid {
            what: "manifest.json",
            why: format!("member name {name:?} escapes the archive"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn index_manifest_and_config() {
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{D}","size":7,
            "annotations":{{"org.opencontainers.image.ref.name":"latest"}},"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#
        );
        let i = parse_index(idx.as_bytes()).unwrap();
        assert_eq!(i.manifests[0].ref_name(), Some("latest"));
        assert_eq!(
            i.manifests[0].platform.as_ref().unwrap().to_string(),
            "linux/arm64/v8"
        );
        let m = format!(
            r#"{{"config":{{"digest":"{D}","size":1}},"layers":[{{"digest":"{D}","size":2}}]}}"#
        );
        assert_eq!(parse_manifest(m.as_bytes()).unwrap().layers.len(), 1);
        let c = format!(
            r#"{{"os":"linux","architecture":"amd64","rootfs":{{"type":"layers","diff_ids":["{D}"]}},
            "history":[{{"created_by":"ENV A=1","empty_layer":true}},{{"created_by":"RUN x"}}]}}"#
        );
        let c = parse_config(c.as_bytes(), 1).unwrap();
        assert_eq!(c.created_by(), [Some("RUN x".to_string())]);
        assert!(matches!(
            parse_config(b"{\"rootfs\":{\"diff_ids\":[]}}", 1),
            Err(SpecError::DiffIdCount { .. })
        ));
    }

    #[test]
    fn mutated_documents_never_panic() {
        let doc = format!(
            r#"{{"manifests":[{{"digest":"{D}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}}],
            "config":{{"digest":"{D}","size":1}},"layers":[{{"digest":"{D}","size":2}}],
            "rootfs":{{"diff_ids":["{D}"]}},"history":[{{"created_by":"x","empty_layer":true}}]}}"#
        );
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5000 {
            let mut b = doc.clone().into_bytes();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % b.len() as u64) as usize;
                b[i] = (state >> 32) as u8;
            }
            let _ = parse_index(&b);
            let _ = parse_manifest(&b);
            if let Ok(c) = parse_config(&b, 1) {
                let _ = c.created_by();
            }
            let _ = parse_docker_manifest(&b);
        }
        assert!(parse_manifest(doc.as_bytes()).is_ok());
    }

    #[test]
    fn bad_digests_and_names_are_refused() {
        let m = r#"{"config":{"digest":"sha256:ABC","size":1},"layers":[]}"#;
        assert!(matches!(
            parse_manifest(m.as_bytes()),
            Err(SpecError::BadDigest { .. })
        ));
        let d = r#"[{"Config":"../x.json","Layers":[]}]"#;
        assert!(parse_docker_manifest(d.as_bytes()).is_err());
        let d = r#"[{"Config":"x.json","RepoTags":["a:b"],"Layers":["l/layer.tar"]}]"#;
        assert_eq!(
            parse_docker_manifest(d.as_bytes()).unwrap()[0].layers.len(),
            1
        );
        assert!(parse_index(b"[").is_err());
    }
}
