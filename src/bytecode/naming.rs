//! Where CPython looks for bytecode: PEP 3147/488 cache names, the legacy
//! sourceless location and `PYTHONPYCACHEPREFIX` trees, in both directions
//! (pyc → the source it caches, source → the pycs that may cache it).
//!
//! These mirror `importlib.util.cache_from_source` and `source_from_cache`
//! on a POSIX host; they only compute paths and never touch the disk.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::bytecode::magic::PyVersion;

/// The cache directory name (PEP 3147).
pub const PYCACHE: &str = "__pycache__";
/// The only source suffix CPython looks for on POSIX.
pub const SOURCE_SUFFIX: &str = ".py";
/// Bytecode suffix (PEP 488: optimisation is part of the name, not the suffix).
pub const BYTECODE_SUFFIX: &str = ".pyc";
/// Python 2's suffix for optimised bytecode.
pub const LEGACY_OPTIMIZED_SUFFIX: &str = ".pyo";
/// Prefix of the optimisation part of a cache name (`.opt-2`).
const OPT_PREFIX: &str = "opt-";

/// Where a pyc sits, as CPython's import system sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PycLocation {
    /// `dir/__pycache__/mod.<tag>[.opt-N].pyc`, or the same name under a
    /// `PYTHONPYCACHEPREFIX` tree: read only as the cache of `source`.
    Cache {
        source: PathBuf,
        /// The cache tag in the name (`cpython-311`).
        tag: String,
        /// The version the tag names, if it is a CPython tag.
        version: Option<PyVersion>,
        /// The optimisation level in the name (`1` for `.opt-1`), `None` for level 0.
        opt: Option<String>,
        /// True when found through the pycache prefix rather than `__pycache__`.
        prefixed: bool,
    },
    /// `dir/mod.pyc` beside where `mod.py` would be: CPython 3 imports it only
    /// when there is no source (sourceless distribution); Python 2 uses it as
    /// the cache of `mod.py`.
    Legacy { source: PathBuf },
    /// A name CPython never loads bytecode from.
    Unrecognised { why: String },
}

impl PycLocation {
    /// The source this pyc belongs to, when the name says.
    pub fn source(&self) -> Option<&Path> {
        match self {
            PycLocation::Cache { source, .. } | PycLocation::Legacy { source } => Some(source),
            PycLocation::Unrecognised { .. } => None,
        }
    }
}

/// Maps a pyc path to its location kind and expected source
/// (`importlib.util.source_from_cache`, plus the legacy location).
pub fn locate(pyc: &Path, pycache_prefix: Option<&Path>) -> PycLocation {
    let (Some(dir), Some(name)) = (pyc.parent(), pyc.file_name()) else {
        return unrecognised("no file name");
    };
    let Some(name) = name.to_str() else {
        return unrecognised("file name is not UTF-8, so no module can have it");
    };
    if let Some(head) = pycache_prefix.and_then(|p| strip_prefix_dir(dir, p)) {
        return locate_cached(&head, name, true);
    }
    if dir.file_name() == Some(OsStr::new(PYCACHE)) {
        let head = dir.parent().unwrap_or(Path::new(""));
        return locate_cached(head, name, false);
    }
    locate_legacy(dir, name)
}

/// `dir` relative to `prefix`, re-rooted at `/`, when `dir` is inside `prefix`.
fn strip_prefix_dir(dir: &Path, prefix: &Path) -> Option<PathBuf> {
    let rest = dir.strip_prefix(prefix).ok()?;
    Some(Path::new("/").join(rest))
}

/// `path` (absolute) mirrored under `prefix`, as `PYTHONPYCACHEPREFIX`
/// mirrors a source's directory (`/usr/lib/python3.11/json` →
/// `PREFIX/usr/lib/python3.11/json`); the pysource prefix mirrors the same way.
pub fn mirrored(prefix: &Path, path: &Path) -> PathBuf {
    prefix.join(path.strip_prefix("/").unwrap_or(path))
}

/// The reverse of [`mirrored`]: the absolute path `path` mirrors, when it
/// is inside `prefix`.
pub fn unmirrored(prefix: &Path, path: &Path) -> Option<PathBuf> {
    strip_prefix_dir(path, prefix)
}

/// Where a pysource prefix keeps the source of a legacy-location pyc:
/// `/usr/lib/python3.11/json/decoder.pyc` → `PREFIX/usr/lib/python3.11/json/decoder.py`.
pub fn prefix_source(pyc: &Path, prefix: &Path) -> Option<PathBuf> {
    let name = pyc.file_name()?.to_str()?;
    match locate_legacy(pyc.parent()?, name) {
        PycLocation::Legacy { source } => Some(mirrored(prefix, &source)),
        _ => None,
    }
}

fn unrecognised(why: &str) -> PycLocation {
    PycLocation::Unrecognised {
        why: why.to_string(),
    }
}

/// Parses `<module>.<tag>[.opt-N].pyc`, the names `cache_from_source`
/// makes, from the right: unlike `source_from_cache`, a module stem with a
/// dot (`__phello__.foo`, made by compileall) keeps its whole stem.
fn locate_cached(head: &Path, name: &str, prefixed: bool) -> PycLocation {
    let Some(stem) = name.strip_suffix(BYTECODE_SUFFIX) else {
        return unrecognised("cache file name does not end in .pyc");
    };
    let Some((rest, last)) = stem.rsplit_once('.') else {
        return unrecognised("cache name has no cache tag (<module>.<tag>[.opt-N].pyc)");
    };
    let (rest, tag, opt) = match last.strip_prefix(OPT_PREFIX) {
        Some(level) if level.is_empty() || !level.chars().all(char::is_alphanumeric) => {
            return unrecognised("cache name's optimisation part is not opt-<alphanumeric>")
        }
        Some(level) => match rest.rsplit_once('.') {
            Some((module, tag)) => (module, tag, Some(level.to_string())),
            None => {
                return unrecognised("cache name has no cache tag before its optimisation level")
            }
        },
        None => (rest, last, None),
    };
    if rest.is_empty() || tag.is_empty() {
        return unrecognised("cache name has an empty module or tag");
    }
    PycLocation::Cache {
        source: head.join(format!("{rest}{SOURCE_SUFFIX}")),
        tag: tag.to_string(),
        version: PyVersion::from_cache_tag(tag),
        opt,
        prefixed,
    }
}

fn locate_legacy(dir: &Path, name: &str) -> PycLocation {
    let stem = name
        .strip_suffix(BYTECODE_SUFFIX)
        .or_else(|| name.strip_suffix(LEGACY_OPTIMIZED_SUFFIX));
    match stem {
        Some(stem) if !stem.is_empty() && !stem.contains('.') => PycLocation::Legacy {
            source: dir.join(format!("{stem}{SOURCE_SUFFIX}")),
        },
        Some(_) => unrecognised(
            "a tagged or dotted pyc name outside __pycache__ (and outside any pycache prefix) is never imported",
        ),
        None => unrecognised("not a .pyc file name"),
    }
}

/// `importlib.util.cache_from_source(source, optimization=opt)` for CPython
/// `version`: the pyc a `version` interpreter at optimisation `opt` reads and
/// writes for `source`. `prefix` is `sys.pycache_prefix` (3.8+); `source` must
/// be absolute when a prefix is used, as CPython makes it.
pub fn cache_path(
    source: &Path,
    version: PyVersion,
    opt: u8,
    prefix: Option<&Path>,
) -> Option<PathBuf> {
    let dir = source.parent()?;
    let stem = source.file_stem()?.to_str()?;
    let opt_part = if opt == 0 {
        String::new()
    } else {
        format!(".{OPT_PREFIX}{opt}")
    };
    let name = format!("{stem}.{}{opt_part}{BYTECODE_SUFFIX}", version.cache_tag());
    Some(match prefix {
        Some(p) => mirrored(p, dir).join(name),
        None => dir.join(PYCACHE).join(name),
    })
}

/// The pycs (levels 0, 1, 2) that may cache `source` for `version`.
pub fn cache_paths(source: &Path, version: PyVersion, prefix: Option<&Path>) -> Vec<PathBuf> {
    (0..=2)
        .filter_map(|opt| cache_path(source, version, opt, prefix))
        .collect()
}

/// The legacy (sourceless / Python 2) pyc location of `source`.
pub fn legacy_path(source: &Path) -> PathBuf {
    source.with_extension(&BYTECODE_SUFFIX[1..])
}

/// The Python version a path belongs to, from its nearest `pythonX.Y`
/// directory component (`/usr/lib/python3.11/...`), if any.
pub fn tree_version(path: &Path) -> Option<PyVersion> {
    path.components().rev().find_map(|c| match c {
        Component::Normal(n) => {
            let s = std::str::from_utf8(n.as_bytes()).ok()?;
            PyVersion::parse(s.strip_prefix("python")?)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(source: &str, tag: &str, opt: Option<&str>, prefixed: bool) -> PycLocation {
        PycLocation::Cache {
            source: PathBuf::from(source),
            tag: tag.into(),
            version: PyVersion::from_cache_tag(tag),
            opt: opt.map(str::to_string),
            prefixed,
        }
    }

    #[test]
    fn pycache_names() {
        let p = Path::new("/usr/lib/python3.11/__pycache__/os.cpython-311.pyc");
        assert_eq!(
            locate(p, None),
            cache("/usr/lib/python3.11/os.py", "cpython-311", None, false)
        );
        let p = Path::new("/a/pkg/__pycache__/__init__.cpython-312.opt-2.pyc");
        assert_eq!(
            locate(p, None),
            cache("/a/pkg/__init__.py", "cpython-312", Some("2"), false)
        );
        let p = Path::new("/a/__pycache__/m.pypy39.pyc");
        assert!(matches!(
            locate(p, None),
            PycLocation::Cache { version: None, .. }
        ));
    }

    #[test]
    fn bad_cache_names() {
        for name in [
            "m.pyc",
            "m.cpython-311.opt-.pyc",
            ".cpython-311.pyc",
            "m.opt-1.pyc",
            "m.py",
        ] {
            let p = PathBuf::from("/a/__pycache__").join(name);
            assert!(
                matches!(locate(&p, None), PycLocation::Unrecognised { .. }),
                "{name}"
            );
        }
        // Not a CPython tag: located, but no CPython reads it.
        let p = Path::new("/a/__pycache__/m.cpython-311.o2.pyc");
        assert!(matches!(
            locate(p, None),
            PycLocation::Cache { version: None, .. }
        ));
        // compileall's name for a source with a dot in its stem.
        let p = Path::new("/a/__pycache__/__phello__.foo.cpython-37.opt-1.pyc");
        assert_eq!(
            locate(p, None),
            cache("/a/__phello__.foo.py", "cpython-37", Some("1"), false)
        );
    }

    #[test]
    fn legacy_names() {
        assert_eq!(
            locate(Path::new("/a/m.pyc"), None),
            PycLocation::Legacy {
                source: "/a/m.py".into()
            }
        );
        assert_eq!(
            locate(Path::new("/a/m.pyo"), None),
            PycLocation::Legacy {
                source: "/a/m.py".into()
            }
        );
        assert!(matches!(
            locate(Path::new("/a/m.cpython-311.pyc"), None),
            PycLocation::Unrecognised { .. }
        ));
    }

    #[test]
    fn prefix_trees() {
        let prefix = Path::new("/tmp/pfx");
        let p = Path::new("/tmp/pfx/usr/lib/python3.11/m.cpython-311.pyc");
        assert_eq!(
            locate(p, Some(prefix)),
            cache("/usr/lib/python3.11/m.py", "cpython-311", None, true)
        );
        let v = PyVersion::new(3, 11);
        assert_eq!(
            cache_path(Path::new("/usr/lib/python3.11/m.py"), v, 0, Some(prefix)).unwrap(),
            p
        );
    }

    #[test]
    fn pysource_prefix_mirrors_as_the_pycache_prefix_does() {
        let prefix = Path::new("/usr/share/python3-sources");
        let pyc = Path::new("/usr/lib64/python3.12/json/decoder.pyc");
        let src = prefix_source(pyc, prefix).unwrap();
        assert_eq!(
            src,
            Path::new("/usr/share/python3-sources/usr/lib64/python3.12/json/decoder.py")
        );
        let dir = src.parent().unwrap();
        assert_eq!(
            unmirrored(prefix, dir).unwrap(),
            Path::new("/usr/lib64/python3.12/json")
        );
        assert_eq!(mirrored(prefix, &unmirrored(prefix, dir).unwrap()), dir);
        assert_eq!(unmirrored(prefix, Path::new("/usr/lib/x")), None);
        // Only legacy-location names have a mirrored source.
        assert_eq!(
            prefix_source(Path::new("/a/m.cpython-311.pyc"), prefix),
            None
        );
    }

    #[test]
    fn forward_and_back() {
        let v = PyVersion::new(3, 9);
        let src = Path::new("/x/pkg/mod.py");
        let all = cache_paths(src, v, None);
        assert_eq!(
            all,
            [
                "/x/pkg/__pycache__/mod.cpython-39.pyc",
                "/x/pkg/__pycache__/mod.cpython-39.opt-1.pyc",
                "/x/pkg/__pycache__/mod.cpython-39.opt-2.pyc"
            ]
            .map(PathBuf::from)
        );
        for p in &all {
            assert_eq!(locate(p, None).source(), Some(src));
        }
        assert_eq!(legacy_path(src), Path::new("/x/pkg/mod.pyc"));
    }

    #[test]
    fn tree_versions() {
        assert_eq!(
            tree_version(Path::new("/usr/lib/python3.11/a/b.pyc")),
            Some(PyVersion::new(3, 11))
        );
        assert_eq!(
            tree_version(Path::new("/usr/lib/python3/dist-packages/b.pyc")),
            None
        );
        assert_eq!(
            tree_version(Path::new("/opt/python2.7/lib/python3.12/x.pyc")),
            Some(PyVersion::new(3, 12))
        );
    }
}
