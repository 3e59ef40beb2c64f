//! `pyvet size`: what each layout of a status-quo tree or package would cost.
//!
//! A directory is read as it is; a `.rpm` or `.deb` (recognised by its
//! magic, whatever its name) is read as the tree it would install, through
//! a [`PackageTree`] that keeps only the sources' content (option 2
//! compresses them).

use std::path::Path;

use crate::cli::{SizeArgs, SizeFormat};
use crate::cmd::ExitCode;
use crate::render;
use crate::size::{self, LayoutSize};
use crate::tree::package::{PackageFormat, PayloadLimits};
use crate::tree::{FsTree, PackageTree};

pub fn run(args: &SizeArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    let mut total: Vec<LayoutSize> = Vec::new();
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
        add(&mut total, priced.layouts);
    }
    let text = match args.format {
        SizeFormat::Text => render::size::text(&total),
        SizeFormat::Json => render::size::json(&total),
        SizeFormat::Svg => render::size::svg(&total).map_err(crate::Error::Usage)?,
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
        return Err(crate::Error::Usage(format!(
            "{}: neither a directory nor a .rpm or .deb package \
             (pyvet size reads a status-quo tree or package)",
            input.display()
        )));
    };
    let limits = PayloadLimits::default();
    let tree = PackageTree::open(input, format, &size::wants_content, &limits)?;
    size::of_tree(&tree, Path::new("/")).map_err(|e| package_error(input, e))
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
