//! Zips on the import path: code that runs from inside an archive, where
//! the package database sees one file and the interpreter sees modules.
//!
//! Two kinds of zip are on `sys.path` without anyone asking:
//! - `PREFIX/LIB/python3XY.zip` (`python3XYt.zip` for a free-threaded
//!   build): CPython's `getpath` puts it first on the default path of the
//!   interpreter at `PREFIX` whether or not it exists (embedded builds ship
//!   their stdlib this way). Every such file under `/usr` and `/usr/local`
//!   (`lib`, `lib64`) is read;
//! - a file a `.pth` of a site directory names (`site.addpackage` appends
//!   every line that is not a comment, blank, or `import` statement, joined
//!   to the site directory, when the path exists): a zip there is imported
//!   from by `zipimport`.
//!
//! Each is read through the tree, whole and capped, with the bounded reader
//! of [`crate::format::zip`]; its pycs are judged as `zipimport` would
//! ([`crate::bytecode::zipimport`]). An owned zip is verified as a file by
//! the owned check; here its members are: a pyc that would be imported
//! without a check (sourceless, unchecked hash), or that is stale,
//! mismatched, foreign or corrupt, is a finding at `ZIP/MEMBER`
//! (`/usr/lib/python312.zip/json/decoder.pyc`). An unowned zip on the path
//! is `unowned-module`, like an unowned `.pth`. Zip bombs and broken zips
//! are findings naming the zip and member, never a crash.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::bytecode::root_interpreters;
use crate::audit::finding::BytecodeFacts;
use crate::audit::rules::{self, Rule};
use crate::audit::walk::python_tree_of;
use crate::audit::{Context, Finding, Sink};
use crate::bytecode::magic::PyVersion;
use crate::bytecode::zipimport::{judge_archive, MemberReport};
use crate::bytecode::Verdict;
use crate::format::zip::{Archive, Budget, ZipError};
use crate::fsutil::lexical;
use crate::limits::ZIP_MAX_FILE;
use crate::tree::{Kind, Meta};

/// Prefixes whose `lib*/python3XY.zip` are on an interpreter's default path.
const PREFIXES: [&str; 2] = ["/usr", "/usr/local"];
/// Library directories (`sys.platlibdir`) under them.
const LIB_DIRS: [&str; 2] = ["lib", "lib64"];
/// Directories site.py processes `.pth` files in.
const SITE_DIRS: [&str; 2] = ["site-packages", "dist-packages"];
/// Largest `.pth` read for the paths it names.
const MAX_PTH: u64 = 1 << 20;

/// One zip on the import path.
#[derive(Debug, Clone)]
struct OnPath {
    /// As the path names it (for findings and ownership).
    path: PathBuf,
    /// With every symlink resolved inside the root (what is read).
    real: PathBuf,
    /// Why it is on `sys.path`.
    why: String,
    /// The interpreters that import from it.
    versions: Vec<PyVersion>,
}

/// Reads every zip on the import path and reports what it finds.
pub fn check(ctx: &Context, sink: &Sink) {
    let zips = on_path(ctx);
    let findings: Vec<Finding> = zips
        .par_iter()
        .flat_map_iter(|z| audit_zip(ctx, sink, z))
        .collect();
    sink.extend(findings);
}

/// The version a default-path zip name stands for: `python311.zip` is
/// 3.11, `python313t.zip` 3.13 (free-threaded).
pub fn default_zip_version(name: &OsStr) -> Option<PyVersion> {
    let rest = name.as_bytes().strip_prefix(b"python3")?;
    let digits = rest.strip_suffix(b".zip")?;
    let digits = digits.strip_suffix(b"t").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 2 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let minor = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(PyVersion::new(3, minor))
}

/// Whether `path` is where an interpreter under `/usr` or `/usr/local`
/// looks for its default zip.
pub fn is_default_zip(path: &Path) -> bool {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return false;
    };
    default_zip_version(name).is_some()
        && PREFIXES
            .iter()
            .any(|p| LIB_DIRS.iter().any(|l| dir == Path::new(p).join(l)))
}

/// Every zip on the path: the default ones, then those `.pth` files name;
/// one zip reached twice (a link, two `.pth`) is read once.
fn on_path(ctx: &Context) -> Vec<OnPath> {
    let mut by_real: BTreeMap<PathBuf, OnPath> = BTreeMap::new();
    // The default zips sit beside the discovered trees: audited with them.
    let defaults = if ctx.discovery {
        default_zips(ctx)
    } else {
        Vec::new()
    };
    for z in defaults.into_iter().chain(pth_zips(ctx)) {
        match by_real.get_mut(&z.real) {
            Some(seen) => {
                seen.why = format!("{}; {}", seen.why, z.why);
                seen.versions.extend(z.versions);
                seen.versions.sort();
                seen.versions.dedup();
            }
            None => {
                by_real.insert(z.real.clone(), z);
            }
        }
    }
    by_real.into_values().collect()
}

/// Whether a default-path zip exists (and is audited): something to audit
/// even in a root without a Python tree.
pub fn has_default_zip(ctx: &Context) -> bool {
    ctx.discovery && !default_zips(ctx).is_empty()
}

/// `PREFIX/LIB/python3XY.zip` files that exist (a link is followed inside
/// the root).
fn default_zips(ctx: &Context) -> Vec<OnPath> {
    let mut out = Vec::new();
    for prefix in PREFIXES {
        for lib in LIB_DIRS {
            let dir = Path::new(prefix).join(lib);
            let Ok(entries) = ctx.tree.read_dir(&dir) else {
                continue;
            };
            for e in entries {
                let Some(v) = default_zip_version(&e.name) else {
                    continue;
                };
                let path = dir.join(&e.name);
                if let Some(real) = regular_file(ctx, &path) {
                    out.push(OnPath {
                        why: format!("on Python {v}'s default sys.path (getpath's zip landmark)"),
                        path,
                        real,
                        versions: vec![v],
                    });
                }
            }
        }
    }
    out
}

/// The path with links resolved inside the root, when it is a regular file.
fn regular_file(ctx: &Context, path: &Path) -> Option<PathBuf> {
    let real = ctx.tree.resolve(path).ok()?;
    ctx.tree
        .lstat(&real)
        .is_ok_and(|m| m.kind == Kind::File)
        .then_some(real)
}

/// Regular files named by the `.pth` files of the audited site directories.
fn pth_zips(ctx: &Context) -> Vec<OnPath> {
    ctx.inventory
        .entries
        .iter()
        .filter(|(p, m)| is_site_pth(p) && matches!(m.kind, Kind::File | Kind::Symlink))
        .flat_map(|(pth, _)| {
            let versions = versions_for(ctx, pth);
            pth_paths(ctx, pth)
                .into_iter()
                .filter_map(move |named| {
                    let real = regular_file(ctx, &named)?;
                    Some(OnPath {
                        why: format!("named by {}", pth.display()),
                        path: named,
                        real,
                        versions: versions.clone(),
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn is_site_pth(p: &Path) -> bool {
    p.extension() == Some(OsStr::new("pth"))
        && p.parent()
            .and_then(Path::file_name)
            .is_some_and(|d| SITE_DIRS.iter().any(|s| OsStr::new(s) == d))
}

/// The interpreters that process a site directory: its `python3.X`, or
/// every interpreter of the root for `python3/dist-packages`.
fn versions_for(ctx: &Context, pth: &Path) -> Vec<PyVersion> {
    let own = python_tree_of(pth)
        .and_then(|t| t.file_name().and_then(OsStr::to_str).map(str::to_string))
        .and_then(|n| PyVersion::parse(n.strip_prefix("python")?));
    match own {
        Some(v) => vec![v],
        None => root_interpreters(ctx.tree),
    }
}

/// The paths `site.addpackage` would append for this `.pth` (those that
/// exist are kept by the caller), normalised as `os.path.abspath` does.
fn pth_paths(ctx: &Context, pth: &Path) -> Vec<PathBuf> {
    let Some(site) = pth.parent() else {
        return Vec::new();
    };
    let Some(bytes) = ctx
        .tree
        .resolve(pth)
        .ok()
        .and_then(|real| ctx.tree.read(&real, MAX_PTH).ok())
    else {
        return Vec::new();
    };
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.starts_with(b"#") && !l.trim_ascii().is_empty())
        .filter(|l| !l.starts_with(b"import ") && !l.starts_with(b"import\t"))
        .map(|l| lexical(&site.join(OsStr::from_bytes(l.trim_ascii_end()))))
        .collect()
}

/// Whether the unowned check already reports this path as an unowned
/// module (a `.zip` or `.egg` directly in a site directory of a tree).
fn unowned_check_reports(ctx: &Context, path: &Path) -> bool {
    let name = path.file_name().map(OsStr::as_bytes).unwrap_or_default();
    ctx.inventory.contains(path)
        && is_site_entry(path)
        && (name.ends_with(b".zip") || name.ends_with(b".egg"))
}

fn is_site_entry(p: &Path) -> bool {
    p.parent()
        .and_then(Path::file_name)
        .is_some_and(|d| SITE_DIRS.iter().any(|s| OsStr::new(s) == d))
}

/// Everything found about one zip.
fn audit_zip(ctx: &Context, sink: &Sink, z: &OnPath) -> Vec<Finding> {
    sink.counters.add_file();
    let meta = ctx.tree.lstat(&z.real).ok();
    let mut out = Vec::new();
    let owned = ctx.owners.is_owned(&z.path) || ctx.owners.is_owned(&z.real);
    // Without a package database, or in a bare build tree, nothing is
    // owned, and nothing is said to be.
    if !ctx.is_bare(&z.path) && !owned && !unowned_check_reports(ctx, &z.path) {
        let f = Finding::new(
            rules::UNOWNED_MODULE,
            &z.path,
            "a zip nothing owns on the import path: zipimport imports from it",
        );
        out.push(with_zip(ctx, f, z, meta.as_ref()));
    }
    let bytes = match ctx.tree.read(&z.real, ZIP_MAX_FILE) {
        Ok(b) => b,
        Err(e) => {
            let f = Finding::new(rules::UNREADABLE, &z.path, e.to_string());
            out.push(with_zip(ctx, f, z, meta.as_ref()));
            return out;
        }
    };
    sink.counters.add_bytes(bytes.len() as u64);
    let archive = match Archive::parse(&bytes) {
        Ok(a) => a,
        Err(e) => {
            out.push(zip_error(ctx, z, &e));
            return out;
        }
    };
    out.extend(archive.members.iter().filter(|m| m.escapes()).map(|m| {
        let f = Finding::new(
            rules::ZIP_MALFORMED,
            &z.path,
            format!(
                "member name {:?} escapes the archive (absolute, `..`, `\\` or NUL)",
                m.display_name()
            ),
        );
        with_zip(ctx, f, z, None).extra("member", m.display_name())
    }));
    let mut budget = Budget::default();
    for outcome in judge_archive(&archive, &z.versions, ctx.options.hash_mode, &mut budget) {
        match outcome {
            Ok(r) => {
                sink.counters.add_pyc();
                out.extend(member_finding(ctx, z, &r));
            }
            Err(e) => out.push(zip_error(ctx, z, &e)),
        }
    }
    out
}

/// The finding for a zip error: at the member it names, when it does.
fn zip_error(ctx: &Context, z: &OnPath, e: &ZipError) -> Finding {
    let rule = if e.is_bomb() {
        rules::ZIP_BOMB
    } else {
        rules::ZIP_MALFORMED
    };
    let path = e
        .member()
        .map_or(z.path.clone(), |m| member_path(&z.path, m.as_bytes()));
    let f = Finding::new(rule, path, e.to_string());
    let f = with_zip(ctx, f, z, None);
    match e.member() {
        Some(m) => f.extra("member", m),
        None => f,
    }
}

/// `ZIP/NAME` for a name that stays inside the archive; the zip itself
/// for one that does not.
fn member_path(zip: &Path, name: &[u8]) -> PathBuf {
    let safe = !name.is_empty()
        && name[0] != b'/'
        && !name.contains(&0)
        && name.split(|&b| b == b'/').all(|c| c != b".." && c != b".");
    match safe {
        true => zip.join(OsStr::from_bytes(name)),
        false => zip.to_path_buf(),
    }
}

/// The package, the zip's file facts and why it is on the path.
fn with_zip(ctx: &Context, f: Finding, z: &OnPath, meta: Option<&Meta>) -> Finding {
    let f = f
        .package(ctx.package_of(&z.path))
        .extra("zip", z.path.display().to_string())
        .extra("on-path", z.why.clone());
    match meta {
        Some(m) => f.file(m, ctx.selinux(&z.real)),
        None => f,
    }
}

/// The rule for a judged pyc member (`None`: the import is sound).
fn member_rule(v: Verdict) -> Option<&'static Rule> {
    Some(match v {
        Verdict::Sourceless => rules::SOURCELESS_BYTECODE,
        Verdict::Stale => rules::STALE_BYTECODE,
        Verdict::HashMismatch => rules::HASH_MISMATCH_BYTECODE,
        Verdict::UncheckedHash => rules::UNCHECKED_HASH_BYTECODE,
        Verdict::Foreign => rules::FOREIGN_BYTECODE,
        Verdict::Corrupt | Verdict::UnknownMagic => rules::CORRUPT_BYTECODE,
        Verdict::Valid | Verdict::Orphan | Verdict::Diverges | Verdict::Unverified => return None,
    })
}

fn member_finding(ctx: &Context, z: &OnPath, r: &MemberReport) -> Option<Finding> {
    let rule = member_rule(r.verdict)?;
    let path = member_path(&z.path, &r.name);
    let name = String::from_utf8_lossy(&r.name).into_owned();
    let mut f = Finding::new(
        rule,
        path,
        format!("in a zip on the import path: {}", r.reason),
    );
    f.evidence.bytecode = Some(Box::new(BytecodeFacts {
        verdict: r.verdict.as_str(),
        reason: r.reason.clone(),
        python: r.python.map(|v| v.to_string()),
        kind: r.kind,
        opt_level: None,
        source: r.source.as_ref().map(|s| member_path(&z.path, s)),
        // The source member is in the same zip, so of the same package.
        source_package: ctx.package_of(&z.path).map(|p| p.name.clone()),
        co_filename: r.co_filename.clone(),
        after_install_secs: None,
    }));
    Some(with_zip(ctx, f, z, None).extra("member", name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_zip_names() {
        let v = |n: &str| default_zip_version(OsStr::new(n));
        assert_eq!(v("python311.zip"), Some(PyVersion::new(3, 11)));
        assert_eq!(v("python39.zip"), Some(PyVersion::new(3, 9)));
        assert_eq!(v("python313t.zip"), Some(PyVersion::new(3, 13)));
        assert_eq!(v("python3.zip"), None);
        assert_eq!(v("python3111.zip"), None);
        assert_eq!(v("python27.zip"), None);
        assert_eq!(v("python311.egg"), None);
        assert!(is_default_zip(Path::new("/usr/lib/python312.zip")));
        assert!(is_default_zip(Path::new("/usr/local/lib64/python312.zip")));
        assert!(!is_default_zip(Path::new("/opt/lib/python312.zip")));
    }

    #[test]
    fn member_paths_stay_inside() {
        let z = Path::new("/usr/lib/python312.zip");
        assert_eq!(
            member_path(z, b"json/decoder.pyc"),
            Path::new("/usr/lib/python312.zip/json/decoder.pyc")
        );
        assert_eq!(member_path(z, b"../../etc/x.pyc"), z);
        assert_eq!(member_path(z, b"/etc/x.pyc"), z);
        assert_eq!(member_path(z, b""), z);
    }

    #[test]
    fn pth_lines_normalise() {
        assert_eq!(
            lexical(Path::new(
                "/usr/lib/python3.11/site-packages/../../../../opt/x.zip"
            )),
            Path::new("/opt/x.zip")
        );
        assert_eq!(
            lexical(Path::new("/usr/lib/python3.11/site-packages/./a/../b.zip")),
            Path::new("/usr/lib/python3.11/site-packages/b.zip")
        );
        assert_eq!(lexical(Path::new("/../../x")), Path::new("/x"));
    }
}
