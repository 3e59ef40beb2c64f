//! `pyvet manifest`: print what the package databases say is installed.

use crate::cli::{DbChoice, Format, ManifestArgs};
use crate::cmd::{report_error, ExitCode};
use crate::db::{self, DbSelect, LoadOptions};
use crate::manifest::Manifest;
use crate::render;

pub fn run(args: &ManifestArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    let opts = LoadOptions {
        skip_gpg_pubkey: args.skip_gpg_pubkey,
    };
    if let Some(path) = &args.image {
        let img = crate::cmd::audit::open_image(path, &args.image_ref, &args.platform)?;
        let (manifest, errors) =
            crate::image::load_manifest(&img.tree, select(args.db), opts, &args.inputs)?;
        for e in &errors {
            eprintln!("pyvet: error: {e}");
        }
        return print(&manifest, args.format, out, !errors.is_empty());
    }
    if !args.root.is_dir() {
        return Err(crate::Error::Usage(format!(
            "--root {}: not a directory",
            args.root.display()
        )));
    }
    let db::Loaded {
        manifest, errors, ..
    } = db::load(&args.root, select(args.db), &args.inputs, opts);
    for e in &errors {
        report_error(e);
    }
    let failed = !errors.is_empty();
    print(&manifest, args.format, out, failed)
}

fn print(
    manifest: &Manifest,
    format: Format,
    out: &mut dyn std::io::Write,
    failed: bool,
) -> crate::Result<ExitCode> {
    let text = match format {
        Format::Json => render::json::manifest(manifest),
        Format::Text => render::text::manifest(manifest),
    };
    render::write_out(out, &text)?;
    Ok(if failed {
        ExitCode::Error
    } else {
        ExitCode::Clean
    })
}

pub(crate) fn select(c: DbChoice) -> DbSelect {
    match c {
        DbChoice::Auto => DbSelect::Auto,
        DbChoice::Rpm => DbSelect::Rpm,
        DbChoice::Dpkg => DbSelect::Dpkg,
        DbChoice::Apk => DbSelect::Apk,
        DbChoice::Pip => DbSelect::Pip,
        DbChoice::None => DbSelect::None,
    }
}
