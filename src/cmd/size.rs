//! `pyvet size`: what each layout of a status-quo tree or package would cost.
//!
//! A directory is read as it is; a `.rpm` or `.deb` (recognised by its
//! magic, whatever its name) is read as the tree it would install, through
//! a [`PackageTree`] that keeps only the sources' content (option 2
//! compresses them). A PyOxidizer packed resources file (by its magic) is
//! priced as the one file it is, with what it holds broken down.

use std::path::Path;

use crate::cli::{SizeArgs, SizeFormat};
use crate::cmd::ExitCode;
use crate::format::packed::is_packed;
use crate::render;
use crate::size::{self, LayoutSize, PackedSize};
use crate::tree::package::{PackageFormat, PayloadLimits};
use crate::tree::{FsTree, PackageTree, Tree};

pub fn run(args: &SizeArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    let mut total: Vec<LayoutSize> = Vec::new();
    let mut packed: Vec<PackedSize> = Vec::new();
    for input in &args.trees {
        let priced = sizes_of(input)?;
        // Sizing nothing is no answer: an empty directory is a mistyped or
        // wrong tree (a package without files is what it is).
        if input.is_dir() && priced.layouts.iter().all(|s| s.files == 0) {
            return Err(crate::Error::Usage(format!(
                "{}: no file to size (pyvet size reads a status-quo tree)",
                input.display()
            )));
        }
        if priced.python2 {
            eprintln!(
                "pyvet: warning: {}: {}",
                input.display(),
                size::PYTHON2_NOTE
            );
        }
        for u in &priced.unpriced {
            eprintln!(
                "pyvet: warning: {}: packed resources that do not parse ({}): priced as the file it is",
                u.path.display(),
                u.why
            );
        }
        add(&mut total, priced.layouts);
        packed.extend(priced.packed);
    }
    let text = match args.format {
        SizeFormat::Text => render::size::text(&total, &packed),
        SizeFormat::Json => render::size::json(&total, &packed),
        SizeFormat::Svg => render::size::svg(&total, &packed).map_err(crate::Error::Usage)?,
    };
    render::write_out(out, &text)?;
    Ok(ExitCode::Clean)
}

/// The layout sizes of one directory or package.
fn sizes_of(input: &Path) -> crate::Result<size::Priced> {
    if input.is_dir() {
        // Walked as a directory of the host's tree, so that an error names
        // the file as the user knows it. Nothing is followed either way:
        // the walk enters no symlink and opens only regular files.
        let dir = std::path::absolute(input).map_err(|e| crate::Error::io(input, e))?;
        let tree = FsTree::new("/");
        return Ok(size::of_tree(&tree, &dir)?);
    }
    let Some(format) = PackageFormat::sniff(input)? else {
        return packed_file(input);
    };
    let limits = PayloadLimits::default();
    let tree = PackageTree::open(input, format, &size::wants_content, &limits)?;
    size::of_tree(&tree, Path::new("/")).map_err(|e| package_error(input, e))
}

/// A PyOxidizer packed resources file, read as a file of the host's tree
/// (a FIFO is never opened, a symlink never followed).
fn packed_file(input: &Path) -> crate::Result<size::Priced> {
    let file = std::path::absolute(input).map_err(|e| crate::Error::io(input, e))?;
    let tree = FsTree::new("/");
    if !tree
        .head(&file, crate::format::packed::MAGIC.len())
        .is_ok_and(|h| is_packed(&h))
    {
        return Err(crate::Error::Usage(format!(
            "{}: neither a directory, a .rpm or .deb package, nor a PyOxidizer packed \
             resources file (pyvet size reads a status-quo tree, package or packed file)",
            input.display()
        )));
    }
    size::of_packed_file(&tree, &file)
}

/// A tree error inside a package names the package too.
fn package_error(pkg: &Path, e: size::SizeError) -> crate::Error {
    crate::Error::Usage(format!("{}: {e}", pkg.display()))
}

fn add(total: &mut Vec<LayoutSize>, sizes: Vec<LayoutSize>) {
    if total.is_empty() {
        *total = sizes;
        return;
    }
    for (t, s) in total.iter_mut().zip(sizes) {
        t.bytes += s.bytes;
        t.blocks += s.blocks;
        t.files += s.files;
    }
}
