//! `pyvet markers`: the layout families of the audit alone (markers and
//! what the policy's layout expects), for a build root in CI before
//! anything is packaged, or an installed root. The report is the audit's
//! (`pyvet-audit/1`), rendered by the same renderers.

use crate::audit::{self, Context, Options, Sink};
use crate::cli::{MarkersArgs, MarkersFormat};
use crate::cmd::audit::{
    choose_policy, existing_dirs, exit_code, inside_root, load_manifest, pysource_prefix,
    something_to_audit, text_options,
};
use crate::cmd::ExitCode;
use crate::render;
use crate::tree::FsTree;

pub fn run(args: &MarkersArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    if !args.root.is_dir() {
        return Err(crate::Error::Usage(format!(
            "--root {}: not a directory",
            args.root.display()
        )));
    }
    let tree = FsTree::new(&args.root);
    let (manifest, load_errors, databases) = load_manifest(&args.root, args.db, &[]);
    let policy = choose_policy(args.policy.as_deref(), &tree, &manifest)?;
    let paths = inside_root(&args.paths)?;
    existing_dirs(&tree, &paths)?;
    let pysource_prefix = pysource_prefix(&tree, args.pysource_prefix.as_ref())?;
    // Given PATHs replace the discovered trees, as in the audit.
    let options = Options {
        paths,
        also_discovered: args.also_discovered,
        pysource_prefix,
        ..Options::default()
    };
    let ctx = Context::new(&tree, &manifest, &policy, &options);
    something_to_audit(&ctx, databases, args.db)?;
    let report = audit::run_checks(&ctx, &Sink::default(), load_errors, crate::check::MARKERS);
    match args.format {
        MarkersFormat::Json => render::audit_json::write(&report, out)?,
        MarkersFormat::Sarif => render::write_out(out, &render::sarif::render(&report))?,
        MarkersFormat::Text => render::write_out(
            out,
            &render::audit_text::render(
                &report,
                render::audit_text::TextOptions {
                    command: "markers",
                    ..text_options(&args.show)
                },
            ),
        )?,
    }
    for e in &report.errors {
        eprintln!("pyvet: error: {e}");
    }
    Ok(exit_code(&report, args.fail_on))
}
