//! [`ImageTree`]: the filesystem an image's layers add up to, served
//! through the [`Tree`] interface without unpacking anything.
//!
//! Layers are applied lowest first as the OCI image spec says: a layer's
//! whiteouts and opaque markers remove lower-layer entries first, then its
//! entries are added; an entry replaces whatever was at its path (a
//! directory over a directory only takes its attributes); a hard link
//! shares its target's content and attributes; a parent directory that is
//! a symlink is followed inside the image, as `umoci unpack` does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::layer::{self, Changeset, Content, LayerEntry, LayerInfo};
use super::store::Store;
use super::ImageError;
use crate::audit::finding::LayerFacts;
use crate::digest::{Algo, Digest};
use crate::format::tar::EntryType;
use crate::limits::MAX_INPUT_FILE;
use crate::tree::{Entry, Kind, Meta, Tree, TreeError, TreeResult, MAX_SYMLINK_HOPS};

/// A directory the layers never described (a parent of an entry).
const IMPLICIT_DIR_MODE: u32 = 0o040755;

/// One path of the image.
#[derive(Debug, Clone)]
struct Node {
    meta: Meta,
    link: Vec<u8>,
    xattrs: Arc<[(String, Vec<u8>)]>,
    content: Option<Content>,
    /// The layer whose entry this is.
    layer: usize,
}

/// The merged filesystem of an image.
pub struct ImageTree {
    label: String,
    store: Store,
    layers: Vec<LayerInfo>,
    /// Path relative to the root (`usr/lib/x`; the root is ``) → node.
    nodes: HashMap<Vec<u8>, Node>,
    /// Directory → its children's names, sorted.
    children: HashMap<Vec<u8>, Vec<Vec<u8>>>,
    /// Paths removed by a whiteout → the layer that removed them.
    deleted_by: HashMap<Vec<u8>, usize>,
    max_decompressed: u64,
    /// Digests computed by a second pass, per (layer, algorithm).
    second: Mutex<HashMap<(usize, Algo), SecondCell>>,
}

/// Data offset → digest, or why the pass failed.
type SecondPass = Result<HashMap<u64, Digest>, String>;
type SecondCell = Arc<OnceLock<SecondPass>>;

impl ImageTree {
    /// Applies the changesets (lowest first) into one tree.
    pub(crate) fn build(
        label: String,
        store: Store,
        layers: Vec<LayerInfo>,
        changesets: Vec<Changeset>,
        max_decompressed: u64,
        max_entries: u64,
    ) -> Result<Self, ImageError> {
        let mut m = Merge::default();
        m.nodes.insert(Vec::new(), implicit_dir(0));
        for (i, cs) in changesets.into_iter().enumerate() {
            m.apply(i, cs);
            if m.nodes.len() as u64 > max_entries {
                return Err(ImageError::TooManyEntries(max_entries));
            }
        }
        let children = index_children(&m.nodes);
        Ok(ImageTree {
            label,
            store,
            layers,
            nodes: m.nodes.into_iter().collect(),
            children,
            deleted_by: m.deleted_by,
            max_decompressed,
            second: Mutex::new(HashMap::new()),
        })
    }

    /// The layers, lowest first.
    pub fn layers(&self) -> &[LayerInfo] {
        &self.layers
    }

    /// Every path of the image (absolute), in no order.
    pub fn paths(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.nodes
            .keys()
            .map(|k| Path::new("/").join(OsStr::from_bytes(k)))
    }

    fn node(&self, key: &[u8]) -> TreeResult<&Node> {
        self.nodes
            .get(key)
            .ok_or_else(|| TreeError::NotFound(absolute(key)))
    }

    /// The node of a regular file (a final symlink is not followed).
    fn file_node(&self, path: &Path) -> TreeResult<&Node> {
        let node = self.node(&self.key_nofollow(path)?)?;
        if node.meta.kind != Kind::File {
            return Err(TreeError::NotRegular {
                path: path.to_path_buf(),
                kind: node.meta.kind,
            });
        }
        Ok(node)
    }

    /// The key of `path` with every parent resolved, its last name kept.
    fn key_nofollow(&self, path: &Path) -> TreeResult<Vec<u8>> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok(Vec::new());
        };
        let dir = self.resolve_key(parent, path)?;
        Ok(join(&dir, name.as_bytes()))
    }

    /// Resolves every symlink in `path`, inside the image.
    fn resolve_key(&self, path: &Path, asked: &Path) -> TreeResult<Vec<u8>> {
        let key = |p: &Path| -> Vec<u8> {
            let b = p.as_os_str().as_bytes();
            b.strip_prefix(b"/").unwrap_or(b).to_vec()
        };
        let resolved = crate::tree::resolve_with(path, |candidate| {
            let node = self
                .nodes
                .get(&key(candidate))
                .ok_or_else(|| TreeError::NotFound(asked.to_path_buf()))?;
            Ok((node.meta.kind == Kind::Symlink)
                .then(|| PathBuf::from(OsStr::from_bytes(&node.link))))
        })
        // Errors name the path asked for, not the parent being resolved.
        .map_err(|e| match e {
            TreeError::Io { source, .. } => TreeError::io(asked, source),
            e => e,
        })?;
        Ok(key(&resolved))
    }

    /// A digest from a second pass over the node's layer.
    fn second_pass(&self, node: &Node, offset: u64, algo: Algo, path: &Path) -> TreeResult<Digest> {
        let cell = {
            let mut map = self.second.lock().expect("second-pass lock");
            Arc::clone(map.entry((node.layer, algo)).or_default())
        };
        let result = cell.get_or_init(|| {
            let offsets: HashSet<u64> = self
                .nodes
                .values()
                .filter(|n| n.layer == node.layer)
                .filter_map(|n| match &n.content {
                    Some(Content::Hashed { data_offset, .. }) => Some(*data_offset),
                    _ => None,
                })
                .collect();
            let info = &self.layers[node.layer];
            layer::digest_pass(&self.store, info, algo, &offsets, self.max_decompressed)
                .map_err(|e| e.to_string())
        });
        match result {
            Ok(map) => map
                .get(&offset)
                .cloned()
                .ok_or_else(|| other(path, "not in its layer")),
            Err(e) => Err(other(path, e)),
        }
    }
}

impl ImageTree {
    /// The first `len` bytes of a file the layer's pass did not keep, read
    /// again from its layer (which is verified again on the way).
    fn again(&self, node: &Node, len: u64, path: &Path) -> TreeResult<Vec<u8>> {
        let Some(Content::Hashed { data_offset, .. }) = &node.content else {
            return Err(other(path, "not in its layer"));
        };
        let info = &self.layers[node.layer];
        layer::read_again(&self.store, info, *data_offset, len, self.max_decompressed)
            .map_err(|e| other(path, &e.to_string()))
    }
}

fn other(path: &Path, why: &str) -> TreeError {
    TreeError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(why.to_string()),
    }
}

fn absolute(key: &[u8]) -> PathBuf {
    Path::new("/").join(OsStr::from_bytes(key))
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut k = dir.to_vec();
    if !k.is_empty() {
        k.push(b'/');
    }
    k.extend_from_slice(name);
    k
}

fn pop(key: &mut Vec<u8>) {
    match key.iter().rposition(|&b| b == b'/') {
        Some(i) => key.truncate(i),
        None => key.clear(),
    }
}

fn parent_of(key: &[u8]) -> Option<(&[u8], &[u8])> {
    if key.is_empty() {
        return None;
    }
    Some(match key.iter().rposition(|&b| b == b'/') {
        Some(i) => (&key[..i], &key[i + 1..]),
        None => (&key[..0], key),
    })
}

fn implicit_dir(layer: usize) -> Node {
    Node {
        meta: Meta {
            kind: Kind::Dir,
            mode: IMPLICIT_DIR_MODE,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            mtime_nsec: 0,
            ctime: 0,
            rdev: 0,
            nlink: 1,
        },
        link: Vec::new(),
        xattrs: Arc::from(Vec::new()),
        content: None,
        layer,
    }
}

fn index_children(nodes: &BTreeMap<Vec<u8>, Node>) -> HashMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut children: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
    // BTreeMap order is byte order, so each list comes out sorted.
    for key in nodes.keys() {
        if let Some((dir, name)) = parent_of(key) {
            children
                .entry(dir.to_vec())
                .or_default()
                .push(name.to_vec());
        }
    }
    children
}

/// The tree while layers are applied.
#[derive(Default)]
struct Merge {
    nodes: BTreeMap<Vec<u8>, Node>,
    deleted_by: HashMap<Vec<u8>, usize>,
}

impl Merge {
    fn apply(&mut self, layer: usize, cs: Changeset) {
        for dir in &cs.opaques {
            let dir = self.resolve_parents(dir);
            let prefix = join(&dir, b"");
            let prefix = if dir.is_empty() { Vec::new() } else { prefix };
            self.remove_under(&prefix, layer);
        }
        for path in &cs.whiteouts {
            let path = self.resolve_parents(path);
            if self.nodes.remove(&path).is_some() {
                self.deleted_by.insert(path.clone(), layer);
            }
            self.remove_under(&join(&path, b""), layer);
        }
        for entry in cs.entries {
            self.add(layer, entry);
        }
    }

    /// Removes every path below `prefix` (`dir/`; empty: everything but the root).
    fn remove_under(&mut self, prefix: &[u8], layer: usize) {
        let doomed: Vec<Vec<u8>> = self
            .nodes
            .range(prefix.to_vec()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .filter(|k| !k.is_empty())
            .cloned()
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
            self.deleted_by.insert(k, layer);
        }
    }

    /// `key` with its parent directories resolved through symlinks inside
    /// the tree (missing ones kept as named).
    fn resolve_parents(&self, key: &[u8]) -> Vec<u8> {
        let Some((dir, name)) = parent_of(key) else {
            return Vec::new();
        };
        let mut current: Vec<u8> = Vec::new();
        let mut pending: Vec<Vec<u8>> = vec![dir.to_vec()];
        let mut hops = 0;
        while let Some(p) = pending.pop() {
            let comps: Vec<&[u8]> = p.split(|&b| b == b'/').collect();
            for (i, c) in comps.iter().enumerate() {
                match *c {
                    b"" | b"." => {}
                    b".." => pop(&mut current),
                    n => {
                        let cand = join(&current, n);
                        match self.nodes.get(&cand) {
                            Some(node)
                                if node.meta.kind == Kind::Symlink && hops < MAX_SYMLINK_HOPS =>
                            {
                                hops += 1;
                                let rest = comps[i + 1..].join(&b'/');
                                if !rest.is_empty() {
                                    pending.push(rest);
                                }
                                if node.link.first() == Some(&b'/') {
                                    current.clear();
                                }
                                pending.push(node.link.clone());
                                break;
                            }
                            _ => current = cand,
                        }
                    }
                }
            }
        }
        join(&current, name)
    }

    /// Makes sure every parent of `key` is a directory.
    fn ensure_parents(&mut self, key: &[u8], layer: usize) {
        let mut end = 0;
        while let Some(i) = key[end..].iter().position(|&b| b == b'/') {
            let dir = &key[..end + i];
            let is_dir = self
                .nodes
                .get(dir)
                .is_some_and(|n| n.meta.kind == Kind::Dir);
            if !is_dir {
                self.nodes.insert(dir.to_vec(), implicit_dir(layer));
            }
            end += i + 1;
        }
    }

    fn add(&mut self, layer: usize, e: LayerEntry) {
        let key = self.resolve_parents(&e.path);
        self.ensure_parents(&key, layer);
        let mut node = if e.kind == EntryType::HardLink {
            let target = self.resolve_parents(&e.link);
            match self.nodes.get(&target) {
                Some(t) if t.meta.kind != Kind::Dir => {
                    let mut n = t.clone();
                    n.layer = layer;
                    n
                }
                // A link to nothing the image has: nothing to point at.
                _ => return,
            }
        } else {
            node_of(layer, e)
        };
        let old = self.nodes.get(&key);
        let both_dirs =
            old.is_some_and(|o| o.meta.kind == Kind::Dir) && node.meta.kind == Kind::Dir;
        if !both_dirs && old.is_some() {
            self.remove_under(&join(&key, b""), layer);
        }
        if key.is_empty() {
            node.meta.kind = Kind::Dir;
        }
        self.deleted_by.remove(&key);
        self.nodes.insert(key, node);
    }
}

fn node_of(layer: usize, e: LayerEntry) -> Node {
    let kind = Kind::from_mode(e.mode).unwrap_or(Kind::File);
    Node {
        meta: Meta {
            kind,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            size: if kind == Kind::Symlink {
                e.link.len() as u64
            } else {
                e.size
            },
            mtime: e.mtime,
            mtime_nsec: 0,
            ctime: e.mtime,
            rdev: e.rdev,
            nlink: 1,
        },
        link: if kind == Kind::Symlink {
            e.link
        } else {
            Vec::new()
        },
        xattrs: Arc::from(e.xattrs),
        content: e.content,
        layer,
    }
}

impl Tree for ImageTree {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn lstat(&self, path: &Path) -> TreeResult<Meta> {
        let key = self.key_nofollow(path)?;
        Ok(self.node(&key)?.meta)
    }

    fn read_link(&self, path: &Path) -> TreeResult<PathBuf> {
        let key = self.key_nofollow(path)?;
        let node = self.node(&key)?;
        if node.meta.kind != Kind::Symlink {
            return Err(TreeError::io(
                path,
                std::io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        Ok(PathBuf::from(OsStr::from_bytes(&node.link)))
    }

    fn read_dir(&self, path: &Path) -> TreeResult<Vec<Entry>> {
        let key = self.resolve_key(path, path)?;
        if self.node(&key)?.meta.kind != Kind::Dir {
            return Err(TreeError::io(
                path,
                std::io::Error::from_raw_os_error(libc::ENOTDIR),
            ));
        }
        let names = self
            .children
            .get(&key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(names
            .iter()
            .filter_map(|n| {
                let meta = self.nodes.get(&join(&key, n))?.meta;
                Some(Entry {
                    name: OsString::from(OsStr::from_bytes(n)),
                    meta,
                })
            })
            .collect())
    }

    fn xattr(&self, path: &Path, name: &str) -> Option<Vec<u8>> {
        let key = self.key_nofollow(path).ok()?;
        let node = self.nodes.get(&key)?;
        node.xattrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn open(&self, path: &Path) -> TreeResult<(Box<dyn Read + Send + '_>, Meta)> {
        let node = self.file_node(path)?;
        let reader: Box<dyn Read + Send> = match &node.content {
            Some(Content::Resident(data)) => Box::new(std::io::Cursor::new(Arc::clone(data))),
            Some(Content::Hashed { .. }) => {
                if node.meta.size > MAX_INPUT_FILE {
                    return Err(TreeError::TooLarge {
                        path: path.to_path_buf(),
                        size: node.meta.size,
                        max: MAX_INPUT_FILE,
                    });
                }
                Box::new(std::io::Cursor::new(self.again(
                    node,
                    node.meta.size,
                    path,
                )?))
            }
            None => Box::new(std::io::empty()),
        };
        Ok((reader, node.meta))
    }

    fn resolve(&self, path: &Path) -> TreeResult<PathBuf> {
        Ok(absolute(&self.resolve_key(path, path)?))
    }

    /// A file's first bytes as the layer's one pass kept them: a magic
    /// number read through [`Tree::open`] would decompress the layer again
    /// up to the file.
    fn head(&self, path: &Path, n: usize) -> TreeResult<Vec<u8>> {
        let node = self.file_node(path)?;
        let kept = match &node.content {
            Some(Content::Resident(data)) => Some(&data[..n.min(data.len())]),
            Some(Content::Hashed { head, .. }) => head.get(n),
            None => Some(&[][..]),
        };
        match kept {
            Some(bytes) => Ok(bytes.to_vec()),
            None => self.again(node, (n as u64).min(node.meta.size), path),
        }
    }

    fn read(&self, path: &Path, max: u64) -> TreeResult<Vec<u8>> {
        let key = self.key_nofollow(path)?;
        let node = self.node(&key)?;
        if node.meta.kind == Kind::File && node.meta.size > max {
            return Err(TreeError::TooLarge {
                path: path.to_path_buf(),
                size: node.meta.size,
                max,
            });
        }
        match &node.content {
            Some(Content::Resident(d)) if node.meta.kind == Kind::File => Ok(d.to_vec()),
            _ => {
                let (r, _) = self.open(path)?;
                let mut buf = Vec::new();
                r.take(max)
                    .read_to_end(&mut buf)
                    .map_err(|e| TreeError::io(path, e))?;
                Ok(buf)
            }
        }
    }

    fn digest(&self, path: &Path, algo: Algo) -> TreeResult<(Digest, Meta)> {
        let node = self.file_node(path)?;
        let d = match &node.content {
            Some(Content::Resident(data)) => algo.hash_bytes(data),
            Some(Content::Hashed {
                data_offset,
                digests,
                ..
            }) => match digests.iter().find(|d| d.algo == algo) {
                Some(d) => d.clone(),
                None => self.second_pass(node, *data_offset, algo, path)?,
            },
            None => algo.hash_bytes(b""),
        };
        Ok((d, node.meta))
    }

    fn origin(&self, path: &Path) -> Option<LayerFacts> {
        // A path that no longer resolves (removed by a whiteout) is looked
        // up as written.
        let key = self.key_nofollow(path).unwrap_or_else(|_| {
            let b = path.as_os_str().as_bytes();
            b.strip_prefix(b"/").unwrap_or(b).to_vec()
        });
        let layer = match self.nodes.get(&key) {
            Some(n) => n.layer,
            None => *self.deleted_by.get(&key)?,
        };
        let info = &self.layers[layer];
        Some(LayerFacts {
            digest: info.digest.clone(),
            created_by: info.created_by.clone(),
        })
    }
}
