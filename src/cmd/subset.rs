//! `pyvet subset`: read both sides' manifests and prove the subset rule.

use std::path::Path;

use crate::cli::{CompareLevel, SubsetArgs, SubsetFormat};
use crate::cmd::ExitCode;
use crate::db::{self, DbSelect, LoadOptions};
use crate::error::Error;
use crate::manifest::Manifest;
use crate::render;
use crate::subset::{self, Compare};

/// The prefix naming an installed package as an input.
const PKG_PREFIX: &str = "pkg:";

pub fn run(args: &SubsetArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    let mut installed = None;
    let minimal = load_side(&args.minimal, &args.root, &mut installed)?;
    let full = load_side(&args.full, &args.root, &mut installed)?;
    let outcome = subset::check(&minimal, &full, compare(args.compare));
    let text = match args.format {
        SubsetFormat::Text => render::subset::text(&outcome),
        SubsetFormat::Json => render::subset::json(&outcome),
        SubsetFormat::Junit => render::subset::junit(&outcome),
        SubsetFormat::Sarif => render::subset::sarif(&outcome),
    };
    render::write_out(out, &text)?;
    Ok(if outcome.passed() {
        ExitCode::Clean
    } else {
        ExitCode::Findings
    })
}

fn compare(c: CompareLevel) -> Compare {
    match c {
        CompareLevel::Path => Compare::Path,
        CompareLevel::Type => Compare::Type,
        CompareLevel::Digest => Compare::Digest,
        CompareLevel::Metadata => Compare::Metadata,
    }
}

/// Reads every input of one side; any input that cannot be read fully is
/// an error (a partial side would prove nothing).
fn load_side(
    inputs: &[String],
    root: &Path,
    installed: &mut Option<Manifest>,
) -> crate::Result<Manifest> {
    let mut side = Manifest::default();
    for input in inputs {
        if let Some(name) = input.strip_prefix(PKG_PREFIX) {
            side.extend(installed_package(name, root, installed)?);
            continue;
        }
        let (m, errors) = db::load_input(Path::new(input), root, LoadOptions::default());
        if let Some(e) = errors.into_iter().next() {
            return Err(e);
        }
        side.extend(m);
    }
    Ok(side)
}

/// The packages called `name` installed under `root` (databases read once).
fn installed_package(
    name: &str,
    root: &Path,
    installed: &mut Option<Manifest>,
) -> crate::Result<Manifest> {
    if installed.is_none() {
        let (m, errors) = db::load_root(root, DbSelect::Auto, LoadOptions::default());
        if let Some(e) = errors.into_iter().next() {
            return Err(e);
        }
        *installed = Some(m);
    }
    let all = installed.as_ref().expect("loaded above");
    let packages: Vec<_> = all
        .packages
        .iter()
        .filter(|p| p.name == name)
        .cloned()
        .collect();
    if packages.is_empty() {
        return Err(Error::Usage(format!(
            "pkg:{name}: no such package installed under {}",
            root.display()
        )));
    }
    Ok(Manifest { packages })
}
