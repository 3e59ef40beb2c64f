//! `pyvet size`: what each layout of a status-quo tree would cost.

use std::path::Path;

use crate::cli::{SizeArgs, SizeFormat};
use crate::cmd::ExitCode;
use crate::render;
use crate::size::{self, LayoutSize};
use crate::tree::FsTree;

pub fn run(args: &SizeArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    let mut total: Vec<LayoutSize> = Vec::new();
    for dir in &args.trees {
        if !dir.is_dir() {
            return Err(crate::Error::Usage(format!(
                "{}: not a directory (pyvet size reads a status-quo tree)",
                dir.display()
            )));
        }
        let tree = FsTree::new(dir);
        let sizes = size::of_tree(&tree, Path::new("/"))?;
        add(&mut total, sizes);
    }
    let text = match args.format {
        SizeFormat::Text => render::size::text(&total),
        SizeFormat::Json => render::size::json(&total),
        SizeFormat::Svg => render::size::svg(&total).map_err(crate::Error::Usage)?,
    };
    render::write_out(out, &text)?;
    Ok(ExitCode::Clean)
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
