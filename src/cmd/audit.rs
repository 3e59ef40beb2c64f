//! `pyvet audit`: load the manifests under the root, pick the policy, run
//! every check through the tree interface, render, and map the worst
//! finding to the exit code.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::audit::{self, rules, Context, Options, Report, Severity, Sink};
use crate::cli::{AuditArgs, AuditFormat, DbChoice, FailOn, ShowArgs};
use crate::cmd::{manifest::select, ExitCode};
use crate::db::{self, LoadOptions};
use crate::manifest::{Backend, Manifest};
use crate::policy::{self, Policy};
use crate::render::{
    self,
    progress::{self, Progress},
};
use crate::tree::{FsTree, Kind, Tree};

pub fn run(args: &AuditArgs, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    if let Some(rule) = &args.explain {
        return explain(rule, out);
    }
    let image = match &args.image {
        Some(p) => Some(open_image(p, &args.image_ref, &args.platform)?),
        None => None,
    };
    if image.is_none() && !args.root.is_dir() {
        return Err(crate::Error::Usage(format!(
            "--root {}: not a directory",
            args.root.display()
        )));
    }
    let (packed_manifests, manifests) = split_packed(&args.manifests);
    if image.is_some() && !packed_manifests.is_empty() {
        return Err(crate::Error::Usage(
            "--manifest FILE.packed with --image: give the packed file as a PATH inside the image"
                .into(),
        ));
    }
    let sink = Arc::new(Sink::default());
    let progress = Progress::start(progress::wanted(args.no_progress), Arc::clone(&sink));
    progress.stage("reading package databases");
    let mut fs_tree = None;
    let (tree, (manifest, load_errors, databases)): (&dyn Tree, _) = match &image {
        Some(img) => {
            let (m, errors) =
                crate::image::load_manifest(&img.tree, select(args.db), db_options(), &manifests)?;
            let found = !m.packages.is_empty() || !errors.is_empty() || !manifests.is_empty();
            (&img.tree, (m, errors, found))
        }
        None => (
            fs_tree.get_or_insert_with(|| FsTree::new(&args.root)),
            load_manifest(&args.root, args.db, &manifests),
        ),
    };
    crate::timing::phase("databases read");
    let policy = choose_policy(args.policy.as_deref(), tree, &manifest)?;
    let paths = inside_root(&args.paths)?;
    existing_targets(tree, &paths)?;
    let packed_manifests = packed_manifests
        .iter()
        .map(|m| packed_in_root(tree, &args.root, m))
        .collect::<crate::Result<Vec<_>>>()?;
    let pysource_prefix = pysource_prefix(tree, args.pysource_prefix.as_ref())?;
    let options = Options {
        paths,
        packed_manifests,
        also_discovered: args.also_discovered,
        pycache_prefixes: inside_root(&args.pycache_prefix)?,
        pysource_prefix,
        hash_mode: args.check_hash_based_pycs,
        deep: args.deep,
        interpreters: args.interpreter.clone(),
        baseline: args
            .baseline
            .as_deref()
            .map(crate::policy::accept::Baseline::load)
            .transpose()?,
    };
    progress.stage("walking Python trees");
    let mut ctx = Context::hashing(tree, &manifest, &policy, &options);
    something_to_audit(&ctx, databases, args.db)?;
    if args.deep {
        // An image's interpreters cannot run here: only the host's are candidates.
        let untrusted = match image {
            Some(_) => None,
            None => untrusted_root(&args.root),
        };
        ctx.interpreters = Some(crate::bytecode::deep::Interpreters::discover(
            &args.interpreter,
            untrusted,
        )?);
    }
    progress.stage("checking");
    let report = audit::run_with(&ctx, &sink, load_errors);
    crate::timing::phase("checked and sorted");
    drop(progress);
    write_report(&report, args, out)?;
    for e in &report.errors {
        eprintln!("pyvet: error: {e}");
    }
    crate::timing::phase("report written");
    let code = exit_code(&report, args.fail_on);
    // The process ends after this: freeing the report, the walk's
    // inventory, the owners index and the manifest (hundreds of thousands
    // of allocations on a host) would only delay the exit.
    std::mem::forget(report);
    std::mem::forget(ctx);
    std::mem::forget(manifest);
    std::mem::forget(fs_tree);
    Ok(code)
}

/// Writes the report in `--format` (JSON streamed, the others rendered).
fn write_report(
    report: &Report,
    args: &AuditArgs,
    out: &mut dyn std::io::Write,
) -> crate::Result<()> {
    let text = match args.format {
        AuditFormat::Json => return render::audit_json::write(report, out),
        AuditFormat::Text => render::audit_text::render(report, text_options(&args.show)),
        AuditFormat::Sarif => render::sarif::render(report),
        AuditFormat::Rpm => render::rpm::render(report),
    };
    render::write_out(out, &text)
}

/// The text report's options: `--show`, colour on a terminal.
pub(crate) fn text_options(show: &ShowArgs) -> render::audit_text::TextOptions {
    render::audit_text::TextOptions {
        colour: render::audit_text::colour_stdout(),
        show: show.lowest(),
        command: "audit",
    }
}

/// The tree whose interpreters `--deep` must not trust. An offline root's
/// interpreters are what is being audited; on the live host (`--root /`)
/// every interpreter is inside the root, and the host's own are the ones that
/// run its code anyway, so none is refused there.
fn untrusted_root(root: &Path) -> Option<&Path> {
    let live = root.canonicalize().is_ok_and(|r| r == Path::new("/"));
    (!live).then_some(root)
}

/// Exit 2 for unreadable inputs, else 1 for a finding at or above `fail_on`.
pub fn exit_code(report: &Report, fail_on: FailOn) -> ExitCode {
    if !report.errors.is_empty() {
        return ExitCode::Error;
    }
    let threshold = match fail_on {
        FailOn::Info => Severity::Info,
        FailOn::Warning => Severity::Warning,
        FailOn::Error => Severity::Error,
        FailOn::Never => return ExitCode::Clean,
    };
    match report.worst() {
        Some(w) if w >= threshold => ExitCode::Findings,
        _ => ExitCode::Clean,
    }
}

/// An image error naming `--image PATH` once: a file of the image is
/// named by the error itself.
fn image_error(path: &Path, e: crate::image::ImageError) -> crate::Error {
    match &e {
        crate::image::ImageError::Io { path: p, .. } if p.starts_with(path) => {
            crate::Error::Usage(format!("--image {e}"))
        }
        _ => crate::Error::Usage(format!("--image {}: {e}", path.display())),
    }
}

/// Opens `--image PATH` and says on stderr which image was picked.
pub(crate) fn open_image(
    path: &Path,
    image_ref: &Option<String>,
    platform: &Option<String>,
) -> crate::Result<crate::image::Image> {
    let opts = crate::image::OpenOptions {
        image_ref: image_ref.clone(),
        platform: platform.clone(),
        ..Default::default()
    };
    let img = crate::image::open(path, &opts).map_err(|e| image_error(path, e))?;
    eprintln!("pyvet: image {}: {}", path.display(), img.chosen);
    Ok(img)
}

fn db_options() -> LoadOptions {
    LoadOptions {
        skip_gpg_pubkey: true,
    }
}

/// Splits the `--manifest` inputs into PyOxidizer packed resources files
/// (by their magic) and the rest. A packed file is the manifest of the
/// modules inside it, not of files of the root (as one, each of its
/// entries would be "missing"): it is audited with its resources, as a
/// PATH naming it is. An input that cannot be read stays with the rest, to
/// be reported by the loader.
fn split_packed(manifests: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    manifests
        .iter()
        .cloned()
        .partition(|m| db::detect(m).is_ok_and(|k| k == db::InputKind::PackedResources))
}

/// A `--manifest` packed file as a path inside the root, which must be a
/// regular file there too: one the host reaches through a link leading out
/// of the root is not the root's file, and is refused rather than dropped.
fn packed_in_root(tree: &dyn Tree, root: &Path, host: &Path) -> crate::Result<PathBuf> {
    let inside = host_to_root(root, host)?;
    let is_file = tree.stat(&inside).is_ok_and(|m| m.kind == Kind::File);
    match is_file {
        true => Ok(inside),
        false => Err(crate::Error::Usage(format!(
            "--manifest {}: {} is no regular file under {} (a link out of the root is not followed)",
            host.display(),
            inside.display(),
            tree.label()
        ))),
    }
}

/// The path inside the root of a `--manifest` packed file (a host path):
/// its findings are paths of the root, its owner the root's package, so it
/// must lie in the root (with the default root `/`, anywhere).
fn host_to_root(root: &Path, host: &Path) -> crate::Result<PathBuf> {
    let abs = |p: &Path| std::path::absolute(p).map_err(|e| crate::Error::io(p, e));
    let (root_abs, file) = (abs(root)?, abs(host)?);
    let real_root = root.canonicalize().ok();
    let real_dir = file.parent().and_then(|d| d.canonicalize().ok());
    let through_links = real_dir.zip(file.file_name()).map(|(d, n)| d.join(n));
    let rest = file.strip_prefix(&root_abs).ok().or_else(|| {
        through_links
            .as_deref()?
            .strip_prefix(real_root.as_deref()?)
            .ok()
    });
    match rest {
        Some(rest) => Ok(Path::new("/").join(rest)),
        None => Err(crate::Error::Usage(format!(
            "--manifest {}: a packed resources file is audited as a file of the root, \
             and this one lies outside --root {}",
            host.display(),
            root.display()
        ))),
    }
}

/// The root's databases and the extra inputs: the manifest, its errors as
/// text, and whether any database or input was there at all.
pub(crate) fn load_manifest(
    root: &Path,
    choice: DbChoice,
    extra: &[PathBuf],
) -> (Manifest, Vec<String>, bool) {
    let l = db::load(root, select(choice), extra, db_options());
    let errors = l.errors.iter().map(ToString::to_string).collect();
    (l.manifest, errors, l.databases > 0 || !extra.is_empty())
}

/// `--policy`, else the distribution's built-in policy.
pub(crate) fn choose_policy(
    spec: Option<&str>,
    tree: &dyn Tree,
    m: &Manifest,
) -> crate::Result<Policy> {
    if let Some(spec) = spec {
        return policy::load(spec).map_err(|e| crate::Error::Usage(e.to_string()));
    }
    let has = |f: fn(Backend) -> bool| m.packages.iter().any(|p| f(p.source.backend));
    let distro = policy::detect(
        tree,
        has(|b| {
            matches!(
                b,
                Backend::RpmdbSqlite | Backend::RpmdbBdb | Backend::RpmdbNdb
            )
        }),
        has(|b| matches!(b, Backend::Dpkg | Backend::DpkgStatusD)),
        has(|b| b == Backend::Apk),
    );
    Ok(distro.policy())
}

/// Command-line tree paths are paths inside the root: absolute.
pub(crate) fn inside_root(paths: &[PathBuf]) -> crate::Result<Vec<PathBuf>> {
    paths
        .iter()
        .map(|p| {
            if p.is_absolute() {
                Ok(p.clone())
            } else {
                Err(crate::Error::Usage(format!(
                    "{}: paths are inside --root and must be absolute",
                    p.display()
                )))
            }
        })
        .collect()
}

/// Each PATH names a directory under the root: a mistyped one must not
/// quietly audit nothing.
pub(crate) fn existing_dirs(tree: &dyn Tree, paths: &[PathBuf]) -> crate::Result<()> {
    for p in paths {
        let is_dir = tree
            .resolve(p)
            .and_then(|r| tree.lstat(&r))
            .is_ok_and(|m| m.kind == Kind::Dir);
        if !is_dir {
            return Err(crate::Error::Usage(format!(
                "{}: no such directory under {}",
                p.display(),
                tree.label()
            )));
        }
    }
    Ok(())
}

/// Each audit PATH names a directory under the root, or a PyOxidizer packed
/// resources file there: a regular file with its magic or one of its names
/// (`.pyor`, `.packed`, ..., `packed-resources`; a truncated one is then
/// `packed-malformed`). A FIFO is never opened, a link never followed out
/// of the root.
fn existing_targets(tree: &dyn Tree, paths: &[PathBuf]) -> crate::Result<()> {
    for p in paths {
        let Ok(real) = tree.resolve(p) else {
            return existing_dirs(tree, std::slice::from_ref(p));
        };
        let kind = tree.lstat(&real).ok().map(|m| m.kind);
        if kind == Some(Kind::File) && is_packed_target(tree, &real) {
            continue;
        }
        if kind != Some(Kind::Dir) {
            return Err(crate::Error::Usage(format!(
                "{}: neither a directory nor a PyOxidizer packed resources file under {}",
                p.display(),
                tree.label()
            )));
        }
    }
    Ok(())
}

/// Whether a regular file given as a PATH is a packed resources file.
fn is_packed_target(tree: &dyn Tree, path: &Path) -> bool {
    crate::check::packed::has_packed_name(path)
        || tree
            .head(path, crate::format::packed::MAGIC.len())
            .is_ok_and(|h| crate::format::packed::is_packed(&h))
}

/// `--pysource-prefix DIR`: absolute and an existing directory under the
/// root, as a PATH must be (a mistyped prefix would make every pyc sourceless).
pub(crate) fn pysource_prefix(
    tree: &dyn Tree,
    dir: Option<&PathBuf>,
) -> crate::Result<Option<PathBuf>> {
    let Some(dir) = dir else { return Ok(None) };
    let dirs = inside_root(std::slice::from_ref(dir))?;
    existing_dirs(tree, &dirs)?;
    Ok(dirs.into_iter().next())
}

/// Auditing nothing is no pass: with no Python tree and no package
/// database (an empty or mistyped root) the command stops, saying what it
/// looked for. A root with databases but no Python tree is reported as the
/// `no-python-tree` finding instead, so that JSON and SARIF carry it too.
pub(crate) fn something_to_audit(
    ctx: &Context,
    databases: bool,
    choice: DbChoice,
) -> crate::Result<()> {
    if databases || !ctx.audits_nothing() {
        return Ok(());
    }
    Err(crate::Error::Usage(format!(
        "{}: nothing to audit: {}; {}",
        ctx.tree.label(),
        audit::walk::looked_for(),
        db::looked_for(select(choice))
    )))
}

/// `--explain RULE` (or `all`).
fn explain(id: &str, out: &mut dyn std::io::Write) -> crate::Result<ExitCode> {
    let text = if id == "all" {
        rules::ALL
            .iter()
            .map(|r| format!("{:<26} {:<8} {}\n", r.id, r.severity.as_str(), r.summary))
            .collect()
    } else {
        let r = rules::find(id).ok_or_else(|| {
            crate::Error::Usage(format!(
                "no rule {id:?}; `pyvet audit --explain all` lists them"
            ))
        })?;
        format!(
            "{}  (default: {})\n{}\n\n{}\n",
            r.id,
            r.severity.as_str(),
            r.summary,
            r.explanation
        )
    };
    render::write_out(out, &text)?;
    Ok(ExitCode::Clean)
}
