//! Unowned entries: what is inside a Python tree that no manifest lists.
//!
//! Nothing verifies such a file, so what matters is what Python does with
//! it. A `.pth` in a site directory is executed at every interpreter start
//! (site.py runs each line starting with `import`); a `.py`, an extension
//! module or a zip where imports look can shadow or extend what packages
//! installed; anything else is clutter or a stash. FIFOs, sockets and
//! devices are reported and never opened. A `.pth` is read (capped) to
//! quote the lines it runs; one that cannot be read is also `unreadable`.
//! Pycs are the bytecode check's ([`super::bytecode`]); unowned
//! directories are not findings themselves (a `__pycache__` Python made, a
//! package directory): their contents are.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use rayon::prelude::*;

use super::bytecode::is_judged;
use crate::audit::rules::{self, Rule};
use crate::audit::walk::python_tree_of;
use crate::audit::{Context, Finding, Severity, Sink};
use crate::tree::{Kind, Meta};

/// Directories site.py processes `.pth` files in.
const SITE_DIRS: [&str; 2] = ["site-packages", "dist-packages"];
/// The local prefix: an unowned module there is a warning (pip installs
/// there); anywhere else (the stdlib, `lib-dynload`, the distribution's
/// `site-packages` and `dist-packages`) it is an error.
const LOCAL_PREFIX: &str = "/usr/local";
/// Largest `.pth` read to quote its executable lines.
const MAX_PTH: u64 = 1 << 20;
/// How many executable `.pth` lines the evidence quotes.
const PTH_QUOTE_LINES: usize = 5;

/// Reports every unowned entry of the audited trees that no other check owns.
/// Each thread's findings go to the sink as they are: collected into one
/// vector, a directory of 200,000 strays would be held twice over.
pub fn check(ctx: &Context, sink: &Sink) {
    let pieces: Vec<Vec<Finding>> = ctx
        .inventory
        .entries
        .par_iter()
        .filter(|(p, m)| {
            !ctx.owners.is_owned(p) && !is_judged(ctx.tree, p, m) && m.kind != Kind::Dir
        })
        .fold(Vec::new, |mut piece, (p, m)| {
            piece.extend(findings_for(ctx, p, m));
            piece
        })
        .collect();
    for piece in pieces {
        sink.extend(piece);
    }
}

/// What an unowned entry is to Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// FIFO, socket, device.
    Special,
    /// A `.pth` in a site directory.
    Pth,
    /// Something imports can find.
    Module,
    /// A PyOxidizer packed resources file (by its magic).
    Packed,
    /// Anything else.
    Other,
}

/// Classifies `path` (relative to its Python tree: `rel`); `target` is
/// what a symlink resolves to inside the root.
fn classify(rel: &Path, kind: Kind, target: Option<Kind>) -> Class {
    if kind.is_special() {
        return Class::Special;
    }
    let name = rel.file_name().map(OsStr::as_bytes).unwrap_or_default();
    let in_site_dir = rel
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| SITE_DIRS.iter().any(|s| OsStr::new(s) == d));
    if name.ends_with(b".pth") && in_site_dir {
        return Class::Pth;
    }
    let dirs_importable = rel
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .all(|c| matches!(c, Component::Normal(n) if !n.as_bytes().contains(&b'.')));
    let module = match name.iter().position(|&b| b == b'.') {
        // A link to a directory is a package whose files the walk never
        // lists (links are not descended).
        None => !name.is_empty() && target == Some(Kind::Dir),
        Some(0) => false,
        Some(dot) => {
            let suffix = &name[dot..];
            suffix == b".py"
                || suffix.ends_with(b".so")
                || (in_site_dir && (suffix == b".zip" || suffix == b".egg"))
        }
    };
    if module && dirs_importable {
        Class::Module
    } else {
        Class::Other
    }
}

fn findings_for(ctx: &Context, path: &Path, meta: &Meta) -> Vec<Finding> {
    // Classified from its python3.X directory, also when the audited tree is
    // a PATH inside one (`.../python3.11/site-packages`) or around one.
    let Some(rel) = python_tree_of(path)
        .and_then(|t| path.strip_prefix(t).ok().map(Path::to_path_buf))
        .or_else(|| {
            ctx.python_trees
                .iter()
                .find_map(|t| path.strip_prefix(t).ok().map(Path::to_path_buf))
        })
        .filter(|r| !r.as_os_str().is_empty())
    else {
        return Vec::new();
    };
    let target = (meta.kind == Kind::Symlink)
        .then(|| ctx.tree.stat(path).ok().map(|m| m.kind))
        .flatten();
    let class = match classify(&rel, meta.kind, target) {
        Class::Other if super::packed::is_packed_file(ctx.tree, path, meta) => Class::Packed,
        c => c,
    };
    // Without a package database, or in a bare build tree, nothing is
    // owned, so "unowned" says nothing: `no-manifest` says so once instead.
    // A FIFO or device is wrong in any Python tree.
    if ctx.is_bare(path) && class != Class::Special {
        return Vec::new();
    }
    let (rule, message): (&'static Rule, Cow<'static, str>) = match class {
        Class::Special => (
            rules::SPECIAL_FILE,
            format!("a {} nothing owns (not opened)", meta.kind.as_str()).into(),
        ),
        Class::Pth => (
            rules::UNOWNED_PTH,
            "site.py executes this .pth's import lines at every interpreter start".into(),
        ),
        Class::Module => (
            rules::UNOWNED_MODULE,
            "a module nothing owns where imports find it".into(),
        ),
        Class::Packed => (
            rules::UNOWNED_MODULE,
            "a PyOxidizer packed resources file nothing owns: oxidized_importer imports its modules".into(),
        ),
        Class::Other => (rules::UNOWNED_FILE, "nothing owns this file".into()),
    };
    let selinux = ctx.selinux(path);
    let mut f = Finding::new(rule, path, message).file(meta, selinux.clone());
    if class == Class::Module && path.starts_with(LOCAL_PREFIX) {
        f.severity = Severity::Warning;
    }
    if class != Class::Pth {
        return vec![f];
    }
    match pth_imports(ctx, path, meta) {
        Ok(lines) if lines.is_empty() => vec![f.extra("imports", "none")],
        Ok(lines) => vec![f.extra("imports", lines.join("\n"))],
        // It runs all the same; what it runs was not seen.
        Err(why) => vec![
            f,
            Finding::new(rules::UNREADABLE, path, why).file(meta, selinux),
        ],
    }
}

/// The lines site.py would execute (`import ...` / `import\t...`), the
/// first few, read through the tree (capped; never a FIFO; a link is
/// followed inside the root, as site.py opens it).
fn pth_imports(ctx: &Context, path: &Path, meta: &Meta) -> Result<Vec<String>, String> {
    let real = match meta.kind {
        Kind::Symlink => ctx.tree.resolve(path).map_err(|e| e.to_string())?,
        _ => path.to_path_buf(),
    };
    let bytes = ctx.tree.read(&real, MAX_PTH).map_err(|e| e.to_string())?;
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"import ") || l.starts_with(b"import\t"))
        .take(PTH_QUOTE_LINES)
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let c = |p: &str| classify(Path::new(p), Kind::File, None);
        assert_eq!(c("site-packages/evil.pth"), Class::Pth);
        assert_eq!(c("dist-packages/.hidden.pth"), Class::Pth);
        assert_eq!(c("json/evil.pth"), Class::Other, "not a site directory");
        assert_eq!(c("os2.py"), Class::Module);
        assert_eq!(c("json/extra.py"), Class::Module);
        assert_eq!(
            c("lib-dynload/_evil.cpython-311-x86_64-linux-gnu.so"),
            Class::Module
        );
        assert_eq!(c("site-packages/x.abi3.so"), Class::Module);
        assert_eq!(c("site-packages/bundle.egg"), Class::Module);
        assert_eq!(c("json/bundle.zip"), Class::Other);
        assert_eq!(
            c("site-packages/six-1.16.0.dist-info/x.py"),
            Class::Other,
            "a dotted directory is no package"
        );
        assert_eq!(
            c("config-3.11-x86_64-linux-gnu/libpython3.11.so"),
            Class::Other
        );
        assert_eq!(c("json/README.txt"), Class::Other);
        assert_eq!(c("json/.py"), Class::Other);
        let link = |p: &str, to| classify(Path::new(p), Kind::Symlink, to);
        assert_eq!(
            link("site-packages/evilpkg", Some(Kind::Dir)),
            Class::Module,
            "a package behind a link"
        );
        assert_eq!(
            link("site-packages/evilpkg", Some(Kind::File)),
            Class::Other
        );
        assert_eq!(link("site-packages/evilpkg", None), Class::Other);
        assert_eq!(link("site-packages/x.py", None), Class::Module);
        assert_eq!(
            classify(Path::new("json/x.py"), Kind::Fifo, None),
            Class::Special
        );
    }
}
