//! `pyvet markers`: the layout families of the audit alone (markers and
//! what the policy's layout expects), for a build root in CI before
//! anything is packaged, or an installed root. The report is the audit's
//! (`pyvet-audit/1`), rendered by the same renderers.

use std::path::{Path, PathBuf};

use crate::audit::{self, Context, Options, Sink};
use crate::cli::{MarkersArgs, MarkersFormat};
use crate::cmd::audit::{choose_policy, exit_code, inside_root, load_manifest, text_options};
use crate::cmd::ExitCode;
use crate::render;
use crate::tree::{FsTree, Kind, Tree};

pub fn run(args: &MarkersArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    if !args.root.is_dir() {
        return Err(crate::Error::Usage(format!(
            "--root {}: not a directory",
            args.root.display()
        )));
    }
    let tree = FsTree::new(&args.root);
    let (manifest, load_errors) = load_manifest(&args.root, args.db, &[]);
    let policy = choose_policy(args.policy.as_deref(), &tree, &manifest)?;
    let mut paths = inside_root(&args.paths)?;
    if paths.is_empty() {
        paths = system_trees(&tree);
    }
    let options = Options {
        paths,
        ..Options::default()
    };
    let ctx = Context::new(&tree, &manifest, &policy, &options);
    let report = audit::run_checks(&ctx, &Sink::default(), load_errors, crate::check::MARKERS);
    let text = match args.format {
        MarkersFormat::Json => render::audit_json::render(&report),
        MarkersFormat::Sarif => render::sarif::render(&report),
        MarkersFormat::Text => render::audit_text::render(&report, text_options(&args.show)),
    };
    render::write_out(out, &text)?;
    for e in &report.errors {
        eprintln!("pyvet: error: {e}");
    }
    Ok(exit_code(&report, args.fail_on))
}

/// Every `/usr/lib*/python3.X` directory: a build root has no manifest
/// to discover its trees from.
fn system_trees(tree: &dyn Tree) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lib in ["/usr/lib", "/usr/lib64"] {
        let Ok(entries) = tree.read_dir(Path::new(lib)) else {
            continue;
        };
        for e in entries {
            if audit::walk::is_python_dir(&e.name) && e.meta.kind == Kind::Dir {
                out.push(Path::new(lib).join(&e.name));
            }
        }
    }
    out
}
