//! What each layout costs: from one status-quo tree (sources plus
//! `__pycache__` pycs at opt 0, 1 and 2), the bytes, disk blocks and file
//! count of every layout of the distributors' proposal, computed by applying
//! the layout's rules file by file, the way a build would rearrange the tree.
//! The rules are `pyvet layout apply`'s: each layout's [`Target`], from its
//! shipped policy ([`crate::layout::LAYOUTS`]). Option 2's sources are really
//! compressed (gzip -9 through zlib), not estimated.
//!
//! A PyOxidizer packed resources file in the tree is one file whose
//! content the layouts thin out by the same rules ([`packed`]): its size in
//! each layout is that of the file the writer would make from what the
//! layout keeps, and what it holds is broken down by kind.

pub mod packed;

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::audit::walk::Unwalked;
use crate::bytecode::naming::{self, PycLocation};
use crate::format::packed::Packed;
use crate::layout::Target;
use crate::policy::Compression;
use crate::tree::{Kind, Meta, Tree, TreeError};

/// Block size used to count disk usage (ext4's and xfs's default).
pub const BLOCK: u64 = 4096;

/// One layout's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayoutSize {
    pub name: &'static str,
    /// Sum of the files' sizes.
    pub bytes: u64,
    /// 4 KiB blocks the files occupy (each file rounded up).
    pub blocks: u64,
    pub files: u64,
}

/// What a file is, for the layout rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `X.py` outside `__pycache__`.
    Source,
    /// `__pycache__/X.<tag>.pyc` (level 0) or `X.<tag>.opt-N.pyc` (level N;
    /// `None` for an optimisation tag that is not a number).
    Cache(Option<u8>),
    /// Anything else: data, extension modules, other bytecode.
    Other,
    /// A PyOxidizer packed resources file, priced by its content.
    Packed,
}

/// One entry of the status-quo tree that is not a directory.
#[derive(Debug, Clone)]
struct Item {
    path: PathBuf,
    size: u64,
    class: Class,
    /// For a source with an opt-0 pyc: its gzip -9 size.
    gz: Option<u64>,
    /// For a source: whether an opt-0 pyc of it exists (moved in option 2).
    has_pyc: bool,
    /// For a packed resources file: what it holds and costs.
    packed: Option<Box<PackedSize>>,
}

pub use packed::PackedSize;

/// Why a tree could not be priced.
#[derive(Debug, thiserror::Error)]
pub enum SizeError {
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A layout's size is of the whole tree or nothing.
    #[error("{0}; pyvet size prices only a tree it sees whole")]
    Unwalked(Unwalked),
}

/// A packed resources file [`of_tree`] priced as the file it is: it does
/// not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpriced {
    pub path: PathBuf,
    pub why: String,
}

/// What a tree costs in each layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    /// In [`crate::layout::LAYOUTS`] order.
    pub layouts: Vec<LayoutSize>,
    /// Python 2 bytecode and no `__pycache__`: every layout is the tree as
    /// it is, since the layouts move only CPython 3's `__pycache__` pycs.
    pub python2: bool,
    /// The packed resources files in it.
    pub packed: Vec<PackedSize>,
    /// Packed resources files that do not parse, kept as they are.
    pub unpriced: Vec<Unpriced>,
}

/// What `pyvet size` says of a tree with [`Priced::python2`].
pub const PYTHON2_NOTE: &str = "Python 2 bytecode (X.pyc or X.pyo beside its source) and no \
     __pycache__: the layouts move only CPython 3's __pycache__ bytecode (PEP 3147), so \
     every layout is this tree as it is";

impl From<SizeError> for crate::Error {
    fn from(e: SizeError) -> Self {
        match e {
            SizeError::Tree(e) => e.into(),
            other => crate::Error::Usage(other.to_string()),
        }
    }
}

/// Errors reading the tree.
pub type SizeResult<T> = std::result::Result<T, SizeError>;

/// Computes every layout's size from the status-quo tree at `dir` (a path
/// inside `tree`).
pub fn of_tree(tree: &dyn Tree, dir: &Path) -> SizeResult<Priced> {
    let inv = crate::audit::walk::Inventory::walk(tree, &[dir.to_path_buf()]);
    if let Some(e) = inv.errors.into_iter().next() {
        return Err(e.into());
    }
    if let Some(u) = inv.unwalked.into_iter().next() {
        return Err(SizeError::Unwalked(u));
    }
    // Every entry below `dir` but a directory is priced: a symlink
    // (Debian's stdlib has in-tree ones) as the link it is, a FIFO or
    // device as its inode; only regular sources are ever opened.
    let files: Vec<(PathBuf, Meta)> = inv
        .entries
        .iter()
        .filter(|(p, m)| m.kind != Kind::Dir && p != dir)
        .map(|(p, m)| (p.clone(), *m))
        .collect();
    let pycache_dirs = inv
        .entries
        .iter()
        .filter(|(p, m)| m.kind == Kind::Dir && p.file_name() == Some(OsStr::new("__pycache__")))
        .count();
    let mut items = classify(tree, &files);
    let python2 = pycache_dirs == 0 && has_python2_bytecode(&items);
    items
        .par_iter_mut()
        .filter(|i| i.class == Class::Source && i.has_pyc)
        .try_for_each(|i| -> SizeResult<()> {
            let data = tree.read(&i.path, crate::limits::MAX_SOURCE_FILE)?;
            i.gz = Some(gzip9_len(&data));
            Ok(())
        })?;
    let unpriced = read_packed(tree, &mut items)?;
    // A marker goes beside the sources of every directory that has some;
    // a Python 2 tree is priced as it is, with no marker added.
    let source_dirs = if python2 {
        0
    } else {
        items
            .iter()
            .filter(|i| i.class == Class::Source)
            .filter_map(|i| i.path.parent())
            .collect::<std::collections::HashSet<_>>()
            .len() as u64
    };
    let layouts = crate::layout::LAYOUTS
        .iter()
        .filter_map(|(name, _)| Some(layout(name, &Target::named(name)?, &items, source_dirs)))
        .collect();
    let packed = items
        .into_iter()
        .filter_map(|i| i.packed)
        .map(|p| *p)
        .collect();
    Ok(Priced {
        layouts,
        python2,
        packed,
        unpriced,
    })
}

/// Parses each packed resources file of the tree; one that does not parse
/// is priced as the file it is, and said so.
fn read_packed(tree: &dyn Tree, items: &mut [Item]) -> SizeResult<Vec<Unpriced>> {
    let results: Vec<SizeResult<Option<Unpriced>>> = items
        .par_iter_mut()
        .filter(|i| i.class == Class::Packed)
        .map(|i| {
            let data = tree.read(&i.path, crate::limits::PACKED_MAX_FILE)?;
            match Packed::parse(&data) {
                Ok(p) => {
                    let priced = PackedSize::of(i.path.clone(), data.len() as u64, &p);
                    i.packed = Some(Box::new(priced));
                    Ok(None)
                }
                Err(e) => Ok(Some(Unpriced {
                    path: i.path.clone(),
                    why: e.to_string(),
                })),
            }
        })
        .collect();
    results.into_iter().filter_map(Result::transpose).collect()
}

/// Prices one packed resources file at `path` (a path inside `tree`): one
/// file in every layout, of the size the layout leaves it.
pub fn of_packed_file(tree: &dyn Tree, path: &Path) -> crate::Result<Priced> {
    // `Tree::read` opens regular files only (a FIFO is refused unopened).
    let data = tree.read(path, crate::limits::PACKED_MAX_FILE)?;
    let parsed = Packed::parse(&data).map_err(|e| crate::Error::format(path, e))?;
    let priced = PackedSize::of(path.to_path_buf(), data.len() as u64, &parsed);
    let layouts = priced
        .layouts
        .iter()
        .map(|l| LayoutSize {
            name: l.name,
            bytes: l.bytes,
            blocks: l.bytes.div_ceil(BLOCK),
            files: 1,
        })
        .collect();
    Ok(Priced {
        layouts,
        python2: false,
        packed: vec![priced],
        unpriced: Vec::new(),
    })
}

/// The files whose content [`of_tree`] reads: sources (compressed for
/// option 2) and packed resources files by their usual names
/// (PyOxidizer's `packed-resources`, `.pyor`, `.packed`, `.resources`).
/// A [`PackageTree`](crate::tree::PackageTree) built for [`of_tree`] keeps
/// these.
pub fn wants_content(path: &Path) -> bool {
    let packed_name = path.file_name() == Some(OsStr::new("packed-resources"))
        || path
            .extension()
            .is_some_and(|e| ["pyor", "packed", "resources"].map(OsStr::new).contains(&e));
    packed_name || class_of(path) == Class::Source
}

/// Sorts files into classes; a source "has a pyc" when an opt-0 cache file
/// names it. What is not a regular file stays what it is in every layout
/// (a build moves, compresses and drops only regular files).
fn classify(tree: &dyn Tree, files: &[(PathBuf, Meta)]) -> Vec<Item> {
    let mut with_pyc = std::collections::HashSet::new();
    let mut items: Vec<Item> = files
        .iter()
        .map(|(p, meta)| {
            let class = match meta.kind {
                Kind::File if crate::check::packed::is_packed_file(tree, p, meta) => Class::Packed,
                Kind::File => class_of(p),
                _ => Class::Other,
            };
            if class == Class::Cache(Some(0)) {
                if let Some(src) = naming::locate(p, None).source() {
                    with_pyc.insert(src.to_path_buf());
                }
            }
            Item {
                path: p.clone(),
                size: meta.size,
                class,
                gz: None,
                has_pyc: false,
                packed: None,
            }
        })
        .collect();
    for i in &mut items {
        i.has_pyc = i.class == Class::Source && with_pyc.contains(&i.path);
    }
    items
}

/// Whether bytecode sits beside its source the way Python 2 writes it:
/// an `X.pyo` (gone since Python 3.5), or an `X.pyc` with `X.py` beside it.
fn has_python2_bytecode(items: &[Item]) -> bool {
    let paths: std::collections::HashSet<&Path> = items.iter().map(|i| i.path.as_path()).collect();
    items
        .iter()
        .any(|i| match i.path.extension().and_then(OsStr::to_str) {
            Some("pyo") => true,
            Some("pyc") => paths.contains(i.path.with_extension("py").as_path()),
            _ => false,
        })
}

fn class_of(p: &Path) -> Class {
    let name = p.file_name().map(OsStr::as_bytes).unwrap_or_default();
    let in_cache = p.parent().and_then(Path::file_name) == Some(OsStr::new("__pycache__"));
    if in_cache && name.ends_with(b".pyc") {
        return match naming::locate(p, None) {
            PycLocation::Cache { opt: None, .. } => Class::Cache(Some(0)),
            PycLocation::Cache { opt: Some(o), .. } => {
                Class::Cache(o.parse().ok().filter(|l| *l != 0))
            }
            _ => Class::Other,
        };
    }
    if !in_cache && name.ends_with(b".py") {
        return Class::Source;
    }
    Class::Other
}

/// Applies one layout's rules (its [`Target`], as `pyvet layout apply`
/// reads it) to every file; `source_dirs` directories get a marker where
/// the layout has them.
fn layout(name: &'static str, t: &Target, items: &[Item], source_dirs: u64) -> LayoutSize {
    let mut out = LayoutSize {
        name,
        bytes: 0,
        blocks: 0,
        files: 0,
    };
    let mut add = |size: u64| {
        out.bytes += size;
        out.blocks += size.div_ceil(BLOCK);
        out.files += 1;
    };
    for i in items {
        let kept = match &i.packed {
            Some(p) => Some(p.in_layout(name)),
            None => kept_size(t, i.class, i.has_pyc, i.size, i.gz),
        };
        kept.map(&mut add);
    }
    if t.markers {
        // One empty __dont_write_bytecode__ per directory: a file, no block.
        for _ in 0..source_dirs {
            add(0);
        }
    }
    out
}

/// What layout `t` makes of a file of `class` and `size` (`gz`: its gzip
/// -9 size, for a source): its size there, or `None` when it drops it. A
/// source whose opt-0 pyc exists (`has_pyc`) gives way to it in the
/// sourceless layouts.
fn kept_size(t: &Target, class: Class, has_pyc: bool, size: u64, gz: Option<u64>) -> Option<u64> {
    match class {
        Class::Other | Class::Packed => Some(size),
        Class::Source if !t.sourceless() || !has_pyc => Some(size),
        // Option 2 keeps the source of a moved pyc in `__pysources__`
        // (or, plain as its policy has it, under the pysource prefix).
        Class::Source => t.keeps_sources().then(|| match t.compression {
            Compression::None => size,
            _ => gz.unwrap_or(size),
        }),
        // Sourceless layouts move the opt-0 pyc to `X.pyc`.
        Class::Cache(Some(0)) if t.sourceless() => Some(size),
        Class::Cache(level) => t.keeps_cache(level).then_some(size),
    }
}

/// The length of `data` compressed as `gzip -9 -n` would (no name, no time).
pub fn gzip9_len(data: &[u8]) -> u64 {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(CountingSink(0), flate2::Compression::best());
    enc.write_all(data)
        .expect("writing to a counter cannot fail");
    enc.finish().expect("finishing to a counter cannot fail").0
}

/// A writer that only counts.
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_per_layout() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join("lib/python3.11");
        std::fs::create_dir_all(lib.join("__pycache__")).unwrap();
        let src = "x = 1\n".repeat(2000);
        std::fs::write(lib.join("m.py"), &src).unwrap();
        std::fs::write(lib.join("nopyc.py"), "y = 2\n").unwrap();
        std::fs::write(lib.join("data.txt"), vec![b'd'; 5000]).unwrap();
        for (n, len) in [
            ("m.cpython-311.pyc", 100),
            ("m.cpython-311.opt-1.pyc", 101),
            ("m.cpython-311.opt-2.pyc", 102),
        ] {
            std::fs::write(lib.join("__pycache__").join(n), vec![0u8; len]).unwrap();
        }
        let t = crate::tree::FsTree::new(d.path());
        let sizes = of_tree(&t, Path::new("/lib/python3.11")).unwrap().layouts;
        let get = |n: &str| sizes.iter().find(|s| s.name == n).unwrap().clone();
        let gz = gzip9_len(src.as_bytes());
        assert!(gz < 100, "12 kB of one repeated line compresses to {gz}");
        assert_eq!(
            (get("status-quo").bytes, get("status-quo").files),
            (12000 + 6 + 5000 + 303, 6)
        );
        assert_eq!(
            (get("py-opt0").bytes, get("py-opt0").files),
            (12000 + 6 + 5000 + 100, 4)
        );
        assert_eq!(
            (get("option1").bytes, get("option1").files),
            (12000 + 6 + 5000, 4)
        );
        assert_eq!(
            (get("option1-full").bytes, get("option1-full").files),
            (12000 + 6 + 5000 + 303, 7)
        );
        assert_eq!(
            (get("option2").bytes, get("option2").files),
            (gz + 6 + 5000 + 100, 4)
        );
        // The prefix variant keeps the source plain, in the parallel tree.
        assert_eq!(
            (get("option2-prefix").bytes, get("option2-prefix").files),
            (12000 + 6 + 5000 + 100, 4)
        );
        assert_eq!(
            (get("minimal").bytes, get("minimal").files),
            (6 + 5000 + 100, 3)
        );
        assert_eq!(get("minimal").blocks, 1 + 2 + 1);
    }

    #[test]
    fn python_2_bytecode_is_said_to_be_left_as_it_is() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join("lib/python2.7");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("m.py"), "x = 1\n").unwrap();
        let dir = Path::new("/lib/python2.7");
        let python2 = || of_tree(&crate::tree::FsTree::new(d.path()), dir).unwrap();
        // Sources alone (a Debian package ships no bytecode) are no sign.
        assert!(!python2().python2);
        std::fs::write(lib.join("m.pyc"), b"\x03\xf3\r\n").unwrap();
        let priced = python2();
        assert!(priced.python2);
        assert!(priced.layouts.iter().all(|l| l
            == &LayoutSize {
                name: l.name,
                ..priced.layouts[0].clone()
            }));
        // A Python 3 tree with a stray legacy pyc is one.
        std::fs::create_dir(lib.join("__pycache__")).unwrap();
        assert!(!python2().python2);
    }
}
