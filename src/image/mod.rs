//! Container images audited straight from their layers (`--image PATH`).
//!
//! PATH is an OCI image layout (a directory or a tar of one: `oci-layout`,
//! `index.json`, `blobs/sha256/…`) or a `docker save` archive
//! (`manifest.json` and layer tars). [`open`] picks one image (by
//! `--image-ref` and `--platform`), checks every document and blob against
//! its digest, reads each layer once (in parallel) and applies them into an
//! [`ImageTree`], which the audit reads like any other tree. Package
//! databases, which the database readers need as files (SQLite above all),
//! are copied into a private temporary directory by [`load_manifest`].

pub mod layer;
pub mod spec;
pub mod store;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use rayon::prelude::*;

pub use layer::LayerInfo;
pub use tree::ImageTree;

use crate::digest::Algo;
use crate::limits;
use spec::{Descriptor, Platform, SpecError};
use store::Store;

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not an OCI image layout or docker archive: no {0}")]
    Missing(String),
    #[error("{0}")]
    Archive(String),
    #[error("{member}: {source}")]
    Spec {
        member: String,
        #[source]
        source: SpecError,
    },
    #[error("{what} {digest}: content has digest {actual}")]
    BlobDigest {
        what: &'static str,
        digest: String,
        actual: String,
    },
    #[error("{0}")]
    Layer(Box<LayerError>),
    #[error("no image matches {wanted}; the image has: {}", .candidates.join(", "))]
    NoMatch {
        wanted: String,
        candidates: Vec<String>,
    },
    #[error("{why}; pick one with --image-ref or --platform: {}", .candidates.join(", "))]
    Ambiguous {
        why: String,
        candidates: Vec<String>,
    },
    #[error("the image's layers hold more than {0} entries")]
    TooManyEntries(u64),
    #[error("--platform {0:?}: expected OS/ARCH or OS/ARCH/VARIANT")]
    BadPlatform(String),
}

impl ImageError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        ImageError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<ImageError> for crate::Error {
    fn from(e: ImageError) -> Self {
        crate::Error::Usage(format!("image: {e}"))
    }
}

/// A layer that could not be used, and where in it.
#[derive(Debug, thiserror::Error)]
#[error("layer {layer}{}: {kind}", .entry.as_ref().map(|e| format!(", entry {e:?}")).unwrap_or_default())]
pub struct LayerError {
    pub layer: String,
    pub entry: Option<String>,
    pub kind: LayerErrorKind,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerErrorKind {
    #[error("{0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Tar(crate::format::tar::TarError),
    #[error("absolute name: the entry would be written outside the image root")]
    Absolute,
    #[error("name climbs out of the image root with '..'")]
    Escape,
    #[error("decompresses to more than {0} bytes (a decompression bomb?)")]
    Bomb(u64),
    #[error("the blob is larger than its descriptor's {0} bytes")]
    BlobTooLarge(u64),
    #[error("truncated: the descriptor says {expected} bytes, the blob has {actual}")]
    Truncated { expected: u64, actual: u64 },
    #[error("{what} mismatch: expected {expected}, the content has {actual}")]
    DigestMismatch {
        what: &'static str,
        expected: String,
        actual: String,
    },
    #[error("more than {0} entries")]
    TooManyEntries(u64),
}

/// Which image to read, and the limits to read it with.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub image_ref: Option<String>,
    pub platform: Option<String>,
    pub max_decompressed: u64,
    pub max_layer_entries: u64,
    pub max_image_entries: u64,
    pub resident: u64,
    /// Digests computed in the first pass for files not kept in memory.
    pub algos: Vec<Algo>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            image_ref: None,
            platform: None,
            max_decompressed: limits::MAX_LAYER_DECOMPRESSED,
            max_layer_entries: limits::MAX_LAYER_ENTRIES,
            max_image_entries: limits::MAX_IMAGE_ENTRIES,
            resident: limits::MAX_IMAGE_RESIDENT,
            // dpkg's md5sums and rpm's / RECORD's sha256: the others (apk's
            // sha1, old rpm algorithms) take one more pass per layer.
            algos: vec![Algo::Md5, Algo::Sha256],
        }
    }
}

/// An image that was opened: its tree and what was chosen.
pub struct Image {
    pub tree: ImageTree,
    /// What was picked, said on stderr by the commands.
    pub chosen: String,
}

/// One image an index or archive offers.
struct Candidate {
    name: Option<String>,
    platform: Option<Platform>,
    source: Source,
}

enum Source {
    Oci(Descriptor),
    Docker(spec::DockerImage),
}

impl Candidate {
    fn describe(&self) -> String {
        let name = self.name.as_deref().unwrap_or("<unnamed>");
        match &self.platform {
            Some(p) => format!("{name} ({p})"),
            None => name.to_string(),
        }
    }
}

/// Opens the image at `path`, verifies and applies its layers.
pub fn open(path: &Path, opts: &OpenOptions) -> Result<Image, ImageError> {
    let store = Store::open(path)?;
    let candidates = if store.has("index.json") {
        oci_candidates(&store)?
    } else if store.has("manifest.json") {
        docker_candidates(&store)?
    } else {
        return Err(ImageError::Missing(
            "index.json (OCI layout) or manifest.json (docker archive)".into(),
        ));
    };
    let mut candidates = candidates;
    if candidates.len() > 1 || opts.platform.is_some() {
        learn_platforms(&store, &mut candidates);
    }
    let chosen = choose(candidates, opts)?;
    let (layers, platform) = match &chosen.source {
        Source::Oci(d) => oci_layers(&store, d)?,
        Source::Docker(d) => docker_layers(&store, d)?,
    };
    let said = format!(
        "{} ({platform}, {} layers)",
        chosen.name.as_deref().unwrap_or("<unnamed>"),
        layers.len()
    );
    let tree = read_layers(path, store, layers, opts)?;
    Ok(Image { tree, chosen: said })
}

fn read_layers(
    path: &Path,
    store: Store,
    layers: Vec<LayerInfo>,
    opts: &OpenOptions,
) -> Result<ImageTree, ImageError> {
    let scan_limits = layer::ScanLimits {
        max_decompressed: opts.max_decompressed,
        max_entries: opts.max_layer_entries,
        max_total_entries: opts.max_image_entries,
        algos: opts.algos.clone(),
    };
    let budget = AtomicU64::new(opts.resident);
    let total = AtomicU64::new(0);
    let changesets: Vec<layer::Changeset> = layers
        .par_iter()
        .map(|l| layer::scan(&store, l, &scan_limits, &budget, &total))
        .collect::<Result<_, _>>()?;
    ImageTree::build(
        path.display().to_string(),
        store,
        layers,
        changesets,
        opts.max_decompressed,
        opts.max_image_entries,
    )
}

/// Reads a small document and checks it against its descriptor.
fn read_verified(store: &Store, d: &Descriptor, what: &'static str) -> Result<Vec<u8>, ImageError> {
    let member = format!("blobs/sha256/{}", d.hex());
    let data = store.read_member(&member, limits::MAX_IMAGE_JSON)?;
    verify_bytes(&data, &d.digest, what)?;
    if data.len() as u64 != d.size {
        return Err(ImageError::Archive(format!(
            "{what} {}: descriptor says {} bytes, the blob has {}",
            d.digest,
            d.size,
            data.len()
        )));
    }
    Ok(data)
}

fn verify_bytes(data: &[u8], digest: &str, what: &'static str) -> Result<(), ImageError> {
    let actual = format!(
        "sha256:{}",
        layer::hex(&Algo::Sha256.hash_bytes(data).bytes)
    );
    if actual != digest {
        return Err(ImageError::BlobDigest {
            what,
            digest: digest.to_string(),
            actual,
        });
    }
    Ok(())
}

fn spec_err(member: &str) -> impl Fn(SpecError) -> ImageError + '_ {
    move |source| ImageError::Spec {
        member: member.to_string(),
        source,
    }
}

/// Every image manifest an OCI layout's index offers (nested indexes followed).
fn oci_candidates(store: &Store) -> Result<Vec<Candidate>, ImageError> {
    let data = store.read_member("index.json", limits::MAX_IMAGE_JSON)?;
    let index = spec::parse_index(&data).map_err(spec_err("index.json"))?;
    let mut out = Vec::new();
    let mut pending: Vec<(Descriptor, Option<String>, usize)> =
        index.manifests.into_iter().map(|d| (d, None, 0)).collect();
    while let Some((d, parent_name, depth)) = pending.pop() {
        let name = d.ref_name().map(str::to_string).or(parent_name);
        if d.is_index() {
            if depth >= limits::MAX_INDEX_DEPTH {
                return Err(ImageError::Archive("image indexes nest too deeply".into()));
            }
            let data = read_verified(store, &d, "index")?;
            let nested = spec::parse_index(&data).map_err(spec_err(&d.digest))?;
            pending.extend(
                nested
                    .manifests
                    .into_iter()
                    .map(|n| (n, name.clone(), depth + 1)),
            );
            continue;
        }
        if out.len() >= limits::MAX_INDEX_ENTRIES {
            return Err(ImageError::Archive("too many images in the index".into()));
        }
        out.push(Candidate {
            name,
            platform: d.platform.clone(),
            source: Source::Oci(d),
        });
    }
    out.reverse();
    Ok(out)
}

fn docker_candidates(store: &Store) -> Result<Vec<Candidate>, ImageError> {
    let data = store.read_member("manifest.json", limits::MAX_IMAGE_JSON)?;
    let images = spec::parse_docker_manifest(&data).map_err(spec_err("manifest.json"))?;
    let mut out = Vec::new();
    for img in images {
        let tags = img.repo_tags.clone().unwrap_or_default();
        if tags.is_empty() {
            out.push(Candidate {
                name: None,
                platform: None,
                source: Source::Docker(img),
            });
            continue;
        }
        for t in tags {
            out.push(Candidate {
                name: Some(t),
                platform: None,
                source: Source::Docker(img.clone()),
            });
        }
    }
    Ok(out)
}

/// Reads the config of each candidate whose index entry does not say its
/// platform (umoci and `docker save` do not), so `--platform` can choose.
/// A candidate whose documents cannot be read keeps none; it fails later
/// only if it is the one chosen.
fn learn_platforms(store: &Store, candidates: &mut [Candidate]) {
    for c in candidates.iter_mut().filter(|c| c.platform.is_none()) {
        let found = match &c.source {
            Source::Oci(d) => oci_layers(store, d),
            Source::Docker(d) => docker_layers(store, d),
        };
        c.platform = found.ok().map(|(_, p)| p);
    }
}

/// The host's platform as OCI names it.
pub fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    };
    Platform {
        os: std::env::consts::OS.to_string(),
        architecture: arch.to_string(),
        variant: None,
    }
}

fn parse_platform(s: &str) -> Result<Platform, ImageError> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        }),
        _ => Err(ImageError::BadPlatform(s.to_string())),
    }
}

fn platform_matches(want: &Platform, have: &Platform) -> bool {
    want.os == have.os
        && want.architecture == have.architecture
        && (want.variant.is_none() || want.variant == have.variant)
}

/// Picks one candidate: by name, then by platform (the host's by default).
fn choose(candidates: Vec<Candidate>, opts: &OpenOptions) -> Result<Candidate, ImageError> {
    let all: Vec<String> = candidates.iter().map(Candidate::describe).collect();
    let mut left: Vec<Candidate> = match &opts.image_ref {
        Some(r) => candidates
            .into_iter()
            .filter(|c| c.name.as_deref() == Some(r.as_str()))
            .collect(),
        None => candidates,
    };
    if left.is_empty() {
        return Err(ImageError::NoMatch {
            wanted: format!("--image-ref {}", opts.image_ref.as_deref().unwrap_or("")),
            candidates: all,
        });
    }
    let explicit = opts.platform.as_deref().map(parse_platform).transpose()?;
    if left.len() > 1 || explicit.is_some() {
        let want = explicit.clone().unwrap_or_else(host_platform);
        let before = left.len();
        left.retain(|c| {
            c.platform
                .as_ref()
                .map_or(true, |p| platform_matches(&want, p))
        });
        if left.is_empty() && explicit.is_some() {
            return Err(ImageError::NoMatch {
                wanted: format!("--platform {want}"),
                candidates: all,
            });
        }
        if left.is_empty() {
            return Err(ImageError::Ambiguous {
                why: format!("{before} images and none for this host ({want})"),
                candidates: all,
            });
        }
    }
    if left.len() > 1 {
        return Err(ImageError::Ambiguous {
            why: format!("{} images match", left.len()),
            candidates: left.iter().map(Candidate::describe).collect(),
        });
    }
    Ok(left.remove(0))
}

/// The layers of an OCI image manifest, with the config's diff_ids and history.
fn oci_layers(store: &Store, d: &Descriptor) -> Result<(Vec<LayerInfo>, Platform), ImageError> {
    let data = read_verified(store, d, "manifest")?;
    let m = spec::parse_manifest(&data).map_err(spec_err(&d.digest))?;
    let config = read_verified(store, &m.config, "config")?;
    let config = spec::parse_config(&config, m.layers.len()).map_err(spec_err(&m.config.digest))?;
    let created = config.created_by();
    let layers = m
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .zip(created)
        .map(|((l, diff_id), created_by)| LayerInfo {
            digest: l.digest.clone(),
            blob_digest: Some(l.digest.clone()),
            diff_id: diff_id.clone(),
            member: format!("blobs/sha256/{}", l.hex()),
            size: Some(l.size),
            created_by,
        })
        .collect();
    Ok((layers, config.platform))
}

/// The layers of a `docker save` image: each verified by its diff_id.
fn docker_layers(
    store: &Store,
    img: &spec::DockerImage,
) -> Result<(Vec<LayerInfo>, Platform), ImageError> {
    let data = store.read_member(&img.config, limits::MAX_IMAGE_JSON)?;
    // The config's name is its own digest (`<hex>.json` or `blobs/sha256/<hex>`).
    let stem = img.config.rsplit('/').next().unwrap_or("");
    let hex = stem.strip_suffix(".json").unwrap_or(stem);
    if spec::check_digest("config", &format!("sha256:{hex}")).is_ok() {
        verify_bytes(&data, &format!("sha256:{hex}"), "config")?;
    }
    let config = spec::parse_config(&data, img.layers.len()).map_err(spec_err(&img.config))?;
    let created = config.created_by();
    let layers = img
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .zip(created)
        .map(|((member, diff_id), created_by)| LayerInfo {
            digest: diff_id.clone(),
            blob_digest: None,
            diff_id: diff_id.clone(),
            member: member.clone(),
            size: None,
            created_by,
        })
        .collect();
    Ok((layers, config.platform))
}

pub mod databases;
pub use databases::load_manifest;
