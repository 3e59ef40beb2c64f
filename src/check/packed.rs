//! PyOxidizer packed resources in a Python tree: modules that
//! `oxidized_importer` imports from one file the package database sees as
//! data.
//!
//! A packed resources file (`pyembed\x03`, [`crate::format::packed`]) holds
//! each module's source and its bytecode at optimisation levels 0, 1 and 2
//! as bare marshalled code objects: no pyc header, so nothing ties the code
//! to the source, and `oxidized_importer` runs the bytecode whenever there
//! is some. A file is taken for one by its magic; only regular files whose
//! name suggests it (no extension, or `.pyor`, `.bin`, `.dat`, `.packed`,
//! `.resources`; not distribution metadata) and that can hold the header
//! have their first 8 bytes read: 9 of this host's 4314 stdlib and
//! dist-packages files.
//!
//! Each embedded bytecode is judged as a zip member is
//! ([`super::zipped`]), at `FILE/module.name`: one that does not load as
//! code of the tree's Python is `corrupt-bytecode`, one without an embedded
//! source `sourceless-bytecode`, one beside its source
//! `packed-unchecked-bytecode` (info), or with `--deep` compared with the
//! compilation of that source by a trusted interpreter
//! (`diverging-bytecode`, `unverified-bytecode`). A file that does not parse
//! is `packed-malformed`. An unowned one is `unowned-module`, said by the
//! unowned check ([`is_packed_file`]). Modules the index names by relative
//! path (files beside it) are files of the tree, audited as such.
//!
//! A packed file given as a PATH or `--manifest` ([`Context::packed_files`])
//! is audited the same way wherever it lies (beside a PyOxidizer binary in
//! `/opt/app` or `/usr/bin`), whatever its name; outside the walked trees
//! this check says itself that nothing owns it.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::bytecode::root_interpreters;
use crate::audit::finding::BytecodeFacts;
use crate::audit::rules::{self, Rule};
use crate::audit::{Context, Finding, Sink};
use crate::bytecode::deep::{self, Interpreters};
use crate::bytecode::judge::{DeepInput, PycReport};
use crate::bytecode::magic::{release_magic, PyVersion};
use crate::bytecode::naming::tree_version;
use crate::bytecode::Verdict;
use crate::format::marshal;
use crate::format::packed::{self, Packed, Resource, HEADER_LEN};
use crate::limits::PACKED_MAX_FILE;
use crate::tree::{Kind, Meta, Tree};

/// Extensions a packed resources file is looked for under (PyOxidizer's
/// default name, `packed-resources`, has none).
const EXTENSIONS: [&str; 5] = ["pyor", "bin", "dat", "packed", "resources"];

/// Whether `path` has a name PyOxidizer gives packed resources files:
/// `packed-resources`, or an extension of `EXTENSIONS` (`.pyor`, `.packed`, ...).
pub fn has_packed_name(path: &Path) -> bool {
    path.file_name() == Some(OsStr::new("packed-resources")) || has_packed_extension(path)
}

fn has_packed_extension(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| EXTENSIONS.iter().any(|x| OsStr::new(x) == e))
}

/// Whether the name and size of a file make it worth reading its magic.
/// Distribution metadata (`*.dist-info/`, `*.egg-info/`, all-capitals
/// names such as `METADATA`, `RECORD`, `LICENSE`) has no extension either,
/// and is skipped.
pub fn is_candidate(path: &Path, meta: &Meta) -> bool {
    let name = path.file_name().map(OsStr::as_bytes).unwrap_or_default();
    let capitals = name
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"_-".contains(b));
    let metadata_dir = path.ancestors().skip(1).any(|a| {
        a.file_name().is_some_and(|d| {
            let d = d.as_bytes();
            d.ends_with(b".dist-info") || d.ends_with(b".egg-info")
        })
    });
    meta.kind == Kind::File
        && meta.size >= HEADER_LEN as u64
        && !capitals
        && !metadata_dir
        && (path.extension().is_none() || has_packed_extension(path))
}

/// Whether `path` is a packed resources file (a candidate with the magic).
pub fn is_packed_file(tree: &dyn Tree, path: &Path, meta: &Meta) -> bool {
    is_candidate(path, meta)
        && tree
            .head(path, packed::MAGIC.len())
            .is_ok_and(|h| packed::is_packed(&h))
}

/// Judges every packed resources file of the audited trees, and those
/// given.
pub fn check(ctx: &Context, sink: &Sink) {
    let mut files: Vec<(PathBuf, Meta)> = ctx
        .inventory
        .entries
        .par_iter()
        .filter(|(p, m)| is_packed_file(ctx.tree, p, m))
        .map(|(p, m)| (p.clone(), *m))
        .collect();
    let mut findings = given(ctx, sink, &mut files);
    let mut deep = Vec::new();
    for (path, meta) in &files {
        sink.counters.add_file();
        audit_file(ctx, sink, path, meta, &mut findings, &mut deep);
    }
    if !deep.is_empty() {
        findings.extend(deep_findings(ctx, sink, deep));
    }
    sink.extend(findings);
}

/// Adds the packed files given as PATHs or `--manifest` to `files`, and
/// says of each the walk did not see whether nothing owns it (the unowned
/// check covers the walked trees).
fn given(ctx: &Context, sink: &Sink, files: &mut Vec<(PathBuf, Meta)>) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &ctx.packed_files {
        if files.iter().any(|(f, _)| f == p) {
            continue;
        }
        let meta = match ctx.tree.lstat(p) {
            Ok(m) => m,
            Err(e) => {
                sink.error(e);
                continue;
            }
        };
        let walked = ctx.inventory.contains(p);
        if !walked && !ctx.manifest.packages.is_empty() && !ctx.owners.is_owned(p) {
            let f = Finding::new(
                rules::UNOWNED_MODULE,
                p,
                "a PyOxidizer packed resources file nothing owns: oxidized_importer imports its modules",
            );
            out.push(f.file(&meta, ctx.selinux(p)));
        }
        files.push((p.clone(), meta));
    }
    out
}

/// One embedded bytecode awaiting `--deep`: where it is reported, the
/// finding's package, and the report the deep check updates.
struct Pending {
    path: PathBuf,
    file: PathBuf,
    report: PycReport,
    level: u8,
}

fn audit_file(
    ctx: &Context,
    sink: &Sink,
    path: &Path,
    meta: &Meta,
    out: &mut Vec<Finding>,
    deep: &mut Vec<Pending>,
) {
    let bytes = match ctx.tree.read(path, PACKED_MAX_FILE) {
        Ok(b) => b,
        Err(e) => {
            out.push(with_file(
                ctx,
                Finding::new(rules::UNREADABLE, path, e.to_string()),
                path,
                Some(meta),
            ));
            return;
        }
    };
    sink.counters.add_bytes(bytes.len() as u64);
    let parsed = match Packed::parse(&bytes) {
        Ok(p) => p,
        Err(e) => {
            let f = Finding::new(
                rules::PACKED_MALFORMED,
                path,
                format!("packed resources: {e}"),
            );
            out.push(with_file(ctx, f, path, Some(meta)));
            return;
        }
    };
    let version = version_of(ctx, path);
    for r in &parsed.resources {
        for (level, code) in r.bytecode.iter().enumerate() {
            let Some(code) = code else { continue };
            sink.counters.add_pyc();
            let at = path.join(r.name);
            match judge(r, code, level as u8, version) {
                Judged::Finding(rule, why) => out.push(resource_finding(
                    ctx,
                    path,
                    &at,
                    rule,
                    why,
                    level as u8,
                    version,
                )),
                Judged::Unchecked(input) if ctx.options.deep => deep.push(Pending {
                    path: at,
                    file: path.to_path_buf(),
                    report: PycReport::embedded(path, unchecked_reason(), input),
                    level: level as u8,
                }),
                Judged::Unchecked(_) => out.push(resource_finding(
                    ctx,
                    path,
                    &at,
                    rules::PACKED_UNCHECKED_BYTECODE,
                    unchecked_reason(),
                    level as u8,
                    version,
                )),
            }
        }
    }
}

fn unchecked_reason() -> String {
    "oxidized_importer runs this embedded bytecode without comparing it with the embedded source (no pyc header)".into()
}

/// The Python whose bytecode the file holds: its tree's (`python3.11`), or
/// the root's only interpreter.
fn version_of(ctx: &Context, path: &Path) -> Option<PyVersion> {
    tree_version(path).or_else(|| match root_interpreters(ctx.tree).as_slice() {
        [one] => Some(*one),
        _ => None,
    })
}

/// What one embedded bytecode is.
enum Judged {
    Finding(&'static Rule, String),
    /// Loads, beside its source: what `--deep` compares.
    Unchecked(DeepInput),
}

fn judge(r: &Resource, code: &[u8], level: u8, version: Option<PyVersion>) -> Judged {
    let label = format!("embedded bytecode (opt-{level})");
    let facts = match version {
        Some(v) => match marshal::read_code_facts(code, (v.major, v.minor)) {
            Ok(f) => Some(f),
            Err(e) => {
                return Judged::Finding(
                    rules::CORRUPT_BYTECODE,
                    format!("{label} does not load as Python {v} code ({e}): import fails"),
                )
            }
        },
        None => None,
    };
    let Some(source) = r.source else {
        return Judged::Finding(
            rules::SOURCELESS_BYTECODE,
            format!("{label} without an embedded source: oxidized_importer imports it as is, without any check"),
        );
    };
    match (version, facts) {
        (Some(v), Some(f)) => Judged::Unchecked(DeepInput {
            version: v,
            magic: release_magic(v).unwrap_or_default(),
            optimize: level,
            filename: f.co_filename_raw,
            payload: code.to_vec(),
            source: source.to_vec(),
        }),
        _ => Judged::Finding(
            rules::PACKED_UNCHECKED_BYTECODE,
            format!("{label}: the tree names no Python version, so it was not unmarshalled; oxidized_importer runs it unchecked"),
        ),
    }
}

/// Runs `--deep` over the embedded bytecode beside a source.
fn deep_findings(ctx: &Context, sink: &Sink, mut pending: Vec<Pending>) -> Vec<Finding> {
    let interpreters = match &ctx.interpreters {
        Some(i) => i.clone(),
        None => match Interpreters::discover(&ctx.options.interpreters, None) {
            Ok(i) => i,
            Err(e) => {
                sink.error(e);
                return Vec::new();
            }
        },
    };
    let mut reports: Vec<PycReport> = pending
        .iter_mut()
        .map(|p| std::mem::replace(&mut p.report, placeholder()))
        .collect();
    deep::check_all(&mut reports, &interpreters);
    pending
        .iter()
        .zip(reports)
        .filter_map(|(p, r)| {
            let rule = match r.verdict {
                Verdict::Diverges => rules::DIVERGING_BYTECODE,
                Verdict::Unverified => rules::UNVERIFIED_BYTECODE,
                _ => return None,
            };
            let version = r.deep.as_ref().map(|d| d.version);
            Some(resource_finding(
                ctx, &p.file, &p.path, rule, r.reason, p.level, version,
            ))
        })
        .collect()
}

fn placeholder() -> PycReport {
    let input = DeepInput {
        version: PyVersion::new(3, 0),
        magic: [0; 4],
        optimize: 0,
        filename: Vec::new(),
        payload: Vec::new(),
        source: Vec::new(),
    };
    PycReport::embedded(Path::new(""), String::new(), input)
}

fn resource_finding(
    ctx: &Context,
    file: &Path,
    at: &Path,
    rule: &'static Rule,
    why: String,
    level: u8,
    version: Option<PyVersion>,
) -> Finding {
    let mut f = Finding::new(rule, at, format!("in a packed resources file: {why}"));
    f.evidence.bytecode = Some(Box::new(BytecodeFacts {
        verdict: rule.id,
        reason: why,
        python: version.map(|v| v.to_string()),
        kind: None,
        opt_level: (level > 0).then(|| level.to_string()),
        source: None,
        source_package: ctx.package_of(file).map(|p| p.name.clone()),
        co_filename: None,
        after_install_secs: None,
    }));
    with_file(ctx, f, file, None).extra("module", module_name(at))
}

fn module_name(at: &Path) -> String {
    at.file_name()
        .map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// The package and the packed file's facts.
fn with_file(ctx: &Context, f: Finding, file: &Path, meta: Option<&Meta>) -> Finding {
    let f = f
        .package(ctx.package_of(file))
        .extra("packed-resources", file.display().to_string());
    match meta {
        Some(m) => f.file(m, ctx.selinux(file)),
        None => f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_by_name_and_size() {
        let meta = |size| Meta {
            kind: Kind::File,
            mode: 0o100644,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
            mtime_nsec: 0,
            ctime: 0,
            rdev: 0,
            nlink: 1,
        };
        let c = |p: &str, size| is_candidate(Path::new(p), &meta(size));
        assert!(c("/usr/lib/python3.11/site-packages/packed-resources", 100));
        assert!(c("/usr/lib/python3.11/site-packages/app.pyor", 100));
        assert!(!c("/usr/lib/python3.11/site-packages/app.pyor", 10));
        assert!(!c("/usr/lib/python3.11/os.py", 100));
        assert!(!c("/usr/lib/python3.11/json/README.txt", 100));
        assert!(!c(
            "/usr/lib/python3.11/site-packages/six-1.16.0.dist-info/top_level",
            100
        ));
        assert!(!c("/usr/lib/python3.11/site-packages/LICENSE", 100));
    }
}
