//! Layout markers: `__pycache__/__dont_write_bytecode__`, `__pysources__/`
//! and `__pysource__`; and the pysource prefix, option 2's parallel tree.
//!
//! The smaller layouts of the distributors' proposal stay verifiable only through these
//! markers. The option 1 marker promises CPython writes nothing in its
//! `__pycache__`, so a pyc there that no package installed was written by
//! something else. Option 2 moves each source into `__pysources__` (or
//! where a `__pysource__` file says) beside a legacy-location `X.pyc` that
//! imports without any check: only the pyc's header ties it to the source,
//! so each pair is checked here (the timestamp pyc's recorded size, the
//! hash-based pyc's SipHash), with sources decompressed streamed and capped.
//! The prefix variant keeps `dir/X.pyc`'s source at `PREFIX/dir/X.py`
//! (mirrored as `PYTHONPYCACHEPREFIX` mirrors, [`naming::mirrored`]); a
//! plain source there is checked as CPython checks a source beside its
//! pyc (mtime and size, or hash: [`accept::decide`]), since copies that keep
//! the mtime are what such a tree is made of. The prefix tree is read only
//! where it mirrors an audited directory: a directory there whose
//! counterpart is missing is one orphan finding, not walked.
//! Markers are checked wherever they exist; where the policy requires one
//! ([`crate::policy::Expect`]) its absence is a finding too. Without a
//! manifest, or in a bare build tree ([`Context::is_bare`]), nothing is
//! owned, so the ownership parts are skipped (the audit says so once,
//! `no-manifest`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::audit::rules::{self, Rule};
use crate::audit::{Context, Finding, Sink};
use crate::bytecode::accept::{self, SourceStat};
use crate::bytecode::hash;
use crate::bytecode::naming::{self, BYTECODE_SUFFIX, PYCACHE, SOURCE_SUFFIX};
use crate::bytecode::Verdict;
use crate::cli::HashCheckMode;
use crate::format::pyc::{PycHeader, PycKind};
use crate::format::pysource::{self, PySource};
use crate::policy::{Compression, Marker, Sources};
use crate::tree::{Kind, Meta};

pub use super::predict::DONT_WRITE_MARKER;

/// The directory of option 2's sources.
pub const PYSOURCES: &str = "__pysources__";
/// The metadata file naming where a directory's sources are.
pub const PYSOURCE: &str = "__pysource__";
/// Largest decompressed source checked: past it, a compression bomb.
pub const MAX_SOURCE: u64 = crate::limits::MAX_PYSOURCE_DECOMPRESSED;
/// Largest pyc header read.
const PYC_HEADER_MAX: usize = crate::tree::HEAD_LEN;

/// Runs every marker check.
pub fn check(ctx: &Context, sink: &Sink) {
    let dirs = Dirs::of(ctx);
    let mut out = Vec::new();
    dont_write(ctx, &dirs, &mut out);
    required_dont_write(ctx, &dirs, &mut out);
    sink.extend(out);
    // Each directory's sources are decompressed and hashed: in parallel.
    let pairs: Vec<Finding> = dirs
        .0
        .par_iter()
        .flat_map_iter(|(dir, children)| {
            let mut out = Vec::new();
            pysources(ctx, dir, children, &mut out);
            out
        })
        .collect();
    sink.extend(pairs);
}

/// Every directory of the inventory with its entries.
pub struct Dirs<'c>(pub BTreeMap<&'c Path, HashMap<&'c OsStr, &'c Meta>>);

impl<'c> Dirs<'c> {
    pub fn of(ctx: &'c Context) -> Self {
        let mut map: BTreeMap<&Path, HashMap<&OsStr, &Meta>> = BTreeMap::new();
        for (p, m) in &ctx.inventory.entries {
            if m.kind == Kind::Dir {
                map.entry(p).or_default();
            }
            if let (Some(parent), Some(name)) = (p.parent(), p.file_name()) {
                if ctx.inventory.contains(parent) {
                    map.entry(parent).or_default().insert(name, m);
                }
            }
        }
        Dirs(map)
    }
}

fn is_file(m: &Meta) -> bool {
    m.kind == Kind::File
}

/// Whether a directory holds sources: a plain `.py`, `__pysources__/` or
/// `__pysource__`.
pub fn has_sources(children: &HashMap<&OsStr, &Meta>) -> bool {
    children.iter().any(|(n, m)| {
        let n = n.as_bytes();
        (n.ends_with(SOURCE_SUFFIX.as_bytes()) && n.len() > 3 && m.kind != Kind::Dir)
            || (n == PYSOURCES.as_bytes() && m.kind == Kind::Dir)
            || n == PYSOURCE.as_bytes()
    })
}

/// `__dont_write_bytecode__` wherever one is: what it must be, and the
/// unowned pycs its `__pycache__` must not have.
fn dont_write(ctx: &Context, dirs: &Dirs, out: &mut Vec<Finding>) {
    for (path, meta) in &ctx.inventory.entries {
        if path.file_name() != Some(OsStr::new(DONT_WRITE_MARKER)) {
            continue;
        }
        let Some(cache) = path.parent() else { continue };
        let why = marker_problems(ctx, dirs, path, meta, cache);
        if !why.is_empty() {
            out.push(
                Finding::new(rules::MARKER_INVALID, path, why.join("; "))
                    .package(ctx.package_of(path))
                    .file(meta, ctx.selinux(path)),
            );
        }
        if cache.file_name() != Some(OsStr::new(PYCACHE)) || ctx.is_bare(cache) {
            continue;
        }
        let Some(children) = dirs.0.get(cache) else {
            continue;
        };
        let mut names: Vec<_> = children.iter().collect();
        names.sort_by_key(|(n, _)| **n);
        for (name, m) in names {
            let p = cache.join(name);
            if name.as_bytes().ends_with(BYTECODE_SUFFIX.as_bytes()) && !ctx.owners.is_owned(&p) {
                out.push(
                    Finding::new(
                        rules::MARKER_WRITTEN_BYTECODE,
                        &p,
                        format!(
                            "{} forbids CPython to write here, and no package installed this pyc",
                            path.display()
                        ),
                    )
                    .file(m, ctx.selinux(&p)),
                );
            }
        }
    }
}

fn marker_problems(
    ctx: &Context,
    dirs: &Dirs,
    path: &Path,
    meta: &Meta,
    cache: &Path,
) -> Vec<String> {
    let mut why = Vec::new();
    if cache.file_name() != Some(OsStr::new(PYCACHE)) {
        why.push("not in a __pycache__ directory: CPython never looks for it here".to_string());
    }
    if !is_file(meta) {
        why.push(format!("a {}, not a regular file", meta.kind.as_str()));
    } else if meta.size != 0 {
        why.push(format!("{} bytes, not empty", meta.size));
    }
    if !ctx.is_bare(path) && !ctx.owners.is_owned(path) {
        why.push("nothing owns it".into());
    }
    let parent_has_sources = cache
        .parent()
        .and_then(|p| dirs.0.get(p))
        .is_some_and(has_sources);
    if !parent_has_sources {
        why.push("the directory above its __pycache__ has no sources".into());
    }
    why
}

/// Where the policy requires `__dont_write_bytecode__`: every directory
/// with sources an import reaches.
fn required_dont_write(ctx: &Context, dirs: &Dirs, out: &mut Vec<Finding>) {
    for (dir, children) in &dirs.0 {
        if !has_sources(children) || !importable_dir(ctx, dir) {
            continue;
        }
        let marker = dir.join(PYCACHE).join(DONT_WRITE_MARKER);
        let wanted = ctx
            .policy
            .expect_for(&marker)
            .markers
            .contains(&Marker::DontWriteBytecode);
        if wanted && !ctx.inventory.contains(&marker) {
            out.push(Finding::new(
                rules::MARKER_MISSING,
                &marker,
                format!(
                    "policy {} requires this marker: {} has sources, so CPython would write bytecode here",
                    ctx.policy.name,
                    dir.display()
                ),
            ));
        }
    }
}

/// A directory imports reach: inside a Python tree, no component with a
/// dot (`*.dist-info`, `config-3.11-…`), not `__pycache__` or `__pysources__`.
pub fn importable_dir(ctx: &Context, dir: &Path) -> bool {
    let Some(rel) = ctx
        .python_trees
        .iter()
        .find_map(|t| dir.strip_prefix(t).ok())
    else {
        return false;
    };
    rel.components().all(|c| {
        let n = c.as_os_str();
        !n.as_bytes().contains(&b'.') && n != PYCACHE && n != PYSOURCES
    })
}

/// A directory's legacy-location pycs, sorted.
fn legacy_pycs<'a>(dir: &Path, children: &HashMap<&'a OsStr, &Meta>) -> Vec<&'a OsStr> {
    if dir.file_name() == Some(OsStr::new(PYCACHE)) {
        return Vec::new();
    }
    let mut v: Vec<&OsStr> = children
        .iter()
        .filter(|(n, m)| {
            let n = n.as_bytes();
            is_file(m) && n.len() > 4 && n.ends_with(BYTECODE_SUFFIX.as_bytes())
        })
        .map(|(n, _)| *n)
        .collect();
    v.sort();
    v
}

/// Where a directory's sources are said to be.
enum SourceDir {
    /// `__pysources__/` beside the pycs.
    Beside(PathBuf),
    /// The directory a `__pysource__` names.
    Named(PathBuf),
    /// The directory mirroring this one under the pysource prefix.
    Mirrored(PathBuf),
}

/// Checks one directory's legacy-location pycs against their sources.
fn pysources(ctx: &Context, dir: &Path, children: &HashMap<&OsStr, &Meta>, out: &mut Vec<Finding>) {
    if ctx
        .options
        .pycache_prefixes
        .iter()
        .any(|p| dir.starts_with(p))
    {
        return;
    }
    let prefix = ctx.pysource_prefix();
    if prefix.is_some_and(|x| dir.starts_with(x)) {
        return;
    }
    let pycs = legacy_pycs(dir, children);
    let beside = children
        .get(OsStr::new(PYSOURCES))
        .is_some_and(|m| m.kind == Kind::Dir);
    let meta_file = children.get(OsStr::new(PYSOURCE));
    let wanted = pycs
        .first()
        .map(|n| ctx.policy.expect_for(&dir.join(n)).sources);
    let source_dir = if beside {
        Some(SourceDir::Beside(dir.join(PYSOURCES)))
    } else if let Some(m) = meta_file {
        read_pysource(ctx, &dir.join(PYSOURCE), m, out).map(SourceDir::Named)
    } else if let Some(m) = prefix
        .map(|x| naming::mirrored(x, dir))
        .filter(|m| is_dir(ctx, m))
    {
        Some(SourceDir::Mirrored(m))
    } else {
        match wanted {
            Some(Sources::Pysources) => {
                for n in &pycs {
                    out.push(source_missing(ctx, &dir.join(n), "there is no __pysources__ directory"));
                }
            }
            Some(Sources::Pysource) => out.push(Finding::new(
                rules::MARKER_MISSING,
                dir.join(PYSOURCE),
                format!(
                    "policy {} wants a __pysource__ file saying where the sources of these pycs are",
                    ctx.policy.name
                ),
            )),
            Some(Sources::Prefix) => {
                for n in &pycs {
                    let pyc = dir.join(n);
                    let why = match prefix.and_then(|x| naming::prefix_source(&pyc, x)) {
                        Some(src) => format!("nothing at {}", src.display()),
                        None => "the policy keeps sources under a pysource prefix, and none is set".into(),
                    };
                    out.push(source_missing(ctx, &pyc, &why));
                }
            }
            _ => {}
        }
        return;
    };
    let Some(source_dir) = source_dir else { return };
    shadowed(ctx, dir, children, &pycs, out);
    pairs(ctx, dir, &pycs, &source_dir, out);
}

/// Whether `p` is a directory in the root (through links inside it).
fn is_dir(ctx: &Context, p: &Path) -> bool {
    ctx.tree.stat(p).is_ok_and(|m| m.kind == Kind::Dir)
}

/// Reads and parses a `__pysource__`; the directory it names, if it exists.
fn read_pysource(
    ctx: &Context,
    path: &Path,
    meta: &Meta,
    out: &mut Vec<Finding>,
) -> Option<PathBuf> {
    let invalid = |why: String| {
        Finding::new(rules::MARKER_PYSOURCE_INVALID, path, why)
            .package(ctx.package_of(path))
            .file(meta, ctx.selinux(path))
    };
    if !is_file(meta) {
        out.push(invalid(format!(
            "a {}, not a regular file",
            meta.kind.as_str()
        )));
        return None;
    }
    let parsed = ctx
        .tree
        .read(path, pysource::MAX_LEN as u64)
        .map_err(|e| e.to_string())
        .and_then(|b| PySource::parse(&b).map_err(|e| e.to_string()));
    let dir = match parsed {
        Ok(p) => p.directory,
        Err(e) => {
            out.push(invalid(e));
            return None;
        }
    };
    match ctx.tree.stat(&dir) {
        Ok(m) if m.kind == Kind::Dir => Some(dir),
        _ => {
            out.push(invalid(format!(
                "names {}, which is not a directory in the root",
                dir.display()
            )));
            None
        }
    }
}

/// A plain `X.py` beside `X.pyc` where sources belong elsewhere.
fn shadowed(
    ctx: &Context,
    dir: &Path,
    children: &HashMap<&OsStr, &Meta>,
    pycs: &[&OsStr],
    out: &mut Vec<Finding>,
) {
    for n in pycs {
        let stem = &n.as_bytes()[..n.len() - BYTECODE_SUFFIX.len()];
        let mut py = stem.to_vec();
        py.extend_from_slice(SOURCE_SUFFIX.as_bytes());
        let py = OsStr::from_bytes(&py);
        if let Some(m) = children.get(py).filter(|m| m.kind != Kind::Dir) {
            let p = dir.join(py);
            out.push(
                Finding::new(
                    rules::MARKER_SOURCE_SHADOWED,
                    &p,
                    format!("CPython imports this source, not {}", dir.join(n).display()),
                )
                .package(ctx.package_of(&p))
                .file(m, ctx.selinux(&p)),
            );
        }
    }
}

/// One source file of a sources directory.
struct Src {
    name: OsString,
    compression: Compression,
    meta: Meta,
}

/// `X.py[.gz|.xz|.bz2]` → (`X`, compression).
fn source_name(name: &[u8]) -> Option<(&[u8], Compression)> {
    Compression::ALL.into_iter().find_map(|c| {
        let full_suffix = [SOURCE_SUFFIX.as_bytes(), c.suffix().as_bytes()].concat();
        let stem = name.strip_suffix(full_suffix.as_slice())?;
        (!stem.is_empty()).then_some((stem, c))
    })
}

/// Pairs each pyc with its source and each source with its pyc.
fn pairs(ctx: &Context, dir: &Path, pycs: &[&OsStr], sd: &SourceDir, out: &mut Vec<Finding>) {
    let (sdir, label, counterpart) = match sd {
        SourceDir::Beside(p) => (p, format!("{PYSOURCES}/"), None),
        SourceDir::Named(p) => (p, format!("{} (named by {PYSOURCE})", p.display()), None),
        SourceDir::Mirrored(p) => (
            p,
            format!("{} (the pysource prefix)", p.display()),
            Some(dir),
        ),
    };
    let by_stem = match ctx.tree.read_dir(sdir) {
        Ok(listing) => index_sources(ctx, sdir, &listing, counterpart, out),
        Err(e) => return out.push(Finding::new(rules::UNREADABLE, sdir, e.to_string())),
    };
    let mut paired = BTreeSet::new();
    for n in pycs {
        let stem = &n.as_bytes()[..n.len() - BYTECODE_SUFFIX.len()];
        let pyc = dir.join(n);
        match by_stem.get(stem) {
            None if counterpart.is_some() => {
                let want = sdir.join(OsStr::from_bytes(
                    &[stem, SOURCE_SUFFIX.as_bytes()].concat(),
                ));
                let why = format!("nothing at {} (the pysource prefix)", want.display());
                out.push(source_missing(ctx, &pyc, &why))
            }
            None => out.push(source_missing(
                ctx,
                &pyc,
                &format!("no source for it in {label}"),
            )),
            Some(src) => {
                paired.insert(stem);
                let whole = counterpart.is_some().then_some(&src.meta);
                out.extend(compare(
                    ctx,
                    &pyc,
                    &sdir.join(&src.name),
                    src.compression,
                    whole,
                ));
            }
        }
    }
    for (stem, src) in by_stem
        .iter()
        .filter(|(s, _)| !paired.contains(s.as_slice()))
    {
        let why = format!(
            "no {}.pyc in {} for this source",
            String::from_utf8_lossy(stem),
            dir.display()
        );
        out.push(orphan(ctx, &sdir.join(&src.name), &src.meta, why));
    }
}

/// The sources of a sources directory by module name; anything else there
/// is reported. In a prefix tree (`counterpart`: the directory it mirrors)
/// a subdirectory mirroring a directory of the tree is its own pass's.
fn index_sources(
    ctx: &Context,
    sdir: &Path,
    listing: &[crate::tree::Entry],
    counterpart: Option<&Path>,
    out: &mut Vec<Finding>,
) -> BTreeMap<Vec<u8>, Src> {
    let mut by_stem: BTreeMap<Vec<u8>, Src> = BTreeMap::new();
    for e in listing {
        let p = sdir.join(&e.name);
        if let Some(dir) = counterpart.filter(|_| e.meta.kind == Kind::Dir) {
            let mirrors = dir.join(&e.name);
            if !ctx
                .inventory
                .get(&mirrors)
                .is_some_and(|m| m.kind == Kind::Dir)
            {
                let why = format!("no directory {} for these sources", mirrors.display());
                out.push(orphan(ctx, &p, &e.meta, why));
            }
            continue;
        }
        let parsed = source_name(e.name.as_bytes()).filter(|_| is_file(&e.meta));
        let Some((stem, compression)) = parsed else {
            let why = "not a source file (X.py, X.py.gz, X.py.xz, X.py.bz2)".to_string();
            out.push(orphan(ctx, &p, &e.meta, why));
            continue;
        };
        if let Some(first) = by_stem.get(stem) {
            let why = format!(
                "a second source of one module: {} is there too",
                first.name.to_string_lossy()
            );
            out.push(orphan(ctx, &p, &e.meta, why));
            continue;
        }
        let src = Src {
            name: e.name.clone(),
            compression,
            meta: e.meta,
        };
        by_stem.insert(stem.to_vec(), src);
    }
    by_stem
}

fn orphan(ctx: &Context, p: &Path, meta: &Meta, why: String) -> Finding {
    Finding::new(rules::MARKER_SOURCE_ORPHAN, p, why)
        .package(ctx.package_of(p))
        .file(meta, ctx.selinux(p))
}

fn source_missing(ctx: &Context, pyc: &Path, why: &str) -> Finding {
    let mut f = Finding::new(
        rules::MARKER_SOURCE_MISSING,
        pyc,
        format!("{}: {why}", rules::MARKER_SOURCE_MISSING.summary),
    )
    .package(ctx.package_of(pyc));
    if let Some(m) = ctx.inventory.get(pyc) {
        f = f.file(m, ctx.selinux(pyc));
    }
    f
}

/// The pyc's header against its source: size (timestamp pycs) or hash;
/// with `whole` (a prefix tree's source, its metadata), a plain source as
/// CPython would judge it beside the pyc: mtime and size, or hash.
fn compare(
    ctx: &Context,
    pyc: &Path,
    source: &Path,
    c: Compression,
    whole: Option<&Meta>,
) -> Option<Finding> {
    let make = |rule: &'static Rule, why: String| {
        Some(
            Finding::new(rule, source, why)
                .package(ctx.package_of(source))
                .extra("pyc", pyc.display().to_string()),
        )
    };
    let allowed = &ctx.policy.expect_for(pyc).compression;
    if !allowed.contains(&c) {
        let names: Vec<&str> = allowed.iter().map(|c| c.as_str()).collect();
        return make(
            rules::MARKER_SOURCE_INVALID,
            format!(
                "stored as {}; policy {} allows {}",
                c.as_str(),
                ctx.policy.name,
                names.join(", ")
            ),
        );
    }
    let header = read_header(ctx, pyc)?;
    let known = header.python.as_ref()?;
    let need_bytes = !matches!(known.kind, PycKind::Timestamp { .. });
    let content = match read_source(ctx, source, c, need_bytes) {
        Ok(s) => s,
        Err(SourceError::Bomb) => {
            return make(
                rules::MARKER_SOURCE_BOMB,
                format!("decompresses to more than {MAX_SOURCE} bytes; not checked further"),
            )
        }
        Err(SourceError::Bad(why)) => return make(rules::MARKER_SOURCE_INVALID, why),
    };
    if let Some(meta) = whole.filter(|_| c == Compression::None) {
        let stat = SourceStat {
            mtime_sec: meta.mtime,
            mtime_nsec: meta.mtime_nsec,
            size: content.size,
        };
        let bytes = Some(content.bytes.as_slice());
        let d = accept::decide(known, header.magic, stat, bytes, HashCheckMode::Always);
        if d.verdict == Verdict::Valid {
            return None;
        }
        let why = format!(
            "{}: {}, so CPython would not take this for its source",
            pyc.display(),
            d.reason
        );
        return make(rules::MARKER_SOURCE_MISMATCH, why);
    }
    let why = match known.kind {
        PycKind::Timestamp {
            source_size: Some(want),
            ..
        } if want != content.size as u32 => format!(
            "{} records a source of {want} bytes; this one is {} bytes",
            pyc.display(),
            content.size
        ),
        PycKind::CheckedHash { hash: want } | PycKind::UncheckedHash { hash: want } => {
            let got = hash::source_hash(header.magic, known.info.version, &content.bytes);
            if got == want {
                return None;
            }
            format!(
                "{} records source hash {}; this source hashes to {}",
                pyc.display(),
                hex(&want),
                hex(&got)
            )
        }
        _ => return None,
    };
    make(rules::MARKER_SOURCE_MISMATCH, why)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn read_header(ctx: &Context, pyc: &Path) -> Option<PycHeader> {
    let head = ctx.tree.head(pyc, PYC_HEADER_MAX).ok()?;
    PycHeader::parse(&head).ok()
}

/// A decompressed source: its size, and its bytes when asked for.
struct Content {
    size: u64,
    bytes: Vec<u8>,
}

enum SourceError {
    Bomb,
    Bad(String),
}

/// Decompresses a source through the tree, streamed and capped at
/// [`MAX_SOURCE`]; the bytes are kept only when `keep` (hash-based pycs).
fn read_source(
    ctx: &Context,
    path: &Path,
    c: Compression,
    keep: bool,
) -> Result<Content, SourceError> {
    let (raw, _) = ctx
        .tree
        .open(path)
        .map_err(|e| SourceError::Bad(e.to_string()))?;
    let reader: Box<dyn Read + '_> = match c {
        Compression::None => raw,
        Compression::Gz => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Compression::Xz => {
            // The dictionary size is the file's to say: capped, as any allocation.
            let stream = liblzma::stream::Stream::new_stream_decoder(
                crate::limits::MAX_DECODER_MEMORY,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|e| SourceError::Bad(format!("xz decoder: {e}")))?;
            Box::new(liblzma::read::XzDecoder::new_stream(raw, stream))
        }
        Compression::Bz2 => Box::new(bzip2::read::BzDecoder::new(raw)),
    };
    let mut capped = reader.take(MAX_SOURCE + 1);
    let bad = |e: std::io::Error| {
        SourceError::Bad(format!("cannot be decompressed ({}): {e}", c.as_str()))
    };
    let (size, bytes) = if keep {
        let mut bytes = Vec::new();
        capped.read_to_end(&mut bytes).map_err(bad)?;
        (bytes.len() as u64, bytes)
    } else {
        (
            std::io::copy(&mut capped, &mut std::io::sink()).map_err(bad)?,
            Vec::new(),
        )
    };
    if size > MAX_SOURCE {
        return Err(SourceError::Bomb);
    }
    Ok(Content { size, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names() {
        let n = |s: &str| {
            source_name(s.as_bytes()).map(|(st, c)| (String::from_utf8_lossy(st).into_owned(), c))
        };
        assert_eq!(n("os.py"), Some(("os".into(), Compression::None)));
        assert_eq!(n("os.py.gz"), Some(("os".into(), Compression::Gz)));
        assert_eq!(n("os.py.xz"), Some(("os".into(), Compression::Xz)));
        assert_eq!(n("os.py.bz2"), Some(("os".into(), Compression::Bz2)));
        assert_eq!(n(".py"), None);
        assert_eq!(n("os.pyc"), None);
        assert_eq!(n("os.py.zst"), None);
    }
}
